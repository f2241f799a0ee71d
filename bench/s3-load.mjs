#!/usr/bin/env node
// bench/s3-load.mjs - S3 load tools for bench/s3.sh (cloudlet vs s3rver).
//
//   node bench/s3-load.mjs prepare --endpoint URL --bucket B --prefix P --op get|put
//        --size BYTES --keys K --out FILE
//   node bench/s3-load.mjs replay --file FILE [--index I]
//   node bench/s3-load.mjs seed --endpoint URL --bucket B --prefix P --count N
//        [--size BYTES] [--concurrency C] [--timeout SECONDS]
//   node bench/s3-load.mjs files --layout plain|s3rver --dir DIR --prefix P --count N
//        [--size BYTES] [--template BASE] [--timeout SECONDS]
//   node bench/s3-load.mjs list --endpoint URL --bucket B --expect N [--client sdk|raw]
//        [--timeout SECONDS]
//   node bench/s3-load.mjs sdk --endpoint URL --bucket B --prefix P --op get|put --size BYTES
//        --keys K --concurrency C --duration SECONDS
//
// Credentials come from S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY; the region is us-east-1
// and every client uses path-style addressing (forcePathStyle).
//
// `prepare` makes K signed requests with @aws-sdk/client-s3 itself: an S3Client whose
// request handler records the request the SDK would send (method, path, query, headers
// with the SigV4 Authorization, body) instead of sending it. For GETs it first stores the
// K objects through the SDK. It writes the K requests, byte for byte as they go on the
// wire (HTTP/1.1, keep-alive), to FILE for the Lua script that bench/s3.sh hands to wrk
// (which replays them in turn), then sends request 0 once over a socket and checks the
// answer (200, and for a GET the body); it exits 1 if not.
// FILE's format: a first line "K len0 len1 ...\n", then the K requests back to back.
//
// `replay` sends request I of such a FILE over a raw socket and prints the status line and
// the start of the body: what bench/s3.sh reports when wrk counted non-2xx answers.
//
// `seed` creates the bucket (if missing) and PUTs N tiny objects, keys P000000..., with C
// requests in flight over keep-alive node:http, each signed with the SDK's own signer
// (@smithy/signature-v4, signed payload, as the SDK's PutObject); prints a JSON line.
//
// `files` writes N objects straight into a server's on-disk form (see below), keys in
// order, stopping early at the deadline; prints how many it wrote.
//
// `list` pages through the bucket with ListObjectsV2 (max-keys 1000), checks that the keys
// come sorted and unique and that there are N of them, prints a JSON line (pages, seconds,
// first, last and slowest page, the client's CPU seconds).
//
// `sdk` drives GetObject or PutObject with the SDK (keep-alive agent, C workers, each
// sending one call after another) for SECONDS; prints ops/s, p50/p99 (ms) and errors.
//
// Traffic goes only to --endpoint, which must be http on 127.0.0.1/localhost; every
// request has a timeout and every loop is bounded by a count and a deadline.

import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
    S3Client,
    CreateBucketCommand,
    HeadBucketCommand,
    PutObjectCommand,
    GetObjectCommand,
    ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';

const REQUEST_TIMEOUT_MS = 30_000;
const MAX_DURATION_S = 300;
const REGION = 'us-east-1';

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

function checkLoopback(endpoint) {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
        throw new Error(`endpoint ${endpoint}: only http on 127.0.0.1/localhost is allowed`);
    }
    return u;
}

function credentials() {
    const accessKeyId = process.env.S3_ACCESS_KEY_ID;
    const secretAccessKey = process.env.S3_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) throw new Error('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set');
    return { accessKeyId, secretAccessKey };
}

function client(endpoint, opts = {}) {
    checkLoopback(endpoint);
    return new S3Client({
        region: REGION,
        endpoint,
        forcePathStyle: true,
        credentials: credentials(),
        maxAttempts: 1,
        ...opts,
    });
}

function keepAliveClient(endpoint, sockets) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
    const c = client(endpoint, {
        // The SDK builds its NodeHttpHandler from these options.
        requestHandler: { httpAgent: agent, connectionTimeout: 5000, requestTimeout: REQUEST_TIMEOUT_MS },
    });
    return { s3: c, close: () => { c.destroy(); agent.destroy(); } };
}

