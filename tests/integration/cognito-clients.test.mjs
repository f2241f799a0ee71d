// cognito-clients.test.mjs - the two browser Cognito libraries, run in Node
// against a real `cloudlet serve`, doing what an app does: sign up, read the
// code from the outbox, confirm, log in with the default SRP flow (real SRP
// math on both sides) and with USER_PASSWORD_AUTH, read the user, refresh,
// sign out (RevokeToken) and sign out everywhere (GlobalSignOut).
//
//   amazon-cognito-identity-js 6.x: CognitoUserPool({endpoint: server.url + '/'})
//   aws-amplify 6.x:                Amplify.configure({Auth: {Cognito: {userPoolEndpoint: server.url}}})
//
// One server for the whole file (Amplify is a singleton). Every fetch the
// libraries make is recorded (cognito-node-shims.mjs) so that the tests can
// check which operation was called, with what, and what the server answered.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CognitoUserPool,
  CognitoUser,
  CognitoUserAttribute,
  AuthenticationDetails,
  CognitoRefreshToken,
} from 'amazon-cognito-identity-js';
import { Amplify } from 'aws-amplify';
import {
  signUp,
  confirmSignUp,
  signIn,
  signOut,
  fetchAuthSession,
  getCurrentUser,
  fetchUserAttributes,
  resetPassword,
  confirmResetPassword,
  updatePassword,
} from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { startServer, request } from './helpers.mjs';
import {
  MemoryWebStorage,
  MemoryKeyValueStorage,
  installFetchRecorder,
  cognitoCall,
  assertCognitoError,
  assertOk,
  readOutbox,
  waitForMessage,
  UUID_RE,
  uniq,
} from './cognito-node-shims.mjs';

const T = { timeout: 30000 };
const POOL = 'us-east-1_CliPool1';
const POOL_NAME = 'CliPool1'; // what SRP hashes: the pool id after the "_"
const CLIENT = 'clientsweb1';
const PW_ONLY_CLIENT = 'clientspwonly';
const ISS = `https://cognito-idp.us-east-1.amazonaws.com/${POOL}`;
const PASSWORD = 'Corr3ct-Horse';

const CONFIG = {
  userPools: [
    {
      id: POOL,
      name: 'clients',
      autoConfirm: false,
      clients: [
        { id: CLIENT, name: 'web' },
        { id: PW_ONLY_CLIENT, name: 'password-only', authFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'] },
      ],
    },
  ],
  // This file does not test throttling: all its requests come from 127.0.0.1, so keep the per-address limit out of the way.
  auth: { maxFailedLoginsPerAddress: 1000 },
};

let srv;
let rec;

before(async () => {
  rec = installFetchRecorder();
  srv = await startServer({ config: CONFIG });
});

after(async () => {
  rec?.uninstall();
  await srv?.stop();
});

/** The server's answer to the last call of `op` recorded since `mark`. */
function lastCall(op, mark = 0) {
  const calls = rec.ops(op, mark);
  assert.ok(calls.length > 0, `the library made no ${op} call (made: ${rec.ops(undefined, mark).map((c) => c.op).join(', ') || 'none'})`);
  return calls[calls.length - 1];
}

/** Raw REFRESH_TOKEN_AUTH with a refresh token (never through a library: their retries hide the answer). */
const rawRefresh = (refreshToken, clientId = CLIENT) =>
  cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: clientId, AuthParameters: { REFRESH_TOKEN: refreshToken } });
const rawGetUser = (accessToken) => cognitoCall(srv, 'GetUser', { AccessToken: accessToken });

function assertIdClaims(payload, { username, email, sub, what = 'ID token' }) {
  assert.equal(payload.token_use, 'id', `${what}: token_use`);
  assert.equal(payload.iss, ISS, `${what}: iss`);
  assert.equal(payload.aud, CLIENT, `${what}: aud`);
  assert.equal(String(payload['cognito:username']).toLowerCase(), username.toLowerCase(), `${what}: cognito:username`);
  if (email !== undefined) assert.equal(payload.email, email, `${what}: email`);
  if (sub !== undefined) assert.equal(payload.sub, sub, `${what}: sub`);
  assert.match(String(payload.sub), UUID_RE, `${what}: sub`);
  assert.equal(payload.email_verified, true, `${what}: email_verified must be the boolean true after confirmation`);
  assert.equal(typeof payload.exp, 'number', `${what}: exp`);
  assert.ok(payload.exp * 1000 > Date.now(), `${what}: already expired`);
}

function assertAccessClaims(payload, { username, sub, what = 'access token' }) {
  assert.equal(payload.token_use, 'access', `${what}: token_use`);
  assert.equal(payload.iss, ISS, `${what}: iss`);
  assert.equal(payload.client_id, CLIENT, `${what}: client_id`);
  assert.equal(payload.scope, 'aws.cognito.signin.user.admin', `${what}: scope`);
  assert.equal(String(payload.username).toLowerCase(), username.toLowerCase(), `${what}: username`);
  assert.equal(payload.aud, undefined, `${what}: an access token has no aud`);
  if (sub !== undefined) assert.equal(payload.sub, sub, `${what}: sub`);
  assert.ok(payload.origin_jti, `${what}: no origin_jti (clients only revoke sessions whose access token has one)`);
}

// ====================================================================
// amazon-cognito-identity-js
// ====================================================================

