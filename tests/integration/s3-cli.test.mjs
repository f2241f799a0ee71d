// s3-cli.test.mjs - the S3 API with Debian's aws CLI (/usr/bin/aws, 2.9) in a
// clean environment (private HOME, a config file asking for path-style
// addressing, root credentials): s3 mb / cp (small and a 20 MiB multipart
// file, both ways) / ls / sync --delete (the website serves the new files at
// once, deleted files are gone) / rm / rb, s3api multipart of a 20 MiB file in
// three parts, s3api head-object, and a refusal (NoSuchKey).
// The behaviour asserted is the one of issue 5 ("Deploy with the standard tools").

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { startServer, request, makeTree, rmTree } from './helpers.mjs';
import { ROOT_ENV, MiB, md5hex, bytes, multipartEtag, cliEnv, awsS3, cliOk } from './s3-helpers.mjs';

const T = { timeout: 120000 };

let srv;
let cli; // {env, home, cleanup}
let work; // a temp dir for files
const aws = (args, opts) => awsS3(srv.url, args, cli.env, opts);

before(async () => {
  srv = await startServer({ env: ROOT_ENV });
  cli = await cliEnv();
  work = await makeTree({}, 'cloudlet-s3-cli-');
});
after(async () => {
  await srv?.stop();
  await cli?.cleanup();
  await rmTree(work);
});

describe('aws s3 (high-level commands)', () => {
  const SMALL = Buffer.from('small file through the aws cli\n');
  const BIG = bytes(20 * MiB, 'cli-big');

  it('s3 mb creates a bucket; s3 ls lists it', T, async () => {
    const mb = cliOk(await aws(['s3', 'mb', 's3://cli-bucket']), 's3 mb');
    assert.match(mb.stdout, /make_bucket: cli-bucket/);
    const ls = cliOk(await aws(['s3', 'ls']), 's3 ls');
    assert.match(ls.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d cli-bucket$/m, ls.stdout);
  });

  it('s3 cp up and down: a small file', T, async () => {
    const src = path.join(work, 'small.txt');
    await fsp.writeFile(src, SMALL);
    cliOk(await aws(['s3', 'cp', src, 's3://cli-bucket/dir/small.txt']), 's3 cp up');
    const dst = path.join(work, 'small.down.txt');
    cliOk(await aws(['s3', 'cp', 's3://cli-bucket/dir/small.txt', dst]), 's3 cp down');
    assert.deepEqual(await fsp.readFile(dst), SMALL);
  });

  it('s3 cp up and down: a 20 MiB file (uploaded as multipart by the CLI), byte for byte', T, async () => {
    const src = path.join(work, 'big.bin');
    await fsp.writeFile(src, BIG);
    cliOk(await aws(['s3', 'cp', src, 's3://cli-bucket/dir/big.bin']), 's3 cp big up');
    const head = cliOk(await aws(['s3api', 'head-object', '--bucket', 'cli-bucket', '--key', 'dir/big.bin', '--output', 'json']), 'head-object big');
    assert.equal(head.json.ContentLength, BIG.length);
    // The CLI's default multipart threshold and chunk size are 8 MiB: 3 parts.
    assert.match(head.json.ETag, /^"[0-9a-f]{32}-3"$/, `multipart ETag expected: ${head.json.ETag}`);
    assert.equal(head.json.ETag, multipartEtag([BIG.subarray(0, 8 * MiB), BIG.subarray(8 * MiB, 16 * MiB), BIG.subarray(16 * MiB)]));
    const dst = path.join(work, 'big.down.bin');
    cliOk(await aws(['s3', 'cp', 's3://cli-bucket/dir/big.bin', dst]), 's3 cp big down');
    const got = await fsp.readFile(dst);
    assert.equal(got.length, BIG.length);
    assert.ok(got.equals(BIG), 'the downloaded 20 MiB file differs');
  });

  it('s3 ls of a prefix and --recursive', T, async () => {
    const ls = cliOk(await aws(['s3', 'ls', 's3://cli-bucket/']), 's3 ls bucket');
    assert.match(ls.stdout, /^\s+PRE dir\/$/m, ls.stdout);
    const inDir = cliOk(await aws(['s3', 'ls', 's3://cli-bucket/dir/']), 's3 ls dir');
    assert.match(inDir.stdout, new RegExp(`\\s${SMALL.length} small\\.txt$`, 'm'), inDir.stdout);
    assert.match(inDir.stdout, new RegExp(`\\s${BIG.length} big\\.bin$`, 'm'), inDir.stdout);
    const rec = cliOk(await aws(['s3', 'ls', 's3://cli-bucket', '--recursive']), 's3 ls --recursive');
    const keys = rec.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).slice(3).join(' '));
    assert.deepEqual(keys.sort(), ['dir/big.bin', 'dir/small.txt']);
  });

  it('s3 cp of keys with spaces and unicode; s3 ls shows them decoded', T, async () => {
    const src = path.join(work, 'odd name ☃.txt');
    await fsp.writeFile(src, 'snow');
    cliOk(await aws(['s3', 'cp', src, 's3://cli-bucket/odd dir/odd name ☃+1.txt']), 's3 cp odd');
    const rec = cliOk(await aws(['s3', 'ls', 's3://cli-bucket/odd dir/']), 's3 ls odd');
    assert.match(rec.stdout, /odd name ☃\+1\.txt$/m, rec.stdout);
    const dst = path.join(work, 'odd.down');
    cliOk(await aws(['s3', 'cp', 's3://cli-bucket/odd dir/odd name ☃+1.txt', dst]), 's3 cp odd down');
    assert.equal(await fsp.readFile(dst, 'utf8'), 'snow');
  });

  it('s3 rm removes one object, --recursive removes the rest; s3 rb removes the bucket', T, async () => {
    cliOk(await aws(['s3', 'rm', 's3://cli-bucket/dir/small.txt']), 's3 rm');
    const ls = cliOk(await aws(['s3', 'ls', 's3://cli-bucket/dir/']), 's3 ls after rm');
    assert.doesNotMatch(ls.stdout, /small\.txt/);
    const rb1 = await aws(['s3', 'rb', 's3://cli-bucket']);
    assert.notEqual(rb1.code, 0, 'rb of a non-empty bucket succeeded');
    assert.match(rb1.stderr, /BucketNotEmpty/, rb1.stderr);
    cliOk(await aws(['s3', 'rm', 's3://cli-bucket', '--recursive']), 's3 rm --recursive');
    const rb = cliOk(await aws(['s3', 'rb', 's3://cli-bucket']), 's3 rb');
    assert.match(rb.stdout, /remove_bucket: cli-bucket/);
    const all = cliOk(await aws(['s3', 'ls']), 's3 ls after rb');
    assert.doesNotMatch(all.stdout, /cli-bucket/);
  });
});