function describeError(e) {
    const status = e?.$metadata?.httpStatusCode;
    const code = e?.Code || e?.name || 'Error';
    return `${status ? `HTTP ${status} ` : ''}${code}: ${String(e?.message ?? e).slice(0, 300)}`;
}

async function ensureBucket(s3, bucket) {
    try {
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
        return;
    } catch (e) {
        const st = e?.$metadata?.httpStatusCode;
        if (st !== 404 && e?.name !== 'NotFound' && e?.name !== 'NoSuchBucket') throw e;
    }
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
}

function percentile(sorted, p) {
    if (!sorted.length) return null;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i];
}

const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);
const keyName = (prefix, i) => `${prefix}${String(i).padStart(6, '0')}`;

// Deterministic pseudo-random body for a size (the same bytes in every process).
function bodyFor(size, salt = 's3-bench') {
    const out = Buffer.alloc(size);
    let off = 0;
    let n = 0;
    while (off < size) {
        const block = crypto.createHash('sha512').update(`${salt}:${size}:${n++}`).digest();
        off += block.copy(out, off);
    }
    return out;
}

// ---- prepare: SDK-signed requests, recorded and written for wrk ----
class Captured extends Error {}

function rawRequest(req, body) {
    let path = req.path;
    const q = Object.entries(req.query || {}).map(([k, v]) =>
        v === null || v === undefined ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`,
    );
    if (q.length) path += `?${q.join('&')}`;
    let head = `${req.method} ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(req.headers)) head += `${k}: ${v}\r\n`;
    if (!body && !('content-length' in req.headers) && req.method === 'PUT') head += 'content-length: 0\r\n';
    head += '\r\n';
    return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

async function captureRequest(endpoint, command) {
    let got = null;
    const handler = {
        handle: async (req) => {
            let body = req.body;
            if (body && typeof body === 'string') body = Buffer.from(body);
            else if (body && !(body instanceof Uint8Array)) throw new Error('prepare: the SDK sent a streaming body');
            got = rawRequest(req, body ? Buffer.from(body) : null);
            throw new Captured('captured');
        },
        updateHttpClientConfig() {},
        httpHandlerConfigs() {
            return {};
        },
    };
    const s3 = client(endpoint, { requestHandler: handler });
    try {
        await s3.send(command);
    } catch (e) {
        if (!(e instanceof Captured) && !got) throw e;
    }
    s3.destroy();
    return got;
}

// Send one raw request over a socket; resolve {status, statusLine, headers, body}.
function sendRaw(endpoint, raw, timeoutMs = REQUEST_TIMEOUT_MS) {
    const u = checkLoopback(endpoint);
    return new Promise((resolve, reject) => {
        const sock = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) });
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
            const statusLine = head[0];
            const headers = {};
            for (const h of head.slice(1)) {
                const i = h.indexOf(':');
                if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
            }
            resolve({ status: Number(statusLine.split(' ')[1]), statusLine, headers, body: buf.subarray(headEnd + 4) });
        };
        sock.on('data', (c) => {
            chunks.push(c);
            total += c.length;
            const buf = Buffer.concat(chunks, total);
            if (headEnd < 0) {
                headEnd = buf.indexOf('\r\n\r\n');
                if (headEnd < 0) return;
                const m = /\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, headEnd + 2).toString('latin1'));
                const isHead = raw.subarray(0, 5).toString('latin1') === 'HEAD ';
                want = isHead ? 0 : m ? Number(m[1]) : -1;
            }
            if (want >= 0 && buf.length - headEnd - 4 >= want) finish(buf);
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

function describeRaw(r) {
    const text = r.body.subarray(0, 400).toString('utf8').replace(/\s+/g, ' ');
    return `${r.statusLine} ${r.headers['content-type'] ? `(${r.headers['content-type']}) ` : ''}${text}`;
}

function firstLine(raw) {
    return raw.subarray(0, raw.indexOf('\r\n')).toString('latin1');
}

