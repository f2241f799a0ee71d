// cognito-sdk.test.mjs - Cognito User Pools end to end with the AWS SDK for
// JavaScript v3 (@aws-sdk/client-cognito-identity-provider) against build/cloudlet:
// sign-up and confirmation codes from the outbox, USER_PASSWORD_AUTH and
// USER_SRP_AUTH, tokens (claims, JWKS signatures, refresh), the user's own
// operations, revocation, password reset, app clients with secrets and
// restricted flows, every Admin* and pool-management operation, SigV4 on the
// admin side, log-in throttling, bad input and the awsJson1_1 error shape.
// The behaviour asserted is the one in notes/auth-spec.md.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as cip from '@aws-sdk/client-cognito-identity-provider';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, tryServe, request, sleep, freePort, BIN } from './helpers.mjs';
import {
  REGION,
  ROOT_ENV,
  ROOT_CREDENTIALS,
  ROOT_ACCESS_KEY_ID,
  UUID_RE,
  POOL_ID_RE,
  CLIENT_ID_RE,
  issuerFor,
  readOutbox,
  messagesFor,
  latestMessage,
  latestCode,
  cognitoRaw,
  assertCognitoError,
  decodeJwt,
  verifyJwt,
  secretHash,
  srpStart,
  srpRespond,
} from './cognito-helpers.mjs';

const T = { timeout: 30000 };
const LONG = { timeout: 90000 };

// ---- the main server's configuration ----

const POOL = 'us-east-1_Test1';
const CLIENT = 'testclient1';
const SECRET_CLIENT = 'secretclient1';
const CLIENT_SECRET = 'k3yb0ardCatSecretForTheTestClient0123456789';
const SRP_ONLY = 'srponlyclient';
const SHORT = 'shortclient';
const LEGACY = 'legacyclient';
const OTHER_POOL = 'us-east-1_Other1';
const OTHER_CLIENT = 'otherclient1';
const OTHER_ISSUER = 'http://issuer.example.test/other-pool';
const LIST_POOL = 'us-east-1_List1';
const LIST_CLIENT = 'listclient1';

