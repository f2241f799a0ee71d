/* s3.c - the S3 REST API over the object store (wire doc section 6).
 *
 * Path-style addressing: "/" is the service, "/bucket" a bucket, and
 * "/bucket/key" an object, with the key percent-decoded once. Dispatch is on
 * the method and the subresource in the query (list-type, uploads,
 * uploadId, partNumber, delete, location, ...); SDK v3's "x-id" is ignored.
 * The gate (server/ + sts/) has verified the signature and the caller's
 * policy before anything here runs, using storage_s3_action for the action
 * and resource; errors are S3's XML <Error> documents.
 *
 * Bodies (aws-chunked framing, Content-MD5, x-amz-checksum-*) are decoded
 * and checked in s3_body.c, multipart uploads live in s3_multipart.c.
 */
#include "storage/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

#define XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define USER_META_MAX 2048
#define LIST_MAX 1000
#define DELETE_MAX 1000
#define PARAM_MAX 2048

/* ---- answers ---- */

void s3_error(s3_ctx_t *c, int status, const char *code, const char *msg)
{
    http_resp_clear(c->resp);
    http_resp_init(c->resp);
    if (c->req->method == HTTP_HEAD) {
        /* HEAD answers carry no body; SDKs map the status alone. */
        c->resp->status = status;
        http_resp_header(c->resp, "x-amz-error-code", code);
        return;
    }
    /* S3 names the key (or the bucket) of the failed request in the error. */
    buf_t b;
    buf_init(&b, 0);
    buf_puts(&b, XML_DECL "<Error><Code>");
    buf_xml_escape(&b, code, strlen(code));
    buf_puts(&b, "</Code><Message>");
    buf_xml_escape(&b, msg, strlen(msg));
    buf_puts(&b, "</Message>");
    if (c->key != NULL) {
        buf_puts(&b, "<Key>");
        buf_xml_escape(&b, c->key, c->key_len);
        buf_puts(&b, "</Key>");
    }
    if (c->bucket[0] != '\0') {
        buf_puts(&b, "<BucketName>");
        buf_xml_escape(&b, c->bucket, strlen(c->bucket));
        buf_puts(&b, "</BucketName><Resource>/");
        buf_xml_escape(&b, c->bucket, strlen(c->bucket));
        if (c->key != NULL) {
            buf_puts(&b, "/");
            buf_xml_escape(&b, c->key, c->key_len);
        }
        buf_puts(&b, "</Resource>");
    }
    buf_printf(&b, "<RequestId>%s</RequestId><HostId>cloudlet</HostId></Error>",
               c->req->request_id);
    size_t len;
    char *text = buf_steal(&b, &len);
    c->resp->status = status;
    http_resp_header(c->resp, "Content-Type", "application/xml");
    http_resp_body_owned(c->resp, text, len);
}

void s3_storage_error(s3_ctx_t *c, int rc)
{
    switch (rc) {
    case STORAGE_ENOBUCKET:
        s3_error(c, 404, "NoSuchBucket", "The specified bucket does not exist");
        return;
    case STORAGE_ENOTFOUND:
        s3_error(c, 404, "NoSuchKey", "The specified key does not exist.");
        return;
    case STORAGE_EKEYTOOLONG:
        s3_error(c, 400, "KeyTooLongError", "Your key is too long");
        return;
    case STORAGE_EFULL:
        s3_error(c, 507, "InsufficientStorage", "The store is full (storage.mapSizeMB).");
        return;
    case STORAGE_EREADERS:
        s3_error(c, 503, "SlowDown", "Please reduce your request rate.");
        return;
    default:
        log_error("s3: storage error: %s", storage_strerror(rc));
        s3_error(c, 500, "InternalError", "We encountered an internal error. Please try again.");
    }
}

void s3_send_xml(s3_ctx_t *c, int status, buf_t *b)
{
    size_t len;
    char *text = buf_steal(b, &len);
    c->resp->status = status;
    http_resp_header(c->resp, "Content-Type", "application/xml");
    http_resp_body_owned(c->resp, text, len);
}

int s3_param(const s3_ctx_t *c, const char *name, char *out, size_t outsz)
{
    return http_query_param(c->req->query, name, out, outsz);
}

static int has_param(const s3_ctx_t *c, const char *name)
{
    char tmp[8];
    return http_query_param(c->req->query, name, tmp, sizeof tmp) != -1;
}

/* ---- metadata ---- */

static int pack(buf_t *b, const char *name, const char *value)
{
    if (buf_puts(b, name) != 0 || buf_append(b, "", 1) != 0 || buf_puts(b, value) != 0 ||
        buf_append(b, "", 1) != 0)
        return -1;
    return 0;
}

typedef struct meta_ctx {
    buf_t *b;
    size_t user;
    int bad;
} meta_ctx_t;

static int meta_cb(void *ctx, const char *name, const char *value)
{
    meta_ctx_t *m = ctx;
    char lower[256];
    size_t n = strlen(name);
    if (n >= sizeof lower || strncasecmp(name, "x-amz-meta-", 11) != 0)
        return 0;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    m->user += n - 11 + strlen(value);
    if (m->user > USER_META_MAX || pack(m->b, lower, value) != 0)
        m->bad = 1;
    return m->bad;
}

