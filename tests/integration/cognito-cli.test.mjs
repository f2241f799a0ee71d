// cognito-cli.test.mjs - Cognito User Pools through the AWS CLI v2 (Debian's
// /usr/bin/aws, `aws cognito-idp ...`) against build/cloudlet: sign-up and
// confirmation with the code from the outbox, USER_PASSWORD_AUTH, get-user, the
// admin and pool-management commands (signed with the root credentials from the
// environment, and from <data>/root-credentials), and the CLI's error exit.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer } from './helpers.mjs';
import {
  ROOT_ENV,
  ROOT_ACCESS_KEY_ID,
  ROOT_SECRET_ACCESS_KEY,
  UUID_RE,
  POOL_ID_RE,
  latestMessage,
  decodeJwt,
} from './cognito-helpers.mjs';

const AWS = '/usr/bin/aws';
const T = { timeout: 60000 };
const POOL = 'us-east-1_Cli1';
const CLIENT = 'cliclient1';
const PASSWORD = 'Passw0rdGood';
const CONFIG = {
  userPools: [{ id: POOL, name: 'cli', clients: [{ id: CLIENT, name: 'cli-web' }] }],
};

// A server started without CLOUDLET_ROOT_* must not inherit them from this process.
delete process.env.CLOUDLET_ROOT_ACCESS_KEY_ID;
delete process.env.CLOUDLET_ROOT_SECRET_ACCESS_KEY;

let home;

/** The environment for /usr/bin/aws: nothing AWS_* from ours, a private HOME, no config file, no pager. */
function awsEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  return { ...env, HOME: home, AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '', AWS_CONFIG_FILE: '/dev/null', ...extra };
}

const ROOT_AWS_ENV = { AWS_ACCESS_KEY_ID: ROOT_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: ROOT_SECRET_ACCESS_KEY };

