#!/usr/bin/env node
// bench/lambda-load.mjs - Lambda load tools for bench/lambda.sh (cloudlet vs lambda-local).
//
//   node bench/lambda-load.mjs prepare --endpoint URL --out FILE --payload JSON
//        (--function NAME | --path PATH) [--expect TEXT]
//   node bench/lambda-load.mjs reserve --endpoint URL --function NAME --reserved N
//   node bench/lambda-load.mjs cold --endpoint URL --function NAME --payload JSON --count N
//        [--warm N] [--settle-ms MS]
//   node bench/lambda-load.mjs inproc --handler FILE --payload JSON --duration SECONDS
//        [--concurrency C]
//   node bench/lambda-load.mjs serve --handler FILE --port PORT
//   node bench/lambda-load.mjs logstats --log FILE --windows FILE
//
// Credentials (cloudlet's root key) come from LAMBDA_ACCESS_KEY_ID / LAMBDA_SECRET_ACCESS_KEY;
// the region is us-east-1 and requests are signed with SigV4 (service `lambda`) by the
// SDK's own signer, @smithy/signature-v4 with @aws-crypto/sha256-js.
//
// `prepare` writes one raw HTTP/1.1 request (keep-alive), byte for byte as it goes on the
// wire, to FILE for the Lua script that bench/lambda.sh hands to wrk, which replays it.
// With --function it is a signed Invoke (POST /2015-03-31/functions/NAME/invocations,
// body PAYLOAD; a signature stays valid for 15 minutes, so replaying it is fine); with
// --path it is an unsigned POST of PAYLOAD to PATH (nginx, lambda-local's HTTP server).
// It then sends the request once and checks the answer: 200, no X-Amz-Function-Error,
// and the body contains TEXT when --expect is given; it exits 1 if not.
// FILE's format: a first line "1 LEN\n", then the request (the format of bench/s3-load.mjs).
//
// `reserve` sets the function's reserved concurrency (PutFunctionConcurrency).
//
// `cold` measures N cold starts: each time it changes the function's Description
// (UpdateFunctionConfiguration, which retires the warm instances), waits MS for the old
// instance to go, then times one signed Invoke (X-Amz-Log-Type: Tail) over a keep-alive
// connection that is already open. The log tail's "Init Duration" proves the start was
// cold (an invoke without it is an error) and gives the server's own spawn-to-ready time.
// Then it times W warm invokes one after another on the same connection. Prints a JSON line.
//
// `inproc` calls lambda-local's execute() on the handler in a loop inside this process
// (C loops in flight at once) for SECONDS; prints invokes/s, p50/p99 (ms) and errors.
//
// `serve` runs lambda-local's HTTP mode (watch) for the handler on 127.0.0.1:PORT
// (lambda-local itself listens on every interface: its listen() is pinned to loopback
// here) until it is killed.
//
// `logstats` reads cloudlet's log (JSON lines) once and, for each line "KEY NAME FROM TO" of
// the windows file (epoch ms), prints "KEY N ACCESS_P50_MS DONE_P50_MS": how many Invoke
// requests of function NAME the access log has in that window, the median of their "ms"
// (the server's whole request: parse, verify, invoke, answer) and the median of the
// "fn NAME ...: done in N us" lines (the instance's round trip: event out, result back).
//
// Traffic goes only to --endpoint, which must be http on 127.0.0.1/localhost; every
// request has a timeout and every loop is bounded by a count and a deadline.

import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

const REQUEST_TIMEOUT_MS = 30_000;
const MAX_DURATION_S = 300;
const REGION = 'us-east-1';
const require = createRequire(import.meta.url);

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

function intArg(args, name, def, lo, hi) {
    const v = args[name] === undefined ? def : Number(args[name]);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`--${name} must be an integer in ${lo}..${hi}`);
    return v;
}

function need(args, name) {
    if (args[name] === undefined) throw new Error(`--${name} is required`);
    return args[name];
}

function jsonArg(args, name) {
    const text = need(args, name);
    JSON.parse(text); // must be JSON: the function gets it as its event
    return text;
}

function checkLoopback(endpoint) {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(u.hostname)) {
        throw new Error(`endpoint ${endpoint}: only http on 127.0.0.1/localhost is allowed`);
    }
    return u;
}

function credentials() {
    const accessKeyId = process.env.LAMBDA_ACCESS_KEY_ID;
    const secretAccessKey = process.env.LAMBDA_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) throw new Error('LAMBDA_ACCESS_KEY_ID and LAMBDA_SECRET_ACCESS_KEY must be set');
    return { accessKeyId, secretAccessKey };
}

function percentile(sorted, p) {
    if (!sorted.length) return null;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i];
}

const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);
const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- signing ----
let signer = null;

