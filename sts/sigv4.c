/* sigv4.c - the SigV4 verifier (header and presigned forms) and the AWS shapes of its refusals.
 *
 * Every signed request to any service passes through sts_verify before its
 * handler runs, so this is where a forged or replayed request must stop. The
 * canonical request is rebuilt from what was received, exactly as wire doc
 * 1.1 describes: for non-S3 services the path normalised and encoded a second
 * time, for S3 the path as sent (decoded and encoded once, so each key byte
 * is UriEncoded exactly once); the query decoded and re-encoded; the signed
 * headers with their repeats joined by ','. The signature is recomputed under
 * the secret that the access key id names: the root credential, or a
 * temporary credential opened from its sealed session token.
 *
 * The two forms (wire doc 1.2, 1.3):
 * - header: Authorization: AWS4-HMAC-SHA256 Credential=..., X-Amz-Date
 *   within 15 minutes of now;
 * - presigned: X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders,
 *   -Signature (and -Security-Token) in the query; valid from 15 minutes
 *   before X-Amz-Date until X-Amz-Date + X-Amz-Expires (at most 7 days).
 *   Malformed query parameters are STS_EQUERYPARAMS, S3's
 *   AuthorizationQueryParametersError.
 *
 * The payload line (x-amz-content-sha256, wire doc 1.1 and 6.2):
 * - a 64-hex value must equal the body's SHA-256, for every service;
 * - S3 requires the header in header form, and also takes UNSIGNED-PAYLOAD
 *   and STREAMING-UNSIGNED-PAYLOAD-TRAILER verbatim (the body is then not
 *   checked: the server receives aws-chunked bodies raw); chunk-signed
 *   uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD...) are refused, since the
 *   chunk signatures are not verified;
 * - other services in header form take only the hash (UNSIGNED-PAYLOAD and
 *   the streaming forms are STS_ESIGNATURE: these services read the whole
 *   body, and an unsigned body could be swapped in transit), and without the
 *   header the body's hash is the line;
 * - presigned URLs take UNSIGNED-PAYLOAD for every service when an
 *   X-Amz-Content-Sha256 query parameter says so; without one, S3 signs
 *   UNSIGNED-PAYLOAD and the other services the body's hash (what the JS
 *   signer, botocore and aws-c-auth compute; the empty body's hash for a GET).
 *
 * Other choices where AWS leaves room, all on the side of refusing:
 * - A signed header that the request does not carry is STS_EMALFORMED (a
 *   clear message beats a bare signature mismatch).
 * - An X-Amz-Security-Token on a long-term key (root) is STS_EUNKNOWNKEY, as
 *   AWS answers: a token that cannot be verified is never ignored. With a
 *   temporary (ASIA) key in header form the token header must be signed.
 * - Both an Authorization header and X-Amz-Algorithm/-Credential in the
 *   query is STS_EMALFORMED (S3: "Only one auth mechanism allowed").
 *
 * Cost: this runs once per signed request, so nothing here allocates in the
 * common case. The canonical request is hashed while it is produced rather
 * than built in memory, and SHA-256 and HMAC run over one digest context
 * with the algorithm fetched once per process: OpenSSL 3's one-shot HMAC()
 * and EVP_Digest(EVP_sha256()) look the algorithm up on every call, which
 * cost more than the hashing itself. Derived signing keys are cached per
 * (key id, date, region, service), since a client uses the same one for a
 * whole day; the table is small and guarded by a mutex because sts_verify
 * runs on every server thread. Access key ids are unique (root, and
 * temporary ids minted at random), and a temporary credential's token is
 * opened on every request, so a cached key never outlives its credential's
 * checks.
 */
#include "sts/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/util.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define MAX_SKEW 900       /* seconds: AWS's 15 minutes */
#define MAX_EXPIRES 604800 /* seconds: a presigned URL lives at most 7 days */
#define AUTHZ_MAX 4096     /* bytes of Authorization header (or SignedHeaders) we parse */
#define CREDENTIAL_MAX 512 /* bytes of a decoded X-Amz-Credential */
#define SIGNED_HEADERS_MAX 64
#define HEADER_NAME_MAX 128
#define HEADER_LINES_MAX 128 /* signed header lines (repeats included) per request */
#define QUERY_MAX (64 * 1024)
#define QUERY_PAIRS_STACK 32   /* query parameters sorted without the heap */
#define QUERY_TEXT_STACK 2048  /* bytes of re-encoded query sorted without the heap */
#define PATH_SEGMENTS_STACK 32 /* path segments normalised without the heap */
#define PAYLOAD_MAX 64         /* the longest payload line: a hex hash or a marker */
#define AMZ_DATE_LEN 16        /* YYYYMMDD'T'HHMMSS'Z' */
#define SHA256_LEN 32
#define SHA256_HEX 64
#define SHA256_BLOCK 64
#define SINK_BUF 2048
#define ECHO_MAX 64 /* at most this much of a client's text is quoted back */

/* Messages. Those sts_error_response recognises to pick S3's own error code
 * are written verbatim and compared whole. */
