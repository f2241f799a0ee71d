/* s3_body.c - the payload of an S3 PUT (object or part): aws-chunked framing
 * removed, Content-MD5 and x-amz-checksum-* verified (wire doc 6.2).
 *
 * SDK v3 streams bodies as aws-chunked with the checksum in a trailer
 * (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER); botocore over
 * plain http sends the body as is with x-amz-checksum-crc32 in a header. Both
 * arrive here as one buffered body (the server bounds it), so decoding is a
 * single pass over memory: the framing is parsed strictly, every length is
 * checked against the input and against the object limit before use, and
 * the decoded bytes go to one buffer no larger than the raw body.
 *
 * The CRCs are table-driven (slicing-by-8, tables built once) rather than
 * zlib's, so the module needs only OpenSSL (MD5, SHA-1, SHA-256). All three
 * are the reflected form: CRC-32 (poly 0x04c11db7, zlib/PNG), CRC-32C
 * (Castagnoli, 0x1edc6f41) and CRC-64/NVME (0xad93d23594c93659), each with
 * init and xorout all ones. S3 writes checksums as base64 of the big-endian
 * value.
 */
#include "storage/s3.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define DIGEST_MAX 32   /* SHA-256 */
#define CHECKSUM_B64 64 /* room for base64 of any digest, with NUL */
#define TRAILER_VALUE_MAX 128

/* ---- the algorithms ---- */

enum { ALG_CRC32, ALG_CRC32C, ALG_CRC64NVME, ALG_SHA1, ALG_SHA256, ALG_COUNT };

static const struct {
    const char *name;   /* as in the header name, lowercase */
    const char *upper;  /* as in x-amz-sdk-checksum-algorithm and messages */
    const char *header; /* the value header, also the stored header name */
    size_t len;         /* digest bytes */
} algs[ALG_COUNT] = {
    {"crc32", "CRC32", "x-amz-checksum-crc32", 4},
    {"crc32c", "CRC32C", "x-amz-checksum-crc32c", 4},
    {"crc64nvme", "CRC64NVME", "x-amz-checksum-crc64nvme", 8},
    {"sha1", "SHA1", "x-amz-checksum-sha1", 20},
    {"sha256", "SHA256", "x-amz-checksum-sha256", 32},
};

/* The algorithm named `name` (either case, n bytes), or -1. */
static int alg_find(const char *name, size_t n)
{
    for (int i = 0; i < ALG_COUNT; i++) {
        if (strlen(algs[i].name) == n && strncasecmp(algs[i].name, name, n) == 0)
            return i;
    }
    return -1;
}

static uint32_t crc32_tab[8][256];
static uint32_t crc32c_tab[8][256];
static uint64_t crc64_tab[8][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* Slicing-by-8 tables: tab[0] is the classic byte table, tab[k][b] is the
 * CRC of byte b followed by k zero bytes, so eight bytes fold in one step. */
static void tables_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t a = b, c = b;
        uint64_t d = b;
        for (int k = 0; k < 8; k++) {
            a = (a & 1) ? (a >> 1) ^ 0xedb88320u : a >> 1;
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            d = (d & 1) ? (d >> 1) ^ 0x9a6c9329ac4bc9b5ull : d >> 1;
        }
        crc32_tab[0][b] = a;
        crc32c_tab[0][b] = c;
        crc64_tab[0][b] = d;
    }
    for (int k = 1; k < 8; k++) {
        for (int b = 0; b < 256; b++) {
            uint32_t a = crc32_tab[k - 1][b];
            uint32_t c = crc32c_tab[k - 1][b];
            uint64_t d = crc64_tab[k - 1][b];
            crc32_tab[k][b] = (a >> 8) ^ crc32_tab[0][a & 0xff];
            crc32c_tab[k][b] = (c >> 8) ^ crc32c_tab[0][c & 0xff];
            crc64_tab[k][b] = (d >> 8) ^ crc64_tab[0][d & 0xff];
        }
    }
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A reflected 32-bit CRC with init and xorout ~0 over tables t. */
static uint32_t crc32_run(const uint32_t t[8][256], const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo = crc ^ load_le32(p);
        uint32_t hi = load_le32(p + 4);
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    }
    for (; n > 0; p++, n--)
        crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xff];
    return crc ^ 0xffffffffu;
}

