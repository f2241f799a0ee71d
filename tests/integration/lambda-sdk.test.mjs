// lambda-sdk.test.mjs - the Lambda API end to end with @aws-sdk/client-lambda
// against build/cloudlet: the example functions (hello in Node.js, echo in
// Python, shout as a C custom runtime), invoke by name / partial ARN / ARN,
// tail logs, function errors, timeouts and crashes (the next invoke gets a new
// instance), throttling at a function's concurrency (32 parallel invokes,
// every result matched to its own request), the request errors (unknown
// function, non-JSON, over 6 MB), the gate (unsigned, signed-up users may only
// invoke, guests without lambda in their role may not), the caller's Cognito
// identity inside the function, the control plane (CreateFunction from a zip
// built here and from S3, zip-slip refused, duplicates, Get/List with
// pagination, code and configuration updates, reserved concurrency, delete),
// a custom runtime whose bootstrap is a Node.js script, instance isolation
// (no data directory, no server environment, a private TMPDIR) and function
// URLs (AuthType NONE and AWS_IAM).
// The behaviour asserted is the one of the Lambda issue and
// docs/aws-wire-protocols.md section 5.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  CreateFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  ListFunctionsCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  PutFunctionConcurrencyCommand,
  GetFunctionConcurrencyCommand,
  DeleteFunctionConcurrencyCommand,
  DeleteFunctionCommand,
  CreateFunctionUrlConfigCommand,
  GetFunctionUrlConfigCommand,
  UpdateFunctionUrlConfigCommand,
  DeleteFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startServer, makeTree, rmTree } from './helpers.mjs';
import {
  ROOT_ENV,
  ROOT_CREDENTIALS,
  ASIA_RE,
  UUID_RE,
  SHOUT_SKIP,
  fails,
  uniq,
  policy,
  roleArn,
  fnArn,
  lambdaClient,
  s3Client,
  invoke,
  invokeOk,
  invokeUnhandled,
  throttledOr,
  makeZip,
  sha256b64,
  nodeFn,
  wellKnown,
  signedUpUser,
  guestCredentials,
  lambdaRaw,
  urlRequest,
  assertLambdaErr,
} from './lambda-helpers.mjs';

const HOOK = { timeout: 60000 };
const T = { timeout: 30000 };
const FUNCTION_ROLE = roleArn('cloudlet-function');
const MARKER = `marker-${uniq()}`;

// ---- the code of the test functions ----

// probe: one instance id per process, and a mode per event.
const PROBE_JS = `
const crypto = require('crypto');
const INSTANCE = crypto.randomUUID();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
exports.handler = async (event, context) => {
  const mode = event.mode || 'ok';
  if (mode === 'throw') throw new Error(event.message);
  if (mode === 'exit') process.exit(3);
  if (mode === 'sleep') await sleep(event.ms);
  if (mode === 'log') {
    for (let i = 0; i < event.lines; i++) console.log('line ' + i + ' ' + 'x'.repeat(90));
    console.log(event.last);
  }
  return { instance: INSTANCE, pid: process.pid, requestId: context.awsRequestId, mode, echo: event.echo === undefined ? null : event.echo };
};
`;

// busy: 300 ms of work, answers with the id it was given.
const BUSY_JS = `
const INSTANCE = require('crypto').randomUUID();
exports.handler = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { id: event.id, instance: INSTANCE };
};
`;

// peek: what an instance can see of the machine.
const PEEK_JS = `
const fs = require('fs');
const path = require('path');
const attempt = (f) => { try { return { ok: true, value: f() }; } catch (e) { return { ok: false, code: e.code, message: e.message }; } };
exports.handler = async (event) => {
  const tmp = process.env.TMPDIR;
  const tmpBefore = attempt(() => fs.readdirSync(tmp));
  const tmpWrite = attempt(() => { fs.writeFileSync(path.join(tmp, 'probe.txt'), 'written'); return fs.readFileSync(path.join(tmp, 'probe.txt'), 'utf8'); });
  return {
    readdirData: attempt(() => fs.readdirSync(event.dataDir)),
    readFile: attempt(() => fs.readFileSync(event.file, 'latin1').length),
    writeData: attempt(() => fs.writeFileSync(path.join(event.dataDir, 'planted-by-function'), 'x')),
    serverEnviron: attempt(() => fs.readFileSync('/proc/' + event.serverPid + '/environ', 'latin1')),
    env: { ...process.env },
    cwd: process.cwd(),
    tmp, tmpBefore, tmpWrite,
  };
};
`;

// The function made with CreateFunction: a version tag, $FOO, a file of its package, an optional sleep.
const madeJs = (version) => `
const fs = require('fs');
exports.handler = async (event) => {
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  return { version: '${version}', foo: process.env.FOO === undefined ? null : process.env.FOO, data: fs.readFileSync(__dirname + '/data.txt', 'utf8'), got: event };
};
`;

// A custom runtime (provided.al2023) whose bootstrap is a Node.js script speaking the Runtime API.
// agent: 'keep-alive' (one connection reused, as the runtimes in functions/runtimes do) or
// 'close' (a new connection with Connection: close for every call, as a curl-based bootstrap does).
const nodeBootstrap = (agent) => `#!/usr/bin/node
const http = require('http');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const AGENT = ${agent === 'close' ? 'false' : 'new http.Agent({ keepAlive: true, maxSockets: 1 })'};
function call(method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
    const req = http.request({ host, port, method, path: '/2018-06-01/runtime' + p, headers: h, agent: AGENT }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
(async () => {
  for (;;) {
    const next = await call('GET', '/invocation/next');
    if (next.status !== 200) process.exit(1);
    const id = next.headers['lambda-runtime-aws-request-id'];
    const event = JSON.parse(next.body);
    console.log('custom runtime got ' + id);
    if (event.fail) {
      await call('POST', '/invocation/' + id + '/error', JSON.stringify({ errorType: 'Custom.Failure', errorMessage: event.fail, stackTrace: [] }),
        { 'content-type': 'application/json', 'lambda-runtime-function-error-type': 'Custom.Failure' });
      continue;
    }
    const out = { custom: true, requestId: id, arn: next.headers['lambda-runtime-invoked-function-arn'],
      deadlineMs: Number(next.headers['lambda-runtime-deadline-ms']), handler: process.env._HANDLER, event };
    await call('POST', '/invocation/' + id + '/response', JSON.stringify(out), { 'content-type': 'application/json' });
  }
})().catch((e) => { console.error(e); process.exit(1); });
`;

