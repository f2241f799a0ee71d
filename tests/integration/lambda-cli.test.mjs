// lambda-cli.test.mjs - the Lambda API with Debian's aws CLI (/usr/bin/aws,
// 2.9) in a clean environment (private HOME, no config file, credentials from
// AWS_* variables): list-functions, invoke with a raw JSON payload into an
// out file, --log-type Tail, a function error, Event invokes, create-function
// from fileb://fn.zip, get-function, update-function-configuration
// (environment, timeout), update-function-code, reserved concurrency,
// delete-function, and invokes with a signed-up user's identity-pool
// credentials exported as AWS_ACCESS_KEY_ID / SECRET / SESSION_TOKEN (allowed
// to invoke, with the identity seen by the function; refused the control plane).
// The behaviour asserted is the one of the Lambda issue and
// docs/aws-wire-protocols.md section 5.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { startServer, makeTree, rmTree } from './helpers.mjs';
import {
  ROOT_ENV,
  UUID_RE,
  SHOUT_SKIP,
  uniq,
  roleArn,
  fnArn,
  makeZip,
  sha256b64,
  wellKnown,
  signedUpUser,
  cliCredentialsEnv,
  awsLambda,
  cliOk,
  cliFails,
} from './lambda-helpers.mjs';

const HOOK = { timeout: 60000 };
const T = { timeout: 60000 };
const FUNCTION_ROLE = roleArn('cloudlet-function');

const madeJs = (version) => `
exports.handler = async (event) => {
  if (event.fail) throw new Error(event.fail);
  return { version: '${version}', foo: process.env.FOO === undefined ? null : process.env.FOO, got: event };
};
`;

let srv;
let work; // out files and zips
let doc;
let bob; // {identityId, credentials}
const aws = (args, env, opts) => awsLambda(srv.url, args, env, opts);
const outFile = (name) => path.join(work, `${name}-${uniq()}.json`);
const readJson = async (file) => JSON.parse(await fsp.readFile(file, 'utf8'));

before(async () => {
  srv = await startServer({ env: ROOT_ENV });
  work = await makeTree({}, 'cloudlet-lambda-cli-');
  doc = await wellKnown(srv.url);
  bob = await signedUpUser(srv, doc, 'Bob');
}, HOOK);
after(async () => {
  await srv?.stop();
  await rmTree(work);
});

describe('aws lambda with root credentials', () => {
  it('list-functions lists the examples', T, async () => {
    const r = cliOk(await aws(['list-functions']), 'list-functions');
    const names = (r.json?.Functions ?? []).map((f) => f.FunctionName);
    for (const n of ['hello', 'echo', 'shout']) assert.ok(names.includes(n), `list-functions lacks ${n}: ${r.stdout.slice(0, 500)}`);
    assert.equal(r.json.Functions.find((f) => f.FunctionName === 'hello').FunctionArn, fnArn('hello'));
  });

  it('invoke --cli-binary-format raw-in-base64-out --payload \'{"name":"Cli"}\' out.json: StatusCode 200, the greeting in the out file', T, async () => {
    const out = outFile('hello');
    const r = cliOk(await aws(['invoke', '--function-name', 'hello', '--cli-binary-format', 'raw-in-base64-out', '--payload', '{"name":"Cli"}', out]), 'invoke hello');
    assert.equal(r.json?.StatusCode, 200, r.stdout);
    assert.equal(r.json.FunctionError, undefined, r.stdout);
    assert.equal(r.json.ExecutedVersion, '$LATEST', r.stdout);
    const res = await readJson(out);
    assert.equal(res.message, 'Hello, Cli!', JSON.stringify(res));
    assert.equal(res.identityId, null, 'root is no Cognito identity');
    assert.match(res.requestId, UUID_RE);
  });

  it('invoke --log-type Tail: LogResult decodes to START, the function\'s line, END and REPORT', T, async () => {
    const out = outFile('tail');
    const r = cliOk(
      await aws(['invoke', '--function-name', 'hello', '--cli-binary-format', 'raw-in-base64-out', '--payload', '{"name":"CliTail"}', '--log-type', 'Tail', out]),
      'invoke --log-type Tail',
    );
    assert.equal(typeof r.json?.LogResult, 'string', `no LogResult: ${r.stdout}`);
    const log = Buffer.from(r.json.LogResult, 'base64').toString('utf8');
    const id = (await readJson(out)).requestId;
    assert.match(log, new RegExp(`START RequestId: ${id}`), log);
    assert.match(log, /hello invoked for CliTail/, log);
    assert.match(log, new RegExp(`END RequestId: ${id}`), log);
    assert.match(log, new RegExp(`REPORT RequestId: ${id}\\s+Duration: \\d+(\\.\\d+)? ms`), log);
  });

  it('invoke echo (Python) by ARN: the payload comes back', T, async () => {
    const out = outFile('echo');
    cliOk(await aws(['invoke', '--function-name', fnArn('echo'), '--cli-binary-format', 'raw-in-base64-out', '--payload', '{"a":[1,"b"]}', out]), 'invoke echo');
    assert.deepEqual((await readJson(out)).event, { a: [1, 'b'] });
  });

  it('invoke shout: the strings come back upper-cased', { ...T, skip: SHOUT_SKIP }, async () => {
    const out = outFile('shout');
    cliOk(await aws(['invoke', '--function-name', 'shout', '--cli-binary-format', 'raw-in-base64-out', '--payload', '{"text":"hi"}', out]), 'invoke shout');
    assert.deepEqual(await readJson(out), { TEXT: 'HI' });
  });

  it('invoke --invocation-type Event: StatusCode 202; DryRun: 204', T, async () => {
    const ev = cliOk(await aws(['invoke', '--function-name', 'hello', '--invocation-type', 'Event', '--cli-binary-format', 'raw-in-base64-out', '--payload', '{}', outFile('event')]), 'Event');
    assert.equal(ev.json?.StatusCode, 202, ev.stdout);
    const dry = cliOk(await aws(['invoke', '--function-name', 'hello', '--invocation-type', 'DryRun', '--cli-binary-format', 'raw-in-base64-out', '--payload', '{}', outFile('dry')]), 'DryRun');
    assert.equal(dry.json?.StatusCode, 204, dry.stdout);
  });

  it('invoke of an unknown function fails with ResourceNotFoundException', T, async () => {
    cliFails(await aws(['invoke', '--function-name', `nope-${uniq()}`, '--cli-binary-format', 'raw-in-base64-out', '--payload', '{}', outFile('nope')]), 'ResourceNotFoundException');
  });
});

