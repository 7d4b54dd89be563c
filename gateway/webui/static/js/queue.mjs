// The alarm queue: every open alarm this operator may see, P1 first, then
// oldest first. One <li> per alarm, kept in a Map by id: an update
// rewrites that row's cells and moves it only if its place changed, so a
// change costs the same with 1,000 open alarms as with ten.
import { t, tOr } from './i18n.mjs';
import { el, icon, family, typeLabel, where, who, fmtAge, prioRank } from './fmt.mjs';

const OPEN = new Set(['raised', 'acknowledged', 'dispatched']);

export function isOpen(a) { return OPEN.has(a.state); }

function compare(a, b) {
  return prioRank(a.priority) - prioRank(b.priority)
    || Date.parse(a.raised_at) - Date.parse(b.raised_at)
    || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export class Queue {
  constructor(list, { onOpen, onChange }) {
    this.list = list;
    this.alarms = new Map(); // id → alarm
    this.rows = new Map(); // id → <li>
    this.order = []; // ids in queue order
    this.selected = null;
    this.onOpen = onOpen;
    this.onChange = onChange;
    // Ages tick only on rows on screen: with 1,000 open alarms the rest
    // would cost a second's worth of work every second.
    this.visible = new Set();
    this.seen = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const id = e.target.dataset.id;
        if (e.isIntersecting) {
          this.visible.add(id);
          const a = this.alarms.get(id);
          if (a) e.target.cells.age.textContent = fmtAge(Date.now() - Date.parse(a.raised_at));
        } else this.visible.delete(id);
      }
    });
    list.addEventListener('click', (ev) => {
      const row = ev.target.closest('li[data-id]');
      if (row) { this.select(row.dataset.id); this.onOpen(row.dataset.id); }
    });
  }

  // replace puts the whole list from GET /api/v1/alarms, keeping the rows
  // of alarms that are still open.
  replace(alarms) {
    const keep = new Set();
    for (const a of alarms) if (isOpen(a)) keep.add(a.id);
    for (const id of [...this.alarms.keys()]) if (!keep.has(id)) this.remove(id);
    for (const a of alarms) if (isOpen(a)) this.put(a, true);
    this.reorder();
    this.changed();
  }

  // apply takes one alarm from the stream; a stale version is ignored.
  apply(a) {
    const old = this.alarms.get(a.id);
    if (old && old.version > a.version) return false;
    if (!isOpen(a)) {
      if (old) { this.remove(a.id); this.changed(); }
      return true;
    }
    const moved = !old || compare(old, a) !== 0 || old.priority !== a.priority;
    this.put(a, false);
    if (moved) this.reorder(); else this.renumber();
    this.changed();
    return true;
  }

  get(id) { return this.alarms.get(id); }

  put(a, bulk) {
    this.alarms.set(a.id, a);
    let row = this.rows.get(a.id);
    if (!row) {
      row = buildRow(a.id);
      this.rows.set(a.id, row);
      this.seen.observe(row);
      if (!bulk) this.list.append(row);
    }
    fillRow(row, a);
    row.classList.toggle('selected', this.selected === a.id);
  }

  remove(id) {
    this.alarms.delete(id);
    const row = this.rows.get(id);
    if (row) { this.seen.unobserve(row); row.remove(); }
    this.rows.delete(id);
    this.visible.delete(id);
    if (this.selected === id) this.selected = null;
    this.order = this.order.filter((x) => x !== id);
  }

  // reorder sorts and moves only the rows that are out of place.
  reorder() {
    const sorted = [...this.alarms.values()].sort(compare);
    this.order = sorted.map((a) => a.id);
    let prev = null;
    for (const id of this.order) {
      const row = this.rows.get(id);
      const want = prev ? prev.nextSibling : this.list.firstChild;
      if (row !== want) this.list.insertBefore(row, want);
      prev = row;
    }
    this.renumber();
  }

  renumber() {
    this.list.setAttribute('aria-rowcount', String(this.order.length));
  }

  changed() { this.onChange?.(this); }

  tick(now) {
    for (const id of this.visible) {
      const a = this.alarms.get(id);
      const row = this.rows.get(id);
      if (a && row) row.cells.age.textContent = fmtAge(now - Date.parse(a.raised_at));
    }
  }

  relabel() { for (const [id, row] of this.rows) fillRow(row, this.alarms.get(id)); }

  select(id) {
    if (this.selected) this.rows.get(this.selected)?.classList.remove('selected');
    this.selected = id;
    const row = id && this.rows.get(id);
    if (row) {
      row.classList.add('selected');
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: 'nearest' });
    }
  }

  // step moves the selection by d rows (j/k/n).
  step(d) {
    if (this.order.length === 0) return;
    let i = this.order.indexOf(this.selected);
    i = i < 0 ? (d > 0 ? 0 : this.order.length - 1) : Math.min(this.order.length - 1, Math.max(0, i + d));
    this.select(this.order[i]);
  }

  // unackedP1 is whether any P1 alarm is still raised (nobody took it).
  unackedP1() {
    for (const a of this.alarms.values()) if (a.state === 'raised' && prioRank(a.priority) === 1 && !a.test) return true;
    return false;
  }

  count() { return this.alarms.size; }
}

function buildRow(id) {
  const row = el('li', { 'data-id': id, tabindex: '-1' });
  const cells = {
    prio: el('span', { class: 'prio' }),
    kind: el('span', { class: 'kind' }),
    where: el('span', { class: 'where' }),
    who: el('span', { class: 'who' }),
    age: el('span', { class: 'age' }),
    state: el('span', { class: 'state' }),
    step: el('span', { class: 'step' }),
    owner: el('span', { class: 'owner' }),
    flag: el('span', { class: 'flag' }),
  };
  row.append(cells.prio, cells.kind, cells.where, cells.who, cells.age, cells.state, cells.step, cells.owner, cells.flag);
  row.cells = cells;
  row.iconFamily = '';
  return row;
}

function fillRow(row, a) {
  const c = row.cells;
  const fam = family(a.type);
  row.className = `alarm p${prioRank(a.priority)} fam-${fam} st-${a.state}` + (a.nobody_reached ? ' nobody' : '') + (a.test ? ' test' : '');
  c.prio.textContent = a.priority;
  if (row.iconFamily !== fam) {
    c.kind.replaceChildren(icon(fam), el('span', { class: 'type-label' }));
    row.iconFamily = fam;
  }
  c.kind.lastChild.textContent = typeLabel(a.event || a.type);
  c.where.textContent = where(a) || a.device || '';
  c.who.textContent = who(a);
  c.age.textContent = fmtAge(Date.now() - Date.parse(a.raised_at));
  c.state.textContent = tOr('state.' + a.state, a.state);
  const step = a.step !== undefined ? a.step + 1 : a.escalation_steps;
  c.step.textContent = step ? t('queue.step', { n: step }) : '';
  c.owner.textContent = a.owner || '';
  c.flag.textContent = a.nobody_reached ? t('nobody.short') : a.test ? t('queue.test') : '';
}
