/* sigv4.c - the SigV4 verifier (header form) and the AWS shapes of its refusals.
 *
 * Every signed request to a JSON service (Cognito, Lambda, ...) passes
 * through sts_verify before its handler runs, so this is where a forged or
 * replayed request must stop. The canonical request is rebuilt from what was
 * received, exactly as wire doc 1.1 describes for non-S3 services (the path
 * normalised and encoded a second time, the query decoded and re-encoded,
 * the signed headers with their repeats joined by ','), and the signature
 * is recomputed under the secret that the access key id names.
 *
 * Choices where AWS leaves room, all on the side of refusing:
 * - A signed header that the request does not carry is STS_EMALFORMED (a
 *   clear message beats a bare signature mismatch).
 * - x-amz-content-sha256, when sent, must be a 64-hex SHA-256 equal to the
 *   body's hash; UNSIGNED-PAYLOAD and the streaming forms are STS_ESIGNATURE
 *   here, because these services read the whole body and an unsigned body
 *   could be swapped in transit.
 * - An X-Amz-Security-Token on a long-term key (root) is STS_EUNKNOWNKEY, as
 *   AWS answers: a token that cannot be verified is never ignored.
 *
 * Derived signing keys are cached per (key id, date, region, service), since
 * a client uses the same one for a whole day; the table is small and guarded
 * by a mutex because sts_verify runs on every server thread.
 */
#include "sts/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/util.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define MAX_SKEW 900   /* seconds: AWS's 15 minutes */
#define AUTHZ_MAX 4096 /* bytes of Authorization header we parse */
#define SIGNED_HEADERS_MAX 64
#define HEADER_NAME_MAX 128
#define QUERY_MAX (64 * 1024)
#define CANONICAL_MAX (256 * 1024) /* the canonical request, headers included */
#define AMZ_DATE_LEN 16            /* YYYYMMDD'T'HHMMSS'Z' */
#define SHA256_LEN 32
#define SHA256_HEX 64
#define ECHO_MAX 64 /* at most this much of a client's text is quoted back */

static const char signature_mismatch[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
static const char invalid_token[] = "The security token included in the request is invalid.";

/* The parts of an Authorization header. */
typedef struct authz {
    char akid[STS_KEY_ID_MAX + 1];
    char date[9];
    char region[STS_SCOPE_PART_MAX + 1];
    char service[STS_SCOPE_PART_MAX + 1];
    char terminator[32];
    char signed_headers[AUTHZ_MAX]; /* as sent */
    char names_buf[AUTHZ_MAX];      /* the same with ';' replaced by NUL */
    const char *names[SIGNED_HEADERS_MAX];
    int nnames;
    char signature[SHA256_HEX + 1];
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

/* A character allowed in a lowercase header name (an RFC 9110 token). */
static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* SHA-256 of p[0..n) (p may be NULL when n is 0); aborts if OpenSSL fails. */
static void sha256(const void *p, size_t n, unsigned char out[SHA256_LEN])
{
    unsigned int len = 0;
    if (EVP_Digest(p != NULL ? p : "", n, out, &len, EVP_sha256(), NULL) != 1 ||
        len != SHA256_LEN) {
        fprintf(stderr, "cloudlet: SHA-256 failed\n");
        abort();
    }
}

/* HMAC-SHA256 of data under key; aborts if OpenSSL fails. */
static void hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
                        unsigned char out[SHA256_LEN])
{
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &len) == NULL || len != SHA256_LEN) {
        fprintf(stderr, "cloudlet: HMAC-SHA256 failed\n");
        abort();
    }
}

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
 * are judged later (STS_ESCOPE); here only the form. */
static int parse_credential(authz_t *a, const char *v, size_t n, char *msg, size_t msgsz)
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
    return fail(msg, msgsz, STS_EMALFORMED,
                "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/"
                "aws4_request.");
}

