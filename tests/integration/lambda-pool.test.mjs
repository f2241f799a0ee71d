// lambda-pool.test.mjs - the instance pool seen from outside, with
// @aws-sdk/client-lambda against build/cloudlet: a warm instance is reused
// (same process, no Init Duration), idle instances stop after
// lambda.keepWarmSeconds (the next invoke is a cold start in a new process),
// the memory limit stops a function that allocates past its MemorySize, an
// init error reaches the invoke that started the instance, a big payload
// crosses the Runtime API whole, and a function's result over 6 MB is refused
// as Lambda does.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { CreateFunctionUrlConfigCommand } from '@aws-sdk/client-lambda';
import { startServer, makeTree, rmTree, sleep } from './helpers.mjs';
import { ROOT_ENV, lambdaClient, invoke, invokeOk, invokeUnhandled, nodeFn } from './lambda-helpers.mjs';

const T = { timeout: 30000 };

const pidFn = `exports.handler = async (e) => ({ pid: process.pid, echo: e });\n`;
// Allocates `mb` MiB of real (written) memory in 1 MiB buffers.
const hogFn = `exports.handler = async (e) => { const keep = []; for (let i = 0; i < e.mb; i++) keep.push(Buffer.alloc(1 << 20, 1)); return keep.length; };\n`;
const brokenFn = `throw new Error('broken at load');\n`;
const bigFn = `exports.handler = async (e) => 'x'.repeat(e.n);\n`;
const sizeFn = `exports.handler = async (e) => ({ bytes: JSON.stringify(e).length, last: e.data.slice(-8) });\n`;
// A function URL answer that tries to set the framing headers itself.
const framingFn = `exports.handler = async () => ({ statusCode: 201, body: 'hello world',
  headers: { 'Content-Length': '5', 'Transfer-Encoding': 'chunked', Connection: 'close', 'X-Ok': 'yes' } });\n`;
// A custom runtime (a Node.js script on raw sockets) that reports every
// invoke as an error whose type header holds bytes that are not UTF-8.
const rawBootstrap = `#!/usr/bin/node
const net = require('net');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
function req(raw) {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), host, () => s.write(raw));
    let buf = Buffer.alloc(0);
    s.on('error', reject);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\\r\\n\\r\\n');
      if (i < 0) return;
      const head = buf.subarray(0, i).toString('latin1');
      const m = /content-length: *(\\d+)/i.exec(head);
      const len = m ? Number(m[1]) : 0;
      if (buf.length >= i + 4 + len) { s.destroy(); resolve(head); }
    });
  });
}
(async () => {
  for (;;) {
    const head = await req('GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n');
    const id = /lambda-runtime-aws-request-id: *(\\S+)/i.exec(head)[1];
    await req(Buffer.concat([
      Buffer.from('POST /2018-06-01/runtime/invocation/' + id + '/error HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\nContent-Length: 0\\r\\nLambda-Runtime-Function-Error-Type: Bad', 'latin1'),
      Buffer.from([0xff, 0xfe, 0x22]),
      Buffer.from('\\r\\n\\r\\n', 'latin1'),
    ]));
  }
})();
`;

