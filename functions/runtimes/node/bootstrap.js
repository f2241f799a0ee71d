'use strict';
// bootstrap.js - cloudlet's Node.js Lambda runtime: the client side of the
// Lambda Runtime API. It loads the handler named by _HANDLER from
// LAMBDA_TASK_ROOT, then loops: fetch the next event, call the handler, post
// its result or error. It mirrors what AWS's own Node runtime does (handler
// resolution, context object, error shapes, log line format) so code moves
// between cloudlet and Lambda unchanged, and it depends on nothing outside
// Node's standard library so it starts in a few milliseconds.
//
// Three properties matter beyond AWS compatibility:
//  - one keep-alive connection carries every request, and a warm invoke does
//    no work beyond the two HTTP round trips and the handler itself;
//  - every log line is in the stdout pipe before the result is posted,
//    because the server reads the pipe when the result arrives to build the
//    invoke's log tail;
//  - a cold start costs little beyond Node's own start-up: the HTTP client is
//    a small one over the TCP handle that net.Socket wraps (loading and first
//    running node:http and node:net costs ~6 ms), and ES modules are loaded
//    with require() where Node can (import() first sets up the asynchronous
//    ESM loader: ~5 ms).

// fs, path and util are loaded during Node's own start-up: requiring them is free.
const fs = require('fs');
const path = require('path');
const util = require('util');

const env = process.env;
const API_BASE = '/2018-06-01/runtime';

// ---------------------------------------------------------------------------
// Output: console patching and flushing

// process.stdout/stderr are created lazily by Node. Wrapping their getters
// tells us whether user code created them (and so may have data queued in
// them) without creating them ourselves: an untouched fd 1 stays blocking
// and every log line can go straight to it with one write(2).
const created = { stdout: null, stderr: null };
for (const name of ['stdout', 'stderr']) {
  const desc = Object.getOwnPropertyDescriptor(process, name);
  if (!desc || !desc.get || !desc.configurable) {
    continue;
  }
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: desc.enumerable,
    get() {
      const stream = desc.get.call(process);
      created[name] = stream;
      return stream;
    },
  });
}

// A one-slot buffer for Atomics.wait, the only way to sleep synchronously.
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

// Write all of text to fd synchronously. Once Node has wrapped fd 1 in a pipe
// stream the fd is non-blocking, so a full pipe answers EAGAIN: wait a
// millisecond for the reader and try again rather than drop the line. Any
// other failure (the reader is gone) drops it: logging must never take the
// function down.
function writeAllSync(fd, text) {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') {
        return;
      }
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
}

// Write a log line to stdout, keeping order with anything user code wrote
// through process.stdout: if that stream still holds queued data, the line
// queues behind it instead of overtaking it.
function writeStdout(text) {
  const s = created.stdout;
  if (s && s.writableLength > 0) {
    s.write(text);
    return;
  }
  writeAllSync(1, text);
}

// Resolves once everything written through process.stdout/stderr has reached
// the pipe. Returns null when nothing is queued, the usual case, so a warm
// invoke does not pay for a promise.
function flushOutput() {
  let waits = null;
  for (const s of [created.stdout, created.stderr]) {
    if (s && s.writableLength > 0 && !s.destroyed) {
      // A write's callback runs after the writes queued before it complete.
      waits = waits || [];
      waits.push(new Promise((resolve) => s.write('', resolve)));
    }
  }
  return waits ? Promise.all(waits) : null;
}

// The request id of the invoke in progress (or the last one), as AWS prints
// it: the string "undefined" before the first invoke.
let logRequestId = undefined;

function logLine(level, args) {
  // util.format returns a lone string argument as it is.
  const text = args.length === 1 && typeof args[0] === 'string' ? args[0] : util.format.apply(null, args);
  writeStdout(`${new Date().toISOString()}\t${logRequestId}\t${level}\t${text}\n`);
}

// AWS's format: one line per call, all levels on stdout. console.trace is
// patched like the others, so it prints no stack (as on AWS).
function patchConsole() {
  const levels = {
    log: 'INFO',
    info: 'INFO',
    warn: 'WARN',
    error: 'ERROR',
    debug: 'DEBUG',
    trace: 'TRACE',
    fatal: 'FATAL',
  };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...args) => logLine(level, args);
  }
}

