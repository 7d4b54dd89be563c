// The operator console in a real browser: issue 9's "Must show", except
// the wall's. The tests run in order and build on each other (one gateway,
// one set of sites, users and devices).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, Client, launch, lowContrast, waitFor, gatewayControl, run, subscribe } from './lib.mjs';

const PW = 'operator-password-1';
const stateDir = mkdtempSync(join(tmpdir(), 'anxin-e2e-sim-'));
const broker = 'tcp://' + env.mqtt;
let admin;
let browser;
const dev = {}; // id → password
const pages = {}; // user → page
const subs = [];

async function press(id, { kind = 'call_button', type = 'call.press' } = {}) {
  await run(env.firmwareSim, ['press', '--id', id, '--password', dev[id], '--broker', broker,
    '--kind', kind, '--type', type, '--state-dir', stateDir, '--wait', 'received']);
  const open = (await admin.get('/api/v1/alarms?state=open')).alarms;
  const a = open.filter((x) => x.device === id).sort((x, y) => Date.parse(y.raised_at) - Date.parse(x.raised_at))[0];
  assert.ok(a, `an open alarm of ${id}`);
  return a;
}

// login opens the console as user in a fresh browser context.
async function login(user, { locale = 'zh-CN', viewport = { width: 1366, height: 768 } } = {}) {
  const ctx = await browser.newContext({ locale, viewport });
  const page = await ctx.newPage();
  page.on('pageerror', (err) => console.log(`[${user}] page error: ${err.message}`));
  await page.goto(env.url + '/');
  await page.waitForURL(/\/login/);
  if (!login.shot) { login.shot = true; await page.waitForFunction(() => document.querySelector('[data-i18n="login.submit"]').textContent === '登录'); await shot(page, 'login'); }
  await page.fill('#login-user', user);
  await page.fill('#login-password', user === env.admin ? env.adminPassword : PW);
  await page.click('button[type=submit]');
  await page.waitForURL(env.url + '/');
  await page.waitForSelector('#feed-state[data-state=up]');
  // When each row of the queue appeared, by the browser's clock.
  await page.evaluate(() => {
    window.seenAt = {};
    new MutationObserver((muts) => {
      for (const m of muts) for (const n of m.addedNodes) if (n.dataset?.id && !window.seenAt[n.dataset.id]) window.seenAt[n.dataset.id] = Date.now();
    }).observe(document.getElementById('queue'), { childList: true });
  });
  pages[user] = page;
  return page;
}

const row = (page, id) => page.locator(`#queue li[data-id="${id}"]`);

async function shot(page, name) {
  await page.screenshot({ path: join(env.shots, name + '.png') });
}

before(async () => {
  admin = await Client.login(env.admin, env.adminPassword);
  for (const s of [
    { id: 'qs-region', name: '江南市', level: 'region' },
    { id: 'qs-county', name: '青山县', level: 'county', parent: 'qs-region' },
    { id: 'qs-town', name: '青山镇', level: 'township', parent: 'qs-county' },
    { id: 'qs', name: '青山村', level: 'village', parent: 'qs-town' },
    { id: 'qs-12', name: '12号', level: 'home', parent: 'qs' },
    { id: 'qs-12-bedroom', name: '卧室', level: 'room', parent: 'qs-12' },
    { id: 'qs-12-bed1', name: '1号床', level: 'bed', parent: 'qs-12-bedroom' },
    { id: 'ls', name: '绿水村', level: 'village', parent: 'qs-town' },
    { id: 'qs-12-kitchen', name: '厨房', level: 'room', parent: 'qs-12' },
    { id: 'ls-3', name: '3号', level: 'home', parent: 'ls' },
    { id: 'ls-3-room', name: '堂屋', level: 'room', parent: 'ls-3' },
  ]) await admin.post('/api/v1/sites', s);
  for (const u of [
    { name: 'op1', role: 'operator', password: PW, display_name: '张伟', sites: ['qs'] },
    { name: 'op2', role: 'operator', password: PW, display_name: '李强', sites: ['qs'] },
    { name: 'op3', role: 'operator', password: PW, display_name: '赵敏', sites: ['ls'] },
    { name: 'sup1', role: 'operator', password: PW, display_name: '王主管', supervisor: true, sites: ['qs'] },
  ]) await admin.post('/api/v1/users', u);
  await admin.post('/api/v1/residents', {
    id: 'r1', name: '王秀英', birth_year: 1941, sex: 'female', conditions: ['高血压', '听力差'], language: 'zh-CN', home: 'qs-12',
    contacts: [{ name: '李娜', phone: '13800000001', relation: '女儿' }, { name: '陈阿姨', phone: '13800000002', relation: '邻居' }],
  });
  await admin.post('/api/v1/residents', {
    id: 'r2', name: '马大爷', birth_year: 1938, language: 'zh-CN', home: 'ls-3',
    contacts: [{ name: '马军', phone: '13900000001', relation: '儿子' }, { name: '村医', phone: '13900000002', relation: '医生' }],
  });
  for (const d of [
    { id: 'btn-101', kind: 'call_button', site: 'qs-12-bed1', resident: 'r1', location: '床头左侧' },
    { id: 'btn-102', kind: 'call_button', site: 'qs-12-bedroom', resident: 'r1' },
    { id: 'smoke-101', kind: 'smoke_detector', site: 'qs-12-kitchen', resident: 'r1' },
    { id: 'btn-201', kind: 'call_button', site: 'ls-3-room', resident: 'r2' },
  ]) dev[d.id] = (await admin.post('/api/v1/devices', d)).password;
  browser = await launch();
});