const CONFIG = {
  userPools: [
    {
      id: POOL,
      name: 'test',
      autoConfirm: false,
      clients: [
        { id: CLIENT, name: 'web' },
        { id: SECRET_CLIENT, name: 'server-side', secret: CLIENT_SECRET },
        { id: SRP_ONLY, name: 'srp-only', authFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'] },
        {
          id: SHORT,
          name: 'short-lived',
          idTokenValiditySeconds: 600,
          accessTokenValiditySeconds: 900,
          refreshTokenValiditySeconds: 86400,
        },
        { id: LEGACY, name: 'legacy', preventUserExistenceErrors: false },
      ],
    },
    {
      id: OTHER_POOL,
      name: 'other',
      autoConfirm: true,
      issuer: OTHER_ISSUER,
      passwordPolicy: {
        minimumLength: 12,
        requireUppercase: false,
        requireLowercase: true,
        requireNumbers: false,
        requireSymbols: true,
      },
      clients: [{ id: OTHER_CLIENT, name: 'other-web' }],
    },
    { id: LIST_POOL, name: 'listing', clients: [{ id: LIST_CLIENT, name: 'list-web' }] },
  ],
  // A high per-address limit: this file makes many failed log-ins from 127.0.0.1 on purpose.
  auth: { maxFailedLoginsPerUser: 5, maxFailedLoginsPerAddress: 1000, lockoutSeconds: 900 },
};

const PASSWORD = 'Passw0rdGood';
const POLICY = 'Password did not conform with policy: ';
const INCORRECT = 'Incorrect username or password.';

// ---- SDK plumbing ----

function makeClient(url, credentials) {
  return new cip.CognitoIdentityProviderClient({
    region: REGION,
    endpoint: url,
    ...(credentials ? { credentials } : {}),
    maxAttempts: 1, // no retries: throttling and failure counts must be exact
  });
}

/** client.send(new <op>Command(input)). */
function call(client, op, input) {
  const Cmd = cip[`${op}Command`];
  assert.ok(Cmd, `no ${op}Command in the SDK`);
  return client.send(new Cmd(input));
}

/** The output without $metadata. */
const bare = (out) => {
  const { $metadata, ...rest } = out;
  return rest;
};

/**
 * Await promise, which must reject with a service error named `name`, HTTP `status`, the given message
 * (string or RegExp) and an x-amzn-ErrorType header naming the same error. Resolves the error.
 */
async function fails(promise, name, { status = 400, message, what = name } = {}) {
  let out;
  try {
    out = await promise;
  } catch (err) {
    assert.equal(
      err.name,
      name,
      `${what}: got ${err.name} (HTTP ${err.$metadata?.httpStatusCode}) "${err.message}", want ${name}`,
    );
    assert.equal(err.$metadata?.httpStatusCode, status, `${what}: HTTP status`);
    if (message instanceof RegExp) assert.match(err.message, message, `${what}: message`);
    else if (message !== undefined) assert.equal(err.message, message, `${what}: message`);
    const et = err.$response?.headers?.['x-amzn-errortype'];
    assert.ok(et, `${what}: no x-amzn-ErrorType header`);
    assert.equal(et.split(':')[0], name, `${what}: x-amzn-ErrorType`);
    return err;
  }
  assert.fail(`${what}: succeeded, want ${name}: ${JSON.stringify(bare(out)).slice(0, 300)}`);
}

/** Rejects with one of names; resolves the error's name. */
async function failsOneOf(promise, names, what) {
  try {
    const out = await promise;
    assert.fail(`${what}: succeeded, want one of ${names.join('|')}: ${JSON.stringify(bare(out)).slice(0, 200)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.ok(names.includes(err.name), `${what}: got ${err.name} "${err.message}", want one of ${names.join('|')}`);
    assert.equal(err.$metadata?.httpStatusCode, 400, `${what}: HTTP status`);
    return err.name;
  }
}

const nowSec = () => Math.floor(Date.now() / 1000);

/** CodeDeliveryDetails for an email: EMAIL, AttributeName email, Destination masked like a***@e*** (a***@e***.com). */
function assertEmailDelivery(cdd, email, what = 'CodeDeliveryDetails') {
  assert.ok(cdd, `${what}: missing`);
  assert.deepEqual(Object.keys(cdd).sort(), ['AttributeName', 'DeliveryMedium', 'Destination'], `${what}: members`);
  assert.equal(cdd.DeliveryMedium, 'EMAIL', `${what}.DeliveryMedium`);
  assert.equal(cdd.AttributeName, 'email', `${what}.AttributeName`);
  const [local, domain] = email.split('@');
  const host = domain.split('.')[0];
  assert.match(cdd.Destination, new RegExp(`^${local[0]}\\*\\*\\*@${host[0]}\\*\\*\\*`), `${what}.Destination`);
  assert.ok(!cdd.Destination.includes(local) && !cdd.Destination.includes(host), `${what}.Destination ${cdd.Destination} is not masked`);
}
const attr = (list, name) => list?.find((a) => a.Name === name)?.Value;
const wrongCode = (code) => String((Number(code) + 1) % 1000000).padStart(6, '0');

function assertRecentDate(d, what) {
  assert.ok(d instanceof Date, `${what} is not a Date: ${d}`);
  const skew = Math.abs(d.getTime() - Date.now());
  assert.ok(skew < 120000, `${what} ${d.toISOString()} is ${skew} ms from now (not epoch seconds?)`);
}

function assertTokens(ar, { expiresIn = 3600, refresh = true, what = 'AuthenticationResult' } = {}) {
  assert.ok(ar, `${what}: no AuthenticationResult`);
  assert.equal(typeof ar.AccessToken, 'string', `${what}: AccessToken`);
  assert.equal(typeof ar.IdToken, 'string', `${what}: IdToken`);
  assert.equal(ar.ExpiresIn, expiresIn, `${what}: ExpiresIn`);
  assert.equal(ar.TokenType, 'Bearer', `${what}: TokenType`);
  assert.equal(ar.NewDeviceMetadata, undefined, `${what}: NewDeviceMetadata must be omitted`);
  if (refresh) {
    assert.equal(typeof ar.RefreshToken, 'string', `${what}: RefreshToken`);
    assert.match(ar.RefreshToken, /^[A-Za-z0-9\-_=.]+$/, `${what}: RefreshToken alphabet`);
  } else {
    assert.equal(ar.RefreshToken, undefined, `${what}: a refresh must not return a RefreshToken`);
  }
}

// ---- the main server ----

let srv;
let admin; // root-signed
let anon; // no credentials at all: unsigned operations only
let jwks;

before(async () => {
  srv = await startServer({ config: CONFIG, env: ROOT_ENV });
  admin = makeClient(srv.url, ROOT_CREDENTIALS);
  anon = makeClient(srv.url);
  const res = await request(srv.url, `/${POOL}/.well-known/jwks.json`);
  assert.equal(res.status, 200, `JWKS: ${res.status} ${res.text.slice(0, 200)}`);
  jwks = JSON.parse(res.text);
});
after(async () => {
  admin?.destroy();
  anon?.destroy();
  await srv?.stop();
});

const signUp = (username, password = PASSWORD, { email, name, clientId = CLIENT, extra = [], client = anon } = {}) => {
  const attrs = [];
  if (email) attrs.push({ Name: 'email', Value: email });
  if (name) attrs.push({ Name: 'name', Value: name });
  attrs.push(...extra);
  return call(client, 'SignUp', { ClientId: clientId, Username: username, Password: password, UserAttributes: attrs });
};

/** Sign up, confirm with the code from the outbox; resolves the SignUp output. */
async function signUpConfirmed(username, password = PASSWORD, opts = {}) {
  const email = opts.email ?? `${username.toLowerCase()}@example.com`;
  const out = await signUp(username, password, { ...opts, email });
  const code = await latestCode(srv.dataDir, username, { kind: 'SignUp' });
  await call(anon, 'ConfirmSignUp', { ClientId: opts.clientId ?? CLIENT, Username: username, ConfirmationCode: code });
  return out;
}

const passwordAuth = (username, password, clientId = CLIENT, extra = {}, client = anon) =>
  call(client, 'InitiateAuth', {
    AuthFlow: 'USER_PASSWORD_AUTH',
    ClientId: clientId,
    AuthParameters: { USERNAME: username, PASSWORD: password, ...extra },
  });

async function login(username, password = PASSWORD, clientId = CLIENT) {
  const out = await passwordAuth(username, password, clientId);
  assertTokens(out.AuthenticationResult, { what: `login ${username}`, expiresIn: clientId === SHORT ? 900 : 3600 });
  return out.AuthenticationResult;
}

const refreshAuth = (refreshToken, clientId = CLIENT, flow = 'REFRESH_TOKEN_AUTH') =>
  call(anon, 'InitiateAuth', { AuthFlow: flow, ClientId: clientId, AuthParameters: { REFRESH_TOKEN: refreshToken } });

// =====================================================================

describe('discovery: cloudlet.json, JWKS, openid-configuration', () => {
  it('cloudlet.json advertises the first configured pool and its first client', T, async () => {
    const res = await request(srv.url, '/.well-known/cloudlet.json');
    assert.equal(res.status, 200);
    const doc = JSON.parse(res.text);
    assert.equal(doc.region, 'us-east-1');
    assert.equal(doc.endpoint, srv.url);
    assert.equal(doc.userPoolId, POOL);
    assert.equal(doc.userPoolClientId, CLIENT);
  });

  it('serves the pool JWKS: RS256 RSA signing keys of at least 2048 bits', T, async () => {
    const res = await request(srv.url, `/${POOL}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/i);
    const doc = JSON.parse(res.text);
    assert.deepEqual(Object.keys(doc), ['keys']);
    assert.ok(Array.isArray(doc.keys) && doc.keys.length >= 1, 'no keys');
    const kids = new Set();
    for (const k of doc.keys) {
      assert.deepEqual(Object.keys(k).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
      assert.equal(k.alg, 'RS256');
      assert.equal(k.e, 'AQAB');
      assert.equal(k.kty, 'RSA');
      assert.equal(k.use, 'sig');
      assert.equal(typeof k.kid, 'string');
      assert.ok(k.kid.length > 0);
      assert.ok(!kids.has(k.kid), `duplicate kid ${k.kid}`);
      kids.add(k.kid);
      assert.match(k.n, /^[A-Za-z0-9_-]+$/, 'n is not unpadded base64url');
      const key = crypto.createPublicKey({ key: k, format: 'jwk' });
      assert.ok(key.asymmetricKeyDetails.modulusLength >= 2048, `modulus ${key.asymmetricKeyDetails.modulusLength} bits`);
    }
  });

  it('serves openid-configuration with the default issuer and a jwks_uri on this server', T, async () => {
    const res = await request(srv.url, `/${POOL}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/i);
    const doc = JSON.parse(res.text);
    assert.equal(doc.issuer, 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test1');
    assert.equal(doc.jwks_uri, `${srv.url}/${POOL}/.well-known/jwks.json`);
    assert.ok(doc.id_token_signing_alg_values_supported?.includes('RS256'), 'id_token_signing_alg_values_supported');
    assert.ok(doc.subject_types_supported?.includes('public'), 'subject_types_supported');
    const viaUri = await request(srv.url, new URL(doc.jwks_uri).pathname);
    assert.equal(viaUri.status, 200);
    assert.deepEqual(JSON.parse(viaUri.text), jwks);
  });

  it('uses a configured issuer in openid-configuration', T, async () => {
    const res = await request(srv.url, `/${OTHER_POOL}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const doc = JSON.parse(res.text);
    assert.equal(doc.issuer, OTHER_ISSUER);
    assert.equal(doc.jwks_uri, `${srv.url}/${OTHER_POOL}/.well-known/jwks.json`);
    assert.equal((await request(srv.url, `/${OTHER_POOL}/.well-known/jwks.json`)).status, 200);
  });

  it('answers 404 for the JWKS and openid-configuration of an unknown pool', T, async () => {
    for (const p of ['/us-east-1_Nope1/.well-known/jwks.json', '/us-east-1_Nope1/.well-known/openid-configuration']) {
      const res = await request(srv.url, p);
      assert.equal(res.status, 404, `${p}: ${res.status}`);
    }
  });
});

// =====================================================================

describe('sign-up, confirmation and USER_PASSWORD_AUTH', () => {
  let aliceSub;

  it('signs up "Alice": unconfirmed, a UUID sub, a masked email destination, a 6-digit code in the outbox', T, async () => {
    const out = await signUp('Alice', PASSWORD, { email: 'alice@example.com', name: 'Alice Liddell' });
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.equal(out.UserConfirmed, false);
    assert.match(out.UserSub, UUID_RE);
    aliceSub = out.UserSub;
    assertEmailDelivery(out.CodeDeliveryDetails, 'alice@example.com');

    const msg = await latestMessage(srv.dataDir, 'alice', { kind: 'SignUp' });
    assert.equal(msg.pool, POOL);
    assert.equal(msg.username.toLowerCase(), 'alice');
    assert.equal(msg.destination, 'alice@example.com');
    assert.match(msg.code, /^\d{6}$/);
    assert.equal(typeof msg.message, 'string');
    assert.match(msg.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Math.abs(Date.parse(msg.time) - Date.now()) < 60000, `outbox time ${msg.time}`);
    assert.doesNotMatch(srv.stderr(), new RegExp(`(?<![0-9A-Za-z])${msg.code}(?![0-9A-Za-z])`), 'the server log shows the code');

    const u = await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'alice' });
    assert.equal(u.UserStatus, 'UNCONFIRMED');
    assert.equal(u.Enabled, true);
    assert.equal(attr(u.UserAttributes, 'sub'), aliceSub);
    assert.equal(attr(u.UserAttributes, 'email'), 'alice@example.com');
  });

  it('refuses the right password of an unconfirmed user with UserNotConfirmedException', T, async () => {
    await fails(passwordAuth('alice', PASSWORD), 'UserNotConfirmedException', { message: 'User is not confirmed.' });
  });

  it('refuses a wrong code, then confirms with the right one (username in another case)', T, async () => {
    const code = await latestCode(srv.dataDir, 'alice', { kind: 'SignUp' });
    await fails(
      call(anon, 'ConfirmSignUp', { ClientId: CLIENT, Username: 'alice', ConfirmationCode: wrongCode(code) }),
      'CodeMismatchException',
    );
    const out = await call(anon, 'ConfirmSignUp', { ClientId: CLIENT, Username: 'ALICE', ConfirmationCode: code });
    assert.equal(out.$metadata.httpStatusCode, 200);
    const u = await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'alice' });
    assert.equal(u.UserStatus, 'CONFIRMED');
    assert.equal(attr(u.UserAttributes, 'email_verified'), 'true');
  });

  it('refuses to confirm a confirmed user', T, async () => {
    const code = await latestCode(srv.dataDir, 'alice', { kind: 'SignUp' });
    await fails(
      call(anon, 'ConfirmSignUp', { ClientId: CLIENT, Username: 'alice', ConfirmationCode: code }),
      'NotAuthorizedException',
      { message: 'User cannot be confirmed. Current status is CONFIRMED' },
    );
  });

  it('logs in with USER_PASSWORD_AUTH under any case of the username', T, async () => {
    for (const name of ['alice', 'ALICE', 'Alice', 'aLiCe']) {
      const out = await passwordAuth(name, PASSWORD);
      assert.equal(out.$metadata.httpStatusCode, 200);
      assert.equal(out.ChallengeName, undefined, `${name}: ChallengeName`);
      assert.deepEqual(out.ChallengeParameters, {}, `${name}: ChallengeParameters`);
      assertTokens(out.AuthenticationResult, { what: name });
      assert.equal(decodeJwt(out.AuthenticationResult.IdToken).payload.sub, aliceSub, `${name}: sub`);
    }
  });

  it('issues RS256 ID and access tokens, signed by a JWKS key, with the specified claims', T, async () => {
    const ar = await login('alice');
    const t0 = nowSec();
    const id = verifyJwt(ar.IdToken, jwks);
    const ac = verifyJwt(ar.AccessToken, jwks);
    for (const [what, t] of [['id', id], ['access', ac]]) {
      assert.equal(t.header.alg, 'RS256', `${what} alg`);
      assert.equal(typeof t.header.kid, 'string', `${what} kid`);
      const p = t.payload;
      assert.equal(p.sub, aliceSub, `${what} sub`);
      assert.equal(p.iss, 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test1', `${what} iss`);
      assert.equal(p.exp - p.iat, 3600, `${what} exp-iat`);
      assert.ok(Math.abs(p.iat - t0) <= 60, `${what} iat ${p.iat} vs now ${t0}`);
      assert.ok(Number.isInteger(p.auth_time) && p.auth_time <= p.iat && p.auth_time >= p.iat - 60, `${what} auth_time`);
      for (const c of ['jti', 'origin_jti', 'event_id']) assert.equal(typeof p[c], 'string', `${what} ${c}`);
    }
    const p = id.payload;
    assert.equal(p.token_use, 'id');
    assert.equal(p.aud, CLIENT);
    assert.equal(p.email_verified, true);
    assert.equal(p.email, 'alice@example.com');
    assert.equal(p.name, 'Alice Liddell');
    assert.equal(p['cognito:username'].toLowerCase(), 'alice');
    const a = ac.payload;
    assert.equal(a.token_use, 'access');
    assert.equal(a.scope, 'aws.cognito.signin.user.admin');
    assert.equal(a.client_id, CLIENT);
    assert.equal(a.username.toLowerCase(), 'alice');
    assert.equal(a.aud, undefined, 'access tokens have no aud');
    assert.notEqual(id.payload.jti, ac.payload.jti);
  });

  it('refuses to sign up a taken username in any case with UsernameExistsException', T, async () => {
    await fails(signUp('alice', PASSWORD, { email: 'other@example.com' }), 'UsernameExistsException');
    await fails(signUp('ALICE', PASSWORD), 'UsernameExistsException');
  });

  it('gives an unknown user and a wrong password the same NotAuthorizedException', T, async () => {
    const unknown = await fails(passwordAuth('nobody-at-all', PASSWORD), 'NotAuthorizedException', { message: INCORRECT });
    const wrong = await fails(passwordAuth('alice', 'Wr0ngPassword'), 'NotAuthorizedException', { message: INCORRECT });
    assert.equal(unknown.name, wrong.name);
    assert.equal(unknown.message, wrong.message);
    assert.equal(unknown.$metadata.httpStatusCode, wrong.$metadata.httpStatusCode);
  });

  it('names the broken password rule and leaves no user behind', T, async () => {
    const cases = [
      ['Sh0rtPw', 'Password not long enough'],
      ['lowercase1only', 'Password must have uppercase characters'],
      ['UPPERCASE1ONLY', 'Password must have lowercase characters'],
      ['NoDigitsAtAll', 'Password must have numeric characters'],
    ];
    for (const [pw, rule] of cases) {
      await fails(signUp('policyuser', pw, { email: 'policy@example.com' }), 'InvalidPasswordException', {
        message: POLICY + rule,
        what: `password ${pw}`,
      });
    }
    await fails(call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'policyuser' }), 'UserNotFoundException');
    assert.equal((await messagesFor(srv.dataDir, 'policyuser')).length, 0, 'a failed sign-up queued a message');
    // the username is still free
    const ok = await signUp('policyuser', PASSWORD, { email: 'policy@example.com' });
    assert.equal(ok.UserConfirmed, false);
  });

  it('applies a pool\'s own password policy (length 12, symbols) and auto-confirms in an autoConfirm pool', T, async () => {
    const up = (u, pw) =>
      call(anon, 'SignUp', { ClientId: OTHER_CLIENT, Username: u, Password: pw, UserAttributes: [{ Name: 'email', Value: `${u}@example.com` }] });
    await fails(up('olive', 'short!pw'), 'InvalidPasswordException', { message: `${POLICY}Password not long enough` });
    await fails(up('olive', 'nosymbolsinhere'), 'InvalidPasswordException', {
      message: `${POLICY}Password must have symbol characters`,
    });
    const out = await up('olive', 'all-lowercase!ok');
    assert.equal(out.UserConfirmed, true);
    assert.match(out.UserSub, UUID_RE);
    assert.equal(out.CodeDeliveryDetails, undefined, 'autoConfirm sends no code');
    assert.equal((await messagesFor(srv.dataDir, 'olive')).length, 0, 'autoConfirm queued a message');
    const auth = await passwordAuth('olive', 'all-lowercase!ok', OTHER_CLIENT);
    assertTokens(auth.AuthenticationResult);
    const id = decodeJwt(auth.AuthenticationResult.IdToken).payload;
    assert.equal(id.iss, OTHER_ISSUER);
    assert.equal(id.aud, OTHER_CLIENT);
    // the other pool's users do not exist in this one
    await fails(passwordAuth('olive', 'all-lowercase!ok', CLIENT), 'NotAuthorizedException', { message: INCORRECT });
  });

  it('refuses an unknown attribute with InvalidParameterException and keeps custom: attributes', T, async () => {
    await fails(
      signUp('attrs1', PASSWORD, { extra: [{ Name: 'favourite_colour', Value: 'blue' }] }),
      'InvalidParameterException',
    );
    await fails(call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'attrs1' }), 'UserNotFoundException');
    await signUpConfirmed('attrs1', PASSWORD, { extra: [{ Name: 'custom:team', Value: 'blue' }] });
    const ar = await login('attrs1');
    assert.equal(decodeJwt(ar.IdToken).payload['custom:team'], 'blue');
    const me = await call(anon, 'GetUser', { AccessToken: ar.AccessToken });
    assert.equal(attr(me.UserAttributes, 'custom:team'), 'blue');
  });

  it('signs up a user without an email: EMAIL delivery to the masked username', T, async () => {
    const out = await call(anon, 'SignUp', { ClientId: CLIENT, Username: 'noemailuser', Password: PASSWORD });
    assert.equal(out.UserConfirmed, false);
    assert.equal(out.CodeDeliveryDetails?.DeliveryMedium, 'EMAIL');
    assert.equal(typeof out.CodeDeliveryDetails.Destination, 'string');
    assert.match(out.CodeDeliveryDetails.Destination, /\*\*\*/);
    assert.ok(!out.CodeDeliveryDetails.Destination.includes('noemailuser'), 'Destination is not masked');
    const code = await latestCode(srv.dataDir, 'noemailuser', { kind: 'SignUp' });
    await call(anon, 'ConfirmSignUp', { ClientId: CLIENT, Username: 'noemailuser', ConfirmationCode: code });
    await login('noemailuser');
  });

  it('voids a code after 5 wrong attempts (TooManyFailedAttemptsException, then ExpiredCodeException)', T, async () => {
    await signUp('codes1', PASSWORD, { email: 'codes1@example.com' });
    const code = await latestCode(srv.dataDir, 'codes1', { kind: 'SignUp' });
    const bad = wrongCode(code);
    const confirm = (c) => call(anon, 'ConfirmSignUp', { ClientId: CLIENT, Username: 'codes1', ConfirmationCode: c });
    for (let i = 1; i <= 4; i++) await fails(confirm(bad), 'CodeMismatchException', { what: `wrong attempt ${i}` });
    const fifth = await failsOneOf(confirm(bad), ['CodeMismatchException', 'TooManyFailedAttemptsException'], 'wrong attempt 5');
    if (fifth === 'CodeMismatchException') {
      await fails(confirm(bad), 'TooManyFailedAttemptsException', { what: 'attempt after 5 wrong ones' });
    }
    await fails(confirm(code), 'ExpiredCodeException', { what: 'the right code after it was voided' });
    await fails(passwordAuth('codes1', PASSWORD), 'UserNotConfirmedException');

    // a new code from ResendConfirmationCode works
    const resent = await call(anon, 'ResendConfirmationCode', { ClientId: CLIENT, Username: 'codes1' });
    assertEmailDelivery(resent.CodeDeliveryDetails, 'codes1@example.com');
    const msg = await latestMessage(srv.dataDir, 'codes1');
    assert.equal(msg.kind, 'ResendConfirmationCode');
    assert.match(msg.code, /^\d{6}$/);
    await confirm(msg.code);
    await login('codes1');
  });

  it('ResendConfirmationCode makes a new code and voids the old one', T, async () => {
    await signUp('resend1', PASSWORD, { email: 'resend1@example.com' });
    const first = await latestCode(srv.dataDir, 'resend1', { kind: 'SignUp' });
    let second = first;
    for (let i = 0; i < 3 && second === first; i++) {
      const out = await call(anon, 'ResendConfirmationCode', { ClientId: CLIENT, Username: 'RESEND1' });
      assert.equal(out.CodeDeliveryDetails?.DeliveryMedium, 'EMAIL');
      second = await latestCode(srv.dataDir, 'resend1', { kind: 'ResendConfirmationCode' });
    }
    assert.notEqual(second, first, 'three resends all gave the first code');
    const confirm = (c) => call(anon, 'ConfirmSignUp', { ClientId: CLIENT, Username: 'resend1', ConfirmationCode: c });
    await failsOneOf(confirm(first), ['CodeMismatchException', 'ExpiredCodeException'], 'the old code');
    await confirm(second);
    await login('resend1');
  });
});

