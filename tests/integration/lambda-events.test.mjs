// lambda-events.test.mjs - asynchronous Lambda end to end against
// build/cloudlet: InvocationType Event reaches the function, which writes
// what it got to S3 with @aws-sdk/client-s3 (found through NODE_PATH, as on
// AWS) using its execution role's credentials from the environment; a
// function that keeps failing is tried 3 times in all, one that fails once is
// tried twice; Events past a function's concurrency are queued, not dropped;
// an Event accepted just before the server is killed still runs after a
// restart; and S3 bucket notifications (PutBucketNotificationConfiguration
// with LambdaFunctionConfigurations) deliver S3's event JSON for
// ObjectCreated:* and ObjectRemoved:*, with prefix filters.
// The behaviour asserted is the one of the Lambda issue and
// docs/aws-wire-protocols.md section 5.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand,
  PutObjectCommand,
  DeleteObjectCommand,
  CopyObjectCommand,
  ListObjectsV2Command,
  PutBucketNotificationConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
} from '@aws-sdk/client-s3';
import { startServer, makeTree, rmTree, sleep } from './helpers.mjs';
import { serveOn } from './sts-helpers.mjs';
import { ROOT_ENV, uniq, fnArn, lambdaClient, s3Client, invoke, nodeFn, waitFor, waitObject, objectText, fails } from './lambda-helpers.mjs';

const HOOK = { timeout: 60000 };
const T = { timeout: 30000 };
const OUT = `out-${uniq()}`; // where the functions write
const IN = `in-${uniq()}`; // the bucket whose notifications call `trigger`

// Shared by every function here: an S3 client from the environment (endpoint, region, role credentials).
const S3_PRELUDE = `
const { S3Client, PutObjectCommand, ListObjectsV2Command } = require('@aws-sdk/client-s3');
const s3 = new S3Client({ region: process.env.AWS_REGION, endpoint: process.env.AWS_ENDPOINT_URL, forcePathStyle: true });
const put = (key, body) => s3.send(new PutObjectCommand({ Bucket: process.env.OUT_BUCKET, Key: key, Body: typeof body === 'string' ? body : JSON.stringify(body) }));
const count = async (prefix) => ((await s3.send(new ListObjectsV2Command({ Bucket: process.env.OUT_BUCKET, Prefix: prefix }))).KeyCount || 0);
const tag = () => Date.now() + '-' + Math.random().toString(36).slice(2);
`;

// writer: stores the event under events/<id>.json.
const WRITER_JS = `${S3_PRELUDE}
exports.handler = async (event, context) => {
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  await put('events/' + event.id + '.json', { event, requestId: context.awsRequestId, accessKey: process.env.AWS_ACCESS_KEY_ID.slice(0, 4) });
  return { stored: event.id };
};
`;

// flaky: records each try under tries/<id>/, then fails (always, or until event.failTimes tries have failed).
const FLAKY_JS = `${S3_PRELUDE}
exports.handler = async (event, context) => {
  const before = await count('tries/' + event.id + '/');
  await put('tries/' + event.id + '/' + tag(), { requestId: context.awsRequestId });
  if (event.failTimes === undefined || before < event.failTimes) throw new Error('failing try ' + (before + 1));
  await put('done/' + event.id, { tries: before + 1 });
  return 'ok';
};
`;

// trigger: stores S3's event under s3/<eventName>/<key as given in the event>.
const TRIGGER_JS = `${S3_PRELUDE}
exports.handler = async (event) => {
  const r = event.Records && event.Records[0];
  const name = r ? r.eventName : 'no-records';
  const key = r && r.s3 && r.s3.object ? r.s3.object.key : 'no-key';
  await put('s3/' + name + '/' + key, event);
  return 'ok';
};
`;

const functionsFor = (dirs) => [
  nodeFn('writer', dirs.writer, { timeout: 5, environment: { OUT_BUCKET: OUT } }),
  nodeFn('serial', dirs.writer, { timeout: 5, concurrency: 1, environment: { OUT_BUCKET: OUT } }),
  nodeFn('flaky', dirs.flaky, { timeout: 5, environment: { OUT_BUCKET: OUT } }),
  nodeFn('trigger', dirs.trigger, { timeout: 5, environment: { OUT_BUCKET: OUT } }),
];