// ---------------------------------------------------------------------------
// Errors

// Errors the runtime raises itself carry AWS's "Runtime.*" type names.
class RuntimeError extends Error {
  constructor(type, message, cause) {
    super(message);
    this.name = `Runtime.${type}`;
    // Point the trace at the user's code, not at the loader that wrapped it.
    if (cause && typeof cause.stack === 'string') {
      this.stack = `${this.name}: ${message}\n${frames(cause).join('\n')}`;
    }
  }
}

function isErrorLike(v) {
  return (
    util.types.isNativeError(v) ||
    (v !== null && typeof v === 'object' && typeof v.message === 'string' && typeof v.stack === 'string')
  );
}

// The frame lines of an error's stack. V8's stack opens with "Name: message",
// and the message may itself span lines, so skip to the first "at" frame.
function frames(err) {
  if (typeof err.stack !== 'string') {
    return [];
  }
  const lines = err.stack.split('\n');
  let first = lines.findIndex((l) => /^\s+at /.test(l));
  if (first < 0) {
    first = 1;
  }
  return lines.slice(first).filter((l) => l !== '');
}

function safeString(v) {
  try {
    return String(v);
  } catch {
    return 'Unknown error';
  }
}

// The Runtime API's error body for any thrown value.
function errorBody(err) {
  if (isErrorLike(err)) {
    let type = err.name;
    if (typeof type !== 'string' || type === '') {
      type = (err.constructor && err.constructor.name) || 'Error';
    }
    return { errorType: type, errorMessage: safeString(err.message), stackTrace: frames(err) };
  }
  return { errorType: 'Error', errorMessage: safeString(err), stackTrace: [] };
}

// ---------------------------------------------------------------------------
// The Runtime API client

function apiAddress() {
  const api = env.AWS_LAMBDA_RUNTIME_API || '';
  const colon = api.lastIndexOf(':');
  if (colon <= 0) {
    process.stderr.write(`bootstrap: AWS_LAMBDA_RUNTIME_API is not host:port (${JSON.stringify(api)})\n`);
    process.exit(1);
  }
  // Accept "[::1]:9001" as well as "127.0.0.1:9001".
  const host = api.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(api.slice(colon + 1)) };
}

const addr = apiAddress();
// As node:http sends it: brackets around an IPv6 address, no port 80.
const hostHeader =
  (addr.host.includes(':') ? `[${addr.host}]` : addr.host) + (addr.port === 80 ? '' : `:${addr.port}`);

// A minimal HTTP/1.1 client: one connection, one request at a time (a second
// request waits for the first, as node:http's agent with maxSockets 1 did),
// answers framed by Content-Length as the Runtime API sends them (chunked and
// read-to-close answers are understood too). No timeout: `next` is a long poll.
//
// Underneath is a TCP transport: write(string), ref(), unref(), close(), and
// for each connection c, calls to onData(c, buffer) and onClosed(c, error or
// null for the peer's end). node:net would do, but loading it and creating the
// first socket costs ~5 ms of a cold start (stream, net, perf_hooks, and the
// first run of all that code); the libuv TCP handle that net.Socket wraps
// costs next to nothing. So where Node exposes the handle without a warning,
// the client drives it directly, as net.Socket does; elsewhere it uses net.

// The handle's bindings, or null to use net: under --pending-deprecation
// (process.binding() would print a warning), for a host name (net resolves
// it), and on a Node that lacks them.
function tcpBindings() {
  const flags = `${process.execArgv.join(' ')} ${env.NODE_OPTIONS || ''}`;
  if (/--pending-deprecation\b/.test(flags) || env.NODE_PENDING_DEPRECATION === '1') {
    return null;
  }
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(addr.host) && !addr.host.includes(':')) {
    return null;
  }
  try {
    const tcp = process.binding('tcp_wrap');
    const stream = process.binding('stream_wrap');
    const ok =
      typeof tcp.TCP === 'function' &&
      typeof tcp.TCPConnectWrap === 'function' &&
      typeof tcp.constants.SOCKET === 'number' &&
      typeof stream.WriteWrap === 'function' &&
      typeof stream.kReadBytesOrError === 'number' &&
      typeof stream.kArrayBufferOffset === 'number' &&
      stream.streamBaseState instanceof Int32Array;
    return ok ? { tcp, stream } : null;
  } catch {
    return null;
  }
}

