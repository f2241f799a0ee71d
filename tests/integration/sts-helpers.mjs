// sts-helpers.mjs - shared plumbing for the identity-pool / STS / gate
// integration tests (sts-*.test.mjs): SDK clients pointed at the server with
// no retries, users signed up and logged in through the SDK, identity-pool
// credentials through fromCognitoIdentityPool, raw SigV4-signed STS (query)
// and Cognito Identity (awsJson1_1) requests for what the SDK will not send
// (another signing service, no signature at all, a tampered body), forged
// JWTs, Debian's aws CLI in a clean environment, and a server that can be
// restarted on the same data directory.
// The behaviour asserted is the one in notes/sts-spec.md.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CognitoIdentityProviderClient, SignUpCommand, ConfirmSignUpCommand, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import { CognitoIdentityClient } from '@aws-sdk/client-cognito-identity';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers';
import { request, freePort, sleep, BIN } from './helpers.mjs';
import { REGION, ROOT_ENV, ROOT_CREDENTIALS, latestCode } from './cognito-helpers.mjs';

export { REGION, ROOT_ENV, ROOT_CREDENTIALS };
export const ACCOUNT = '000000000000';
export const IDENTITY_ID_RE = /^us-east-1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ASIA_RE = /^ASIA[A-Z0-9]{12,124}$/;
export const AROA_RE = /^AROA[A-Z0-9]+$/;
export const PASSWORD = 'Passw0rdGood';
export const IDP_SESSION = 'CognitoIdentityCredentials';

export const roleArn = (name) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
export const assumedRoleArn = (role, session) => `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`;
export const userPoolArn = (poolId) => `arn:aws:cognito-idp:${REGION}:${ACCOUNT}:userpool/${poolId}`;
export const identityPoolArn = (id) => `arn:aws:cognito-identity:${REGION}:${ACCOUNT}:identitypool/${id}`;
export const providerName = (poolId) => `cognito-idp.${REGION}.amazonaws.com/${poolId}`;
export const loginsFor = (poolId, idToken) => ({ [providerName(poolId)]: idToken });
export const policy = (...Statement) => ({ Version: '2012-10-17', Statement });

export const uniq = () => `${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}`;
export const nowSec = () => Math.floor(Date.now() / 1000);

// ---- SDK clients (no retries: every refusal must be seen as the server sent it) ----

export const idpClient = (url, credentials, extra = {}) =>
  new CognitoIdentityProviderClient({ region: REGION, endpoint: url, maxAttempts: 1, ...(credentials ? { credentials } : {}), ...extra });

export const identityClient = (url, credentials, extra = {}) =>
  new CognitoIdentityClient({ region: REGION, endpoint: url, maxAttempts: 1, ...(credentials ? { credentials } : {}), ...extra });

export const stsClient = (url, credentials, extra = {}) =>
  new STSClient({ region: REGION, endpoint: url, maxAttempts: 1, ...(credentials ? { credentials } : {}), ...extra });

/** Strip $metadata from an SDK output. */
export const bare = (out) => {
  const { $metadata, ...rest } = out ?? {};
  return rest;
};

/**
 * Await promise, which must reject with a service error named `name` and HTTP `status`
 * (message: string or RegExp, optional). Resolves the error.
 */
export async function fails(promise, name, { status, message, what = name } = {}) {
  let out;
  try {
    out = await promise;
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    const got = `${err.name} (HTTP ${err.$metadata?.httpStatusCode}) "${err.message}"`;
    assert.equal(err.name, name, `${what}: got ${got}, want ${name}${status ? ` ${status}` : ''}`);
    if (status !== undefined) assert.equal(err.$metadata?.httpStatusCode, status, `${what}: HTTP status of ${got}`);
    if (message instanceof RegExp) assert.match(err.message, message, `${what}: message`);
    else if (message !== undefined) assert.equal(err.message, message, `${what}: message`);
    return err;
  }
  assert.fail(`${what}: succeeded, want ${name}: ${JSON.stringify(bare(out)).slice(0, 300)}`);
}

// ---- users ----

/**
 * SignUp through the SDK (confirming with the outbox code unless the pool auto-confirms),
 * then InitiateAuth USER_PASSWORD_AUTH. Resolves {username, sub, idToken, accessToken, refreshToken}.
 */
