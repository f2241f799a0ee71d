#!/usr/bin/env node
// bench/auth-load.mjs - Cognito user-pool load generator for bench/auth.sh.
//
//   node bench/auth-load.mjs setup --endpoint URL --kind cloudlet|cognito-local
//        [--pool-id ID --client-id ID] --users N --state FILE
//   node bench/auth-load.mjs run --state FILE --scenario password|srp|getuser
//        --concurrency C --duration SECONDS [--max-ops N]
//   node bench/auth-load.mjs token --state FILE     (prints an access token)
//   node bench/auth-load.mjs selftest
//
// `setup` creates N users (SignUp, then the SigV4-signed AdminConfirmSignUp,
// through @aws-sdk/client-cognito-identity-provider; for cognito-local it first
// makes the pool and client with CreateUserPool/CreateUserPoolClient) and
// writes what `run` needs to FILE. `run` drives one scenario with C workers,
// each sending keep-alive POSTs (awsJson1_1) over node:http one after another,
// until SECONDS have passed or N operations were started, and prints one JSON
// line: ops/s, p50/p99 latency (ms), errors and the first error seen.
//
//   password  InitiateAuth USER_PASSWORD_AUTH (one request per log-in)
//   srp       InitiateAuth USER_SRP_AUTH + RespondToAuthChallenge
//             PASSWORD_VERIFIER (two requests per log-in; the client's SRP
//             math runs in OpenSSL through node:crypto, timed separately)
//   getuser   GetUser with an access token from one log-in per user
//
// Traffic goes only to the --endpoint given, which must be on 127.0.0.1 /
// localhost; every request has a 10 s timeout; every run is bounded by
// --duration and --max-ops. A log-in or GetUser whose answer is not the
// expected success counts as an error, not as an operation.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

const REQUEST_TIMEOUT_MS = 10_000;
const MAX_DURATION_S = 120;
const PASSWORD = 'Bench-Passw0rd!';

// ---- arguments ----
function parseArgs(argv) {
    const out = { _: [] };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a.startsWith('--')) {
            const v = argv[i + 1];
            if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
            out[a.slice(2)] = v;
            i++;
        } else {
            out._.push(a);
        }
    }
    return out;
}

function checkLoopback(endpoint) {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
        throw new Error(`endpoint ${endpoint}: only http on 127.0.0.1/localhost is allowed`);
    }
    return u;
}

// ---- awsJson1_1 over keep-alive node:http ----
function makeClient(endpoint, sockets) {
    const u = checkLoopback(endpoint);
    const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
    // call(op, body) -> {status, json, text}; rejects only on transport errors/timeouts.
    function call(op, body) {
        const payload = Buffer.from(JSON.stringify(body));
        return new Promise((resolve, reject) => {
            const req = http.request(
                {
                    host: u.hostname.replace(/^\[|\]$/g, ''),
                    port: u.port,
                    path: '/',
                    method: 'POST',
                    agent,
                    headers: {
                        'Content-Type': 'application/x-amz-json-1.1',
                        'X-Amz-Target': `AWSCognitoIdentityProviderService.${op}`,
                        'Content-Length': payload.length,
                    },
                    timeout: REQUEST_TIMEOUT_MS,
                },
                (res) => {
                    const chunks = [];
                    res.on('data', (c) => chunks.push(c));
                    res.on('end', () => {
                        const text = Buffer.concat(chunks).toString('utf8');
                        let json = null;
                        try {
                            json = JSON.parse(text);
                        } catch {
                            /* reported by the caller */
                        }
                        resolve({ status: res.statusCode, json, text });
                    });
                    res.on('error', reject);
                },
            );
            req.on('timeout', () => req.destroy(new Error(`timeout after ${REQUEST_TIMEOUT_MS} ms`)));
            req.on('error', reject);
            req.end(payload);
        });
    }
    return { call, close: () => agent.destroy() };
}

function describe(op, r) {
    return `${op} -> HTTP ${r.status} ${r.text.slice(0, 300)}`;
}

// ---- SRP client (docs/aws-wire-protocols.md section 2.4) ----
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
const G = 2n;
const N_BUF = Buffer.from(N_HEX, 'hex');

