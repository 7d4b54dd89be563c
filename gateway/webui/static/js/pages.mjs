// The console's other pages: duty (who is on duty where, check in and
// out), devices (health, filters, walk test) and residents (their card and
// response plan, which supervisors and admins edit).
import { api } from './api.mjs';
import { t, tOr } from './i18n.mjs';
import { el, fmtTime, tel } from './fmt.mjs';
import { healthText } from './detail.mjs';

// LOW_BATTERY is the battery level (%) the devices page calls low.
const LOW_BATTERY = 20;

// PLAN_KEYS are the alarm types and families a plan is usually written
// for; any other type can be typed in.
const PLAN_KEYS = ['smoke', 'gas', 'call', 'band.fall', 'band.sos', 'band.geofence_exit', 'bed.exit', 'wellbeing'];

export class Pages {
  constructor(root, { me, toast, onDuty }) {
    this.root = root;
    this.me = me;
    this.toast = toast;
    this.onDuty = onDuty;
    this.view = '';
    this.arg = '';
    this.lastCoverage = [];
    this.filters = { q: '', health: 'all', kind: '' };
  }

  canEditPlans() { return this.me.role === 'admin' || this.me.supervisor === true; }
  canProvision() { return this.me.role === 'admin' || this.me.role === 'installer'; }

  show(view, arg) {
    this.view = view;
    this.arg = arg || '';
    this.render();
  }

  relabel() { if (!this.root.hidden) this.render(); }

  async render() {
    const view = this.view;
    try {
      if (view === 'duty') await this.duty();
      else if (view === 'devices') await this.devices();
      else if (view === 'residents') await (this.arg ? this.resident(this.arg) : this.residents());
      else this.root.replaceChildren(el('p', { i18n: 'page.unknown' }));
    } catch (err) {
      if (this.view === view) this.root.replaceChildren(el('p', { class: 'error', text: err.message }));
    }
  }

  // ---- duty ----

  async loadCoverage() {
    try {
      const c = await api('GET', '/api/v1/duty/coverage');
      this.lastCoverage = Array.isArray(c) ? c : (c?.sites || []);
    } catch {
      this.lastCoverage = [];
    }
    this.onDuty(this.lastCoverage);
    return this.lastCoverage;
  }

  async duty() {
    const coverage = await this.loadCoverage();
    const mine = new Set(this.me.sites || []);
    const rows = coverage.map((c) => {
      const site = c.site || {};
      const id = site.id || c.site;
      const onDuty = c.on_duty || [];
      const meOn = onDuty.some((o) => o.id === this.me.name || o.name === this.me.name);
      return el('tr', { class: c.unattended ? 'unattended' : '' },
        el('th', { scope: 'row', text: site.name || id }),
        el('td', {}, onDuty.length
          ? el('ul', { class: 'plain' }, ...onDuty.map((o) => el('li', { text: `${o.name || o.id}${o.since ? ' · ' + t('duty.since', { at: fmtTime(o.since) }) : ''}` })))
          : el('span', {}, el('strong', { class: 'bad-text', i18n: 'duty.nobody' }),
            c.covered_by ? el('span', { text: ' ' + t('duty.covered', { site: c.covered_by }) }) : null)),
        el('td', {}, mine.has(id) || this.me.role === 'admin'
          ? el('button', { type: 'button', class: meOn ? '' : 'primary', 'data-site': id,
            i18n: meOn ? 'duty.checkout' : 'duty.checkin',
            onclick: () => this.check(id, !meOn) })
          : null));
    });
    this.root.replaceChildren(el('h2', { i18n: 'duty.title' }),
      rows.length ? el('table', { class: 'grid duty' },
        el('thead', {}, el('tr', {}, el('th', { i18n: 'duty.site' }), el('th', { i18n: 'duty.on' }), el('th', { i18n: 'duty.me' }))),
        el('tbody', {}, ...rows)) : el('p', { class: 'muted', i18n: 'duty.none' }));
  }

  async check(site, on) {
    try {
      await api('POST', on ? '/api/v1/duty/checkin' : '/api/v1/duty/checkout', { site });
      this.toast(t(on ? 'duty.checked.in' : 'duty.checked.out'));
    } catch (err) {
      this.toast(t('toast.failed', { reason: err.message }), true);
    }
    if (this.view === 'duty') this.duty(); else this.loadCoverage();
  }

  // ---- devices ----

