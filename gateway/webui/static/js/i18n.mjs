// Text for people, from static/i18n/<page>.<lang>.json. Every element
// with data-i18n gets its text from the catalogue; data-i18n-title,
// data-i18n-placeholder and data-i18n-aria-label set those attributes.
// Scripts call t(key, {name: value}) for text they build.
//
// The language: the one the person chose (kept in localStorage), else
// zh-CN for a browser that prefers Chinese, else English.

export const LANGS = ['zh-CN', 'en'];
const STORE = 'anxin.lang';
const ATTRS = ['title', 'placeholder', 'aria-label'];

let catalog = {};
let lang = 'zh-CN';
let page = '';
const listeners = new Set();

export function pickLang() {
  const saved = localStorage.getItem(STORE);
  if (LANGS.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || '']) {
    if (/^zh\b/i.test(l)) return 'zh-CN';
    if (/^en\b/i.test(l)) return 'en';
  }
  return 'en';
}

export function currentLang() { return lang; }

// loadI18n fetches the page's catalogue in the chosen language and
// applies it to the document.
export async function loadI18n(pageName, chosen = pickLang()) {
  page = pageName;
  const res = await fetch(`/static/i18n/${page}.${chosen}.json`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`catalogue ${page}.${chosen}: ${res.status}`);
  catalog = await res.json();
  lang = chosen;
  document.documentElement.lang = lang;
  applyI18n(document);
  for (const fn of listeners) fn(lang);
}

// setLang switches language, remembers the choice and re-applies it.
export async function setLang(l) {
  localStorage.setItem(STORE, l);
  await loadI18n(page, l);
}

// onLangChange runs fn after every switch, for text built by scripts.
export function onLangChange(fn) { listeners.add(fn); }

export function t(key, vars) {
  let s = catalog[key];
  if (s === undefined) return key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

export function applyI18n(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const a of ATTRS) {
    for (const el of root.querySelectorAll(`[data-i18n-${a}]`)) el.setAttribute(a, t(el.getAttribute(`data-i18n-${a}`)));
  }
}

// tOr is t for a key built from data (an alarm type, an action): the
// catalogue's text when it has one, else the fallback (the raw word).
export function tOr(key, fallback) {
  return key in catalog ? catalog[key] : fallback;
}
