// admin_console.test.mjs - the access-request form (/access) and the admin
// console (/admin) in a real browser against a real server.
//
// Starts `ajar serve` on the fixture model with the built-in default policy
// (public: granted at once to any email; researcher: reviewed by an admin)
// and a fresh store in a temporary folder, reads the admin key the server
// writes to --admin-key-file, and goes through the life of a key as the
// people involved would: an applicant fills the form and accepts the
// license; the admin opens the console with the admin key and approves; the
// applicant picks the key up (once) and uses it; the admin revokes it and
// its next request is refused; the audit chain shows it all and verifies.
// Also: a denial with its reason, keys made and rotated in the console,
// refused admin keys, and server text that must stay text.
//
// The tests of this file run in order and share the server and the records
// made by the earlier ones.
//
// Environment: AJAR_BIN (default build/release/ajar), AJAR_FIXTURES
// (default ../shared/fixtures), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT_DIR (optional: where to save screenshots for a person to look at).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const AJAR = path.resolve(root, process.env.AJAR_BIN || 'build/release/ajar');
const FIXTURES = path.resolve(root, process.env.AJAR_FIXTURES || '../shared/fixtures');
const MODEL = path.join(FIXTURES, 'models', 'stories260K.gguf');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = process.env.SCREENSHOT_DIR || '';

// The flags a headless run needs here: no sandbox (root in a container), no
// GPU, and nothing that reaches outside the machine.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let tmp = '';
let server = null;
let serverLog = '';
let serverExit = null;
let base = '';
let browser = null;
let adminKey = '';
let adminKeyId = '';
let transparency = null;

// What the flow makes, for the tests after it.
const applicant = {
  name: 'Ada Lovelace',
  email: 'ada@example.edu',
  affiliation: 'Analytical Engine Society',
  intended_use: 'Studying how small story models\nfinish sentences.',
};
let applicantContext = null; // the browser of the applicant (keeps localStorage)
let applicantPage = null;
let requestId = '';
let requestToken = '';
let issuedKey = '';
let issuedKeyId = '';

function startServer(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(AJAR, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => reject(new Error('ajar serve did not print its address:\n' + serverLog)), 30000);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`ajar serve exited (${code}):\n${serverLog}`)); });
    proc.stderr.on('data', (d) => { serverLog += d; });
    proc.stdout.on('data', (d) => {
      serverLog += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(serverLog);
      if (m) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        resolve({ proc, url: `http://127.0.0.1:${m[1]}` });
      }
    });
  });
}

/** fetch(base + p) with an optional bearer key and JSON body; {status, json, headers}. */
async function call(method, p, { key, body } = {}) {
  const headers = {};
  if (key) headers['Authorization'] = 'Bearer ' + key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { json = null; }
  return { status: res.status, json, text, headers: res.headers };
}

async function admin(method, p, body) {
  const r = await call(method, p, { key: adminKey, body });
  assert.ok(r.status < 300, `${method} ${p} -> ${r.status} ${r.text}`);
  return r.json;
}

/** A fresh browser context and page watching for script errors and outside requests. */
async function openContext({ width = 1200, height = 900 } = {}) {
  assert.equal(serverExit, null, `ajar serve is gone (${serverExit}); its output:\n${serverLog}`);
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.__errors = [];
  page.__outside = [];
  page.on('pageerror', (e) => page.__errors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith(base)) page.__outside.push(r.url()); });
  return { context, page };
}

async function openAccess(page) {
  await page.goto(base + '/access');
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.getAttribute('#license-name', 'data-state'), 'ready');
}

/** Opens /admin and logs in with key; waits for the console (or the error banner). */
async function openAdmin(page, key = adminKey) {
  await page.goto(base + '/admin');
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill('#admin-key', key);
  await page.click('#login');
  await page.waitForSelector('#console:not([hidden]), #error:not([hidden])');
}

async function consoleReady(page) {
  await page.waitForSelector('#console:not([hidden])');
  await page.waitForSelector('#chain-status:not([data-state="unknown"])');
}

/** The visible texts of a table body's rows, cell by cell. */
async function tableRows(page, selector) {
  return page.$$eval(selector + ' > tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())));
}

async function unlabeled(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('input, textarea, select')]
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
      .map((e) => e.id || e.outerHTML.slice(0, 60)));
}

async function shot(page, name) {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true });
}

