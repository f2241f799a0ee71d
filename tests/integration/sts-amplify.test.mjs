// sts-amplify.test.mjs - aws-amplify v6 fetchAuthSession() against an identity
// pool of build/cloudlet, run in Node as an app does: Amplify.configure with
// userPoolEndpoint and identityPoolEndpoint, signUp + outbox code +
// confirmSignUp, signIn, fetchAuthSession() → temporary credentials and the
// identity id (GetId + GetCredentialsForIdentity at the identity-pool
// endpoint), which work with STS; after signOut, guest credentials.
// Amplify is a singleton: this file has one server and one configuration.
// The behaviour asserted is the one in notes/sts-spec.md.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Amplify } from 'aws-amplify';
import { signUp, confirmSignUp, signIn, signOut, fetchAuthSession } from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import * as ci from '@aws-sdk/client-cognito-identity';
import { startServer } from './helpers.mjs';
import { MemoryKeyValueStorage, installFetchRecorder, waitForMessage, uniq } from './cognito-node-shims.mjs';
import {
  ROOT_ENV,
  ACCOUNT,
  IDENTITY_ID_RE,
  ASIA_RE,
  IDP_SESSION,
  assumedRoleArn,
  providerName,
  loginsFor,
  policy,
  identityClient,
  callerIdentity,
  signing,
} from './sts-helpers.mjs';

const T = { timeout: 30000 };
const POOL = 'us-east-1_AmpSts1';
const CLIENT = 'ampstsweb1';
const IDP = 'us-east-1:abcdef01-2345-4678-89ab-cdef01234567';
const PASSWORD = 'Corr3ct-Horse';