// A signed request for node:http / the raw writer: {method, path, headers, body}.
async function signed(u, method, pathname, body, extra = {}) {
    signer ??= new SignatureV4({ service: 'lambda', region: REGION, credentials: credentials(), sha256: Sha256 });
    const headers = { host: u.host, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...extra };
    const req = await signer.sign({ method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: pathname, query: {}, headers, body });
    return { method, path: pathname, headers: req.headers, body };
}

function invokePath(name) {
    return `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`;
}

function rawRequest(r) {
    let head = `${r.method} ${r.path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
    head += '\r\n';
    return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(r.body)]);
}

// Send one raw request over a socket; resolve {status, statusLine, headers, body}.
function sendRaw(endpoint, raw, timeoutMs = REQUEST_TIMEOUT_MS) {
    const u = checkLoopback(endpoint);
    return new Promise((resolve, reject) => {
        const sock = net.connect({ host: u.hostname, port: Number(u.port) });
        const chunks = [];
        let total = 0;
        let headEnd = -1;
        let want = -1;
        const timer = setTimeout(() => {
            sock.destroy();
            reject(new Error(`no complete answer within ${timeoutMs} ms`));
        }, timeoutMs);
        const finish = (buf) => {
            clearTimeout(timer);
            sock.destroy();
            const head = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
            const headers = {};
            for (const h of head.slice(1)) {
                const i = h.indexOf(':');
                if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
            }
            resolve({ status: Number(head[0].split(' ')[1]), statusLine: head[0], headers, body: buf.subarray(headEnd + 4) });
        };
        sock.on('data', (c) => {
            chunks.push(c);
            total += c.length;
            const buf = Buffer.concat(chunks, total);
            if (headEnd < 0) {
                headEnd = buf.indexOf('\r\n\r\n');
                if (headEnd < 0) return;
                const head = buf.subarray(0, headEnd + 2).toString('latin1');
                const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
                want = m ? Number(m[1]) : /\r\ntransfer-encoding:\s*chunked/i.test(head) ? -2 : -1;
            }
            // A chunked body (lambda-local's server) ends with the empty last chunk.
            if ((want >= 0 && buf.length - headEnd - 4 >= want) || (want === -2 && buf.subarray(-5).toString('latin1') === '0\r\n\r\n')) finish(buf);
        });
        sock.on('end', () => {
            if (headEnd >= 0) finish(Buffer.concat(chunks, total));
        });
        sock.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        sock.write(raw);
    });
}

const short = (buf) => buf.subarray(0, 300).toString('utf8').replace(/\s+/g, ' ');

// ---- prepare: one request for wrk ----
async function prepare(args) {
    const endpoint = need(args, 'endpoint');
    const u = checkLoopback(endpoint);
    const out = need(args, 'out');
    const payload = jsonArg(args, 'payload');
    let r;
    if (args.function !== undefined) {
        r = await signed(u, 'POST', invokePath(args.function), payload);
    } else {
        const p = need(args, 'path');
        r = { method: 'POST', path: p, headers: { host: u.host, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }, body: payload };
    }
    const raw = rawRequest(r);
    fs.writeFileSync(out, Buffer.concat([Buffer.from(`1 ${raw.length}\n`, 'latin1'), raw]));
    const a = await sendRaw(endpoint, raw, 15_000);
    const result = { ok: true, bytes: raw.length, status: a.status, body: short(a.body) };
    if (a.status !== 200) {
        result.ok = false;
        result.error = `${r.method} ${r.path} -> ${a.statusLine} ${short(a.body)}`;
    } else if (a.headers['x-amz-function-error']) {
        result.ok = false;
        result.error = `${r.method} ${r.path} -> function error ${a.headers['x-amz-function-error']}: ${short(a.body)}`;
    } else if (args.expect !== undefined && !a.body.toString('utf8').includes(args.expect)) {
        result.ok = false;
        result.error = `${r.method} ${r.path} -> 200 without "${args.expect}": ${short(a.body)}`;
    }
    console.log(JSON.stringify(result));
    if (!result.ok) process.exitCode = 1;
}

// ---- a keep-alive client for the control plane and timed invokes ----
function client(endpoint, timeoutMs = REQUEST_TIMEOUT_MS) {
    const u = checkLoopback(endpoint);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
    function send(r) {
        return new Promise((resolve, reject) => {
            const req = http.request(
                { host: u.hostname, port: u.port, method: r.method, path: r.path, headers: r.headers, agent, timeout: timeoutMs },
                (res) => {
                    const chunks = [];
                    res.on('data', (c) => chunks.push(c));
                    res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
                },
            );
            req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
            req.on('error', reject);
            req.end(r.body);
        });
    }
    return { u, send, close: () => agent.destroy() };
}

async function reserve(args) {
    const c = client(need(args, 'endpoint'));
    const name = need(args, 'function');
    const n = intArg(args, 'reserved', 16, 0, 1000);
    try {
        const r = await signed(c.u, 'PUT', `/2017-10-31/functions/${encodeURIComponent(name)}/concurrency`, JSON.stringify({ ReservedConcurrentExecutions: n }));
        const a = await c.send(r);
        const ok = a.status === 200;
        console.log(JSON.stringify({ ok, status: a.status, body: short(a.body) }));
        if (!ok) process.exitCode = 1;
    } finally {
        c.close();
    }
}

// ---- cold: forced cold starts, then warm invokes, one at a time ----
async function cold(args) {
    // A cold start may take cloudlet's 10 s init limit plus the function's 3 s timeout.
    const c = client(need(args, 'endpoint'), 15_000);
    const name = need(args, 'function');
    const payload = jsonArg(args, 'payload');
    const count = intArg(args, 'count', 10, 1, 200);
    const warmCount = intArg(args, 'warm', 20, 0, 10_000);
    const settle = intArg(args, 'settle-ms', 250, 0, 10_000);
    const deadline = Date.now() + MAX_DURATION_S * 1000;
    const coldMs = [];
    const initMs = [];
    const warmMs = [];
    let error = null;
    const tag = Math.random().toString(36).slice(2, 8);
    try {
        for (let i = 0; i < count && Date.now() < deadline; i++) {
            const upd = await signed(c.u, 'PUT', `/2015-03-31/functions/${encodeURIComponent(name)}/configuration`,
                JSON.stringify({ Description: `bench/lambda.sh cold start ${tag} ${i}` }));
            const ua = await c.send(upd);
            if (ua.status !== 200) throw new Error(`UpdateFunctionConfiguration -> HTTP ${ua.status} ${short(ua.body)}`);
            await sleep(settle);
            // Signed before the clock starts: the time is the server's, not the signer's.
            const inv = await signed(c.u, 'POST', invokePath(name), payload, { 'x-amz-log-type': 'Tail' });
            const t0 = process.hrtime.bigint();
            const a = await c.send(inv);
            const ms = Number(process.hrtime.bigint() - t0) / 1e6;
            if (a.status !== 200 || a.headers['x-amz-function-error']) {
                throw new Error(`cold invoke ${i + 1} -> HTTP ${a.status} ${a.headers['x-amz-function-error'] ?? ''} ${short(a.body)}`);
            }
            const tail = Buffer.from(a.headers['x-amz-log-result'] ?? '', 'base64').toString('utf8');
            const m = /Init Duration: ([0-9.]+) ms/.exec(tail);
            if (!m) throw new Error(`cold invoke ${i + 1} was not a cold start (no Init Duration in its log tail: ${JSON.stringify(tail.slice(-300))})`);
            coldMs.push(ms);
            initMs.push(Number(m[1]));
        }
        const inv = await signed(c.u, 'POST', invokePath(name), payload);
        for (let i = 0; i < warmCount && Date.now() < deadline; i++) {
            const t0 = process.hrtime.bigint();
            const a = await c.send(inv);
            const ms = Number(process.hrtime.bigint() - t0) / 1e6;
            if (a.status !== 200 || a.headers['x-amz-function-error']) throw new Error(`warm invoke ${i + 1} -> HTTP ${a.status} ${short(a.body)}`);
            warmMs.push(ms);
        }
    } catch (e) {
        error = e.message;
    } finally {
        c.close();
    }
    const ok = !error && coldMs.length === count && warmMs.length === warmCount;
    console.log(JSON.stringify({
        ok, function: name, count: coldMs.length,
        cold_ms: coldMs.map(r3), init_ms: initMs.map(r3), warm_count: warmMs.length,
        cold_p50_ms: r3(median(coldMs)), init_p50_ms: r3(median(initMs)), warm_p50_ms: r3(median(warmMs)),
        cold_min_ms: r3(Math.min(...coldMs)), cold_max_ms: r3(Math.max(...coldMs)), error,
    }));
    if (!ok) process.exitCode = 1;
}

// ---- lambda-local ----
// lambda-local, with its per-invoke winston log line silenced (`inproc`) or kept (`serve`:
// it is that server's access log, as cloudlet keeps its own).
function lambdaLocal(quiet) {
    const ll = require('lambda-local');
    if (quiet) ll.getLogger().transports.forEach((t) => { t.silent = true; });
    return ll;
}

async function inproc(args) {
    const handler = path.resolve(need(args, 'handler'));
    const event = JSON.parse(jsonArg(args, 'payload'));
    const duration = intArg(args, 'duration', 3, 1, MAX_DURATION_S);
    const conc = intArg(args, 'concurrency', 1, 1, 256);
    const ll = lambdaLocal(true);
    const opts = { lambdaPath: handler, esm: handler.endsWith('.mjs'), lambdaHandler: 'handler', timeoutMs: 3000, verboseLevel: 0 };
    // One call before the clock: the module import (cached afterwards) is not a warm invoke.
    const first = await ll.execute({ ...opts, event });
    if (!first || typeof first.message !== 'string') throw new Error(`lambda-local returned ${JSON.stringify(first)}`);
    const lat = [];
    let errors = 0;
    let firstError = null;
    const t0 = process.hrtime.bigint();
    const deadline = Date.now() + duration * 1000;
    async function loop() {
        while (Date.now() < deadline && errors < 1000) {
            const s = process.hrtime.bigint();
            try {
                await ll.execute({ ...opts, event });
                lat.push(Number(process.hrtime.bigint() - s) / 1e6);
            } catch (e) {
                errors++;
                firstError ??= String(e?.message ?? e).slice(0, 300);
            }
        }
    }
    await Promise.all(Array.from({ length: conc }, loop));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    lat.sort((a, b) => a - b);
    console.log(JSON.stringify({
        ok: errors === 0 && lat.length > 0, concurrency: conc, invokes: lat.length, errors, first_error: firstError,
        seconds: r3(secs), per_s: Math.round(lat.length / secs), p50_ms: r3(percentile(lat, 50)), p99_ms: r3(percentile(lat, 99)),
    }));
    if (errors) process.exitCode = 1;
}

function serve(args) {
    const handler = path.resolve(need(args, 'handler'));
    const port = intArg(args, 'port', 0, 1, 65535);
    // lambda-local's watch() calls server.listen(port, cb): every interface. Loopback only.
    const listen = http.Server.prototype.listen;
    http.Server.prototype.listen = function (p, cb) {
        return listen.call(this, p, '127.0.0.1', cb);
    };
    const ll = lambdaLocal(false);
    ll.watch({ lambdaPath: handler, esm: handler.endsWith('.mjs'), lambdaHandler: 'handler', timeoutMs: 3000, verboseLevel: 0, port });
}

// ---- logstats: the server's own view of the warm runs ----
async function logstats(args) {
    const wins = fs.readFileSync(need(args, 'windows'), 'utf8').split('\n').filter(Boolean).map((l) => {
        const [key, name, from, to] = l.split(' ');
        return { key, name, from: Number(from), to: Number(to), access: [], done: [] };
    });
    const byName = new Map();
    for (const w of wins) {
        if (!byName.has(w.name)) byName.set(w.name, []);
        byName.get(w.name).push(w);
    }
    const readline = await import('node:readline');
    const rl = readline.createInterface({ input: fs.createReadStream(need(args, 'log')), crlfDelay: Infinity });
    const invokeRe = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
    const doneRe = /^fn (\S+) \S+: done in (\d+) us$/;
    for await (const line of rl) {
        if (line.charCodeAt(0) !== 123) continue; // '{'
        let o;
        try {
            o = JSON.parse(line);
        } catch {
            continue;
        }
        let name;
        let list;
        let v;
        if (typeof o.path === 'string') {
            const m = invokeRe.exec(o.path);
            if (!m || o.status !== 200) continue;
            name = decodeURIComponent(m[1]);
            list = 'access';
            v = Number(o.ms);
        } else if (typeof o.msg === 'string') {
            const m = doneRe.exec(o.msg);
            if (!m) continue;
            name = m[1];
            list = 'done';
            v = Number(m[2]) / 1000;
        } else {
            continue;
        }
        const ws = byName.get(name);
        if (!ws) continue;
        const t = Date.parse(o.time);
        for (const w of ws) if (t >= w.from && t <= w.to) w[list].push(v);
    }
    for (const w of wins) {
        console.log(`${w.key} ${w.access.length} ${r3(median(w.access)) ?? '-'} ${r3(median(w.done)) ?? '-'}`);
    }
}

// ---- main ----
const args = parseArgs(process.argv.slice(2));
const cmds = { prepare, reserve, cold, inproc, serve, logstats };
const cmd = cmds[args._[0]];
if (!cmd) {
    console.error('usage: lambda-load.mjs prepare|reserve|cold|inproc|serve|logstats ... (see the top of this file)');
    process.exit(2);
}
if (cmd !== serve) {
    const guard = setTimeout(() => {
        console.error(`lambda-load: gave up after ${MAX_DURATION_S + 60} s`);
        process.exit(1);
    }, (MAX_DURATION_S + 60) * 1000);
    guard.unref();
}
try {
    await cmd(args);
} catch (e) {
    console.error(`lambda-load: ${e.message}`);
    process.exitCode = 1;
}