// ---- one server for the file ----

let srv;
let doc; // /.well-known/cloudlet.json
let root; // LambdaClient with root credentials
let s3;
let dirs = [];
let alice; // {user, identityId, credentials} of the default identity pool
let aliceClient;

before(async () => {
  const probe = await makeTree({ 'index.js': PROBE_JS }, 'cloudlet-fn-probe-');
  const busy = await makeTree({ 'index.js': BUSY_JS }, 'cloudlet-fn-busy-');
  const peek = await makeTree({ 'index.js': PEEK_JS }, 'cloudlet-fn-peek-');
  dirs = [probe, busy, peek];
  srv = await startServer({
    env: { ...ROOT_ENV, CLOUDLET_TEST_MARKER: MARKER },
    config: {
      functions: [
        nodeFn('probe', probe, { timeout: 1 }),
        nodeFn('busy', busy, { timeout: 3, concurrency: 4 }),
        nodeFn('peek', peek, { timeout: 3 }),
      ],
      lambda: { eventRetryMs: 100 },
    },
  });
  doc = await wellKnown(srv.url);
  root = lambdaClient(srv.url);
  s3 = s3Client(srv.url);
  alice = await signedUpUser(srv, doc, 'Alice');
  aliceClient = lambdaClient(srv.url, alice.credentials);
}, HOOK);
after(async () => {
  root?.destroy();
  s3?.destroy();
  aliceClient?.destroy();
  await srv?.stop();
  for (const d of dirs) await rmTree(d);
});

// ====================================================================
// invoking the examples
// ====================================================================

describe('the example functions', () => {
  it('ListFunctions (root) lists hello, echo and shout from functions/examples and the config functions', T, async () => {
    const out = await root.send(new ListFunctionsCommand({}));
    const names = out.Functions.map((f) => f.FunctionName);
    for (const n of ['hello', 'echo', 'shout', 'probe', 'busy', 'peek']) assert.ok(names.includes(n), `ListFunctions lacks ${n}: ${names.join(', ')}`);
    const hello = out.Functions.find((f) => f.FunctionName === 'hello');
    assert.equal(hello.FunctionArn, fnArn('hello'), 'hello FunctionArn');
    assert.match(hello.Runtime ?? '', /^nodejs/, 'hello Runtime');
    assert.match(out.Functions.find((f) => f.FunctionName === 'echo').Runtime ?? '', /^python3/, 'echo Runtime');
  });

  it('hello greets by event.name; with root credentials identityId is null; request id, function name and remaining time come from the context', T, async () => {
    const name = `Ann${uniq()}`;
    const r = await invoke(root, 'hello', { name });
    assert.equal(r.status, 200, `StatusCode: ${r.text}`);
    assert.equal(r.functionError, undefined, `FunctionError: ${r.text}`);
    assert.equal(r.json.message, `Hello, ${name}!`, `greeting: ${r.text}`);
    assert.equal(r.json.name, name);
    assert.equal(r.json.identityId, null, 'root is no Cognito identity');
    assert.equal(r.json.functionName, 'hello');
    assert.match(r.json.requestId, UUID_RE, 'context.awsRequestId');
    assert.ok(r.json.remainingMs > 0 && r.json.remainingMs <= 3000, `remainingMs ${r.json.remainingMs} not within (0, 3000] for a 3 s timeout`);
    assert.equal(r.version, '$LATEST', 'X-Amz-Executed-Version');
  });

  it('hello without a name (root) is "stranger"; two invokes have two request ids', T, async () => {
    const a = await invokeOk(root, 'hello', {});
    const b = await invokeOk(root, 'hello', {});
    assert.equal(a.message, 'Hello, stranger!');
    assert.notEqual(a.requestId, b.requestId, 'two invokes share a request id');
  });

  it('a function may be named by partial ARN (account:function:name) and by full ARN', T, async () => {
    const byPartial = await invokeOk(root, 'hello', { name: 'Partial' }, { FunctionName: '000000000000:function:hello' });
    assert.equal(byPartial.message, 'Hello, Partial!');
    const byArn = await invokeOk(root, 'hello', { name: 'Arn' }, { FunctionName: fnArn('hello') });
    assert.equal(byArn.message, 'Hello, Arn!');
    await fails(invoke(root, fnArn('hello').replace('000000000000', '111111111111')), 'ResourceNotFoundException', {
      status: 404,
      what: 'an ARN of another account',
    });
  });

  it('echo (Python) returns the event it was given, its request id and name', T, async () => {
    const event = { text: 'é ✓', n: 42, nested: { list: [1, null, true] } };
    const out = await invokeOk(root, 'echo', event);
    assert.deepEqual(out.event, event, 'echo: the event came back changed');
    assert.equal(out.functionName, 'echo');
    assert.match(out.requestId, UUID_RE);
    assert.equal(out.identityId, null, 'root is no Cognito identity');
    const r = await invoke(root, 'echo', { x: 1 }, { LogType: 'Tail' });
    assert.match(r.log ?? '', new RegExp(`echo invoked by anonymous \\(request ${r.json?.requestId}\\)`), `echo's printed line in the tail:\n${r.log}`);
  });

  it('Qualifier $LATEST names the function; any other qualifier (version 7, an alias) is ResourceNotFoundException 404', T, async () => {
    assert.equal((await invokeOk(root, 'hello', { name: 'Q' }, { Qualifier: '$LATEST' })).message, 'Hello, Q!');
    await fails(invoke(root, 'hello', {}, { Qualifier: '7' }), 'ResourceNotFoundException', { status: 404, what: 'Qualifier 7' });
    await fails(invoke(root, 'hello', {}, { FunctionName: 'hello:live' }), 'ResourceNotFoundException', { status: 404, what: 'hello:live' });
  });

  it('shout (C custom runtime) upper-cases every string of its input', { ...T, skip: SHOUT_SKIP }, async () => {
    const out = await invokeOk(root, 'shout', { text: 'hi', list: ['a', { b: 'c' }], n: 1 });
    assert.deepEqual(out, { TEXT: 'HI', LIST: ['A', { B: 'C' }], N: 1 }, 'shout result');
    assert.deepEqual(await invokeOk(root, 'shout', { text: 'hi' }), { TEXT: 'HI' });
  });

  it('LogType Tail: LogResult holds START, the function\'s own line, END and REPORT with a Duration for this request id', T, async () => {
    const name = `Tail${uniq()}`;
    const r = await invoke(root, 'hello', { name }, { LogType: 'Tail' });
    assert.equal(r.functionError, undefined, r.text);
    assert.equal(typeof r.log, 'string', 'no LogResult with LogType Tail');
    const id = r.json.requestId;
    assert.match(r.log, new RegExp(`START RequestId: ${id}`), `START line:\n${r.log}`);
    assert.match(r.log, new RegExp(`hello invoked for ${name}`), `the function's console.log line:\n${r.log}`);
    assert.match(r.log, new RegExp(`END RequestId: ${id}`), `END line:\n${r.log}`);
    assert.match(r.log, new RegExp(`REPORT RequestId: ${id}\\s+Duration: \\d+(\\.\\d+)? ms`), `REPORT line:\n${r.log}`);
    assert.ok(r.log.indexOf('START') < r.log.indexOf(`hello invoked`) && r.log.indexOf('hello invoked') < r.log.indexOf('END RequestId'), 'log lines out of order');
    const plain = await invoke(root, 'hello', { name }, {});
    assert.equal(plain.log, undefined, 'LogResult without LogType Tail');
  });

  it('LogType Tail keeps the last 4 KB of a longer log (the last line and the REPORT are in, the first lines are not)', T, async () => {
    const last = `LAST-${uniq()}`;
    const r = await invoke(root, 'probe', { mode: 'log', lines: 100, last }, { LogType: 'Tail' });
    assert.equal(r.functionError, undefined, r.text);
    assert.ok(Buffer.byteLength(r.log) <= 4096, `the tail is ${Buffer.byteLength(r.log)} bytes, more than 4 KB`);
    assert.ok(Buffer.byteLength(r.log) >= 3000, `the tail is only ${Buffer.byteLength(r.log)} bytes of a ~10 KB log`);
    assert.match(r.log, new RegExp(last), 'the last line is missing from the tail');
    assert.match(r.log, new RegExp(`REPORT RequestId: ${r.json.requestId}`), 'REPORT missing from the tail');
    assert.doesNotMatch(r.log, /line 0 x/, 'the first line should have been cut');
  });
});