const CONFIG = {
  userPools: [{ id: POOL, name: 'amplify-sts', autoConfirm: false, clients: [{ id: CLIENT, name: 'web' }] }],
  roles: [
    { name: 'amp-user', trust: { userPools: [POOL] }, policies: [policy({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' })] },
    { name: 'amp-guest', policies: [policy({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' })] },
  ],
  identityPools: [
    {
      id: IDP,
      name: 'amplify',
      allowUnauthenticated: true,
      authenticatedRole: 'amp-user',
      unauthenticatedRole: 'amp-guest',
      providers: [{ userPoolId: POOL, clientId: CLIENT }],
    },
  ],
  auth: { maxFailedLoginsPerAddress: 1000 },
};

let srv;
let rec;
let anon;

before(async () => {
  rec = installFetchRecorder();
  srv = await startServer({ config: CONFIG, env: ROOT_ENV });
  anon = identityClient(srv.url);
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: POOL,
        userPoolClientId: CLIENT,
        userPoolEndpoint: srv.url,
        identityPoolId: IDP,
        identityPoolEndpoint: srv.url,
        allowGuestAccess: true,
      },
    },
  });
  cognitoUserPoolsTokenProvider.setKeyValueStorage(new MemoryKeyValueStorage());
});

after(async () => {
  await signOut().catch(() => {});
  rec?.uninstall();
  anon?.destroy();
  await srv?.stop();
});

/** Sign up through Amplify and confirm with the outbox code; returns the username. */
async function amplifyUser(prefix) {
  const username = `${prefix}${uniq()}`;
  await signUp({ username, password: PASSWORD, options: { userAttributes: { email: `${username.toLowerCase()}@example.com` } } });
  const msg = await waitForMessage(srv, username, 'SignUp');
  await confirmSignUp({ username, confirmationCode: msg.code });
  return username;
}

/** The identity-pool calls Amplify made since mark. */
const identityCalls = (mark) => rec.calls.slice(mark).filter((c) => String(c.headers['x-amz-target'] ?? '').startsWith('AWSCognitoIdentityService.'));

describe('aws-amplify v6 fetchAuthSession with an identity pool', () => {
  let first; // {username, identityId, credentials}

  it('signIn (SRP) then fetchAuthSession(): ASIA credentials and the identity id GetId gives for the user', T, async () => {
    const username = await amplifyUser('Ann');
    const r = await signIn({ username, password: PASSWORD });
    assert.equal(r.isSignedIn, true, JSON.stringify(r.nextStep));
    const mark = rec.mark();
    const session = await fetchAuthSession();
    assert.ok(session.tokens?.idToken, 'no ID token in the session');
    const c = session.credentials;
    assert.ok(c, `no credentials in the session; identity calls: ${JSON.stringify(identityCalls(mark).map((x) => [x.op, x.status, x.responseText]))}`);
    assert.match(c.accessKeyId, ASIA_RE);
    assert.ok(c.secretAccessKey && c.sessionToken, 'secret or session token missing');
    assert.ok(c.expiration instanceof Date, `expiration ${c.expiration}`);
    const left = (c.expiration.getTime() - Date.now()) / 1000;
    assert.ok(Math.abs(left - 3600) < 60, `expires in ${left} s`);
    assert.match(session.identityId, IDENTITY_ID_RE);

    // Amplify called the identity-pool endpoint, with the ID token under the provider name.
    const calls = identityCalls(mark);
    const ops = calls.map((x) => x.op);
    assert.ok(ops.includes('GetCredentialsForIdentity'), `ops: ${ops.join(', ')}`);
    for (const x of calls) {
      assert.equal(x.url.replace(/\/$/, ''), srv.url, `${x.op} went to ${x.url}`);
      assert.equal(x.status, 200, `${x.op}: ${x.status} ${x.responseText}`);
    }
    const gc = calls.find((x) => x.op === 'GetCredentialsForIdentity');
    assert.deepEqual(Object.keys(gc.body.Logins ?? {}), [providerName(POOL)]);
    assert.equal(gc.body.Logins[providerName(POOL)], session.tokens.idToken.toString());

    // The identity id is the one GetId gives for this user's ID token.
    const direct = await anon.send(new ci.GetIdCommand({ IdentityPoolId: IDP, Logins: loginsFor(POOL, session.tokens.idToken.toString()) }));
    assert.equal(session.identityId, direct.IdentityId);
    first = { username, identityId: session.identityId, credentials: c };
  });

  it('the credentials work with STS GetCallerIdentity: the authenticated role', T, async () => {
    assert.ok(first, 'needs the sign-in test');
    const me = await callerIdentity(srv.url, signing(first.credentials));
    assert.equal(me.Arn, assumedRoleArn('amp-user', IDP_SESSION));
    assert.equal(me.Account, ACCOUNT);
  });

  it('fetchAuthSession({forceRefresh: true}) gets new credentials for the same identity', T, async () => {
    assert.ok(first, 'needs the sign-in test');
    const session = await fetchAuthSession({ forceRefresh: true });
    assert.equal(session.identityId, first.identityId);
    assert.match(session.credentials.accessKeyId, ASIA_RE);
    assert.notEqual(session.credentials.accessKeyId, first.credentials.accessKeyId);
    assert.equal((await callerIdentity(srv.url, signing(session.credentials))).Arn, assumedRoleArn('amp-user', IDP_SESSION));
  });

  it('after signOut, fetchAuthSession() gives guest credentials of the unauthenticated role and another identity', T, async () => {
    assert.ok(first, 'needs the sign-in test');
    await signOut();
    const mark = rec.mark();
    const session = await fetchAuthSession();
    assert.equal(session.tokens, undefined, 'still has tokens after signOut');
    assert.ok(session.credentials, `no guest credentials; identity calls: ${JSON.stringify(identityCalls(mark).map((x) => [x.op, x.status, x.responseText]))}`);
    assert.match(session.credentials.accessKeyId, ASIA_RE);
    assert.match(session.identityId, IDENTITY_ID_RE);
    assert.notEqual(session.identityId, first.identityId);
    // Amplify sends Logins: {} for a guest: no provider at all.
    for (const x of identityCalls(mark)) assert.deepEqual(Object.keys(x.body.Logins ?? {}), [], `${x.op} sent Logins for a guest`);
    assert.equal((await callerIdentity(srv.url, signing(session.credentials))).Arn, assumedRoleArn('amp-guest', IDP_SESSION));
  });

  it('a guest who then signs in (Amplify sends GetCredentialsForIdentity with the stored guest identity id and the Logins) gets the authenticated role', T, async () => {
    assert.ok(first, 'needs the sign-in test');
    // The previous test left a guest identity id in Amplify's store: this is the "browse first, sign in later" path.
    const username = await amplifyUser('Ben');
    const r = await signIn({ username, password: PASSWORD, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
    assert.equal(r.isSignedIn, true, JSON.stringify(r.nextStep));
    const mark = rec.mark();
    let s;
    try {
      s = await fetchAuthSession();
    } finally {
      const calls = identityCalls(mark).map((x) => `${x.op} ${JSON.stringify({ ...x.body, Logins: x.body?.Logins ? '<logins>' : undefined })} -> ${x.status} ${x.responseText}`);
      if (!s?.credentials) console.log(`identity calls after guest -> signIn:\n${calls.join('\n')}`);
    }
    assert.ok(s.credentials, 'no credentials after a guest signed in');
    assert.match(s.credentials.accessKeyId, ASIA_RE);
    assert.match(s.identityId, IDENTITY_ID_RE);
    assert.notEqual(s.identityId, first.identityId);
    // From now on GetId for this user gives the identity Amplify holds.
    const direct = await anon.send(new ci.GetIdCommand({ IdentityPoolId: IDP, Logins: loginsFor(POOL, s.tokens.idToken.toString()) }));
    assert.equal(s.identityId, direct.IdentityId);
    assert.equal((await callerIdentity(srv.url, signing(s.credentials))).Arn, assumedRoleArn('amp-user', IDP_SESSION));
    await signOut();
  });

  it('a second user (USER_PASSWORD_AUTH, no guest session before) gets their own identity; the first user gets theirs back', T, async () => {
    assert.ok(first, 'needs the sign-in test');
    await signOut();
    const username = await amplifyUser('Cid');
    const r = await signIn({ username, password: PASSWORD, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
    assert.equal(r.isSignedIn, true, JSON.stringify(r.nextStep));
    const s = await fetchAuthSession();
    assert.match(s.identityId, IDENTITY_ID_RE);
    assert.notEqual(s.identityId, first.identityId);
    const direct = await anon.send(new ci.GetIdCommand({ IdentityPoolId: IDP, Logins: loginsFor(POOL, s.tokens.idToken.toString()) }));
    assert.equal(s.identityId, direct.IdentityId);
    assert.equal((await callerIdentity(srv.url, signing(s.credentials))).Arn, assumedRoleArn('amp-user', IDP_SESSION));
    await signOut();

    const again = await signIn({ username: first.username, password: PASSWORD });
    assert.equal(again.isSignedIn, true);
    const s1 = await fetchAuthSession();
    assert.equal(s1.identityId, first.identityId, 'the first user came back with another identity');
    await signOut();
  });
});