/* SignedHeaders=a;b;c: lowercase names, sorted, no duplicates. */
static int parse_signed_headers(authz_t *a, const char *v, size_t n, char *msg, size_t msgsz)
{
    if (n == 0 || n >= sizeof a->signed_headers)
        return fail(msg, msgsz, STS_EMALFORMED, "SignedHeaders is empty or too long.");
    memcpy(a->signed_headers, v, n);
    a->signed_headers[n] = '\0';
    memcpy(a->names_buf, v, n);
    a->names_buf[n] = '\0';

    char *p = a->names_buf;
    a->nnames = 0;
    for (;;) {
        char *semi = strchr(p, ';');
        if (semi != NULL)
            *semi = '\0';
        size_t len = strlen(p);
        if (len == 0 || len > HEADER_NAME_MAX)
            return fail(msg, msgsz, STS_EMALFORMED,
                        "SignedHeaders has an empty or overlong header name.");
        for (size_t i = 0; i < len; i++) {
            if (!is_name_char(p[i]))
                return fail(msg, msgsz, STS_EMALFORMED,
                            "SignedHeaders must list lowercase header names separated by ';'.");
        }
        if (a->nnames == SIGNED_HEADERS_MAX)
            return fail(msg, msgsz, STS_EMALFORMED, "SignedHeaders lists more than %d headers.",
                        SIGNED_HEADERS_MAX);
        if (a->nnames > 0 && strcmp(a->names[a->nnames - 1], p) >= 0)
            return fail(msg, msgsz, STS_EMALFORMED,
                        "SignedHeaders must be sorted and must not repeat a name.");
        a->names[a->nnames++] = p;
        if (semi == NULL)
            break;
        p = semi + 1;
    }
    return 0;
}

/* Signature=<64 lowercase hex>. */
static int parse_signature(authz_t *a, const char *v, size_t n, char *msg, size_t msgsz)
{
    if (n != SHA256_HEX || !is_lower_hex(v, n))
        return fail(msg, msgsz, STS_EMALFORMED,
                    "Signature must be 64 lowercase hexadecimal characters.");
    memcpy(a->signature, v, n);
    a->signature[n] = '\0';
    return 0;
}

/* Parse "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...":
 * the parts in any order, separated by ',' with optional whitespace; each
 * exactly once; nothing else. */
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
        size_t nlen = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vlen = (size_t)(last - v);
        int which = -1;
        for (int i = 0; i < 3; i++) {
            if (strlen(part_names[i]) == nlen && memcmp(part_names[i], p, nlen) == 0)
                which = i;
        }
        if (which < 0)
            return fail(msg, msgsz, STS_EMALFORMED,
                        "Unknown part '%.*s' in the Authorization header.",
                        (int)(nlen < ECHO_MAX ? nlen : ECHO_MAX), p);
        if (seen[which])
            return fail(msg, msgsz, STS_EMALFORMED,
                        "The Authorization header has '%s' more than once.", part_names[which]);
        seen[which] = 1;
        int rc;
        if (which == 0)
            rc = parse_credential(a, v, vlen, msg, msgsz);
        else if (which == 1)
            rc = parse_signed_headers(a, v, vlen, msg, msgsz);
        else
            rc = parse_signature(a, v, vlen, msg, msgsz);
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

/* The value of n decimal digits at s, or -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parse YYYYMMDD'T'HHMMSS'Z' into seconds since the epoch. Returns 0 or -1
 * (wrong form, or a date that does not exist). */
