// End to end in headless Chromium: a customer opens a ticket on the portal
// with a Persian subject and an attachment and gets its number; an agent
// finds it in the queue, replies and adds an internal note; the customer
// follows the access link from the reply mail (read from the outbox with the
// oxidesk CLI), sees the reply but not the note, replies and closes the
// ticket; the portal in Persian is right-to-left. Screenshots go to
// artifacts/.
//
//   cargo build && (cd tests/e2e && npm install && node --test portal.test.mjs)
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
const CUSTOMER = { email: 'sara@customer.example', name: 'سارا رضایی' };
const SUBJECT = 'سرور من پاسخ نمی‌دهد';
const REPLY = 'We restarted your server; it answers again.';
const NOTE = 'INTERNAL-ONLY: customer is on the legacy plan';

let work, db, port, base, server, serverLog = '', browser, customer, staff;

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

// Run `action` (a form post) on `page` and wait until the page it leads to
// has loaded.
async function navigating(page, action) {
  await Promise.all([page.waitForEvent('framenavigated'), action()]);
  await page.waitForLoadState('load');
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

// The decoded text of a raw message: every part's body, with base64 and
// quoted-printable undone (parts split at the MIME boundary).
function decodeMail(raw) {
  const b = raw.match(/boundary="?([^";\r\n]+)"?/i);
  const parts = b ? raw.split(`--${b[1]}`) : [raw];
  return parts.map((part) => {
    const at = part.search(/\r?\n\r?\n/);
    if (at < 0) return '';
    const head = part.slice(0, at);
    const body = part.slice(at).trim();
    const enc = (head.match(/Content-Transfer-Encoding:\s*([\w-]+)/i) || [])[1]?.toLowerCase();
    if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (enc === 'quoted-printable') {
      const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    }
    return body;
  }).join('\n');
}

// The portal link in the newest queued mail of `kind` for ticket `number`.
function linkFromOutbox(kind, number) {
  const rows = JSON.parse(run(['outbox', 'list', '--json', '--limit', '200']));
  const row = rows.find((r) => r.kind === kind && r.subject.includes(`#${number}`));
  assert.ok(row, `a ${kind} mail for #${number} in ${JSON.stringify(rows.map((r) => [r.kind, r.subject]))}`);
  const raw = run(['outbox', 'show', String(row.id), '--raw']);
  const text = decodeMail(raw);
  const m = text.match(new RegExp(`https?://[^\\s"<>]*/portal/tickets/${number}\\?t=[A-Za-z0-9_.-]+`));
  assert.ok(m, `an access link in the ${kind} mail:\n${text}`);
  return m[0];
}