describe('amazon-cognito-identity-js', () => {
  let storage;
  let pool;
  let nodePool;

  before(() => {
    // A browser-like storage: getItem answers null for missing keys, so the
    // library sends what it sends from a page (e.g. AuthParameters.DEVICE_KEY: null on refresh).
    storage = new MemoryWebStorage();
    pool = new CognitoUserPool({ UserPoolId: POOL, ClientId: CLIENT, endpoint: `${srv.url}/`, Storage: storage });
    // The library's own Node fallback (its MemoryStorage: getItem answers undefined, so nulls are never sent).
    nodePool = new CognitoUserPool({ UserPoolId: POOL, ClientId: CLIENT, endpoint: `${srv.url}/` });
  });

  const userFor = (username, p = pool) => new CognitoUser({ Username: username, Pool: p, Storage: storage });

  const attrs = (obj) => Object.entries(obj).map(([Name, Value]) => new CognitoUserAttribute({ Name, Value }));

  // The documented call: userPool.signUp(username, password, attributeList, null, callback).
  const libSignUp = (username, password, attributes = {}) =>
    new Promise((resolve, reject) => pool.signUp(username, password, attrs(attributes), null, (err, r) => (err ? reject(err) : resolve(r))));

  const libConfirm = (user, code) =>
    new Promise((resolve, reject) => user.confirmRegistration(code, true, (err, r) => (err ? reject(err) : resolve(r))));

  const libAuth = (user, username, password) =>
    new Promise((resolve, reject) => {
      const unexpected = (what) => () => reject(new Error(`unexpected ${what} callback`));
      user.authenticateUser(new AuthenticationDetails({ Username: username, Password: password }), {
        onSuccess: (session) => resolve(session),
        onFailure: (err) => reject(err),
        newPasswordRequired: unexpected('newPasswordRequired'),
        mfaRequired: unexpected('mfaRequired'),
        totpRequired: unexpected('totpRequired'),
        customChallenge: unexpected('customChallenge'),
        selectMFAType: unexpected('selectMFAType'),
        mfaSetup: unexpected('mfaSetup'),
      });
    });

  const libAttributes = (user) =>
    new Promise((resolve, reject) => user.getUserAttributes((err, list) => (err ? reject(err) : resolve(list))));

  const libRefresh = (user, refreshToken) =>
    new Promise((resolve, reject) => user.refreshSession(refreshToken, (err, s) => (err ? reject(err) : resolve(s))));

  const libGlobalSignOut = (user) =>
    new Promise((resolve, reject) => user.globalSignOut({ onSuccess: resolve, onFailure: reject }));

  const libRevokingSignOut = (user) => new Promise((resolve, reject) => user.signOut((err) => (err ? reject(err) : resolve())));

  /** Assert that a library call failed with a Cognito error code (err.code and err.name). */
  async function rejectsWith(promise, code, message) {
    let err;
    try {
      await promise;
    } catch (e) {
      err = e;
    }
    assert.ok(err, `expected ${code}, but the call succeeded`);
    assert.equal(err.code, code, `expected code ${code}, got ${err.code} / ${err.name}: ${err.message}`);
    assert.equal(err.name, code, `expected name ${code}, got ${err.name}`);
    if (message instanceof RegExp) assert.match(err.message, message);
    else if (message !== undefined) assert.equal(err.message, message);
    return err;
  }

  /** Sign up + confirm through the library; returns {username, email, sub}. */
  async function newConfirmedUser(prefix, attributes = {}) {
    const username = `${prefix}${uniq()}`;
    const email = `${username.toLowerCase()}@example.com`;
    const r = await libSignUp(username, PASSWORD, { email, ...attributes });
    const msg = await waitForMessage(srv, username, 'SignUp');
    await libConfirm(userFor(username), msg.code);
    return { username, email, sub: r.userSub };
  }

  // Shared by the tests below: a user made through the library and its first session.
  const alice = { username: `Alice${uniq()}`, password: PASSWORD };
  alice.email = `${alice.username.toLowerCase()}@example.com`;
  let aliceSession;

  it('signUp answers UserConfirmed false, a UUID sub and masked e-mail delivery details; the code is in the outbox', T, async () => {
    const mark = rec.mark();
    const r = await libSignUp(alice.username, alice.password, { email: alice.email, name: 'Alice Example' });
    assert.equal(r.userConfirmed, false);
    assert.match(String(r.userSub), UUID_RE);
    alice.sub = r.userSub;
    const cdd = r.codeDeliveryDetails;
    assert.ok(cdd, 'no CodeDeliveryDetails');
    assert.equal(cdd.DeliveryMedium, 'EMAIL');
    assert.equal(cdd.AttributeName, 'email');
    assert.match(cdd.Destination, /^a\*+@e\*+/i, `Destination ${cdd.Destination} is not masked like a***@e***`);
    assert.ok(!cdd.Destination.includes(alice.email), 'Destination shows the whole address');
    assert.equal(r.user.getUsername(), alice.username);

    // What the library sent: the documented call passes ValidationData null.
    const call = lastCall('SignUp', mark);
    assert.equal(call.url, `${srv.url}/`);
    assert.equal(call.body.ValidationData, null);
    assert.equal(call.status, 200);
    assert.match(call.responseHeaders['content-type'] ?? '', /^application\/x-amz-json-1\.1/);

    const msg = await waitForMessage(srv, alice.username, 'SignUp');
    assert.match(msg.code, /^\d{6}$/);
    assert.equal(msg.destination, alice.email);
    assert.equal(msg.pool, POOL);
    alice.code = msg.code;
  });

  it('signing up the same username again (any case) is UsernameExistsException', T, async () => {
    assert.ok(alice.code, 'needs the sign-up test');
    await rejectsWith(libSignUp(alice.username.toUpperCase(), alice.password, { email: alice.email }), 'UsernameExistsException');
  });

  it('an unconfirmed user logging in with SRP and the right password gets UserNotConfirmedException', T, async () => {
    assert.ok(alice.code, 'needs the sign-up test');
    await rejectsWith(libAuth(userFor(alice.username), alice.username, alice.password), 'UserNotConfirmedException');
  });

  it('confirmRegistration: a wrong code is CodeMismatchException, the outbox code confirms, a second confirm is refused', T, async () => {
    assert.ok(alice.code, 'needs the sign-up test');
    const wrong = alice.code === '000000' ? '111111' : '000000';
    await rejectsWith(libConfirm(userFor(alice.username), wrong), 'CodeMismatchException');
    const mark = rec.mark();
    assert.equal(await libConfirm(userFor(alice.username), alice.code), 'SUCCESS');
    const call = lastCall('ConfirmSignUp', mark);
    assert.equal(call.body.ForceAliasCreation, true);
    assert.equal(call.body.ConfirmationCode, alice.code);
    await rejectsWith(
      libConfirm(userFor(alice.username), alice.code),
      'NotAuthorizedException',
      'User cannot be confirmed. Current status is CONFIRMED',
    );
    alice.confirmed = true;
  });

  it('authenticateUser with the default flow (USER_SRP_AUTH) gives a valid session with the right tokens', T, async () => {
    assert.ok(alice.confirmed, 'needs the confirm test');
    const user = userFor(alice.username);
    assert.equal(user.getAuthenticationFlowType(), 'USER_SRP_AUTH');
    const mark = rec.mark();
    const session = await libAuth(user, alice.username, alice.password);

    // The wire: InitiateAuth USER_SRP_AUTH → PASSWORD_VERIFIER challenge → RespondToAuthChallenge → tokens.
    const init = lastCall('InitiateAuth', mark);
    assert.equal(init.body.AuthFlow, 'USER_SRP_AUTH');
    assert.equal(init.body.ClientId, CLIENT);
    assert.equal(init.body.AuthParameters.USERNAME, alice.username);
    assert.match(init.body.AuthParameters.SRP_A, /^[0-9a-f]+$/);
    assert.equal(init.status, 200, `InitiateAuth answered ${init.status} ${init.responseText}`);
    assert.equal(init.response.ChallengeName, 'PASSWORD_VERIFIER');
    const cp = init.response.ChallengeParameters;
    for (const k of ['SALT', 'SRP_B', 'SECRET_BLOCK', 'USERNAME', 'USER_ID_FOR_SRP']) {
      assert.equal(typeof cp[k], 'string', `ChallengeParameters.${k} missing: ${JSON.stringify(cp)}`);
      assert.ok(cp[k].length > 0, `ChallengeParameters.${k} empty`);
    }
    assert.match(cp.SALT, /^[0-9a-fA-F]+$/);
    assert.match(cp.SRP_B, /^[0-9a-fA-F]+$/);
    assert.equal(cp.USER_ID_FOR_SRP.toLowerCase(), alice.username.toLowerCase());
    assert.equal(init.response.AuthenticationResult, undefined, 'InitiateAuth USER_SRP_AUTH must not hand out tokens');
    const resp = lastCall('RespondToAuthChallenge', mark);
    assert.equal(resp.body.ChallengeName, 'PASSWORD_VERIFIER');
    assert.equal(resp.body.ChallengeResponses.USERNAME, cp.USER_ID_FOR_SRP);
    assert.equal(resp.status, 200, `RespondToAuthChallenge answered ${resp.status} ${resp.responseText}`);
    const ar = resp.response.AuthenticationResult;
    assert.equal(ar.ExpiresIn, 3600);
    assert.equal(ar.TokenType, 'Bearer');
    assert.equal(ar.NewDeviceMetadata, undefined, 'NewDeviceMetadata makes the library call ConfirmDevice');
    assert.equal(rec.ops('ConfirmDevice', mark).length, 0);

    assert.equal(session.isValid(), true);
    const id = session.getIdToken().decodePayload();
    assertIdClaims(id, { username: alice.username, email: alice.email, sub: alice.sub });
    assert.equal(id.name, 'Alice Example');
    const access = session.getAccessToken().decodePayload();
    assertAccessClaims(access, { username: alice.username, sub: alice.sub });
    assert.equal(access.origin_jti, id.origin_jti, 'ID and access token of one log-in share origin_jti');
    assert.match(session.getRefreshToken().getToken(), /^[A-Za-z0-9\-_=.]+$/);
    assert.equal(user.getUsername(), cp.USER_ID_FOR_SRP);
    // The library cached the session under the user name it was given back.
    assert.equal(storage.getItem(`CognitoIdentityServiceProvider.${CLIENT}.LastAuthUser`), cp.USER_ID_FOR_SRP);
    aliceSession = session;
    alice.user = user;
  });

  it('a wrong password through SRP is NotAuthorizedException "Incorrect username or password."', T, async () => {
    assert.ok(alice.confirmed, 'needs the confirm test');
    const mark = rec.mark();
    await rejectsWith(libAuth(userFor(alice.username), alice.username, 'Wr0ng-Password'), 'NotAuthorizedException', 'Incorrect username or password.');
    // The challenge is issued (the server cannot know the password yet); the answer is refused.
    const resp = lastCall('RespondToAuthChallenge', mark);
    assert.equal(resp.status, 400);
    assert.equal(resp.response?.__type?.split('#').pop(), 'NotAuthorizedException');
  });

  it('an unknown user through SRP gets the same NotAuthorizedException (no user-existence leak)', T, async () => {
    await rejectsWith(libAuth(userFor(`nobody${uniq()}`), 'x', PASSWORD), 'NotAuthorizedException', 'Incorrect username or password.');
  });

  it('getUserAttributes (GetUser) lists sub, email, email_verified "true" and name', T, async () => {
    assert.ok(aliceSession, 'needs the SRP log-in test');
    const list = await libAttributes(alice.user);
    const map = Object.fromEntries(list.map((a) => [a.getName(), a.getValue()]));
    assert.equal(map.sub, alice.sub);
    assert.equal(map.email, alice.email);
    assert.equal(map.email_verified, 'true');
    assert.equal(map.name, 'Alice Example');
  });

  it('refreshSession (REFRESH_TOKEN_AUTH) gives new tokens from the same log-in and keeps the refresh token', T, async () => {
    assert.ok(aliceSession, 'needs the SRP log-in test');
    const before = aliceSession.getAccessToken().decodePayload();
    const beforeId = aliceSession.getIdToken().decodePayload();
    const oldRefresh = aliceSession.getRefreshToken().getToken();
    await new Promise((r) => setTimeout(r, 1100)); // so that iat can move
    const mark = rec.mark();
    // Through the library's Node storage, so that no DEVICE_KEY is sent (the browser case is the next test).
    const nodeUser = new CognitoUser({ Username: alice.username, Pool: nodePool });
    const session = await libRefresh(nodeUser, aliceSession.getRefreshToken());
    const call = lastCall('InitiateAuth', mark);
    assert.equal(call.body.AuthFlow, 'REFRESH_TOKEN_AUTH');
    assert.equal(call.body.AuthParameters.REFRESH_TOKEN, oldRefresh);
    assert.ok(!('DEVICE_KEY' in call.body.AuthParameters));
    assert.equal(call.status, 200, `refresh answered ${call.status} ${call.responseText}`);
    assert.ok(!('RefreshToken' in call.response.AuthenticationResult), 'REFRESH_TOKEN_AUTH must not return a new RefreshToken');
    assert.equal(session.isValid(), true);
    const access = session.getAccessToken().decodePayload();
    const id = session.getIdToken().decodePayload();
    assertAccessClaims(access, { username: alice.username, sub: alice.sub, what: 'refreshed access token' });
    assertIdClaims(id, { username: alice.username, email: alice.email, sub: alice.sub, what: 'refreshed ID token' });
    assert.notEqual(access.jti, before.jti, 'a refreshed access token needs a new jti');
    assert.notEqual(id.jti, beforeId.jti, 'a refreshed ID token needs a new jti');
    assert.equal(access.origin_jti, before.origin_jti, 'origin_jti must survive a refresh');
    assert.equal(id.origin_jti, beforeId.origin_jti, 'origin_jti must survive a refresh');
    assert.equal(access.auth_time, before.auth_time, 'auth_time must survive a refresh');
    assert.ok(access.iat >= before.iat + 1, 'a refreshed token has a new iat');
    assert.equal(session.getRefreshToken().getToken(), oldRefresh);
    // The refreshed access token works.
    alice.user.setSignInUserSession(session);
    const map = Object.fromEntries((await libAttributes(alice.user)).map((a) => [a.getName(), a.getValue()]));
    assert.equal(map.sub, alice.sub);
    aliceSession = session;
  });

  it('refreshSession from a browser-like storage sends AuthParameters.DEVICE_KEY: null, and that works', T, async () => {
    assert.ok(aliceSession, 'needs the SRP log-in test');
    // Browsers' localStorage.getItem answers null for the (never set) device key,
    // and CognitoUser.refreshSession copies it into AuthParameters as is.
    const mark = rec.mark();
    const user = userFor(alice.username);
    const session = await libRefresh(user, aliceSession.getRefreshToken());
    const call = lastCall('InitiateAuth', mark);
    assert.equal(call.body.AuthFlow, 'REFRESH_TOKEN_AUTH');
    assert.ok('DEVICE_KEY' in call.body.AuthParameters && call.body.AuthParameters.DEVICE_KEY === null, JSON.stringify(call.body.AuthParameters));
    assert.equal(session.isValid(), true);
    assert.equal(session.getAccessToken().decodePayload().origin_jti, aliceSession.getAccessToken().decodePayload().origin_jti);
  });

  it('logs in with SRP when the typed username differs in case from the signed-up one', T, async () => {
    const bob = await newConfirmedUser('BoB_MiXeD');
    for (const typed of [bob.username.toLowerCase(), bob.username.toUpperCase()]) {
      const user = userFor(typed);
      const mark = rec.mark();
      const session = await libAuth(user, typed, PASSWORD);
      const cp = lastCall('InitiateAuth', mark).response.ChallengeParameters;
      assert.equal(cp.USER_ID_FOR_SRP.toLowerCase(), bob.username.toLowerCase());
      const id = session.getIdToken().decodePayload();
      assertIdClaims(id, { username: bob.username, email: bob.email, sub: bob.sub, what: `ID token (typed ${typed})` });
      // Whatever case the server keeps, it is the same one every time: the stored user name.
      assert.equal(id['cognito:username'], cp.USER_ID_FOR_SRP);
      assert.equal(session.getAccessToken().decodePayload().username, cp.USER_ID_FOR_SRP);
    }
  });

  it('USER_PASSWORD_AUTH via setAuthenticationFlowType works, refuses a wrong password, ignores username case', T, async () => {
    const carol = await newConfirmedUser('Carol');
    const user = userFor(carol.username.toUpperCase());
    user.setAuthenticationFlowType('USER_PASSWORD_AUTH');
    const mark = rec.mark();
    const session = await libAuth(user, carol.username.toUpperCase(), PASSWORD);
    const call = lastCall('InitiateAuth', mark);
    assert.equal(call.body.AuthFlow, 'USER_PASSWORD_AUTH');
    assert.equal(call.body.AuthParameters.PASSWORD, PASSWORD);
    assert.equal(call.status, 200, `${call.status} ${call.responseText}`);
    assert.deepEqual(call.response.ChallengeParameters, {});
    assert.equal(call.response.AuthenticationResult.ExpiresIn, 3600);
    assert.equal(call.response.AuthenticationResult.TokenType, 'Bearer');
    assert.equal(rec.ops('RespondToAuthChallenge', mark).length, 0);
    assertIdClaims(session.getIdToken().decodePayload(), { username: carol.username, email: carol.email, sub: carol.sub });
    assertAccessClaims(session.getAccessToken().decodePayload(), { username: carol.username, sub: carol.sub });

    const wrong = userFor(carol.username);
    wrong.setAuthenticationFlowType('USER_PASSWORD_AUTH');
    await rejectsWith(libAuth(wrong, carol.username, 'Wr0ng-Password'), 'NotAuthorizedException', 'Incorrect username or password.');
  });

  it('a client without ALLOW_USER_SRP_AUTH refuses the SRP flow with InvalidParameterException, allows USER_PASSWORD_AUTH', T, async () => {
    const dave = await newConfirmedUser('Dave');
    const pwPool = new CognitoUserPool({ UserPoolId: POOL, ClientId: PW_ONLY_CLIENT, endpoint: `${srv.url}/`, Storage: storage });
    await rejectsWith(libAuth(userFor(dave.username, pwPool), dave.username, PASSWORD), 'InvalidParameterException');
    const user = userFor(dave.username, pwPool);
    user.setAuthenticationFlowType('USER_PASSWORD_AUTH');
    const session = await libAuth(user, dave.username, PASSWORD);
    assert.equal(session.getIdToken().decodePayload().aud, PW_ONLY_CLIENT);
    assert.equal(session.getAccessToken().decodePayload().client_id, PW_ONLY_CLIENT);
  });

  it('signOut(callback) revokes the refresh token (RevokeToken) and the access tokens of that log-in', T, async () => {
    const erin = await newConfirmedUser('Erin');
    const user = userFor(erin.username);
    const session = await libAuth(user, erin.username, PASSWORD);
    const refresh = session.getRefreshToken().getToken();
    const access = session.getAccessToken().getJwtToken();
    // A second, independent log-in of the same user must survive.
    const other = await libAuth(userFor(erin.username), erin.username, PASSWORD);
    assertOk(await rawGetUser(access), 'GetUser before sign-out');

    const mark = rec.mark();
    await libRevokingSignOut(user);
    const call = lastCall('RevokeToken', mark);
    assert.deepEqual(call.body, { Token: refresh, ClientId: CLIENT });
    assert.equal(call.status, 200, `RevokeToken answered ${call.status} ${call.responseText}`);
    assert.deepEqual(call.response, {});

    assertCognitoError(await rawRefresh(refresh), 'NotAuthorizedException', { what: 'refresh with the revoked token' });
    assertCognitoError(await rawGetUser(access), 'NotAuthorizedException', { what: 'GetUser with an access token of the revoked log-in' });
    assertOk(await rawGetUser(other.getAccessToken().getJwtToken()), 'GetUser with the other log-in');
    assertOk(await rawRefresh(other.getRefreshToken().getToken()), 'refresh of the other log-in');
  });

  it('globalSignOut ends every session: GetUser says "Access Token has been revoked", refresh tokens die', T, async () => {
    assert.ok(aliceSession, 'needs the SRP log-in test');
    const second = await libAuth(userFor(alice.username), alice.username, alice.password);
    const oldAccess = aliceSession.getAccessToken().getJwtToken();
    const oldRefresh = aliceSession.getRefreshToken().getToken();
    const mark = rec.mark();
    await libGlobalSignOut(alice.user);
    const call = lastCall('GlobalSignOut', mark);
    assert.deepEqual(call.body, { AccessToken: oldAccess });
    assert.equal(call.status, 200);
    assert.deepEqual(call.response, {});

    for (const [what, token] of [
      ['first log-in', oldAccess],
      ['second log-in', second.getAccessToken().getJwtToken()],
    ]) {
      assertCognitoError(await rawGetUser(token), 'NotAuthorizedException', { message: 'Access Token has been revoked', what });
    }
    // Through the library too: the old session object is refused by the server.
    const stale = userFor(alice.username);
    stale.setSignInUserSession(aliceSession);
    await rejectsWith(libAttributes(stale), 'NotAuthorizedException', 'Access Token has been revoked');
    for (const token of [oldRefresh, second.getRefreshToken().getToken()]) {
      assertCognitoError(await rawRefresh(token), 'NotAuthorizedException', { what: 'refresh after GlobalSignOut' });
    }
    // A new log-in works again.
    const fresh = await libAuth(userFor(alice.username), alice.username, alice.password);
    assertOk(await rawGetUser(fresh.getAccessToken().getJwtToken()), 'GetUser after a new log-in');
  });

  it('refreshSession with a bad refresh token fails with NotAuthorizedException', { timeout: 60000 }, async () => {
    // The library retries refreshes with back-off (about 6 s) before giving up.
    const user = new CognitoUser({ Username: alice.username, Pool: nodePool });
    await rejectsWith(libRefresh(user, new CognitoRefreshToken({ RefreshToken: 'not-a-refresh-token' })), 'NotAuthorizedException');
  });

});

