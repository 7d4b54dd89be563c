// One alarm in full: the response plan first, then what to do (acknowledge,
// dispatch, resolve, note), the resident, where and which device, what the
// device was told, and the timeline. It re-renders when the stream brings
// a newer version of the alarm.
import { api } from './api.mjs';
import { t, tOr } from './i18n.mjs';
import { el, icon, family, typeLabel, where, who, fmtTime, fmtAge, tel, prioRank, reasonText } from './fmt.mjs';

const OUTCOMES = ['assisted', 'false_alarm', 'no_response_dispatched', 'ambulance', 'fire_service', 'test'];

export class Detail {
  constructor(root, { onClose, toast }) {
    this.root = root;
    this.onClose = onClose;
    this.toast = toast;
    this.alarm = null;
    this.extra = {}; // plan, resident_card from the GET; device from its own GET
    this.busy = false;
  }

  get id() { return this.alarm?.id; }

  async open(id) {
    this.root.hidden = false;
    this.root.replaceChildren(el('p', { class: 'loading', i18n: 'detail.loading' }));
    try {
      const a = await api('GET', '/api/v1/alarms/' + encodeURIComponent(id));
      this.alarm = a;
      this.extra = { plan: a.plan, resident_card: a.resident_card };
      this.render();
      if (a.device) {
        api('GET', '/api/v1/devices/' + encodeURIComponent(a.device)).then((d) => {
          if (this.alarm?.id === id) { this.extra.device = d; this.render(); }
        }).catch(() => {});
      }
    } catch (err) {
      this.root.replaceChildren(el('p', { class: 'error', text: err.status === 404 ? t('detail.gone') : err.message }));
    }
  }

  close() {
    this.alarm = null;
    this.root.hidden = true;
    this.root.replaceChildren();
  }

  // update takes a newer version of the open alarm from the stream.
  update(a) {
    if (!this.alarm || a.id !== this.alarm.id || a.version < this.alarm.version) return;
    // Keep what the person is typing: only the parts above and below the forms change.
    this.alarm = { ...this.alarm, ...a };
    this.render();
  }

  relabel() { if (this.alarm) this.render(); }

  async act(action, body) {
    if (this.busy || !this.alarm) return;
    this.busy = true;
    try {
      const a = await api('POST', `/api/v1/alarms/${encodeURIComponent(this.alarm.id)}/${action}`, body);
      if (a && a.id) this.update(a);
      this.toast(t('toast.' + action));
    } catch (err) {
      this.toast(t('toast.failed', { reason: err.message }), true);
    } finally {
      this.busy = false;
    }
  }

  acknowledge() { if (this.alarm?.state === 'raised') this.act('ack', {}); }

  render() {
    const a = this.alarm;
    const kept = this.root.querySelector('.forms');
    const open = ['raised', 'acknowledged', 'dispatched'].includes(a.state);
    const head = el('header', { class: `detail-head p${prioRank(a.priority)}` },
      el('button', { type: 'button', class: 'close', 'aria-label': t('detail.close'), text: '×', onclick: () => this.onClose() }),
      el('h2', {}, el('span', { class: 'prio', text: a.priority }), ' ', icon(family(a.type)), ' ', typeLabel(a.event || a.type)),
      el('p', { class: 'where', text: where(a) || a.device || '' }),
      el('p', { class: 'facts' },
        el('span', { class: 'state', text: tOr('state.' + a.state, a.state) }), ' · ',
        el('span', { text: t('detail.raised', { at: fmtTime(a.raised_at) }) }), ' · ',
        // An open alarm's age ticks; a closed one's is how long it was open.
        open ? el('span', { class: 'age', 'data-raised': a.raised_at, text: fmtAge(Date.now() - Date.parse(a.raised_at)) })
          : el('span', { class: 'age', text: fmtAge(Date.parse(a.closed_at || a.updated_at) - Date.parse(a.raised_at)) }),
        a.owner ? el('span', { text: ' · ' + t('detail.owner', { name: a.owner }) }) : null,
        a.dispatched_to ? el('span', { class: 'going', text: ' · ' + t('detail.going', { name: a.dispatched_to }) }) : null,
        a.outcome ? el('span', { text: ' · ' + tOr('outcome.' + a.outcome, a.outcome) }) : null));
    const parts = [head];
    // Loud while nobody has taken it; once someone has, the timeline keeps it.
    if (a.nobody_reached && a.state === 'raised') parts.push(nobodyBox(a.nobody_reached));
    parts.push(this.planSection());
    const same = kept && this.keptFor === a.id + '/' + a.state;
    parts.push(same ? kept : this.forms(open));
    this.keptFor = a.id + '/' + a.state;
    parts.push(this.residentSection(), this.deviceSection(), toldSection(a), timelineSection(a));
    this.root.replaceChildren(...parts.filter(Boolean));
  }