int s3_object_headers(s3_ctx_t *c, buf_t *headers)
{
    static const char *const kept[] = {"cache-control", "content-disposition", "content-language",
                                       "expires", NULL};
    const char *ct = http_header(c->req, "Content-Type");
    if (pack(headers, "content-type", ct && *ct ? ct : "binary/octet-stream") != 0)
        goto big;
    for (const char *const *h = kept; *h; h++) {
        const char *v = http_header(c->req, *h);
        if (v != NULL && pack(headers, *h, v) != 0)
            goto big;
    }
    /* aws-chunked is transfer framing, not how the object is encoded. */
    const char *ce = http_header(c->req, "Content-Encoding");
    if (ce != NULL) {
        char enc[256] = "";
        size_t o = 0;
        const char *p = ce;
        while (*p) {
            while (*p == ' ' || *p == ',')
                p++;
            const char *start = p;
            while (*p && *p != ',')
                p++;
            size_t n = (size_t)(p - start);
            while (n > 0 && start[n - 1] == ' ')
                n--;
            if (n == 0 || (n == 11 && strncasecmp(start, "aws-chunked", 11) == 0))
                continue;
            if (o + n + 2 >= sizeof enc)
                goto big;
            if (o > 0)
                enc[o++] = ',';
            memcpy(enc + o, start, n);
            o += n;
            enc[o] = '\0';
        }
        if (o > 0 && pack(headers, "content-encoding", enc) != 0)
            goto big;
    }
    meta_ctx_t m = {headers, 0, 0};
    http_header_each(c->req, meta_cb, &m);
    if (m.bad)
        goto big;
    return 0;
big:
    s3_error(c, 400, "MetadataTooLarge",
             "Your metadata headers exceed the maximum allowed metadata size.");
    return -1;
}

/* ---- buckets ---- */

typedef struct list_buckets_ctx {
    buf_t *b;
} list_buckets_ctx_t;

static int bucket_cb(void *ctx, const storage_bucket_info_t *info)
{
    buf_t *b = ((list_buckets_ctx_t *)ctx)->b;
    char date[25];
    util_iso8601_ms(info->created_ms, date);
    buf_puts(b, "<Bucket><Name>");
    buf_xml_escape(b, info->name, strlen(info->name));
    buf_printf(b, "</Name><CreationDate>%s</CreationDate></Bucket>", date);
    return 0;
}

static void list_buckets(s3_ctx_t *c)
{
    storage_view_t *v;
    int rc = storage_view_open(c->st, &v);
    if (rc != 0) {
        s3_storage_error(c, rc);
        return;
    }
    buf_t b;
    buf_init(&b, 0);
    buf_puts(&b, XML_DECL "<ListAllMyBucketsResult xmlns=\"" XMLNS "\"><Owner><ID>cloudlet</ID>"
                 "<DisplayName>cloudlet</DisplayName></Owner><Buckets>");
    list_buckets_ctx_t lc = {&b};
    storage_bucket_list(v, bucket_cb, &lc);
    storage_view_close(v);
    buf_puts(&b, "</Buckets></ListAllMyBucketsResult>");
    s3_send_xml(c, 200, &b);
}

static void create_bucket(s3_ctx_t *c)
{
    if (!storage_bucket_name_valid(c->bucket)) {
        s3_error(c, 400, "InvalidBucketName", "The specified bucket is not valid.");
        return;
    }
    int rc = storage_bucket_create(c->st, c->bucket);
    if (rc == STORAGE_EEXIST) {
        s3_error(c, 409, "BucketAlreadyOwnedByYou",
                 "Your previous request to create the named bucket succeeded and you already own "
                 "it.");
        return;
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        return;
    }
    http_resp_headerf(c->resp, "Location", "/%s", c->bucket);
}

/* 0 if the bucket exists; else answers NoSuchBucket and returns -1. */
static int bucket_exists(s3_ctx_t *c)
{
    storage_view_t *v;
    storage_bucket_info_t info;
    int rc = storage_view_open(c->st, &v);
    if (rc == 0) {
        rc = storage_bucket_get(v, c->bucket, &info);
        storage_view_close(v);
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        return -1;
    }
    return 0;
}

static void head_bucket(s3_ctx_t *c, const char *region)
{
    if (bucket_exists(c) == 0)
        http_resp_header(c->resp, "x-amz-bucket-region", region);
}

static void delete_bucket(s3_ctx_t *c)
{
    int rc = storage_bucket_delete(c->st, c->bucket);
    if (rc == STORAGE_ENOTEMPTY)
        s3_error(c, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
    else if (rc != 0)
        s3_storage_error(c, rc);
    else
        c->resp->status = 204;
}

static void get_bucket_location(s3_ctx_t *c, const char *region)
{
    if (bucket_exists(c) != 0)
        return;
    buf_t b;
    buf_init(&b, 0);
    /* us-east-1 is written as an empty constraint, as S3 does. */
    buf_printf(&b, XML_DECL "<LocationConstraint xmlns=\"" XMLNS "\">%s</LocationConstraint>",
               strcmp(region, "us-east-1") == 0 ? "" : region);
    s3_send_xml(c, 200, &b);
}

/* ---- listings ---- */

/* Append text, URL-encoded when `url` (encoding-type=url), else XML-escaped. */
static void list_text(buf_t *b, const char *s, size_t n, int url)
{
    if (!url) {
        buf_xml_escape(b, s, n);
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/') {
            buf_append(b, &s[i], 1);
        } else {
            char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(b, esc, 3);
        }
    }
}

typedef struct list_ctx {
    buf_t *b;
    int url;
    size_t count;
    char *last; /* the last entry delivered (key or common prefix), owned */
    size_t last_len;
} list_ctx_t;

static void remember(list_ctx_t *lc, const char *s, size_t n)
{
    free(lc->last);
    lc->last = xstrndup(s, n);
    lc->last_len = n;
}

