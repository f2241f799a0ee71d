// s3-sdk.test.mjs - the S3 API end to end with @aws-sdk/client-s3 (path-style,
// default checksum behaviour left on) and @aws-sdk/s3-request-presigner against
// build/cloudlet with root credentials: buckets, objects (bodies as strings,
// Buffers and streams sent aws-chunked with a trailing checksum), checksums and
// Content-MD5, conditionals, ranges, response-* overrides, copies, batch
// deletes, listings v1 and v2 (paging, delimiters, start-after, encoding-type
// url), multipart uploads, the 501/400 refusals, and presigned GET and PUT
// (also expired and tampered).
// The behaviour asserted is the one of issue 5 and docs/aws-wire-protocols.md sections 1.3 and 6.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import {
  ListBucketsCommand,
  CreateBucketCommand,
  HeadBucketCommand,
  DeleteBucketCommand,
  GetBucketLocationCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  CopyObjectCommand,
  ListObjectsV2Command,
  ListObjectsCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  ListPartsCommand,
  ListMultipartUploadsCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  PutBucketTaggingCommand,
  GetBucketAclCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startServer, request, sleep } from './helpers.mjs';
import { ROOT_ENV, ROOT_CREDENTIALS, MiB, s3Client, fails, bare, md5hex, md5b64, sha256b64, bytes, bodyOf, multipartEtag, s3Raw, assertS3Err } from './s3-helpers.mjs';

const T = { timeout: 30000 };
const LONG = { timeout: 120000 };

let srv;
let s3;

before(async () => {
  srv = await startServer({ env: ROOT_ENV });
  s3 = s3Client(srv.url);
});
after(async () => {
  s3?.destroy();
  await srv?.stop();
});

const send = (cmd) => s3.send(cmd);
const keysOf = (out) => (out.Contents ?? []).map((o) => o.Key);
const prefixesOf = (out) => (out.CommonPrefixes ?? []).map((p) => p.Prefix);

async function putAll(bucket, keys, body = 'x') {
  for (const k of keys) await send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: body }));
}

// ====================================================================
// buckets
// ====================================================================

