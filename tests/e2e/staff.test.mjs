// End to end in headless Chromium: a mail is piped in, an agent signs in,
// finds it in the queue, opens it, replies with an attachment, adds an
// internal note, assigns and closes it. Screenshots go to artifacts/.
//
//   cargo build && (cd tests/e2e && npm install && node --test)
//
// OXIDESK_BIN picks the binary (default: target/debug/oxidesk).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const bin = process.env.OXIDESK_BIN || join(root, 'target/debug/oxidesk');
const artifacts = join(here, 'artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

const AGENT = { email: 'agent@e2e.test', name: 'Ava Agent', password: 'e2e password 12345' };
const OTHER = { email: 'other@e2e.test', name: 'Omar Other', password: 'e2e password 67890' };

let work, db, port, base, server, serverLog = '', context, page;

function run(args, input) {
  const r = spawnSync(bin, ['--db', db, ...args], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`oxidesk ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
  });
}

async function waitHealthy(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { const r = await fetch(url); if (r.ok) return await r.json(); } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not become healthy; log:\n${serverLog}`);
}

// Run `action` (a form post) and wait until the page it leads to has loaded;
// the URL alone cannot tell, as the post redirects back to the same page.
async function navigating(action) {
  await Promise.all([page.waitForEvent('framenavigated'), action()]);
  await page.waitForLoadState('load');
}

async function shot(name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

before(async () => {
  assert.ok(existsSync(bin), `build the binary first: ${bin}`);
  assert.ok(existsSync(chromiumPath), `install chromium: ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'oxidesk-e2e-'));
  db = join(work, 'desk.db');

  const mail = [
    'From: Leyla Customer <leyla@example.com>',
    'To: support@helpdesk.test',
    'Subject: Website down — سایت کار نمی‌کند',
    'Message-ID: <e2e-1@example.com>',
    'Date: Mon, 23 Nov 2026 08:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Hello, my website shows an error 500 since this morning.',
    'سلام، وب‌سایت من از صبح خطا می‌دهد.',
    '',
  ].join('\r\n');
  run(['pipe'], mail);
  run(['pipe'], [
    'From: Bruno Buyer <bruno@example.net>',
    'To: support@helpdesk.test',
    'Subject: Invoice question',
    'Message-ID: <e2e-2@example.net>',
    'Date: Mon, 23 Nov 2026 08:05:00 +0000',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Why was I billed twice?',
    '',
  ].join('\r\n'));
  run(['staff', 'add', AGENT.email, '--name', AGENT.name, '--all-departments', '--password-stdin'], AGENT.password + '\n');
  run(['staff', 'add', OTHER.email, '--name', OTHER.name, '--all-departments', '--password-stdin'], OTHER.password + '\n');

  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['--db', db, 'serve'], {
    env: { ...process.env, OXIDESK_LISTEN: `127.0.0.1:${port}`, OXIDESK_LOG: 'warn' },
    cwd: work,
  });
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });
  const health = await waitHealthy(`${base}/healthz`, 15000);
  assert.equal(health.database, 'ok');

  context = await chromium.launchPersistentContext(join(work, 'chromium-profile'), {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => { throw new Error(`script error on the page: ${e.message}`); });
});

after(async () => {
  if (context) await context.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((ok) => server.on('exit', (code, signal) => ok({ code, signal })));
    server.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, `serve did not stop cleanly on SIGTERM; log:\n${serverLog}`);
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test('an agent works a piped-in ticket from queue to closed', async () => {
  // Signed out: the queue sends us to the sign-in page.
  await page.goto(`${base}/queues/open`);
  assert.match(page.url(), /\/login\?next=/);
  await shot('01-login');
  await page.fill('input[name=email]', AGENT.email);
  await page.fill('input[name=password]', 'not the password');
  await page.click('button[type=submit]');
  assert.match(await page.textContent('.flash.error'), /not right/);
  await page.fill('input[name=password]', AGENT.password);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/queues\/open$/);

  // The queue lists the piped mail, with RTL-safe subject rendering.
  const row = page.locator('table[data-queue] tbody tr', { hasText: 'Website down' });
  await row.waitFor();
  assert.equal(await row.locator('.subject a').getAttribute('dir'), 'auto');
  assert.match(await row.textContent(), /Leyla Customer/);
  assert.match(await page.locator('.side a.current').textContent(), /Open\s+2/);
  await shot('02-queue');

  // Keyboard: j/j/k moves through the rows, Enter opens; on a ticket, j/k
  // walk the same queue (newest first: the invoice mail, then ours).
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.keyboard.press('k');
  await page.keyboard.press('j');
  assert.match(await page.locator('tr.kbd').textContent(), /Website down/);
  await Promise.all([page.waitForURL(/\/tickets\/\d+$/), page.keyboard.press('Enter')]);
  const ticketUrl = page.url();
  await Promise.all([page.waitForEvent('framenavigated'), page.keyboard.press('k')]);
  assert.match(await page.textContent('h1'), /Invoice question/);
  await Promise.all([page.waitForURL(ticketUrl), page.keyboard.press('j')]);

  // The thread shows the customer's message, in Persian too.
  assert.match(await page.textContent('.entry.kind-message .body'), /error 500/);
  assert.match(await page.textContent('.entry.kind-message .body'), /سلام/);
  assert.match(await page.textContent('.customer'), /leyla@example.com/);
  await shot('03-ticket');

  // Reply with an attachment.
  const file = join(work, 'steps.txt');
  writeFileSync(file, 'Restart PHP-FPM, then clear the cache.\n');
  await page.fill('[data-reply-body]', 'We restarted the service; the steps are attached.');
  await page.setInputFiles('form[data-pane=reply] input[type=file]', file);
  await navigating(() => page.click('form[data-pane=reply] button[type=submit]'));
  const response = page.locator('.entry.kind-response');
  assert.match(await response.textContent(), /We restarted the service/);
  assert.match(await response.locator('.attachments').textContent(), /steps\.txt/);
  assert.match(await page.textContent('.pagehead .status'), /Answered/);
  await shot('04-replied');

  // The attachment downloads with its name.
  const href = await response.locator('.attachments a').getAttribute('href');
  const dl = await page.request.get(`${base}${href}`);
  assert.equal(dl.status(), 200);
  assert.match(dl.headers()['content-disposition'], /^attachment; filename="steps.txt"/);
  assert.equal(dl.headers()['x-content-type-options'], 'nosniff');
  assert.equal(await dl.text(), 'Restart PHP-FPM, then clear the cache.\n');

  // An internal note, visibly different.
  await page.click('[data-tab=note]');
  await page.fill('form[data-pane=note] textarea', 'Customer is on the old PHP version; upgrade next week.');
  await navigating(() => page.click('form[data-pane=note] button[type=submit]'));
  const note = page.locator('.entry.kind-note');
  assert.match(await note.textContent(), /old PHP version/);
  assert.match(await note.locator('.icon').getAttribute('class'), /i-lock/);
  await shot('05-note');

  // Assign to a colleague (the select saves on change).
  const assign = page.locator('form[action$="/assign"] select');
  await navigating(() => assign.selectOption({ label: OTHER.name }));
  assert.equal(await page.locator('form[action$="/assign"] select option:checked').textContent(), OTHER.name);
  assert.match(await page.textContent('.history'), /assigned/);

  // Close it.
  const status = page.locator('form[action$="/status"] select');
  await navigating(() => status.selectOption({ label: 'Closed' }));
  assert.match(await page.textContent('.pagehead .status'), /Closed/);
  assert.match(await page.textContent('.history'), /changed the status \(Answered → Closed\)/);
  await shot('06-closed');

  // It left Open and shows under Closed; search finds it with a highlight.
  await page.goto(`${base}/queues/open`);
  assert.equal(await page.locator('table[data-queue] tbody tr', { hasText: 'Website down' }).count(), 0);
  await page.goto(`${base}/queues/closed`);
  await page.locator('table[data-queue] tbody tr', { hasText: 'Website down' }).waitFor();
  await page.goto(`${base}/search?q=restarted`);
  assert.match(await page.locator('.hits mark').first().textContent(), /restarted/i);
  await shot('07-search');

  // Phone-sized layout still works.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto(ticketUrl);
  await shot('08-phone');
});