static int list_cb(void *ctx, const storage_object_t *obj, const char *cp, size_t cp_len)
{
    list_ctx_t *lc = ctx;
    buf_t *b = lc->b;
    lc->count++;
    if (obj != NULL) {
        char date[25];
        util_iso8601_ms(obj->mtime_ms, date);
        buf_puts(b, "<Contents><Key>");
        list_text(b, obj->key, obj->key_len, lc->url);
        buf_printf(b,
                   "</Key><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>"
                   "<Size>%llu</Size><StorageClass>STANDARD</StorageClass></Contents>",
                   date, obj->etag, (unsigned long long)obj->size);
        remember(lc, obj->key, obj->key_len);
    } else {
        buf_puts(b, "<CommonPrefixes><Prefix>");
        list_text(b, cp, cp_len, lc->url);
        buf_puts(b, "</Prefix></CommonPrefixes>");
        remember(lc, cp, cp_len);
    }
    return 0;
}

typedef struct first_ctx {
    int found;
} first_ctx_t;

static int first_cb(void *ctx, const storage_object_t *obj, const char *cp, size_t cp_len)
{
    ((first_ctx_t *)ctx)->found = 1;
    return 1;
}

/* List v1 and v2. S3's start-after / marker is compared with keys before
 * they are rolled up, while storage_list compares entries after: so when the
 * start key lies inside a folder (common prefix) that still has later keys,
 * that folder is emitted first, then listing resumes after it. */
