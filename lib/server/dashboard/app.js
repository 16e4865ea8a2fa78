// ultra-performance dashboard: plain JS, no build step. Reads `snapshot` events from the
// stream (routes/stream.ts) and draws numbers in the DOM and two uPlot charts. The token,
// if any, comes from the URL fragment (#token=…), which the browser never sends; it goes to
// the stream as ?access_token= because EventSource cannot send an Authorization header.
'use strict';
(function () {
  const kWindow = 300; // points kept in the charts (5 min at 1 s)
  const kKnown = [
    ['gpu_acceleration', 'GPU acceleration', true],
    ['advanced_caching', 'Advanced caching', true],
    ['ultra_low_latency', 'Ultra-low latency', false],
    ['memory_optimization', 'Memory', false],
    ['network_io', 'Network I/O', false],
    ['performance_monitoring', 'Monitoring', false],
  ];
  const kHealth = {
    ok: ['● OK', 'pill-ok'],
    degraded: ['▲ DEGRADED', 'pill-degraded'],
    unavailable: ['✕ UNAVAILABLE', 'pill-unavailable'],
    idle: ['○ IDLE', 'pill-idle'],
  };
  const kMaxRows = 16;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  // --- token: from the fragment into this tab's session, then out of the address bar
  const kTokenKey = 'ultra-performance.token';
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has('token')) {
    sessionStorage.setItem(kTokenKey, fragment.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const token = sessionStorage.getItem(kTokenKey);
  const pageQuery = new URLSearchParams(location.search);
  const interval = Number(pageQuery.get('interval')) || 1000;

  // --- formatting
  const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const fmtNum = (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
    if (Number.isInteger(v)) return int.format(v);
    const a = Math.abs(v);
    return a >= 100 ? int.format(v) : a >= 1 ? v.toFixed(2) : a === 0 ? '0' : v.toPrecision(3);
  };
  const fmtBytes = (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    let x = v;
    while (Math.abs(x) >= 1024 && i < units.length - 1) { x /= 1024; i++; }
    return `${i === 0 ? x : x.toFixed(1)} ${units[i]}`;
  };
  const fmtUs = (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
    return v >= 10_000 ? `${(v / 1000).toFixed(1)} ms` : `${fmtNum(v)} µs`;
  };
  const fmtDuration = (s) => {
    if (typeof s !== 'number' || !Number.isFinite(s)) return '–';
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
    const two = (n) => String(n).padStart(2, '0');
    return (d > 0 ? `${d}d ` : '') + `${two(h)}:${two(m)}:${two(sec)}`;
  };
  const fmtClock = (ms) => new Date(ms).toISOString().slice(11, 23) + 'Z';
  const label = (key) => key.replace(/_/g, ' ').replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  const fmtField = (key, v) => {
    if (v === null || v === undefined) return '–';
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'string') return v;
    if (typeof v !== 'number') return String(v);
    const k = key.toLowerCase();
    if (/bytes$|(^|\.)(rss|heapused|heaptotal|external|arraybuffers)$/.test(k)) return fmtBytes(v);
    // units by suffix, camelCase or snake_case (p99UpdateNs, latency_us), not words that end so (connections)
    if (/(Us|_us)$/.test(key)) return fmtUs(v);
    if (/(Ns|_ns)$/.test(key)) return `${fmtNum(v)} ns`;
    if (/(Ms|_ms)$/.test(key)) return `${fmtNum(v)} ms`;
    if (/(S|_s|Seconds|_seconds)$/.test(key) && !/[A-Z]{2}S$/.test(key)) return `${fmtNum(v)} s`;
    if (/persec$/.test(k)) return `${fmtNum(v)} /s`;
    if (/(ratio|rate|utilization|pct|percent)$/.test(k) && v >= 0 && v <= 1 && !/persec/.test(k)) return `${(v * 100).toFixed(1)} %`;
    return fmtNum(v);
  };
  // a report's fields as [path, value] rows: nested objects by dotted path, short arrays inline
  const flatten = (obj, prefix, out, depth) => {
    for (const [key, value] of Object.entries(obj)) {
      if (depth === 0 && (key === 'health' || key === 'error')) continue;
      const path = prefix ? `${prefix}.${key}` : key;
      if (Array.isArray(value)) {
        if (value.every((x) => x === null || typeof x !== 'object')) out.push([path, value.length === 0 ? '(none)' : value.slice(0, 6).join(', ') + (value.length > 6 ? ` … +${value.length - 6}` : '')]);
        else if (depth < 2) value.slice(0, 4).forEach((x, i) => flatten(x, `${path}[${i}]`, out, depth + 1));
        else out.push([path, `${value.length} items`]);
      } else if (value !== null && typeof value === 'object') {
        if (depth < 2) flatten(value, path, out, depth + 1);
        else out.push([path, '{…}']);
      } else out.push([path, value]);
    }
    return out;
  };
  const setText = (id, text, raw) => {
    const node = $(id);
    if (node.textContent !== text) node.textContent = text;
    if (raw !== undefined) node.dataset.value = String(raw);
  };

  // --- charts
  const axis = { stroke: '#8593a6', grid: { stroke: '#1c2533', width: 1 }, ticks: { stroke: '#243042', width: 1 }, font: '11px ui-monospace, monospace' };
  const series = (name, stroke, extra) => Object.assign({ label: name, stroke, width: 1.75, points: { show: false } }, extra);
  const latency = { x: [], p50: [], p99: [] };
  const rate = { x: [], rps: [], loop: [] };
  let latencyPlot, ratePlot;
  const size = (node) => ({ width: Math.max(200, node.clientWidth), height: 190 });
  function makeCharts() {
    if (typeof uPlot !== 'function') throw new Error('uPlot did not load (dashboard/assets/uPlot.iife.min.js)');
    const a = $('chart-latency');
    latencyPlot = new uPlot({
      ...size(a),
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.1)] } },
      axes: [axis, { ...axis, size: 60, values: (_u, ticks) => ticks.map((t) => fmtNum(t)) }],
      series: [{ value: (_u, v) => (v == null ? '–' : fmtClock(v * 1000)) }, series('p50 µs', '#58a6ff', { value: (_u, v) => fmtNum(v) }), series('p99 µs', '#f0883e', { value: (_u, v) => fmtNum(v) })],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    }, [latency.x, latency.p50, latency.p99], a);
    const b = $('chart-rate');
    ratePlot = new uPlot({
      ...size(b),
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] }, ms: { range: (_u, _min, max) => [0, Math.max(1, max * 1.2)] } },
      axes: [axis, { ...axis, size: 60, values: (_u, ticks) => ticks.map((t) => fmtNum(t)) }, { ...axis, scale: 'ms', side: 1, grid: { show: false }, size: 50 }],
      series: [{ value: (_u, v) => (v == null ? '–' : fmtClock(v * 1000)) }, series('req/s', '#3fb950', { fill: 'rgba(63,185,80,0.12)', value: (_u, v) => fmtNum(v) }), series('loop p99 ms', '#bc8cff', { scale: 'ms', value: (_u, v) => fmtNum(v) })],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    }, [rate.x, rate.rps, rate.loop], b);
    const resize = () => {
      latencyPlot.setSize(size(a));
      ratePlot.setSize(size(b));
    };
    if (typeof ResizeObserver === 'function') new ResizeObserver(resize).observe(a);
    else addEventListener('resize', resize);
  }
  const push = (store, values) => {
    Object.keys(store).forEach((k, i) => {
      store[k].push(values[i]);
      if (store[k].length > kWindow) store[k].shift();
    });
  };

  // --- components
  const panels = new Map();
  function panel(key) {
    let p = panels.get(key);
    if (p) return p;
    const known = kKnown.find((k) => k[0] === key);
    const node = el('article', `card comp${known && known[2] ? ' wide' : ''}${key === '__jobs' ? ' jobs' : ''}`);
    node.dataset.component = key;
    const head = el('header');
    const title = el('h2', '', known ? known[1] : label(key));
    title.id = `comp-${key}`;
    node.setAttribute('aria-labelledby', title.id);
    title.append(el('span', 'key', key));
    const health = el('span', 'pill pill-idle', '○ NOT REPORTED');
    health.dataset.health = 'none';
    head.append(title, health);
    const list = el('dl', 'kv');
    const note = el('p', 'note', 'no report from this component');
    const error = el('p', 'err');
    error.hidden = true;
    node.append(head, list, note, error);
    $('components').append(node);
    p = { node, health, list, note, error, rows: new Map() };
    panels.set(key, p);
    return p;
  }
  function showHealth(p, health, text) {
    const [txt, cls] = kHealth[health] || [`? ${String(health).toUpperCase()}`, 'pill-degraded'];
    if (p.health.dataset.health !== health) {
      p.health.dataset.health = health;
      p.health.className = `pill ${cls}`;
    }
    if (p.health.textContent !== (text || txt)) p.health.textContent = text || txt;
  }
  function showRows(p, rows) {
    const keep = rows.slice(0, kMaxRows);
    if (rows.length > kMaxRows) keep.push(['…', `${rows.length - kMaxRows} more fields`]);
    const seen = new Set();
    for (const [path, value] of keep) {
      seen.add(path);
      let row = p.rows.get(path);
      if (!row) {
        const dt = el('dt', '', label(path));
        dt.title = path;
        const dd = el('dd');
        dd.dataset.field = path;
        p.list.append(dt, dd);
        row = { dt, dd };
        p.rows.set(path, row);
      }
      const text = fmtField(path.replace(/\[\d+\]/g, ''), value);
      if (row.dd.textContent !== text) {
        row.dd.textContent = text;
        row.dd.title = text;
        // a sentence (a reason, an error) wraps instead of being cut
        row.dd.classList.toggle('txt', typeof value === 'string' && text.length > 24);
      }
    }
    for (const [path, row] of p.rows) {
      if (!seen.has(path)) {
        row.dt.remove();
        row.dd.remove();
        p.rows.delete(path);
      }
    }
  }
  function showComponents(components, jobs, registry) {
    for (const [key] of kKnown) panel(key);
    for (const [key, report] of Object.entries(components)) {
      const p = panel(key);
      showHealth(p, report.health);
      showRows(p, flatten(report, '', [], 0));
      p.note.hidden = true;
      p.error.hidden = typeof report.error !== 'string';
      if (typeof report.error === 'string') p.error.textContent = `error: ${report.error}`;
    }
    for (const [key, p] of panels) {
      if (key === '__jobs' || Object.hasOwn(components, key)) continue;
      showHealth(p, 'none', '○ NOT REPORTED');
      showRows(p, []);
      p.note.hidden = false;
    }
    const j = panel('__jobs');
    j.node.querySelector('h2').firstChild.textContent = 'Jobs & objects';
    j.node.querySelector('.key').textContent = 'jobs · registry';
    const busy = jobs.running > 0 || jobs.queued > 0;
    showHealth(j, busy ? 'ok' : 'idle', busy ? '● BUSY' : '○ IDLE');
    j.note.hidden = true;
    const rows = Object.entries(jobs).map(([k, v]) => [`jobs ${k}`, v]);
    const kinds = Object.entries(registry);
    if (kinds.length === 0) rows.push(['objects', '(none)']);
    for (const [kind, n] of kinds) rows.push([`${kind} objects`, n]);
    showRows(j, rows);
    // keep the jobs panel last
    if ($('components').lastElementChild !== j.node) $('components').append(j.node);
  }

  // --- routes table and key figures
  function showRoutes(routes) {
    const body = $('routes').tBodies[0];
    const sorted = routes.slice().sort((a, b) => b.count - a.count).slice(0, 60);
    const frag = document.createDocumentFragment();
    if (sorted.length === 0) {
      const tr = el('tr', 'empty');
      const td = el('td', '', 'no requests recorded yet');
      td.colSpan = 10;
      tr.append(td);
      frag.append(tr);
    }
    for (const r of sorted) {
      const tr = el('tr');
      tr.append(el('td', '', r.method));
      const route = el('td', 'route', r.route);
      route.title = r.route;
      tr.append(route);
      // No request of this route in the recent window: its percentiles are unknown, not 0 µs.
      const idle = r.windowCount === 0;
      const cells = [r.count, r.errors, r.ratePerSec, ...(idle ? [NaN, NaN, NaN, NaN, NaN] : [r.p50Us, r.p90Us, r.p99Us, r.p999Us, r.maxUs])];
      cells.forEach((v, i) => {
        const td = el('td', `num${i === 1 && v > 0 ? ' bad-num' : ''}`, fmtNum(v));
        if (idle && i >= 3) td.title = 'no request in the recent window';
        tr.append(td);
      });
      frag.append(tr);
    }
    body.replaceChildren(frag);
  }
  // overall percentiles: the telemetry's `all` row when it has one, else from the routes
  // (p50 weighted by each route's rate, p99 of the worst route), and said so on the page
  function summarize(requests) {
    const all = requests.all;
    if (all && typeof all.p50Us === 'number') {
      return { p50: all.count > 0 ? all.p50Us : NaN, p99: all.count > 0 ? all.p99Us : NaN, errors: all.errors, p50Basis: 'all requests', p99Basis: 'all requests' };
    }
    const routes = requests.routes;
    let weight = 0, p50 = 0, p99 = NaN, errors = 0;
    const byRate = routes.some((r) => r.ratePerSec > 0);
    for (const r of routes) {
      errors += r.errors;
      if (r.count === 0) continue;
      const w = byRate ? r.ratePerSec : r.count;
      weight += w;
      p50 += w * r.p50Us;
      p99 = Number.isNaN(p99) ? r.p99Us : Math.max(p99, r.p99Us);
    }
    return { p50: weight > 0 ? p50 / weight : NaN, p99, errors, p50Basis: 'rate-weighted routes', p99Basis: 'worst route' };
  }

  let snapshots = 0;
  function onSnapshot(s) {
    snapshots++;
    document.body.dataset.snapshots = String(snapshots);
    const t = s.telemetry;
    const sum = summarize(t.requests);
    const span = t.window && t.window.windowCoveredS ? ` · last ${Math.round(t.window.windowCoveredS)} s` : '';
    setText('k-p50-sub', (sum.p50Basis === 'all requests' ? 'all' : 'weighted') + span);
    setText('k-p99-sub', (sum.p99Basis === 'all requests' ? 'all' : 'worst route') + span);
    setText('lat-basis', `µs, per snapshot · p50 ${sum.p50Basis}, p99 ${sum.p99Basis}${span}`);
    setText('k-total', fmtNum(t.requests.total), t.requests.total);
    setText('k-rate', fmtNum(t.requests.ratePerSec), t.requests.ratePerSec);
    setText('k-p50', fmtUs(sum.p50), sum.p50);
    setText('k-p99', fmtUs(sum.p99), sum.p99);
    setText('k-err', fmtNum(sum.errors), sum.errors);
    setText('k-loop', `${fmtNum(t.eventLoop.p99Ms)} ms`, t.eventLoop.p99Ms);
    setText('k-elu', `ELU ${(t.eventLoop.utilization * 100).toFixed(1)} %`);
    setText('k-rss', fmtBytes(t.memory.rss), t.memory.rss);
    setText('k-heap', `heap ${fmtBytes(t.memory.heapUsed)}`);
    $('k-heap').title = `heap used ${fmtBytes(t.memory.heapUsed)} of ${fmtBytes(t.memory.heapTotal)}; external ${fmtBytes(t.memory.external)}`;
    setText('k-jobs', `${s.jobs.running} / ${s.jobs.queued}`, s.jobs.running + s.jobs.queued);
    setText('k-jobs-sub', `run / queue · ${fmtNum(s.jobs.completed)} done`);
    setText('uptime', fmtDuration(t.uptimeS), t.uptimeS);
    setText('updated', fmtClock(s.at), s.at);
    setText('interval', `${fmtNum(s.intervalMs)} ms`);
    setText('streams', `${s.streams.open} / ${s.streams.max}`);
    setText('foot-at', `snapshot #${snapshots} at ${new Date(s.at).toISOString()}`);
    showComponents(s.components, s.jobs, s.registry);
    showRoutes(t.requests.routes);
    const x = s.at / 1000;
    push(latency, [x, Number.isNaN(sum.p50) ? null : sum.p50, Number.isNaN(sum.p99) ? null : sum.p99]);
    push(rate, [x, t.requests.ratePerSec, t.eventLoop.p99Ms]);
    for (const [plot, data] of [[latencyPlot, [latency.x, latency.p50, latency.p99]], [ratePlot, [rate.x, rate.rps, rate.loop]]]) {
      plot.setData(data);
      // the legend shows the latest values unless the pointer is over the chart
      if (!(plot.cursor.left >= 0)) plot.setLegend({ idx: data[0].length - 1 });
    }
  }

  // --- connection
  function setConn(text, cls) {
    const node = $('conn');
    node.textContent = text;
    node.className = `pill ${cls}`;
  }
  let source;
  function connect() {
    const query = new URLSearchParams({ interval: String(interval) });
    if (token) query.set('access_token', token);
    source = new EventSource(`api/v1/ultra-performance/stream?${query}`);
    source.addEventListener('open', () => setConn('● LIVE', 'pill-ok'));
    source.addEventListener('snapshot', (event) => onSnapshot(JSON.parse(event.data)));
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // refused (401, 503) or gone: EventSource gives up, so try again ourselves
        setConn('✕ OFFLINE · retrying', 'pill-bad');
        setTimeout(connect, 5000);
      } else setConn('◌ RECONNECTING', 'pill-wait');
    });
  }

  makeCharts();
  for (const [key] of kKnown) panel(key);
  connect();
})();
