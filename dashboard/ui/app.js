// tidewatch dashboard: log lines per second by severity, live.
// Loads the last 5 minutes from /api/v1/query, then applies the points /api/v1/stream sends.
// Everything that came from logs (label values) is written with textContent, never as HTML.
'use strict';

(function main() {
  const METRIC = 'log.records';
  const WINDOW_S = 300;
  const ORDER = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'unspecified'];
  const COLORS = {
    fatal: '#6a1b9a',
    error: '#d32f2f',
    warn: '#f9a825',
    info: '#1976d2',
    debug: '#78909c',
    trace: '#b0bec5',
    unspecified: '#9e9e9e',
  };
  const OTHER_COLOR = '#00897b';

  /** id -> { severity } */
  const seriesMeta = new Map();
  /** id -> Map(timeSeconds -> value) */
  const seriesPoints = new Map();
  let lastPointAt = 0;
  let plot = null;
  let plotKey = '';
  let source = null;

  const $ = (id) => document.getElementById(id);
  const chartEl = $('chart');

  function severityOf(labels) {
    const s = labels && typeof labels.severity === 'string' ? labels.severity : 'unspecified';
    return s;
  }

  function addSeries(s) {
    if (!seriesMeta.has(s.id)) {
      seriesMeta.set(s.id, { severity: severityOf(s.labels) });
      seriesPoints.set(s.id, new Map());
    }
  }

  function addPoint(id, timeMs, value, keepExisting) {
    const pts = seriesPoints.get(id);
    if (pts === undefined || typeof timeMs !== 'number' || typeof value !== 'number') return;
    const t = Math.round(timeMs / 1000);
    if (keepExisting && pts.has(t)) return;
    pts.set(t, value);
    lastPointAt = Date.now();
  }

  function prune(minT) {
    for (const pts of seriesPoints.values()) {
      for (const t of pts.keys()) if (t < minT) pts.delete(t);
    }
  }

  async function load() {
    const res = await fetch(`/api/v1/query?name=${encodeURIComponent(METRIC)}&from=-${WINDOW_S}s`, { cache: 'no-store' });
    if (!res.ok) throw new Error(`query failed: ${res.status}`);
    const body = await res.json();
    for (const s of body.series) {
      addSeries(s);
      // The stream is already open: a point it delivered meanwhile is at least as new.
      for (const [t, v] of s.points) addPoint(s.id, t, v, true);
    }
  }

  /** Columnar data for uPlot: one x per second; a second no series reported is a gap (null). */
  function build() {
    let maxT = -Infinity;
    for (const pts of seriesPoints.values()) for (const t of pts.keys()) if (t > maxT) maxT = t;
    if (maxT === -Infinity) return null;
    // A point's time is the end of its second: one that ends in the future is still counting
    // (an early value), so the chart stops at the last complete second instead of dipping.
    // Beyond two seconds ahead the clocks disagree, and everything is shown.
    const nowS = Date.now() / 1000;
    if (maxT > nowS && maxT <= nowS + 2) maxT -= 1;
    const minT = maxT - WINDOW_S + 1;
    prune(minT);
    const severities = [...new Set([...seriesMeta.values()].map((m) => m.severity))].sort((a, b) => rank(a) - rank(b));
    const xs = [];
    for (let t = minT; t <= maxT; t++) xs.push(t);
    const known = new Set();
    for (const pts of seriesPoints.values()) for (const t of pts.keys()) if (t <= maxT) known.add(t);
    const ys = severities.map(() => xs.map((t) => (known.has(t) ? 0 : null)));
    const totals = severities.map(() => 0);
    for (const [id, pts] of seriesPoints) {
      const i = severities.indexOf(seriesMeta.get(id).severity);
      for (const [t, v] of pts) {
        const j = t - minT;
        if (j < 0 || j >= xs.length) continue;
        ys[i][j] = (ys[i][j] ?? 0) + v;
        totals[i] += v;
      }
    }
    // Trim leading seconds before the first data, so a fresh start does not draw 5 minutes of nothing.
    let first = 0;
    while (first < xs.length - 1 && !known.has(xs[first])) first++;
    return {
      severities,
      totals,
      data: [xs.slice(first), ...ys.map((y) => y.slice(first))],
    };
  }

  function rank(s) {
    const i = ORDER.indexOf(s);
    return i < 0 ? ORDER.length : i;
  }

  function makePlot(severities, data) {
    if (plot !== null) plot.destroy();
    plot = new uPlot(
      {
        width: Math.max(300, chartEl.clientWidth),
        height: 320,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] } },
        axes: [{}, { label: 'lines/s', size: 60 }],
        series: [
          { label: 'time' },
          ...severities.map((s) => ({
            label: s,
            stroke: COLORS[s] ?? OTHER_COLOR,
            fill: `${COLORS[s] ?? OTHER_COLOR}22`,
            width: 1.5,
            points: { show: false },
            spanGaps: false,
          })),
        ],
        legend: { live: true },
      },
      data,
      chartEl,
    );
    plotKey = severities.join(',');
  }

  function text(id, value) {
    $(id).textContent = value;
  }

  function render() {
    const built = build();
    if (built === null) return;
    $('empty').hidden = true;
    const { severities, totals, data } = built;
    if (plot === null || plotKey !== severities.join(',')) makePlot(severities, data);
    else plot.setData(data);
    const xs = data[0];
    chartEl.dataset.points = String(xs.length);
    chartEl.dataset.last = String(xs[xs.length - 1] ?? '');

    // Tiles: the last complete second.
    const j = xs.length - 1;
    let rate = 0;
    let errors = 0;
    severities.forEach((s, i) => {
      const v = data[i + 1][j] ?? 0;
      rate += v;
      if (s === 'error' || s === 'fatal') errors += v;
    });
    const total = totals.reduce((a, b) => a + b, 0);
    const errTotal = severities.reduce((a, s, i) => a + (s === 'error' || s === 'fatal' ? totals[i] : 0), 0);
    text('stat-rate', String(rate));
    text('stat-errors', String(errors));
    text('stat-ratio', total > 0 ? `${((100 * errTotal) / total).toFixed(1)} %` : '–');
    text('stat-total', String(total));

    const tbody = $('severities').tBodies[0];
    const rows = severities.map((s, i) => {
      const tr = document.createElement('tr');
      const name = document.createElement('td');
      const sw = document.createElement('span');
      sw.className = `swatch ${COLORS[s] ? `sev-${s}` : 'sev-other'}`;
      name.append(sw, document.createTextNode(s));
      const n = document.createElement('td');
      n.className = 'num';
      n.textContent = String(totals[i]);
      const last = document.createElement('td');
      last.className = 'num';
      last.textContent = String(data[i + 1][j] ?? 0);
      tr.append(name, n, last);
      return tr;
    });
    tbody.replaceChildren(...rows);
  }

  function setStatus(kind, label) {
    const el = $('status');
    el.className = `status status-${kind}`;
    el.textContent = label;
  }

  function onStream(ev) {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    for (const s of msg.series ?? []) addSeries(s);
    for (const p of msg.points ?? []) addPoint(p[0], p[1], p[2], false);
  }

  function connect() {
    if (source !== null) source.close();
    source = new EventSource(`/api/v1/stream?name=${encodeURIComponent(METRIC)}`);
    source.onmessage = onStream;
    source.onopen = () => setStatus('live', 'live');
    source.onerror = () => setStatus('down', 'reconnecting');
    source.addEventListener('resync', () => {
      source.close();
      source = null;
      setTimeout(() => void start(), 500);
    });
  }

  async function start() {
    // Stream first, then the history: nothing published in between is missed.
    connect();
    try {
      await load();
    } catch {
      setStatus('down', 'cannot load data');
      setTimeout(() => void start(), 2000);
      return;
    }
    render();
  }

  setInterval(() => {
    render();
    if (source !== null && source.readyState === EventSource.OPEN && lastPointAt > 0 && Date.now() - lastPointAt > 5000) {
      setStatus('stale', `no data for ${Math.round((Date.now() - lastPointAt) / 1000)} s`);
    } else if (source !== null && source.readyState === EventSource.OPEN) {
      setStatus('live', 'live');
    }
  }, 1000);
  window.addEventListener('resize', () => {
    if (plot !== null) plot.setSize({ width: Math.max(300, chartEl.clientWidth), height: 320 });
  });
  void start();
})();