async function prepare(args) {
    const endpoint = need(args, 'endpoint');
    checkLoopback(endpoint);
    const bucket = need(args, 'bucket');
    const prefix = need(args, 'prefix');
    const op = need(args, 'op');
    if (op !== 'get' && op !== 'put') throw new Error('--op get|put');
    const size = intArg(args, 'size', 4096, 0, 64 << 20);
    const keys = intArg(args, 'keys', 32, 1, 1000);
    const out = need(args, 'out');
    const body = bodyFor(size);
    if (op === 'get') {
        // The objects a GET reads, stored with the SDK (and so checked on the way).
        const { s3, close } = keepAliveClient(endpoint, 8);
        try {
            await ensureBucket(s3, bucket);
            for (let i = 0; i < keys; i++) {
                await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keyName(prefix, i), Body: body }));
            }
        } catch (e) {
            throw new Error(`storing the objects to GET: ${describeError(e)}`);
        } finally {
            close();
        }
    }
    const reqs = [];
    for (let i = 0; i < keys; i++) {
        const Key = keyName(prefix, i);
        const cmd = op === 'get' ? new GetObjectCommand({ Bucket: bucket, Key }) : new PutObjectCommand({ Bucket: bucket, Key, Body: body });
        reqs.push(await captureRequest(endpoint, cmd));
    }
    const header = Buffer.from(`${reqs.length} ${reqs.map((r) => r.length).join(' ')}\n`, 'latin1');
    fs.writeFileSync(out, Buffer.concat([header, ...reqs]));
    // Request 0 once, before wrk repeats it: it must succeed as it is.
    const r = await sendRaw(endpoint, reqs[0]);
    const result = { ok: true, requests: reqs.length, bytes: reqs[0].length, first: firstLine(reqs[0]), status: r.status };
    if (r.status !== 200) {
        result.ok = false;
        result.error = `${firstLine(reqs[0])} -> ${describeRaw(r)}`;
    } else if (op === 'get' && !r.body.equals(body)) {
        result.ok = false;
        result.error = `${firstLine(reqs[0])} -> 200 with ${r.body.length} bytes that differ from the ${size} stored`;
    }
    console.log(JSON.stringify(result));
    if (!result.ok) process.exitCode = 1;
}

function readRequests(file) {
    const buf = fs.readFileSync(file);
    const nl = buf.indexOf(10);
    const lens = buf.subarray(0, nl).toString('latin1').split(' ').map(Number);
    const count = lens.shift();
    const reqs = [];
    let off = nl + 1;
    for (let i = 0; i < count; i++) {
        reqs.push(buf.subarray(off, off + lens[i]));
        off += lens[i];
    }
    return reqs;
}

async function replay(args) {
    const reqs = readRequests(need(args, 'file'));
    const i = intArg(args, 'index', 0, 0, reqs.length - 1);
    const raw = reqs[i];
    const host = /\r\nhost:\s*([^\r]+)/i.exec(raw.toString('latin1'))?.[1];
    if (!host) throw new Error('replay: no host header in the request');
    const r = await sendRaw(`http://${host}`, raw);
    console.log(`${firstLine(raw)} -> ${describeRaw(r)}`);
}

// ---- seed: many tiny objects, signed with the SDK's signer ----
class NodeSha256 {
    constructor(secret) {
        this.h = secret ? crypto.createHmac('sha256', Buffer.from(secret)) : crypto.createHash('sha256');
    }
    update(d) {
        this.h.update(typeof d === 'string' ? Buffer.from(d) : d);
    }
    async digest() {
        return new Uint8Array(this.h.digest());
    }
}

