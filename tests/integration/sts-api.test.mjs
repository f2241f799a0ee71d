// sts-api.test.mjs - the STS query API end to end against build/cloudlet with
// @aws-sdk/client-sts and Debian's aws CLI: GetCallerIdentity (root,
// identity-pool, web-identity, assumed-role and session credentials),
// AssumeRoleWithWebIdentity (unsigned; trust, forged tokens, durations),
// AssumeRole (root, or a caller allowed sts:AssumeRole), GetSessionToken,
// DurationSeconds bounds, session policies, and the XML wire shape.
// The behaviour asserted is the one in notes/sts-spec.md.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  GetCallerIdentityCommand,
  AssumeRoleWithWebIdentityCommand,
  AssumeRoleCommand,
  GetSessionTokenCommand,
} from '@aws-sdk/client-sts';
import { AdminGetUserCommand, AdminCreateUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { startServer } from './helpers.mjs';
import {
  ACCOUNT,
  ROOT_ENV,
  ROOT_CREDENTIALS,
  AROA_RE,
  IDP_SESSION,
  roleArn,
  assumedRoleArn,
  userPoolArn,
  loginsFor,
  policy,
  stsClient,
  idpClient,
  bare,
  fails,
  makeUser,
  poolCredentials,
  signing,
  fromStsCredentials,
  callerIdentity,
  assertTempCredentials,
  fetchJwks,
  forgeIdTokens,
  flipMiddle,
  stsRaw,
  xmlText,
  assertStsErr,
  awsCli,
  cliCredentialsEnv,
} from './sts-helpers.mjs';

const T = { timeout: 30000 };
const CLI = { timeout: 90000 };

const POOL = 'us-east-1_StsApi1';
const CLIENT = 'stsapiweb1';
const UNTRUSTED_POOL = 'us-east-1_StsApi2';
const UNTRUSTED_CLIENT = 'stsapiweb2';
const IDP = 'us-east-1:33333333-4444-5555-6666-777777777777';

const CONFIG = {
  userPools: [
    { id: POOL, name: 'sts-api', autoConfirm: true, clients: [{ id: CLIENT, name: 'web' }] },
    { id: UNTRUSTED_POOL, name: 'sts-untrusted', autoConfirm: true, clients: [{ id: UNTRUSTED_CLIENT, name: 'web2' }] },
  ],
  roles: [
    {
      // The identity pool's role and the web-identity role: may assume `target`, read users of POOL.
      name: 'web-user',
      maxSessionDuration: 7200,
      trust: { userPools: [POOL] },
      policies: [
        policy(
          { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn('target') },
          { Effect: 'Allow', Action: 'cognito-idp:AdminGetUser', Resource: userPoolArn(POOL) },
        ),
      ],
    },
    {
      name: 'target',
      maxSessionDuration: 3600,
      policies: [policy({ Effect: 'Allow', Action: 'cognito-idp:AdminGetUser', Resource: '*' })],
    },
    { name: 'any-pool', trust: { userPools: ['*'] }, policies: [policy({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' })] },
    { name: 'untrusting', policies: [policy({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' })] },
  ],
  identityPools: [
    { id: IDP, name: 'sts-api', allowUnauthenticated: false, authenticatedRole: 'web-user', providers: [{ userPoolId: POOL, clientId: CLIENT }] },
  ],
  sts: { defaultDurationSeconds: 3600, minDurationSeconds: 900 },
  auth: { maxFailedLoginsPerAddress: 1000 },
};

let srv;
let root; // STS client signed by root
let anon; // STS client without credentials (AssumeRoleWithWebIdentity is noAuth)
let jwks;
let alice; // a user of POOL
let aliceUsername;

before(async () => {
  srv = await startServer({ config: CONFIG, env: ROOT_ENV });
  root = stsClient(srv.url, ROOT_CREDENTIALS);
  anon = stsClient(srv.url);
  jwks = await fetchJwks(srv.url, POOL);
  alice = await makeUser(srv, { clientId: CLIENT, prefix: 'Alice' });
  aliceUsername = alice.username;
});
after(async () => {
  root?.destroy();
  anon?.destroy();
  await srv?.stop();
});

const webIdentity = (input, client = anon) =>
  client.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('web-user'), RoleSessionName: 'web-session', ...input }));
const assumeRole = (client, input) => client.send(new AssumeRoleCommand({ RoleArn: roleArn('target'), RoleSessionName: 'ops', ...input }));

/** AdminGetUser of alice with credentials (resolves the output or rejects). */
async function adminGetUser(credentials, poolId = POOL, username = aliceUsername) {
  const c = idpClient(srv.url, credentials);
  try {
    return await c.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: username }));
  } finally {
    c.destroy();
  }
}

const credsOf = (out) => fromStsCredentials(out.Credentials);
const secondsLeft = (d) => (d.getTime() - Date.now()) / 1000;

describe('GetCallerIdentity', () => {
  it('root: arn:aws:iam::000000000000:root, UserId and Account the account id', T, async () => {
    const me = bare(await root.send(new GetCallerIdentityCommand({})));
    assert.deepEqual(me, { UserId: ACCOUNT, Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:root` });
  });

  it('on the wire: text/xml GetCallerIdentityResponse in the 2011-06-15 namespace, with a RequestId', T, async () => {
    const r = await stsRaw(srv.url, { Action: 'GetCallerIdentity' }, { sign: ROOT_CREDENTIALS });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.match(r.headers['content-type'] ?? '', /^text\/xml/);
    assert.match(r.text, /<GetCallerIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
    assert.match(r.text, /<GetCallerIdentityResult>[\s\S]*<\/GetCallerIdentityResult>/);
    assert.equal(xmlText(r.text, 'Arn'), `arn:aws:iam::${ACCOUNT}:root`);
    assert.ok(xmlText(r.text, 'RequestId'), 'no ResponseMetadata RequestId');
    assert.ok(r.headers['x-amzn-requestid']);
  });

  it('unsigned: 403 MissingAuthenticationToken', T, async () => {
    const r = await stsRaw(srv.url, { Action: 'GetCallerIdentity' });
    assertStsErr(r, 'MissingAuthenticationToken', { status: 403 });
  });

  it('identity-pool credentials: the assumed-role ARN with session CognitoIdentityCredentials', T, async () => {
    const creds = await poolCredentials(srv.url, IDP, loginsFor(POOL, alice.idToken));
    const me = await callerIdentity(srv.url, signing(creds));
    assert.equal(me.Arn, assumedRoleArn('web-user', IDP_SESSION));
    assert.equal(me.Account, ACCOUNT);
    assert.match(me.UserId, /^AROA[A-Z0-9]+:CognitoIdentityCredentials$/);
  });

  it('an unknown action is InvalidAction (400)', T, async () => {
    assertStsErr(await stsRaw(srv.url, { Action: 'DecodeAuthorizationMessage', EncodedMessage: 'x' }, { sign: ROOT_CREDENTIALS }), 'InvalidAction', { status: 400 });
  });
});

describe('AssumeRoleWithWebIdentity', () => {
  it('with an ID token of a trusted pool: credentials, subject, assumed-role user, provider and audience', T, async () => {
    const out = await webIdentity({ WebIdentityToken: alice.idToken, RoleSessionName: 'alice-session' });
    assertTempCredentials(credsOf(out), { seconds: 3600, what: 'AssumeRoleWithWebIdentity' });
    assert.equal(out.SubjectFromWebIdentityToken, alice.sub);
    assert.equal(out.AssumedRoleUser.Arn, assumedRoleArn('web-user', 'alice-session'));
    const [rid, sess] = out.AssumedRoleUser.AssumedRoleId.split(':');
    assert.match(rid, AROA_RE);
    assert.equal(sess, 'alice-session');
    assert.equal(typeof out.Provider, 'string');
    assert.ok(out.Provider.length > 0, 'empty Provider');
    assert.ok(out.Provider.includes(POOL), `Provider ${out.Provider} does not name the pool`);
    assert.equal(out.Audience, CLIENT);

    const me = await callerIdentity(srv.url, credsOf(out));
    assert.equal(me.Arn, assumedRoleArn('web-user', 'alice-session'));
    assert.equal(me.UserId, out.AssumedRoleUser.AssumedRoleId);
    assert.equal(me.Account, ACCOUNT);
  });

  it('on the wire: unsigned POST, XML with SecretAccessKey and an ISO-8601 Expiration', T, async () => {
    const r = await stsRaw(srv.url, {
      Action: 'AssumeRoleWithWebIdentity',
      RoleArn: roleArn('web-user'),
      RoleSessionName: 'raw',
      WebIdentityToken: alice.idToken,
    });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.match(r.headers['content-type'] ?? '', /^text\/xml/);
    assert.match(r.text, /<AssumeRoleWithWebIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
    assert.match(r.text, /<AssumeRoleWithWebIdentityResult>/);
    assert.match(xmlText(r.text, 'AccessKeyId') ?? '', /^ASIA/);
    assert.ok(xmlText(r.text, 'SecretAccessKey'), 'no SecretAccessKey');
    assert.ok(xmlText(r.text, 'SessionToken'), 'no SessionToken');
    const exp = xmlText(r.text, 'Expiration') ?? '';
    assert.match(exp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `Expiration ${exp}`);
    assert.ok(Math.abs(Date.parse(exp) / 1000 - (Date.now() / 1000 + 3600)) < 30, `Expiration ${exp} is not an hour away`);
  });

  it('DurationSeconds within [minDuration, maxSessionDuration] is honoured', T, async () => {
    const out = await webIdentity({ WebIdentityToken: alice.idToken, DurationSeconds: 7200 });
    assert.ok(Math.abs(secondsLeft(out.Credentials.Expiration) - 7200) < 30, `expires in ${secondsLeft(out.Credentials.Expiration)} s`);
    const low = await webIdentity({ WebIdentityToken: alice.idToken, DurationSeconds: 900 });
    assert.ok(Math.abs(secondsLeft(low.Credentials.Expiration) - 900) < 30);
  });

  it('DurationSeconds outside the range is a ValidationError (400)', T, async () => {
    await fails(webIdentity({ WebIdentityToken: alice.idToken, DurationSeconds: 899 }), 'ValidationError', { status: 400, what: 'below min' });
    await fails(webIdentity({ WebIdentityToken: alice.idToken, DurationSeconds: 7201 }), 'ValidationError', { status: 400, what: 'above role max' });
  });

  it('a role that does not trust the pool: AccessDenied (403); "*" trusts every pool of the server', T, async () => {
    const stranger = await makeUser(srv, { clientId: UNTRUSTED_CLIENT, prefix: 'Stranger' });
    await fails(webIdentity({ WebIdentityToken: stranger.idToken }), 'AccessDenied', { status: 403, what: 'web-user with an untrusted pool' });
    await fails(webIdentity({ WebIdentityToken: alice.idToken, RoleArn: roleArn('untrusting') }), 'AccessDenied', { status: 403, what: 'a role that trusts no pool' });
    const ok = await webIdentity({ WebIdentityToken: stranger.idToken, RoleArn: roleArn('any-pool') });
    assert.equal(ok.AssumedRoleUser.Arn, assumedRoleArn('any-pool', 'web-session'));
    assert.equal(ok.SubjectFromWebIdentityToken, stranger.sub);
  });

  it('an unknown role: AccessDenied (403)', T, async () => {
    await fails(webIdentity({ WebIdentityToken: alice.idToken, RoleArn: roleArn('no-such-role') }), 'AccessDenied', { status: 403 });
  });

  // The SDK names modeled STS errors after their shape: wire code InvalidIdentityToken → InvalidIdentityTokenException.
  for (const kind of ['tampered', 'algNone', 'hs256', 'otherKey']) {
    it(`a forged ID token (${kind}) is InvalidIdentityToken (400)`, T, async () => {
      const forged = forgeIdTokens(alice.idToken, jwks)[kind];
      await fails(webIdentity({ WebIdentityToken: forged }), 'InvalidIdentityTokenException', { status: 400 });
      const r = await stsRaw(srv.url, { Action: 'AssumeRoleWithWebIdentity', RoleArn: roleArn('web-user'), RoleSessionName: 'raw', WebIdentityToken: forged });
      assertStsErr(r, 'InvalidIdentityToken', { status: 400, what: `${kind} on the wire` });
    });
  }

  it('garbage and an access token in place of the ID token are InvalidIdentityToken (400)', T, async () => {
    await fails(webIdentity({ WebIdentityToken: 'not.a.jwt-at-all' }), 'InvalidIdentityTokenException', { status: 400, what: 'garbage' });
    await fails(webIdentity({ WebIdentityToken: alice.accessToken }), 'InvalidIdentityTokenException', { status: 400, what: 'access token' });
  });

  it('a session Policy narrows the web-identity session: AdminGetUser allowed by the role is denied', T, async () => {
    const plain = await webIdentity({ WebIdentityToken: alice.idToken });
    const u = await adminGetUser(credsOf(plain));
    assert.equal(u.Username.toLowerCase(), aliceUsername.toLowerCase());
    const narrowed = await webIdentity({
      WebIdentityToken: alice.idToken,
      Policy: JSON.stringify(policy({ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' })),
    });
    await fails(adminGetUser(credsOf(narrowed)), 'AccessDeniedException', { status: 400 });
    assert.equal((await callerIdentity(srv.url, credsOf(narrowed))).Arn, assumedRoleArn('web-user', 'web-session'));
  });
});

describe('AssumeRole', () => {
  it('root assumes a role: credentials for the role, GetCallerIdentity shows the assumed-role ARN', T, async () => {
    const out = await assumeRole(root, { RoleSessionName: 'ops-session' });
    assertTempCredentials(credsOf(out), { seconds: 3600, what: 'AssumeRole' });
    assert.equal(out.AssumedRoleUser.Arn, assumedRoleArn('target', 'ops-session'));
    assert.match(out.AssumedRoleUser.AssumedRoleId, /^AROA[A-Z0-9]+:ops-session$/);
    const me = await callerIdentity(srv.url, credsOf(out));
    assert.equal(me.Arn, assumedRoleArn('target', 'ops-session'));
    assert.equal(me.UserId, out.AssumedRoleUser.AssumedRoleId);
    // The role's policy is in force: it may read users.
    const u = await adminGetUser(credsOf(out));
    assert.equal(u.Username.toLowerCase(), aliceUsername.toLowerCase());
  });

  it('two roles have different role ids; the role id is stable', T, async () => {
    const a = await assumeRole(root, {});
    const b = await assumeRole(root, {});
    const c = await assumeRole(root, { RoleArn: roleArn('web-user') });
    const rid = (x) => x.AssumedRoleUser.AssumedRoleId.split(':')[0];
    assert.equal(rid(a), rid(b));
    assert.notEqual(rid(a), rid(c));
  });

  it('DurationSeconds: honoured inside [900, maxSessionDuration], ValidationError (400) outside', T, async () => {
    const out = await assumeRole(root, { DurationSeconds: 1800 });
    assert.ok(Math.abs(secondsLeft(out.Credentials.Expiration) - 1800) < 30);
    await fails(assumeRole(root, { DurationSeconds: 899 }), 'ValidationError', { status: 400, what: '899' });
    await fails(assumeRole(root, { DurationSeconds: 3601 }), 'ValidationError', { status: 400, what: '3601 > maxSessionDuration 3600' });
    await fails(assumeRole(root, { DurationSeconds: 43201 }), 'ValidationError', { status: 400, what: '43201' });
    await fails(assumeRole(root, { DurationSeconds: 0 }), 'ValidationError', { status: 400, what: '0' });
  });

  it('an unknown role: AccessDenied (403)', T, async () => {
    await fails(assumeRole(root, { RoleArn: roleArn('no-such-role') }), 'AccessDenied', { status: 403 });
  });

  it('unsigned: 403 MissingAuthenticationToken', T, async () => {
    const r = await stsRaw(srv.url, { Action: 'AssumeRole', RoleArn: roleArn('target'), RoleSessionName: 'x' });
    assertStsErr(r, 'MissingAuthenticationToken', { status: 403 });
  });

  it('temporary credentials allowed sts:AssumeRole on a role ARN may assume it, and no other (AccessDenied 403)', T, async () => {
    const creds = await poolCredentials(srv.url, IDP, loginsFor(POOL, alice.idToken));
    const client = stsClient(srv.url, signing(creds));
    try {
      const out = await assumeRole(client, { RoleSessionName: 'chained' });
      assert.equal(out.AssumedRoleUser.Arn, assumedRoleArn('target', 'chained'));
      assert.equal((await callerIdentity(srv.url, credsOf(out))).Arn, assumedRoleArn('target', 'chained'));
      await fails(assumeRole(client, { RoleArn: roleArn('any-pool') }), 'AccessDenied', { status: 403, what: 'a role not in the policy' });
    } finally {
      client.destroy();
    }
    // The assumed `target` session has no sts:AssumeRole at all.
    const t = await assumeRole(root, {});
    const tc = stsClient(srv.url, credsOf(t));
    try {
      await fails(assumeRole(tc, { RoleArn: roleArn('web-user') }), 'AccessDenied', { status: 403, what: 'target assuming web-user' });
    } finally {
      tc.destroy();
    }
  });

  it('a session Policy that allows only sts:GetCallerIdentity: AdminGetUser is denied although the role allows it', T, async () => {
    const out = await assumeRole(root, { Policy: JSON.stringify(policy({ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' })) });
    await fails(adminGetUser(credsOf(out)), 'AccessDeniedException', { status: 400 });
    assert.equal((await callerIdentity(srv.url, credsOf(out))).Arn, assumedRoleArn('target', 'ops'));
  });

  it('a session Policy cannot widen the role: it intersects with it', T, async () => {
    // web-user may read users of POOL only; a session policy allowing everything does not add UNTRUSTED_POOL.
    const adminIdp = idpClient(srv.url, ROOT_CREDENTIALS);
    const other = `Other${Date.now().toString(36)}`;
    try {
      await adminIdp.send(new AdminCreateUserCommand({ UserPoolId: UNTRUSTED_POOL, Username: other, MessageAction: 'SUPPRESS' }));
    } finally {
      adminIdp.destroy();
    }
    const out = await assumeRole(root, { RoleArn: roleArn('web-user'), Policy: JSON.stringify(policy({ Effect: 'Allow', Action: '*', Resource: '*' })) });
    assert.equal((await adminGetUser(credsOf(out))).Username.toLowerCase(), aliceUsername.toLowerCase());
    await fails(adminGetUser(credsOf(out), UNTRUSTED_POOL, other), 'AccessDeniedException', { status: 400 });
    // Root reads it: the user is there, the refusal was the policy.
    assert.equal((await adminGetUser(ROOT_CREDENTIALS, UNTRUSTED_POOL, other)).Username, other);
  });

  it('a session Policy that is not a policy document is MalformedPolicyDocument (400); one over 2048 characters is PackedPolicyTooLarge (400)', T, async () => {
    // SDK names: MalformedPolicyDocumentException / PackedPolicyTooLargeException (wire codes without "Exception", checked raw below).
    await fails(assumeRole(root, { Policy: '{"Version":' }), 'MalformedPolicyDocumentException', { status: 400, what: 'not JSON' });
    await fails(assumeRole(root, { Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Perhaps', Action: '*', Resource: '*' }] }) }), 'MalformedPolicyDocumentException', {
      status: 400,
      what: 'Effect Perhaps',
    });
    const big = policy(
      ...Array.from({ length: 40 }, (_, i) => ({ Sid: `S${i}`, Effect: 'Allow', Action: 'cognito-idp:AdminGetUser', Resource: userPoolArn(`us-east-1_Pool${i}`) })),
    );
    assert.ok(JSON.stringify(big).length > 2048);
    await fails(assumeRole(root, { Policy: JSON.stringify(big) }), 'PackedPolicyTooLargeException', { status: 400, what: 'over 2048' });
    const raw = (Policy) => stsRaw(srv.url, { Action: 'AssumeRole', RoleArn: roleArn('target'), RoleSessionName: 'raw', Policy }, { sign: ROOT_CREDENTIALS });
    assertStsErr(await raw('{"Version":'), 'MalformedPolicyDocument', { status: 400, what: 'not JSON on the wire' });
    assertStsErr(await raw(JSON.stringify(big)), 'PackedPolicyTooLarge', { status: 400, what: 'over 2048 on the wire' });
  });

  it('a bad RoleSessionName is a ValidationError (400)', T, async () => {
    await fails(assumeRole(root, { RoleSessionName: 'has space' }), 'ValidationError', { status: 400 });
    await fails(assumeRole(root, { RoleSessionName: 'x' }), 'ValidationError', { status: 400, what: 'one character' });
  });
});

describe('GetSessionToken', () => {
  it('root: ASIA credentials that act as root', T, async () => {
    const out = await root.send(new GetSessionTokenCommand({}));
    const c = credsOf(out);
    assert.match(c.accessKeyId, /^ASIA/);
    assert.ok(c.sessionToken && c.secretAccessKey);
    assert.ok(out.Credentials.Expiration instanceof Date);
    assert.ok(secondsLeft(out.Credentials.Expiration) > 800, 'expires too soon');
    const me = await callerIdentity(srv.url, c);
    assert.equal(me.Arn, `arn:aws:iam::${ACCOUNT}:root`);
    assert.equal(me.Account, ACCOUNT);
    // Acts as root: may do what only root may do.
    const sc = stsClient(srv.url, c);
    try {
      const other = await assumeRole(sc, { RoleSessionName: 'from-session', RoleArn: roleArn('any-pool') });
      assert.equal(other.AssumedRoleUser.Arn, assumedRoleArn('any-pool', 'from-session'));
    } finally {
      sc.destroy();
    }
    assert.equal((await adminGetUser(c)).Username.toLowerCase(), aliceUsername.toLowerCase());
  });

  it('DurationSeconds is honoured', T, async () => {
    const out = await root.send(new GetSessionTokenCommand({ DurationSeconds: 1200 }));
    assert.ok(Math.abs(secondsLeft(out.Credentials.Expiration) - 1200) < 30);
    await fails(root.send(new GetSessionTokenCommand({ DurationSeconds: 899 })), 'ValidationError', { status: 400 });
  });

  it('temporary credentials calling GetSessionToken: AccessDenied (403)', T, async () => {
    const t = await assumeRole(root, {});
    const c = stsClient(srv.url, credsOf(t));
    try {
      await fails(c.send(new GetSessionTokenCommand({})), 'AccessDenied', { status: 403, what: 'assumed role' });
    } finally {
      c.destroy();
    }
    const s = await root.send(new GetSessionTokenCommand({}));
    const sc = stsClient(srv.url, credsOf(s));
    try {
      await fails(sc.send(new GetSessionTokenCommand({})), 'AccessDenied', { status: 403, what: 'session credentials' });
    } finally {
      sc.destroy();
    }
  });
});

describe('aws CLI (/usr/bin/aws) with temporary credentials', () => {
  it('aws sts get-caller-identity with identity-pool credentials in the environment', CLI, async () => {
    const creds = await poolCredentials(srv.url, IDP, loginsFor(POOL, alice.idToken));
    const r = await awsCli(srv.url, ['sts', 'get-caller-identity'], cliCredentialsEnv(creds));
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.json.Arn, assumedRoleArn('web-user', IDP_SESSION));
    assert.equal(r.json.Account, ACCOUNT);
    assert.match(r.json.UserId, /^AROA[A-Z0-9]+:CognitoIdentityCredentials$/);
  });

  it('aws sts get-caller-identity with AssumeRole and GetSessionToken credentials, and as root', CLI, async () => {
    const ar = credsOf(await assumeRole(root, { RoleSessionName: 'cli-session' }));
    const r1 = await awsCli(srv.url, ['sts', 'get-caller-identity'], cliCredentialsEnv(ar));
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.json.Arn, assumedRoleArn('target', 'cli-session'));
    const st = credsOf(await root.send(new GetSessionTokenCommand({})));
    const r2 = await awsCli(srv.url, ['sts', 'get-caller-identity'], cliCredentialsEnv(st));
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.json.Arn, `arn:aws:iam::${ACCOUNT}:root`);
    const r3 = await awsCli(srv.url, ['sts', 'get-caller-identity'], {
      AWS_ACCESS_KEY_ID: ROOT_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ROOT_CREDENTIALS.secretAccessKey,
    });
    assert.equal(r3.code, 0, r3.stderr);
    assert.deepEqual(r3.json, { UserId: ACCOUNT, Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:root` });
  });

  it('a tampered session token in the environment: (InvalidClientTokenId)', CLI, async () => {
    const creds = await poolCredentials(srv.url, IDP, loginsFor(POOL, alice.idToken));
    const r = await awsCli(srv.url, ['sts', 'get-caller-identity'], cliCredentialsEnv({ ...creds, sessionToken: flipMiddle(creds.sessionToken) }));
    assert.ok(r.code === 254 || r.code === 255, `exit ${r.code}: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, /\(InvalidClientTokenId\)/, r.stderr);
  });

  it('aws sts assume-role-with-web-identity (unsigned) and aws sts assume-role (root)', CLI, async () => {
    const w = await awsCli(srv.url, [
      'sts',
      'assume-role-with-web-identity',
      '--role-arn',
      roleArn('web-user'),
      '--role-session-name',
      'cli-web',
      '--web-identity-token',
      alice.idToken,
    ]);
    assert.equal(w.code, 0, `exit ${w.code}\n${w.stderr}`);
    assert.match(w.json.Credentials.AccessKeyId, /^ASIA/);
    assert.equal(w.json.AssumedRoleUser.Arn, assumedRoleArn('web-user', 'cli-web'));
    assert.equal(w.json.SubjectFromWebIdentityToken, alice.sub);
    const a = await awsCli(srv.url, ['sts', 'assume-role', '--role-arn', roleArn('target'), '--role-session-name', 'cli-ar'], {
      AWS_ACCESS_KEY_ID: ROOT_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ROOT_CREDENTIALS.secretAccessKey,
    });
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.json.AssumedRoleUser.Arn, assumedRoleArn('target', 'cli-ar'));
    // The CLI's credentials work with the SDK.
    const me = await callerIdentity(srv.url, {
      accessKeyId: a.json.Credentials.AccessKeyId,
      secretAccessKey: a.json.Credentials.SecretAccessKey,
      sessionToken: a.json.Credentials.SessionToken,
    });
    assert.equal(me.Arn, assumedRoleArn('target', 'cli-ar'));
  });

  it('aws cognito-identity get-id and get-credentials-for-identity (unsigned)', CLI, async () => {
    const logins = JSON.stringify(loginsFor(POOL, alice.idToken));
    const g = await awsCli(srv.url, ['cognito-identity', 'get-id', '--identity-pool-id', IDP, '--logins', logins]);
    assert.equal(g.code, 0, g.stderr);
    const c = await awsCli(srv.url, ['cognito-identity', 'get-credentials-for-identity', '--identity-id', g.json.IdentityId, '--logins', logins]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.json.IdentityId, g.json.IdentityId);
    assert.match(c.json.Credentials.AccessKeyId, /^ASIA/);
    const r = await awsCli(srv.url, ['sts', 'get-caller-identity'], {
      AWS_ACCESS_KEY_ID: c.json.Credentials.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: c.json.Credentials.SecretKey,
      AWS_SESSION_TOKEN: c.json.Credentials.SessionToken,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.Arn, assumedRoleArn('web-user', IDP_SESSION));
  });
});
