// cognito-node-shims.mjs - what the Cognito client libraries need to run in
// Node 20 against a local cloudlet, plus small helpers shared by the
// cognito-*.test.mjs files:
//   - browser-like storages (Web Storage semantics: getItem gives null for a
//     missing key, as in a browser, so the libraries send exactly what they
//     send from a page, e.g. amazon-cognito-identity-js's DEVICE_KEY: null);
//   - a fetch recorder: every request the libraries make and the answer, so a
//     test can check which operations a library called and what came back
//     (Amplify's signOut() swallows RevokeToken errors, for one);
//   - raw Cognito calls, the outbox reader, JWT decoding and forging helpers.
//
// Node 20 needs no other shim: it has fetch, globalThis.crypto (webcrypto)
// and TextEncoder. Amplify v6 falls back to in-memory token storage without
// window.localStorage; we set an explicit in-memory KeyValueStorage anyway so
// that a test can look at (and clear) what Amplify stored.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { request, runCli, sleep } from './helpers.mjs';

// ---- storages ----

/** Synchronous Web Storage look-alike (window.localStorage semantics). */
export class MemoryWebStorage {
  constructor() {
    this.map = new Map();
  }
  get length() {
    return this.map.size;
  }
  key(i) {
    return [...this.map.keys()][i] ?? null;
  }
  getItem(k) {
    return this.map.has(String(k)) ? this.map.get(String(k)) : null;
  }
  setItem(k, v) {
    this.map.set(String(k), String(v));
  }
  removeItem(k) {
    this.map.delete(String(k));
  }
  clear() {
    this.map.clear();
  }
}

/** Amplify v6 KeyValueStorageInterface, in memory (for cognitoUserPoolsTokenProvider.setKeyValueStorage). */
export class MemoryKeyValueStorage {
  constructor() {
    this.map = new Map();
  }
  async setItem(k, v) {
    this.map.set(k, v);
  }
  async getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  async removeItem(k) {
    this.map.delete(k);
  }
  async clear() {
    this.map.clear();
  }
}

// ---- fetch recorder ----

function headersToObject(h) {
  const out = {};
  if (!h) return out;
  if (typeof h.forEach === 'function' && !Array.isArray(h)) {
    h.forEach((v, k) => (out[k.toLowerCase()] = v));
  } else if (Array.isArray(h)) {
    for (const [k, v] of h) out[k.toLowerCase()] = v;
  } else {
    for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  }
  return out;
}

function tryJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Wrap globalThis.fetch (both libraries look the global up at call time) and
 * record every call: {url, method, headers, op, body, requestText, status,
 * responseHeaders, response, responseText}. op is the X-Amz-Target operation.
 */
export function installFetchRecorder() {
  const original = globalThis.fetch;
  const calls = [];
  const recorder = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = headersToObject(init.headers ?? (typeof input === 'object' && !(input instanceof URL) ? input.headers : undefined));
    const requestText = typeof init.body === 'string' ? init.body : init.body === undefined ? '' : String(init.body);
    const target = headers['x-amz-target'] ?? '';
    const entry = {
      url,
      method: (init.method ?? 'GET').toUpperCase(),
      headers,
      op: target.includes('.') ? target.slice(target.lastIndexOf('.') + 1) : target,
      requestText,
      body: tryJson(requestText),
      status: undefined,
      responseHeaders: {},
      responseText: undefined,
      response: undefined,
      error: undefined,
    };
    calls.push(entry);
    let res;
    try {
      res = await original(input, init);
    } catch (err) {
      entry.error = err;
      throw err;
    }
    entry.status = res.status;
    entry.responseHeaders = headersToObject(res.headers);
    try {
      entry.responseText = await res.clone().text();
      entry.response = tryJson(entry.responseText);
    } catch {
      /* body not readable twice: leave it out */
    }
    return res;
  };
  globalThis.fetch = recorder;
  return {
    calls,
    /** Calls of one operation (or all when op is omitted), made since index `since`. */
    ops: (op, since = 0) => calls.slice(since).filter((c) => op === undefined || c.op === op),
    mark: () => calls.length,
    uninstall: () => {
      if (globalThis.fetch === recorder) globalThis.fetch = original;
    },
  };
}