describe('aws lambda: a function\'s life cycle', () => {
  const NAME = `cli-${uniq()}`;
  let zip1;

  it('create-function --zip-file fileb://fn.zip: State Active, CodeSha256 of the zip; invoke runs it', T, async () => {
    zip1 = makeZip({ 'index.js': madeJs('v1') });
    const file = path.join(work, 'fn.zip');
    await fsp.writeFile(file, zip1);
    const r = cliOk(
      await aws([
        'create-function',
        '--function-name',
        NAME,
        '--runtime',
        'nodejs20.x',
        '--handler',
        'index.handler',
        '--role',
        FUNCTION_ROLE,
        '--timeout',
        '3',
        '--zip-file',
        `fileb://${file}`,
      ]),
      'create-function',
    );
    assert.equal(r.json?.FunctionName, NAME, r.stdout);
    assert.equal(r.json.State, 'Active');
    assert.equal(r.json.FunctionArn, fnArn(NAME));
    assert.equal(r.json.CodeSha256, sha256b64(zip1));
    const out = outFile('v1');
    cliOk(await aws(['invoke', '--function-name', NAME, '--cli-binary-format', 'raw-in-base64-out', '--payload', '{"k":1}', out]), 'invoke the new function');
    assert.deepEqual(await readJson(out), { version: 'v1', foo: null, got: { k: 1 } });
  });

  it('create-function of the same name again fails with ResourceConflictException', T, async () => {
    const file = path.join(work, 'fn.zip');
    cliFails(
      await aws(['create-function', '--function-name', NAME, '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', FUNCTION_ROLE, '--zip-file', `fileb://${file}`]),
      'ResourceConflictException',
    );
  });

  it('get-function describes it', T, async () => {
    const r = cliOk(await aws(['get-function', '--function-name', NAME]), 'get-function');
    assert.equal(r.json?.Configuration?.FunctionName, NAME, r.stdout);
    assert.equal(r.json.Configuration.Runtime, 'nodejs20.x');
    assert.equal(r.json.Configuration.Timeout, 3);
  });

  it('a function error: FunctionError Unhandled in the output, the error object in the out file', T, async () => {
    const out = outFile('err');
    const r = cliOk(await aws(['invoke', '--function-name', NAME, '--cli-binary-format', 'raw-in-base64-out', '--payload', '{"fail":"cli-boom"}', out]), 'invoke failing');
    assert.equal(r.json?.StatusCode, 200, r.stdout);
    assert.equal(r.json.FunctionError, 'Unhandled', r.stdout);
    const e = await readJson(out);
    assert.equal(e.errorMessage, 'cli-boom');
    assert.equal(e.errorType, 'Error');
  });

  it('update-function-configuration --environment --timeout: the function sees FOO; get-function-configuration shows both', T, async () => {
    const foo = `cli-${uniq()}`;
    const r = cliOk(
      await aws(['update-function-configuration', '--function-name', NAME, '--environment', `Variables={FOO=${foo}}`, '--timeout', '5']),
      'update-function-configuration',
    );
    assert.equal(r.json?.Timeout, 5, r.stdout);
    assert.deepEqual(r.json.Environment?.Variables, { FOO: foo });
    const out = outFile('env');
    cliOk(await aws(['invoke', '--function-name', NAME, '--cli-binary-format', 'raw-in-base64-out', '--payload', '{}', out]), 'invoke after the update');
    assert.equal((await readJson(out)).foo, foo, 'process.env.FOO');
    const c = cliOk(await aws(['get-function-configuration', '--function-name', NAME]), 'get-function-configuration');
    assert.equal(c.json?.Timeout, 5);
  });

  it('update-function-code --zip-file: the next invoke runs the new code', T, async () => {
    const zip2 = makeZip({ 'index.js': madeJs('v2') });
    const file = path.join(work, 'fn2.zip');
    await fsp.writeFile(file, zip2);
    const r = cliOk(await aws(['update-function-code', '--function-name', NAME, '--zip-file', `fileb://${file}`]), 'update-function-code');
    assert.equal(r.json?.CodeSha256, sha256b64(zip2), r.stdout);
    const out = outFile('v2');
    cliOk(await aws(['invoke', '--function-name', NAME, '--cli-binary-format', 'raw-in-base64-out', '--payload', '{}', out]), 'invoke v2');
    assert.equal((await readJson(out)).version, 'v2');
  });

  it('put-function-concurrency / get-function-concurrency / delete-function-concurrency', T, async () => {
    const put = cliOk(await aws(['put-function-concurrency', '--function-name', NAME, '--reserved-concurrent-executions', '3']), 'put-function-concurrency');
    assert.equal(put.json?.ReservedConcurrentExecutions, 3, put.stdout);
    const get = cliOk(await aws(['get-function-concurrency', '--function-name', NAME]), 'get-function-concurrency');
    assert.equal(get.json?.ReservedConcurrentExecutions, 3, get.stdout);
    cliOk(await aws(['delete-function-concurrency', '--function-name', NAME]), 'delete-function-concurrency');
    const after = cliOk(await aws(['get-function-concurrency', '--function-name', NAME]), 'get-function-concurrency after delete');
    assert.equal(after.json?.ReservedConcurrentExecutions, undefined, after.stdout);
  });

  it('delete-function: get-function and invoke then fail with ResourceNotFoundException', T, async () => {
    cliOk(await aws(['delete-function', '--function-name', NAME]), 'delete-function');
    cliFails(await aws(['get-function', '--function-name', NAME]), 'ResourceNotFoundException', 'get-function after delete');
    cliFails(await aws(['invoke', '--function-name', NAME, '--cli-binary-format', 'raw-in-base64-out', '--payload', '{}', outFile('gone')]), 'ResourceNotFoundException', 'invoke after delete');
  });
});