export async function makeUser(srv, { clientId, prefix = 'u', password = PASSWORD, client } = {}) {
  const idp = client ?? idpClient(srv.url);
  try {
    const username = `${prefix}${uniq()}`;
    const email = `${username.toLowerCase()}@example.com`;
    const su = await idp.send(
      new SignUpCommand({ ClientId: clientId, Username: username, Password: password, UserAttributes: [{ Name: 'email', Value: email }] }),
    );
    if (!su.UserConfirmed) {
      const code = await latestCode(srv.dataDir, username, { kind: 'SignUp' });
      await idp.send(new ConfirmSignUpCommand({ ClientId: clientId, Username: username, ConfirmationCode: code }));
    }
    const auth = await idp.send(
      new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: clientId, AuthParameters: { USERNAME: username, PASSWORD: password } }),
    );
    const ar = auth.AuthenticationResult;
    assert.ok(ar?.IdToken, `login of ${username}: no IdToken: ${JSON.stringify(bare(auth)).slice(0, 300)}`);
    return { username, email, sub: su.UserSub, idToken: ar.IdToken, accessToken: ar.AccessToken, refreshToken: ar.RefreshToken };
  } finally {
    if (!client) idp.destroy();
  }
}

// ---- credentials ----

/**
 * Credentials for an identity pool through @aws-sdk/credential-providers' fromCognitoIdentityPool
 * (GetId + GetCredentialsForIdentity), as an app does. logins omitted = guest.
 */
export async function poolCredentials(url, identityPoolId, logins) {
  const client = identityClient(url);
  try {
    const provider = fromCognitoIdentityPool({
      client,
      identityPoolId,
      ...(logins ? { logins } : {}),
      // A fresh identity every call for guests (the provider caches ANONYMOUS identity ids by pool otherwise).
      ...(logins ? {} : { userIdentifier: `guest-${uniq()}` }),
    });
    return await provider();
  } finally {
    client.destroy();
  }
}

/** Only the signing part of a credentials object. */
export const signing = (c) => ({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken });

/** STS credentials (SDK output shape) → SDK credentials. */
export const fromStsCredentials = (c) => ({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration });

/** GetCallerIdentity with credentials (extra: client config such as region or systemClockOffset). */
export async function callerIdentity(url, credentials, extra = {}) {
  const sts = stsClient(url, credentials, extra);
  try {
    return bare(await sts.send(new GetCallerIdentityCommand({})));
  } finally {
    sts.destroy();
  }
}

/** Temporary credentials (SDK credentials shape): ASIA key, secret, token, expiration `seconds` (±30) from now. */
export function assertTempCredentials(c, { seconds = 3600, what = 'credentials' } = {}) {
  assert.match(String(c.accessKeyId), ASIA_RE, `${what}: accessKeyId`);
  assert.equal(typeof c.secretAccessKey, 'string', `${what}: secretAccessKey`);
  assert.ok(c.secretAccessKey.length >= 16, `${what}: secretAccessKey is too short`);
  assert.equal(typeof c.sessionToken, 'string', `${what}: sessionToken`);
  assert.ok(c.sessionToken.length >= 16, `${what}: sessionToken is too short`);
  assert.ok(!c.sessionToken.includes(c.secretAccessKey), `${what}: the secret appears in clear in the session token`);
  assert.ok(c.expiration instanceof Date && !Number.isNaN(c.expiration.getTime()), `${what}: expiration ${c.expiration}`);
  const left = (c.expiration.getTime() - Date.now()) / 1000;
  assert.ok(Math.abs(left - seconds) <= 30, `${what}: expires in ${left.toFixed(0)} s, want ${seconds}`);
}

// ---- tampering ----

/** s with the character in the middle replaced by another of the same alphabet class. */
export function flipMiddle(s) {
  const i = Math.floor(s.length / 2);
  const c = s[i];
  const r = /[0-9]/.test(c) ? (c === '0' ? '1' : '0') : /[a-z]/.test(c) ? (c === 'a' ? 'b' : 'a') : c === 'A' ? 'B' : 'A';
  return s.slice(0, i) + r + s.slice(i + 1);
}

// ---- JWT forging ----

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const b64urlJson = (obj) => b64url(JSON.stringify(obj));

