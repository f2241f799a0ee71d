// s3-policy.test.mjs - the per-user S3 policy of the default role, proven with
// two users: with no cloudlet.json, two users sign up (confirmed with the
// outbox code) and log in to the default user pool, get identity-pool
// credentials with fromCognitoIdentityPool (the default identity pool of
// /.well-known/cloudlet.json, role cloudlet-authenticated), and root creates
// the bucket "uploads". Each user may put, get, delete and list under
// uploads/<own identity id>/ only: the other user's prefix, a listing without
// (or with another) prefix, and every other bucket are 403 AccessDenied.
// The behaviour asserted is the one of issue 5 ("Tests") and notes/sts-spec.md.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  HeadBucketCommand,
  CreateBucketCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  ListBucketsCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startServer, request } from './helpers.mjs';
import { IDENTITY_ID_RE, makeUser, poolCredentials, loginsFor, signing } from './sts-helpers.mjs';
import { ROOT_ENV, s3Client, fails, bodyOf } from './s3-helpers.mjs';

const T = { timeout: 30000 };
const B = 'uploads';

describe('per-user prefixes in bucket "uploads" (default role cloudlet-authenticated)', () => {
  let srv;
  let root;
  let doc;
  const users = {}; // name -> {user, creds, id, s3}

  before(async () => {
    srv = await startServer({ env: ROOT_ENV });
    const res = await request(srv.url, '/.well-known/cloudlet.json');
    assert.equal(res.status, 200, res.text);
    doc = JSON.parse(res.text);
    root = s3Client(srv.url);
    // With the default role the server makes bucket "uploads" at start.
    await root.send(new HeadBucketCommand({ Bucket: B }));
    await root.send(new CreateBucketCommand({ Bucket: 'site' }));
    await root.send(new PutObjectCommand({ Bucket: 'site', Key: 'index.html', Body: '<h1>site</h1>' }));
    for (const name of ['A', 'B']) {
      const user = await makeUser(srv, { clientId: doc.userPoolClientId, prefix: `S3${name}` });
      const creds = await poolCredentials(srv.url, doc.identityPoolId, loginsFor(doc.userPoolId, user.idToken));
      assert.match(creds.identityId ?? '', IDENTITY_ID_RE, `identity id of ${name}: ${creds.identityId}`);
      users[name] = { user, creds, id: creds.identityId, s3: s3Client(srv.url, signing(creds)) };
    }
    assert.notEqual(users.A.id, users.B.id, 'the two users got the same identity id');
  }, { timeout: 60000 });
  after(async () => {
    for (const u of Object.values(users)) u.s3?.destroy();
    root?.destroy();
    await srv?.stop();
  });

  for (const [me, other] of [
    ['A', 'B'],
    ['B', 'A'],
  ]) {
    const mine = (k) => `${users[me].id}/${k}`;
    const theirs = (k) => `${users[other].id}/${k}`;
    const s3 = () => users[me].s3;

    it(`user ${me}: PutObject / GetObject / HeadObject under uploads/<own identity id>/`, T, async () => {
      const put = await s3().send(new PutObjectCommand({ Bucket: B, Key: mine('photo.jpg'), Body: `${me}'s photo`, ContentType: 'image/jpeg' }));
      assert.equal(put.$metadata.httpStatusCode, 200);
      await s3().send(new PutObjectCommand({ Bucket: B, Key: mine('nested/deeper/note.txt'), Body: 'nested' }));
      const got = await s3().send(new GetObjectCommand({ Bucket: B, Key: mine('photo.jpg') }));
      assert.equal((await bodyOf(got)).toString(), `${me}'s photo`);
      const head = await s3().send(new HeadObjectCommand({ Bucket: B, Key: mine('photo.jpg') }));
      assert.equal(head.ContentType, 'image/jpeg');
      // Root sees it where the user put it.
      const asRoot = await root.send(new GetObjectCommand({ Bucket: B, Key: mine('photo.jpg') }));
      assert.equal((await bodyOf(asRoot)).toString(), `${me}'s photo`);
    });

    it(`user ${me}: ListObjectsV2 with Prefix "<own identity id>/" lists exactly the own keys`, T, async () => {
      const out = await s3().send(new ListObjectsV2Command({ Bucket: B, Prefix: `${users[me].id}/` }));
      const keys = (out.Contents ?? []).map((c) => c.Key);
      assert.ok(keys.includes(mine('photo.jpg')) && keys.includes(mine('nested/deeper/note.txt')), JSON.stringify(keys));
      assert.ok(keys.every((k) => k.startsWith(`${users[me].id}/`)), JSON.stringify(keys));
      const sub = await s3().send(new ListObjectsV2Command({ Bucket: B, Prefix: `${users[me].id}/nested/`, Delimiter: '/' }));
      assert.deepEqual((sub.CommonPrefixes ?? []).map((p) => p.Prefix), [mine('nested/deeper/')]);
    });

    it(`user ${me}: DeleteObject of an own key → 204`, T, async () => {
      await s3().send(new PutObjectCommand({ Bucket: B, Key: mine('temp.txt'), Body: 'temp' }));
      const d = await s3().send(new DeleteObjectCommand({ Bucket: B, Key: mine('temp.txt') }));
      assert.equal(d.$metadata.httpStatusCode, 204);
      await fails(s3().send(new GetObjectCommand({ Bucket: B, Key: mine('temp.txt') })), 'NoSuchKey', { status: 404 });
    });

    it(`user ${me}: PutObject / GetObject / DeleteObject under ${other}'s prefix → 403 AccessDenied`, T, async () => {
      // Make sure the other user's object exists (whichever order the tests ran in).
      await root.send(new PutObjectCommand({ Bucket: B, Key: theirs('private.txt'), Body: `${other}'s secret` }));
      await fails(s3().send(new PutObjectCommand({ Bucket: B, Key: theirs('photo.jpg'), Body: 'overwrite!' })), 'AccessDenied', { status: 403, what: 'put into the other prefix' });
      await fails(s3().send(new PutObjectCommand({ Bucket: B, Key: theirs('new.txt'), Body: 'intrusion' })), 'AccessDenied', { status: 403, what: 'create in the other prefix' });
      await fails(s3().send(new GetObjectCommand({ Bucket: B, Key: theirs('private.txt') })), 'AccessDenied', { status: 403, what: 'get from the other prefix' });
      await fails(s3().send(new DeleteObjectCommand({ Bucket: B, Key: theirs('private.txt') })), 'AccessDenied', { status: 403, what: 'delete in the other prefix' });
      // Nothing changed.
      const still = await root.send(new GetObjectCommand({ Bucket: B, Key: theirs('private.txt') }));
      assert.equal((await bodyOf(still)).toString(), `${other}'s secret`);
      await fails(root.send(new HeadObjectCommand({ Bucket: B, Key: theirs('new.txt') })), 'NotFound', { status: 404 });
    });

    it(`user ${me}: keys that only look like the own prefix → 403 (bucket root, the bare id, a longer id)`, T, async () => {
      await fails(s3().send(new PutObjectCommand({ Bucket: B, Key: 'at-the-root.txt', Body: 'x' })), 'AccessDenied', { status: 403 });
      await fails(s3().send(new PutObjectCommand({ Bucket: B, Key: users[me].id, Body: 'x' })), 'AccessDenied', { status: 403 });
      await fails(s3().send(new PutObjectCommand({ Bucket: B, Key: `${users[me].id}x/f.txt`, Body: 'x' })), 'AccessDenied', { status: 403 });
    });

    it(`user ${me}: ListObjectsV2 without a prefix, with ${other}'s prefix, or a prefix of the own id → 403 AccessDenied`, T, async () => {
      await fails(s3().send(new ListObjectsV2Command({ Bucket: B })), 'AccessDenied', { status: 403, what: 'list without prefix' });
      await fails(s3().send(new ListObjectsV2Command({ Bucket: B, Prefix: `${users[other].id}/` })), 'AccessDenied', { status: 403, what: 'list other prefix' });
      await fails(s3().send(new ListObjectsV2Command({ Bucket: B, Prefix: 'us-east-1:' })), 'AccessDenied', { status: 403, what: 'list a shared prefix' });
    });

    it(`user ${me}: any other bucket (site), ListBuckets and CreateBucket → 403 AccessDenied`, T, async () => {
      await fails(s3().send(new GetObjectCommand({ Bucket: 'site', Key: 'index.html' })), 'AccessDenied', { status: 403 });
      await fails(s3().send(new PutObjectCommand({ Bucket: 'site', Key: 'index.html', Body: 'defaced' })), 'AccessDenied', { status: 403 });
      await fails(s3().send(new PutObjectCommand({ Bucket: 'site', Key: mine('x.txt'), Body: 'x' })), 'AccessDenied', { status: 403 });
      await fails(s3().send(new ListObjectsV2Command({ Bucket: 'site', Prefix: `${users[me].id}/` })), 'AccessDenied', { status: 403 });
      await fails(s3().send(new ListBucketsCommand({})), 'AccessDenied', { status: 403 });
      await fails(s3().send(new CreateBucketCommand({ Bucket: `mine-${me.toLowerCase()}` })), 'AccessDenied', { status: 403 });
      const home = await request(srv.url, '/');
      assert.equal(home.text, '<h1>site</h1>', 'the website changed');
    });

    it(`user ${me}: CopyObject from ${other}'s prefix into the own prefix → 403 (the source is not readable)`, T, async () => {
      await fails(
        s3().send(new CopyObjectCommand({ Bucket: B, Key: mine('stolen.txt'), CopySource: `${B}/${theirs('private.txt')}` })),
        'AccessDenied',
        { status: 403 },
      );
      await fails(root.send(new HeadObjectCommand({ Bucket: B, Key: mine('stolen.txt') })), 'NotFound', { status: 404 });
    });

    it(`user ${me}: a multipart upload into ${other}'s prefix → 403`, T, async () => {
      await fails(s3().send(new CreateMultipartUploadCommand({ Bucket: B, Key: theirs('big.bin') })), 'AccessDenied', { status: 403 });
    });

    it(`user ${me}: a presigned GET made with the user's credentials works for the own key, not for ${other}'s`, T, async () => {
      const good = await getSignedUrl(s3(), new GetObjectCommand({ Bucket: B, Key: mine('photo.jpg') }), { expiresIn: 300 });
      assert.match(good, /X-Amz-Security-Token=/);
      const res = await fetch(good);
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(await res.text(), `${me}'s photo`);
      const bad = await getSignedUrl(s3(), new GetObjectCommand({ Bucket: B, Key: theirs('private.txt') }), { expiresIn: 300 });
      const res2 = await fetch(bad);
      const text = await res2.text();
      assert.equal(res2.status, 403, text);
      assert.match(text, /<Code>AccessDenied<\/Code>/);
    });
  }

  it('root still reads and lists everything', T, async () => {
    const out = await root.send(new ListObjectsV2Command({ Bucket: B }));
    const keys = (out.Contents ?? []).map((c) => c.Key);
    assert.ok(keys.some((k) => k.startsWith(`${users.A.id}/`)), JSON.stringify(keys));
    assert.ok(keys.some((k) => k.startsWith(`${users.B.id}/`)), JSON.stringify(keys));
  });
});
