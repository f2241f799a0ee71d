/* s3_multipart.c - S3 multipart uploads: CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts and
 * ListMultipartUploads (the AWS CLI uploads files above 8 MiB this way), and
 * UploadPartCopy (an UploadPart with x-amz-copy-source: the CLI's copies of
 * large objects between keys or buckets).
 *
 * An upload in progress lives in two record tables of the store:
 *   "mpu"        key "<bucket>/<UploadId>": when it began, its checksum
 *                algorithm and type, the object key (binary-safe, up to 1024
 *                bytes, so it is kept in the value) and the object's headers;
 *   "mpu-parts"  key "<bucket>/<UploadId>/<part number, 5 digits>": the part's
 *                bytes, MD5 ETag, checksum and time.
 * The bucket leads the key so a bucket's uploads are one prefix scan, and
 * the zero-padded part number makes a scan return parts in order. Upload
 * ids are 12 hex digits of the start time in ms and 32 random hex digits,
 * so the record order is also the order uploads began.
 *
 * Each write is one transaction. Completing assembles the object in memory
 * (bounded by the object limit), stores it with storage_put (its own
 * transaction, so none is held around it) and only then drops the upload's
 * records: a failure anywhere leaves either the upload intact or the object
 * stored, never half of either. A write transaction that must also find all
 * of an upload's parts opens a view after taking the writer lock, so the
 * view sees exactly the state the transaction changes.
 *
 * Checksums follow S3: an upload created with x-amz-checksum-algorithm
 * requires parts of that algorithm (computed when a part brings none) and,
 * for the COMPOSITE type, each part's checksum in the completion request;
 * the object then gets the checksum of the part checksums with "-N"
 * appended (COMPOSITE) or the checksum of the whole object (FULL_OBJECT).
 *
 * The completion request is XML parsed here by a small strict parser: one
 * fixed shape three elements deep, bounded input, text and part count.
 */
#include "storage/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "common/log.h"

#define XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define T_UPLOADS "mpu"
#define T_PARTS "mpu-parts"
#define UPLOAD_ID_LEN 44                /* 12 hex digits of ms + 32 random hex digits */
#define PART_NUMBER_MAX 10000           /* as S3 */
#define PART_SIZE_MIN ((size_t)5 << 20) /* every part but the last, as S3 */
#define COMPLETE_XML_MAX ((size_t)4 << 20)
#define XML_TEXT_MAX 256 /* the longest text of one element of the completion request */
#define XML_NAME_MAX 64
#define LIST_MAX 1000
#define HEADERS_MAX 8192 /* the store's limit on an object's packed headers */
#define CK_B64_MAX 64    /* base64 of the largest digest, or a composite value */
#define PARAM_MAX 2048
#define UPLOAD_KEY_MAX (STORAGE_MAX_BUCKET + 1 + UPLOAD_ID_LEN)
#define PART_KEY_MAX (UPLOAD_KEY_MAX + 1 + 5)

#define MALFORMED_XML                                                                              \
    "The XML you provided was not well-formed or did not validate against our published schema"
#define NO_SUCH_UPLOAD                                                                             \
    "The specified upload does not exist. The upload ID may be invalid, or the upload may have "   \
    "been aborted or completed."
#define INVALID_PART                                                                               \
    "One or more of the specified parts could not be found. The part may not have been "           \
    "uploaded, or the specified entity tag may not have matched the part's entity tag."

/* ---- checksum algorithms (the values are computed by s3_body.c) ---- */

enum { ALG_CRC32, ALG_CRC32C, ALG_CRC64NVME, ALG_SHA1, ALG_SHA256, ALG_COUNT };

static const struct {
    const char *name;   /* lowercase, as s3_checksum_b64 takes it */
    const char *upper;  /* as in x-amz-checksum-algorithm and XML */
    const char *header; /* the value header, also the stored header name */
    const char *xml;    /* the element of a part or a result */
    size_t len;         /* digest bytes */
} algs[ALG_COUNT] = {
    {"crc32", "CRC32", "x-amz-checksum-crc32", "ChecksumCRC32", 4},
    {"crc32c", "CRC32C", "x-amz-checksum-crc32c", "ChecksumCRC32C", 4},
    {"crc64nvme", "CRC64NVME", "x-amz-checksum-crc64nvme", "ChecksumCRC64NVME", 8},
    {"sha1", "SHA1", "x-amz-checksum-sha1", "ChecksumSHA1", 20},
    {"sha256", "SHA256", "x-amz-checksum-sha256", "ChecksumSHA256", 32},
};

static int alg_find(const char *name)
{
    for (int i = 0; i < ALG_COUNT; i++) {
        if (util_strcaseeq(algs[i].name, name))
            return i;
    }
    return -1;
}

/* The checksum among packed headers h[0..n) (as s3_body appends it): its
 * algorithm, with the value in *value; -1 when there is none. */
static int headers_checksum(const char *h, size_t n, const char **value)
{
    for (int i = 0; i < ALG_COUNT; i++) {
        const char *v = storage_header(h, n, algs[i].header);
        if (v != NULL) {
            *value = v;
            return i;
        }
    }
    return -1;
}

/* ---- little-endian fields of the records ---- */

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- the upload record ----
 *   u8 version (1) | u64 initiated ms | u8 algorithm + 1 (0 none) |
 *   u8 full-object | u16 key length | key | u32 headers length | headers */

#define UPLOAD_FIXED 13

typedef struct upload {
    int64_t initiated_ms;
    int alg;         /* -1: no checksum algorithm */
    int full_object; /* checksum type FULL_OBJECT (else COMPOSITE) */
    const char *key; /* borrowed from the record */
    size_t key_len;
    const char *headers; /* packed, borrowed from the record */
    size_t headers_len;
} upload_t;

static unsigned char *upload_encode(const upload_t *u, size_t *len)
{
    size_t n = UPLOAD_FIXED + u->key_len + 4 + u->headers_len;
    unsigned char *p = xmalloc(n);
    p[0] = 1;
    put_le(p + 1, (uint64_t)u->initiated_ms, 8);
    p[9] = (unsigned char)(u->alg + 1);
    p[10] = (unsigned char)u->full_object;
    put_le(p + 11, u->key_len, 2);
    memcpy(p + UPLOAD_FIXED, u->key, u->key_len);
    put_le(p + UPLOAD_FIXED + u->key_len, u->headers_len, 4);
    if (u->headers_len > 0)
        memcpy(p + UPLOAD_FIXED + u->key_len + 4, u->headers, u->headers_len);
    *len = n;
    return p;
}

/* Decode an upload record; pointers borrow from it. Returns 0 or -1 (corrupt). */
static int upload_decode(const void *val, size_t n, upload_t *u)
{
    const unsigned char *p = val;
    if (n < UPLOAD_FIXED + 4 || p[0] != 1 || p[9] > ALG_COUNT)
        return -1;
    u->initiated_ms = (int64_t)get_le(p + 1, 8);
    u->alg = (int)p[9] - 1;
    u->full_object = p[10] != 0;
    u->key_len = (size_t)get_le(p + 11, 2);
    if (u->key_len > n - UPLOAD_FIXED - 4)
        return -1;
    u->key = (const char *)p + UPLOAD_FIXED;
    u->headers_len = (size_t)get_le(p + UPLOAD_FIXED + u->key_len, 4);
    if (u->headers_len != n - UPLOAD_FIXED - u->key_len - 4)
        return -1;
    u->headers = (const char *)p + UPLOAD_FIXED + u->key_len + 4;
    return 0;
}

/* ---- the part record ----
 *   u8 version (1) | u64 mtime ms | 32 hex MD5 | u8 algorithm + 1 |
 *   u8 checksum length | checksum base64 | data */

#define PART_FIXED 43

typedef struct part {
    int64_t mtime_ms;
    char etag[33]; /* MD5 hex */
    int alg;       /* -1: no checksum */
    char ck[CK_B64_MAX];
    const unsigned char *data; /* borrowed from the record */
    size_t size;
} part_t;