export function decodeJwt(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a compact JWS: ${token.slice(0, 80)}`);
  return {
    header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')),
    parts,
  };
}

/** The pool's JWKS (GET /<poolId>/.well-known/jwks.json). */
export async function fetchJwks(url, poolId) {
  const res = await request(url, `/${poolId}/.well-known/jwks.json`);
  assert.equal(res.status, 200, `JWKS of ${poolId}: ${res.status} ${res.text.slice(0, 200)}`);
  return JSON.parse(res.text);
}

/**
 * Forgeries of a genuine ID token: {tampered (payload changed, signature kept), algNone (alg "none",
 * empty signature), hs256 (HS256 keyed with the pool's public key PEM), otherKey (RS256 with a key of our own)}.
 * patch: claims to change in each forged payload (default: another sub).
 */
export function forgeIdTokens(idToken, jwks, patch) {
  const { header, payload, parts } = decodeJwt(idToken);
  const changed = { ...payload, ...(patch ?? { sub: crypto.randomUUID() }) };
  const jwk = jwks.keys.find((k) => k.kid === header.kid) ?? jwks.keys[0];
  const pem = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const hsHeader = { ...header, alg: 'HS256' };
  const hsInput = `${b64urlJson(hsHeader)}.${b64urlJson(changed)}`;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsInput = `${b64urlJson(header)}.${b64urlJson(changed)}`;
  return {
    tampered: `${parts[0]}.${b64urlJson(changed)}.${parts[2]}`,
    algNone: `${b64urlJson({ ...header, alg: 'none' })}.${b64urlJson(changed)}.`,
    hs256: `${hsInput}.${b64url(crypto.createHmac('sha256', pem).update(hsInput).digest())}`,
    otherKey: `${rsInput}.${b64url(crypto.sign('sha256', Buffer.from(rsInput), privateKey))}`,
  };
}

// ---- raw requests ----

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** <Tag>text</Tag> of an XML document (first occurrence, entities undone), or undefined. */
export function xmlText(xml, tag) {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  if (!m) return undefined;
  return m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

async function signRequest(url, { body, headers, sign, service, region, signingDate }) {
  const u = new URL(url);
  const signer = new SignatureV4({ service, region, credentials: sign, sha256: Sha256 });
  const signed = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/', query: {}, headers: { host: u.host, ...headers }, body },
    signingDate ? { signingDate } : {},
  );
  return signed.headers;
}

/**
 * POST / with a form body for the STS query API. params: {Action, ...} (Version added).
 * sign: credentials ({accessKeyId, secretAccessKey, sessionToken?}) or false; service/region: what to sign for.
 * sendBody: send this instead of the signed body. Resolves {status, headers, text, code, message}.
 */
export async function stsRaw(url, params, { sign = false, service = 'sts', region = REGION, headers = {}, sendBody, signingDate } = {}) {
  const body = new URLSearchParams({ Version: '2011-06-15', ...params }).toString();
  let hdrs = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...headers };
  if (sign) hdrs = await signRequest(url, { body, headers: hdrs, sign, service, region, signingDate });
  if (sendBody !== undefined) hdrs = Object.fromEntries(Object.entries(hdrs).filter(([k]) => k.toLowerCase() !== 'content-length'));
  const res = await request(url, '/', { method: 'POST', headers: hdrs, body: sendBody ?? body, timeoutMs: 15000 });
  res.code = xmlText(res.text, 'Code');
  res.message = xmlText(res.text, 'Message');
  return res;
}

/**
 * POST / with X-Amz-Target AWSCognitoIdentityService.<op> (awsJson1_1). sign: credentials or false;
 * service/region: what to sign for. Resolves {status, headers, text, json}.
 */
export async function identityRaw(url, op, payload = {}, { sign = false, service = 'cognito-identity', region = REGION, headers = {} } = {}) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  let hdrs = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSCognitoIdentityService.${op}`, ...headers };
  if (sign) hdrs = await signRequest(url, { body, headers: hdrs, sign, service, region });
  const res = await request(url, '/', { method: 'POST', headers: hdrs, body, timeoutMs: 15000 });
  res.json = parseJson(res.text);
  return res;
}