// =====================================================================

describe('tokens: refresh, GetUser, revocation', () => {
  it('refreshes with REFRESH_TOKEN_AUTH, REFRESH_TOKEN and GetTokensFromRefreshToken keeping auth_time and origin_jti', LONG, async () => {
    await signUpConfirmed('rita');
    const first = await login('rita', PASSWORD, SHORT);
    assert.equal(first.ExpiresIn, 900);
    const id0 = verifyJwt(first.IdToken, jwks).payload;
    const ac0 = verifyJwt(first.AccessToken, jwks).payload;
    assert.equal(id0.exp - id0.iat, 600, 'id token validity');
    assert.equal(ac0.exp - ac0.iat, 900, 'access token validity');
    assert.equal(id0.aud, SHORT);
    assert.equal(ac0.client_id, SHORT);
    await sleep(1100); // a new auth_time would now differ

    const results = [
      ['REFRESH_TOKEN_AUTH', (await refreshAuth(first.RefreshToken, SHORT, 'REFRESH_TOKEN_AUTH')).AuthenticationResult],
      ['REFRESH_TOKEN', (await refreshAuth(first.RefreshToken, SHORT, 'REFRESH_TOKEN')).AuthenticationResult],
      [
        'GetTokensFromRefreshToken',
        (await call(anon, 'GetTokensFromRefreshToken', { RefreshToken: first.RefreshToken, ClientId: SHORT })).AuthenticationResult,
      ],
    ];
    for (const [what, ar] of results) {
      assertTokens(ar, { expiresIn: 900, refresh: false, what });
      const id = verifyJwt(ar.IdToken, jwks).payload;
      const ac = verifyJwt(ar.AccessToken, jwks).payload;
      assert.equal(id.auth_time, id0.auth_time, `${what}: id auth_time`);
      assert.equal(ac.auth_time, ac0.auth_time, `${what}: access auth_time`);
      assert.equal(id.origin_jti, id0.origin_jti, `${what}: id origin_jti`);
      assert.equal(ac.origin_jti, ac0.origin_jti, `${what}: access origin_jti`);
      assert.notEqual(ac.jti, ac0.jti, `${what}: a new access token needs a new jti`);
      assert.ok(ac.iat > ac0.iat, `${what}: iat not newer`);
      assert.equal(id.exp - id.iat, 600, `${what}: id validity`);
      assert.equal(ac.exp - ac.iat, 900, `${what}: access validity`);
      assert.equal(id.sub, id0.sub, `${what}: sub`);
      assert.equal(id.aud, SHORT, `${what}: aud`);
      const me = await call(anon, 'GetUser', { AccessToken: ar.AccessToken });
      assert.equal(me.Username.toLowerCase(), 'rita', `${what}: GetUser with the new access token`);
    }
  });

  it('refuses a bad refresh token and one issued to another client', T, async () => {
    for (const flow of ['REFRESH_TOKEN_AUTH', 'REFRESH_TOKEN']) {
      await fails(refreshAuth('not-a-refresh-token', CLIENT, flow), 'NotAuthorizedException', {
        message: 'Invalid Refresh Token',
        what: flow,
      });
    }
    await fails(
      call(anon, 'GetTokensFromRefreshToken', { RefreshToken: 'not-a-refresh-token', ClientId: CLIENT }),
      'NotAuthorizedException',
      { message: 'Invalid Refresh Token' },
    );
    const short = await login('rita', PASSWORD, SHORT);
    await fails(refreshAuth(short.RefreshToken, CLIENT), 'NotAuthorizedException', { what: 'other client (InitiateAuth)' });
    await fails(
      call(anon, 'GetTokensFromRefreshToken', { RefreshToken: short.RefreshToken, ClientId: CLIENT }),
      'NotAuthorizedException',
      { what: 'other client (GetTokensFromRefreshToken)' },
    );
  });

  it('GetUser returns the username and attributes; refuses ID, tampered and forged tokens', T, async () => {
    const out = await signUpConfirmed('gina', PASSWORD, { name: 'Gina G' });
    const ar = await login('gina');
    const me = await call(anon, 'GetUser', { AccessToken: ar.AccessToken });
    assert.equal(me.Username.toLowerCase(), 'gina');
    assert.equal(attr(me.UserAttributes, 'sub'), out.UserSub);
    assert.equal(attr(me.UserAttributes, 'email'), 'gina@example.com');
    assert.equal(attr(me.UserAttributes, 'email_verified'), 'true');
    assert.equal(attr(me.UserAttributes, 'name'), 'Gina G');
    for (const a of me.UserAttributes) assert.equal(typeof a.Value, 'string', `${a.Name} value is not a string`);

    const bad = 'Invalid Access Token';
    await fails(call(anon, 'GetUser', { AccessToken: ar.IdToken }), 'NotAuthorizedException', { message: bad, what: 'ID token' });

    const [h, p, s] = ar.AccessToken.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url'));
    const other = await login('alice');
    const alicePayload = decodeJwt(other.AccessToken).payload;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: alicePayload.sub, username: alicePayload.username })).toString('base64url')}.${s}`;
    await fails(call(anon, 'GetUser', { AccessToken: tampered }), 'NotAuthorizedException', { message: bad, what: 'tampered' });

    const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    await fails(call(anon, 'GetUser', { AccessToken: flipped }), 'NotAuthorizedException', { message: bad, what: 'bad signature' });

    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forgedInput = `${h}.${p}`;
    const forged = `${forgedInput}.${crypto.sign('RSA-SHA256', Buffer.from(forgedInput), privateKey).toString('base64url')}`;
    await fails(call(anon, 'GetUser', { AccessToken: forged }), 'NotAuthorizedException', { message: bad, what: 'forged' });

    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: decodeJwt(ar.AccessToken).header.kid })).toString('base64url')}.${p}.`;
    await fails(call(anon, 'GetUser', { AccessToken: none }), 'NotAuthorizedException', { message: bad, what: 'alg none' });

    await fails(call(anon, 'GetUser', { AccessToken: 'garbage' }), 'NotAuthorizedException', { message: bad, what: 'garbage' });
  });

  it('UpdateUserAttributes changes attributes; a new email is unverified; unknown attributes are refused', T, async () => {
    await signUpConfirmed('ulla', PASSWORD, { name: 'Ulla' });
    const ar = await login('ulla');
    const out = await call(anon, 'UpdateUserAttributes', {
      AccessToken: ar.AccessToken,
      UserAttributes: [
        { Name: 'name', Value: 'Ulla Updated' },
        { Name: 'custom:team', Value: 'red' },
      ],
    });
    assert.deepEqual(bare(out), {});
    let me = await call(anon, 'GetUser', { AccessToken: ar.AccessToken });
    assert.equal(attr(me.UserAttributes, 'name'), 'Ulla Updated');
    assert.equal(attr(me.UserAttributes, 'custom:team'), 'red');
    assert.equal(attr(me.UserAttributes, 'email_verified'), 'true');

    await call(anon, 'UpdateUserAttributes', {
      AccessToken: ar.AccessToken,
      UserAttributes: [{ Name: 'email', Value: 'ulla.new@example.com' }],
    });
    me = await call(anon, 'GetUser', { AccessToken: ar.AccessToken });
    assert.equal(attr(me.UserAttributes, 'email'), 'ulla.new@example.com');
    assert.equal(attr(me.UserAttributes, 'email_verified'), 'false');
    const u = await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'ulla' });
    assert.equal(attr(u.UserAttributes, 'email'), 'ulla.new@example.com');
    assert.equal(attr(u.UserAttributes, 'email_verified'), 'false');

    await fails(
      call(anon, 'UpdateUserAttributes', { AccessToken: ar.AccessToken, UserAttributes: [{ Name: 'shoe_size', Value: '42' }] }),
      'InvalidParameterException',
    );
    me = await call(anon, 'GetUser', { AccessToken: ar.AccessToken });
    assert.equal(attr(me.UserAttributes, 'shoe_size'), undefined);
  });

  it('ChangePassword needs the previous password, applies the policy, and swaps the passwords', T, async () => {
    await signUpConfirmed('chad');
    const ar = await login('chad');
    const change = (prev, next) =>
      call(anon, 'ChangePassword', { AccessToken: ar.AccessToken, PreviousPassword: prev, ProposedPassword: next });
    await fails(change('Wr0ngPrevious', 'N3wPasswordOk'), 'NotAuthorizedException', { what: 'wrong previous password' });
    await fails(change(PASSWORD, 'n3wpasswordlower'), 'InvalidPasswordException', {
      message: `${POLICY}Password must have uppercase characters`,
    });
    const out = await change(PASSWORD, 'N3wPasswordOk');
    assert.deepEqual(bare(out), {});
    await fails(passwordAuth('chad', PASSWORD), 'NotAuthorizedException', { message: INCORRECT, what: 'old password' });
    await login('chad', 'N3wPasswordOk');
  });

  it('ForgotPassword sends a code; ConfirmForgotPassword sets the new password once', T, async () => {
    await signUpConfirmed('fred');
    const out = await call(anon, 'ForgotPassword', { ClientId: CLIENT, Username: 'Fred' });
    assertEmailDelivery(out.CodeDeliveryDetails, 'fred@example.com');
    const msg = await latestMessage(srv.dataDir, 'fred');
    assert.equal(msg.kind, 'ForgotPassword');
    assert.equal(msg.pool, POOL);
    assert.equal(msg.destination, 'fred@example.com');
    assert.match(msg.code, /^\d{6}$/);
    const confirm = (code, pw) =>
      call(anon, 'ConfirmForgotPassword', { ClientId: CLIENT, Username: 'fred', ConfirmationCode: code, Password: pw });
    await fails(confirm(wrongCode(msg.code), 'Fr3shPassword'), 'CodeMismatchException');
    await fails(confirm(msg.code, 'fr3shpassword'), 'InvalidPasswordException', {
      message: `${POLICY}Password must have uppercase characters`,
    });
    assert.deepEqual(bare(await confirm(msg.code, 'Fr3shPassword')), {});
    await login('fred', 'Fr3shPassword');
    await fails(passwordAuth('fred', PASSWORD), 'NotAuthorizedException', { message: INCORRECT, what: 'old password' });
    await failsOneOf(confirm(msg.code, 'An0therPassword'), ['CodeMismatchException', 'ExpiredCodeException'], 'reused code');
    await login('fred', 'Fr3shPassword');
  });

  it('GlobalSignOut revokes every access and refresh token of the user', LONG, async () => {
    await signUpConfirmed('gus');
    const a = await login('gus');
    const b = await login('gus', PASSWORD, SHORT);
    assert.deepEqual(bare(await call(anon, 'GlobalSignOut', { AccessToken: a.AccessToken })), {});
    const revoked = 'Access Token has been revoked';
    await fails(call(anon, 'GetUser', { AccessToken: a.AccessToken }), 'NotAuthorizedException', { message: revoked, what: 'A access' });
    await fails(call(anon, 'GetUser', { AccessToken: b.AccessToken }), 'NotAuthorizedException', { message: revoked, what: 'B access' });
    await fails(refreshAuth(a.RefreshToken), 'NotAuthorizedException', { what: 'A refresh' });
    await fails(refreshAuth(b.RefreshToken, SHORT), 'NotAuthorizedException', { what: 'B refresh' });
    await fails(
      call(anon, 'GetTokensFromRefreshToken', { RefreshToken: b.RefreshToken, ClientId: SHORT }),
      'NotAuthorizedException',
      { what: 'B GetTokensFromRefreshToken' },
    );
    await fails(call(anon, 'GlobalSignOut', { AccessToken: a.AccessToken }), 'NotAuthorizedException', { what: 'again' });
    // other users are untouched, and a new log-in works
    await login('alice');
    await sleep(1100);
    const c = await login('gus');
    assert.equal((await call(anon, 'GetUser', { AccessToken: c.AccessToken })).Username.toLowerCase(), 'gus');
    assertTokens((await refreshAuth(c.RefreshToken)).AuthenticationResult, { refresh: false });
  });

  it('RevokeToken revokes one refresh token and the access tokens of its log-in only', T, async () => {
    await signUpConfirmed('rob');
    const a = await login('rob');
    const a2 = (await refreshAuth(a.RefreshToken)).AuthenticationResult; // same log-in, refreshed
    const b = await login('rob');
    const out = await call(anon, 'RevokeToken', { Token: a.RefreshToken, ClientId: CLIENT });
    assert.deepEqual(bare(out), {});
    await fails(refreshAuth(a.RefreshToken), 'NotAuthorizedException', { what: 'revoked refresh token' });
    await fails(call(anon, 'GetUser', { AccessToken: a.AccessToken }), 'NotAuthorizedException', { what: 'access token of that log-in' });
    await fails(call(anon, 'GetUser', { AccessToken: a2.AccessToken }), 'NotAuthorizedException', { what: 'refreshed access token of that log-in' });
    assert.equal((await call(anon, 'GetUser', { AccessToken: b.AccessToken })).Username.toLowerCase(), 'rob');
    assertTokens((await refreshAuth(b.RefreshToken)).AuthenticationResult, { refresh: false, what: 'other log-in refresh' });
  });

  it('DeleteUser removes the user', T, async () => {
    await signUpConfirmed('dora');
    const ar = await login('dora');
    assert.deepEqual(bare(await call(anon, 'DeleteUser', { AccessToken: ar.AccessToken })), {});
    await fails(passwordAuth('dora', PASSWORD), 'NotAuthorizedException', { message: INCORRECT });
    await fails(call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'dora' }), 'UserNotFoundException');
    await fails(refreshAuth(ar.RefreshToken), 'NotAuthorizedException', { what: 'refresh of a deleted user' });
    // the name is free again
    const again = await signUp('dora', PASSWORD, { email: 'dora2@example.com' });
    assert.equal(again.UserConfirmed, false);
  });

  it('a client with preventUserExistenceErrors false reports UserNotFoundException', T, async () => {
    await fails(passwordAuth('nobody-at-all', PASSWORD, LEGACY), 'UserNotFoundException');
    await fails(passwordAuth('alice', 'Wr0ngPassword', LEGACY), 'NotAuthorizedException', { message: INCORRECT });
    await login('alice', PASSWORD, LEGACY);
  });
});