describe('aws lambda with a signed-up user\'s identity-pool credentials in the environment', () => {
  const env = () => cliCredentialsEnv(bob.credentials);

  it('invoke echo: allowed, and the function sees the caller\'s Cognito identity id', T, async () => {
    const out = outFile('bob-echo');
    const r = cliOk(await aws(['invoke', '--function-name', 'echo', '--cli-binary-format', 'raw-in-base64-out', '--payload', '{"who":"bob"}', out], env()), 'invoke echo as Bob');
    assert.equal(r.json?.StatusCode, 200, r.stdout);
    const res = await readJson(out);
    assert.equal(res.identityId, bob.identityId, `identityId inside echo: ${JSON.stringify(res)}`);
    assert.deepEqual(res.event, { who: 'bob' });
  });

  it('invoke hello without a name: greeted by identity id', T, async () => {
    const out = outFile('bob-hello');
    cliOk(await aws(['invoke', '--function-name', 'hello', '--cli-binary-format', 'raw-in-base64-out', '--payload', '{}', out], env()), 'invoke hello as Bob');
    assert.equal((await readJson(out)).message, `Hello, ${bob.identityId}!`);
  });

  it('list-functions, create-function and delete-function are refused with AccessDeniedException', T, async () => {
    cliFails(await aws(['list-functions'], env()), 'AccessDeniedException', 'list-functions as Bob');
    const file = path.join(work, 'bob.zip');
    await fsp.writeFile(file, makeZip({ 'index.js': madeJs('bob') }));
    const name = `bob-${uniq()}`;
    cliFails(
      await aws(['create-function', '--function-name', name, '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', FUNCTION_ROLE, '--zip-file', `fileb://${file}`], env()),
      'AccessDeniedException',
      'create-function as Bob',
    );
    cliFails(await aws(['delete-function', '--function-name', 'hello'], env()), 'AccessDeniedException', 'delete-function as Bob');
    cliOk(await aws(['get-function', '--function-name', 'hello']), 'hello still exists (root)');
  });

  it('without credentials the CLI cannot call Lambda', T, async () => {
    const r = await aws(['invoke', '--function-name', 'hello', '--cli-binary-format', 'raw-in-base64-out', '--payload', '{}', outFile('none')], {});
    assert.notEqual(r.code, 0, `the CLI invoked without credentials: ${r.stdout}`);
  });
});