// ====================================================================
// function errors, timeouts, crashes
// ====================================================================

describe('function errors, timeouts and crashes', () => {
  it('a handler that throws: 200, FunctionError Unhandled, {errorType, errorMessage, stackTrace}', T, async () => {
    const message = `kaboom-${uniq()}`;
    const { error } = await invokeUnhandled(root, 'probe', { mode: 'throw', message });
    assert.equal(error.errorType, 'Error', `errorType: ${JSON.stringify(error)}`);
    assert.equal(error.errorMessage, message, 'errorMessage');
    assert.ok(Array.isArray(error.stackTrace), `stackTrace is not a list: ${JSON.stringify(error)}`);
    await invokeOk(root, 'probe', {}, {}, 'the same function after a thrown error');
  });

  it('a handler that runs past its 1 s timeout: Sandbox.Timedout "Task timed out after 1.00 seconds"; the next invoke works on a new instance', T, async () => {
    const before = await invokeOk(root, 'probe', {});
    const t0 = Date.now();
    const { error } = await invokeUnhandled(root, 'probe', { mode: 'sleep', ms: 5000 });
    const ms = Date.now() - t0;
    assert.equal(error.errorType, 'Sandbox.Timedout', `errorType: ${JSON.stringify(error)}`);
    assert.match(error.errorMessage, /Task timed out after 1\.00 seconds/, 'errorMessage');
    assert.ok(ms >= 900 && ms < 3000, `the timed-out invoke took ${ms} ms, want about 1000`);
    const afterwards = await invokeOk(root, 'probe', {}, {}, 'the invoke after a timeout');
    assert.notEqual(afterwards.instance, before.instance, 'the timed-out instance was reused');
  });

  it('a handler that calls process.exit(3): Runtime.ExitError "exit status 3"; the next invoke works on a new instance', T, async () => {
    const before = await invokeOk(root, 'probe', {});
    const { error } = await invokeUnhandled(root, 'probe', { mode: 'exit' });
    assert.equal(error.errorType, 'Runtime.ExitError', `errorType: ${JSON.stringify(error)}`);
    assert.match(error.errorMessage, /exit status 3/, 'errorMessage');
    const afterwards = await invokeOk(root, 'probe', {}, {}, 'the invoke after a crash');
    assert.notEqual(afterwards.instance, before.instance, 'a new instance was expected after the crash');
    assert.notEqual(afterwards.pid, before.pid, 'the same process answered after process.exit');
  });

  it('a warm instance is reused by consecutive invokes', T, async () => {
    const a = await invokeOk(root, 'probe', {});
    const b = await invokeOk(root, 'probe', {});
    assert.equal(b.instance, a.instance, 'two sequential invokes started two instances');
  });
});

// ====================================================================
// request errors and invocation types
// ====================================================================

describe('request errors and invocation types', () => {
  it('an unknown function: ResourceNotFoundException 404', T, async () => {
    await fails(invoke(root, `nope-${uniq()}`), 'ResourceNotFoundException', { status: 404 });
  });

  it('a body that is not JSON: InvalidRequestContentException 400', T, async () => {
    await fails(invoke(root, 'hello', 'this is {not json'), 'InvalidRequestContentException', { status: 400 });
  });

  it('a payload over 6 MB: RequestTooLargeException 413; 5.5 MB is accepted', { timeout: 60000 }, async () => {
    const big = JSON.stringify({ mode: 'ok', pad: 'a'.repeat(6 * 1024 * 1024 + 1024) });
    await fails(invoke(root, 'probe', big), 'RequestTooLargeException', { status: 413 });
    const fits = JSON.stringify({ mode: 'ok', pad: 'a'.repeat(5500 * 1000) });
    await invokeOk(root, 'probe', fits, {}, 'a 5.5 MB payload');
  });

  it('InvocationType DryRun: 204, no payload', T, async () => {
    const r = await invoke(root, 'hello', { name: 'Dry' }, { InvocationType: 'DryRun' });
    assert.equal(r.status, 204, `StatusCode ${r.status}`);
    assert.equal(r.text, '', 'DryRun returned a payload');
    await fails(invoke(root, `nope-${uniq()}`, {}, { InvocationType: 'DryRun' }), 'ResourceNotFoundException', { status: 404, what: 'DryRun of an unknown function' });
  });

  it('InvocationType Event: 202, no payload', T, async () => {
    const r = await invoke(root, 'hello', { name: 'Later' }, { InvocationType: 'Event' });
    assert.equal(r.status, 202, `StatusCode ${r.status}`);
    assert.equal(r.text, '', 'Event returned a payload');
  });
});