let srv;
let lambda;
let s3;
let dirs;
let config;

before(async () => {
  dirs = {
    writer: await makeTree({ 'index.js': WRITER_JS }, 'cloudlet-fn-writer-'),
    flaky: await makeTree({ 'index.js': FLAKY_JS }, 'cloudlet-fn-flaky-'),
    trigger: await makeTree({ 'index.js': TRIGGER_JS }, 'cloudlet-fn-trigger-'),
  };
  config = { functions: functionsFor(dirs), lambda: { eventRetryMs: 100 } };
  srv = await startServer({ env: ROOT_ENV, config });
  lambda = lambdaClient(srv.url);
  s3 = s3Client(srv.url);
  await s3.send(new CreateBucketCommand({ Bucket: OUT }));
  await s3.send(new CreateBucketCommand({ Bucket: IN }));
}, HOOK);
after(async () => {
  lambda?.destroy();
  s3?.destroy();
  await srv?.stop();
  for (const d of Object.values(dirs ?? {})) await rmTree(d);
});

const keysUnder = async (prefix, client = s3) =>
  ((await client.send(new ListObjectsV2Command({ Bucket: OUT, Prefix: prefix }))).Contents ?? []).map((o) => o.Key);

// ====================================================================
// InvocationType Event
// ====================================================================

describe('InvocationType Event', () => {
  it('a synchronous invoke of the S3-writing function works (the SDK is on NODE_PATH, the role may PutObject)', T, async () => {
    const id = `sync-${uniq()}`;
    const r = await invoke(lambda, 'writer', { id });
    assert.equal(r.functionError, undefined, `writer failed: ${r.text}`);
    assert.deepEqual(r.json, { stored: id });
    const stored = JSON.parse(await objectText(s3, OUT, `events/${id}.json`));
    assert.equal(stored.event.id, id);
    assert.equal(stored.accessKey, 'ASIA', 'the function wrote with temporary (role) credentials');
  });

  it('an Event invoke answers 202 at once and reaches the function, which writes the event to S3', T, async () => {
    const id = `ev-${uniq()}`;
    const r = await invoke(lambda, 'writer', { id, sleepMs: 3000, payload: { nested: [1, 2, 3] } }, { InvocationType: 'Event' });
    assert.equal(r.status, 202, `StatusCode ${r.status}`);
    assert.ok(r.ms < 2500, `the Event invoke took ${r.ms} ms: it waited for the 3 s function`);
    const text = await waitObject(s3, OUT, `events/${id}.json`, { what: `the object written by the Event invoke ${id}` });
    const stored = JSON.parse(text);
    assert.deepEqual(stored.event, { id, sleepMs: 3000, payload: { nested: [1, 2, 3] } }, 'the event as the function got it');
    assert.match(stored.requestId, /^[0-9a-f-]{36}$/, 'request id of the async invoke');
  });

  it('an Event invoke of an unknown function: ResourceNotFoundException 404', T, async () => {
    await fails(invoke(lambda, `nope-${uniq()}`, {}, { InvocationType: 'Event' }), 'ResourceNotFoundException', { status: 404 });
  });

  it('a function that always fails on an Event is tried 3 times in all, then no more', T, async () => {
    const id = `fail-${uniq()}`;
    const r = await invoke(lambda, 'flaky', { id }, { InvocationType: 'Event' });
    assert.equal(r.status, 202);
    await waitFor(async () => (await keysUnder(`tries/${id}/`)).length >= 3, { what: `3 tries of ${id}`, timeoutMs: 15000 });
    await sleep(1500); // eventRetryMs is 100: a 4th try would come well within this
    const tries = await keysUnder(`tries/${id}/`);
    assert.equal(tries.length, 3, `tries of an always-failing Event: ${tries.length}`);
    assert.equal(await objectText(s3, OUT, `done/${id}`), null, 'the failing function reported success');
  });

  it('a function that fails once on an Event is retried and succeeds on the 2nd try (2 tries, no more)', T, async () => {
    const id = `once-${uniq()}`;
    await invoke(lambda, 'flaky', { id, failTimes: 1 }, { InvocationType: 'Event' });
    const done = JSON.parse(await waitObject(s3, OUT, `done/${id}`, { what: `the retried Event ${id}`, timeoutMs: 15000 }));
    assert.equal(done.tries, 2, 'the try that succeeded');
    await sleep(800);
    assert.equal((await keysUnder(`tries/${id}/`)).length, 2, 'tries after a success');
  });

  it('Events past the function\'s concurrency (1) are queued, not dropped: all 6 run', T, async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `q${i}-${uniq()}`);
    const rs = await Promise.all(ids.map((id) => invoke(lambda, 'serial', { id, sleepMs: 200 }, { InvocationType: 'Event' })));
    rs.forEach((r, i) => assert.equal(r.status, 202, `Event ${ids[i]}: StatusCode ${r.status}`));
    for (const id of ids) await waitObject(s3, OUT, `events/${id}.json`, { what: `queued Event ${id}`, timeoutMs: 15000 });
  });

  it('a synchronous invoke past the same concurrency is still throttled (429) while Events queue', T, async () => {
    const slow = invoke(lambda, 'serial', { id: `hold-${uniq()}`, sleepMs: 2500 });
    await sleep(700);
    await fails(invoke(lambda, 'serial', { id: `second-${uniq()}` }), 'TooManyRequestsException', { status: 429, what: 'a 2nd synchronous invoke of a concurrency-1 function' });
    const first = await slow;
    assert.equal(first.functionError, undefined, first.text);
  });
});

