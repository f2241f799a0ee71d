// helpers.mjs - plumbing for cloudlet's end-to-end tests: a real server with
// the client app deployed into bucket `site`, Debian's Chromium driven by
// playwright-core with a fresh profile, the outbox, numbered screenshots, and
// a strict watch on the page's console (no page errors, no console errors but
// the one line Chromium prints for a deliberate 400 answer).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO_ROOT, startServer, deploySite, rmTree, sleep } from '../integration/helpers.mjs';
import { readOutbox, ROOT_ENV } from '../integration/cognito-helpers.mjs';

export { REPO_ROOT, sleep };

export const WEB_DIST = path.join(REPO_ROOT, 'web', 'dist');
export const ARTIFACTS = path.join(REPO_ROOT, 'tests', 'e2e', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-gpu',
  '--disable-quic',
];

// What Chromium itself prints when a fetch is answered 400: the app asks for
// such answers on purpose (wrong password, wrong code). Exactly this line is
// allowed; any other console error fails the run.
export const ALLOWED_CONSOLE_ERROR = /^Failed to load resource: the server responded with a status of 400 \(Bad Request\)$/;

/** Fails with what to run when the client app has not been built. */
export function requireBuiltApp() {
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) {
    throw new Error(`the client app is not built (${path.join(WEB_DIST, 'index.html')} is missing): run \`make web\` first`);
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (make deps)`);
  }
}

/** A server on a free port with a fresh data directory and web/dist deployed into bucket `site`. */
export async function startAppServer() {
  const srv = await startServer({ env: ROOT_ENV });
  try {
    await deploySite(WEB_DIST, srv.dataDir, { env: ROOT_ENV });
  } catch (err) {
    await srv.stop();
    throw err;
  }
  return srv;
}

/**
 * Chromium with a fresh user data directory. Resolves {context, page, userDataDir, problems, close()}:
 * problems collects page errors and console errors (other than the allowed line) as strings.
 */
export async function openBrowser({ viewport = { width: 1280, height: 900 } } = {}) {
  const userDataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudlet-e2e-profile-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport,
      acceptDownloads: true,
    });
  } catch (err) {
    await rmTree(userDataDir);
    throw err;
  }
  context.setDefaultTimeout(10000);
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  const allowed = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.stack || err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (ALLOWED_CONSOLE_ERROR.test(text)) {
      allowed.push(text);
      return;
    }
    const loc = msg.location();
    problems.push(`console.error: ${text}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
  });
  page.on('crash', () => problems.push('the page crashed'));
  return {
    context,
    page,
    userDataDir,
    problems,
    allowed,
    async close() {
      try {
        await context.close();
      } finally {
        await rmTree(userDataDir);
      }
    },
  };
}

/** Screenshots numbered in the order they are taken: artifacts/NN-name.png (full page). */
export function screenshotter(page) {
  let n = 0;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return async (name) => {
    n += 1;
    const file = path.join(ARTIFACTS, `${String(n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };
}

/** Remove the screenshots of an earlier run, so that artifacts/ shows this run only. */
export async function clearArtifacts() {
  await fsp.mkdir(ARTIFACTS, { recursive: true });
  for (const f of await fsp.readdir(ARTIFACTS)) {
    if (f.endsWith('.png')) await fsp.rm(path.join(ARTIFACTS, f), { force: true });
  }
}

/**
 * The newest confirmation code in the outbox for username, polling up to timeoutMs.
 * after: only messages whose position in the outbox is at least this (to skip older codes).
 */
export async function waitForCode(dataDir, username, { timeoutMs = 5000, after = 0 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await readOutbox(dataDir);
    const mine = all
      .slice(after)
      .filter((m) => typeof m.username === 'string' && m.username.toLowerCase() === username.toLowerCase() && m.code);
    if (mine.length > 0) return { message: mine[mine.length - 1], count: all.length };
    if (Date.now() > deadline) {
      assert.fail(`no code for ${username} in \`cloudlet outbox --json\` after ${timeoutMs} ms (outbox: ${JSON.stringify(all)})`);
    }
    await sleep(100);
  }
}

/** How many messages the outbox holds now. */
export async function outboxLength(dataDir) {
  return (await readOutbox(dataDir)).length;
}
