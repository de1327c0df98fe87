// The Metrics page of the web view: the metrics `serve` stored, and for one of them a line chart
// per series (attribute set) over time: counters as rates per second, up-down counters and gauges
// as values, histograms as p50/p90/p99 estimated from their buckets. Plain JavaScript, no
// libraries; app.js calls window.logfireMetrics.show(...) on the #/metrics routes with its API
// and element helpers. Reads GET /api/metrics and GET /api/metrics/series?name=<name>.
'use strict';

window.logfireMetrics = (() => {
  // Upper bound of the bucket holding quantile q of a histogram point, clamped to its min and max.
  function quantile(p, q) {
    const b = p.buckets;
    if (!b || !p.count) return null;
    const target = q * p.count;
    let seen = 0;
    const clamp = (v) => Math.min(p.max ?? v, Math.max(p.min ?? v, v));
    if (Array.isArray(b.explicit_bounds)) {
      const counts = b.bucket_counts || [];
      for (let i = 0; i < counts.length; i++) {
        seen += Number(counts[i]);
        if (seen >= target) return clamp(i < b.explicit_bounds.length ? b.explicit_bounds[i] : (p.max ?? b.explicit_bounds.at(-1)));
      }
      return p.max ?? null;
    }
    seen = Number(b.zero_count || 0);
    if (seen >= target) return 0;
    const base = Math.pow(2, Math.pow(2, -b.scale));
    const pos = b.positive || { offset: 0, bucket_counts: [] };
    for (let i = 0; i < pos.bucket_counts.length; i++) {
      seen += Number(pos.bucket_counts[i]);
      if (seen >= target) return clamp(Math.pow(base, pos.offset + i + 1));
    }
    return p.max ?? null;
  }

  // The lines of one series: [{label, points: [[time_ns, y]...]}].
  function lines(metric, series) {
    const pts = series.points;
    if (metric.type === 'histogram' || metric.type === 'exponential_histogram') {
      return [0.5, 0.9, 0.99].map((q) => ({
        label: `p${Math.round(q * 100)}`,
        points: pts.map((p) => [p.time, quantile(p, q)]).filter(([, y]) => y !== null),
      }));
    }
    if (metric.type === 'sum' && metric.monotonic) {
      // A rate per second: a delta point over its own interval, a cumulative one against the previous.
      const out = [];
      for (let i = 0; i < pts.length; i++) {
        const p = pts[i];
        if (metric.temporality === 'delta') {
          const dt = (p.time - p.start) / 1e9;
          if (dt > 0) out.push([p.time, p.value / dt]);
        } else if (i > 0) {
          const dt = (p.time - pts[i - 1].time) / 1e9;
          if (dt > 0) out.push([p.time, Math.max(0, p.value - pts[i - 1].value) / dt]);
        }
      }
      return [{ label: 'per second', points: out }];
    }
    return [{ label: 'value', points: pts.map((p) => [p.time, p.value]).filter(([, y]) => y !== null) }];
  }

  function formatNumber(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return '';
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return String(Math.round(v * 1000) / 1000);
  }

  function chart(h, ls) {
    const W = 720, H = 180, L = 64, R = 12, T = 10, B = 22;
    const all = ls.flatMap((l) => l.points);
    const root = h.svg('svg', { class: 'metric-chart', width: W, height: H, viewBox: `0 0 ${W} ${H}` });
    if (all.length === 0) {
      root.append(h.svg('text', { x: L, y: H / 2, class: 'axis' }, 'not enough points for a line yet'));
      return root;
    }
    const xs = all.map(([x]) => x), ys = all.map(([, y]) => y);
    let x0 = Math.min(...xs), x1 = Math.max(...xs);
    let y0 = Math.min(0, ...ys), y1 = Math.max(...ys);
    if (x1 === x0) { x0 -= 1e9; x1 += 1e9; }
    if (y1 === y0) y1 = y0 + 1;
    const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const py = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
    root.append(h.svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis-line' }));
    root.append(h.svg('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis-line' }));
    root.append(h.svg('text', { x: L - 4, y: T + 8, class: 'axis', 'text-anchor': 'end' }, formatNumber(y1)));
    root.append(h.svg('text', { x: L - 4, y: H - B, class: 'axis', 'text-anchor': 'end' }, formatNumber(y0)));
    const time = (ns) => new Date(ns / 1e6).toLocaleTimeString();
    root.append(h.svg('text', { x: L, y: H - 6, class: 'axis' }, time(x0)));
    root.append(h.svg('text', { x: W - R, y: H - 6, class: 'axis', 'text-anchor': 'end' }, time(x1)));
    ls.forEach((l, i) => {
      if (l.points.length === 0) return;
      const d = l.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
      root.append(h.svg('polyline', { points: d, class: `series-line line-${i}` }));
      for (const [x, y] of l.points) root.append(h.svg('circle', { cx: px(x).toFixed(1), cy: py(y).toFixed(1), r: 2, class: `line-${i}` }));
      root.append(h.svg('text', { x: W - R, y: T + 10 + 12 * i, class: `axis legend line-${i}`, 'text-anchor': 'end' }, l.label));
    });
    return root;
  }

  async function showList(h, container) {
    const data = await h.api('/api/metrics');
    if (data.metrics.length === 0) {
      container.replaceChildren(h.el('p', { class: 'empty', id: 'metric-list-empty' },
        'No metrics yet. Send them to POST /v1/metrics (the SDK does, every 60 s and at shutdown).'));
      return;
    }
    const rows = data.metrics.map((m) => h.el('tr', { class: 'metric-row', 'data-name': m.name },
      h.el('td', {}, h.el('a', { href: `#/metrics/${encodeURIComponent(m.name)}` }, m.name)),
      h.el('td', {}, m.type + (m.temporality ? ` (${m.temporality})` : '')),
      h.el('td', {}, m.unit), h.el('td', { class: 'num' }, m.series), h.el('td', { class: 'num' }, m.points),
      h.el('td', {}, m.last_timestamp), h.el('td', {}, m.description)));
    container.replaceChildren(h.el('table', { class: 'grid', id: 'metric-list' },
      h.el('thead', {}, h.el('tr', {}, ...['metric', 'type', 'unit', 'series', 'points', 'last point', 'description'].map((c) => h.el('th', {}, c)))),
      h.el('tbody', {}, ...rows)));
  }

  async function showMetric(h, container, name) {
    const m = await h.api(`/api/metrics/series?name=${encodeURIComponent(name)}&limit=5000`);
    const what = m.type === 'histogram' || m.type === 'exponential_histogram' ? 'p50 / p90 / p99 from the buckets'
      : m.type === 'sum' && m.monotonic ? 'rate per second' : 'value';
    const parts = [h.el('p', {}, h.el('a', { href: '#/metrics' }, '← all metrics')),
      h.el('h1', { id: 'metric-title' }, m.name),
      h.el('p', { class: 'meta' }, `${m.type}${m.temporality ? `, ${m.temporality}` : ''}${m.unit ? `, unit ${m.unit}` : ''}: ${what}` +
        `${m.truncated ? ' (the newest points only)' : ''}`)];
    for (const s of m.series) {
      const attrs = Object.entries(s.attributes || {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
      parts.push(h.el('div', { class: 'metric-series' }, h.el('h3', { class: 'mono' }, attrs || '(no attributes)'), chart(h, lines(m, s))));
    }
    container.replaceChildren(h.el('div', { id: 'metric-chart' }, ...parts));
  }

  // h: {api, el, svg}; name: a metric's name, or empty for the list.
  async function show(h, container, name) {
    try {
      if (name) await showMetric(h, container, name);
      else await showList(h, container);
    } catch (e) {
      container.replaceChildren(h.el('p', { class: 'error' }, e.message));
    }
  }

  return { show, quantile };
})();
