// cognito-helpers.mjs - shared plumbing for the Cognito User Pools integration
// tests: root credentials, the outbox, raw (optionally SigV4-signed) awsJson1_1
// requests, JWT decoding and verification against the pool's JWKS, SECRET_HASH,
// and a client-side USER_SRP_AUTH implementation (the math amplify-js and
// amazon-cognito-identity-js do; see docs/aws-wire-protocols.md section 2.4).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { request, runCli } from './helpers.mjs';

export const REGION = 'us-east-1';
export const ROOT_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
export const ROOT_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'; // 40 chars
export const ROOT_ENV = {
  CLOUDLET_ROOT_ACCESS_KEY_ID: ROOT_ACCESS_KEY_ID,
  CLOUDLET_ROOT_SECRET_ACCESS_KEY: ROOT_SECRET_ACCESS_KEY,
};
export const ROOT_CREDENTIALS = { accessKeyId: ROOT_ACCESS_KEY_ID, secretAccessKey: ROOT_SECRET_ACCESS_KEY };

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const POOL_ID_RE = /^[\w-]+_[0-9a-zA-Z]+$/;
export const CLIENT_ID_RE = /^[\w+]{1,128}$/;
export const issuerFor = (poolId) => `https://cognito-idp.${REGION}.amazonaws.com/${poolId}`;

// ---- outbox ----

/** Every message `cloudlet outbox --data DIR --json` prints (oldest first), parsed. */
export async function readOutbox(dataDir) {
  const r = await runCli(['outbox', '--data', dataDir, '--json']);
  assert.equal(r.code, 0, `cloudlet outbox exited ${r.code}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        assert.fail(`outbox --json line is not JSON: ${JSON.stringify(l)}`);
      }
    });
}

/** Messages for username (case-insensitive), optionally of one kind and pool, oldest first. */
export async function messagesFor(dataDir, username, { kind, pool } = {}) {
  const all = await readOutbox(dataDir);
  return all.filter(
    (m) =>
      typeof m.username === 'string' &&
      m.username.toLowerCase() === username.toLowerCase() &&
      (kind === undefined || m.kind === kind) &&
      (pool === undefined || m.pool === pool),
  );
}

/** The newest message for username (of kind/pool if given); fails if there is none. */
export async function latestMessage(dataDir, username, filter = {}) {
  const ms = await messagesFor(dataDir, username, filter);
  assert.ok(ms.length > 0, `no outbox message for ${username} ${JSON.stringify(filter)}`);
  return ms[ms.length - 1];
}

/** The code of the newest message for username. */
export async function latestCode(dataDir, username, filter = {}) {
  const m = await latestMessage(dataDir, username, filter);
  return m.code;
}

// ---- raw requests ----

const TARGET = 'AWSCognitoIdentityProviderService.';

const signer = (credentials) =>
  new SignatureV4({ service: 'cognito-idp', region: REGION, credentials, sha256: Sha256, applyChecksum: false });

/**
 * POST / with X-Amz-Target AWSCognitoIdentityProviderService.<op>. body: object (JSON-encoded) or string (sent as is).
 * sign: credentials {accessKeyId, secretAccessKey} to SigV4-sign with (service cognito-idp), or false.
 * sendBody: a different body to send than the one signed (to tamper with a signed request).
 * Resolves request()'s {status, headers, body, text} plus json (parsed body, or undefined).
 */
export async function cognitoRaw(url, op, body = {}, { sign = false, headers = {}, sendBody } = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const u = new URL(url);
  let hdrs = {
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': `${TARGET}${op}`,
    ...headers,
  };
  if (sign) {
    const signed = await signer(sign).sign({
      method: 'POST',
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path: '/',
      query: {},
      headers: { host: u.host, ...hdrs },
      body: text,
    });
    hdrs = signed.headers;
  }
  const wire = sendBody === undefined ? text : sendBody;
  if (sendBody !== undefined) {
    hdrs = Object.fromEntries(Object.entries(hdrs).filter(([k]) => k.toLowerCase() !== 'content-length'));
  }
  const res = await request(url, '/', { method: 'POST', headers: hdrs, body: wire });
  try {
    res.json = JSON.parse(res.text);
  } catch {
    res.json = undefined;
  }
  return res;
}

/**
 * A Cognito error response: the given HTTP status, JSON content type, x-amzn-ErrorType naming the type,
 * x-amzn-RequestId, body exactly {"__type": type, "message": string} (message checked if given).
 */
export function assertCognitoError(res, type, { status = 400, message, what = type } = {}) {
  assert.equal(res.status, status, `${what}: status ${res.status} (want ${status}); body ${res.text.slice(0, 300)}`);
  assert.match(res.headers['content-type'] ?? '', /json/i, `${what}: Content-Type ${res.headers['content-type']} is not JSON`);
  const et = res.headers['x-amzn-errortype'];
  assert.ok(et, `${what}: no x-amzn-ErrorType header`);
  assert.equal(et.split(':')[0], type, `${what}: x-amzn-ErrorType ${et}`);
  assert.ok(res.headers['x-amzn-requestid'], `${what}: no x-amzn-RequestId header`);
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    assert.fail(`${what}: body is not JSON: ${JSON.stringify(res.text.slice(0, 300))}`);
  }
  assert.equal(body.__type, type, `${what}: __type in ${res.text.slice(0, 300)}`);
  assert.equal(typeof body.message, 'string', `${what}: no "message" string in ${res.text.slice(0, 300)}`);
  if (message !== undefined) {
    if (message instanceof RegExp) assert.match(body.message, message, `${what}: message`);
    else assert.equal(body.message, message, `${what}: message`);
  }
  return body;
}

// ---- tokens ----

export function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** {header, payload, signingInput, signature} of a compact JWS (no verification). */
export function decodeJwt(token) {
  assert.equal(typeof token, 'string', 'token is not a string');
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a compact JWS: ${token.slice(0, 60)}...`);
  return {
    header: b64urlJson(parts[0]),
    payload: b64urlJson(parts[1]),
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2], 'base64url'),
  };
}