static const char signature_mismatch[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
static const char invalid_token[] = "The security token included in the request is invalid.";
static const char expired_token[] = "The security token included in the request is expired";
static const char presign_expired[] = "Request has expired";
static const char s3_missing_sha256[] =
    "Missing required header for this request: x-amz-content-sha256";
static const char s3_bad_sha256[] = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                                    "STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid sha256 value.";
static const char s3_sha256_mismatch[] =
    "The provided 'x-amz-content-sha256' header does not match what was computed.";
static const char s3_chunk_signed[] =
    "Chunk-signed uploads (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD and its "
    "variants) are not supported: send UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER or "
    "the SHA-256 of the body.";
static const char two_auth_forms[] =
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
    "string parameter or the Authorization header should be specified";
static const char query_missing[] =
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";

/* A piece of a string that is not NUL-terminated. */
typedef struct span {
    const char *p;
    size_t n;
} span_t;

/* The parts of a request's authentication, from either form. */
typedef struct authz {
    int presigned;
    char akid[STS_KEY_ID_MAX + 1];
    char date[9];
    char region[STS_SCOPE_PART_MAX + 1];
    char service[STS_SCOPE_PART_MAX + 1];
    char terminator[32];
    span_t signed_headers;            /* as sent (header form) or decoded into sh_buf */
    span_t names[SIGNED_HEADERS_MAX]; /* into signed_headers; sorted, lowercase */
    int nnames;
    char signature[SHA256_HEX + 1];
    char amz_date[AMZ_DATE_LEN + 1];
    int64_t t;            /* amz_date in seconds since the epoch */
    int64_t expires;      /* presigned: X-Amz-Expires */
    const char *token;    /* X-Amz-Security-Token (borrowed or token_buf), or NULL */
    const char *declared; /* x-amz-content-sha256 (borrowed or declared_buf), or NULL */
    char *token_buf;      /* presigned: the decoded token (heap, token_size bytes) */
    size_t token_size;
    char declared_buf[PAYLOAD_MAX + 1];
    char sh_buf[AUTHZ_MAX]; /* presigned: the decoded X-Amz-SignedHeaders */
} authz_t;

/* Write a message for the client (if msg has room) and return code. */
static int fail(char *msg, size_t msgsz, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t msgsz, int code, const char *fmt, ...)
{
    if (msg != NULL && msgsz > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msgsz, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* HTTP header whitespace (and the line breaks an obs-fold leaves). */
static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The bytes UriEncode leaves as they are. */
static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* 1 if s[0..n) is all lowercase hex digits. */
static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

/* 1 if s is exactly 64 hex digits of either case. */
static int is_sha256_hex(const char *s)
{
    for (int i = 0; i < SHA256_HEX; i++) {
        if (util_hexval(s[i]) < 0)
            return 0;
    }
    return s[SHA256_HEX] == '\0';
}

/* A character allowed in a lowercase header name (an RFC 9110 token). */
static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* 1 if span s equals the string z. */
static int span_eq(span_t s, const char *z)
{
    return strlen(z) == s.n && memcmp(s.p, z, s.n) == 0;
}

/* ---- SHA-256 and HMAC over one digest context ---- */

static EVP_MD *sha256_impl;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_impl = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

/* The SHA-256 implementation, fetched once for the life of the process. */
static const EVP_MD *sha256_md(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    if (sha256_impl == NULL) {
        fprintf(stderr, "cloudlet: OpenSSL has no SHA-256\n");
        abort();
    }
    return sha256_impl;
}

/* OpenSSL failing to hash means memory or the library is broken: stop. */
static void crypto_die(void)
{
    fprintf(stderr, "cloudlet: SHA-256 failed\n");
    abort();
}

static void md_init(EVP_MD_CTX *ctx)
{
    if (EVP_DigestInit_ex2(ctx, sha256_md(), NULL) != 1)
        crypto_die();
}

static void md_update(EVP_MD_CTX *ctx, const void *p, size_t n)
{
    if (n > 0 && EVP_DigestUpdate(ctx, p, n) != 1)
        crypto_die();
}

static void md_final(EVP_MD_CTX *ctx, unsigned char out[SHA256_LEN])
{
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != SHA256_LEN)
        crypto_die();
}

/* SHA-256 of p[0..n) as lowercase hex. */
static void sha256_hex(EVP_MD_CTX *ctx, const void *p, size_t n, char out[SHA256_HEX + 1])
{
    unsigned char md[SHA256_LEN];
    md_init(ctx);
    md_update(ctx, p, n);
    md_final(ctx, md);
    util_hex(md, sizeof md, out);
}

/* HMAC-SHA256 (RFC 2104) in three steps over ctx: begin with the key, feed
 * the message, end. The outer pad is kept for the end and wiped there. */
typedef struct hmac {
    EVP_MD_CTX *ctx;
    unsigned char opad[SHA256_BLOCK];
} hmac_t;

static void hmac_begin(hmac_t *h, EVP_MD_CTX *ctx, const void *key, size_t keylen)
{
    unsigned char k[SHA256_BLOCK], ipad[SHA256_BLOCK];

    memset(k, 0, sizeof k);
    if (keylen > SHA256_BLOCK) {
        md_init(ctx);
        md_update(ctx, key, keylen);
        md_final(ctx, k);
    } else {
        memcpy(k, key, keylen);
    }
    for (int i = 0; i < SHA256_BLOCK; i++) {
        ipad[i] = k[i] ^ 0x36;
        h->opad[i] = k[i] ^ 0x5c;
    }
    h->ctx = ctx;
    md_init(ctx);
    md_update(ctx, ipad, sizeof ipad);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(ipad, sizeof ipad);
}

static void hmac_feed(hmac_t *h, const void *p, size_t n)
{
    md_update(h->ctx, p, n);
}

static void hmac_end(hmac_t *h, unsigned char out[SHA256_LEN])
{
    unsigned char inner[SHA256_LEN];
    md_final(h->ctx, inner);
    md_init(h->ctx);
    md_update(h->ctx, h->opad, sizeof h->opad);
    md_update(h->ctx, inner, sizeof inner);
    md_final(h->ctx, out);
    OPENSSL_cleanse(h->opad, sizeof h->opad);
    OPENSSL_cleanse(inner, sizeof inner);
}

/* HMAC-SHA256 of the string data under key. */
static void hmac_str(EVP_MD_CTX *ctx, const void *key, size_t keylen, const char *data,
                     unsigned char out[SHA256_LEN])
{
    hmac_t h;
    hmac_begin(&h, ctx, key, keylen);
    hmac_feed(&h, data, strlen(data));
    hmac_end(&h, out);
}

/* ---- the canonical request, hashed as it is written ---- */

/* Where the canonical request goes: a small buffer fed to SHA-256 when full,
 * so a request of any size needs no allocation. */
typedef struct sink {
    EVP_MD_CTX *ctx;
    size_t len;
    char buf[SINK_BUF];
} sink_t;

static void sink_flush(sink_t *k)
{
    md_update(k->ctx, k->buf, k->len);
    k->len = 0;
}

static void sink_put(sink_t *k, const void *p, size_t n)
{
    if (n > sizeof k->buf - k->len) {
        sink_flush(k);
        if (n >= sizeof k->buf) {
            md_update(k->ctx, p, n);
            return;
        }
    }
    memcpy(k->buf + k->len, p, n);
    k->len += n;
}

static void sink_puts(sink_t *k, const char *s)
{
    sink_put(k, s, strlen(s));
}

/* UriEncode (wire doc 1.1) p[0..n) into out, which has room for 3n bytes:
 * every byte but A-Z a-z 0-9 - _ . ~ as %XX in uppercase hex. Returns the
 * length written. */
static size_t uri_encode(char *out, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (is_unreserved(p[i])) {
            out[o++] = (char)p[i];
        } else {
            out[o++] = '%';
            out[o++] = hex[p[i] >> 4];
            out[o++] = hex[p[i] & 15];
        }
    }
    return o;
}

/* Write p[0..n) UriEncoded. */
static void sink_put_encoded(sink_t *k, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t chunk = n < SINK_BUF / 3 ? n : SINK_BUF / 3;
        if (3 * chunk > sizeof k->buf - k->len)
            sink_flush(k);
        k->len += uri_encode(k->buf + k->len, p, chunk);
        p += chunk;
        n -= chunk;
    }
}

/* The byte of the escape %XY at p (p[0] == '%', n bytes available), or -1. */
static int escape_at(const char *p, size_t n)
{
    if (n < 3)
        return -1;
    int hi = util_hexval(p[1]);
    int lo = util_hexval(p[2]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Percent-decode [p, p+n) (only %XX: a '+' stays a '+') and UriEncode the
 * bytes into out (room for 3n). Returns the length, or -1 on a malformed
 * escape. */
static long reencode(char *out, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%') {
            int v = escape_at(p + i, n - i);
            if (v < 0)
                return -1;
            c = (unsigned char)v;
            i += 2;
        }
        o += uri_encode(out + o, &c, 1);
    }
    return (long)o;
}

/* The canonical URI of a non-S3 service: the wire path with '.' and '..'
 * segments removed and empty segments collapsed (a trailing '/' kept), then
 * UriEncoded once more with '/' kept - what botocore and the JS signer do. */