after(async () => {
  for (const s of subs) s.stop();
  await browser?.close();
});

let first; // the alarm of the first press

test('a press appears within 1 s on every console that serves the village, and only there', async () => {
  const op1 = await login('op1');
  const op2 = await login('op2');
  const op3 = await login('op3');
  const cmd = subscribe({ id: 'btn-101', password: dev['btn-101'], topic: 'anxin/v1/btn-101/cmd' });
  subs.push(cmd);
  await new Promise((r) => setTimeout(r, 300)); // mosquitto_sub subscribes before the press
  first = await press('btn-101');
  for (const page of [op1, op2]) {
    await row(page, first.id).waitFor({ timeout: 3000 });
    const seen = await page.evaluate((id) => window.seenAt[id], first.id);
    const delay = seen - Date.parse(first.raised_at);
    console.log(`press → queue row: ${delay} ms`);
    assert.ok(delay < 1000, `the alarm appeared ${delay} ms after it was raised`);
  }
  const text = await row(op1, first.id).innerText();
  for (const want of ['P1', '青山村', '12号', '卧室', '1号床', '王秀英', '待处理']) assert.ok(text.includes(want), `row shows ${want}: ${text}`);

  // The other village's operator: a later alarm of their own arrives, the first never did.
  const theirs = await press('btn-201');
  await row(op3, theirs.id).waitFor({ timeout: 3000 });
  assert.equal(await row(op3, first.id).count(), 0, 'op3 (绿水村) sees 青山村\'s alarm');
  assert.equal(await row(op1, theirs.id).count(), 0, 'op1 (青山村) sees 绿水村\'s alarm');
  const op3api = await Client.login('op3', PW);
  await assert.rejects(op3api.get('/api/v1/alarms/' + first.id), /404/);

  // The tone: an unacknowledged P1 is sounding.
  const audio = await waitFor(async () => {
    const s = await op1.evaluate(() => window.anxin.audio());
    return s.playing && s.state === 'running' && s;
  }, 'the alarm tone', 3000);
  console.log(`audio: ${JSON.stringify(audio)}`);
  // Nobody is on duty at 青山村: the console says loudly that the first step reached nobody.
  await op1.waitForSelector(`.nobody-banner[data-alarm="${first.id}"]`, { timeout: 5000 });
  assert.ok((await row(op1, first.id).innerText()).includes('无人接收'));
  // Why, in the operator's language: the gateway's reason words translated.
  const why = await op1.innerText(`.nobody-banner[data-alarm="${first.id}"] .reason`);
  assert.match(why, /无人值班/, `the reason in Chinese: ${why}`);
  assert.doesNotMatch(why, /nobody on duty|operators|next_level/, `no English left in the reason: ${why}`);
  await shot(op1, 'queue');
  assert.deepEqual(await lowContrast(op1), [], 'text under WCAG AA contrast');
  // Mute is for a short time and shown on screen; m again ends it.
  await op1.keyboard.press('m');
  await waitFor(async () => !(await op1.evaluate(() => window.anxin.audio().playing)), 'muted', 2000);
  assert.equal(await op1.getAttribute('#mute', 'aria-pressed'), 'true');
  assert.match(await op1.innerText('#mute'), /已静音，剩 1[12]\d 秒/);
  await op1.keyboard.press('m');
  await waitFor(async () => op1.evaluate(() => window.anxin.audio().playing), 'the tone again', 2000);

  // Acknowledge from the keyboard: j selects the first row, a takes it.
  await op1.keyboard.press('j');
  await op1.keyboard.press('a');
  await waitFor(() => cmd.messages.some((m) => m.alarm === first.id && m.state === 'acknowledged'), 'the device hears acknowledged', 5000);
  // The second operator's screen follows without a reload.
  await waitFor(async () => (await row(op2, first.id).innerText()).includes('已接警'), 'op2 sees it acknowledged', 3000);
  assert.ok((await row(op2, first.id).innerText()).includes('op1'), 'op2 sees who has it');
  await waitFor(async () => !(await op1.evaluate(() => window.anxin.audio().playing)), 'the tone stops once acknowledged', 3000);
});