// ====================================================================
// durability
// ====================================================================

describe('durability of accepted Events', () => {
  it('an Event accepted (202) just before the server is killed (SIGKILL) runs after a restart on the same data directory', { timeout: 60000 }, async () => {
    const local = await startServer({ env: ROOT_ENV, config });
    let again;
    try {
      const l1 = lambdaClient(local.url);
      const s1 = s3Client(local.url);
      await s1.send(new CreateBucketCommand({ Bucket: OUT }));
      const id = `durable-${uniq()}`;
      const r = await invoke(l1, 'writer', { id, sleepMs: 2000 }, { InvocationType: 'Event' });
      assert.equal(r.status, 202);
      l1.destroy();
      s1.destroy();
      local.proc.kill('SIGKILL');
      await local.exited;
      again = await serveOn(local.dataDir, { config, env: ROOT_ENV });
      const s2 = s3Client(again.url);
      try {
        const text = await waitObject(s2, OUT, `events/${id}.json`, { what: `the Event ${id} after a restart`, timeoutMs: 15000 });
        assert.equal(JSON.parse(text).event.id, id);
      } finally {
        s2.destroy();
      }
    } finally {
      await again?.stop();
      await local.stop();
    }
  });
});

// ====================================================================
// S3 bucket notifications
// ====================================================================