// ====================================================================
// aws-amplify v6
// ====================================================================

describe('aws-amplify v6', () => {
  let kv;
  let config;
  const pat = { username: `Pat${uniq()}`, password: PASSWORD };
  pat.email = `${pat.username.toLowerCase()}@example.com`;
  let firstTokens;

  before(async () => {
    // Configure from what the server advertises, as an app would.
    const res = await request(srv.url, '/.well-known/cloudlet.json');
    assert.equal(res.status, 200);
    const doc = JSON.parse(res.text);
    assert.equal(doc.userPoolId, POOL);
    assert.equal(doc.userPoolClientId, CLIENT);
    config = { userPoolId: doc.userPoolId, userPoolClientId: doc.userPoolClientId, userPoolEndpoint: doc.endpoint };
    Amplify.configure({ Auth: { Cognito: config } });
    kv = new MemoryKeyValueStorage();
    cognitoUserPoolsTokenProvider.setKeyValueStorage(kv);
  });

  after(async () => {
    await signOut().catch(() => {});
  });

  async function rejectsNamed(promise, name) {
    let err;
    try {
      await promise;
    } catch (e) {
      err = e;
    }
    assert.ok(err, `expected ${name}, but the call succeeded`);
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    return err;
  }

  async function amplifyUser(prefix) {
    const username = `${prefix}${uniq()}`;
    const email = `${username.toLowerCase()}@example.com`;
    const r = await signUp({ username, password: PASSWORD, options: { userAttributes: { email } } });
    const msg = await waitForMessage(srv, username, 'SignUp');
    await confirmSignUp({ username, confirmationCode: msg.code });
    return { username, email, sub: r.userId };
  }

  it('signUp answers nextStep CONFIRM_SIGN_UP with e-mail delivery details', T, async () => {
    const mark = rec.mark();
    const r = await signUp({ username: pat.username, password: pat.password, options: { userAttributes: { email: pat.email } } });
    assert.equal(r.isSignUpComplete, false);
    assert.match(String(r.userId), UUID_RE);
    assert.equal(r.nextStep.signUpStep, 'CONFIRM_SIGN_UP');
    assert.equal(r.nextStep.codeDeliveryDetails.deliveryMedium, 'EMAIL');
    assert.equal(r.nextStep.codeDeliveryDetails.attributeName, 'email');
    assert.match(r.nextStep.codeDeliveryDetails.destination, /^p\*+@e\*+/i);
    pat.sub = r.userId;
    const call = lastCall('SignUp', mark);
    assert.equal(call.url.replace(/\/$/, ''), srv.url, 'Amplify posts to the configured endpoint');
    assert.equal(call.headers['content-type'], 'application/x-amz-json-1.1');
    assert.equal(call.headers['x-amz-target'], 'AWSCognitoIdentityProviderService.SignUp');
    assert.deepEqual(call.body.UserAttributes, [{ Name: 'email', Value: pat.email }]);
  });

  it('signIn of the unconfirmed user gives nextStep CONFIRM_SIGN_UP (or UserNotConfirmedException)', T, async () => {
    assert.ok(pat.sub, 'needs the sign-up test');
    let r;
    try {
      r = await signIn({ username: pat.username, password: pat.password });
    } catch (e) {
      assert.equal(e.name, 'UserNotConfirmedException', `${e.name}: ${e.message}`);
      return;
    }
    assert.equal(r.isSignedIn, false);
    assert.equal(r.nextStep.signInStep, 'CONFIRM_SIGN_UP');
  });

  it('confirmSignUp with the outbox code completes the sign-up', T, async () => {
    assert.ok(pat.sub, 'needs the sign-up test');
    const msg = await waitForMessage(srv, pat.username, 'SignUp');
    const r = await confirmSignUp({ username: pat.username, confirmationCode: msg.code });
    assert.equal(r.isSignUpComplete, true);
    assert.equal(r.nextStep.signUpStep, 'DONE');
    pat.confirmed = true;
  });

  it('signIn with a wrong password rejects with NotAuthorizedException', T, async () => {
    assert.ok(pat.confirmed, 'needs the confirm test');
    const err = await rejectsNamed(signIn({ username: pat.username, password: 'Wr0ng-Password' }), 'NotAuthorizedException');
    assert.equal(err.message, 'Incorrect username or password.');
  });

  it('signIn (default USER_SRP_AUTH) signs in; fetchAuthSession gives the right tokens', T, async () => {
    assert.ok(pat.confirmed, 'needs the confirm test');
    const mark = rec.mark();
    const r = await signIn({ username: pat.username, password: pat.password });
    assert.equal(r.isSignedIn, true, `nextStep ${JSON.stringify(r.nextStep)}`);
    assert.equal(r.nextStep.signInStep, 'DONE');
    const init = lastCall('InitiateAuth', mark);
    assert.equal(init.body.AuthFlow, 'USER_SRP_AUTH');
    assert.equal(init.status, 200, init.responseText);
    const resp = lastCall('RespondToAuthChallenge', mark);
    assert.equal(resp.status, 200, resp.responseText);
    assert.equal(rec.ops('ConfirmDevice', mark).length, 0, 'no device tracking expected');

    const session = await fetchAuthSession();
    assert.ok(session.tokens, 'fetchAuthSession gave no tokens');
    const id = session.tokens.idToken.payload;
    const access = session.tokens.accessToken.payload;
    assertIdClaims(id, { username: pat.username, email: pat.email, sub: pat.sub });
    assertAccessClaims(access, { username: pat.username, sub: pat.sub });
    assert.equal(session.userSub, pat.sub);
    firstTokens = {
      access: session.tokens.accessToken.toString(),
      id: session.tokens.idToken.toString(),
      origin: access.origin_jti,
      jti: access.jti,
    };
    // Amplify stored the refresh token in our key-value storage.
    const stored = [...kv.map.entries()].find(([k]) => k.endsWith('.refreshToken'));
    assert.ok(stored && stored[1], `no refresh token stored; keys: ${[...kv.map.keys()].join(', ')}`);
    firstTokens.refresh = stored[1];
  });

  it('getCurrentUser and fetchUserAttributes describe the signed-in user', T, async () => {
    assert.ok(firstTokens, 'needs the sign-in test');
    const cur = await getCurrentUser();
    assert.equal(cur.userId, pat.sub);
    assert.equal(cur.username.toLowerCase(), pat.username.toLowerCase());
    assert.equal(cur.signInDetails?.loginId, pat.username);
    const mark = rec.mark();
    const attrs = await fetchUserAttributes();
    assert.equal(attrs.sub, pat.sub);
    assert.equal(attrs.email, pat.email);
    assert.equal(attrs.email_verified, 'true');
    const call = lastCall('GetUser', mark);
    assert.equal(call.body.AccessToken, firstTokens.access);
  });

  it('fetchAuthSession({forceRefresh: true}) refreshes with GetTokensFromRefreshToken', T, async () => {
    assert.ok(firstTokens, 'needs the sign-in test');
    await new Promise((r) => setTimeout(r, 1100));
    const mark = rec.mark();
    const session = await fetchAuthSession({ forceRefresh: true });
    const calls = [...rec.ops('GetTokensFromRefreshToken', mark), ...rec.ops('InitiateAuth', mark)];
    assert.ok(calls.length > 0, 'no refresh call was made');
    const call = calls[calls.length - 1];
    assert.equal(call.status, 200, `${call.op} answered ${call.status} ${call.responseText}`);
    if (call.op === 'GetTokensFromRefreshToken') {
      assert.equal(call.body.RefreshToken, firstTokens.refresh);
      assert.equal(call.body.ClientId, CLIENT);
    }
    const access = session.tokens.accessToken.payload;
    assertAccessClaims(access, { username: pat.username, sub: pat.sub, what: 'refreshed access token' });
    assertIdClaims(session.tokens.idToken.payload, { username: pat.username, email: pat.email, sub: pat.sub, what: 'refreshed ID token' });
    assert.notEqual(access.jti, firstTokens.jti);
    assert.equal(access.origin_jti, firstTokens.origin);
    firstTokens.refreshedAccess = session.tokens.accessToken.toString();
    assert.equal(session.tokens.accessToken.toString() === firstTokens.access, false);
    // Still the same user.
    assert.equal((await fetchUserAttributes()).sub, pat.sub);
  });

  it('signOut() calls RevokeToken; afterwards the old refresh and access tokens are refused', T, async () => {
    assert.ok(firstTokens, 'needs the sign-in test');
    const mark = rec.mark();
    await signOut();
    // signOut() swallows RevokeToken errors: check the call and the answer ourselves.
    const call = lastCall('RevokeToken', mark);
    assert.deepEqual(call.body, { ClientId: CLIENT, Token: firstTokens.refresh });
    assert.equal(call.status, 200, `RevokeToken answered ${call.status} ${call.responseText}`);
    assert.deepEqual(call.response, {});

    assertCognitoError(await rawRefresh(firstTokens.refresh), 'NotAuthorizedException', { what: 'InitiateAuth REFRESH_TOKEN_AUTH after signOut' });
    assertCognitoError(
      await cognitoCall(srv, 'GetTokensFromRefreshToken', { ClientId: CLIENT, RefreshToken: firstTokens.refresh }),
      'NotAuthorizedException',
      { what: 'GetTokensFromRefreshToken after signOut' },
    );
    assertCognitoError(await rawGetUser(firstTokens.access), 'NotAuthorizedException', { what: 'GetUser with the first access token' });
    if (firstTokens.refreshedAccess) {
      assertCognitoError(await rawGetUser(firstTokens.refreshedAccess), 'NotAuthorizedException', { what: 'GetUser with the refreshed access token' });
    }
    const session = await fetchAuthSession();
    assert.equal(session.tokens, undefined, 'tokens left after signOut');
    await rejectsNamed(getCurrentUser(), 'UserUnAuthenticatedException');
  });

  it('signIn with USER_PASSWORD_AUTH and a differently-cased username; signOut({global: true}) calls GlobalSignOut', T, async () => {
    const quinn = await amplifyUser('QuInN');
    const mark = rec.mark();
    const r = await signIn({ username: quinn.username.toLowerCase(), password: PASSWORD, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
    assert.equal(r.isSignedIn, true, JSON.stringify(r.nextStep));
    const init = lastCall('InitiateAuth', mark);
    assert.equal(init.body.AuthFlow, 'USER_PASSWORD_AUTH');
    const session = await fetchAuthSession();
    assertIdClaims(session.tokens.idToken.payload, { username: quinn.username, email: quinn.email, sub: quinn.sub });
    const access = session.tokens.accessToken.toString();
    assert.equal((await getCurrentUser()).userId, quinn.sub);

    const m2 = rec.mark();
    await signOut({ global: true });
    const call = lastCall('GlobalSignOut', m2);
    assert.deepEqual(call.body, { AccessToken: access });
    assert.equal(call.status, 200, `GlobalSignOut answered ${call.status} ${call.responseText}`);
    assertCognitoError(await rawGetUser(access), 'NotAuthorizedException', { message: 'Access Token has been revoked' });
  });

  it('signIn with SRP and a differently-cased username works', T, async () => {
    const rita = await amplifyUser('RiTa');
    const r = await signIn({ username: rita.username.toUpperCase(), password: PASSWORD });
    assert.equal(r.isSignedIn, true, JSON.stringify(r.nextStep));
    const session = await fetchAuthSession();
    assertIdClaims(session.tokens.idToken.payload, { username: rita.username, email: rita.email, sub: rita.sub });
    const cur = await getCurrentUser();
    assert.equal(cur.userId, rita.sub);
    await signOut();
  });

  it('resetPassword → outbox code → confirmResetPassword; the new password signs in, the old one does not; updatePassword', T, async () => {
    const sam = await amplifyUser('Sam');
    const r = await resetPassword({ username: sam.username });
    assert.equal(r.isPasswordReset, false);
    assert.equal(r.nextStep.resetPasswordStep, 'CONFIRM_RESET_PASSWORD_WITH_CODE');
    assert.equal(r.nextStep.codeDeliveryDetails.deliveryMedium, 'EMAIL');
    const msg = await waitForMessage(srv, sam.username, 'ForgotPassword');
    assert.match(msg.code, /^\d{6}$/);
    const NEW = 'N3w-Password-Ok';
    await confirmResetPassword({ username: sam.username, confirmationCode: msg.code, newPassword: NEW });
    await rejectsNamed(signIn({ username: sam.username, password: PASSWORD }), 'NotAuthorizedException');
    const s = await signIn({ username: sam.username, password: NEW });
    assert.equal(s.isSignedIn, true);
    const NEWER = 'N3wer-Password-Ok';
    await rejectsNamed(updatePassword({ oldPassword: 'Wr0ng-Password', newPassword: NEWER }), 'NotAuthorizedException');
    await updatePassword({ oldPassword: NEW, newPassword: NEWER });
    await signOut();
    const again = await signIn({ username: sam.username, password: NEWER });
    assert.equal(again.isSignedIn, true);
    await signOut();
  });

  it('every request Amplify and the other library made was answered with a JSON body and a request id', T, async () => {
    const cognitoCalls = rec.calls.filter((c) => c.op);
    assert.ok(cognitoCalls.length > 10);
    for (const c of cognitoCalls) {
      assert.ok(c.status === 200 || c.status === 400, `${c.op}: status ${c.status} ${c.responseText?.slice(0, 200)}`);
      assert.match(c.responseHeaders['content-type'] ?? '', /^application\/x-amz-json-1\.1/, `${c.op}: content-type`);
      assert.ok(c.responseHeaders['x-amzn-requestid'], `${c.op}: no x-amzn-RequestId`);
      if (c.status === 400) {
        assert.ok(c.response?.__type && c.response?.message !== undefined, `${c.op}: error body ${c.responseText}`);
        assert.ok(c.responseHeaders['x-amzn-errortype'], `${c.op}: error without x-amzn-ErrorType`);
      }
    }
    // The outbox never leaks into the server log.
    const codes = (await readOutbox(srv)).map((m) => m.code);
    for (const code of codes) assert.ok(!srv.stderr().includes(code), `a code (${code}) appears in the server log`);
  });
});

// ====================================================================
// browsers
// ====================================================================

describe('CORS for these libraries in a browser', () => {
  it('a preflight for exactly the request headers the two libraries sent is allowed, and responses expose the error type', T, async () => {
    // The libraries' request headers as recorded above (Amplify adds amz-sdk-invocation-id and amz-sdk-request).
    // What they send today (recorded with amazon-cognito-identity-js 6.3 and aws-amplify 6.22), plus whatever this run saw.
    const names = new Set(['amz-sdk-invocation-id', 'amz-sdk-request', 'cache-control', 'content-type', 'x-amz-target', 'x-amz-user-agent']);
    for (const c of rec.calls.filter((c) => c.op)) for (const h of Object.keys(c.headers)) names.add(h.toLowerCase());
    const requested = [...names].sort().join(',');
    const origin = 'http://localhost:5173';
    const pre = await request(srv.url, '/', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requested },
    });
    assert.ok(pre.status === 200 || pre.status === 204, `preflight: ${pre.status}`);
    const allowOrigin = pre.headers['access-control-allow-origin'];
    assert.ok(allowOrigin === origin || allowOrigin === '*', `Access-Control-Allow-Origin: ${allowOrigin}`);
    assert.match(pre.headers['access-control-allow-methods'] ?? '', /POST/);
    const allowed = (pre.headers['access-control-allow-headers'] ?? '').toLowerCase().split(/\s*,\s*/);
    if (!allowed.includes('*')) {
      for (const h of names) assert.ok(allowed.includes(h), `preflight does not allow ${h} (allows: ${allowed.join(', ')})`);
    }
    // The actual POST: CORS headers, and x-amzn-errortype readable by the page (the fallback of amazon-cognito-identity-js).
    const res = await cognitoCall(srv, 'GetUser', { AccessToken: 'x' }, { headers: { origin } });
    assertCognitoError(res, 'NotAuthorizedException');
    const ao = res.headers['access-control-allow-origin'];
    assert.ok(ao === origin || ao === '*', `Access-Control-Allow-Origin on the POST: ${ao}`);
    const exposed = (res.headers['access-control-expose-headers'] ?? '').toLowerCase();
    assert.ok(exposed.includes('x-amzn-errortype') || exposed.includes('*'), `x-amzn-errortype not exposed: ${exposed}`);
  });
});