const bindings = tcpBindings();

function uvError(syscall, status) {
  const code = util.getSystemErrorName(status);
  const e = new Error(`${syscall} ${code} ${addr.host}:${addr.port}`);
  e.code = code;
  return e;
}

// A connection over the bare TCP handle (what lib/net.js and
// lib/internal/stream_base_commons.js do, minus streams).
function openHandle(c) {
  const { TCP, TCPConnectWrap, constants } = bindings.tcp;
  const { WriteWrap, streamBaseState, kReadBytesOrError, kArrayBufferOffset } = bindings.stream;
  const handle = new TCP(constants.SOCKET);
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      handle.close();
    }
  };
  const fail = (err) => {
    close();
    onClosed(c, err);
  };
  handle.onread = (arrayBuffer) => {
    const n = streamBaseState[kReadBytesOrError];
    if (n > 0) {
      onData(c, Buffer.from(arrayBuffer, streamBaseState[kArrayBufferOffset], n));
    } else if (n < 0) {
      fail(util.getSystemErrorName(n) === 'EOF' ? null : uvError('read', n));
    }
  };
  const req = new TCPConnectWrap();
  req.oncomplete = (status) => {
    if (status < 0) {
      fail(uvError('connect', status));
      return;
    }
    const err = handle.readStart();
    if (err < 0) {
      fail(uvError('read', err));
    }
  };
  req.address = addr.host;
  req.port = addr.port;
  const err = addr.host.includes(':')
    ? handle.connect6(req, addr.host, addr.port)
    : handle.connect(req, addr.host, addr.port);
  if (err < 0) {
    closed = true;
    handle.close();
    process.nextTick(onClosed, c, uvError('connect', err));
  } else {
    handle.setNoDelay(true);
  }
  return {
    // libuv queues a write made while connecting until the connection is up.
    write(text) {
      if (closed) {
        return;
      }
      const w = new WriteWrap();
      w.handle = handle;
      w.oncomplete = (status) => {
        if (status < 0) {
          fail(uvError('write', status));
        }
      };
      const e = handle.writeUtf8String(w, text);
      if (e < 0) {
        process.nextTick(fail, uvError('write', e));
      }
    },
    ref: () => closed || handle.ref(),
    unref: () => closed || handle.unref(),
    close,
  };
}

// The same over node:net.
function openSocket(c) {
  const sock = require('net').connect({ host: addr.host, port: addr.port });
  sock.setNoDelay(true);
  sock.on('data', (chunk) => onData(c, chunk));
  sock.on('error', (e) => onClosed(c, e));
  sock.on('close', () => onClosed(c, null));
  return {
    write: (text) => sock.write(text),
    ref: () => sock.ref(),
    unref: () => sock.unref(),
    close: () => sock.destroy(),
  };
}

const HEAD_MAX = 1 << 20; // an answer's status line and headers, at most

let conn = null; // the open connection: { t: transport, buf, res, pending, closed }
let lane = null; // resolves when the request in flight has its answer

function connect() {
  const c = { t: null, buf: null, res: null, pending: null, closed: false };
  c.t = bindings ? openHandle(c) : openSocket(c);
  return c;
}

// The peer ended the connection (err null) or it failed.
function onClosed(c, err) {
  if (c.closed) {
    return;
  }
  c.closed = true;
  const r = c.res;
  if (!err && r && r.mode === 'close') {
    if (c.buf) {
      r.chunks.push(c.buf);
    }
    c.buf = null;
    settle(c, null, answer(r, Buffer.concat(r.chunks)));
  }
  settle(c, err || new Error('socket hang up'));
}