// =====================================================================

describe('USER_SRP_AUTH and app-client restrictions', () => {
  let samSub;
  before(async () => {
    samSub = (await signUpConfirmed('sam')).UserSub;
  });

  const srpLogin = async (username, password, clientId = CLIENT, extra = {}) => {
    const start = srpStart();
    const init = await call(anon, 'InitiateAuth', {
      AuthFlow: 'USER_SRP_AUTH',
      ClientId: clientId,
      AuthParameters: { USERNAME: username, SRP_A: start.SRP_A, ...extra },
    });
    assert.equal(init.ChallengeName, 'PASSWORD_VERIFIER');
    assert.equal(init.AuthenticationResult, undefined);
    const cp = init.ChallengeParameters;
    for (const k of ['SALT', 'SRP_B', 'SECRET_BLOCK', 'USERNAME', 'USER_ID_FOR_SRP']) {
      assert.equal(typeof cp?.[k], 'string', `ChallengeParameters.${k}`);
    }
    assert.match(cp.SRP_B, /^[0-9a-fA-F]+$/);
    assert.match(cp.SALT, /^[0-9a-fA-F]+$/);
    return call(anon, 'RespondToAuthChallenge', {
      ClientId: clientId,
      ChallengeName: 'PASSWORD_VERIFIER',
      ...(init.Session ? { Session: init.Session } : {}),
      ChallengeResponses: { ...srpRespond({ poolId: POOL, password, start, params: cp }), ...extra },
    });
  };

  it('logs in with USER_SRP_AUTH + PASSWORD_VERIFIER', T, async () => {
    const out = await srpLogin('SAM', PASSWORD);
    assertTokens(out.AuthenticationResult, { what: 'SRP' });
    const id = verifyJwt(out.AuthenticationResult.IdToken, jwks).payload;
    assert.equal(id.sub, samSub);
    assert.equal(id.token_use, 'id');
    const me = await call(anon, 'GetUser', { AccessToken: out.AuthenticationResult.AccessToken });
    assert.equal(me.Username.toLowerCase(), 'sam');
  });

  it('refuses a wrong password in the PASSWORD_VERIFIER step', T, async () => {
    await fails(srpLogin('sam', 'Wr0ngPassword'), 'NotAuthorizedException', { message: INCORRECT });
  });

  it('refuses a flow the client does not allow with InvalidParameterException', T, async () => {
    await fails(passwordAuth('sam', PASSWORD, SRP_ONLY), 'InvalidParameterException');
    const out = await srpLogin('sam', PASSWORD, SRP_ONLY);
    assertTokens(out.AuthenticationResult, { what: 'SRP on the SRP-only client' });
    assert.equal(decodeJwt(out.AuthenticationResult.IdToken).payload.aud, SRP_ONLY);
  });

  it('a client with a secret needs a correct SecretHash / SECRET_HASH', T, async () => {
    const hash = (u) => secretHash(CLIENT_SECRET, u, SECRET_CLIENT);
    const input = {
      ClientId: SECRET_CLIENT,
      Username: 'sid',
      Password: PASSWORD,
      UserAttributes: [{ Name: 'email', Value: 'sid@example.com' }],
    };
    await fails(call(anon, 'SignUp', input), 'NotAuthorizedException', { what: 'SignUp without SecretHash' });
    await fails(call(anon, 'SignUp', { ...input, SecretHash: hash('someone-else') }), 'NotAuthorizedException', {
      what: 'SignUp with a wrong SecretHash',
    });
    await call(anon, 'SignUp', { ...input, SecretHash: hash('sid') });
    const code = await latestCode(srv.dataDir, 'sid', { kind: 'SignUp' });
    await call(anon, 'ConfirmSignUp', { ClientId: SECRET_CLIENT, Username: 'sid', ConfirmationCode: code, SecretHash: hash('sid') });

    await fails(passwordAuth('sid', PASSWORD, SECRET_CLIENT), 'NotAuthorizedException', { what: 'no SECRET_HASH' });
    await fails(passwordAuth('sid', PASSWORD, SECRET_CLIENT, { SECRET_HASH: hash('sidney') }), 'NotAuthorizedException', {
      what: 'wrong SECRET_HASH',
    });
    await fails(
      passwordAuth('sid', PASSWORD, SECRET_CLIENT, { SECRET_HASH: secretHash('not-the-secret', 'sid', SECRET_CLIENT) }),
      'NotAuthorizedException',
      { what: 'SECRET_HASH with the wrong key' },
    );
    const out = await passwordAuth('sid', PASSWORD, SECRET_CLIENT, { SECRET_HASH: hash('sid') });
    assertTokens(out.AuthenticationResult);
    assert.equal(decodeJwt(out.AuthenticationResult.IdToken).payload.aud, SECRET_CLIENT);
    // the same user logs in through the client without a secret, no hash needed
    await login('sid');
  });
});

// =====================================================================