async function seed(args) {
    const endpoint = need(args, 'endpoint');
    const u = checkLoopback(endpoint);
    const bucket = need(args, 'bucket');
    const prefix = need(args, 'prefix');
    const count = intArg(args, 'count', 100000, 0, 1_000_000);
    const size = intArg(args, 'size', 8, 0, 1 << 20);
    const conc = intArg(args, 'concurrency', 32, 1, 256);
    const timeoutS = intArg(args, 'timeout', 120, 1, MAX_DURATION_S);
    {
        const { s3, close } = keepAliveClient(endpoint, 2);
        try {
            await ensureBucket(s3, bucket);
        } catch (e) {
            throw new Error(`creating bucket ${bucket}: ${describeError(e)}`);
        } finally {
            close();
        }
    }
    const signer = new SignatureV4({ service: 's3', region: REGION, credentials: credentials(), sha256: NodeSha256, uriEscapePath: false, applyChecksum: true });
    const body = Buffer.alloc(size, 'x');
    const bodyHash = crypto.createHash('sha256').update(body).digest('hex');
    const host = u.host;
    const agent = new http.Agent({ keepAlive: true, maxSockets: conc, maxFreeSockets: conc });
    const deadline = Date.now() + timeoutS * 1000;
    let next = 0;
    let done = 0;
    let errors = 0;
    let firstError = null;
    let timedOut = false;
    const t0 = process.hrtime.bigint();
    async function putOne(i) {
        const path = `/${bucket}/${keyName(prefix, i)}`;
        const req = await signer.sign({
            method: 'PUT',
            protocol: 'http:',
            hostname: u.hostname,
            port: Number(u.port),
            path,
            query: {},
            headers: {
                host,
                'content-type': 'application/octet-stream',
                'content-length': String(size),
                'x-amz-content-sha256': bodyHash,
            },
        });
        return new Promise((resolve) => {
            const r = http.request(
                { host: u.hostname, port: u.port, path, method: 'PUT', agent, headers: req.headers, timeout: REQUEST_TIMEOUT_MS },
                (res) => {
                    const chunks = [];
                    res.on('data', (c) => chunks.push(c));
                    res.on('end', () => {
                        if (res.statusCode !== 200) {
                            errors++;
                            firstError ??= `PUT ${path} -> HTTP ${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 400)}`;
                        }
                        resolve();
                    });
                },
            );
            r.on('timeout', () => r.destroy(new Error(`timeout after ${REQUEST_TIMEOUT_MS} ms`)));
            r.on('error', (e) => {
                errors++;
                firstError ??= `PUT ${path} -> ${e.message}`;
                resolve();
            });
            r.end(body);
        });
    }
    async function worker() {
        while (next < count) {
            if (Date.now() > deadline) {
                timedOut = true;
                return;
            }
            if (errors > 100) return;
            const i = next++;
            await putOne(i);
            done++;
        }
    }
    await Promise.all(Array.from({ length: Math.min(conc, count) }, worker));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    agent.destroy();
    const created = done - errors;
    console.log(JSON.stringify({ ok: errors === 0 && !timedOut, count, created, errors, first_error: firstError, timed_out: timedOut, seconds: r3(secs), objects_per_s: r3(created / secs), concurrency: conc, size }));
    if (errors || timedOut) process.exitCode = 1;
}

// ---- files: objects written straight into a server's own on-disk layout ----
// plain:  DIR/P000000 ... (N files of SIZE bytes), for `cloudlet site deploy DIR`;
// s3rver: s3rver's filesystem store (a bucket is a folder; an object KEY is the three files
//         KEY._S3rver_object, KEY._S3rver_object.md5 and KEY._S3rver_metadata.json): the
//         three files of --template (an object s3rver itself stored from a PUT, the first of
//         the N keys) are copied to the other N - 1 keys, so the store holds N objects that
//         s3rver wrote the form of.
async function files(args) {
    const dir = need(args, 'dir');
    const prefix = need(args, 'prefix');
    const layout = need(args, 'layout');
    const count = intArg(args, 'count', 100000, 1, 1_000_000);
    const size = intArg(args, 'size', 8, 0, 1 << 20);
    const timeoutS = intArg(args, 'timeout', 120, 1, MAX_DURATION_S);
    const deadline = Date.now() + timeoutS * 1000;
    const t0 = process.hrtime.bigint();
    fs.mkdirSync(dir, { recursive: true });
    let written = 0;
    let timedOut = false;
    let parts;
    if (layout === 'plain') {
        parts = [['', Buffer.alloc(size, 'x')]];
    } else if (layout === 's3rver') {
        const tmpl = need(args, 'template');
        parts = ['_S3rver_object', '_S3rver_object.md5', '_S3rver_metadata.json'].map((suf) => [
            `.${suf}`,
            fs.readFileSync(`${tmpl}.${suf}`),
        ]);
        if (`${dir}/${keyName(prefix, 0)}` !== tmpl) throw new Error('--template must be the first key');
        written = 1;
    } else {
        throw new Error('--layout plain|s3rver');
    }
    // Keys in order; the file system may be slow to create files, so a deadline
    // stops the loop (the keys written so far are 0 .. written - 1).
    for (let i = written; i < count; i++) {
        if (i % 1000 === 0 && Date.now() > deadline) {
            timedOut = true;
            break;
        }
        const base = `${dir}/${keyName(prefix, i)}`;
        for (const [suf, data] of parts) fs.writeFileSync(`${base}${suf}`, data);
        written = i + 1;
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ ok: !timedOut, layout, count, written, timed_out: timedOut, seconds: r3(secs) }));
}

