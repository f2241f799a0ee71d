// s3-boto3.test.mjs - the S3 API with Debian's boto3 (python3-boto3): runs
// tests/integration/s3_boto3.py against build/cloudlet (path addressing,
// region us-east-1, root credentials from the environment) and asserts the
// JSON it prints: bucket create/list/delete, put/get (with Range and
// metadata), listings (v1, v2, delimiter, paginator), delete and batch delete,
// copy, upload_file/download_file of a 10 MiB file (multipart via s3transfer),
// and presigned GET/PUT URLs used with urllib (an expired one → 403).
// The behaviour asserted is the one of issue 5.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, makeTree, rmTree } from './helpers.mjs';
import { ROOT_ENV, ROOT_CREDENTIALS, md5hex } from './s3-helpers.mjs';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3_boto3.py');
const T = { timeout: 30000 };

function runPython(url, workdir) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('CLOUDLET_')) env[k] = v;
  Object.assign(env, {
    HOME: workdir,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_ACCESS_KEY_ID: ROOT_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ROOT_CREDENTIALS.secretAccessKey,
    PYTHONDONTWRITEBYTECODE: '1',
  });
  return new Promise((resolve, reject) => {
    const proc = spawn('/usr/bin/python3', [SCRIPT, url, workdir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 150000);
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('boto3', () => {
  let srv;
  let work;
  let r; // the script's JSON

  before(async () => {
    srv = await startServer({ env: ROOT_ENV });
    work = await makeTree({}, 'cloudlet-s3-boto3-');
    const run = await runPython(srv.url, work);
    assert.equal(run.code, 0, `s3_boto3.py exited ${run.code}\nstdout: ${run.stdout.slice(-2000)}\nstderr: ${run.stderr.slice(-3000)}`);
    r = JSON.parse(run.stdout.trim().split('\n').pop());
  }, { timeout: 180000 });
  after(async () => {
    await srv?.stop();
    await rmTree(work);
  });

  const ok = (name) => {
    const v = r?.[name];
    assert.ok(v, `no result for ${name}`);
    assert.equal(v.error, undefined, `${name} raised ${v.error}${v.code ? ` (${v.status} ${v.code})` : ''}: ${v.message}\n${v.trace ?? ''}`);
    return v;
  };

  it('create_bucket → 200 and list_buckets lists it', T, () => {
    const v = ok('create_bucket');
    assert.equal(v.status, 200);
    assert.equal(v.listed, true);
  });

  it('put_object / get_object: ETag is the quoted MD5, body, Content-Type and metadata round-trip', T, () => {
    const v = ok('put_get');
    assert.equal(v.put_etag, v.want_etag);
    assert.equal(v.put_etag, `"${md5hex('hello from boto3\n')}"`);
    assert.equal(v.body_ok, true);
    assert.equal(v.content_type, 'text/plain');
    assert.deepEqual(v.metadata, { lang: 'python' });
    assert.equal(v.length, 17);
  });

  it('get_object with Range → 206 and Content-Range', T, () => {
    const v = ok('range_get');
    assert.equal(v.status, 206);
    assert.equal(v.body, 'from');
    assert.equal(v.content_range, 'bytes 6-9/17');
  });

  it('list_objects_v2 / list_objects (encoding-type=url, decoded by botocore) / delimiter / paginator', T, () => {
    const v = ok('list');
    const dir = ['dir/a b.txt', 'dir/hello.txt', 'dir/plus+.txt', 'dir/ünï.txt'];
    assert.deepEqual(v.v2_keys, dir);
    assert.equal(v.v2_count, 4);
    assert.deepEqual(v.v1_keys, dir);
    assert.deepEqual(v.prefixes, ['dir/', 'other/']);
    assert.deepEqual(v.pages, [dir.slice(0, 2), dir.slice(2, 4), ['other/x']]);
  });

  it('delete_object → 204, delete_objects, then get_object → NoSuchKey 404', T, () => {
    const v = ok('delete');
    assert.equal(v.status, 204);
    assert.deepEqual(v.batch_deleted, ['dir/a b.txt', 'dir/plus+.txt']);
    assert.deepEqual(v.missing, { code: 'NoSuchKey', status: 404 });
    assert.deepEqual(v.left, ['dir/hello.txt', 'dir/ünï.txt']);
  });

  it('copy_object from a unicode key', T, () => {
    assert.equal(ok('copy').body, 'x');
  });

  it('upload_file / download_file of 10 MiB (multipart via s3transfer): same bytes, "<md5>-2" ETag', T, () => {
    const v = ok('transfer');
    assert.equal(v.length, 10 * 1024 * 1024);
    assert.equal(v.etag, v.want_etag);
    assert.equal(v.got_length, 10 * 1024 * 1024);
    assert.equal(v.same, true);
  });

  it('generate_presigned_url: GET and PUT with urllib work; an expired URL → 403 AccessDenied', T, () => {
    const v = ok('presigned');
    assert.deepEqual(v.get, { status: 200, body: 'hello from boto3\n' });
    assert.equal(v.put.status, 200);
    assert.equal(v.back, 'uploaded by urllib');
    assert.equal(v.expired.status, 403, JSON.stringify(v.expired));
    assert.match(v.expired.body, /<Code>AccessDenied<\/Code>/);
    assert.match(v.expired.body, /Request has expired/);
  });

  it('errors: NoSuchKey 404, NoSuchBucket 404, BucketNotEmpty 409, InvalidBucketName 400', T, () => {
    const v = ok('errors');
    assert.deepEqual(v.no_such_key, { code: 'NoSuchKey', status: 404 });
    assert.deepEqual(v.no_such_bucket, { code: 'NoSuchBucket', status: 404 });
    assert.deepEqual(v.not_empty, { code: 'BucketNotEmpty', status: 409 });
    assert.equal(v.bad_name.status, 400, JSON.stringify(v.bad_name));
  });

  it('emptying and deleting the bucket', T, () => {
    const v = ok('cleanup');
    assert.equal(v.status, 204);
    assert.equal(v.gone, true);
  });
});
