// lambda-helpers.mjs - shared plumbing for the Lambda integration tests
// (lambda-*.test.mjs): a LambdaClient pointed at the server (no retries),
// Invoke with the payload, function error and tail log decoded, a small zip
// writer (stored and deflated entries, unix modes, any entry name, so that a
// test can build a bootstrap with mode 0755 or a zip-slip archive), function
// entries for cloudlet.json, identity-pool credentials of a signed-up user or
// a guest, SigV4-signed and unsigned raw requests (for what the SDK will not
// send, and for function URLs), polling, and Debian's aws CLI.
// The behaviour asserted is the one of the Lambda issue and
// docs/aws-wire-protocols.md section 5.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { LambdaClient, InvokeCommand } from '@aws-sdk/client-lambda';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { request, sleep, REPO_ROOT } from './helpers.mjs';
import {
  REGION,
  ROOT_ENV,
  ROOT_CREDENTIALS,
  ACCOUNT,
  IDENTITY_ID_RE,
  ASIA_RE,
  fails,
  bare,
  uniq,
  policy,
  roleArn,
  loginsFor,
  makeUser,
  poolCredentials,
  signing,
  awsCli,
  cliCredentialsEnv,
} from './sts-helpers.mjs';

export { REGION, ROOT_ENV, ROOT_CREDENTIALS, ACCOUNT, IDENTITY_ID_RE, ASIA_RE, fails, bare, uniq, policy, roleArn, signing, cliCredentialsEnv };

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const fnArn = (name) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
export const EXAMPLES = path.join(REPO_ROOT, 'functions', 'examples');
/** shout's bootstrap is built by make; until then its assertions are skipped. */
export const SHOUT_BUILT = fs.existsSync(path.join(EXAMPLES, 'shout', 'bootstrap'));
export const SHOUT_SKIP = SHOUT_BUILT ? false : 'functions/examples/shout/bootstrap is not built yet (run `make`): shout assertions skipped';

// ---- clients ----

/** A LambdaClient for the server: region us-east-1, one attempt (every refusal is seen as sent). */
export const lambdaClient = (url, credentials = ROOT_CREDENTIALS, extra = {}) =>
  new LambdaClient({ region: REGION, endpoint: url, maxAttempts: 1, credentials, ...extra });

/** An S3Client for the server: path-style, one attempt. */
export const s3Client = (url, credentials = ROOT_CREDENTIALS, extra = {}) =>
  new S3Client({ region: REGION, endpoint: url, forcePathStyle: true, maxAttempts: 1, credentials, ...extra });

// ---- invoke ----

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Invoke name with event (an object, JSON-encoded; a string or Buffer is sent as is).
 * input: more InvokeCommand members (InvocationType, LogType, Qualifier...).
 * Resolves {status, functionError, text, json, log (LogResult decoded or undefined), version, ms, out}.
 * Rejects with the SDK's error when the service refuses.
 */
export async function invoke(client, name, event = {}, input = {}) {
  const Payload = typeof event === 'string' || Buffer.isBuffer(event) ? event : JSON.stringify(event);
  const t0 = Date.now();
  const out = await client.send(new InvokeCommand({ FunctionName: name, Payload, ...input }));
  const ms = Date.now() - t0;
  const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
  return {
    status: out.StatusCode,
    httpStatus: out.$metadata?.httpStatusCode,
    functionError: out.FunctionError,
    text,
    json: parseJson(text),
    log: out.LogResult !== undefined ? Buffer.from(out.LogResult, 'base64').toString('utf8') : undefined,
    version: out.ExecutedVersion,
    ms,
    out,
  };
}

/** invoke() that must succeed with 200 and no function error; returns the parsed result. */
export async function invokeOk(client, name, event = {}, input = {}, what = `invoke ${name}`) {
  const r = await invoke(client, name, event, input);
  assert.equal(r.status, 200, `${what}: StatusCode ${r.status}, payload ${r.text.slice(0, 300)}`);
  assert.equal(r.functionError, undefined, `${what}: FunctionError ${r.functionError}: ${r.text.slice(0, 500)}`);
  assert.notEqual(r.json, undefined, `${what}: the payload is not JSON: ${JSON.stringify(r.text.slice(0, 300))}`);
  return r.json;
}

/** invoke() that must end in an Unhandled function error; returns {error (the payload), r}. */
export async function invokeUnhandled(client, name, event = {}, input = {}, what = `invoke ${name}`) {
  const r = await invoke(client, name, event, input);
  assert.equal(r.status, 200, `${what}: StatusCode ${r.status} (a function error is still HTTP 200), payload ${r.text.slice(0, 300)}`);
  assert.equal(r.functionError, 'Unhandled', `${what}: FunctionError ${r.functionError}, want Unhandled; payload ${r.text.slice(0, 300)}`);
  assert.ok(r.json && typeof r.json === 'object', `${what}: the error payload is not a JSON object: ${r.text.slice(0, 300)}`);
  assert.equal(typeof r.json.errorType, 'string', `${what}: no errorType in ${r.text.slice(0, 300)}`);
  assert.equal(typeof r.json.errorMessage, 'string', `${what}: no errorMessage in ${r.text.slice(0, 300)}`);
  return { error: r.json, r };
}

