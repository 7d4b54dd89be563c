// The 24-hour wall (/wall): a kiosk page nobody touches. It reads
// GET /api/v1/wall/summary every few seconds and at once when the alarm
// stream says something changed, draws the vital-sign trends from
// GET /api/v1/series, and says loudly when its data is stale.
//
// Opening: /wall#token=<wall token> keeps the token in localStorage and
// drops it from the address bar; later loads use the stored one (or, with
// none, the console's session cookie). #stale=<seconds> sets how long the
// live feed, the gateway or the time-series store may stay silent before
// the "data stale" banner shows (default 30). The stream reconnects by
// itself (EventSource, plus a fresh one if the browser gives up); when the
// gateway answers 401 the token was revoked and the page says it is
// logged out.
import { loadI18n, setLang, currentLang, onLangChange, t, tOr } from './i18n.mjs';

const TOKEN_KEY = 'anxin.wall.token';
const VITALS_EVERY = 60_000;
const SVG = 'http://www.w3.org/2000/svg';

const hash = new URLSearchParams(location.hash.slice(1));
if (hash.has('token')) {
  localStorage.setItem(TOKEN_KEY, hash.get('token'));
  hash.delete('token');
  history.replaceState(null, '', location.pathname + location.search + (hash.size ? '#' + hash : ''));
}
const token = localStorage.getItem(TOKEN_KEY) || '';
const staleAfter = (Number(hash.get('stale')) || 30) * 1000;
const pollEvery = Math.min(10_000, Math.max(1000, staleAfter / 3));

const st = {
  summary: null,
  zone: 'Asia/Shanghai',
  // When each source last answered; the banner counts from these.
  feedAt: Date.now(), apiAt: Date.now(), seriesAt: Date.now(),
  updatedAt: 0,
  es: null,
  loggedOut: false,
  vitals: new Map(), // resident → {hr: samples, spo2: samples}
  vitalsAt: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k != null) e.append(k);
  return e;
}

function s(tag, attrs = {}, ...kids) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids.flat()) if (k != null) e.append(k);
  return e;
}