static int part_decode(const void *val, size_t n, part_t *pt)
{
    const unsigned char *p = val;
    if (n < PART_FIXED || p[0] != 1 || p[41] > ALG_COUNT || p[42] >= CK_B64_MAX ||
        p[42] > n - PART_FIXED)
        return -1;
    pt->mtime_ms = (int64_t)get_le(p + 1, 8);
    memcpy(pt->etag, p + 9, 32);
    pt->etag[32] = '\0';
    pt->alg = (int)p[41] - 1;
    memcpy(pt->ck, p + PART_FIXED, p[42]);
    pt->ck[p[42]] = '\0';
    pt->data = p + PART_FIXED + p[42];
    pt->size = n - PART_FIXED - p[42];
    return 0;
}

/* ---- shared pieces ---- */

/* Open a view in which the request's bucket exists. Returns 0, or -1 (answered). */
static int open_view(s3_ctx_t *c, storage_view_t **v)
{
    storage_bucket_info_t info;
    int rc = storage_view_open(c->st, v);
    if (rc == 0)
        rc = storage_bucket_get(*v, c->bucket, &info);
    if (rc != 0) {
        storage_view_close(*v);
        *v = NULL;
        s3_storage_error(c, rc);
        return -1;
    }
    return 0;
}

/* The request's object key, required by every operation but the listing. */
static int need_key(s3_ctx_t *c)
{
    if (c->key == NULL || c->key_len == 0) {
        s3_error(c, 400, "InvalidRequest", "A multipart upload operation needs an object key.");
        return -1;
    }
    if (c->key_len > STORAGE_MAX_KEY) {
        s3_error(c, 400, "KeyTooLongError", "Your key is too long");
        return -1;
    }
    return 0;
}

/* The uploadId parameter as the record key "<bucket>/<id>" into ukey.
 * Returns its length, or 0 (answered NoSuchUpload) when absent or not an
 * id cloudlet could have issued. */
static size_t upload_key(s3_ctx_t *c, char ukey[UPLOAD_KEY_MAX + 1])
{
    char id[128];
    int n = s3_param(c, "uploadId", id, sizeof id);
    int ok = n == UPLOAD_ID_LEN;
    for (int i = 0; ok && i < n; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok) {
        s3_error(c, 404, "NoSuchUpload", NO_SUCH_UPLOAD);
        return 0;
    }
    return (size_t)snprintf(ukey, UPLOAD_KEY_MAX + 1, "%s/%s", c->bucket, id);
}

/* The upload's id: what follows the bucket and slash in its record key. */
static const char *upload_id_of(const char *ukey)
{
    return strchr(ukey, '/') + 1;
}

/* Find the upload for this request's key through a view. Returns 0, or -1
 * (answered: NoSuchUpload also when the id belongs to another key). */
static int find_upload(s3_ctx_t *c, storage_view_t *v, const char *ukey, size_t ukey_len,
                       upload_t *u)
{
    const void *val;
    size_t n;
    int rc = storage_view_rec_get(v, T_UPLOADS, ukey, ukey_len, &val, &n);
    if (rc == STORAGE_ENOTFOUND) {
        s3_error(c, 404, "NoSuchUpload", NO_SUCH_UPLOAD);
        return -1;
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        return -1;
    }
    if (upload_decode(val, n, u) != 0) {
        s3_storage_error(c, STORAGE_EIO);
        return -1;
    }
    if (u->key_len != c->key_len || memcmp(u->key, c->key, c->key_len) != 0) {
        s3_error(c, 404, "NoSuchUpload", NO_SUCH_UPLOAD);
        return -1;
    }
    return 0;
}

/* A decimal query parameter: 0 with *out, 1 when absent, -1 when malformed
 * or above max. */
static int param_uint(s3_ctx_t *c, const char *name, unsigned long max, unsigned long *out)
{
    char s[32];
    int n = s3_param(c, name, s, sizeof s);
    if (n == -1)
        return 1;
    if (n <= 0 || n > 10)
        return -1;
    unsigned long long v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = (unsigned long)v;
    return 0;
}

/* Append s with XML escaping, or percent-encoded when url (encoding-type=url:
 * everything but unreserved characters and '/'). */
static void put_text(buf_t *b, const char *s, size_t n, int url)
{
    if (!url) {
        buf_xml_escape(b, s, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/')
            buf_append(b, &s[i], 1);
        else
            buf_printf(b, "%%%02X", ch);
    }
}

/* <name>escaped text</name> */
static void put_elem(buf_t *b, const char *name, const char *s, size_t n)
{
    buf_printf(b, "<%s>", name);
    buf_xml_escape(b, s, n);
    buf_printf(b, "</%s>", name);
}

typedef struct keys_ctx {
    buf_t keys; /* packed: u8 length, key */
} keys_ctx_t;

static int collect_key(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    keys_ctx_t *k = ctx;
    unsigned char len = (unsigned char)key_len;
    if (key_len > PART_KEY_MAX)
        return 0;
    buf_append(&k->keys, &len, 1);
    buf_append(&k->keys, key, key_len);
    return 0;
}

/* Delete the upload record ukey and all its parts inside write transaction
 * t. The parts are found through a view opened now, under t's writer lock,
 * so it sees every part committed before t and no other can appear. A
 * missing upload record is not an error here. */
static int drop_upload(storage_t *st, storage_txn_t *t, const char *ukey, size_t ukey_len)
{
    storage_view_t *v;
    keys_ctx_t k;
    char prefix[UPLOAD_KEY_MAX + 2];
    int rc = storage_rec_del(t, T_UPLOADS, ukey, ukey_len);
    if (rc != 0 && rc != STORAGE_ENOTFOUND)
        return rc;
    rc = storage_view_open(st, &v);
    if (rc != 0)
        return rc;
    memcpy(prefix, ukey, ukey_len);
    prefix[ukey_len] = '/';
    buf_init(&k.keys, 0);
    rc = storage_view_rec_scan(v, T_PARTS, prefix, ukey_len + 1, collect_key, &k);
    storage_view_close(v);
    for (size_t off = 0; rc == 0 && off < k.keys.len;) {
        size_t len = (unsigned char)k.keys.data[off];
        rc = storage_rec_del(t, T_PARTS, k.keys.data + off + 1, len);
        if (rc == STORAGE_ENOTFOUND)
            rc = 0;
        off += 1 + len;
    }
    buf_free(&k.keys);
    return rc;
}

/* ---- CreateMultipartUpload: POST /b/k?uploads ---- */

void s3_create_multipart(s3_ctx_t *c)
{
    storage_view_t *v = NULL;
    storage_txn_t *t = NULL;
    unsigned char *rec = NULL;
    buf_t headers, b;
    buf_init(&headers, HEADERS_MAX);
    buf_init(&b, 0);

    if (need_key(c) != 0 || open_view(c, &v) != 0)
        goto out;
    storage_view_close(v);

    upload_t u = {util_now_ms(), -1, 0, c->key, c->key_len, NULL, 0};
    const char *ah = http_header(c->req, "x-amz-checksum-algorithm");
    const char *th = http_header(c->req, "x-amz-checksum-type");
    char msg[200];
    if (ah != NULL) {
        u.alg = alg_find(ah);
        if (u.alg < 0) {
            s3_error(c, 400, "InvalidRequest",
                     "Checksum algorithm provided is unsupported. Please try again with any of "
                     "the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]");
            goto out;
        }
    }
    if (th != NULL) {
        if (util_strcaseeq(th, "FULL_OBJECT")) {
            u.full_object = 1;
        } else if (!util_strcaseeq(th, "COMPOSITE")) {
            s3_error(c, 400, "InvalidRequest", "Value for x-amz-checksum-type header is invalid.");
            goto out;
        }
        if (u.alg < 0) {
            s3_error(c, 400, "InvalidRequest",
                     "The x-amz-checksum-type header can only be used with the "
                     "x-amz-checksum-algorithm header.");
            goto out;
        }
    } else {
        /* CRC64NVME exists only as a full-object checksum. */
        u.full_object = u.alg == ALG_CRC64NVME;
    }
    if (u.alg >= 0 && u.full_object && (u.alg == ALG_SHA1 || u.alg == ALG_SHA256)) {
        snprintf(msg, sizeof msg,
                 "The FULL_OBJECT checksum type cannot be used with the %s checksum algorithm.",
                 algs[u.alg].name);
        s3_error(c, 400, "InvalidRequest", msg);
        goto out;
    }
    if (u.alg == ALG_CRC64NVME && !u.full_object) {
        s3_error(c, 400, "InvalidRequest",
                 "The COMPOSITE checksum type cannot be used with the crc64nvme checksum "
                 "algorithm.");
        goto out;
    }
    if (s3_object_headers(c, &headers) != 0)
        goto out;
    u.headers = headers.data;
    u.headers_len = headers.len;

    char ukey[UPLOAD_KEY_MAX + 1], id[UPLOAD_ID_LEN + 1];
    unsigned char rnd[16];
    util_random(rnd, sizeof rnd);
    snprintf(id, sizeof id, "%012llx", (unsigned long long)u.initiated_ms & 0xffffffffffffull);
    util_hex(rnd, sizeof rnd, id + 12);
    size_t ukey_len = (size_t)snprintf(ukey, sizeof ukey, "%s/%s", c->bucket, id);

    size_t rec_len;
    rec = upload_encode(&u, &rec_len);
    int rc = storage_txn_begin(c->st, &t);
    if (rc == 0)
        rc = storage_rec_put(t, T_UPLOADS, ukey, ukey_len, rec, rec_len, STORAGE_PUT_IF_ABSENT);
    if (rc == 0) {
        rc = storage_txn_commit(t);
        t = NULL;
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        goto out;
    }

    buf_puts(&b, XML_DECL "<InitiateMultipartUploadResult xmlns=\"" XMLNS "\">");
    put_elem(&b, "Bucket", c->bucket, strlen(c->bucket));
    put_elem(&b, "Key", c->key, c->key_len);
    put_elem(&b, "UploadId", id, UPLOAD_ID_LEN);
    buf_puts(&b, "</InitiateMultipartUploadResult>");
    if (u.alg >= 0) {
        http_resp_header(c->resp, "x-amz-checksum-algorithm", algs[u.alg].upper);
        http_resp_header(c->resp, "x-amz-checksum-type",
                         u.full_object ? "FULL_OBJECT" : "COMPOSITE");
    }
    s3_send_xml(c, 200, &b);
out:
    storage_txn_abort(t);
    free(rec);
    buf_free(&headers);
    buf_free(&b);
}

/* ---- UploadPart: PUT /b/k?partNumber=N&uploadId=U ---- */

#define BAD_COPY_SOURCE "Copy Source must mention the source bucket and key"
#define BAD_COPY_RANGE                                                                             \
    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "      \
    "last are the zero-based offsets of the first and last bytes to copy"

/* Parse "bytes=first-last" against size. Returns 0, or -1 when malformed or
 * outside the object. */
static int copy_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
    const char *p = h;
    uint64_t v[2];
    if (strncmp(p, "bytes=", 6) != 0)
        return -1;
    p += 6;
    for (int i = 0; i < 2; i++) {
        if (*p < '0' || *p > '9')
            return -1;
        v[i] = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (v[i] > (UINT64_MAX - 9) / 10)
                return -1;
            v[i] = v[i] * 10 + (uint64_t)(*p - '0');
        }
        if (i == 0 && *p++ != '-')
            return -1;
    }
    if (*p != '\0' || v[0] > v[1] || v[1] >= size)
        return -1;
    *first = v[0];
    *last = v[1];
    return 0;
}