static void put_canonical_uri(sink_t *k, const char *path, size_t len)
{
    span_t stack[PATH_SEGMENTS_STACK];
    span_t *segs = stack;
    size_t nmax = 1;
    size_t nseg = 0;

    for (size_t i = 0; i < len; i++)
        nmax += path[i] == '/';
    if (nmax > PATH_SEGMENTS_STACK)
        segs = xmalloc(nmax * sizeof *segs);
    const char *p = path;
    const char *end = path + len;
    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *e = slash != NULL ? slash : end;
        size_t n = (size_t)(e - p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (nseg > 0)
                nseg--;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            segs[nseg].p = p;
            segs[nseg].n = n;
            nseg++;
        }
        if (slash == NULL)
            break;
        p = slash + 1;
    }

    int wrote = 0;
    if (len > 0 && path[0] == '/') {
        sink_put(k, "/", 1);
        wrote = 1;
    }
    for (size_t i = 0; i < nseg; i++) {
        if (i > 0)
            sink_put(k, "/", 1);
        sink_put_encoded(k, (const unsigned char *)segs[i].p, segs[i].n);
        wrote = 1;
    }
    if (nseg > 0 && len > 0 && path[len - 1] == '/')
        sink_put(k, "/", 1);
    if (!wrote)
        sink_put(k, "/", 1);
    if (segs != stack)
        free(segs);
}

/* The canonical URI of S3: the path as sent, each byte UriEncoded exactly
 * once. A wire path is decoded and encoded again, so that the client's
 * choice of escapes (%7E or ~, lowercase hex) does not matter; a raw '/'
 * separates segments and stays, an escaped one (%2F, part of a key) stays
 * escaped; nothing is normalised ("a/../b" and "a//b" are keys). Returns 0,
 * or STS_EMALFORMED on a malformed escape. */
static int put_s3_uri(sink_t *k, const char *path, size_t len, char *msg, size_t msgsz)
{
    if (len == 0) {
        sink_put(k, "/", 1);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '/') {
            sink_put(k, "/", 1);
            continue;
        }
        if (c == '%') {
            int v = escape_at(path + i, len - i);
            if (v < 0)
                return fail(msg, msgsz, STS_EMALFORMED,
                            "The request path has a malformed percent-escape.");
            c = (unsigned char)v;
            i += 2;
        }
        sink_put_encoded(k, &c, 1);
    }
    return 0;
}

/* One parameter of the canonical query: offsets into the re-encoded text. */
typedef struct qpair {
    const char *name; /* UriEncoded, NUL-terminated; the value follows the NUL */
    const char *value;
} qpair_t;

/* qsort order of the canonical query: by encoded name, then encoded value. */
static int qpair_cmp(const void *x, const void *y)
{
    const qpair_t *a = x;
    const qpair_t *b = y;
    int c = strcmp(a->name, b->name);
    return c != 0 ? c : strcmp(a->value, b->value);
}

/* The canonical query string: every name=value pair decoded and re-encoded,
 * a bare name as "name=", sorted by name then value, X-Amz-Signature left
 * out. Returns 0, or STS_EMALFORMED with a message. */
static int put_canonical_query(sink_t *k, const char *query, char *msg, size_t msgsz)
{
    size_t qlen = query != NULL ? strlen(query) : 0;
    qpair_t pair_stack[QUERY_PAIRS_STACK];
    char text_stack[QUERY_TEXT_STACK];
    qpair_t *pairs = pair_stack;
    char *text = text_stack;
    size_t nmax = 1;
    size_t npairs = 0;
    size_t used = 0;
    int rc = STS_EMALFORMED;

    if (qlen == 0)
        return 0;
    if (qlen > QUERY_MAX)
        return fail(msg, msgsz, STS_EMALFORMED, "The query string is longer than %d bytes.",
                    QUERY_MAX);
    for (size_t i = 0; i < qlen; i++)
        nmax += query[i] == '&';
    /* Each byte grows to at most 3; each pair adds two NULs. */
    size_t text_size = 3 * qlen + 2 * nmax;
    if (nmax > QUERY_PAIRS_STACK)
        pairs = xmalloc(nmax * sizeof *pairs);
    if (text_size > QUERY_TEXT_STACK)
        text = xmalloc(text_size);

    const char *p = query;
    const char *end = query + qlen;
    for (;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp != NULL ? amp : end;
        if (e > p) {
            const char *eq = memchr(p, '=', (size_t)(e - p));
            const char *name_end = eq != NULL ? eq : e;
            const char *v = eq != NULL ? eq + 1 : e;
            char *name = text + used;
            long nlen = reencode(name, p, (size_t)(name_end - p));
            long vlen = nlen < 0 ? -1 : reencode(name + nlen + 1, v, (size_t)(e - v));
            if (nlen < 0 || vlen < 0) {
                rc = fail(msg, msgsz, STS_EMALFORMED,
                          "The query string has a malformed percent-escape.");
                goto out;
            }
            name[nlen] = '\0';
            name[nlen + 1 + vlen] = '\0';
            if (strcmp(name, "X-Amz-Signature") != 0) {
                pairs[npairs].name = name;
                pairs[npairs].value = name + nlen + 1;
                npairs++;
                used += (size_t)nlen + (size_t)vlen + 2;
            }
        }
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    qsort(pairs, npairs, sizeof *pairs, qpair_cmp);
    for (size_t i = 0; i < npairs; i++) {
        if (i > 0)
            sink_put(k, "&", 1);
        sink_puts(k, pairs[i].name);
        sink_put(k, "=", 1);
        sink_puts(k, pairs[i].value);
    }
    rc = 0;
out:
    if (pairs != pair_stack)
        free(pairs);
    if (text != text_stack)
        free(text);
    return rc;
}

/* Write a header value trimmed, with each run of whitespace inside it
 * collapsed to one space. */
static void put_trimmed(sink_t *k, const char *v)
{
    int pending = 0;
    int wrote = 0;

    while (*v != '\0') {
        if (is_ws(*v)) {
            pending = 1;
            v++;
            continue;
        }
        size_t run = 0;
        while (v[run] != '\0' && !is_ws(v[run]))
            run++;
        if (pending && wrote)
            sink_put(k, " ", 1);
        sink_put(k, v, run);
        pending = 0;
        wrote = 1;
        v += run;
    }
}

/* Compare a received header name, case-insensitively, with a lowercase
 * signed name: <0, 0 or >0 like strcmp. */
static int name_cmp(const char *received, span_t name)
{
    for (size_t i = 0; i < name.n; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)received[i]);
        if (c != (unsigned char)name.p[i])
            return c < (unsigned char)name.p[i] ? -1 : 1;
    }
    return received[name.n] == '\0' ? 0 : 1;
}

/* The signed header lines of a request, gathered in one walk over its
 * headers: which signed name each is (index into a->names), in received
 * order. */
typedef struct header_lines {
    const authz_t *a;
    struct {
        int name;
        const char *value;
    } line[HEADER_LINES_MAX];
    int n;
    int full;
} header_lines_t;

/* http_header_each callback: keep the header if SignedHeaders lists it
 * (binary search: the names are sorted). */
static int collect_header(void *ctx, const char *name, const char *value)
{
    header_lines_t *h = ctx;
    int lo = 0, hi = h->a->nnames - 1;

    if (name == NULL)
        return 0;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, h->a->names[mid]);
        if (c == 0) {
            if (h->n == HEADER_LINES_MAX) {
                h->full = 1;
                return 1;
            }
            h->line[h->n].name = mid;
            h->line[h->n].value = value != NULL ? value : "";
            h->n++;
            return 0;
        }
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return 0;
}

/* The canonical headers block: "name:values\n" for each signed name in
 * SignedHeaders order (already sorted), repeated headers joined by ',' in
 * received order. */
