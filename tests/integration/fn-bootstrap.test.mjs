// fn-bootstrap.test.mjs - the Lambda language runtimes (functions/runtimes/*)
// and the example functions, run as child processes against a fake Runtime
// API written here (node:http on 127.0.0.1). The fake serves queued events
// with the headers cloudlet's server sends and records every post; the
// runtime's stdout is a FIFO that the fake reads synchronously the moment a
// post arrives, so "the log line was in the pipe before the result" is
// checked exactly, not by timing.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODE_BOOTSTRAP = path.join(REPO_ROOT, 'functions', 'runtimes', 'node', 'bootstrap.js');
const PYTHON_BOOTSTRAP = path.join(REPO_ROOT, 'functions', 'runtimes', 'python', 'bootstrap.py');
const EXAMPLES = path.join(REPO_ROOT, 'functions', 'examples');
// The system interpreter, not whatever a version manager puts first on PATH.
const PYTHON = '/usr/bin/python3';

const T = { timeout: 10000 };
const API = '/2018-06-01/runtime';
const IDENTITY = {
  cognitoIdentityId: 'us-east-1:11111111-2222-3333-4444-555555555555',
  cognitoIdentityPoolId: 'us-east-1:99999999-8888-7777-6666-555555555555',
};
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:fn-test';
const LOG_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]+)\t([A-Z]+)\t(.*)$/;

/** A Runtime API stand-in: serves queued events to GET /next, records posts. */
class FakeRuntimeApi {
  constructor() {
    this.queue = [];
    this.waitingNext = [];
    this.posts = [];
    this.postWaiters = [];
    this.connections = 0;
    this.nextStatus = 200; // what GET /next answers when not 200 (to test the exit)
    this.snapshotStdout = () => '';
    this.seq = 0;
    this.server = http.createServer((req, res) => this.route(req, res));
    this.server.on('connection', () => this.connections++);
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${this.server.address().port}`;
  }

  /** Queue an event; returns its request id. */
  push(event, opts = {}) {
    const id = opts.id ?? `req-${++this.seq}-${crypto.randomUUID()}`;
    const headers = {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': id,
      'Lambda-Runtime-Deadline-Ms': String(opts.deadline ?? Date.now() + 3000),
      'Lambda-Runtime-Invoked-Function-Arn': ARN,
      'Lambda-Runtime-Trace-Id': opts.trace ?? `Root=1-00000000-${id.slice(-24)};Sampled=0`,
    };
    if (opts.identity) headers['Lambda-Runtime-Cognito-Identity'] = JSON.stringify(opts.identity);
    if (opts.clientContext) headers['Lambda-Runtime-Client-Context'] = JSON.stringify(opts.clientContext);
    this.queue.push({ headers, body: Buffer.from(opts.rawBody ?? JSON.stringify(event)) });
    this.serveNext();
    return id;
  }

  serveNext() {
    while (this.queue.length > 0 && this.waitingNext.length > 0) {
      const res = this.waitingNext.shift();
      const ev = this.queue.shift();
      res.writeHead(200, { ...ev.headers, 'Content-Length': ev.body.length });
      res.end(ev.body);
    }
  }

  route(req, res) {
    if (req.method === 'GET' && req.url === `${API}/invocation/next`) {
      if (this.nextStatus !== 200) {
        res.writeHead(this.nextStatus, { 'Content-Type': 'application/json' });
        res.end('{"errorType":"Test","errorMessage":"no"}');
        return;
      }
      this.waitingNext.push(res);
      this.serveNext();
      return;
    }
    if (req.method === 'POST') {
      // Read the runtime's stdout now, as the request head arrives: whatever
      // the runtime wrote before sending this post is in the pipe by now.
      const record = { path: req.url, headers: req.headers, stdout: this.snapshotStdout(), body: '' };
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        record.body = Buffer.concat(chunks).toString('utf8');
        try {
          record.json = JSON.parse(record.body);
        } catch {
          record.json = undefined;
        }
        this.posts.push(record);
        res.writeHead(202, { 'Content-Type': 'application/json', 'Content-Length': 16 });
        res.end('{"status":"OK"}\n');
        for (const w of this.postWaiters.splice(0)) w();
      });
      return;
    }
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
  }

  /** Resolves with the n-th post (1-based) once it has arrived. */
  async waitPost(n, ms = 5000) {
    const deadline = Date.now() + ms;
    while (this.posts.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for post #${n} (have ${this.posts.length})`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.postWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.posts[n - 1];
  }