  async devices() {
    const list = await api('GET', '/api/v1/devices');
    const all = Array.isArray(list) ? list : (list.devices || []);
    const f = this.filters;
    const kinds = [...new Set(all.map((d) => d.kind))].sort();
    const battery = (d) => d.health?.readings?.battery;
    const shown = all.filter((d) => {
      if (f.kind && d.kind !== f.kind) return false;
      if (f.health === 'offline' && d.health?.online) return false;
      if (f.health === 'online' && !d.health?.online) return false;
      if (f.health === 'battery' && !(battery(d) < LOW_BATTERY)) return false;
      if (f.health === 'test' && !d.test_mode) return false;
      const q = f.q.toLowerCase();
      return !q || [d.id, d.site_path, d.resident_name, d.location].some((x) => String(x || '').toLowerCase().includes(q));
    });
    const search = el('input', { type: 'search', id: 'dev-q', value: f.q, 'data-i18n-placeholder': 'devices.search', placeholder: t('devices.search'),
      oninput: (ev) => { f.q = ev.target.value; this.devicesSoon(); } });
    const health = el('select', { id: 'dev-health', onchange: (ev) => { f.health = ev.target.value; this.devices(); } },
      ...['all', 'online', 'offline', 'battery', 'test'].map((v) => el('option', { value: v, selected: f.health === v, text: t('devices.filter.' + v) })));
    const kind = el('select', { id: 'dev-kind', onchange: (ev) => { f.kind = ev.target.value; this.devices(); } },
      el('option', { value: '', i18n: 'devices.kind.all' }),
      ...kinds.map((k) => el('option', { value: k, selected: f.kind === k, text: tOr('kind.' + k, k) })));
    const rows = shown.map((d) => el('tr', { class: d.health?.online ? '' : 'offline' },
      el('th', { scope: 'row', text: d.id }),
      el('td', { text: tOr('kind.' + d.kind, d.kind) }),
      el('td', { text: d.site_path || '' }),
      el('td', { text: d.resident_name || '' }),
      el('td', { class: d.health?.online ? 'ok-text' : 'bad-text', text: healthText(d.health) }),
      el('td', { text: fmtTime(d.health?.last_seen) }),
      el('td', {}, d.test_mode ? el('span', { class: 'tag', text: t('devices.testing', { until: fmtTime(d.test_until) }) }) : null, ' ',
        this.canProvision() ? el('button', { type: 'button', i18n: d.test_mode ? 'devices.walktest.stop' : 'devices.walktest',
          onclick: () => this.walkTest(d.id, !d.test_mode) }) : null)));
    this.root.replaceChildren(el('h2', { i18n: 'devices.title' }),
      el('div', { class: 'filters' }, search, health, kind, el('span', { class: 'muted', text: t('devices.count', { n: shown.length, all: all.length }) })),
      el('table', { class: 'grid devices' },
        el('thead', {}, el('tr', {}, ...['devices.id', 'devices.kind', 'devices.where', 'devices.resident', 'devices.health', 'devices.seen', 'devices.test']
          .map((k) => el('th', { i18n: k })))),
        el('tbody', {}, ...rows)));
    if (document.activeElement?.id !== 'dev-q' && f.q) { /* keep focus where the person is */ }
    const q = this.root.querySelector('#dev-q');
    if (this.refocus) { q.focus(); q.setSelectionRange(q.value.length, q.value.length); this.refocus = false; }
  }

  devicesSoon() {
    clearTimeout(this.devTimer);
    this.devTimer = setTimeout(() => { this.refocus = true; this.devices(); }, 250);
  }

  async walkTest(id, on) {
    try {
      await api('POST', `/api/v1/devices/${encodeURIComponent(id)}/test`, { on });
      this.toast(on ? t('devices.walktest.on', { id }) : t('devices.walktest.off', { id }));
    } catch (err) {
      this.toast(t('toast.failed', { reason: err.message }), true);
    }
    this.devices();
  }

  // ---- residents ----

  async residents() {
    const list = await api('GET', '/api/v1/residents');
    const all = Array.isArray(list) ? list : (list.residents || []);
    const rows = all.map((r) => el('tr', {},
      el('th', { scope: 'row' }, el('a', { href: '#/residents/' + encodeURIComponent(r.id), text: r.name })),
      el('td', { text: r.birth_year ? String(new Date().getFullYear() - r.birth_year) : '' }),
      el('td', { text: (r.conditions || []).join('、') }),
      el('td', {}, ...(r.contacts || []).slice(0, 2).flatMap((c) => [tel(c.phone, `${c.name} ${c.phone}`), ' '])),
      el('td', { text: r.plan && Object.keys(r.plan).length ? Object.keys(r.plan).map((k) => typeName(k)).join('、') : t('residents.noplan') })));
    this.root.replaceChildren(el('h2', { i18n: 'residents.title' }),
      el('table', { class: 'grid residents' },
        el('thead', {}, el('tr', {}, ...['resident.name', 'resident.age', 'resident.conditions', 'resident.contacts', 'residents.plan'].map((k) => el('th', { i18n: k })))),
        el('tbody', {}, ...rows)));
  }