/* UploadPartCopy: the bytes of x-amz-copy-source ("[/]bucket/key[?versionId=..]",
 * percent-encoded), or of its x-amz-copy-source-range, through a view that
 * the caller closes (*v) once it has copied them. Returns 0, or -1 (answered). */
static int copy_source(s3_ctx_t *c, const char *src, storage_view_t **v, const unsigned char **body,
                       size_t *len)
{
    char bucket[STORAGE_MAX_BUCKET + 1];
    char *path = NULL;
    storage_object_t obj;
    int ret = -1;

    if (src[0] == '/')
        src++;
    size_t n = strcspn(src, "?"); /* versionId: one version per key here */
    if (n > STORAGE_MAX_BUCKET + 1 + 3 * STORAGE_MAX_KEY) {
        s3_error(c, 400, "InvalidArgument", BAD_COPY_SOURCE);
        goto out;
    }
    /* Percent-decode in place; a NUL byte is no key. */
    path = xstrndup(src, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (path[i] != '%') {
            path[o++] = path[i];
            continue;
        }
        if (i + 2 >= n || util_hexval(path[i + 1]) < 0 || util_hexval(path[i + 2]) < 0)
            goto bad;
        path[o++] = (char)(util_hexval(path[i + 1]) << 4 | util_hexval(path[i + 2]));
        i += 2;
    }
    const char *slash = memchr(path, '/', o);
    if (slash == NULL || slash == path || (size_t)(slash - path) > STORAGE_MAX_BUCKET ||
        (size_t)(slash - path) + 1 == o || memchr(path, '\0', o) != NULL)
        goto bad;
    memcpy(bucket, path, (size_t)(slash - path));
    bucket[slash - path] = '\0';
    size_t klen = o - (size_t)(slash - path) - 1;

    int rc = storage_view_open(c->st, v);
    if (rc == 0)
        rc = storage_get(*v, bucket, slash + 1, klen, &obj);
    if (rc == STORAGE_ENOTFOUND) {
        s3_error(c, 404, "NoSuchKey", "The specified key does not exist.");
        goto out;
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        goto out;
    }
    uint64_t first = 0, last = obj.size ? obj.size - 1 : 0;
    const char *range = http_header(c->req, "x-amz-copy-source-range");
    if (range != NULL && copy_range(range, obj.size, &first, &last) != 0) {
        s3_error(c, 400, "InvalidArgument", BAD_COPY_RANGE);
        goto out;
    }
    size_t limit = c->max_object ? c->max_object : SIZE_MAX;
    uint64_t size = obj.size ? last - first + 1 : 0;
    if (size > limit) {
        s3_error(c, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
        goto out;
    }
    *body = (const unsigned char *)obj.body + first;
    *len = (size_t)size;
    ret = 0;
    goto out;
bad:
    s3_error(c, 400, "InvalidArgument", BAD_COPY_SOURCE);
out:
    free(path);
    return ret;
}

void s3_upload_part(s3_ctx_t *c)
{
    storage_view_t *v = NULL, *src = NULL;
    storage_txn_t *t = NULL;
    unsigned char *owned = NULL, *rec = NULL;
    buf_t ck;
    buf_init(&ck, 1024);
    char ukey[UPLOAD_KEY_MAX + 1], pkey[PART_KEY_MAX + 1];
    upload_t u;
    unsigned long number = 0;

    if (need_key(c) != 0)
        goto out;
    if (param_uint(c, "partNumber", PART_NUMBER_MAX, &number) != 0 || number < 1) {
        s3_error(c, 400, "InvalidArgument",
                 "Part number must be an integer between 1 and 10000, inclusive");
        goto out;
    }
    size_t ukey_len = upload_key(c, ukey);
    if (ukey_len == 0 || open_view(c, &v) != 0)
        goto out;
    int rc = find_upload(c, v, ukey, ukey_len, &u);
    storage_view_close(v);
    if (rc != 0)
        goto out;
    int up_alg = u.alg; /* u's pointers died with the view; the algorithm is a copy */

    const unsigned char *body;
    size_t len;
    const char *copy = http_header(c->req, "x-amz-copy-source");
    if (copy != NULL) {
        if (copy_source(c, copy, &src, &body, &len) != 0)
            goto out;
    } else if (s3_body(c, &body, &len, &owned, &ck) != 0) {
        goto out;
    }
    const char *ckval = NULL;
    char computed[64];
    int alg = headers_checksum(ck.data, ck.len, &ckval);
    if (up_alg >= 0 && alg >= 0 && alg != up_alg) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum "
                 "Type: %s",
                 algs[up_alg].name, algs[alg].name);
        s3_error(c, 400, "InvalidRequest", msg);
        goto out;
    }
    if (up_alg >= 0 && alg < 0) {
        /* The upload promised a checksum of every part: make it here. */
        alg = up_alg;
        s3_checksum_b64(algs[alg].name, body, len, computed);
        ckval = computed;
    }

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(len ? body : (const unsigned char *)"", len, md, &mdlen, EVP_md5(), NULL) != 1) {
        fprintf(stderr, "cloudlet: MD5 failed\n");
        abort();
    }
    char etag[33];
    util_hex(md, 16, etag);

    size_t cklen = ckval ? strlen(ckval) : 0;
    if (cklen >= CK_B64_MAX || len > SIZE_MAX - PART_FIXED - CK_B64_MAX) {
        s3_error(c, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
        goto out;
    }
    size_t rec_len = PART_FIXED + cklen + len;
    rec = xmalloc(rec_len);
    rec[0] = 1;
    put_le(rec + 1, (uint64_t)util_now_ms(), 8);
    memcpy(rec + 9, etag, 32);
    rec[41] = (unsigned char)(alg + 1);
    rec[42] = (unsigned char)cklen;
    if (cklen > 0)
        memcpy(rec + PART_FIXED, ckval, cklen);
    if (len > 0)
        memcpy(rec + PART_FIXED + cklen, body, len);
    /* The copied source is no longer needed: let its snapshot go before the write. */
    storage_view_close(src);
    src = NULL;
    size_t pkey_len = (size_t)snprintf(pkey, sizeof pkey, "%s/%05lu", ukey, number);

    /* The upload may have been completed or aborted since it was looked up. */
    const void *val;
    size_t val_len;
    rc = storage_txn_begin(c->st, &t);
    if (rc == 0)
        rc = storage_rec_get(t, T_UPLOADS, ukey, ukey_len, &val, &val_len);
    if (rc == STORAGE_ENOTFOUND) {
        s3_error(c, 404, "NoSuchUpload", NO_SUCH_UPLOAD);
        goto out;
    }
    if (rc == 0)
        rc = storage_rec_put(t, T_PARTS, pkey, pkey_len, rec, rec_len, 0);
    if (rc == 0) {
        rc = storage_txn_commit(t);
        t = NULL;
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        goto out;
    }
    if (copy != NULL) {
        buf_t b;
        char date[25];
        buf_init(&b, 0);
        util_iso8601_ms(util_now_ms(), date);
        buf_printf(&b,
                   XML_DECL "<CopyPartResult xmlns=\"" XMLNS "\"><LastModified>%s</LastModified>"
                            "<ETag>&quot;%s&quot;</ETag>",
                   date, etag);
        if (alg >= 0)
            put_elem(&b, algs[alg].xml, ckval, strlen(ckval));
        buf_puts(&b, "</CopyPartResult>");
        s3_send_xml(c, 200, &b);
        goto out;
    }
    http_resp_headerf(c->resp, "ETag", "\"%s\"", etag);
    if (alg >= 0)
        http_resp_header(c->resp, algs[alg].header, ckval);
out:
    storage_view_close(src);
    storage_txn_abort(t);
    free(rec);
    free(owned);
    buf_free(&ck);
}