before(async () => {
  assert.ok(existsSync(bin), `build the binary first: ${bin}`);
  assert.ok(existsSync(chromiumPath), `install chromium: ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'oxidesk-e2e-portal-'));
  db = join(work, 'desk.db');
  run(['migrate']);
  run(['staff', 'add', AGENT.email, '--name', AGENT.name, '--all-departments', '--password-stdin'], AGENT.password + '\n');

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

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Customer and agent in separate browser profiles: no shared cookies.
  customer = await (await browser.newContext({ viewport: { width: 1100, height: 860 } })).newPage();
  staff = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  for (const p of [customer, staff]) {
    p.on('pageerror', (e) => { throw new Error(`script error on the page: ${e.message}`); });
  }
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((ok) => server.on('exit', (code, signal) => ok({ code, signal })));
    server.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, `serve did not stop cleanly on SIGTERM; log:\n${serverLog}`);
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a customer opens a ticket, follows it by link and never sees internal notes', async () => {
  // The customer opens a ticket with a Persian subject and a file.
  await customer.goto(`${base}/portal/open`);
  await customer.fill('#email', CUSTOMER.email);
  await customer.fill('#name', CUSTOMER.name);
  await customer.fill('#subject', SUBJECT);
  await customer.fill('#message', 'Since this morning the server does not answer. از صبح سرور پاسخ نمی‌دهد.');
  const file = join(work, 'error-log.txt');
  writeFileSync(file, 'HTTP 502 at 08:00\n');
  await customer.setInputFiles('#attachments', file);
  await shot(customer, 'portal-01-open');
  // The form refuses submissions faster than a person types.
  await customer.waitForTimeout(3200);
  await navigating(customer, () => customer.click('form[data-portal-open] button[type=submit]'));
  const shown = (await customer.textContent('.p-number strong')).trim();
  const number = shown.replace(/^#/, '');
  assert.match(number, /^\d+$/, `a ticket number, got ${shown}`);
  await shot(customer, 'portal-02-opened');

  // The agent finds it in the queue, replies and adds a note.
  await staff.goto(`${base}/login`);
  await staff.fill('input[name=email]', AGENT.email);
  await staff.fill('input[name=password]', AGENT.password);
  await navigating(staff, () => staff.click('button[type=submit]'));
  await staff.goto(`${base}/queues/open`);
  const row = staff.locator('table[data-queue] tbody tr', { hasText: SUBJECT });
  await row.waitFor();
  await navigating(staff, () => row.locator('.subject a').click());
  assert.match(await staff.textContent('.entry.kind-message'), /error-log\.txt/);
  await staff.fill('[data-reply-body]', REPLY);
  await navigating(staff, () => staff.click('form[data-pane=reply] button[type=submit]'));
  assert.match(await staff.textContent('.entry.kind-response'), /We restarted your server/);
  await staff.click('[data-tab=note]');
  await staff.fill('form[data-pane=note] textarea', NOTE);
  await navigating(staff, () => staff.click('form[data-pane=note] button[type=submit]'));
  assert.match(await staff.textContent('.entry.kind-note'), /INTERNAL-ONLY/);
  await shot(staff, 'portal-03-staff');

  // The customer follows the link from the reply mail in a fresh browser.
  const link = linkFromOutbox('response', number);
  const guest = await (await browser.newContext({ viewport: { width: 1100, height: 860 } })).newPage();
  await guest.goto(link);
  assert.match(guest.url(), new RegExp(`/portal/tickets/${number}$`),
    `the link ${link} leads to the ticket: ${await guest.textContent('main')}`);
  assert.equal((await guest.textContent('#ticket-subject')).trim(), SUBJECT);
  const thread = await guest.textContent('#thread');
  assert.match(thread, /We restarted your server/);
  assert.match(thread, /error-log\.txt/);
  assert.doesNotMatch(await guest.content(), /INTERNAL-ONLY/);
  assert.match(await guest.textContent('#ticket-status'), /Answered/);
  await shot(guest, 'portal-04-ticket');

  // The file downloads as an attachment.
  const href = await guest.locator('#thread a[href^="/portal/attachments/"]').first().getAttribute('href');
  const dl = await guest.request.get(`${base}${href}`);
  assert.equal(dl.status(), 200);
  assert.match(dl.headers()['content-disposition'], /^attachment; filename="error-log.txt"/);
  assert.equal(dl.headers()['x-content-type-options'], 'nosniff');

  // The customer answers, then closes the ticket.
  await guest.fill('#rp-body', 'Thank you, it works now. ممنون');
  await navigating(guest, () => guest.click('#reply-form button[type=submit]'));
  assert.match(await guest.textContent('#flash'), /your reply was added/);
  assert.match(await guest.textContent('#thread'), /ممنون/);
  await navigating(guest, () => guest.click('#close-form button[type=submit]'));
  assert.match(await guest.textContent('#ticket-status'), /Closed/);

  // Another ticket's number shows nothing to this visitor.
  const other = await guest.goto(`${base}/portal/tickets/999999`);
  assert.equal(other.status(), 404);

  // In Persian the portal is right-to-left.
  await guest.goto(`${base}/portal/tickets/${number}?lang=fa`);
  assert.equal(await guest.getAttribute('html', 'dir'), 'rtl');
  assert.equal(await guest.getAttribute('html', 'lang'), 'fa');
  assert.match(await guest.textContent('#ticket-status'), /بسته/);
  const align = await guest.evaluate(() => getComputedStyle(document.querySelector('h1')).direction);
  assert.equal(align, 'rtl');
  await shot(guest, 'portal-05-fa');
  await guest.goto(`${base}/portal/status`);
  assert.equal(await guest.getAttribute('html', 'dir'), 'rtl');
  await shot(guest, 'portal-06-status-fa');
});