// Finish c's request in flight (if any) with an error or an answer. After an
// error the connection is done with: the next request opens a new one.
function settle(c, err, res) {
  const p = c.pending;
  c.pending = null;
  c.res = null;
  if (err) {
    c.closed = true;
    if (conn === c) {
      conn = null;
    }
    c.t.close();
  }
  if (p) {
    if (err) {
      p.reject(err);
    } else {
      // Idle, the connection must not keep the process alive (as node:http's
      // agent unrefs its free sockets): a handler that leaves nothing pending
      // is answered on 'beforeExit'.
      c.t.unref();
      p.resolve(res);
    }
  }
}

function answer(r, body) {
  return { status: r.status, headers: r.headers, body };
}

function onData(c, chunk) {
  c.buf = c.buf ? Buffer.concat([c.buf, chunk]) : chunk;
  for (;;) {
    let r = c.res;
    if (!r) {
      const end = c.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (c.buf.length > HEAD_MAX) {
          settle(c, new Error('Parse Error: header overflow'));
        }
        return;
      }
      r = parseHead(c.buf.toString('latin1', 0, end));
      c.buf = end + 4 < c.buf.length ? c.buf.subarray(end + 4) : null;
      if (!r) {
        settle(c, new Error('Parse Error: invalid response'));
        return;
      }
      if (r.status >= 100 && r.status < 200 && r.status !== 101) {
        if (!c.buf) {
          return;
        }
        continue; // an interim answer (100 Continue): the real one follows
      }
      if (!c.pending) {
        settle(c, new Error('Parse Error: unexpected answer'));
        return;
      }
      c.res = r;
    }
    let body;
    if (r.mode === 'length') {
      const n = c.buf ? c.buf.length : 0;
      if (r.got + n < r.length) {
        // A body spread over many reads is joined once, at the end.
        if (n > 0) {
          r.chunks.push(c.buf);
          r.got += n;
          c.buf = null;
        }
        return;
      }
      const take = r.length - r.got;
      if (take > 0) {
        r.chunks.push(take === n ? c.buf : c.buf.subarray(0, take));
      }
      c.buf = take === n ? null : c.buf.subarray(take);
      body = r.chunks.length === 1 ? r.chunks[0] : Buffer.concat(r.chunks, r.length);
    } else if (r.mode === 'chunked') {
      const dec = c.buf ? dechunk(c.buf) : null;
      if (dec === null) {
        return;
      }
      if (dec === false) {
        settle(c, new Error('Parse Error: invalid chunk'));
        return;
      }
      c.buf = dec.used < c.buf.length ? c.buf.subarray(dec.used) : null;
      body = dec.body;
    } else {
      if (c.buf) {
        r.chunks.push(c.buf);
        c.buf = null;
      }
      return; // read to the end of the connection
    }
    settle(c, null, answer(r, body));
    if (!r.keepAlive) {
      c.closed = true;
      if (conn === c) {
        conn = null;
      }
      c.t.close();
      return;
    }
    if (!c.buf) {
      return;
    }
  }
}

// The status line and headers of an answer (names in lower case, repeated
// headers joined with ", "), and how its body is framed.
function parseHead(head) {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.(\d) (\d{3})/.exec(lines[0]);
  if (!m) {
    return null;
  }
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) {
      continue;
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const status = Number(m[2]);
  const connection = (headers.connection || '').toLowerCase();
  const r = {
    status,
    headers,
    mode: 'close',
    length: 0,
    got: 0,
    chunks: [],
    keepAlive: m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive'),
  };
  if (/\bchunked\b/i.test(headers['transfer-encoding'] || '')) {
    r.mode = 'chunked';
  } else if (headers['content-length'] !== undefined) {
    r.mode = 'length';
    r.length = /^\d+$/.test(headers['content-length']) ? Number(headers['content-length']) : NaN;
    if (!Number.isSafeInteger(r.length)) {
      return null;
    }
  } else if (status === 204 || status === 304) {
    r.mode = 'length';
  } else {
    r.keepAlive = false;
  }
  return r;
}

