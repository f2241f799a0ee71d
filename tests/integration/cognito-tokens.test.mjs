// cognito-tokens.test.mjs - the tokens cloudlet's user pools issue, checked
// from the outside: verified with `jose` against the JWKS the server serves
// (directly and through openid-configuration's jwks_uri), their claims with
// exact values, and forged, tampered, swapped, expired and garbage tokens,
// which every token-taking operation must refuse with NotAuthorizedException.
//
// Two pools (so that a token of one is no use in the other) and a third
// server with a very short token validity for real expiry.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as jose from 'jose';
import { startServer, request, sleep } from './helpers.mjs';
import {
  cognitoCall,
  assertCognitoError,
  assertOk,
  waitForMessage,
  decodeJwt,
  b64url,
  b64urlJson,
  signHs256,
  signRs256,
  UUID_RE,
  uniq,
} from './cognito-node-shims.mjs';

const T = { timeout: 30000 };
const POOL_A = 'us-east-1_TokPoolA';
const POOL_B = 'us-east-1_TokPoolB';
const CLIENT_A = 'tokclienta';
const CLIENT_A_LONG = 'tokclientalong';
const CLIENT_B = 'tokclientb';
const ISS_A = `https://cognito-idp.us-east-1.amazonaws.com/${POOL_A}`;
const ISS_B = `https://cognito-idp.us-east-1.amazonaws.com/${POOL_B}`;
const PASSWORD = 'Corr3ct-Horse';
const SCOPE = 'aws.cognito.signin.user.admin';

const CONFIG = {
  userPools: [
    {
      id: POOL_A,
      name: 'tokens-a',
      autoConfirm: false,
      clients: [
        { id: CLIENT_A, name: 'web' },
        { id: CLIENT_A_LONG, name: 'other validities', idTokenValiditySeconds: 1200, accessTokenValiditySeconds: 900 },
      ],
    },
    { id: POOL_B, name: 'tokens-b', autoConfirm: false, clients: [{ id: CLIENT_B, name: 'web-b' }] },
  ],
  // This file does not test throttling: all its requests come from 127.0.0.1, so keep the per-address limit out of the way.
  auth: { maxFailedLoginsPerAddress: 1000 },
};

// ---- small helpers ----

/** SignUp + outbox code + ConfirmSignUp, all raw; returns {username, email, sub}. */
async function makeUser(srv, clientId, username, extraAttrs = []) {
  const email = `${username.toLowerCase()}@example.com`;
  const up = assertOk(
    await cognitoCall(srv, 'SignUp', {
      ClientId: clientId,
      Username: username,
      Password: PASSWORD,
      UserAttributes: [{ Name: 'email', Value: email }, ...extraAttrs],
    }),
    `SignUp ${username}`,
  );
  const msg = await waitForMessage(srv, username, 'SignUp');
  assertOk(await cognitoCall(srv, 'ConfirmSignUp', { ClientId: clientId, Username: username, ConfirmationCode: msg.code }), `ConfirmSignUp ${username}`);
  return { username, email, sub: up.UserSub };
}

/** USER_PASSWORD_AUTH; returns AuthenticationResult. */
async function login(srv, clientId, username, password = PASSWORD) {
  const body = assertOk(
    await cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: clientId, AuthParameters: { USERNAME: username, PASSWORD: password } }),
    `log-in ${username}`,
  );
  assert.ok(body.AuthenticationResult, `no AuthenticationResult: ${JSON.stringify(body)}`);
  return body.AuthenticationResult;
}

const getUser = (srv, accessToken) => cognitoCall(srv, 'GetUser', { AccessToken: accessToken });

function attrMap(getUserBody) {
  return Object.fromEntries(getUserBody.UserAttributes.map((a) => [a.Name, a.Value]));
}

/** GetUser must refuse `token` with NotAuthorizedException "Invalid Access Token". */
async function assertRefused(srv, token, what, message = 'Invalid Access Token') {
  const res = await getUser(srv, token);
  assertCognitoError(res, 'NotAuthorizedException', { message, what });
}

/** Every way a server could mistake an RSA public key for an HMAC secret. */
function hmacKeyCandidates(jwk, jwkText, jwksText) {
  const pub = crypto.createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: 'jwk' });
  const spkiPem = pub.export({ type: 'spki', format: 'pem' });
  const pkcs1Pem = pub.export({ type: 'pkcs1', format: 'pem' });
  return [
    ['SPKI PEM text', spkiPem],
    ['SPKI PEM text without the final newline', spkiPem.trimEnd()],
    ['SPKI PEM with CRLF', spkiPem.replace(/\n/g, '\r\n')],
    ['PKCS#1 PEM text', pkcs1Pem],
    ['SPKI DER bytes', pub.export({ type: 'spki', format: 'der' })],
    ['PKCS#1 DER bytes', pub.export({ type: 'pkcs1', format: 'der' })],
    ['the JWK JSON as served', jwkText],
    ['the JWK JSON re-serialised', JSON.stringify(jwk)],
    ['the JWK JSON {e,kty,n}', JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })],
    ['the JWKS document', jwksText],
    ['the modulus (base64url text)', jwk.n],
    ['the modulus bytes', Buffer.from(jwk.n, 'base64url')],
    ['the kid', jwk.kid],
    ['an empty key', ''],
  ];
}

/** The exact text of one key object inside the served JWKS document (as a naive server might use it). */
function servedKeyText(jwksText, kid) {
  const i = jwksText.indexOf(`"${kid}"`);
  if (i < 0) return JSON.stringify({ kid });
  const start = jwksText.lastIndexOf('{', i);
  const end = jwksText.indexOf('}', i);
  return jwksText.slice(start, end + 1);
}