// get reads the API with the wall token (or the session cookie).
async function get(path) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  const res = await fetch(path, { headers, credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401) {
    loggedOut();
    throw new Error('logged out');
  }
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function loggedOut() {
  if (st.loggedOut) return;
  st.loggedOut = true;
  localStorage.removeItem(TOKEN_KEY);
  if (st.es) st.es.close();
  st.es = null;
  $('loggedout').hidden = false;
  document.body.dataset.loggedOut = 'true';
}

// --- refreshing ---------------------------------------------------------

let refreshing = null;
let again = false;

async function refresh() {
  if (st.loggedOut) return;
  if (refreshing) { again = true; return; }
  refreshing = (async () => {
    try {
      const sum = await get('/api/v1/wall/summary?hours=24');
      st.apiAt = Date.now();
      if (sum.series_ok) st.seriesAt = Date.now();
      st.summary = sum;
      st.zone = sum.time_zone || st.zone;
      st.updatedAt = Date.now();
      render();
      if (Date.now() - st.vitalsAt > VITALS_EVERY || vitalsChanged(sum)) refreshVitals(sum);
    } catch { /* the stale banner tells */ }
  })();
  await refreshing;
  refreshing = null;
  if (again) { again = false; refresh(); }
}

// refreshSoon refreshes shortly after a change on the stream, and once
// more a little later: the time-series store gets its points in batches
// about a second apart, and the hourly chart should not lag until the
// next poll.
let soon = 0, later = 0;
function refreshSoon() {
  clearTimeout(soon);
  clearTimeout(later);
  soon = setTimeout(refresh, 300);
  later = setTimeout(refresh, 2000);
}

function vitalsChanged(sum) {
  const ids = (sum.vitals || []).map((v) => v.resident);
  return ids.length !== st.vitals.size || ids.some((id) => !st.vitals.has(id));
}

async function refreshVitals(sum) {
  st.vitalsAt = Date.now();
  const to = new Date();
  const from = new Date(to.getTime() - 24 * 3600_000);
  const range = `&from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}&every=10m`;
  const next = new Map();
  try {
    for (const v of sum.vitals || []) {
      const row = {};
      for (const f of ['hr', 'spo2']) {
        const r = await get(`/api/v1/series?measurement=telemetry&field=${f}&resident=${encodeURIComponent(v.resident)}${range}`);
        row[f] = r.samples;
      }
      next.set(v.resident, row);
    }
  } catch {
    st.vitalsAt = 0; // try again with the next summary
    return;
  }
  st.vitals = next;
  renderVitals();
}

// --- the live feed ------------------------------------------------------

function connect() {
  if (st.loggedOut) return;
  const url = '/api/v1/stream' + (token ? '?access_token=' + encodeURIComponent(token) : '');
  const es = new EventSource(url, { withCredentials: true });
  st.es = es;
  es.onopen = () => { st.feedAt = Date.now(); showFeed(); refreshSoon(); };
  for (const ev of ['alarm', 'nobody_reached', 'reload']) {
    es.addEventListener(ev, () => { st.feedAt = Date.now(); refreshSoon(); });
  }
  es.onerror = () => {
    showFeed();
    if (es.readyState !== EventSource.CLOSED || st.es !== es) return;
    // The browser gave up (an answer that was not a stream, e.g. 401):
    // ask the API why, and start again unless the token is gone.
    st.es = null;
    refresh();
    setTimeout(connect, 3000);
  };
}

// showFeed shows whether the live feed is connected.
function showFeed() {
  const up = Boolean(st.es && st.es.readyState === EventSource.OPEN);
  const feed = $('feed');
  feed.dataset.state = up ? 'up' : 'down';
  feed.textContent = t(up ? 'wall.feed.up' : 'wall.feed.down');
}

// --- the clock and the staleness check, once a second --------------------

function tick() {
  const now = Date.now();
  if (st.es && st.es.readyState === EventSource.OPEN) st.feedAt = now;
  const d = new Date();
  $('clock-date').textContent = fmtTime(d, { weekday: 'short', month: 'long', day: 'numeric' });
  $('clock-time').textContent = fmtTime(d, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  showFeed();
  const why = [];
  const secs = (at) => Math.round((now - at) / 1000);
  if (now - st.feedAt > staleAfter) why.push(t('wall.stale.feed', { s: secs(st.feedAt) }));
  if (now - st.apiAt > staleAfter) why.push(t('wall.stale.api', { s: secs(st.apiAt) }));
  else if (now - st.seriesAt > staleAfter) why.push(t('wall.stale.series', { s: secs(st.seriesAt) }));
  const stale = why.length > 0 && !st.loggedOut;
  $('stale').hidden = !stale;
  document.body.dataset.stale = String(stale);
  if (stale) {
    $('stale-why').textContent = why.join(' · ');
    $('stale-since').textContent = st.updatedAt ? t('wall.stale.since', { time: fmtTime(new Date(st.updatedAt), { hour: '2-digit', minute: '2-digit', second: '2-digit' }) }) : '';
    $('stale').classList.toggle('blink', Math.floor(now / 1000) % 2 === 0);
  }
  renderAges(now);
}

// --- rendering ----------------------------------------------------------

function fmtTime(d, opts) {
  return new Intl.DateTimeFormat(currentLang(), { timeZone: st.zone, hour12: false, ...opts }).format(d);
}

function fmtDur(sec) {
  if (sec == null) return '—';
  sec = Math.round(sec);
  if (sec < 90) return t('wall.unit.s', { n: sec });
  const m = Math.floor(sec / 60);
  if (m < 60) return t('wall.dur.ms', { m, s: sec % 60 });
  return t('wall.age.h', { h: Math.floor(m / 60), m: m % 60 });
}

function fmtAge(ms) {
  const sec = Math.max(0, Math.floor(ms / 1000));
  if (sec < 3600) return `${Math.floor(sec / 60)}:${String(sec % 60).padStart(2, '0')}`;
  return t('wall.age.h', { h: Math.floor(sec / 3600), m: Math.floor(sec / 60) % 60 });
}

const typeName = (typ) => tOr('type.' + typ, typ);

const TYPE_COLOURS = {
  call: '#6cb6ff', pullcord: '#4dd0e1', smoke: '#ff6b5e', gas: '#ffb84d', sos: '#f06292', fall: '#c490e4',
  band_removed: '#90a4ae', geofence_exit: '#aed581', hr_abnormal: '#ff8fa3', bed_exit: '#9fa8da',
  tamper: '#bcaaa4', battery_low: '#fff176', fault: '#e0e0e0', offline: '#8d9aa8', fire: '#ff3d00',
  smoke_gas: '#ff9e80', site_offline: '#78909c',
};
const SPARE = ['#80cbc4', '#ce93d8', '#ffcc80', '#a5d6a7', '#90caf9', '#f48fb1'];
function colourOf(typ) {
  if (TYPE_COLOURS[typ]) return TYPE_COLOURS[typ];
  let h = 0;
  for (const c of typ) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return SPARE[h % SPARE.length];
}

function render() {
  const sum = st.summary;
  if (!sum) return;
  document.body.dataset.updated = sum.generated_at;
  renderOpen(sum);
  renderNobody(sum);
  renderHourly(sum);
  renderAck(sum);
  renderSites(sum);
  renderVitals();
  $('last-event').textContent = sum.last_event_at
    ? fmtTime(new Date(sum.last_event_at), { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : t('wall.last_event.none');
}

function renderOpen(sum) {
  const waiting = (sum.open_alarms || []).some((a) => a.priority === 'P1' && a.state === 'raised');
  for (const p of ['P1', 'P2', 'P3']) {
    const n = sum.open[p] || 0;
    $('open-' + p).textContent = n;
    $('tile-' + p).classList.toggle('zero', n === 0);
  }
  $('tile-P1').classList.toggle('alert', waiting);
  const list = $('open-list');
  const rows = (sum.open_alarms || []).map((a) => el('li', { class: a.priority, 'data-alarm': a.id, 'data-raised': a.raised_at },
    el('span', { class: 'prio' }, a.priority),
    el('span', { class: 'what' }, typeName(a.type)),
    el('span', { class: 'age' }, fmtAge(Date.now() - Date.parse(a.raised_at))),
    el('span', { class: 'where' }, el('b', { class: 'state' }, tOr('state.' + a.state, a.state)), ' ',
      (a.location || []).slice(-3).join(' › '))));
  const total = Object.values(sum.open).reduce((x, y) => x + y, 0);
  if (!rows.length) rows.push(el('li', { class: 'none' }, t('wall.open.none')));
  else if (total > rows.length) rows.push(el('li', { class: 'more' }, t('wall.open.more', { n: total - rows.length })));
  list.replaceChildren(...rows);
}

// renderNobody lists the alarms still waiting whose P1 step or
// unattended notice reached nobody: someone in the room must act.
function renderNobody(sum) {
  const rows = (sum.open_alarms || []).filter((a) => a.nobody_reached && a.state === 'raised').map((a) =>
    el('li', { 'data-alarm': a.id }, el('b', {}, typeName(a.type)), ' · ', (a.location || []).slice(-3).join(' › '),
      el('span', { class: 'reason' }, ' — ' + t('wall.nobody.since', { time: fmtTime(new Date(a.nobody_reached.at), { hour: '2-digit', minute: '2-digit', second: '2-digit' }) }))));
  $('nobody').hidden = rows.length === 0;
  $('nobody-list').replaceChildren(...rows);
}

function renderAges(now) {
  for (const li of document.querySelectorAll('#open-list li[data-raised]')) {
    li.querySelector('.age').textContent = fmtAge(now - Date.parse(li.dataset.raised));
  }
}

// niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (v <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return v;
}

function renderHourly(sum) {
  const box = $('hourly-chart');
  const hours = sum.hours_at || [];
  const types = Object.keys(sum.per_hour || {}).sort((a, b) => total(sum.per_hour[b]) - total(sum.per_hour[a]));
  const totals = hours.map((_, i) => types.reduce((n, typ) => n + sum.per_hour[typ][i], 0));
  const all = totals.reduce((x, y) => x + y, 0);
  $('hourly-total').textContent = t('wall.hourly.total', { n: all });
  const W = Math.max(box.clientWidth, 200), H = Math.max(box.clientHeight, 100);
  const fs = parseFloat(getComputedStyle(document.documentElement).fontSize);
  const left = fs * 2.4, bottom = fs * 1.5, top = fs * 0.6;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': t('wall.hourly.title'), 'font-size': fs * 0.8 });
  const max = niceMax(Math.max(...totals, 0));
  const y = (v) => H - bottom - (v / max) * (H - bottom - top);
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    svg.append(s('line', { class: i ? 'grid-line' : 'axis', x1: left, x2: W, y1: y(v), y2: y(v) }),
      s('text', { x: left - fs * 0.4, y: y(v) + fs * 0.3, 'text-anchor': 'end' }, String(Math.round(v))));
  }
  const slot = (W - left) / Math.max(hours.length, 1);
  hours.forEach((h, i) => {
    let acc = 0;
    const x = left + i * slot + slot * 0.12;
    for (const typ of types) {
      const n = sum.per_hour[typ][i];
      if (!n) continue;
      svg.append(s('rect', { class: 'bar', x, width: slot * 0.76, y: y(acc + n), height: y(acc) - y(acc + n),
        fill: colourOf(typ), 'data-type': typ, 'data-n': n },
      s('title', {}, `${fmtTime(new Date(h), { hour: '2-digit', minute: '2-digit' })} ${typeName(typ)}: ${n}`)));
      acc += n;
    }
    if (totals[i]) svg.append(s('text', { x: x + slot * 0.38, y: y(acc) - fs * 0.25, 'text-anchor': 'middle', class: 'bar-total' }, String(totals[i])));
    if ((hours.length - 1 - i) % 3 === 0) { // every third hour, ending on the current one
      svg.append(s('text', { x: left + i * slot + slot / 2, y: H - fs * 0.3, 'text-anchor': 'middle' },
        fmtTime(new Date(h), { hour: '2-digit', minute: '2-digit' })));
    }
  });
  if (!all) svg.append(s('text', { x: (W + left) / 2, y: H / 2, 'text-anchor': 'middle', 'font-size': fs * 1.1 }, t('wall.hourly.none')));
  box.replaceChildren(svg);
  $('hourly-legend').replaceChildren(...types.map((typ) => el('li', { 'data-type': typ },
    el('span', { class: 'sw', 'data-colour': colourOf(typ) }), typeName(typ), ' ', el('b', {}, String(total(sum.per_hour[typ]))))));
  for (const sw of document.querySelectorAll('#hourly-legend .sw')) sw.style.background = sw.dataset.colour;
}

const total = (xs) => xs.reduce((x, y) => x + y, 0);

const TARGETS = { 60: 0.975, 180: 0.99 };

function renderAck(sum) {
  const ack = sum.ack || {};
  $('ack-median').textContent = fmtDur(ack.median_s);
  $('ack-p90').textContent = fmtDur(ack.p90_s);
  $('ack-count').textContent = t('wall.ack.count', { n: ack.count || 0 });
  const rows = (ack.p1_within || []).map((w) => {
    const target = TARGETS[w.s];
    const has = w.share != null;
    const ok = has && (!target || w.share >= target);
    const pct = has ? (w.share * 100).toFixed(1) + '%' : t('wall.ack.nodata');
    const meter = s('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
      s('rect', { x: 0, y: 0, width: 100, height: 10, fill: '#232c37', rx: 2 }),
      s('rect', { x: 0, y: 0, width: has ? w.share * 100 : 0, height: 10, fill: ok ? '#7fd18b' : '#ff6b5e', rx: 2 }),
      target ? s('line', { x1: target * 100, x2: target * 100, y1: -2, y2: 12, stroke: '#eef2f6', 'stroke-width': 0.8 }) : null);
    return el('div', { class: 'row', 'data-within': w.s },
      el('span', { class: 'lbl' }, t('wall.ack.within', { s: w.s })),
      el('span', { class: 'pct ' + (has ? (ok ? 'ok' : 'bad') : '') }, pct),
      el('span', { class: 'meter' }, meter),
      el('span', { class: 'note' }, [t('wall.ack.of', { met: w.met, of: w.of }),
        target ? ' · ' + t('wall.ack.target', { pct: (target * 100).toFixed(1) + '%' }) : ''].join('')));
  });
  $('ack-within').replaceChildren(...rows);
  const waiting = $('ack-waiting');
  waiting.hidden = !ack.p1_waiting;
  waiting.textContent = t('wall.ack.waiting', { n: ack.p1_waiting || 0 });
}

function renderSites(sum) {
  const sites = sum.sites || [];
  const cell = (n, bad) => el('td', { class: n ? bad : 'zero' }, String(n));
  const rows = sites.map((x) => el('tr', { 'data-site': x.id },
    el('td', { title: x.name || '' }, x.name || t('wall.devices.nosite')),
    cell(x.online, 'ok'), cell(x.offline, 'bad'), cell(x.low_battery, 'warn')));
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 4, class: 'empty' }, t('wall.devices.none'))));
  $('sites').replaceChildren(...rows);
}