  planSection() {
    const steps = this.extra.plan;
    const box = el('section', { class: 'plan', 'aria-labelledby': 'plan-h' }, el('h3', { id: 'plan-h', i18n: 'detail.plan' }));
    if (!Array.isArray(steps) || steps.length === 0) {
      box.append(el('p', { class: 'muted', i18n: 'detail.plan.none' }));
      return box;
    }
    box.append(el('ol', {}, ...steps.map((s) => el('li', {}, el('span', { text: s.do }),
      s.phone ? ' ' : null, s.phone ? tel(s.phone) : null))));
    return box;
  }

  forms(open) {
    const box = el('section', { class: 'forms' });
    if (!open) return box;
    const a = this.alarm;
    const row = el('div', { class: 'actions' });
    if (a.state === 'raised') {
      row.append(el('button', { type: 'button', class: 'primary', id: 'act-ack', i18n: 'btn.ack', onclick: () => this.acknowledge() }));
    }
    box.append(row);
    if (a.state !== 'dispatched') {
      const who = el('input', { id: 'dispatch-to', name: 'to', required: true, autocomplete: 'off', 'data-i18n-placeholder': 'dispatch.placeholder', placeholder: t('dispatch.placeholder') });
      box.append(el('form', { class: 'inline', id: 'dispatch-form', onsubmit: (ev) => {
        ev.preventDefault();
        const to = who.value.trim();
        if (to) this.act('dispatch', { responder: to });
      } }, el('label', { for: 'dispatch-to', i18n: 'dispatch.label' }), who,
      el('button', { type: 'submit', i18n: 'btn.dispatch' })));
    }
    const outcome = el('select', { id: 'resolve-outcome', name: 'outcome', required: true },
      el('option', { value: '', i18n: 'resolve.choose' }),
      ...OUTCOMES.map((o) => el('option', { value: o, i18n: 'outcome.' + o })));
    const note = el('input', { id: 'resolve-note', name: 'note', autocomplete: 'off', 'data-i18n-placeholder': 'resolve.note', placeholder: t('resolve.note') });
    box.append(el('form', { class: 'inline', id: 'resolve-form', onsubmit: (ev) => {
      ev.preventDefault();
      if (outcome.value) this.act('resolve', { outcome: outcome.value, note: note.value.trim() });
    } }, el('label', { for: 'resolve-outcome', i18n: 'resolve.label' }), outcome, note,
    el('button', { type: 'submit', class: 'danger', i18n: 'btn.resolve' })));
    const text = el('input', { id: 'note-text', name: 'note', autocomplete: 'off', 'data-i18n-placeholder': 'note.placeholder', placeholder: t('note.placeholder') });
    box.append(el('form', { class: 'inline', id: 'note-form', onsubmit: (ev) => {
      ev.preventDefault();
      if (text.value.trim()) this.act('notes', { note: text.value.trim() }).then(() => { text.value = ''; });
    } }, el('label', { for: 'note-text', i18n: 'note.label' }), text, el('button', { type: 'submit', i18n: 'btn.note' })));
    return box;
  }