// ---- raw Cognito calls ----

/** POST / with X-Amz-Target AWSCognitoIdentityProviderService.<op>; resolves {status, headers, body (parsed), text}. */
export async function cognitoCall(server, op, payload, { headers = {} } = {}) {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload ?? {});
  const res = await request(server.url, '/', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityProviderService.${op}`,
      ...headers,
    },
    body: text,
    timeoutMs: 15000,
  });
  return { status: res.status, headers: res.headers, text: res.text, body: tryJson(res.text) };
}

/** Assert a Cognito JSON error of type `type` (HTTP 400 unless given); returns the parsed body. */
export function assertCognitoError(res, type, { status = 400, message, what = '' } = {}) {
  const label = `${what ? `${what}: ` : ''}expected ${type}, got ${res.status} ${res.text?.slice(0, 400)}`;
  assert.equal(res.status, status, label);
  assert.ok(res.body && typeof res.body === 'object', label);
  const t = String(res.body.__type ?? '').split('#').pop();
  assert.equal(t, type, label);
  if (message instanceof RegExp) assert.match(String(res.body.message ?? res.body.Message), message, label);
  else if (message !== undefined) assert.equal(res.body.message ?? res.body.Message, message, label);
  return res.body;
}

/** Assert a 200 answer; returns the parsed body. */
export function assertOk(res, what = '') {
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.text?.slice(0, 400)}`);
  assert.ok(res.body && typeof res.body === 'object', `${what}: body is not a JSON object: ${res.text?.slice(0, 200)}`);
  return res.body;
}

// ---- outbox ----

/** Every outbox message (the CLI prints the newest 50), parsed. */
export async function readOutbox(server) {
  const r = await runCli(['outbox', '--data', server.dataDir, '--json']);
  assert.equal(r.code, 0, `outbox exited ${r.code}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/**
 * The newest outbox message for username (case-insensitive) of `kind`, waiting
 * up to timeoutMs for one that was not in `seen` (a Set of codes to skip).
 */
export async function waitForMessage(server, username, kind = 'SignUp', { timeoutMs = 5000, notCodes = [] } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = [];
  for (;;) {
    last = await readOutbox(server);
    const mine = last.filter(
      (m) => String(m.username).toLowerCase() === username.toLowerCase() && m.kind === kind && !notCodes.includes(m.code),
    );
    if (mine.length) return mine[mine.length - 1];
    if (Date.now() > deadline) {
      assert.fail(`no ${kind} message for ${username} in the outbox; it holds: ${JSON.stringify(last).slice(0, 1500)}`);
    }
    await sleep(100);
  }
}

// ---- JWT helpers ----

export const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const b64urlJson = (obj) => b64url(JSON.stringify(obj));

/** {header, payload, signature (Buffer), parts} of a compact JWS, without verifying anything. */
export function decodeJwt(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a compact JWS: ${token.slice(0, 80)}`);
  return {
    header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')),
    signature: Buffer.from(parts[2], 'base64url'),
    parts,
  };
}

/** header.payload signed with HMAC-SHA256 under `key` (string or Buffer). */
export function signHs256(header, payload, key) {
  const input = `${b64urlJson(header)}.${b64urlJson(payload)}`;
  return `${input}.${b64url(crypto.createHmac('sha256', key).update(input).digest())}`;
}

/** header.payload signed RS256 with a node KeyObject (private). */
export function signRs256(header, payload, privateKey) {
  const input = `${b64urlJson(header)}.${b64urlJson(payload)}`;
  return `${input}.${b64url(crypto.sign('sha256', Buffer.from(input), privateKey))}`;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A unique-enough suffix for user names. */
export const uniq = () => `${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}`;
