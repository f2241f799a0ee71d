// s3-helpers.mjs - shared plumbing for the S3 integration tests (s3-*.test.mjs):
// an S3Client pointed at the server (path-style, no retries), raw SigV4-signed
// S3 requests for what the SDK will not send (a malformed XML body), body and
// digest helpers, and Debian's aws CLI in a clean environment with a config
// file that asks for path-style addressing.
// The behaviour asserted is the one of issue 5 and docs/aws-wire-protocols.md section 6.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { request } from './helpers.mjs';
import { REGION, ROOT_ENV, ROOT_CREDENTIALS, fails, bare, xmlText } from './sts-helpers.mjs';

export { REGION, ROOT_ENV, ROOT_CREDENTIALS, fails, bare, xmlText };

export const MiB = 1024 * 1024;

/** An S3Client for the server: path-style, region us-east-1, one attempt (every refusal is seen as sent). */
export const s3Client = (url, credentials = ROOT_CREDENTIALS, extra = {}) =>
  new S3Client({ region: REGION, endpoint: url, forcePathStyle: true, maxAttempts: 1, credentials, ...extra });

export const md5hex = (buf) => crypto.createHash('md5').update(buf).digest('hex');
export const md5b64 = (buf) => crypto.createHash('md5').update(buf).digest('base64');
export const sha256b64 = (buf) => crypto.createHash('sha256').update(buf).digest('base64');

/** n pseudo-random but reproducible bytes (seeded by `seed`). */
export function bytes(n, seed = 'cloudlet') {
  const out = Buffer.alloc(n);
  let block = crypto.createHash('sha256').update(String(seed)).digest();
  for (let off = 0; off < n; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, n - off));
    block = crypto.createHash('sha256').update(block).digest();
  }
  return out;
}

/** The whole body of a GetObject output as a Buffer. */
export async function bodyOf(out) {
  return Buffer.from(await out.Body.transformToByteArray());
}

/** The multipart ETag of parts (Buffers): "<md5 of the concatenated part md5s>-<n>" (quoted). */
export function multipartEtag(parts) {
  const h = crypto.createHash('md5');
  for (const p of parts) h.update(crypto.createHash('md5').update(p).digest());
  return `"${h.digest('hex')}-${parts.length}"`;
}

/**
 * A SigV4-signed (service s3) raw request. path: already percent-encoded; query: object;
 * body: string | Buffer. Resolves request()'s {status, headers, body, text} plus code and message
 * (from an XML <Error>).
 */
export async function s3Raw(url, method, pathname, { query = {}, headers = {}, body, sign = ROOT_CREDENTIALS, timeoutMs = 15000 } = {}) {
  const u = new URL(url);
  const payload = body === undefined ? '' : body;
  const sha = crypto.createHash('sha256').update(payload).digest('hex');
  let hdrs = { host: u.host, 'x-amz-content-sha256': sha, ...headers };
  if (sign) {
    const signer = new SignatureV4({ service: 's3', region: REGION, credentials: sign, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
    const signed = await signer.sign({ method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: pathname, query, headers: hdrs, body: payload });
    hdrs = signed.headers;
  }
  const qs = new URLSearchParams(query).toString().replace(/\+/g, '%20');
  const res = await request(url, qs ? `${pathname}?${qs}` : pathname, { method, headers: hdrs, body: body === undefined ? undefined : payload, timeoutMs });
  res.code = xmlText(res.text, 'Code');
  res.message = xmlText(res.text, 'Message');
  return res;
}

/** An S3 XML error answer: status, Content-Type xml, <Error><Code>. Returns {code, message}. */
export function assertS3Err(res, code, { status, message, what = code } = {}) {
  const label = `${what}: want ${status ?? ''} ${code}, got ${res.status} ${res.text.slice(0, 500)}`;
  if (status !== undefined) assert.equal(res.status, status, label);
  assert.match(res.headers['content-type'] ?? '', /xml/i, label);
  assert.match(res.text, /<Error>/, label);
  assert.equal(res.code ?? xmlText(res.text, 'Code'), code, label);
  const msg = res.message ?? xmlText(res.text, 'Message');
  if (message instanceof RegExp) assert.match(msg ?? '', message, label);
  else if (message !== undefined) assert.equal(msg, message, label);
  return { code, message: msg };
}

// ---- the aws CLI (Debian's, not the pyenv shim on PATH) ----

export const AWS_CLI = '/usr/bin/aws';

/**
 * A clean environment for /usr/bin/aws: a private HOME, a config file with region us-east-1 and
 * path-style S3 addressing, no credentials file, no pager, root credentials. Call cleanup() after.
 */
export async function cliEnv(extra = {}) {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudlet-s3-home-'));
  const config = path.join(home, 'aws-config');
  await fsp.writeFile(config, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n');
  const base = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('CLOUDLET_')) base[k] = v;
  const env = {
    ...base,
    HOME: home,
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-credentials'),
    AWS_PAGER: '',
    AWS_ACCESS_KEY_ID: ROOT_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ROOT_CREDENTIALS.secretAccessKey,
    ...extra,
  };
  return { env, home, cleanup: () => fsp.rm(home, { recursive: true, force: true }) };
}

/** Run `/usr/bin/aws ARGS --endpoint-url URL` with env; resolves {code, signal, stdout, stderr, json}. */
export function awsS3(url, args, env, { timeoutMs = 120000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(AWS_CLI, [...args, '--endpoint-url', url], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
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
      let json;
      try {
        json = JSON.parse(stdout.trim());
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

/** Assert a CLI run exited 0 (with its output in the message); returns it. */
export function cliOk(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code ?? r.signal}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`);
  return r;
}
