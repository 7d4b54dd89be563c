// Helpers shared by the browser tests: the gateway's API as the admin (or
// anyone) sees it, the browser, waiting, and the harness's control of the
// gateway process. The environment comes from harness_test.go.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export const env = {
  url: process.env.ANXIN_URL,
  mqtt: process.env.ANXIN_MQTT,
  admin: process.env.ANXIN_ADMIN,
  adminPassword: process.env.ANXIN_ADMIN_PASSWORD,
  firmwareSim: process.env.ANXIN_FIRMWARE_SIM,
  control: process.env.ANXIN_CONTROL,
  shots: process.env.ANXIN_SHOTS,
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
};

// Client is the API over a bearer token, as a script would use it.
export class Client {
  constructor(token) { this.token = token; }
  static async login(user, password) {
    const res = await fetch(env.url + '/api/v1/login', {
      method: 'POST', body: JSON.stringify({ user, password }),
      headers: { 'Content-Type': 'application/json' },
    });
    if (!res.ok) throw new Error(`login ${user}: ${res.status} ${await res.text()}`);
    return new Client((await res.json()).token);
  }
  async call(method, path, body) {
    const res = await fetch(env.url + path, {
      method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: { Authorization: 'Bearer ' + this.token, 'Content-Type': 'application/json' },
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  get(path) { return this.call('GET', path); }
  post(path, body) { return this.call('POST', path, body ?? {}); }
  put(path, body) { return this.call('PUT', path, body); }
}

// launch starts Debian's chromium headless with a fresh profile.
export async function launch() {
  return chromium.launch({
    executablePath: env.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
}

// waitFor polls fn until it returns a truthy value, or throws after ms.
export async function waitFor(fn, what, ms = 5000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
    await sleep(50);
  }
}

// gatewayControl asks the harness to stop, start or restart the gateway.
export async function gatewayControl(what) {
  const res = await fetch(env.control + '/' + what, { method: 'POST' });
  if (!res.ok) throw new Error(`${what} the gateway: ${await res.text()}`);
  return res.json();
}

// run runs a program to its end and returns its output.
export function run(cmd, args, { timeout = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out); else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${out}`));
    });
  });
}

// subscribe starts mosquitto_sub on a topic as a device would listen and
// collects its messages.
export function subscribe({ id, password, topic }) {
  const [host, port] = env.mqtt.split(':');
  const p = spawn('mosquitto_sub', ['-h', host, '-p', port, '-i', id + ':listen', '-u', id, '-P', password,
    '-t', topic, '-q', '1', '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages = [];
  let buf = '';
  p.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      const sp = line.indexOf(' ');
      try { messages.push(JSON.parse(line.slice(sp + 1))); } catch { messages.push(line); }
    }
  });
  return { messages, stop: () => p.kill() };
}

// lowContrast lists the visible text on the page whose contrast with its
// background is under WCAG AA: 4.5:1, or 3:1 for large text (24 px, or
// 18.66 px bold).
export function lowContrast(page) {
  return page.evaluate(() => {
    const rgb = (s) => { const m = s.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
    const lum = ({ r, g, b }) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.a > 0.5) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
      const cs = getComputedStyle(el);
      if (el.closest('option')) continue;
      const l1 = lum(rgb(cs.color));
      const l2 = lum(background(el));
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const size = parseFloat(cs.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${n.textContent.trim().slice(0, 30)} (${ratio.toFixed(2)}:1)`);
    }
    return bad;
  });
}