/** Await promise (an SDK call) expecting TooManyRequestsException 429; resolves true when throttled, the output otherwise. */
export async function throttledOr(promise) {
  try {
    return { ok: await promise };
  } catch (err) {
    if (err.name === 'TooManyRequestsException' && err.$metadata?.httpStatusCode === 429) return { throttled: err };
    throw err;
  }
}

// ---- a zip writer ----

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

function dosDateTime(d = new Date(2024, 0, 2, 3, 4, 6)) {
  const time = (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1);
  const date = ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate();
  return { time, date };
}

const crc32 =
  typeof zlib.crc32 === 'function'
    ? (buf) => zlib.crc32(buf) >>> 0
    : (() => {
        const table = new Uint32Array(256);
        for (let n = 0; n < 256; n++) {
          let c = n;
          for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
          table[n] = c >>> 0;
        }
        return (buf) => {
          let c = 0xffffffff;
          for (const b of buf) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
          return (c ^ 0xffffffff) >>> 0;
        };
      })();

/**
 * A zip archive (Buffer). entries: an object {name: content} or an array of
 * {name, data (string | Buffer), mode (permission bits, default 0o644; 0o755 for an
 * executable), method ('deflate' default | 'store'), type ('file' | 'dir' | 'symlink')}.
 * Names are written exactly as given (so '../evil.js' or '/tmp/x' can be crafted).
 */
