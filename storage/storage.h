/* storage.h - cloudlet's LMDB environment and object store.
 *
 * One LMDB environment in the data directory holds every persistent record of
 * cloudlet. This header exposes the object store (buckets and objects with
 * their metadata) and read snapshots ("views") from which object bodies are
 * served straight out of the memory map without copying.
 *
 * Object keys are up to STORAGE_MAX_KEY (1024) bytes even though an LMDB key
 * is at most 511: keys longer than STORAGE_INLINE_KEY are stored under their
 * first STORAGE_INLINE_KEY bytes plus a hash, with the full key kept in the
 * record; listings still come out in byte order of the full keys.
 *
 * A bucket's objects live in a namespace (a 32-bit id). A deploy writes a new
 * namespace and switches the bucket to it in the same write transaction, so
 * readers see either the old site or the new one; the previous namespace is
 * kept for one rollback.
 *
 * Threads: a storage_t is shared by all threads. Views may be opened on one
 * thread and closed on another (the environment uses MDB_NOTLS). Writes are
 * serialised by LMDB's writer lock, which also covers other processes (the
 * `site deploy` command writes while the server runs).
 */
#ifndef CLOUDLET_STORAGE_H
#define CLOUDLET_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#define STORAGE_MAX_KEY 1024   /* longest object key, as in S3 */
#define STORAGE_INLINE_KEY 480 /* longer keys are stored prefix + hash */
#define STORAGE_MAX_BUCKET 63
#define STORAGE_ETAG_MAX 64 /* longest ETag text, unquoted, plus NUL */

/* Error codes: 0 is success, negative values are these. */
enum {
    STORAGE_ENOTFOUND = -1,     /* no such object */
    STORAGE_ENOBUCKET = -2,     /* no such bucket */
    STORAGE_EEXIST = -3,        /* bucket already exists */
    STORAGE_ENOTEMPTY = -4,     /* bucket still has objects */
    STORAGE_EFULL = -5,         /* the map is full (MDB_MAP_FULL); nothing was written */
    STORAGE_EINVAL = -6,        /* bad argument (bucket name, packed headers...) */
    STORAGE_EKEYTOOLONG = -7,   /* key longer than STORAGE_MAX_KEY or empty */
    STORAGE_EPRECONDITION = -8, /* a conditional write found the key present */
    STORAGE_ENOVERSION = -9,    /* rollback with no previous version */
    STORAGE_EIO = -10,          /* any other LMDB or system failure */
    STORAGE_EREADERS = -11,     /* too many open views (LMDB reader slots) */
};

typedef struct storage storage_t;
typedef struct storage_view storage_view_t;
typedef struct storage_deploy storage_deploy_t;

typedef struct storage_options {
    size_t map_size;      /* bytes of address space for the map; 0 = 16 GiB */
    unsigned max_readers; /* LMDB reader slots = most views open at once; 0 = 1024 */
} storage_options_t;

/* Open (creating if needed) the environment in directory `dir`, which must
 * exist. Stale reader slots of dead processes are cleared. On success *out
 * owns the environment; close it with storage_close(). */
int storage_open(storage_t **out, const char *dir, const storage_options_t *opts);
/* Close the environment. Every view must have been closed. Accepts NULL. */
void storage_close(storage_t *s);
/* A static English description of an error code. */
const char *storage_strerror(int err);

/* ---- Buckets ---- */

/* Returns 1 if `name` is a valid S3 bucket name (3-63 chars of a-z 0-9 . -,
 * starting and ending with a letter or digit, no "..", not an IPv4 address). */
int storage_bucket_name_valid(const char *name);
/* Create a bucket. STORAGE_EEXIST if it exists, STORAGE_EINVAL for a bad name. */
int storage_bucket_create(storage_t *s, const char *name);
/* Delete an empty bucket (and its kept previous version). STORAGE_ENOTEMPTY if
 * its current version has objects, STORAGE_ENOBUCKET if it does not exist. */
int storage_bucket_delete(storage_t *s, const char *name);

typedef struct storage_bucket_info {
    const char *name; /* borrowed for the duration of the callback */
    int64_t created_ms;
    uint32_t version; /* counts deploys and rollbacks; 0 for a fresh bucket */
} storage_bucket_info_t;