describe('buckets', () => {
  it('CreateBucket → 200 with Location /b; ListBuckets lists it with a CreationDate', T, async () => {
    const out = await send(new CreateBucketCommand({ Bucket: 'sdk-buckets' }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.equal(out.Location, '/sdk-buckets');
    const list = await send(new ListBucketsCommand({}));
    const b = (list.Buckets ?? []).find((x) => x.Name === 'sdk-buckets');
    assert.ok(b, `sdk-buckets not in ${JSON.stringify(list.Buckets)}`);
    assert.ok(b.CreationDate instanceof Date && Math.abs(b.CreationDate.getTime() - Date.now()) < 60000, `CreationDate ${b.CreationDate}`);
    assert.ok(list.Owner?.ID, `Owner: ${JSON.stringify(list.Owner)}`);
  });

  it('CreateBucket of an existing bucket → 409 BucketAlreadyOwnedByYou', T, async () => {
    await fails(send(new CreateBucketCommand({ Bucket: 'sdk-buckets' })), 'BucketAlreadyOwnedByYou', { status: 409 });
  });

  for (const bad of ['Upper-Case', 'ab', 'under_score', '-starts-with-dash', 'ends-with-dash-', 'a..b', '192.168.1.1', 'x'.repeat(64)]) {
    it(`CreateBucket ${JSON.stringify(bad)} → 400 InvalidBucketName`, T, async () => {
      await fails(send(new CreateBucketCommand({ Bucket: bad })), 'InvalidBucketName', { status: 400 });
    });
  }

  it('CreateBucket with a CreateBucketConfiguration body is accepted', T, async () => {
    const out = await send(new CreateBucketCommand({ Bucket: 'sdk-located', CreateBucketConfiguration: { LocationConstraint: 'us-east-2' } }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    await send(new DeleteBucketCommand({ Bucket: 'sdk-located' }));
  });

  it('HeadBucket → 200 (x-amz-bucket-region), a missing bucket → 404 NotFound', T, async () => {
    const out = await send(new HeadBucketCommand({ Bucket: 'sdk-buckets' }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.equal(out.BucketRegion, 'us-east-1');
    await fails(send(new HeadBucketCommand({ Bucket: 'sdk-no-such-bucket' })), 'NotFound', { status: 404 });
  });

  it('GetBucketLocation → empty LocationConstraint (us-east-1)', T, async () => {
    const out = await send(new GetBucketLocationCommand({ Bucket: 'sdk-buckets' }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.ok(out.LocationConstraint === undefined || out.LocationConstraint === '' || out.LocationConstraint === 'us-east-1', `LocationConstraint ${out.LocationConstraint}`);
  });

  it('operations on a missing bucket → 404 NoSuchBucket', T, async () => {
    await fails(send(new PutObjectCommand({ Bucket: 'sdk-no-such-bucket', Key: 'k', Body: 'x' })), 'NoSuchBucket', { status: 404 });
    await fails(send(new ListObjectsV2Command({ Bucket: 'sdk-no-such-bucket' })), 'NoSuchBucket', { status: 404 });
    await fails(send(new DeleteBucketCommand({ Bucket: 'sdk-no-such-bucket' })), 'NoSuchBucket', { status: 404 });
  });

  it('DeleteBucket of a non-empty bucket → 409 BucketNotEmpty; emptied → 204 and gone', T, async () => {
    await send(new PutObjectCommand({ Bucket: 'sdk-buckets', Key: 'one', Body: '1' }));
    await fails(send(new DeleteBucketCommand({ Bucket: 'sdk-buckets' })), 'BucketNotEmpty', { status: 409 });
    await send(new DeleteObjectCommand({ Bucket: 'sdk-buckets', Key: 'one' }));
    const out = await send(new DeleteBucketCommand({ Bucket: 'sdk-buckets' }));
    assert.equal(out.$metadata.httpStatusCode, 204);
    await fails(send(new HeadBucketCommand({ Bucket: 'sdk-buckets' })), 'NotFound', { status: 404 });
    const list = await send(new ListBucketsCommand({}));
    assert.ok(!(list.Buckets ?? []).some((b) => b.Name === 'sdk-buckets'));
  });
});

// ====================================================================
// PutObject
// ====================================================================

describe('PutObject', () => {
  const B = 'sdk-put';
  before(async () => {
    await send(new CreateBucketCommand({ Bucket: B }));
  });

  it('a string body: 200, ETag = quoted MD5, the default CRC32 checksum echoed; ContentType defaults to binary/octet-stream', T, async () => {
    const text = 'hello, cloudlet\n';
    const out = await send(new PutObjectCommand({ Bucket: B, Key: 'string.txt', Body: text }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.equal(out.ETag, `"${md5hex(text)}"`);
    assert.ok(out.ChecksumCRC32, `no x-amz-checksum-crc32 echoed: ${JSON.stringify(bare(out))}`);
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'string.txt' }));
    assert.equal((await bodyOf(got)).toString(), text);
    // SDK v3 itself sends Content-Type application/octet-stream when none is given.
    assert.equal(got.ContentType, 'application/octet-stream');
    assert.equal(got.ContentLength, Buffer.byteLength(text));
    // With no Content-Type at all on the wire, S3 stores binary/octet-stream.
    const put = await s3Raw(srv.url, 'PUT', `/${B}/no-type.txt`, { body: text });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers.etag, `"${md5hex(text)}"`);
    const noType = await send(new HeadObjectCommand({ Bucket: B, Key: 'no-type.txt' }));
    assert.equal(noType.ContentType, 'binary/octet-stream');
  });

  it('a Buffer body with Content-Type, Cache-Control, Content-Disposition and user metadata: all stored and returned', T, async () => {
    const buf = bytes(70000, 'buffer');
    const out = await send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'buffer.bin',
        Body: buf,
        ContentType: 'application/x-test',
        CacheControl: 'max-age=60',
        ContentDisposition: 'attachment; filename="b.bin"',
        Metadata: { color: 'blue', 'multi-word': 'a b c' },
      }),
    );
    assert.equal(out.ETag, `"${md5hex(buf)}"`);
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'buffer.bin' }));
    assert.deepEqual(await bodyOf(got), buf);
    assert.equal(got.ContentType, 'application/x-test');
    assert.equal(got.CacheControl, 'max-age=60');
    assert.equal(got.ContentDisposition, 'attachment; filename="b.bin"');
    assert.deepEqual(got.Metadata, { color: 'blue', 'multi-word': 'a b c' });
    assert.equal(got.ETag, `"${md5hex(buf)}"`);
  });

  it('a Readable stream body goes aws-chunked with a trailing checksum and is stored decoded', T, async () => {
    const parts = [bytes(65536, 's1'), bytes(100000, 's2'), bytes(123, 's3')];
    const all = Buffer.concat(parts);
    const seen = {};
    const client = s3Client(srv.url);
    client.middlewareStack.add(
      (next) => async (args) => {
        Object.assign(seen, args.request.headers);
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'spyHeaders' },
    );
    try {
      const out = await client.send(new PutObjectCommand({ Bucket: B, Key: 'stream.bin', Body: Readable.from(parts), ContentLength: all.length, ContentType: 'application/octet-stream' }));
      assert.equal(out.ETag, `"${md5hex(all)}"`);
      assert.ok(out.ChecksumCRC32, 'no checksum echoed');
    } finally {
      client.destroy();
    }
    // The request really was aws-chunked with a trailer (else this test proves nothing).
    assert.match(seen['content-encoding'] ?? '', /aws-chunked/, JSON.stringify(seen));
    assert.equal(seen['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    assert.match(seen['x-amz-trailer'] ?? '', /^x-amz-checksum-/);
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'stream.bin' }));
    assert.deepEqual(await bodyOf(got), all);
    assert.equal(got.ContentLength, all.length);
    assert.equal(got.ContentEncoding, undefined, `aws-chunked leaked into the stored Content-Encoding: ${got.ContentEncoding}`);
  });

  it('a raw aws-chunked body: right trailer → 200 (stored decoded); wrong trailer checksum → 400 BadDigest; short → 400', T, async () => {
    const data = bytes(3000, 'raw-chunked');
    const frame = (trailerValue, decoded = data.length) => ({
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(decoded),
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'transfer-encoding': 'chunked',
      },
      body: Buffer.concat([
        Buffer.from('800\r\n'),
        data.subarray(0, 2048),
        Buffer.from(`\r\n${(data.length - 2048).toString(16)}\r\n`),
        data.subarray(2048),
        Buffer.from(`\r\n0\r\nx-amz-checksum-crc32:${trailerValue}\r\n\r\n`),
      ]),
    });
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(data));
    const good = await s3Raw(srv.url, 'PUT', `/${B}/raw-chunked.bin`, frame(crc.toString('base64')));
    assert.equal(good.status, 200, good.text);
    assert.equal(good.headers['x-amz-checksum-crc32'], crc.toString('base64'));
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'raw-chunked.bin' }));
    assert.ok((await bodyOf(got)).equals(data), 'the aws-chunked framing was stored');
    const bad = await s3Raw(srv.url, 'PUT', `/${B}/raw-chunked-bad.bin`, frame('AAAAAA=='));
    assertS3Err(bad, 'BadDigest', { status: 400 });
    const short = await s3Raw(srv.url, 'PUT', `/${B}/raw-chunked-bad.bin`, frame(crc.toString('base64'), data.length + 10));
    assert.equal(short.status, 400, short.text);
    await fails(send(new HeadObjectCommand({ Bucket: B, Key: 'raw-chunked-bad.bin' })), 'NotFound', { status: 404 });
  });

  it('If-None-Match "*" creates an absent key and refuses an existing one with 412 PreconditionFailed', T, async () => {
    const out = await send(new PutObjectCommand({ Bucket: B, Key: 'once.txt', Body: 'first', IfNoneMatch: '*' }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    await fails(send(new PutObjectCommand({ Bucket: B, Key: 'once.txt', Body: 'second', IfNoneMatch: '*' })), 'PreconditionFailed', { status: 412 });
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'once.txt' }));
    assert.equal((await bodyOf(got)).toString(), 'first');
  });

  it('ChecksumAlgorithm CRC32C: stored, echoed, and returned by GetObject with ChecksumMode ENABLED', T, async () => {
    const out = await send(new PutObjectCommand({ Bucket: B, Key: 'crc32c.txt', Body: 'castagnoli', ChecksumAlgorithm: 'CRC32C' }));
    // CRC-32C("castagnoli") computed independently below.
    assert.equal(out.ChecksumCRC32C, crc32cB64(Buffer.from('castagnoli')));
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'crc32c.txt', ChecksumMode: 'ENABLED' }));
    assert.equal((await bodyOf(got)).toString(), 'castagnoli');
    assert.equal(got.ChecksumCRC32C, out.ChecksumCRC32C);
  });

  it('ChecksumAlgorithm SHA256 (and a stream with SHA256 in the trailer): stored and echoed', T, async () => {
    const body = Buffer.from('sha two five six');
    const out = await send(new PutObjectCommand({ Bucket: B, Key: 'sha.txt', Body: body, ChecksumAlgorithm: 'SHA256' }));
    assert.equal(out.ChecksumSHA256, sha256b64(body));
    const streamed = bytes(200000, 'sha-stream');
    const out2 = await send(new PutObjectCommand({ Bucket: B, Key: 'sha-stream.bin', Body: Readable.from([streamed]), ContentLength: streamed.length, ChecksumAlgorithm: 'SHA256' }));
    assert.equal(out2.ChecksumSHA256, sha256b64(streamed));
    const got = await send(new HeadObjectCommand({ Bucket: B, Key: 'sha-stream.bin', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumSHA256, sha256b64(streamed));
  });

  it('a wrong x-amz-checksum-crc32 given explicitly → 400 BadDigest, nothing stored', T, async () => {
    await fails(send(new PutObjectCommand({ Bucket: B, Key: 'badcrc.txt', Body: 'payload', ChecksumCRC32: 'AAAAAA==' })), 'BadDigest', { status: 400 });
    await fails(send(new HeadObjectCommand({ Bucket: B, Key: 'badcrc.txt' })), 'NotFound', { status: 404 });
  });

  it('a wrong ChecksumSHA256 → 400 BadDigest', T, async () => {
    await fails(send(new PutObjectCommand({ Bucket: B, Key: 'badsha.txt', Body: 'payload', ChecksumSHA256: sha256b64(Buffer.from('other')) })), 'BadDigest', { status: 400 });
  });

  it('Content-MD5: right → 200; wrong → 400 BadDigest; malformed → 400 InvalidDigest', T, async () => {
    const body = 'md5 checked';
    const ok = await send(new PutObjectCommand({ Bucket: B, Key: 'md5.txt', Body: body, ContentMD5: md5b64(body) }));
    assert.equal(ok.ETag, `"${md5hex(body)}"`);
    await fails(send(new PutObjectCommand({ Bucket: B, Key: 'md5-bad.txt', Body: body, ContentMD5: md5b64('something else') })), 'BadDigest', { status: 400 });
    await fails(send(new PutObjectCommand({ Bucket: B, Key: 'md5-bad.txt', Body: body, ContentMD5: 'not-base64!' })), 'InvalidDigest', { status: 400 });
    await fails(send(new PutObjectCommand({ Bucket: B, Key: 'md5-bad.txt', Body: body, ContentMD5: Buffer.from('short').toString('base64') })), 'InvalidDigest', { status: 400 });
    await fails(send(new HeadObjectCommand({ Bucket: B, Key: 'md5-bad.txt' })), 'NotFound', { status: 404 });
  });

  it('a key of 1024 bytes is fine; 1025 bytes → 400 KeyTooLongError', T, async () => {
    const ok = 'k'.repeat(1024);
    await send(new PutObjectCommand({ Bucket: B, Key: ok, Body: 'long' }));
    assert.equal((await bodyOf(await send(new GetObjectCommand({ Bucket: B, Key: ok })))).toString(), 'long');
    await fails(send(new PutObjectCommand({ Bucket: B, Key: 'k'.repeat(1025), Body: 'x' })), 'KeyTooLongError', { status: 400 });
    // Multi-byte: 342 × "é" (2 bytes) = 684 bytes OK; 513 × "é" = 1026 bytes too long.
    await fails(send(new PutObjectCommand({ Bucket: B, Key: 'é'.repeat(513), Body: 'x' })), 'KeyTooLongError', { status: 400 });
  });

  it('overwriting a key replaces body, metadata and ETag', T, async () => {
    await send(new PutObjectCommand({ Bucket: B, Key: 'over.txt', Body: 'v1', Metadata: { v: '1' } }));
    await send(new PutObjectCommand({ Bucket: B, Key: 'over.txt', Body: 'version two' }));
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'over.txt' }));
    assert.equal((await bodyOf(got)).toString(), 'version two');
    assert.deepEqual(got.Metadata ?? {}, {});
    assert.equal(got.ETag, `"${md5hex('version two')}"`);
  });
});

