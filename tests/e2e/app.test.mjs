// app.test.mjs - the client app end to end, in Debian's Chromium against a
// real `cloudlet serve` with web/dist deployed into bucket `site`:
// sign up (password rules live) → the code from the outbox → confirm (a wrong
// code first) → signed in → invoke hello / shout / echo → upload a file and
// download it back → sign out → a second user sees none of the first user's
// files (and the per-user policy refuses them) → sign the first user back in
// (a wrong password first) → phone width → keyboard only.
//
// The steps share one browser page and run in order; once a step fails the
// later ones fail at once naming it. Each step leaves a full-page screenshot
// in tests/e2e/artifacts/NN-name.png (git-ignored).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import { ListObjectsV2Command, GetObjectCommand, PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import {
  requireBuiltApp,
  startAppServer,
  openBrowser,
  screenshotter,
  clearArtifacts,
  waitForCode,
  outboxLength,
  sleep,
} from './helpers.mjs';
import { ROOT_CREDENTIALS } from '../integration/cognito-helpers.mjs';
import { poolCredentials, loginsFor, signing, fails } from '../integration/sts-helpers.mjs';
import { s3Client } from '../integration/lambda-helpers.mjs';

const STEP_TIMEOUT = 30000;
const PASSWORD = 'Passw0rdGood';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IDENTITY_RE = /^us-east-1:[0-9a-f-]{36}$/;
const unique = `${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}`;

const LAMBDA_INVOKE = /\/2015-03-31\/functions\/[^/]+\/invocations/;

// ---- small waiting helpers (playwright-core has no `expect`) ----