describe('S3 event notifications to a function', () => {
  before(async () => {
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: IN,
        NotificationConfiguration: {
          LambdaFunctionConfigurations: [
            {
              Id: 'created',
              LambdaFunctionArn: fnArn('trigger'),
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'incoming/' }] } },
            },
            { Id: 'removed', LambdaFunctionArn: fnArn('trigger'), Events: ['s3:ObjectRemoved:*'] },
          ],
        },
      }),
    );
  }, HOOK);

  it('GetBucketNotificationConfiguration returns the function configurations', T, async () => {
    const out = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: IN }));
    const arns = (out.LambdaFunctionConfigurations ?? []).map((c) => c.LambdaFunctionArn);
    assert.deepEqual(arns, [fnArn('trigger'), fnArn('trigger')], `LambdaFunctionConfigurations: ${JSON.stringify(out)}`);
    assert.deepEqual(out.LambdaFunctionConfigurations[0].Events, ['s3:ObjectCreated:*']);
  });

  it('PutObject under the prefix: the function gets S3\'s event (aws:s3, ObjectCreated:Put, bucket, key, size, eTag)', T, async () => {
    const key = `incoming/${uniq()}.txt`;
    const body = 'hello trigger';
    const put = await s3.send(new PutObjectCommand({ Bucket: IN, Key: key, Body: body }));
    const ev = JSON.parse(await waitObject(s3, OUT, `s3/ObjectCreated:Put/${key}`, { what: `the ObjectCreated:Put event of ${key}` }));
    assert.ok(Array.isArray(ev.Records) && ev.Records.length === 1, `Records: ${JSON.stringify(ev).slice(0, 300)}`);
    const rec = ev.Records[0];
    assert.equal(rec.eventSource, 'aws:s3');
    assert.equal(rec.eventName, 'ObjectCreated:Put');
    assert.equal(rec.awsRegion, 'us-east-1');
    assert.ok(!Number.isNaN(Date.parse(rec.eventTime)), `eventTime ${rec.eventTime}`);
    assert.equal(rec.s3.bucket.name, IN);
    assert.equal(rec.s3.bucket.arn, `arn:aws:s3:::${IN}`);
    assert.equal(rec.s3.object.key, key);
    assert.equal(rec.s3.object.size, Buffer.byteLength(body));
    assert.equal(rec.s3.object.eTag, put.ETag.replace(/"/g, ''), 'eTag (without quotes)');
    assert.equal(rec.s3.configurationId, 'created');
  });

  it('a key outside the prefix filter calls nothing', T, async () => {
    const outside = `other/${uniq()}.txt`;
    const inside = `incoming/${uniq()}.txt`;
    await s3.send(new PutObjectCommand({ Bucket: IN, Key: outside, Body: 'x' }));
    await s3.send(new PutObjectCommand({ Bucket: IN, Key: inside, Body: 'y' }));
    await waitObject(s3, OUT, `s3/ObjectCreated:Put/${inside}`, { what: `the event of ${inside}` });
    await sleep(500);
    assert.equal(await objectText(s3, OUT, `s3/ObjectCreated:Put/${outside}`), null, `${outside} (outside the prefix) triggered the function`);
  });

  it('CopyObject into the prefix: ObjectCreated:Copy', T, async () => {
    const src = `incoming/${uniq()}-src.txt`;
    const dst = `incoming/${uniq()}-copy.txt`;
    await s3.send(new PutObjectCommand({ Bucket: IN, Key: src, Body: 'copy me' }));
    await s3.send(new CopyObjectCommand({ Bucket: IN, Key: dst, CopySource: `${IN}/${src}` }));
    const ev = JSON.parse(await waitObject(s3, OUT, `s3/ObjectCreated:Copy/${dst}`, { what: `the ObjectCreated:Copy event of ${dst}` }));
    assert.equal(ev.Records[0].s3.object.size, 7);
  });

  it('DeleteObject: ObjectRemoved:Delete with the bucket and key (any prefix)', T, async () => {
    const key = `anywhere/${uniq()}.txt`;
    await s3.send(new PutObjectCommand({ Bucket: IN, Key: key, Body: 'to be deleted' }));
    await s3.send(new DeleteObjectCommand({ Bucket: IN, Key: key }));
    const ev = JSON.parse(await waitObject(s3, OUT, `s3/ObjectRemoved:Delete/${key}`, { what: `the ObjectRemoved:Delete event of ${key}` }));
    const rec = ev.Records[0];
    assert.equal(rec.eventSource, 'aws:s3');
    assert.equal(rec.eventName, 'ObjectRemoved:Delete');
    assert.equal(rec.s3.bucket.name, IN);
    assert.equal(rec.s3.object.key, key);
    assert.equal(rec.s3.configurationId, 'removed');
  });

  it('the key in the event is URL-encoded as on AWS (a space becomes +)', T, async () => {
    const base = uniq();
    const key = `incoming/${base} with space.txt`;
    await s3.send(new PutObjectCommand({ Bucket: IN, Key: key, Body: 's' }));
    const ev = JSON.parse(await waitObject(s3, OUT, `s3/ObjectCreated:Put/incoming/${base}+with+space.txt`, { what: `the event of "${key}" under its encoded key` }));
    assert.equal(decodeURIComponent(ev.Records[0].s3.object.key.replace(/\+/g, ' ')), key);
  });

  it('a notification naming a function that does not exist is refused (InvalidArgument 400)', T, async () => {
    await fails(
      s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: IN,
          NotificationConfiguration: { LambdaFunctionConfigurations: [{ LambdaFunctionArn: fnArn(`nope-${uniq()}`), Events: ['s3:ObjectCreated:*'] }] },
        }),
      ),
      'InvalidArgument',
      { status: 400 },
    );
    const out = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: IN }));
    assert.equal((out.LambdaFunctionConfigurations ?? []).length, 2, 'the refused configuration replaced the old one');
  });
});