static int put_canonical_headers(sink_t *k, const http_req_t *req, const authz_t *a, char *msg,
                                 size_t msgsz)
{
    header_lines_t h;

    h.a = a;
    h.n = 0;
    h.full = 0;
    http_header_each(req, collect_header, &h);
    if (h.full)
        return fail(msg, msgsz, STS_EMALFORMED, "The request has more than %d signed header lines.",
                    HEADER_LINES_MAX);
    for (int i = 0; i < a->nnames; i++) {
        int count = 0;
        sink_put(k, a->names[i].p, a->names[i].n);
        sink_put(k, ":", 1);
        for (int j = 0; j < h.n; j++) {
            if (h.line[j].name != i)
                continue;
            if (count > 0)
                sink_put(k, ",", 1);
            put_trimmed(k, h.line[j].value);
            count++;
        }
        if (count == 0)
            return fail(msg, msgsz, STS_EMALFORMED,
                        "The signed header '%.*s' is not in the request.", (int)a->names[i].n,
                        a->names[i].p);
        sink_put(k, "\n", 1);
    }
    return 0;
}

/* ---- parsing the authentication parameters ---- */

/* Copy [p, p+n) into out (size outsz) if it fits and is 1 or more printable
 * characters without spaces. Returns 0 or -1. */
static int copy_part(char *out, size_t outsz, const char *p, size_t n)
{
    if (n == 0 || n >= outsz)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
            return -1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* Credential=<akid>/<date>/<region>/<service>/<terminator>. Scope mismatches
 * are judged later (STS_ESCOPE); here only the form. Returns 0 or `code`. */
static int parse_credential(authz_t *a, const char *v, size_t n, int code, char *msg, size_t msgsz)
{
    const char *part[5];
    size_t len[5];
    const char *p = v;
    const char *end = v + n;
    int slashes = 0;

    for (size_t i = 0; i < n; i++)
        slashes += v[i] == '/';
    if (slashes != 4)
        goto bad;
    for (int k = 0; k < 5; k++) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *e = slash != NULL ? slash : end;
        part[k] = p;
        len[k] = (size_t)(e - p);
        p = e + (slash != NULL);
    }
    if (copy_part(a->akid, sizeof a->akid, part[0], len[0]) != 0 ||
        copy_part(a->date, sizeof a->date, part[1], len[1]) != 0 || len[1] != 8 ||
        copy_part(a->region, sizeof a->region, part[2], len[2]) != 0 ||
        copy_part(a->service, sizeof a->service, part[3], len[3]) != 0 ||
        copy_part(a->terminator, sizeof a->terminator, part[4], len[4]) != 0)
        goto bad;
    for (int i = 0; i < 8; i++) {
        if (a->date[i] < '0' || a->date[i] > '9')
            goto bad;
    }
    return 0;
bad:
    return fail(msg, msgsz, code,
                "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/"
                "aws4_request.");
}

/* SignedHeaders=a;b;c: lowercase names, sorted, no duplicates. v[0..n)
 * must stay valid while a is used (the names point into it). Returns 0 or
 * `code`. */
static int parse_signed_headers(authz_t *a, const char *v, size_t n, int code, char *msg,
                                size_t msgsz)
{
    if (n == 0 || n >= AUTHZ_MAX)
        return fail(msg, msgsz, code, "SignedHeaders is empty or too long.");
    a->signed_headers.p = v;
    a->signed_headers.n = n;
    a->nnames = 0;

    const char *p = v;
    const char *end = v + n;
    for (;;) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *e = semi != NULL ? semi : end;
        span_t name = {p, (size_t)(e - p)};
        if (name.n == 0 || name.n > HEADER_NAME_MAX)
            return fail(msg, msgsz, code, "SignedHeaders has an empty or overlong header name.");
        for (size_t i = 0; i < name.n; i++) {
            if (!is_name_char(name.p[i]))
                return fail(msg, msgsz, code,
                            "SignedHeaders must list lowercase header names separated by ';'.");
        }
        if (a->nnames == SIGNED_HEADERS_MAX)
            return fail(msg, msgsz, code, "SignedHeaders lists more than %d headers.",
                        SIGNED_HEADERS_MAX);
        if (a->nnames > 0) {
            span_t prev = a->names[a->nnames - 1];
            size_t m = prev.n < name.n ? prev.n : name.n;
            int c = memcmp(prev.p, name.p, m);
            if (c > 0 || (c == 0 && prev.n >= name.n))
                return fail(msg, msgsz, code,
                            "SignedHeaders must be sorted and must not repeat a name.");
        }
        a->names[a->nnames++] = name;
        if (semi == NULL)
            break;
        p = semi + 1;
    }
    return 0;
}

/* Signature=<64 lowercase hex>. Returns 0 or `code`. */
static int parse_signature(authz_t *a, const char *v, size_t n, int code, char *msg, size_t msgsz)
{
    if (n != SHA256_HEX || !is_lower_hex(v, n))
        return fail(msg, msgsz, code, "Signature must be 64 lowercase hexadecimal characters.");
    memcpy(a->signature, v, n);
    a->signature[n] = '\0';
    return 0;
}

/* Parse "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...":
 * the parts in any order, separated by ',' with optional whitespace; each
 * exactly once; nothing else. h must outlive a. */
static int parse_authorization(const char *h, authz_t *a, char *msg, size_t msgsz)
{
    static const char *const part_names[3] = {"Credential", "SignedHeaders", "Signature"};
    int seen[3] = {0, 0, 0};
    size_t alg = strlen(ALGORITHM);

    if (strlen(h) > AUTHZ_MAX)
        return fail(msg, msgsz, STS_EMALFORMED, "The Authorization header is longer than %d bytes.",
                    AUTHZ_MAX);
    if (strncmp(h, ALGORITHM, alg) != 0 || !is_ws(h[alg]))
        return fail(msg, msgsz, STS_EMALFORMED,
                    "Only AWS4-HMAC-SHA256 (SigV4) Authorization headers are accepted.");

    const char *p = h + alg;
    for (;;) {
        while (is_ws(*p))
            p++;
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *last = end;
        while (last > p && is_ws(last[-1]))
            last--;
        const char *eq = memchr(p, '=', (size_t)(last - p));
        if (eq == NULL)
            return fail(msg, msgsz, STS_EMALFORMED,
                        "Authorization header part '%.*s' is not of the form name=value.",
                        (int)((last - p) < ECHO_MAX ? (last - p) : ECHO_MAX), p);
        span_t name = {p, (size_t)(eq - p)};
        const char *v = eq + 1;
        size_t vlen = (size_t)(last - v);
        int which = -1;
        for (int i = 0; i < 3; i++) {
            if (span_eq(name, part_names[i]))
                which = i;
        }
        if (which < 0)
            return fail(msg, msgsz, STS_EMALFORMED,
                        "Unknown part '%.*s' in the Authorization header.",
                        (int)(name.n < ECHO_MAX ? name.n : ECHO_MAX), p);
        if (seen[which])
            return fail(msg, msgsz, STS_EMALFORMED,
                        "The Authorization header has '%s' more than once.", part_names[which]);
        seen[which] = 1;
        int rc;
        if (which == 0)
            rc = parse_credential(a, v, vlen, STS_EMALFORMED, msg, msgsz);
        else if (which == 1)
            rc = parse_signed_headers(a, v, vlen, STS_EMALFORMED, msg, msgsz);
        else
            rc = parse_signature(a, v, vlen, STS_EMALFORMED, msg, msgsz);
        if (rc != 0)
            return rc;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    for (int i = 0; i < 3; i++) {
        if (!seen[i])
            return fail(msg, msgsz, STS_EMALFORMED, "Authorization header requires '%s' parameter.",
                        part_names[i]);
    }
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no time zone or libc quirk is involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parse YYYYMMDD'T'HHMMSS'Z' into seconds since the epoch. Returns 0 or -1
 * (wrong form, or a date that does not exist). */
static int parse_amz_date(const char *s, int64_t *t)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (strlen(s) != AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return -1;
    int y = util_digits(s, 4), mo = util_digits(s + 4, 2), d = util_digits(s + 6, 2);
    int h = util_digits(s + 9, 2), mi = util_digits(s + 11, 2), se = util_digits(s + 13, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
        se > 59)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    *t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

/* Format t as YYYYMMDD'T'HHMMSS'Z' into out[17]. */
static void format_amz_date(int64_t t, char out[AMZ_DATE_LEN + 1])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) == 0)
        snprintf(out, AMZ_DATE_LEN + 1, "?");
}