static uint64_t crc64_run(const unsigned char *p, size_t n)
{
    const uint64_t(*t)[256] = crc64_tab;
    uint64_t crc = ~0ull;
    for (; n >= 8; p += 8, n -= 8) {
        crc ^= (uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
        crc = t[7][crc & 0xff] ^ t[6][(crc >> 8) & 0xff] ^ t[5][(crc >> 16) & 0xff] ^
              t[4][(crc >> 24) & 0xff] ^ t[3][(crc >> 32) & 0xff] ^ t[2][(crc >> 40) & 0xff] ^
              t[1][(crc >> 48) & 0xff] ^ t[0][crc >> 56];
    }
    for (; n > 0; p++, n--)
        crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xff];
    return ~crc;
}

/* The digest of p[0..n) with algorithm alg, big-endian, algs[alg].len bytes. */
static void digest(int alg, const void *p, size_t n, unsigned char out[DIGEST_MAX])
{
    const unsigned char *s = n ? p : (const unsigned char *)"";
    if (alg == ALG_SHA1 || alg == ALG_SHA256) {
        unsigned int len = 0;
        if (EVP_Digest(s, n, out, &len, alg == ALG_SHA1 ? EVP_sha1() : EVP_sha256(), NULL) != 1) {
            fprintf(stderr, "cloudlet: %s failed\n", algs[alg].upper);
            abort();
        }
        return;
    }
    pthread_once(&tables_once, tables_init);
    uint64_t v;
    if (alg == ALG_CRC64NVME)
        v = crc64_run(s, n);
    else
        v = crc32_run(alg == ALG_CRC32 ? crc32_tab : crc32c_tab, s, n);
    size_t len = algs[alg].len;
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)(v >> (8 * (len - 1 - i)));
}

/* Base64 of digest d of algorithm alg into out. */
static void digest_b64(int alg, const unsigned char *d, char out[CHECKSUM_B64])
{
    char *b = util_base64(d, algs[alg].len);
    snprintf(out, CHECKSUM_B64, "%s", b);
    free(b);
}

void s3_checksum_b64(const char *algorithm, const void *p, size_t n, char out[64])
{
    int alg = algorithm ? alg_find(algorithm, strlen(algorithm)) : -1;
    out[0] = '\0';
    if (alg < 0)
        return;
    unsigned char d[DIGEST_MAX];
    digest(alg, p, n, d);
    digest_b64(alg, d, out);
}

/* ---- where the checksum comes from ---- */

typedef struct checks {
    int alg;           /* the one checksum algorithm of the request, -1 if none */
    const char *value; /* its header value; NULL when it comes in a trailer */
    int trailer;       /* the value is the trailer named algs[alg].header */
    int count;         /* value headers seen (more than one is refused) */
    char unknown[80];  /* an x-amz-checksum-* header naming no algorithm we know */
} checks_t;

/* each_fn callback: count the x-amz-checksum-<alg> value headers. */
static int checksum_header_cb(void *ctx, const char *name, const char *value)
{
    checks_t *ck = ctx;
    if (strncasecmp(name, "x-amz-checksum-", 15) != 0)
        return 0;
    const char *suffix = name + 15;
    /* Not values: the upload's algorithm and type (CreateMultipartUpload)
     * and GetObject's opt-in. */
    if (util_strcaseeq(suffix, "algorithm") || util_strcaseeq(suffix, "type") ||
        util_strcaseeq(suffix, "mode"))
        return 0;
    int alg = alg_find(suffix, strlen(suffix));
    if (alg < 0) {
        if (ck->unknown[0] == '\0')
            snprintf(ck->unknown, sizeof ck->unknown, "%s", name);
        return 0;
    }
    ck->count++;
    ck->alg = alg;
    ck->value = value;
    return 0;
}

/* Trim spaces and tabs around [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* Does the comma-separated header value list contain token (any case)? */
static int has_token(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = list;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        trim(&s, &n);
        if (n == tlen && strncasecmp(s, token, n) == 0)
            return 1;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 0;
}

/* Read x-amz-trailer: the checksum trailer the body will end with. Returns
 * 0, or -1 (answered) for a second checksum or an unknown algorithm. */
