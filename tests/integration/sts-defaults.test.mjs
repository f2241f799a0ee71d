// sts-defaults.test.mjs - identity pools and STS with no cloudlet.json at all:
// /.well-known/cloudlet.json advertises the default identity pool (made at
// first start, over the default user pool and client, with the role
// cloudlet-authenticated and no guests); its credentials work with
// GetCallerIdentity; the default role trusts the default user pool for
// AssumeRoleWithWebIdentity; and the identity pool id, identity ids and
// outstanding temporary credentials survive a restart on the same data dir.
// The behaviour asserted is the one in notes/sts-spec.md.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ci from '@aws-sdk/client-cognito-identity';
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { request } from './helpers.mjs';
import {
  ACCOUNT,
  ROOT_ENV,
  ROOT_CREDENTIALS,
  IDENTITY_ID_RE,
  IDP_SESSION,
  roleArn,
  assumedRoleArn,
  providerName,
  loginsFor,
  identityClient,
  stsClient,
  fails,
  makeUser,
  poolCredentials,
  signing,
  fromStsCredentials,
  callerIdentity,
  assertTempCredentials,
  serveOn,
} from './sts-helpers.mjs';

const T = { timeout: 30000 };
const LONG = { timeout: 90000 };
const ROLE = 'cloudlet-authenticated';

describe('no config: the default identity pool and role', () => {
  let root;
  let dataDir;
  let srv;
  let doc;
  let user;
  let identityId;
  let creds;

  before(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudlet-it-sts-defaults-'));
    dataDir = path.join(root, 'data');
    await fsp.mkdir(dataDir);
    srv = await serveOn(dataDir, { env: ROOT_ENV });
  });
  after(async () => {
    await srv?.stop();
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });

  it('/.well-known/cloudlet.json has identityPoolId (region:uuid) next to the user pool and client', T, async () => {
    const res = await request(srv.url, '/.well-known/cloudlet.json');
    assert.equal(res.status, 200, res.text);
    doc = JSON.parse(res.text);
    assert.match(doc.identityPoolId ?? '', IDENTITY_ID_RE, `identityPoolId in ${res.text}`);
    assert.ok(doc.userPoolId && doc.userPoolClientId, res.text);
    assert.equal(doc.region, 'us-east-1');
  });

  it('DescribeIdentityPool / GetIdentityPoolRoles (root): the default user pool and client, no guests, role cloudlet-authenticated', T, async () => {
    assert.ok(doc, 'needs the well-known test');
    const admin = identityClient(srv.url, ROOT_CREDENTIALS);
    try {
      const d = await admin.send(new ci.DescribeIdentityPoolCommand({ IdentityPoolId: doc.identityPoolId }));
      assert.equal(d.IdentityPoolId, doc.identityPoolId);
      assert.equal(d.AllowUnauthenticatedIdentities, false);
      assert.deepEqual(
        d.CognitoIdentityProviders.map((p) => [p.ProviderName, p.ClientId]),
        [[providerName(doc.userPoolId), doc.userPoolClientId]],
      );
      const r = await admin.send(new ci.GetIdentityPoolRolesCommand({ IdentityPoolId: doc.identityPoolId }));
      assert.equal(r.Roles?.authenticated, roleArn(ROLE));
      assert.equal(r.Roles?.unauthenticated, undefined);
    } finally {
      admin.destroy();
    }
  });

  it('a user of the default pool gets credentials through fromCognitoIdentityPool; GetCallerIdentity shows the default role', T, async () => {
    assert.ok(doc, 'needs the well-known test');
    user = await makeUser(srv, { clientId: doc.userPoolClientId, prefix: 'Dflt' });
    creds = await poolCredentials(srv.url, doc.identityPoolId, loginsFor(doc.userPoolId, user.idToken));
    assertTempCredentials(creds, { seconds: 3600, what: 'default pool' });
    identityId = creds.identityId;
    assert.match(identityId, IDENTITY_ID_RE);
    const me = await callerIdentity(srv.url, signing(creds));
    assert.equal(me.Arn, assumedRoleArn(ROLE, IDP_SESSION));
    assert.equal(me.Account, ACCOUNT);
    assert.match(me.UserId, /^AROA[A-Z0-9]+:CognitoIdentityCredentials$/);
  });

  it('no guests on the default identity pool', T, async () => {
    assert.ok(doc, 'needs the well-known test');
    const anon = identityClient(srv.url);
    try {
      await fails(anon.send(new ci.GetIdCommand({ IdentityPoolId: doc.identityPoolId })), 'NotAuthorizedException', {
        status: 400,
        message: 'Unauthenticated access is not supported for this identity pool.',
      });
    } finally {
      anon.destroy();
    }
  });

  it('the default role trusts the default user pool: AssumeRoleWithWebIdentity works', T, async () => {
    assert.ok(user, 'needs the credentials test');
    const anon = stsClient(srv.url);
    try {
      const out = await anon.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn(ROLE), RoleSessionName: 'dflt-web', WebIdentityToken: user.idToken }));
      assert.equal(out.SubjectFromWebIdentityToken, user.sub);
      assert.equal((await callerIdentity(srv.url, fromStsCredentials(out.Credentials))).Arn, assumedRoleArn(ROLE, 'dflt-web'));
    } finally {
      anon.destroy();
    }
  });

  it('a restart on the same data dir keeps the identity pool id, the identity ids, and outstanding credentials', LONG, async () => {
    assert.ok(creds && identityId, 'needs the credentials test');
    await srv.stop();
    srv = await serveOn(dataDir, { env: ROOT_ENV });
    const again = JSON.parse((await request(srv.url, '/.well-known/cloudlet.json')).text);
    assert.equal(again.identityPoolId, doc.identityPoolId, 'the default identity pool changed across a restart');
    // Credentials minted before the restart still verify (the server key is kept).
    assert.equal((await callerIdentity(srv.url, signing(creds))).Arn, assumedRoleArn(ROLE, IDP_SESSION));
    // The same user maps to the same identity.
    const anon = identityClient(srv.url);
    try {
      const r = await anon.send(new ci.GetIdCommand({ IdentityPoolId: doc.identityPoolId, Logins: loginsFor(doc.userPoolId, user.idToken) }));
      assert.equal(r.IdentityId, identityId);
    } finally {
      anon.destroy();
    }
  });
});