test('dispatch and resolve with an outcome: the timeline shows all, and the device heard it', async () => {
  const op1 = pages.op1;
  await op1.goto(env.url + '/#/alarm/' + first.id);
  await op1.waitForSelector('#dispatch-form');
  assert.ok((await op1.innerText('.resident')).includes('13800000001'), 'the resident card has the daughter\'s number');
  assert.equal(await op1.getAttribute('.resident a.tel', 'href'), 'tel:13800000001');
  await op1.fill('#dispatch-to', '村医张医生');
  await op1.click('#dispatch-form button[type=submit]');
  await waitFor(async () => (await op1.innerText('.detail-head')).includes('村医张医生'), 'the detail says who is going', 3000);
  await shot(op1, 'detail');
  assert.deepEqual(await lowContrast(op1), [], 'text under WCAG AA contrast');
  const told = await op1.innerText('#detail .told');
  assert.ok(told.includes('已收到报警') && told.includes('有人接警'), `what the device was told:\n${told}`);
  await op1.selectOption('#resolve-outcome', 'assisted');
  await op1.fill('#resolve-note', '扶起，无外伤');
  await op1.click('#resolve-form button[type=submit]');
  const tl = await waitFor(async () => {
    const s = await op1.innerText('#timeline');
    return s.includes('结案') && s;
  }, 'the timeline shows the resolution', 3000);
  for (const want of ['报警', '接警', '派人', '村医张医生', '结案', '扶起，无外伤']) assert.ok(tl.includes(want), `timeline has ${want}:\n${tl}`);
  await shot(op1, 'detail-resolved');
  const cmd = subs[0];
  await waitFor(() => cmd.messages.some((m) => m.alarm === first.id && m.state === 'resolved'), 'the device hears resolved', 5000);
  await waitFor(async () => (await row(pages.op2, first.id).count()) === 0, 'the closed alarm leaves op2\'s queue', 3000);
});

test('a supervisor\'s response plan is what the operator sees first on the smoke alarm', async () => {
  const sup = await login('sup1');
  await sup.goto(env.url + '/#/residents/r1');
  await sup.waitForSelector('#plan-editor');
  await sup.selectOption('#plan-new-key', 'smoke');
  await sup.click('#plan-add-key');
  await sup.fill('fieldset[data-key=smoke] li:nth-child(1) .plan-do', '拨打119，说明青山村12号');
  await sup.fill('fieldset[data-key=smoke] li:nth-child(1) .plan-phone', '119');
  await sup.click('fieldset[data-key=smoke] .add-step');
  await sup.fill('fieldset[data-key=smoke] li:nth-child(2) .plan-do', '打给女儿李娜；钥匙在14号邻居家');
  await sup.fill('fieldset[data-key=smoke] li:nth-child(2) .plan-phone', '13800000001');
  await sup.click('#plan-save');
  await waitFor(async () => (await admin.get('/api/v1/residents/r1')).plan?.smoke?.length === 2, 'the plan is stored', 3000)
    .catch(async (err) => { await shot(sup, 'plan-editor'); throw new Error(`${err.message}; the page says: ${await sup.innerText('#toast')}`); });
  await shot(sup, 'plan-editor');

  const op1 = pages.op1;
  await op1.goto(env.url + '/#/queue');
  const smoke = await press('smoke-101', { kind: 'smoke_detector', type: 'smoke.alarm' });
  await row(op1, smoke.id).click();
  await op1.waitForSelector('#detail .plan li');
  const order = await op1.$$eval('#detail > section', (s) => s.map((x) => x.className));
  const firstSection = order.find((c) => c !== 'nobody-box');
  assert.equal(firstSection, 'plan', `the plan comes first: ${order.join(', ')}`);
  const plan = await op1.innerText('#detail .plan');
  assert.ok(plan.indexOf('拨打119') < plan.indexOf('李娜'), plan);
  assert.equal(await op1.getAttribute('#detail .plan a.tel', 'href'), 'tel:119');
  await shot(op1, 'detail-plan');
  await admin.post(`/api/v1/alarms/${smoke.id}/resolve`, { outcome: 'test', note: 'e2e' });
});