function renderVitals() {
  const sum = st.summary;
  const box = $('vitals');
  const list = (sum && sum.vitals) || [];
  if (!list.length) {
    box.replaceChildren(el('p', { class: 'empty' }, t('wall.vitals.none')));
    return;
  }
  const cards = list.map((v) => {
    const row = st.vitals.get(v.resident) || {};
    const since = sparkFrom(row, Date.now());
    const last = (xs) => (xs && xs.length ? xs[xs.length - 1].v : null);
    const hr = last(row.hr), spo2 = last(row.spo2);
    const spark = el('div', { class: 'spark' });
    const card = el('div', { class: 'vital', 'data-resident': v.resident },
      el('div', { class: 'who' }, el('span', {}, v.label), el('span', { class: 'site' }, v.site || '')),
      el('div', { class: 'now' },
        el('span', { class: 'hr' }, t('wall.vitals.hr') + ' ', el('b', {}, hr == null ? '—' : String(Math.round(hr))), ' ' + t('wall.unit.bpm')),
        el('span', { class: 'spo2' }, t('wall.vitals.spo2') + ' ', el('b', {}, spo2 == null ? '—' : Math.round(spo2) + '%'))),
      spark,
      el('div', { class: 'span' }, el('span', {}, fmtTime(new Date(since), { hour: '2-digit', minute: '2-digit' })),
        el('span', {}, fmtTime(new Date(), { hour: '2-digit', minute: '2-digit' }))));
    return [card, spark, row];
  });
  box.replaceChildren(...cards.map((c) => c[0]));
  for (const [, spark, row] of cards) drawSpark(spark, row);
}