describe('aws s3 sync to the website bucket', () => {
  let site;
  before(async () => {
    site = await makeTree(
      {
        'index.html': '<h1>version one</h1>',
        'about/index.html': '<p>about v1</p>',
        'assets/app.js': 'console.log(1)',
        'old.txt': 'to be deleted',
      },
      'cloudlet-s3-site-',
    );
  });
  after(async () => {
    await rmTree(site);
  });

  it('s3 mb s3://site, then s3 sync DIR s3://site: the website serves it at once', T, async () => {
    cliOk(await aws(['s3', 'mb', 's3://site']), 's3 mb site');
    const sync = cliOk(await aws(['s3', 'sync', site, 's3://site', '--delete']), 's3 sync');
    assert.match(sync.stdout, /upload: .*index\.html to s3:\/\/site\/index\.html/, sync.stdout);
    const home = await request(srv.url, '/');
    assert.equal(home.status, 200, home.text);
    assert.equal(home.text, '<h1>version one</h1>');
    assert.match(home.headers['content-type'] ?? '', /text\/html/);
    const js = await request(srv.url, '/assets/app.js');
    assert.equal(js.status, 200);
    assert.equal(js.text, 'console.log(1)');
    const old = await request(srv.url, '/old.txt');
    assert.equal(old.status, 200);
  });

  it('a second sync --delete: the new index.html is live at once and deleted files are gone', T, async () => {
    await fsp.writeFile(path.join(site, 'index.html'), '<h1>version two</h1>');
    await fsp.rm(path.join(site, 'old.txt'));
    await fsp.rm(path.join(site, 'assets'), { recursive: true });
    await fsp.writeFile(path.join(site, 'new.txt'), 'brand new');
    const sync = cliOk(await aws(['s3', 'sync', site, 's3://site', '--delete']), 's3 sync 2');
    assert.match(sync.stdout, /delete: s3:\/\/site\/old\.txt/, sync.stdout);
    assert.match(sync.stdout, /delete: s3:\/\/site\/assets\/app\.js/, sync.stdout);
    const home = await request(srv.url, '/');
    assert.equal(home.status, 200);
    assert.equal(home.text, '<h1>version two</h1>');
    assert.equal((await request(srv.url, '/old.txt')).status, 404);
    assert.equal((await request(srv.url, '/assets/app.js')).status, 404);
    const fresh = await request(srv.url, '/new.txt');
    assert.equal(fresh.status, 200);
    assert.equal(fresh.text, 'brand new');
    const about = await request(srv.url, '/about/');
    assert.equal(about.status, 200);
    assert.equal(about.text, '<p>about v1</p>');
    // A third sync with nothing changed uploads nothing.
    const again = cliOk(await aws(['s3', 'sync', site, 's3://site', '--delete']), 's3 sync 3');
    assert.equal(again.stdout.trim(), '', `a no-op sync did something: ${again.stdout}`);
  });
});