// ====================================================================
// concurrency
// ====================================================================

describe('concurrency', () => {
  it('32 parallel invokes of a function with concurrency 4: some 429 TooManyRequestsException, every 200 carries its own id, at most 4 instances', { timeout: 60000 }, async () => {
    const ids = Array.from({ length: 32 }, (_, i) => `req-${i}-${uniq()}`);
    const results = await Promise.all(ids.map((id) => throttledOr(invoke(root, 'busy', { id }))));
    const ok = [];
    const throttled = [];
    const instances = new Set();
    results.forEach((res, i) => {
      if (res.throttled) {
        throttled.push(ids[i]);
        return;
      }
      const r = res.ok;
      assert.equal(r.status, 200, `request ${ids[i]}: StatusCode ${r.status}`);
      assert.equal(r.functionError, undefined, `request ${ids[i]}: FunctionError ${r.text}`);
      assert.equal(r.json.id, ids[i], `request ${ids[i]} got the result of ${r.json.id}`);
      ok.push(ids[i]);
      instances.add(r.json.instance);
    });
    assert.ok(throttled.length >= 1, `no invoke was throttled (${ok.length} succeeded) with concurrency 4 and 32 parallel 300 ms invokes`);
    assert.ok(ok.length >= 4, `only ${ok.length} of 32 succeeded; 4 may run at once`);
    assert.ok(instances.size <= 4, `${instances.size} instances ran a function with concurrency 4`);
    assert.equal(ok.length + throttled.length, 32);
    assert.deepEqual(new Set([...ok, ...throttled]), new Set(ids), 'a result was lost or duplicated');
  });

  it('the throttle carries TooManyRequestsException 429 with a message; the SDK sees it when it does not retry', T, async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `t-${i}-${uniq()}`);
    const results = await Promise.all(ids.map((id) => throttledOr(invoke(root, 'busy', { id }))));
    const t = results.find((r) => r.throttled)?.throttled;
    assert.ok(t, 'no invoke was throttled among 12 parallel ones');
    assert.equal(t.name, 'TooManyRequestsException');
    assert.equal(t.$metadata.httpStatusCode, 429);
    assert.ok(t.message && t.message.length > 0, 'empty throttle message');
  });

  it('after a burst every slot is free again: 4 parallel invokes all succeed', T, async () => {
    const ids = Array.from({ length: 4 }, (_, i) => `after-${i}-${uniq()}`);
    const results = await Promise.all(ids.map((id) => throttledOr(invoke(root, 'busy', { id }))));
    results.forEach((res, i) => {
      assert.ok(res.ok, `invoke ${i} of 4 was throttled after the burst had ended`);
      assert.equal(res.ok.json.id, ids[i]);
    });
  });
});

// ====================================================================
// the gate and the caller's identity
// ====================================================================

describe('the gate and the caller\'s identity', () => {
  it('an unsigned Invoke: 403 MissingAuthenticationTokenException', T, async () => {
    const res = await lambdaRaw(srv.url, 'POST', '/2015-03-31/functions/hello/invocations', { body: '{}', sign: false });
    assertLambdaErr(res, 'MissingAuthenticationTokenException', { status: 403, what: 'unsigned Invoke' });
    const list = await lambdaRaw(srv.url, 'GET', '/2015-03-31/functions/', { sign: false });
    assertLambdaErr(list, 'MissingAuthenticationTokenException', { status: 403, what: 'unsigned ListFunctions' });
  });

  it('a request signed for another service is refused', T, async () => {
    const res = await lambdaRaw(srv.url, 'POST', '/2015-03-31/functions/hello/invocations', { body: '{}', service: 's3' });
    assert.ok(res.status === 403 || res.status === 400, `signed for s3, sent to Lambda: ${res.status} ${res.text.slice(0, 200)}`);
    assert.doesNotMatch(res.text, /Hello/, 'the function ran');
  });

  it('a signed-up user (default identity pool) invokes hello: identityId is the caller\'s Cognito identity id', T, async () => {
    const out = await invokeOk(aliceClient, 'hello', {});
    assert.equal(out.identityId, alice.identityId, 'identityId inside hello');
    assert.equal(out.name, alice.identityId, 'with no name, hello greets the identity');
    assert.equal(out.message, `Hello, ${alice.identityId}!`);
  });

  it('the same user invokes echo (Python): context.identity names the caller\'s identity id', T, async () => {
    const out = await invokeOk(aliceClient, 'echo', { from: 'alice' });
    assert.equal(out.identityId, alice.identityId, 'identityId inside echo');
    assert.deepEqual(out.event, { from: 'alice' });
  });

  it('a signed-up user may invoke every function, config ones included', T, async () => {
    await invokeOk(aliceClient, 'probe', {}, {}, 'alice invokes probe');
    await invokeOk(aliceClient, 'hello', {}, { FunctionName: fnArn('hello') }, 'alice invokes hello by ARN');
  });

  it('a signed-up user may not CreateFunction, DeleteFunction or ListFunctions: AccessDeniedException 403', T, async () => {
    const name = `alice-${uniq()}`;
    await fails(
      aliceClient.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Role: FUNCTION_ROLE,
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Code: { ZipFile: makeZip({ 'index.js': madeJs('x'), 'data.txt': 'd' }) },
        }),
      ),
      'AccessDeniedException',
      { status: 403, what: 'CreateFunction by a user' },
    );
    await fails(root.send(new GetFunctionCommand({ FunctionName: name })), 'ResourceNotFoundException', { status: 404, what: 'the refused function exists' });
    await fails(aliceClient.send(new DeleteFunctionCommand({ FunctionName: 'hello' })), 'AccessDeniedException', { status: 403, what: 'DeleteFunction by a user' });
    await invokeOk(root, 'hello', {}, {}, 'hello after a refused delete');
    await fails(aliceClient.send(new ListFunctionsCommand({})), 'AccessDeniedException', { status: 403, what: 'ListFunctions by a user' });
    await fails(
      aliceClient.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Timeout: 9 })),
      'AccessDeniedException',
      { status: 403, what: 'UpdateFunctionConfiguration by a user' },
    );
  });
});