function padHex(x) {
    let h = x.toString(16);
    if (h.length % 2) h = '0' + h;
    else if ('89abcdef'.includes(h[0])) h = '00' + h;
    return h;
}
const hexBytes = (h) => Buffer.from(h, 'hex');
const sha256 = (...bufs) => {
    const h = crypto.createHash('sha256');
    for (const b of bufs) h.update(b);
    return h.digest();
};
const bufToBig = (b) => (b.length ? BigInt('0x' + b.toString('hex')) : 0n);
function bigToBuf(x) {
    let h = x.toString(16);
    if (h.length % 2) h = '0' + h;
    return Buffer.from(h, 'hex');
}
const mod = (a, m) => ((a % m) + m) % m;

// modPow(base, exp) mod N in OpenSSL: a DH "secret" is peer^private mod p.
// Needs 1 < base < N-1 (DH_check_pub_key); otherwise pure BigInt.
function modPow(base, exp) {
    base = mod(base, N);
    if (base > 1n && base < N - 1n && exp > 0n) {
        const dh = crypto.createDiffieHellman(N_BUF, Buffer.from([2]));
        dh.setPrivateKey(bigToBuf(exp));
        return bufToBig(dh.computeSecret(bigToBuf(base)));
    }
    return modPowBig(base, exp);
}
function modPowBig(base, exp) {
    let r = 1n;
    base = mod(base, N);
    while (exp > 0n) {
        if (exp & 1n) r = (r * base) % N;
        base = (base * base) % N;
        exp >>= 1n;
    }
    return r;
}

const K_MULT = bufToBig(sha256(hexBytes(padHex(N)), hexBytes(padHex(G))));