/** Verify token's RS256 signature with the key of its kid in jwks; returns the decoded token. */
export function verifyJwt(token, jwks) {
  const t = decodeJwt(token);
  assert.equal(t.header.alg, 'RS256', 'alg');
  const jwk = jwks.keys.find((k) => k.kid === t.header.kid);
  assert.ok(jwk, `kid ${t.header.kid} is not in the pool's JWKS (${jwks.keys.map((k) => k.kid).join(', ')})`);
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const ok = crypto.verify('RSA-SHA256', Buffer.from(t.signingInput), key, t.signature);
  assert.ok(ok, 'RS256 signature does not verify with the JWKS key');
  return t;
}

/** Base64(HMAC-SHA256(secret, username + clientId)). */
export function secretHash(secret, username, clientId) {
  return crypto.createHmac('sha256', secret).update(username + clientId).digest('base64');
}

// ---- SRP (client side) ----

const N_HEX =
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1' +
  '29024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
  'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245' +
  'E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
  'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D' +
  'C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F' +
  '83655D23DCA3AD961C62F356208552BB9ED529077096966D' +
  '670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
  'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9' +
  'DE2BCBF6955817183995497CEA956AE515D2261898FA0510' +
  '15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64' +
  'ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7' +
  'ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B' +
  'F12FFA06D98A0864D87602733EC86A64521F2B18177B200C' +
  'BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31' +
  '43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF';
const N = BigInt(`0x${N_HEX}`);
const g = 2n;

function modPow(base, exp, mod) {
  let r = 1n;
  let b = ((base % mod) + mod) % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return r;
}

function padHex(x) {
  let h = x.toString(16);
  if (h.length % 2 === 1) h = `0${h}`;
  if (/^[89a-f]/i.test(h)) h = `00${h}`;
  return h;
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest();
const hexHash = (hex) => sha256(Buffer.from(hex, 'hex')).toString('hex');
const big = (hex) => BigInt(`0x${hex}`);
const kSrp = big(hexHash(padHex(N) + padHex(g)));

/** Start an SRP login: {a, A, SRP_A (hex)}. */
export function srpStart() {
  let a;
  let A;
  do {
    a = big(crypto.randomBytes(128).toString('hex'));
    A = modPow(g, a, N);
  } while (A % N === 0n);
  return { a, A, SRP_A: A.toString(16) };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export function srpTimestamp(d = new Date()) {
  const p2 = (n) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(
    d.getUTCSeconds(),
  )} UTC ${d.getUTCFullYear()}`;
}

/**
 * The PASSWORD_VERIFIER ChallengeResponses for challenge parameters params
 * ({SALT, SRP_B, SECRET_BLOCK, USER_ID_FOR_SRP}), given the start state and the password.
 */
export function srpRespond({ poolId, password, start, params }) {
  const poolName = poolId.split('_')[1];
  const userId = params.USER_ID_FOR_SRP;
  const B = big(params.SRP_B);
  assert.notEqual(B % N, 0n, 'SRP_B mod N is 0');
  const u = big(hexHash(padHex(start.A) + padHex(B)));
  assert.notEqual(u, 0n, 'u is 0');
  const inner = sha256(Buffer.from(`${poolName}${userId}:${password}`, 'utf8')).toString('hex');
  const x = big(hexHash(padHex(big(params.SALT)) + inner));
  const gx = modPow(g, x, N);
  const base = (((B - kSrp * gx) % N) + N) % N;
  const S = modPow(base, start.a + u * x, N);
  const prk = crypto.createHmac('sha256', Buffer.from(padHex(u), 'hex')).update(Buffer.from(padHex(S), 'hex')).digest();
  const K = crypto
    .createHmac('sha256', prk)
    .update(Buffer.concat([Buffer.from('Caldera Derived Key', 'utf8'), Buffer.from([1])]))
    .digest()
    .subarray(0, 16);
  const TIMESTAMP = srpTimestamp();
  const sig = crypto
    .createHmac('sha256', K)
    .update(
      Buffer.concat([
        Buffer.from(poolName, 'utf8'),
        Buffer.from(userId, 'utf8'),
        Buffer.from(params.SECRET_BLOCK, 'base64'),
        Buffer.from(TIMESTAMP, 'utf8'),
      ]),
    )
    .digest('base64');
  return {
    USERNAME: userId,
    PASSWORD_CLAIM_SECRET_BLOCK: params.SECRET_BLOCK,
    TIMESTAMP,
    PASSWORD_CLAIM_SIGNATURE: sig,
  };
}