  async resident(id) {
    const r = await api('GET', '/api/v1/residents/' + encodeURIComponent(id));
    const plan = structuredClone(r.plan || {});
    const box = el('div', { class: 'resident-page' },
      el('p', {}, el('a', { href: '#/residents', i18n: 'residents.back' })),
      el('h2', { text: r.name }),
      el('dl', { class: 'facts' },
        el('dt', { i18n: 'resident.age' }), el('dd', { text: r.birth_year ? String(new Date().getFullYear() - r.birth_year) : '' }),
        el('dt', { i18n: 'resident.conditions' }), el('dd', { text: (r.conditions || []).join('、') }),
        el('dt', { i18n: 'resident.language' }), el('dd', { text: r.language || '' })),
      el('h3', { i18n: 'resident.contacts' }),
      el('ul', { class: 'contacts' }, ...(r.contacts || []).map((c) => el('li', {}, `${c.name} (${c.relation || ''}) `, tel(c.phone)))),
      el('h3', { i18n: 'residents.plan' }));
    const editor = el('div', { class: 'plan-editor', id: 'plan-editor' });
    box.append(editor);
    const draw = () => editor.replaceChildren(...this.planEditor(r, plan, draw));
    draw();
    this.root.replaceChildren(box);
  }

  planEditor(r, plan, redraw) {
    const editable = this.canEditPlans();
    const out = [];
    for (const key of Object.keys(plan)) {
      const steps = plan[key];
      const fs = el('fieldset', { class: 'plan-key', 'data-key': key }, el('legend', { text: typeName(key) }));
      const ol = el('ol');
      steps.forEach((s, i) => {
        if (!editable) { ol.append(el('li', {}, s.do, s.phone ? ' ' : null, s.phone ? tel(s.phone) : null)); return; }
        ol.append(el('li', {},
          el('input', { class: 'plan-do', value: s.do || '', 'aria-label': t('plan.do'), 'data-i18n-aria-label': 'plan.do', oninput: (ev) => { s.do = ev.target.value; } }),
          el('input', { class: 'plan-phone', type: 'tel', value: s.phone || '', 'aria-label': t('plan.phone'), 'data-i18n-aria-label': 'plan.phone',
            'data-i18n-placeholder': 'plan.phone', placeholder: t('plan.phone'), oninput: (ev) => { s.phone = ev.target.value; } }),
          el('button', { type: 'button', 'aria-label': t('plan.remove'), 'data-i18n-aria-label': 'plan.remove', text: '×',
            onclick: () => { steps.splice(i, 1); if (!steps.length) delete plan[key]; redraw(); } })));
      });
      fs.append(ol);
      if (editable) fs.append(el('button', { type: 'button', class: 'add-step', i18n: 'plan.addstep', onclick: () => { steps.push({ do: '', phone: '' }); redraw(); } }));
      out.push(fs);
    }
    if (!Object.keys(plan).length) out.push(el('p', { class: 'muted', i18n: 'residents.noplan' }));
    if (!editable) return out;
    const keySel = el('select', { id: 'plan-new-key' }, ...PLAN_KEYS.filter((k) => !plan[k]).map((k) => el('option', { value: k, text: typeName(k) })));
    out.push(el('div', { class: 'filters' }, keySel,
      el('button', { type: 'button', id: 'plan-add-key', i18n: 'plan.addkey', onclick: () => { if (keySel.value) { plan[keySel.value] = [{ do: '', phone: '' }]; redraw(); } } }),
      el('button', { type: 'button', class: 'primary', id: 'plan-save', i18n: 'plan.save', onclick: () => this.savePlan(r.id, plan) })));
    return out;
  }

  async savePlan(id, plan) {
    const clean = {};
    for (const [k, steps] of Object.entries(plan)) {
      const s = steps.filter((x) => x.do && x.do.trim()).map((x) => (x.phone ? { do: x.do.trim(), phone: x.phone.trim() } : { do: x.do.trim() }));
      if (s.length) clean[k] = s;
    }
    try {
      await api('PUT', `/api/v1/residents/${encodeURIComponent(id)}/plan`, clean);
      this.toast(t('plan.saved'));
    } catch (err) {
      this.toast(t('toast.failed', { reason: err.message }), true);
    }
  }
}

function typeName(key) {
  return tOr('type.' + key, tOr('family.' + key, key));
}