/* Call cb for every bucket in name order; stops early when cb returns non-zero
 * (that value is returned). */
int storage_bucket_list(storage_view_t *v,
                        int (*cb)(void *ctx, const storage_bucket_info_t *b), void *ctx);
/* Fill *out for one bucket; STORAGE_ENOBUCKET if absent. out->name is `name`. */
int storage_bucket_get(storage_view_t *v, const char *name, storage_bucket_info_t *out);

/* ---- Objects ---- */

/* An object as seen through a view. Every pointer borrows from the memory map
 * and is valid until the view is closed. */
typedef struct storage_object {
    const char *key; /* full key, NOT NUL-terminated */
    size_t key_len;
    uint64_t size;
    int64_t mtime_ms;                 /* last modified, ms since the epoch */
    char etag[STORAGE_ETAG_MAX];      /* unquoted, e.g. md5 hex; copied, NUL-terminated */
    const char *headers;              /* packed "name\0value\0" pairs, names lowercase */
    size_t headers_len;
    const void *body;                 /* `size` bytes */
} storage_object_t;

/* Look up the value of header `name` (lowercase) in a packed header list.
 * Returns a pointer into the list (NUL-terminated) or NULL. */
const char *storage_header(const char *headers, size_t headers_len, const char *name);

/* What a writer supplies besides the body. */
typedef struct storage_meta {
    const char *headers; /* packed "name\0value\0" pairs to store and echo, names lowercase:
                            content-type, cache-control, content-encoding, x-amz-meta-*, ... */
    size_t headers_len;
    const char *etag;    /* NULL: the MD5 hex of the body is computed */
    int64_t mtime_ms;    /* 0: now */
} storage_meta_t;

enum {
    STORAGE_PUT_IF_ABSENT = 1, /* fail with STORAGE_EPRECONDITION if the key exists */
};

/* Store an object (replacing any previous one) in the bucket's current
 * version, durably committed before return. etag_out, if not NULL, receives
 * the stored ETag. A full map returns STORAGE_EFULL and changes nothing. */
int storage_put(storage_t *s, const char *bucket, const char *key, size_t key_len,
                const void *body, size_t len, const storage_meta_t *meta, unsigned flags,
                char etag_out[STORAGE_ETAG_MAX]);
/* Delete an object. STORAGE_ENOTFOUND if it did not exist. */
int storage_delete(storage_t *s, const char *bucket, const char *key, size_t key_len);

/* ---- Views: read snapshots ---- */

/* Open a read snapshot of the whole store. Cheap (reuses reset LMDB read
 * transactions). STORAGE_EREADERS when every reader slot is taken. */
int storage_view_open(storage_t *s, storage_view_t **out);
/* Close a view; every pointer obtained through it becomes invalid. Accepts NULL.
 * May be called from any thread. */
void storage_view_close(storage_view_t *v);

/* Look up one object. STORAGE_ENOBUCKET, STORAGE_ENOTFOUND, STORAGE_EKEYTOOLONG. */
int storage_get(storage_view_t *v, const char *bucket, const char *key, size_t key_len,
                storage_object_t *out);

typedef struct storage_list_opts {
    const char *prefix; /* only keys starting with it; may be NULL */
    size_t prefix_len;
    const char *delimiter; /* roll keys up into common prefixes; may be NULL */
    size_t delimiter_len;
    const char *after; /* only entries (keys or common prefixes) strictly greater; may be NULL */
    size_t after_len;
    size_t max; /* most entries (keys + common prefixes) to return; 0 means 1000 */
} storage_list_opts_t;

/* Called once per entry in byte order of keys: either an object (cp == NULL)
 * or a common prefix (obj == NULL, cp/cp_len borrowed). Non-zero stops the
 * listing and is returned by storage_list. */
typedef int (*storage_list_cb)(void *ctx, const storage_object_t *obj, const char *cp,
                               size_t cp_len);

/* List a bucket as S3 does. On return *truncated is 1 if entries remain past
 * the last one delivered; the caller resumes with `after` = that last entry
 * (a key or a common prefix). */
int storage_list(storage_view_t *v, const char *bucket, const storage_list_opts_t *opts,
                 storage_list_cb cb, void *ctx, int *truncated);

/* ---- Deploys: replace a bucket's whole content atomically ---- */

