// helpers.mjs - shared plumbing for cloudlet's integration tests: start a real
// `cloudlet serve` on a free loopback port with a fresh data directory, run the
// CLI, make HTTP requests with node:http (no automatic decompression, no
// normalisation) or over a raw socket (for requests fetch refuses to send), and
// assert the AWS error shapes and headers every response must carry.

import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.CLOUDLET_BIN
  ? path.resolve(process.env.CLOUDLET_BIN)
  : path.join(REPO_ROOT, 'build', 'cloudlet');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Every process we spawn, so that a crashed test run never leaves a server behind.
const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

function binaryMissing() {
  return new Error(`cloudlet binary not found at ${BIN}: build it with \`make build/cloudlet\` or set CLOUDLET_BIN`);
}

/** A free TCP port on 127.0.0.1 (bound and released; the caller retries on a lost race). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Make a temp directory holding `files` ({ "rel/path": string | Buffer }); returns its path. */
export async function makeTree(files, prefix = 'cloudlet-fixture-') {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await fsp.mkdir(path.dirname(p), { recursive: true });
    await fsp.writeFile(p, content);
  }
  return dir;
}

export async function rmTree(dir) {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
}

/** Run `cloudlet ARGS...`; resolves {code, signal, stdout, stderr, timedOut}. Never rejects on a non-zero exit. */
export function runCli(args, { env, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(proc);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.on('error', (err) => {
      clearTimeout(timer);
      live.delete(proc);
      reject(err.code === 'ENOENT' ? binaryMissing() : err);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** `cloudlet site deploy DIR --data DATA`; throws with the CLI's output unless it exits 0. */
export async function deploySite(dir, dataDir, opts) {
  const r = await runCli(['site', 'deploy', dir, '--data', dataDir], opts);
  if (r.code !== 0) {
    throw new Error(`site deploy ${dir} exited ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return r;
}

/** `cloudlet site rollback --data DATA` (does not throw). */
export function rollbackSite(dataDir, opts) {
  return runCli(['site', 'rollback', '--data', dataDir], opts);
}

/** Status of GET path over a fresh connection (Connection: close), or 0 if it failed. */
function probeStatus(port, pathname, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: pathname, method: 'GET', agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', () => resolve(0));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** A fresh temp directory (removed by the caller) with an empty data directory inside. */
async function newRoot() {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudlet-it-'));
  const dataDir = path.join(root, 'data');
  await fsp.mkdir(dataDir);
  return { root, dataDir };
}

async function writeConfig(root, config, port, dataDir) {
  if (config === undefined) return undefined;
  const file = path.join(root, 'cloudlet.json');
  const value = typeof config === 'function' ? config({ port, dataDir }) : config;
  await fsp.writeFile(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

/**
 * Start `cloudlet serve` on a free port with a fresh data directory.
 *   config:  object (written as JSON), string (written verbatim) or ({port, dataDir}) => either
 *   env:     extra environment variables
 *   siteDir: a folder deployed with `site deploy` before the server starts
 * Resolves once GET /healthz answers 200 (10 s at most) to
 * {url, port, dataDir, proc, logs(), stderr(), stop({signal}), exited}.
 */
export async function startServer({ config, env, siteDir, readyTimeoutMs = 10000 } = {}) {
  const { root, dataDir } = await newRoot();
  try {
    if (siteDir) await deploySite(siteDir, dataDir, { env });
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const configFile = await writeConfig(root, config, port, dataDir);
      try {
        return await launch({ root, dataDir, port, configFile, env, readyTimeoutMs });
      } catch (err) {
        // freePort() can lose a race with another process; try another port.
        if (err.addrInUse && attempt < 2) continue;
        throw err;
      }
    }
  } catch (err) {
    await rmTree(root);
    throw err;
  }
}

async function launch({ root, dataDir, port, configFile, env, readyTimeoutMs }) {
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir];
  if (configFile) args.push('--config', configFile);
  const proc = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);

  let stderrText = '';
  let stdoutText = '';
  proc.stderr.setEncoding('utf8');
  proc.stdout.setEncoding('utf8');
  proc.stderr.on('data', (d) => (stderrText += d));
  proc.stdout.on('data', (d) => (stdoutText += d));

  let exitInfo = null;
  let spawnError = null;
  const exited = new Promise((resolve) => {
    proc.on('error', (err) => {
      spawnError = err;
      exitInfo = { code: null, signal: null };
      live.delete(proc);
      resolve(exitInfo);
    });
    // 'close' (not 'exit') so that all of stderr has been read.
    proc.on('close', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(proc);
      resolve(exitInfo);
    });
  });

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exitInfo) {
      if (spawnError) throw spawnError.code === 'ENOENT' ? binaryMissing() : spawnError;
      await exited;
      const err = new Error(
        `cloudlet serve exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before /healthz answered 200\nstderr:\n${stderrText}`,
      );
      err.addrInUse = /in use|EADDRINUSE/i.test(stderrText);
      throw err;
    }
    if ((await probeStatus(port, '/healthz', 1000)) === 200) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`cloudlet serve did not answer GET /healthz with 200 within ${readyTimeoutMs} ms\nstderr:\n${stderrText}`);
    }
    await sleep(50);
  }

  let stopping = null;
  const server = {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    root,
    proc,
    exited,
    /** Raw stderr so far. */
    stderr: () => stderrText,
    stdout: () => stdoutText,
    /** Every stderr line that is a JSON object (the access log), parsed. */
    logs: () =>
      stderrText
        .split('\n')
        .map((line) => {
          try {
            const v = JSON.parse(line);
            return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
          } catch {
            return null;
          }
        })
        .filter(Boolean),
    /** Send `signal`, wait for exit (SIGKILL after 5 s), remove the temp dir. Resolves {code, signal, forced, ms}. */
    stop: ({ signal = 'SIGTERM', graceMs = 5000 } = {}) => {
      stopping ??= (async () => {
        const t0 = Date.now();
        let forced = false;
        if (!exitInfo) {
          proc.kill(signal);
          let timer;
          const timedOut = await Promise.race([
            exited.then(() => false),
            new Promise((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
          ]);
          clearTimeout(timer);
          if (timedOut) {
            forced = true;
            proc.kill('SIGKILL');
            await exited;
          }
        }
        await rmTree(root);
        return { ...exitInfo, forced, ms: Date.now() - t0 };
      })();
      return stopping;
    },
  };
  return server;
}

/**
 * Run `cloudlet serve` expecting it to refuse to start (bad config). Resolves
 * {code, signal, stderr, running}: running is true if it was still up after
 * timeoutMs (it is killed then).
 */
export async function tryServe({ config, args = [], timeoutMs = 5000 } = {}) {
  const { root, dataDir } = await newRoot();
  try {
    const port = await freePort();
    const configFile = await writeConfig(root, config, port, dataDir);
    const all = ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir];
    if (configFile) all.push('--config', configFile);
    const r = await runCli([...all, ...args], { timeoutMs });
    return { code: r.code, signal: r.signal, stderr: r.stderr, running: r.timedOut };
  } finally {
    await rmTree(root);
  }
}

/**
 * One HTTP request with node:http: no automatic decompression, no added
 * Accept-Encoding, the path sent as given. agent defaults to false (a fresh
 * connection, Connection: close). Resolves {status, headers, body: Buffer, text}.
 */
export function request(base, pathname, { method = 'GET', headers = {}, body, agent = false, timeoutMs = 5000 } = {}) {
  const u = new URL(base);
  const hasLength = Object.keys(headers).some((k) => /^(content-length|transfer-encoding)$/i.test(k));
  if (body !== undefined && !hasLength) headers = { ...headers, 'content-length': Buffer.byteLength(body) };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: pathname, headers, agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({ status: res.statusCode, headers: res.headers, body: buf, text: buf.toString('utf8') });
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out: ${method} ${pathname}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Parse one HTTP response from the front of buf; null if incomplete. */
function parseResponse(buf, { head, closed }) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine.slice(0, 200))}`);
  const status = Number(m[2]);
  const headers = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let pos = end + 4;
  let body = Buffer.alloc(0);
  const noBody = head || status < 200 || status === 204 || status === 304;
  if (noBody) {
    // nothing
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts = [];
    for (;;) {
      const le = buf.indexOf('\r\n', pos);
      if (le < 0) return null;
      const size = parseInt(buf.subarray(pos, le).toString('latin1').split(';')[0].trim(), 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size line');
      pos = le + 2;
      if (size === 0) {
        for (;;) {
          const te = buf.indexOf('\r\n', pos);
          if (te < 0) return null;
          const last = te === pos;
          pos = te + 2;
          if (last) break;
        }
        break;
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    body = Buffer.concat(parts);
  } else if ('content-length' in headers) {
    const n = Number(headers['content-length']);
    if (buf.length < pos + n) return null;
    body = buf.subarray(pos, pos + n);
    pos += n;
  } else {
    if (!closed) return null;
    body = buf.subarray(pos);
    pos = buf.length;
  }
  const res = { status, version: m[1], reason: m[3] ?? '', headers, body: Buffer.from(body), text: body.toString('utf8') };
  return { res, rest: buf.subarray(pos) };
}

/**
 * A raw TCP connection to the server for what fetch will not send: paths with
 * `..` or bad escapes, pipelining, Expect: 100-continue, slow or silent clients.
 */
export class RawConn {
  static open(port, { timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error('connect timed out'));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.setNoDelay(true);
        resolve(new RawConn(sock));
      });
      sock.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.store = Buffer.alloc(4096);
    this.len = 0;
    this.closed = false;
    this.error = null;
    this.waiters = [];
    sock.on('data', (d) => {
      if (this.len + d.length > this.store.length) {
        const grown = Buffer.alloc(Math.max(this.store.length * 2, this.len + d.length));
        this.store.copy(grown, 0, 0, this.len);
        this.store = grown;
      }
      d.copy(this.store, this.len);
      this.len += d.length;
      this.wake();
    });
    // A reset after the server answered is normal for rejected requests: record, do not throw.
    sock.on('error', (err) => {
      this.error = err;
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  waitEvent(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Bytes received and not yet consumed by readResponse. */
  pending() {
    return this.store.subarray(0, this.len);
  }

  /** Write; resolves when flushed or the write failed (EPIPE after the server closed is not an error here). */
  write(data) {
    return new Promise((resolve) => {
      if (this.sock.destroyed) return resolve(new Error('socket destroyed'));
      this.sock.write(data, (err) => resolve(err ?? null));
    });
  }

  /** Read the next response (1xx interim responses included). Rejects on timeout or a close before a full response. */
  async readResponse({ head = false, timeoutMs = 5000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.pending(), { head, closed: this.closed });
      if (parsed) {
        const rest = Buffer.from(parsed.rest);
        this.store = Buffer.alloc(Math.max(4096, rest.length));
        rest.copy(this.store);
        this.len = rest.length;
        return parsed.res;
      }
      if (this.closed) {
        const got = this.pending().toString('latin1').slice(0, 200);
        throw new Error(`server closed the connection ${this.len ? `mid-response: ${JSON.stringify(got)}` : 'without a response'}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a response (got ${this.len} bytes)`);
      await this.waitEvent(left);
    }
  }

  /** Resolves true if the server closed the connection within ms. */
  async waitClosed(ms) {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.waitEvent(left);
    }
    return true;
  }

  close() {
    this.sock.destroy();
  }
}

/** Send `data` on a fresh connection and read one final (non-1xx) response; the connection is closed after. */
export async function rawRequest(port, data, { head = false, timeoutMs = 5000 } = {}) {
  const c = await RawConn.open(port);
  try {
    await c.write(data);
    for (;;) {
      const res = await c.readResponse({ head, timeoutMs });
      if (res.status >= 200) return res;
    }
  } finally {
    c.close();
  }
}

/** A minimal request head: `METHOD target HTTP/1.1` with Host and the given headers. */
export function rawHead(method, target, port, headers = {}) {
  let s = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  return `${s}\r\n`;
}

// ---- assertions shared by the test files ----

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** The Date header is an IMF-fixdate within a few seconds of now. */
export function assertFreshDate(headers, what = 'response') {
  const d = headers.date;
  assert.ok(d, `${what}: no Date header`);
  assert.match(d, IMF_FIXDATE, `${what}: Date is not an IMF-fixdate`);
  const skew = Math.abs(Date.parse(d) - Date.now());
  assert.ok(skew <= 3000, `${what}: Date ${d} is ${skew} ms off the local clock`);
}

/** A JSON-service error (Cognito, Cognito Identity, Lambda): status >= 400, JSON body with __type and message. */
export function assertJsonError(res, what = 'response') {
  assert.ok(res.status >= 400, `${what}: status ${res.status} is not an error`);
  assert.match(res.headers['content-type'] ?? '', /json/i, `${what}: Content-Type is not JSON`);
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    assert.fail(`${what}: body is not JSON: ${JSON.stringify(res.text.slice(0, 300))}`);
  }
  assert.equal(typeof body.__type, 'string', `${what}: no __type in ${res.text.slice(0, 300)}`);
  assert.ok(body.__type.length > 0, `${what}: empty __type`);
  assert.equal(typeof (body.message ?? body.Message), 'string', `${what}: no message in ${res.text.slice(0, 300)}`);
  assert.ok(res.headers['x-amzn-requestid'], `${what}: no x-amzn-RequestId header`);
  return body;
}

/** An S3 error: status >= 400, XML <Error><Code>; returns the code. */
export function assertS3Error(res, what = 'response') {
  assert.ok(res.status >= 400, `${what}: status ${res.status} is not an error`);
  assert.match(res.headers['content-type'] ?? '', /xml/i, `${what}: Content-Type is not XML`);
  assert.match(res.text, /^(<\?xml[^>]*\?>\s*)?<Error>/, `${what}: root element is not <Error>: ${res.text.slice(0, 300)}`);
  const m = /<Error>[\s\S]*?<Code>([^<]+)<\/Code>[\s\S]*<\/Error>/.exec(res.text);
  assert.ok(m, `${what}: no <Error><Code> in ${res.text.slice(0, 300)}`);
  assert.ok(res.headers['x-amz-request-id'], `${what}: no x-amz-request-id header`);
  return m[1];
}

/** An STS (query protocol) error: status >= 400, <ErrorResponse><Error><Code>; returns the code. */
export function assertStsError(res, what = 'response') {
  assert.ok(res.status >= 400, `${what}: status ${res.status} is not an error`);
  assert.match(res.headers['content-type'] ?? '', /xml/i, `${what}: Content-Type is not XML`);
  const m = /^(<\?xml[^>]*\?>\s*)?<ErrorResponse[^>]*>\s*<Error>[\s\S]*?<Code>([^<]+)<\/Code>[\s\S]*<\/Error>/.exec(res.text);
  assert.ok(m, `${what}: no <ErrorResponse><Error><Code> in ${res.text.slice(0, 300)}`);
  assert.ok(res.headers['x-amzn-requestid'], `${what}: no x-amzn-RequestId header`);
  return m[2];
}

/** A syntactically plausible SigV4 Authorization header (never valid: there is no such key). */
export function fakeSigV4(service = 's3', signature = 'f'.repeat(64), accessKey = 'AKIDTESTEXAMPLE0001') {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return {
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${amzDate.slice(0, 8)}/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${signature}`,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
  };
}
