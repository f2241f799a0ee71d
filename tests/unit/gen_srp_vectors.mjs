#!/usr/bin/env node
// gen_srp_vectors.mjs - test vectors for auth/srp.c, computed independently.
//
// This is the CLIENT side of Cognito's USER_SRP_AUTH as amazon-cognito-identity-js
// (AuthenticationHelper, CognitoUser.authenticateUserDefault) and Amplify v6
// (packages/auth/src/providers/cognito/utils/srp) compute it, written again
// with BigInt and node:crypto only, following the JavaScript libraries' own
// string-based padHex rather than srp.c's byte-based one, so the two
// implementations share no code and no shortcuts. It also runs the server
// side (B, and S = (A * v^u)^b) and refuses to print anything unless both
// sides agree on S.
//
// Usage (Node 20, no packages):
//   node tests/unit/gen_srp_vectors.mjs > tests/unit/srp_vectors.h
// The output is deterministic: every "random" input is derived from a fixed
// label with SHA-256, so re-running reproduces the committed header byte for
// byte.

import { createHash, createHmac } from 'node:crypto';

// RFC 3526 3072-bit MODP group, exactly as the clients spell it (INIT_N).
const N_HEX =
    'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1' +
    '29024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
    'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245' +
    'E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
    'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D' +
    'C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F' +
    '83655D23DCA3AD961C62F356208552BB9ED529077096966D' +
    '670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
    'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9' +
    'DE2BCBF6955817183995497CEA956AE515D2261898FA0510' +
    '15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64' +
    'ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7' +
    'ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B' +
    'F12FFA06D98A0864D87602733EC86A64521F2B18177B200C' +
    'BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31' +
    '43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF';
const N = BigInt('0x' + N_HEX);
const g = 2n;

// Square-and-multiply; the base is reduced into [0, N) first because the
// client's base B - k*g^x is often negative (jsbn's modPow reduces it the
// same way).
function modPow(base, exp, mod) {
    let b = base % mod;
    if (b < 0n) b += mod;
    let e = exp;
    let r = 1n;
    while (e > 0n) {
        if (e & 1n) r = (r * b) % mod;
        b = (b * b) % mod;
        e >>= 1n;
    }
    return r;
}

// The clients' getPaddedHex / padHex for non-negative values.
function padHex(x) {
    if (x < 0n) throw new Error('padHex of a negative value');
    let h = x.toString(16);
    if (h.length % 2 !== 0) h = '0' + h;
    if (/^[89a-f]/.test(h)) h = '00' + h;
    return h;
}

// hash(str): SHA-256 of the UTF-8 text, as 64 hex digits.
function hashData(str) {
    return createHash('sha256').update(Buffer.from(str, 'utf8')).digest('hex');
}

// hexHash(hex): SHA-256 of the bytes the hex string spells.
function hashHex(hex) {
    return createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');
}

function hmac(key, data) {
    return createHmac('sha256', key).update(data).digest();
}

const k = BigInt('0x' + hashHex(padHex(N) + padHex(g)));

// Deterministic byte strings: SHA-256(label || ":" || counter) blocks.
function bytes(label, n) {
    const out = [];
    for (let i = 0; out.length * 32 < n; i++) {
        out.push(createHash('sha256').update(`${label}:${i}`).digest());
    }
    return Buffer.concat(out).subarray(0, n);
}

const big = (buf) => BigInt('0x' + (buf.length ? buf.toString('hex') : '0'));

// The server side, for the verifier and B.
function verifier(poolName, userId, password, saltHex) {
    const x = BigInt('0x' + hashHex(padHex(BigInt('0x' + saltHex)) +
                                    hashData(`${poolName}${userId}:${password}`)));
    return { x, v: modPow(g, x, N) };
}

// What the clients do on PASSWORD_VERIFIER, given the challenge parameters.
function clientSignature({ poolName, userId, password, saltHex, a, A, B, secretBlockB64,
                           timestamp }) {
    if (B % N === 0n) throw new Error('B cannot be zero.');
    const u = BigInt('0x' + hashHex(padHex(A) + padHex(B)));
    if (u === 0n) throw new Error('U cannot be zero.');
    const usernamePasswordHash = hashData(`${poolName}${userId}:${password}`);
    const x = BigInt('0x' + hashHex(padHex(BigInt('0x' + saltHex)) + usernamePasswordHash));
    const gx = modPow(g, x, N);
    const S = modPow(B - k * gx, a + u * x, N);
    const prk = hmac(Buffer.from(padHex(u), 'hex'), Buffer.from(padHex(S), 'hex'));
    const K = hmac(prk, Buffer.concat([Buffer.from('Caldera Derived Key', 'utf8'),
                                       Buffer.from(String.fromCharCode(1), 'utf8')]))
                  .subarray(0, 16);
    const msg = Buffer.concat([
        Buffer.from(poolName, 'utf8'),
        Buffer.from(userId, 'utf8'),
        Buffer.from(secretBlockB64, 'base64'),
        Buffer.from(timestamp, 'utf8'),
    ]);
    return { u, S, K, signature: hmac(K, msg).toString('base64') };
}