describe('aws s3api', () => {
  const BIG = bytes(20 * MiB, 'cli-s3api');
  const PARTS = [BIG.subarray(0, 8 * MiB), BIG.subarray(8 * MiB, 16 * MiB), BIG.subarray(16 * MiB)];

  it('create-bucket, then create-multipart-upload / upload-part ×3 / complete-multipart-upload of a 20 MiB file', T, async () => {
    cliOk(await aws(['s3api', 'create-bucket', '--bucket', 'cli-api', '--output', 'json']), 'create-bucket');
    const created = cliOk(await aws(['s3api', 'create-multipart-upload', '--bucket', 'cli-api', '--key', 'mp/big.bin', '--output', 'json']), 'create-multipart-upload');
    const uploadId = created.json.UploadId;
    assert.ok(uploadId, created.stdout);
    const parts = [];
    for (let i = 0; i < 3; i++) {
      const file = path.join(work, `part${i + 1}`);
      await fsp.writeFile(file, PARTS[i]);
      const up = cliOk(
        await aws(['s3api', 'upload-part', '--bucket', 'cli-api', '--key', 'mp/big.bin', '--upload-id', uploadId, '--part-number', String(i + 1), '--body', file, '--output', 'json']),
        `upload-part ${i + 1}`,
      );
      assert.equal(up.json.ETag, `"${md5hex(PARTS[i])}"`);
      parts.push({ ETag: up.json.ETag, PartNumber: i + 1 });
    }
    const lp = cliOk(await aws(['s3api', 'list-parts', '--bucket', 'cli-api', '--key', 'mp/big.bin', '--upload-id', uploadId, '--output', 'json']), 'list-parts');
    assert.deepEqual(
      lp.json.Parts.map((p) => [p.PartNumber, p.Size]),
      PARTS.map((p, i) => [i + 1, p.length]),
    );
    const layout = path.join(work, 'parts.json');
    await fsp.writeFile(layout, JSON.stringify({ Parts: parts }));
    const done = cliOk(
      await aws(['s3api', 'complete-multipart-upload', '--bucket', 'cli-api', '--key', 'mp/big.bin', '--upload-id', uploadId, '--multipart-upload', `file://${layout}`, '--output', 'json']),
      'complete-multipart-upload',
    );
    assert.equal(done.json.ETag, multipartEtag(PARTS));
    const dst = path.join(work, 'mp.down');
    const get = cliOk(await aws(['s3api', 'get-object', '--bucket', 'cli-api', '--key', 'mp/big.bin', dst, '--output', 'json']), 'get-object');
    assert.equal(get.json.ContentLength, BIG.length);
    assert.ok((await fsp.readFile(dst)).equals(BIG), 'get-object of the completed upload differs');
  });

  it('head-object: ContentLength, ETag, ContentType, Metadata', T, async () => {
    const file = path.join(work, 'meta.txt');
    await fsp.writeFile(file, 'with metadata');
    cliOk(
      await aws(['s3api', 'put-object', '--bucket', 'cli-api', '--key', 'meta.txt', '--body', file, '--content-type', 'text/plain', '--metadata', 'team=storage,level=3', '--output', 'json']),
      'put-object',
    );
    const h = cliOk(await aws(['s3api', 'head-object', '--bucket', 'cli-api', '--key', 'meta.txt', '--output', 'json']), 'head-object');
    assert.equal(h.json.ContentLength, 13);
    assert.equal(h.json.ETag, `"${md5hex('with metadata')}"`);
    assert.equal(h.json.ContentType, 'text/plain');
    assert.deepEqual(h.json.Metadata, { team: 'storage', level: '3' });
    assert.ok(h.json.LastModified, h.stdout);
  });

  it('list-objects-v2 (the CLI sends encoding-type=url) gives keys back decoded', T, async () => {
    const file = path.join(work, 'x');
    await fsp.writeFile(file, 'x');
    for (const key of ['enc/a b.txt', 'enc/c+d.txt', 'enc/é.txt']) {
      cliOk(await aws(['s3api', 'put-object', '--bucket', 'cli-api', '--key', key, '--body', file]), `put ${key}`);
    }
    const out = cliOk(await aws(['s3api', 'list-objects-v2', '--bucket', 'cli-api', '--prefix', 'enc/', '--output', 'json']), 'list-objects-v2');
    assert.deepEqual(out.json.Contents.map((c) => c.Key).sort(), ['enc/a b.txt', 'enc/c+d.txt', 'enc/é.txt'].sort());
  });

  it('a missing key: non-zero exit, stderr names NoSuchKey / 404', T, async () => {
    const r = await aws(['s3api', 'get-object', '--bucket', 'cli-api', '--key', 'no/such/key', path.join(work, 'never')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NoSuchKey/, r.stderr);
    const h = await aws(['s3api', 'head-object', '--bucket', 'cli-api', '--key', 'no/such/key']);
    assert.notEqual(h.code, 0);
    assert.match(h.stderr, /404|Not Found/, h.stderr);
    const cp = await aws(['s3', 'cp', 's3://cli-api/no/such/key', path.join(work, 'never2')]);
    assert.notEqual(cp.code, 0);
    assert.match(cp.stderr, /404|Not Found|NoSuchKey/, cp.stderr);
  });
});
