// The operator console in a real browser (issue 9's "Must show").
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, waitFor } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the login page logs the admin in', async () => {
  const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1366, height: 768 } });
  const page = await ctx.newPage();
  await page.goto(env.url + '/login');
  await page.fill('#login-user', env.admin);
  await page.fill('#login-password', env.adminPassword);
  await page.click('button[type=submit]');
  await page.waitForURL(env.url + '/');
  await waitFor(async () => (await page.textContent('#me')) === env.admin, 'the user name in the header');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  await ctx.close();
});