export function makeZip(entries) {
  const list = Array.isArray(entries) ? entries : Object.entries(entries).map(([name, data]) => ({ name, data }));
  const locals = [];
  const centrals = [];
  let offset = 0;
  const { time, date } = dosDateTime();
  for (const e of list) {
    const type = e.type ?? (e.name.endsWith('/') ? 'dir' : 'file');
    const raw = Buffer.from(e.data ?? '');
    const perms = e.mode ?? (type === 'dir' ? 0o755 : 0o644);
    const ifmt = type === 'dir' ? S_IFDIR : type === 'symlink' ? S_IFLNK : S_IFREG;
    const method = type === 'file' && (e.method ?? 'deflate') === 'deflate' ? 8 : 0;
    const body = method === 8 ? zlib.deflateRawSync(raw) : raw;
    const crc = crc32(raw);
    const name = Buffer.from(e.name, 'utf8');
    const flags = 0x0800; // names are UTF-8

    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt16LE(time, 10);
    lh.writeUInt16LE(date, 12);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(raw.length, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(0, 28);
    locals.push(lh, name, body);

    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | 20, 4); // made by: unix, 2.0
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt16LE(time, 12);
    ch.writeUInt16LE(date, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(raw.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(0, 30); // extra
    ch.writeUInt16LE(0, 32); // comment
    ch.writeUInt16LE(0, 34); // disk
    ch.writeUInt16LE(0, 36); // internal attributes
    ch.writeUInt32LE((((ifmt | perms) << 16) | (type === 'dir' ? 0x10 : 0)) >>> 0, 38);
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, name);

    offset += lh.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(list.length, 8);
  end.writeUInt16LE(list.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...locals, cd, end]);
}

/** Base64 SHA-256 of buf (Lambda's CodeSha256). */
export const sha256b64 = (buf) => crypto.createHash('sha256').update(buf).digest('base64');

// ---- functions for cloudlet.json ----

/** A cloudlet.json "functions" entry for a Node.js function in dir (index.handler, timeout 1 s). */
export const nodeFn = (name, code, extra = {}) => ({ name, code, runtime: 'nodejs20.x', handler: 'index.handler', timeout: 1, memory: 128, ...extra });

// ---- identities ----

/** The server's /.well-known/cloudlet.json. */
export async function wellKnown(url) {
  const res = await request(url, '/.well-known/cloudlet.json');
  assert.equal(res.status, 200, `/.well-known/cloudlet.json: ${res.status} ${res.text.slice(0, 200)}`);
  return JSON.parse(res.text);
}

/**
 * A user signed up and logged in to the default user pool, and the default identity pool's
 * credentials for them. Resolves {user, identityId, credentials (signing only)}.
 */
export async function signedUpUser(srv, doc, prefix = 'Lam') {
  const user = await makeUser(srv, { clientId: doc.userPoolClientId, prefix });
  const c = await poolCredentials(srv.url, doc.identityPoolId, loginsFor(doc.userPoolId, user.idToken));
  assert.match(String(c.identityId), IDENTITY_ID_RE, `identity id of ${user.username}: ${c.identityId}`);
  return { user, identityId: c.identityId, credentials: signing(c) };
}

/** Guest credentials of identityPoolId (GetId without Logins + GetCredentialsForIdentity). */
export async function guestCredentials(url, identityPoolId) {
  const c = await poolCredentials(url, identityPoolId);
  return { identityId: c.identityId, credentials: signing(c) };
}

// ---- raw requests ----

/**
 * One HTTP request to the server, SigV4-signed with `sign` (credentials) for `service`, or
 * unsigned when sign is false. pathname: the path as sent (already encoded); query: object.
 * Resolves request()'s {status, headers, body, text} plus json.
 */
export async function lambdaRaw(url, method, pathname, { body, headers = {}, query = {}, sign = ROOT_CREDENTIALS, service = 'lambda', timeoutMs = 15000 } = {}) {
  const u = new URL(url);
  let hdrs = { host: u.host, ...headers };
  if (sign) {
    const signer = new SignatureV4({ service, region: REGION, credentials: sign, sha256: Sha256 });
    const signed = await signer.sign({
      method,
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path: pathname,
      query,
      headers: hdrs,
      ...(body !== undefined ? { body } : {}),
    });
    hdrs = signed.headers;
  }
  const qs = new URLSearchParams(query).toString().replace(/\+/g, '%20');
  const res = await request(url, qs ? `${pathname}?${qs}` : pathname, { method, headers: hdrs, body, timeoutMs });
  res.json = parseJson(res.text);
  return res;
}

/**
 * A request to a full URL (a function URL): method, body (string | Buffer), headers; signed with
 * `sign` (credentials, service lambda) unless false. Resolves {status, headers, text, json}.
 */
export async function urlRequest(fullUrl, { method = 'GET', body, headers = {}, sign = false, timeoutMs = 15000 } = {}) {
  const u = new URL(fullUrl);
  const query = Object.fromEntries(u.searchParams.entries());
  return lambdaRaw(`${u.protocol}//${u.host}`, method, u.pathname, { body, headers, query, sign, timeoutMs });
}

/** A Lambda JSON error answer: status, x-amzn-errortype or __type naming `type`. Returns the body. */
export function assertLambdaErr(res, type, { status, what = type } = {}) {
  const label = `${what}: want ${status ?? ''} ${type}, got ${res.status} ${res.headers['x-amzn-errortype'] ?? ''} ${res.text.slice(0, 300)}`;
  if (status !== undefined) assert.equal(res.status, status, label);
  const fromHeader = String(res.headers['x-amzn-errortype'] ?? '').split(':')[0];
  const fromBody = String(res.json?.__type ?? res.json?.Type ?? '').split('#').pop();
  assert.ok(fromHeader === type || fromBody === type, label);
  assert.match(res.headers['content-type'] ?? '', /json/i, label);
  return res.json;
}

// ---- polling ----

/** Call fn every intervalMs until it returns a value other than undefined/null/false; fail after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last.name}: ${last.message})` : ''}`);
    await sleep(intervalMs);
  }
}

/** The text of s3://bucket/key, or null when there is no such key. */
export async function objectText(s3, bucket, key) {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body.transformToByteArray()).toString('utf8');
  } catch (err) {
    if (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
}

/** Poll s3://bucket/key until it exists (timeoutMs); resolves its text. */
export const waitObject = (s3, bucket, key, { timeoutMs = 10000, what = `s3://${bucket}/${key}` } = {}) =>
  waitFor(() => objectText(s3, bucket, key), { timeoutMs, what });

// ---- the aws CLI ----

/** The AWS_* environment of root's credentials (no session token). */
export const ROOT_CLI_ENV = { AWS_ACCESS_KEY_ID: ROOT_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: ROOT_CREDENTIALS.secretAccessKey };

/** `/usr/bin/aws lambda ARGS --endpoint-url URL --output json` in a clean environment; env = credentials etc. */
export const awsLambda = (url, args, env = ROOT_CLI_ENV, opts) => awsCli(url, ['lambda', ...args], env, opts);

/** Assert a CLI run exited 0 (with its output in the message); returns it. */
export function cliOk(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code ?? r.signal}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`);
  return r;
}

/** Assert a CLI run failed with the service error `code` (the CLI prints "(Code)" on stderr). */
export function cliFails(r, code, what = code) {
  assert.notEqual(r.code, 0, `${what}: the CLI exited 0, want ${code}\nstdout: ${r.stdout.slice(0, 1000)}`);
  assert.match(r.stderr, new RegExp(`\\(${code}\\)`), `${what}: want ${code}\nstderr: ${r.stderr.slice(0, 1000)}`);
  return r;
}
