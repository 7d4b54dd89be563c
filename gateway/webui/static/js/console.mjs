// The operator console: boot (who am I, the zone, the language), the live
// alarm queue over the event stream, the open alarm's detail, the other
// pages, the alarm tone and its mute, the keyboard and the banners.
import { api, setCSRF, toLogin } from './api.mjs';
import { loadI18n, setLang, currentLang, onLangChange, t } from './i18n.mjs';
import { el, fmtTime, fmtAge, setZone, typeLabel, where, reasonText } from './fmt.mjs';
import { Queue } from './queue.mjs';
import { Detail } from './detail.mjs';
import { setAlarming, unlockAudio, audioStatus } from './audio.mjs';
import { Pages } from './pages.mjs';

// MUTE_MS is how long one press of "mute" silences the tone: short, and
// never for ever; a new P1 alarm ends it at once.
const MUTE_MS = 2 * 60 * 1000;

const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  queue: null,
  detail: null,
  pages: null,
  source: null,
  lastEventId: '',
  feedUp: false,
  muteUntil: 0,
  nobody: new Map(), // alarm id → {alarm, reason}
  perf: { applied: 0, lastMs: 0, lastScriptMs: 0, maxMs: 0, log: [] },
};

// window.anxin lets the browser tests read what a person cannot measure.
window.anxin = {
  audio: audioStatus,
  perf: state.perf,
  feed: () => state.feedUp,
  count: () => state.queue?.count() ?? 0,
};

function toast(text, bad) {
  const box = $('toast');
  box.textContent = text;
  box.className = bad ? 'toast bad' : 'toast';
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, bad ? 8000 : 3000);
}

// ---- the stream ----

async function loadQueue() {
  const list = await api('GET', '/api/v1/alarms?state=open&limit=10000');
  const alarms = Array.isArray(list) ? list : (list.alarms || []);
  state.queue.replace(alarms);
  for (const a of alarms) if (a.nobody_reached) noteNobody(a, a.nobody_reached.reason);
  refreshNobody();
}

function connect() {
  const url = '/api/v1/stream' + (state.lastEventId ? '?last_event_id=' + encodeURIComponent(state.lastEventId) : '');
  const es = new EventSource(url, { withCredentials: true });
  state.source = es;
  es.addEventListener('open', () => setFeed(true));
  es.addEventListener('error', () => {
    setFeed(false);
    // A network error leaves it CONNECTING and it retries by itself with
    // Last-Event-ID; an HTTP error closes it for good, so start again.
    if (es.readyState === EventSource.CLOSED && state.source === es) {
      setTimeout(async () => {
        if (state.source !== es) return;
        try { await api('GET', '/api/v1/me'); } catch { return; } // 401 goes to the login page
        connect();
      }, 2000);
    }
  });
  es.addEventListener('alarm', (ev) => onFrame(ev, false));
  es.addEventListener('nobody_reached', (ev) => onFrame(ev, true));
  es.addEventListener('reload', (ev) => {
    state.lastEventId = ev.lastEventId || state.lastEventId;
    loadQueue().catch((err) => toast(t('toast.failed', { reason: err.message }), true));
    if (state.detail.id) state.detail.open(state.detail.id);
  });
}

function onFrame(ev, nobody) {
  if (ev.lastEventId) state.lastEventId = ev.lastEventId;
  let msg;
  try { msg = JSON.parse(ev.data); } catch { return; }
  const a = msg.alarm;
  if (!a || !a.id) return;
  const t0 = performance.now();
  const wasNewP1 = !state.queue.get(a.id) && a.state === 'raised' && String(a.priority) === 'P1';
  state.queue.apply(a);
  if (state.detail.id === a.id) state.detail.update(a);
  if (nobody || a.nobody_reached) noteNobody(a, msg.reason || a.nobody_reached?.reason);
  else if (state.nobody.has(a.id)) state.nobody.get(a.id).alarm = a;
  refreshNobody();
  if (wasNewP1 && !a.test) state.muteUntil = 0; // a new emergency is never silent
  // A test may ask for the style and layout to count too (forcing them
  // here costs a layout per frame, so only then).
  if (window.anxin.measureLayout) void $('queue').offsetHeight;
  const applied = performance.now();
  // Applied means on screen: the time to the next frame the browser
  // draws after the change (several changes in one frame share it).
  requestAnimationFrame(() => setTimeout(() => {
    const ms = performance.now() - t0;
    state.perf.applied++;
    state.perf.lastMs = ms;
    state.perf.lastScriptMs = applied - t0;
    state.perf.maxMs = Math.max(state.perf.maxMs, ms);
    state.perf.log.push({ id: a.id, state: a.state, ms, script: applied - t0 });
    if (state.perf.log.length > 200) state.perf.log.shift();
  }, 0));
  updateSound();
}