/* 1 if SignedHeaders lists `name`. */
static int has_name(const authz_t *a, const char *name)
{
    for (int i = 0; i < a->nnames; i++) {
        if (span_eq(a->names[i], name))
            return 1;
    }
    return 0;
}

/* The header form: Authorization, X-Amz-Date, and the token and payload
 * headers. */
static int from_header(const http_req_t *req, const char *h, authz_t *a, char *msg, size_t msgsz)
{
    int rc = parse_authorization(h, a, msg, msgsz);
    if (rc != 0)
        return rc;
    const char *amz_date = http_header(req, "X-Amz-Date");
    if (amz_date == NULL)
        return fail(msg, msgsz, STS_EMALFORMED,
                    "Authorization header requires existence of an 'X-Amz-Date' header.");
    if (parse_amz_date(amz_date, &a->t) != 0)
        return fail(msg, msgsz, STS_EMALFORMED,
                    "X-Amz-Date '%.*s' is not a valid date of the form YYYYMMDD'T'HHMMSS'Z'.",
                    ECHO_MAX, amz_date);
    memcpy(a->amz_date, amz_date, AMZ_DATE_LEN + 1);
    if (!has_name(a, "host"))
        return fail(msg, msgsz, STS_EMALFORMED,
                    "'Host' must be a 'SignedHeader' in the AWS Authorization.");
    if (!has_name(a, "x-amz-date"))
        return fail(msg, msgsz, STS_EMALFORMED,
                    "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
    a->token = http_header(req, "X-Amz-Security-Token");
    a->declared = http_header(req, "x-amz-content-sha256");
    return 0;
}

/* The query parameters of the presigned form, by index. */
enum {
    Q_ALGORITHM,
    Q_CREDENTIAL,
    Q_DATE,
    Q_EXPIRES,
    Q_SIGNED_HEADERS,
    Q_SIGNATURE,
    Q_TOKEN,
    Q_CONTENT_SHA256, /* matched without regard to case: the S3 presigner hoists it lowercase */
    Q_COUNT
};
static const char *const query_names[Q_COUNT] = {
    "X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",           "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Security-Token", "X-Amz-Content-Sha256",
};

/* The raw (still percent-encoded) values of the presigned-form parameters,
 * and how often each appeared. */
typedef struct query_auth {
    span_t raw[Q_COUNT];
    int count[Q_COUNT];
} query_auth_t;

/* Find the presigned-form parameters in a raw query (names compared as sent:
 * every signer sends them unencoded). */
static void scan_query(const char *query, query_auth_t *q)
{
    memset(q, 0, sizeof *q);
    if (query == NULL)
        return;
    const char *p = query;
    for (;;) {
        const char *e = strchr(p, '&');
        if (e == NULL)
            e = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(e - p));
        span_t name = {p, (size_t)((eq != NULL ? eq : e) - p)};
        /* Every one of them starts with X-Amz- in some case. */
        if (name.n > 6 && strncasecmp(p, "X-Amz-", 6) == 0) {
            for (int i = 0; i < Q_COUNT; i++) {
                int same = i == Q_CONTENT_SHA256 ? name.n == strlen(query_names[i]) &&
                                                       strncasecmp(p, query_names[i], name.n) == 0
                                                 : span_eq(name, query_names[i]);
                if (same) {
                    q->raw[i].p = eq != NULL ? eq + 1 : e;
                    q->raw[i].n = (size_t)(e - q->raw[i].p);
                    q->count[i]++;
                    break;
                }
            }
        }
        if (*e == '\0')
            break;
        p = e + 1;
    }
}

/* Percent-decode a raw query value into out (size outsz, NUL-terminated).
 * Returns the length, or -1 if malformed, too long or holding a NUL (which
 * would make the value read as C text differ from the value signed). */
