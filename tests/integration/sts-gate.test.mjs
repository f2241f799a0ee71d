// sts-gate.test.mjs - the gate every signed request goes through, end to end
// against build/cloudlet with real clients: refused signatures (tampered and
// truncated session tokens, a token under another access key id, wrong
// secrets, another region or service, a clock 20 minutes off, a body changed
// after signing), expired temporary credentials (a server with 2-second
// lifetimes), and the policy decision (explicit deny beating allow, the
// ${cognito-identity.amazonaws.com:sub} variable keeping one user out of
// another's resources, conditions, NotAction/NotResource, wildcards, session
// policies) with the Cognito and Cognito Identity admin operations as the
// resource-bearing API.
// The behaviour asserted is the one in notes/sts-spec.md.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GetCallerIdentityCommand, AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetSessionTokenCommand } from '@aws-sdk/client-sts';
import { AdminGetUserCommand, AdminDeleteUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import * as ci from '@aws-sdk/client-cognito-identity';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, sleep } from './helpers.mjs';
import { cognitoRaw, assertCognitoError } from './cognito-helpers.mjs';
import {
  ACCOUNT,
  ROOT_ENV,
  ROOT_CREDENTIALS,
  IDP_SESSION,
  roleArn,
  assumedRoleArn,
  userPoolArn,
  identityPoolArn,
  loginsFor,
  policy,
  stsClient,
  idpClient,
  identityClient,
  fails,
  makeUser,
  poolCredentials,
  signing,
  fromStsCredentials,
  callerIdentity,
  flipMiddle,
  stsRaw,
  identityRaw,
  assertStsErr,
  assertJsonErr,
  awsCli,
  cliCredentialsEnv,
  serveOn,
} from './sts-helpers.mjs';

const T = { timeout: 30000 };
const CLI = { timeout: 90000 };
const MIN = 60 * 1000;

/** AdminGetUser with credentials (extra: client config). */
async function adminGetUser(url, credentials, poolId, username, extra = {}) {
  const c = idpClient(url, credentials, extra);
  try {
    return await c.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: username }));
  } finally {
    c.destroy();
  }
}

/** GetCallerIdentity with credentials and client config, unwrapped (rejects on refusal). */
const whoAmI = (url, credentials, extra) => callerIdentity(url, credentials, extra);

async function rootAssume(url, roleName, input = {}) {
  const c = stsClient(url, ROOT_CREDENTIALS);
  try {
    const out = await c.send(new AssumeRoleCommand({ RoleArn: roleArn(roleName), RoleSessionName: 'gate', ...input }));
    return fromStsCredentials(out.Credentials);
  } finally {
    c.destroy();
  }
}

// ====================================================================
// refused signatures
// ====================================================================