static void list_objects(s3_ctx_t *c, int v2)
{
    char prefix[PARAM_MAX] = "", delim[64] = "", start[PARAM_MAX] = "", token[PARAM_MAX] = "";
    char maxs[16] = "", enc[16] = "";
    int plen = s3_param(c, "prefix", prefix, sizeof prefix);
    int dlen = s3_param(c, "delimiter", delim, sizeof delim);
    int slen = s3_param(c, v2 ? "start-after" : "marker", start, sizeof start);
    int tlen = v2 ? s3_param(c, "continuation-token", token, sizeof token) : -1;
    int has_max = s3_param(c, "max-keys", maxs, sizeof maxs) >= 0;
    int has_enc = s3_param(c, "encoding-type", enc, sizeof enc) >= 0;
    if (plen == -2 || dlen == -2 || slen == -2 || tlen == -2) {
        s3_error(c, 400, "InvalidArgument", "A listing parameter is malformed or too long.");
        return;
    }
    if (has_enc && strcmp(enc, "url") != 0) {
        s3_error(c, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
        return;
    }
    long max = LIST_MAX;
    if (has_max) {
        char *end;
        max = strtol(maxs, &end, 10);
        if (*maxs == '\0' || *end != '\0' || max < 0) {
            s3_error(c, 400, "InvalidArgument", "Provided max-keys not an integer or within "
                                                "integer range");
            return;
        }
        if (max > LIST_MAX)
            max = LIST_MAX;
    }
    /* The continuation token is the last entry, base64url: opaque to clients. */
    char after[STORAGE_MAX_KEY + 1] = "";
    long alen = 0;
    if (tlen > 0) {
        alen = util_base64_decode(token, (size_t)tlen, (unsigned char *)after, STORAGE_MAX_KEY);
        if (alen <= 0) {
            s3_error(c, 400, "InvalidArgument", "The continuation token provided is incorrect");
            return;
        }
    } else if (slen > 0) {
        if (slen > STORAGE_MAX_KEY)
            slen = STORAGE_MAX_KEY;
        memcpy(after, start, (size_t)slen);
        alen = slen;
    }
    after[alen] = '\0';

    storage_view_t *v;
    int rc = storage_view_open(c->st, &v);
    storage_bucket_info_t info;
    if (rc == 0)
        rc = storage_bucket_get(v, c->bucket, &info);
    if (rc != 0) {
        storage_view_close(v);
        s3_storage_error(c, rc);
        return;
    }
    buf_t entries;
    buf_init(&entries, 0);
    int url = has_enc;
    list_ctx_t lc = {&entries, url, 0, NULL, 0};
    int truncated = 0;
    if (max > 0) {
        /* A start key inside a folder: emit the folder if keys remain in it. */
        if (tlen <= 0 && slen > 0 && dlen > 0 && alen > (plen > 0 ? plen : 0)) {
            const char *d = memmem(after + (plen > 0 ? plen : 0), (size_t)alen - (size_t)(plen > 0 ? plen : 0),
                                   delim, (size_t)dlen);
            if (d != NULL) {
                size_t cplen = (size_t)(d - after) + (size_t)dlen;
                storage_list_opts_t fo = {after, cplen, NULL, 0, after, (size_t)alen, 1};
                first_ctx_t fc = {0};
                int tr;
                storage_list(v, c->bucket, &fo, first_cb, &fc, &tr);
                if (fc.found) {
                    list_cb(&lc, NULL, after, cplen);
                    alen = (long)cplen;
                }
            }
        }
        if ((long)lc.count < max) {
            storage_list_opts_t o = {plen > 0 ? prefix : NULL,
                                     plen > 0 ? (size_t)plen : 0,
                                     dlen > 0 ? delim : NULL,
                                     dlen > 0 ? (size_t)dlen : 0,
                                     alen > 0 ? after : NULL,
                                     (size_t)alen,
                                     (size_t)(max - (long)lc.count)};
            rc = storage_list(v, c->bucket, &o, list_cb, &lc, &truncated);
        } else {
            truncated = 1;
        }
    } else {
        /* max-keys=0: nothing listed; truncated if anything would have been. */
        storage_list_opts_t o = {plen > 0 ? prefix : NULL, plen > 0 ? (size_t)plen : 0, NULL, 0,
                                 alen > 0 ? after : NULL, (size_t)alen, 1};
        first_ctx_t fc = {0};
        storage_list(v, c->bucket, &o, first_cb, &fc, &truncated);
        truncated = fc.found;
    }
    storage_view_close(v);
    if (rc != 0 && rc != 1) {
        buf_free(&entries);
        free(lc.last);
        s3_storage_error(c, rc);
        return;
    }

    buf_t b;
    buf_init(&b, 0);
    buf_puts(&b, XML_DECL "<ListBucketResult xmlns=\"" XMLNS "\"><Name>");
    buf_xml_escape(&b, c->bucket, strlen(c->bucket));
    buf_puts(&b, "</Name><Prefix>");
    if (plen > 0)
        list_text(&b, prefix, (size_t)plen, url);
    buf_puts(&b, "</Prefix>");
    if (dlen > 0) {
        buf_puts(&b, "<Delimiter>");
        list_text(&b, delim, (size_t)dlen, url);
        buf_puts(&b, "</Delimiter>");
    }
    buf_printf(&b, "<MaxKeys>%ld</MaxKeys>", has_max ? max : (long)LIST_MAX);
    if (url)
        buf_puts(&b, "<EncodingType>url</EncodingType>");
    buf_printf(&b, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    if (v2) {
        buf_printf(&b, "<KeyCount>%zu</KeyCount>", lc.count);
        if (tlen > 0) {
            buf_puts(&b, "<ContinuationToken>");
            buf_xml_escape(&b, token, (size_t)tlen);
            buf_puts(&b, "</ContinuationToken>");
        }
        if (slen > 0) {
            buf_puts(&b, "<StartAfter>");
            list_text(&b, start, (size_t)slen, url);
            buf_puts(&b, "</StartAfter>");
        }
        if (truncated && lc.last != NULL) {
            char *t = util_base64url(lc.last, lc.last_len);
            buf_printf(&b, "<NextContinuationToken>%s</NextContinuationToken>", t);
            free(t);
        }
    } else {
        buf_puts(&b, "<Marker>");
        if (slen > 0)
            list_text(&b, start, (size_t)slen, url);
        buf_puts(&b, "</Marker>");
        if (truncated && lc.last != NULL) {
            buf_puts(&b, "<NextMarker>");
            list_text(&b, lc.last, lc.last_len, url);
            buf_puts(&b, "</NextMarker>");
        }
    }
    buf_append(&b, entries.data, entries.len);
    buf_puts(&b, "</ListBucketResult>");
    buf_free(&entries);
    free(lc.last);
    s3_send_xml(c, 200, &b);
}

/* ---- objects ---- */

static void close_view(void *cls)
{
    storage_view_close(cls);
}

static void put_object(s3_ctx_t *c)
{
    const unsigned char *body;
    size_t len;
    unsigned char *owned = NULL;
    buf_t headers;
    buf_init(&headers, 64 * 1024);
    if (s3_object_headers(c, &headers) != 0 || s3_body(c, &body, &len, &owned, &headers) != 0)
        goto out;
    unsigned flags = 0;
    const char *inm = http_header(c->req, "If-None-Match");
    const char *im = http_header(c->req, "If-Match");
    if (inm != NULL) {
        if (strcmp(inm, "*") != 0) {
            s3_error(c, 501, "NotImplemented",
                     "If-None-Match on PUT supports only \"*\" (create if absent).");
            goto out;
        }
        flags |= STORAGE_PUT_IF_ABSENT;
    }
    if (im != NULL) {
        /* Checked against the current version; a concurrent writer can still
         * slip in between, as with S3's own eventual semantics before 2024. */
        storage_view_t *v;
        storage_object_t obj;
        int rc = storage_view_open(c->st, &v);
        if (rc == 0)
            rc = storage_get(v, c->bucket, c->key, c->key_len, &obj);
        int ok = rc == 0 && storage_etag_list_matches(im, obj.etag);
        storage_view_close(v);
        if (rc == STORAGE_ENOBUCKET) {
            s3_storage_error(c, rc);
            goto out;
        }
        if (!ok) {
            if (rc == STORAGE_ENOTFOUND)
                s3_error(c, 404, "NoSuchKey", "The specified key does not exist.");
            else
                s3_error(c, 412, "PreconditionFailed",
                         "At least one of the pre-conditions you specified did not hold");
            goto out;
        }
    }
    storage_meta_t meta = {headers.data, headers.len, NULL, 0};
    char etag[STORAGE_ETAG_MAX];
    int rc = storage_put(c->st, c->bucket, c->key, c->key_len, body, len, &meta, flags, etag);
    if (rc == STORAGE_EPRECONDITION) {
        s3_error(c, 412, "PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold");
        goto out;
    }
    if (rc != 0) {
        s3_storage_error(c, rc);
        goto out;
    }
    http_resp_headerf(c->resp, "ETag", "\"%s\"", etag);
    s3_notify(c, "ObjectCreated:Put", len, etag);
    /* Echo the stored checksum, as S3 does. */
    for (size_t off = 0; off < headers.len;) {
        const char *name = headers.data + off;
        const char *value = name + strlen(name) + 1;
        if (util_startswith(name, "x-amz-checksum-"))
            http_resp_header_copy(c->resp, name, value);
        off += strlen(name) + 1 + strlen(value) + 1;
    }
out:
    buf_free(&headers);
    free(owned);
}

/* Stored headers answered with their usual spelling. */
static const char *const echoed[] = {"content-type",   "cache-control",    "content-disposition",
                                     "content-encoding", "content-language", "expires", NULL};
static const char *const echoed_names[] = {"Content-Type",     "Cache-Control",
                                           "Content-Disposition", "Content-Encoding",
                                           "Content-Language", "Expires", NULL};

/* response-* query parameters override stored headers on GET. */
static const char *const overrides[] = {"response-content-type",     "response-cache-control",
                                        "response-content-disposition",
                                        "response-content-encoding",
                                        "response-content-language", "response-expires", NULL};

static void object_headers(s3_ctx_t *c, const storage_object_t *obj, int full)
{
    char date[30];
    int may_override = c->req->method == HTTP_GET && strstr(c->req->query, "response-") != NULL;
    for (int i = 0; echoed[i]; i++) {
        char over[PARAM_MAX];
        const char *v = storage_header(obj->headers, obj->headers_len, echoed[i]);
        if (may_override && s3_param(c, overrides[i], over, sizeof over) >= 0)
            v = over;
        if (v != NULL)
            http_resp_header(c->resp, echoed_names[i], v);
    }
    http_resp_headerf(c->resp, "ETag", "\"%s\"", obj->etag);
    util_http_date(obj->mtime_ms / 1000, date);
    http_resp_header(c->resp, "Last-Modified", date);
    http_resp_header(c->resp, "Accept-Ranges", "bytes");
    const char *mode = http_header(c->req, "x-amz-checksum-mode");
    int checksums = full && mode != NULL && strcasecmp(mode, "ENABLED") == 0;
    for (size_t off = 0; off < obj->headers_len;) {
        const char *name = obj->headers + off;
        const char *value = name + strlen(name) + 1;
        off += strlen(name) + 1 + strlen(value) + 1;
        if (util_startswith(name, "x-amz-meta-") ||
            (checksums && util_startswith(name, "x-amz-checksum-")))
            http_resp_header_copy(c->resp, name, value);
    }
}

/* Conditional request headers (RFC 9110 order, as S3 applies them).
 * Returns 0 to send the object, or the status already answered. */
static int preconditions(s3_ctx_t *c, const storage_object_t *obj)
{
    const char *im = http_header(c->req, "If-Match");
    const char *ius = http_header(c->req, "If-Unmodified-Since");
    const char *inm = http_header(c->req, "If-None-Match");
    const char *ims = http_header(c->req, "If-Modified-Since");
    int64_t t;
    if ((im != NULL && !storage_etag_list_matches(im, obj->etag)) ||
        (im == NULL && ius != NULL && util_parse_http_date(ius, &t) == 0 &&
         obj->mtime_ms / 1000 > t)) {
        s3_error(c, 412, "PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold");
        return 412;
    }
    if ((inm != NULL && storage_etag_list_matches(inm, obj->etag)) ||
        (inm == NULL && ims != NULL && util_parse_http_date(ims, &t) == 0 &&
         obj->mtime_ms / 1000 <= t)) {
        http_resp_clear(c->resp);
        http_resp_init(c->resp);
        c->resp->status = 304;
        http_resp_headerf(c->resp, "ETag", "\"%s\"", obj->etag);
        return 304;
    }
    return 0;
}

static void get_object(s3_ctx_t *c)
{
    storage_view_t *v;
    storage_object_t obj;
    int rc = storage_view_open(c->st, &v);
    if (rc == 0)
        rc = storage_get(v, c->bucket, c->key, c->key_len, &obj);
    if (rc != 0) {
        storage_view_close(v);
        s3_storage_error(c, rc);
        return;
    }
    if (preconditions(c, &obj) != 0) {
        storage_view_close(v);
        return;
    }
    uint64_t first = 0, last = 0;
    int r = storage_parse_range(http_header(c->req, "Range"), obj.size, &first, &last);
    if (r < 0) {
        storage_view_close(v);
        s3_error(c, 416, "InvalidRange", "The requested range is not satisfiable");
        http_resp_headerf(c->resp, "Content-Range", "bytes */%llu", (unsigned long long)obj.size);
        return;
    }
    object_headers(c, &obj, r == 0);
    if (r > 0) {
        c->resp->status = 206;
        http_resp_headerf(c->resp, "Content-Range", "bytes %llu-%llu/%llu",
                          (unsigned long long)first, (unsigned long long)last,
                          (unsigned long long)obj.size);
        http_resp_body_borrowed(c->resp, (const char *)obj.body + first, last - first + 1,
                                close_view, v);
        return;
    }
    /* HEAD: libmicrohttpd sends the length of the body it would have sent. */
    http_resp_body_borrowed(c->resp, obj.body, obj.size, close_view, v);
}

static void delete_object(s3_ctx_t *c)
{
    int rc = storage_delete(c->st, c->bucket, c->key, c->key_len);
    if (rc != 0 && rc != STORAGE_ENOTFOUND) {
        s3_storage_error(c, rc);
        return;
    }
    c->resp->status = 204;
    if (rc == 0)
        s3_notify(c, "ObjectRemoved:Delete", 0, "");
}

/* Percent-decode in place; returns the new length or -1. */
long s3_pct_decode(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n + 0 || util_hexval(s[i + 1]) < 0 || util_hexval(s[i + 2]) < 0)
                return -1;
            s[o++] = (char)(util_hexval(s[i + 1]) << 4 | util_hexval(s[i + 2]));
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    return (long)o;
}

static void copy_object(s3_ctx_t *c)
{
    const char *src = http_header(c->req, "x-amz-copy-source");
    char path[STORAGE_MAX_KEY * 3 + STORAGE_MAX_BUCKET + 8];
    if (strlen(src) >= sizeof path) {
        s3_error(c, 400, "InvalidArgument", "Copy Source must mention the source bucket and key");
        return;
    }
    snprintf(path, sizeof path, "%s", src[0] == '/' ? src + 1 : src);
    char *q = strchr(path, '?');
    if (q != NULL)
        *q = '\0'; /* versionId: one version per key here */
    long n = s3_pct_decode(path, strlen(path));
    char *slash = n > 0 ? memchr(path, '/', (size_t)n) : NULL;
    if (slash == NULL || slash == path || slash - path > STORAGE_MAX_BUCKET ||
        (long)(slash - path) + 1 >= n) {
        s3_error(c, 400, "InvalidArgument", "Copy Source must mention the source bucket and key");
        return;
    }
    *slash = '\0';
    const char *sbucket = path, *skey = slash + 1;
    size_t sklen = (size_t)(n - (slash + 1 - path));
    storage_view_t *v;
    storage_object_t obj;
    int rc = storage_view_open(c->st, &v);
    if (rc == 0)
        rc = storage_get(v, sbucket, skey, sklen, &obj);
    if (rc != 0) {
        storage_view_close(v);
        s3_storage_error(c, rc);
        return;
    }
    buf_t headers;
    buf_init(&headers, 64 * 1024);
    const char *directive = http_header(c->req, "x-amz-metadata-directive");
    if (directive != NULL && strcasecmp(directive, "REPLACE") == 0) {
        if (s3_object_headers(c, &headers) != 0)
            goto out;
    } else {
        buf_append(&headers, obj.headers, obj.headers_len);
    }
    /* The source bytes are read from the snapshot while the write runs: LMDB
     * keeps the pages of an open read transaction. */
    storage_meta_t meta = {headers.data, headers.len, NULL, 0};
    char etag[STORAGE_ETAG_MAX];
    rc = storage_put(c->st, c->bucket, c->key, c->key_len, obj.body, obj.size, &meta, 0, etag);
    if (rc != 0) {
        s3_storage_error(c, rc);
        goto out;
    }
    s3_notify(c, "ObjectCreated:Copy", obj.size, etag);
    char date[25];
    util_iso8601_ms(util_now_ms(), date);
    buf_t b;
    buf_init(&b, 0);
    buf_printf(&b, XML_DECL "<CopyObjectResult xmlns=\"" XMLNS "\"><LastModified>%s</LastModified>"
                            "<ETag>&quot;%s&quot;</ETag></CopyObjectResult>",
               date, etag);
    s3_send_xml(c, 200, &b);
out:
    storage_view_close(v);
    buf_free(&headers);
}

/* Decode XML character data (the five entities and numeric references) in
 * place. Returns the length, or -1 for a bad reference. */
static long xml_unescape(char *s, size_t n)
{
    static const struct {
        const char *ent;
        char ch;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '&') {
            s[o++] = s[i++];
            continue;
        }
        int done = 0;
        for (size_t e = 0; e < 5 && !done; e++) {
            size_t el = strlen(ents[e].ent);
            if (i + el <= n && memcmp(s + i, ents[e].ent, el) == 0) {
                s[o++] = ents[e].ch;
                i += el;
                done = 1;
            }
        }
        if (done)
            continue;
        if (i + 3 < n && s[i + 1] == '#') {
            char *end;
            int hex = s[i + 2] == 'x';
            unsigned long cp = strtoul(s + i + 2 + hex, &end, hex ? 16 : 10);
            if (*end != ';' || cp == 0 || cp > 0x10FFFF)
                return -1;
            /* UTF-8 encode the code point. */
            if (cp < 0x80) {
                s[o++] = (char)cp;
            } else if (cp < 0x800) {
                s[o++] = (char)(0xC0 | (cp >> 6));
                s[o++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                s[o++] = (char)(0xE0 | (cp >> 12));
                s[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                s[o++] = (char)(0x80 | (cp & 0x3F));
            } else {
                s[o++] = (char)(0xF0 | (cp >> 18));
                s[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                s[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                s[o++] = (char)(0x80 | (cp & 0x3F));
            }
            i = (size_t)(end - s) + 1;
            continue;
        }
        return -1;
    }
    s[o] = '\0';
    return (long)o;
}

/* POST /b?delete: <Delete><Quiet>..</Quiet><Object><Key>k</Key></Object>...</Delete>. */
static void delete_objects(s3_ctx_t *c)
{
    const unsigned char *body;
    size_t len;
    unsigned char *owned = NULL;
    buf_t ignored;
    buf_init(&ignored, 4096);
    if (bucket_exists(c) != 0 || s3_body(c, &body, &len, &owned, &ignored) != 0) {
        buf_free(&ignored);
        free(owned);
        return;
    }
    buf_free(&ignored);
    char *xml = xstrndup((const char *)body, len);
    free(owned);
    buf_t b;
    buf_init(&b, 0);
    buf_puts(&b, XML_DECL "<DeleteResult xmlns=\"" XMLNS "\">");
    int quiet = strstr(xml, "<Quiet>true</Quiet>") != NULL;
    int count = 0, bad = strstr(xml, "<Delete") == NULL;
    /* The whole document is checked before anything is deleted. */
    char *keys[DELETE_MAX];
    size_t lens[DELETE_MAX];
    for (char *p = strstr(xml, "<Object>"); !bad && p != NULL; p = strstr(p, "<Object>")) {
        char *end = strstr(p, "</Object>");
        char *k = strstr(p, "<Key>");
        char *ke = k ? strstr(k, "</Key>") : NULL;
        if (end == NULL || k == NULL || ke == NULL || ke > end || count >= DELETE_MAX) {
            bad = 1;
            break;
        }
        k += 5;
        long kl = xml_unescape(k, (size_t)(ke - k));
        if (kl <= 0) {
            bad = 1;
            break;
        }
        keys[count] = k;
        lens[count++] = (size_t)kl;
        p = end + 9;
    }
    if (bad || count == 0) {
        free(xml);
        buf_free(&b);
        s3_error(c, 400, "MalformedXML",
                 "The XML you provided was not well-formed or did not validate against our "
                 "published schema");
        return;
    }
    for (int i = 0; i < count; i++) {
        int rc = storage_delete(c->st, c->bucket, keys[i], lens[i]);
        if (rc == 0 || rc == STORAGE_ENOTFOUND) {
            if (!quiet) {
                buf_puts(&b, "<Deleted><Key>");
                buf_xml_escape(&b, keys[i], lens[i]);
                buf_puts(&b, "</Key></Deleted>");
            }
        } else {
            buf_puts(&b, "<Error><Key>");
            buf_xml_escape(&b, keys[i], lens[i]);
            buf_printf(&b, "</Key><Code>%s</Code><Message>%s</Message></Error>",
                       rc == STORAGE_EKEYTOOLONG ? "KeyTooLongError" : "InternalError",
                       storage_strerror(rc));
        }
    }
    free(xml);
    buf_puts(&b, "</DeleteResult>");
    s3_send_xml(c, 200, &b);
}

/* ---- dispatch ---- */

/* Split the raw path into bucket and decoded key. Returns 0 or -1 (answered). */
static int parse_path(s3_ctx_t *c)
{
    const char *p = c->req->path + 1;
    const char *slash = strchr(p, '/');
    size_t blen = slash ? (size_t)(slash - p) : strlen(p);
    if (blen > STORAGE_MAX_BUCKET) {
        s3_error(c, 400, "InvalidBucketName", "The specified bucket is not valid.");
        return -1;
    }
    memcpy(c->bucket, p, blen);
    c->bucket[blen] = '\0';
    if (slash == NULL || slash[1] == '\0')
        return 0;
    size_t rawlen = strlen(slash + 1);
    if (rawlen > 3 * STORAGE_MAX_KEY) {
        s3_error(c, 400, "KeyTooLongError", "Your key is too long");
        return -1;
    }
    c->key = xstrndup(slash + 1, rawlen);
    long n = s3_pct_decode(c->key, rawlen);
    if (n <= 0 || memchr(c->key, '\0', (size_t)n) != NULL) {
        s3_error(c, 400, "InvalidURI", "Couldn't parse the specified URI.");
        return -1;
    }
    c->key_len = (size_t)n;
    if (c->key_len > STORAGE_MAX_KEY) {
        s3_error(c, 400, "KeyTooLongError", "Your key is too long");
        return -1;
    }
    return 0;
}

static void not_implemented(s3_ctx_t *c, const char *what)
{
    char msg[200];
    snprintf(msg, sizeof msg, "cloudlet does not implement %s.", what);
    s3_error(c, 501, "NotImplemented", msg);
}

/* Subresources cloudlet does not implement: answered 501 in S3's shape. */
static const char *const unsupported[] = {
    "acl",       "analytics", "accelerate", "encryption", "intelligent-tiering", "inventory",
    "lifecycle", "logging",   "metrics",    "object-lock",        "ownershipControls",
    "publicAccessBlock", "replication", "requestPayment", "restore", "select", "tagging",
    "torrent",   "versioning", "versions",  "legal-hold", "retention", "attributes", NULL};

/* The first query parameter naming an unsupported subresource, or NULL:
 * one pass over the query (presigned URLs carry long ones). */
static const char *unsupported_param(const char *q)
{
    while (*q != '\0') {
        size_t n = strcspn(q, "=&");
        if (n > 0 && q[0] != 'X' && q[0] != 'x') {
            for (const char *const *u = unsupported; *u; u++) {
                if (strlen(*u) == n && memcmp(*u, q, n) == 0)
                    return *u;
            }
        }
        q += strcspn(q, "&");
        if (*q == '&')
            q++;
    }
    return NULL;
}

void storage_s3_handle(storage_t *st, const storage_s3_opts_t *o, const http_req_t *req,
                       http_resp_t *resp)
{
    s3_ctx_t c = {st, req, resp, "", NULL, 0, o->max_object, o};
    if (parse_path(&c) != 0)
        goto out;
    const char *u = unsupported_param(req->query);
    if (u != NULL) {
        not_implemented(&c, u);
        goto out;
    }
    http_method_t m = req->method;
    if (c.bucket[0] == '\0') {
        if (m == HTTP_GET)
            list_buckets(&c);
        else
            s3_error(&c, 405, "MethodNotAllowed",
                     "The specified method is not allowed against this resource.");
        goto out;
    }
    if (c.key == NULL) {
        static const char *const configs[] = {"cors", "website", "policy", "notification",
                                              NULL};
        for (const char *const *k = configs; *k; k++) {
            if (has_param(&c, *k)) {
                s3_bucket_config(&c, *k);
                goto out;
            }
        }
        if (m == HTTP_GET && has_param(&c, "location"))
            get_bucket_location(&c, o->region);
        else if (m == HTTP_GET && has_param(&c, "uploads"))
            s3_list_multipart_uploads(&c);
        else if (m == HTTP_GET)
            list_objects(&c, has_param(&c, "list-type"));
        else if (m == HTTP_HEAD)
            head_bucket(&c, o->region);
        else if (m == HTTP_PUT)
            create_bucket(&c);
        else if (m == HTTP_DELETE)
            delete_bucket(&c);
        else if (m == HTTP_POST && has_param(&c, "delete"))
            delete_objects(&c);
        else
            s3_error(&c, 405, "MethodNotAllowed",
                     "The specified method is not allowed against this resource.");
        goto out;
    }
    if (m == HTTP_PUT && has_param(&c, "uploadId"))
        s3_upload_part(&c);
    else if (m == HTTP_PUT && http_header(req, "x-amz-copy-source") != NULL)
        copy_object(&c);
    else if (m == HTTP_PUT)
        put_object(&c);
    else if ((m == HTTP_GET || m == HTTP_HEAD) && has_param(&c, "uploadId"))
        s3_list_parts(&c);
    else if (m == HTTP_GET || m == HTTP_HEAD)
        get_object(&c);
    else if (m == HTTP_DELETE && has_param(&c, "uploadId"))
        s3_abort_multipart(&c);
    else if (m == HTTP_DELETE)
        delete_object(&c);
    else if (m == HTTP_POST && has_param(&c, "uploads"))
        s3_create_multipart(&c);
    else if (m == HTTP_POST && has_param(&c, "uploadId"))
        s3_complete_multipart(&c);
    else
        s3_error(&c, 405, "MethodNotAllowed",
                 "The specified method is not allowed against this resource.");
out:
    free(c.key);
}

/* ---- the gate's view of a request ---- */

int storage_s3_action(const http_req_t *req, char *action, size_t actionsz, char *resource,
                      size_t resourcesz, char *prefix, size_t prefixsz)
{
    char bucket[STORAGE_MAX_BUCKET + 1] = "";
    const char *p = req->path + 1;
    const char *slash = strchr(p, '/');
    size_t blen = slash ? (size_t)(slash - p) : strlen(p);
    int has_key = slash != NULL && slash[1] != '\0';
    char tmp[8];
    const char *q = req->query;
    const char *a;
    prefix[0] = '\0';
    if (blen > STORAGE_MAX_BUCKET)
        blen = STORAGE_MAX_BUCKET;
    memcpy(bucket, p, blen);
    bucket[blen] = '\0';
#define HAS(name) (http_query_param(q, name, tmp, sizeof tmp) != -1)
    http_method_t m = req->method;
    if (bucket[0] == '\0') {
        snprintf(action, actionsz, "s3:ListAllMyBuckets");
        snprintf(resource, resourcesz, "arn:aws:s3:::*");
        return 0;
    }
    if (!has_key) {
        static const struct {
            const char *param, *get, *put, *del;
        } configs[] = {{"cors", "s3:GetBucketCORS", "s3:PutBucketCORS", "s3:PutBucketCORS"},
                       {"website", "s3:GetBucketWebsite", "s3:PutBucketWebsite",
                        "s3:DeleteBucketWebsite"},
                       {"policy", "s3:GetBucketPolicy", "s3:PutBucketPolicy",
                        "s3:DeleteBucketPolicy"},
                       {"notification", "s3:GetBucketNotification", "s3:PutBucketNotification",
                        "s3:PutBucketNotification"}};
        for (size_t i = 0; i < 4; i++) {
            if (HAS(configs[i].param)) {
                snprintf(action, actionsz, "%s",
                         m == HTTP_GET ? configs[i].get
                         : m == HTTP_DELETE ? configs[i].del
                                            : configs[i].put);
                snprintf(resource, resourcesz, "arn:aws:s3:::%s", bucket);
                return 0;
            }
        }
        if (m == HTTP_GET && HAS("location"))
            a = "s3:GetBucketLocation";
        else if (m == HTTP_GET && HAS("uploads"))
            a = "s3:ListBucketMultipartUploads";
        else if (m == HTTP_GET || m == HTTP_HEAD)
            a = "s3:ListBucket";
        else if (m == HTTP_PUT)
            a = "s3:CreateBucket";
        else if (m == HTTP_DELETE)
            a = "s3:DeleteBucket";
        else
            a = NULL;
        if (a != NULL) {
            snprintf(action, actionsz, "%s", a);
            snprintf(resource, resourcesz, "arn:aws:s3:::%s", bucket);
            if (strcmp(a, "s3:ListBucket") == 0 &&
                http_query_param(q, "prefix", prefix, prefixsz) < 0)
                prefix[0] = '\0';
            return 0;
        }
        /* DeleteObjects names its keys in the body: authorized as deleting
         * anything in the bucket. */
        snprintf(action, actionsz, "s3:DeleteObject");
        snprintf(resource, resourcesz, "arn:aws:s3:::%s/*", bucket);
        return 0;
    }
    if ((m == HTTP_GET || m == HTTP_HEAD) && HAS("uploadId"))
        a = "s3:ListMultipartUploadParts";
    else if (m == HTTP_GET || m == HTTP_HEAD)
        a = "s3:GetObject";
    else if (m == HTTP_DELETE && HAS("uploadId"))
        a = "s3:AbortMultipartUpload";
    else if (m == HTTP_DELETE)
        a = "s3:DeleteObject";
    else
        a = "s3:PutObject";
#undef HAS
    snprintf(action, actionsz, "%s", a);
    /* ARNs carry the key decoded. */
    char key[STORAGE_MAX_KEY + 1];
    size_t raw = strlen(slash + 1);
    if (raw > STORAGE_MAX_KEY * 3)
        raw = STORAGE_MAX_KEY * 3;
    char *copy = xstrndup(slash + 1, raw);
    long n = s3_pct_decode(copy, raw);
    snprintf(key, sizeof key, "%s", n > 0 ? copy : "");
    free(copy);
    snprintf(resource, resourcesz, "arn:aws:s3:::%s/%s", bucket, key);
    return 0;
}

int storage_s3_copy_source_arn(const char *source, char *out, size_t outsz)
{
    snprintf(out, outsz, "arn:aws:s3:::");
    if (source == NULL || strlen(source) > 4 * STORAGE_MAX_KEY)
        return -1;
    char *copy = xstrdup(source[0] == '/' ? source + 1 : source);
    char *q = strchr(copy, '?');
    if (q != NULL)
        *q = '\0';
    long n = s3_pct_decode(copy, strlen(copy));
    int ok = n > 0 && memchr(copy, '/', (size_t)n) != NULL && (size_t)n == strlen(copy);
    if (ok)
        snprintf(out, outsz, "arn:aws:s3:::%s", copy);
    free(copy);
    return ok ? 0 : -1;
}