test('the feed drops and comes back: banner at once, every change made meanwhile, no reload', async () => {
  const op1 = pages.op1;
  await op1.goto(env.url + '/#/queue');
  await op1.waitForSelector('#feed-state[data-state=up]');
  const a = await press('btn-101');
  const b = await press('btn-102');
  await row(op1, b.id).waitFor();
  await op1.evaluate(() => { window.notReloaded = true; });

  await gatewayControl('stop');
  await op1.waitForSelector('#feed-banner', { state: 'visible', timeout: 3000 });
  await shot(op1, 'feed-lost');
  await gatewayControl('start');
  // Changes while the console is still reconnecting.
  await admin.post(`/api/v1/alarms/${a.id}/ack`, {});
  await admin.post(`/api/v1/alarms/${b.id}/resolve`, { outcome: 'false_alarm' });
  const c = await press('btn-201'); // another village: not for op1
  const d = await press('btn-102');
  await op1.waitForSelector('#feed-banner', { state: 'hidden', timeout: 10000 });
  await waitFor(async () => (await row(op1, a.id).innerText()).includes('已接警'), 'the acknowledgement made meanwhile', 5000);
  await waitFor(async () => (await row(op1, b.id).count()) === 0, 'the resolution made meanwhile', 5000);
  await row(op1, d.id).waitFor({ timeout: 5000 });
  assert.equal(await row(op1, c.id).count(), 0);
  // And the live feed works again.
  await admin.post(`/api/v1/alarms/${d.id}/ack`, {});
  await waitFor(async () => (await row(op1, d.id).innerText()).includes('已接警'), 'a live change after the return', 3000);
  assert.equal(await op1.evaluate(() => window.notReloaded), true, 'the page was reloaded');
  for (const x of [a, d]) await admin.post(`/api/v1/alarms/${x.id}/resolve`, { outcome: 'test' });
  await admin.post(`/api/v1/alarms/${c.id}/resolve`, { outcome: 'test' });
});

test('the duty page: checking in clears the warning that my village has nobody', async () => {
  const op1 = pages.op1;
  await op1.goto(env.url + '/#/duty');
  await op1.waitForSelector('#duty-banner', { state: 'visible' });
  await op1.click('button[data-site=qs]');
  await op1.waitForSelector('#duty-banner', { state: 'hidden', timeout: 5000 });
  assert.ok((await op1.innerText('table.duty')).includes('张伟') || (await op1.innerText('table.duty')).includes('op1'));
  await shot(op1, 'duty');
  assert.deepEqual(await lowContrast(op1), [], 'text under WCAG AA contrast');
  await op1.click('button[data-site=qs]');
  await op1.waitForSelector('#duty-banner', { state: 'visible', timeout: 5000 });
});