describe('admin operations (root-signed)', () => {
  it('AdminCreateUser with a temporary password: outbox, NEW_PASSWORD_REQUIRED, RespondToAuthChallenge', LONG, async () => {
    const out = await call(admin, 'AdminCreateUser', {
      UserPoolId: POOL,
      Username: 'adam',
      TemporaryPassword: 'TempPassw0rd',
      UserAttributes: [
        { Name: 'email', Value: 'adam@example.com' },
        { Name: 'name', Value: 'Adam A' },
      ],
    });
    const u = out.User;
    assert.equal(u.Username.toLowerCase(), 'adam');
    assert.equal(u.UserStatus, 'FORCE_CHANGE_PASSWORD');
    assert.equal(u.Enabled, true);
    assertRecentDate(u.UserCreateDate, 'UserCreateDate');
    assert.match(attr(u.Attributes, 'sub'), UUID_RE);
    assert.equal(attr(u.Attributes, 'email'), 'adam@example.com');

    const msg = await latestMessage(srv.dataDir, 'adam');
    assert.equal(msg.kind, 'AdminCreateUser');
    assert.equal(msg.code, 'TempPassw0rd');
    assert.equal(msg.pool, POOL);
    assert.equal(msg.destination, 'adam@example.com');

    const challenge = async () => {
      const init = await passwordAuth('adam', 'TempPassw0rd');
      assert.equal(init.ChallengeName, 'NEW_PASSWORD_REQUIRED');
      assert.equal(typeof init.Session, 'string');
      assert.ok(init.Session.length > 0, 'empty Session');
      assert.equal(init.AuthenticationResult, undefined);
      return init.Session;
    };
    const respond = (session, pw) =>
      call(anon, 'RespondToAuthChallenge', {
        ClientId: CLIENT,
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        Session: session,
        ChallengeResponses: { USERNAME: 'adam', NEW_PASSWORD: pw },
      });
    await fails(respond(await challenge(), 'weakpassword'), 'InvalidPasswordException', { message: /^Password did not conform with policy: / });
    await fails(respond(`bogus${'0'.repeat(40)}session`, 'Adam5NewPassword'), 'NotAuthorizedException', { what: 'bogus Session' });
    const done = await respond(await challenge(), 'Adam5NewPassword');
    assertTokens(done.AuthenticationResult, { what: 'NEW_PASSWORD_REQUIRED answer' });
    assert.equal(decodeJwt(done.AuthenticationResult.IdToken).payload.sub, attr(u.Attributes, 'sub'));

    const after = await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'ADAM' });
    assert.equal(after.UserStatus, 'CONFIRMED');
    await login('adam', 'Adam5NewPassword');
    await fails(passwordAuth('adam', 'TempPassw0rd'), 'NotAuthorizedException', { message: INCORRECT });
  });

  it('AdminCreateUser generates a temporary password that meets the policy; SUPPRESS skips the outbox', T, async () => {
    await call(admin, 'AdminCreateUser', {
      UserPoolId: POOL,
      Username: 'gene',
      UserAttributes: [{ Name: 'email', Value: 'gene@example.com' }],
    });
    const msg = await latestMessage(srv.dataDir, 'gene');
    assert.equal(msg.kind, 'AdminCreateUser');
    const temp = msg.code;
    assert.equal(typeof temp, 'string');
    assert.ok(temp.length >= 8 && /[A-Z]/.test(temp) && /[a-z]/.test(temp) && /[0-9]/.test(temp), `generated ${temp} breaks the policy`);
    const init = await passwordAuth('gene', temp);
    assert.equal(init.ChallengeName, 'NEW_PASSWORD_REQUIRED');

    const before = (await readOutbox(srv.dataDir)).length;
    const q = await call(admin, 'AdminCreateUser', {
      UserPoolId: POOL,
      Username: 'quiet',
      TemporaryPassword: 'Qu1etTemporary',
      MessageAction: 'SUPPRESS',
      UserAttributes: [{ Name: 'email', Value: 'quiet@example.com' }],
    });
    assert.equal(q.User.UserStatus, 'FORCE_CHANGE_PASSWORD');
    assert.equal((await messagesFor(srv.dataDir, 'quiet')).length, 0, 'SUPPRESS queued a message');
    assert.equal((await readOutbox(srv.dataDir)).length, Math.min(before, 50));
  });

  it('AdminCreateUser refuses a taken username and a weak temporary password', T, async () => {
    await fails(
      call(admin, 'AdminCreateUser', { UserPoolId: POOL, Username: 'Alice', TemporaryPassword: 'TempPassw0rd', MessageAction: 'SUPPRESS' }),
      'UsernameExistsException',
    );
    await fails(
      call(admin, 'AdminCreateUser', { UserPoolId: POOL, Username: 'weakling', TemporaryPassword: 'weak', MessageAction: 'SUPPRESS' }),
      'InvalidPasswordException',
    );
    await fails(call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'weakling' }), 'UserNotFoundException');
  });

  it('AdminConfirmSignUp confirms; AdminGetUser reports the user', T, async () => {
    const up = await signUp('connie', PASSWORD, { email: 'connie@example.com' });
    const out = await call(admin, 'AdminConfirmSignUp', { UserPoolId: POOL, Username: 'Connie' });
    assert.deepEqual(bare(out), {});
    const u = await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'CONNIE' });
    assert.equal(u.Username.toLowerCase(), 'connie');
    assert.equal(u.UserStatus, 'CONFIRMED');
    assert.equal(u.Enabled, true);
    assertRecentDate(u.UserCreateDate, 'UserCreateDate');
    assertRecentDate(u.UserLastModifiedDate, 'UserLastModifiedDate');
    assert.equal(attr(u.UserAttributes, 'sub'), up.UserSub);
    assert.equal(attr(u.UserAttributes, 'email'), 'connie@example.com');
    await login('connie');
  });

  it('AdminDisableUser refuses log-in ("User is disabled."); AdminEnableUser restores it', T, async () => {
    assert.deepEqual(bare(await call(admin, 'AdminDisableUser', { UserPoolId: POOL, Username: 'connie' })), {});
    assert.equal((await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'connie' })).Enabled, false);
    await fails(passwordAuth('connie', PASSWORD), 'NotAuthorizedException', { message: 'User is disabled.' });
    assert.deepEqual(bare(await call(admin, 'AdminEnableUser', { UserPoolId: POOL, Username: 'connie' })), {});
    assert.equal((await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'connie' })).Enabled, true);
    await login('connie');
  });

  it('AdminSetUserPassword: Permanent confirms, not permanent forces a change', T, async () => {
    const out = await call(admin, 'AdminSetUserPassword', {
      UserPoolId: POOL,
      Username: 'quiet',
      Password: 'Qu1etPermanent',
      Permanent: true,
    });
    assert.deepEqual(bare(out), {});
    assert.equal((await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'quiet' })).UserStatus, 'CONFIRMED');
    await login('quiet', 'Qu1etPermanent');
    await fails(passwordAuth('quiet', 'Qu1etTemporary'), 'NotAuthorizedException', { message: INCORRECT });

    await call(admin, 'AdminSetUserPassword', { UserPoolId: POOL, Username: 'connie', Password: 'C0nnieTemporary', Permanent: false });
    assert.equal((await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'connie' })).UserStatus, 'FORCE_CHANGE_PASSWORD');
    const init = await passwordAuth('connie', 'C0nnieTemporary');
    assert.equal(init.ChallengeName, 'NEW_PASSWORD_REQUIRED');

    await fails(
      call(admin, 'AdminSetUserPassword', { UserPoolId: POOL, Username: 'quiet', Password: 'nouppercase1', Permanent: true }),
      'InvalidPasswordException',
      { message: `${POLICY}Password must have uppercase characters` },
    );
  });

  it('AdminDeleteUser removes the user', T, async () => {
    assert.deepEqual(bare(await call(admin, 'AdminDeleteUser', { UserPoolId: POOL, Username: 'Gene' })), {});
    await fails(call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'gene' }), 'UserNotFoundException');
    await fails(passwordAuth('gene', 'Whatever1Pass'), 'NotAuthorizedException', { message: INCORRECT });
  });

  it('answers UserNotFoundException for admin operations on an unknown user', T, async () => {
    const u = { UserPoolId: POOL, Username: 'ghost' };
    await fails(call(admin, 'AdminGetUser', u), 'UserNotFoundException', { what: 'AdminGetUser' });
    await fails(call(admin, 'AdminDeleteUser', u), 'UserNotFoundException', { what: 'AdminDeleteUser' });
    await fails(call(admin, 'AdminDisableUser', u), 'UserNotFoundException', { what: 'AdminDisableUser' });
    await fails(call(admin, 'AdminEnableUser', u), 'UserNotFoundException', { what: 'AdminEnableUser' });
    await fails(call(admin, 'AdminConfirmSignUp', u), 'UserNotFoundException', { what: 'AdminConfirmSignUp' });
    await fails(call(admin, 'AdminSetUserPassword', { ...u, Password: 'Gh0stPassword', Permanent: true }), 'UserNotFoundException', {
      what: 'AdminSetUserPassword',
    });
  });

  it('answers ResourceNotFoundException for an unknown pool', T, async () => {
    const P = 'us-east-1_Nope1';
    await fails(call(admin, 'AdminGetUser', { UserPoolId: P, Username: 'alice' }), 'ResourceNotFoundException', { what: 'AdminGetUser' });
    await fails(
      call(admin, 'AdminCreateUser', { UserPoolId: P, Username: 'x', MessageAction: 'SUPPRESS' }),
      'ResourceNotFoundException',
      { what: 'AdminCreateUser' },
    );
    await fails(call(admin, 'ListUsers', { UserPoolId: P }), 'ResourceNotFoundException', { what: 'ListUsers' });
    await fails(call(admin, 'DescribeUserPool', { UserPoolId: P }), 'ResourceNotFoundException', { what: 'DescribeUserPool' });
    await fails(call(admin, 'CreateUserPoolClient', { UserPoolId: P, ClientName: 'x' }), 'ResourceNotFoundException', {
      what: 'CreateUserPoolClient',
    });
  });
});

// =====================================================================

