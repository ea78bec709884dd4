// tidewatch dashboard pages besides the overview chart (app.js): Overview panels, Explore, Logs,
// Alerts, Agents. No framework: a hash router shows one <main> at a time.
// Safety: everything that came from logs, labels, patterns or alerts is written with
// textContent or as text nodes, never as HTML; highlighting splits text into text nodes and
// <mark> elements. The CSP forbids inline script as a second line of defence.
'use strict';

(function pages() {
  const $ = (id) => document.getElementById(id);
  const PAGES = ['overview', 'explore', 'logs', 'alerts', 'agents'];
  let current = 'overview';
  let csrf = null;

  /** An element with a class and text content (text only: never parsed as HTML). */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function td(text, cls) {
    return el('td', cls, text);
  }
  function ago(t) {
    if (typeof t !== 'number') return '–';
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    return `${(s / 3600).toFixed(1)} h ago`;
  }
  function clock(t) {
    return new Date(t).toISOString().slice(11, 19);
  }
  function labelChips(labels) {
    const frag = document.createDocumentFragment();
    for (const [k, v] of Object.entries(labels || {})) frag.append(el('span', 'lbl', `${k}=${v}`));
    return frag;
  }
  async function getJson(url) {
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    return res.json();
  }
  async function post(url, body) {
    if (csrf === null) csrf = (await getJson('/api/v1/session')).csrf;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tidewatch-csrf': csrf }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    return res.json();
  }

  // ---------------------------------------------------------------- router
  function route() {
    const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
    current = PAGES.includes(name) ? name : 'overview';
    for (const p of PAGES) $(`page-${p}`).hidden = p !== current;
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === current);
    document.body.dataset.page = current;
    if (current === 'explore') explore.show();
    else explore.hide();
    if (current === 'logs') logs.show();
    tick();
  }

  // ---------------------------------------------------------------- overview panels
  async function overview() {
    const o = await getJson('/api/v1/overview');
    const alerts = o.firing_alerts;
    $('ov-alerts').replaceChildren(
      ...alerts.map((a) => {
        const li = el('li');
        li.append(el('span', 'st-firing', a.severity), document.createTextNode(' '), el('strong', null, a.rule), document.createTextNode(' '), el('span', null, a.summary));
        return li;
      }),
    );
    $('ov-alerts-none').hidden = alerts.length > 0;
    const badge = $('nav-firing');
    badge.hidden = alerts.length === 0;
    badge.textContent = String(alerts.length);
    const silent = o.agents.filter((a) => a.status === 'silent').length;
    $('nav-silent').hidden = silent === 0;
    $('nav-silent').textContent = String(silent);
    $('ov-agents').tBodies[0].replaceChildren(
      ...o.agents.map((a) => {
        const tr = el('tr');
        tr.append(td(a.host || a.agent_id), td(a.status, `st-${a.status}`), td(ago(a.last_seen), 'num'));
        return tr;
      }),
    );
    $('ov-top').tBodies[0].replaceChildren(...o.top_patterns.map((p) => patternRow(p, 'count')));
    $('ov-new').tBodies[0].replaceChildren(...o.new_patterns.map((p) => patternRow(p, 'new')));
  }
  function patternRow(p, kind) {
    const tr = el('tr', 'clickable');
    tr.append(td(p.template, 'tpl'), td(kind === 'count' ? p.count : ago(p.first_seen), 'num'));
    tr.addEventListener('click', () => openPattern(p.pattern_id));
    return tr;
  }
  function openPattern(id) {
    $('lg-pattern').value = id;
    logs.reset();
    location.hash = '#/logs';
  }

  // ---------------------------------------------------------------- explore
  const explore = (() => {
    const chartEl = $('ex-chart');
    let plot = null;
    let plotKey = '';
    let source = null;
    let zoom = null; // [fromMs, toMs]
    let base = []; // [{ key, label, points: [[t, v]], labels }]
    let baseEnd = 0;
    const live = new Map(); // seriesId -> { labels, points: Map(t -> v) }
    let seriesList = [];
    let loaded = false;
    let visible = false;
    let updates = 0;
    let pending = false;
    const POINT_BUDGET = 120000;
    let bucketMs = 1000;
    let lastWidth = 1000;
    let reloading = false;
    /** What the chart shows now ({ data, keyIndex }), and the live points not applied to it yet. */
    let cur = null;
    let fresh = [];

    function params() {
      const match = {};
      for (const part of $('ex-filter').value.split(',')) {
        const i = part.indexOf('=');
        if (i > 0) match[part.slice(0, i).trim()] = part.slice(i + 1).trim();
      }
      return { name: $('ex-metric').value, match, group: $('ex-group').value, range: Number($('ex-range').value), live: $('ex-live').checked && zoom === null };
    }
    function groupKey(labels, group) {
      return group === '' ? null : `${group}=${labels[group] ?? ''}`;
    }
    function matches(labels, match) {
      return Object.entries(match).every(([k, v]) => labels[k] === v);
    }
    async function loadSeries() {
      seriesList = (await getJson('/api/v1/series')).series;
      const names = [...new Set(seriesList.map((s) => s.name))].sort();
      const sel = $('ex-metric');
      const keep = sel.value;
      sel.replaceChildren(...names.map((n) => el('option', null, n)));
      for (const o of sel.options) o.value = o.textContent;
      if (names.includes(keep)) sel.value = keep;
      else if (names.includes('log.records')) sel.value = 'log.records';
      fillGroups();
      loaded = names.length > 0;
    }
    function fillGroups() {
      const name = $('ex-metric').value;
      const keys = [...new Set(seriesList.filter((s) => s.name === name).flatMap((s) => Object.keys(s.labels)))].sort();
      const sel = $('ex-group');
      const keep = sel.value;
      sel.replaceChildren(el('option', null, '(each series)'), ...keys.map((k) => el('option', null, k)));
      sel.options[0].value = '';
      for (let i = 1; i < sel.options.length; i++) sel.options[i].value = sel.options[i].textContent;
      sel.value = keys.includes(keep) ? keep : '';
    }
    async function load() {
      const p = params();
      if (!p.name) return;
      const now = Date.now();
      const from = zoom ? Math.floor(zoom[0]) : now - p.range;
      const to = zoom ? Math.ceil(zoom[1]) : now;
      // About two points per pixel per series, within a budget for the whole chart: every live
      // redraw strokes every segment (200 series x 2400 points = 480 000). Past the budget each
      // series gets fewer buckets (each still keeps its min and max, so spikes stay visible).
      const pixels = Math.max(100, Math.min(10000, Math.round(chartEl.clientWidth || 800)));
      const expected = Math.max(1, p.group ? 1 : seriesList.filter((s) => s.name === p.name && matches(s.labels, p.match)).length);
      const width = Math.max(50, Math.min(pixels, Math.floor(POINT_BUDGET / 2 / expected)));
      bucketMs = (to - from) / width;
      lastWidth = width;
      const qs = new URLSearchParams({ name: p.name, from: String(from), to: String(to), width: String(width) });
      for (const [k, v] of Object.entries(p.match)) qs.set(`match[${k}]`, v);
      if (p.group) qs.set('group_by', p.group);
      const body = await getJson(`/api/v1/query?${qs}`);
      base = body.series.map((s) => ({ key: p.group ? groupKey(s.labels, p.group) : s.id, labels: s.labels, map: new Map(s.points) }));
      baseEnd = to;
      live.clear();
      render(true);
      if (p.live) connect(p.name);
      else disconnect();
    }
    function connect(name) {
      disconnect();
      source = new EventSource(`/api/v1/stream?name=${encodeURIComponent(name)}`);
      const descs = new Map();
      source.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          return;
        }
        for (const s of msg.series || []) descs.set(s.id, s);
        const p = params();
        for (const [id, t, v] of msg.points || []) {
          const d = descs.get(id) || seriesList.find((s) => s.id === id);
          if (!d || !matches(d.labels, p.match) || t <= baseEnd - 1000) continue;
          let e = live.get(id);
          if (!e) live.set(id, (e = { labels: d.labels, points: new Map() }));
          e.points.set(t, v);
          fresh.push([id, t, v]);
        }
        // Coalesced: at most one redraw per animation frame, however many messages arrive.
        if ((msg.points || []).length > 0 && !pending) {
          pending = true;
          requestAnimationFrame(() => {
            pending = false;
            render(false);
          });
        }
      };
      source.addEventListener('resync', () => void load());
    }
    function disconnect() {
      if (source !== null) source.close();
      source = null;
    }
    /** Columnar data: union of times; several series (or groups) per chart. */
    function build() {
      const p = params();
      // Loaded points (Maps built once per load) overlaid with the live points.
      const lines = new Map();
      for (const b of base) lines.set(b.key, { label: p.group ? b.key : labelText(b.labels), maps: [b.map] });
      for (const [id, e] of live) {
        const key = p.group ? groupKey(e.labels, p.group) : id;
        let l = lines.get(key);
        if (!l) lines.set(key, (l = { label: p.group ? key : labelText(e.labels), maps: [] }));
        if (p.group) {
          if (!l.groupLive) l.maps.push((l.groupLive = new Map()));
          for (const t of e.points.keys()) l.groupLive.set(t, groupedLive(key, t, p.group));
        } else l.maps.push(e.points);
      }
      const minT = zoom ? zoom[0] : Date.now() - p.range;
      const times = new Set();
      for (const l of lines.values()) for (const m of l.maps) for (const t of m.keys()) if (t >= minT) times.add(t);
      const xs = Float64Array.from(times).sort();
      const idx = new Map();
      for (let i = 0; i < xs.length; i++) idx.set(xs[i], i);
      const keys = [...lines.keys()];
      // Cells where a series has no point only because another series has one there are
      // `undefined` (uPlot draws across them); a real hole in a series' data (no point for longer
      // than three buckets) gets a `null` cell, which uPlot draws as a gap: missing data shows.
      const gapMs = Math.max(3000, 3 * bucketMs);
      const ys = keys.map((k) => {
        const arr = new Array(xs.length).fill(undefined);
        const own = [];
        for (const m of lines.get(k).maps) {
          for (const [t, v] of m) {
            const i = idx.get(t);
            if (i !== undefined) {
              arr[i] = v;
              own.push(i);
            }
          }
        }
        own.sort((a, b) => a - b);
        for (let j = 1; j < own.length; j++) {
          const a = own[j - 1];
          const b = own[j];
          if (b - a > 1 && xs[b] - xs[a] > gapMs) arr[a + 1] = null;
        }
        return arr;
      });
      const secs = new Array(xs.length);
      for (let i = 0; i < xs.length; i++) secs[i] = xs[i] / 1000;
      return { labels: keys.map((k) => lines.get(k).label), keys, data: [secs, ...ys] };
    }
    function groupedLive(key, t, group) {
      let sum = 0;
      let any = false;
      for (const e of live.values()) {
        if (groupKey(e.labels, group) !== key) continue;
        const v = e.points.get(t);
        if (v !== undefined) {
          sum += v;
          any = true;
        }
      }
      return any ? sum : undefined;
    }
    function labelText(labels) {
      const parts = Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`);
      return parts.length ? parts.join(', ') : '(no labels)';
    }
    const PALETTE = ['#1976d2', '#d32f2f', '#388e3c', '#f9a825', '#6a1b9a', '#00897b', '#5d4037', '#c2185b', '#455a64', '#7cb342'];
    // Performance marks (bench/dashboard.mjs reads them): `tw-explore-first-chart` and
    // `tw-explore-update` run from the start of a render (building the columns included) to the
    // end of uPlot's draw, which it does after setData returns.
    let measuring = null;
    function drawn() {
      if (measuring === null) return;
      performance.mark('tw-explore-drawn');
      performance.measure(measuring, `${measuring}-start`, 'tw-explore-drawn');
      measuring = null;
    }
    /**
     * The live fast path: new points appended to the chart's columns in place (and the oldest
     * seconds dropped), instead of rebuilding every column from the loaded range. False when it
     * cannot (a new series, grouping, a point inside the range that was absent): the caller
     * rebuilds, from `base` and `live`, which stay complete.
     */
    function applyFresh() {
      const pts = fresh;
      fresh = [];
      if (cur === null || params().group) return false;
      const xs = cur.data[0];
      pts.sort((a, b) => a[1] - b[1]);
      for (const [key, t, v] of pts) {
        const row = cur.keyIndex.get(key);
        if (row === undefined) return false;
        const x = t / 1000;
        let i = xs.length - 1;
        if (xs.length === 0 || x > xs[i]) {
          xs.push(x);
          for (let r = 1; r < cur.data.length; r++) cur.data[r].push(undefined);
          i = xs.length - 1;
        } else {
          while (i > 0 && xs[i] > x) i--;
          if (xs[i] !== x) return false;
        }
        cur.data[row + 1][i] = v;
      }
      const minX = (Date.now() - params().range) / 1000;
      let drop = 0;
      while (drop < xs.length && xs[drop] < minX) drop++;
      if (drop > 0) for (const arr of cur.data) arr.splice(0, drop);
      // Live seconds pile up on a long range (a day at 1 s is 86 400 columns): past the
      // downsampled width again, reload so the server re-downsamples.
      if (xs.length > cur.loadedColumns + 2 * cur.width && !reloading) {
        reloading = true;
        void load().finally(() => (reloading = false));
      }
      return true;
    }
    function render(full) {
      const kind = plot === null || full ? 'tw-explore-first-chart' : 'tw-explore-update';
      performance.mark(`${kind}-start`);
      measuring = kind;
      if (kind === 'tw-explore-update' && applyFresh()) {
        plot.setData(cur.data, true);
        updates++;
        const xs = cur.data[0];
        chartEl.dataset.points = String(xs.length);
        chartEl.dataset.updates = String(updates);
        chartEl.dataset.last = String(xs[xs.length - 1] ?? '');
        return;
      }
      fresh = [];
      const { labels, keys, data } = build();
      cur = { data, keyIndex: new Map(keys.map((k, i) => [k, i])), loadedColumns: data[0].length, width: lastWidth };
      $('ex-empty').hidden = data[0].length > 0;
      const key = labels.join('\u0000');
      if (plot === null || plotKey !== key || full) {
        if (plot !== null) plot.destroy();
        plot = new uPlot(
          {
            width: Math.max(300, chartEl.clientWidth),
            height: 360,
            scales: { x: { time: true } },
            cursor: { drag: { x: true, y: false } },
            legend: { live: labels.length <= 20 },
            series: [{ label: 'time' }, ...labels.map((l, i) => ({ label: l, stroke: PALETTE[i % PALETTE.length], width: labels.length > 20 ? 1 : 1.25, points: { show: false }, spanGaps: false }))],
            hooks: {
              draw: [drawn],
              setSelect: [
                (u) => {
                  if (u.select.width < 5) return;
                  zoom = [u.posToVal(u.select.left, 'x') * 1000, u.posToVal(u.select.left + u.select.width, 'x') * 1000];
                  u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
                  void load();
                },
              ],
            },
          },
          data,
          chartEl,
        );
        plotKey = key;
      } else {
        plot.setData(data, true);
      }
      updates++;
      chartEl.dataset.points = String(data[0].length);
      chartEl.dataset.series = String(labels.length);
      chartEl.dataset.updates = String(updates);
      chartEl.dataset.last = String(data[0][data[0].length - 1] ?? '');
      chartEl.dataset.zoomed = zoom ? '1' : '0';
    }
    async function show() {
      visible = true;
      if (!loaded) await loadSeries();
      await load();
    }
    function hide() {
      visible = false;
      disconnect();
    }
    for (const id of ['ex-metric', 'ex-group', 'ex-range', 'ex-live']) {
      $(id).addEventListener('change', () => {
        if (id === 'ex-metric') fillGroups();
        zoom = null;
        void load();
      });
    }
    $('ex-filter').addEventListener('change', () => void load());
    $('ex-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void load();
    });
    $('ex-reset').addEventListener('click', () => {
      zoom = null;
      void load();
    });
    // Without live mode the chart still follows the clock, once a second, with one query.
    setInterval(() => {
      if (visible && !params().live && zoom === null) void load();
      if (visible && !loaded) void loadSeries().then(load);
    }, 5000);
    return { show, hide };
  })();

  // ---------------------------------------------------------------- logs
  const logs = (() => {
    const box = $('lg-lines');
    let after = 0;
    let lastPatterns = 0;
    const MAX_LINES = 1000;
    function filterQs() {
      const qs = new URLSearchParams({ after: String(after) });
      const add = (k, id) => {
        const v = $(id).value.trim();
        if (v) qs.set(k, v);
      };
      add('contains', 'lg-contains');
      add('severity', 'lg-severity');
      add('host', 'lg-host');
      add('pattern', 'lg-pattern');
      return qs;
    }
    /** The body as text nodes, with each case-insensitive occurrence of `needle` in a <mark>. */
    function highlighted(text, needle) {
      const frag = document.createDocumentFragment();
      if (!needle) {
        frag.append(document.createTextNode(text));
        return frag;
      }
      const lower = text.toLowerCase();
      const n = needle.toLowerCase();
      let i = 0;
      for (;;) {
        const j = lower.indexOf(n, i);
        if (j < 0) break;
        if (j > i) frag.append(document.createTextNode(text.slice(i, j)));
        frag.append(el('mark', null, text.slice(j, j + n.length)));
        i = j + n.length;
      }
      if (i < text.length) frag.append(document.createTextNode(text.slice(i)));
      return frag;
    }
    async function poll() {
      const body = await getJson(`/api/v1/logs?${filterQs()}`);
      const needle = $('lg-contains').value.trim();
      for (const l of body.lines) {
        const div = el('div', 'line');
        div.dataset.seq = String(l.seq);
        div.append(el('span', 't', clock(l.time)), el('span', `sev sev-${/^[a-z]+$/.test(l.severity) ? l.severity : 'other'}`, l.severity), el('span', 'host', l.host ? `${l.host} ` : ''));
        const b = el('span', 'body');
        b.append(highlighted(l.body, needle));
        div.append(b);
        const attrs = Object.entries(l.attributes).filter(([k]) => !k.startsWith('tidewatch.') && !k.startsWith('log.file'));
        if (attrs.length) div.append(el('span', 'attrs', `  ${attrs.map(([k, v]) => `${k}=${v}`).join(' ')}`));
        box.append(div);
        after = Math.max(after, l.seq);
      }
      while (box.childElementCount > MAX_LINES) box.firstElementChild.remove();
      if (body.lines.length && $('lg-follow').checked) box.scrollTop = box.scrollHeight;
      if (Date.now() - lastPatterns > 5000) {
        lastPatterns = Date.now();
        const pats = (await getJson('/api/v1/patterns?sort=count&limit=100')).patterns;
        $('lg-patterns').tBodies[0].replaceChildren(
          ...pats.map((p) => {
            const tr = el('tr', 'clickable');
            tr.dataset.pattern = p.pattern_id;
            const sparkTd = el('td');
            sparkTd.append(sparkline(p.spark));
            tr.append(td(p.template, 'tpl'), td(p.count, 'num'), sparkTd, td(p.sample ?? '', 'tpl'));
            tr.addEventListener('click', () => openPattern(p.pattern_id));
            return tr;
          }),
        );
      }
    }
    function sparkline(values) {
      const c = document.createElement('canvas');
      c.width = 120;
      c.height = 24;
      c.className = 'spark';
      const ctx = c.getContext('2d');
      const max = Math.max(1, ...values);
      ctx.strokeStyle = '#1976d2';
      ctx.beginPath();
      values.forEach((v, i) => {
        const x = (i / Math.max(1, values.length - 1)) * 118 + 1;
        const y = 23 - (v / max) * 22;
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
      c.dataset.values = values.join(',');
      return c;
    }
    function reset() {
      after = 0;
      box.replaceChildren();
      lastPatterns = 0;
    }
    for (const id of ['lg-contains', 'lg-severity', 'lg-host', 'lg-pattern']) $(id).addEventListener('change', reset);
    $('lg-form').addEventListener('submit', (e) => {
      e.preventDefault();
      reset();
    });
    return { poll, reset, show: () => {} };
  })();

  // ---------------------------------------------------------------- alerts
  async function alerts() {
    const body = await getJson('/api/v1/alerts');
    const now = Date.now();
    $('al-none').hidden = body.alerts.length > 0;
    $('al-table').tBodies[0].replaceChildren(
      ...body.alerts.map((a) => {
        const tr = el('tr');
        tr.dataset.alert = a.alert_id;
        const labels = el('td');
        labels.append(labelChips(a.labels));
        const actions = el('td');
        let status = a.status;
        if (a.acknowledged) status += ' · acked';
        if (a.silenced_until && a.silenced_until > now) status += ' · silenced';
        if (a.status !== 'resolved') {
          const ack = el('button', 'ack', 'acknowledge');
          ack.type = 'button';
          ack.disabled = a.acknowledged !== null;
          ack.addEventListener('click', () => void post(`/api/v1/alerts/${encodeURIComponent(a.alert_id)}/ack`, { by: 'dashboard' }).then(alerts));
          const sil = el('button', 'silence', 'silence 1 h');
          sil.type = 'button';
          sil.addEventListener('click', () => void post(`/api/v1/alerts/${encodeURIComponent(a.alert_id)}/silence`, { minutes: 60, by: 'dashboard' }).then(alerts));
          actions.append(ack, document.createTextNode(' '), sil);
        }
        tr.append(td(status, `st-${a.status}`), td(a.severity), td(a.rule), labels, td(a.summary), td(a.value, 'num'), td(ago(a.started_at)), actions);
        return tr;
      }),
    );
    $('al-history').tBodies[0].replaceChildren(
      ...body.history.slice(0, 200).map((h) => {
        const tr = el('tr');
        tr.append(td(new Date(h.time).toISOString().replace('T', ' ').slice(0, 19)), td(h.rule), td(h.event, `st-${h.event}`), td(h.detail));
        return tr;
      }),
    );
  }

  // ---------------------------------------------------------------- agents
  async function agents() {
    const list = (await getJson('/api/v1/agents')).agents;
    $('ag-none').hidden = list.length > 0;
    const kv = (o) => Object.entries(o).map(([k, v]) => `${k === '*' ? 'all files' : k}: ${v}`).join('; ') || '–';
    $('ag-table').tBodies[0].replaceChildren(
      ...list.map((a) => {
        const tr = el('tr');
        tr.dataset.agent = a.agent_id;
        tr.append(td(a.host || a.agent_id), td(a.status, `st-${a.status}`), td(ago(a.last_seen)), td(a.lines_per_second ?? '–', 'num'), td(a.streams, 'num'), td(kv(a.lag_bytes)), td(kv(a.drops)), td(a.version));
        return tr;
      }),
    );
  }

  // ---------------------------------------------------------------- loop
  let busy = false;
  async function tick() {
    if (busy) return;
    busy = true;
    try {
      await overview();
      if (current === 'logs') await logs.poll();
      if (current === 'alerts') await alerts();
      if (current === 'agents') await agents();
      document.body.dataset.ready = '1';
    } catch {
      // The status pill (app.js) tells the user when the server is unreachable.
    } finally {
      busy = false;
    }
  }
  window.addEventListener('hashchange', route);
  setInterval(tick, 1000);
  route();
})();