describe('refused signatures', () => {
  const POOL = 'us-east-1_GateSig1';
  const CLIENT = 'gatesigweb1';
  const IDP = 'us-east-1:44444444-5555-6666-7777-888888888888';
  const CONFIG = {
    userPools: [{ id: POOL, name: 'gate-sig', autoConfirm: true, clients: [{ id: CLIENT, name: 'web' }] }],
    roles: [{ name: 'reader', trust: { userPools: [POOL] }, policies: [policy({ Effect: 'Allow', Action: 'cognito-idp:AdminGetUser', Resource: '*' })] }],
    identityPools: [{ id: IDP, name: 'gate-sig', authenticatedRole: 'reader', providers: [{ userPoolId: POOL, clientId: CLIENT }] }],
    auth: { maxFailedLoginsPerAddress: 1000 },
  };
  let srv;
  let user;
  let poolCreds; // identity-pool credentials (role reader)
  let roleCreds; // AssumeRole by root (role reader)
  let roleCreds2; // a second AssumeRole session

  before(async () => {
    srv = await startServer({ config: CONFIG, env: ROOT_ENV });
    user = await makeUser(srv, { clientId: CLIENT, prefix: 'Sig' });
    poolCreds = signing(await poolCredentials(srv.url, IDP, loginsFor(POOL, user.idToken)));
    roleCreds = await rootAssume(srv.url, 'reader');
    roleCreds2 = await rootAssume(srv.url, 'reader', { RoleSessionName: 'second' });
  });
  after(async () => {
    await srv?.stop();
  });

  it('the untouched credentials work for STS and for Cognito admin operations', T, async () => {
    assert.equal((await whoAmI(srv.url, poolCreds)).Arn, assumedRoleArn('reader', IDP_SESSION));
    assert.equal((await whoAmI(srv.url, roleCreds)).Arn, assumedRoleArn('reader', 'gate'));
    assert.equal((await adminGetUser(srv.url, poolCreds, POOL, user.username)).Username.toLowerCase(), user.username.toLowerCase());
    assert.equal((await adminGetUser(srv.url, roleCreds, POOL, user.username)).Username.toLowerCase(), user.username.toLowerCase());
  });

  for (const which of ['identity-pool', 'AssumeRole']) {
    const creds = () => (which === 'identity-pool' ? poolCreds : roleCreds);

    it(`${which}: a session token with a character flipped in the middle: STS InvalidClientTokenId 403, JSON UnrecognizedClientException 400`, T, async () => {
      const bad = { ...creds(), sessionToken: flipMiddle(creds().sessionToken) };
      assert.notEqual(bad.sessionToken, creds().sessionToken);
      await fails(whoAmI(srv.url, bad), 'InvalidClientTokenId', { status: 403 });
      await fails(adminGetUser(srv.url, bad, POOL, user.username), 'UnrecognizedClientException', { status: 400 });
    });

    it(`${which}: a truncated session token: STS InvalidClientTokenId 403, JSON UnrecognizedClientException 400`, T, async () => {
      const tok = creds().sessionToken;
      for (const cut of [tok.slice(0, tok.length - 4), tok.slice(0, Math.floor(tok.length / 2)), tok.slice(0, 20)]) {
        const bad = { ...creds(), sessionToken: cut };
        await fails(whoAmI(srv.url, bad), 'InvalidClientTokenId', { status: 403, what: `cut to ${cut.length}` });
        await fails(adminGetUser(srv.url, bad, POOL, user.username), 'UnrecognizedClientException', { status: 400, what: `cut to ${cut.length}` });
      }
    });

    it(`${which}: the right token with a wrong secret: STS SignatureDoesNotMatch 403, JSON InvalidSignatureException 400`, T, async () => {
      const s = creds().secretAccessKey;
      const bad = { ...creds(), secretAccessKey: `${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}` };
      await fails(whoAmI(srv.url, bad), 'SignatureDoesNotMatch', { status: 403 });
      await fails(adminGetUser(srv.url, bad, POOL, user.username), 'InvalidSignatureException', { status: 400 });
    });
  }

  it('a session token presented with another session\'s access key id (and that session\'s secret or its own): InvalidClientTokenId 403', T, async () => {
    await fails(whoAmI(srv.url, { ...roleCreds, accessKeyId: roleCreds2.accessKeyId }), 'InvalidClientTokenId', { status: 403, what: 'own secret' });
    await fails(whoAmI(srv.url, { ...roleCreds2, sessionToken: roleCreds.sessionToken }), 'InvalidClientTokenId', { status: 403, what: "the other's secret" });
  });

  it('an ASIA access key id without its session token, and an unknown AKIA key: InvalidClientTokenId 403', T, async () => {
    await fails(whoAmI(srv.url, { accessKeyId: roleCreds.accessKeyId, secretAccessKey: roleCreds.secretAccessKey }), 'InvalidClientTokenId', {
      status: 403,
      what: 'no token',
    });
    await fails(whoAmI(srv.url, { accessKeyId: 'AKIAUNKNOWNKEY000002', secretAccessKey: 'z'.repeat(40) }), 'InvalidClientTokenId', {
      status: 403,
      what: 'unknown key',
    });
    await fails(adminGetUser(srv.url, { accessKeyId: 'AKIAUNKNOWNKEY000002', secretAccessKey: 'z'.repeat(40) }, POOL, user.username), 'UnrecognizedClientException', {
      status: 400,
      what: 'unknown key, JSON',
    });
  });

  it('root with a wrong secret: STS SignatureDoesNotMatch 403, JSON InvalidSignatureException 400', T, async () => {
    const bad = { accessKeyId: ROOT_CREDENTIALS.accessKeyId, secretAccessKey: 'x'.repeat(40) };
    await fails(whoAmI(srv.url, bad), 'SignatureDoesNotMatch', { status: 403 });
    await fails(adminGetUser(srv.url, bad, POOL, user.username), 'InvalidSignatureException', { status: 400 });
  });

  it("signed for region eu-west-1 (the client's region): STS SignatureDoesNotMatch 403, JSON InvalidSignatureException 400", T, async () => {
    for (const [what, creds] of [
      ['root', ROOT_CREDENTIALS],
      ['temporary', roleCreds],
    ]) {
      await fails(whoAmI(srv.url, creds, { region: 'eu-west-1' }), 'SignatureDoesNotMatch', { status: 403, what: `${what} STS` });
      await fails(adminGetUser(srv.url, creds, POOL, user.username, { region: 'eu-west-1' }), 'InvalidSignatureException', { status: 400, what: `${what} JSON` });
    }
    // The same raw request signed for us-east-1 passes: only the region differs.
    assert.equal((await stsRaw(srv.url, { Action: 'GetCallerIdentity' }, { sign: roleCreds })).status, 200);
    assertStsErr(await stsRaw(srv.url, { Action: 'GetCallerIdentity' }, { sign: roleCreds, region: 'eu-west-1' }), 'SignatureDoesNotMatch', { status: 403 });
  });

  it('an STS request signed for service lambda (or cognito-identity): SignatureDoesNotMatch 403', T, async () => {
    for (const service of ['lambda', 'cognito-identity', 's3']) {
      for (const [what, creds] of [
        ['root', ROOT_CREDENTIALS],
        ['temporary', roleCreds],
      ]) {
        const r = await stsRaw(srv.url, { Action: 'GetCallerIdentity' }, { sign: creds, service });
        assertStsErr(r, 'SignatureDoesNotMatch', { status: 403, what: `${what} signed for ${service}` });
      }
    }
  });

  it('a Cognito Identity request signed for service cognito-idp: InvalidSignatureException 400', T, async () => {
    const ok = await identityRaw(srv.url, 'DescribeIdentityPool', { IdentityPoolId: IDP }, { sign: ROOT_CREDENTIALS });
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
    const r = await identityRaw(srv.url, 'DescribeIdentityPool', { IdentityPoolId: IDP }, { sign: ROOT_CREDENTIALS, service: 'cognito-idp' });
    assertJsonErr(r, 'InvalidSignatureException', { status: 400 });
  });

  it('a clock 20 minutes ahead or behind (systemClockOffset, maxAttempts 1): STS SignatureDoesNotMatch "Signature expired", JSON InvalidSignatureException', T, async () => {
    for (const offset of [20 * MIN, -20 * MIN]) {
      for (const [what, creds] of [
        ['root', ROOT_CREDENTIALS],
        ['temporary', roleCreds],
      ]) {
        const label = `${what} ${offset > 0 ? '+' : '-'}20 min`;
        // AWS words the two sides differently: "Signature expired: <t> is now earlier than ..." for a late
        // request, "Signature not yet current: <t> is still later than ..." for one from the future.
        const message = offset < 0 ? /^Signature expired/ : /^Signature (not yet current|expired)/;
        await fails(whoAmI(srv.url, creds, { systemClockOffset: offset }), 'SignatureDoesNotMatch', { status: 403, message, what: `${label} STS` });
        await fails(adminGetUser(srv.url, creds, POOL, user.username, { systemClockOffset: offset }), 'InvalidSignatureException', {
          status: 400,
          what: `${label} JSON`,
        });
      }
    }
  });

  it('a clock 10 minutes off is inside the 15-minute window', T, async () => {
    assert.equal((await whoAmI(srv.url, roleCreds, { systemClockOffset: 10 * MIN })).Arn, assumedRoleArn('reader', 'gate'));
    assert.equal((await whoAmI(srv.url, ROOT_CREDENTIALS, { systemClockOffset: -10 * MIN })).Arn, `arn:aws:iam::${ACCOUNT}:root`);
  });

  it('a body changed after signing: SignatureDoesNotMatch 403', T, async () => {
    const params = { Action: 'AssumeRole', RoleArn: roleArn('reader'), RoleSessionName: 'aaaa' };
    const sent = new URLSearchParams({ Version: '2011-06-15', ...params, RoleSessionName: 'bbbb' }).toString();
    const r = await stsRaw(srv.url, params, { sign: ROOT_CREDENTIALS, sendBody: sent });
    assertStsErr(r, 'SignatureDoesNotMatch', { status: 403 });
  });

  it('the refusals reach no handler: an AssumeRole with a tampered token mints nothing', T, async () => {
    const c = stsClient(srv.url, { ...roleCreds, sessionToken: flipMiddle(roleCreds.sessionToken) });
    try {
      await fails(c.send(new AssumeRoleCommand({ RoleArn: roleArn('reader'), RoleSessionName: 'nope' })), 'InvalidClientTokenId', { status: 403 });
    } finally {
      c.destroy();
    }
  });
});