function row(id) { return `[data-testid="request-row"][data-id="${id}"]`; }
function keyRow(id) { return `[data-testid="key-row"][data-id="${id}"]`; }

before(async () => {
  assert.ok(existsSync(AJAR), `no ajar binary at ${AJAR} (set AJAR_BIN)`);
  assert.ok(existsSync(MODEL), `no fixture model at ${MODEL} (set AJAR_FIXTURES)`);
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ajar-admin-console-'));
  const keyFile = path.join(tmp, 'admin.key');
  const s = await startServer(['serve', '-m', MODEL, '--port', '0', '--parallel', '2', '--threads', '1', '--ctx', '512',
                               '--store', 'sqlite:' + path.join(tmp, 'store.db'), '--admin-key-file', keyFile]);
  server = s.proc;
  server.on('exit', (code, signal) => { serverExit = signal || `exit ${code}`; });
  base = s.url;
  adminKey = readFileSync(keyFile, 'utf8').trim();
  assert.match(adminKey, /^ajar_/);
  const keys = await admin('GET', '/admin/keys');
  assert.equal(keys.data.length, 1);
  adminKeyId = keys.data[0].id;
  assert.equal(keys.data[0].tier, 'admin');
  transparency = (await call('GET', '/v1/transparency')).json;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close();
  if (server && serverExit === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the access page shows the license and sends a researcher request', async () => {
  const { context, page } = await openContext();
  applicantContext = context;
  applicantPage = page;
  await openAccess(page);
  assert.equal(await page.title(), 'ajar: request access');

  // The texts in force, from /v1/transparency, shown as they are.
  assert.equal(await page.textContent('#license-name'), transparency.license.name);
  assert.equal(await page.textContent('#license-text'), transparency.license.text);
  assert.equal(await page.textContent('#license-sha256'), transparency.license.sha256);
  assert.equal(await page.textContent('#aup-text'), transparency.acceptable_use);
  // The policy's tiers but admin; the default tier chosen.
  const tiers = await page.$$eval('#tier option', (os) => os.map((o) => o.value));
  assert.deepEqual(tiers, ['public', 'researcher', 'partner']);
  assert.equal(await page.inputValue('#tier'), 'public');
  assert.match(await page.textContent('#tier-help'), /public: may use: chat; .*granted at once/);
  await page.selectOption('#tier', 'researcher');
  assert.match(await page.textContent('#tier-help'), /researcher: .*completions.*reviewed by the operator/);
  assert.deepEqual(await unlabeled(page), []);

  await page.fill('#name', applicant.name);
  await page.fill('#email', applicant.email);
  await page.fill('#affiliation', applicant.affiliation);
  await page.fill('#intended-use', applicant.intended_use);

  // Not without accepting the license: nothing is sent.
  let posted = 0;
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/v1/access/requests')) posted++; });
  await page.click('#submit-request');
  await page.waitForTimeout(300);
  assert.equal(posted, 0, 'no request without the license accepted');
  assert.equal(await page.isHidden('#request'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'accept-license');

  await page.check('#accept-license');
  const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/v1/access/requests'));
  await page.click('#submit-request');
  const body = JSON.parse((await sent).postData());
  assert.deepEqual(body, { ...applicant, tier: 'researcher', accept_license: true,
                           license_sha256: transparency.license.sha256 });
  await page.waitForSelector('#request:not([hidden])');
  requestId = await page.textContent('#request-id');
  requestToken = await page.textContent('#request-token');
  assert.match(requestId, /^req_[a-z0-9]{16}$/);
  assert.match(requestToken, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await page.textContent('#request-status'), 'pending');
  assert.equal(await page.textContent('#request-tier'), 'researcher');
  assert.match(await page.textContent('#request-detail'), /waiting for the operator/);
  assert.equal(await page.isHidden('#request-form'), true, 'the form makes way for the request');
  assert.deepEqual(JSON.parse(await page.evaluate(() => localStorage.getItem('ajar.accessRequest'))),
                   { id: requestId, token: requestToken });

  // What the server holds.
  const stored = await admin('GET', '/admin/access/' + requestId);
  assert.equal(stored.status, 'pending');
  assert.equal(stored.name, applicant.name);
  assert.equal(stored.email, applicant.email);
  assert.equal(stored.affiliation, applicant.affiliation);
  assert.equal(stored.intended_use, applicant.intended_use);
  assert.equal(stored.tier, 'researcher');
  assert.equal(stored.license_sha256, transparency.license.sha256);

  // Coming back later: the request is there (not checked, so no key is
  // claimed by merely opening the page).
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.textContent('#request-id'), requestId);
  assert.equal(await page.textContent('#request-status'), 'not checked yet');
  await page.click('#check-status');
  await page.waitForFunction(() => document.getElementById('request-status').textContent === 'pending');
  assert.equal(await page.isHidden('#key-box'), true);
  assert.deepEqual(page.__errors, []);
  assert.deepEqual(page.__outside, [], 'the page must not load anything from elsewhere');
  await shot(page, 'access-pending.png');
});

test('the console refuses a wrong key (401) and a key without the admin tier (403)', async () => {
  const { context, page } = await openContext();
  await openAdmin(page, 'ajar_not_a_real_key');
  assert.equal(await page.isVisible('#error'), true);
  const text = await page.textContent('#error');
  assert.match(text, /^admin key refused: /);
  assert.match(text, /malformed API key|invalid API key/i);
  assert.equal(await page.isHidden('#console'), true);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ajar.adminKey')), null, 'a refused key is not kept');
  await shot(page, 'admin-refused.png');

  const publicKey = await admin('POST', '/admin/keys', { tier: 'public', owner: 'not an admin' });
  await page.fill('#admin-key', publicKey.key);
  await page.click('#login');
  await page.waitForFunction(() => document.getElementById('error').dataset.status === '403');
  assert.match(await page.textContent('#error'), /^Error 403: GET \/admin\/\S+ needs an admin key/);
  assert.equal(await page.isHidden('#console'), true);
  assert.deepEqual(await unlabeled(page), []);
  assert.deepEqual(page.__errors, []);
  await admin('POST', `/admin/keys/${publicKey.id}/revoke`);
  await context.close();
});

test('the admin approves in the console; the applicant gets the key once and uses it', { timeout: 60000 }, async () => {
  const { context, page } = await openContext();
  await openAdmin(page);
  await consoleReady(page);
  assert.equal(await page.title(), 'ajar admin console');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ajar.adminKey')), adminKey);
  assert.equal(await page.evaluate(() => Object.keys(localStorage).length), 0, 'the admin key is not in localStorage');
  // The key stays for this tab: a reload opens the console again.
  await page.reload();
  await consoleReady(page);
  assert.equal(await page.isVisible('#logout'), true);
  assert.deepEqual(await unlabeled(page), []);

  // The pending request, as the applicant wrote it.
  const cells = await page.$$eval(row(requestId) + ' > td', (tds) => tds.map((td) => td.textContent));
  assert.equal(cells[0], applicant.name + requestId);
  assert.equal(cells[1], applicant.email);
  assert.equal(cells[2], applicant.affiliation);
  assert.equal(cells[3], applicant.intended_use);
  assert.equal(cells[4], 'researcher');
  assert.match(cells[5], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  assert.equal(await page.textContent('#requests-count'), '1');
  const grantable = await page.$$eval(row(requestId) + ' [data-testid="approve-tier"] option', (os) => os.map((o) => o.value));
  assert.deepEqual(grantable, ['', 'public', 'researcher', 'partner'], 'approve as asked, or as any tier but admin');
  await shot(page, 'admin-pending.png');

  const approved = page.waitForResponse((r) => r.url().endsWith(`/admin/access/${requestId}/approve`));
  await page.click(row(requestId) + ' [data-testid="approve"]');
  assert.equal((await approved).status(), 200);
  await page.waitForSelector(row(requestId), { state: 'detached' });
  assert.equal(await page.isVisible('#requests-empty'), true);
  assert.match(await page.textContent('#refreshed'), new RegExp(`Approved ${applicant.name} \\(${requestId}\\) as researcher`));
  const decided = await admin('GET', '/admin/access/' + requestId);
  assert.equal(decided.status, 'approved');
  assert.equal(decided.granted_tier, 'researcher');
  assert.equal(decided.decided_by, adminKeyId);
  assert.equal(decided.key_id, '', 'no key until the applicant asks');

  // The applicant checks: the key, once.
  const p = applicantPage;
  await p.click('#check-status');
  await p.waitForSelector('#key-box:not([hidden])');
  issuedKey = await p.textContent('#issued-key');
  assert.match(issuedKey, /^ajar_\S+$/);
  assert.equal(await p.textContent('#request-status'), 'approved');
  assert.equal(await p.textContent('#request-detail'), 'as researcher');
  assert.equal(await p.textContent('#key-notice'), 'shown once: store it now');
  assert.match(await p.textContent('#check-note'), /Approved: your key is below/);
  await shot(p, 'access-key.png');

  // A second check has no key, only its id.
  const again = await call('GET', `/v1/access/requests/${requestId}`, { key: requestToken });
  assert.equal(again.status, 200);
  assert.equal(again.json.status, 'approved');
  assert.equal('key' in again.json, false, 'the key is shown once');
  issuedKeyId = again.json.key_id;
  assert.match(issuedKeyId, /^[a-z0-9]{16}$/);
  // ... and so does the page, after a reload.
  await p.click('#use-key');
  await p.waitForSelector('#use-key-note:not([hidden])');
  assert.equal(await p.evaluate(() => localStorage.getItem('ajar.accessKey')), issuedKey);
  await p.reload();
  await p.waitForSelector('body[data-ready="true"]');
  assert.equal(await p.isHidden('#key-box'), true);
  await p.click('#check-status');
  await p.waitForFunction(() => /handed out already/.test(document.getElementById('check-note').textContent));
  assert.equal(await p.isHidden('#key-box'), true);
  assert.equal(await p.textContent('#request-detail'), `as researcher; key ${issuedKeyId} was issued`);

  // The chat page took the key: it lists the model with it.
  await p.goto(base + '/');
  await p.waitForSelector('#model-name[data-state="ready"]');
  if (!(await p.isVisible('#access-key'))) await p.click('summary');
  assert.equal(await p.inputValue('#access-key'), issuedKey);

  // The researcher tier has completions.
  const done = await call('POST', '/v1/completions', { key: issuedKey, body: { prompt: 'Once', max_tokens: 4 } });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.object, 'text_completion');
  assert.equal(done.json.usage.completion_tokens, 4);

  // The console shows the key (made by the claim) and its usage.
  await page.click('#refresh');
  await page.waitForSelector(keyRow(issuedKeyId));
  const keyCells = await page.$$eval(keyRow(issuedKeyId) + ' > td', (tds) => tds.map((td) => td.textContent.trim()));
  assert.equal(keyCells[0], issuedKeyId);
  assert.equal(keyCells[1], 'researcher');
  assert.equal(keyCells[2], `${applicant.email}via ${requestId}`);
  assert.equal(keyCells[4], 'never');
  assert.equal(keyCells[5], 'active');
  const usage = await page.textContent(`[data-testid="usage-row"][data-id="${issuedKeyId}"] [data-testid="usage-requests"]`);
  assert.equal(usage, '2', 'GET /v1/models from the chat page and the completion');
  const usageCells = await page.$$eval(`[data-testid="usage-row"][data-id="${issuedKeyId}"] > td`, (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(usageCells.slice(0, 4), [issuedKeyId, 'researcher', applicant.email, '1']);
  assert.equal(Number(usageCells[6]), 4, 'tokens out: the four of the completion');
  assert.deepEqual(page.__errors, []);
  assert.deepEqual(p.__errors, []);
  await context.close();
});

test('the admin revokes the key in the console; its next request is refused', async () => {
  const { context, page } = await openContext();
  await openAdmin(page);
  await consoleReady(page);
  await page.click(keyRow(issuedKeyId) + ' [data-testid="revoke"]');
  // A second step: nothing happens until it is confirmed.
  await page.waitForSelector(keyRow(issuedKeyId) + ' [data-testid="confirm-revoke"]');
  assert.match(await page.textContent(keyRow(issuedKeyId)), new RegExp(`Revoke ${issuedKeyId}\\? Its next request is refused`));
  assert.equal((await call('POST', '/v1/completions', { key: issuedKey, body: { prompt: 'Once', max_tokens: 1 } })).status, 200);
  await page.click(keyRow(issuedKeyId) + ' [data-testid="confirm-revoke"]');
  await page.waitForSelector(keyRow(issuedKeyId) + '[data-status="revoked"]');
  assert.equal(await page.textContent(keyRow(issuedKeyId) + ' [data-testid="key-status"] .badge'), 'revoked');
  assert.equal(await page.locator(keyRow(issuedKeyId) + ' [data-testid="revoke"]').count(), 0, 'nothing left to revoke');
  assert.equal(await page.textContent('#refreshed'), `Revoked ${issuedKeyId}.`);

  const refused = await call('POST', '/v1/completions', { key: issuedKey, body: { prompt: 'Once', max_tokens: 4 } });
  assert.equal(refused.status, 401);
  assert.equal(refused.json.error.code, 'revoked_api_key');
  assert.equal(refused.json.error.type, 'invalid_request_error');
  const listed = (await admin('GET', '/admin/keys')).data.find((k) => k.id === issuedKeyId);
  assert.equal(listed.status, 'revoked');
  assert.ok(listed.revoked > 0);
  await shot(page, 'admin-revoked.png');
  await context.close();
});

test('the audit section lists the rows and the verified chain', async () => {
  const { context, page } = await openContext();
  const verdictBefore = await admin('GET', '/admin/audit/verify');
  assert.equal(verdictBefore.ok, true, JSON.stringify(verdictBefore));
  await openAdmin(page);
  await consoleReady(page);
  const verdictAfter = await admin('GET', '/admin/audit/verify');
  assert.equal(await page.getAttribute('#chain-status', 'data-state'), 'ok', await page.textContent('#chain-status'));
  // The console's own requests are rows too: its count lies between the two.
  const shown = /^chain verified: (\d+) rows$/.exec(await page.textContent('#chain-status'));
  assert.ok(shown, await page.textContent('#chain-status'));
  assert.ok(Number(shown[1]) > verdictBefore.rows && Number(shown[1]) < verdictAfter.rows,
            `${verdictBefore.rows} < ${shown[1]} < ${verdictAfter.rows}`);

  const rows = await tableRows(page, '#audit-body');
  assert.equal(rows.length, 50, 'the newest 50 by default');
  const seqs = rows.map((r) => Number(r[0]));
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] - 1, 'newest first, no gaps');
  await page.selectOption('#audit-limit', '1000');
  await page.waitForFunction(() => document.querySelectorAll('#audit-body > tr').length > 50);
  const all = await tableRows(page, '#audit-body');
  assert.equal(Number(all[all.length - 1][0]), 1, 'back to the first row');
  // Columns: seq, time, kind, key, tier, endpoint, status, outcome, reason, tokens, latency.
  const first = all[all.length - 1];
  assert.deepEqual(first.slice(2, 9), ['admin', adminKeyId, 'admin', 'keys.create', '', 'ok', 'server start: no admin key']);
  const revoke = all.find((r) => r[2] === 'admin' && r[5] === 'keys.revoke' && r[3] === issuedKeyId);
  assert.ok(revoke, 'the revocation is an admin row');
  assert.equal(revoke[8], `by ${adminKeyId}`);
  // The two completions with the key (4 tokens, then 1), newest first.
  const completions = all.filter((r) => r[3] === issuedKeyId && r[5] === 'POST /v1/completions' && r[6] === '200');
  assert.equal(completions.length, 2);
  for (const c of completions) assert.deepEqual(c.slice(2, 5), ['request', issuedKeyId, 'researcher']);
  assert.match(completions[0][9], /^\d+ \/ 1$/);
  assert.match(completions[1][9], /^\d+ \/ 4$/);
  assert.match(completions[1][10], /^[\d.]+ (\u00b5s|ms|s)$/);
  const refusedRow = all.find((r) => r[3] === issuedKeyId && r[6] === '401');
  assert.ok(refusedRow, 'the refused request is a row');
  assert.deepEqual(refusedRow.slice(7, 9), ['refused', 'revoked_api_key']);
  assert.match(refusedRow[1], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  const approval = all.find((r) => r[5] === 'access.approve');
  assert.equal(approval[8], `by ${adminKeyId}: ${requestId}`);
  assert.deepEqual(page.__errors, []);
  await shot(page, 'admin-audit.png');
  await context.close();
});

test('a denied request shows the reason to the applicant', async () => {
  // A second applicant, in a browser of their own.
  const { context: ac, page: ap } = await openContext();
  await openAccess(ap);
  await ap.fill('#name', 'Mallory');
  await ap.fill('#email', 'mallory@example.com');
  await ap.fill('#affiliation', 'none');
  await ap.fill('#intended-use', 'bulk scraping');
  await ap.selectOption('#tier', 'researcher');
  await ap.check('#accept-license');
  await ap.click('#submit-request');
  await ap.waitForSelector('#request:not([hidden])');
  const id = await ap.textContent('#request-id');
  const token = await ap.textContent('#request-token');
  assert.notEqual(id, requestId);

  const { context, page } = await openContext();
  await openAdmin(page);
  await consoleReady(page);
  await page.click(row(id) + ' [data-testid="deny"]');
  const reason = row(id) + ' [data-testid="deny-reason"]';
  await page.waitForSelector(reason);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'deny-reason');
  // An empty reason is not sent.
  let posted = 0;
  page.on('request', (r) => { if (r.url().endsWith('/deny')) posted++; });
  await page.click(row(id) + ' [data-testid="confirm-deny"]');
  await page.waitForTimeout(200);
  assert.equal(posted, 0);
  await page.fill(reason, 'the intended use breaks the acceptable-use policy');
  await page.press(reason, 'Enter');
  await page.waitForSelector(row(id), { state: 'detached' });
  assert.equal(await page.textContent('#refreshed'), `Denied Mallory (${id}).`);

  // The console lists it among the denied, with its reason.
  await page.selectOption('#requests-filter', 'denied');
  await page.waitForSelector(row(id));
  assert.equal(await page.getAttribute(row(id), 'data-status'), 'denied');
  assert.equal(await page.textContent(row(id) + ' [data-testid="request-reason"]'),
               'the intended use breaks the acceptable-use policy');
  assert.match(await page.textContent(row(id) + ' td:last-child'), new RegExp(`by ${adminKeyId}`));
  await shot(page, 'admin-denied.png');

  await ap.click('#check-status');
  await ap.waitForFunction(() => document.getElementById('request-status').textContent === 'denied');
  assert.equal(await ap.textContent('#request-detail'), 'reason: the intended use breaks the acceptable-use policy');
  assert.equal(await ap.isHidden('#key-box'), true);
  const st = await call('GET', `/v1/access/requests/${id}?token=${encodeURIComponent(token)}`);
  assert.equal(st.status, 200);
  assert.equal(st.json.status, 'denied');
  assert.equal(st.json.reason, 'the intended use breaks the acceptable-use policy');
  assert.equal('key' in st.json, false);
  await shot(ap, 'access-denied.png');
  assert.deepEqual(ap.__errors, []);
  assert.deepEqual(page.__errors, []);
  await ac.close();
  await context.close();
});

test('a public request is granted at once and the key shown on the spot', async () => {
  const { context, page } = await openContext();
  await openAccess(page);
  await page.fill('#name', 'Grace');
  await page.fill('#email', 'grace@example.org');
  await page.fill('#affiliation', 'independent');
  await page.fill('#intended-use', 'bedtime stories');
  await page.check('#accept-license');
  await page.click('#submit-request');
  await page.waitForSelector('#key-box:not([hidden])');
  assert.equal(await page.textContent('#request-status'), 'approved');
  assert.equal(await page.textContent('#request-detail'), 'as public (auto-approved: rule 1)');
  const key = await page.textContent('#issued-key');
  const models = await call('GET', '/v1/models', { key });
  assert.equal(models.status, 200);
  assert.deepEqual(page.__errors, []);
  await context.close();
});

test('keys made and rotated in the console are shown once', async () => {
  const { context, page } = await openContext();
  await openAdmin(page);
  await consoleReady(page);
  const tiers = await page.$$eval('#new-key-tier option', (os) => os.map((o) => o.value));
  assert.deepEqual(tiers, ['public', 'researcher', 'partner', 'admin']);
  await page.selectOption('#new-key-tier', 'partner');
  await page.fill('#new-key-owner', 'Partner Co');
  await page.fill('#new-key-days', '30');
  const before = Math.floor(Date.now() / 1000);
  await page.click('#create-key');
  await page.waitForSelector('#new-key-box:not([hidden])');
  const key = await page.textContent('#new-key-value');
  const id = await page.textContent('#new-key-id');
  assert.match(key, /^ajar_/);
  assert.equal(await page.textContent('#new-key-tier-shown'), 'partner');
  await page.waitForSelector(keyRow(id));
  const listed = (await admin('GET', '/admin/keys')).data.find((k) => k.id === id);
  assert.equal(listed.tier, 'partner');
  assert.equal(listed.owner, 'Partner Co');
  assert.ok(Math.abs(listed.expires - (before + 30 * 86400)) < 120, `expires ${listed.expires}`);
  const cells = await page.$$eval(keyRow(id) + ' > td', (tds) => tds.map((td) => td.textContent.trim()));
  assert.deepEqual([cells[1], cells[2], cells[5]], ['partner', 'Partner Co', 'active']);
  assert.equal(cells[4], new Date(listed.expires * 1000).toISOString().replace('T', ' ').slice(0, 19));
  assert.equal((await call('GET', '/v1/models', { key })).status, 200);
  await shot(page, 'admin-new-key.png');
  await page.click('#dismiss-new-key');
  assert.equal(await page.isHidden('#new-key-box'), true);
  assert.equal(await page.textContent('#new-key-value'), '', 'the key is gone from the page');

  // Rotation: the old key revoked, a new one shown once.
  await page.click(keyRow(id) + ' [data-testid="rotate"]');
  await page.click(keyRow(id) + ' [data-testid="confirm-rotate"]');
  await page.waitForSelector('#new-key-box:not([hidden])');
  const newKey = await page.textContent('#new-key-value');
  const newId = await page.textContent('#new-key-id');
  assert.notEqual(newId, id);
  assert.equal(await page.textContent('#new-key-tier-shown'), `partner, replaces ${id}`);
  await page.waitForSelector(keyRow(id) + '[data-status="revoked"]');
  await page.waitForSelector(keyRow(newId) + '[data-status="active"]');
  assert.equal((await call('GET', '/v1/models', { key })).json.error.code, 'revoked_api_key');
  assert.equal((await call('GET', '/v1/models', { key: newKey })).status, 200);

  // A bad expiry is the server's 400, in the banner.
  await page.fill('#new-key-days', '0');
  await page.evaluate(() => { document.getElementById('create-key-form').noValidate = true; });
  await page.click('#create-key');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /^Error 400: creating a key: .*expires_in_days/);
  assert.deepEqual(page.__errors, []);
  await context.close();
});