// How padHex treated a value: "00" prepended, "0" prepended (odd), or neither.
function padKind(x) {
    const h = x.toString(16);
    if (h.length % 2 !== 0) return 'odd';
    return /^[89a-f]/.test(h) ? '00' : 'plain';
}

// Each case names the padHex treatment it must exercise; b and then a are
// searched (deterministically, by counter) until the values fit, so the
// vectors cover the "00" rule and the odd-length rule for A, B, u and S.
const CASES = [
    {
        name: 'ascii-msb',
        poolId: 'us-east-1_AbC123',
        userId: 'alice',
        password: 'Passw0rd!',
        saltTop: 0x80, // salt's first byte has its top bit set: padHex adds "00"
        secretLen: 64,
        timestamp: 'Tue Aug 5 09:03:07 UTC 2025',
        want: { B: '00', A: '00', u: '00', S: '00' },
    },
    {
        name: 'uuid-utf8',
        poolId: 'us-east-1_AbC123',
        userId: '7d1c3f4a-92b5-4e07-8c6d-1a2b3c4d5e6f',
        password: 'p\u00e4ssw\u00f6rd \u2713 \u65e5\u672c \u{1F511}',
        saltTop: 0x00, // salt starts with a zero byte the client's BigInteger drops
        secretLen: 96,
        timestamp: 'Tue Aug 5 09:03:07 UTC 2025',
        want: { B: 'plain', A: 'plain', u: 'plain', S: 'plain' },
    },
    {
        name: 'odd-A',
        poolId: 'us-east-1_AbC123',
        userId: 'bob@example.com',
        password: 'correct horse battery staple',
        saltTop: 0x35,
        secretLen: 300,
        timestamp: 'Sun Dec 28 23:59:59 UTC 2025',
        want: { A: 'odd', S: '00' },
    },
    {
        name: 'odd-B-u',
        poolId: 'eu-west-2_Zz9',
        userId: 'Carol_\u00c9lise',
        password: 'x',
        saltTop: 0x7f,
        secretLen: 1,
        timestamp: 'Tue Aug 5 09:03:07 UTC 2025',
        want: { B: 'odd', u: 'odd' },
    },
];

function fits(want, kinds) {
    return Object.keys(want).every((key) => want[key] === undefined || want[key] === kinds[key]);
}

function build(c) {
    const poolName = c.poolId.split('_')[1];
    const salt = Buffer.from(bytes(`cloudlet srp salt ${c.name}`, 16));
    salt[0] = c.saltTop;
    if (c.saltTop === 0x00) salt[1] = 0x05; // odd-length hex once the zero byte is gone
    const saltHex = salt.toString('hex');
    const secretBlock = bytes(`cloudlet srp secret block ${c.name}`, c.secretLen);
    const secretBlockB64 = secretBlock.toString('base64');
    const { v } = verifier(poolName, c.userId, c.password, saltHex);

    let b, B;
    for (let i = 0; ; i++) {
        if (i > 10000) throw new Error(`no b found for ${c.name}`);
        b = bytes(`cloudlet srp b ${c.name} ${i}`, 32);
        B = (k * v + modPow(g, big(b), N)) % N;
        if (B !== 0n && fits({ B: c.want.B }, { B: padKind(B) })) break;
    }

    for (let i = 0; ; i++) {
        if (i > 10000) throw new Error(`no a found for ${c.name}`);
        const aBytes = bytes(`cloudlet srp a ${c.name} ${i}`, 128);
        const a = big(aBytes);
        const A = modPow(g, a, N);
        if (A % N === 0n) continue;
        const u = BigInt('0x' + hashHex(padHex(A) + padHex(B)));
        if (!fits({ A: c.want.A, u: c.want.u }, { A: padKind(A), u: padKind(u) })) continue;
        const r = clientSignature({
            poolName, userId: c.userId, password: c.password, saltHex, a, A, B,
            secretBlockB64, timestamp: c.timestamp,
        });
        if (!fits({ S: c.want.S }, { S: padKind(r.S) })) continue;

        const Sserver = modPow(A * modPow(v, r.u, N), big(b), N);
        if (Sserver !== r.S) throw new Error(`client and server disagree on S for ${c.name}`);
        return {
            ...c, poolName, saltHex, secretBlock, secretBlockB64, aHex: aBytes.toString('hex'),
            b: b.toString('hex'), v: v.toString(16).padStart(768, '0'), A: A.toString(16),
            B: B.toString(16), u: r.u, S: r.S, signature: r.signature,
            kinds: { A: padKind(A), B: padKind(B), u: padKind(r.u), S: padKind(r.S) },
        };
    }
}