// CRC-32C (Castagnoli), reflected, init/xorout all ones; base64 of the big-endian value.
function crc32cB64(buf) {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  c = (c ^ 0xffffffff) >>> 0;
  const out = Buffer.alloc(4);
  out.writeUInt32BE(c);
  return out.toString('base64');
}

// ====================================================================
// GetObject / HeadObject / DeleteObject
// ====================================================================

describe('GetObject, HeadObject, DeleteObject', () => {
  const B = 'sdk-get';
  const BODY = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
  let etag;
  before(async () => {
    await send(new CreateBucketCommand({ Bucket: B }));
    const out = await send(new PutObjectCommand({ Bucket: B, Key: 'obj.txt', Body: BODY, ContentType: 'text/plain', Metadata: { owner: 'tests' } }));
    etag = out.ETag;
  });

  it('GetObject: body, Content-Length, Content-Type, ETag (quoted MD5), Last-Modified, Accept-Ranges, metadata', T, async () => {
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt' }));
    assert.equal(got.$metadata.httpStatusCode, 200);
    assert.deepEqual(await bodyOf(got), BODY);
    assert.equal(got.ContentLength, BODY.length);
    assert.equal(got.ContentType, 'text/plain');
    assert.equal(got.ETag, `"${md5hex(BODY)}"`);
    assert.equal(got.ETag, etag);
    assert.ok(got.LastModified instanceof Date && Math.abs(got.LastModified.getTime() - Date.now()) < 60000, `LastModified ${got.LastModified}`);
    assert.equal(got.AcceptRanges, 'bytes');
    assert.deepEqual(got.Metadata, { owner: 'tests' });
  });

  it('HeadObject: the same headers, no body', T, async () => {
    const h = await send(new HeadObjectCommand({ Bucket: B, Key: 'obj.txt' }));
    assert.equal(h.$metadata.httpStatusCode, 200);
    assert.equal(h.ContentLength, BODY.length);
    assert.equal(h.ContentType, 'text/plain');
    assert.equal(h.ETag, etag);
    assert.deepEqual(h.Metadata, { owner: 'tests' });
    assert.ok(h.LastModified instanceof Date);
  });

  for (const [range, first, last] of [
    ['bytes=0-9', 0, 9],
    ['bytes=10-', 10, 35],
    ['bytes=-5', 31, 35],
    ['bytes=30-1000', 30, 35],
  ]) {
    it(`Range ${range} → 206 with Content-Range bytes ${first}-${last}/36`, T, async () => {
      const got = await send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', Range: range }));
      assert.equal(got.$metadata.httpStatusCode, 206);
      assert.equal(got.ContentRange, `bytes ${first}-${last}/${BODY.length}`);
      assert.equal(got.ContentLength, last - first + 1);
      assert.deepEqual(await bodyOf(got), BODY.subarray(first, last + 1));
    });
  }

  it('an unsatisfiable Range → 416 InvalidRange', T, async () => {
    await fails(send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', Range: 'bytes=100-200' })), 'InvalidRange', { status: 416 });
  });

  it('IfNoneMatch with the ETag → 304 (no body); with another ETag → 200', T, async () => {
    const err = await notModified(send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', IfNoneMatch: etag })));
    assert.equal(err.$metadata.httpStatusCode, 304);
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', IfNoneMatch: '"0123456789abcdef0123456789abcdef"' }));
    assert.equal(got.$metadata.httpStatusCode, 200);
    await bodyOf(got);
  });

  it('IfMatch with the ETag → 200; mismatch → 412 PreconditionFailed', T, async () => {
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', IfMatch: etag }));
    assert.deepEqual(await bodyOf(got), BODY);
    await fails(send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', IfMatch: '"0123456789abcdef0123456789abcdef"' })), 'PreconditionFailed', { status: 412 });
  });

  it('IfModifiedSince: its own Last-Modified → 304; an hour before → 200', T, async () => {
    const { LastModified } = await send(new HeadObjectCommand({ Bucket: B, Key: 'obj.txt' }));
    const err = await notModified(send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', IfModifiedSince: LastModified })));
    assert.equal(err.$metadata.httpStatusCode, 304);
    const earlier = new Date(Date.now() - 3600 * 1000);
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', IfModifiedSince: earlier }));
    assert.equal(got.$metadata.httpStatusCode, 200);
    await bodyOf(got);
  });

  it('IfUnmodifiedSince: an hour before the write → 412 PreconditionFailed; its own Last-Modified → 200', T, async () => {
    const earlier = new Date(Date.now() - 3600 * 1000);
    await fails(send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', IfUnmodifiedSince: earlier })), 'PreconditionFailed', { status: 412 });
    const { LastModified } = await send(new HeadObjectCommand({ Bucket: B, Key: 'obj.txt' }));
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt', IfUnmodifiedSince: LastModified }));
    assert.equal(got.$metadata.httpStatusCode, 200);
    await bodyOf(got);
  });

  it('HeadObject honours IfNoneMatch (304) and IfMatch (412) too', T, async () => {
    const err = await notModified(send(new HeadObjectCommand({ Bucket: B, Key: 'obj.txt', IfNoneMatch: etag })));
    assert.equal(err.$metadata.httpStatusCode, 304);
    const e2 = await send(new HeadObjectCommand({ Bucket: B, Key: 'obj.txt', IfMatch: '"nope"' })).then(
      (out) => assert.fail(`want 412, got ${out.$metadata.httpStatusCode}`),
      (err) => err,
    );
    assert.equal(e2.$metadata?.httpStatusCode, 412, `${e2.name}: ${e2.message}`);
  });

  it('ResponseContentType, ResponseContentDisposition, ResponseCacheControl override the stored headers', T, async () => {
    const got = await send(
      new GetObjectCommand({
        Bucket: B,
        Key: 'obj.txt',
        ResponseContentType: 'application/json',
        ResponseContentDisposition: 'attachment; filename="x.json"',
        ResponseCacheControl: 'no-cache',
      }),
    );
    assert.equal(got.ContentType, 'application/json');
    assert.equal(got.ContentDisposition, 'attachment; filename="x.json"');
    assert.equal(got.CacheControl, 'no-cache');
    assert.deepEqual(await bodyOf(got), BODY);
    // Not stored: a plain GET still answers the original type.
    const plain = await send(new GetObjectCommand({ Bucket: B, Key: 'obj.txt' }));
    assert.equal(plain.ContentType, 'text/plain');
    await bodyOf(plain);
  });

  it('a missing key → 404 NoSuchKey (code in the XML); HeadObject → 404 NotFound', T, async () => {
    const err = await fails(send(new GetObjectCommand({ Bucket: B, Key: 'missing.txt' })), 'NoSuchKey', { status: 404 });
    assert.equal(err.Code, 'NoSuchKey');
    await fails(send(new HeadObjectCommand({ Bucket: B, Key: 'missing.txt' })), 'NotFound', { status: 404 });
    const raw = await s3Raw(srv.url, 'GET', `/${B}/missing.txt`);
    assertS3Err(raw, 'NoSuchKey', { status: 404 });
    assert.match(raw.text, /<RequestId>[^<]+<\/RequestId>/, raw.text);
  });

  it('the NoSuchKey error names the key in <Key> (wire doc 6.4)', T, async () => {
    const raw = await s3Raw(srv.url, 'GET', `/${B}/missing.txt`);
    assertS3Err(raw, 'NoSuchKey', { status: 404 });
    assert.match(raw.text, /<Key>missing\.txt<\/Key>/, raw.text);
  });

  it('DeleteObject → 204; again (absent) → 204; then GetObject → 404', T, async () => {
    await send(new PutObjectCommand({ Bucket: B, Key: 'doomed.txt', Body: 'bye' }));
    const d1 = await send(new DeleteObjectCommand({ Bucket: B, Key: 'doomed.txt' }));
    assert.equal(d1.$metadata.httpStatusCode, 204);
    const d2 = await send(new DeleteObjectCommand({ Bucket: B, Key: 'doomed.txt' }));
    assert.equal(d2.$metadata.httpStatusCode, 204);
    const d3 = await send(new DeleteObjectCommand({ Bucket: B, Key: 'never-existed.txt' }));
    assert.equal(d3.$metadata.httpStatusCode, 204);
    await fails(send(new GetObjectCommand({ Bucket: B, Key: 'doomed.txt' })), 'NoSuchKey', { status: 404 });
  });
});

/** A 304 from the SDK is a rejection (no body); resolve it. */
async function notModified(promise) {
  try {
    const out = await promise;
    assert.fail(`want 304, got ${out.$metadata.httpStatusCode}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.equal(err.$metadata?.httpStatusCode, 304, `want 304, got ${err.name} ${err.$metadata?.httpStatusCode}: ${err.message}`);
    return err;
  }
}

// ====================================================================
// DeleteObjects, CopyObject
// ====================================================================

describe('DeleteObjects and CopyObject', () => {
  const B = 'sdk-batch';
  before(async () => {
    await send(new CreateBucketCommand({ Bucket: B }));
  });

  it('DeleteObjects (not quiet) lists every key as Deleted, including absent ones', T, async () => {
    await putAll(B, ['d/1', 'd/2', 'd/3 with space', 'd/ünï']);
    const out = await send(
      new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: ['d/1', 'd/2', 'd/3 with space', 'd/ünï', 'd/absent'].map((Key) => ({ Key })) } }),
    );
    assert.deepEqual((out.Deleted ?? []).map((d) => d.Key).sort(), ['d/1', 'd/2', 'd/3 with space', 'd/absent', 'd/ünï'].sort());
    assert.deepEqual(out.Errors ?? [], []);
    const left = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'd/' }));
    assert.deepEqual(keysOf(left), []);
  });

  it('DeleteObjects Quiet: an empty result, the keys gone; a key with XML specials works', T, async () => {
    await putAll(B, ['q/a', 'q/b&<c>"\'']);
    const out = await send(new DeleteObjectsCommand({ Bucket: B, Delete: { Quiet: true, Objects: [{ Key: 'q/a' }, { Key: 'q/b&<c>"\'' }] } }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.deepEqual(out.Deleted ?? [], []);
    assert.deepEqual(out.Errors ?? [], []);
    assert.deepEqual(keysOf(await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'q/' }))), []);
  });

  it('DeleteObjects with malformed XML (raw request) → 400 MalformedXML, and nothing is deleted', T, async () => {
    await putAll(B, ['m/keep']);
    for (const body of [
      '<Delete><Object><Key>m/keep</Key>',
      'not xml at all',
      '<Delete><Object><Key>m/keep</Key></Object><Object><Key>unclosed</Key>',
      '<Delete><Object><Key>m/keep</Key></Object><Object><NoKey/></Object></Delete>',
    ]) {
      const res = await s3Raw(srv.url, 'POST', `/${B}`, { query: { delete: '' }, body, headers: { 'content-md5': md5b64(body), 'content-type': 'application/xml' } });
      assertS3Err(res, 'MalformedXML', { status: 400, what: `body ${JSON.stringify(body)}` });
      const still = await s3Raw(srv.url, 'HEAD', `/${B}/m/keep`);
      assert.equal(still.status, 200, `DeleteObjects with body ${JSON.stringify(body)} answered 400 MalformedXML but deleted m/keep (HEAD → ${still.status})`);
    }
  });

  it('CopyObject (COPY directive): same body, ETag and metadata under the new key', T, async () => {
    const body = bytes(5000, 'copy');
    await send(new PutObjectCommand({ Bucket: B, Key: 'src.bin', Body: body, ContentType: 'image/png', Metadata: { from: 'src' } }));
    const out = await send(new CopyObjectCommand({ Bucket: B, Key: 'dst.bin', CopySource: `${B}/src.bin` }));
    assert.equal(out.CopyObjectResult?.ETag, `"${md5hex(body)}"`);
    assert.ok(out.CopyObjectResult?.LastModified instanceof Date);
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'dst.bin' }));
    assert.deepEqual(await bodyOf(got), body);
    assert.equal(got.ContentType, 'image/png');
    assert.deepEqual(got.Metadata, { from: 'src' });
  });

  it('CopyObject (REPLACE directive): new metadata and Content-Type, same bytes', T, async () => {
    await send(new CopyObjectCommand({ Bucket: B, Key: 'dst2.bin', CopySource: `${B}/src.bin`, MetadataDirective: 'REPLACE', ContentType: 'text/x-new', Metadata: { fresh: 'yes' } }));
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'dst2.bin' }));
    assert.equal(got.ContentType, 'text/x-new');
    assert.deepEqual(got.Metadata, { fresh: 'yes' });
    assert.deepEqual(await bodyOf(got), bytes(5000, 'copy'));
  });

  it('CopyObject across buckets with a source key containing spaces, unicode and +', T, async () => {
    await send(new CreateBucketCommand({ Bucket: 'sdk-batch-2' }));
    const key = 'dir with space/naïve ☃ +plus.txt';
    await send(new PutObjectCommand({ Bucket: B, Key: key, Body: 'snowman' }));
    await send(new CopyObjectCommand({ Bucket: 'sdk-batch-2', Key: 'copied.txt', CopySource: encodeURIComponent(`${B}/${key}`).replace(/%2F/g, '/') }));
    const got = await send(new GetObjectCommand({ Bucket: 'sdk-batch-2', Key: 'copied.txt' }));
    assert.equal((await bodyOf(got)).toString(), 'snowman');
    // And back onto a key with the same characters.
    await send(new CopyObjectCommand({ Bucket: B, Key: `${key}.copy`, CopySource: `sdk-batch-2/copied.txt` }));
    assert.equal((await bodyOf(await send(new GetObjectCommand({ Bucket: B, Key: `${key}.copy` })))).toString(), 'snowman');
  });

  it('CopyObject of a missing source → 404 NoSuchKey', T, async () => {
    await fails(send(new CopyObjectCommand({ Bucket: B, Key: 'x', CopySource: `${B}/no-such-source` })), 'NoSuchKey', { status: 404 });
  });
});

// ====================================================================
// listings
// ====================================================================

describe('ListObjectsV2 and ListObjects', () => {
  const B = 'sdk-list';
  const MANY = Array.from({ length: 25 }, (_, i) => `page/k${String(i).padStart(2, '0')}`);
  const TREE = ['a.txt', 'docs/guide.md', 'docs/img/logo.png', 'docs/intro.md', 'docs/zeta.md', 'src/main.c', 'src/util/x.c', 'top.txt'];
  const ODD = ['odd/with space.txt', 'odd/plus+sign.txt', 'odd/ünïcödé ☃.txt', 'odd/amp&lt.txt', 'odd/percent%20.txt'];
  before(async () => {
    await send(new CreateBucketCommand({ Bucket: B }));
    await putAll(B, [...MANY, ...TREE.map((k) => `tree/${k}`), ...ODD]);
  });

  it('Prefix: exactly the keys under it, in order, with Size, ETag, LastModified, StorageClass, KeyCount', T, async () => {
    const out = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'tree/' }));
    assert.deepEqual(keysOf(out), TREE.map((k) => `tree/${k}`));
    assert.equal(out.KeyCount, TREE.length);
    assert.equal(out.IsTruncated, false);
    assert.equal(out.Prefix, 'tree/');
    const c = out.Contents[0];
    assert.equal(c.Size, 1);
    assert.equal(c.ETag, `"${md5hex('x')}"`);
    assert.equal(c.StorageClass, 'STANDARD');
    assert.ok(c.LastModified instanceof Date);
  });

  it('Delimiter "/" rolls sub-folders up into CommonPrefixes', T, async () => {
    const out = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'tree/', Delimiter: '/' }));
    assert.deepEqual(keysOf(out), ['tree/a.txt', 'tree/top.txt']);
    assert.deepEqual(prefixesOf(out), ['tree/docs/', 'tree/src/']);
    assert.equal(out.KeyCount, 4);
    assert.equal(out.Delimiter, '/');
    const top = await send(new ListObjectsV2Command({ Bucket: B, Delimiter: '/' }));
    assert.deepEqual(keysOf(top), []);
    assert.deepEqual(prefixesOf(top), ['odd/', 'page/', 'tree/']);
  });

  it('MaxKeys 10 + ContinuationToken pages through 25 keys: 10, 10, 5, no duplicates or gaps', T, async () => {
    const seen = [];
    let token;
    const pages = [];
    for (let i = 0; i < 10; i++) {
      const out = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'page/', MaxKeys: 10, ContinuationToken: token }));
      pages.push(out.KeyCount);
      assert.equal(out.MaxKeys, 10);
      seen.push(...keysOf(out));
      if (token) assert.equal(out.ContinuationToken, token);
      if (!out.IsTruncated) {
        assert.equal(out.NextContinuationToken, undefined);
        break;
      }
      assert.ok(out.NextContinuationToken, 'truncated without a NextContinuationToken');
      token = out.NextContinuationToken;
    }
    assert.deepEqual(pages, [10, 10, 5]);
    assert.deepEqual(seen, MANY);
  });

  it('MaxKeys + ContinuationToken with a delimiter counts common prefixes as entries', T, async () => {
    const all = [];
    let token;
    for (let i = 0; i < 10; i++) {
      const out = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'tree/', Delimiter: '/', MaxKeys: 1, ContinuationToken: token }));
      assert.equal(out.KeyCount, 1);
      all.push(...keysOf(out), ...prefixesOf(out));
      if (!out.IsTruncated) break;
      token = out.NextContinuationToken;
    }
    assert.deepEqual(all, ['tree/a.txt', 'tree/docs/', 'tree/src/', 'tree/top.txt']);
  });

  it('StartAfter: keys strictly after it', T, async () => {
    const out = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'page/', StartAfter: 'page/k19' }));
    assert.deepEqual(keysOf(out), MANY.slice(20));
    assert.equal(out.StartAfter, 'page/k19');
    const none = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'page/', StartAfter: 'page/zzz' }));
    assert.deepEqual(keysOf(none), []);
    assert.equal(none.KeyCount, 0);
  });

  it('StartAfter inside a "folder" with a delimiter: the folder is still listed when later keys remain in it', T, async () => {
    const out = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'tree/', Delimiter: '/', StartAfter: 'tree/docs/guide.md' }));
    assert.deepEqual(prefixesOf(out), ['tree/docs/', 'tree/src/']);
    assert.deepEqual(keysOf(out), ['tree/top.txt']);
    // After the last key of the folder: the folder is not listed again.
    const past = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'tree/', Delimiter: '/', StartAfter: 'tree/docs/zeta.md' }));
    assert.deepEqual(prefixesOf(past), ['tree/src/']);
    assert.deepEqual(keysOf(past), ['tree/top.txt']);
  });

  it('EncodingType url: keys with spaces, unicode, + and % come back URL-encoded (and decode to the originals)', T, async () => {
    const out = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'odd/', EncodingType: 'url' }));
    assert.equal(out.EncodingType, 'url');
    const raw = keysOf(out);
    assert.equal(raw.length, ODD.length);
    for (const k of raw) assert.doesNotMatch(k, /[ +&\u0080-\uffff]/, `not URL-encoded: ${k}`);
    // unquote_plus, as botocore decodes it: '+' must therefore have been sent as %2B.
    const decoded = raw.map((k) => decodeURIComponent(k.replace(/\+/g, ' ')));
    assert.deepEqual(decoded.sort(), [...ODD].sort());
    assert.ok(raw.includes('odd/plus%2Bsign.txt'), `plus: ${raw}`);
    // Without EncodingType the keys are XML-escaped text, given back verbatim.
    const plain = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'odd/' }));
    assert.deepEqual(keysOf(plain).sort(), [...ODD].sort());
    assert.equal(plain.EncodingType, undefined);
  });

  it('EncodingType url also encodes Prefix and CommonPrefixes', T, async () => {
    await putAll(B, ['enc dir/sub one/a', 'enc dir/b']);
    const out = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'enc dir/', Delimiter: '/', EncodingType: 'url' }));
    assert.ok(['enc%20dir/', 'enc+dir/'].includes(out.Prefix), `Prefix ${out.Prefix}`);
    assert.equal(prefixesOf(out).length, 1);
    assert.equal(decodeURIComponent(prefixesOf(out)[0].replace(/\+/g, ' ')), 'enc dir/sub one/');
    assert.equal(decodeURIComponent(keysOf(out)[0].replace(/\+/g, ' ')), 'enc dir/b');
  });

  it('MaxKeys 0 → no keys, IsTruncated true', T, async () => {
    const out = await send(new ListObjectsV2Command({ Bucket: B, Prefix: 'page/', MaxKeys: 0 }));
    assert.deepEqual(keysOf(out), []);
    assert.equal(out.IsTruncated, true);
  });

  it('ListObjects (v1): Marker paging through 25 keys with MaxKeys 10', T, async () => {
    const seen = [];
    let marker;
    const pages = [];
    for (let i = 0; i < 10; i++) {
      const out = await send(new ListObjectsCommand({ Bucket: B, Prefix: 'page/', MaxKeys: 10, Marker: marker }));
      const keys = keysOf(out);
      pages.push(keys.length);
      seen.push(...keys);
      if (!out.IsTruncated) break;
      marker = out.NextMarker ?? keys[keys.length - 1];
    }
    assert.deepEqual(pages, [10, 10, 5]);
    assert.deepEqual(seen, MANY);
  });

  it('ListObjects (v1) with Delimiter and Marker', T, async () => {
    const out = await send(new ListObjectsCommand({ Bucket: B, Prefix: 'tree/', Delimiter: '/' }));
    assert.deepEqual(keysOf(out), ['tree/a.txt', 'tree/top.txt']);
    assert.deepEqual(prefixesOf(out), ['tree/docs/', 'tree/src/']);
    const after = await send(new ListObjectsCommand({ Bucket: B, Prefix: 'tree/', Marker: 'tree/docs/intro.md' }));
    assert.deepEqual(keysOf(after), ['tree/docs/zeta.md', 'tree/src/main.c', 'tree/src/util/x.c', 'tree/top.txt']);
    assert.equal(after.Marker, 'tree/docs/intro.md');
  });
});

// ====================================================================
// multipart
// ====================================================================

describe('multipart uploads', () => {
  const B = 'sdk-mpu';
  const PARTS = [bytes(5 * MiB, 'p1'), bytes(5 * MiB, 'p2'), bytes(5 * MiB, 'p3'), bytes(12345, 'p4')];
  before(async () => {
    await send(new CreateBucketCommand({ Bucket: B }));
  });

  it('Create → UploadPart ×4 (5 MiB ×3 + small last) → ListParts → ListMultipartUploads → Complete: "<md5>-4" ETag and exact bytes', LONG, async () => {
    const key = 'big/object.bin';
    const created = await send(new CreateMultipartUploadCommand({ Bucket: B, Key: key, ContentType: 'application/x-big', Metadata: { kind: 'mpu' } }));
    assert.ok(created.UploadId, 'no UploadId');
    assert.equal(created.Bucket, B);
    assert.equal(created.Key, key);
    const up = created.UploadId;
    const etags = [];
    for (let i = 0; i < PARTS.length; i++) {
      const out = await send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: up, PartNumber: i + 1, Body: PARTS[i] }));
      assert.equal(out.ETag, `"${md5hex(PARTS[i])}"`, `part ${i + 1} ETag`);
      etags.push(out.ETag);
    }
    const lp = await send(new ListPartsCommand({ Bucket: B, Key: key, UploadId: up }));
    assert.deepEqual(
      (lp.Parts ?? []).map((p) => [p.PartNumber, p.ETag, p.Size]),
      PARTS.map((p, i) => [i + 1, etags[i], p.length]),
    );
    assert.equal(lp.UploadId, up);
    const lu = await send(new ListMultipartUploadsCommand({ Bucket: B }));
    assert.ok((lu.Uploads ?? []).some((u) => u.UploadId === up && u.Key === key), `upload not listed: ${JSON.stringify(lu.Uploads)}`);
    const done = await send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: key,
        UploadId: up,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    assert.equal(done.ETag, multipartEtag(PARTS));
    assert.match(done.ETag, /^"[0-9a-f]{32}-4"$/);
    assert.equal(done.Key, key);
    const got = await send(new GetObjectCommand({ Bucket: B, Key: key }));
    const body = await bodyOf(got);
    assert.equal(body.length, PARTS.reduce((n, p) => n + p.length, 0));
    assert.ok(body.equals(Buffer.concat(PARTS)), 'GetObject of the completed upload differs from the parts');
    assert.equal(got.ETag, done.ETag);
    assert.equal(got.ContentType, 'application/x-big');
    assert.deepEqual(got.Metadata, { kind: 'mpu' });
    const after = await send(new ListMultipartUploadsCommand({ Bucket: B }));
    assert.ok(!(after.Uploads ?? []).some((u) => u.UploadId === up), 'completed upload still listed');
    // A Range over a part boundary.
    const r = await send(new GetObjectCommand({ Bucket: B, Key: key, Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` }));
    assert.ok((await bodyOf(r)).equals(Buffer.concat(PARTS).subarray(5 * MiB - 10, 5 * MiB + 10)));
  });

  it('three parts (5 MiB, 5 MiB, small): the "<md5>-3" ETag form', LONG, async () => {
    const parts = [PARTS[0], PARTS[1], PARTS[3]];
    const key = 'three.bin';
    const { UploadId } = await send(new CreateMultipartUploadCommand({ Bucket: B, Key: key }));
    const etags = [];
    for (let i = 0; i < 3; i++) etags.push((await send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: i + 1, Body: parts[i] }))).ETag);
    const done = await send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    assert.equal(done.ETag, multipartEtag(parts));
    assert.match(done.ETag, /-3"$/);
    const h = await send(new HeadObjectCommand({ Bucket: B, Key: key }));
    assert.equal(h.ContentLength, parts.reduce((n, p) => n + p.length, 0));
    assert.equal(h.ETag, done.ETag);
  });

  it('AbortMultipartUpload → 204; the upload is gone (ListParts → NoSuchUpload) and no object appears', T, async () => {
    const key = 'aborted.bin';
    const { UploadId } = await send(new CreateMultipartUploadCommand({ Bucket: B, Key: key }));
    await send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: 1, Body: 'part one' }));
    const out = await send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId }));
    assert.equal(out.$metadata.httpStatusCode, 204);
    await fails(send(new ListPartsCommand({ Bucket: B, Key: key, UploadId })), 'NoSuchUpload', { status: 404 });
    await fails(send(new HeadObjectCommand({ Bucket: B, Key: key })), 'NotFound', { status: 404 });
    const lu = await send(new ListMultipartUploadsCommand({ Bucket: B }));
    assert.ok(!(lu.Uploads ?? []).some((u) => u.UploadId === UploadId));
  });

  it('a part under 5 MiB that is not the last → 400 EntityTooSmall at Complete', LONG, async () => {
    const key = 'small.bin';
    const { UploadId } = await send(new CreateMultipartUploadCommand({ Bucket: B, Key: key }));
    const e1 = (await send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: 1, Body: 'tiny' }))).ETag;
    const e2 = (await send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: 2, Body: 'also tiny' }))).ETag;
    await fails(
      send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: [{ ETag: e1, PartNumber: 1 }, { ETag: e2, PartNumber: 2 }] } })),
      'EntityTooSmall',
      { status: 400 },
    );
    await fails(send(new HeadObjectCommand({ Bucket: B, Key: key })), 'NotFound', { status: 404 });
    await send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId }));
  });

  it('a wrong part ETag → 400 InvalidPart; an unknown UploadId → 404 NoSuchUpload', T, async () => {
    const key = 'wrong.bin';
    const { UploadId } = await send(new CreateMultipartUploadCommand({ Bucket: B, Key: key }));
    await send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: 1, Body: 'only part' }));
    await fails(
      send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: [{ ETag: '"0123456789abcdef0123456789abcdef"', PartNumber: 1 }] } })),
      'InvalidPart',
      { status: 400 },
    );
    await fails(
      send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: [{ ETag: `"${md5hex('only part')}"`, PartNumber: 7 }] } })),
      'InvalidPart',
      { status: 400 },
    );
    await fails(send(new UploadPartCommand({ Bucket: B, Key: key, UploadId: 'no-such-upload-id', PartNumber: 1, Body: 'x' })), 'NoSuchUpload', { status: 404 });
    // The upload is still usable after the refusals.
    const ok = await send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: [{ ETag: `"${md5hex('only part')}"`, PartNumber: 1 }] } }));
    assert.equal(ok.ETag, multipartEtag([Buffer.from('only part')]));
    assert.equal((await bodyOf(await send(new GetObjectCommand({ Bucket: B, Key: key })))).toString(), 'only part');
  });
});

