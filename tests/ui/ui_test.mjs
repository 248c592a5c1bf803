// Browser tests of epochd's web UI: a real epochd (started here, SQLite
// store, basic auth with a READ_WRITE and a READ_ONLY user) and headless
// Debian Chromium driven by playwright-core.
//   node ui_test.mjs <epochd binary> <screenshot dir>
// Walks what a user does: create a topology through the form (the cron
// preview updating as they type), watch it fire, run it now, read the run's
// log, pause, edit the cron, a bad cron answered by the server's message
// next to the field, delete; a read-only user sees no write controls; the
// pages on a phone-sized screen. Screenshots go to <screenshot dir>.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [epochd, shots] = process.argv.slice(2);
if (!epochd || !shots) {
  console.error('usage: node ui_test.mjs <epochd binary> <screenshot dir>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'epoch-ui-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const daemon = spawn(epochd, [
  '--port', String(port), '--store', 'sqlite', '--sqlite-path', join(work, 'epoch.db'),
  '--work-dir', join(work, 'tasks'), '--auth', 'basic',
  '--auth-users', 'admin:admin-pw:READ_WRITE,guest:guest-pw:READ_ONLY', '--log-level', 'warn',
  // The form creates PROCESS tasks: the operator lets READ_WRITE run code here.
  '--host-exec-role', 'READ_WRITE',
], { stdio: ['ignore', 'inherit', 'inherit'] });
const basic = (u, p) => 'Basic ' + Buffer.from(u + ':' + p).toString('base64');
const adminApi = async (method, path, body) => {
  const res = await fetch(base + path, {
    method, body: body && JSON.stringify(body),
    headers: { Authorization: basic('admin', 'admin-pw'), 'Content-Type': 'application/json' },
  });
  return { status: res.status, json: await res.json().catch(() => null) };
};
// Epoch answers a topology that does not exist with 200 and status FAILED.
const exists = async (id) => (await adminApi('GET', '/apis/v1/topologies/' + id)).json.status === 'SUCCESS';
// Waits until the epochd at `url` answers its health check (10 s at most).
const waitHealthy = async (url) => {
  for (let i = 0; ; ++i) {
    try { if ((await fetch(url + '/healthcheck')).ok) return; } catch (e) { /* not yet */ }
    if (i > 200) throw new Error('epochd at ' + url + ' did not start');
    await sleep(50);
  }
};
await waitHealthy(base);

const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
let failed = false;
const step = async (name, fn) => {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed = true;
    console.log(`FAIL ${name}: ${e.stack || e}`);
    throw e;
  }
};

try {
  const admin = await browser.newContext({ httpCredentials: { username: 'admin', password: 'admin-pw' }, viewport: { width: 1366, height: 900 } });
  const page = await admin.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await step('the topologies page loads with write controls for READ_WRITE', async () => {
    await page.goto(base + '/');
    await page.getByRole('heading', { name: 'Topologies' }).waitFor();
    await page.getByRole('button', { name: 'New topology' }).waitFor();
    assert.match(await page.locator('#who').textContent(), /admin · read write/);
  });

  await step('the cron field previews the next 5 fire times, in words, as one types', async () => {
    await page.getByRole('button', { name: 'New topology' }).click();
    const dialog = page.getByRole('dialog', { name: 'New topology' });
    await dialog.waitFor();
    await dialog.getByLabel('Name').fill('ui-hello');
    await dialog.getByLabel('Process (on the epochd host)').check();
    await dialog.getByLabel('Command').fill('/bin/sh');
    await dialog.getByLabel('Arguments, one per line').fill('-c\necho hello from epoch $EPOCH_RUN_ID; sleep 1');
    await dialog.getByLabel(/^Cron/).fill('0 0 12 ? * MON');
    await dialog.getByLabel('Time zone').fill('Asia/Kolkata');
    await page.locator('#cron-next li').nth(4).waitFor();
    assert.equal(await page.locator('#cron-next li').count(), 5);
    const words = await page.locator('#cron-description').textContent();
    assert.ok(words.length > 0);
    assert.match(await page.locator('#cron-preview').textContent(), /Asia\/Kolkata/);
    assert.match(await page.locator('#cron-next li').first().textContent(), /12:00:00/);
    await dialog.getByLabel(/^Cron/).fill('0/2 * * ? * *');
    await page.waitForFunction((w) => {
      const d = document.querySelector('#cron-description');
      return d && d.textContent !== w;
    }, words);
    await page.screenshot({ path: join(shots, 'create-form.png') });
  });

  await step('creating it through the form opens its page', async () => {
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(base + '/topologies/ui-hello');
    await page.locator('h1 .badge').waitFor();
    assert.equal(await page.locator('h1').textContent(), 'ui-hello Active');
  });

  await step('it fires on its schedule and the runs table shows it (auto-refresh)', async () => {
    await page.locator('#runs tbody tr', { hasText: 'Successful' }).first().waitFor({ timeout: 20000 });
    assert.match(await page.locator('#runs tbody tr').first().textContent(), /ESR-/);
    await page.locator('#chart svg rect').first().waitFor();
  });

  await step('run now: an instant run finishes, its log shows the output', async () => {
    await page.getByRole('button', { name: 'Run now' }).click();
    const row = page.locator('#runs tbody tr', { hasText: 'EIR-' }).filter({ hasText: 'Completed' });
    await row.first().waitFor({ timeout: 15000 });
    const runId = (await row.first().locator('code').textContent()).trim();
    await page.getByRole('button', { name: 'Show tasks of ' + runId }).click();
    const tasks = page.getByRole('table', { name: 'Tasks of ' + runId });
    await tasks.waitFor();
    await tasks.getByRole('button', { name: 'Log' }).click();
    const log = page.getByRole('dialog', { name: /Log of main/ });
    await log.waitFor();
    await page.waitForFunction((id) => document.querySelector('#log-text').textContent.includes('hello from epoch ' + id), runId);
    assert.match(await page.locator('#log-state').textContent(), /COMPLETED · complete/);
    await page.screenshot({ path: join(shots, 'run-log.png') });
    await log.getByRole('button', { name: 'Close' }).click();
    await page.screenshot({ path: join(shots, 'topology.png'), fullPage: true });
  });

  await step('pause asks first, then the topology is paused', async () => {
    await page.getByRole('button', { name: 'Pause' }).click();
    const confirm = page.getByRole('dialog', { name: 'Pause ui-hello?' });
    await confirm.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    assert.match(await page.locator('h1').textContent(), /Paused/);
    const t = await adminApi('GET', '/apis/v1/topologies/ui-hello');
    assert.equal(t.json.data.state, 'PAUSED');
  });

  await step('edit the cron: the preview follows, the change is saved', async () => {
    await page.getByRole('button', { name: 'Edit' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit ui-hello' });
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel(/^Cron/).inputValue(), '0/2 * * ? * *');
    assert.equal(await dialog.getByLabel('Command').inputValue(), '/bin/sh');
    await page.locator('#cron-next li').first().waitFor();
    const before = await page.locator('#cron-description').textContent();
    await dialog.getByLabel(/^Cron/).fill('0 30 9 ? * MON-FRI');
    await page.waitForFunction((w) => document.querySelector('#cron-description')?.textContent !== w, before);
    assert.match(await page.locator('#cron-next li').first().textContent(), /09:30:00/);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('dd code', { hasText: '0 30 9 ? * MON-FRI' }).waitFor();
    const t = await adminApi('GET', '/apis/v1/topologies/ui-hello');
    assert.equal(t.json.data.topology.trigger.timeSpec, '0 30 9 ? * MON-FRI');
    assert.equal(t.json.data.topology.task.args[1], 'echo hello from epoch $EPOCH_RUN_ID; sleep 1');
  });

  await step("a bad cron shows the server's message next to the field, and changes nothing", async () => {
    await page.getByRole('button', { name: 'Edit' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit ui-hello' });
    await dialog.getByLabel(/^Cron/).fill('0 * * ? *');
    await page.locator('#cron-problem').waitFor();
    await dialog.getByRole('button', { name: 'Save' }).click();
    const err = page.locator('.field-error[data-for="cron"]');
    await err.filter({ hasText: 'trigger.timeSpec' }).waitFor();
    assert.equal(await dialog.getByLabel(/^Cron/).getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('#cron-problem').textContent(), /expected 6 or 7 fields/);
    await page.screenshot({ path: join(shots, 'bad-cron.png') });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    const t = await adminApi('GET', '/apis/v1/topologies/ui-hello');
    assert.equal(t.json.data.topology.trigger.timeSpec, '0 30 9 ? * MON-FRI');
  });

  await step('a container task without an image is refused next to the image field', async () => {
    await page.goto(base + '/');
    await page.getByRole('button', { name: 'New topology' }).click();
    const dialog = page.getByRole('dialog', { name: 'New topology' });
    await dialog.getByLabel('Name').fill('no-image');
    await dialog.getByLabel(/^Cron/).fill('0 0 6 * * ?');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.locator('.field-error[data-for="image"]').filter({ hasText: /\S/ }).waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await exists('no-image'), false);
  });

  await step('delete asks first, then the topology is gone', async () => {
    await page.goto(base + '/topologies/ui-hello');
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete ui-hello?' }).getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(base + '/');
    await page.getByText('0 topologies').waitFor();
    assert.equal(await exists('ui-hello'), false);
  });

  await step('search, state filter and paging over 120 topologies', async () => {
    for (let i = 0; i < 120; ++i) {
      const name = 'bulk-' + String(i).padStart(3, '0');
      const r = await adminApi('POST', '/apis/v1/topologies', {
        name, task: { type: 'PROCESS', taskName: 'main', command: 'true', args: [] },
        trigger: { type: 'CRON', timeSpec: '0 0 3 1 1 ? 2099' },
      });
      assert.equal(r.status, 200);
    }
    await adminApi('PUT', '/apis/v1/topologies/bulk-007/pause');
    await page.goto(base + '/');
    await page.getByText('120 topologies').waitFor();
    assert.equal(await page.locator('#topologies tbody tr').count(), 25);
    assert.match(await page.locator('.pager').textContent(), /Page 1 of 5/);
    await page.getByRole('button', { name: 'Next' }).click();
    assert.match(await page.locator('#topologies tbody tr').first().textContent(), /bulk-025/);
    await page.getByLabel('Search').fill('bulk-11');
    assert.equal(await page.locator('#topologies tbody tr').count(), 10);
    await page.getByLabel('Search').fill('');
    await page.getByLabel('State').selectOption('PAUSED');
    assert.equal(await page.locator('#topologies tbody tr').count(), 1);
    assert.match(await page.locator('#topologies tbody tr').textContent(), /bulk-007/);
    await page.getByLabel('State').selectOption('');
    await page.screenshot({ path: join(shots, 'topologies.png'), fullPage: true });
  });

  assert.deepEqual(consoleErrors.filter((e) => !/401|404|400/.test(e)), []);

  await step('a read-only user sees no write controls', async () => {
    const guest = await browser.newContext({ httpCredentials: { username: 'guest', password: 'guest-pw' } });
    const g = await guest.newPage();
    await g.goto(base + '/');
    await g.getByText('120 topologies').waitFor();
    assert.match(await g.locator('#who').textContent(), /guest · read only/);
    assert.equal(await g.getByRole('button', { name: 'New topology' }).count(), 0);
    await g.goto(base + '/topologies/bulk-001');
    await g.getByRole('heading', { name: 'Runs' }).waitFor();
    for (const name of ['Run now', 'Pause', 'Resume', 'Edit', 'Delete']) {
      assert.equal(await g.getByRole('button', { name }).count(), 0, name + ' shown to a reader');
    }
    await g.screenshot({ path: join(shots, 'read-only.png'), fullPage: true });
    await guest.close();
  });

  await step('without credentials the page asks (401 with a Basic challenge)', async () => {
    const res = await fetch(base + '/');
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate'), /^Basic/);
  });

  await step('usable on a phone-sized screen', async () => {
    const phone = await browser.newContext({
      httpCredentials: { username: 'admin', password: 'admin-pw' }, viewport: { width: 390, height: 844 }, isMobile: true,
    });
    const p = await phone.newPage();
    await p.goto(base + '/');
    await p.getByText('120 topologies').waitFor();
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, 'the page scrolls sideways by ' + overflow + ' px');
    await p.screenshot({ path: join(shots, 'phone-topologies.png'), fullPage: true });
    await p.getByRole('button', { name: 'New topology' }).click();
    await p.screenshot({ path: join(shots, 'phone-form.png') });
    await phone.close();
  });

  await step('keyboard: the form opens with focus on its first field, Escape closes it', async () => {
    await page.goto(base + '/');
    await page.getByRole('button', { name: 'New topology' }).focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'f-name');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
  });

  await step('token mode: the app asks for a token, then works with its role', async () => {
    const secret = 'a-test-secret-of-at-least-32-bytes!!';
    writeFileSync(join(work, 'hs256'), secret);
    const tport = await freePort();
    const tdaemon = spawn(epochd, ['--port', String(tport), '--store', 'memory', '--auth', 'token',
      '--token-hs256-secret-file', join(work, 'hs256'), '--work-dir', join(work, 'tasks2'), '--log-level', 'warn'],
    { stdio: ['ignore', 'inherit', 'inherit'] });
    try {
      const tbase = `http://127.0.0.1:${tport}`;
      await waitHealthy(tbase);
      const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const unsigned = b64({ alg: 'HS256', typ: 'JWT' }) + '.' +
        b64({ sub: 'reader', role: 'READ_ONLY', exp: Math.floor(Date.now() / 1000) + 600 });
      const jwt = unsigned + '.' + createHmac('sha256', secret).update(unsigned).digest('base64url');
      const ctx = await browser.newContext();
      const t = await ctx.newPage();
      await t.goto(tbase + '/');
      const signIn = t.getByRole('dialog', { name: 'Sign in' });
      await signIn.waitFor();
      await t.screenshot({ path: join(shots, 'token-sign-in.png') });
      await signIn.getByLabel('Token').fill(jwt);
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await t.getByText('0 topologies').waitFor();
      assert.match(await t.locator('#who').textContent(), /reader · read only/);
      assert.equal(await t.getByRole('button', { name: 'New topology' }).count(), 0);
      await t.getByRole('button', { name: 'Sign out' }).waitFor();
      await ctx.close();
    } finally {
      tdaemon.kill('SIGTERM');
      await new Promise((r) => tdaemon.once('exit', r));
    }
  });
} catch (e) {
  failed = true;
} finally {
  await browser.close();
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
console.log(failed ? 'UI tests FAILED' : 'all UI tests passed; screenshots in ' + shots);
process.exit(failed ? 1 : 0);
