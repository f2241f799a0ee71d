/* sigv4.c - micro-benchmark of sts_verify: SigV4 verifications per second on one core.
 *
 * Every signed request to cloudlet pays for one sts_verify before its handler
 * runs, so its cost bounds what any signed API can serve (issue 4 asks for
 * well over 100k/s per core with cached signing keys). This program times,
 * on the calling thread only:
 *
 *   warm     a Lambda Invoke as SDK v3 sends it (the SDK-signed vector
 *            lambda-invoke-arn-path from tests/unit/sigv4_vectors.h, plus the
 *            unsigned user-agent a real client adds), signing key cached;
 *   presign  an S3 presigned GET (vector s3-presigned-get), key cached;
 *   session  an Invoke signed with temporary credentials (ASIA key id and
 *            a session token sts minted), key cached: every call also
 *            opens the sealed token (base64, AES-256-GCM, JSON);
 *   cold     the same kind of Invoke signed for 64 different days in turn,
 *            so that every call misses the 16-slot key cache and derives its
 *            signing key (four HMACs); the difference to the same request
 *            with its key cached is the cost of one derivation.
 *
 * It links the library objects like a unit test; bench/sigv4.sh builds and
 * runs it. Each figure is the best of BENCH_SIGV4_ROUNDS rounds (default 3)
 * of BENCH_SIGV4_MS milliseconds (default 1000). Exit status 1 if a request
 * is refused (the benchmark would be timing an error path).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/http.h"
#include "common/util.h"
#include "sts/internal.h" /* sts_session_mint, for the session run */
#include "sts/sts.h"
#include "tests/unit/sigv4_vectors.h"

#define MAX_HEADERS 24
#define COLD_DAYS 64 /* more than the key cache's 16 slots, so LRU always misses */
#define DAY 86400

/* A request over a static header list (what server/ builds from libmicrohttpd). */
typedef struct fake {
    http_req_t req;
    const char *names[MAX_HEADERS];
    const char *values[MAX_HEADERS];
    int n;
} fake_t;

static const char *fake_header(void *conn, const char *name)
{
    fake_t *f = conn;
    for (int i = 0; i < f->n; i++) {
        if (util_strcaseeq(f->names[i], name))
            return f->values[i];
    }
    return NULL;
}

static int fake_each(void *conn, int (*cb)(void *ctx, const char *name, const char *value),
                     void *ctx)
{
    fake_t *f = conn;
    for (int i = 0; i < f->n; i++) {
        int rc = cb(ctx, f->names[i], f->values[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void fake_init(fake_t *f, const char *method, const char *path, const char *query,
                      const char *body, size_t body_len)
{
    memset(f, 0, sizeof *f);
    f->req.method = strcmp(method, "GET") == 0 ? HTTP_GET : HTTP_POST;
    f->req.method_name = method;
    f->req.path = path;
    f->req.path_len = strlen(path);
    f->req.query = query;
    f->req.body = (const unsigned char *)body;
    f->req.body_len = body_len;
    f->req.remote = "127.0.0.1";
    f->req.header_fn = fake_header;
    f->req.each_fn = fake_each;
    f->req.conn = f;
}

static void fake_add(fake_t *f, const char *name, const char *value)
{
    if (f->n == MAX_HEADERS) {
        fprintf(stderr, "bench: too many headers\n");
        exit(1);
    }
    f->names[f->n] = name;
    f->values[f->n] = value;
    f->n++;
}

/* The vector called `name`, or exit. */
static const sigv4_vector_t *vector(const char *name)
{
    for (size_t i = 0; i < sizeof sigv4_vectors / sizeof sigv4_vectors[0]; i++) {
        if (strcmp(sigv4_vectors[i].name, name) == 0)
            return &sigv4_vectors[i];
    }
    fprintf(stderr, "bench: no vector %s in tests/unit/sigv4_vectors.h\n", name);
    exit(1);
}

/* The request of vector v, with the user-agent header SDK v3 adds (unsigned). */
static void from_vector(fake_t *f, const sigv4_vector_t *v)
{
    fake_init(f, v->method, v->path, v->query, v->body, v->body_len);
    for (int i = 0; v->headers[i] != NULL; i += 2)
        fake_add(f, v->headers[i], v->headers[i + 1]);
    fake_add(f, "user-agent", "aws-sdk-js/3.1164.0 ua/2.1 os/linux#6.1 lang/js md/nodejs#20.20.2");
}

/* ---- a small signer for the cold runs (one request shape) ---- */

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void mac(const void *key, size_t keylen, const char *data, unsigned char out[32])
{
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), out,
             &len) == NULL) {
        fprintf(stderr, "bench: HMAC failed\n");
        exit(1);
    }
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "bench: SHA-256 failed\n");
        exit(1);
    }
    hex(md, 32, out);
}