// ====================================================================
// refusals
// ====================================================================

describe('unsupported operations and bad input', () => {
  const B = 'sdk-bad';
  before(async () => {
    await send(new CreateBucketCommand({ Bucket: B }));
  });

  it('PutBucketTagging and GetBucketAcl → 501 NotImplemented (S3 XML error shape)', T, async () => {
    await fails(send(new PutBucketTaggingCommand({ Bucket: B, Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } })), 'NotImplemented', { status: 501 });
    await fails(send(new GetBucketAclCommand({ Bucket: B })), 'NotImplemented', { status: 501 });
    const raw = await s3Raw(srv.url, 'GET', `/${B}`, { query: { acl: '' } });
    assertS3Err(raw, 'NotImplemented', { status: 501 });
    assert.match(raw.text, /<RequestId>[^<]+<\/RequestId>/, raw.text);
  });

  it('an unsigned PUT (plain fetch) is not accepted: 405 from the website route, nothing stored', T, async () => {
    const res = await fetch(`${srv.url}/${B}/unsigned.txt`, { method: 'PUT', body: 'sneaky' });
    assert.equal(res.status, 405, await res.text());
    await fails(send(new HeadObjectCommand({ Bucket: B, Key: 'unsigned.txt' })), 'NotFound', { status: 404 });
  });

  it('wrong credentials → 403 (InvalidAccessKeyId / SignatureDoesNotMatch)', T, async () => {
    const bad = s3Client(srv.url, { accessKeyId: ROOT_CREDENTIALS.accessKeyId, secretAccessKey: 'x'.repeat(40) });
    try {
      await fails(bad.send(new ListBucketsCommand({})), 'SignatureDoesNotMatch', { status: 403 });
    } finally {
      bad.destroy();
    }
    const unknown = s3Client(srv.url, { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x'.repeat(40) });
    try {
      await fails(unknown.send(new ListBucketsCommand({})), 'InvalidAccessKeyId', { status: 403 });
    } finally {
      unknown.destroy();
    }
  });
});

// ====================================================================
// presigned URLs
// ====================================================================

describe('presigned URLs', () => {
  const B = 'sdk-presign';
  before(async () => {
    await send(new CreateBucketCommand({ Bucket: B }));
    await send(new PutObjectCommand({ Bucket: B, Key: 'shared file.txt', Body: 'presigned content', ContentType: 'text/plain' }));
  });

  it('presigned GET: fetch → 200 with the body and headers', T, async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'shared file.txt' }), { expiresIn: 300 });
    assert.match(url, /X-Amz-Signature=/);
    const res = await fetch(url);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(await res.text(), 'presigned content');
    assert.equal(res.headers.get('content-type'), 'text/plain');
    assert.equal(res.headers.get('etag'), `"${md5hex('presigned content')}"`);
  });

  it('presigned GET with ResponseContentDisposition', T, async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'shared file.txt', ResponseContentDisposition: 'attachment; filename="dl.txt"' }), { expiresIn: 300 });
    const res = await fetch(url);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="dl.txt"');
    await res.arrayBuffer();
  });

  it('presigned PUT: fetch PUT → 200, then GetObject returns what was uploaded', T, async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: 'uploaded/via presign.bin' }), { expiresIn: 300 });
    const body = bytes(30000, 'presigned-put');
    const res = await fetch(url, { method: 'PUT', body });
    assert.equal(res.status, 200, `presigned PUT (${url}): ${await res.clone().text()}`);
    assert.equal(res.headers.get('etag'), `"${md5hex(body)}"`);
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'uploaded/via presign.bin' }));
    assert.ok((await bodyOf(got)).equals(body));
    // The same URL, fetched with GET, is a different canonical request.
    const asGet = await fetch(url);
    assert.equal(asGet.status, 403, await asGet.clone().text());
    await asGet.arrayBuffer();
  });

  it('presigned PUT with a ContentType signed into it', T, async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: 'typed.json', ContentType: 'application/json' }), { expiresIn: 300, signableHeaders: new Set(['content-type']) });
    const res = await fetch(url, { method: 'PUT', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200, await res.clone().text());
    const got = await send(new GetObjectCommand({ Bucket: B, Key: 'typed.json' }));
    assert.equal(got.ContentType, 'application/json');
    assert.equal((await bodyOf(got)).toString(), '{"a":1}');
  });

  it('an expired presigned URL (expiresIn 1, 2 s later) → 403 AccessDenied "Request has expired"', T, async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'shared file.txt' }), { expiresIn: 1 });
    await sleep(2100);
    const res = await fetch(url);
    const text = await res.text();
    assert.equal(res.status, 403, text);
    assert.match(text, /<Code>AccessDenied<\/Code>/, text);
    assert.match(text, /<Message>Request has expired<\/Message>/, text);
  });

  it('a tampered presigned URL → 403 SignatureDoesNotMatch', T, async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'shared file.txt' }), { expiresIn: 300 });
    // Another key under the same signature.
    const otherKey = url.replace('shared%20file.txt', 'uploaded/via%20presign.bin');
    assert.notEqual(otherKey, url);
    // A flipped signature character.
    const u = new URL(url);
    const sig = u.searchParams.get('X-Amz-Signature');
    u.searchParams.set('X-Amz-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    // A longer expiry than was signed.
    const longer = url.replace(/X-Amz-Expires=300/, 'X-Amz-Expires=600');
    assert.notEqual(longer, url);
    for (const [what, bad] of [
      ['other key', otherKey],
      ['flipped signature', u.toString()],
      ['changed expiry', longer],
    ]) {
      const res = await fetch(bad);
      const text = await res.text();
      assert.equal(res.status, 403, `${what}: ${text}`);
      assert.match(text, /<Code>SignatureDoesNotMatch<\/Code>/, `${what}: ${text}`);
    }
  });

  it('presigned URL for a missing key → 404 NoSuchKey', T, async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'nope.txt' }), { expiresIn: 300 });
    const res = await fetch(url);
    const text = await res.text();
    assert.equal(res.status, 404, text);
    assert.match(text, /<Code>NoSuchKey<\/Code>/);
  });
});