/** Replace the last base64url character by another that decodes to the same bytes (non-canonical trailing bits). */
function nonCanonical(segment) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const rem = segment.length % 4;
  if (rem === 0) return null; // no spare bits
  const spare = rem === 2 ? 4 : 2; // unused low bits in the last character
  const last = alphabet.indexOf(segment[segment.length - 1]);
  const alt = last ^ 1; // the lowest bit is always one of the `spare` unused bits
  assert.ok(spare >= 1);
  const out = segment.slice(0, -1) + alphabet[alt];
  assert.deepEqual(Buffer.from(out, 'base64url'), Buffer.from(segment, 'base64url'), 'nonCanonical() changed the bytes');
  return out;
}

// ====================================================================

describe('tokens, JWKS and discovery (two pools)', () => {
  let srv;
  let jwksA;
  let jwksAText;
  let jwksB;
  let alice; // pool A, name + custom:team
  let bob; // pool A
  let sharedA; // same user name in pool A and pool B
  let sharedB;
  let aliceTokens; // AuthenticationResult of alice's first log-in
  let bobTokens;
  let sharedBTokens;

  before(async () => {
    srv = await startServer({ config: CONFIG });
    alice = await makeUser(srv, CLIENT_A, `Alice${uniq()}`, [
      { Name: 'name', Value: 'Alice Example' },
      { Name: 'custom:team', Value: 'blue' },
    ]);
    bob = await makeUser(srv, CLIENT_A, `Bob${uniq()}`);
    const shared = `Shared${uniq()}`;
    sharedA = await makeUser(srv, CLIENT_A, shared);
    sharedB = await makeUser(srv, CLIENT_B, shared);
    aliceTokens = await login(srv, CLIENT_A, alice.username);
    bobTokens = await login(srv, CLIENT_A, bob.username);
    sharedBTokens = await login(srv, CLIENT_B, sharedB.username);
    const ra = await request(srv.url, `/${POOL_A}/.well-known/jwks.json`);
    assert.equal(ra.status, 200, `JWKS of pool A: ${ra.status} ${ra.text}`);
    jwksAText = ra.text;
    jwksA = JSON.parse(ra.text);
    const rb = await request(srv.url, `/${POOL_B}/.well-known/jwks.json`);
    assert.equal(rb.status, 200, `JWKS of pool B: ${rb.status} ${rb.text}`);
    jwksB = JSON.parse(rb.text);
  });

  after(async () => {
    await srv?.stop();
  });

  const remoteJwks = (poolId) => jose.createRemoteJWKSet(new URL(`${srv.url}/${poolId}/.well-known/jwks.json`));
  const kidsOf = (jwks) => jwks.keys.map((k) => k.kid);

  // ---- JWKS and discovery ----

  it('GET /<pool>/.well-known/jwks.json serves the pool\'s RSA public keys and nothing private', T, async () => {
    const res = await request(srv.url, `/${POOL_A}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/i);
    assert.ok(Array.isArray(jwksA.keys) && jwksA.keys.length >= 1, `keys: ${res.text}`);
    for (const k of jwksA.keys) {
      assert.equal(k.kty, 'RSA');
      assert.equal(k.alg, 'RS256');
      assert.equal(k.use, 'sig');
      assert.equal(k.e, 'AQAB');
      assert.equal(typeof k.kid, 'string');
      assert.ok(k.kid.length > 0);
      assert.match(k.n, /^[A-Za-z0-9_-]+$/, 'n is not base64url');
      assert.ok(Buffer.from(k.n, 'base64url').length >= 256, 'modulus shorter than 2048 bits');
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) assert.equal(k[priv], undefined, `JWKS leaks "${priv}"`);
      // Importable as a real RSA public key.
      const key = crypto.createPublicKey({ key: k, format: 'jwk' });
      assert.equal(key.asymmetricKeyType, 'rsa');
    }
    assert.equal(new Set(kidsOf(jwksA)).size, jwksA.keys.length, 'duplicate kids');
  });

  it('each pool has its own signing keys (no kid or modulus shared between pools)', T, async () => {
    const kidsA = new Set(kidsOf(jwksA));
    for (const k of jwksB.keys) {
      assert.ok(!kidsA.has(k.kid), `kid ${k.kid} is in both pools' JWKS`);
      assert.ok(!jwksA.keys.some((a) => a.n === k.n), 'both pools sign with the same RSA key');
    }
  });

  it('JWKS and openid-configuration of an unknown pool are 404', T, async () => {
    for (const p of [
      '/us-east-1_NoSuchPool/.well-known/jwks.json',
      '/us-east-1_NoSuchPool/.well-known/openid-configuration',
      `/${POOL_A.toLowerCase()}x/.well-known/jwks.json`,
    ]) {
      const res = await request(srv.url, p);
      assert.equal(res.status, 404, `${p}: ${res.status}`);
    }
  });

  it('openid-configuration names the AWS-form issuer and a jwks_uri that jose can use', T, async () => {
    const res = await request(srv.url, `/${POOL_A}/.well-known/openid-configuration`);
    assert.equal(res.status, 200, `${res.status} ${res.text}`);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/i);
    const doc = JSON.parse(res.text);
    assert.equal(doc.issuer, ISS_A);
    assert.equal(doc.jwks_uri, `${srv.url}/${POOL_A}/.well-known/jwks.json`);
    assert.ok(Array.isArray(doc.id_token_signing_alg_values_supported), 'no id_token_signing_alg_values_supported');
    assert.ok(doc.id_token_signing_alg_values_supported.includes('RS256'));
    const jwks = jose.createRemoteJWKSet(new URL(doc.jwks_uri));
    const { payload } = await jose.jwtVerify(aliceTokens.IdToken, jwks, { issuer: doc.issuer, audience: CLIENT_A, algorithms: ['RS256'] });
    assert.equal(payload.sub, alice.sub);
    const resB = JSON.parse((await request(srv.url, `/${POOL_B}/.well-known/openid-configuration`)).text);
    assert.equal(resB.issuer, ISS_B);
    assert.equal(resB.jwks_uri, `${srv.url}/${POOL_B}/.well-known/jwks.json`);
  });

  // ---- verification with jose ----

  it('jose verifies the ID token against the served JWKS (issuer, audience, RS256)', T, async () => {
    const { payload, protectedHeader } = await jose.jwtVerify(aliceTokens.IdToken, remoteJwks(POOL_A), {
      issuer: ISS_A,
      audience: CLIENT_A,
      algorithms: ['RS256'],
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.ok(kidsOf(jwksA).includes(protectedHeader.kid), `ID token kid ${protectedHeader.kid} not in the JWKS`);
    assert.equal(payload.token_use, 'id');
    assert.equal(payload.sub, alice.sub);
  });

  it('jose verifies the access token (no aud; client_id, token_use, scope)', T, async () => {
    const { payload, protectedHeader } = await jose.jwtVerify(aliceTokens.AccessToken, remoteJwks(POOL_A), {
      issuer: ISS_A,
      algorithms: ['RS256'],
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.ok(kidsOf(jwksA).includes(protectedHeader.kid), `access token kid ${protectedHeader.kid} not in the JWKS`);
    assert.equal(payload.client_id, CLIENT_A);
    assert.equal(payload.token_use, 'access');
    assert.equal(payload.scope, SCOPE);
    assert.equal(payload.aud, undefined);
  });

  it('jose refuses pool A tokens with pool B\'s JWKS or issuer, and a wrong audience', T, async () => {
    await assert.rejects(
      jose.jwtVerify(aliceTokens.IdToken, remoteJwks(POOL_B), { algorithms: ['RS256'] }),
      (e) => e.code === 'ERR_JWKS_NO_MATCHING_KEY' || e.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    );
    await assert.rejects(
      jose.jwtVerify(aliceTokens.IdToken, remoteJwks(POOL_A), { issuer: ISS_B, algorithms: ['RS256'] }),
      (e) => e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
    await assert.rejects(
      jose.jwtVerify(aliceTokens.IdToken, remoteJwks(POOL_A), { issuer: ISS_A, audience: CLIENT_B, algorithms: ['RS256'] }),
      (e) => e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
    // Pool B's own tokens verify with pool B's keys.
    const { payload } = await jose.jwtVerify(sharedBTokens.IdToken, remoteJwks(POOL_B), { issuer: ISS_B, audience: CLIENT_B, algorithms: ['RS256'] });
    assert.equal(payload.sub, sharedB.sub);
  });

  // ---- claims ----

  it('a log-in answers ExpiresIn 3600, TokenType Bearer and a refresh token of safe characters', T, async () => {
    assert.equal(aliceTokens.ExpiresIn, 3600);
    assert.equal(aliceTokens.TokenType, 'Bearer');
    assert.equal(typeof aliceTokens.RefreshToken, 'string');
    assert.match(aliceTokens.RefreshToken, /^[A-Za-z0-9\-_=.]+$/);
    assert.equal(aliceTokens.NewDeviceMetadata, undefined);
  });

  it('ID token claims have the exact values the spec lists', T, async () => {
    const { header, payload: p } = decodeJwt(aliceTokens.IdToken);
    assert.equal(header.alg, 'RS256');
    assert.ok(kidsOf(jwksA).includes(header.kid));
    for (const claim of ['sub', 'aud', 'email_verified', 'token_use', 'auth_time', 'iss', 'cognito:username', 'exp', 'iat', 'jti', 'origin_jti', 'event_id', 'email']) {
      assert.ok(claim in p, `ID token lacks ${claim}: ${JSON.stringify(p)}`);
    }
    assert.equal(p.sub, alice.sub);
    assert.match(p.sub, UUID_RE);
    assert.equal(p.aud, CLIENT_A);
    assert.equal(p.iss, ISS_A);
    assert.equal(p.token_use, 'id');
    assert.equal(p['cognito:username'], alice.username);
    assert.equal(p.email, alice.email);
    assert.strictEqual(p.email_verified, true, 'email_verified must be a JSON boolean');
    assert.equal(p.name, 'Alice Example');
    assert.equal(p['custom:team'], 'blue');
    for (const n of ['exp', 'iat', 'auth_time']) assert.ok(Number.isInteger(p[n]), `${n} is not an integer (seconds)`);
    assert.equal(p.exp - p.iat, 3600);
    assert.ok(p.auth_time <= p.iat, 'auth_time after iat');
    assert.ok(p.iat - p.auth_time <= 5, 'auth_time of a fresh log-in is the log-in time');
    assert.ok(Math.abs(p.iat - Date.now() / 1000) <= 30, `iat ${p.iat} is not now`);
    assert.match(p.jti, UUID_RE);
    assert.match(p.origin_jti, UUID_RE);
    assert.equal(typeof p.event_id, 'string');
    assert.ok(p.event_id.length > 0);
    assert.equal(p.client_id, undefined, 'client_id belongs to access tokens');
    assert.equal(p.scope, undefined, 'scope belongs to access tokens');
  });

  it('access token claims have the exact values the spec lists', T, async () => {
    const { header, payload: p } = decodeJwt(aliceTokens.AccessToken);
    const { payload: id } = decodeJwt(aliceTokens.IdToken);
    assert.equal(header.alg, 'RS256');
    assert.ok(kidsOf(jwksA).includes(header.kid));
    for (const claim of ['sub', 'token_use', 'scope', 'auth_time', 'iss', 'exp', 'iat', 'jti', 'origin_jti', 'client_id', 'username', 'event_id']) {
      assert.ok(claim in p, `access token lacks ${claim}: ${JSON.stringify(p)}`);
    }
    assert.equal(p.sub, alice.sub);
    assert.equal(p.token_use, 'access');
    assert.equal(p.scope, SCOPE);
    assert.equal(p.iss, ISS_A);
    assert.equal(p.client_id, CLIENT_A);
    assert.equal(p.username, alice.username);
    assert.equal(p.username, id['cognito:username']);
    assert.equal(p.aud, undefined, 'an access token has no aud');
    assert.equal(p.email, undefined, 'an access token carries no attributes');
    assert.equal(p.exp - p.iat, 3600);
    assert.ok(p.auth_time <= p.iat);
    assert.match(p.jti, UUID_RE);
    assert.match(p.origin_jti, UUID_RE);
    assert.notEqual(p.jti, id.jti, 'ID and access token share a jti');
    assert.equal(p.origin_jti, id.origin_jti, 'ID and access token of one log-in must share origin_jti');
    assert.equal(p.auth_time, id.auth_time);
  });

  it('each log-in has its own jti and origin_jti; a refresh keeps origin_jti and auth_time', T, async () => {
    const second = await login(srv, CLIENT_A, alice.username);
    const a1 = decodeJwt(aliceTokens.AccessToken).payload;
    const a2 = decodeJwt(second.AccessToken).payload;
    const i2 = decodeJwt(second.IdToken).payload;
    assert.notEqual(a2.jti, a1.jti);
    assert.notEqual(a2.origin_jti, a1.origin_jti, 'two log-ins share origin_jti');
    assert.notEqual(second.RefreshToken, aliceTokens.RefreshToken, 'two log-ins share a refresh token');
    await sleep(1100);
    for (const [what, call] of [
      ['REFRESH_TOKEN_AUTH', () => cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: CLIENT_A, AuthParameters: { REFRESH_TOKEN: second.RefreshToken } })],
      ['REFRESH_TOKEN', () => cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN', ClientId: CLIENT_A, AuthParameters: { REFRESH_TOKEN: second.RefreshToken } })],
      ['GetTokensFromRefreshToken', () => cognitoCall(srv, 'GetTokensFromRefreshToken', { ClientId: CLIENT_A, RefreshToken: second.RefreshToken })],
    ]) {
      const r = assertOk(await call(), what).AuthenticationResult;
      assert.ok(r, `${what}: no AuthenticationResult`);
      assert.equal(r.RefreshToken, undefined, `${what}: a refresh must not hand out a new refresh token`);
      assert.equal(r.ExpiresIn, 3600);
      const ra = decodeJwt(r.AccessToken).payload;
      const ri = decodeJwt(r.IdToken).payload;
      assert.notEqual(ra.jti, a2.jti, `${what}: same jti as before`);
      assert.notEqual(ri.jti, i2.jti, `${what}: same ID jti as before`);
      assert.notEqual(ra.jti, ri.jti);
      assert.equal(ra.origin_jti, a2.origin_jti, `${what}: origin_jti changed`);
      assert.equal(ri.origin_jti, a2.origin_jti, `${what}: ID origin_jti changed`);
      assert.equal(ra.auth_time, a2.auth_time, `${what}: auth_time changed`);
      assert.equal(ri.auth_time, a2.auth_time);
      assert.ok(ra.iat > a2.iat, `${what}: iat did not move`);
      assert.equal(ra.exp - ra.iat, 3600);
      assert.equal(ri['cognito:username'], alice.username);
      assert.strictEqual(ri.email_verified, true);
      await jose.jwtVerify(r.IdToken, remoteJwks(POOL_A), { issuer: ISS_A, audience: CLIENT_A, algorithms: ['RS256'] });
      await jose.jwtVerify(r.AccessToken, remoteJwks(POOL_A), { issuer: ISS_A, algorithms: ['RS256'] });
      assertOk(await getUser(srv, r.AccessToken), `${what}: GetUser with the refreshed token`);
    }
  });

  it('a client\'s own token validities give exp - iat and ExpiresIn', T, async () => {
    const r = await login(srv, CLIENT_A_LONG, bob.username);
    assert.equal(r.ExpiresIn, 900);
    const a = decodeJwt(r.AccessToken).payload;
    const i = decodeJwt(r.IdToken).payload;
    assert.equal(a.exp - a.iat, 900);
    assert.equal(i.exp - i.iat, 1200);
    assert.equal(i.aud, CLIENT_A_LONG);
    assert.equal(a.client_id, CLIENT_A_LONG);
  });

  it('GetUser with a real access token answers the user and its attributes', T, async () => {
    const body = assertOk(await getUser(srv, aliceTokens.AccessToken), 'GetUser');
    assert.equal(body.Username, alice.username);
    const m = attrMap(body);
    assert.equal(m.sub, alice.sub);
    assert.equal(m.email, alice.email);
    assert.equal(m.email_verified, 'true');
    assert.equal(m.name, 'Alice Example');
    assert.equal(m['custom:team'], 'blue');
  });

  // ---- forgeries: GetUser must refuse them all ----

  it('(a) HS256 tokens "signed" with the pool\'s public key in every encoding are refused', T, async () => {
    const { header, payload } = decodeJwt(aliceTokens.AccessToken);
    const jwk = jwksA.keys.find((k) => k.kid === header.kid);
    assert.ok(jwk, 'the token\'s kid is not in the JWKS');
    const candidates = hmacKeyCandidates(jwk, servedKeyText(jwksAText, jwk.kid), jwksAText);
    for (const [what, key] of candidates) {
      for (const h of [
        { kid: header.kid, alg: 'HS256' },
        { alg: 'HS256', kid: header.kid, typ: 'JWT' },
        { kid: header.kid, alg: 'HS512' },
      ]) {
        const forged =
          h.alg === 'HS512'
            ? (() => {
                const input = `${b64urlJson(h)}.${b64urlJson(payload)}`;
                return `${input}.${b64url(crypto.createHmac('sha512', key).update(input).digest())}`;
              })()
            : signHs256(h, payload, key);
        await assertRefused(srv, forged, `${h.alg} with HMAC key = ${what}`);
      }
    }
    // The header still says RS256 but the signature is an HMAC.
    const spkiPem = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    await assertRefused(srv, signHs256(header, payload, spkiPem), 'RS256 header, HMAC signature');
  });

  it('(b) alg "none" tokens are refused, with and without a signature part', T, async () => {
    const { header, payload, parts } = decodeJwt(aliceTokens.AccessToken);
    for (const alg of ['none', 'None', 'NONE', 'nOnE', '']) {
      const h = b64urlJson({ kid: header.kid, alg });
      const p = b64urlJson(payload);
      await assertRefused(srv, `${h}.${p}.`, `alg "${alg}", empty signature`);
      await assertRefused(srv, `${h}.${p}`, `alg "${alg}", no signature part`);
      await assertRefused(srv, `${h}.${p}.${parts[2]}`, `alg "${alg}", the original signature`);
    }
    await assertRefused(srv, `${b64urlJson({ kid: header.kid })}.${b64urlJson(payload)}.${parts[2]}`, 'no alg at all');
    await assertRefused(srv, `${parts[0]}.${parts[1]}.`, 'real header and payload, empty signature');
    await assertRefused(srv, `${parts[0]}.${parts[1]}`, 'real header and payload, no signature part');
  });

  it('(c) a kid not in the JWKS, no kid, a hostile kid, or an embedded/remote key are refused', T, async () => {
    const { header, payload } = decodeJwt(aliceTokens.AccessToken);
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const attackerJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'attacker-key', alg: 'RS256', use: 'sig' };
    const cases = [
      ['unknown kid, attacker\'s key', { kid: 'not-a-kid-of-this-pool', alg: 'RS256' }],
      ['no kid, attacker\'s key', { alg: 'RS256' }],
      ['empty kid', { kid: '', alg: 'RS256' }],
      ['kid with path traversal', { kid: '../../../../../../dev/null', alg: 'RS256' }],
      ['kid with quotes', { kid: `' OR '1'='1`, alg: 'RS256' }],
      ['kid as a number', { kid: 1, alg: 'RS256' }],
      ['kid as an array', { kid: [header.kid], alg: 'RS256' }],
      ['real kid, attacker\'s key', { kid: header.kid, alg: 'RS256' }],
      ['real kid, attacker key embedded as jwk', { kid: header.kid, alg: 'RS256', jwk: attackerJwk }],
      ['embedded jwk only', { alg: 'RS256', jwk: attackerJwk }],
      ['jku to an attacker JWKS', { kid: 'attacker-key', alg: 'RS256', jku: 'http://127.0.0.1:9/jwks.json' }],
      ['x5u to an attacker certificate', { kid: 'attacker-key', alg: 'RS256', x5u: 'http://127.0.0.1:9/cert.pem' }],
      ['pool B\'s kid, attacker\'s key', { kid: jwksB.keys[0].kid, alg: 'RS256' }],
    ];
    for (const [what, h] of cases) await assertRefused(srv, signRs256(h, payload, privateKey), what);
    // The server did not try to fetch anything: an attacker's key never helps, even with a far exp.
    await assertRefused(srv, signRs256({ kid: header.kid, alg: 'RS256' }, { ...payload, exp: payload.exp + 86400 }, privateKey), 'attacker key, longer exp');
  });

  it('(d) a token whose exp was moved (signature kept) is refused as tampered', T, async () => {
    const { parts, payload } = decodeJwt(aliceTokens.AccessToken);
    for (const exp of [payload.exp + 3600, payload.exp + 10 * 365 * 86400, payload.iat - 10, Math.floor(Date.now() / 1000) - 1]) {
      await assertRefused(srv, `${parts[0]}.${b64urlJson({ ...payload, exp })}.${parts[2]}`, `exp set to ${exp}`);
    }
    const { exp, ...noExp } = payload;
    await assertRefused(srv, `${parts[0]}.${b64urlJson(noExp)}.${parts[2]}`, 'exp removed');
  });

  it('(e) tampered payloads, headers and signatures are refused', T, async () => {
    const { parts, header, payload } = decodeJwt(aliceTokens.AccessToken);
    const bobParts = decodeJwt(bobTokens.AccessToken).parts;
    const mutated = [
      ['username changed to bob', { ...payload, username: bob.username }],
      ['sub changed to bob\'s', { ...payload, sub: bob.sub }],
      ['username and sub changed to bob\'s', { ...payload, username: bob.username, sub: bob.sub }],
      ['client_id changed', { ...payload, client_id: CLIENT_A_LONG }],
      ['scope widened', { ...payload, scope: `${SCOPE} openid admin` }],
      ['iss changed to pool B', { ...payload, iss: ISS_B }],
      ['token_use changed', { ...payload, token_use: 'id' }],
      ['an extra claim', { ...payload, 'cognito:groups': ['admin'] }],
      ['same claims, re-serialised with spaces', null],
    ];
    for (const [what, p] of mutated) {
      const seg = p ? b64urlJson(p) : b64url(JSON.stringify(payload, null, 1));
      await assertRefused(srv, `${parts[0]}.${seg}.${parts[2]}`, what);
    }
    // Headers.
    const reordered = Object.fromEntries(Object.entries(header).reverse());
    const variants = [
      ['header with an added field', { ...header, cty: 'JWT' }],
      ['header with typ changed', { ...header, typ: header.typ === 'at+jwt' ? 'JWT' : 'at+jwt' }],
      ['header re-serialised in another key order', reordered],
    ];
    for (const [what, h] of variants) {
      const seg = b64urlJson(h);
      assert.notEqual(seg, parts[0], `${what}: the variant is not different`);
      await assertRefused(srv, `${seg}.${parts[1]}.${parts[2]}`, what);
    }
    for (const alg of ['RS384', 'RS512', 'PS256', 'ES256']) {
      await assertRefused(srv, `${b64urlJson({ ...header, alg })}.${parts[1]}.${parts[2]}`, `header alg ${alg}`);
    }
    // Signatures.
    const sig = Buffer.from(parts[2], 'base64url');
    const flipped = Buffer.from(sig);
    flipped[flipped.length - 1] ^= 1;
    const flippedFirst = Buffer.from(sig);
    flippedFirst[0] ^= 0x80;
    await assertRefused(srv, `${parts[0]}.${parts[1]}.${b64url(flipped)}`, 'last signature bit flipped');
    await assertRefused(srv, `${parts[0]}.${parts[1]}.${b64url(flippedFirst)}`, 'first signature bit flipped');
    await assertRefused(srv, `${parts[0]}.${parts[1]}.${b64url(sig.subarray(0, sig.length - 1))}`, 'signature one byte short');
    await assertRefused(srv, `${parts[0]}.${parts[1]}.${b64url(Buffer.concat([sig, Buffer.from([0])]))}`, 'signature one byte long');
    await assertRefused(srv, `${parts[0]}.${parts[1]}.${b64url(Buffer.alloc(sig.length))}`, 'all-zero signature');
    await assertRefused(srv, `${parts[0]}.${parts[1]}.${bobParts[2]}`, 'bob\'s signature on alice\'s token');
    await assertRefused(srv, `${bobParts[0]}.${parts[1]}.${bobParts[2]}`, 'bob\'s header and signature on alice\'s payload');
    // Same bytes, different text: the signature covers the text, so these must fail too.
    for (const [i, what] of [
      [1, 'payload'],
      [0, 'header'],
    ]) {
      const alt = nonCanonical(parts[i]);
      if (!alt) continue;
      const p = [...parts];
      p[i] = alt;
      await assertRefused(srv, p.join('.'), `non-canonical base64url in the ${what}`);
    }
    const padded = (s) => s + '='.repeat((4 - (s.length % 4)) % 4);
    if (parts[1].length % 4) await assertRefused(srv, `${parts[0]}.${padded(parts[1])}.${parts[2]}`, 'payload with = padding');
    const std = Buffer.from(parts[1], 'base64url').toString('base64').replace(/=+$/, '');
    if (std !== parts[1]) await assertRefused(srv, `${parts[0]}.${std}.${parts[2]}`, 'payload in standard base64 (+ and /)');
    // The real token still works after all that (nothing was revoked or locked).
    assertOk(await getUser(srv, aliceTokens.AccessToken), 'GetUser with the real token afterwards');
  });

  it('(f) an ID token where an access token is due is "Invalid Access Token"', T, async () => {
    await assertRefused(srv, aliceTokens.IdToken, 'ID token to GetUser');
    for (const op of ['GlobalSignOut', 'UpdateUserAttributes', 'ChangePassword', 'DeleteUser']) {
      const body = { AccessToken: aliceTokens.IdToken };
      if (op === 'UpdateUserAttributes') body.UserAttributes = [{ Name: 'name', Value: 'Mallory' }];
      if (op === 'ChangePassword') Object.assign(body, { PreviousPassword: PASSWORD, ProposedPassword: 'Oth3r-Password' });
      assertCognitoError(await cognitoCall(srv, op, body), 'NotAuthorizedException', { what: `ID token to ${op}` });
    }
    // Nothing happened to alice.
    const m = attrMap(assertOk(await getUser(srv, aliceTokens.AccessToken), 'GetUser'));
    assert.equal(m.name, 'Alice Example');
    await login(srv, CLIENT_A, alice.username, PASSWORD);
  });

  it('(g) another pool\'s tokens: no cross-pool use, no kid swap, refresh tokens stay with their pool and client', T, async () => {
    // Same user name in both pools: pool B's token reads pool B's user only.
    const bUser = assertOk(await getUser(srv, sharedBTokens.AccessToken), 'GetUser with pool B\'s token');
    assert.equal(attrMap(bUser).sub, sharedB.sub);
    assert.notEqual(sharedA.sub, sharedB.sub);
    // Pool B's token dressed with pool A's kid (signature from B's key).
    const b = decodeJwt(sharedBTokens.AccessToken);
    const kidA = decodeJwt(aliceTokens.AccessToken).header.kid;
    await assertRefused(srv, `${b64urlJson({ ...b.header, kid: kidA })}.${b.parts[1]}.${b.parts[2]}`, 'pool B token with pool A\'s kid');
    await assertRefused(srv, `${b.parts[0]}.${b64urlJson({ ...b.payload, iss: ISS_A })}.${b.parts[2]}`, 'pool B token claiming pool A\'s iss');
    await assertRefused(
      srv,
      `${b64urlJson({ ...b.header, kid: kidA })}.${b64urlJson({ ...b.payload, iss: ISS_A, client_id: CLIENT_A })}.${b.parts[2]}`,
      'pool B token rewritten as pool A',
    );
    // Refresh tokens: pool B's with pool A's client, pool A's with another client of pool A.
    for (const [what, clientId, token] of [
      ['pool B refresh token, pool A client', CLIENT_A, sharedBTokens.RefreshToken],
      ['pool A refresh token, pool B client', CLIENT_B, aliceTokens.RefreshToken],
      ['refresh token of client A, other client of pool A', CLIENT_A_LONG, aliceTokens.RefreshToken],
    ]) {
      assertCognitoError(
        await cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: clientId, AuthParameters: { REFRESH_TOKEN: token } }),
        'NotAuthorizedException',
        { what },
      );
      assertCognitoError(await cognitoCall(srv, 'GetTokensFromRefreshToken', { ClientId: clientId, RefreshToken: token }), 'NotAuthorizedException', {
        what: `GetTokensFromRefreshToken: ${what}`,
      });
    }
    // Signing out everywhere in pool A leaves pool B's namesake signed in.
    const aTokens = await login(srv, CLIENT_A, sharedA.username);
    assertOk(await cognitoCall(srv, 'GlobalSignOut', { AccessToken: aTokens.AccessToken }), 'GlobalSignOut in pool A');
    await assertRefused(srv, aTokens.AccessToken, 'pool A token after GlobalSignOut', 'Access Token has been revoked');
    assertOk(await getUser(srv, sharedBTokens.AccessToken), 'pool B token after pool A\'s GlobalSignOut');
    assertOk(
      await cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: CLIENT_B, AuthParameters: { REFRESH_TOKEN: sharedBTokens.RefreshToken } }),
      'pool B refresh after pool A\'s GlobalSignOut',
    );
  });

  it('(h) garbage, empty, oversized and mis-typed tokens are refused cleanly', T, async () => {
    const real = aliceTokens.AccessToken;
    const notAuthorized = [
      ['abc', 'abc'],
      ['a.b.c', 'a.b.c'],
      ['dots', '..'],
      ['three dots', '...'],
      ['base64 junk', `${b64url(crypto.randomBytes(30))}.${b64url(crypto.randomBytes(200))}.${b64url(crypto.randomBytes(256))}`],
      ['header only', decodeJwt(real).parts[0]],
      ['JSON in the segments', `${b64url('not json')}.${b64url('{"sub":')}.${decodeJwt(real).parts[2]}`],
      ['array payload', `${decodeJwt(real).parts[0]}.${b64urlJson([1, 2])}.${decodeJwt(real).parts[2]}`],
      ['a real token with a fourth part', `${real}.xyz`],
      ['JWE-like five parts', `${b64urlJson({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`],
      ['the refresh token', aliceTokens.RefreshToken],
    ];
    for (const [what, token] of notAuthorized) await assertRefused(srv, token, what);
    // Outside the token alphabet or empty: either answer is fine, as long as it is a clean 400.
    for (const [what, token] of [
      ['empty string', ''],
      ['"Bearer " + token', `Bearer ${real}`],
      ['token + newline', `${real}\n`],
      ['leading space', ` ${real}`],
      ['non-ASCII', `${real}é`],
    ]) {
      const res = await getUser(srv, token);
      assert.equal(res.status, 400, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
      const t = String(res.body?.__type).split('#').pop();
      assert.ok(['NotAuthorizedException', 'InvalidParameterException'].includes(t), `${what}: ${res.text.slice(0, 200)}`);
    }
    // Wrong JSON types and a missing token.
    assertCognitoError(await cognitoCall(srv, 'GetUser', { AccessToken: 5 }), 'SerializationException', { what: 'AccessToken: 5' });
    assertCognitoError(await cognitoCall(srv, 'GetUser', { AccessToken: [real] }), 'SerializationException', { what: 'AccessToken: [token]' });
    assertCognitoError(await cognitoCall(srv, 'GetUser', { AccessToken: { token: real } }), 'SerializationException', { what: 'AccessToken: {}' });
    assertCognitoError(await cognitoCall(srv, 'GetUser', {}), 'InvalidParameterException', { what: 'no AccessToken' });
    assertCognitoError(await cognitoCall(srv, 'GetUser', { AccessToken: null }), 'InvalidParameterException', { what: 'AccessToken: null' });
    // Still up and still honest.
    assertOk(await getUser(srv, real), 'GetUser with the real token afterwards');
  });

  it('(h) a token with a JSON \\u0000 escape (valid JSON) is refused as a bad token, not as a malformed body', T, async () => {
    const real = aliceTokens.AccessToken;
    const res = await getUser(srv, `${real.slice(0, 20)}\u0000${real.slice(20)}`);
    assert.equal(res.status, 400, `${res.status} ${res.text.slice(0, 200)}`);
    const t = String(res.body?.__type).split('#').pop();
    assert.ok(['NotAuthorizedException', 'InvalidParameterException'].includes(t), res.text.slice(0, 200));
  });

  it('(h) 20 KB tokens are refused with NotAuthorizedException (the API model sets no length limit on tokens)', T, async () => {
    const real = aliceTokens.AccessToken;
    const { parts, payload } = decodeJwt(real);
    for (const [what, token] of [
      ['20 KB of letters', 'A'.repeat(20 * 1024)],
      ['a 20 KB three-part token', `${parts[0]}.${'A'.repeat(20 * 1024)}.${parts[2]}`],
      ['a real token with a 20 KB claim', `${parts[0]}.${b64urlJson({ ...payload, pad: 'x'.repeat(20 * 1024) })}.${parts[2]}`],
    ]) {
      await assertRefused(srv, token, what);
    }
    assertOk(await getUser(srv, real), 'GetUser with the real token afterwards');
  });

  it('forged tokens change nothing through the other token-taking operations', T, async () => {
    const { header, payload, parts } = decodeJwt(aliceTokens.AccessToken);
    const jwk = jwksA.keys.find((k) => k.kid === header.kid);
    const spkiPem = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const forgeries = [
      ['alg none', `${b64urlJson({ kid: header.kid, alg: 'none' })}.${parts[1]}.`],
      ['HS256 with the PEM public key', signHs256({ kid: header.kid, alg: 'HS256' }, payload, spkiPem)],
      ['tampered username', `${parts[0]}.${b64urlJson({ ...payload, username: bob.username, sub: bob.sub })}.${parts[2]}`],
    ];
    for (const [what, token] of forgeries) {
      const ops = [
        ['UpdateUserAttributes', { AccessToken: token, UserAttributes: [{ Name: 'name', Value: 'Mallory' }] }],
        ['ChangePassword', { AccessToken: token, PreviousPassword: PASSWORD, ProposedPassword: 'Mall0ry-Password' }],
        ['GlobalSignOut', { AccessToken: token }],
        ['DeleteUser', { AccessToken: token }],
      ];
      for (const [op, body] of ops) {
        assertCognitoError(await cognitoCall(srv, op, body), 'NotAuthorizedException', { what: `${op} with ${what}` });
      }
    }
    // Alice and bob are untouched: same name, same password, not signed out, not deleted.
    const m = attrMap(assertOk(await getUser(srv, aliceTokens.AccessToken), 'alice GetUser'));
    assert.equal(m.name, 'Alice Example');
    assertOk(await getUser(srv, bobTokens.AccessToken), 'bob GetUser');
    await login(srv, CLIENT_A, alice.username, PASSWORD);
    await login(srv, CLIENT_A, bob.username, PASSWORD);
  });

  it('refresh tokens that are forged, tampered or really access/ID tokens are refused', T, async () => {
    const rt = aliceTokens.RefreshToken;
    const last = rt[rt.length - 1];
    const swapped = rt.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    const mid = Math.floor(rt.length / 2);
    const midSwapped = rt.slice(0, mid) + (rt[mid] === 'A' ? 'B' : 'A') + rt.slice(mid + 1);
    for (const [what, token] of [
      ['last character changed', swapped],
      ['middle character changed', midSwapped],
      ['truncated', rt.slice(0, -4)],
      ['an access token', aliceTokens.AccessToken],
      ['an ID token', aliceTokens.IdToken],
      ['garbage', 'not-a-refresh-token'],
    ]) {
      const res = await cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: CLIENT_A, AuthParameters: { REFRESH_TOKEN: token } });
      assertCognitoError(res, 'NotAuthorizedException', { what: `refresh with ${what}` });
    }
    assertCognitoError(
      await cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: CLIENT_A, AuthParameters: { REFRESH_TOKEN: 'not-a-refresh-token' } }),
      'NotAuthorizedException',
      { message: 'Invalid Refresh Token' },
    );
    assertOk(
      await cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: CLIENT_A, AuthParameters: { REFRESH_TOKEN: rt } }),
      'the real refresh token still works',
    );
  });
});

