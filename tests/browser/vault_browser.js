// A recipient in a real browser: Debian's headless Chromium, driven by
// playwright-core, reads a vaulted message through mailkeeper-webvault in
// the rig's network namespace (tests/integration/vault.sh runs it).
// Phone-sized window; a screenshot of each page goes into OUT.
//
//   node vault_browser.js CONFIG.json
//
// CONFIG: { link, link2, evil, revoked, expired, bob, alice, attachment,
//           out, spki }  (bob, alice: Maildirs; spki: the certificate's
//           SPKI hash, which Chromium is told to trust)
// Prints "ok: ..." lines; exits 1 at the first thing that is wrong.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const PHONE = { width: 390, height: 844 };

function fail(why) {
  console.log('FAIL: ' + why);
  process.exit(1);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// The newest code mailed to a Maildir after `since` (ms).
async function codeFrom(maildir, since) {
  for (let i = 0; i < 150; i++) {
    const dir = path.join(maildir, 'new');
    let best = null;
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      const st = fs.statSync(p);
      if (st.mtimeMs < since) continue;
      const m = /Your one-time code: (\d{8})/.exec(fs.readFileSync(p, 'utf8'));
      if (m && (!best || st.mtimeMs > best[0])) best = [st.mtimeMs, m[1]];
    }
    if (best) return best[1];
    await sleep(100);
  }
  fail('no code mail in ' + maildir);
}

async function mailWith(maildir, words) {
  for (let i = 0; i < 150; i++) {
    const dir = path.join(maildir, 'new');
    for (const f of fs.readdirSync(dir)) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      if (words.every((w) => text.includes(w))) return text;
    }
    await sleep(100);
  }
  return null;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(cfg.out, name), fullPage: true });
}

// Watches a page: any dialog fails; so does any request not to the reader
// that the browser did not block by the page's Content-Security-Policy
// (Chromium reports those it blocked as failed with ERR_BLOCKED_BY_CSP:
// they never leave the browser).
function guard(page, what) {
  const seen = { dialogs: [], foreign: new Map() };
  page.on('dialog', async (d) => {
    seen.dialogs.push(d.message());
    await d.dismiss();
  });
  const foreign = (u) => !u.startsWith('https://vault.mk.test:') && !u.startsWith('data:');
  page.on('request', (r) => {
    if (foreign(r.url())) seen.foreign.set(r, 'sent');
  });
  page.on('requestfailed', (r) => {
    const why = (r.failure() || {}).errorText || '';
    if (foreign(r.url())) seen.foreign.set(r, /BLOCKED_BY_CSP|csp/i.test(why) ? 'blocked' : 'failed: ' + why);
  });
  return async () => {
    await sleep(300);
    if (seen.dialogs.length) fail(what + ': a dialog opened: ' + seen.dialogs.join(', '));
    const left = [...seen.foreign].filter(([, s]) => s !== 'blocked').map(([r, s]) => r.url() + ' (' + s + ')');
    if (left.length) fail(what + ': requests left the reader: ' + left.join(', '));
    return seen.foreign.size;
  };
}