// C string literal: printable ASCII as is, everything else as 3-digit octal
// escapes (which, unlike \x, cannot swallow a following hex digit).
function cstr(s) {
    let out = '"';
    for (const byte of Buffer.from(s, 'utf8')) {
        const ch = String.fromCharCode(byte);
        if (ch === '"' || ch === '\\') out += '\\' + ch;
        else if (byte >= 0x20 && byte < 0x7f) out += ch;
        else out += '\\' + byte.toString(8).padStart(3, '0');
    }
    return out + '"';
}

// A long string split into 64-character literals on consecutive lines.
function clong(field, s) {
    const head = `        .${field} = `;
    const chunks = [];
    for (let i = 0; i < s.length; i += 64) chunks.push(s.slice(i, i + 64));
    if (chunks.length === 0) chunks.push('');
    const pad = ' '.repeat(head.length);
    return head + chunks.map((ch, i) => (i ? pad : '') + cstr(ch)).join('\n') + ',';
}

const vectors = CASES.map(build);

// Coverage: padHex's "00" rule and its odd-length rule must each be hit by
// some vector, and some vector must need neither.
for (const key of ['A', 'B', 'u', 'S']) {
    for (const kind of ['00', 'plain']) {
        if (!vectors.some((x) => x.kinds[key] === kind)) {
            throw new Error(`no vector where padHex(${key}) is ${kind}`);
        }
    }
}
for (const key of ['A', 'B', 'u']) {
    if (!vectors.some((x) => x.kinds[key] === 'odd')) {
        throw new Error(`no vector where ${key} has odd-length hex`);
    }
}

const lines = [];
lines.push('/* srp_vectors.h - USER_SRP_AUTH vectors for tests/unit/test_auth_srp.c.');
lines.push(' *');
lines.push(' * GENERATED by tests/unit/gen_srp_vectors.mjs (node tests/unit/gen_srp_vectors.mjs >');
lines.push(' * tests/unit/srp_vectors.h); do not edit. The client side is computed the way');
lines.push(' * amazon-cognito-identity-js and Amplify compute it, with BigInt and node:crypto,');
lines.push(' * independently of auth/srp.c. All hex is lowercase. v is padded to 384 bytes;');
lines.push(' * A and B are unpadded, as sent on the wire; a and b are the secret exponents as');
lines.push(' * big-endian bytes (a: 128, b: 32). "padHex" notes which padding rule each value');
lines.push(' * met: "00" (top bit set), "odd" (odd hex length) or "plain".');
lines.push(' */');
lines.push('#ifndef CLOUDLET_SRP_VECTORS_H');
lines.push('#define CLOUDLET_SRP_VECTORS_H');
lines.push('');
lines.push('typedef struct srp_vector {');
lines.push('    const char *name;');
lines.push('    const char *pool_id;');
lines.push('    const char *pool_name;');
lines.push('    const char *user_id;');
lines.push('    const char *password;');
lines.push('    const char *salt_hex;');
lines.push('    const char *a_hex;');
lines.push('    const char *b_hex;');
lines.push('    const char *v_hex;');
lines.push('    const char *A_hex;');
lines.push('    const char *B_hex;');
lines.push('    const char *secret_block_hex;');
lines.push('    const char *secret_block_b64;');
lines.push('    const char *timestamp;');
lines.push('    const char *signature_b64;');
lines.push('} srp_vector_t;');
lines.push('');
lines.push('/* clang-format off */');
lines.push('static const srp_vector_t srp_vectors[] = {');
for (const x of vectors) {
    const kinds = Object.entries(x.kinds).map(([key, kind]) => `${key} ${kind}`).join(', ');
    lines.push('    {');
    lines.push(`        /* padHex: ${kinds} */`);
    lines.push(`        .name = ${cstr(x.name)},`);
    lines.push(`        .pool_id = ${cstr(x.poolId)},`);
    lines.push(`        .pool_name = ${cstr(x.poolName)},`);
    lines.push(`        .user_id = ${cstr(x.userId)},`);
    lines.push(`        .password = ${cstr(x.password)},`);
    lines.push(`        .salt_hex = ${cstr(x.saltHex)},`);
    lines.push(clong('a_hex', x.aHex));
    lines.push(`        .b_hex = ${cstr(x.b)},`);
    lines.push(clong('v_hex', x.v));
    lines.push(clong('A_hex', x.A));
    lines.push(clong('B_hex', x.B));
    lines.push(clong('secret_block_hex', x.secretBlock.toString('hex')));
    lines.push(clong('secret_block_b64', x.secretBlockB64));
    lines.push(`        .timestamp = ${cstr(x.timestamp)},`);
    lines.push(`        .signature_b64 = ${cstr(x.signature)},`);
    lines.push('    },');
}
lines.push('};');
lines.push('/* clang-format on */');
lines.push('');
lines.push('#define SRP_NVECTORS (sizeof srp_vectors / sizeof srp_vectors[0])');
lines.push('');
lines.push('#endif');
process.stdout.write(lines.join('\n') + '\n');