// ---- list: full ListObjectsV2 pagination ----
// --client sdk: ListObjectsV2Command pages, as an application pages (the SDK parses each
//               page's XML into objects); --client raw: the same signed GETs
//               (?list-type=2&max-keys=1000&continuation-token=...) over keep-alive
//               node:http, signed with the SDK's signer, keys and token taken from the XML
//               with regular expressions: less client work, so closer to the server's time.
const xmlText = (s) =>
    s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g, (m, e, d, h) =>
        d ? String.fromCodePoint(Number(d)) : h ? String.fromCodePoint(parseInt(h, 16)) : { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' }[e],
    );

function rawLister(endpoint, bucket) {
    const u = checkLoopback(endpoint);
    const signer = new SignatureV4({ service: 's3', region: REGION, credentials: credentials(), sha256: NodeSha256, uriEscapePath: false, applyChecksum: true });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const emptyHash = crypto.createHash('sha256').digest('hex');
    async function page(token) {
        const query = { 'list-type': '2', 'max-keys': '1000' };
        if (token) query['continuation-token'] = token;
        const req = await signer.sign({
            method: 'GET', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: `/${bucket}`, query,
            headers: { host: u.host, 'x-amz-content-sha256': emptyHash },
        });
        const qs = Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        const text = await new Promise((resolve, reject) => {
            const r = http.request(
                { host: u.hostname, port: u.port, path: `/${bucket}?${qs}`, method: 'GET', agent, headers: req.headers, timeout: REQUEST_TIMEOUT_MS },
                (res) => {
                    const chunks = [];
                    res.on('data', (c) => chunks.push(c));
                    res.on('end', () => {
                        const body = Buffer.concat(chunks).toString('utf8');
                        if (res.statusCode !== 200) reject(new Error(`GET /${bucket}?${qs} -> HTTP ${res.statusCode} ${body.slice(0, 400)}`));
                        else resolve(body);
                    });
                },
            );
            r.on('timeout', () => r.destroy(new Error(`timeout after ${REQUEST_TIMEOUT_MS} ms`)));
            r.on('error', reject);
            r.end();
        });
        const keys = [];
        for (const m of text.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(xmlText(m[1]));
        const truncated = /<IsTruncated>true<\/IsTruncated>/.test(text);
        const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(text);
        return { keys, truncated, next: next ? xmlText(next[1]) : undefined };
    }
    return { page, close: () => agent.destroy() };
}

function sdkLister(endpoint, bucket) {
    const { s3, close } = keepAliveClient(endpoint, 1);
    async function page(token) {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000, ContinuationToken: token }));
        return { keys: (r.Contents || []).map((o) => o.Key), truncated: !!r.IsTruncated, next: r.NextContinuationToken };
    }
    return { page, close };
}