describe('ListUsers', () => {
  const subs = {};
  before(async () => {
    for (let n = 1; n <= 7; n++) {
      const email = n <= 4 ? `lu${n}@example.com` : `other${n}@test.org`;
      const out = await call(admin, 'AdminCreateUser', {
        UserPoolId: LIST_POOL,
        Username: `lu${n}`,
        TemporaryPassword: 'TempPassw0rd',
        MessageAction: 'SUPPRESS',
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'name', Value: `Name ${n}` },
        ],
      });
      subs[`lu${n}`] = attr(out.User.Attributes, 'sub');
    }
    for (const u of ['lu1', 'lu2']) {
      await call(admin, 'AdminSetUserPassword', { UserPoolId: LIST_POOL, Username: u, Password: PASSWORD, Permanent: true });
    }
    await call(admin, 'AdminDisableUser', { UserPoolId: LIST_POOL, Username: 'lu7' });
  });

  const names = (users) => users.map((u) => u.Username.toLowerCase()).sort();
  const listAll = async (input) => {
    const pages = [];
    let token;
    for (let i = 0; i < 20; i++) {
      const out = await call(admin, 'ListUsers', { UserPoolId: LIST_POOL, ...input, ...(token ? { PaginationToken: token } : {}) });
      assert.ok(Array.isArray(out.Users), 'Users is not an array');
      pages.push(out.Users);
      token = out.PaginationToken;
      if (!token) return pages;
    }
    assert.fail('more than 20 pages');
  };

  it('lists all users with their fields', T, async () => {
    const out = await call(admin, 'ListUsers', { UserPoolId: LIST_POOL });
    assert.equal(out.PaginationToken, undefined);
    assert.deepEqual(names(out.Users), ['lu1', 'lu2', 'lu3', 'lu4', 'lu5', 'lu6', 'lu7']);
    const lu3 = out.Users.find((u) => u.Username.toLowerCase() === 'lu3');
    assert.equal(lu3.UserStatus, 'FORCE_CHANGE_PASSWORD');
    assert.equal(lu3.Enabled, true);
    assertRecentDate(lu3.UserCreateDate, 'UserCreateDate');
    assert.equal(attr(lu3.Attributes, 'email'), 'lu3@example.com');
    assert.equal(attr(lu3.Attributes, 'sub'), subs.lu3);
    assert.equal(out.Users.find((u) => u.Username.toLowerCase() === 'lu7').Enabled, false);
    assert.equal(out.Users.find((u) => u.Username.toLowerCase() === 'lu1').UserStatus, 'CONFIRMED');
  });

  it('paginates 7 users with Limit 3 as 3 + 3 + 1', T, async () => {
    const pages = await listAll({ Limit: 3 });
    assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
    const all = pages.flat();
    assert.deepEqual(names(all), ['lu1', 'lu2', 'lu3', 'lu4', 'lu5', 'lu6', 'lu7'], 'pages overlap or miss users');
  });

  it('filters with = and ^= on username, email, name, sub, cognito:user_status and status', T, async () => {
    const f = async (Filter) => names((await call(admin, 'ListUsers', { UserPoolId: LIST_POOL, Filter })).Users);
    assert.deepEqual(await f('username = "lu3"'), ['lu3']);
    assert.deepEqual(await f('email ^= "other"'), ['lu5', 'lu6', 'lu7']);
    assert.deepEqual(await f('email = "lu2@example.com"'), ['lu2']);
    assert.deepEqual(await f('name = "Name 4"'), ['lu4']);
    assert.deepEqual(await f('name ^= "Name"'), ['lu1', 'lu2', 'lu3', 'lu4', 'lu5', 'lu6', 'lu7']);
    assert.deepEqual(await f(`sub = "${subs.lu5}"`), ['lu5']);
    assert.deepEqual(await f('cognito:user_status = "CONFIRMED"'), ['lu1', 'lu2']);
    assert.deepEqual(await f('cognito:user_status = "FORCE_CHANGE_PASSWORD"'), ['lu3', 'lu4', 'lu5', 'lu6', 'lu7']);
    assert.deepEqual(await f('status = "Disabled"'), ['lu7']);
    assert.deepEqual(await f('status = "Enabled"'), ['lu1', 'lu2', 'lu3', 'lu4', 'lu5', 'lu6']);
    assert.deepEqual(await f('username = "nobody"'), []);
  });

  it('paginates a filtered listing', T, async () => {
    const pages = await listAll({ Limit: 3, Filter: 'email ^= "lu"' });
    assert.deepEqual(pages.map((p) => p.length), [3, 1]);
    assert.deepEqual(names(pages.flat()), ['lu1', 'lu2', 'lu3', 'lu4']);
  });

  it('refuses a Limit over 60', T, async () => {
    await fails(call(admin, 'ListUsers', { UserPoolId: LIST_POOL, Limit: 61 }), 'InvalidParameterException');
  });
});

// =====================================================================

describe('pool management: CreateUserPool, CreateUserPoolClient, DescribeUserPool, ListUserPools', () => {
  let made; // the new pool
  let secretClient;
  let plainClient;
  let autoPool;

  it('DescribeUserPool describes a configured pool with the default password policy', T, async () => {
    const out = await call(admin, 'DescribeUserPool', { UserPoolId: POOL });
    assert.equal(out.UserPool.Id, POOL);
    assert.equal(out.UserPool.Name, 'test');
    assert.deepEqual(
      {
        MinimumLength: out.UserPool.Policies?.PasswordPolicy?.MinimumLength,
        RequireUppercase: out.UserPool.Policies?.PasswordPolicy?.RequireUppercase,
        RequireLowercase: out.UserPool.Policies?.PasswordPolicy?.RequireLowercase,
        RequireNumbers: out.UserPool.Policies?.PasswordPolicy?.RequireNumbers,
        RequireSymbols: out.UserPool.Policies?.PasswordPolicy?.RequireSymbols,
      },
      { MinimumLength: 8, RequireUppercase: true, RequireLowercase: true, RequireNumbers: true, RequireSymbols: false },
    );
  });

  it('CreateUserPool creates a pool with its password policy', T, async () => {
    const policy = { MinimumLength: 10, RequireUppercase: false, RequireLowercase: true, RequireNumbers: true, RequireSymbols: false };
    const out = await call(admin, 'CreateUserPool', { PoolName: 'made', Policies: { PasswordPolicy: policy } });
    made = out.UserPool;
    assert.match(made.Id, /^us-east-1_[0-9a-zA-Z]+$/);
    assert.equal(made.Name, 'made');
    assertRecentDate(made.CreationDate, 'CreationDate');
    const d = await call(admin, 'DescribeUserPool', { UserPoolId: made.Id });
    assert.equal(d.UserPool.Id, made.Id);
    assert.equal(d.UserPool.Name, 'made');
    assertRecentDate(d.UserPool.CreationDate, 'DescribeUserPool CreationDate');
    const pp = d.UserPool.Policies.PasswordPolicy;
    for (const k of Object.keys(policy)) assert.equal(pp[k], policy[k], `PasswordPolicy.${k}`);

    const jw = await request(srv.url, `/${made.Id}/.well-known/jwks.json`);
    assert.equal(jw.status, 200);
    const oc = JSON.parse((await request(srv.url, `/${made.Id}/.well-known/openid-configuration`)).text);
    assert.equal(oc.issuer, issuerFor(made.Id));
  });

  it('CreateUserPoolClient creates clients with and without a generated secret', T, async () => {
    const s = await call(admin, 'CreateUserPoolClient', {
      UserPoolId: made.Id,
      ClientName: 'made-server',
      GenerateSecret: true,
      ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      AccessTokenValidity: 2,
      IdTokenValidity: 3,
      RefreshTokenValidity: 10,
      TokenValidityUnits: { AccessToken: 'hours', IdToken: 'hours', RefreshToken: 'days' },
    });
    secretClient = s.UserPoolClient;
    assert.equal(secretClient.UserPoolId, made.Id);
    assert.equal(secretClient.ClientName, 'made-server');
    assert.match(secretClient.ClientId, CLIENT_ID_RE);
    assert.equal(typeof secretClient.ClientSecret, 'string');
    assert.ok(secretClient.ClientSecret.length >= 16, 'short ClientSecret');
    assert.deepEqual([...secretClient.ExplicitAuthFlows].sort(), ['ALLOW_REFRESH_TOKEN_AUTH', 'ALLOW_USER_PASSWORD_AUTH']);

    const p = await call(admin, 'CreateUserPoolClient', {
      UserPoolId: made.Id,
      ClientName: 'made-web',
      ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
    });
    plainClient = p.UserPoolClient;
    assert.match(plainClient.ClientId, CLIENT_ID_RE);
    assert.notEqual(plainClient.ClientId, secretClient.ClientId);
    assert.equal(plainClient.ClientSecret, undefined);
  });

  it('the new pool works: its policy, codes, log-in through both clients, token lifetimes, isolation', LONG, async () => {
    const up = (pw) =>
      call(anon, 'SignUp', {
        ClientId: plainClient.ClientId,
        Username: 'maker',
        Password: pw,
        UserAttributes: [{ Name: 'email', Value: 'maker@example.com' }],
      });
    await fails(up('short12ab'), 'InvalidPasswordException', { message: `${POLICY}Password not long enough` });
    await fails(up('nodigitsatall'), 'InvalidPasswordException', { message: `${POLICY}Password must have numeric characters` });
    const out = await up('lowercase123');
    assert.equal(out.UserConfirmed, false);
    const msg = await latestMessage(srv.dataDir, 'maker', { kind: 'SignUp' });
    assert.equal(msg.pool, made.Id);
    await call(anon, 'ConfirmSignUp', { ClientId: plainClient.ClientId, Username: 'maker', ConfirmationCode: msg.code });

    const a = await passwordAuth('maker', 'lowercase123', plainClient.ClientId);
    assertTokens(a.AuthenticationResult);
    const id = decodeJwt(a.AuthenticationResult.IdToken).payload;
    assert.equal(id.iss, issuerFor(made.Id));
    assert.equal(id.aud, plainClient.ClientId);
    assert.equal(id.sub, out.UserSub);
    const madeJwks = JSON.parse((await request(srv.url, `/${made.Id}/.well-known/jwks.json`)).text);
    verifyJwt(a.AuthenticationResult.IdToken, madeJwks);
    verifyJwt(a.AuthenticationResult.AccessToken, madeJwks);

    await fails(passwordAuth('maker', 'lowercase123', secretClient.ClientId), 'NotAuthorizedException', { what: 'no SECRET_HASH' });
    const s = await passwordAuth('maker', 'lowercase123', secretClient.ClientId, {
      SECRET_HASH: secretHash(secretClient.ClientSecret, 'maker', secretClient.ClientId),
    });
    assertTokens(s.AuthenticationResult, { expiresIn: 7200 });
    const sid = decodeJwt(s.AuthenticationResult.IdToken).payload;
    const sac = decodeJwt(s.AuthenticationResult.AccessToken).payload;
    assert.equal(sac.exp - sac.iat, 7200, 'access validity 2 hours');
    assert.equal(sid.exp - sid.iat, 10800, 'id validity 3 hours');
    assert.equal(sac.client_id, secretClient.ClientId);

    // the secret client allows no SRP
    await fails(
      call(anon, 'InitiateAuth', {
        AuthFlow: 'USER_SRP_AUTH',
        ClientId: secretClient.ClientId,
        AuthParameters: {
          USERNAME: 'maker',
          SRP_A: srpStart().SRP_A,
          SECRET_HASH: secretHash(secretClient.ClientSecret, 'maker', secretClient.ClientId),
        },
      }),
      'InvalidParameterException',
    );
    // the user exists in the new pool only
    await fails(passwordAuth('maker', 'lowercase123', CLIENT), 'NotAuthorizedException', { message: INCORRECT });
    await fails(call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'maker' }), 'UserNotFoundException');
    assert.equal((await call(admin, 'AdminGetUser', { UserPoolId: made.Id, Username: 'maker' })).UserStatus, 'CONFIRMED');
  });

  it('CreateUserPool with the cloudlet:autoConfirm tag auto-confirms; a LEGACY client reveals unknown users', T, async () => {
    const out = await call(admin, 'CreateUserPool', { PoolName: 'madeauto', UserPoolTags: { 'cloudlet:autoConfirm': 'true' } });
    autoPool = out.UserPool;
    assert.match(autoPool.Id, /^us-east-1_[0-9a-zA-Z]+$/);
    assert.notEqual(autoPool.Id, made.Id);
    const c = (
      await call(admin, 'CreateUserPoolClient', {
        UserPoolId: autoPool.Id,
        ClientName: 'legacy',
        PreventUserExistenceErrors: 'LEGACY',
        ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      })
    ).UserPoolClient;
    const up = await call(anon, 'SignUp', { ClientId: c.ClientId, Username: 'autouser', Password: PASSWORD });
    assert.equal(up.UserConfirmed, true);
    assertTokens((await passwordAuth('autouser', PASSWORD, c.ClientId)).AuthenticationResult);
    await fails(passwordAuth('no-such-user', PASSWORD, c.ClientId), 'UserNotFoundException');
  });

  it('ListUserPools lists every pool, paginated by MaxResults', T, async () => {
    const want = [POOL, OTHER_POOL, LIST_POOL, made.Id, autoPool.Id].sort();
    const one = await call(admin, 'ListUserPools', { MaxResults: 60 });
    assert.equal(one.NextToken, undefined);
    assert.deepEqual(one.UserPools.map((p) => p.Id).sort(), want);
    assert.equal(one.UserPools.find((p) => p.Id === POOL).Name, 'test');
    assert.equal(one.UserPools.find((p) => p.Id === made.Id).Name, 'made');

    const pages = [];
    let token;
    for (let i = 0; i < 10; i++) {
      const out = await call(admin, 'ListUserPools', { MaxResults: 2, ...(token ? { NextToken: token } : {}) });
      pages.push(out.UserPools.map((p) => p.Id));
      token = out.NextToken;
      if (!token) break;
    }
    assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
    assert.deepEqual(pages.flat().sort(), want);
  });

  it('refuses MaxResults outside 1-60', T, async () => {
    await fails(call(admin, 'ListUserPools', { MaxResults: 0 }), 'InvalidParameterException', { what: 'MaxResults 0' });
    await fails(call(admin, 'ListUserPools', { MaxResults: 61 }), 'InvalidParameterException', { what: 'MaxResults 61' });
  });
});