/* ---- the CompleteMultipartUpload document ----
 *
 * <CompleteMultipartUpload xmlns="...">
 *   <Part><PartNumber>1</PartNumber><ETag>"..."</ETag><ChecksumCRC32>..</ChecksumCRC32></Part>
 *   ...
 * </CompleteMultipartUpload>
 *
 * Accepted: an optional BOM and XML declaration, comments, whitespace
 * between elements, attributes (xmlns), the five named entities and
 * character references, CDATA in text. Refused: DOCTYPE and any other
 * markup, any element but Part under the root, elements nested inside the
 * leaves of a Part, text over XML_TEXT_MAX bytes, more than PART_NUMBER_MAX
 * parts. Unknown leaf elements of a Part are skipped. */

typedef struct part_ref {
    unsigned number;
    char etag[STORAGE_ETAG_MAX]; /* surrounding quotes removed */
    char ck[ALG_COUNT][CK_B64_MAX];
} part_ref_t;

typedef struct xp {
    const char *p, *end;
} xp_t;

static int xp_at(const xp_t *x, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(x->end - x->p) >= n && memcmp(x->p, s, n) == 0;
}

static int xml_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static void xp_ws(xp_t *x)
{
    while (x->p < x->end && xml_space(*x->p))
        x->p++;
}

/* Skip past the next occurrence of s; -1 when there is none. */
static int xp_past(xp_t *x, const char *s)
{
    const char *e = memmem(x->p, (size_t)(x->end - x->p), s, strlen(s));
    if (e == NULL)
        return -1;
    x->p = e + strlen(s);
    return 0;
}

/* Whitespace and comments. */
static int xp_misc(xp_t *x)
{
    for (;;) {
        xp_ws(x);
        if (!xp_at(x, "<!--"))
            return 0;
        x->p += 4;
        if (xp_past(x, "-->") != 0)
            return -1;
    }
}

static int name_char(char ch, int first)
{
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' || ch == ':')
        return 1;
    return !first && ((ch >= '0' && ch <= '9') || ch == '-' || ch == '.');
}

