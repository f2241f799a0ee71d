// s3-config.test.mjs - bucket configurations with @aws-sdk/client-s3: CORS
// (stored, returned, and answered by the bucket's rules), website (stored,
// served at http://<bucket>.<host>/ with index and error documents and a
// routing rule), and a bucket policy that makes objects publicly readable
// (and nothing else), plus the EntityTooLarge limit.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  DeleteBucketPolicyCommand,
  GetBucketCorsCommand,
  GetBucketPolicyCommand,
  GetBucketWebsiteCommand,
  PutBucketCorsCommand,
  PutBucketPolicyCommand,
  PutBucketWebsiteCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { request, startServer } from './helpers.mjs';
import { ROOT_ENV, fails, s3Client } from './s3-helpers.mjs';

describe('bucket CORS, website and policy', () => {
  let server;
  let s3;
  before(async () => {
    server = await startServer({ env: ROOT_ENV, config: { limits: { maxBodyBytes: 65536 } } });
    s3 = s3Client(server.url);
    await s3.send(new CreateBucketCommand({ Bucket: 'pub' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'priv' }));
    for (const [Key, Body] of [['index.html', '<h1>pub</h1>'], ['err.html', 'custom error'], ['docs/index.html', 'docs'], ['a.txt', 'A']]) {
      await s3.send(new PutObjectCommand({ Bucket: 'pub', Key, Body, ContentType: Key.endsWith('.html') ? 'text/html' : 'text/plain' }));
    }
    await s3.send(new PutObjectCommand({ Bucket: 'priv', Key: 'secret.txt', Body: 'secret' }));
  });
  after(async () => server && (await server.stop()));

  it('CORS: absent → NoSuchCORSConfiguration; put, get back, delete', async () => {
    await fails(s3.send(new GetBucketCorsCommand({ Bucket: 'pub' })), 'NoSuchCORSConfiguration', { status: 404 });
    await s3.send(new PutBucketCorsCommand({
      Bucket: 'pub',
      CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['https://app.example'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 120 }] },
    }));
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: 'pub' }));
    assert.deepEqual(got.CORSRules[0].AllowedOrigins, ['https://app.example']);
    assert.deepEqual(got.CORSRules[0].AllowedMethods, ['GET', 'PUT']);
    assert.equal(got.CORSRules[0].MaxAgeSeconds, 120);
  });

  it('CORS: a preflight is answered by the bucket rules; other origins and methods are refused', async () => {
    const ok = await request(server.url, '/pub/x.txt', {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type, x-amz-date' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(ok.headers['access-control-allow-methods'], 'PUT');
    assert.equal(ok.headers['access-control-max-age'], '120');
    assert.equal(ok.headers['access-control-expose-headers'], 'ETag');
    for (const [origin, method] of [['https://evil.example', 'PUT'], ['https://app.example', 'DELETE']]) {
      const no = await request(server.url, '/pub/x.txt', { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': method } });
      assert.equal(no.status, 403, `${origin} ${method}`);
      assert.equal(no.headers['access-control-allow-origin'], undefined);
    }
    // A bucket without rules keeps the permissive development default.
    const dflt = await request(server.url, '/priv/x', { method: 'OPTIONS', headers: { Origin: 'https://any.example', 'Access-Control-Request-Method': 'GET' } });
    assert.equal(dflt.status, 204);
    assert.equal(dflt.headers['access-control-allow-origin'], 'https://any.example');
  });

  it('CORS: malformed rules → MalformedXML; delete → NoSuchCORSConfiguration again', async () => {
    await s3.send(new DeleteBucketCorsCommand({ Bucket: 'pub' }));
    await fails(s3.send(new GetBucketCorsCommand({ Bucket: 'pub' })), 'NoSuchCORSConfiguration', { status: 404 });
  });

  it('website: put and get back; served at <bucket>.localhost with index, error document and a routing rule', async () => {
    await fails(s3.send(new GetBucketWebsiteCommand({ Bucket: 'pub' })), 'NoSuchWebsiteConfiguration', { status: 404 });
    await s3.send(new PutBucketWebsiteCommand({
      Bucket: 'pub',
      WebsiteConfiguration: {
        IndexDocument: { Suffix: 'index.html' },
        ErrorDocument: { Key: 'err.html' },
        RoutingRules: [{ Condition: { KeyPrefixEquals: 'old/' }, Redirect: { ReplaceKeyPrefixWith: 'docs/' } }],
      },
    }));
    const got = await s3.send(new GetBucketWebsiteCommand({ Bucket: 'pub' }));
    assert.equal(got.IndexDocument.Suffix, 'index.html');
    assert.equal(got.ErrorDocument.Key, 'err.html');
    const host = `pub.localhost:${server.port}`;
    const root = await request(server.url, '/', { headers: { Host: host } });
    assert.equal(root.status, 200);
    assert.equal(root.body.toString(), '<h1>pub</h1>');
    const docs = await request(server.url, '/docs/', { headers: { Host: host } });
    assert.equal(docs.body.toString(), 'docs');
    const missing = await request(server.url, '/nope.html', { headers: { Host: host } });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.toString(), 'custom error');
    const moved = await request(server.url, '/old/page.html', { headers: { Host: host } });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.location, '/docs/page.html');
    // A bucket without a website configuration is not a website.
    const plain = await request(server.url, '/', { headers: { Host: `priv.localhost:${server.port}` } });
    assert.notEqual(plain.body.toString(), 'secret');
  });

  it('policy: public read of one bucket only, GetObject only', async () => {
    // Without a policy the object is not readable unsigned.
    assert.notEqual((await request(server.url, '/pub/a.txt')).status, 200);
    await fails(s3.send(new GetBucketPolicyCommand({ Bucket: 'pub' })), 'NoSuchBucketPolicy', { status: 404 });
    const policy = { Version: '2012-10-17', Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::pub/*' }] };
    await s3.send(new PutBucketPolicyCommand({ Bucket: 'pub', Policy: JSON.stringify(policy) }));
    assert.deepEqual(JSON.parse((await s3.send(new GetBucketPolicyCommand({ Bucket: 'pub' }))).Policy), policy);
    const pub = await request(server.url, '/pub/a.txt');
    assert.equal(pub.status, 200);
    assert.equal(pub.body.toString(), 'A');
    // Other buckets stay private; writes still need a signature.
    assert.notEqual((await request(server.url, '/priv/secret.txt')).body.toString(), 'secret');
    assert.equal((await request(server.url, '/pub/a.txt', { method: 'PUT', body: 'x' })).status, 405);
    // A malformed policy is refused; deleting the policy makes the bucket private again.
    await fails(s3.send(new PutBucketPolicyCommand({ Bucket: 'pub', Policy: '{"Statement": [{"Effect": "Maybe"}]}' })), 'MalformedPolicy', { status: 400 });
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: 'pub' }));
    assert.notEqual((await request(server.url, '/pub/a.txt')).status, 200);
  });

  it('a body over limits.maxBodyBytes → 413 EntityTooLarge', async () => {
    await fails(s3.send(new PutObjectCommand({ Bucket: 'priv', Key: 'big', Body: Buffer.alloc(70000, 1) })), 'EntityTooLarge', { status: 413 });
  });
});
