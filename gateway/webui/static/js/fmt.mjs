// Formatting shared by the console's pages: times in the configured zone,
// ages, location paths, alarm types and their icons.
import { t, tOr, currentLang } from './i18n.mjs';

let zone = 'Asia/Shanghai';
const formats = new Map();

export function setZone(z) { if (z) { zone = z; formats.clear(); } }
export function getZone() { return zone; }

function format(kind) {
  const key = currentLang() + kind + zone;
  let f = formats.get(key);
  if (!f) {
    const opts = kind === 'time'
      ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }
      : { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
    f = new Intl.DateTimeFormat(currentLang(), { ...opts, timeZone: zone });
    formats.set(key, f);
  }
  return f;
}

// fmtTime is a wall-clock time in the zone: today's as HH:MM:SS, older
// ones with their date.
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return Date.now() - d.getTime() < 12 * 3600e3 ? format('time').format(d) : format('full').format(d);
}

const pad = (n) => String(n).padStart(2, '0');

// fmtAge is how long ago: m:ss, h:mm:ss, or days and hours.
export function fmtAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h >= 48) return t('age.days', { d: Math.floor(h / 24), h: h % 24 });
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

// The levels a path shows, from the village (or community, institution)
// down: the county and township are the same for everyone on a screen.
const SHOWN = new Set(['village', 'community', 'institution', 'home', 'room', 'bed']);

// where is an alarm's "village › home › room › bed".
export function where(a) { return locationPath(a.location_path || a.location); }

// who is the name of an alarm's resident.
export function who(a) { return residentName(a.resident_ref || a.resident); }

// locationPath is "village › home › room › bed" of [{id,name,kind}]
// (or, from older gateways, of names).
export function locationPath(loc) {
  if (!Array.isArray(loc) || loc.length === 0) return '';
  if (typeof loc[0] === 'string') return loc.slice(-4).join(' › ');
  const shown = loc.filter((s) => SHOWN.has(s.kind || s.level));
  return (shown.length ? shown : loc.slice(-4)).map((s) => s.name || s.id).join(' › ');
}

export function residentName(r) {
  if (!r) return '';
  return typeof r === 'string' ? r : (r.name || r.id || '');
}

// The alarm families, each with an icon in index.html's sprite.
const FAMILIES = new Set(['call', 'smoke', 'gas', 'band', 'bed', 'device', 'wellbeing', 'activity', 'site']);

export function family(type) {
  const f = String(type || '').split('.')[0];
  return FAMILIES.has(f) ? f : 'other';
}

export function typeLabel(type) {
  return tOr('type.' + type, tOr('family.' + family(type), type));
}

const SVG = 'http://www.w3.org/2000/svg';

// icon is an <svg> using one symbol of the sprite in index.html.
export function icon(name, cls = 'icon') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', '#i-' + name);
  svg.append(use);
  return svg;
}

// el builds an element: el('p', {class: 'x', text: 'y'}, child, …).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k === 'i18n') { e.dataset.i18n = v; e.textContent = t(v); }
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

// tel is a click-to-call link.
export function tel(phone, label) {
  return el('a', { class: 'tel', href: 'tel:' + String(phone).replace(/[^0-9+*#]/g, ''), text: label || phone });
}

export function prioRank(p) {
  const n = Number(String(p).replace(/^P/, ''));
  return Number.isFinite(n) ? n : 9;
}

// reasonText says in the console's language why an escalation reached
// nobody: the gateway's reason is "TARGET: WORDS" parts joined by "; "
// (alerting.Reason*), each translated by its target.* and reason.* keys;
// words the catalogue does not know are shown as they came.
export function reasonText(reason) {
  if (!reason) return '';
  return reason.split('; ').map((part) => {
    const cut = part.lastIndexOf(': ');
    const target = cut < 0 ? '' : part.slice(0, cut);
    const words = cut < 0 ? part : part.slice(cut + 2);
    let why = words;
    for (const [text, code] of REASONS) {
      if (words === text) why = t('reason.' + code);
      else if (code === 'no_channel' && words.startsWith(text + ' ')) why = t('reason.no_channel', { site: words.slice(text.length + 1) });
    }
    return target ? t('reason.part', { target: targetText(target), why }) : why;
  }).join(t('reason.sep'));
}

// REASONS are alerting's Reason* words and their catalogue keys.
const REASONS = [
  ['nobody on duty', 'nobody_on_duty'],
  ['the resident has no emergency contacts', 'no_contacts'],
  ['no channel reaches site', 'no_channel'],
  ['the step names no target', 'no_target'],
];

// targetText names an escalation target: operators, supervisor, site:ID…
export function targetText(target) {
  if (target.startsWith('site:')) return t('target.site', { site: target.slice(5) });
  return tOr('target.' + target, target);
}
