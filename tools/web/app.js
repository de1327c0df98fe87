// The web view of `logfire-cpp serve`: a live list of recent traces, a trace's waterfall (SVG,
// nested by parent) or flame graph (canvas, for traces of thousands of spans) with the selected
// record's attributes and exception, and a read-only SQL box.
// Plain JavaScript, no libraries, no network beyond this server's JSON API:
//   GET /api/traces?limit=N[&errors=1][&service=S][&min_duration_ms=N][&q=TEXT][&since=15m][&before=NEXT]
//   GET /api/trace/<trace_id>[?after=NEXT]  (a large trace in pages)
//   POST /api/query (SQL text)
//   GET /api/records?q=&service=&since=&level=&limit=[&before=NEXT]  (search and filters, newest first)
//   GET /api/live (server-sent events: a `records` event after every committed export, naming its traces)
// The Metrics page (#/metrics) is metrics.js.
'use strict';

(() => {
  // When serve runs with --token, its banner prints the page's address with #token=...: the
  // fragment never leaves the browser (no server log, no Referer). The page keeps it for this tab
  // and sends it as a header; the address bar keeps only the route.
  function takeToken() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      const t = decodeURIComponent(m[1]);
      try { sessionStorage.setItem('logfire-cpp-token', t); } catch (e) { /* storage off: this load only */ }
      history.replaceState(null, '', location.pathname + location.search + '#/');
      return t;
    }
    try { return sessionStorage.getItem('logfire-cpp-token'); } catch (e) { return null; }
  }
  const token = takeToken();
  const authHeaders = token ? { Authorization: `Bearer ${token}` } : {};

  async function api(path, options = {}) {
    const res = await fetch(path, { ...options, headers: { ...authHeaders, ...(options.headers || {}) } });
    const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    return body;
  }

  const $ = (id) => document.getElementById(id);

  // Builds an element; string children become text nodes, so nothing from the data is parsed as HTML.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'onclick') node.addEventListener('click', v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- formatting ------------------------------------------------------------------------------

  const LEVELS = [[21, 'fatal'], [17, 'error'], [13, 'warn'], [10, 'notice'], [9, 'info'], [5, 'debug'], [1, 'trace']];
  function levelName(n) {
    for (const [num, name] of LEVELS) if (n >= num) return name;
    return String(n);
  }
  function levelClass(n) { return n >= 17 ? 'error' : n >= 13 ? 'warn' : ''; }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return '';
    if (seconds >= 1) return `${seconds.toFixed(2)}s`;
    if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(1)}ms`;
    return `${Math.round(seconds * 1e6)}µs`;
  }

  // Stored timestamps are UTC text "YYYY-MM-DD HH:MM:SS.ffffff".
  function micros(ts) {
    if (!ts) return 0;
    const ms = Date.parse(ts.slice(0, 19).replace(' ', 'T') + 'Z');
    const frac = (ts.split('.')[1] || '').padEnd(6, '0').slice(0, 6);
    return ms * 1000 + Number(frac);
  }
  function localTime(ts) {
    const d = new Date(micros(ts) / 1000);
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function setStatus(ok, message) {
    const s = $('status');
    s.classList.toggle('down', !ok);
    s.title = message;
  }

  // ---- routing -----------------------------------------------------------------------------------

  let currentView = '';
  function show(view) {
    currentView = view;
    for (const v of ['traces', 'trace', 'records', 'sql', 'metrics']) $(`view-${v}`).hidden = v !== view;
    $('nav-records').classList.toggle('active', view === 'records');
    $('nav-traces').classList.toggle('active', view === 'traces' || view === 'trace');
    $('nav-metrics').classList.toggle('active', view === 'metrics');
    $('nav-sql').classList.toggle('active', view === 'sql');
  }

  function route() {
    const hash = location.hash || '#/';
    const m = hash.match(/^#\/trace\/([0-9a-fA-F]{32})(?:\?(.*))?/);
    if (m) {
      show('trace');
      const params = new URLSearchParams(m[2] || '');
      const view = params.get('view');
      flameAddress = flameAddressOf(params);
      traceView = view === 'flame' || view === 'waterfall' ? view : flameAddress ? 'flame' : '';
      loadTrace(m[1].toLowerCase());
    } else if (hash.startsWith('#/metrics')) {
      // The Metrics page lives in metrics.js.
      show('metrics');
      const name = decodeURIComponent(hash.slice('#/metrics/'.length));
      window.logfireMetrics.show({ api, el, svg }, $('metrics-content'), hash.startsWith('#/metrics/') ? name : '');
    } else if (hash.startsWith('#/records')) {
      show('records');
      refreshRecords();
    } else if (hash.startsWith('#/sql')) {
      show('sql');
      $('sql-input').focus();
    } else {
      show('traces');
      restoreTraceFilters();
      refreshTraces();
    }
  }

  // ---- recent traces ---------------------------------------------------------------------------

  // The list's filters, by their /api/traces parameter, are kept in the address (#/?q=...&since=...),
  // so a reload, a bookmark or Back from a trace brings them back.
  const traceFilters = [['q', 'trace-text'], ['service', 'trace-service'], ['since', 'trace-since'], ['min_duration_ms', 'trace-min-duration']];
  function traceFilterParams() {
    const params = new URLSearchParams();
    for (const [name, id] of traceFilters) {
      const v = $(id).value.trim();
      if (v) params.set(name, v);
    }
    if ($('errors-only').checked) params.set('errors', '1');
    return params;
  }
  function restoreTraceFilters() {
    const hash = location.hash || '#/';
    const at = hash.indexOf('?');
    const params = new URLSearchParams(at >= 0 ? hash.slice(at + 1) : '');
    for (const [name, id] of traceFilters) {
      const v = params.get(name) || '';
      const input = $(id);
      // A value the choice does not offer (since=2h typed into the address) is added to it.
      if (input.tagName === 'SELECT' && v && ![...input.options].some((o) => o.value === v)) input.append(new Option(v, v));
      input.value = v;
    }
    $('errors-only').checked = params.get('errors') === '1';
  }
  function traceFiltersChanged() {
    const params = traceFilterParams().toString();
    history.replaceState(null, '', `${location.pathname}${location.search}#/${params ? `?${params}` : ''}`);
    refreshTraces();
  }

  // A search answers after one window of records (serve's --search-window) and, when it found
  // fewer than asked, says where it stopped ("next"): the page asks on from there, drawing what
  // it has meanwhile, until the list or the records run out. Each answer leaves out the traces
  // listed before (those with a match at or after `before`), so the answers add up to the one
  // list a single read would give, sorted here by start as the server sorts each answer.
  function searchedBackTo(next) {
    return `Searching older records… (read back to ${localTime(next.slice(0, next.lastIndexOf('/')))})`;
  }

  // Asks `path` with `params` answer after answer, each going on from the last one's "next",
  // until `limit` items are found or the records run out. `merge(items, data)` returns the
  // items with an answer's added; `render(items, data, next)` draws what is found so far
  // (`next` set while the search goes on). Returns false, drawing nothing more, as soon as
  // `current()` says that a newer search or another view took over.
  async function searchInPages(path, params, limit, current, merge, render) {
    let items = [];
    let before = null;
    do {
      const ask = new URLSearchParams(params);
      ask.set('limit', String(limit - items.length));
      if (before) ask.set('before', before);
      const data = await api(`${path}?${ask}`);
      if (!current()) return false;
      items = merge(items, data);
      before = items.length < limit ? data.next : null;
      render(items, data, before);
    } while (before);
    return true;
  }

  // Reloads overlap (live events, filters, navigation): only the newest answer is drawn. A live
  // reload waits for a search that is still going on (searching), so that it can finish.
  const TRACE_LIST_LIMIT = 100;
  let tracesSeq = 0;
  const searching = { traces: false, records: false, reload: false };
  async function refreshTraces() {
    const seq = ++tracesSeq;
    const params = traceFilterParams();
    const filtered = params.toString() !== '';
    searching.traces = true;
    try {
      const finished = await searchInPages('/api/traces', params, TRACE_LIST_LIMIT,
        () => seq === tracesSeq && currentView === 'traces',
        (traces, data) => traces.concat(data.traces).sort((a, b) => (a.start_timestamp < b.start_timestamp) - (a.start_timestamp > b.start_timestamp)),
        (traces, data, next) => renderTraceList(traces, filtered, next));
      if (!finished) return;
      setStatus(true, `updated ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      if (seq === tracesSeq) setStatus(false, `cannot list traces: ${e.message}`);
    } finally {
      if (seq === tracesSeq) searchDone('traces');
    }
  }

  // A search chain ended: a live reload that came meanwhile runs now.
  function searchDone(which) {
    searching[which] = false;
    if (searching.reload) {
      searching.reload = false;
      scheduleReload();
    }
  }

  function renderTraceList(traces, filtered, next) {
    const rows = traces.map((t) => {
      const root = (t.root_message || t.root_span_name) + (t.pending_count > 0 ? ' (running)' : '');
      return el('tr', {
        'data-trace-id': t.trace_id,
        class: t.error_count > 0 ? 'has-error' : undefined,
        onclick: () => { location.hash = `#/trace/${t.trace_id}`; },
      },
      el('td', { class: 'mono' }, localTime(t.start_timestamp)),
      el('td', { class: 'num' }, fmtDuration(t.duration)),
      el('td', { class: 'num spans' }, t.span_count),
      el('td', { class: 'num logs' }, t.log_count),
      el('td', { class: 'num errors' }, t.error_count),
      el('td', {}, t.service_name),
      el('td', { class: `root ${levelClass(t.max_level)}`.trim() }, root));
    });
    $('trace-list').tBodies[0].replaceChildren(...rows);
    $('trace-list-empty').hidden = traces.length > 0 || filtered;
    $('trace-list-no-match').hidden = traces.length > 0 || !filtered || !!next;
    $('trace-list-more').hidden = !next;
    if (next) $('trace-list-more').textContent = searchedBackTo(next);
  }

  // ---- one trace: waterfall and details -----------------------------------------------------------

  // Orders the records as a tree: each record under its parent, siblings by start time; records
  // whose parent is not in this trace (roots, remote parents) at the top level. Each record
  // carries startUs and endUs (loadTrace parses the timestamps once, not per comparison).
  function treeOrder(records) {
    const bySpan = new Map();
    for (const r of records) if (!bySpan.has(r.span_id)) bySpan.set(r.span_id, r);
    const children = new Map();
    const roots = [];
    for (const r of records) {
      const parent = r.parent_span_id && bySpan.get(r.parent_span_id);
      if (parent && parent !== r) {
        if (!children.has(parent.span_id)) children.set(parent.span_id, []);
        children.get(parent.span_id).push(r);
      } else {
        roots.push(r);
      }
    }
    const byStart = (a, b) => a.startUs - b.startUs || (a.kind === 'log') - (b.kind === 'log');
    const out = [];
    const seen = new Set();
    const visit = (r, depth) => {
      if (seen.has(r)) return;  // a malformed cycle must not loop forever
      seen.add(r);
      out.push({ record: r, depth });
      for (const c of (children.get(r.span_id) || []).sort(byStart)) visit(c, depth + 1);
    };
    for (const r of roots.sort(byStart)) visit(r, 0);
    return out;
  }

  let selectedRow = null;
  let selectedSpan = null;  // the span_id of the record whose details are shown

  // Traces with more records than this open as a flame graph, and the waterfall draws only the
  // first ones: an SVG row is five elements, and ten thousand of them freeze the page.
  const WATERFALL_MAX_ROWS = 1000;
  const LOG_TABLE_MAX_ROWS = 500;
  // The view the address asks for ('waterfall', 'flame'), or '' to choose by the trace's size.
  let traceView = '';
  let traceRows = [];

  // A trace comes in pages (/api/trace answers at most 20 000 records and --query-max-bytes of
  // JSON, and says where the next page starts): the page reads on until the trace ends or it
  // holds TRACE_MAX_RECORDS, the most it draws ("truncated" beyond, in the title).
  const TRACE_MAX_RECORDS = 100000;
  async function fetchTrace(id, quiet) {
    const records = [];
    let after = null;
    for (;;) {
      const data = await api(`/api/trace/${id}${after ? `?after=${encodeURIComponent(after)}` : ''}`);
      if (id !== openTrace) return null;
      for (const r of data.records) records.push(r);
      after = data.next;
      if (!after) return { records, truncated: data.truncated };
      if (records.length >= TRACE_MAX_RECORDS) return { records, truncated: true };
      if (!quiet) $('waterfall').replaceChildren(el('p', { class: 'meta' }, `loading… ${records.length} records so far`));
    }
  }

  let openTrace = '';
  // quiet: a live reload of the trace on screen, without the "loading" placeholder.
  async function loadTrace(id, quiet = false) {
    openTrace = id;
    if (!quiet) {
      $('trace-title').textContent = 'Trace';
      $('trace-meta').textContent = id;
      $('waterfall').replaceChildren(el('p', { class: 'meta' }, 'loading…'));
      $('waterfall').hidden = false;
      $('waterfall-note').hidden = true;
      $('flame').hidden = true;
      $('details').hidden = true;
    }
    let data;
    try {
      data = await fetchTrace(id, quiet);
    } catch (e) {
      if (id !== openTrace) return;
      $('waterfall').replaceChildren(el('p', { class: 'error' }, `Could not load the trace: ${e.message}`));
      return;
    }
    if (!data || id !== openTrace || currentView !== 'trace') return;  // another trace was opened meanwhile
    const records = data.records;
    if (records.length === 0) {
      $('waterfall').replaceChildren(el('p', { class: 'empty' }, 'No records in this trace (yet).'));
      return;
    }
    for (const r of records) {
      r.startUs = micros(r.start_timestamp);
      r.endUs = r.end_timestamp ? micros(r.end_timestamp) : r.startUs;
    }
    const rows = treeOrder(records);
    traceRows = rows;
    const root = rows[0].record;
    $('trace-title').textContent = root.message || root.span_name;
    const spans = records.filter((r) => r.kind !== 'log').length;
    const errors = records.filter((r) => r.level >= 17).length;
    $('trace-meta').textContent = `${id} · ${spans} spans · ${records.length - spans} logs · ${errors} errors` +
      (data.truncated ? ' · truncated' : '');
    const selected = quiet && selectedSpan ? records.find((r) => r.span_id === selectedSpan) : null;
    showTraceView(selected || root);
    // The trace's logs, in time order; a click selects the log in the waterfall or flame graph.
    const logs = records.filter((r) => r.kind === 'log').sort((a, b) => a.startUs - b.startUs);
    const listed = logs.slice(0, LOG_TABLE_MAX_ROWS);
    $('trace-logs').hidden = logs.length === 0;
    $('trace-logs').replaceChildren(
      el('h3', {}, `Logs (${logs.length}${logs.length > listed.length ? `, the first ${listed.length} listed` : ''})`),
      el('table', { class: 'grid' }, el('tbody', {},
        ...listed.map((r) => el('tr', { 'data-span-id': r.span_id, class: r.level >= 17 ? 'has-error' : undefined, onclick: () => {
          const g = $('waterfall').querySelector(`.wf-row[data-span-id="${r.span_id}"]`);
          selectRecord(r, g);
          flameSelect(r);
        } }, el('td', {}, localTime(r.start_timestamp)), el('td', { class: levelClass(r.level) }, levelName(r.level)),
        el('td', {}, r.message || r.span_name))))));
  }

  // Draws the open trace as the address asks, or by its size, and selects `record`.
  function showTraceView(record) {
    const rows = traceRows;
    const mode = traceView || (rows.length > WATERFALL_MAX_ROWS ? 'flame' : 'waterfall');
    $('show-waterfall').classList.toggle('active', mode === 'waterfall');
    $('show-flame').classList.toggle('active', mode === 'flame');
    $('waterfall').hidden = mode !== 'waterfall';
    $('flame').hidden = mode !== 'flame';
    const note = $('waterfall-note');
    note.hidden = mode !== 'waterfall' || rows.length <= WATERFALL_MAX_ROWS;
    if (mode === 'waterfall') {
      const shown = rows.slice(0, WATERFALL_MAX_ROWS);
      note.textContent = `The waterfall shows the first ${shown.length} of ${rows.length} records; the flame graph shows them all.`;
      renderWaterfall(shown);
      selectRecord(record, $('waterfall').querySelector(`.wf-row[data-span-id="${record.span_id}"]`));
    } else {
      $('waterfall').replaceChildren();  // its rows would stay in the page, hidden
      const placed = setupFlame(openTrace, rows);
      selectRecord(record, null);
      // The part of the trace the address asked for stays in view; otherwise the view moves to
      // the selection.
      if (placed) requestFlameDraw();
      else flameSelect(record);
    }
  }

  // The toggle: kept in the address (replaceState, so Back still leaves the trace).
  function setTraceView(mode) {
    traceView = mode;
    history.replaceState(null, '', traceAddress());
    if (traceRows.length > 0) {
      showTraceView(traceRows.find((x) => x.record.span_id === selectedSpan)?.record || traceRows[0].record);
    }
  }

  function renderWaterfall(rows) {
    const container = $('waterfall');
    const width = Math.max(container.clientWidth || 0, 900);
    const labelWidth = Math.min(460, Math.round(width * 0.42));
    const rowH = 24;
    const axisH = 22;
    const right = 70;  // room for the duration text after the longest bar
    const t0 = Math.min(...rows.map((r) => micros(r.record.start_timestamp)));
    const t1 = Math.max(...rows.map((r) => micros(r.record.end_timestamp || r.record.start_timestamp)));
    const total = Math.max(t1 - t0, 1);
    const span = width - labelWidth - right;
    const xOf = (us) => labelWidth + ((us - t0) / total) * span;

    const root = svg('svg', { width, height: axisH + rows.length * rowH + 4, role: 'img', 'aria-label': 'trace waterfall' });
    for (let i = 0; i <= 4; ++i) {
      const x = labelWidth + (span * i) / 4;
      root.append(svg('line', { class: 'wf-axis', x1: x, x2: x, y1: axisH - 4, y2: axisH + rows.length * rowH }));
      root.append(svg('text', { class: 'wf-tick', x: x + 3, y: 14 }, fmtDuration((total / 1e6) * (i / 4))));
    }
    rows.forEach(({ record: r, depth }, i) => {
      const y = axisH + i * rowH;
      const cls = levelClass(r.level);
      const g = svg('g', { class: 'wf-row', 'data-span-id': r.span_id, 'data-kind': r.kind });
      g.append(svg('rect', { class: 'wf-bg', x: 0, y, width, height: rowH }));
      const x = 8 + depth * 14;
      const maxChars = Math.max(8, Math.floor((labelWidth - x - 10) / 7));
      let label = r.message || r.span_name;
      if (label.length > maxChars) label = `${label.slice(0, maxChars - 1)}…`;
      const text = svg('text', { class: `wf-label ${cls}`.trim(), x, y: y + rowH / 2 }, label);
      text.append(svg('title', {}, r.message || r.span_name));
      g.append(text);
      const start = micros(r.start_timestamp);
      const bx = xOf(start);
      if (r.kind === 'log') {
        const cy = y + rowH / 2;
        g.append(svg('path', { class: `wf-log ${cls}`.trim(), d: `M${bx} ${cy - 6} L${bx + 6} ${cy} L${bx} ${cy + 6} L${bx - 6} ${cy} Z` }));
      } else {
        const end = r.kind === 'pending_span' ? t1 : micros(r.end_timestamp || r.start_timestamp);
        const w = Math.max(2, xOf(end) - bx);
        g.append(svg('rect', { class: `wf-bar ${r.kind === 'pending_span' ? 'pending' : cls}`.trim(), x: bx, y: y + 6, width: w, height: rowH - 12, rx: 2 }));
        const d = r.kind === 'pending_span' ? 'running' : fmtDuration(r.duration);
        g.append(svg('text', { class: 'wf-duration', x: bx + w + 4, y: y + rowH / 2 }, d));
      }
      g.addEventListener('click', () => selectRecord(r, g));
      root.append(g);
    });
    container.replaceChildren(root);
  }

  // ---- one trace: flame graph ----------------------------------------------------------------------

  // One canvas, however large the trace: a span is a bar in the row of its depth, placed by its
  // start and as wide as its duration; a log is a tick. A redraw walks the bars of the rows in view
  // and skips those that would land on a pixel already painted, so 10 000 spans draw in a few
  // milliseconds and the page holds one element for them. The canvas sticks to the top of its
  // scroll box, whose spacer gives the scrollbar the height of every row (a deep trace scrolls,
  // and only the rows in view are drawn). Zoom is a time window [from, to] in µs.
  const FLAME_ROW = 20;
  const FLAME_AXIS = 20;
  const flame = { traceId: '', byDepth: [], t0: 0, t1: 1, from: 0, to: 1 };

  // The zoom window and the first row in view are kept in the address, so that a reload or a
  // shared link shows the same part of the trace: #/trace/<id>?view=flame&window=<from>-<to>&depth=<row>,
  // the window in whole µs from the trace's start (as canvas.dataset.window), both left out
  // when the whole trace is in view. flameAddress holds what the address asked for until the
  // trace it names is set up.
  let flameAddress = null;
  function flameAddressOf(params) {
    const w = /^(\d+)-(\d+)$/.exec(params.get('window') || '');
    const depth = Number(params.get('depth'));
    if (!w && !(depth > 0)) return null;
    return { from: w ? Number(w[1]) : null, to: w ? Number(w[2]) : null, depth: depth > 0 ? Math.floor(depth) : 0 };
  }
  // The open trace's address: its view, and in the flame graph the window and row in view.
  function traceAddress() {
    const params = new URLSearchParams();
    const mode = traceView || (traceRows.length > WATERFALL_MAX_ROWS ? 'flame' : 'waterfall');
    if (traceView) params.set('view', traceView);
    if (mode === 'flame' && flame.traceId === openTrace) {
      const from = Math.round(flame.from - flame.t0);
      const to = Math.round(flame.to - flame.t0);
      if (from > 0 || to < Math.round(flame.t1 - flame.t0)) {
        params.set('view', 'flame');
        params.set('window', `${from}-${to}`);
      }
      const depth = Math.floor($('flame-scroll').scrollTop / FLAME_ROW);
      if (depth > 0) {
        params.set('view', 'flame');
        params.set('depth', String(depth));
      }
    }
    const query = params.toString();
    return `${location.pathname}${location.search}#/trace/${openTrace}${query ? `?${query}` : ''}`;
  }
  // Writes the window to the address at most every 250 ms while it moves (replaceState, so Back
  // still leaves the trace; browsers refuse a page that calls it hundreds of times a second).
  let addressTimer = 0;
  function flameWindowToAddress() {
    if (addressTimer) return;
    addressTimer = setTimeout(() => {
      addressTimer = 0;
      if (currentView === 'trace' && flame.traceId === openTrace && !$('flame').hidden) {
        history.replaceState(null, '', traceAddress());
      }
    }, 250);
  }

  // Returns whether the address placed the view (a window or a row it asked for).
  function setupFlame(id, rows) {
    const same = flame.traceId === id;
    flame.traceId = id;
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const { record: r } of rows) {
      t0 = Math.min(t0, r.startUs);
      t1 = Math.max(t1, r.endUs);
    }
    if (t1 <= t0) t1 = t0 + 1;
    flame.byDepth = [];
    for (const { record: r, depth } of rows) {
      // A running span lasts, for now, until the trace's last record.
      const bar = { r, start: r.startUs, end: r.kind === 'pending_span' ? t1 : r.endUs, color: flameColor(r) };
      (flame.byDepth[depth] ||= []).push(bar);
    }
    for (const row of flame.byDepth) row.sort((a, b) => a.start - b.start);
    flame.t0 = t0;
    flame.t1 = t1;
    // A live reload of the same trace keeps the zoom; the address's window applies once.
    const asked = flameAddress;
    flameAddress = null;
    if (!same || flame.to <= flame.from || asked) {
      flame.from = t0;
      flame.to = t1;
      if (asked && asked.from !== null && asked.to > asked.from) {
        flame.from = Math.max(t0, t0 + asked.from);
        flame.to = Math.min(t1, t0 + asked.to);
        if (flame.to <= flame.from) [flame.from, flame.to] = [t0, t1];
      }
      $('flame-scroll').scrollTop = 0;
    }
    drawFlame();
    // The rows scroll once the spacer gives them their height (drawFlame sets it).
    if (asked && asked.depth > 0) {
      $('flame-scroll').scrollTop = asked.depth * FLAME_ROW;
      drawFlame();
    }
    return !!asked;
  }

  // The page's colours (style.css's variables), read once; a bar's colour is set up with the bar.
  const flameColors = {};
  function flameColor(r) {
    if (!flameColors.error) {
      const css = getComputedStyle(document.documentElement);
      for (const k of ['error', 'warn', 'pending', 'log', 'fg', 'muted', 'line']) flameColors[k] = css.getPropertyValue(`--${k}`).trim();
    }
    const level = levelClass(r.level);
    if (r.kind === 'log') return level ? flameColors[level] : flameColors.log;
    if (r.kind === 'pending_span') return flameColors.pending;
    if (level) return flameColors[level];
    // Blues that vary with the span's name, so neighbours with other names stand apart.
    let h = 0;
    for (let i = 0; i < r.span_name.length; ++i) h = (h * 31 + r.span_name.charCodeAt(i)) | 0;
    h = Math.abs(h);
    return `hsl(${205 + (h % 40)}, 70%, ${52 + ((h >> 8) % 16)}%)`;
  }

  // Sizes the canvas to its box (the rows in view, at most 70% of the window's height) and paints
  // the rows in view, the selection's outline and the time axis. Runs in an animation frame
  // (requestFlameDraw), or at once when a trace is set up.
  function drawFlame() {
    const box = $('flame-scroll');
    const canvas = $('flame-canvas');
    const width = box.clientWidth;
    if (!width || $('flame').hidden) return;
    const total = FLAME_AXIS + flame.byDepth.length * FLAME_ROW;
    const height = Math.min(total, Math.max(200, Math.round(window.innerHeight * 0.7)));
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    $('flame-spacer').style.height = `${total - height}px`;
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const top = box.scrollTop;
    const scale = width / (flame.to - flame.from);
    const frame = { ctx, width, xOf: (us) => (us - flame.from) * scale, inView: 0, painted: 0, selected: null };
    const first = Math.max(0, Math.floor(top / FLAME_ROW));
    const last = Math.min(flame.byDepth.length - 1, Math.floor((top + height - FLAME_AXIS) / FLAME_ROW));
    for (let d = first; d <= last; ++d) drawFlameRow(frame, flame.byDepth[d], FLAME_AXIS + d * FLAME_ROW - top);
    if (frame.selected) {
      const [x, y, w] = frame.selected;
      ctx.strokeStyle = flameColors.fg;
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 1, y, Math.max(w, 2) + 2, FLAME_ROW);
    }
    drawFlameAxis(ctx, width);
    // For tests and tools: what the last frame held (bars in view, shapes painted, zoom window).
    canvas.dataset.bars = String(frame.inView);
    canvas.dataset.painted = String(frame.painted);
    canvas.dataset.depths = String(flame.byDepth.length);
    canvas.dataset.window = `${Math.round(flame.from - flame.t0)}-${Math.round(flame.to - flame.t0)}`;
  }

  // One depth's bars at `y`. A bar that ends within the pixel column the row has painted up to is
  // skipped (thousands of sub-pixel spans become a few hundred rectangles); logs are always drawn.
  function drawFlameRow(frame, bars, y) {
    const { ctx, width, xOf } = frame;
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    let paintedTo = -Infinity;
    for (const b of bars) {
      if (b.start > flame.to) break;
      if (b.end < flame.from) continue;
      ++frame.inView;
      const x0 = xOf(b.start);
      const isLog = b.r.kind === 'log';
      const x1 = isLog ? x0 + 1 : Math.max(xOf(b.end), x0 + 1);
      if (b.r.span_id === selectedSpan) frame.selected = [x0, y, x1 - x0];
      if (x1 <= paintedTo && !isLog) continue;
      ++frame.painted;
      ctx.fillStyle = b.color;
      if (isLog) {
        ctx.beginPath();
        ctx.moveTo(x0, y + 4);
        ctx.lineTo(x0 + 5, y + FLAME_ROW / 2);
        ctx.lineTo(x0, y + FLAME_ROW - 4);
        ctx.lineTo(x0 - 5, y + FLAME_ROW / 2);
        ctx.fill();
        continue;
      }
      // A 1 px gap between bars wide enough to keep one.
      ctx.fillRect(x0, y + 1, x1 - x0 > 3 ? x1 - x0 - 1 : x1 - x0, FLAME_ROW - 2);
      paintedTo = Math.max(paintedTo, Math.ceil(x1));
      const w = Math.min(x1, width) - Math.max(x0, 0);
      if (w > 36) {
        let label = b.r.message || b.r.span_name;
        const fits = Math.floor((w - 8) / 7);
        if (label.length > fits) label = `${label.slice(0, Math.max(1, fits - 1))}…`;
        ctx.fillStyle = b.r.kind === 'pending_span' ? flameColors.fg : '#fff';
        ctx.fillText(label, Math.max(x0, 0) + 4, y + FLAME_ROW / 2);
      }
    }
  }

  // The time axis, over the rows (it stays when they scroll): five ticks, offsets from the
  // trace's start.
  function drawFlameAxis(ctx, width) {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, FLAME_AXIS);
    ctx.fillStyle = flameColors.muted;
    ctx.strokeStyle = flameColors.line;
    ctx.lineWidth = 1;
    ctx.font = '10px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const step = (flame.to - flame.from) / 4;
    for (let i = 0; i < 5; ++i) {
      const x = Math.round(((width - 1) * i) / 4) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, FLAME_AXIS - 5);
      ctx.lineTo(x, FLAME_AXIS);
      ctx.stroke();
      ctx.textAlign = i === 4 ? 'right' : 'left';
      ctx.fillText(fmtOffset(flame.from - flame.t0 + step * i, step), i === 4 ? x - 3 : x + 3, 8);
    }
    ctx.textAlign = 'left';
  }

  // An axis tick: µs from the trace's start, with the decimals that tell ticks `stepUs` apart
  // (zoomed far in, "6.4204s" and "6.4230s", where fmtDuration would print "6.42s" twice).
  function fmtOffset(us, stepUs) {
    const [div, unit] = us >= 1e6 ? [1e6, 's'] : us >= 1e3 ? [1e3, 'ms'] : [1, 'µs'];
    const decimals = Math.max(0, Math.min(6, Math.ceil(-Math.log10(stepUs / div)) + 1));
    return `${(us / div).toFixed(decimals)}${unit}`;
  }

  // Redraws once per animation frame however many scroll, wheel and move events arrive.
  let flameFrame = 0;
  function requestFlameDraw() {
    if (flameFrame) return;
    flameFrame = requestAnimationFrame(() => {
      flameFrame = 0;
      drawFlame();
    });
  }

  // The bar under a mouse event, or null: among bars of its row that hold the pointer's time, the
  // one that started last; else the nearest within 3 pixels (bars thinner than a pointer).
  function flameHit(ev) {
    const rect = $('flame-canvas').getBoundingClientRect();
    const px = ev.clientX - rect.left;
    const py = ev.clientY - rect.top;
    if (py < FLAME_AXIS) return null;
    const row = flame.byDepth[Math.floor((py - FLAME_AXIS + $('flame-scroll').scrollTop) / FLAME_ROW)];
    if (!row) return null;
    const scale = rect.width / (flame.to - flame.from);
    const us = flame.from + px / scale;
    const slack = 3 / scale;
    let hit = null;
    let near = null;
    let nearest = slack;
    for (const b of row) {
      if (b.start - slack > us) break;
      if (b.start <= us && us <= b.end) hit = b;
      const distance = us < b.start ? b.start - us : us - b.end;
      if (distance <= nearest) [near, nearest] = [b, distance];
    }
    return hit || near;
  }

  function flameZoom(factor, atUs) {
    const at = atUs === undefined ? (flame.from + flame.to) / 2 : atUs;
    let from = at - (at - flame.from) * factor;
    let to = at + (flame.to - at) * factor;
    const whole = flame.t1 - flame.t0;
    if (to - from >= whole) {
      from = flame.t0;
      to = flame.t1;
    }
    if (to - from < 1) return;  // a microsecond is the stored resolution
    flameWindow(from, to);
  }

  // Sets the zoom window, kept inside the trace.
  function flameWindow(from, to) {
    const w = to - from;
    if (from < flame.t0) [from, to] = [flame.t0, flame.t0 + w];
    if (to > flame.t1) [from, to] = [flame.t1 - w, flame.t1];
    flame.from = Math.max(from, flame.t0);
    flame.to = Math.min(to, flame.t1);
    requestFlameDraw();
    flameWindowToAddress();
  }

  // Shows the selection (selectRecord's) in the flame graph; when the bar is outside the zoom
  // window or the rows in view, the window moves to it and its row is scrolled into view.
  function flameSelect(r) {
    if (!r) return;
    const end = r.kind === 'log' ? r.startUs : r.endUs;
    if (r.startUs > flame.to || end < flame.from) {
      const w = flame.to - flame.from;
      flameWindow(r.startUs - w / 2, r.startUs + w / 2);
    }
    const depth = flame.byDepth.findIndex((bars) => bars.some((b) => b.r === r));
    const box = $('flame-scroll');
    const y = depth * FLAME_ROW;
    const rows = box.clientHeight - FLAME_AXIS;
    if (depth >= 0 && (y < box.scrollTop || y + FLAME_ROW > box.scrollTop + rows)) box.scrollTop = Math.max(0, y - rows / 2);
    requestFlameDraw();
  }

  function setupFlameEvents() {
    const canvas = $('flame-canvas');
    const usAt = (ev) => {
      const rect = canvas.getBoundingClientRect();
      return flame.from + ((ev.clientX - rect.left) / rect.width) * (flame.to - flame.from);
    };
    $('flame-scroll').addEventListener('scroll', () => {
      requestFlameDraw();
      flameWindowToAddress();
    }, { passive: true });
    window.addEventListener('resize', requestFlameDraw);
    // The keyboard, when the canvas has the focus (Tab to it, or a click): arrows pan (a tenth of
    // the window, Shift half of it) and scroll the rows, + and − zoom around the middle, 0 shows
    // the whole trace, Home and End go to its start and end.
    canvas.addEventListener('keydown', (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const w = flame.to - flame.from;
      const step = w * (ev.shiftKey ? 0.5 : 0.1);
      const box = $('flame-scroll');
      switch (ev.key) {
        case 'ArrowLeft': flameWindow(flame.from - step, flame.to - step); break;
        case 'ArrowRight': flameWindow(flame.from + step, flame.to + step); break;
        case 'ArrowUp': box.scrollTop -= FLAME_ROW; break;
        case 'ArrowDown': box.scrollTop += FLAME_ROW; break;
        case '+': case '=': flameZoom(0.5); break;
        case '-': case '_': flameZoom(2); break;
        case '0': flameWindow(flame.t0, flame.t1); break;
        case 'Home': flameWindow(flame.t0, flame.t0 + w); break;
        case 'End': flameWindow(flame.t1 - w, flame.t1); break;
        default: return;
      }
      ev.preventDefault();  // the page does not scroll too
    });
    // Ctrl+wheel (and a trackpad's pinch) zooms around the pointer; a sideways wheel pans; the
    // plain wheel scrolls the rows.
    canvas.addEventListener('wheel', (ev) => {
      if (ev.ctrlKey || ev.metaKey) {
        ev.preventDefault();
        flameZoom(Math.exp(Math.max(-300, Math.min(300, ev.deltaY)) * 0.004), usAt(ev));
      } else if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY) || ev.shiftKey) {
        ev.preventDefault();
        const dx = ev.shiftKey ? ev.deltaY : ev.deltaX;
        const shift = (dx / canvas.getBoundingClientRect().width) * (flame.to - flame.from);
        flameWindow(flame.from + shift, flame.to + shift);
      }
    }, { passive: false });
    // A drag pans; a press and release in place is a click, which selects the bar under it.
    let drag = null;
    canvas.addEventListener('mousedown', (ev) => {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, from: flame.from, to: flame.to, moved: false };
    });
    window.addEventListener('mousemove', (ev) => {
      if (drag) {
        const dx = ev.clientX - drag.x;
        if (Math.abs(dx) > 3) drag.moved = true;
        if (drag.moved) {
          canvas.classList.add('panning');
          const shift = (-dx / canvas.getBoundingClientRect().width) * (drag.to - drag.from);
          flameWindow(drag.from + shift, drag.to + shift);
        }
        return;
      }
      if (ev.target !== canvas) return;
      const b = flameHit(ev);
      canvas.classList.toggle('on-bar', !!b);
      $('flame-hover').textContent = b
        ? `${b.r.message || b.r.span_name} · ${b.r.kind === 'pending_span' ? 'running' : b.r.kind === 'log' ? levelName(b.r.level) : fmtDuration(b.r.duration)}`
        : '';
    });
    window.addEventListener('mouseup', (ev) => {
      if (!drag) return;
      const wasDrag = drag.moved;
      drag = null;
      canvas.classList.remove('panning');
      if (wasDrag || ev.target !== canvas) return;
      const b = flameHit(ev);
      if (b) {
        selectRecord(b.r, null);
        requestFlameDraw();
      }
    });
    canvas.addEventListener('dblclick', (ev) => {
      const b = flameHit(ev);
      if (!b || b.r.kind === 'log') return;
      const margin = (b.end - b.start) * 0.05;
      flameWindow(b.start - margin, b.end + margin);
    });
    $('flame-zoom-in').addEventListener('click', () => flameZoom(0.5));
    $('flame-zoom-out').addEventListener('click', () => flameZoom(2));
    $('flame-reset').addEventListener('click', () => flameWindow(flame.t0, flame.t1));
    $('show-waterfall').addEventListener('click', () => setTraceView('waterfall'));
    $('show-flame').addEventListener('click', () => setTraceView('flame'));
  }

  function valueText(v) {
    if (typeof v === 'string') return v;
    return JSON.stringify(v, null, 2);
  }

  // An attribute's value: a scalar as text; an object or array (or a string holding one, as
  // Logfire SDKs send JSON-encoded values) as a tree of keys, collapsible, with every path that
  // logfire.scrubbed names marked (`scrubbedPaths`: JSON.stringify of the path).
  function valueNode(v, path, scrubbedPaths, depth = 0) {
    if (typeof v === 'string' && /^\s*[[{]/.test(v) && depth === 0) {
      try { v = JSON.parse(v); } catch (e) { /* not JSON: shown as text */ }
    }
    if (v === null || typeof v !== 'object' || depth > 32) return el('pre', {}, valueText(v));
    const entries = Array.isArray(v) ? v.map((c, i) => [i, c]) : Object.entries(v);
    return el('details', { class: 'attr-tree', open: depth < 2 },
      el('summary', {}, Array.isArray(v) ? `[${entries.length}]` : `{${entries.length}}`),
      el('ul', {}, ...entries.map(([k, c]) => {
        const p = [...path, Array.isArray(v) ? k : String(k)];
        return el('li', { class: scrubbedPaths.has(JSON.stringify(p)) ? 'scrubbed-attr' : undefined },
          el('span', { class: 'mono tree-key' }, `${k}: `), valueNode(c, p, scrubbedPaths, depth + 1));
      })));
  }

  // The entries of a record's logfire.scrubbed attribute (a JSON string, or already parsed), or [].
  function scrubbedEntries(attributes) {
    let v = attributes['logfire.scrubbed'];
    if (typeof v === 'string') {
      try { v = JSON.parse(v); } catch { return [{ path: [], matched_substring: v }]; }
    }
    return Array.isArray(v) ? v.filter((e) => e && Array.isArray(e.path)) : [];
  }

  function selectRecord(r, row) {
    selectedSpan = r.span_id;
    if (selectedRow) selectedRow.classList.remove('selected');
    selectedRow = row;
    if (row) row.classList.add('selected');
    const d = $('details');
    const facts = [
      ['kind', r.kind],
      ['level', `${levelName(r.level)} (${r.level})`],
      ['span name', r.span_name],
      ['start', `${localTime(r.start_timestamp)} (UTC ${r.start_timestamp})`],
      ['duration', r.kind === 'pending_span' ? 'running' : fmtDuration(r.duration)],
      ['service', r.service_name],
      ['scope', r.otel_scope_name],
      ['status', r.otel_status_code + (r.otel_status_message ? `: ${r.otel_status_message}` : '')],
      ['tags', (r.tags || []).join(', ')],
      ['trace_id', r.trace_id],
      ['span_id', r.span_id],
      ['parent_span_id', r.parent_span_id],
    ].filter(([, v]) => v !== null && v !== undefined && v !== '');
    const parts = [
      el('h2', { class: levelClass(r.level) ? `level-${levelClass(r.level)}` : undefined }, r.message || r.span_name),
      el('table', { class: 'facts' }, ...facts.map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', { class: 'mono' }, v)))),
    ];
    if (r.is_exception) {
      parts.push(el('div', { class: 'exception', id: 'exception' },
        el('h3', {}, 'Exception'),
        el('p', {}, el('b', {}, r.exception_type || 'exception'), r.exception_message ? `: ${r.exception_message}` : ''),
        r.exception_stacktrace ? el('pre', {}, r.exception_stacktrace) : null));
    }
    const attrs = Object.entries(r.attributes || {});
    // Scrubbing: the SDK lists what it redacted in logfire.scrubbed ([{path, matched_substring}]);
    // say so above the attributes and mark the attributes it touched.
    const scrubbed = scrubbedEntries(r.attributes || {});
    const scrubbedKeys = new Set(scrubbed.filter((e) => e.path[0] === 'attributes').map((e) => String(e.path[1])));
    const scrubbedPaths = new Set(scrubbed.map((e) => JSON.stringify(e.path.map((x) => (typeof x === 'number' ? x : String(x))))));
    if (scrubbed.length > 0) {
      parts.push(el('div', { class: 'scrubbed', id: 'scrubbed' },
        el('h3', {}, `Scrubbed: ${scrubbed.length} value${scrubbed.length === 1 ? '' : 's'} redacted by the SDK`),
        el('ul', {}, ...scrubbed.map((e) => el('li', { class: 'mono' }, `${JSON.stringify(e.path)} (matched ${JSON.stringify(e.matched_substring)})`)))));
    }
    parts.push(el('h3', {}, `Attributes (${attrs.length})`));
    parts.push(el('table', { class: 'attributes' },
      ...attrs.map(([k, v]) => el('tr', { class: scrubbedKeys.has(k) && scrubbedPaths.has(JSON.stringify(['attributes', k])) ? 'scrubbed-attr' : undefined },
        el('td', { class: 'mono' }, k), el('td', {}, k === 'logfire.scrubbed' ? el('pre', {}, valueText(v)) : valueNode(v, ['attributes', k], scrubbedPaths))))));
    const events = (r.otel_events || []).filter((e) => e.name !== 'exception');
    if (events.length > 0) {
      parts.push(el('h3', {}, `Events (${events.length})`));
      for (const e of events) parts.push(el('pre', {}, `${e.timestamp}  ${e.name}  ${JSON.stringify(e.attributes)}`));
    }
    const resource = Object.entries(r.otel_resource_attributes || {});
    if (resource.length > 0) {
      parts.push(el('details', {}, el('summary', {}, `Resource (${resource.length})`),
        el('table', {}, ...resource.map(([k, v]) => el('tr', {}, el('td', { class: 'mono' }, k), el('td', { class: 'mono' }, valueText(v)))))));
    }
    d.replaceChildren(...parts);
    d.hidden = false;
  }

  // ---- SQL -------------------------------------------------------------------------------------

  async function runSql() {
    const sql = $('sql-input').value;
    $('sql-error').hidden = true;
    $('sql-info').textContent = 'running…';
    const started = performance.now();
    try {
      const data = await api('/api/query', { method: 'POST', body: sql, headers: { 'Content-Type': 'text/plain' } });
      const ms = Math.round(performance.now() - started);
      $('sql-info').textContent = `${data.rows.length} row${data.rows.length === 1 ? '' : 's'}` +
        `${data.truncated ? ` (more not shown: ${data.truncated_note || 'limit reached'})` : ''} in ${ms} ms`;
      const table = el('table', { class: 'grid' },
        el('thead', {}, el('tr', {}, ...data.columns.map((c) => el('th', {}, c)))),
        el('tbody', {}, ...data.rows.map((row) => el('tr', {}, ...row.map((v) => (v === null
          ? el('td', { class: 'null' }, 'NULL')
          : el('td', { class: typeof v === 'number' ? 'num' : undefined }, String(v))))))));
      $('sql-result').replaceChildren(table);
    } catch (e) {
      $('sql-info').textContent = '';
      $('sql-error').textContent = e.message;
      $('sql-error').hidden = false;
      $('sql-result').replaceChildren();
    }
  }

  // ---- records: search and filters ----------------------------------------------------------------

  // As the trace list, the search goes on from each answer's "next" until 200 records are found
  // or every record was read; the answers follow each other, newest first.
  const RECORD_LIST_LIMIT = 200;
  let recordsSeq = 0;  // answers to older filter settings are dropped
  async function refreshRecords() {
    const params = new URLSearchParams();
    const text = $('rec-text').value.trim();
    if (text) params.set('q', text);
    const service = $('rec-service').value.trim();
    if (service) params.set('service', service);
    if ($('rec-since').value) params.set('since', $('rec-since').value);
    if ($('rec-errors').checked) params.set('level', '17');
    const seq = ++recordsSeq;
    searching.records = true;
    try {
      const finished = await searchInPages('/api/records', params, RECORD_LIST_LIMIT,
        () => seq === recordsSeq && currentView === 'records',
        (found, data) => found.concat(data.records),
        (found, data, next) => renderRecords(found, data.truncated, next));
      if (!finished) return;
      setStatus(true, `updated ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      if (seq === recordsSeq) $('record-list-info').textContent = `Could not search: ${e.message}`;
    } finally {
      if (seq === recordsSeq) searchDone('records');
    }
  }

  function renderRecords(found, truncated, next) {
    let records = found;
    if ($('rec-logs').checked) records = records.filter((r) => r.kind === 'log');
    $('record-list').tBodies[0].replaceChildren(...records.map((r) => el('tr', { class: r.level >= 17 ? 'has-error' : undefined, 'data-trace-id': r.trace_id },
      el('td', {}, localTime(r.start_timestamp)),
      el('td', { class: levelClass(r.level) }, levelName(r.level)),
      el('td', {}, r.kind === 'pending_span' ? 'running' : r.kind),
      el('td', { class: 'num' }, r.kind === 'pending_span' ? 'running' : fmtDuration(r.duration)),
      el('td', {}, r.service_name),
      el('td', {}, r.message || r.span_name),
      el('td', {}, el('a', { href: `#/trace/${r.trace_id}`, class: 'trace-link' }, r.trace_id.slice(0, 8))))));
    $('record-list-info').textContent = next ? searchedBackTo(next) : `${records.length} records, newest first` +
      (truncated ? ' (more match: narrow the filters)' : '');
  }

  let filterTimer = null;
  for (const id of ['rec-text', 'rec-service']) {
    $(id).addEventListener('input', () => { clearTimeout(filterTimer); filterTimer = setTimeout(refreshRecords, 250); });
  }
  for (const id of ['rec-since', 'rec-errors', 'rec-logs']) $(id).addEventListener('change', refreshRecords);

  // ---- live updates ------------------------------------------------------------------------------

  // GET /api/live through fetch (EventSource cannot send the token header). Each `records` event
  // schedules one reload of what is on screen, at most every 300 ms; on a dropped stream (server
  // restart, or this tab fell behind and the server ended it) the page reconnects after 2 s and
  // reloads, so nothing announced meanwhile is missed.
  let liveUp = false;
  let reloadTimer = null;
  // An event's data names the traces its export touched ("trace_ids", with "more_traces" when it
  // names only the first ones): the trace on screen reloads only for its own.
  function liveEvent(event) {
    if (currentView === 'trace') {
      let data = null;
      try { data = JSON.parse((/^data: (.*)$/m.exec(event) || [])[1]); } catch (e) { /* reload below */ }
      if (data && !data.more_traces && !(data.trace_ids || []).includes(openTrace)) return;
    }
    scheduleReload();
  }
  function scheduleReload() {
    if (reloadTimer !== null) return;
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      if (document.hidden) return;
      if (searching[currentView]) searching.reload = true;  // after the search on screen
      else if (currentView === 'traces') refreshTraces();
      else if (currentView === 'records') refreshRecords();
      else if (currentView === 'trace' && openTrace) loadTrace(openTrace, true);
    }, 300);
  }

  async function followLive() {
    try {
      const res = await fetch('/api/live', { headers: authHeaders, cache: 'no-store' });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      liveUp = true;
      $('status').title = 'Live: the page updates as records arrive';
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (/^event: records$/m.test(event)) liveEvent(event);
        }
      }
    } catch (e) { /* reconnect below */ }
    liveUp = false;
    $('status').title = 'Live updates lost: reconnecting; the list refreshes every 5 seconds meanwhile';
    setTimeout(() => { followLive(); scheduleReload(); }, 2000);
  }

  // ---- start -------------------------------------------------------------------------------------

  for (const o of document.querySelectorAll('.origin')) o.textContent = location.origin;
  for (const id of ['errors-only', 'trace-min-duration', 'trace-since']) $(id).addEventListener('change', traceFiltersChanged);
  let traceFilterTimer = null;
  for (const id of ['trace-text', 'trace-service']) {
    $(id).addEventListener('input', () => { clearTimeout(traceFilterTimer); traceFilterTimer = setTimeout(traceFiltersChanged, 250); });
  }
  $('sql-run').addEventListener('click', runSql);
  setupFlameEvents();
  $('sql-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      runSql();
    }
  });
  if (token) document.title += ' (token)';
  window.addEventListener('hashchange', route);
  followLive();
  // While the live stream is down, the list still refreshes, more slowly.
  setInterval(() => { if (!liveUp && currentView === 'traces' && !document.hidden) refreshTraces(); }, 5000);
  route();
})();