test('devices, residents and a phone-sized screen', async () => {
  const op1 = pages.op1;
  await op1.goto(env.url + '/#/devices');
  await op1.waitForSelector('table.devices tbody tr');
  await op1.selectOption('#dev-health', 'offline');
  await op1.waitForSelector('table.devices tbody tr');
  assert.ok((await op1.innerText('table.devices')).includes('smoke-101'));
  await shot(op1, 'devices');
  assert.deepEqual(await lowContrast(op1), [], 'text under WCAG AA contrast');
  await op1.goto(env.url + '/#/residents');
  await op1.waitForSelector('table.residents tbody tr');
  assert.ok((await op1.innerText('table.residents')).includes('王秀英'));
  assert.equal(await op1.locator('table.residents').innerText().then((x) => x.includes('马大爷')), false, 'another village\'s resident');
  // The walk-test view: an admin (or installer) starts one; the filter shows it.
  const adm = await login(env.admin);
  await adm.goto(env.url + '/#/devices');
  await adm.waitForSelector('table.devices tbody tr');
  await adm.locator('table.devices tr', { hasText: 'smoke-101' }).getByRole('button').click();
  await adm.selectOption('#dev-health', 'test');
  await waitFor(async () => {
    const text = await adm.innerText('table.devices tbody');
    return text.includes('smoke-101') && !text.includes('btn-101') && text.includes('测试至');
  }, 'smoke-101 in walk test', 5000).catch(async (err) => { await shot(adm, 'walk-test'); throw new Error(`${err.message}; the page says: ${await adm.innerText('#toast')}`); });
  await shot(adm, 'walk-test');
  await adm.context().close();
  const phone = await login('op2', { viewport: { width: 390, height: 844 } });
  const a = await press('btn-102');
  await row(phone, a.id).click();
  await phone.waitForSelector('#detail .plan');
  await shot(phone, 'phone-detail');
  const box = await phone.locator('#act-ack').boundingBox();
  assert.ok(box.height >= 44 && box.width >= 44, `touch target ${box.width}×${box.height}`);
  await phone.click('#act-ack');
  await admin.post(`/api/v1/alarms/${a.id}/resolve`, { outcome: 'test' });
});

test('a Chinese browser gets Chinese, any other English', async () => {
  for (const [locale, lang, button] of [['zh-CN', 'zh-CN', '登录'], ['zh-TW', 'zh-CN', '登录'], ['en-US', 'en', 'Log in'], ['fr-FR', 'en', 'Log in']]) {
    const ctx = await browser.newContext({ locale });
    const page = await ctx.newPage();
    await page.goto(env.url + '/login');
    await page.waitForFunction((b) => document.querySelector('[data-i18n="login.submit"]').textContent === b, button);
    assert.equal(await page.getAttribute('html', 'lang'), lang, locale);
    await ctx.close();
  }
});

test('switching to English and back changes every visible label', async () => {
  const op1 = pages.op1;
  const a = await press('btn-101');
  await op1.goto(env.url + '/#/alarm/' + a.id);
  await op1.waitForSelector('#dispatch-form');
  const cat = {};
  for (const l of ['zh-CN', 'en']) cat[l] = await (await fetch(`${env.url}/static/i18n/console.${l}.json`)).json();
  const labels = () => op1.$$eval('[data-i18n]', (els) => els.filter((e) => e.checkVisibility()).map((e) => [e.dataset.i18n, e.textContent]));
  const check = async (lang) => {
    const got = await labels();
    assert.ok(got.length > 25, `only ${got.length} visible labels`);
    for (const [k, text] of got) assert.equal(text, cat[lang][k], `${lang}: ${k}`);
    return got.length;
  };
  await check('zh-CN');
  // Let the first step fire (2 s) so that the row holds still but for its age.
  await waitFor(async () => (await row(op1, a.id).innerText()).includes('无人接收'), 'the first step', 10000);
  const noAge = (s) => s.replace(/\d+:\d\d/g, '');
  const zhRow = noAge(await row(op1, a.id).innerText());
  await op1.click('#lang-toggle');
  await op1.waitForSelector('html[lang=en]');
  const n = await check('en');
  const enRow = await row(op1, a.id).innerText();
  assert.ok(enRow.includes('New') && enRow.includes('Call button'), enRow);
  assert.ok(!/[\u4e00-\u9fff]/.test(await op1.innerText('#detail .forms')), 'Chinese left in the forms');
  for (const sel of ['header.top nav', '#mute', '#feed-state', '.queue-head', '.queue-cols', '#detail .plan h3', '#detail .facts .state']) {
    assert.ok(!/[\u4e00-\u9fff]/.test(await op1.innerText(sel)), `Chinese left in ${sel}: ${await op1.innerText(sel)}`);
  }
  await shot(op1, 'detail-en');
  assert.deepEqual(await lowContrast(op1), [], 'text under WCAG AA contrast');
  await op1.click('#lang-toggle');
  await op1.waitForSelector('html[lang=zh-CN]');
  await check('zh-CN');
  assert.equal(noAge(await row(op1, a.id).innerText()), zhRow);
  console.log(`language switch: ${n} visible labels checked both ways`);
  await admin.post(`/api/v1/alarms/${a.id}/resolve`, { outcome: 'test' });
});

