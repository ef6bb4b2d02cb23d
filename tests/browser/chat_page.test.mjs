// chat_page.test.mjs - the chat page in a real browser against a real server.
//
// Starts `ajar serve` on the fixture model (port 0: the server picks one and
// prints it) with tests/data/policy_open.json (requests without a key get
// the "open" tier, which may do everything) and a fresh store, drives
// Debian's Chromium through playwright-core (no browser download:
// executablePath), and uses the page as a person would: reads the model
// name, types, clicks Send, watches the reply grow, clicks Stop.
//
// The fixture model writes hundreds of tokens a second, faster than a person
// could see a reply grow, so the streaming tests slow the browser's network
// down (Chrome DevTools' network throttling, as on a slow phone link): the
// server's events (a few tokens each) then arrive over seconds, and the
// bubble must show each as it comes.
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
const POLICY = path.join(root, 'tests', 'data', 'policy_open.json');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = process.env.SCREENSHOT_DIR || '';

// The flags a headless run needs here: no sandbox (root in a container), no
// GPU, and nothing that reaches outside the machine.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let tmp = '';        // the server's store and admin key
let adminKey = '';   // for /metrics, which only the admin tier may read
let accessKey = '';  // a real key of the open tier, for the key test
let server = null;
let serverLog = '';
let serverExit = null; // how the server ended, if it did before after()
let base = '';
let browser = null;

function startServer() {
  return new Promise((resolve, reject) => {
    const proc = spawn(AJAR, ['serve', '-m', MODEL, '--port', '0', '--parallel', '2', '--threads', '1', '--ctx', '512',
                              '--policy', POLICY, '--store', 'sqlite:' + path.join(tmp, 'store.db'),
                              '--admin-key-file', path.join(tmp, 'admin.key')],
                       { stdio: ['ignore', 'pipe', 'pipe'] });
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

async function slotsBusy() {
  const text = await (await fetch(base + '/metrics', { headers: { Authorization: 'Bearer ' + adminKey } })).text();
  const m = /^ajar_slots_busy (\d+)/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

/** A fresh context (empty localStorage) and page; slow=bytes/s throttles downloads. */
async function openPage({ width = 1200, height = 900, slow = 0 } = {}) {
  assert.equal(serverExit, null, `ajar serve is gone (${serverExit}); its output:\n${serverLog}`);
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  if (slow) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 20, downloadThroughput: slow, uploadThroughput: -1,
    });
  }
  await page.goto(base + '/');
  await page.waitForSelector('#model-name[data-state="ready"]');
  return { context, page };
}

/** Starts sampling the last assistant bubble's text length every 25 ms. */
async function recordLengths(page) {
  await page.evaluate(() => {
    window.__lengths = [];
    window.__timer = setInterval(() => {
      const c = document.querySelector('.msg.assistant:last-of-type .content');
      if (c) window.__lengths.push(c.textContent.length);
    }, 25);
  });
}
async function stopRecording(page) {
  return page.evaluate(() => { clearInterval(window.__timer); return window.__lengths; });
}

async function shot(page, name) {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: false });
}