async function list(args) {
    const endpoint = need(args, 'endpoint');
    const bucket = need(args, 'bucket');
    const expect = intArg(args, 'expect', 0, 0, 10_000_000);
    const timeoutS = intArg(args, 'timeout', 120, 1, MAX_DURATION_S);
    const kind = args.client ?? 'sdk';
    if (kind !== 'sdk' && kind !== 'raw') throw new Error('--client sdk|raw');
    const lister = kind === 'sdk' ? sdkLister(endpoint, bucket) : rawLister(endpoint, bucket);
    const deadline = Date.now() + timeoutS * 1000;
    let pages = 0;
    let keys = 0;
    let last = null;
    let unsorted = 0;
    let token;
    let slowest = 0;
    let first = null;
    let lastMs = null;
    let error = null;
    let timedOut = false;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    try {
        for (;;) {
            if (Date.now() > deadline) {
                timedOut = true;
                break;
            }
            const p0 = process.hrtime.bigint();
            const r = await lister.page(token);
            const ms = Number(process.hrtime.bigint() - p0) / 1e6;
            if (ms > slowest) slowest = ms;
            first ??= ms;
            lastMs = ms;
            pages++;
            for (const k of r.keys) {
                if (last !== null && !(k > last)) unsorted++;
                last = k;
                keys++;
            }
            if (!r.truncated) break;
            if (!r.next) throw new Error(`page ${pages}: IsTruncated without NextContinuationToken`);
            token = r.next;
            if (pages >= 100_000) throw new Error('more than 100000 pages');
        }
    } catch (e) {
        error = `page ${pages + 1}: ${e.$metadata ? describeError(e) : e.message}`;
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    lister.close();
    const ok = !error && !timedOut && unsorted === 0 && keys === expect;
    console.log(JSON.stringify({
        ok, client: kind, pages, keys, expect, unsorted, seconds: r3(secs), keys_per_s: Math.round(keys / secs),
        first_page_ms: r3(first), last_page_ms: r3(lastMs), slowest_page_ms: r3(slowest), client_cpu_s: r3((cpu.user + cpu.system) / 1e6),
        timed_out: timedOut, error,
    }));
    if (!ok) process.exitCode = 1;
}

// ---- sdk: GetObject / PutObject driven through the SDK ----
async function sdk(args) {
    const endpoint = need(args, 'endpoint');
    const bucket = need(args, 'bucket');
    const prefix = need(args, 'prefix');
    const op = need(args, 'op');
    if (op !== 'get' && op !== 'put') throw new Error('--op get|put');
    const size = intArg(args, 'size', 4096, 0, 64 << 20);
    const keys = intArg(args, 'keys', 32, 1, 1000);
    const conc = intArg(args, 'concurrency', 16, 1, 256);
    const duration = intArg(args, 'duration', 5, 1, MAX_DURATION_S);
    const maxOps = intArg(args, 'max-ops', 10_000_000, 1, 100_000_000);
    const body = bodyFor(size);
    const { s3, close } = keepAliveClient(endpoint, conc);
    const lat = [];
    let started = 0;
    let ops = 0;
    let errors = 0;
    let firstError = null;
    const t0 = Date.now();
    const deadline = t0 + duration * 1000;
    async function worker(w) {
        let i = w;
        while (Date.now() < deadline && started < maxOps && errors < 1000) {
            started++;
            const Key = keyName(prefix, i++ % keys);
            const s = process.hrtime.bigint();
            try {
                if (op === 'get') {
                    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
                    const got = await r.Body.transformToByteArray();
                    if (got.length !== size) throw new Error(`GetObject ${Key}: ${got.length} bytes, ${size} expected`);
                } else {
                    await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }));
                }
                lat.push(Number(process.hrtime.bigint() - s) / 1e6);
                ops++;
            } catch (e) {
                errors++;
                firstError ??= `${op === 'get' ? 'GetObject' : 'PutObject'} ${bucket}/${Key}: ${describeError(e)}`;
            }
        }
    }
    await Promise.all(Array.from({ length: conc }, (_, w) => worker(w)));
    const secs = (Date.now() - t0) / 1000;
    close();
    lat.sort((a, b) => a - b);
    const cpu = process.cpuUsage();
    console.log(JSON.stringify({
        ok: errors === 0 && ops > 0,
        op, size, concurrency: conc, ops, errors, first_error: firstError,
        seconds: r3(secs), ops_per_s: Math.round((ops / secs) * 10) / 10,
        p50_ms: r3(percentile(lat, 50)), p99_ms: r3(percentile(lat, 99)),
        client_cpu_s: r3((cpu.user + cpu.system) / 1e6),
    }));
    if (errors) process.exitCode = 1;
}

// ---- main ----
const args = parseArgs(process.argv.slice(2));
const cmds = { prepare, replay, seed, files, list, sdk };
const cmd = cmds[args._[0]];
if (!cmd) {
    console.error('usage: s3-load.mjs prepare|replay|seed|list|sdk ... (see the top of this file)');
    process.exit(2);
}
const guard = setTimeout(() => {
    console.error(`s3-load: gave up after ${MAX_DURATION_S + 60} s`);
    process.exit(1);
}, (MAX_DURATION_S + 60) * 1000);
guard.unref();
try {
    await cmd(args);
} catch (e) {
    console.error(`s3-load: ${e.message}`);
    process.exitCode = 1;
}