static int xp_name(xp_t *x, char name[XML_NAME_MAX + 1])
{
    size_t n = 0;
    while (x->p < x->end && name_char(*x->p, n == 0)) {
        if (n == XML_NAME_MAX)
            return -1;
        name[n++] = *x->p++;
    }
    name[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* A start tag "<name attr="v" ...>" or "<name/>"; *empty for the latter. */
static int xp_start(xp_t *x, char name[XML_NAME_MAX + 1], int *empty)
{
    if (x->p >= x->end || *x->p != '<')
        return -1;
    x->p++;
    if (xp_name(x, name) != 0)
        return -1;
    for (;;) {
        const char *before = x->p;
        xp_ws(x);
        if (xp_at(x, "/>")) {
            x->p += 2;
            *empty = 1;
            return 0;
        }
        if (xp_at(x, ">")) {
            x->p++;
            *empty = 0;
            return 0;
        }
        char attr[XML_NAME_MAX + 1];
        if (x->p == before || xp_name(x, attr) != 0)
            return -1;
        xp_ws(x);
        if (x->p >= x->end || *x->p != '=')
            return -1;
        x->p++;
        xp_ws(x);
        if (x->p >= x->end || (*x->p != '"' && *x->p != '\''))
            return -1;
        char q = *x->p++;
        const char *e = memchr(x->p, q, (size_t)(x->end - x->p));
        if (e == NULL)
            return -1;
        for (; x->p < e; x->p++) {
            if (*x->p == '<' || ((unsigned char)*x->p < 0x20 && !xml_space(*x->p)))
                return -1;
        }
        x->p = e + 1;
    }
}

/* The end tag "</name>". */
static int xp_end(xp_t *x, const char *name)
{
    char got[XML_NAME_MAX + 1];
    if (!xp_at(x, "</"))
        return -1;
    x->p += 2;
    if (xp_name(x, got) != 0 || strcmp(got, name) != 0)
        return -1;
    xp_ws(x);
    if (x->p >= x->end || *x->p != '>')
        return -1;
    x->p++;
    return 0;
}

/* Decode the reference at x->p ("&...;") as UTF-8 into out; its length, or -1. */
static int xp_ref(xp_t *x, char out[4])
{
    size_t avail = (size_t)(x->end - x->p);
    const char *semi = memchr(x->p, ';', avail < 12 ? avail : 12);
    if (semi == NULL)
        return -1;
    const char *s = x->p + 1;
    size_t n = (size_t)(semi - s);
    x->p = semi + 1;
    static const struct {
        const char *name;
        char ch;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strlen(named[i].name) == n && memcmp(s, named[i].name, n) == 0) {
            out[0] = named[i].ch;
            return 1;
        }
    }
    if (n < 2 || s[0] != '#')
        return -1;
    int hex = s[1] == 'x';
    size_t i = hex ? 2 : 1;
    if (i == n)
        return -1;
    uint32_t cp = 0;
    for (; i < n; i++) {
        int d = hex ? util_hexval(s[i]) : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
        if (d < 0 || cp > 0x10ffff)
            return -1;
        cp = cp * (hex ? 16 : 10) + (uint32_t)d;
    }
    /* Only what XML 1.0 calls a character. */
    if ((cp < 0x20 && cp != 0x9 && cp != 0xa && cp != 0xd) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
        return -1;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The text of a leaf, up to the next tag, decoded into out (NUL-terminated,
 * at most XML_TEXT_MAX bytes). The caller then requires the end tag, which
 * refuses a nested element. */
static int xp_text(xp_t *x, char out[XML_TEXT_MAX + 1])
{
    size_t o = 0;
    while (x->p < x->end) {
        char buf[4];
        const char *src = buf;
        size_t n;
        if (*x->p == '<') {
            if (xp_at(x, "<!--")) {
                x->p += 4;
                if (xp_past(x, "-->") != 0)
                    return -1;
                continue;
            }
            if (!xp_at(x, "<![CDATA["))
                break;
            x->p += 9;
            src = x->p;
            if (xp_past(x, "]]>") != 0)
                return -1;
            n = (size_t)(x->p - 3 - src);
            for (size_t i = 0; i < n; i++) {
                if ((unsigned char)src[i] < 0x20 && !xml_space(src[i]))
                    return -1;
            }
        } else if (*x->p == '&') {
            int r = xp_ref(x, buf);
            if (r < 0)
                return -1;
            n = (size_t)r;
        } else if ((unsigned char)*x->p < 0x20 && !xml_space(*x->p)) {
            return -1; /* not an XML character (NUL and the other controls) */
        } else {
            src = x->p++;
            n = 1;
        }
        if (n > XML_TEXT_MAX - o)
            return -1;
        memcpy(out + o, src, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

/* Trim XML whitespace from both ends of s, in place. */
static char *trim_ws(char *s)
{
    while (xml_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && xml_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Parse the CompleteMultipartUpload document s[0..n). On success *parts
 * (caller frees) holds *count >= 1 parts in document order; part numbers
 * are 0-99999 and still to be range-checked. Returns 0 or -1 (malformed). */
static int parse_complete(const char *s, size_t n, part_ref_t **parts, size_t *count)
{
    xp_t x = {s, s + n};
    part_ref_t *list = NULL;
    size_t np = 0, cap = 0;
    char name[XML_NAME_MAX + 1];
    int empty;

    if (xp_at(&x, "\xef\xbb\xbf"))
        x.p += 3;
    if (xp_at(&x, "<?xml") && xp_past(&x, "?>") != 0)
        goto err;
    if (xp_misc(&x) != 0 || xp_start(&x, name, &empty) != 0 || empty ||
        strcmp(name, "CompleteMultipartUpload") != 0)
        goto err;
    for (;;) {
        if (xp_misc(&x) != 0)
            goto err;
        if (xp_at(&x, "</")) {
            if (xp_end(&x, "CompleteMultipartUpload") != 0)
                goto err;
            break;
        }
        if (xp_start(&x, name, &empty) != 0 || empty || strcmp(name, "Part") != 0 ||
            np == PART_NUMBER_MAX)
            goto err;
        if (np == cap) {
            cap = cap ? 2 * cap : 16;
            list = xrealloc(list, cap * sizeof *list);
        }
        part_ref_t *pr = &list[np++];
        memset(pr, 0, sizeof *pr);
        int have_number = 0, have_etag = 0;
        for (;;) {
            char text[XML_TEXT_MAX + 1] = "";
            if (xp_misc(&x) != 0)
                goto err;
            if (xp_at(&x, "</")) {
                if (xp_end(&x, "Part") != 0)
                    goto err;
                break;
            }
            if (xp_start(&x, name, &empty) != 0)
                goto err;
            if (!empty && (xp_text(&x, text) != 0 || xp_end(&x, name) != 0))
                goto err;
            char *t = trim_ws(text);
            if (strcmp(name, "PartNumber") == 0) {
                size_t len = strlen(t);
                if (have_number || len == 0 || len > 5 || strspn(t, "0123456789") != len)
                    goto err;
                pr->number = (unsigned)strtoul(t, NULL, 10);
                have_number = 1;
            } else if (strcmp(name, "ETag") == 0) {
                size_t len = strlen(t);
                if (len >= 2 && t[0] == '"' && t[len - 1] == '"') {
                    t[len - 1] = '\0';
                    t++;
                    len -= 2;
                }
                if (have_etag || len >= STORAGE_ETAG_MAX)
                    goto err;
                memcpy(pr->etag, t, len + 1);
                have_etag = 1;
            } else {
                for (int a = 0; a < ALG_COUNT; a++) {
                    if (strcmp(name, algs[a].xml) != 0)
                        continue;
                    size_t len = strlen(t);
                    if (len >= CK_B64_MAX || pr->ck[a][0] != '\0')
                        goto err;
                    memcpy(pr->ck[a], t, len + 1);
                }
            }
        }
        if (!have_number || !have_etag)
            goto err;
    }
    if (xp_misc(&x) != 0 || x.p != x.end || np == 0)
        goto err;
    *parts = list;
    *count = np;
    return 0;
err:
    free(list);
    return -1;
}

/* ---- CompleteMultipartUpload: POST /b/k?uploadId=U ---- */

/* Does a checksum given by the client (possibly "value-N") match value? */
static int checksum_matches(const char *given, const char *value)
{
    size_t n = strlen(value);
    const char *dash = strchr(given, '-');
    size_t gn = dash ? (size_t)(dash - given) : strlen(given);
    const char *vdash = strchr(value, '-');
    if (vdash != NULL)
        n = (size_t)(vdash - value);
    return gn == n && memcmp(given, value, n) == 0;
}

void s3_complete_multipart(s3_ctx_t *c)
{
    storage_view_t *v = NULL;
    storage_txn_t *t = NULL;
    part_ref_t *refs = NULL;
    size_t nrefs = 0;
    unsigned char *obj = NULL, *cks = NULL, *md5s = NULL;
    buf_t headers, b;
    buf_init(&headers, HEADERS_MAX);
    buf_init(&b, 0);
    char ukey[UPLOAD_KEY_MAX + 1];
    char msg[240];
    upload_t u;
    int rc;

    if (need_key(c) != 0)
        goto out;
    size_t ukey_len = upload_key(c, ukey);
    if (ukey_len == 0)
        goto out;
    /* The body is the XML document; an x-amz-checksum-* header here is the
     * checksum of the whole object, so s3_body (which would check it
     * against the XML) is not used. */
    if (c->req->body_len > COMPLETE_XML_MAX) {
        s3_error(c, 400, "MaxMessageLengthExceeded", "Your request was too big.");
        goto out;
    }
    if (open_view(c, &v) != 0 || find_upload(c, v, ukey, ukey_len, &u) != 0)
        goto out;
    const char *xml = c->req->body ? (const char *)c->req->body : "";
    if (parse_complete(xml, c->req->body_len, &refs, &nrefs) != 0) {
        s3_error(c, 400, "MalformedXML", MALFORMED_XML);
        goto out;
    }
    const char *ctype = http_header(c->req, "x-amz-checksum-type");
    if (ctype != NULL && u.alg >= 0 &&
        !util_strcaseeq(ctype, u.full_object ? "FULL_OBJECT" : "COMPOSITE")) {
        snprintf(msg, sizeof msg,
                 "The upload was created using the %s checksum mode. The complete request must "
                 "use the same checksum mode.",
                 u.full_object ? "FULL_OBJECT" : "COMPOSITE");
        s3_error(c, 400, "InvalidRequest", msg);
        goto out;
    }
    for (size_t i = 0; i < nrefs; i++) {
        if (refs[i].number < 1 || refs[i].number > PART_NUMBER_MAX) {
            s3_error(c, 400, "InvalidArgument",
                     "Part number must be an integer between 1 and 10000, inclusive");
            goto out;
        }
        if (i > 0 && refs[i].number <= refs[i - 1].number) {
            s3_error(c, 400, "InvalidPartOrder",
                     "The list of parts was not in ascending order. Parts must be ordered by "
                     "part number.");
            goto out;
        }
    }

    /* Check every part and add up the size; the view keeps the bytes mapped. */
    part_t *parts = xcalloc(nrefs, sizeof *parts);
    size_t limit = c->max_object ? c->max_object : SIZE_MAX;
    size_t total = 0;
    int bad = 0;
    for (size_t i = 0; i < nrefs && !bad; i++) {
        char pkey[PART_KEY_MAX + 1];
        size_t pkey_len = (size_t)snprintf(pkey, sizeof pkey, "%s/%05u", ukey, refs[i].number);
        const void *val;
        size_t val_len;
        rc = storage_view_rec_get(v, T_PARTS, pkey, pkey_len, &val, &val_len);
        if (rc == STORAGE_ENOTFOUND || (rc == 0 && part_decode(val, val_len, &parts[i]) != 0) ||
            (rc == 0 && !util_strcaseeq(parts[i].etag, refs[i].etag))) {
            s3_error(c, 400, "InvalidPart", INVALID_PART);
            bad = 1;
            break;
        }
        if (rc != 0) {
            s3_storage_error(c, rc);
            bad = 1;
            break;
        }
        for (int a = 0; a < ALG_COUNT; a++) {
            char have[64];
            if (refs[i].ck[a][0] == '\0')
                continue;
            if (parts[i].alg == a)
                snprintf(have, sizeof have, "%s", parts[i].ck);
            else
                s3_checksum_b64(algs[a].name, parts[i].data, parts[i].size, have);
            if (strcmp(have, refs[i].ck[a]) != 0) {
                s3_error(c, 400, "InvalidPart", INVALID_PART);
                bad = 1;
                break;
            }
        }
        if (!bad && u.alg >= 0 && !u.full_object && refs[i].ck[u.alg][0] == '\0') {
            snprintf(msg, sizeof msg,
                     "The upload was created using a %s checksum. The complete request must "
                     "include the checksum for each part. It was missing for part %u in the "
                     "request.",
                     algs[u.alg].name, refs[i].number);
            s3_error(c, 400, "InvalidRequest", msg);
            bad = 1;
        }
        if (!bad && i + 1 < nrefs && parts[i].size < PART_SIZE_MIN) {
            s3_error(c, 400, "EntityTooSmall",
                     "Your proposed upload is smaller than the minimum allowed size");
            bad = 1;
        }
        if (!bad && parts[i].size > limit - total) {
            s3_error(c, 400, "EntityTooLarge",
                     "Your proposed upload exceeds the maximum allowed size");
            bad = 1;
        }
        if (!bad)
            total += parts[i].size;
    }
    if (bad) {
        free(parts);
        goto out;
    }

    /* The object, its multipart ETag (MD5 of the parts' binary MD5s, "-N")
     * and, with an algorithm, its checksum. */
    obj = xmalloc(total ? total : 1);
    md5s = xmalloc(16 * nrefs);
    size_t dlen = u.alg >= 0 ? algs[u.alg].len : 0;
    cks = xmalloc(dlen * nrefs + 1);
    size_t off = 0;
    for (size_t i = 0; i < nrefs; i++) {
        if (parts[i].size > 0)
            memcpy(obj + off, parts[i].data, parts[i].size);
        off += parts[i].size;
        for (int k = 0; k < 16; k++)
            md5s[16 * i + k] = (unsigned char)(util_hexval(parts[i].etag[2 * k]) << 4 |
                                               util_hexval(parts[i].etag[2 * k + 1]));
        if (u.alg >= 0 && !u.full_object) {
            char have[64];
            if (parts[i].alg == u.alg)
                snprintf(have, sizeof have, "%s", parts[i].ck);
            else
                s3_checksum_b64(algs[u.alg].name, parts[i].data, parts[i].size, have);
            if (util_base64_decode(have, strlen(have), cks + dlen * i, dlen) != (long)dlen)
                bad = 1;
        }
    }
    free(parts);
    if (u.headers_len > 0)
        buf_append(&headers, u.headers, u.headers_len);
    storage_view_close(v);
    v = NULL;
    if (bad) {
        s3_storage_error(c, STORAGE_EIO);
        goto out;
    }

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(md5s, 16 * nrefs, md, &mdlen, EVP_md5(), NULL) != 1) {
        fprintf(stderr, "cloudlet: MD5 failed\n");
        abort();
    }
    char etag[STORAGE_ETAG_MAX], hex[33];
    util_hex(md, 16, hex);
    snprintf(etag, sizeof etag, "%s-%zu", hex, nrefs);

    char ck[CK_B64_MAX + 8] = "";
    int ck_alg = u.alg;
    if (u.alg >= 0 && u.full_object) {
        s3_checksum_b64(algs[u.alg].name, obj, total, ck);
    } else if (u.alg >= 0) {
        char b64[64];
        s3_checksum_b64(algs[u.alg].name, cks, dlen * nrefs, b64);
        snprintf(ck, sizeof ck, "%s-%zu", b64, nrefs);
    }
    /* A whole-object checksum sent with the request must match. */
    for (int a = 0; a < ALG_COUNT; a++) {
        const char *given = http_header(c->req, algs[a].header);
        if (given == NULL)
            continue;
        char full[64];
        s3_checksum_b64(algs[a].name, obj, total, full);
        int ok = checksum_matches(given, full) || (a == u.alg && checksum_matches(given, ck));
        if (!ok) {
            snprintf(msg, sizeof msg, "The %s you specified did not match the calculated checksum.",
                     algs[a].upper);
            s3_error(c, 400, "BadDigest", msg);
            goto out;
        }
        if (ck_alg < 0) {
            ck_alg = a;
            snprintf(ck, sizeof ck, "%s", full);
        }
    }
    const char *mp_size = http_header(c->req, "x-amz-mp-object-size");
    if (mp_size != NULL) {
        char *end;
        unsigned long long want = strtoull(mp_size, &end, 10);
        if (*mp_size < '0' || *mp_size > '9' || *end != '\0' || want != (unsigned long long)total) {
            s3_error(c, 400, "InvalidRequest",
                     "The provided x-amz-mp-object-size does not match the size of the object.");
            goto out;
        }
    }
    if (ck_alg >= 0 &&
        (buf_puts(&headers, algs[ck_alg].header) != 0 || buf_append(&headers, "", 1) != 0 ||
         buf_puts(&headers, ck) != 0 || buf_append(&headers, "", 1) != 0)) {
        s3_error(c, 400, "MetadataTooLarge",
                 "Your metadata headers exceed the maximum allowed metadata size.");
        goto out;
    }

    unsigned flags = 0;
    const char *inm = http_header(c->req, "If-None-Match");
    if (inm != NULL) {
        if (strcmp(inm, "*") != 0) {
            s3_error(c, 501, "NotImplemented",
                     "If-None-Match on CompleteMultipartUpload supports only \"*\".");
            goto out;
        }
        flags |= STORAGE_PUT_IF_ABSENT;
    }
    storage_meta_t meta = {headers.data, headers.len, etag, 0};
    rc = storage_put(c->st, c->bucket, c->key, c->key_len, obj, total, &meta, flags, NULL);
    if (rc == STORAGE_EPRECONDITION) {
        s3_error(c, 412, "PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold");
        goto out;
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        goto out;
    }
    s3_notify(c, "ObjectCreated:CompleteMultipartUpload", total, etag);
    free(obj);
    obj = NULL;

    /* The object is stored; now the upload goes. Should this fail, the
     * upload remains and completing it again stores the same object. */
    rc = storage_txn_begin(c->st, &t);
    if (rc == 0)
        rc = drop_upload(c->st, t, ukey, ukey_len);
    if (rc == 0) {
        rc = storage_txn_commit(t);
        t = NULL;
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        goto out;
    }

    const char *host = http_header(c->req, "Host");
    buf_puts(&b, XML_DECL "<CompleteMultipartUploadResult xmlns=\"" XMLNS "\"><Location>");
    buf_t loc;
    buf_init(&loc, 0);
    if (host != NULL)
        buf_printf(&loc, "http://%s", host);
    buf_printf(&loc, "/%s/", c->bucket);
    put_text(&loc, c->key, c->key_len, 1);
    buf_xml_escape(&b, loc.data, loc.len);
    buf_free(&loc);
    buf_puts(&b, "</Location>");
    put_elem(&b, "Bucket", c->bucket, strlen(c->bucket));
    put_elem(&b, "Key", c->key, c->key_len);
    buf_printf(&b, "<ETag>&quot;%s&quot;</ETag>", etag);
    if (ck_alg >= 0) {
        put_elem(&b, algs[ck_alg].xml, ck, strlen(ck));
        buf_printf(&b, "<ChecksumType>%s</ChecksumType>",
                   strchr(ck, '-') != NULL ? "COMPOSITE" : "FULL_OBJECT");
    }
    buf_puts(&b, "</CompleteMultipartUploadResult>");
    s3_send_xml(c, 200, &b);
out:
    storage_view_close(v);
    storage_txn_abort(t);
    free(refs);
    free(obj);
    free(cks);
    free(md5s);
    buf_free(&headers);
    buf_free(&b);
}

/* ---- AbortMultipartUpload: DELETE /b/k?uploadId=U ---- */

void s3_abort_multipart(s3_ctx_t *c)
{
    storage_view_t *v = NULL;
    storage_txn_t *t = NULL;
    char ukey[UPLOAD_KEY_MAX + 1];
    upload_t u;

    if (need_key(c) != 0)
        goto out;
    size_t ukey_len = upload_key(c, ukey);
    if (ukey_len == 0 || open_view(c, &v) != 0)
        goto out;
    storage_view_close(v);
    v = NULL;

    const void *val;
    size_t n;
    int rc = storage_txn_begin(c->st, &t);
    if (rc == 0)
        rc = storage_rec_get(t, T_UPLOADS, ukey, ukey_len, &val, &n);
    if (rc == STORAGE_ENOTFOUND ||
        (rc == 0 && upload_decode(val, n, &u) == 0 &&
         (u.key_len != c->key_len || memcmp(u.key, c->key, c->key_len) != 0))) {
        s3_error(c, 404, "NoSuchUpload", NO_SUCH_UPLOAD);
        goto out;
    }
    if (rc == 0)
        rc = drop_upload(c->st, t, ukey, ukey_len);
    if (rc == 0) {
        rc = storage_txn_commit(t);
        t = NULL;
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        goto out;
    }
    c->resp->status = 204;
out:
    storage_txn_abort(t);
}

/* ---- ListParts: GET /b/k?uploadId=U ---- */

typedef struct parts_ctx {
    buf_t *b;
    unsigned long marker, max;
    unsigned long listed;
    unsigned last;
    int truncated;
    int corrupt;
} parts_ctx_t;

static int list_part_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    parts_ctx_t *pc = ctx;
    part_t pt;
    const char *k = key;
    if (key_len < 5)
        return 0;
    /* The key ends in the 5-digit part number (and is not NUL-terminated). */
    unsigned number = 0;
    for (size_t i = key_len - 5; i < key_len; i++)
        number = number * 10 + (unsigned)(k[i] - '0');
    if (number <= pc->marker)
        return 0;
    if (pc->listed == pc->max) {
        pc->truncated = 1;
        return 1;
    }
    if (part_decode(val, val_len, &pt) != 0) {
        pc->corrupt = 1;
        return 1;
    }
    char date[25];
    util_iso8601_ms(pt.mtime_ms, date);
    buf_printf(pc->b,
               "<Part><PartNumber>%u</PartNumber><LastModified>%s</LastModified>"
               "<ETag>&quot;%s&quot;</ETag><Size>%zu</Size>",
               number, date, pt.etag, pt.size);
    if (pt.alg >= 0)
        put_elem(pc->b, algs[pt.alg].xml, pt.ck, strlen(pt.ck));
    buf_puts(pc->b, "</Part>");
    pc->listed++;
    pc->last = number;
    return 0;
}

void s3_list_parts(s3_ctx_t *c)
{
    storage_view_t *v = NULL;
    char ukey[UPLOAD_KEY_MAX + 1], prefix[UPLOAD_KEY_MAX + 2];
    upload_t u;
    buf_t b, parts;
    buf_init(&b, 0);
    buf_init(&parts, 0);
    unsigned long max = LIST_MAX, marker = 0;

    if (need_key(c) != 0)
        goto out;
    size_t ukey_len = upload_key(c, ukey);
    if (ukey_len == 0)
        goto out;
    if (param_uint(c, "max-parts", 2147483647ul, &max) < 0) {
        s3_error(c, 400, "InvalidArgument",
                 "Argument max-parts must be an integer between 0 and 2147483647");
        goto out;
    }
    if (param_uint(c, "part-number-marker", 2147483647ul, &marker) < 0) {
        s3_error(c, 400, "InvalidArgument",
                 "Argument part-number-marker must be an integer between 0 and 2147483647");
        goto out;
    }
    if (max > LIST_MAX)
        max = LIST_MAX;
    if (open_view(c, &v) != 0 || find_upload(c, v, ukey, ukey_len, &u) != 0)
        goto out;
    memcpy(prefix, ukey, ukey_len);
    prefix[ukey_len] = '/';
    parts_ctx_t pc = {&parts, marker, max, 0, 0, 0, 0};
    int rc = storage_view_rec_scan(v, T_PARTS, prefix, ukey_len + 1, list_part_cb, &pc);
    if (pc.corrupt)
        rc = STORAGE_EIO;
    if (rc < 0) {
        s3_storage_error(c, rc);
        goto out;
    }
    buf_puts(&b, XML_DECL "<ListPartsResult xmlns=\"" XMLNS "\">");
    put_elem(&b, "Bucket", c->bucket, strlen(c->bucket));
    put_elem(&b, "Key", c->key, c->key_len);
    put_elem(&b, "UploadId", upload_id_of(ukey), UPLOAD_ID_LEN);
    buf_printf(&b,
               "<PartNumberMarker>%lu</PartNumberMarker><NextPartNumberMarker>%lu"
               "</NextPartNumberMarker><MaxParts>%lu</MaxParts><IsTruncated>%s</IsTruncated>",
               marker, pc.listed ? (unsigned long)pc.last : marker, max,
               pc.truncated ? "true" : "false");
    buf_append(&b, parts.data, parts.len);
    buf_puts(&b, "<StorageClass>STANDARD</StorageClass>");
    if (u.alg >= 0)
        buf_printf(&b, "<ChecksumAlgorithm>%s</ChecksumAlgorithm><ChecksumType>%s</ChecksumType>",
                   algs[u.alg].upper, u.full_object ? "FULL_OBJECT" : "COMPOSITE");
    buf_puts(&b, "</ListPartsResult>");
    s3_send_xml(c, 200, &b);
out:
    storage_view_close(v);
    buf_free(&b);
    buf_free(&parts);
}

/* ---- ListMultipartUploads: GET /b?uploads ----
 *
 * Entries are uploads (key, id) and, with a delimiter, common prefixes
 * (id ""), in order of key then id (= start time). Only the first
 * max-uploads + 1 entries after the markers are kept, in a sorted array, so
 * memory stays bounded however many uploads the bucket has. */

typedef struct up_entry {
    char *name; /* key or common prefix */
    size_t name_len;
    char id[UPLOAD_ID_LEN + 1]; /* "" for a common prefix */
    int64_t initiated_ms;
    int alg, full_object;
} up_entry_t;

typedef struct uploads_ctx {
    const char *prefix, *delim, *key_marker, *id_marker;
    size_t prefix_len, delim_len, key_marker_len;
    int has_key_marker, has_id_marker;
    up_entry_t *ents;
    size_t n, cap; /* cap = max-uploads + 1 */
    int corrupt;
} uploads_ctx_t;

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r != 0)
        return r;
    return an < bn ? -1 : an > bn;
}

static int entry_cmp(const up_entry_t *a, const char *name, size_t name_len, const char *id)
{
    int r = bytes_cmp(a->name, a->name_len, name, name_len);
    return r != 0 ? r : strcmp(a->id, id);
}

static int list_upload_cb(void *ctx, const void *key, size_t key_len, const void *val,
                          size_t val_len)
{
    uploads_ctx_t *uc = ctx;
    upload_t u;
    const char *k = key;
    if (upload_decode(val, val_len, &u) != 0) {
        uc->corrupt = 1;
        return 1;
    }
    if (key_len < UPLOAD_ID_LEN)
        return 0;
    const char *id = k + key_len - UPLOAD_ID_LEN;
    char idz[UPLOAD_ID_LEN + 1];
    memcpy(idz, id, UPLOAD_ID_LEN);
    idz[UPLOAD_ID_LEN] = '\0';
    if (u.key_len < uc->prefix_len || memcmp(u.key, uc->prefix, uc->prefix_len) != 0)
        return 0;
    const char *name = u.key;
    size_t name_len = u.key_len;
    if (uc->delim_len > 0) {
        const char *d =
            memmem(u.key + uc->prefix_len, u.key_len - uc->prefix_len, uc->delim, uc->delim_len);
        if (d != NULL) {
            name_len = (size_t)(d - u.key) + uc->delim_len;
            idz[0] = '\0';
        }
    }
    /* After the markers only: a key equal to key-marker stays only for ids
     * above upload-id-marker. */
    if (uc->has_key_marker) {
        int r = bytes_cmp(name, name_len, uc->key_marker, uc->key_marker_len);
        if (r < 0 ||
            (r == 0 && (idz[0] == '\0' || !uc->has_id_marker || strcmp(idz, uc->id_marker) <= 0)))
            return 0;
    }
    /* Binary search for the insertion point. */
    size_t lo = 0, hi = uc->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = entry_cmp(&uc->ents[mid], name, name_len, idz);
        if (r == 0)
            return 0; /* a common prefix already listed */
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == uc->cap)
        return 0;
    if (uc->n == uc->cap) {
        free(uc->ents[uc->n - 1].name);
        uc->n--;
    }
    memmove(&uc->ents[lo + 1], &uc->ents[lo], (uc->n - lo) * sizeof *uc->ents);
    up_entry_t *e = &uc->ents[lo];
    e->name = xmalloc(name_len ? name_len : 1);
    memcpy(e->name, name, name_len);
    e->name_len = name_len;
    memcpy(e->id, idz, sizeof e->id);
    e->initiated_ms = u.initiated_ms;
    e->alg = u.alg;
    e->full_object = u.full_object;
    uc->n++;
    return 0;
}

void s3_list_multipart_uploads(s3_ctx_t *c)
{
    storage_view_t *v = NULL;
    char *prefix = xmalloc(PARAM_MAX), *delim = xmalloc(PARAM_MAX);
    char *key_marker = xmalloc(PARAM_MAX), id_marker[128], enc[16];
    uploads_ctx_t uc;
    memset(&uc, 0, sizeof uc);
    buf_t b;
    buf_init(&b, 0);
    unsigned long max = LIST_MAX;

    int plen = s3_param(c, "prefix", prefix, PARAM_MAX);
    int dlen = s3_param(c, "delimiter", delim, PARAM_MAX);
    int klen = s3_param(c, "key-marker", key_marker, PARAM_MAX);
    int ilen = s3_param(c, "upload-id-marker", id_marker, sizeof id_marker);
    int elen = s3_param(c, "encoding-type", enc, sizeof enc);
    if (plen < -1 || dlen < -1 || klen < -1 || ilen < -1 || elen < -1) {
        s3_error(c, 400, "InvalidArgument", "A listing parameter is malformed or too long.");
        goto out;
    }
    int url = elen >= 0;
    if (url && strcmp(enc, "url") != 0) {
        s3_error(c, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
        goto out;
    }
    if (param_uint(c, "max-uploads", 2147483647ul, &max) < 0) {
        s3_error(c, 400, "InvalidArgument",
                 "Argument max-uploads must be an integer between 0 and 2147483647");
        goto out;
    }
    if (max > LIST_MAX)
        max = LIST_MAX;
    if (open_view(c, &v) != 0)
        goto out;

    uc.prefix = prefix;
    uc.prefix_len = plen > 0 ? (size_t)plen : 0;
    uc.delim = delim;
    uc.delim_len = dlen > 0 ? (size_t)dlen : 0;
    uc.key_marker = key_marker;
    uc.key_marker_len = klen > 0 ? (size_t)klen : 0;
    uc.has_key_marker = klen > 0;
    uc.id_marker = id_marker;
    uc.has_id_marker = ilen > 0;
    uc.cap = max + 1;
    uc.ents = xcalloc(uc.cap, sizeof *uc.ents);
    char bprefix[STORAGE_MAX_BUCKET + 2];
    int bplen = snprintf(bprefix, sizeof bprefix, "%s/", c->bucket);
    int rc = storage_view_rec_scan(v, T_UPLOADS, bprefix, (size_t)bplen, list_upload_cb, &uc);
    if (uc.corrupt)
        rc = STORAGE_EIO;
    if (rc < 0) {
        s3_storage_error(c, rc);
        goto out;
    }

    int truncated = uc.n > max;
    size_t shown = truncated ? max : uc.n;
    buf_puts(&b, XML_DECL "<ListMultipartUploadsResult xmlns=\"" XMLNS "\">");
    put_elem(&b, "Bucket", c->bucket, strlen(c->bucket));
    buf_puts(&b, "<KeyMarker>");
    put_text(&b, key_marker, uc.key_marker_len, url);
    buf_puts(&b, "</KeyMarker>");
    put_elem(&b, "UploadIdMarker", id_marker, ilen > 0 ? (size_t)ilen : 0);
    if (shown > 0) {
        const up_entry_t *last = &uc.ents[shown - 1];
        buf_puts(&b, "<NextKeyMarker>");
        put_text(&b, last->name, last->name_len, url);
        buf_puts(&b, "</NextKeyMarker>");
        put_elem(&b, "NextUploadIdMarker", last->id, strlen(last->id));
    }
    if (uc.delim_len > 0) {
        buf_puts(&b, "<Delimiter>");
        put_text(&b, delim, uc.delim_len, url);
        buf_puts(&b, "</Delimiter>");
    }
    buf_puts(&b, "<Prefix>");
    put_text(&b, prefix, uc.prefix_len, url);
    buf_puts(&b, "</Prefix>");
    buf_printf(&b, "<MaxUploads>%lu</MaxUploads><IsTruncated>%s</IsTruncated>", max,
               truncated ? "true" : "false");
    for (size_t i = 0; i < shown; i++) {
        const up_entry_t *e = &uc.ents[i];
        if (e->id[0] == '\0')
            continue;
        char date[25];
        util_iso8601_ms(e->initiated_ms, date);
        buf_puts(&b, "<Upload><Key>");
        put_text(&b, e->name, e->name_len, url);
        buf_printf(&b,
                   "</Key><UploadId>%s</UploadId><StorageClass>STANDARD</StorageClass>"
                   "<Initiated>%s</Initiated>",
                   e->id, date);
        if (e->alg >= 0)
            buf_printf(&b,
                       "<ChecksumAlgorithm>%s</ChecksumAlgorithm><ChecksumType>%s</ChecksumType>",
                       algs[e->alg].upper, e->full_object ? "FULL_OBJECT" : "COMPOSITE");
        buf_puts(&b, "</Upload>");
    }
    for (size_t i = 0; i < shown; i++) {
        const up_entry_t *e = &uc.ents[i];
        if (e->id[0] != '\0')
            continue;
        buf_puts(&b, "<CommonPrefixes><Prefix>");
        put_text(&b, e->name, e->name_len, url);
        buf_puts(&b, "</Prefix></CommonPrefixes>");
    }
    if (url)
        buf_puts(&b, "<EncodingType>url</EncodingType>");
    buf_puts(&b, "</ListMultipartUploadsResult>");
    s3_send_xml(c, 200, &b);
out:
    storage_view_close(v);
    for (size_t i = 0; i < uc.n; i++)
        free(uc.ents[i].name);
    free(uc.ents);
    free(prefix);
    free(delim);
    free(key_marker);
    buf_free(&b);
}