  close() {
    for (const res of this.waitingNext.splice(0)) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** A FIFO for the child's stdout (a real pipe, as the server gives it), read without blocking. */
class FifoReader {
  constructor(dir) {
    this.path = path.join(dir, 'stdout.fifo');
    execFileSync('mkfifo', [this.path]);
    this.rfd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    this.wfd = fs.openSync(this.path, fs.constants.O_WRONLY);
    this.decoder = new StringDecoder('utf8');
    this.buf = Buffer.alloc(65536);
    this.text = '';
    // Keep the pipe drained so a chatty child never blocks on a full pipe.
    this.timer = setInterval(() => this.drain(), 5);
  }

  /** Everything the child has written so far. */
  drain() {
    if (this.rfd === null) return this.text;
    for (;;) {
      let n;
      try {
        n = fs.readSync(this.rfd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        if (e.code === 'EAGAIN') break;
        throw e;
      }
      if (n === 0) break;
      this.text += this.decoder.write(this.buf.subarray(0, n));
    }
    return this.text;
  }

  close() {
    clearInterval(this.timer);
    this.drain();
    if (this.rfd !== null) fs.closeSync(this.rfd);
    this.rfd = null;
  }
}

const live = new Set();

/** Start a runtime ('node' | 'python') for handler in root, against a fresh fake API. */
async function launch(lang, root, handler, extraEnv = {}) {
  const api = new FakeRuntimeApi();
  await api.start();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudlet-fnrt-'));
  const out = new FifoReader(scratch);
  api.snapshotStdout = () => out.drain();
  const bootstrap = lang === 'node' ? NODE_BOOTSTRAP : PYTHON_BOOTSTRAP;
  // Only what cloudlet's server sets: nothing of the test runner's own
  // environment (NODE_TEST_CONTEXT would turn the child into a test worker).
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: os.homedir(),
    TMPDIR: os.tmpdir(),
    TZ: 'UTC',
    AWS_LAMBDA_RUNTIME_API: api.address,
    _HANDLER: handler,
    LAMBDA_TASK_ROOT: root,
    LAMBDA_RUNTIME_DIR: path.dirname(bootstrap),
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EXECUTION_ENV: lang === 'node' ? 'AWS_Lambda_nodejs20.x' : 'AWS_Lambda_python3.11',
    AWS_LAMBDA_FUNCTION_NAME: 'fn-test',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fn-test',
    AWS_LAMBDA_LOG_STREAM_NAME: '2025/01/01/[$LATEST]0123456789abcdef',
    AWS_ACCESS_KEY_ID: 'ASIATESTTESTTESTTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_SESSION_TOKEN: 'test-token',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
    ...extraEnv,
  };
  const child = spawn(lang === 'node' ? process.execPath : PYTHON, [bootstrap], {
    cwd: root,
    env,
    stdio: ['ignore', out.wfd, 'pipe'],
  });
  fs.closeSync(out.wfd);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const rt = {
    api,
    child,
    exited,
    stdout: () => out.drain(),
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      out.close();
      api.close();
      fs.rmSync(scratch, { recursive: true, force: true });
      live.delete(rt);
    },
    /** Wait for post n, failing with the child's output if it never comes. */
    async post(n) {
      try {
        return await api.waitPost(n);
      } catch (e) {
        e.message += `\nstdout:\n${out.drain()}\nstderr:\n${stderr}`;
        throw e;
      }
    },
    /** Queue an event and return the post it leads to. */
    async invoke(event, opts) {
      const id = api.push(event, opts);
      const p = await rt.post(api.posts.length + 1);
      return { id, post: p };
    },
  };
  live.add(rt);
  return rt;
}

const tmpDirs = [];
function codeDir(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudlet-fncode-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  tmpDirs.push(dir);
  return dir;
}

after(async () => {
  await Promise.all([...live].map((rt) => rt.stop()));
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Start a runtime over files, run body(rt), stop it whatever happens. */
async function withRuntime(lang, files, handler, body, env) {
  const root = typeof files === 'string' ? files : codeDir(files);
  const rt = await launch(lang, root, handler, env);
  try {
    return await body(rt);
  } finally {
    await rt.stop();
  }
}

function assertResponse(post, id) {
  assert.equal(post.path, `${API}/invocation/${id}/response`, `expected a response, got ${post.path}: ${post.body}`);
  assert.match(post.headers['content-type'], /^application\/json/);
  assert.equal(post.headers['content-length'], String(Buffer.byteLength(post.body)));
  assert.equal(post.headers['transfer-encoding'], undefined);
}

function assertError(post, urlPath, errorType, errorMessage) {
  assert.equal(post.path, urlPath, `expected ${urlPath}, got ${post.path}: ${post.body}`);
  assert.equal(post.headers['content-type'], 'application/vnd.aws.lambda.error+json');
  assert.equal(post.headers['lambda-runtime-function-error-type'], errorType);
  assert.equal(post.headers['content-length'], String(Buffer.byteLength(post.body)));
  assert.equal(post.json.errorType, errorType);
  if (errorMessage instanceof RegExp) assert.match(post.json.errorMessage, errorMessage);
  else if (errorMessage !== undefined) assert.equal(post.json.errorMessage, errorMessage);
  assert.ok(Array.isArray(post.json.stackTrace), 'stackTrace is an array');
  for (const line of post.json.stackTrace) assert.equal(typeof line, 'string');
}

/** Log lines (AWS format) in text, parsed. */
function logLines(text) {
  return text
    .split('\n')
    .map((l) => LOG_LINE.exec(l))
    .filter(Boolean)
    .map((m) => ({ time: m[1], requestId: m[2], level: m[3], message: m[4] }));
}

// ---------------------------------------------------------------------------

describe('node runtime', () => {
  it('posts an async handler\'s result, sets the trace id per invoke, null for undefined', T, async () => {
    const files = {
      'index.js': `exports.handler = async (event) => {
        if (event.nothing) return undefined;
        return { got: event, trace: process.env._X_AMZN_TRACE_ID, unicode: 'h\u00e9llo \u2603' };
      };`,
    };
    await withRuntime('node', files, 'index.handler', async (rt) => {
      const a = await rt.invoke({ x: 1, s: 'two' }, { trace: 'Root=1-abc;Sampled=1' });
      assertResponse(a.post, a.id);
      assert.deepEqual(a.post.json, { got: { x: 1, s: 'two' }, trace: 'Root=1-abc;Sampled=1', unicode: 'h\u00e9llo \u2603' });
      const b = await rt.invoke({ nothing: true });
      assertResponse(b.post, b.id);
      assert.equal(b.post.body, 'null');
    });
  });

  it('reuses one keep-alive connection across invokes', T, async () => {
    const files = { 'index.js': 'exports.handler = async (e) => e.n * 2;' };
    await withRuntime('node', files, 'index.handler', async (rt) => {
      for (let n = 1; n <= 4; n++) {
        const r = await rt.invoke({ n });
        assert.equal(r.post.json, n * 2);
      }
      assert.equal(rt.api.connections, 1, 'one TCP connection for init, 4 nexts and 4 responses');
    });
  });

  it('supports callback handlers, context.succeed and an empty event loop', T, async () => {
    const files = {
      'index.js': `exports.handler = (event, context, callback) => {
        if (event.mode === 'ok') setTimeout(() => callback(null, { n: event.n + 1 }), 5);
        else if (event.mode === 'err') setTimeout(() => callback(new TypeError('cb failed')), 5);
        else if (event.mode === 'succeed') context.succeed('via succeed');
        else if (event.mode === 'twice') { callback(null, 'first'); callback(null, 'second'); }
        // mode 'nothing': no callback and nothing pending -> null, as on AWS
      };`,
    };
    await withRuntime('node', files, 'index.handler', async (rt) => {
      const ok = await rt.invoke({ mode: 'ok', n: 41 });
      assertResponse(ok.post, ok.id);
      assert.deepEqual(ok.post.json, { n: 42 });

      const err = await rt.invoke({ mode: 'err' });
      assertError(err.post, `${API}/invocation/${err.id}/error`, 'TypeError', 'cb failed');

      const s = await rt.invoke({ mode: 'succeed' });
      assert.equal(s.post.json, 'via succeed');

      const twice = await rt.invoke({ mode: 'twice' });
      assert.equal(twice.post.json, 'first');

      const nothing = await rt.invoke({ mode: 'nothing' });
      assertResponse(nothing.post, nothing.id);
      assert.equal(nothing.post.body, 'null');
      assert.equal(rt.api.posts.length, 5, 'the second callback posted nothing');
    });
  });

  it('loads .mjs, .js (CommonJS and "type":"module"), .cjs, folders and nested exports', T, async () => {
    const cases = [
      [{ 'index.mjs': 'export const handler = async () => "esm-mjs";' }, 'index.handler', 'esm-mjs'],
      [{ 'index.js': 'module.exports.handler = async () => "cjs-js";' }, 'index.handler', 'cjs-js'],
      [
        { 'package.json': '{"type":"module"}', 'index.js': 'export const handler = async () => "esm-js";' },
        'index.handler',
        'esm-js',
      ],
      [{ 'index.cjs': 'exports.handler = async () => "cjs";' }, 'index.handler', 'cjs'],
      [
        { 'src/lib/app.mjs': 'export const handlers = { main: async () => "nested" };' },
        'src/lib/app.handlers.main',
        'nested',
      ],
      [{ 'pkg/index.js': 'exports.go = async () => "folder";' }, 'pkg.go', 'folder'],
      [
        { 'node_modules/dep/index.js': 'exports.handler = async () => "from node_modules";' },
        'dep.handler',
        'from node_modules',
      ],
    ];
    await Promise.all(
      cases.map(([files, handler, want]) =>
        withRuntime('node', files, handler, async (rt) => {
          const r = await rt.invoke({});
          assertResponse(r.post, r.id);
          assert.equal(r.post.json, want, handler);
        }),
      ),
    );
  });

  it('reports thrown errors, rejections and non-Error throws on /error', T, async () => {
    const files = {
      'index.js': `class ValidationError extends Error {
          constructor(m) { super(m); this.name = 'ValidationError'; }
        }
        exports.handler = async (event) => {
          if (event.kind === 'custom') throw new ValidationError('bad input: ' + event.v);
          if (event.kind === 'string') throw 'plain string';
          if (event.kind === 'multiline') throw new Error('line one\\nline two');
          return null;
        };`,
    };
    await withRuntime('node', files, 'index.handler', async (rt) => {
      const c = await rt.invoke({ kind: 'custom', v: 7 });
      assertError(c.post, `${API}/invocation/${c.id}/error`, 'ValidationError', 'bad input: 7');
      assert.ok(c.post.json.stackTrace.length > 0, 'has frames');
      assert.match(c.post.json.stackTrace[0], /^\s+at .*index\.js:\d+:\d+/);
      assert.ok(!c.post.json.stackTrace.some((l) => l.includes('bad input')), 'no message line in the trace');
      // AWS logs the error, so it is in the log tail.
      const logged = logLines(c.post.stdout).find((l) => l.level === 'ERROR');
      assert.ok(logged, `an ERROR log line: ${c.post.stdout}`);
      assert.equal(logged.requestId, c.id);
      assert.match(logged.message, /^Invoke Error \t\{"errorType":"ValidationError"/);

      const s = await rt.invoke({ kind: 'string' });
      assertError(s.post, `${API}/invocation/${s.id}/error`, 'Error', 'plain string');
      assert.deepEqual(s.post.json.stackTrace, []);

      const m = await rt.invoke({ kind: 'multiline' });
      assertError(m.post, `${API}/invocation/${m.id}/error`, 'Error', 'line one\nline two');
      assert.ok(m.post.json.stackTrace.every((l) => /^\s+at /.test(l)), m.post.body);
    });
  });

  it('reports a missing module as Runtime.ImportModuleError on /init/error and exits 1', T, async () => {
    await withRuntime('node', { 'other.js': '' }, 'nothere.handler', async (rt) => {
      const p = await rt.post(1);
      assertError(p, `${API}/init/error`, 'Runtime.ImportModuleError', "Error: Cannot find module 'nothere'");
      assert.deepEqual(await rt.exited, { code: 1, signal: null });
      assert.equal(rt.api.posts.length, 1);
    });
  });

  it('reports a missing export as Runtime.HandlerNotFound and exits 1', T, async () => {
    const files = { 'index.js': 'exports.handler = async () => 1; exports.notFn = 42;' };
    await Promise.all([
      withRuntime('node', files, 'index.nothing', async (rt) => {
        assertError(
          await rt.post(1),
          `${API}/init/error`,
          'Runtime.HandlerNotFound',
          'index.nothing is undefined or not exported',
        );
        assert.equal((await rt.exited).code, 1);
      }),
      withRuntime('node', files, 'index.notFn', async (rt) => {
        assertError(await rt.post(1), `${API}/init/error`, 'Runtime.HandlerNotFound', 'index.notFn is not a function');
        assert.equal((await rt.exited).code, 1);
      }),
    ]);
  });

  it('reports modules that fail to load: syntax errors, throws, missing dependencies', T, async () => {
    await Promise.all([
      withRuntime('node', { 'index.js': 'exports.handler = async () => {' }, 'index.handler', async (rt) => {
        assertError(await rt.post(1), `${API}/init/error`, 'Runtime.UserCodeSyntaxError', /^SyntaxError: /);
        assert.equal((await rt.exited).code, 1);
      }),
      withRuntime('node', { 'index.mjs': 'null.boom;\nexport const handler = 1;' }, 'index.handler', async (rt) => {
        const p = await rt.post(1);
        assertError(p, `${API}/init/error`, 'TypeError', /Cannot read properties of null/);
        assert.match(p.json.stackTrace[0], /index\.mjs:1/);
        assert.equal((await rt.exited).code, 1);
      }),
      withRuntime('node', { 'index.js': "require('left-pad-nope');" }, 'index.handler', async (rt) => {
        const p = await rt.post(1);
        assertError(p, `${API}/init/error`, 'Runtime.ImportModuleError', /^Error: Cannot find module 'left-pad-nope'/);
        assert.equal((await rt.exited).code, 1);
      }),
    ]);
  });

  it('fills the context: request id, ARN, identity, client context, remaining time', T, async () => {
    const files = {
      'index.js': `exports.handler = async (event, context) => {
        const first = context.getRemainingTimeInMillis();
        await new Promise((r) => setTimeout(r, 40));
        const second = context.getRemainingTimeInMillis();
        const { getRemainingTimeInMillis, done, succeed, fail, ...fields } = context;
        return { fields, first, second, now: Date.now(),
                 fns: [typeof getRemainingTimeInMillis, typeof done, typeof succeed, typeof fail],
                 hasIdentity: 'identity' in context };
      };`,
    };
    await withRuntime('node', files, 'index.handler', async (rt) => {
      const deadline = Date.now() + 5000;
      const clientContext = { custom: { k: 'v' }, env: { platform: 'test' } };
      const r = await rt.invoke({}, { deadline, identity: IDENTITY, clientContext });
      const v = r.post.json;
      assert.deepEqual(v.fields, {
        functionName: 'fn-test',
        functionVersion: '$LATEST',
        memoryLimitInMB: '256',
        logGroupName: '/aws/lambda/fn-test',
        logStreamName: '2025/01/01/[$LATEST]0123456789abcdef',
        callbackWaitsForEmptyEventLoop: true,
        invokedFunctionArn: ARN,
        awsRequestId: r.id,
        identity: IDENTITY,
        clientContext,
      });
      assert.deepEqual(v.fns, ['function', 'function', 'function', 'function']);
      assert.ok(v.first <= 5000 && v.first > 4000, `first ${v.first}`);
      assert.ok(v.first - v.second >= 35, `decreasing: ${v.first} -> ${v.second}`);
      assert.ok(Math.abs(deadline - v.now - v.second) <= 20, `≈ deadline - now: ${deadline - v.now} vs ${v.second}`);

      // Without the headers: no identity, no client context; past the deadline: 0.
      const plain = await rt.invoke({}, { deadline: Date.now() - 1000 });
      assert.equal(plain.post.json.fields.identity, undefined);
      assert.equal(plain.post.json.fields.clientContext, undefined);
      assert.equal(plain.post.json.fields.awsRequestId, plain.id);
      assert.equal(plain.post.json.first, 0);
    });
  });

  it('writes console output as AWS log lines, in the pipe before the result is posted', T, async () => {
    const files = {
      'index.js': `console.log('loading');
        exports.handler = async (event) => {
          console.log('hello %s', 'world', { a: 1 });
          console.info('info'); console.warn('warn'); console.error(new Error('shown').message);
          console.debug('debug'); console.trace('trace');
          process.stdout.write('raw write\\n');
          console.log('last');
          return 'done';
        };`,
    };
    await withRuntime('node', files, 'index.handler', async (rt) => {
      const r = await rt.invoke({});
      assertResponse(r.post, r.id);
      const lines = logLines(r.post.stdout);
      assert.deepEqual(
        lines.map((l) => [l.requestId === r.id ? 'ID' : l.requestId, l.level, l.message]),
        [
          ['undefined', 'INFO', 'loading'],
          ['ID', 'INFO', 'hello world { a: 1 }'],
          ['ID', 'INFO', 'info'],
          ['ID', 'WARN', 'warn'],
          ['ID', 'ERROR', 'shown'],
          ['ID', 'DEBUG', 'debug'],
          ['ID', 'TRACE', 'trace'],
          ['ID', 'INFO', 'last'],
        ],
      );
      for (const l of lines) assert.ok(Math.abs(Date.parse(l.time) - Date.now()) < 5000, l.time);
      // In order, the raw write between its neighbours.
      assert.match(r.post.stdout, /\tTRACE\ttrace\nraw write\n[^\n]*\tINFO\tlast\n$/);
    });
  });

  it('flushes large output, through process.stdout or console, before posting', T, async () => {
    // Both overflow the pipe (64 kB), so the runtime has to wait for the reader.
    const files = {
      'index.js': `exports.handler = async (event) => {
          if (event.viaStream) {
            process.stdout.write('x'.repeat(300000) + '\\n');
            console.log('after-big');
          } else {
            // process.stdout exists now, so fd 1 is non-blocking: a log line
            // bigger than the pipe meets EAGAIN and must still arrive whole.
            console.log('y'.repeat(300000));
          }
          return 'ok';
        };`,
    };
    await withRuntime('node', files, 'index.handler', async (rt) => {
      const r = await rt.invoke({ viaStream: true });
      assertResponse(r.post, r.id);
      assert.ok(r.post.stdout.includes(`${'x'.repeat(300000)}\n`), 'all 300 kB in the pipe');
      assert.match(r.post.stdout, /\n[^\n]*\tINFO\tafter-big\n$/);
      const s = await rt.invoke({});
      assertResponse(s.post, s.id);
      assert.ok(s.post.stdout.endsWith(`\tINFO\t${'y'.repeat(300000)}\n`), 'the whole log line in the pipe');
    });
  });

  it('reports an unserialisable result as Runtime.SerializationError', T, async () => {
    const files = {
      'index.js': 'exports.handler = async (e) => { if (e.ok) return 1; const a = {}; a.self = a; return a; };',
    };
    await withRuntime('node', files, 'index.handler', async (rt) => {
      const r = await rt.invoke({});
      assertError(r.post, `${API}/invocation/${r.id}/error`, 'Runtime.SerializationError', /circular/i);
      const ok = await rt.invoke({ ok: true });
      assert.equal(ok.post.json, 1, 'the runtime carries on');
    });
  });

  it('reports an uncaught exception or unhandled rejection against the invoke, then exits', T, async () => {
    const files = {
      'index.js': `exports.handler = (event, context, callback) => {
          if (event.kind === 'throw') setTimeout(() => { throw new RangeError('from a timer'); }, 5);
          else Promise.reject(new Error('nobody caught me'));
        };`,
    };
    await Promise.all([
      withRuntime('node', files, 'index.handler', async (rt) => {
        const r = await rt.invoke({ kind: 'throw' });
        assertError(r.post, `${API}/invocation/${r.id}/error`, 'RangeError', 'from a timer');
        assert.equal((await rt.exited).code, 129);
      }),
      withRuntime('node', files, 'index.handler', async (rt) => {
        const r = await rt.invoke({ kind: 'reject' });
        assertError(
          r.post,
          `${API}/invocation/${r.id}/error`,
          'Runtime.UnhandledPromiseRejection',
          'Error: nobody caught me',
        );
        assert.equal((await rt.exited).code, 129);
      }),
    ]);
  });

  it('exits 1 when /next answers anything but 200', T, async () => {
    await withRuntime('node', { 'index.js': 'exports.handler = async () => 1;' }, 'index.handler', async (rt) => {
      rt.api.nextStatus = 500;
      assert.equal((await rt.exited).code, 1);
      assert.equal(rt.api.posts.length, 0);
    });
  });
});

// ---------------------------------------------------------------------------

describe('python runtime', () => {
  it('posts the handler\'s result over one keep-alive connection, with the trace id', T, async () => {
    const files = {
      'app.py': `import os
def handler(event, context):
    return {"got": event, "trace": os.environ.get("_X_AMZN_TRACE_ID"), "unicode": "h\\u00e9llo \\u2603"}
def nothing(event, context):
    return None
`,
    };
    await withRuntime('python', files, 'app.handler', async (rt) => {
      for (let n = 1; n <= 3; n++) {
        const r = await rt.invoke({ n }, { trace: `Root=1-py-${n}` });
        assertResponse(r.post, r.id);
        assert.deepEqual(r.post.json, { got: { n }, trace: `Root=1-py-${n}`, unicode: 'h\u00e9llo \u2603' });
      }
      assert.equal(rt.api.connections, 1, 'one TCP connection for everything');
    });
    await withRuntime('python', files, 'app.nothing', async (rt) => {
      const r = await rt.invoke({});
      assert.equal(r.post.body, 'null');
    });
  });

  it('reports an exception with its type, message, traceback and request id', T, async () => {
    const files = {
      'app.py': `class ValidationError(Exception):
    pass

def check(v):
    raise ValidationError("bad input: %s" % v)

def handler(event, context):
    check(event["v"])
`,
    };
    await withRuntime('python', files, 'app.handler', async (rt) => {
      const r = await rt.invoke({ v: 7 });
      assertError(r.post, `${API}/invocation/${r.id}/error`, 'ValidationError', 'bad input: 7');
      assert.equal(r.post.json.requestId, r.id);
      const trace = r.post.json.stackTrace;
      assert.equal(trace.length, 2, `user frames only: ${JSON.stringify(trace)}`);
      assert.match(trace[0], /^ {2}File ".*app\.py", line 8, in handler\n {4}check\(event\["v"\]\)\n$/);
      assert.match(trace[1], /line 5, in check/);
      // Logged as AWS does, before the post.
      assert.match(r.post.stdout, /\[ERROR\] ValidationError: bad input: 7\nTraceback \(most recent call last\):\n/);

      const k = await rt.invoke({});
      assertError(k.post, `${API}/invocation/${k.id}/error`, 'KeyError', "'v'");
    });
  });

  it('reports a missing module as Runtime.ImportModuleError on /init/error and exits 1', T, async () => {
    await withRuntime('python', { 'other.py': '' }, 'nothere.handler', async (rt) => {
      const p = await rt.post(1);
      assertError(
        p,
        `${API}/init/error`,
        'Runtime.ImportModuleError',
        "Unable to import module 'nothere': No module named 'nothere'",
      );
      assert.deepEqual(await rt.exited, { code: 1, signal: null });
    });
  });

  it('reports a syntax error as Runtime.UserCodeSyntaxError, an import-time raise by its type', T, async () => {
    await Promise.all([
      withRuntime('python', { 'app.py': 'def handler(event, context)\n    return 1\n' }, 'app.handler', async (rt) => {
        assertError(await rt.post(1), `${API}/init/error`, 'Runtime.UserCodeSyntaxError', /^Syntax error in module 'app': /);
        assert.equal((await rt.exited).code, 1);
      }),
      withRuntime('python', { 'app.py': 'raise RuntimeError("no config")\n' }, 'app.handler', async (rt) => {
        const p = await rt.post(1);
        assertError(p, `${API}/init/error`, 'RuntimeError', 'no config');
        assert.match(p.json.stackTrace.at(-1), /app\.py", line 1, in <module>/);
        assert.equal((await rt.exited).code, 1);
      }),
    ]);
  });

  it('reports a missing handler function as Runtime.HandlerNotFound on each invoke (as AWS does)', T, async () => {
    await withRuntime('python', { 'app.py': 'def handler(e, c):\n    return 1\n' }, 'app.nothing', async (rt) => {
      const r = await rt.invoke({});
      assertError(
        r.post,
        `${API}/invocation/${r.id}/error`,
        'Runtime.HandlerNotFound',
        "Handler 'nothing' missing on module 'app'",
      );
      const again = await rt.invoke({});
      assert.equal(again.post.json.errorType, 'Runtime.HandlerNotFound');
    });
  });

  it('imports handlers from folders and packages', T, async () => {
    const files = {
      'src/lib/mod.py': 'def main(e, c):\n    return "path"\n',
      'pkg/__init__.py': '',
      'pkg/sub.py': 'def main(e, c):\n    return "package"\n',
    };
    const root = codeDir(files);
    await Promise.all([
      withRuntime('python', root, 'src/lib/mod.main', async (rt) => {
        assert.equal((await rt.invoke({})).post.json, 'path');
      }),
      withRuntime('python', root, 'pkg.sub.main', async (rt) => {
        assert.equal((await rt.invoke({})).post.json, 'package');
      }),
    ]);
  });

  it('fills the context: request id, ARN, identity, client context, remaining time', T, async () => {
    const files = {
      'app.py': `import time
def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.04)
    second = context.get_remaining_time_in_millis()
    ident = context.identity
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [ident.cognito_identity_id, ident.cognito_identity_pool_id],
        "client_context": None if cc is None else {"custom": cc.custom, "env": cc.env,
                                                  "installation_id": cc.client.installation_id},
        "first": first, "second": second, "now": int(time.time() * 1000),
    }
`,
    };
    await withRuntime('python', files, 'app.handler', async (rt) => {
      const deadline = Date.now() + 5000;
      const clientContext = { custom: { k: 'v' }, env: { platform: 'test' }, client: { installation_id: 'inst-1' } };
      const r = await rt.invoke({}, { deadline, identity: IDENTITY, clientContext });
      const { first, second, now, ...fields } = r.post.json;
      assert.deepEqual(fields, {
        aws_request_id: r.id,
        function_name: 'fn-test',
        function_version: '$LATEST',
        memory_limit_in_mb: '256',
        invoked_function_arn: ARN,
        log_group_name: '/aws/lambda/fn-test',
        log_stream_name: '2025/01/01/[$LATEST]0123456789abcdef',
        identity: [IDENTITY.cognitoIdentityId, IDENTITY.cognitoIdentityPoolId],
        client_context: { custom: { k: 'v' }, env: { platform: 'test' }, installation_id: 'inst-1' },
      });
      assert.ok(first <= 5000 && first > 4000, `first ${first}`);
      assert.ok(first - second >= 35, `decreasing: ${first} -> ${second}`);
      assert.ok(Math.abs(deadline - now - second) <= 20, `≈ deadline - now: ${deadline - now} vs ${second}`);

      const plain = await rt.invoke({}, { deadline: Date.now() - 1000 });
      assert.deepEqual(plain.post.json.identity, [null, null], 'identity object with empty fields, as on AWS');
      assert.equal(plain.post.json.client_context, null);
      assert.equal(plain.post.json.first, 0);
    });
  });

  it('has print() output in the pipe before the result is posted', T, async () => {
    const files = {
      'app.py': `import sys
print("loading")
def handler(event, context):
    print("handling", event["n"])
    sys.stdout.write("no newline yet")
    sys.stderr.write("to stderr\\n")
    return event["n"]
`,
    };
    await withRuntime('python', files, 'app.handler', async (rt) => {
      const a = await rt.invoke({ n: 1 });
      assertResponse(a.post, a.id);
      assert.equal(a.post.stdout, 'loading\nhandling 1\nno newline yet');
      const b = await rt.invoke({ n: 2 });
      assert.equal(b.post.stdout, 'loading\nhandling 1\nno newline yethandling 2\nno newline yet');
      assert.match(rt.stderr(), /to stderr/);
    });
  });

  it('reports a result json cannot encode as Runtime.MarshalError', T, async () => {
    const files = {
      'app.py': `import datetime, decimal
def handler(event, context):
    if event.get("decimal"):
        return {"price": decimal.Decimal("12.50"), "count": decimal.Decimal("3")}
    return {"when": datetime.datetime(2025, 1, 2)}
`,
    };
    await withRuntime('python', files, 'app.handler', async (rt) => {
      const r = await rt.invoke({});
      assertError(
        r.post,
        `${API}/invocation/${r.id}/error`,
        'Runtime.MarshalError',
        'Unable to marshal response: Object of type datetime is not JSON serializable',
      );
      assert.equal(r.post.json.requestId, r.id);
      const d = await rt.invoke({ decimal: true });
      assert.deepEqual(d.post.json, { price: 12.5, count: 3 });
    });
  });

  it('exits 1 when /next answers anything but 200', T, async () => {
    await withRuntime('python', { 'app.py': 'def handler(e, c):\n    return 1\n' }, 'app.handler', async (rt) => {
      rt.api.nextStatus = 500;
      assert.equal((await rt.exited).code, 1);
    });
  });
});

// ---------------------------------------------------------------------------

describe('example functions', () => {
  it('hello greets by name, by Cognito identity, and over a function URL', T, async () => {
    await withRuntime('node', path.join(EXAMPLES, 'hello'), 'index.handler', async (rt) => {
      const byName = await rt.invoke({ name: '  Ada  ' }, { identity: IDENTITY, deadline: Date.now() + 3000 });
      assertResponse(byName.post, byName.id);
      const v = byName.post.json;
      assert.equal(v.message, 'Hello, Ada!');
      assert.equal(v.name, 'Ada');
      assert.equal(v.identityId, IDENTITY.cognitoIdentityId);
      assert.equal(v.requestId, byName.id);
      assert.equal(v.functionName, 'fn-test');
      assert.ok(v.remainingMs > 2000 && v.remainingMs <= 3000, `remainingMs ${v.remainingMs}`);
      const log = logLines(byName.post.stdout).find((l) => l.requestId === byName.id);
      assert.deepEqual([log.level, log.message], ['INFO', 'hello invoked for Ada']);

      const byIdentity = await rt.invoke({ name: '   ' }, { identity: IDENTITY });
      assert.equal(byIdentity.post.json.message, `Hello, ${IDENTITY.cognitoIdentityId}!`);

      const anon = await rt.invoke({});
      assert.deepEqual([anon.post.json.name, anon.post.json.identityId], ['stranger', null]);

      const long = await rt.invoke({ name: 'n'.repeat(500) });
      assert.equal(long.post.json.name.length, 100);

      const url = {
        version: '2.0',
        rawPath: '/',
        rawQueryString: 'name=Grace',
        queryStringParameters: { name: 'Grace' },
        requestContext: {
          http: { method: 'GET', path: '/' },
          authorizer: { iam: { cognitoIdentity: { identityId: 'us-east-1:url-identity', amr: [] } } },
        },
        isBase64Encoded: false,
      };
      const q = await rt.invoke(url);
      assert.equal(q.post.json.statusCode, 200);
      assert.deepEqual(q.post.json.headers, { 'content-type': 'application/json' });
      const body = JSON.parse(q.post.json.body);
      assert.equal(body.message, 'Hello, Grace!');
      assert.equal(body.identityId, 'us-east-1:url-identity');

      const posted = {
        ...url,
        queryStringParameters: undefined,
        body: Buffer.from('{"name":"Linus"}').toString('base64'),
        isBase64Encoded: true,
      };
      const b = await rt.invoke(posted);
      assert.equal(JSON.parse(b.post.json.body).message, 'Hello, Linus!');
    });
  });

  it('echo returns the event, request id and identity, and prints a line', T, async () => {
    await withRuntime('python', path.join(EXAMPLES, 'echo'), 'app.handler', async (rt) => {
      const event = { hello: 'world', list: [1, 2, 3], nested: { ok: true } };
      const r = await rt.invoke(event, { identity: IDENTITY, deadline: Date.now() + 3000 });
      assertResponse(r.post, r.id);
      const v = r.post.json;
      assert.deepEqual(v.event, event);
      assert.equal(v.requestId, r.id);
      assert.equal(v.functionName, 'fn-test');
      assert.equal(v.identityId, IDENTITY.cognitoIdentityId);
      assert.ok(v.remainingMs > 2000 && v.remainingMs <= 3000, `remainingMs ${v.remainingMs}`);
      assert.equal(r.post.stdout, `echo invoked by ${IDENTITY.cognitoIdentityId} (request ${r.id})\n`);

      const anon = await rt.invoke('just a string');
      assert.deepEqual([anon.post.json.event, anon.post.json.identityId], ['just a string', null]);
    });
  });

  it('ship manifests the server can read', () => {
    const hello = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'hello', 'function.json'), 'utf8'));
    const echo = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'echo', 'function.json'), 'utf8'));
    assert.deepEqual([hello.runtime, hello.handler], ['nodejs20.x', 'index.handler']);
    assert.deepEqual([echo.runtime, echo.handler], ['python3.11', 'app.handler']);
    for (const m of [hello, echo]) {
      assert.equal(typeof m.timeout, 'number');
      assert.equal(typeof m.memory, 'number');
      assert.equal(typeof m.description, 'string');
      assert.equal(typeof m.environment, 'object');
      assert.equal(typeof m.concurrency, 'number');
    }
  });
});