/* One signed Invoke of the cold and session runs: its own X-Amz-Date and
 * Authorization. */
typedef struct cold_req {
    char amz_date[17];
    char authz[512];
    fake_t f;
} cold_req_t;

static const char cold_path[] = "/2015-03-31/functions/hello/invocations";
static const char cold_body[] = "{\"key\":\"value\"}";

/* Sign the Invoke for time t with akid and secret, and the session token
 * `token` unless it is NULL (borrowed: it must outlive c). */
static void cold_sign(cold_req_t *c, int64_t t, const char *body_hash, const char *akid,
                      const char *secret, const char *token)
{
    char k0[256], date[9], canonical[8192], sts[256], chash[65], sig[65], token_line[4200];
    unsigned char a[32], b[32];
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(c->amz_date, sizeof c->amz_date, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(date, sizeof date, "%.8s", c->amz_date);
    snprintf(token_line, sizeof token_line, "x-amz-security-token:%s\n", token ? token : "");
    snprintf(canonical, sizeof canonical,
             "POST\n%s\n\ncontent-type:application/json\nhost:127.0.0.1:4566\n"
             "x-amz-content-sha256:%s\nx-amz-date:%s\n%s\n"
             "content-type;host;x-amz-content-sha256;x-amz-date%s\n%s",
             cold_path, body_hash, c->amz_date, token ? token_line : "",
             token ? ";x-amz-security-token" : "", body_hash);
    sha256_hex(canonical, strlen(canonical), chash);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/us-east-1/lambda/aws4_request\n%s",
             c->amz_date, date, chash);
    snprintf(k0, sizeof k0, "AWS4%s", secret);
    mac(k0, strlen(k0), date, a);
    mac(a, 32, "us-east-1", b);
    mac(b, 32, "lambda", a);
    mac(a, 32, "aws4_request", b);
    mac(b, 32, sts, a);
    hex(a, 32, sig);
    snprintf(c->authz, sizeof c->authz,
             "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/lambda/aws4_request, "
             "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date%s, Signature=%s",
             akid, date, token ? ";x-amz-security-token" : "", sig);
    fake_init(&c->f, "POST", cold_path, "", cold_body, strlen(cold_body));
    fake_add(&c->f, "host", "127.0.0.1:4566");
    fake_add(&c->f, "content-type", "application/json");
    fake_add(&c->f, "x-amz-content-sha256", body_hash);
    fake_add(&c->f, "x-amz-date", c->amz_date);
    if (token != NULL)
        fake_add(&c->f, "x-amz-security-token", token);
    fake_add(&c->f, "authorization", c->authz);
}

/* ---- timing ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Verify reqs[0..n) in turn (request i at times[i]) for `ms` milliseconds;
 * returns verifications per second, or exits if one is refused. */
static double run(sts_t *s, fake_t *const *reqs, const int64_t *times, size_t n,
                  const char *service, double ms)
{
    http_caller_t caller;
    char msg[300];
    uint64_t count = 0;
    double start = now_s();
    double end = start + ms / 1000.0;
    double t = start;

    while (t < end) {
        /* Check the clock every 256 calls: clock_gettime is not free. */
        for (int k = 0; k < 256; k++) {
            size_t i = (size_t)(count % n);
            int rc = sts_verify(s, &reqs[i]->req, service, times[i], &caller, msg, sizeof msg);
            if (rc != 0) {
                fprintf(stderr, "bench: request refused (%d): %s\n", rc, msg);
                exit(1);
            }
            count++;
        }
        t = now_s();
    }
    return (double)count / (t - start);
}

/* The best of `rounds` runs. */
static double best(sts_t *s, fake_t *const *reqs, const int64_t *times, size_t n,
                   const char *service, double ms, int rounds)
{
    double top = 0;
    for (int r = 0; r < rounds; r++) {
        double v = run(s, reqs, times, n, service, ms);
        if (v > top)
            top = v;
    }
    return top;
}

/* A positive integer from the environment, or def. */
static long env_long(const char *name, long def, long max)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        return def;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 1 || n > max) {
        fprintf(stderr, "bench: %s must be a whole number from 1 to %ld\n", name, max);
        exit(1);
    }
    return n;
}