/** A JSON error answer: status, __type (after any '#'), a message string. Returns the body. */
export function assertJsonErr(res, type, { status = 400, message, what = type } = {}) {
  const label = `${what}: want ${status} ${type}, got ${res.status} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, status, label);
  assert.match(res.headers['content-type'] ?? '', /json/i, label);
  assert.ok(res.json && typeof res.json === 'object', label);
  assert.equal(String(res.json.__type ?? '').split('#').pop(), type, label);
  const msg = res.json.message ?? res.json.Message;
  assert.equal(typeof msg, 'string', `${label}: no message`);
  if (message instanceof RegExp) assert.match(msg, message, label);
  else if (message !== undefined) assert.equal(msg, message, label);
  assert.ok(res.headers['x-amzn-requestid'], `${what}: no x-amzn-RequestId header`);
  return res.json;
}

/** An STS error answer: status, XML <ErrorResponse><Error><Code>. Returns {code, message}. */
export function assertStsErr(res, code, { status, message, what = code } = {}) {
  const label = `${what}: want ${status ?? ''} ${code}, got ${res.status} ${res.text.slice(0, 400)}`;
  if (status !== undefined) assert.equal(res.status, status, label);
  assert.match(res.headers['content-type'] ?? '', /xml/i, label);
  assert.match(res.text, /<ErrorResponse[^>]*>\s*<Error>/, label);
  assert.equal(res.code, code, label);
  if (message instanceof RegExp) assert.match(res.message ?? '', message, label);
  else if (message !== undefined) assert.equal(res.message, message, label);
  assert.ok(res.headers['x-amzn-requestid'], `${what}: no x-amzn-RequestId header`);
  return { code: res.code, message: res.message };
}

// ---- the aws CLI (Debian's, not the pyenv shim on PATH) ----

export const AWS_CLI = '/usr/bin/aws';

/**
 * Run `/usr/bin/aws ARGS --endpoint-url URL --output json` in a clean environment (no AWS_* of ours,
 * a private HOME, no config file, no pager, region us-east-1) plus `env`. Resolves {code, stdout, stderr, json}.
 */
export async function awsCli(url, args, env = {}, { timeoutMs = 60000 } = {}) {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudlet-sts-home-'));
  try {
    const base = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('CLOUDLET_')) base[k] = v;
    const fullEnv = { ...base, HOME: home, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '', AWS_DEFAULT_REGION: REGION, ...env };
    return await new Promise((resolve, reject) => {
      const proc = spawn(AWS_CLI, [...args, '--endpoint-url', url, '--output', 'json'], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (d) => (stdout += d));
      proc.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      proc.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      proc.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, json: parseJson(stdout.trim()) });
      });
    });
  } finally {
    await fsp.rm(home, { recursive: true, force: true });
  }
}

/** The AWS_* environment for temporary credentials (SDK shape). */
export const cliCredentialsEnv = (c) => ({ AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_SESSION_TOKEN: c.sessionToken });

// ---- a server that can be restarted on the same data directory ----

/**
 * Start `cloudlet serve` on `dataDir` (which the caller owns; it survives stop()), with `config`
 * (object, written next to the data dir) and `env`. Resolves {url, port, dataDir, stderr(), stop()}.
 */
export async function serveOn(dataDir, { config, env = {} } = {}) {
  const port = await freePort();
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir];
  if (config !== undefined) {
    const file = path.join(path.dirname(dataDir), `cloudlet-${port}.json`);
    await fsp.writeFile(file, JSON.stringify(config, null, 2));
    args.push('--config', file);
  }
  const proc = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  const done = new Promise((resolve) => proc.on('close', (code, signal) => ((exited = true), resolve({ code, signal }))));
  process.on('exit', () => {
    if (!exited) proc.kill('SIGKILL');
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    let status = 0;
    try {
      status = (await request(url, '/healthz', { timeoutMs: 1000 })).status;
    } catch {
      /* not up yet */
    }
    if (status === 200) break;
    if (exited || i > 200) {
      if (!exited) proc.kill('SIGKILL');
      await done;
      assert.fail(`cloudlet serve on ${dataDir} did not come up:\n${stderr}`);
    }
    await sleep(50);
  }
  return {
    url,
    port,
    dataDir,
    stderr: () => stderr,
    stop: async () => {
      if (!exited) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}