// =====================================================================

describe('SigV4 on admin operations', () => {
  it('answers an unsigned admin call with 403 MissingAuthenticationTokenException', T, async () => {
    for (const [op, body] of [
      ['AdminGetUser', { UserPoolId: POOL, Username: 'alice' }],
      ['ListUserPools', { MaxResults: 10 }],
      ['CreateUserPool', { PoolName: 'sneaky' }],
      ['AdminCreateUser', { UserPoolId: POOL, Username: 'sneaky', MessageAction: 'SUPPRESS' }],
    ]) {
      const res = await cognitoRaw(srv.url, op, body);
      assertCognitoError(res, 'MissingAuthenticationTokenException', { status: 403, what: `unsigned ${op}` });
    }
    await fails(call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'sneaky' }), 'UserNotFoundException');
  });

  it('accepts a correctly signed raw request', T, async () => {
    const res = await cognitoRaw(srv.url, 'AdminGetUser', { UserPoolId: POOL, Username: 'alice' }, { sign: ROOT_CREDENTIALS });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'] ?? '', /^application\/x-amz-json-1\.1/);
    assert.ok(res.headers['x-amzn-requestid']);
    assert.equal(res.json.Username.toLowerCase(), 'alice');
    assert.equal(typeof res.json.UserCreateDate, 'number', 'timestamps are epoch seconds');
    assert.ok(Math.abs(res.json.UserCreateDate - Date.now() / 1000) < 600, `UserCreateDate ${res.json.UserCreateDate}`);
  });

  it('answers a wrong secret with InvalidSignatureException', T, async () => {
    const wrong = { accessKeyId: ROOT_ACCESS_KEY_ID, secretAccessKey: 'x'.repeat(40) };
    const c = makeClient(srv.url, wrong);
    try {
      await fails(call(c, 'AdminGetUser', { UserPoolId: POOL, Username: 'alice' }), 'InvalidSignatureException');
      await fails(call(c, 'ListUserPools', { MaxResults: 10 }), 'InvalidSignatureException');
    } finally {
      c.destroy();
    }
    const res = await cognitoRaw(srv.url, 'AdminGetUser', { UserPoolId: POOL, Username: 'alice' }, { sign: wrong });
    assertCognitoError(res, 'InvalidSignatureException');
    const tampered = await cognitoRaw(
      srv.url,
      'AdminDeleteUser',
      { UserPoolId: POOL, Username: 'nobody-special' },
      { sign: ROOT_CREDENTIALS, sendBody: JSON.stringify({ UserPoolId: POOL, Username: 'alice' }) },
    );
    assertCognitoError(tampered, 'InvalidSignatureException', { what: 'body changed after signing' });
    assert.equal((await call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: 'alice' })).Enabled, true);
  });

  it('answers an unknown access key with UnrecognizedClientException', T, async () => {
    const unknown = { accessKeyId: 'AKIAUNKNOWNKEY000001', secretAccessKey: 'y'.repeat(40) };
    const c = makeClient(srv.url, unknown);
    try {
      await fails(call(c, 'AdminGetUser', { UserPoolId: POOL, Username: 'alice' }), 'UnrecognizedClientException');
    } finally {
      c.destroy();
    }
    const res = await cognitoRaw(srv.url, 'ListUserPools', { MaxResults: 1 }, { sign: unknown });
    assertCognitoError(res, 'UnrecognizedClientException');
  });

  it('unsigned operations need no credentials (raw, unsigned)', T, async () => {
    const res = await cognitoRaw(srv.url, 'InitiateAuth', {
      AuthFlow: 'USER_PASSWORD_AUTH',
      ClientId: CLIENT,
      AuthParameters: { USERNAME: 'alice', PASSWORD },
    });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'] ?? '', /^application\/x-amz-json-1\.1/);
    assert.equal(res.json.AuthenticationResult.TokenType, 'Bearer');
    assert.deepEqual(res.json.ChallengeParameters, {});
    // the SDK client holding root credentials can call them too
    const out = await passwordAuth('alice', PASSWORD, CLIENT, {}, admin);
    assertTokens(out.AuthenticationResult);
  });
});

// =====================================================================

describe('bad input and the error shape (raw requests)', () => {
  const up = (body) => cognitoRaw(srv.url, 'SignUp', body);

  it('answers a body that is not JSON with SerializationException', T, async () => {
    assertCognitoError(await cognitoRaw(srv.url, 'SignUp', '{"ClientId": "testclient1", '), 'SerializationException');
    assertCognitoError(await cognitoRaw(srv.url, 'InitiateAuth', 'not json at all'), 'SerializationException');
  });

  it('answers a member of the wrong type with SerializationException', T, async () => {
    assertCognitoError(await up({ ClientId: CLIENT, Username: 5, Password: PASSWORD }), 'SerializationException');
    assertCognitoError(
      await cognitoRaw(srv.url, 'InitiateAuth', { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: CLIENT, AuthParameters: 'x' }),
      'SerializationException',
      { what: 'AuthParameters as a string' },
    );
    await fails(call(admin, 'AdminGetUser', { UserPoolId: POOL, Username: '5' }), 'UserNotFoundException');
  });

  it('answers a missing required member with InvalidParameterException', T, async () => {
    assertCognitoError(await up({ Username: 'missing1', Password: PASSWORD }), 'InvalidParameterException');
    assertCognitoError(
      await cognitoRaw(srv.url, 'InitiateAuth', { AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: 'alice', PASSWORD } }),
      'InvalidParameterException',
      { what: 'InitiateAuth without ClientId' },
    );
  });

  it('answers a Username over 128 characters with InvalidParameterException; 128 is fine', T, async () => {
    const long = 'u'.repeat(129);
    assertCognitoError(await up({ ClientId: CLIENT, Username: long, Password: PASSWORD }), 'InvalidParameterException');
    const ok = await up({ ClientId: CLIENT, Username: 'v'.repeat(128), Password: PASSWORD });
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.json.UserSub, UUID_RE);
  });

  it('answers an unknown ClientId or UserPoolId with ResourceNotFoundException', T, async () => {
    assertCognitoError(await up({ ClientId: 'noSuchClient', Username: 'x1', Password: PASSWORD }), 'ResourceNotFoundException');
    assertCognitoError(
      await cognitoRaw(srv.url, 'InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: 'noSuchClient',
        AuthParameters: { USERNAME: 'alice', PASSWORD },
      }),
      'ResourceNotFoundException',
      { what: 'InitiateAuth' },
    );
    assertCognitoError(
      await cognitoRaw(srv.url, 'AdminGetUser', { UserPoolId: 'us-east-1_Nope1', Username: 'alice' }, { sign: ROOT_CREDENTIALS }),
      'ResourceNotFoundException',
      { what: 'AdminGetUser' },
    );
    await fails(
      call(anon, 'ConfirmSignUp', { ClientId: 'noSuchClient', Username: 'alice', ConfirmationCode: '123456' }),
      'ResourceNotFoundException',
    );
  });

  it('answers an unknown operation with 400 InvalidAction', T, async () => {
    assertCognitoError(await cognitoRaw(srv.url, 'FrobnicateWidgets', {}), 'InvalidAction');
    assertCognitoError(await cognitoRaw(srv.url, 'ListGroups', { UserPoolId: POOL }, { sign: ROOT_CREDENTIALS }), 'InvalidAction', {
      what: 'a real but unimplemented operation',
    });
  });

  it('shapes service errors from real flows the same way', T, async () => {
    assertCognitoError(
      await cognitoRaw(srv.url, 'InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: CLIENT,
        AuthParameters: { USERNAME: 'alice', PASSWORD: 'Wr0ngPassword' },
      }),
      'NotAuthorizedException',
      { message: INCORRECT },
    );
    assertCognitoError(await up({ ClientId: CLIENT, Username: 'alice', Password: PASSWORD }), 'UsernameExistsException');
    assertCognitoError(await up({ ClientId: CLIENT, Username: 'shapely', Password: 'Sh0rt' }), 'InvalidPasswordException', {
      message: `${POLICY}Password not long enough`,
    });
    assertCognitoError(await cognitoRaw(srv.url, 'GetUser', { AccessToken: 'nope' }), 'NotAuthorizedException', {
      message: 'Invalid Access Token',
    });
  });
});

// =====================================================================

describe('the default pool (no userPools in the config)', () => {
  let dsrv;
  let dadmin;
  before(async () => {
    dsrv = await startServer({ env: ROOT_ENV });
    dadmin = makeClient(dsrv.url, ROOT_CREDENTIALS);
  });
  after(async () => {
    dadmin?.destroy();
    await dsrv?.stop();
  });

  it('advertises a default pool and client that work end to end', LONG, async () => {
    const doc = JSON.parse((await request(dsrv.url, '/.well-known/cloudlet.json')).text);
    assert.match(doc.userPoolId, POOL_ID_RE);
    assert.match(doc.userPoolId, /^us-east-1_/);
    assert.match(doc.userPoolClientId, CLIENT_ID_RE);
    const jw = await request(dsrv.url, `/${doc.userPoolId}/.well-known/jwks.json`);
    assert.equal(jw.status, 200);
    const keys = JSON.parse(jw.text);

    const c = makeClient(dsrv.url);
    try {
      const up = await call(c, 'SignUp', {
        ClientId: doc.userPoolClientId,
        Username: 'dee',
        Password: PASSWORD,
        UserAttributes: [{ Name: 'email', Value: 'dee@example.com' }],
      });
      assert.equal(up.UserConfirmed, false);
      const msg = await latestMessage(dsrv.dataDir, 'dee', { kind: 'SignUp' });
      assert.equal(msg.pool, doc.userPoolId);
      await call(c, 'ConfirmSignUp', { ClientId: doc.userPoolClientId, Username: 'dee', ConfirmationCode: msg.code });
      const out = await passwordAuth('dee', PASSWORD, doc.userPoolClientId, {}, c);
      assertTokens(out.AuthenticationResult);
      const id = verifyJwt(out.AuthenticationResult.IdToken, keys).payload;
      assert.equal(id.iss, issuerFor(doc.userPoolId));
      assert.equal(id.aud, doc.userPoolClientId);
      assert.equal(id.sub, up.UserSub);
    } finally {
      c.destroy();
    }
    const d = await call(dadmin, 'DescribeUserPool', { UserPoolId: doc.userPoolId });
    assert.equal(d.UserPool.Id, doc.userPoolId);
    const pools = await call(dadmin, 'ListUserPools', { MaxResults: 60 });
    assert.deepEqual(pools.UserPools.map((p) => p.Id), [doc.userPoolId]);
  });
});

// =====================================================================