before(async () => {
  assert.ok(existsSync(AJAR), `no ajar binary at ${AJAR} (set AJAR_BIN)`);
  assert.ok(existsSync(MODEL), `no fixture model at ${MODEL} (set AJAR_FIXTURES)`);
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  assert.ok(existsSync(POLICY), `no test policy at ${POLICY}`);
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ajar-chat-page-'));
  const s = await startServer();
  server = s.proc;
  server.on('exit', (code, signal) => { serverExit = signal || `exit ${code}`; });
  base = s.url;
  adminKey = readFileSync(path.join(tmp, 'admin.key'), 'utf8').trim();
  const made = await fetch(base + '/admin/keys', {
    method: 'POST',
    headers: { 'Authorization': 'Bearer ' + adminKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({ tier: 'open', owner: 'chat page test' }),
  });
  assert.equal(made.status, 201, await made.clone().text());
  accessKey = (await made.json()).key;
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

test('the page loads offline-clean and lists the model from /v1/models', async () => {
  const models = await (await fetch(base + '/v1/models')).json();
  const { context, page } = await openPage();
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(base)) outside.push(r.url()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.reload();
  await page.waitForSelector('#model-name[data-state="ready"]');
  assert.equal(await page.textContent('#model-name'), models.data[0].id);
  assert.equal(await page.title(), 'ajar chat');
  assert.deepEqual(outside, [], 'the page must not load anything from elsewhere');
  assert.deepEqual(errors, []);
  // Every form control has a label a screen reader can read.
  const unlabeled = await page.evaluate(() =>
    [...document.querySelectorAll('input, textarea, select')]
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
      .map((e) => e.id));
  assert.deepEqual(unlabeled, []);
  await shot(page, 'desktop-empty.png');
  await context.close();
});

test('a reply streams into the assistant bubble as it is generated', { timeout: 90000 }, async () => {
  const { context, page } = await openPage({ slow: 3000 });
  await page.fill('#max-tokens', '100');
  await page.fill('#seed', '7');
  await page.fill('#prompt', 'Once upon a time');
  await recordLengths(page);
  await page.click('#send');
  await page.waitForSelector('.msg.user');
  assert.equal(await page.textContent('.msg.user .content'), 'Once upon a time');
  assert.equal(await page.isDisabled('#send'), true, 'Send is disabled while generating');
  assert.equal(await page.isEnabled('#stop'), true, 'Stop is enabled while generating');
  await page.waitForSelector('.msg.assistant[data-state="done"]', { timeout: 60000 });
  const lengths = await stopRecording(page);

  const finalText = await page.textContent('.msg.assistant .content');
  assert.ok(finalText.length > 0, 'the reply is not empty');
  const seen = [...new Set(lengths.filter((n) => n > 0))];
  assert.ok(seen.length >= 3, `the bubble grew in steps (saw lengths ${seen.join(',')}; raw ${lengths.slice(0, 40).join(',')})`);
  for (let i = 1; i < lengths.length; i++)
    assert.ok(lengths[i] >= lengths[i - 1], 'the text only grows while streaming');
  assert.match(await page.textContent('.msg.assistant .meta'), /\d+ tokens/);
  assert.equal(await page.isEnabled('#send'), true);
  assert.equal(await page.isDisabled('#stop'), true);
  await shot(page, 'desktop-reply.png');

  // The conversation survives a reload (localStorage), and the next turn
  // sends it all.
  await page.reload();
  await page.waitForSelector('.msg.assistant');
  assert.equal(await page.textContent('.msg.assistant .content'), finalText);
  const sent = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
  await page.fill('#prompt', 'And then?');
  await page.press('#prompt', 'Enter');
  const body = JSON.parse((await sent).postData());
  assert.deepEqual(body.messages.map((m) => m.role), ['user', 'assistant', 'user']);
  assert.equal(body.messages[1].content, finalText);
  assert.equal(body.stream, true);
  assert.equal(body.max_tokens, 100);
  assert.equal(body.seed, 7);
  await page.waitForSelector('.msg.assistant:last-of-type[data-state="done"]', { timeout: 60000 });
  await context.close();
});

test('Stop ends the stream and the server frees the slot', { timeout: 90000 }, async () => {
  const { context, page } = await openPage({ slow: 2000 });
  await page.fill('#max-tokens', '2000');
  await page.fill('#prompt', 'Tell me a long story');
  await page.click('#send');
  await page.waitForFunction(() => {
    const c = document.querySelector('.msg.assistant .content');
    return c && c.textContent.length > 0;
  }, null, { timeout: 30000 });
  await page.click('#stop');
  await page.waitForSelector('.msg.assistant[data-state="stopped"]', { timeout: 10000 });
  const atStop = (await page.textContent('.msg.assistant .content')).length;
  await page.waitForTimeout(1000);
  assert.equal((await page.textContent('.msg.assistant .content')).length, atStop, 'no text after Stop');
  assert.match(await page.textContent('.msg.assistant .meta'), /stopped/);
  assert.equal(await page.isEnabled('#send'), true);
  assert.equal(await page.isDisabled('#stop'), true);
  assert.match(await page.textContent('#status'), /Stopped/);
  await shot(page, 'desktop-stopped.png');
  await context.close();

  let busy = NaN;
  for (let i = 0; i < 100; i++) {
    busy = await slotsBusy();
    if (busy === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(busy, 0, 'slots_busy back to 0 after the client stopped');
});

test("the server's error message is shown, and the message is kept to retry", async () => {
  const { context, page } = await openPage();
  await page.fill('#temperature', '5'); // the server allows 0..2
  await page.fill('#prompt', 'Hello there');
  await page.click('#send');
  await page.waitForSelector('#error:not([hidden])');
  const text = await page.textContent('#error');
  assert.match(text, /Error 400/);
  assert.match(text, /temperature/);
  assert.equal(await page.inputValue('#prompt'), 'Hello there', 'the text is back in the box');
  assert.equal(await page.locator('.msg').count(), 0, 'the failed turn is not in the conversation');
  assert.equal(await page.isEnabled('#send'), true);
  await shot(page, 'desktop-error.png');
  await context.close();
});

test('the access key is sent as a bearer token, remembered, and 401/429 are explained', async () => {
  const { context, page } = await openPage();
  await page.click('summary'); // make sure the settings are open on any width
  if (!(await page.isVisible('#access-key'))) await page.click('summary');
  const models = page.waitForRequest((r) => r.url().endsWith('/v1/models'));
  // A real key (the server checks keys: a made-up one would be refused).
  await page.fill('#access-key', accessKey);
  await page.press('#access-key', 'Tab'); // change: saved, models listed again with it
  assert.equal((await models).headers()['authorization'], 'Bearer ' + accessKey);

  await page.reload();
  await page.waitForSelector('#model-name[data-state="ready"]');
  assert.equal(await page.inputValue('#access-key'), accessKey);

  // What the guard will answer (issue 6), mocked here.
  await page.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 401, contentType: 'application/json',
    body: JSON.stringify({ error: { message: 'invalid API key', type: 'authentication_error', param: null, code: 'invalid_api_key' } }),
  }));
  const chat = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
  await page.fill('#prompt', 'hi');
  await page.click('#send');
  assert.equal((await chat).headers()['authorization'], 'Bearer ' + accessKey);
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /Error 401: invalid API key/);
  assert.match(await page.textContent('#error'), /access key/);
  assert.equal(await page.getAttribute('#settings', 'open'), '', 'settings opened to fix the key');

  await page.unroute('**/v1/chat/completions');
  await page.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 429, contentType: 'application/json', headers: { 'Retry-After': '12' },
    body: JSON.stringify({ error: { message: 'rate limit reached for requests', type: 'rate_limit_error', param: null, code: null } }),
  }));
  await page.click('#send');
  await page.waitForFunction(() => /429/.test(document.getElementById('error').textContent));
  assert.match(await page.textContent('#error'), /rate limit reached.*12 s/s);

  // Cleared: no header, nothing stored.
  await page.fill('#access-key', '');
  await page.press('#access-key', 'Tab');
  assert.equal(await page.evaluate(() => localStorage.getItem('ajar.accessKey')), null);
  await context.close();
});

test('the page fits a phone screen', { timeout: 60000 }, async () => {
  const { context, page } = await openPage({ width: 390, height: 844 });
  assert.equal(await page.getAttribute('#settings', 'open'), null, 'settings start folded on a phone');
  await page.fill('#prompt', 'Once upon a time');
  await page.click('#send');
  await page.waitForSelector('.msg.assistant[data-state="done"]', { timeout: 60000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling (overflow ${overflow}px)`);
  for (const id of ['#send', '#stop', '#prompt']) {
    const box = await page.locator(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390 && box.y >= 0 && box.y + box.height <= 844,
              `${id} is on screen after a long reply`);
    assert.ok(box.height >= 40, `${id} is big enough to tap`);
  }
  await shot(page, 'phone-reply.png');
  await context.close();
});
