import { api, setCSRF } from './api.mjs';
import { loadI18n, setLang, currentLang } from './i18n.mjs';

async function start() {
  await loadI18n('console');
  const me = await api('GET', '/api/v1/me');
  setCSRF(me.csrf);
  document.getElementById('me').textContent = me.name;
  document.getElementById('lang-toggle').addEventListener('click', () =>
    setLang(currentLang() === 'zh-CN' ? 'en' : 'zh-CN'));
  document.getElementById('logout').addEventListener('click', async () => {
    await api('POST', '/api/v1/logout').catch(() => {});
    location.assign('/login');
  });
}

start();