test('text from applicants is shown as text, never run as HTML', async () => {
  const evil = '<img src=x onerror="window.__xss=1">';
  const r = await call('POST', '/v1/access/requests', {
    body: { name: evil, email: 'eve@example.net', affiliation: '<b>bold</b>', intended_use: '<script>window.__xss=2</script>',
            tier: 'researcher', accept_license: true },
  });
  assert.equal(r.status, 201, r.text);
  const { context, page } = await openContext();
  await openAdmin(page);
  await consoleReady(page);
  const cells = await page.$$eval(row(r.json.id) + ' > td', (tds) => tds.map((td) => td.textContent));
  assert.equal(cells[0], evil + r.json.id);
  assert.equal(cells[2], '<b>bold</b>');
  assert.equal(cells[3], '<script>window.__xss=2</script>');
  assert.equal(await page.locator('#requests-body img, #requests-body b, #requests-body script').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  // Deny it through the console, so later runs of the page see none pending.
  await page.click(row(r.json.id) + ' [data-testid="deny"]');
  await page.fill(row(r.json.id) + ' [data-testid="deny-reason"]', 'test');
  await page.click(row(r.json.id) + ' [data-testid="confirm-deny"]');
  await page.waitForSelector(row(r.json.id), { state: 'detached' });
  await context.close();
});

test('forgetting the admin key closes the console', async () => {
  const { context, page } = await openContext();
  await openAdmin(page);
  await consoleReady(page);
  await page.click('#logout');
  assert.equal(await page.isHidden('#console'), true);
  assert.equal(await page.inputValue('#admin-key'), '');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ajar.adminKey')), null);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.isHidden('#console'), true);
  await context.close();
});

test('both pages fit a phone screen', async () => {
  const { context, page } = await openContext({ width: 390, height: 844 });
  await openAccess(page);
  let overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `/access: no sideways scrolling (overflow ${overflow}px)`);
  for (const id of ['#submit-request', '#accept-license', '#name', '#tier']) {
    const box = await page.locator(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${id} is within the width`);
  }
  await shot(page, 'phone-access.png');
  await openAdmin(page);
  await consoleReady(page);
  overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `/admin: no sideways scrolling (overflow ${overflow}px)`);
  const box = await page.locator('#refresh').boundingBox();
  assert.ok(box.height >= 40, 'Refresh is big enough to tap');
  await shot(page, 'phone-admin.png');
  assert.deepEqual(page.__errors, []);
  await context.close();
});