/* Begin a deploy into `bucket` (created if absent). Holds LMDB's writer lock
 * until commit or abort, so keep it short. */
int storage_deploy_begin(storage_t *s, const char *bucket, storage_deploy_t **out);
/* Add one object to the new version. */
int storage_deploy_put(storage_deploy_t *d, const char *key, size_t key_len, const void *body,
                       size_t len, const storage_meta_t *meta);
/* Switch the bucket to the new version, keep the old one for rollback, drop
 * the one before it. Frees d in every case. *version_out may be NULL. */
int storage_deploy_commit(storage_deploy_t *d, uint32_t *version_out);
/* Throw the new version away. Frees d. Accepts NULL. */
void storage_deploy_abort(storage_deploy_t *d);
/* Swap the bucket's current and previous versions (a second rollback rolls
 * forward again). STORAGE_ENOVERSION if there is no previous version. */
int storage_bucket_rollback(storage_t *s, const char *bucket, uint32_t *version_out);

/* ---- Records: small key-value tables for the other modules ---- */

/* Other modules (users, codes, keys, identities, queued events) keep their
 * records here, in named tables inside one LMDB database. A table name is
 * 1-32 characters without NUL; table name plus key must fit
 * STORAGE_REC_MAX_KEY bytes. Values may be large (they go to overflow pages). */
#define STORAGE_REC_MAX_KEY 480

typedef struct storage_txn storage_txn_t;

/* Begin a write transaction. It holds LMDB's writer lock (shared with other
 * processes) until commit or abort: do slow work (password hashing) first.
 * Commit or abort on the thread that began it. */
int storage_txn_begin(storage_t *s, storage_txn_t **out);
/* Commit durably and free t. STORAGE_EFULL if the map filled up (nothing was
 * written); after any failed write in t only abort remains, and commit
 * returns that write's error. */
int storage_txn_commit(storage_txn_t *t);
/* Discard every write of t and free it. Accepts NULL. */
void storage_txn_abort(storage_txn_t *t);

/* Read a record inside a write transaction. *val borrows from the map (or
 * the transaction's dirty pages) and is valid until the next write in t or
 * its end. STORAGE_ENOTFOUND when absent. */
int storage_rec_get(storage_txn_t *t, const char *table, const void *key, size_t key_len,
                    const void **val, size_t *val_len);
/* Insert or replace a record (flags: STORAGE_PUT_IF_ABSENT → STORAGE_EEXIST
 * when present). */
int storage_rec_put(storage_txn_t *t, const char *table, const void *key, size_t key_len,
                    const void *val, size_t val_len, unsigned flags);
/* Delete a record; STORAGE_ENOTFOUND when absent. */
int storage_rec_del(storage_txn_t *t, const char *table, const void *key, size_t key_len);

/* Read a record through a view; *val is valid until the view is closed. */
int storage_view_rec_get(storage_view_t *v, const char *table, const void *key, size_t key_len,
                         const void **val, size_t *val_len);
/* Visit the records of `table` whose key starts with prefix (may be empty),
 * in key order. cb returning non-zero stops the scan and is returned. */
int storage_view_rec_scan(storage_view_t *v, const char *table, const void *prefix,
                          size_t prefix_len,
                          int (*cb)(void *ctx, const void *key, size_t key_len, const void *val,
                                    size_t val_len),
                          void *ctx);

/* ---- The static website (site.c) ---- */

struct http_req;
struct http_resp;

typedef struct storage_site_opts {
    const char *bucket;    /* the bucket served, "site" by default */
    const char *index_doc; /* served for "/" and "folder/", "index.html" */
    const char *error_doc; /* served with the original 4xx status; NULL = built-in page */
    int spa_fallback;      /* unknown paths without an extension serve the root index */
} storage_site_opts_t;

/* Answer an unsigned GET or HEAD from the website bucket: index documents,
 * folder redirects, error document, conditional requests, single ranges and
 * precompressed .br/.gz siblings. The response body borrows from a view that
 * the response's release function closes. */
void storage_site_handle(storage_t *s, const storage_site_opts_t *opts,
                         const struct http_req *req, struct http_resp *resp);

/* Upload every regular file under `dir` into `bucket` as one new version and
 * switch to it atomically (storage_deploy_*). Keys are the paths relative to
 * dir; Content-Type comes from the extension. On failure nothing changes and
 * err (size errsz) names the file and the reason. */
