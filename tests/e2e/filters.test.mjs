// End to end in headless Chromium: an admin builds a ticket filter with the
// dynamic condition/action rows, tries it on the test form, and a mail
// piped in afterwards is routed by it. Screenshots go to artifacts/.
//
//   cargo build && (cd tests/e2e && npm install && node --test filters.test.mjs)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
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

const ADMIN = { email: 'admin@filters.test', name: 'Ada Admin', password: 'filters e2e password 1' };

let work, db, port, base, server, serverLog = '', context, page;

function run(args, input) {
  const r = spawnSync(bin, ['--db', db, ...args], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`oxidesk ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
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
    try { const r = await fetch(url); if (r.ok) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not become healthy; log:\n${serverLog}`);
}

const mail = (from, id) => [
  `From: Gold Customer <${from}>`,
  'To: support@helpdesk.test',
  'X-Customer-Tier: gold',
  'Subject: Invoice 42 — صورتحساب',
  `Message-ID: <${id}>`,
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Please check invoice 42.',
  '',
].join('\r\n');

before(async () => {
  assert.ok(existsSync(bin), `build the binary first: ${bin}`);
  assert.ok(existsSync(chromiumPath), `install chromium: ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'oxidesk-e2e-filters-'));
  db = join(work, 'desk.db');
  run(['staff', 'add', ADMIN.email, '--name', ADMIN.name, '--admin', '--password-stdin'], ADMIN.password + '\n');

  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['--db', db, 'serve'], {
    env: { ...process.env, OXIDESK_LISTEN: `127.0.0.1:${port}`, OXIDESK_LOG: 'warn' },
    cwd: work,
  });
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });
  await waitHealthy(`${base}/healthz`, 15000);

  context = await chromium.launchPersistentContext(join(work, 'chromium-profile'), {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => { throw new Error(`script error on the page: ${e.message}`); });
});

after(async () => {
  if (context) await context.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((ok) => server.on('exit', (code) => ok(code)));
    server.kill('SIGTERM');
    await exited;
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test('an admin builds a filter with dynamic rows, tests it, and mail follows it', async () => {
  await page.goto(`${base}/login`);
  await page.fill('input[name=email]', ADMIN.email);
  await page.fill('input[name=password]', ADMIN.password);
  await page.click('button[type=submit]');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));

  await page.goto(`${base}/admin/filters/new`);
  const conds = page.locator('[data-rows=conditions] [data-row]');
  const acts = page.locator('[data-rows=actions] [data-row]');
  // With script, one empty row each (the no-script form has several).
  assert.equal(await conds.count(), 1);
  assert.equal(await acts.count(), 1);
  // The header name shows only for "Header"; the note only for notes.
  assert.equal(await conds.nth(0).locator('[data-header]').isVisible(), false);
  await page.fill('input[name=name]', 'Gold invoices');
  await conds.nth(0).locator('select[name=c_field]').selectOption('header');
  assert.equal(await conds.nth(0).locator('[data-header]').isVisible(), true);
  await conds.nth(0).locator('[data-header]').fill('X-Customer-Tier');
  await conds.nth(0).locator('select[name=c_op]').selectOption('equals');
  await conds.nth(0).locator('input[name=c_value]').fill('gold');

  await page.click('[data-add-row=conditions]');
  assert.equal(await conds.count(), 2);
  assert.equal(await conds.nth(1).locator('input[name=c_value]').inputValue(), '', 'a new row is empty');
  await conds.nth(1).locator('select[name=c_field]').selectOption('subject');
  await conds.nth(1).locator('select[name=c_op]').selectOption('regex');
  await conds.nth(1).locator('input[name=c_value]').fill('invoice \\d+');
  // A third row, removed again.
  await page.click('[data-add-row=conditions]');
  assert.equal(await conds.count(), 3);
  await conds.nth(2).locator('[data-remove-row]').click();
  assert.equal(await conds.count(), 2);

  await acts.nth(0).locator('select[name=a_action]').selectOption('set_priority:4');
  assert.equal(await acts.nth(0).locator('[data-note]').isVisible(), false);
  await page.click('[data-add-row=actions]');
  await acts.nth(1).locator('select[name=a_action]').selectOption('add_note:');
  assert.equal(await acts.nth(1).locator('[data-note]').isVisible(), true);
  await acts.nth(1).locator('[data-note]').fill('Gold customer: answer within the hour');
  await page.screenshot({ path: join(artifacts, 'filters-01-edit.png'), fullPage: true });
  await Promise.all([page.waitForURL(/\/admin\/filters\?done=created/), page.click('button.primary[type=submit]')]);

  const row = page.locator('tr', { hasText: 'Gold invoices' });
  assert.match(await row.textContent(), /Set priority: emergency/);
  assert.match(await row.textContent(), /answer within the hour/);
  await page.screenshot({ path: join(artifacts, 'filters-02-list.png'), fullPage: true });

  // The test form: paste the mail, see the filter apply, nothing created.
  await page.goto(`${base}/admin/filters/test`);
  await page.fill('textarea[name=raw]', mail('gold@customer.example', 'e2e-f1@customer.example'));
  await Promise.all([page.waitForLoadState('load'), page.click('form.card button.primary')]);
  await page.locator('[data-test-report]').waitFor();
  assert.equal(await page.locator('tr[data-verdict=applied]', { hasText: 'Gold invoices' }).count(), 1);
  await page.screenshot({ path: join(artifacts, 'filters-03-test.png'), fullPage: true });

  // Real mail follows the filter.
  const out = run(['pipe'], mail('gold@customer.example', 'e2e-f2@customer.example'));
  const number = (out.stderr.match(/new ticket #(\w+)/) || [])[1];
  assert.ok(number, out.stderr);
  const shown = JSON.parse(run(['ticket', 'show', number, '--json']).stdout);
  assert.equal(String(shown.priority ?? shown.ticket?.priority ?? '').toLowerCase(), 'emergency', JSON.stringify(shown).slice(0, 400));
});