// SPARK_MIN is the shortest span a trend is drawn over, so that a band
// that started reporting minutes ago draws a line, not a dot at the edge.
const SPARK_MIN = 3600_000;

function firstSample(row) {
  const ts = ['hr', 'spo2'].flatMap((f) => (row[f] || []).slice(0, 1).map((p) => Date.parse(p.t)));
  return ts.length ? Math.min(...ts) : 0;
}

// sparkFrom is where a trend starts: its first sample, at least SPARK_MIN before to.
const sparkFrom = (row, to) => Math.min(firstSample(row) || to, to - SPARK_MIN);

// drawSpark draws heart rate and SpO₂ as two lines, each on its own
// scale, from the first sample of the last 24 hours (at least an hour
// back) to now, with a dot on the newest value.
function drawSpark(box, row) {
  const W = Math.max(box.clientWidth, 100), H = Math.max(box.clientHeight, 30);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' });
  const to = Date.now(), from = sparkFrom(row, to);
  const x = (tm) => ((Date.parse(tm) - from) / (to - from)) * W;
  for (const [field, colour] of [['spo2', '#6cb6ff'], ['hr', '#ff8fa3']]) {
    const xs = row[field] || [];
    if (!xs.length) continue;
    const vals = xs.map((p) => p.v);
    let lo = Math.min(...vals), hi = Math.max(...vals);
    if (hi - lo < 5) { lo -= 2.5; hi += 2.5; }
    const y = (v) => H - 2 - ((v - lo) / (hi - lo)) * (H - 4);
    const d = xs.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
    const end = xs[xs.length - 1];
    svg.append(s('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2.5, 'stroke-linejoin': 'round', class: 'line-' + field }),
      s('circle', { cx: x(end.t), cy: y(end.v), r: 4, fill: colour }));
  }
  box.replaceChildren(svg);
}

// --- start --------------------------------------------------------------

async function main() {
  await loadI18n('wall');
  $('lang').addEventListener('click', () => setLang(currentLang() === 'zh-CN' ? 'en' : 'zh-CN'));
  onLangChange(() => { document.title = t('wall.title'); render(); tick(); });
  document.title = t('wall.title');
  window.addEventListener('resize', render);
  tick();
  setInterval(tick, 1000);
  await refresh();
  connect();
  setInterval(refresh, pollEvery);
}

main();