int storage_site_deploy_dir(storage_t *s, const char *bucket, const char *dir,
                            uint32_t *version_out, size_t *files_out, char *err, size_t errsz);

/* ---- The S3 API (s3.c) ---- */

/* An S3 event for a function (PutBucketNotificationConfiguration's
 * LambdaFunctionConfigurations): `function_arn` and the event JSON in S3's
 * format ({"Records":[...]}), both borrowed for the call. */
typedef void (*storage_s3_notify_fn)(void *ctx, const char *function_arn, const char *event,
                                     size_t len);

typedef struct storage_s3_opts {
    const char *region;  /* for GetBucketLocation and x-amz-bucket-region */
    size_t max_object;   /* largest body a single PUT may store */
    storage_s3_notify_fn notify; /* may be NULL: no events */
    /* Does the function exist? (PutBucketNotificationConfiguration refuses
     * a destination it cannot validate, as S3 does.) May be NULL. */
    int (*notify_check)(void *ctx, const char *function_arn);
    void *notify_ctx;
} storage_s3_opts_t;

/* Answer a request to the S3 REST API (path-style), already verified and
 * authorized by the gate. */
void storage_s3_handle(storage_t *s, const storage_s3_opts_t *opts, const struct http_req *req,
                       struct http_resp *resp);

/* The IAM action and resource of an S3 request, for the gate: e.g.
 * "s3:GetObject" on "arn:aws:s3:::bucket/key". For ListBucket, `prefix`
 * receives the prefix query parameter (the s3:prefix condition key), else
 * "". Returns 0. */
int storage_s3_action(const struct http_req *req, char *action, size_t actionsz, char *resource,
                      size_t resourcesz, char *prefix, size_t prefixsz);

/* Is an anonymous GET of bucket/key allowed by the bucket's policy (a
 * statement allowing s3:GetObject to Principal "*", no matching Deny)?
 * raw_key is the key as sent in the path (percent-encoded). */
int storage_s3_public_read(storage_t *s, const char *bucket, const char *raw_key);
/* Does any bucket have a policy? (a hint that spares the website's hot path
 * the lookup above while no bucket has one) */
int storage_s3_has_public_policy(storage_t *s);

/* A bucket's website configuration (PutBucketWebsite). */
#define STORAGE_S3_MAX_RULES 16
typedef struct storage_s3_rule {
    char prefix[256];         /* KeyPrefixEquals ("" = any) */
    int error_code;           /* HttpErrorCodeReturnedEquals (0 = any) */
    char host[256];
    char protocol[8];
    char replace_prefix[256];
    int has_replace_prefix;
    char replace_key[256];
    int has_replace_key;
    int redirect_code;        /* 301 by default */
} storage_s3_rule_t;

typedef struct storage_s3_website {
    char index[256];             /* IndexDocument/Suffix */
    char error[256];             /* ErrorDocument/Key, "" = none */
    char redirect_host[256];     /* RedirectAllRequestsTo/HostName, "" = none */
    char redirect_protocol[8];
    storage_s3_rule_t rules[STORAGE_S3_MAX_RULES];
    int nrules;
} storage_s3_website_t;

/* Read bucket's website configuration into *w. Returns 0, or -1 when the
 * bucket is not configured as a website. */
int storage_s3_website(storage_t *s, const char *bucket, storage_s3_website_t *w);

/* Apply bucket's CORS rules to a request from `origin` for `method` with the
 * request headers `req_headers` (comma list, may be NULL): returns 0 when the
 * bucket has no CORS configuration, 1 when a rule allows it (the CORS
 * response headers are added to resp), -1 when none does. */
int storage_s3_cors(storage_t *s, const char *bucket, const char *origin, const char *method,
                    const char *req_headers, struct http_resp *resp);

/* The ARN ("arn:aws:s3:::bucket/key", key decoded, version dropped) of an
 * x-amz-copy-source header value. Returns 0, or -1 when it is malformed
 * (out then holds "arn:aws:s3:::" so that nothing is granted). */
int storage_s3_copy_source_arn(const char *source, char *out, size_t outsz);

/* The Content-Type for a key by its extension ("application/octet-stream"
 * when unknown). A static string. */
const char *storage_content_type(const char *key, size_t key_len);

#endif