describe('guests whose role has no lambda permission', () => {
  const IDP = 'us-east-1:1a2b3c4d-0000-4000-8000-00000000abcd';
  let gsrv;
  before(async () => {
    gsrv = await startServer({
      env: ROOT_ENV,
      config: {
        roles: [{ name: 'lambda-guest', policies: [policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' })] }],
        identityPools: [{ id: IDP, name: 'guests', allowUnauthenticated: true, authenticatedRole: 'lambda-guest', unauthenticatedRole: 'lambda-guest' }],
      },
    });
  }, HOOK);
  after(async () => {
    await gsrv?.stop();
  });

  it('guest credentials (GetId without Logins): Invoke hello is AccessDeniedException 403', T, async () => {
    const guest = await guestCredentials(gsrv.url, IDP);
    const c = lambdaClient(gsrv.url, guest.credentials);
    try {
      await fails(invoke(c, 'hello', { name: 'Guest' }), 'AccessDeniedException', { status: 403, what: 'guest Invoke' });
    } finally {
      c.destroy();
    }
    const rc = lambdaClient(gsrv.url);
    try {
      assert.equal((await invokeOk(rc, 'hello', { name: 'Root' })).message, 'Hello, Root!', 'root on the guest server');
    } finally {
      rc.destroy();
    }
  });
});

// ====================================================================
// isolation
// ====================================================================

describe('isolation of an instance', () => {
  let seen;
  let dataFile;
  before(async () => {
    const files = (await fsp.readdir(srv.dataDir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile());
    assert.ok(files.length > 0, 'the data directory has no file to try');
    dataFile = path.join(files[0].parentPath ?? files[0].path, files[0].name);
    seen = await invokeOk(root, 'peek', { dataDir: srv.dataDir, file: dataFile, serverPid: srv.proc.pid });
  }, HOOK);

  it('cannot list, read or write cloudlet\'s data directory (EACCES/EPERM)', T, async () => {
    assert.equal(seen.readdirData.ok, false, `readdir(${srv.dataDir}) succeeded: ${JSON.stringify(seen.readdirData.value)}`);
    assert.match(String(seen.readdirData.code), /^(EACCES|EPERM)$/, `readdir of the data dir: ${seen.readdirData.code} ${seen.readdirData.message}`);
    assert.equal(seen.readFile.ok, false, `read of ${dataFile} succeeded (${seen.readFile.value} bytes)`);
    assert.match(String(seen.readFile.code), /^(EACCES|EPERM)$/, `read of ${dataFile}: ${seen.readFile.code} ${seen.readFile.message}`);
    assert.equal(seen.writeData.ok, false, 'a file was written into the data directory');
    assert.equal(fs.existsSync(path.join(srv.dataDir, 'planted-by-function')), false, 'the planted file exists in the data directory');
  });

  it('cannot read the server\'s environment through /proc/<server pid>/environ', T, async () => {
    assert.equal(seen.serverEnviron.ok, false, 'the function read the server\'s /proc/<pid>/environ');
    assert.doesNotMatch(JSON.stringify(seen), new RegExp(ROOT_CREDENTIALS.secretAccessKey), 'the root secret reached the function');
  });

  it('sees none of the server\'s environment (no CLOUDLET_* variable, no marker, no root secret)', T, async () => {
    const env = seen.env;
    assert.equal(env.CLOUDLET_TEST_MARKER, undefined, 'the server\'s marker variable reached the function');
    assert.deepEqual(Object.keys(env).filter((k) => k.startsWith('CLOUDLET_')), [], 'CLOUDLET_* variables reached the function');
    for (const [k, v] of Object.entries(env)) {
      assert.ok(!String(v).includes(MARKER), `${k} carries the server's marker`);
      assert.ok(!String(v).includes(ROOT_CREDENTIALS.secretAccessKey), `${k} carries the root secret`);
    }
    assert.notEqual(env.AWS_ACCESS_KEY_ID, ROOT_CREDENTIALS.accessKeyId, 'the function runs with root\'s key');
  });

  it('has the Lambda environment: function name, runtime API on 127.0.0.1, ASIA credentials with a session token, task root, region', T, async () => {
    const env = seen.env;
    assert.equal(env.AWS_LAMBDA_FUNCTION_NAME, 'peek');
    assert.match(env.AWS_LAMBDA_RUNTIME_API ?? '', /^127\.0\.0\.1:\d+$/, 'AWS_LAMBDA_RUNTIME_API');
    assert.match(env.AWS_ACCESS_KEY_ID ?? '', ASIA_RE, 'AWS_ACCESS_KEY_ID');
    assert.ok((env.AWS_SECRET_ACCESS_KEY ?? '').length >= 16, 'AWS_SECRET_ACCESS_KEY');
    assert.ok((env.AWS_SESSION_TOKEN ?? '').length >= 16, 'AWS_SESSION_TOKEN');
    assert.ok(env.LAMBDA_TASK_ROOT, 'LAMBDA_TASK_ROOT');
    assert.equal(seen.cwd, env.LAMBDA_TASK_ROOT, 'the working directory is the task root');
    assert.equal(env.AWS_REGION, 'us-east-1');
  });

  it('has a fresh, empty, writable TMPDIR of its own outside the data directory', T, async () => {
    assert.ok(seen.tmp, 'TMPDIR is not set');
    assert.ok(!path.resolve(seen.tmp).startsWith(path.resolve(srv.dataDir) + path.sep), `TMPDIR ${seen.tmp} is inside the data dir`);
    assert.equal(seen.tmpBefore.ok, true, `readdir(TMPDIR): ${seen.tmpBefore.code}`);
    assert.deepEqual(seen.tmpBefore.value, [], 'TMPDIR of a new instance is not empty');
    assert.equal(seen.tmpWrite.ok, true, `write to TMPDIR: ${seen.tmpWrite.code} ${seen.tmpWrite.message}`);
    assert.equal(seen.tmpWrite.value, 'written');
  });
});

// ====================================================================
// the control plane (root)
// ====================================================================

describe('control plane', () => {
  const NAME = `made-${uniq()}`;
  const ZIP1 = makeZip([
    { name: 'index.js', data: madeJs('v1') },
    { name: 'data.txt', data: 'stored-data', method: 'store' },
  ]);

  it('CreateFunction with Code.ZipFile: 201, State Active, Runtime, Handler, CodeSha256, CodeSize, FunctionArn; then Invoke runs it', T, async () => {
    const out = await root.send(
      new CreateFunctionCommand({
        FunctionName: NAME,
        Role: FUNCTION_ROLE,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Timeout: 1,
        MemorySize: 128,
        Description: 'made by lambda-sdk.test.mjs',
        Code: { ZipFile: ZIP1 },
      }),
    );
    assert.equal(out.$metadata.httpStatusCode, 201, 'CreateFunction status');
    assert.equal(out.FunctionName, NAME);
    assert.equal(out.FunctionArn, fnArn(NAME));
    assert.equal(out.State, 'Active');
    assert.equal(out.LastUpdateStatus, 'Successful');
    assert.equal(out.Runtime, 'nodejs20.x');
    assert.equal(out.Handler, 'index.handler');
    assert.equal(out.Role, FUNCTION_ROLE);
    assert.equal(out.Timeout, 1);
    assert.equal(out.MemorySize, 128);
    assert.equal(out.CodeSha256, sha256b64(ZIP1), 'CodeSha256 is the base64 SHA-256 of the zip');
    assert.equal(out.CodeSize, ZIP1.length, 'CodeSize');
    const res = await invokeOk(root, NAME, { hi: 1 });
    assert.deepEqual(res, { version: 'v1', foo: null, data: 'stored-data', got: { hi: 1 } }, 'the new function\'s result');
  });

  it('CreateFunction of an existing name: ResourceConflictException 409', T, async () => {
    await fails(
      root.send(new CreateFunctionCommand({ FunctionName: NAME, Role: FUNCTION_ROLE, Runtime: 'nodejs20.x', Handler: 'index.handler', Code: { ZipFile: ZIP1 } })),
      'ResourceConflictException',
      { status: 409 },
    );
    await fails(
      root.send(new CreateFunctionCommand({ FunctionName: 'hello', Role: FUNCTION_ROLE, Runtime: 'nodejs20.x', Handler: 'index.handler', Code: { ZipFile: ZIP1 } })),
      'ResourceConflictException',
      { status: 409, what: 'CreateFunction hello (an example)' },
    );
    assert.equal((await invokeOk(root, 'hello', { name: 'Still' })).message, 'Hello, Still!', 'hello was replaced');
  });

  it('GetFunction and GetFunctionConfiguration describe it', T, async () => {
    const g = await root.send(new GetFunctionCommand({ FunctionName: NAME }));
    assert.equal(g.Configuration?.FunctionName, NAME);
    assert.equal(g.Configuration?.FunctionArn, fnArn(NAME));
    assert.equal(g.Configuration?.CodeSha256, sha256b64(ZIP1));
    assert.equal(g.Configuration?.Description, 'made by lambda-sdk.test.mjs');
    const c = await root.send(new GetFunctionConfigurationCommand({ FunctionName: NAME }));
    assert.equal(c.FunctionName, NAME);
    assert.equal(c.State, 'Active');
    assert.equal(c.Runtime, 'nodejs20.x');
    const byArn = await root.send(new GetFunctionConfigurationCommand({ FunctionName: fnArn(NAME) }));
    assert.equal(byArn.FunctionName, NAME, 'GetFunctionConfiguration by ARN');
    await fails(root.send(new GetFunctionCommand({ FunctionName: `nope-${uniq()}` })), 'ResourceNotFoundException', { status: 404 });
  });

  it('ListFunctions lists the examples and the new function; MaxItems=1 with Marker pages through all of them once', T, async () => {
    const all = (await root.send(new ListFunctionsCommand({}))).Functions.map((f) => f.FunctionName);
    for (const n of ['hello', 'echo', 'shout', NAME]) assert.ok(all.includes(n), `ListFunctions lacks ${n}: ${all.join(', ')}`);
    const paged = [];
    let Marker;
    for (let page = 0; page < 100; page++) {
      const out = await root.send(new ListFunctionsCommand({ MaxItems: 1, ...(Marker ? { Marker } : {}) }));
      assert.ok(out.Functions.length <= 1, `page ${page} has ${out.Functions.length} functions with MaxItems 1`);
      paged.push(...out.Functions.map((f) => f.FunctionName));
      Marker = out.NextMarker;
      if (!Marker) break;
    }
    assert.equal(new Set(paged).size, paged.length, `a function came twice: ${paged.join(', ')}`);
    assert.deepEqual([...paged].sort(), [...all].sort(), 'pages of 1 do not add up to the full list');
  });

  it('UpdateFunctionCode: the next invoke runs the new code; CodeSha256 changes', T, async () => {
    const zip2 = makeZip({ 'index.js': madeJs('v2'), 'data.txt': 'new-data' });
    const out = await root.send(new UpdateFunctionCodeCommand({ FunctionName: NAME, ZipFile: zip2 }));
    assert.equal(out.CodeSha256, sha256b64(zip2), 'CodeSha256 after the update');
    const res = await invokeOk(root, NAME, {});
    assert.equal(res.version, 'v2', 'the old code answered after UpdateFunctionCode');
    assert.equal(res.data, 'new-data');
  });

  it('UpdateFunctionConfiguration: Environment variables reach the function', T, async () => {
    const foo = `bar-${uniq()}`;
    const out = await root.send(new UpdateFunctionConfigurationCommand({ FunctionName: NAME, Environment: { Variables: { FOO: foo } } }));
    assert.deepEqual(out.Environment?.Variables, { FOO: foo }, 'Environment in the answer');
    assert.equal((await invokeOk(root, NAME, {})).foo, foo, 'process.env.FOO inside the function');
    const c = await root.send(new GetFunctionConfigurationCommand({ FunctionName: NAME }));
    assert.deepEqual(c.Environment?.Variables, { FOO: foo });
  });

  it('UpdateFunctionConfiguration: Timeout 1 → 3 lets a 1.5 s invoke finish', T, async () => {
    const { error } = await invokeUnhandled(root, NAME, { sleepMs: 1500 }, {}, 'a 1.5 s invoke with Timeout 1');
    assert.match(error.errorMessage, /Task timed out after 1\.00 seconds/);
    const out = await root.send(new UpdateFunctionConfigurationCommand({ FunctionName: NAME, Timeout: 3 }));
    assert.equal(out.Timeout, 3);
    const res = await invokeOk(root, NAME, { sleepMs: 1500 }, {}, 'a 1.5 s invoke with Timeout 3');
    assert.equal(res.version, 'v2');
  });

  it('PutFunctionConcurrency 1 throttles a second parallel invoke; Get shows it; Delete lifts it', T, async () => {
    const put = await root.send(new PutFunctionConcurrencyCommand({ FunctionName: NAME, ReservedConcurrentExecutions: 1 }));
    assert.equal(put.ReservedConcurrentExecutions, 1);
    const got = await root.send(new GetFunctionConcurrencyCommand({ FunctionName: NAME }));
    assert.equal(got.ReservedConcurrentExecutions, 1, 'GetFunctionConcurrency');
    const two = await Promise.all([0, 1].map(() => throttledOr(invoke(root, NAME, { sleepMs: 1000 }))));
    assert.equal(two.filter((r) => r.throttled).length, 1, 'with reserved concurrency 1, one of two parallel invokes should be throttled');
    await root.send(new DeleteFunctionConcurrencyCommand({ FunctionName: NAME }));
    const gone = await root.send(new GetFunctionConcurrencyCommand({ FunctionName: NAME }));
    assert.equal(gone.ReservedConcurrentExecutions, undefined, 'GetFunctionConcurrency after Delete');
    const again = await Promise.all([0, 1].map(() => throttledOr(invoke(root, NAME, { sleepMs: 300 }))));
    assert.equal(again.filter((r) => r.throttled).length, 0, 'throttled after DeleteFunctionConcurrency');
  });

  it('DeleteFunction: Invoke and GetFunction are then 404', T, async () => {
    await root.send(new DeleteFunctionCommand({ FunctionName: NAME }));
    await fails(invoke(root, NAME), 'ResourceNotFoundException', { status: 404, what: 'Invoke after delete' });
    await fails(root.send(new GetFunctionCommand({ FunctionName: NAME })), 'ResourceNotFoundException', { status: 404, what: 'GetFunction after delete' });
    const names = (await root.send(new ListFunctionsCommand({}))).Functions.map((f) => f.FunctionName);
    assert.ok(!names.includes(NAME), 'the deleted function is still listed');
    await fails(root.send(new DeleteFunctionCommand({ FunctionName: NAME })), 'ResourceNotFoundException', { status: 404, what: 'a second delete' });
  });

  it('CreateFunction from S3Bucket/S3Key: the zip uploaded with the S3 SDK', T, async () => {
    const bucket = `code-${uniq()}`;
    const zip = makeZip({ 'index.js': madeJs('from-s3'), 'data.txt': 's3-data' });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'fns/code.zip', Body: zip }));
    const name = `from-s3-${uniq()}`;
    const out = await root.send(
      new CreateFunctionCommand({ FunctionName: name, Role: FUNCTION_ROLE, Runtime: 'nodejs20.x', Handler: 'index.handler', Code: { S3Bucket: bucket, S3Key: 'fns/code.zip' } }),
    );
    assert.equal(out.CodeSha256, sha256b64(zip), 'CodeSha256 of the S3 zip');
    const res = await invokeOk(root, name, { x: 1 });
    assert.equal(res.version, 'from-s3');
    assert.equal(res.data, 's3-data');
    await fails(
      root.send(new CreateFunctionCommand({ FunctionName: `${name}-x`, Role: FUNCTION_ROLE, Runtime: 'nodejs20.x', Handler: 'index.handler', Code: { S3Bucket: bucket, S3Key: 'missing.zip' } })),
      'InvalidParameterValueException',
      { status: 400, what: 'a missing S3 key' },
    );
  });

  it('a zip-slip archive (../evil.js) and an absolute entry (/tmp/...): InvalidParameterValueException 400, no function, no file written', T, async () => {
    const abs = `/tmp/cloudlet-zipslip-${uniq()}.js`;
    const cases = [
      ['../evil.js', makeZip([{ name: 'index.js', data: madeJs('x') }, { name: 'data.txt', data: 'd' }, { name: '../evil.js', data: 'pwned' }])],
      ['a/../../evil.js', makeZip([{ name: 'index.js', data: madeJs('x') }, { name: 'a/../../evil.js', data: 'pwned' }])],
      [abs, makeZip([{ name: 'index.js', data: madeJs('x') }, { name: abs, data: 'pwned' }])],
    ];
    for (const [entry, zip] of cases) {
      const name = `slip-${uniq()}`;
      await fails(
        root.send(new CreateFunctionCommand({ FunctionName: name, Role: FUNCTION_ROLE, Runtime: 'nodejs20.x', Handler: 'index.handler', Code: { ZipFile: zip } })),
        'InvalidParameterValueException',
        { status: 400, what: `an entry named ${entry}` },
      );
      await fails(root.send(new GetFunctionCommand({ FunctionName: name })), 'ResourceNotFoundException', { status: 404, what: `the function refused for ${entry}` });
    }
    assert.equal(fs.existsSync(abs), false, `${abs} was written`);
  });

  it('UpdateFunctionCode with a zip-slip archive is refused and the old code keeps running', T, async () => {
    const name = `keep-${uniq()}`;
    await root.send(
      new CreateFunctionCommand({ FunctionName: name, Role: FUNCTION_ROLE, Runtime: 'nodejs20.x', Handler: 'index.handler', Code: { ZipFile: makeZip({ 'index.js': madeJs('good'), 'data.txt': 'd' }) } }),
    );
    await fails(
      root.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: makeZip([{ name: 'index.js', data: madeJs('bad') }, { name: '../evil.js', data: 'x' }]) })),
      'InvalidParameterValueException',
      { status: 400 },
    );
    assert.equal((await invokeOk(root, name, {})).version, 'good', 'the refused update changed the code');
  });

  it('a custom runtime (provided.al2023, default MemorySize 128) whose bootstrap (mode 0755) is a Node.js script speaking the Runtime API', T, async () => {
    const name = `custom-${uniq()}`;
    const zip = makeZip([{ name: 'bootstrap', data: nodeBootstrap('keep-alive'), mode: 0o755 }]);
    const out = await root.send(new CreateFunctionCommand({ FunctionName: name, Role: FUNCTION_ROLE, Runtime: 'provided.al2023', Handler: 'my.handler', Timeout: 3, Code: { ZipFile: zip } }));
    assert.equal(out.Runtime, 'provided.al2023');
    const r = await invoke(root, name, { hello: 'custom' }, { LogType: 'Tail' });
    assert.equal(r.functionError, undefined, `custom runtime: ${r.text}`);
    assert.equal(r.json?.custom, true, `custom runtime result: ${r.text}`);
    assert.deepEqual(r.json.event, { hello: 'custom' });
    assert.match(r.json.requestId, UUID_RE);
    assert.equal(r.json.arn, fnArn(name), 'Lambda-Runtime-Invoked-Function-Arn');
    assert.equal(r.json.handler, 'my.handler', '_HANDLER');
    assert.ok(r.json.deadlineMs > Date.now() - 5000 && r.json.deadlineMs < Date.now() + 5000, `Lambda-Runtime-Deadline-Ms ${r.json.deadlineMs}`);
    assert.match(r.log, new RegExp(`custom runtime got ${r.json.requestId}`), `the bootstrap's output in the tail:\n${r.log}`);
    const { error } = await invokeUnhandled(root, name, { fail: 'custom failure' });
    assert.equal(error.errorType, 'Custom.Failure');
    assert.equal(error.errorMessage, 'custom failure');
    assert.equal((await invokeOk(root, name, { n: 2 })).event.n, 2, 'the bootstrap after posting an error');
  });

  it('a custom runtime bootstrap that opens a new connection (Connection: close) for every Runtime API call serves consecutive invokes', T, async () => {
    // MemorySize 1024 keeps this test about the connections, not about starting Node.js in 128 MB.
    const name = `custom-close-${uniq()}`;
    const zip = makeZip([{ name: 'bootstrap', data: nodeBootstrap('close'), mode: 0o755 }]);
    await root.send(new CreateFunctionCommand({ FunctionName: name, Role: FUNCTION_ROLE, Runtime: 'provided.al2023', Handler: 'h', MemorySize: 1024, Timeout: 3, Code: { ZipFile: zip } }));
    for (let i = 0; i < 3; i++) {
      const out = await invokeOk(root, name, { i }, {}, `invoke ${i + 1} of 3`);
      assert.deepEqual(out.event, { i }, `invoke ${i + 1}`);
    }
    const { error } = await invokeUnhandled(root, name, { fail: 'posted on a fresh connection' }, {}, 'an error posted on a fresh connection');
    assert.equal(error.errorType, 'Custom.Failure', `the error posted by the bootstrap: ${JSON.stringify(error)}`);
    assert.equal((await invokeOk(root, name, { after: 1 }, {}, 'the invoke after the error')).event.after, 1);
  });
});