// ---------------------------------------------------------------------------

/**
 * A Runtime API over raw TCP, for what node:http would never answer but the
 * runtimes' own HTTP clients must still read: answers split at any byte,
 * chunked bodies with trailers, 100 Continue, Connection: close, bodies read
 * to the end of the connection, hang-ups. answer(req, sock, api) writes the
 * answer to each request; requests are recorded in order.
 */
class RawRuntimeApi {
  constructor(answer, host = '127.0.0.1') {
    this.answer = answer;
    this.host = host;
    this.requests = [];
    this.connections = 0;
    this.sockets = new Set();
    this.waiters = [];
    this.server = net.createServer((sock) => this.onConnection(sock));
  }

  async start() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, this.host, resolve);
    });
    const { port } = this.server.address();
    this.address = this.host.includes(':') ? `[${this.host}]:${port}` : `${this.host}:${port}`;
  }

  onConnection(sock) {
    const conn = ++this.connections;
    this.sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method, url, version] = lines[0].split(' ');
        const headers = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const len = Number(headers['content-length'] || 0);
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
        buf = buf.subarray(end + 4 + len);
        const req = { conn, method, url, version, headers, body, n: this.requests.length + 1 };
        this.requests.push(req);
        for (const w of this.waiters.splice(0)) w();
        this.answer(req, sock, this);
      }
    });
  }

  /** Resolves once n requests have arrived. */
  async waitRequests(n, ms = 5000) {
    const deadline = Date.now() + ms;
    while (this.requests.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for request #${n} (have ${this.requests.length})`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.requests[n - 1];
  }

  close() {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

/** Start a runtime against a RawRuntimeApi; body(rt, api). */
async function withRawApi(lang, files, handler, answer, body, { host, env } = {}) {
  const api = new RawRuntimeApi(answer, host);
  await api.start();
  try {
    return await withRuntime(lang, files, handler, (rt) => body(rt, api), {
      ...env,
      AWS_LAMBDA_RUNTIME_API: api.address,
    });
  } finally {
    api.close();
  }
}

function eventHead(id, extra = '') {
  return (
    'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n' +
    `Lambda-Runtime-Aws-Request-Id: ${id}\r\n` +
    `Lambda-Runtime-Deadline-Ms: ${Date.now() + 3000}\r\n` +
    `Lambda-Runtime-Invoked-Function-Arn: ${ARN}\r\n${extra}`
  );
}

const ACCEPTED = 'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"OK"}';

/** Write parts one after another, a few milliseconds apart, then call done. */
function writeSlowly(sock, parts, done) {
  const [first, ...rest] = parts;
  if (first === undefined) {
    if (done) done();
    return;
  }
  sock.write(first);
  setTimeout(() => writeSlowly(sock, rest, done), 3);
}

// Both answer { n, size } for event { n, pad }, and echo a large pad back.
const HANDLERS = {
  node: {
    files: {
      'index.js': `exports.handler = async (e) => ({
        n: e.n, size: e.pad ? e.pad.length : 0, back: e.pad && e.pad.length > 1000 ? e.pad : '',
      });`,
    },
    handler: 'index.handler',
  },
  python: {
    files: {
      'app.py': `def handler(e, c):
    pad = e.get("pad", "")
    return {"n": e["n"], "size": len(pad), "back": pad if len(pad) > 1000 else ""}
`,
    },
    handler: 'app.handler',
  },
};

// The Node runtime drives the TCP handle itself unless process.binding()
// would warn; under --pending-deprecation it uses node:net: test both.
const CLIENTS = [
  ['node', 'node', {}],
  ['node over node:net', 'node', { NODE_OPTIONS: '--pending-deprecation' }],
  ['python', 'python', {}],
];

describe('runtime HTTP clients', () => {
  for (const [name, lang, env] of CLIENTS) {
    it(`${name}: reads split, chunked, interim, closing and large answers, reconnecting as needed`, T, async () => {
      const pad = 'p'.repeat(2 * 1024 * 1024);
      let gets = 0;
      let posts = 0;
      const answer = (req, sock) => {
        if (req.method === 'POST') {
          posts++;
          if (posts === 1) {
            // A chunked answer with an extension and a trailer, in pieces.
            writeSlowly(sock, [
              'HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{"st',
              'a\r\n',
              'a\r\ntus":"OK"}\r\n0\r\nX-Trailer: t\r\n\r\n',
            ]);
          } else if (posts === 2) {
            // Answer, then close the kept-alive connection while it is idle.
            sock.write(ACCEPTED, () => sock.destroy());
          } else {
            sock.write(ACCEPTED);
          }
          return;
        }
        gets++;
        const id = `raw-${gets}`;
        const event = JSON.stringify(gets === 4 ? { n: gets, pad } : { n: gets });
        if (gets === 1) {
          // 100 Continue first; the head and body split across the blank line.
          const whole = `${eventHead(id)}Content-Length: ${Buffer.byteLength(event)}\r\n\r\n${event}`;
          const cut = whole.indexOf('\r\n\r\n') + 2;
          const pieces = [whole.slice(0, 20), whole.slice(20, cut), whole.slice(cut, cut + 3), whole.slice(cut + 3)];
          writeSlowly(sock, ['HTTP/1.1 100 Continue\r\n\r\n', ...pieces]);
        } else if (gets === 2) {
          // A chunked body, and Connection: close: the next request needs a new connection.
          const mid = Math.floor(event.length / 2);
          const chunk = (t) => `${Buffer.byteLength(t).toString(16)}\r\n${t}\r\n`;
          const head = `${eventHead(id)}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
          sock.write(`${head}${chunk(event.slice(0, mid))}${chunk(event.slice(mid))}0\r\n\r\n`, () => sock.destroy());
        } else if (gets === 3) {
          // No length: the body ends with the connection.
          writeSlowly(sock, [`${eventHead(id)}Connection: close\r\n\r\n`, event], () => sock.end());
        } else if (gets === 4) {
          // 2 MB in 64 kB writes.
          const data = Buffer.from(`${eventHead(id)}Content-Length: ${Buffer.byteLength(event)}\r\n\r\n${event}`);
          for (let off = 0; off < data.length; off += 65536) sock.write(data.subarray(off, off + 65536));
        }
        // The fifth `next` is left waiting.
      };
      const { files, handler } = HANDLERS[lang];
      await withRawApi(lang, files, handler, answer, async (rt, api) => {
        try {
          await api.waitRequests(9);
        } catch (e) {
          const seen = api.requests.map((r) => `${r.conn}:${r.method} ${r.url}`).join(', ');
          e.message += `\nrequests: ${seen}\nstderr: ${rt.stderr()}`;
          throw e;
        }
        const seen = api.requests.map((r) => [r.method, r.url]);
        const want = [];
        for (let n = 1; n <= 4; n++) {
          want.push(['GET', `${API}/invocation/next`], ['POST', `${API}/invocation/raw-${n}/response`]);
        }
        want.push(['GET', `${API}/invocation/next`]);
        assert.deepEqual(seen, want);
        const results = api.requests.filter((r) => r.method === 'POST').map((r) => JSON.parse(r.body));
        assert.deepEqual(results.slice(0, 3), [
          { n: 1, size: 0, back: '' },
          { n: 2, size: 0, back: '' },
          { n: 3, size: 0, back: '' },
        ]);
        // 2 MB in, 2 MB out.
        assert.equal(results[3].n, 4);
        assert.equal(results[3].size, pad.length);
        assert.ok(results[3].back === pad, 'the large result arrived whole');
        for (const r of api.requests) {
          assert.equal(r.version, 'HTTP/1.1');
          assert.match(r.headers.host, /^127\.0\.0\.1:\d+$/);
          if (r.method === 'POST') {
            assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
            assert.equal(r.headers['content-type'], 'application/json');
          }
        }
        // New connections: after Connection: close (GET 2), after the idle
        // hang-up (POST 2), after the read-to-close body (GET 3).
        assert.deepEqual(
          api.requests.map((r) => r.conn),
          [1, 1, 1, 2, 3, 4, 4, 4, 4],
        );
        assert.equal(rt.child.exitCode, null, 'still running');
        assert.doesNotMatch(rt.stderr(), /Warning|bootstrap:/);
      }, { env });
    });

    it(`${name}: retries a hung-up request once, then exits 1`, T, async () => {
      const answer = (req, sock) => sock.destroy(); // every request: hang up without an answer
      const { files, handler } = HANDLERS[lang];
      await withRawApi(lang, files, handler, answer, async (rt, api) => {
        assert.deepEqual(await rt.exited, { code: 1, signal: null });
        assert.deepEqual(
          api.requests.map((r) => [r.conn, r.method, r.url]),
          [
            [1, 'GET', `${API}/invocation/next`],
            [2, 'GET', `${API}/invocation/next`],
          ],
        );
        assert.match(rt.stderr(), /bootstrap: GET \/2018-06-01\/runtime\/invocation\/next failed: /);
      }, { env });
    });

    it(`${name}: exits 1 when the Runtime API refuses connections`, T, async () => {
      const probe = net.createServer();
      await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const address = `127.0.0.1:${probe.address().port}`;
      await new Promise((resolve) => probe.close(resolve));
      const { files, handler } = HANDLERS[lang];
      await withRuntime(lang, files, handler, async (rt) => {
        assert.deepEqual(await rt.exited, { code: 1, signal: null });
        assert.match(rt.stderr(), /bootstrap: GET \/2018-06-01\/runtime\/invocation\/next failed: .*refused/i);
      }, { ...env, AWS_LAMBDA_RUNTIME_API: address });
    });
  }

  for (const lang of ['node', 'python']) {
    it(`${lang}: talks to a Runtime API on an IPv6 address`, T, async (t) => {
      const api = new RawRuntimeApi((req, sock) => {
        if (req.method === 'POST') {
          sock.write(ACCEPTED);
        } else if (req.n === 1) {
          const event = '{"n":6}';
          sock.write(`${eventHead('v6')}Content-Length: ${event.length}\r\n\r\n${event}`);
        }
      }, '::1');
      try {
        await api.start();
      } catch {
        t.skip('no IPv6 loopback');
        return;
      }
      api.close();
      const { files, handler } = HANDLERS[lang];
      await withRawApi(lang, files, handler, api.answer, async (rt, raw) => {
        await raw.waitRequests(3);
        assert.deepEqual(JSON.parse(raw.requests[1].body), { n: 6, size: 0, back: '' });
        assert.match(raw.requests[0].headers.host, /^\[::1\]:\d+$/);
      }, { host: '::1' });
    });
  }
});

describe('runtime start-up paths', () => {
  it('node: loads ES modules with top-level await, and reports their load errors', T, async () => {
    await Promise.all([
      withRuntime(
        'node',
        {
          'index.mjs': `import { v } from "./dep.mjs";
await new Promise((r) => setTimeout(r, 5));
console.log("evaluated");
export const handler = async () => v;`,
          'dep.mjs': 'await null;\nexport const v = "tla";',
        },
        'index.handler',
        async (rt) => {
          const r = await rt.invoke({});
          assertResponse(r.post, r.id);
          assert.equal(r.post.json, 'tla');
          // Evaluated once, although require() was tried first.
          assert.deepEqual(logLines(r.post.stdout).map((l) => l.message), ['evaluated']);
          assert.equal(rt.stderr(), '');
        },
      ),
      withRuntime('node', { 'index.mjs': "import 'nope';\nexport const handler = 1;" }, 'index.handler', async (rt) => {
        assertError(await rt.post(1), `${API}/init/error`, 'Runtime.ImportModuleError', /Cannot find package 'nope'/);
        assert.equal((await rt.exited).code, 1);
      }),
      withRuntime('node', { 'index.mjs': 'export const handler = async () => {' }, 'index.handler', async (rt) => {
        assertError(await rt.post(1), `${API}/init/error`, 'Runtime.UserCodeSyntaxError', /^SyntaxError: /);
        assert.equal((await rt.exited).code, 1);
      }),
      withRuntime(
        'node',
        {
          'package.json': '{"type":"module"}',
          'index.js': 'export const handler = async (e) => ({ esm: import.meta.url.endsWith("/index.js"), e });',
        },
        'index.handler',
        async (rt) => {
          const r = await rt.invoke({ a: 1 });
          assert.deepEqual(r.post.json, { esm: true, e: { a: 1 } });
          assert.equal(rt.stderr(), '');
        },
      ),
    ]);
  });

  it('node: prints a lone string argument as it is, and over node:net too', T, async () => {
    const files = {
      'index.js': "exports.handler = async () => { console.log('50% off %s %d'); console.log('%d%%', 5); return 1; };",
    };
    for (const env of [{}, { NODE_OPTIONS: '--pending-deprecation' }]) {
      await withRuntime('node', files, 'index.handler', async (rt) => {
        for (let n = 0; n < 3; n++) {
          const r = await rt.invoke({});
          assertResponse(r.post, r.id);
          assert.deepEqual(
            logLines(r.post.stdout).filter((l) => l.requestId === r.id).map((l) => l.message),
            ['50% off %s %d', '5%'],
          );
        }
        assert.equal(rt.api.connections, 1);
        assert.equal(rt.stderr(), '', 'no warning, deprecation or otherwise');
      }, env);
    }
  });

  it('python: reads events as json does (encodings, BOM, NaN) and reports bad JSON with its message', T, async () => {
    const files = {
      'app.py': `import sys
def handler(event, context):
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("json", "http", "email", "urllib", "ssl"))
    return {"event": repr(event), "heavy": heavy}
`,
    };
    await withRuntime('python', files, 'app.handler', async (rt) => {
      // Plain UTF-8 takes the fast path: nothing heavy is imported to get there.
      // A BOM or UTF-16 goes through json itself.
      const cases = [
        [Buffer.from(' {"a": [1, 2.5, "\u00e9\u2603"]}\n'), "{'a': [1, 2.5, 'é☃']}", []],
        [Buffer.from('[NaN, -Infinity, 1e400, 12345678901234567890]'), '[nan, -inf, inf, 12345678901234567890]', []],
        [Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"bom": true}')]), "{'bom': True}", ['json']],
        [Buffer.from('{"utf16": 1}', 'utf16le'), "{'utf16': 1}", ['json']],
      ];
      for (const [raw, want, heavy] of cases) {
        const r = await rt.invoke(null, { rawBody: raw });
        assertResponse(r.post, r.id);
        assert.equal(r.post.json.event, want);
        assert.deepEqual(r.post.json.heavy.filter((m) => !m.startsWith('json.')), heavy);
      }
      // Bad JSON: json's own message (which varies with the Python version).
      for (const text of ['{"a": 1,}', '{} {}', '', '[1, 2']) {
        const script = 'import json, sys\ntry:\n json.loads(sys.argv[1].encode())\nexcept ValueError as e:\n print(e)';
        const want = execFileSync(PYTHON, ['-c', script, text]).toString().trim();
        assert.match(want, /line 1 column \d+ \(char \d+\)$/);
        const bad = await rt.invoke(null, { rawBody: text });
        const url = `${API}/invocation/${bad.id}/error`;
        assertError(bad.post, url, 'Runtime.UnmarshalError', `Unable to unmarshal input: ${want}`);
      }
    });
  });

  it('python: results are encoded as json.dumps does, with or without the handler importing json', T, async () => {
    const files = {
      'app.py': `import sys
def handler(event, context):
    if event.get("import"):
        import json
    return {"s": "h\\u00e9llo \\u2603 \\U0001F600", "f": [1.5, float("nan"), float("-inf"), 10**20], "t": (1, 2),
            "k": {1: "int key", None: "none key", 2.5: "float key", False: "bool key"}, "json": "json" in sys.modules}
`,
    };
    await withRuntime('python', files, 'app.handler', async (rt) => {
      const a = await rt.invoke({});
      const b = await rt.invoke({ import: true });
      const c = await rt.invoke({});
      const want = (imported) =>
        `{"s": "h\u00e9llo \u2603 \ud83d\ude00", "f": [1.5, NaN, -Infinity, 100000000000000000000], "t": [1, 2], ` +
        `"k": {"1": "int key", "null": "none key", "2.5": "float key", "false": "bool key"}, "json": ${imported}}`;
      assert.equal(a.post.body, want('false'));
      assert.equal(b.post.body, want('true'));
      assert.equal(c.post.body, want('true'));
    });
  });
});