static int parse_amz_date(const char *s, int64_t *t)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (strlen(s) != AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return -1;
    int y = digits(s, 4), mo = digits(s + 4, 2), d = digits(s + 6, 2);
    int h = digits(s + 9, 2), mi = digits(s + 11, 2), se = digits(s + 13, 2);
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

/* Append bytes with UriEncode (wire doc 1.1): every byte but A-Z a-z 0-9 - _ . ~
 * as %XX in uppercase hex. */
static int append_uri_encoded(buf_t *b, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;

    while (i < n) {
        size_t run = i;
        while (run < n && is_unreserved(p[run]))
            run++;
        if (run > i && buf_append(b, p + i, run - i) != 0)
            return -1;
        i = run;
        if (i < n) {
            char esc[3] = {'%', hex[p[i] >> 4], hex[p[i] & 15]};
            if (buf_append(b, esc, 3) != 0)
                return -1;
            i++;
        }
    }
    return 0;
}

/* The canonical URI of a non-S3 service: the wire path with '.' and '..'
 * segments removed and empty segments collapsed (a trailing '/' kept), then
 * UriEncoded once more with '/' kept - what botocore and the JS signer do. */
static int append_canonical_uri(buf_t *b, const char *path, size_t len)
{
    typedef struct seg {
        const char *p;
        size_t n;
    } seg_t;
    size_t nmax = 1;
    size_t nseg = 0;
    int rc = -1;

    for (size_t i = 0; i < len; i++)
        nmax += path[i] == '/';
    seg_t *segs = xmalloc(nmax * sizeof *segs);
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

    size_t start = b->len;
    if (len > 0 && path[0] == '/' && buf_append(b, "/", 1) != 0)
        goto out;
    for (size_t i = 0; i < nseg; i++) {
        if (i > 0 && buf_append(b, "/", 1) != 0)
            goto out;
        if (append_uri_encoded(b, (const unsigned char *)segs[i].p, segs[i].n) != 0)
            goto out;
    }
    if (nseg > 0 && len > 0 && path[len - 1] == '/' && buf_append(b, "/", 1) != 0)
        goto out;
    if (b->len == start && buf_append(b, "/", 1) != 0)
        goto out;
    rc = 0;
out:
    free(segs);
    return rc;
}

/* Percent-decode [p, p+n) (only %XX: a '+' stays a '+') and UriEncode the
 * bytes into b. Returns 0, -1 if b is full, -2 on a malformed escape. */
static int append_reencoded(buf_t *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%') {
            int hi = i + 2 < n ? util_hexval(p[i + 1]) : -1;
            int lo = i + 2 < n ? util_hexval(p[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -2;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (append_uri_encoded(b, &c, 1) != 0)
            return -1;
    }
    return 0;
}

typedef struct qpair {
    char *name; /* UriEncoded; value follows the name's NUL in the same allocation */
    char *value;
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
 * out. Returns 0, or an STS_E* code with a message. */
static int append_canonical_query(buf_t *b, const char *query, char *msg, size_t msgsz)
{
    size_t qlen = query != NULL ? strlen(query) : 0;
    size_t nmax = 1;
    size_t npairs = 0;
    qpair_t *pairs;
    int rc = STS_EMALFORMED;

    if (qlen == 0)
        return 0;
    if (qlen > QUERY_MAX)
        return fail(msg, msgsz, STS_EMALFORMED, "The query string is longer than %d bytes.",
                    QUERY_MAX);
    for (size_t i = 0; i < qlen; i++)
        nmax += query[i] == '&';
    pairs = xcalloc(nmax, sizeof *pairs);

    const char *p = query;
    const char *end = query + qlen;
    for (;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp != NULL ? amp : end;
        if (e > p) {
            const char *eq = memchr(p, '=', (size_t)(e - p));
            const char *name_end = eq != NULL ? eq : e;
            const char *v = eq != NULL ? eq + 1 : e;
            buf_t t;
            buf_init(&t, 3 * (size_t)(e - p) + 2);
            int r = append_reencoded(&t, p, (size_t)(name_end - p));
            size_t name_len = t.len;
            if (r == 0)
                r = buf_append(&t, "", 1);
            if (r == 0)
                r = append_reencoded(&t, v, (size_t)(e - v));
            if (r != 0) {
                buf_free(&t);
                rc = fail(msg, msgsz, STS_EMALFORMED,
                          "The query string has a malformed percent-escape.");
                goto out;
            }
            if (strcmp(t.data, "X-Amz-Signature") == 0) {
                buf_free(&t);
            } else {
                pairs[npairs].name = buf_steal(&t, NULL);
                pairs[npairs].value = pairs[npairs].name + name_len + 1;
                npairs++;
            }
        }
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    qsort(pairs, npairs, sizeof *pairs, qpair_cmp);
    for (size_t i = 0; i < npairs; i++) {
        if ((i > 0 && buf_append(b, "&", 1) != 0) || buf_puts(b, pairs[i].name) != 0 ||
            buf_append(b, "=", 1) != 0 || buf_puts(b, pairs[i].value) != 0) {
            rc = fail(msg, msgsz, STS_EMALFORMED, "The request is too large to verify.");
            goto out;
        }
    }
    rc = 0;
out:
    for (size_t i = 0; i < npairs; i++)
        free(pairs[i].name);
    free(pairs);
    return rc;
}

/* Append a header value trimmed, with each run of whitespace inside it
 * collapsed to one space. */
static int append_trimmed(buf_t *b, const char *v)
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
        if (pending && wrote && buf_append(b, " ", 1) != 0)
            return -1;
        if (buf_append(b, v, run) != 0)
            return -1;
        pending = 0;
        wrote = 1;
        v += run;
    }
    return 0;
}

typedef struct header_walk {
    const char *name; /* lowercase, from SignedHeaders */
    buf_t *b;
    int count;
    int full;
} header_walk_t;

/* http_header_each callback: append every value of w->name in received
 * order, separated by ','. */
static int collect_header(void *ctx, const char *name, const char *value)
{
    header_walk_t *w = ctx;

    if (name == NULL || !util_strcaseeq(name, w->name))
        return 0;
    if ((w->count > 0 && buf_append(w->b, ",", 1) != 0) ||
        append_trimmed(w->b, value != NULL ? value : "") != 0) {
        w->full = 1;
        return 1;
    }
    w->count++;
    return 0;
}

/* The canonical headers block: "name:values\n" for each signed name in
 * SignedHeaders order (already sorted). */
static int append_canonical_headers(buf_t *b, const http_req_t *req, const authz_t *a, char *msg,
                                    size_t msgsz)
{
    for (int i = 0; i < a->nnames; i++) {
        header_walk_t w = {a->names[i], b, 0, 0};
        if (buf_puts(b, a->names[i]) != 0 || buf_append(b, ":", 1) != 0)
            return fail(msg, msgsz, STS_EMALFORMED, "The request is too large to verify.");
        http_header_each(req, collect_header, &w);
        if (w.full)
            return fail(msg, msgsz, STS_EMALFORMED, "The request is too large to verify.");
        if (w.count == 0)
            return fail(msg, msgsz, STS_EMALFORMED, "The signed header '%s' is not in the request.",
                        a->names[i]);
        if (buf_append(b, "\n", 1) != 0)
            return fail(msg, msgsz, STS_EMALFORMED, "The request is too large to verify.");
    }
    return 0;
}

/* The payload hash line: the body's SHA-256 in hex, or the value of
 * x-amz-content-sha256 verbatim once it is known to equal that hash. */
static int payload_hash(const http_req_t *req, const char *service, char out[SHA256_HEX + 1],
                        char *msg, size_t msgsz)
{
    unsigned char md[SHA256_LEN];
    char actual[SHA256_HEX + 1];
    const char *declared = http_header(req, "x-amz-content-sha256");

    sha256(req->body, req->body_len, md);
    util_hex(md, sizeof md, actual);
    if (declared == NULL) {
        memcpy(out, actual, sizeof actual);
        return 0;
    }
    int hex = strlen(declared) == SHA256_HEX;
    for (int i = 0; hex && i < SHA256_HEX; i++)
        hex = util_hexval(declared[i]) >= 0;
    if (!hex && strcmp(declared, "UNSIGNED-PAYLOAD") == 0)
        return fail(msg, msgsz, STS_ESIGNATURE,
                    "UNSIGNED-PAYLOAD is not accepted by service '%s': sign the SHA-256 of the "
                    "body.",
                    service);
    if (!hex)
        return fail(msg, msgsz, STS_ESIGNATURE,
                    "x-amz-content-sha256 must be the hex SHA-256 of the body for service '%s'.",
                    service);
    if (strncasecmp(declared, actual, SHA256_HEX) != 0)
        return fail(msg, msgsz, STS_ESIGNATURE,
                    "The x-amz-content-sha256 header does not match the SHA-256 of the request "
                    "body.");
    memcpy(out, declared, SHA256_HEX + 1);
    return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request") */
static void derive_key(const char *secret, const char *date, const char *region,
                       const char *service, unsigned char out[STS_SIGNING_KEY_LEN])
{
    char k0[4 + STS_SECRET_MAX + 1];
    unsigned char a[SHA256_LEN], b[SHA256_LEN];
    size_t n = strlen(secret);

    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, n);
    hmac_sha256(k0, 4 + n, date, strlen(date), a);
    hmac_sha256(a, sizeof a, region, strlen(region), b);
    hmac_sha256(b, sizeof b, service, strlen(service), a);
    hmac_sha256(a, sizeof a, TERMINATOR, strlen(TERMINATOR), out);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
}

/* The signing key for cred and the scope in a, from the cache or derived
 * (and then cached, evicting the least recently used slot). */
static void signing_key(sts_t *s, const sts_cred_t *cred, const authz_t *a,
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
    derive_key(cred->secret, a->date, a->region, a->service, out);

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

/* 1 if SignedHeaders lists `name`. */
static int has_name(const authz_t *a, const char *name)
{
    for (int i = 0; i < a->nnames; i++) {
        if (strcmp(a->names[i], name) == 0)
            return 1;
    }
    return 0;
}

/* Copy s into a fixed array of size n, truncating (never expected: sts_open
 * keeps key ids within the caller's limit). */
static void copy_field(char *dst, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len >= n)
        len = n - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

int sts_verify(sts_t *s, const http_req_t *req, const char *service, int64_t now,
               http_caller_t *caller, char *msg, size_t msgsz)
{
    authz_t *a = xmalloc(sizeof *a);
    buf_t canon;
    int64_t t;
    int rc;

    buf_init(&canon, CANONICAL_MAX);
    if (msg != NULL && msgsz > 0)
        msg[0] = '\0';

    const char *h = http_header(req, "Authorization");
    if (h == NULL) {
        rc = fail(msg, msgsz, STS_EMISSING, "Missing Authentication Token");
        goto out;
    }
    rc = parse_authorization(h, a, msg, msgsz);
    if (rc != 0)
        goto out;
    const char *amz_date = http_header(req, "X-Amz-Date");
    if (amz_date == NULL) {
        rc = fail(msg, msgsz, STS_EMALFORMED,
                  "Authorization header requires existence of an 'X-Amz-Date' header.");
        goto out;
    }
    if (parse_amz_date(amz_date, &t) != 0) {
        rc = fail(msg, msgsz, STS_EMALFORMED,
                  "X-Amz-Date '%.*s' is not a valid date of the form YYYYMMDD'T'HHMMSS'Z'.",
                  ECHO_MAX, amz_date);
        goto out;
    }
    if (!has_name(a, "host")) {
        rc = fail(msg, msgsz, STS_EMALFORMED,
                  "'Host' must be a 'SignedHeader' in the AWS Authorization.");
        goto out;
    }
    if (!has_name(a, "x-amz-date")) {
        rc = fail(msg, msgsz, STS_EMALFORMED,
                  "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
        goto out;
    }

    const sts_cred_t *cred = sts_cred_lookup(s, a->akid);
    if (cred == NULL) {
        rc = fail(msg, msgsz, STS_EUNKNOWNKEY, "%s", invalid_token);
        goto out;
    }
    if (cred->root && http_header(req, "X-Amz-Security-Token") != NULL) {
        rc = fail(msg, msgsz, STS_EUNKNOWNKEY, "%s", invalid_token);
        goto out;
    }

    if (t < now - MAX_SKEW || t > now + MAX_SKEW) {
        char bound[AMZ_DATE_LEN + 1], cur[AMZ_DATE_LEN + 1];
        int early = t < now - MAX_SKEW;
        format_amz_date(early ? now - MAX_SKEW : now + MAX_SKEW, bound);
        format_amz_date(now, cur);
        if (early)
            rc = fail(msg, msgsz, STS_ESKEW,
                      "Signature expired: %s is now earlier than %s (%s - 15 min.)", amz_date,
                      bound, cur);
        else
            rc = fail(msg, msgsz, STS_ESKEW,
                      "Signature not yet current: %s is still later than %s (%s + 15 min.)",
                      amz_date, bound, cur);
        goto out;
    }

    if (strncmp(a->date, amz_date, 8) != 0) {
        rc = fail(msg, msgsz, STS_ESCOPE,
                  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                  "date from HTTP: '%s' != '%.8s', from '%s'.",
                  a->date, amz_date, amz_date);
        goto out;
    }
    if (strcmp(a->region, s->region) != 0) {
        rc = fail(msg, msgsz, STS_ESCOPE,
                  "Credential should be scoped to a valid region: '%s' is not '%s'.", a->region,
                  s->region);
        goto out;
    }
    if (strcmp(a->service, service) != 0) {
        rc = fail(msg, msgsz, STS_ESCOPE, "Credential should be scoped to correct service: '%s'.",
                  service);
        goto out;
    }
    if (strcmp(a->terminator, TERMINATOR) != 0) {
        rc = fail(msg, msgsz, STS_ESCOPE,
                  "Credential should be scoped with a valid terminator: 'aws4_request', not "
                  "'%s'.",
                  a->terminator);
        goto out;
    }

    char payload[SHA256_HEX + 1];
    rc = payload_hash(req, service, payload, msg, msgsz);
    if (rc != 0)
        goto out;

    /* The canonical request (wire doc 1.1), six lines. */
    if (req->method_name == NULL || req->method_name[0] == '\0') {
        rc = fail(msg, msgsz, STS_EMALFORMED, "The request has no method.");
        goto out;
    }
    if (buf_puts(&canon, req->method_name) != 0 || buf_append(&canon, "\n", 1) != 0 ||
        append_canonical_uri(&canon, req->path != NULL ? req->path : "",
                             req->path != NULL ? req->path_len : 0) != 0 ||
        buf_append(&canon, "\n", 1) != 0) {
        rc = fail(msg, msgsz, STS_EMALFORMED, "The request is too large to verify.");
        goto out;
    }
    rc = append_canonical_query(&canon, req->query, msg, msgsz);
    if (rc == 0 && buf_append(&canon, "\n", 1) != 0)
        rc = fail(msg, msgsz, STS_EMALFORMED, "The request is too large to verify.");
    if (rc == 0)
        rc = append_canonical_headers(&canon, req, a, msg, msgsz);
    if (rc != 0)
        goto out;
    if (buf_append(&canon, "\n", 1) != 0 || buf_puts(&canon, a->signed_headers) != 0 ||
        buf_append(&canon, "\n", 1) != 0 || buf_puts(&canon, payload) != 0) {
        rc = fail(msg, msgsz, STS_EMALFORMED, "The request is too large to verify.");
        goto out;
    }

    /* The string to sign (wire doc 1.2) and the signature over it. */
    unsigned char md[SHA256_LEN];
    char canon_hex[SHA256_HEX + 1];
    char sts_text[sizeof ALGORITHM + AMZ_DATE_LEN + 8 + 2 * STS_SCOPE_PART_MAX + sizeof TERMINATOR +
                  SHA256_HEX + 16];
    sha256(canon.data, canon.len, md);
    util_hex(md, sizeof md, canon_hex);
    int n = snprintf(sts_text, sizeof sts_text, "%s\n%s\n%s/%s/%s/%s\n%s", ALGORITHM, amz_date,
                     a->date, a->region, a->service, TERMINATOR, canon_hex);
    if (n < 0 || (size_t)n >= sizeof sts_text) {
        rc = fail(msg, msgsz, STS_EMALFORMED, "The credential scope is too long.");
        goto out;
    }
    unsigned char key[STS_SIGNING_KEY_LEN];
    char expected[SHA256_HEX + 1];
    signing_key(s, cred, a, key);
    hmac_sha256(key, sizeof key, sts_text, (size_t)n, md);
    OPENSSL_cleanse(key, sizeof key);
    util_hex(md, sizeof md, expected);
    if (CRYPTO_memcmp(expected, a->signature, SHA256_HEX) != 0) {
        rc = fail(msg, msgsz, STS_ESIGNATURE, "%s", signature_mismatch);
        goto out;
    }

    memset(caller, 0, sizeof *caller);
    caller->root = cred->root;
    copy_field(caller->access_key_id, sizeof caller->access_key_id, cred->access_key_id);
    copy_field(caller->arn, sizeof caller->arn, cred->arn);
    rc = 0;
out:
    buf_free(&canon);
    free(a);
    return rc;
}

/* One row of the error mapping: HTTP status, AWS code, and the message used
 * when the verifier gave none (or when the protocol has its own fixed text). */
typedef struct err_shape {
    int status;
    const char *code;
    const char *fixed; /* replaces the verifier's message when not NULL */
    const char *fallback;
} err_shape_t;

/* Indexed by -err - 1 (STS_EMISSING .. STS_ESCOPE). */
static const err_shape_t json_shapes[6] = {
    {403, "MissingAuthenticationTokenException", "Missing Authentication Token", NULL},
    {400, "IncompleteSignatureException", NULL,
     "The request signature does not conform to AWS standards."},
    {400, "UnrecognizedClientException", invalid_token, NULL},
    {400, "InvalidSignatureException", NULL, signature_mismatch},
    {400, "InvalidSignatureException", NULL, "Signature expired."},
    {400, "InvalidSignatureException", NULL,
     "Credential should be scoped to a valid region, service and date."},
};

static const err_shape_t query_shapes[6] = {
    {403, "MissingAuthenticationToken", "Request is missing Authentication Token", NULL},
    {400, "IncompleteSignature", NULL, "The request signature does not conform to AWS standards."},
    {403, "InvalidClientTokenId", invalid_token, NULL},
    {403, "SignatureDoesNotMatch", NULL, signature_mismatch},
    {403, "SignatureDoesNotMatch", NULL, "Signature expired."},
    {403, "SignatureDoesNotMatch", NULL,
     "Credential should be scoped to a valid region, service and date."},
};

static const err_shape_t s3_shapes[6] = {
    {403, "AccessDenied", "Access Denied", NULL},
    {400, "AuthorizationHeaderMalformed", NULL, "The authorization header is malformed."},
    {403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
     NULL},
    {403, "SignatureDoesNotMatch", NULL, signature_mismatch},
    {403, "RequestTimeTooSkewed",
     "The difference between the request time and the current time is too large.", NULL},
    {400, "AuthorizationHeaderMalformed", NULL, "The authorization header is malformed."},
};

void sts_error_response(int err, const char *msg, http_proto_t proto, const char *request_id,
                        http_resp_t *resp)
{
    const err_shape_t *table = proto == HTTP_PROTO_S3      ? s3_shapes
                               : proto == HTTP_PROTO_QUERY ? query_shapes
                                                           : json_shapes;

    if (err > STS_EMISSING || err < STS_ESCOPE) {
        /* Not a verifier code: a bug in the caller, never a reason to let a
         * request through, so it is still an error. */
        http_error(resp, proto, 500, proto == HTTP_PROTO_S3 ? "InternalError" : "InternalFailure",
                   "The request could not be authenticated.", NULL, request_id);
        return;
    }
    const err_shape_t *e = &table[-err - 1];
    const char *text = e->fixed;
    if (text == NULL)
        text = msg != NULL && msg[0] != '\0' ? msg : e->fallback;
    http_error(resp, proto, e->status, e->code, text, NULL, request_id);
}