// A chunked body from buf: { body, used } once complete, null while
// incomplete, false when malformed.
function dechunk(buf) {
  const parts = [];
  let off = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', off);
    if (eol < 0) {
      return null;
    }
    const sizeText = buf.toString('latin1', off, eol).split(';')[0].trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) {
      return false;
    }
    const size = parseInt(sizeText, 16);
    off = eol + 2;
    if (size === 0) {
      // Trailers, up to the empty line.
      for (;;) {
        const e = buf.indexOf('\r\n', off);
        if (e < 0) {
          return null;
        }
        const empty = e === off;
        off = e + 2;
        if (empty) {
          return { body: Buffer.concat(parts), used: off };
        }
      }
    }
    if (buf.length < off + size + 2) {
      return null;
    }
    parts.push(buf.subarray(off, off + size));
    off += size + 2;
  }
}

function requestOnce(method, urlPath, headers, body) {
  return new Promise((resolve, reject) => {
    if (!conn) {
      conn = connect();
    }
    const c = conn;
    c.pending = { resolve, reject };
    c.t.ref();
    let head = `${method} ${urlPath} HTTP/1.1\r\nHost: ${hostHeader}\r\n`;
    for (const name in headers) {
      head += `${name}: ${headers[name]}\r\n`;
    }
    c.t.write(body === undefined ? `${head}\r\n` : `${head}\r\n${body}`);
  });
}

// A kept-alive connection the server has just closed fails on reuse; one retry
// on a fresh connection covers that. A second failure means the server is gone.
async function request(method, urlPath, headers, body) {
  while (lane) {
    await lane;
  }
  let release;
  lane = new Promise((resolve) => (release = resolve));
  try {
    try {
      return await requestOnce(method, urlPath, headers, body);
    } catch {
      try {
        return await requestOnce(method, urlPath, headers, body);
      } catch (e) {
        return exitWith(1, `bootstrap: ${method} ${urlPath} failed: ${e.message}`);
      }
    }
  } finally {
    lane = null;
    release();
  }
}

function post(urlPath, contentType, body, extraHeaders) {
  const headers = { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) };
  if (extraHeaders) {
    Object.assign(headers, extraHeaders);
  }
  return request('POST', urlPath, headers, body);
}

// Header values must be visible ASCII; an error name could hold anything.
function headerSafe(s) {
  return String(s).replace(/[^\x20-\x7e]/g, '') || 'Error';
}

function postError(urlPath, err) {
  const body = errorBody(err);
  return post(urlPath, 'application/vnd.aws.lambda.error+json', JSON.stringify(body), {
    'Lambda-Runtime-Function-Error-Type': headerSafe(body.errorType),
  });
}

// Flush output, then exit. Never resolves.
async function exitWith(code, message) {
  if (message) {
    writeAllSync(2, `${message}\n`);
  }
  const pending = flushOutput();
  if (pending) {
    await pending;
  }
  process.exit(code);
  return new Promise(() => {});
}

// ---------------------------------------------------------------------------
// Handler loading (AWS's rules, see UserFunction.js in
// aws-lambda-nodejs-runtime-interface-client)

function exists(p) {
  return fs.existsSync(p);
}

// Whether .js files in dir are ES modules: the nearest package.json decides,
// and the search stops at a node_modules folder or the filesystem root.
function folderIsModuleType(dir) {
  for (;;) {
    if (dir.endsWith('/node_modules')) {
      return false;
    }
    const pj = path.join(dir, 'package.json');
    if (exists(pj)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
        return Boolean(pkg) && pkg.type === 'module';
      } catch {
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      return false;
    }
    dir = parent;
  }
}

// Node 20.19+ loads ES modules with require(), synchronously: much cheaper
// than import(), which first sets up the asynchronous ESM loader. The result is
// the same namespace object. import() is still used where require() cannot
// load the module (top-level await, older Node) or where customization hooks
// may be registered (--loader, --import, --require), as they apply to import().
const requireEsm =
  Boolean(process.features && process.features.require_module) &&
  !/(^|\s)(--(experimental-)?loader|--import|--require|-r)\b/.test(
    `${process.execArgv.join(' ')} ${env.NODE_OPTIONS || ''}`,
  );