// ====================================================================

describe('token expiry (a client with very short token validities)', () => {
  const POOL = 'us-east-1_TokShort';
  const CLIENT = 'tokshort';
  const VALIDITY = 2;
  let srv;
  let refused;

  before(async () => {
    try {
      srv = await startServer({
        config: {
          userPools: [
            {
              id: POOL,
              name: 'short',
              clients: [{ id: CLIENT, name: 'short', accessTokenValiditySeconds: VALIDITY, idTokenValiditySeconds: VALIDITY }],
            },
          ],
        },
      });
    } catch (err) {
      // A server may refuse token validities under AWS's minimum (5 minutes); that is not a bug.
      if (/validity|Validity/.test(err.message)) refused = err.message.split('\n').filter((l) => /validity/i.test(l)).join(' ');
      else throw err;
    }
  });

  after(async () => {
    await srv?.stop();
  });

  it(`an access token past its exp (validity ${VALIDITY} s) is refused by GetUser and by jose; refresh still works`, { timeout: 30000 }, async (t) => {
    if (!srv) {
      t.skip(`the server refuses a ${VALIDITY} s token validity: ${refused}`);
      return;
    }
    const user = await makeUser(srv, CLIENT, `Short${uniq()}`);
    const r = await login(srv, CLIENT, user.username);
    assert.equal(r.ExpiresIn, VALIDITY);
    const a = decodeJwt(r.AccessToken).payload;
    assert.equal(a.exp - a.iat, VALIDITY);
    assertOk(await getUser(srv, r.AccessToken), 'GetUser while the token is fresh');
    const jwks = jose.createRemoteJWKSet(new URL(`${srv.url}/${POOL}/.well-known/jwks.json`));
    const iss = `https://cognito-idp.us-east-1.amazonaws.com/${POOL}`;
    // Wait until the token is clearly past exp (whole seconds, so one more to be safe).
    const waitMs = a.exp * 1000 - Date.now() + 1500;
    if (waitMs > 0) await sleep(waitMs);
    const res = await getUser(srv, r.AccessToken);
    assertCognitoError(res, 'NotAuthorizedException', { what: 'GetUser with an expired access token' });
    t.diagnostic(`expired access token message: ${res.body.message}`);
    await assert.rejects(jose.jwtVerify(r.IdToken, jwks, { issuer: iss, audience: CLIENT, algorithms: ['RS256'] }), (e) => e.code === 'ERR_JWT_EXPIRED');
    await assert.rejects(jose.jwtVerify(r.AccessToken, jwks, { issuer: iss, algorithms: ['RS256'] }), (e) => e.code === 'ERR_JWT_EXPIRED');
    // The refresh token (default 30 days) is still good and gives fresh tokens.
    const fresh = assertOk(
      await cognitoCall(srv, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: CLIENT, AuthParameters: { REFRESH_TOKEN: r.RefreshToken } }),
      'refresh after expiry',
    ).AuthenticationResult;
    assertOk(await getUser(srv, fresh.AccessToken), 'GetUser with the refreshed token');
  });
});