function srpStart() {
    const a = bufToBig(crypto.randomBytes(128));
    const A = modPow(G, a);
    return { a, A };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function cognitoTimestamp(d = new Date()) {
    const p2 = (n) => String(n).padStart(2, '0');
    return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ` +
        `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

// srpClaim: the PASSWORD_VERIFIER answer for challenge parameters cp.
function srpClaim({ a, A }, poolId, password, cp, timestamp = cognitoTimestamp()) {
    const poolName = poolId.split('_')[1];
    const userId = cp.USER_ID_FOR_SRP;
    const B = BigInt('0x' + cp.SRP_B);
    if (mod(B, N) === 0n) throw new Error('SRP_B mod N is 0');
    const salt = BigInt('0x' + cp.SALT);
    const u = bufToBig(sha256(hexBytes(padHex(A)), hexBytes(padHex(B))));
    if (u === 0n) throw new Error('u is 0');
    const inner = sha256(Buffer.from(`${poolName}${userId}:${password}`, 'utf8'));
    const x = bufToBig(sha256(hexBytes(padHex(salt)), inner));
    const gx = modPow(G, x);
    const S = modPow(mod(B - K_MULT * gx, N), a + u * x);
    const prk = crypto.createHmac('sha256', hexBytes(padHex(u))).update(hexBytes(padHex(S))).digest();
    const key = crypto
        .createHmac('sha256', prk)
        .update(Buffer.concat([Buffer.from('Caldera Derived Key', 'utf8'), Buffer.from([1])]))
        .digest()
        .subarray(0, 16);
    const sig = crypto
        .createHmac('sha256', key)
        .update(Buffer.from(poolName, 'utf8'))
        .update(Buffer.from(userId, 'utf8'))
        .update(Buffer.from(cp.SECRET_BLOCK, 'base64'))
        .update(Buffer.from(timestamp, 'utf8'))
        .digest('base64');
    return {
        USERNAME: userId,
        PASSWORD_CLAIM_SECRET_BLOCK: cp.SECRET_BLOCK,
        TIMESTAMP: timestamp,
        PASSWORD_CLAIM_SIGNATURE: sig,
    };
}

// selftest: the client math against a server side computed here, and
// modPow (OpenSSL) against plain BigInt.
function selftest() {
    for (let i = 0; i < 3; i++) {
        const b = bufToBig(crypto.randomBytes(64));
        const e = bufToBig(crypto.randomBytes(128));
        if (modPow(b, e) !== modPowBig(b, e)) throw new Error('modPow mismatch');
    }
    const poolId = 'us-east-1_AbC123';
    const userId = 'alice-id';
    const saltHex = crypto.randomBytes(16).toString('hex');
    const inner = sha256(Buffer.from(`AbC123${userId}:${PASSWORD}`, 'utf8'));
    const x = bufToBig(sha256(hexBytes(padHex(BigInt('0x' + saltHex))), inner));
    const v = modPow(G, x);
    const b = bufToBig(crypto.randomBytes(128));
    const B = mod(K_MULT * v + modPow(G, b), N);
    const st = srpStart();
    const secretBlock = crypto.randomBytes(64).toString('base64');
    const cp = { SALT: saltHex, SRP_B: B.toString(16), SECRET_BLOCK: secretBlock, USER_ID_FOR_SRP: userId };
    const ts = cognitoTimestamp(new Date(Date.UTC(2025, 7, 5, 9, 3, 7)));
    if (ts !== 'Tue Aug 5 09:03:07 UTC 2025') throw new Error(`timestamp ${ts}`);
    const claim = srpClaim(st, poolId, PASSWORD, cp, ts);
    // server side: S = (A * v^u)^b
    const u = bufToBig(sha256(hexBytes(padHex(st.A)), hexBytes(padHex(B))));
    const S = modPow(mod(st.A * modPow(v, u), N), b);
    const prk = crypto.createHmac('sha256', hexBytes(padHex(u))).update(hexBytes(padHex(S))).digest();
    const key = crypto.createHmac('sha256', prk).update(Buffer.concat([Buffer.from('Caldera Derived Key'), Buffer.from([1])])).digest().subarray(0, 16);
    const want = crypto.createHmac('sha256', key)
        .update(Buffer.concat([Buffer.from('AbC123'), Buffer.from(userId), Buffer.from(secretBlock, 'base64'), Buffer.from(ts)]))
        .digest('base64');
    if (want !== claim.PASSWORD_CLAIM_SIGNATURE) throw new Error('SRP signature mismatch');
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) srpClaim(srpStart(), poolId, PASSWORD, cp, ts);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6 / 20;
    console.log(JSON.stringify({ selftest: 'ok', srp_client_ms_per_login: +ms.toFixed(3) }));
}

// ---- setup ----
async function setup(args) {
    const endpoint = args.endpoint;
    checkLoopback(endpoint);
    const kind = args.kind;
    const nUsers = Number(args.users ?? 4);
    if (!['cloudlet', 'cognito-local'].includes(kind)) throw new Error('--kind cloudlet|cognito-local');
    const {
        CognitoIdentityProviderClient,
        CreateUserPoolCommand,
        CreateUserPoolClientCommand,
        SignUpCommand,
        AdminConfirmSignUpCommand,
    } = await import('@aws-sdk/client-cognito-identity-provider');
    const credentials = {
        accessKeyId: process.env.CLOUDLET_ROOT_ACCESS_KEY_ID || 'local',
        secretAccessKey: process.env.CLOUDLET_ROOT_SECRET_ACCESS_KEY || 'local',
    };
    const sdk = new CognitoIdentityProviderClient({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
    const step = async (what, cmd) => {
        try {
            return await sdk.send(cmd);
        } catch (e) {
            const st = e.$metadata?.httpStatusCode;
            throw new Error(`${kind} setup: ${what} failed: HTTP ${st ?? '?'} ${e.name}: ${e.message}`);
        }
    };
    let poolId = args['pool-id'];
    let clientId = args['client-id'];
    if (!poolId) {
        const pool = await step('CreateUserPool', new CreateUserPoolCommand({ PoolName: 'bench' }));
        poolId = pool.UserPool.Id;
        const client = await step(
            'CreateUserPoolClient',
            new CreateUserPoolClientCommand({
                UserPoolId: poolId,
                ClientName: 'bench',
                ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
            }),
        );
        clientId = client.UserPoolClient.ClientId;
    }
    const users = [];
    for (let i = 0; i < nUsers; i++) {
        const username = `bench${i}@example.com`;
        await step(
            `SignUp ${username}`,
            new SignUpCommand({
                ClientId: clientId,
                Username: username,
                Password: PASSWORD,
                UserAttributes: [{ Name: 'email', Value: username }],
            }),
        );
        await step(`AdminConfirmSignUp ${username}`, new AdminConfirmSignUpCommand({ UserPoolId: poolId, Username: username }));
        users.push(username);
    }
    sdk.destroy();
    // Check that a password log-in works before anything is measured.
    const c = makeClient(endpoint, 1);
    const r = await c.call('InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: clientId,
        AuthParameters: { USERNAME: users[0], PASSWORD },
    });
    c.close();
    if (r.status !== 200 || !r.json?.AuthenticationResult?.AccessToken) {
        throw new Error(`${kind} setup: first log-in failed: ${describe('InitiateAuth USER_PASSWORD_AUTH', r)}`);
    }
    const state = { endpoint, kind, poolId, clientId, users, password: PASSWORD };
    fs.writeFileSync(args.state, JSON.stringify(state, null, 2) + '\n');
    console.log(JSON.stringify({ setup: 'ok', kind, poolId, clientId, users: users.length }));
}

// ---- scenarios: each returns an async op(worker, n) that resolves to null
// on success or an error string ----
function scenarioPassword(st, client) {
    return async (w, n) => {
        const user = st.users[(w + n) % st.users.length];
        const r = await client.call('InitiateAuth', {
            AuthFlow: 'USER_PASSWORD_AUTH',
            ClientId: st.clientId,
            AuthParameters: { USERNAME: user, PASSWORD: st.password },
        });
        if (r.status === 200 && r.json?.AuthenticationResult?.AccessToken) return null;
        return describe('InitiateAuth USER_PASSWORD_AUTH', r);
    };
}

function scenarioSrp(st, client, clientCpu) {
    return async (w, n) => {
        const user = st.users[(w + n) % st.users.length];
        let t = process.hrtime.bigint();
        const s = srpStart();
        clientCpu.ns += process.hrtime.bigint() - t;
        const r1 = await client.call('InitiateAuth', {
            AuthFlow: 'USER_SRP_AUTH',
            ClientId: st.clientId,
            AuthParameters: { USERNAME: user, SRP_A: s.A.toString(16) },
        });
        if (r1.status !== 200) return describe('InitiateAuth USER_SRP_AUTH', r1);
        if (r1.json?.ChallengeName !== 'PASSWORD_VERIFIER' || !r1.json.ChallengeParameters?.SRP_B) {
            return `InitiateAuth USER_SRP_AUTH: no PASSWORD_VERIFIER challenge: ${describe('InitiateAuth', r1)}`;
        }
        t = process.hrtime.bigint();
        let answer;
        try {
            answer = srpClaim(s, st.poolId, st.password, r1.json.ChallengeParameters);
        } catch (e) {
            return `client SRP math failed on ${r1.text.slice(0, 300)}: ${e.message}`;
        }
        clientCpu.ns += process.hrtime.bigint() - t;
        const body = { ChallengeName: 'PASSWORD_VERIFIER', ClientId: st.clientId, ChallengeResponses: answer };
        if (r1.json.Session) body.Session = r1.json.Session;
        const r2 = await client.call('RespondToAuthChallenge', body);
        if (r2.status === 200 && r2.json?.AuthenticationResult?.AccessToken) return null;
        return describe('RespondToAuthChallenge PASSWORD_VERIFIER', r2);
    };
}

async function scenarioGetUser(st, client) {
    const tokens = [];
    for (const user of st.users) {
        const r = await client.call('InitiateAuth', {
            AuthFlow: 'USER_PASSWORD_AUTH',
            ClientId: st.clientId,
            AuthParameters: { USERNAME: user, PASSWORD: st.password },
        });
        if (r.status !== 200 || !r.json?.AuthenticationResult?.AccessToken) {
            throw new Error(`log-in for GetUser failed: ${describe('InitiateAuth USER_PASSWORD_AUTH', r)}`);
        }
        tokens.push(r.json.AuthenticationResult.AccessToken);
    }
    return async (w, n) => {
        const i = (w + n) % tokens.length;
        const r = await client.call('GetUser', { AccessToken: tokens[i] });
        if (r.status === 200 && typeof r.json?.Username === 'string' && Array.isArray(r.json.UserAttributes)) return null;
        return describe('GetUser', r);
    };
}

function percentile(sorted, p) {
    if (!sorted.length) return null;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i];
}

async function run(args) {
    const st = JSON.parse(fs.readFileSync(args.state, 'utf8'));
    const scenario = args.scenario;
    const conc = Number(args.concurrency ?? 4);
    const duration = Number(args.duration ?? 10);
    const maxOps = Number(args['max-ops'] ?? 1_000_000);
    if (!(conc >= 1 && conc <= 256)) throw new Error('--concurrency 1..256');
    if (!(duration > 0 && duration <= MAX_DURATION_S)) throw new Error(`--duration 0..${MAX_DURATION_S}`);
    const client = makeClient(st.endpoint, conc);
    const clientCpu = { ns: 0n };
    let op;
    if (scenario === 'password') op = scenarioPassword(st, client);
    else if (scenario === 'srp') op = scenarioSrp(st, client, clientCpu);
    else if (scenario === 'getuser') op = await scenarioGetUser(st, client);
    else throw new Error('--scenario password|srp|getuser');

    // Probe once (not measured): a server that does not support the scenario
    // is reported as such instead of being hammered with failing requests.
    const probe = await op(0, 0).catch((e) => `transport error: ${e.message}`);
    if (probe !== null) {
        client.close();
        console.log(JSON.stringify({ server: st.kind, scenario, concurrency: conc, ok: false, probe_error: probe }));
        return;
    }

    const lat = [];
    let started = 0;
    let errors = 0;
    let firstError = null;
    const t0 = process.hrtime.bigint();
    const deadline = t0 + BigInt(Math.round(duration * 1e9));
    async function worker(w) {
        let n = 0;
        while (started < maxOps && process.hrtime.bigint() < deadline) {
            started++;
            const s = process.hrtime.bigint();
            let err;
            try {
                err = await op(w, n++);
            } catch (e) {
                err = `transport error: ${e.message}`;
            }
            if (err === null) lat.push(Number(process.hrtime.bigint() - s) / 1e6);
            else {
                errors++;
                firstError ??= err;
            }
        }
    }
    await Promise.all(Array.from({ length: conc }, (_, w) => worker(w)));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    client.close();
    lat.sort((a, b) => a - b);
    const r3 = (x) => (x === null ? null : +x.toFixed(3));
    const out = {
        server: st.kind,
        scenario,
        concurrency: conc,
        ok: true,
        seconds: +secs.toFixed(3),
        ops: lat.length,
        errors,
        ops_per_s: +(lat.length / secs).toFixed(1),
        p50_ms: r3(percentile(lat, 50)),
        p99_ms: r3(percentile(lat, 99)),
        first_error: firstError,
    };
    if (scenario === 'srp') out.client_srp_ms_per_login = r3(lat.length + errors ? Number(clientCpu.ns) / 1e6 / (lat.length + errors) : null);
    console.log(JSON.stringify(out));
}

// token: log in the first user and print its access token (for wrk).
async function token(args) {
    const st = JSON.parse(fs.readFileSync(args.state, 'utf8'));
    const client = makeClient(st.endpoint, 1);
    const r = await client.call('InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: st.clientId,
        AuthParameters: { USERNAME: st.users[0], PASSWORD: st.password },
    });
    client.close();
    if (r.status !== 200 || !r.json?.AuthenticationResult?.AccessToken) {
        throw new Error(`log-in failed: ${describe('InitiateAuth USER_PASSWORD_AUTH', r)}`);
    }
    console.log(r.json.AuthenticationResult.AccessToken);
}

const args = parseArgs(process.argv.slice(2));
const cmd = args._[0];
try {
    if (cmd === 'setup') await setup(args);
    else if (cmd === 'run') await run(args);
    else if (cmd === 'token') await token(args);
    else if (cmd === 'selftest') selftest();
    else throw new Error('usage: auth-load.mjs setup|run|selftest ... (see the header)');
} catch (e) {
    console.error(`auth-load: ${e.message}`);
    process.exit(1);
}