async function importFile(file) {
  if (requireEsm) {
    try {
      return require(file);
    } catch (e) {
      if (!e || e.code !== 'ERR_REQUIRE_ASYNC_MODULE') {
        throw e;
      }
    }
  }
  const { pathToFileURL } = require('url');
  return import(pathToFileURL(file).href);
}

// Load module `name` from folder dir, trying AWS's candidates in AWS's order:
// the bare path (a file or a folder with index.js), .js as CommonJS, .js as
// ESM when package.json says so, .mjs, .cjs, and finally a package found by
// Node's own resolution from dir and root (node_modules, NODE_PATH).
async function loadModule(root, dir, name) {
  const base = path.join(dir, name);
  if (exists(base)) {
    return require(base);
  }
  if (exists(`${base}.js`)) {
    if (!folderIsModuleType(dir)) {
      return require(`${base}.js`);
    }
    return importFile(`${base}.js`);
  }
  if (exists(`${base}.mjs`)) {
    return importFile(`${base}.mjs`);
  }
  if (exists(`${base}.cjs`)) {
    return require(`${base}.cjs`);
  }
  let resolved;
  try {
    resolved = require.resolve(name, { paths: [dir, root] });
  } catch {
    throw new RuntimeError('ImportModuleError', `Error: Cannot find module '${name}'`);
  }
  return require(resolved);
}

async function loadHandler() {
  const root = path.resolve(env.LAMBDA_TASK_ROOT || process.cwd());
  const full = env._HANDLER || '';
  if (full.includes('..')) {
    throw new RuntimeError(
      'MalformedHandlerName',
      "'../' not allowed in handler name. Relative paths are not supported.",
    );
  }
  // "src/app.main.inner": folder "src", module "app", property path "main.inner".
  const slash = full.lastIndexOf('/');
  const dir = path.resolve(root, full.slice(0, slash + 1));
  const rest = full.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot < 0) {
    throw new RuntimeError('MalformedHandlerName', 'Bad handler');
  }
  const moduleName = rest.slice(0, dot);

  let mod;
  try {
    mod = await loadModule(root, dir, moduleName);
  } catch (e) {
    if (e instanceof RuntimeError) {
      throw e;
    }
    if (e instanceof SyntaxError) {
      throw new RuntimeError('UserCodeSyntaxError', safeString(e), e);
    }
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new RuntimeError('ImportModuleError', safeString(e), e);
    }
    throw e;
  }

  const fn = rest
    .slice(dot + 1)
    .split('.')
    .reduce((obj, key) => (obj === null || obj === undefined ? undefined : obj[key]), mod);
  if (!fn) {
    throw new RuntimeError('HandlerNotFound', `${full} is undefined or not exported`);
  }
  if (typeof fn !== 'function') {
    throw new RuntimeError('HandlerNotFound', `${full} is not a function`);
  }
  return fn;
}

// ---------------------------------------------------------------------------
// Invoking

// The invoke in progress, for the process-level error handlers below.
let current = null;
let initialized = false;

