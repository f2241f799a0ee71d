// sts-identity.test.mjs - Cognito Identity (identity pools) end to end against
// build/cloudlet with @aws-sdk/client-cognito-identity and
// @aws-sdk/credential-providers' fromCognitoIdentityPool: GetId,
// GetCredentialsForIdentity, GetOpenIdToken, guest identities, the ID-token
// checks (other pool, other client, forged, another user's identity), and the
// root-signed pool administration (CreateIdentityPool, DescribeIdentityPool,
// SetIdentityPoolRoles, GetIdentityPoolRoles) with its gate.
// The behaviour asserted is the one in notes/sts-spec.md.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as ci from '@aws-sdk/client-cognito-identity';
import { InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import { startServer } from './helpers.mjs';
import {
  REGION,
  ACCOUNT,
  ROOT_ENV,
  ROOT_CREDENTIALS,
  IDENTITY_ID_RE,
  AROA_RE,
  IDP_SESSION,
  roleArn,
  assumedRoleArn,
  providerName,
  loginsFor,
  policy,
  PASSWORD,
  identityClient,
  idpClient,
  bare,
  fails,
  makeUser,
  poolCredentials,
  signing,
  callerIdentity,
  assertTempCredentials,
  decodeJwt,
  fetchJwks,
  forgeIdTokens,
  identityRaw,
  assertJsonErr,
} from './sts-helpers.mjs';

const T = { timeout: 30000 };

const POOL = 'us-east-1_IdPool1'; // confirms with a code from the outbox
const CLIENT = 'idpoolweb1';
const OTHER_CLIENT = 'idpoolweb2'; // same pool, not a provider of any identity pool
const AUTO_POOL = 'us-east-1_IdAuto1'; // auto-confirms
const AUTO_CLIENT = 'idautoweb1';
const STRANGER_POOL = 'us-east-1_Stranger1'; // in no identity pool
const STRANGER_CLIENT = 'strangerweb1';

const IDP = 'us-east-1:11111111-2222-3333-4444-555555555555'; // authenticated only
const GUEST_IDP = 'us-east-1:22222222-3333-4444-5555-666666666666'; // guests allowed
const MISSING_IDP = 'us-east-1:99999999-9999-4999-8999-999999999999';

const CONFIG = {
  userPools: [
    {
      id: POOL,
      name: 'identity',
      autoConfirm: false,
      clients: [
        { id: CLIENT, name: 'web' },
        { id: OTHER_CLIENT, name: 'other-web' },
      ],
    },
    { id: AUTO_POOL, name: 'identity-auto', autoConfirm: true, clients: [{ id: AUTO_CLIENT, name: 'auto-web' }] },
    { id: STRANGER_POOL, name: 'stranger', autoConfirm: true, clients: [{ id: STRANGER_CLIENT, name: 'stranger-web' }] },
  ],
  roles: [
    {
      name: 'app-user',
      maxSessionDuration: 3600,
      trust: { userPools: [POOL, AUTO_POOL] },
      policies: [policy({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' })],
    },
    { name: 'app-guest', policies: [policy({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' })] },
    { name: 'app-admin', policies: [policy({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' })] },
  ],
  identityPools: [
    {
      id: IDP,
      name: 'app',
      allowUnauthenticated: false,
      authenticatedRole: 'app-user',
      unauthenticatedRole: null,
      providers: [
        { userPoolId: POOL, clientId: CLIENT },
        { userPoolId: AUTO_POOL, clientId: AUTO_CLIENT },
      ],
    },
    {
      id: GUEST_IDP,
      name: 'guests',
      allowUnauthenticated: true,
      authenticatedRole: 'app-user',
      unauthenticatedRole: 'app-guest',
      providers: [{ userPoolId: POOL, clientId: CLIENT }],
    },
  ],
  auth: { maxFailedLoginsPerAddress: 1000 },
};

let srv;
let anon; // unsigned Cognito Identity client
let admin; // root-signed
let jwks;

before(async () => {
  srv = await startServer({ config: CONFIG, env: ROOT_ENV });
  anon = identityClient(srv.url);
  admin = identityClient(srv.url, ROOT_CREDENTIALS);
  jwks = await fetchJwks(srv.url, POOL);
});
after(async () => {
  anon?.destroy();
  admin?.destroy();
  await srv?.stop();
});

/** client.send(new <op>Command(input)). */
function call(client, op, input) {
  const Cmd = ci[`${op}Command`];
  assert.ok(Cmd, `no ${op}Command in @aws-sdk/client-cognito-identity`);
  return client.send(new Cmd(input));
}

const getId = (poolId, logins, client = anon) => call(client, 'GetId', { IdentityPoolId: poolId, ...(logins ? { Logins: logins } : {}) });
const getCreds = (identityId, logins, client = anon) =>
  call(client, 'GetCredentialsForIdentity', { IdentityId: identityId, ...(logins ? { Logins: logins } : {}) });

// Users made once and shared (each test that changes state makes its own).
let alice; // POOL, confirmed with the outbox code
let bob; // AUTO_POOL
let aliceId;
let bobId;

describe('GetId, GetCredentialsForIdentity, GetOpenIdToken', () => {
  before(async () => {
    alice = await makeUser(srv, { clientId: CLIENT, prefix: 'Alice' });
    bob = await makeUser(srv, { clientId: AUTO_CLIENT, prefix: 'Bob' });
  });

  it('GetId with an ID token gives an identity id of the form region:uuid, the same every time for the same user', T, async () => {
    const r1 = await getId(IDP, loginsFor(POOL, alice.idToken));
    assert.match(r1.IdentityId, IDENTITY_ID_RE);
    assert.deepEqual(Object.keys(bare(r1)), ['IdentityId']);
    const r2 = await getId(IDP, loginsFor(POOL, alice.idToken));
    assert.equal(r2.IdentityId, r1.IdentityId, 'same user, same identity');
    // A new ID token of the same user (a second log-in) maps to the same identity.
    const again = await makeUserLogin(alice.username, CLIENT);
    assert.notEqual(again, alice.idToken);
    const r3 = await getId(IDP, loginsFor(POOL, again));
    assert.equal(r3.IdentityId, r1.IdentityId, 'same user after a new log-in, same identity');
    aliceId = r1.IdentityId;

    const rb = await getId(IDP, loginsFor(AUTO_POOL, bob.idToken));
    assert.match(rb.IdentityId, IDENTITY_ID_RE);
    assert.notEqual(rb.IdentityId, aliceId, 'another user, another identity');
    bobId = rb.IdentityId;
  });

  it('the same user has a different identity in another identity pool', T, async () => {
    assert.ok(aliceId, 'needs the GetId test');
    const r = await getId(GUEST_IDP, loginsFor(POOL, alice.idToken));
    assert.match(r.IdentityId, IDENTITY_ID_RE);
    assert.notEqual(r.IdentityId, aliceId);
  });

  it('GetCredentialsForIdentity gives ASIA credentials for an hour, SecretKey and epoch-seconds Expiration on the wire', T, async () => {
    assert.ok(aliceId, 'needs the GetId test');
    const out = await getCreds(aliceId, loginsFor(POOL, alice.idToken));
    assert.equal(out.IdentityId, aliceId);
    const c = out.Credentials;
    assertTempCredentials(
      { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken, expiration: c.Expiration },
      { seconds: 3600, what: 'GetCredentialsForIdentity' },
    );
    // On the wire: awsJson1_1, field SecretKey, Expiration a JSON number of epoch seconds.
    const raw = await identityRaw(srv.url, 'GetCredentialsForIdentity', { IdentityId: aliceId, Logins: loginsFor(POOL, alice.idToken) });
    assert.equal(raw.status, 200, raw.text.slice(0, 300));
    assert.match(raw.headers['content-type'] ?? '', /^application\/x-amz-json-1\.1/);
    assert.ok(raw.headers['x-amzn-requestid'], 'no x-amzn-RequestId');
    assert.equal(raw.json.IdentityId, aliceId);
    assert.deepEqual(Object.keys(raw.json.Credentials).sort(), ['AccessKeyId', 'Expiration', 'SecretKey', 'SessionToken']);
    assert.equal(typeof raw.json.Credentials.Expiration, 'number', `Expiration ${raw.json.Credentials.Expiration} is not a number`);
    assert.ok(Math.abs(raw.json.Credentials.Expiration - (Date.now() / 1000 + 3600)) < 30, 'Expiration is not epoch seconds an hour away');
    // Every call mints new credentials.
    assert.notEqual(raw.json.Credentials.AccessKeyId, c.AccessKeyId);
    assert.notEqual(raw.json.Credentials.SecretKey, c.SecretKey);
  });

  it('fromCognitoIdentityPool after SDK SignUp, outbox code, ConfirmSignUp and InitiateAuth gives credentials GetCallerIdentity knows', T, async () => {
    const carol = await makeUser(srv, { clientId: CLIENT, prefix: 'Carol' });
    const creds = await poolCredentials(srv.url, IDP, loginsFor(POOL, carol.idToken));
    assertTempCredentials(creds, { seconds: 3600, what: 'fromCognitoIdentityPool' });
    assert.match(creds.identityId, IDENTITY_ID_RE);
    const me = await callerIdentity(srv.url, signing(creds));
    assert.equal(me.Arn, assumedRoleArn('app-user', IDP_SESSION));
    assert.equal(me.Account, ACCOUNT);
    const [roleId, session] = me.UserId.split(':');
    assert.match(roleId, AROA_RE, `UserId ${me.UserId}`);
    assert.equal(session, IDP_SESSION, `UserId ${me.UserId}`);
    // The provider's identity id is the one GetId gives for the user.
    assert.equal((await getId(IDP, loginsFor(POOL, carol.idToken))).IdentityId, creds.identityId);
  });

  it('an auto-confirmed user of the second provider gets credentials of the same role', T, async () => {
    const creds = await poolCredentials(srv.url, IDP, loginsFor(AUTO_POOL, bob.idToken));
    assert.equal(creds.identityId, bobId);
    const me = await callerIdentity(srv.url, signing(creds));
    assert.equal(me.Arn, assumedRoleArn('app-user', IDP_SESSION));
  });

  it('GetOpenIdToken gives an RS256 JWT: iss cognito-identity.amazonaws.com, aud the identity pool, sub the identity id', T, async () => {
    assert.ok(aliceId, 'needs the GetId test');
    const out = await call(anon, 'GetOpenIdToken', { IdentityId: aliceId, Logins: loginsFor(POOL, alice.idToken) });
    assert.equal(out.IdentityId, aliceId);
    const t = decodeJwt(out.Token);
    assert.equal(t.header.alg, 'RS256');
    assert.equal(t.payload.iss, 'https://cognito-identity.amazonaws.com');
    const aud = Array.isArray(t.payload.aud) ? t.payload.aud : [t.payload.aud];
    assert.deepEqual(aud, [IDP]);
    assert.equal(t.payload.sub, aliceId);
    assert.equal(typeof t.payload.exp, 'number');
    assert.ok(t.payload.exp > Date.now() / 1000, 'already expired');
    assert.ok(t.payload.exp < Date.now() / 1000 + 86400 + 60, 'lives longer than a day');
  });

  it('GetOpenIdToken of an authenticated identity without Logins or with another user\'s token is refused', T, async () => {
    assert.ok(aliceId && bobId, 'needs the GetId test');
    await fails(call(anon, 'GetOpenIdToken', { IdentityId: aliceId }), 'NotAuthorizedException', { status: 400, what: 'no Logins' });
    await fails(call(anon, 'GetOpenIdToken', { IdentityId: aliceId, Logins: loginsFor(AUTO_POOL, bob.idToken) }), 'NotAuthorizedException', {
      status: 400,
      what: "bob's token for alice's identity",
    });
  });
});

/** A fresh ID token for an existing (confirmed) user. */
async function makeUserLogin(username, clientId) {
  const idp = idpClient(srv.url);
  try {
    // Tokens carry iat in seconds: wait for a new second so the new token differs.
    await new Promise((r) => setTimeout(r, 1100));
    const out = await idp.send(
      new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: clientId, AuthParameters: { USERNAME: username, PASSWORD } }),
    );
    return out.AuthenticationResult.IdToken;
  } finally {
    idp.destroy();
  }
}

describe('refused logins', () => {
  let dave;
  let daveId;
  let stranger;
  let otherClientUser;

  before(async () => {
    dave = await makeUser(srv, { clientId: CLIENT, prefix: 'Dave' });
    daveId = (await getId(IDP, loginsFor(POOL, dave.idToken))).IdentityId;
    stranger = await makeUser(srv, { clientId: STRANGER_CLIENT, prefix: 'Stranger' });
    // A user of POOL who logs in through a client that is not a provider of the identity pool.
    const u = await makeUser(srv, { clientId: OTHER_CLIENT, prefix: 'OtherClient' });
    otherClientUser = u;
  });

  it('guest GetId on a pool without guest access: NotAuthorizedException "Unauthenticated access is not supported for this identity pool."', T, async () => {
    await fails(getId(IDP), 'NotAuthorizedException', { status: 400, message: 'Unauthenticated access is not supported for this identity pool.' });
    await fails(getId(IDP, {}), 'NotAuthorizedException', { status: 400, what: 'empty Logins' });
  });

  it('an ID token of a user pool that is not a provider of the identity pool is refused by GetId and GetCredentialsForIdentity', T, async () => {
    // Under its own provider name.
    await fails(getId(IDP, loginsFor(STRANGER_POOL, stranger.idToken)), 'NotAuthorizedException', { status: 400, what: 'GetId, own provider name' });
    // Presented as if it came from a provider of the pool.
    await fails(getId(IDP, loginsFor(POOL, stranger.idToken)), 'NotAuthorizedException', { status: 400, what: 'GetId, under POOL' });
    await fails(getCreds(daveId, loginsFor(STRANGER_POOL, stranger.idToken)), 'NotAuthorizedException', {
      status: 400,
      what: 'GetCredentialsForIdentity, own provider name',
    });
    await fails(getCreds(daveId, loginsFor(POOL, stranger.idToken)), 'NotAuthorizedException', {
      status: 400,
      what: 'GetCredentialsForIdentity, under POOL',
    });
  });

  it('an ID token of a provider pool issued to a client that is not the provider client is refused (aud)', T, async () => {
    await fails(getId(IDP, loginsFor(POOL, otherClientUser.idToken)), 'NotAuthorizedException', { status: 400 });
  });

  it('a token of one provider pool presented under the other provider\'s name is refused', T, async () => {
    await fails(getId(IDP, loginsFor(AUTO_POOL, dave.idToken)), 'NotAuthorizedException', { status: 400 });
  });

  it('an access token in place of the ID token is refused', T, async () => {
    await fails(getId(IDP, loginsFor(POOL, dave.accessToken)), 'NotAuthorizedException', { status: 400 });
    await fails(getCreds(daveId, loginsFor(POOL, dave.accessToken)), 'NotAuthorizedException', { status: 400 });
  });

  for (const kind of ['tampered', 'algNone', 'hs256', 'otherKey']) {
    it(`a forged ID token (${kind}) is refused by GetId and GetCredentialsForIdentity`, T, async () => {
      const forged = forgeIdTokens(dave.idToken, jwks)[kind];
      await fails(getId(IDP, loginsFor(POOL, forged)), 'NotAuthorizedException', { status: 400, what: `GetId ${kind}` });
      await fails(getCreds(daveId, loginsFor(POOL, forged)), 'NotAuthorizedException', { status: 400, what: `GetCredentialsForIdentity ${kind}` });
      // Forged to claim Dave's own sub unchanged but another e-mail: still a forgery.
      const same = forgeIdTokens(dave.idToken, jwks, { email: 'mallory@example.com' })[kind];
      await fails(getCreds(daveId, loginsFor(POOL, same)), 'NotAuthorizedException', { status: 400, what: `GetCredentialsForIdentity ${kind}, same sub` });
    });
  }

  it('garbage in place of a token is refused', T, async () => {
    await fails(getId(IDP, loginsFor(POOL, 'not-a-jwt')), 'NotAuthorizedException', { status: 400 });
    await fails(getId(IDP, loginsFor(POOL, 'a.b.c')), 'NotAuthorizedException', { status: 400 });
  });

  it("GetCredentialsForIdentity for user A's identity with user B's token is refused", T, async () => {
    const erin = await makeUser(srv, { clientId: CLIENT, prefix: 'Erin' });
    const erinId = (await getId(IDP, loginsFor(POOL, erin.idToken))).IdentityId;
    await fails(getCreds(daveId, loginsFor(POOL, erin.idToken)), 'NotAuthorizedException', { status: 400, what: "Erin's token, Dave's identity" });
    await fails(getCreds(erinId, loginsFor(POOL, dave.idToken)), 'NotAuthorizedException', { status: 400, what: "Dave's token, Erin's identity" });
    // And their own still work.
    assert.equal((await getCreds(erinId, loginsFor(POOL, erin.idToken))).IdentityId, erinId);
    assert.equal((await getCreds(daveId, loginsFor(POOL, dave.idToken))).IdentityId, daveId);
  });

  it('GetCredentialsForIdentity of an authenticated identity without Logins is refused', T, async () => {
    await fails(getCreds(daveId), 'NotAuthorizedException', { status: 400 });
  });

  it('an unknown IdentityId gives ResourceNotFoundException; an unknown IdentityPoolId too', T, async () => {
    await fails(getCreds(`${REGION}:${crypto.randomUUID()}`, loginsFor(POOL, dave.idToken)), 'ResourceNotFoundException', { status: 400 });
    await fails(getId(MISSING_IDP, loginsFor(POOL, dave.idToken)), 'ResourceNotFoundException', { status: 400 });
  });

  it('a malformed body is a SerializationException; an unknown operation is an InvalidAction-style 400', T, async () => {
    const bad = await identityRaw(srv.url, 'GetId', '{"IdentityPoolId": ');
    assertJsonErr(bad, 'SerializationException');
    const unknown = await identityRaw(srv.url, 'MergeDeveloperIdentities', {});
    assert.equal(unknown.status, 400, unknown.text);
    assert.ok(unknown.json?.__type, unknown.text);
  });

  it('the error answers carry the JSON shape (__type, message) and x-amzn-RequestId', T, async () => {
    const r = await identityRaw(srv.url, 'GetId', { IdentityPoolId: IDP });
    assertJsonErr(r, 'NotAuthorizedException', { message: 'Unauthenticated access is not supported for this identity pool.' });
  });
});

describe('guest (unauthenticated) identities', () => {
  it('GetId without Logins on a pool that allows guests, then GetCredentialsForIdentity: the unauthenticated role', T, async () => {
    const { IdentityId } = await getId(GUEST_IDP);
    assert.match(IdentityId, IDENTITY_ID_RE);
    const out = await getCreds(IdentityId);
    assert.equal(out.IdentityId, IdentityId);
    const c = out.Credentials;
    const creds = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    assertTempCredentials(creds, { what: 'guest' });
    const me = await callerIdentity(srv.url, signing(creds));
    assert.equal(me.Arn, assumedRoleArn('app-guest', IDP_SESSION));
    // Each guest GetId is a new identity.
    assert.notEqual((await getId(GUEST_IDP)).IdentityId, IdentityId);
  });

  it('fromCognitoIdentityPool without logins gives guest credentials', T, async () => {
    const creds = await poolCredentials(srv.url, GUEST_IDP);
    assertTempCredentials(creds, { what: 'guest provider' });
    assert.equal((await callerIdentity(srv.url, signing(creds))).Arn, assumedRoleArn('app-guest', IDP_SESSION));
  });

  it('a signed-in user of the same pool gets the authenticated role', T, async () => {
    const fay = await makeUser(srv, { clientId: CLIENT, prefix: 'Fay' });
    const creds = await poolCredentials(srv.url, GUEST_IDP, loginsFor(POOL, fay.idToken));
    assert.equal((await callerIdentity(srv.url, signing(creds))).Arn, assumedRoleArn('app-user', IDP_SESSION));
  });

  it('a forged token on a guest pool is still refused (not silently downgraded to a guest)', T, async () => {
    const gus = await makeUser(srv, { clientId: CLIENT, prefix: 'Gus' });
    const forged = forgeIdTokens(gus.idToken, jwks).algNone;
    await fails(getId(GUEST_IDP, loginsFor(POOL, forged)), 'NotAuthorizedException', { status: 400 });
  });
});

describe('identity pool administration (root-signed)', () => {
  let created;

  it('unsigned CreateIdentityPool is refused with 403 MissingAuthenticationTokenException', T, async () => {
    const r = await identityRaw(srv.url, 'CreateIdentityPool', { IdentityPoolName: 'nope', AllowUnauthenticatedIdentities: false });
    assertJsonErr(r, 'MissingAuthenticationTokenException', { status: 403 });
    for (const op of ['DescribeIdentityPool', 'GetIdentityPoolRoles']) {
      assertJsonErr(await identityRaw(srv.url, op, { IdentityPoolId: IDP }), 'MissingAuthenticationTokenException', { status: 403, what: op });
    }
    assertJsonErr(
      await identityRaw(srv.url, 'SetIdentityPoolRoles', { IdentityPoolId: IDP, Roles: { authenticated: roleArn('app-admin') } }),
      'MissingAuthenticationTokenException',
      { status: 403, what: 'SetIdentityPoolRoles' },
    );
  });

  it('CreateIdentityPool answers the IdentityPool shape; DescribeIdentityPool gives it back', T, async () => {
    const out = await call(admin, 'CreateIdentityPool', {
      IdentityPoolName: 'made-by-api',
      AllowUnauthenticatedIdentities: false,
      CognitoIdentityProviders: [{ ProviderName: providerName(AUTO_POOL), ClientId: AUTO_CLIENT }],
    });
    assert.match(out.IdentityPoolId, IDENTITY_ID_RE);
    assert.equal(out.IdentityPoolName, 'made-by-api');
    assert.equal(out.AllowUnauthenticatedIdentities, false);
    assert.equal(out.CognitoIdentityProviders?.length, 1);
    assert.equal(out.CognitoIdentityProviders[0].ProviderName, providerName(AUTO_POOL));
    assert.equal(out.CognitoIdentityProviders[0].ClientId, AUTO_CLIENT);
    created = out.IdentityPoolId;

    const d = await call(admin, 'DescribeIdentityPool', { IdentityPoolId: created });
    assert.equal(d.IdentityPoolId, created);
    assert.equal(d.IdentityPoolName, 'made-by-api');
    assert.equal(d.AllowUnauthenticatedIdentities, false);
    assert.deepEqual(
      d.CognitoIdentityProviders.map((p) => [p.ProviderName, p.ClientId]),
      [[providerName(AUTO_POOL), AUTO_CLIENT]],
    );
  });

  it('DescribeIdentityPool of a configured pool lists its providers', T, async () => {
    const d = await call(admin, 'DescribeIdentityPool', { IdentityPoolId: IDP });
    assert.equal(d.IdentityPoolId, IDP);
    assert.equal(d.IdentityPoolName, 'app');
    assert.equal(d.AllowUnauthenticatedIdentities, false);
    assert.deepEqual(
      d.CognitoIdentityProviders.map((p) => [p.ProviderName, p.ClientId]).sort(),
      [
        [providerName(AUTO_POOL), AUTO_CLIENT],
        [providerName(POOL), CLIENT],
      ].sort(),
    );
    const g = await call(admin, 'DescribeIdentityPool', { IdentityPoolId: GUEST_IDP });
    assert.equal(g.AllowUnauthenticatedIdentities, true);
  });

  it('GetIdentityPoolRoles of a configured pool names the role ARNs', T, async () => {
    const r = await call(admin, 'GetIdentityPoolRoles', { IdentityPoolId: GUEST_IDP });
    assert.equal(r.IdentityPoolId, GUEST_IDP);
    assert.deepEqual(r.Roles, { authenticated: roleArn('app-user'), unauthenticated: roleArn('app-guest') });
    const r2 = await call(admin, 'GetIdentityPoolRoles', { IdentityPoolId: IDP });
    assert.deepEqual(r2.Roles, { authenticated: roleArn('app-user') });
  });

  it('SetIdentityPoolRoles on the new pool; GetIdentityPoolRoles reads it back; its logins get that role', T, async () => {
    assert.ok(created, 'needs the CreateIdentityPool test');
    const set = await call(admin, 'SetIdentityPoolRoles', { IdentityPoolId: created, Roles: { authenticated: roleArn('app-admin') } });
    assert.deepEqual(bare(set), {});
    const got = await call(admin, 'GetIdentityPoolRoles', { IdentityPoolId: created });
    assert.equal(got.IdentityPoolId, created);
    assert.deepEqual(got.Roles, { authenticated: roleArn('app-admin') });

    const hal = await makeUser(srv, { clientId: AUTO_CLIENT, prefix: 'Hal' });
    const creds = await poolCredentials(srv.url, created, loginsFor(AUTO_POOL, hal.idToken));
    assertTempCredentials(creds, { what: 'API-made pool' });
    assert.equal((await callerIdentity(srv.url, signing(creds))).Arn, assumedRoleArn('app-admin', IDP_SESSION));
    // Its provider list is enforced: a POOL user is not one of its providers.
    const ida = await makeUser(srv, { clientId: CLIENT, prefix: 'Ida' });
    await fails(getId(created, loginsFor(POOL, ida.idToken)), 'NotAuthorizedException', { status: 400 });
    // No guests: the pool was made without them.
    await fails(getId(created), 'NotAuthorizedException', { status: 400, message: 'Unauthenticated access is not supported for this identity pool.' });
  });

  it('SetIdentityPoolRoles with an unknown role is refused; unknown pools give ResourceNotFoundException', T, async () => {
    assert.ok(created, 'needs the CreateIdentityPool test');
    const err = await fails(
      call(admin, 'SetIdentityPoolRoles', { IdentityPoolId: created, Roles: { authenticated: roleArn('no-such-role') } }),
      'InvalidParameterException',
      { status: 400 },
    );
    assert.ok(err.message.length > 0);
    await fails(call(admin, 'DescribeIdentityPool', { IdentityPoolId: MISSING_IDP }), 'ResourceNotFoundException', { status: 400 });
    await fails(call(admin, 'GetIdentityPoolRoles', { IdentityPoolId: MISSING_IDP }), 'ResourceNotFoundException', { status: 400 });
    await fails(
      call(admin, 'SetIdentityPoolRoles', { IdentityPoolId: MISSING_IDP, Roles: { authenticated: roleArn('app-user') } }),
      'ResourceNotFoundException',
      { status: 400 },
    );
  });

  it('temporary credentials whose role has no cognito-identity permission get AccessDeniedException (400)', T, async () => {
    const jan = await makeUser(srv, { clientId: CLIENT, prefix: 'Jan' });
    const creds = await poolCredentials(srv.url, IDP, loginsFor(POOL, jan.idToken));
    const client = identityClient(srv.url, signing(creds));
    try {
      await fails(call(client, 'CreateIdentityPool', { IdentityPoolName: 'sneaky', AllowUnauthenticatedIdentities: true }), 'AccessDeniedException', {
        status: 400,
        what: 'CreateIdentityPool',
      });
      await fails(call(client, 'DescribeIdentityPool', { IdentityPoolId: IDP }), 'AccessDeniedException', { status: 400, what: 'DescribeIdentityPool' });
      await fails(
        call(client, 'SetIdentityPoolRoles', { IdentityPoolId: IDP, Roles: { authenticated: roleArn('app-admin') } }),
        'AccessDeniedException',
        { status: 400, what: 'SetIdentityPoolRoles' },
      );
      await fails(call(client, 'GetIdentityPoolRoles', { IdentityPoolId: IDP }), 'AccessDeniedException', { status: 400, what: 'GetIdentityPoolRoles' });
    } finally {
      client.destroy();
    }
    // Nothing changed.
    assert.deepEqual((await call(admin, 'GetIdentityPoolRoles', { IdentityPoolId: IDP })).Roles, { authenticated: roleArn('app-user') });
  });
});