/** Poll fn() until it returns a truthy value; fails with describe(last value) after timeoutMs. */
async function until(fn, describe, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms: ${describe(last)}`);
    await sleep(50);
  }
}

const textOf = async (locator) => ((await locator.count()) > 0 ? (await locator.first().textContent()) ?? '' : null);

/** Wait until locator's text equals want (string) or matches it (RegExp); resolves the text. */
async function waitText(locator, want, what, timeoutMs = 10000) {
  let text = null;
  await until(
    async () => {
      text = await textOf(locator);
      if (text === null) return false;
      return want instanceof RegExp ? want.test(text) : text.trim() === want;
    },
    () => `${what}: text is ${JSON.stringify(text)}, want ${want instanceof RegExp ? want : JSON.stringify(want)}`,
    timeoutMs,
  );
  return text;
}

describe('the client app in Chromium', () => {
  let srv;
  let browser;
  let page;
  let shot;
  let appConfig;
  let failedStep = null;
  const lambdaRequests = [];
  const cognitoTargets = [];

  // Shared between the steps.
  const userA = { email: `a-${unique}@example.com` };
  const userB = { email: `b-${unique}@example.com` };
  const file = {
    name: `notes-${unique}.txt`,
    content: Buffer.from(`cloudlet e2e ${unique}\nsecond line: ${crypto.randomBytes(12).toString('hex')}\n`),
  };

  const view = () => page.locator('#view');
  const alertBox = () => page.locator('#error');
  const heading = (name) => page.getByRole('heading', { name, exact: true });
  const testid = (id) => page.locator(`[data-testid="${id}"]`);

  /** The page must not have thrown or logged a console error (but the allowed 400 line). */
  function assertClean(what) {
    assert.deepEqual(browser.problems, [], `${what}: page errors or console errors`);
  }

  /**
   * A step of the flow: skips work after an earlier failure, screenshots on failure too.
   * expected400s: how many "Failed to load resource ... 400" console lines the step causes on
   * purpose (a wrong code, a wrong password); any other number fails the step.
   */
  function step(title, slug, fn, { expected400s = 0 } = {}) {
    it(title, { timeout: STEP_TIMEOUT }, async () => {
      if (failedStep) throw new Error(`not run: the earlier step "${failedStep}" failed`);
      if (!browser) throw new Error('not run: the browser did not start (see the before hook)');
      const allowedBefore = browser.allowed.length;
      try {
        await fn();
        assertClean(title);
        assert.equal(
          browser.allowed.length - allowedBefore,
          expected400s,
          `${title}: Chromium's "Failed to load resource: ... status of 400" lines (only a deliberate wrong code or password may cause one)`,
        );
      } catch (err) {
        failedStep = title;
        if (page) await shot(`${slug}-FAILED`).catch(() => {});
        if (browser?.problems.length) err.message += `\npage problems:\n  ${browser.problems.join('\n  ')}`;
        throw err;
      }
    });
  }

  async function errorText() {
    if (await alertBox().isHidden()) return '';
    return ((await alertBox().textContent()) ?? '').trim();
  }

  async function waitAlert(want, what) {
    await alertBox().waitFor({ state: 'visible' });
    const text = await waitText(alertBox(), want, what);
    assert.equal(await alertBox().getAttribute('role'), 'alert', '#error must be role=alert');
    return text;
  }

  async function waitSignInForm() {
    await heading('Sign in').waitFor();
    await page.getByLabel('Email', { exact: true }).waitFor();
    await page.getByLabel('Password', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
  }

  /** On the sign-in form: open "Create an account", fill it and submit; ends on "Confirm your email". */
  async function signUp(email) {
    await page.getByRole('button', { name: 'Create an account', exact: true }).click();
    await heading('Create an account').waitFor();
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up', exact: true }).click();
    await heading('Confirm your email').waitFor();
    assert.equal(await errorText(), '', 'no error after signing up');
  }

  /** On "Confirm your email": the newest code from the outbox signs the user in. */
  async function confirmFromOutbox(email, after) {
    const { message } = await waitForCode(srv.dataDir, email, { after });
    assert.match(String(message.code), /^\d{4,16}$/, `outbox code for ${email}: ${JSON.stringify(message)}`);
    await page.getByLabel('Confirmation code', { exact: true }).fill(String(message.code));
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await heading('Who you are').waitFor({ timeout: 15000 });
    return message;
  }

  /** The "Who you are" panel once filled. */
  async function whoami() {
    await until(
      async () => IDENTITY_RE.test(((await testid('whoami-identity').textContent()) ?? '').trim()),
      () => 'whoami-identity never showed an identity id',
    );
    const get = async (id) => ((await testid(`whoami-${id}`).textContent()) ?? '').trim();
    return { username: await get('username'), sub: await get('sub'), identity: await get('identity'), expires: await get('expires') };
  }

  /** "My files" after its first listing: the names listed, or [] when it says "No files yet.". */
  async function listedFiles() {
    const items = testid('file-list').locator('li');
    const empty = page.locator('.files-empty');
    await until(
      async () => (await items.count()) > 0 || (await empty.isVisible()),
      () => 'My files never finished listing (no items and no "No files yet.")',
    );
    return items.locator('.file-name').allTextContents();
  }

  async function signOut() {
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await waitSignInForm();
    await waitText(page.locator('#status'), 'Signed out.', 'status after signing out');
  }

  /** Select fn in "Function", check the refilled payload, Invoke, and resolve the shown outcome. */
  async function invoke(fn, expectedPayload) {
    const select = page.getByLabel('Function', { exact: true });
    await select.selectOption(fn);
    const payload = page.getByLabel('Payload (JSON)', { exact: true });
    assert.equal(await payload.inputValue(), expectedPayload, `payload prefilled for ${fn}`);
    const before = lambdaRequests.length;
    const response = page.waitForResponse((r) => LAMBDA_INVOKE.test(new URL(r.url()).pathname) && r.url().includes(`/functions/${fn}/`));
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();
    const res = await response;
    assert.equal(res.status(), 200, `Invoke ${fn}: HTTP ${res.status()}`);
    await until(
      async () => (await page.locator('#invoke-form').getAttribute('aria-busy')) === null,
      () => `the invoke form of ${fn} stayed busy`,
    );
    assert.equal(lambdaRequests.length, before + 1, `one Invoke request for ${fn}`);
    await testid('invoke-status').waitFor({ state: 'visible' });
    const get = async (id) => (await testid(`invoke-${id}`).textContent()) ?? '';
    return { status: (await get('status')).trim(), duration: (await get('duration')).trim(), result: await get('result'), log: await get('log') };
  }

  before(async () => {
    requireBuiltApp();
    await clearArtifacts();
    srv = await startAppServer();
    const res = await fetch(`${srv.url}/.well-known/cloudlet.json`);
    assert.equal(res.status, 200, 'GET /.well-known/cloudlet.json');
    appConfig = await res.json();
    browser = await openBrowser();
    page = browser.page;
    shot = screenshotter(page);
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin !== srv.url) return;
      if (LAMBDA_INVOKE.test(u.pathname)) lambdaRequests.push(u.pathname);
      const target = r.headers()['x-amz-target'];
      if (target) cognitoTargets.push(target);
    });
  });

  after(async () => {
    try {
      if (browser) await browser.close();
    } finally {
      if (srv) await srv.stop();
    }
  });

  step('1. opens on the sign-in form', 'sign-in', async () => {
    const res = await page.goto(`${srv.url}/`);
    assert.equal(res.status(), 200, 'GET /');
    await waitSignInForm();
    assert.equal(await page.title(), 'cloudlet');
    assert.equal(await errorText(), '', 'no error on a fresh start');
    await shot('sign-in');
  });

  step('2. signs up user A, with the password rules checked as they type', 'sign-up', async () => {
    await page.getByRole('button', { name: 'Create an account', exact: true }).click();
    await heading('Create an account').waitFor();
    const email = page.getByLabel('Email', { exact: true });
    const password = page.getByLabel('Password', { exact: true });
    const rules = page.locator('#password-rules li');
    const ruleState = async () =>
      Object.fromEntries(await rules.evaluateAll((lis) => lis.map((li) => [li.dataset.rule, li.dataset.ok])));
    const waitRules = async (want, after) => {
      let got;
      await until(
        async () => {
          got = await ruleState();
          return JSON.stringify(got) === JSON.stringify(want);
        },
        () => `#password-rules after typing ${JSON.stringify(after)}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`,
      );
    };
    // The default pool policy: 8 characters, upper, lower, number (no symbol).
    await waitRules({ length: 'false', upper: 'false', lower: 'false', number: 'false' }, '');
    assert.deepEqual(await rules.locator('span:not(.mark):not(.sr-only)').allTextContents(), [
      'At least 8 characters',
      'An uppercase letter',
      'A lowercase letter',
      'A number',
    ]);

    await email.fill(userA.email);
    // A weak password: the rules say what is missing and "Sign up" refuses it without asking the server.
    await password.pressSequentially('abc');
    await waitRules({ length: 'false', upper: 'false', lower: 'true', number: 'false' }, 'abc');
    const targetsBefore = cognitoTargets.length;
    await page.getByRole('button', { name: 'Sign up', exact: true }).click();
    await waitAlert(/^Your password still needs at least 8 characters, an uppercase letter, a number\.$/, 'weak password');
    assert.equal(await password.getAttribute('aria-invalid'), 'true', 'the weak password is marked invalid');
    await heading('Create an account').waitFor();
    await shot('sign-up-weak-password');
    await sleep(200);
    assert.deepEqual(cognitoTargets.slice(targetsBefore), [], 'a weak password must not reach the server');

    // The good password, typed in pieces: each rule flips to data-ok="true" as it is met.
    await password.fill('');
    await waitRules({ length: 'false', upper: 'false', lower: 'false', number: 'false' }, '');
    let typed = '';
    for (const [piece, want] of [
      ['P', { length: 'false', upper: 'true', lower: 'false', number: 'false' }],
      ['assw', { length: 'false', upper: 'true', lower: 'true', number: 'false' }],
      ['0', { length: 'false', upper: 'true', lower: 'true', number: 'true' }],
      ['rdGood', { length: 'true', upper: 'true', lower: 'true', number: 'true' }],
    ]) {
      await password.pressSequentially(piece);
      typed += piece;
      await waitRules(want, typed);
    }
    assert.equal(typed, PASSWORD);
    await shot('sign-up-rules-met');
    userA.outboxBefore = await outboxLength(srv.dataDir);
    await page.getByRole('button', { name: 'Sign up', exact: true }).click();
    await heading('Confirm your email').waitFor();
    assert.ok(cognitoTargets.slice(targetsBefore).some((t) => t.endsWith('.SignUp')), `a SignUp request was sent: ${cognitoTargets}`);
    await shot('sign-up-sent');
  });

  step('3. confirms A with the code from the outbox (a wrong code first) and signs in', 'confirm', async () => {
    const card = view();
    // Where the code went, masked as Cognito's CodeDeliveryDetails.Destination is (a***@e***.com).
    await waitText(card.locator('.confirm-to'), 'a***@e***.com', 'where the code was sent');
    assert.match((await card.textContent()) ?? '', /build\/cloudlet outbox/, 'the page says where to find the code');
    const { message } = await waitForCode(srv.dataDir, userA.email, { after: userA.outboxBefore });
    assert.match(String(message.code), /^\d{4,16}$/, `outbox message: ${JSON.stringify(message)}`);
    userA.code = String(message.code);

    // A wrong code of the same shape.
    const wrong = userA.code.replace(/.$/, (d) => String((Number(d) + 1) % 10));
    await page.getByLabel('Confirmation code', { exact: true }).fill(wrong);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await waitAlert('That code is not right or has expired.', 'wrong confirmation code');
    await heading('Confirm your email').waitFor();
    await shot('confirm-wrong-code');

    await page.getByLabel('Confirmation code', { exact: true }).fill(userA.code);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await heading('Who you are').waitFor({ timeout: 15000 });
    assert.equal(await errorText(), '', 'the error is gone once confirmed');
    await shot('confirmed-signed-in');
  }, { expected400s: 1 });

  step('4. shows who A is: username, sub, identity id, expiry', 'whoami', async () => {
    const who = await whoami();
    assert.equal(who.username, userA.email, 'whoami-username');
    assert.match(who.sub, UUID_RE, 'whoami-sub');
    assert.match(who.identity, IDENTITY_RE, 'whoami-identity');
    assert.notEqual(who.expires, '', 'whoami-expires');
    assert.notEqual(who.expires, 'no credentials', 'whoami-expires');
    userA.sub = who.sub;
    userA.identity = who.identity;
    await waitText(page.locator('.files-prefix'), `${who.identity}/`, 'the files prefix');
    await shot('whoami');
  });

  step('5. invokes hello, shout and echo; refuses a payload that is not JSON', 'invoke', async () => {
    const select = page.getByLabel('Function', { exact: true });
    assert.equal(await select.inputValue(), 'hello', 'the Function select defaults to hello');
    assert.deepEqual(
      (await select.locator('option').allTextContents()).sort(),
      [...appConfig.functions].sort(),
      'the select lists the functions of /.well-known/cloudlet.json',
    );
    const payload = page.getByLabel('Payload (JSON)', { exact: true });
    assert.equal(await payload.inputValue(), `{"name": "${userA.email}"}`, 'hello payload prefilled');

    const hello = await invoke('hello', `{"name": "${userA.email}"}`);
    assert.equal(hello.status, 'ok', `invoke-status (result: ${hello.result})`);
    assert.ok(hello.result.includes(`Hello, ${userA.email}!`), `invoke-result: ${hello.result}`);
    assert.ok(hello.result.includes(userA.identity), `invoke-result names the caller's identity ${userA.identity}: ${hello.result}`);
    const helloBody = JSON.parse(hello.result);
    assert.equal(helloBody.message, `Hello, ${userA.email}!`);
    assert.equal(helloBody.identityId, userA.identity, 'hello saw the verified caller identity in context.identity');
    assert.equal(helloBody.functionName, 'hello');
    assert.match(hello.log, /START RequestId/, `invoke-log: ${hello.log}`);
    assert.match(hello.log, /hello invoked for/, `invoke-log: ${hello.log}`);
    assert.match(hello.duration, /^\d+ ms$/, 'invoke-duration');
    await shot('invoke-hello');

    const shout = await invoke('shout', '{"text": "make some noise"}');
    assert.equal(shout.status, 'ok', `shout status (result: ${shout.result})`);
    assert.deepEqual(JSON.parse(shout.result), { TEXT: 'MAKE SOME NOISE' }, `shout result: ${shout.result}`);
    assert.match(shout.duration, /^\d+ ms$/);
    assert.match(shout.log, /START RequestId/, `shout log: ${shout.log}`);

    const echo = await invoke('echo', '{"hello": "world"}');
    assert.equal(echo.status, 'ok', `echo status (result: ${echo.result})`);
    const echoBody = JSON.parse(echo.result);
    assert.deepEqual(echoBody.event, { hello: 'world' }, `echo returns the event: ${echo.result}`);
    assert.equal(echoBody.identityId, userA.identity, 'echo saw the caller identity');
    assert.match(echo.log, /echo invoked by/, `echo log: ${echo.log}`);
    await shot('invoke-echo');

    // Not JSON: an error in the alert, the payload marked invalid, and no request.
    const before = lambdaRequests.length;
    await payload.fill('{"name": ');
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();
    await waitAlert(/^The payload is not valid JSON: /, 'invalid JSON payload');
    assert.equal(await payload.getAttribute('aria-invalid'), 'true', 'the payload is marked invalid');
    await sleep(300);
    assert.equal(lambdaRequests.length, before, 'an invalid payload must not be sent');
    await shot('invoke-invalid-json');
    // Picking a function refills the payload and clears the mark.
    await select.selectOption('hello');
    assert.equal(await payload.inputValue(), `{"name": "${userA.email}"}`);
    assert.equal(await payload.getAttribute('aria-invalid'), null);
  });

  step('6. uploads a file to My files and downloads the same bytes back', 'files', async () => {
    assert.deepEqual(await listedFiles(), [], 'a new user has no files');
    assert.ok(await page.getByText('No files yet.', { exact: true }).isVisible(), '"No files yet." is shown');
    await page.getByLabel('Choose a file', { exact: true }).setInputFiles({
      name: file.name,
      mimeType: 'text/plain',
      buffer: file.content,
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const item = testid('file-list').locator('li', { has: page.getByText(file.name, { exact: true }) });
    await item.waitFor();
    await waitText(page.locator('#upload-status'), `Uploaded ${file.name}.`, 'upload status');
    assert.equal(await errorText(), '', 'no error after the upload');
    assert.ok(await page.locator('.files-empty').isHidden(), '"No files yet." is hidden once there is a file');
    assert.deepEqual(await listedFiles(), [file.name]);
    assert.equal(((await item.locator('.file-size').textContent()) ?? '').trim(), `${file.content.length} B`);
    await shot('file-uploaded');

    // The Download link is a presigned URL: fetch it from the page...
    const link = item.getByRole('link', { name: 'Download', exact: true });
    const href = await link.getAttribute('href');
    const url = new URL(href, srv.url);
    assert.equal(url.origin, srv.url, 'the link points at the server');
    assert.equal(decodeURIComponent(url.pathname), `/${appConfig.uploadsBucket ?? 'uploads'}/${userA.identity}/${file.name}`);
    assert.ok(url.searchParams.get('X-Amz-Signature'), `presigned: ${href}`);
    const fetched = await page.evaluate(async (u) => {
      const r = await fetch(u);
      return { status: r.status, bytes: [...new Uint8Array(await r.arrayBuffer())] };
    }, href);
    assert.equal(fetched.status, 200, 'GET of the presigned URL');
    assert.ok(Buffer.from(fetched.bytes).equals(file.content), 'fetched bytes equal the uploaded ones');
    // ...and click it: the browser downloads the same bytes under the file's name.
    const downloading = page.waitForEvent('download');
    await link.click();
    const download = await downloading;
    assert.equal(download.suggestedFilename(), file.name);
    assert.equal(await download.failure(), null, 'the download did not fail');
    const saved = await fsp.readFile(await download.path());
    assert.ok(saved.equals(file.content), `downloaded bytes equal the uploaded ones (got ${saved.length} bytes)`);
  });

  step('7. signs A out', 'sign-out', async () => {
    await signOut();
    assert.equal(await errorText(), '', 'no error after signing out');
    assert.equal(await page.getByLabel('Email', { exact: true }).inputValue(), '', 'the sign-in form is empty after signing out');
    await shot('signed-out');
  });

  step("8. user B signs up and sees none of A's files; the policy refuses them", 'user-b', async () => {
    const outboxBefore = await outboxLength(srv.dataDir);
    await signUp(userB.email);
    await confirmFromOutbox(userB.email, outboxBefore);
    const who = await whoami();
    assert.equal(who.username, userB.email);
    assert.match(who.identity, IDENTITY_RE);
    assert.notEqual(who.identity, userA.identity, "B's identity id differs from A's");
    assert.notEqual(who.sub, userA.sub, "B's sub differs from A's");
    userB.identity = who.identity;
    assert.deepEqual(await listedFiles(), [], "B's list is empty");
    assert.ok(await page.getByText('No files yet.', { exact: true }).isVisible(), '"No files yet." is shown to B');
    assert.equal(await page.getByText(file.name).count(), 0, "A's file name appears nowhere on B's page");
    await shot('user-b-no-files');

    // The same credentials the page has: B's ID token from Amplify's storage in this browser, exchanged
    // with the identity pool of the app's own configuration.
    const clientId = appConfig.userPoolClientId;
    const idToken = await page.evaluate((cid) => {
      const base = `CognitoIdentityServiceProvider.${cid}`;
      const last = localStorage.getItem(`${base}.LastAuthUser`);
      return last ? localStorage.getItem(`${base}.${last}.idToken`) : null;
    }, clientId);
    assert.ok(idToken, "B's ID token is in the page's storage");
    const creds = await poolCredentials(srv.url, appConfig.identityPoolId, loginsFor(appConfig.userPoolId, idToken));
    assert.equal(creds.identityId, userB.identity, 'the exchange gives the identity the page shows');
    const bucket = appConfig.uploadsBucket ?? 'uploads';
    const asB = s3Client(srv.url, signing(creds));
    const asRoot = s3Client(srv.url, ROOT_CREDENTIALS);
    try {
      // A's object is there (root sees it)...
      const head = await asRoot.send(new HeadObjectCommand({ Bucket: bucket, Key: `${userA.identity}/${file.name}` }));
      assert.equal(head.ContentLength, file.content.length, "A's object exists");
      // ...B can use its own prefix...
      const own = await asB.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${userB.identity}/` }));
      assert.equal(own.KeyCount ?? 0, 0, "B's own prefix lists (empty)");
      // ...and is refused A's.
      await fails(asB.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${userA.identity}/` })), 'AccessDenied', {
        status: 403,
        what: "B lists A's prefix",
      });
      await fails(asB.send(new GetObjectCommand({ Bucket: bucket, Key: `${userA.identity}/${file.name}` })), 'AccessDenied', {
        status: 403,
        what: "B reads A's file",
      });
      await fails(
        asB.send(new PutObjectCommand({ Bucket: bucket, Key: `${userA.identity}/planted.txt`, Body: 'x' })),
        'AccessDenied',
        { status: 403, what: "B writes into A's prefix" },
      );
    } finally {
      asB.destroy();
      asRoot.destroy();
    }
  });

  step('9. B signs out; A signs back in with the password (a wrong one first) and still has the file', 'sign-in-again', async () => {
    await signOut();
    await page.getByLabel('Email', { exact: true }).fill(userA.email);
    await page.getByLabel('Password', { exact: true }).fill('Passw0rdWrong');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await waitAlert('Incorrect email or password.', 'wrong password');
    await heading('Sign in').waitFor();
    await shot('sign-in-wrong-password');

    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await heading('Who you are').waitFor({ timeout: 15000 });
    assert.equal(await errorText(), '', 'the error is gone once signed in');
    const who = await whoami();
    assert.equal(who.username, userA.email);
    assert.equal(who.identity, userA.identity, 'A gets the same identity id again');
    assert.deepEqual(await listedFiles(), [file.name], "A's file is still listed");
    await shot('signed-in-again');
  }, { expected400s: 1 });

  step('10. fits a phone-width screen without horizontal scrolling', 'phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await heading('Who you are').waitFor();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await shot('phone-signed-in');
    const widths = await page.evaluate(() => ({
      doc: document.documentElement.scrollWidth,
      body: document.body.scrollWidth,
      inner: window.innerWidth,
    }));
    assert.equal(widths.inner, 390);
    assert.ok(widths.doc <= 390, `no horizontal scroll at 390 px: documentElement.scrollWidth is ${widths.doc}`);
    assert.ok(widths.body <= 390, `no horizontal scroll at 390 px: body.scrollWidth is ${widths.body}`);
  });

  step('11. the sign-in form works with the keyboard alone', 'keyboard', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await signOut();
    const focused = () =>
      page.evaluate(() => {
        const a = document.activeElement;
        if (!a || a === document.body) return 'body';
        return a.id ? `#${a.id}` : `${a.tagName.toLowerCase()}:${(a.textContent ?? '').trim()}`;
      });
    // Start from the form's heading (focusable by script only, not a tab stop).
    await page.locator('#signin-title').focus();
    assert.equal(await focused(), '#signin-title');
    const order = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      order.push(await focused());
    }
    assert.deepEqual(
      order,
      ['#signin-email', '#signin-password', 'button:Sign in', 'button:Forgot password?', 'button:Create an account'],
      'Tab order on the sign-in form',
    );
    // Back to Email with Shift+Tab, then sign in with keys only.
    for (let i = 0; i < 4; i++) await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), '#signin-email');
    await page.keyboard.type(userA.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'button:Sign in');
    await shot('keyboard-sign-in');
    await page.keyboard.press('Enter');
    await heading('Who you are').waitFor({ timeout: 15000 });
    const who = await whoami();
    assert.equal(who.identity, userA.identity);
    assert.equal(await focused(), '#whoami-title', 'focus moves to the signed-in screen');
    await shot('keyboard-signed-in');
  });
});