function parseJsonHeader(value) {
  if (value === undefined || value === '') {
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

const contextConstants = {
  functionName: env.AWS_LAMBDA_FUNCTION_NAME,
  functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
  memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
  logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
};

// Post the outcome of invoke `id` (ok: value is the result, else the thrown
// value) once the output the invoke produced is in the pipe.
async function report(id, ok, value) {
  const base = `${API_BASE}/invocation/${encodeURIComponent(id)}`;
  let err = value;
  if (ok) {
    let body;
    try {
      // JSON.stringify gives undefined for undefined and functions: both are null.
      body = JSON.stringify(value);
      if (body === undefined) {
        body = 'null';
      }
    } catch (e) {
      err = new RuntimeError('SerializationError', `Unable to stringify response body: ${safeString(e && e.message)}`);
    }
    if (body !== undefined) {
      const pending = flushOutput();
      if (pending) {
        await pending;
      }
      return post(`${base}/response`, 'application/json', body);
    }
  }
  logError('Invoke Error', err);
  const pending = flushOutput();
  if (pending) {
    await pending;
  }
  return postError(`${base}/error`, err);
}

// AWS logs every error it reports, so the log tail shows it too.
function logError(what, err) {
  const d = errorBody(err);
  const json = JSON.stringify({ errorType: d.errorType, errorMessage: d.errorMessage, stack: d.stackTrace });
  logLine('ERROR', [`${what} \t%s`, json]);
}

// Run one event through the handler; resolves when its outcome is posted.
function invoke(handler, next) {
  const h = next.headers;
  const id = h['lambda-runtime-aws-request-id'];
  const deadline = Number(h['lambda-runtime-deadline-ms']) || 0;
  logRequestId = id;
  if (h['lambda-runtime-trace-id']) {
    env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
  } else {
    delete env._X_AMZN_TRACE_ID;
  }

  return new Promise((resolve) => {
    const inv = { id, finished: false, finish: null };
    // The first outcome wins (callback, promise, context.succeed, empty event
    // loop); later ones are ignored, as on AWS.
    inv.finish = (ok, value) => {
      if (inv.finished) {
        return;
      }
      inv.finished = true;
      report(id, ok, value).then(() => {
        if (current === inv) {
          current = null;
        }
        resolve();
      });
    };
    current = inv;

    const succeed = (result) => inv.finish(true, result);
    // fail() with no reason still fails; AWS reports the string "handled".
    const fail = (err) => inv.finish(false, err === undefined || err === null ? 'handled' : err);
    const callback = (err, result) => (err === undefined || err === null ? succeed(result) : fail(err));

    const context = {
      ...contextConstants,
      callbackWaitsForEmptyEventLoop: true,
      invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
      awsRequestId: id,
      identity: parseJsonHeader(h['lambda-runtime-cognito-identity']),
      clientContext: parseJsonHeader(h['lambda-runtime-client-context']),
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      succeed,
      fail,
      done: callback,
    };

    let ret;
    try {
      const event = JSON.parse(next.body.toString('utf8'));
      ret = handler(event, context, callback);
    } catch (e) {
      inv.finish(false, e);
      return;
    }
    // An async handler answers through its promise; any other handler answers
    // through the callback (or, failing that, the empty event loop below).
    if (ret && typeof ret.then === 'function') {
      ret.then(succeed, fail);
    }
  });
}

// A handler that never answers but leaves nothing pending would let the
// process exit; AWS answers null instead, and so do we.
process.on('beforeExit', () => {
  if (current && !current.finished) {
    current.finish(true, null);
  }
});

// An error nobody catches ends the process, as on AWS: report it against the
// invoke in progress (or as an init error while loading), then exit 129.
let dying = false;
async function die(kind, err) {
  if (dying) {
    return;
  }
  dying = true;
  logError(kind, err);
  const pending = flushOutput();
  if (pending) {
    await pending;
  }
  if (current && !current.finished) {
    current.finished = true;
    await postError(`${API_BASE}/invocation/${encodeURIComponent(current.id)}/error`, err);
  } else if (!initialized) {
    await postError(`${API_BASE}/init/error`, err);
  }
  process.exit(129);
}

process.on('uncaughtException', (err) => die('Uncaught Exception', err));
process.on('unhandledRejection', (reason) => {
  const err = new RuntimeError('UnhandledPromiseRejection', safeString(reason));
  if (isErrorLike(reason)) {
    err.stack = reason.stack;
  }
  die('Unhandled Promise Rejection', err);
});

// ---------------------------------------------------------------------------
// Main loop

async function nextEvent() {
  const res = await request('GET', `${API_BASE}/invocation/next`, {});
  if (res.status !== 200) {
    return exitWith(1, `bootstrap: GET /runtime/invocation/next answered ${res.status}`);
  }
  return res;
}

async function main() {
  patchConsole();
  let handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    logError('Init Error', err);
    const pending = flushOutput();
    if (pending) {
      await pending;
    }
    await postError(`${API_BASE}/init/error`, err);
    return exitWith(1);
  }
  initialized = true;
  for (;;) {
    const next = await nextEvent();
    await invoke(handler, next);
  }
}

main();