static long decode_value(span_t raw, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < raw.n; i++) {
        int c = (unsigned char)raw.p[i];
        if (c == '%') {
            c = escape_at(raw.p + i, raw.n - i);
            if (c <= 0)
                return -1;
            i += 2;
        }
        if (o + 1 >= outsz)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

/* The presigned form: every parameter present once and well formed. */
static int from_query(const query_auth_t *q, authz_t *a, char *msg, size_t msgsz)
{
    char value[CREDENTIAL_MAX];
    long n;

    a->presigned = 1;
    for (int i = 0; i < Q_COUNT; i++) {
        if (q->count[i] > 1)
            return fail(msg, msgsz, STS_EQUERYPARAMS, "The query parameter %s appears %d times.",
                        query_names[i], q->count[i]);
    }
    for (int i = 0; i <= Q_SIGNATURE; i++) {
        if (q->count[i] == 0)
            return fail(msg, msgsz, STS_EQUERYPARAMS, "%s", query_missing);
    }

    n = decode_value(q->raw[Q_ALGORITHM], value, sizeof value);
    if (n < 0 || strcmp(value, ALGORITHM) != 0)
        return fail(msg, msgsz, STS_EQUERYPARAMS,
                    "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");

    n = decode_value(q->raw[Q_CREDENTIAL], value, sizeof value);
    if (n < 0)
        return fail(msg, msgsz, STS_EQUERYPARAMS, "X-Amz-Credential is malformed or too long.");
    int rc = parse_credential(a, value, (size_t)n, STS_EQUERYPARAMS, msg, msgsz);
    if (rc != 0)
        return rc;

    n = decode_value(q->raw[Q_DATE], a->amz_date, sizeof a->amz_date);
    if (n < 0 || parse_amz_date(a->amz_date, &a->t) != 0)
        return fail(msg, msgsz, STS_EQUERYPARAMS,
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");

    n = decode_value(q->raw[Q_EXPIRES], value, sizeof value);
    int digits_only = n > 0 && n <= 18;
    for (long i = 0; digits_only && i < n; i++)
        digits_only = value[i] >= '0' && value[i] <= '9';
    if (!digits_only)
        return fail(msg, msgsz, STS_EQUERYPARAMS, "X-Amz-Expires should be a number");
    a->expires = strtoll(value, NULL, 10);
    if (a->expires < 1)
        return fail(msg, msgsz, STS_EQUERYPARAMS, "X-Amz-Expires must be at least 1 second");
    if (a->expires > MAX_EXPIRES)
        return fail(msg, msgsz, STS_EQUERYPARAMS,
                    "X-Amz-Expires must be less than a week (in seconds) that is %d", MAX_EXPIRES);

    n = decode_value(q->raw[Q_SIGNED_HEADERS], a->sh_buf, sizeof a->sh_buf);
    if (n < 0)
        return fail(msg, msgsz, STS_EQUERYPARAMS, "X-Amz-SignedHeaders is malformed or too long.");
    rc = parse_signed_headers(a, a->sh_buf, (size_t)n, STS_EQUERYPARAMS, msg, msgsz);
    if (rc != 0)
        return rc;
    if (!has_name(a, "host"))
        return fail(msg, msgsz, STS_EQUERYPARAMS, "X-Amz-SignedHeaders must include 'host'.");

    n = decode_value(q->raw[Q_SIGNATURE], value, sizeof value);
    if (n < 0)
        return fail(msg, msgsz, STS_EQUERYPARAMS, "X-Amz-Signature is malformed.");
    rc = parse_signature(a, value, (size_t)n, STS_EQUERYPARAMS, msg, msgsz);
    if (rc != 0)
        return rc;

    if (q->count[Q_TOKEN] == 1) {
        a->token_size = q->raw[Q_TOKEN].n + 1;
        a->token_buf = xmalloc(a->token_size);
        if (decode_value(q->raw[Q_TOKEN], a->token_buf, a->token_size) < 0)
            return fail(msg, msgsz, STS_EQUERYPARAMS, "X-Amz-Security-Token is malformed.");
        a->token = a->token_buf;
    }
    if (q->count[Q_CONTENT_SHA256] == 1) {
        if (decode_value(q->raw[Q_CONTENT_SHA256], a->declared_buf, sizeof a->declared_buf) < 0)
            return fail(msg, msgsz, STS_EQUERYPARAMS,
                        "X-Amz-Content-Sha256 must be UNSIGNED-PAYLOAD or a SHA-256 in hex.");
        a->declared = a->declared_buf;
    }
    return 0;
}

/* ---- checks ---- */

/* X-Amz-Date against now: within 15 minutes (header form); for a presigned
 * URL, not more than 15 minutes ahead and not past its expiry. */
static int check_time(const authz_t *a, int64_t now, char *msg, size_t msgsz)
{
    char bound[AMZ_DATE_LEN + 1], cur[AMZ_DATE_LEN + 1];

    if (a->t > now + MAX_SKEW) {
        format_amz_date(now + MAX_SKEW, bound);
        format_amz_date(now, cur);
        return fail(msg, msgsz, STS_ESKEW,
                    "Signature not yet current: %s is still later than %s (%s + 15 min.)",
                    a->amz_date, bound, cur);
    }
    if (a->presigned) {
        if (now > a->t + a->expires)
            return fail(msg, msgsz, STS_EEXPIRED, "%s", presign_expired);
        return 0;
    }
    if (a->t < now - MAX_SKEW) {
        format_amz_date(now - MAX_SKEW, bound);
        format_amz_date(now, cur);
        return fail(msg, msgsz, STS_ESKEW,
                    "Signature expired: %s is now earlier than %s (%s - 15 min.)", a->amz_date,
                    bound, cur);
    }
    return 0;
}

/* The credential scope against the request: date, our region, the service
 * called, the terminator. */
static int check_scope(const sts_t *s, const authz_t *a, const char *service, char *msg,
                       size_t msgsz)
{
    if (strncmp(a->date, a->amz_date, 8) != 0)
        return fail(msg, msgsz, STS_ESCOPE,
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                    "date from HTTP: '%s' != '%.8s', from '%s'.",
                    a->date, a->amz_date, a->amz_date);
    if (strcmp(a->region, s->region) != 0)
        return fail(msg, msgsz, STS_ESCOPE,
                    "Credential should be scoped to a valid region: '%s' is not '%s'.", a->region,
                    s->region);
    if (strcmp(a->service, service) != 0)
        return fail(msg, msgsz, STS_ESCOPE, "Credential should be scoped to correct service: '%s'.",
                    service);
    if (strcmp(a->terminator, TERMINATOR) != 0)
        return fail(msg, msgsz, STS_ESCOPE,
                    "Credential should be scoped with a valid terminator: 'aws4_request', not "
                    "'%s'.",
                    a->terminator);
    return 0;
}

/* The payload line of the canonical request into out (see the rules at the
 * top of the file). */
static int payload_hash(EVP_MD_CTX *ctx, const http_req_t *req, const authz_t *a,
                        const char *service, int s3, char out[PAYLOAD_MAX + 1], char *msg,
                        size_t msgsz)
{
    char actual[SHA256_HEX + 1];
    const char *d = a->declared;

    if (d == NULL && s3 && !a->presigned)
        return fail(msg, msgsz, STS_EMALFORMED, "%s", s3_missing_sha256);
    if (d == NULL && s3) {
        memcpy(out, "UNSIGNED-PAYLOAD", sizeof "UNSIGNED-PAYLOAD");
        return 0;
    }
    if (d == NULL || is_sha256_hex(d)) {
        sha256_hex(ctx, req->body, req->body_len, actual);
        if (d == NULL) {
            memcpy(out, actual, sizeof actual);
            return 0;
        }
        if (strncasecmp(d, actual, SHA256_HEX) != 0)
            return fail(msg, msgsz, STS_ESIGNATURE, "%s",
                        s3 ? s3_sha256_mismatch
                           : "The x-amz-content-sha256 header does not match the SHA-256 of the "
                             "request body.");
        memcpy(out, d, SHA256_HEX + 1);
        return 0;
    }
    int unsigned_payload = strcmp(d, "UNSIGNED-PAYLOAD") == 0;
    if (unsigned_payload && (s3 || a->presigned)) {
        memcpy(out, d, sizeof "UNSIGNED-PAYLOAD");
        return 0;
    }
    if (s3 && strcmp(d, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 0) {
        memcpy(out, d, sizeof "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
        return 0;
    }
    if (s3 && (util_startswith(d, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") ||
               util_startswith(d, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")))
        return fail(msg, msgsz, STS_EMALFORMED, "%s", s3_chunk_signed);
    if (s3)
        return fail(msg, msgsz, STS_EMALFORMED, "%s", s3_bad_sha256);
    if (unsigned_payload)
        return fail(msg, msgsz, STS_ESIGNATURE,
                    "UNSIGNED-PAYLOAD is not accepted by service '%s': sign the SHA-256 of the "
                    "body.",
                    service);
    return fail(msg, msgsz, STS_ESIGNATURE,
                "x-amz-content-sha256 must be the hex SHA-256 of the body for service '%s'.",
                service);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request") */
static void derive_key(EVP_MD_CTX *ctx, const char *secret, const authz_t *a,
                       unsigned char out[STS_SIGNING_KEY_LEN])
{
    char k0[4 + STS_SECRET_MAX + 1];
    unsigned char x[SHA256_LEN], y[SHA256_LEN];
    size_t n = strlen(secret);

    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, n);
    hmac_str(ctx, k0, 4 + n, a->date, x);
    hmac_str(ctx, x, sizeof x, a->region, y);
    hmac_str(ctx, y, sizeof y, a->service, x);
    hmac_str(ctx, x, sizeof x, TERMINATOR, out);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(x, sizeof x);
    OPENSSL_cleanse(y, sizeof y);
}

/* The signing key for cred and the scope in a, from the cache or derived
 * (and then cached, evicting the least recently used slot). */
static void signing_key(sts_t *s, EVP_MD_CTX *ctx, const sts_cred_t *cred, const authz_t *a,
                        unsigned char out[STS_SIGNING_KEY_LEN])
{
    int hit = 0;

    pthread_mutex_lock(&s->cache_lock);
    for (int i = 0; i < STS_KEY_CACHE_SLOTS; i++) {
        sts_key_slot_t *k = &s->cache[i];
        if (k->valid && strcmp(k->access_key_id, cred->access_key_id) == 0 &&
            strcmp(k->date, a->date) == 0 && strcmp(k->region, a->region) == 0 &&
            strcmp(k->service, a->service) == 0) {
            memcpy(out, k->key, STS_SIGNING_KEY_LEN);
            k->used = ++s->cache_tick;
            hit = 1;
            break;
        }
    }
    pthread_mutex_unlock(&s->cache_lock);
    if (hit)
        return;

    /* Derive outside the lock: four HMACs need not hold up other threads. */
    derive_key(ctx, cred->secret, a, out);

    pthread_mutex_lock(&s->cache_lock);
    sts_key_slot_t *victim = &s->cache[0];
    for (int i = 0; i < STS_KEY_CACHE_SLOTS; i++) {
        sts_key_slot_t *k = &s->cache[i];
        if (!k->valid) {
            victim = k;
            break;
        }
        if (k->used < victim->used)
            victim = k;
    }
    OPENSSL_cleanse(victim, sizeof *victim);
    victim->valid = 1;
    victim->used = ++s->cache_tick;
    memcpy(victim->access_key_id, cred->access_key_id, strlen(cred->access_key_id) + 1);
    memcpy(victim->date, a->date, sizeof victim->date);
    memcpy(victim->region, a->region, sizeof victim->region);
    memcpy(victim->service, a->service, sizeof victim->service);
    memcpy(victim->key, out, STS_SIGNING_KEY_LEN);
    pthread_mutex_unlock(&s->cache_lock);
}

/* Copy s into a fixed array of size n, truncating (never expected: sts_open
 * keeps key ids and account ids within the caller's limits). */
static void copy_field(char *dst, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len >= n)
        len = n - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* The canonical request (wire doc 1.1), six lines, hashed into hex. */
static int canonical_hash(EVP_MD_CTX *ctx, const http_req_t *req, const authz_t *a, int s3,
                          const char *payload, char out[SHA256_HEX + 1], char *msg, size_t msgsz)
{
    sink_t k;
    const char *path = req->path != NULL ? req->path : "";
    size_t path_len = req->path != NULL ? req->path_len : 0;
    int rc;

    if (req->method_name == NULL || req->method_name[0] == '\0')
        return fail(msg, msgsz, STS_EMALFORMED, "The request has no method.");
    k.ctx = ctx;
    k.len = 0;
    md_init(ctx);
    sink_puts(&k, req->method_name);
    sink_put(&k, "\n", 1);
    if (s3) {
        rc = put_s3_uri(&k, path, path_len, msg, msgsz);
        if (rc != 0)
            return rc;
    } else {
        put_canonical_uri(&k, path, path_len);
    }
    sink_put(&k, "\n", 1);
    rc = put_canonical_query(&k, req->query, msg, msgsz);
    if (rc != 0)
        return rc;
    sink_put(&k, "\n", 1);
    rc = put_canonical_headers(&k, req, a, msg, msgsz);
    if (rc != 0)
        return rc;
    sink_put(&k, "\n", 1);
    sink_put(&k, a->signed_headers.p, a->signed_headers.n);
    sink_put(&k, "\n", 1);
    sink_puts(&k, payload);
    sink_flush(&k);

    unsigned char md[SHA256_LEN];
    md_final(ctx, md);
    util_hex(md, sizeof md, out);
    return 0;
}

int sts_verify(sts_t *s, const http_req_t *req, const char *service, int64_t now,
               http_caller_t *caller, char *msg, size_t msgsz)
{
    authz_t a;
    query_auth_t q;
    sts_cred_t session;
    const sts_cred_t *cred = NULL;
    int session_used = 0;
    int s3 = strcmp(service, "s3") == 0;
    EVP_MD_CTX *ctx = NULL;
    int rc;

    memset(&a, 0, offsetof(authz_t, sh_buf));
    if (msg != NULL && msgsz > 0)
        msg[0] = '\0';

    /* Which form: the Authorization header, or the presigned parameters. */
    const char *h = http_header(req, "Authorization");
    scan_query(req->query, &q);
    if (h != NULL && (q.count[Q_ALGORITHM] > 0 || q.count[Q_CREDENTIAL] > 0)) {
        rc = fail(msg, msgsz, STS_EMALFORMED, "%s", two_auth_forms);
        goto out;
    }
    if (h != NULL)
        rc = from_header(req, h, &a, msg, msgsz);
    else if (q.count[Q_ALGORITHM] > 0 || q.count[Q_CREDENTIAL] > 0 || q.count[Q_SIGNATURE] > 0)
        rc = from_query(&q, &a, msg, msgsz);
    else
        rc = fail(msg, msgsz, STS_EMISSING, "Missing Authentication Token");
    if (rc != 0)
        goto out;

    /* The cheap checks before any cryptography. */
    rc = check_time(&a, now, msg, msgsz);
    if (rc == 0)
        rc = check_scope(s, &a, service, msg, msgsz);
    if (rc != 0)
        goto out;

    /* The credential: root (or another long-term key), or a temporary one
     * whose secret travels sealed in its session token. */
    cred = sts_cred_lookup(s, a.akid);
    if (cred == NULL && strncmp(a.akid, "ASIA", 4) == 0) {
        if (a.token == NULL) {
            rc = fail(msg, msgsz, STS_EUNKNOWNKEY, "%s", invalid_token);
            goto out;
        }
        if (!a.presigned && !has_name(&a, "x-amz-security-token")) {
            rc = fail(msg, msgsz, STS_EMALFORMED,
                      "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
            goto out;
        }
        session_used = 1;
        rc = sts_session_open(s, a.akid, a.token, now, &session, caller);
        if (rc == STS_EEXPIRED) {
            rc = fail(msg, msgsz, STS_EEXPIRED, "%s", expired_token);
            goto out;
        }
        if (rc != 0) {
            rc = fail(msg, msgsz, STS_EUNKNOWNKEY, "%s", invalid_token);
            goto out;
        }
        cred = &session;
    } else if (cred == NULL || (cred->root && a.token != NULL)) {
        rc = fail(msg, msgsz, STS_EUNKNOWNKEY, "%s", invalid_token);
        goto out;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        fprintf(stderr, "cloudlet: out of memory\n");
        abort();
    }
    char payload[PAYLOAD_MAX + 1];
    rc = payload_hash(ctx, req, &a, service, s3, payload, msg, msgsz);
    if (rc != 0)
        goto out;
    char canon_hex[SHA256_HEX + 1];
    rc = canonical_hash(ctx, req, &a, s3, payload, canon_hex, msg, msgsz);
    if (rc != 0)
        goto out;

    /* The string to sign (wire doc 1.2), fed straight into the HMAC. */
    unsigned char key[STS_SIGNING_KEY_LEN], md[SHA256_LEN];
    char expected[SHA256_HEX + 1];
    hmac_t mac;
    signing_key(s, ctx, cred, &a, key);
    hmac_begin(&mac, ctx, key, sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    hmac_feed(&mac, ALGORITHM "\n", sizeof ALGORITHM);
    hmac_feed(&mac, a.amz_date, AMZ_DATE_LEN);
    hmac_feed(&mac, "\n", 1);
    hmac_feed(&mac, a.date, strlen(a.date));
    hmac_feed(&mac, "/", 1);
    hmac_feed(&mac, a.region, strlen(a.region));
    hmac_feed(&mac, "/", 1);
    hmac_feed(&mac, a.service, strlen(a.service));
    hmac_feed(&mac, "/" TERMINATOR "\n", sizeof TERMINATOR + 1);
    hmac_feed(&mac, canon_hex, SHA256_HEX);
    hmac_end(&mac, md);
    util_hex(md, sizeof md, expected);
    if (CRYPTO_memcmp(expected, a.signature, SHA256_HEX) != 0) {
        rc = fail(msg, msgsz, STS_ESIGNATURE, "%s", signature_mismatch);
        goto out;
    }

    if (session_used) {
        /* sts_session_open filled in the caller from the token; only the
         * key id is added, should it be missing. */
        if (caller->access_key_id[0] == '\0')
            copy_field(caller->access_key_id, sizeof caller->access_key_id, a.akid);
    } else {
        /* Field by field: the caller is kilobytes (the session policy
         * buffer) and this runs on every root request. */
        caller->root = cred->root;
        caller->role[0] = caller->identity_id[0] = caller->subject[0] = '\0';
        caller->session_policy[0] = '\0';
        caller->expires = 0;
        copy_field(caller->access_key_id, sizeof caller->access_key_id, cred->access_key_id);
        copy_field(caller->arn, sizeof caller->arn, cred->arn);
        copy_field(caller->user_id, sizeof caller->user_id, s->account_id);
        copy_field(caller->account, sizeof caller->account, s->account_id);
    }
    rc = 0;
out:
    /* A refused request leaves no half-filled caller behind. */
    if (rc != 0 && session_used)
        memset(caller, 0, sizeof *caller);
    if (session_used)
        OPENSSL_cleanse(&session, sizeof session);
    if (a.token_buf != NULL) {
        OPENSSL_cleanse(a.token_buf, a.token_size);
        free(a.token_buf);
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* ---- error shapes ---- */

/* One row of the error mapping: HTTP status, AWS code, and the message used
 * when the verifier gave none (or when the protocol has its own fixed text). */
typedef struct err_shape {
    int status;
    const char *code;
    const char *fixed; /* replaces the verifier's message when not NULL */
    const char *fallback;
} err_shape_t;

#define NCODES 9 /* STS_EMISSING .. STS_EQUERYPARAMS, indexed by -err - 1 */

static const err_shape_t json_shapes[NCODES] = {
    {403, "MissingAuthenticationTokenException", "Missing Authentication Token", NULL},
    {400, "IncompleteSignatureException", NULL,
     "The request signature does not conform to AWS standards."},
    {400, "UnrecognizedClientException", invalid_token, NULL},
    {400, "InvalidSignatureException", NULL, signature_mismatch},
    {400, "InvalidSignatureException", NULL, "Signature expired."},
    {400, "InvalidSignatureException", NULL,
     "Credential should be scoped to a valid region, service and date."},
    {403, "ExpiredTokenException", NULL, expired_token},
    {400, "AccessDeniedException", NULL,
     "You do not have sufficient access to perform this action."},
    {400, "IncompleteSignatureException", NULL,
     "The request signature does not conform to AWS standards."},
};

static const err_shape_t query_shapes[NCODES] = {
    {403, "MissingAuthenticationToken", "Request is missing Authentication Token", NULL},
    {400, "IncompleteSignature", NULL, "The request signature does not conform to AWS standards."},
    {403, "InvalidClientTokenId", invalid_token, NULL},
    {403, "SignatureDoesNotMatch", NULL, signature_mismatch},
    {403, "SignatureDoesNotMatch", NULL, "Signature expired."},
    {403, "SignatureDoesNotMatch", NULL,
     "Credential should be scoped to a valid region, service and date."},
    {403, "ExpiredToken", NULL, expired_token},
    {403, "AccessDenied", NULL, "You do not have sufficient access to perform this action."},
    {400, "IncompleteSignature", NULL, "The request signature does not conform to AWS standards."},
};

static const err_shape_t s3_shapes[NCODES] = {
    {403, "AccessDenied", "Access Denied", NULL},
    {400, "AuthorizationHeaderMalformed", NULL, "The authorization header is malformed."},
    {403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
     NULL},
    {403, "SignatureDoesNotMatch", NULL, signature_mismatch},
    {403, "RequestTimeTooSkewed",
     "The difference between the request time and the current time is too large.", NULL},
    {400, "AuthorizationHeaderMalformed", NULL, "The authorization header is malformed."},
    {400, "ExpiredToken", "The provided token has expired.", NULL},
    {403, "AccessDenied", "Access Denied", NULL},
    {400, "AuthorizationQueryParametersError", NULL,
     "Query-string authentication version 4 parameters are malformed."},
};

/* S3 answers some refusals with codes of their own; the verifier marks them
 * with these exact messages. */
static const struct {
    int err;
    const char *msg;
    err_shape_t shape;
} s3_special[] = {
    {STS_EEXPIRED, presign_expired, {403, "AccessDenied", NULL, NULL}},
    {STS_EMALFORMED, s3_missing_sha256, {400, "InvalidRequest", NULL, NULL}},
    {STS_EMALFORMED, s3_bad_sha256, {400, "InvalidArgument", NULL, NULL}},
    {STS_EMALFORMED, s3_chunk_signed, {501, "NotImplemented", NULL, NULL}},
    {STS_EMALFORMED, two_auth_forms, {400, "InvalidArgument", NULL, NULL}},
    {STS_ESIGNATURE, s3_sha256_mismatch, {400, "XAmzContentSHA256Mismatch", NULL, NULL}},
};

void sts_error_response(int err, const char *msg, http_proto_t proto, const char *request_id,
                        http_resp_t *resp)
{
    const err_shape_t *table = proto == HTTP_PROTO_S3      ? s3_shapes
                               : proto == HTTP_PROTO_QUERY ? query_shapes
                                                           : json_shapes;

    if (err > STS_EMISSING || err < -NCODES) {
        /* Not a verifier code: a bug in the caller, never a reason to let a
         * request through, so it is still an error. */
        http_error(resp, proto, 500, proto == HTTP_PROTO_S3 ? "InternalError" : "InternalFailure",
                   "The request could not be authenticated.", NULL, request_id);
        return;
    }
    const err_shape_t *e = &table[-err - 1];
    if (proto == HTTP_PROTO_S3 && msg != NULL) {
        for (size_t i = 0; i < sizeof s3_special / sizeof s3_special[0]; i++) {
            if (s3_special[i].err == err && strcmp(s3_special[i].msg, msg) == 0) {
                e = &s3_special[i].shape;
                break;
            }
        }
    }
    const char *text = e->fixed;
    if (text == NULL)
        text = msg != NULL && msg[0] != '\0' ? msg : e->fallback;
    http_error(resp, proto, e->status, e->code, text, NULL, request_id);
}