int main(void)
{
    double ms = (double)env_long("BENCH_SIGV4_MS", 1000, 60000);
    int rounds = (int)env_long("BENCH_SIGV4_ROUNDS", 3, 20);
    char err[256];
    sts_t *s = NULL;

    setenv("CLOUDLET_ROOT_ACCESS_KEY_ID", SIGV4_VECTOR_KEY_ID, 1);
    setenv("CLOUDLET_ROOT_SECRET_ACCESS_KEY", SIGV4_VECTOR_SECRET, 1);
    seal_key_t key;
    util_random(key.k, sizeof key.k);
    sts_options_t o;
    memset(&o, 0, sizeof o);
    o.data_dir = "/nonexistent"; /* the root credentials come from the environment */
    o.region = SIGV4_VECTOR_REGION;
    o.account_id = "000000000000";
    o.key = &key;
    if (sts_open(&s, &o, err, sizeof err) != 0) {
        fprintf(stderr, "bench: sts_open: %s\n", err);
        return 1;
    }

    /* Warm: one request, its signing key cached after the first call. */
    fake_t invoke;
    from_vector(&invoke, vector("lambda-invoke-arn-path"));
    fake_t *warm_reqs[1] = {&invoke};
    int64_t warm_times[1] = {SIGV4_VECTOR_TIME};
    double warm = best(s, warm_reqs, warm_times, 1, "lambda", ms, rounds);

    fake_t presign;
    from_vector(&presign, vector("s3-presigned-get"));
    fake_t *presign_reqs[1] = {&presign};
    double presigned = best(s, presign_reqs, warm_times, 1, "s3", ms, rounds);

    /* Cold: 64 days in turn through 16 cache slots. */
    static cold_req_t cold[COLD_DAYS];
    fake_t *cold_reqs[COLD_DAYS];
    int64_t cold_times[COLD_DAYS];
    char body_hash[65];
    sha256_hex(cold_body, strlen(cold_body), body_hash);
    for (int i = 0; i < COLD_DAYS; i++) {
        cold_times[i] = SIGV4_VECTOR_TIME + (int64_t)i * DAY;
        cold_sign(&cold[i], cold_times[i], body_hash, SIGV4_VECTOR_KEY_ID, SIGV4_VECTOR_SECRET,
                  NULL);
        cold_reqs[i] = &cold[i].f;
    }
    double cold_rate = best(s, cold_reqs, cold_times, COLD_DAYS, "lambda", ms, rounds);
    /* The same request shape with its key cached, to isolate the derivation. */
    double cold_shape_warm = best(s, cold_reqs, cold_times, 1, "lambda", ms, rounds);

    /* Temporary credentials: GetSessionToken's kind, valid for the run. */
    sts_session_t sess = {.root = 1, .session_name = "bench", .duration = 43200};
    json_t *minted = sts_session_mint(s, &sess, SIGV4_VECTOR_TIME);
    if (minted == NULL) {
        fprintf(stderr, "bench: sts_session_mint failed\n");
        return 1;
    }
    static cold_req_t session;
    cold_sign(&session, SIGV4_VECTOR_TIME, body_hash,
              json_string_value(json_object_get(minted, "AccessKeyId")),
              json_string_value(json_object_get(minted, "SecretAccessKey")),
              json_string_value(json_object_get(minted, "SessionToken")));
    fake_t *session_reqs[1] = {&session.f};
    double session_rate = best(s, session_reqs, warm_times, 1, "lambda", ms, rounds);
    json_decref(minted);

    printf("sigv4 verify: %.0f verifications/s per core (warm key cache; Lambda Invoke, "
           "%zu-byte body, %d headers)\n",
           warm, invoke.req.body_len, invoke.n);
    printf("sigv4 verify: %.0f verifications/s per core (warm key cache; S3 presigned GET)\n",
           presigned);
    printf("sigv4 verify: %.0f verifications/s per core (warm key cache; temporary credentials: "
           "the session token opened on every call)\n",
           session_rate);
    printf("sigv4 verify: %.0f verifications/s per core (cold key cache: every call derives "
           "the signing key)\n",
           cold_rate);
    printf("sigv4 derive_key: %.2f us per signing-key derivation (cold minus warm)\n",
           (1e6 / cold_rate) - (1e6 / cold_shape_warm));
    sts_close(s);
    return 0;
}