  residentSection() {
    const card = this.extra.resident_card;
    const name = card?.name || who(this.alarm);
    if (!card && !name) return null;
    const box = el('section', { class: 'resident' }, el('h3', { i18n: 'detail.resident' }));
    const dl = el('dl');
    const add = (key, value) => { if (value !== undefined && value !== null && value !== '') dl.append(el('dt', { i18n: key }), el('dd', {}, value)); };
    add('resident.name', name);
    const age = card?.age ?? (card?.birth_year ? new Date().getFullYear() - card.birth_year : undefined);
    add('resident.age', age !== undefined ? String(age) : undefined);
    add('resident.conditions', (card?.conditions || []).join('、'));
    add('resident.language', card?.language);
    box.append(dl);
    const contacts = card?.contacts || card?.emergency_contacts || [];
    if (contacts.length) {
      box.append(el('h4', { i18n: 'resident.contacts' }), el('ul', { class: 'contacts' },
        ...contacts.map((c) => el('li', {}, el('span', { text: [c.name, c.relation && `(${c.relation})`].filter(Boolean).join(' ') }), ' ', tel(c.phone)))));
    }
    return box;
  }

  deviceSection() {
    const a = this.alarm;
    const d = this.extra.device;
    const box = el('section', { class: 'device' }, el('h3', { i18n: 'detail.device' }));
    const dl = el('dl');
    const add = (key, value) => { if (value) dl.append(el('dt', { i18n: key }), el('dd', {}, value)); };
    add('device.where', where(a) || d?.site_path);
    add('device.id', a.device);
    if (d) {
      add('device.kind', tOr('kind.' + d.kind, d.kind));
      add('device.health', healthText(d.health));
      add('device.seen', fmtTime(d.health?.last_seen));
      add('device.spot', a.location_note || d.location);
    }
    box.append(dl);
    return box;
  }
}

export function healthText(h) {
  if (!h) return '';
  const parts = [h.online ? t('health.online') : t('health.offline')];
  const r = h.readings || {};
  if (r.battery !== undefined) parts.push(t('health.battery', { v: Math.round(r.battery) }));
  if (r.rssi !== undefined) parts.push(t('health.signal', { v: Math.round(r.rssi) }));
  else if (r.linkquality !== undefined) parts.push(t('health.signal', { v: Math.round(r.linkquality) }));
  return parts.join(' · ');
}

function nobodyBox(n) {
  return el('section', { class: 'nobody-box', role: 'alert' },
    el('strong', { i18n: 'nobody.title' }), ' ',
    el('span', { text: t('nobody.text', { at: fmtTime(n.at), step: (n.step ?? 0) + 1 }) }),
    n.reason ? el('p', { text: reasonText(n.reason) }) : null);
}

// toldSection is what the elder's device heard: the alarm's told list, or
// the reassurance entries of its timeline.
function toldSection(a) {
  let told = a.told;
  if (!Array.isArray(told) || told.length === 0) {
    told = (a.timeline || []).filter((e) => e.action === 'told' || e.kind === 'reassure')
      .map((e) => ({ state: e.state, at: e.at }));
  }
  const box = el('section', { class: 'told' }, el('h3', { i18n: 'detail.told' }));
  if (!told.length) box.append(el('p', { class: 'muted', i18n: 'detail.told.none' }));
  else box.append(el('ul', {}, ...told.map((x) => el('li', {}, el('time', { text: fmtTime(x.at) }), ' ', tOr('told.' + x.state, x.state)))));
  return box;
}

function timelineSection(a) {
  const box = el('section', { class: 'timeline' }, el('h3', { i18n: 'detail.timeline' }));
  const list = el('ol', { id: 'timeline' });
  for (const e of a.timeline || []) {
    const who = String(e.actor || '').replace(/^(operator|device):/, '');
    const li = el('li', { class: 'tl-' + e.action },
      el('time', { text: fmtTime(e.at) }), ' ',
      el('strong', { class: 'tl-action', text: tOr('action.' + e.action, e.action) }),
      e.step ? el('span', { text: ' ' + t('queue.step', { n: e.step }) }) : null,
      who && who !== 'system' ? el('span', { class: 'tl-who', text: ' · ' + who }) : null,
      e.responder ? el('span', { class: 'tl-responder', text: ' → ' + e.responder }) : null,
      e.note ? el('span', { class: 'tl-note', text: ' — ' + e.note }) : null,
      e.targets?.length ? el('span', { class: 'tl-targets', text: ' → ' + e.targets.join(', ') }) : null,
      e.unresolved?.length ? el('span', { class: 'tl-unresolved', text: ' ⚠ ' + reasonText(e.unresolved.join('; ')) }) : null);
    list.append(li);
  }
  box.append(list);
  return box;
}