/** Run `aws ARGS --endpoint-url URL --output json`; resolves {code, stdout, stderr, json}. */
function aws(url, args, { env = ROOT_AWS_ENV, timeoutMs = 50000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(AWS, [...args, '--endpoint-url', url, '--output', 'json'], {
      env: awsEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      let json;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

/** aws(...) that must exit 0; resolves the parsed JSON output (undefined if none). */
async function awsOk(url, args, opts) {
  const r = await aws(url, args, opts);
  assert.equal(r.code, 0, `aws ${args.slice(0, 2).join(' ')} exited ${r.code ?? r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.json;
}

/** aws(...) that must fail with a service error named `name`. */
async function awsFails(url, args, name, { opts, message } = {}) {
  const r = await aws(url, args, opts);
  assert.ok(r.code === 254 || r.code === 255, `aws ${args.slice(0, 2).join(' ')}: exit ${r.code} (want 254/255)\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`\\(${name}\\)`), `stderr does not name ${name}: ${r.stderr}`);
  if (message) assert.ok(r.stderr.includes(message), `stderr lacks "${message}": ${r.stderr}`);
  return r;
}

const attr = (list, name) => list?.find((a) => a.Name === name)?.Value;
function assertRecent(iso, what) {
  assert.equal(typeof iso, 'string', `${what}: ${iso}`);
  const t = Date.parse(iso);
  assert.ok(!Number.isNaN(t), `${what}: unparsable ${iso}`);
  assert.ok(Math.abs(t - Date.now()) < 120000, `${what} ${iso} is not now (epoch seconds expected on the wire)`);
}

before(async () => {
  home = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudlet-awscli-home-'));
});
after(async () => {
  if (home) await fsp.rm(home, { recursive: true, force: true });
});

describe('aws cognito-idp with root credentials from the environment', () => {
  let srv;
  let url;
  let carolSub;
  let access;
  let newPoolId;
  before(async () => {
    srv = await startServer({ config: CONFIG, env: ROOT_ENV });
    url = srv.url;
  });
  after(async () => {
    await srv?.stop();
  });

  it('sign-up', T, async () => {
    const out = await awsOk(url, [
      'cognito-idp', 'sign-up',
      '--client-id', CLIENT,
      '--username', 'carol',
      '--password', PASSWORD,
      '--user-attributes', 'Name=email,Value=carol@example.com', 'Name=name,Value=Carol C',
    ]);
    assert.equal(out.UserConfirmed, false);
    assert.match(out.UserSub, UUID_RE);
    carolSub = out.UserSub;
    assert.equal(out.CodeDeliveryDetails.DeliveryMedium, 'EMAIL');
    assert.equal(out.CodeDeliveryDetails.AttributeName, 'email');
    assert.match(out.CodeDeliveryDetails.Destination, /^c\*\*\*@e\*\*\*/);
    assert.ok(!out.CodeDeliveryDetails.Destination.includes('carol'), 'Destination is not masked');
  });

  it('sign-up needs no credentials (--no-sign-request)', T, async () => {
    const out = await awsOk(
      url,
      ['cognito-idp', 'sign-up', '--client-id', CLIENT, '--username', 'nocreds', '--password', PASSWORD, '--no-sign-request'],
      { env: {} },
    );
    assert.equal(out.UserConfirmed, false);
    assert.match(out.UserSub, UUID_RE);
  });

  it('initiate-auth before confirmation fails with UserNotConfirmedException', T, async () => {
    await awsFails(
      url,
      ['cognito-idp', 'initiate-auth', '--client-id', CLIENT, '--auth-flow', 'USER_PASSWORD_AUTH',
        '--auth-parameters', `USERNAME=carol,PASSWORD=${PASSWORD}`],
      'UserNotConfirmedException',
    );
  });

  it('confirm-sign-up with the code from the outbox', T, async () => {
    const msg = await latestMessage(srv.dataDir, 'carol', { kind: 'SignUp' });
    assert.equal(msg.pool, POOL);
    assert.match(msg.code, /^\d{6}$/);
    const r = await aws(url, ['cognito-idp', 'confirm-sign-up', '--client-id', CLIENT, '--username', 'carol', '--confirmation-code', msg.code]);
    assert.equal(r.code, 0, r.stderr);
    const again = await awsFails(
      url,
      ['cognito-idp', 'confirm-sign-up', '--client-id', CLIENT, '--username', 'carol', '--confirmation-code', msg.code],
      'NotAuthorizedException',
      { message: 'User cannot be confirmed. Current status is CONFIRMED' },
    );
    assert.ok(again);
  });

  it('initiate-auth --auth-flow USER_PASSWORD_AUTH', T, async () => {
    const out = await awsOk(url, [
      'cognito-idp', 'initiate-auth',
      '--client-id', CLIENT,
      '--auth-flow', 'USER_PASSWORD_AUTH',
      '--auth-parameters', `USERNAME=Carol,PASSWORD=${PASSWORD}`,
    ]);
    assert.deepEqual(out.ChallengeParameters, {});
    const ar = out.AuthenticationResult;
    assert.equal(ar.ExpiresIn, 3600);
    assert.equal(ar.TokenType, 'Bearer');
    assert.equal(typeof ar.RefreshToken, 'string');
    const id = decodeJwt(ar.IdToken).payload;
    assert.equal(id.sub, carolSub);
    assert.equal(id.aud, CLIENT);
    assert.equal(id.iss, `https://cognito-idp.us-east-1.amazonaws.com/${POOL}`);
    assert.equal(id.email_verified, true);
    assert.equal(decodeJwt(ar.AccessToken).payload.token_use, 'access');
    access = ar.AccessToken;

    const refreshed = await awsOk(url, [
      'cognito-idp', 'initiate-auth',
      '--client-id', CLIENT,
      '--auth-flow', 'REFRESH_TOKEN_AUTH',
      '--auth-parameters', JSON.stringify({ REFRESH_TOKEN: ar.RefreshToken }),
    ]);
    assert.equal(typeof refreshed.AuthenticationResult.AccessToken, 'string');
    assert.equal(refreshed.AuthenticationResult.RefreshToken, undefined);
  });

  it('initiate-auth with a wrong password exits non-zero naming NotAuthorizedException', T, async () => {
    const r = await awsFails(
      url,
      ['cognito-idp', 'initiate-auth', '--client-id', CLIENT, '--auth-flow', 'USER_PASSWORD_AUTH',
        '--auth-parameters', 'USERNAME=carol,PASSWORD=Wr0ngPassword'],
      'NotAuthorizedException',
      { message: 'Incorrect username or password.' },
    );
    assert.equal(r.code, 254, 'the CLI exits 254 for a service error');
    assert.equal(r.stdout, '');
  });

  it('get-user --access-token', T, async () => {
    const out = await awsOk(url, ['cognito-idp', 'get-user', '--access-token', access]);
    assert.equal(out.Username.toLowerCase(), 'carol');
    assert.equal(attr(out.UserAttributes, 'sub'), carolSub);
    assert.equal(attr(out.UserAttributes, 'email'), 'carol@example.com');
    assert.equal(attr(out.UserAttributes, 'email_verified'), 'true');
    assert.equal(attr(out.UserAttributes, 'name'), 'Carol C');
  });

  it('admin-create-user', T, async () => {
    const out = await awsOk(url, [
      'cognito-idp', 'admin-create-user',
      '--user-pool-id', POOL,
      '--username', 'dave',
      '--temporary-password', 'TempPassw0rd',
      '--user-attributes', 'Name=email,Value=dave@example.com',
      '--message-action', 'SUPPRESS',
    ]);
    assert.equal(out.User.Username.toLowerCase(), 'dave');
    assert.equal(out.User.UserStatus, 'FORCE_CHANGE_PASSWORD');
    assert.equal(out.User.Enabled, true);
    assertRecent(out.User.UserCreateDate, 'UserCreateDate');
    assert.equal(attr(out.User.Attributes, 'email'), 'dave@example.com');
    const auth = await awsOk(url, [
      'cognito-idp', 'initiate-auth', '--client-id', CLIENT, '--auth-flow', 'USER_PASSWORD_AUTH',
      '--auth-parameters', 'USERNAME=dave,PASSWORD=TempPassw0rd',
    ]);
    assert.equal(auth.ChallengeName, 'NEW_PASSWORD_REQUIRED');
    assert.equal(typeof auth.Session, 'string');
    const done = await awsOk(url, [
      'cognito-idp', 'respond-to-auth-challenge', '--client-id', CLIENT,
      '--challenge-name', 'NEW_PASSWORD_REQUIRED', '--session', auth.Session,
      '--challenge-responses', 'USERNAME=dave,NEW_PASSWORD=Dav3NewPassword',
    ]);
    assert.equal(done.AuthenticationResult.TokenType, 'Bearer');
  });

  it('admin-get-user', T, async () => {
    const out = await awsOk(url, ['cognito-idp', 'admin-get-user', '--user-pool-id', POOL, '--username', 'DAVE']);
    assert.equal(out.Username.toLowerCase(), 'dave');
    assert.equal(out.UserStatus, 'CONFIRMED');
    assert.equal(out.Enabled, true);
    assertRecent(out.UserCreateDate, 'UserCreateDate');
    assertRecent(out.UserLastModifiedDate, 'UserLastModifiedDate');
    assert.match(attr(out.UserAttributes, 'sub'), UUID_RE);
    await awsFails(url, ['cognito-idp', 'admin-get-user', '--user-pool-id', POOL, '--username', 'ghost'], 'UserNotFoundException');
  });

  it('list-users (all, filtered, and paginated one per page by the CLI)', T, async () => {
    const all = await awsOk(url, ['cognito-idp', 'list-users', '--user-pool-id', POOL]);
    assert.deepEqual(all.Users.map((u) => u.Username.toLowerCase()).sort(), ['carol', 'dave', 'nocreds']);
    const carol = all.Users.find((u) => u.Username.toLowerCase() === 'carol');
    assert.equal(carol.UserStatus, 'CONFIRMED');
    assertRecent(carol.UserCreateDate, 'UserCreateDate');

    const f = await awsOk(url, ['cognito-idp', 'list-users', '--user-pool-id', POOL, '--filter', 'email = "dave@example.com"']);
    assert.deepEqual(f.Users.map((u) => u.Username.toLowerCase()), ['dave']);
    const g = await awsOk(url, ['cognito-idp', 'list-users', '--user-pool-id', POOL, '--filter', 'cognito:user_status = "UNCONFIRMED"']);
    assert.deepEqual(g.Users.map((u) => u.Username.toLowerCase()), ['nocreds']);

    // --page-size 1 makes the CLI send Limit 1 and follow PaginationToken to the end
    const paged = await awsOk(url, ['cognito-idp', 'list-users', '--user-pool-id', POOL, '--page-size', '1']);
    assert.deepEqual(paged.Users.map((u) => u.Username.toLowerCase()).sort(), ['carol', 'dave', 'nocreds']);
    // --max-items 2 stops after two and hands back a NextToken
    const first = await awsOk(url, ['cognito-idp', 'list-users', '--user-pool-id', POOL, '--page-size', '1', '--max-items', '2']);
    assert.equal(first.Users.length, 2);
    assert.equal(typeof first.NextToken, 'string');
  });

  it('create-user-pool, describe-user-pool, list-user-pools --max-results 10', T, async () => {
    const created = await awsOk(url, [
      'cognito-idp', 'create-user-pool',
      '--pool-name', 'clipool',
      '--policies', 'PasswordPolicy={MinimumLength=12,RequireUppercase=false,RequireLowercase=true,RequireNumbers=false,RequireSymbols=false}',
    ]);
    newPoolId = created.UserPool.Id;
    assert.match(newPoolId, /^us-east-1_[0-9a-zA-Z]+$/);
    assert.match(newPoolId, POOL_ID_RE);
    assert.equal(created.UserPool.Name, 'clipool');
    assertRecent(created.UserPool.CreationDate, 'CreationDate');

    const d = await awsOk(url, ['cognito-idp', 'describe-user-pool', '--user-pool-id', newPoolId]);
    assert.equal(d.UserPool.Id, newPoolId);
    assert.equal(d.UserPool.Name, 'clipool');
    assert.equal(d.UserPool.Policies.PasswordPolicy.MinimumLength, 12);
    assert.equal(d.UserPool.Policies.PasswordPolicy.RequireUppercase, false);
    const dc = await awsOk(url, ['cognito-idp', 'describe-user-pool', '--user-pool-id', POOL]);
    assert.equal(dc.UserPool.Id, POOL);
    assert.equal(dc.UserPool.Name, 'cli');

    const list = await awsOk(url, ['cognito-idp', 'list-user-pools', '--max-results', '10']);
    assert.deepEqual(list.UserPools.map((p) => p.Id).sort(), [POOL, newPoolId].sort());
    assert.equal(list.UserPools.find((p) => p.Id === newPoolId).Name, 'clipool');
    // an explicit --max-results turns the CLI's auto-pagination off: page by hand with --next-token
    const p1 = await awsOk(url, ['cognito-idp', 'list-user-pools', '--max-results', '1']);
    assert.equal(p1.UserPools.length, 1);
    assert.equal(typeof p1.NextToken, 'string', 'no NextToken after the first of two pools');
    const p2 = await awsOk(url, ['cognito-idp', 'list-user-pools', '--max-results', '1', '--next-token', p1.NextToken]);
    assert.equal(p2.UserPools.length, 1);
    assert.equal(p2.NextToken, undefined);
    assert.deepEqual([...p1.UserPools, ...p2.UserPools].map((p) => p.Id).sort(), [POOL, newPoolId].sort());

    await awsFails(url, ['cognito-idp', 'describe-user-pool', '--user-pool-id', 'us-east-1_Nope1'], 'ResourceNotFoundException');
  });

  it('create-user-pool-client with a secret, then log in through it with SECRET_HASH', T, async () => {
    const c = await awsOk(url, [
      'cognito-idp', 'create-user-pool-client',
      '--user-pool-id', newPoolId,
      '--client-name', 'cli-server',
      '--generate-secret',
      '--explicit-auth-flows', 'ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH',
    ]);
    const { ClientId, ClientSecret } = c.UserPoolClient;
    assert.equal(typeof ClientSecret, 'string');
    await awsOk(url, [
      'cognito-idp', 'admin-create-user', '--user-pool-id', newPoolId, '--username', 'erin',
      '--temporary-password', 'temporarypass', '--message-action', 'SUPPRESS',
    ]);
    await awsOk(url, [
      'cognito-idp', 'admin-set-user-password', '--user-pool-id', newPoolId, '--username', 'erin',
      '--password', 'erinslongpassword', '--permanent',
    ]);
    const { createHmac } = await import('node:crypto');
    const hash = createHmac('sha256', ClientSecret).update(`erin${ClientId}`).digest('base64');
    const out = await awsOk(url, [
      'cognito-idp', 'initiate-auth', '--client-id', ClientId, '--auth-flow', 'USER_PASSWORD_AUTH',
      '--auth-parameters', JSON.stringify({ USERNAME: 'erin', PASSWORD: 'erinslongpassword', SECRET_HASH: hash }),
    ]);
    const id = decodeJwt(out.AuthenticationResult.IdToken).payload;
    assert.equal(id.iss, `https://cognito-idp.us-east-1.amazonaws.com/${newPoolId}`);
    assert.equal(id.aud, ClientId);
  });

  it('refuses admin calls with a wrong secret or an unknown key', T, async () => {
    await awsFails(url, ['cognito-idp', 'list-user-pools', '--max-results', '10'], 'InvalidSignatureException', {
      opts: { env: { AWS_ACCESS_KEY_ID: ROOT_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: 'z'.repeat(40) } },
    });
    await awsFails(url, ['cognito-idp', 'list-user-pools', '--max-results', '10'], 'UnrecognizedClientException', {
      opts: { env: { AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNKEY000002', AWS_SECRET_ACCESS_KEY: 'z'.repeat(40) } },
    });
    await awsFails(url, ['cognito-idp', 'list-user-pools', '--max-results', '10', '--no-sign-request'], 'MissingAuthenticationTokenException', {
      opts: { env: {} },
    });
  });
});

describe('aws cognito-idp with root credentials from <data>/root-credentials', () => {
  let srv;
  before(async () => {
    srv = await startServer(); // no CLOUDLET_ROOT_* in the environment
  });
  after(async () => {
    await srv?.stop();
  });

  it('the file is an INI profile the CLI accepts for admin calls', T, async () => {
    const file = path.join(srv.dataDir, 'root-credentials');
    const text = await fsp.readFile(file, 'utf8');
    assert.match(text, /^\[default\]\s*$/m);
    const id = /^aws_access_key_id\s*=\s*(\S+)\s*$/m.exec(text)?.[1];
    const secret = /^aws_secret_access_key\s*=\s*(\S+)\s*$/m.exec(text)?.[1];
    assert.ok(id, `no aws_access_key_id in ${file}`);
    assert.ok(secret, `no aws_secret_access_key in ${file}`);
    assert.notEqual(id, ROOT_ACCESS_KEY_ID);

    const wellKnown = await (await fetch(`${srv.url}/.well-known/cloudlet.json`)).json();
    const out = await awsOk(srv.url, ['cognito-idp', 'list-user-pools', '--max-results', '10'], {
      env: { AWS_SHARED_CREDENTIALS_FILE: file },
    });
    assert.deepEqual(out.UserPools.map((p) => p.Id), [wellKnown.userPoolId]);
    const d = await awsOk(srv.url, ['cognito-idp', 'describe-user-pool', '--user-pool-id', wellKnown.userPoolId], {
      env: { AWS_SHARED_CREDENTIALS_FILE: file },
    });
    assert.equal(d.UserPool.Id, wellKnown.userPoolId);

    // the example key of the other server is not this server's root
    await awsFails(srv.url, ['cognito-idp', 'list-user-pools', '--max-results', '10'], 'UnrecognizedClientException');
  });
});
