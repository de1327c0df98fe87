// OTLP/gRPC from another SDK: the OpenTelemetry JS SDK's gRPC exporters (@grpc/grpc-js, the
// exporters Node.js services use by default) send spans and log records to `logfire-cpp serve`
// with its token; they are read back with `logfire-cpp query --format json`. A wrong token is
// refused (UNAUTHENTICATED) and stores nothing.
//
//   LOGFIRE_CPP_BIN=build/dev/tools/logfire-cpp node grpc_client_test.mjs   (run: ./run)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

import { trace, SpanStatusCode, context } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';

const bin = process.env.LOGFIRE_CPP_BIN;
assert.ok(bin, 'LOGFIRE_CPP_BIN must name the logfire-cpp binary');
const dir = mkdtempSync(join(tmpdir(), 'logfire-grpc-js-'));
const db = join(dir, 'js.db');
const token = 'js-s3cret';

// serve on free ports; resolves with the gRPC port once the banner is complete.
function startServe() {
  const child = spawn(bin, ['serve', '--port', '0', '--grpc-port', '0', '--db', db, '--token', token],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('serve did not start: ' + out)), 20000);
    const onData = (d) => {
      out += d;
      const m = out.match(/OTLP\/gRPC endpoint  http:\/\/127\.0\.0\.1:(\d+)/);
      if (m && out.includes('  database  ')) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), output: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

function exportWith(exporter, items) {
  return new Promise((resolve) => exporter.export(items, resolve));
}

function query(sql) {
  return JSON.parse(execFileSync(bin, ['query', '--db', db, '--format', 'json', sql], { encoding: 'utf8' }));
}

function withToken(value, make) {
  process.env.OTEL_EXPORTER_OTLP_HEADERS = `authorization=Bearer ${value}`;
  try {
    return make();
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
  }
}

const serve = await startServe();
let failed = false;
try {
  const url = `http://127.0.0.1:${serve.port}`;
  const resource = resourceFromAttributes({ 'service.name': 'js-checkout', 'service.version': '1.2.3' });

  // Spans, recorded in memory first so that each export's result can be asserted.
  const recorded = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(recorded)] });
  const tracer = provider.getTracer('grpc-client-test', '0.1');
  const root = tracer.startSpan('GET /checkout', { attributes: { 'http.request.method': 'GET', 'cart.items': 3 } });
  const child = tracer.startSpan('charge card', {}, trace.setSpan(context.active(), root));
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
  child.end();
  root.end();
  const spans = recorded.getFinishedSpans();
  assert.equal(spans.length, 2);

  const refusing = withToken('wrong', () => new OTLPTraceExporter({ url }));
  const refused = await exportWith(refusing, spans);
  assert.equal(refused.code, 1, 'a wrong token must fail the export');
  assert.match(String(refused.error), /UNAUTHENTICATED|16/);
  await refusing.shutdown();
  assert.equal(query('SELECT count(*) AS n FROM records')[0].n, 0);

  const exporter = withToken(token, () => new OTLPTraceExporter({ url }));
  const result = await exportWith(exporter, spans);
  assert.equal(result.code, 0, `trace export failed: ${result.error}`);
  await exporter.shutdown();

  // Acknowledged means committed: the rows are there as soon as the export succeeded.
  const rows = query(
    'SELECT span_name, service_name, service_version, level, parent_span_id, otel_status_code, otel_scope_name, ' +
    "attributes->>'$.\"cart.items\"' AS items FROM records ORDER BY parent_span_id IS NOT NULL");
  assert.equal(rows.length, 2);
  assert.equal(rows[0].span_name, 'GET /checkout');
  assert.equal(rows[0].service_name, 'js-checkout');
  assert.equal(rows[0].service_version, '1.2.3');
  assert.equal(rows[0].parent_span_id, null);
  assert.equal(rows[0].items, 3);
  assert.equal(rows[0].otel_scope_name, 'grpc-client-test');
  assert.equal(rows[1].span_name, 'charge card');
  assert.equal(rows[1].otel_status_code, 'ERROR');
  assert.equal(rows[1].level, 17);
  assert.equal(rows[1].parent_span_id, spans.find((s) => s.name === 'GET /checkout').spanContext().spanId);

  // Log records through the logs exporter.
  const recordedLogs = new InMemoryLogRecordExporter();
  const loggerProvider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: recordedLogs })] });
  loggerProvider.getLogger('js-logs').emit({ severityNumber: 17, severityText: 'ERROR', body: 'payment failed for ada',
                                             attributes: { user: 'ada' } });
  await loggerProvider.forceFlush();
  assert.equal(recordedLogs.getFinishedLogRecords().length, 1);
  const logExporter = withToken(token, () => new OTLPLogExporter({ url }));
  const logResult = await exportWith(logExporter, recordedLogs.getFinishedLogRecords());
  assert.equal(logResult.code, 0, `log export failed: ${logResult.error}`);
  await logExporter.shutdown();
  const logs = query("SELECT kind, level, message, service_name, attributes FROM records WHERE kind = 'log'");
  assert.deepEqual(logs, [{ kind: 'log', level: 17, message: 'payment failed for ada', service_name: 'js-checkout',
                            attributes: '{"user":"ada"}' }]);
  console.log('grpc client test: spans and logs from the OpenTelemetry JS SDK over OTLP/gRPC are stored');
} catch (e) {
  failed = true;
  console.error(e);
  console.error(serve.output());
} finally {
  serve.child.kill('SIGTERM');
  await new Promise((r) => serve.child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