// ====================================================================
// expiry
// ====================================================================

describe('expired temporary credentials (sts.defaultDurationSeconds 2, minDurationSeconds 1)', () => {
  const POOL = 'us-east-1_GateExp1';
  const CLIENT = 'gateexpweb1';
  const IDP = 'us-east-1:55555555-6666-7777-8888-999999999999';
  const CONFIG = {
    userPools: [{ id: POOL, name: 'gate-exp', autoConfirm: true, clients: [{ id: CLIENT, name: 'web' }] }],
    roles: [{ name: 'short', trust: { userPools: [POOL] }, policies: [policy({ Effect: 'Allow', Action: 'cognito-idp:AdminGetUser', Resource: '*' })] }],
    identityPools: [{ id: IDP, name: 'gate-exp', authenticatedRole: 'short', providers: [{ userPoolId: POOL, clientId: CLIENT }] }],
    sts: { defaultDurationSeconds: 2, minDurationSeconds: 1 },
    auth: { maxFailedLoginsPerAddress: 1000 },
  };
  let srv;
  let user;

  before(async () => {
    srv = await startServer({ config: CONFIG, env: ROOT_ENV });
    user = await makeUser(srv, { clientId: CLIENT, prefix: 'Exp' });
  });
  after(async () => {
    await srv?.stop();
  });

  it('identity-pool credentials live 2 s: they work at once, then STS ExpiredToken 403 and JSON ExpiredTokenException 403', T, async () => {
    const creds = await poolCredentials(srv.url, IDP, loginsFor(POOL, user.idToken));
    const left = (creds.expiration.getTime() - Date.now()) / 1000;
    assert.ok(left <= 3 && left > -1, `expiration ${creds.expiration.toISOString()} is ${left} s away, want about 2`);
    assert.equal((await whoAmI(srv.url, signing(creds))).Arn, assumedRoleArn('short', IDP_SESSION));
    await sleep(3000);
    await fails(whoAmI(srv.url, signing(creds)), 'ExpiredToken', { status: 403 });
    await fails(adminGetUser(srv.url, signing(creds), POOL, user.username), 'ExpiredTokenException', { status: 403 });
    // New credentials work again.
    const fresh = await poolCredentials(srv.url, IDP, loginsFor(POOL, user.idToken));
    assert.equal((await whoAmI(srv.url, signing(fresh))).Arn, assumedRoleArn('short', IDP_SESSION));
  });

  it('AssumeRole and AssumeRoleWithWebIdentity without DurationSeconds default to sts.defaultDurationSeconds (2 s) and expire', T, async () => {
    const sts = stsClient(srv.url, ROOT_CREDENTIALS);
    const anon = stsClient(srv.url);
    try {
      const ar = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn('short'), RoleSessionName: 'default-duration' }));
      const web = await anon.send(
        new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('short'), RoleSessionName: 'web', WebIdentityToken: user.idToken }),
      );
      for (const [what, out] of [
        ['AssumeRole, no DurationSeconds', ar],
        ['AssumeRoleWithWebIdentity, no DurationSeconds', web],
      ]) {
        const left = (out.Credentials.Expiration.getTime() - Date.now()) / 1000;
        assert.ok(left <= 3, `${what}: expires in ${left.toFixed(0)} s, want sts.defaultDurationSeconds = 2`);
      }
      await sleep(3000);
      await fails(whoAmI(srv.url, fromStsCredentials(ar.Credentials)), 'ExpiredToken', { status: 403, what: 'AssumeRole' });
      await fails(whoAmI(srv.url, fromStsCredentials(web.Credentials)), 'ExpiredToken', { status: 403, what: 'AssumeRoleWithWebIdentity' });
    } finally {
      sts.destroy();
      anon.destroy();
    }
  });

  it('explicit short DurationSeconds (down to minDurationSeconds 1) are honoured and expire: AssumeRole, AssumeRoleWithWebIdentity, GetSessionToken', T, async () => {
    const sts = stsClient(srv.url, ROOT_CREDENTIALS);
    const anon = stsClient(srv.url);
    try {
      const one = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn('short'), RoleSessionName: 'one-second', DurationSeconds: 1 }));
      const web = await anon.send(
        new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn('short'), RoleSessionName: 'web2', WebIdentityToken: user.idToken, DurationSeconds: 2 }),
      );
      const st = await sts.send(new GetSessionTokenCommand({ DurationSeconds: 2 }));
      const all = [
        ['AssumeRole, DurationSeconds 1', one],
        ['AssumeRoleWithWebIdentity, DurationSeconds 2', web],
        ['GetSessionToken, DurationSeconds 2', st],
      ];
      for (const [what, out] of all) {
        const left = (out.Credentials.Expiration.getTime() - Date.now()) / 1000;
        assert.ok(left <= 3, `${what}: expires in ${left.toFixed(0)} s`);
      }
      // Still good right now (the 1-second one may already be gone).
      assert.equal((await whoAmI(srv.url, fromStsCredentials(st.Credentials))).Arn, `arn:aws:iam::${ACCOUNT}:root`);
      await sleep(3000);
      for (const [what, out] of all) {
        await fails(whoAmI(srv.url, fromStsCredentials(out.Credentials)), 'ExpiredToken', { status: 403, what });
      }
      // And the JSON services say ExpiredTokenException (403) for the same credentials.
      await fails(adminGetUser(srv.url, fromStsCredentials(one.Credentials), POOL, user.username), 'ExpiredTokenException', { status: 403 });
      await fails(sts.send(new AssumeRoleCommand({ RoleArn: roleArn('short'), RoleSessionName: 'zero', DurationSeconds: 0 })), 'ValidationError', { status: 400 });
    } finally {
      sts.destroy();
      anon.destroy();
    }
  });

  it('aws sts get-caller-identity with expired credentials: (ExpiredToken)', CLI, async () => {
    const creds = await poolCredentials(srv.url, IDP, loginsFor(POOL, user.idToken));
    await sleep(3000);
    const r = await awsCli(srv.url, ['sts', 'get-caller-identity'], cliCredentialsEnv(creds));
    assert.ok(r.code === 254 || r.code === 255, `exit ${r.code}: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, /\(ExpiredToken\)/, r.stderr);
  });
});

// ====================================================================
// policies
// ====================================================================

describe('policies: deny beats allow, policy variables, conditions, session policies', () => {
  const POOL_X = 'us-east-1_GateX';
  const CLIENT_X = 'gatexweb1';
  const POOL_D = 'us-east-1_GateDeny';
  const CLIENT_D = 'gatedenyweb1';
  const IDP_READER = 'us-east-1:66666666-7777-8888-9999-aaaaaaaaaaaa';
  const IDP_OWN = 'us-east-1:77777777-8888-9999-aaaa-bbbbbbbbbbbb';
  const IDP_COND = 'us-east-1:88888888-9999-aaaa-bbbb-cccccccccccc';
  const SUB = '${cognito-identity.amazonaws.com:sub}';
  const ALL_POOLS = `arn:aws:cognito-idp:us-east-1:${ACCOUNT}:userpool/*`;

  const CONFIG = {
    userPools: [
      { id: POOL_X, name: 'gate-x', autoConfirm: true, clients: [{ id: CLIENT_X, name: 'web' }] },
      { id: POOL_D, name: 'gate-deny', autoConfirm: true, clients: [{ id: CLIENT_D, name: 'web' }] },
    ],
    roles: [
      {
        name: 'pool-reader',
        trust: { userPools: [POOL_X] },
        policies: [
          policy({ Effect: 'Allow', Action: 'cognito-idp:AdminGetUser', Resource: ALL_POOLS }),
          policy({ Effect: 'Deny', Action: 'cognito-idp:AdminGetUser', Resource: userPoolArn(POOL_D) }),
        ],
      },
      {
        // Each identity may describe "the identity pool" whose id is its own identity id, and nothing else.
        name: 'own-identity',
        trust: { userPools: [POOL_X] },
        policies: [policy({ Effect: 'Allow', Action: 'cognito-identity:DescribeIdentityPool', Resource: identityPoolArn(SUB) })],
      },
      {
        name: 'creds-only',
        trust: { userPools: [POOL_X] },
        policies: [
          policy({ Effect: 'Allow', Action: 'cognito-idp:AdminGetUser', Resource: '*', Condition: { StringLike: { 'aws:userid': '*:CognitoIdentityCredentials' } } }),
        ],
      },
      {
        name: 'timed',
        policies: [
          policy(
            { Effect: 'Allow', Action: 'cognito-identity:DescribeIdentityPool', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } } },
            { Effect: 'Allow', Action: 'cognito-identity:GetIdentityPoolRoles', Resource: '*', Condition: { DateLessThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } } },
          ),
        ],
      },
      {
        name: 'string-equals',
        policies: [
          policy({
            Effect: 'Allow',
            Action: 'cognito-idp:AdminGetUser',
            Resource: '*',
            Condition: { StringEquals: { 'aws:userid': 'AROANOTTHISROLE00000:gate' } },
          }),
        ],
      },
      {
        name: 'not-action',
        policies: [policy({ Effect: 'Allow', NotAction: ['cognito-idp:AdminDeleteUser', 'cognito-identity:*'], Resource: '*' })],
      },
      {
        name: 'not-resource',
        policies: [policy({ Effect: 'Allow', Action: 'cognito-idp:AdminGetUser', NotResource: userPoolArn(POOL_D) })],
      },
      {
        name: 'wildcards',
        policies: [policy({ Effect: 'Allow', Action: 'cognito-idp:Admin?etUser', Resource: `arn:aws:cognito-idp:us-east-1:${ACCOUNT}:userpool/us-east-1_Gate?` })],
      },
      { name: 'nothing', trust: { userPools: [POOL_X] }, policies: [] },
    ],
    identityPools: [
      { id: IDP_READER, name: 'reader', authenticatedRole: 'pool-reader', providers: [{ userPoolId: POOL_X, clientId: CLIENT_X }] },
      { id: IDP_OWN, name: 'own', authenticatedRole: 'own-identity', providers: [{ userPoolId: POOL_X, clientId: CLIENT_X }] },
      { id: IDP_COND, name: 'cond', authenticatedRole: 'creds-only', providers: [{ userPoolId: POOL_X, clientId: CLIENT_X }] },
    ],
    auth: { maxFailedLoginsPerAddress: 1000 },
  };

  let srv;
  let ux; // a user of POOL_X
  let ud; // a user of POOL_D
  let admin; // root Cognito Identity client

  before(async () => {
    srv = await startServer({ config: CONFIG, env: ROOT_ENV });
    ux = await makeUser(srv, { clientId: CLIENT_X, prefix: 'X' });
    ud = await makeUser(srv, { clientId: CLIENT_D, prefix: 'D' });
    admin = identityClient(srv.url, ROOT_CREDENTIALS);
  });
  after(async () => {
    admin?.destroy();
    await srv?.stop();
  });

  const getX = (creds) => adminGetUser(srv.url, creds, POOL_X, ux.username);
  const getD = (creds) => adminGetUser(srv.url, creds, POOL_D, ud.username);
  const describePool = async (creds, id) => {
    const c = identityClient(srv.url, creds);
    try {
      return await c.send(new ci.DescribeIdentityPoolCommand({ IdentityPoolId: id }));
    } finally {
      c.destroy();
    }
  };
  const denied = (p, what) => fails(p, 'AccessDeniedException', { status: 400, what });

  it('deny beats allow: Allow on userpool/* and Deny on one pool — AdminGetUser works on X, AccessDeniedException (400) on the denied pool', T, async () => {
    const creds = signing(await poolCredentials(srv.url, IDP_READER, loginsFor(POOL_X, ux.idToken)));
    assert.equal((await getX(creds)).Username.toLowerCase(), ux.username.toLowerCase());
    await denied(getD(creds), 'denied pool');
    // The user is there: root reads it.
    assert.equal((await getD(ROOT_CREDENTIALS)).Username.toLowerCase(), ud.username.toLowerCase());
  });

  it('the gate refusal has the JSON shape: 400, x-amzn-ErrorType AccessDeniedException, __type and message', T, async () => {
    const creds = signing(await poolCredentials(srv.url, IDP_READER, loginsFor(POOL_X, ux.idToken)));
    const r = await cognitoRaw(srv.url, 'AdminGetUser', { UserPoolId: POOL_D, Username: ud.username }, { sign: creds });
    assertCognitoError(r, 'AccessDeniedException', { status: 400 });
  });

  it('a session policy allowing everything does not lift the role\'s deny; one allowing only GetCallerIdentity removes the allow', T, async () => {
    const wide = await rootAssume(srv.url, 'pool-reader', { Policy: JSON.stringify(policy({ Effect: 'Allow', Action: '*', Resource: '*' })) });
    assert.equal((await getX(wide)).Username.toLowerCase(), ux.username.toLowerCase());
    await denied(getD(wide), 'wide session policy, denied pool');
    const narrow = await rootAssume(srv.url, 'pool-reader', { Policy: JSON.stringify(policy({ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' })) });
    await denied(getX(narrow), 'narrow session policy');
    assert.equal((await whoAmI(srv.url, narrow)).Arn, assumedRoleArn('pool-reader', 'gate'));
    const denyX = await rootAssume(srv.url, 'pool-reader', {
      Policy: JSON.stringify(
        policy({ Effect: 'Allow', Action: 'cognito-idp:*', Resource: '*' }, { Effect: 'Deny', Action: 'cognito-idp:AdminGetUser', Resource: userPoolArn(POOL_X) }),
      ),
    });
    await denied(getX(denyX), 'session policy deny');
  });

  it('${cognito-identity.amazonaws.com:sub} is the caller\'s identity id: each user reaches only the resource named by their own id', T, async () => {
    const a = await makeUser(srv, { clientId: CLIENT_X, prefix: 'VarA' });
    const b = await makeUser(srv, { clientId: CLIENT_X, prefix: 'VarB' });
    const ca = await poolCredentials(srv.url, IDP_OWN, loginsFor(POOL_X, a.idToken));
    const cb = await poolCredentials(srv.url, IDP_OWN, loginsFor(POOL_X, b.idToken));
    const idA = ca.identityId;
    const idB = cb.identityId;
    assert.ok(idA && idB && idA !== idB, `identity ids ${idA} ${idB}`);
    // Own id: the gate lets the request through, and the handler finds no identity pool of that id.
    await fails(describePool(signing(ca), idA), 'ResourceNotFoundException', { status: 400, what: 'A on her own id' });
    await fails(describePool(signing(cb), idB), 'ResourceNotFoundException', { status: 400, what: 'B on his own id' });
    // The other's id: refused by the policy.
    await denied(describePool(signing(ca), idB), "A on B's id");
    await denied(describePool(signing(cb), idA), "B on A's id");
    // The variable grants nothing beyond the caller's own id: not the real identity pool.
    await denied(describePool(signing(ca), IDP_OWN), 'A on a real pool');
    // A session of the same role without an identity (AssumeRole by root) has no value for the variable: nothing matches.
    const noIdentity = await rootAssume(srv.url, 'own-identity');
    await denied(describePool(noIdentity, idA), 'no identity');
  });

  it('StringLike on aws:userid: identity-pool credentials (session CognitoIdentityCredentials) are allowed, another session name of the same role is not', T, async () => {
    const creds = signing(await poolCredentials(srv.url, IDP_COND, loginsFor(POOL_X, ux.idToken)));
    assert.equal((await getX(creds)).Username.toLowerCase(), ux.username.toLowerCase());
    const ops = await rootAssume(srv.url, 'creds-only', { RoleSessionName: 'ops' });
    await denied(getX(ops), 'session ops');
    const same = await rootAssume(srv.url, 'creds-only', { RoleSessionName: IDP_SESSION });
    assert.equal((await getX(same)).Username.toLowerCase(), ux.username.toLowerCase());
  });

  it('StringEquals on aws:userid with another value denies', T, async () => {
    const creds = await rootAssume(srv.url, 'string-equals');
    await denied(getX(creds), 'StringEquals mismatch');
  });

  it('DateGreaterThan / DateLessThan on aws:CurrentTime', T, async () => {
    const creds = await rootAssume(srv.url, 'timed');
    const d = await describePool(creds, IDP_READER);
    assert.equal(d.IdentityPoolId, IDP_READER);
    const c = identityClient(srv.url, creds);
    try {
      await denied(c.send(new ci.GetIdentityPoolRolesCommand({ IdentityPoolId: IDP_READER })), 'DateLessThan 2000');
    } finally {
      c.destroy();
    }
  });

  it('NotAction: everything but AdminDeleteUser and cognito-identity:* — and a refused AdminDeleteUser deletes nothing', T, async () => {
    const creds = await rootAssume(srv.url, 'not-action');
    assert.equal((await getX(creds)).Username.toLowerCase(), ux.username.toLowerCase());
    const c = idpClient(srv.url, creds);
    try {
      await denied(c.send(new AdminDeleteUserCommand({ UserPoolId: POOL_X, Username: ux.username })), 'AdminDeleteUser');
    } finally {
      c.destroy();
    }
    assert.equal((await getX(ROOT_CREDENTIALS)).Username.toLowerCase(), ux.username.toLowerCase(), 'the user was deleted');
    await denied(describePool(creds, IDP_READER), 'cognito-identity:*');
  });

  it('NotResource: every pool but the one named', T, async () => {
    const creds = await rootAssume(srv.url, 'not-resource');
    assert.equal((await getX(creds)).Username.toLowerCase(), ux.username.toLowerCase());
    await denied(getD(creds), 'NotResource pool');
  });

  it('? wildcards in Action and Resource match exactly one character', T, async () => {
    const creds = await rootAssume(srv.url, 'wildcards');
    assert.equal((await getX(creds)).Username.toLowerCase(), ux.username.toLowerCase(), 'us-east-1_GateX matches us-east-1_Gate?');
    await denied(getD(creds), 'us-east-1_GateDeny does not match us-east-1_Gate?');
  });

  it('a role with no policies: every admin operation is AccessDeniedException, GetCallerIdentity still works', T, async () => {
    const none = await rootAssume(srv.url, 'nothing');
    await denied(getX(none), 'AdminGetUser');
    const c = identityClient(srv.url, none);
    try {
      await denied(c.send(new ci.CreateIdentityPoolCommand({ IdentityPoolName: 'nope', AllowUnauthenticatedIdentities: false })), 'CreateIdentityPool');
    } finally {
      c.destroy();
    }
    assert.equal((await whoAmI(srv.url, none)).Arn, assumedRoleArn('nothing', 'gate'));
  });

  it('sts:AssumeRole is judged by the caller\'s policy: a role without it gets AccessDenied (403) from STS', T, async () => {
    const none = await rootAssume(srv.url, 'nothing');
    const c = stsClient(srv.url, none);
    try {
      await fails(c.send(new AssumeRoleCommand({ RoleArn: roleArn('pool-reader'), RoleSessionName: 'escalate' })), 'AccessDenied', { status: 403 });
      const r = await stsRaw(srv.url, { Action: 'AssumeRole', RoleArn: roleArn('pool-reader'), RoleSessionName: 'escalate' }, { sign: none });
      assertStsErr(r, 'AccessDenied', { status: 403 });
    } finally {
      c.destroy();
    }
  });

  it('the caller of GetCallerIdentity needs no permission (identity-pool credentials of every role)', T, async () => {
    for (const idp of [IDP_READER, IDP_OWN, IDP_COND]) {
      const creds = signing(await poolCredentials(srv.url, idp, loginsFor(POOL_X, ux.idToken)));
      const sts = stsClient(srv.url, creds);
      try {
        const me = await sts.send(new GetCallerIdentityCommand({}));
        assert.match(me.Arn, /^arn:aws:sts::000000000000:assumed-role\/[\w-]+\/CognitoIdentityCredentials$/);
      } finally {
        sts.destroy();
      }
    }
  });
});

// ====================================================================
// a condition on cognito-identity.amazonaws.com:sub naming one identity
// ====================================================================

describe('a Condition on cognito-identity.amazonaws.com:sub naming user A\'s identity id (written into the config after a restart)', () => {
  const POOL = 'us-east-1_GateSub1';
  const CLIENT = 'gatesubweb1';
  const IDP = 'us-east-1:99999999-aaaa-bbbb-cccc-dddddddddddd';
  const config = (statements) => ({
    userPools: [{ id: POOL, name: 'gate-sub', autoConfirm: true, clients: [{ id: CLIENT, name: 'web' }] }],
    roles: [{ name: 'only-a', trust: { userPools: [POOL] }, policies: [policy(...statements)] }],
    identityPools: [{ id: IDP, name: 'gate-sub', authenticatedRole: 'only-a', providers: [{ userPoolId: POOL, clientId: CLIENT }] }],
    auth: { maxFailedLoginsPerAddress: 1000 },
  });
  let root;
  let srv;

  before(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudlet-it-sts-sub-'));
    await fsp.mkdir(path.join(root, 'data'));
  });
  after(async () => {
    await srv?.stop();
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });

  it('user A (whose identity id the condition names) may AdminGetUser, user B of the same role may not', { timeout: 60000 }, async () => {
    const dataDir = path.join(root, 'data');
    // First start: learn the identity ids of A and B.
    srv = await serveOn(dataDir, { config: config([{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }]), env: ROOT_ENV });
    const a = await makeUser(srv, { clientId: CLIENT, prefix: 'SubA' });
    const b = await makeUser(srv, { clientId: CLIENT, prefix: 'SubB' });
    const idA = (await poolCredentials(srv.url, IDP, loginsFor(POOL, a.idToken))).identityId;
    const idB = (await poolCredentials(srv.url, IDP, loginsFor(POOL, b.idToken))).identityId;
    assert.ok(idA && idB && idA !== idB);
    await srv.stop();
    srv = undefined;
    // Second start: the role allows AdminGetUser only when the caller's identity is A's, written literally.
    srv = await serveOn(dataDir, {
      config: config([
        { Effect: 'Allow', Action: 'cognito-idp:AdminGetUser', Resource: '*', Condition: { StringEquals: { 'cognito-identity.amazonaws.com:sub': idA } } },
      ]),
      env: ROOT_ENV,
    });
    const ca = await poolCredentials(srv.url, IDP, loginsFor(POOL, a.idToken));
    const cb = await poolCredentials(srv.url, IDP, loginsFor(POOL, b.idToken));
    assert.equal(ca.identityId, idA, 'identity ids survive the restart');
    assert.equal(cb.identityId, idB);
    assert.equal((await adminGetUser(srv.url, signing(ca), POOL, b.username)).Username.toLowerCase(), b.username.toLowerCase());
    await fails(adminGetUser(srv.url, signing(cb), POOL, a.username), 'AccessDeniedException', { status: 400, what: 'user B' });
    // The same role assumed without an identity (root AssumeRole) has no such key: denied too.
    await fails(adminGetUser(srv.url, await rootAssume(srv.url, 'only-a'), POOL, a.username), 'AccessDeniedException', { status: 400, what: 'no identity' });
  });
});