// ====================================================================
// function URLs
// ====================================================================

describe('function URLs', () => {
  let fnUrl;

  it('CreateFunctionUrlConfig AuthType NONE (root): FunctionUrl <endpoint>/fn/hello/', T, async () => {
    const out = await root.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'hello', AuthType: 'NONE' }));
    assert.equal(out.$metadata.httpStatusCode, 201, 'CreateFunctionUrlConfig status');
    assert.equal(out.FunctionUrl, `${srv.url}/fn/hello/`, 'FunctionUrl');
    assert.equal(out.AuthType, 'NONE');
    assert.equal(out.FunctionArn, fnArn('hello'));
    fnUrl = out.FunctionUrl;
    const got = await root.send(new GetFunctionUrlConfigCommand({ FunctionName: 'hello' }));
    assert.equal(got.FunctionUrl, fnUrl);
    assert.equal(got.AuthType, 'NONE');
  });

  it('a signed-up user may not create a function URL: AccessDeniedException 403', T, async () => {
    await fails(aliceClient.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'echo', AuthType: 'NONE' })), 'AccessDeniedException', { status: 403 });
  });

  it('AuthType NONE: an unsigned GET with ?name= and an unsigned POST with a JSON body get hello\'s greeting', T, async () => {
    assert.ok(fnUrl, 'needs the create test');
    const res = await fetch(`${fnUrl}some/path?name=Ann`);
    const text = await res.text();
    assert.equal(res.status, 200, `GET ${fnUrl}some/path?name=Ann: ${res.status} ${text.slice(0, 300)}`);
    assert.match(res.headers.get('content-type') ?? '', /json/, 'the function\'s content-type header');
    const body = JSON.parse(text);
    assert.equal(body.message, 'Hello, Ann!', `greeting: ${text}`);
    const post = await fetch(fnUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Bea' }) });
    const ptext = await post.text();
    assert.equal(post.status, 200, `POST: ${post.status} ${ptext.slice(0, 300)}`);
    assert.equal(JSON.parse(ptext).message, 'Hello, Bea!', `POST greeting: ${ptext}`);
  });

  it('AuthType AWS_IAM (UpdateFunctionUrlConfig): unsigned 403; signed by root 200; signed with identity-pool credentials 200 naming the caller\'s identity', T, async () => {
    assert.ok(fnUrl, 'needs the create test');
    const up = await root.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'hello', AuthType: 'AWS_IAM' }));
    assert.equal(up.AuthType, 'AWS_IAM');
    const unsigned = await fetch(`${fnUrl}?name=Nobody`);
    const utext = await unsigned.text();
    assert.equal(unsigned.status, 403, `unsigned request to an AWS_IAM URL: ${unsigned.status} ${utext.slice(0, 200)}`);
    assert.doesNotMatch(utext, /Hello/, 'the function ran for an unsigned request');
    const byRoot = await urlRequest(`${fnUrl}a/b?name=Root`, { sign: ROOT_CREDENTIALS });
    assert.equal(byRoot.status, 200, `signed by root: ${byRoot.status} ${byRoot.text.slice(0, 300)}`);
    assert.equal(byRoot.json?.message, 'Hello, Root!', byRoot.text);
    const signed = await urlRequest(`${fnUrl}?name=Signed`, { sign: alice.credentials });
    assert.equal(signed.status, 200, `signed GET: ${signed.status} ${signed.text.slice(0, 300)}`);
    assert.equal(signed.json?.message, 'Hello, Signed!', signed.text);
    const anon = await urlRequest(fnUrl, { sign: alice.credentials });
    assert.equal(anon.status, 200, `signed GET without a name: ${anon.status} ${anon.text.slice(0, 300)}`);
    assert.equal(anon.json?.identityId, alice.identityId, `the caller's identity in the function URL event: ${anon.text}`);
    const wrong = await urlRequest(`${fnUrl}?name=Bad`, { sign: { ...alice.credentials, secretAccessKey: `${alice.credentials.secretAccessKey.slice(0, -1)}x` } });
    assert.equal(wrong.status, 403, `a wrong secret: ${wrong.status} ${wrong.text.slice(0, 200)}`);
  });

  it('DeleteFunctionUrlConfig: the URL is then 404 and GetFunctionUrlConfig ResourceNotFoundException', T, async () => {
    assert.ok(fnUrl, 'needs the create test');
    await root.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'hello' }));
    const res = await fetch(`${fnUrl}?name=Gone`);
    const text = await res.text();
    assert.equal(res.status, 404, `after delete: ${res.status} ${text.slice(0, 200)}`);
    await fails(root.send(new GetFunctionUrlConfigCommand({ FunctionName: 'hello' })), 'ResourceNotFoundException', { status: 404 });
    const noFn = await fetch(`${srv.url}/fn/nope-${uniq()}/`);
    assert.equal(noFn.status, 404, 'a URL of a function that does not exist');
  });
});