// Asks for a code for addr on the page of link, and enters it.
async function verify(page, link, addr, maildir) {
  await page.goto(link);
  await page.fill('#addr', addr);
  const since = Date.now() - 1000;
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  const code = await codeFrom(maildir, since);
  await page.fill('#code', code);
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/verify"] button')]);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--host-resolver-rules=MAP vault.mk.test 127.0.0.1',
      '--ignore-certificate-errors-spki-list=' + cfg.spki,
      '--disable-background-networking',
      '--disable-component-update',
    ],
  });
  const newPage = async () => {
    const ctx = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, acceptDownloads: true });
    return ctx.newPage();
  };

  // 1. the whole way: address, code, message, attachment, reply
  let page = await newPage();
  let done = guard(page, 'the message');
  await page.goto(cfg.link);
  if (!(await page.textContent('h1')).includes('secure message')) fail('the address page');
  await shot(page, '01-address.png');
  await page.fill('#addr', 'bob@mk.test');
  let since = Date.now() - 1000;
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await shot(page, '02-code.png');
  const code = await codeFrom(cfg.bob, since);
  await page.fill('#code', code);
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/verify"] button')]);
  const body = await page.textContent('body');
  if (!body.includes('PLAINTEXT-MARKER-4711') || !body.includes('report.bin')) fail('the message page: ' + body.slice(0, 300));
  const cookies = await page.context().cookies();
  const c = cookies.find((k) => k.name.startsWith('__Host-mkv-'));
  if (!c || !c.secure || !c.httpOnly || c.sameSite !== 'Strict') fail('the cookie: ' + JSON.stringify(cookies));
  await shot(page, '03-message.png');
  console.log('ok: code from the Maildir, the message shown, cookie ' + c.name + ' Secure HttpOnly SameSite=Strict');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href*="/att/"]')]);
  const got = fs.readFileSync(await download.path());
  if (!got.equals(fs.readFileSync(cfg.attachment))) fail('the downloaded attachment differs');
  console.log('ok: the attachment downloaded, ' + got.length + ' bytes, the same');
  const token = 'browser-reply-' + Date.now();
  await page.fill('#text', 'Thank you. ' + token);
  fs.writeFileSync(path.join(cfg.out, 'answer.txt'), 'ANSWER ' + token);
  await page.setInputFiles('#files', path.join(cfg.out, 'answer.txt'));
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/reply"] button')]);
  if (!(await page.textContent('h1')).includes('Reply sent')) fail('the reply page');
  await shot(page, '04-reply-sent.png');
  const reply = await mailWith(cfg.alice, [token, 'answer.txt']);
  if (!reply || !/^From: .*bob@mk\.test/m.test(reply)) fail('the reply did not reach alice from bob');
  console.log('ok: the reply with a file reached alice, From bob');
  // the session of this message does not open another
  await page.goto(cfg.link2);
  if (!(await page.textContent('body')).includes('confirm your email address')) fail('the session opened another message');
  console.log('ok: the session does not open another message');
  await done();

  // 2. five wrong codes lock out
  page = await newPage();
  await page.goto(cfg.link2);
  await page.fill('#addr', 'bob@mk.test');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  for (let i = 0; i < 5; i++) {
    await page.fill('#code', '00000000');
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/verify"] button')]);
    if (i === 0) await shot(page, '05-wrong-code.png');
  }
  if (!(await page.textContent('h1')).includes('Please wait')) fail('five wrong codes did not lock out');
  await shot(page, '06-locked.png');
  console.log('ok: five wrong codes lock out');

  // 3. a stranger: the same page (the caller checks that no mail went out)
  page = await newPage();
  await page.goto(cfg.link2);
  await page.fill('#addr', 'eve@example.org');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  if (!(await page.textContent('h1')).includes('Enter your code')) fail('the stranger page');
  console.log('ok: a stranger gets the code page');

  // 4. revoked and expired links
  page = await newPage();
  await page.goto(cfg.revoked);
  if (!(await page.textContent('h1')).includes('withdrawn')) fail('the revoked page');
  await shot(page, '07-revoked.png');
  await page.goto(cfg.expired);
  if (!(await page.textContent('h1')).includes('expired')) fail('the expired page');
  await shot(page, '08-expired.png');
  await page.goto(cfg.link.slice(0, -5));
  if (!(await page.textContent('h1')).includes('does not open')) fail('the cut link page');
  await shot(page, '09-cut-link.png');
  console.log('ok: revoked, expired and cut links show their pages');

  // 5. hostile HTML: nothing runs, nothing remote loads, its own image shows
  page = await newPage();
  done = guard(page, 'the hostile HTML');
  await verify(page, cfg.evil, 'bob@mk.test', cfg.bob);
  const frameEl = await page.waitForSelector('iframe.html');
  if ((await frameEl.getAttribute('sandbox')) !== '') fail('the frame is not sandboxed');
  const frame = await frameEl.contentFrame();
  await frame.waitForLoadState('load');
  await sleep(500);
  const inline = await frame.evaluate(() => {
    const img = document.querySelector('img#inline');
    return img ? img.naturalWidth : -1;
  }).catch(() => null);
  // scripts cannot run in the sandbox, so evaluate may fail: look instead
  // at what the page shows
  const text = await frame.textContent('body');
  if (!text.includes('HOSTILE-HTML-MARKER')) fail('the HTML part is not shown');
  // a click on a javascript: link and on an element with a handler
  await frame.click('a#js').catch(() => {});
  await frame.click('#clickme').catch(() => {});
  await sleep(500);
  await shot(page, '10-html.png');
  if (inline !== null && !(inline > 0)) fail('the message\'s own image did not show');
  const blocked = await done();
  console.log('ok: the hostile HTML showed, no dialog, ' + blocked + ' remote requests all blocked by CSP' +
    (inline !== null ? ' (inline image ' + inline + ' px wide)' : ''));
  await browser.close();
  console.log('ok: all');
})().catch((e) => fail(e.stack || String(e)));