describe('log-in throttling (maxFailedLoginsPerUser 3, maxFailedLoginsPerAddress 8)', () => {
  const TP = 'us-east-1_Throttle1';
  const TC = 'throttleclient';
  let tsrv;
  let tadmin;
  let tanon;
  before(async () => {
    tsrv = await startServer({
      config: {
        userPools: [{ id: TP, name: 'throttle', clients: [{ id: TC, name: 'web' }] }],
        auth: { maxFailedLoginsPerUser: 3, maxFailedLoginsPerAddress: 8, lockoutSeconds: 900 },
      },
      env: ROOT_ENV,
    });
    tadmin = makeClient(tsrv.url, ROOT_CREDENTIALS);
    tanon = makeClient(tsrv.url);
    for (const u of ['tina', 'tom']) {
      await call(tadmin, 'AdminCreateUser', { UserPoolId: TP, Username: u, TemporaryPassword: 'TempPassw0rd', MessageAction: 'SUPPRESS' });
      await call(tadmin, 'AdminSetUserPassword', { UserPoolId: TP, Username: u, Password: PASSWORD, Permanent: true });
    }
  });
  after(async () => {
    tadmin?.destroy();
    tanon?.destroy();
    await tsrv?.stop();
  });
  const auth = (u, pw) => passwordAuth(u, pw, TC, {}, tanon);

  it('locks a user after 3 failures (even the right password), then the address after 8', LONG, async () => {
    assertTokens((await auth('tina', PASSWORD)).AuthenticationResult, { what: 'before any failure' });
    for (let i = 1; i <= 3; i++) {
      await fails(auth('tina', 'Wr0ngPassword'), 'NotAuthorizedException', { message: INCORRECT, what: `failure ${i}` });
    }
    await fails(auth('tina', PASSWORD), 'NotAuthorizedException', { message: 'Password attempts exceeded', what: 'right password, locked' });
    await fails(auth('TINA', PASSWORD), 'NotAuthorizedException', { message: 'Password attempts exceeded', what: 'other case' });
    // per user: tom is not locked
    assertTokens((await auth('tom', PASSWORD)).AuthenticationResult, { what: 'another user' });

    // now fail as unknown users until the address is throttled
    let k = 0;
    let throttled = null;
    for (let i = 0; i < 12; i++) {
      try {
        await auth(`stranger${i}`, 'Wr0ngPassword');
        assert.fail(`stranger${i} logged in`);
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        if (err.name === 'TooManyRequestsException') {
          throttled = err;
          break;
        }
        assert.equal(err.name, 'NotAuthorizedException', `stranger${i}: ${err.name} ${err.message}`);
        k++;
      }
    }
    assert.ok(throttled, 'never throttled after 3 + 12 failures from one address');
    assert.equal(throttled.$metadata.httpStatusCode, 400);
    // 8 failures in all: 3 on tina (+ her 2 refused attempts while locked, if those count) + k on strangers
    assert.ok(k >= 3 && k <= 5, `throttled after 3 + ${k} failures (want 8 in all)`);
    // the whole address is throttled now, even for a right password
    await fails(auth('tom', PASSWORD), 'TooManyRequestsException', { what: 'right password from a throttled address' });
  });
});

describe('lockout expires after lockoutSeconds', () => {
  const TP = 'us-east-1_Lock1';
  const TC = 'lockclient';
  let lsrv;
  let ladmin;
  let lanon;
  before(async () => {
    lsrv = await startServer({
      config: {
        userPools: [{ id: TP, name: 'lock', clients: [{ id: TC, name: 'web' }] }],
        auth: { maxFailedLoginsPerUser: 2, maxFailedLoginsPerAddress: 100, lockoutSeconds: 2 },
      },
      env: ROOT_ENV,
    });
    ladmin = makeClient(lsrv.url, ROOT_CREDENTIALS);
    lanon = makeClient(lsrv.url);
    await call(ladmin, 'AdminCreateUser', { UserPoolId: TP, Username: 'lou', TemporaryPassword: 'TempPassw0rd', MessageAction: 'SUPPRESS' });
    await call(ladmin, 'AdminSetUserPassword', { UserPoolId: TP, Username: 'lou', Password: PASSWORD, Permanent: true });
  });
  after(async () => {
    ladmin?.destroy();
    lanon?.destroy();
    await lsrv?.stop();
  });

  it('lets the user in again once lockoutSeconds have passed', T, async () => {
    const auth = (pw) => passwordAuth('lou', pw, TC, {}, lanon);
    await fails(auth('Wr0ngPassword'), 'NotAuthorizedException', { message: INCORRECT });
    await fails(auth('Wr0ngPassword'), 'NotAuthorizedException', { message: INCORRECT });
    await fails(auth(PASSWORD), 'NotAuthorizedException', { message: 'Password attempts exceeded' });
    await sleep(2600);
    assertTokens((await auth(PASSWORD)).AuthenticationResult, { what: 'after the lockout' });
  });
});

// =====================================================================

describe('the outbox', () => {
  it('prints the newest 50 messages, oldest first, one JSON object per line', LONG, async () => {
    await signUp('chatty', PASSWORD, { email: 'chatty@example.com' });
    for (let i = 0; i < 55; i++) await call(anon, 'ResendConfirmationCode', { ClientId: CLIENT, Username: 'chatty' });
    const all = await readOutbox(srv.dataDir);
    assert.equal(all.length, 50);
    for (let i = 1; i < all.length; i++) {
      assert.ok(Date.parse(all[i - 1].time) <= Date.parse(all[i].time), `outbox not oldest first at line ${i}`);
    }
    for (const m of all) {
      for (const k of ['time', 'pool', 'username', 'destination', 'kind', 'code', 'message']) {
        assert.equal(typeof m[k], 'string', `outbox member ${k} in ${JSON.stringify(m)}`);
      }
    }
    const last = all[all.length - 1];
    assert.equal(last.kind, 'ResendConfirmationCode');
    assert.equal(last.username.toLowerCase(), 'chatty');
    // the newest code is the one that works
    await call(anon, 'ConfirmSignUp', { ClientId: CLIENT, Username: 'chatty', ConfirmationCode: last.code });
    await login('chatty');
  });
});

// =====================================================================

describe('config validation for userPools and auth', () => {
  const pool = (extra = {}, client = {}) => ({
    userPools: [{ id: 'us-east-1_Valid1', name: 'v', clients: [{ id: 'validclient', name: 'w', ...client }], ...extra }],
  });
  const refuses = async (config, what) => {
    const r = await tryServe({ config });
    assert.equal(r.running, false, `${what}: the server started`);
    assert.notEqual(r.code, 0, `${what}: exit code 0`);
    assert.ok(r.stderr.trim().length > 0, `${what}: nothing on stderr`);
  };

  it('starts with a valid pool config', T, async () => {
    const s = await startServer({ config: pool() });
    try {
      const doc = JSON.parse((await request(s.url, '/.well-known/cloudlet.json')).text);
      assert.equal(doc.userPoolId, 'us-east-1_Valid1');
      assert.equal(doc.userPoolClientId, 'validclient');
    } finally {
      await s.stop();
    }
  });

  it('refuses unknown fields in a pool, a client and auth', T, async () => {
    await refuses(pool({ colour: 'blue' }), 'unknown pool field');
    await refuses(pool({}, { colour: 'blue' }), 'unknown client field');
    await refuses({ ...pool(), auth: { maxFailedLoginsPerUser: 5, colour: 'blue' } }, 'unknown auth field');
  });

  it('refuses a malformed pool id or client id', T, async () => {
    await refuses({ userPools: [{ id: 'nounderscore', name: 'v', clients: [{ id: 'validclient', name: 'w' }] }] }, 'pool id without _');
    await refuses({ userPools: [{ id: 'us-east-1_bad!', name: 'v', clients: [{ id: 'validclient', name: 'w' }] }] }, 'pool id with !');
    await refuses(pool({}, { id: 'bad-client' }), 'client id with -');
    await refuses(pool({}, { id: 'x'.repeat(129) }), 'client id of 129 characters');
  });
});

// =====================================================================

describe('restart: the default pool, users and signing keys survive in the data dir', () => {
  let root;
  let proc = null;
  before(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudlet-it-restart-'));
  });
  after(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGKILL');
    }
    await fsp.rm(root, { recursive: true, force: true });
  });

  async function serve() {
    const port = await freePort();
    const p = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data', path.join(root, 'data')], {
      env: { ...process.env, ...ROOT_ENV },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const exited = new Promise((resolve) => p.on('close', resolve));
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await request(url, '/healthz', { timeoutMs: 1000 })).status === 200) break;
      } catch {
        /* not up yet */
      }
      assert.ok(i < 200 && p.exitCode === null, `server did not start: ${err}`);
      await sleep(50);
    }
    proc = p;
    return {
      url,
      stop: async () => {
        p.kill('SIGTERM');
        await exited;
      },
    };
  }

  it('keeps the pool and client ids, users, and the JWKS across a restart', LONG, async () => {
    await fsp.mkdir(path.join(root, 'data'));
    const a = await serve();
    const docA = JSON.parse((await request(a.url, '/.well-known/cloudlet.json')).text);
    const jwksA = JSON.parse((await request(a.url, `/${docA.userPoolId}/.well-known/jwks.json`)).text);
    const ca = makeClient(a.url);
    let tokens;
    try {
      await call(ca, 'SignUp', { ClientId: docA.userPoolClientId, Username: 'persist', Password: PASSWORD });
      const code = await latestCode(path.join(root, 'data'), 'persist', { kind: 'SignUp' });
      await call(ca, 'ConfirmSignUp', { ClientId: docA.userPoolClientId, Username: 'persist', ConfirmationCode: code });
      tokens = (await passwordAuth('persist', PASSWORD, docA.userPoolClientId, {}, ca)).AuthenticationResult;
    } finally {
      ca.destroy();
    }
    await a.stop();

    const b = await serve();
    const cb = makeClient(b.url);
    try {
      const docB = JSON.parse((await request(b.url, '/.well-known/cloudlet.json')).text);
      assert.equal(docB.userPoolId, docA.userPoolId);
      assert.equal(docB.userPoolClientId, docA.userPoolClientId);
      const jwksB = JSON.parse((await request(b.url, `/${docB.userPoolId}/.well-known/jwks.json`)).text);
      assert.deepEqual(jwksB, jwksA);
      verifyJwt(tokens.IdToken, jwksB);
      const me = await call(cb, 'GetUser', { AccessToken: tokens.AccessToken });
      assert.equal(me.Username.toLowerCase(), 'persist');
      const r = await call(cb, 'InitiateAuth', {
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: docB.userPoolClientId,
        AuthParameters: { REFRESH_TOKEN: tokens.RefreshToken },
      });
      assertTokens(r.AuthenticationResult, { refresh: false });
      assertTokens((await passwordAuth('persist', PASSWORD, docB.userPoolClientId, {}, cb)).AuthenticationResult);
    } finally {
      cb.destroy();
      await b.stop();
    }
  });
});

// =====================================================================

describe('the server log', () => {
  it('never shows a confirmation code, a temporary password or a password', T, async () => {
    const log = srv.stderr();
    assert.ok(log.length > 0, 'empty server log');
    const whole = (x) => new RegExp(`(?<![0-9A-Za-z])${x}(?![0-9A-Za-z])`);
    for (const m of await readOutbox(srv.dataDir)) {
      assert.doesNotMatch(log, whole(m.code), `the log shows the ${m.kind} code of ${m.username}`);
    }
    for (const secret of [PASSWORD, 'TempPassw0rd', 'Fr3shPassword', 'N3wPasswordOk', 'Adam5NewPassword', 'Qu1etPermanent', CLIENT_SECRET]) {
      assert.ok(!log.includes(secret), `the log shows ${secret}`);
    }
  });
});
