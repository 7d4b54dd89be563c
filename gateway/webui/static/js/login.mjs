import { api } from './api.mjs';
import { loadI18n, setLang, currentLang, t } from './i18n.mjs';

const form = document.getElementById('login-form');
const errorBox = document.getElementById('login-error');

function nextPath() {
  const next = new URLSearchParams(location.search).get('next') || '/';
  // Only a path of this origin: never a way to send someone elsewhere.
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  errorBox.hidden = true;
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await api('POST', '/api/v1/login', {
      user: form.user.value.trim(), password: form.password.value, cookie: true,
    });
    location.assign(nextPath());
  } catch (err) {
    errorBox.textContent = err.status === 401 ? t('login.wrong')
      : err.status === 429 ? t('login.wait', { s: err.retryAfter || 1 })
      : t('login.failed', { reason: err.message });
    errorBox.hidden = false;
  } finally {
    button.disabled = false;
  }
});

document.getElementById('lang-toggle').addEventListener('click', () =>
  setLang(currentLang() === 'zh-CN' ? 'en' : 'zh-CN'));

loadI18n('console');