test('1,000 open alarms: an update is applied in under 100 ms', async () => {
  const csv = join(stateDir, 'load.csv');
  const out = await run(env.firmwareSim, ['provision', '--api', env.url, '--token', admin.token, '--count', '1000', '--id-prefix', 'load-'], { timeout: 120000 });
  writeFileSync(csv, out.split('\n').filter((l) => /^load-/.test(l)).join('\n') + '\n');
  assert.equal(readFileSync(csv, 'utf8').trim().split('\n').length, 1000);
  const adminPage = await login(env.admin);
  const t0 = Date.now();
  console.log(`provisioned 1000 devices`);
  await run(env.firmwareSim, ['bench', '--devices-file', csv, '--broker', broker, '--rate', '250', '--duration', '4s',
    '--state-dir', stateDir], { timeout: 120000 }).catch((err) => console.log(err.message.slice(0, 400)));
  console.log(`bench done after ${Date.now() - t0} ms`);
  const n = await waitFor(async () => {
    const c = await adminPage.evaluate(() => window.anxin.count());
    return c >= 1000 && c;
  }, '1,000 rows in the queue', 30000);
  console.log(`queue holds ${n} open alarms ${Date.now() - t0} ms after the bench started`);
  await shot(adminPage, 'queue-1000');
  const open = (await admin.get('/api/v1/alarms?state=open&limit=10000')).alarms.filter((x) => x.device.startsWith('load-'));
  const frame = () => adminPage.evaluate(() => new Promise((r) => { const t = performance.now(); requestAnimationFrame(() => setTimeout(() => r(performance.now() - t), 0)); }));
  const idle = [];
  for (let i = 0; i < 5; i++) idle.push(Math.round(await frame()));
  console.log(`a frame with 1000 rows and nothing changed: ${idle.join(', ')} ms`);
  // Only the updates below count, not the flood that filled the queue.
  const before = await adminPage.evaluate(() => { window.anxin.perf.maxMs = 0; window.anxin.measureLayout = true; return { ...window.anxin.perf }; });
  const e2e = [];
  for (const x of open.slice(0, 20)) {
    const sent = Date.now();
    await admin.post(`/api/v1/alarms/${x.id}/ack`, {});
    await waitFor(async () => (await row(adminPage, x.id).innerText()).includes('已接警'), 'the row updated', 3000);
    e2e.push(Date.now() - sent);
  }
  const perf = await adminPage.evaluate(() => ({ ...window.anxin.perf }));
  const acked = new Set(open.slice(0, 20).map((x) => x.id));
  const mine = perf.log.filter((x) => acked.has(x.id) && x.state === 'acknowledged');
  const ms = mine.map((x) => x.ms).sort((p, q) => p - q);
  const script = mine.map((x) => x.script).sort((p, q) => p - q);
  e2e.sort((p, q) => p - q);
  console.log(`1000 open alarms: ${mine.length} acknowledgements applied, frame received → drawn: median ${ms[Math.floor(ms.length / 2)].toFixed(1)} ms, max ${ms.at(-1).toFixed(1)} ms ; script, style and layout: median ${script[Math.floor(script.length / 2)].toFixed(1)} ms, max ${script.at(-1).toFixed(1)} ms; ` +
    `every frame meanwhile (${perf.applied - before.applied}, escalations included): max ${perf.maxMs.toFixed(1)} ms; API call → row changed seen by the test: median ${e2e[10]} ms, max ${e2e[19]} ms`);
  // Every row changed (waited for above). An acknowledgement that reached
  // the page in a catch-up refetch (the stream of a flooded page may be
  // dropped and resumed, see README) is applied without a timed frame, so
  // most, not all, are timed.
  assert.ok(mine.length >= 15, `only ${mine.length} of 20 acknowledgements applied by a timed frame`);
  // Applied: the change is in the DOM and laid out. The time to the next
  // drawn frame is printed too; on a loaded shared machine it measures the
  // machine more than the page, so it is not asserted.
  assert.ok(script.at(-1) < 100, `an update took ${script.at(-1)} ms to apply and lay out`);
});