function setFeed(up) {
  state.feedUp = up;
  $('feed-banner').hidden = up;
  const f = $('feed-state');
  f.dataset.state = up ? 'up' : 'down';
  f.textContent = up ? t('feed.up') : t('feed.down.short');
}

// ---- nobody reached ----

// NOBODY_SHOWN is how many nobody-reached alarms get a banner each; the
// rest are counted in one more line (the queue marks every one).
const NOBODY_SHOWN = 2;

function noteNobody(a, reason) {
  const had = state.nobody.get(a.id);
  state.nobody.set(a.id, { alarm: a, reason: reason || a.nobody_reached?.reason || had?.reason || '' });
  if (!had) state.nobodyDirty = true;
}

// refreshNobody redraws the banners when the set of alarms that reached
// nobody and are still untaken changed; cheap otherwise.
function refreshNobody() {
  for (const [id, n] of state.nobody) {
    const a = state.queue.get(id);
    if (!a || a.state !== 'raised') { state.nobody.delete(id); state.nobodyDirty = true; } else n.alarm = a;
  }
  if (!state.nobodyDirty) return;
  state.nobodyDirty = false;
  const all = [...state.nobody.entries()];
  const rows = all.slice(0, NOBODY_SHOWN).map(([id, n]) => {
    const a = n.alarm;
    return el('div', { class: 'banner banner-bad nobody-banner', role: 'alert', 'data-alarm': id },
      el('strong', { i18n: 'nobody.title' }), ' ',
      el('span', { text: `${a.priority} ${typeLabel(a.event || a.type)} · ${where(a) || a.device || ''}` }),
      n.reason ? el('span', { class: 'reason', text: ' — ' + reasonText(n.reason) }) : null, ' ',
      el('a', { href: '#/alarm/' + encodeURIComponent(id), class: 'button', i18n: 'nobody.open' }));
  });
  if (all.length > NOBODY_SHOWN) {
    rows.push(el('div', { class: 'banner banner-bad nobody-more', role: 'alert' }, t('nobody.more', { n: all.length - NOBODY_SHOWN })));
  }
  $('nobody-banners').replaceChildren(...rows);
}

// ---- sound and mute ----

function muteKey() { return 'anxin.mute.' + (state.me?.name || ''); }

function updateSound() {
  const muted = state.muteUntil > Date.now();
  setAlarming(!muted && state.queue.unackedP1());
  const b = $('mute');
  b.setAttribute('aria-pressed', String(muted));
  b.classList.toggle('muted', muted);
  b.textContent = muted
    ? t('mute.on', { left: Math.ceil((state.muteUntil - Date.now()) / 1000) })
    : t('mute.off', { min: MUTE_MS / 60000 });
}

function toggleMute() {
  state.muteUntil = state.muteUntil > Date.now() ? 0 : Date.now() + MUTE_MS;
  localStorage.setItem(muteKey(), String(state.muteUntil));
  updateSound();
}

// ---- views ----

function route() {
  const [, view = 'queue', id] = location.hash.split('/');
  for (const a of document.querySelectorAll('nav.views a')) {
    a.classList.toggle('active', a.dataset.view === (view === 'alarm' ? 'queue' : view));
    if (a.classList.contains('active')) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const onQueue = view === 'queue' || view === 'alarm';
  $('view-queue').hidden = !onQueue;
  $('view-page').hidden = onQueue;
  document.body.classList.toggle('detail-open', view === 'alarm');
  if (view === 'alarm' && id) {
    const aid = decodeURIComponent(id);
    state.queue.select(aid);
    if (state.detail.id !== aid) state.detail.open(aid);
  } else {
    state.detail.close();
  }
  if (!onQueue) state.pages.show(view, id && decodeURIComponent(id));
}

function openAlarm(id) { location.hash = '#/alarm/' + encodeURIComponent(id); }

// ---- keyboard ----

function onKey(ev) {
  unlockAudio();
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const tag = ev.target.tagName;
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
    if (ev.key === 'Escape') ev.target.blur();
    return;
  }
  const help = $('help');
  if (help.open && ev.key !== '?') { if (ev.key === 'Escape') help.close(); return; }
  const onQueue = !$('view-queue').hidden;
  switch (ev.key) {
    case '?': help.open ? help.close() : help.showModal(); break;
    case 'j': case 'n': case 'ArrowDown': if (!onQueue) return; state.queue.step(1); break;
    case 'k': case 'p': case 'ArrowUp': if (!onQueue) return; state.queue.step(-1); break;
    case 'Enter': case 'o': if (!onQueue || !state.queue.selected) return; openAlarm(state.queue.selected); break;
    case 'a': {
      if (!onQueue) return;
      const id = state.detail.id || state.queue.selected;
      if (!id) return;
      if (state.detail.id !== id) openAlarm(id);
      ackById(id);
      break;
    }
    case 'm': toggleMute(); break;
    case 'Escape': if (state.detail.id) location.hash = '#/queue'; else return; break;
    default: return;
  }
  ev.preventDefault();
}