static int trailer_checksum(s3_ctx_t *c, const char *list, checks_t *ck)
{
    const char *p = list;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        trim(&s, &n);
        if (n > 15 && strncasecmp(s, "x-amz-checksum-", 15) == 0) {
            int alg = alg_find(s + 15, n - 15);
            if (alg < 0) {
                s3_error(c, 400, "InvalidRequest",
                         "The algorithm named in x-amz-trailer is not supported; use one of "
                         "CRC32, CRC32C, CRC64NVME, SHA1, SHA256.");
                return -1;
            }
            ck->count++;
            ck->alg = alg;
            ck->trailer = 1;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 0;
}

/* ---- aws-chunked ---- */

/* Decode an aws-chunked body in[0..n) into out (n bytes available):
 *   chunk   = 1*HEXDIG [";" ext] CRLF data CRLF     (size > 0)
 *   last    = 1*("0") [";" ext] CRLF
 *   trailer = *(name ":" value CRLF) CRLF           (may be absent entirely)
 * SDK v3 ends a body without trailers right after the last chunk, so that
 * form is accepted too. The value of the trailer named `want` (if not NULL)
 * is copied into tval. Returns 0 with *out_len, or -1 (answered). */
static int dechunk(s3_ctx_t *c, const unsigned char *in, size_t n, unsigned char *out,
                   size_t *out_len, size_t limit, const char *want, char tval[TRAILER_VALUE_MAX])
{
    size_t i = 0, total = 0;
    char msg[160];
    for (;;) {
        size_t start = i;
        uint64_t size = 0;
        while (i < n && util_hexval((char)in[i]) >= 0) {
            /* Saturate: any size this large fails the checks below. */
            if (size > (UINT64_MAX - 15) / 16)
                size = UINT64_MAX;
            else
                size = size * 16 + (uint64_t)util_hexval((char)in[i]);
            i++;
        }
        if (i == n) {
            s3_error(c, 400, "IncompleteBody", "The aws-chunked body ended inside a chunk header.");
            return -1;
        }
        if (i == start) {
            s3_error(c, 400, "InvalidRequest",
                     "Malformed aws-chunked body: a chunk must start with its size in hex.");
            return -1;
        }
        if (in[i] == ';') {
            /* Chunk extensions carry nothing we use (signed chunks were refused). */
            while (i < n && in[i] != '\r' && in[i] != '\n')
                i++;
        }
        if (i + 2 > n) {
            s3_error(c, 400, "IncompleteBody", "The aws-chunked body ended inside a chunk header.");
            return -1;
        }
        if (in[i] != '\r' || in[i + 1] != '\n') {
            s3_error(c, 400, "InvalidRequest",
                     "Malformed aws-chunked body: a chunk size must end with CRLF.");
            return -1;
        }
        i += 2;
        if (size == 0)
            break;
        if (size > limit || total > limit - size) {
            s3_error(c, 400, "EntityTooLarge",
                     "Your proposed upload exceeds the maximum allowed size");
            return -1;
        }
        if (size > n - i) {
            s3_error(c, 400, "IncompleteBody",
                     "The aws-chunked body is shorter than its chunk sizes say.");
            return -1;
        }
        memcpy(out + total, in + i, (size_t)size);
        total += (size_t)size;
        i += (size_t)size;
        if (i + 2 > n) {
            s3_error(c, 400, "IncompleteBody", "The aws-chunked body ended after a chunk's data.");
            return -1;
        }
        if (in[i] != '\r' || in[i + 1] != '\n') {
            s3_error(c, 400, "InvalidRequest",
                     "Malformed aws-chunked body: chunk data must be followed by CRLF (the "
                     "chunk is longer than its size).");
            return -1;
        }
        i += 2;
    }
    /* Trailer section, or the end of the body. */
    tval[0] = '\0';
    int found = 0;
    while (i < n) {
        const unsigned char *line = in + i;
        const unsigned char *eol = memchr(line, '\r', n - i);
        if (eol == NULL || (size_t)(eol - in) + 1 >= n) {
            s3_error(c, 400, "IncompleteBody", "The aws-chunked body ended inside its trailer.");
            return -1;
        }
        if (eol[1] != '\n') {
            s3_error(c, 400, "InvalidRequest",
                     "Malformed aws-chunked body: trailer lines must end with CRLF.");
            return -1;
        }
        size_t len = (size_t)(eol - line);
        i += len + 2;
        if (len == 0) {
            if (i != n) {
                s3_error(c, 400, "InvalidRequest",
                         "Malformed aws-chunked body: data follows the final CRLF.");
                return -1;
            }
            break;
        }
        const unsigned char *colon = memchr(line, ':', len);
        if (colon == NULL || colon == line || memchr(line, '\n', len) != NULL) {
            s3_error(c, 400, "InvalidRequest",
                     "Malformed aws-chunked body: a trailer line must be name:value.");
            return -1;
        }
        if (i == n) {
            s3_error(c, 400, "IncompleteBody",
                     "The aws-chunked body ended without the CRLF after its trailer.");
            return -1;
        }
        size_t nlen = (size_t)(colon - line);
        const char *name = (const char *)line;
        trim(&name, &nlen);
        if (want == NULL || nlen != strlen(want) || strncasecmp(name, want, nlen) != 0)
            continue;
        const char *v = (const char *)colon + 1;
        size_t vlen = len - (size_t)(colon - line) - 1;
        trim(&v, &vlen);
        if (found || vlen >= TRAILER_VALUE_MAX) {
            snprintf(msg, sizeof msg, "The trailer %s is repeated or too long.", want);
            s3_error(c, 400, "InvalidRequest", msg);
            return -1;
        }
        memcpy(tval, v, vlen);
        tval[vlen] = '\0';
        found = 1;
    }
    if (want != NULL && !found) {
        snprintf(msg, sizeof msg, "x-amz-trailer names %s but the body carries no such trailer.",
                 want);
        s3_error(c, 400, "InvalidRequest", msg);
        return -1;
    }
    *out_len = total;
    return 0;
}

/* Parse a decimal length (digits only). Returns 0, or -1 when malformed. */
static int parse_length(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* ---- the whole body ---- */

int s3_body(s3_ctx_t *c, const unsigned char **body, size_t *len, unsigned char **owned,
            buf_t *headers)
{
    const http_req_t *r = c->req;
    /* 0 means the caller set no limit of its own: the server's bounds the body. */
    size_t limit = c->max_object ? c->max_object : SIZE_MAX;
    unsigned char *dec = NULL;
    char msg[200];

    *body = NULL;
    *len = 0;
    *owned = NULL;

    const char *sha = http_header(r, "x-amz-content-sha256");
    const char *ce = http_header(r, "content-encoding");
    const char *tr = http_header(r, "x-amz-trailer");
    if (sha != NULL && strncmp(sha, "STREAMING-", 10) == 0 &&
        strcmp(sha, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") != 0 &&
        strcmp(sha, "STREAMING-UNSIGNED-PAYLOAD") != 0) {
        s3_error(c, 501, "NotImplemented",
                 "chunk-signed uploads are not supported; clients send "
                 "STREAMING-UNSIGNED-PAYLOAD-TRAILER by default");
        return -1;
    }
    int chunked = (ce != NULL && has_token(ce, "aws-chunked")) ||
                  (sha != NULL && strncmp(sha, "STREAMING-UNSIGNED-PAYLOAD", 26) == 0);

    /* Where the checksum comes from: one header, or one trailer. */
    checks_t ck = {-1, NULL, 0, 0, ""};
    if (r->each_fn != NULL) {
        http_header_each(r, checksum_header_cb, &ck);
    } else {
        for (int a = 0; a < ALG_COUNT; a++) {
            const char *v = http_header(r, algs[a].header);
            if (v != NULL) {
                ck.count++;
                ck.alg = a;
                ck.value = v;
            }
        }
    }
    if (ck.unknown[0] != '\0') {
        snprintf(msg, sizeof msg,
                 "%s is not a supported checksum; use one of CRC32, CRC32C, CRC64NVME, SHA1, "
                 "SHA256.",
                 ck.unknown);
        s3_error(c, 400, "InvalidRequest", msg);
        return -1;
    }
    if (tr != NULL) {
        if (!chunked) {
            s3_error(c, 400, "InvalidRequest",
                     "x-amz-trailer needs an aws-chunked body (Content-Encoding: aws-chunked).");
            return -1;
        }
        if (trailer_checksum(c, tr, &ck) != 0)
            return -1;
    }
    if (ck.count > 1) {
        s3_error(c, 400, "InvalidRequest",
                 "Expecting a single x-amz-checksum- header. Multiple checksum Types are not "
                 "allowed.");
        return -1;
    }
    int sdk_alg = -1;
    const char *sdk = http_header(r, "x-amz-sdk-checksum-algorithm");
    if (sdk != NULL && ck.alg < 0) {
        sdk_alg = alg_find(sdk, strlen(sdk));
        if (sdk_alg < 0) {
            s3_error(c, 400, "InvalidRequest",
                     "Checksum algorithm provided is unsupported. Please try again with any of "
                     "the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]");
            return -1;
        }
    }

    /* The bytes. */
    char tval[TRAILER_VALUE_MAX] = "";
    const unsigned char *data = r->body;
    size_t n = r->body_len;
    if (chunked) {
        dec = xmalloc(r->body_len ? r->body_len : 1);
        if (dechunk(c, r->body, r->body_len, dec, &n, limit,
                    ck.trailer ? algs[ck.alg].header : NULL, tval) != 0)
            goto err;
        data = dec;
        const char *dcl = http_header(r, "x-amz-decoded-content-length");
        uint64_t want;
        if (dcl != NULL && parse_length(dcl, &want) != 0) {
            s3_error(c, 400, "InvalidArgument", "x-amz-decoded-content-length is not a number.");
            goto err;
        }
        if (dcl != NULL && want != (uint64_t)n) {
            snprintf(msg, sizeof msg,
                     "The decoded body is %zu bytes but x-amz-decoded-content-length says %s.", n,
                     dcl);
            s3_error(c, 400, "IncompleteBody", msg);
            goto err;
        }
    } else if (n > limit) {
        s3_error(c, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
        goto err;
    }

    /* Content-MD5: of the decoded bytes. */
    const char *md5 = http_header(r, "content-md5");
    if (md5 != NULL) {
        unsigned char want[16], got[EVP_MAX_MD_SIZE];
        unsigned int glen = 0;
        if (util_base64_decode(md5, strlen(md5), want, sizeof want) != 16) {
            s3_error(c, 400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
            goto err;
        }
        if (EVP_Digest(n ? data : (const unsigned char *)"", n, got, &glen, EVP_md5(), NULL) != 1) {
            fprintf(stderr, "cloudlet: MD5 failed\n");
            abort();
        }
        if (memcmp(want, got, 16) != 0) {
            s3_error(c, 400, "BadDigest",
                     "The Content-MD5 you specified did not match what we received.");
            goto err;
        }
    }

    /* x-amz-checksum-*: verified, or computed when only the algorithm was named. */
    int alg = ck.alg >= 0 ? ck.alg : sdk_alg;
    if (alg >= 0) {
        unsigned char got[DIGEST_MAX];
        char b64[CHECKSUM_B64];
        digest(alg, data, n, got);
        if (ck.alg >= 0) {
            const char *given = ck.trailer ? tval : ck.value;
            unsigned char want[DIGEST_MAX];
            long wl = util_base64_decode(given, strlen(given), want, sizeof want);
            if (wl != (long)algs[alg].len) {
                snprintf(msg, sizeof msg, "Value for %s %s is invalid.", algs[alg].header,
                         ck.trailer ? "trailer" : "header");
                s3_error(c, 400, "InvalidRequest", msg);
                goto err;
            }
            if (memcmp(want, got, algs[alg].len) != 0) {
                snprintf(msg, sizeof msg,
                         "The %s you specified did not match the calculated checksum.",
                         algs[alg].upper);
                s3_error(c, 400, "BadDigest", msg);
                goto err;
            }
        }
        digest_b64(alg, got, b64);
        if (headers != NULL &&
            (buf_puts(headers, algs[alg].header) != 0 || buf_append(headers, "", 1) != 0 ||
             buf_puts(headers, b64) != 0 || buf_append(headers, "", 1) != 0)) {
            s3_error(c, 400, "MetadataTooLarge",
                     "Your metadata headers exceed the maximum allowed metadata size.");
            goto err;
        }
    }

    *body = data;
    *len = n;
    *owned = dec;
    return 0;

err:
    free(dec);
    return -1;
}