describe('the instance pool', () => {
  let srv;
  let dir;
  let lambda;

  before(async () => {
    dir = await makeTree({
      'pid/index.js': pidFn,
      'hog/index.js': hogFn,
      'broken/index.js': brokenFn,
      'big/index.js': bigFn,
      'size/index.js': sizeFn,
      'framing/index.js': framingFn,
      'raw/bootstrap': rawBootstrap,
    });
    fs.chmodSync(`${dir}/raw/bootstrap`, 0o755);
    srv = await startServer({
      env: ROOT_ENV,
      config: {
        lambda: { keepWarmSeconds: 1 },
        functions: [
          nodeFn('pid', `${dir}/pid`, { timeout: 3 }),
          nodeFn('hog', `${dir}/hog`, { timeout: 10, memory: 128 }),
          nodeFn('broken', `${dir}/broken`, { timeout: 3 }),
          nodeFn('big', `${dir}/big`, { timeout: 5, memory: 512 }),
          nodeFn('size', `${dir}/size`, { timeout: 5, memory: 512 }),
          nodeFn('framing', `${dir}/framing`, { timeout: 3 }),
          { name: 'raw', code: `${dir}/raw`, runtime: 'provided.al2023', timeout: 3 },
        ],
      },
    });
    lambda = lambdaClient(srv.url);
  });

  after(async () => {
    await srv?.stop();
    await rmTree(dir);
  });

  it('a warm instance is reused: the second invoke runs in the same process, without Init Duration', T, async () => {
    const first = await invoke(lambda, 'pid', { n: 1 }, { LogType: 'Tail' });
    const second = await invoke(lambda, 'pid', { n: 2 }, { LogType: 'Tail' });
    assert.equal(first.json?.echo?.n, 1, first.text);
    assert.equal(second.json?.echo?.n, 2, second.text);
    assert.match(first.log, /Init Duration: [\d.]+ ms/, `the first invoke is a cold start:\n${first.log}`);
    assert.doesNotMatch(second.log, /Init Duration/, `the second invoke is warm:\n${second.log}`);
    assert.equal(second.json.pid, first.json.pid, 'the same instance answered both');
  });

  it('an instance idle past lambda.keepWarmSeconds (1 s) is stopped: the next invoke starts a new process', T, async () => {
    const before = await invokeOk(lambda, 'pid', { n: 3 });
    await sleep(2500);
    let alive = true;
    try {
      process.kill(before.pid, 0);
    } catch {
      alive = false;
    }
    assert.equal(alive, false, `process ${before.pid} should have been stopped after idling`);
    const r = await invoke(lambda, 'pid', { n: 4 }, { LogType: 'Tail' });
    assert.notEqual(r.json?.pid, before.pid, 'a new instance');
    assert.match(r.log, /Init Duration/, `a cold start again:\n${r.log}`);
  });

  it('a function that allocates past its MemorySize (128 MB) fails, and the pool recovers', T, async () => {
    assert.equal(await invokeOk(lambda, 'hog', { mb: 16 }), 16, 'a small allocation works');
    const { error } = await invokeUnhandled(lambda, 'hog', { mb: 400 }, {}, 'allocating 400 MiB');
    assert.match(error.errorType, /Runtime\.ExitError|RangeError|Error/, JSON.stringify(error));
    assert.equal(await invokeOk(lambda, 'hog', { mb: 8 }), 8, 'the next invoke works');
  });

  it('a handler module that throws while loading: the init error (its own type, as the AWS runtime reports it) reaches the invoke', T, async () => {
    const { error } = await invokeUnhandled(lambda, 'broken', {});
    assert.equal(error.errorType, 'Error', JSON.stringify(error));
    assert.match(error.errorMessage, /broken at load/);
    assert.ok(error.stackTrace.some((l) => l.includes('broken/index.js')), 'the stack names the module');
  });

  it('a 5 MB payload reaches the function whole', T, async () => {
    const data = 'y'.repeat(5 * 1024 * 1024 - 100) + 'THE-END!';
    const out = await invokeOk(lambda, 'size', { data });
    assert.equal(out.last, 'THE-END!');
    assert.equal(out.bytes, JSON.stringify({ data }).length);
  });

  it('a result over 6 MB is refused as Function.ResponseSizeTooLarge; 5 MB passes', T, async () => {
    const ok = await invoke(lambda, 'big', { n: 5 * 1024 * 1024 });
    assert.equal(ok.functionError, undefined, ok.text.slice(0, 200));
    assert.equal(ok.text.length, 5 * 1024 * 1024 + 2, 'the JSON string of 5 MiB');
    const { error } = await invokeUnhandled(lambda, 'big', { n: 7 * 1024 * 1024 });
    assert.equal(error.errorType, 'Function.ResponseSizeTooLarge', JSON.stringify(error));
  });

  it('an error type header that is not UTF-8 (a hostile runtime) becomes printable text; cloudlet stays up', T, async () => {
    for (let i = 0; i < 2; i++) {
      const { error } = await invokeUnhandled(lambda, 'raw', {});
      assert.equal(error.errorType, 'Bad__"', JSON.stringify(error));
    }
    assert.equal((await invokeOk(lambda, 'pid', { n: 5 })).echo.n, 5, 'the server still answers');
  });

  it('a function URL answer cannot set the framing headers (Content-Length, Transfer-Encoding, Connection)', T, async () => {
    await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'framing', AuthType: 'NONE' }));
    const res = await fetch(`${srv.url}/fn/framing/`);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-ok'), 'yes');
    assert.equal(await res.text(), 'hello world', 'the whole body, framed by the server');
  });

  it('a function URL request whose User-Agent and query are not UTF-8 still reaches the function', T, async () => {
    const port = Number(new URL(srv.url).port);
    const answer = await new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.write(Buffer.concat([
          Buffer.from('GET /fn/framing/x?q=%FF%FE&r=ok HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ', 'latin1'),
          Buffer.from([0xff, 0xfe, 0x41]),
          Buffer.from('\r\nConnection: close\r\n\r\n', 'latin1'),
        ]));
      });
      let buf = '';
      sock.on('data', (d) => { buf += d.toString('latin1'); });
      sock.on('end', () => resolve(buf));
      sock.on('error', reject);
      setTimeout(() => reject(new Error(`no answer; so far: ${buf}`)), 10000).unref();
    });
    assert.match(answer, /^HTTP\/1\.1 201 /, answer.slice(0, 200));
    assert.match(answer, /hello world$/);
    assert.equal((await invokeOk(lambda, 'pid', { n: 6 })).echo.n, 6, 'the server still answers');
  });
});