async function ackById(id) {
  const a = state.queue.get(id);
  if (!a || a.state !== 'raised') return;
  try {
    const got = await api('POST', `/api/v1/alarms/${encodeURIComponent(id)}/ack`, {});
    if (got?.id) { state.queue.apply(got); state.detail.update(got); updateSound(); }
    toast(t('toast.ack'));
  } catch (err) {
    toast(t('toast.failed', { reason: err.message }), true);
  }
}

// ---- boot ----

function tick() {
  const now = Date.now();
  state.queue.tick(now);
  for (const e of document.querySelectorAll('#detail .age[data-raised]')) {
    e.textContent = fmtAge(now - Date.parse(e.dataset.raised));
  }
  if (state.muteUntil && state.muteUntil <= now) state.muteUntil = 0;
  updateSound();
  $('clock').textContent = fmtTime(new Date(now).toISOString());
  const n = state.queue.count();
  document.title = (n ? `(${n}) ` : '') + t('app.title') + ' · 安心';
}

async function start() {
  const [me] = await Promise.all([
    api('GET', '/api/v1/me'),
    loadI18n('console'),
  ]);
  me.name = me.name || me.user;
  state.me = me;
  setCSRF(me.csrf);
  setZone(me.time_zone);
  document.body.dataset.role = me.role;
  if (me.supervisor) document.body.dataset.supervisor = 'true';
  $('me').textContent = me.name;
  state.muteUntil = Number(localStorage.getItem(muteKey())) || 0;
  if (state.muteUntil > Date.now() + MUTE_MS) state.muteUntil = 0; // never longer than one mute

  state.queue = new Queue($('queue'), { onOpen: openAlarm, onChange: (q) => {
    $('queue-empty').hidden = q.count() > 0;
    $('queue-count').textContent = t('queue.count', { n: q.count() });
  } });
  state.detail = new Detail($('detail'), { onClose: () => { location.hash = '#/queue'; }, toast });
  state.pages = new Pages($('view-page'), { me, toast, onDuty: dutyWarning });

  $('lang-toggle').addEventListener('click', () => setLang(currentLang() === 'zh-CN' ? 'en' : 'zh-CN'));
  $('logout').addEventListener('click', async () => {
    await api('POST', '/api/v1/logout').catch(() => {});
    location.assign('/login');
  });
  $('mute').addEventListener('click', toggleMute);
  $('help-open').addEventListener('click', () => $('help').showModal());
  $('help-close').addEventListener('click', () => $('help').close());
  document.addEventListener('keydown', onKey);
  document.addEventListener('pointerdown', unlockAudio);
  onLangChange(() => {
    state.queue.relabel();
    state.queue.changed();
    state.detail.relabel();
    state.pages.relabel();
    state.nobodyDirty = true;
    refreshNobody();
    setFeed(state.feedUp);
    updateSound();
    tick();
    dutyWarning(state.pages.lastCoverage);
  });
  window.addEventListener('hashchange', route);

  setFeed(false);
  connect();
  await loadQueue();
  route();
  tick();
  setInterval(tick, 1000);
  state.pages.loadCoverage();
  setInterval(() => state.pages.loadCoverage(), 60000);
}

// dutyWarning says when one of my sites has nobody on duty.
function dutyWarning(coverage) {
  const box = $('duty-banner');
  const empty = (coverage || []).filter((c) => c.unattended).map((c) => c.site?.name || c.site?.id || c.site);
  box.hidden = empty.length === 0;
  if (empty.length) box.replaceChildren(el('strong', { i18n: 'duty.warn.title' }), ' ', t('duty.warn.text', { sites: empty.join('、') }), ' ',
    el('a', { href: '#/duty', class: 'button', i18n: 'duty.warn.go' }));
}

start().catch((err) => {
  if (err.status === 401) return toLogin();
  document.body.append(el('p', { class: 'error fatal', text: String(err.message || err) }));
});
