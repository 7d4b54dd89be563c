// The console's one way to the gateway: same-origin fetch with the session
// cookie, the CSRF token on every state-changing request, and the login
// page when the session is gone.

let csrf = '';

export function setCSRF(token) { csrf = token || ''; }

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function toLogin() {
  const next = location.pathname + location.search + location.hash;
  location.assign('/login' + (next && next !== '/' ? '?next=' + encodeURIComponent(next) : ''));
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, init);
  if (res.status === 401 && !path.endsWith('/login')) {
    toLogin();
    throw new APIError(401, 'not logged in');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (!res.ok) {
    const err = new APIError(res.status, (data && data.error) || res.statusText);
    err.retryAfter = Number(res.headers.get('Retry-After')) || 0;
    throw err;
  }
  return data;
}
