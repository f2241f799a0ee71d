/* storage.c - cloudlet's object store on one LMDB environment (see storage.h).
 *
 * Three named databases:
 *
 *   buckets  bucket name -> bucket record (current and previous namespace,
 *            creation time, version counter)
 *   objects  ns (u32, big-endian) + encoded key -> object record
 *   meta     "format" -> on-disk format byte, "next_ns" -> next namespace id
 *
 * A namespace is the set of objects of one version of one bucket. Putting
 * the namespace first in the object key keeps each version contiguous, so a
 * listing is one cursor walk and dropping a version is one range delete.
 *
 * Keys up to STORAGE_INLINE_KEY bytes are stored as they are. A longer key is
 * stored as its first STORAGE_INLINE_KEY bytes plus 16 bytes of its SHA-256,
 * with the full key in the record. All long keys that share a 480-byte prefix
 * P sort together right after the short key P (if any), and nothing else sorts
 * among them, so a listing reads such a run, sorts it by full key in memory
 * and still comes out in byte order of the full keys.
 *
 * Records (every integer big-endian and read byte by byte, so records in the
 * map need no alignment; the first byte is the format, FORMAT):
 *
 *   bucket  format, ns u32, prev u32 (0 = none), created_ms i64, version u32
 *   object  format, flags u8, etag_len u8, etag, headers_len u32, headers,
 *           size u64, mtime_ms i64, [key_len u16, key if OBJ_FULL_KEY], body
 *
 * The body comes last so that a put reserves the record in the map and copies
 * the body once, and a get hands out a pointer into the map.
 */
#include "storage.h"

#include "common/log.h"
#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <openssl/evp.h>

#define FORMAT 1         /* first byte of every record and the "format" meta value */
#define MAX_HEADERS 8192 /* bytes of packed metadata headers per object */
#define NS_LEN 4         /* namespace id in front of every object key */
#define HASH_LEN 16      /* bytes of SHA-256 that stand for a long key's tail */
#define LONG_KEY_LEN (NS_LEN + STORAGE_INLINE_KEY + HASH_LEN)
#define RUN_PREFIX_LEN (NS_LEN + STORAGE_INLINE_KEY)
#define OBJ_KEY_MAX LONG_KEY_LEN
#define BUCKET_REC_LEN 21      /* format, ns, prev, created_ms, version */
#define VIEWS_CACHED 64        /* idle views kept for reuse; more are freed */
#define MAX_RECORD 0xffffffffu /* LMDB's largest value (MDB_BAD_VALSIZE beyond) */
#define MAX_READERS 65536      /* sanity bound on storage_options_t.max_readers */
#define DEFAULT_MAP ((size_t)16 << 30)
#define DEFAULT_READERS 1024
#define DEFAULT_LIST_MAX 1000
#define OBJ_FULL_KEY 0x01 /* object record flag: the full key follows mtime */

_Static_assert(LONG_KEY_LEN <= 511, "encoded keys must fit LMDB's default key size");
_Static_assert(STORAGE_ETAG_MAX <= 256, "the ETag length is stored in one byte");

struct storage {
    MDB_env *env;
    MDB_dbi buckets;
    MDB_dbi objects;
    MDB_dbi meta;
    MDB_dbi records;
    pthread_mutex_t lock; /* guards idle and nidle */
    storage_view_t *idle; /* views whose read transaction is reset, ready to renew */
    unsigned nidle;
};

struct storage_view {
    storage_t *s;
    MDB_txn *txn;
    MDB_cursor *cur; /* on objects, for storage_get (its key comes back from the map) */
    storage_view_t *next;
};

struct storage_deploy {
    storage_t *s;
    MDB_txn *txn;
    char bucket[STORAGE_MAX_BUCKET + 1];
    uint32_t ns; /* the namespace being filled */
    int failed;  /* non-zero: a put broke the transaction; only abort remains */
};

typedef struct bucket_rec {
    uint32_t ns;   /* current version's namespace */
    uint32_t prev; /* previous version's namespace, 0 = none */
    int64_t created_ms;
    uint32_t version;
} bucket_rec_t;

/* A validated write, prepared before the writer lock is taken so that hashing
 * the body does not hold up other writers. */
typedef struct put_req {
    unsigned char lkey[OBJ_KEY_MAX]; /* encoded key; the namespace is filled in later */
    size_t lkey_len;
    const char *key;
    size_t key_len;
    const void *body;
    size_t len;
    const char *headers;
    size_t headers_len;
    char etag[STORAGE_ETAG_MAX];
    size_t etag_len;
    int64_t mtime_ms;
    size_t rec_len;
} put_req_t;

/* ---- small helpers ---- */

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

static uint64_t get_u64(const unsigned char *p)
{
    return ((uint64_t)get_u32(p) << 32) | get_u32(p + 4);
}

/* Byte-wise order with the shorter string first on a common prefix: the order
 * of S3 keys, and LMDB's default key order. */
static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int starts_with(const void *s, size_t len, const void *prefix, size_t plen)
{
    return len >= plen && (plen == 0 || memcmp(s, prefix, plen) == 0);
}

/* Map an LMDB return code to a storage code. Codes that mean a broken
 * environment rather than a full one are logged, because STORAGE_EIO alone
 * would hide the cause. (Hash failures below go straight to stderr instead:
 * they abort, and buffered log lines would be lost.) */
static int lmdb_error(const char *what, int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_MAP_FULL:
        return STORAGE_EFULL;
    case MDB_READERS_FULL:
        return STORAGE_EREADERS;
    default:
        log_error("storage: %s: %s", what, mdb_strerror(rc));
        return STORAGE_EIO;
    }
}

const char *storage_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case STORAGE_ENOTFOUND:
        return "no such object";
    case STORAGE_ENOBUCKET:
        return "no such bucket";
    case STORAGE_EEXIST:
        return "bucket already exists";
    case STORAGE_ENOTEMPTY:
        return "bucket is not empty";
    case STORAGE_EFULL:
        return "storage is full";
    case STORAGE_EINVAL:
        return "invalid argument";
    case STORAGE_EKEYTOOLONG:
        return "key is empty or too long";
    case STORAGE_EPRECONDITION:
        return "object already exists";
    case STORAGE_ENOVERSION:
        return "no previous version to roll back to";
    case STORAGE_EIO:
        return "storage I/O error";
    case STORAGE_EREADERS:
        return "too many open read snapshots";
    default:
        return "unknown storage error";
    }
}

/* ---- records ---- */

static void bucket_encode(const bucket_rec_t *b, unsigned char out[BUCKET_REC_LEN])
{
    out[0] = FORMAT;
    put_u32(out + 1, b->ns);
    put_u32(out + 5, b->prev);
    put_u64(out + 9, (uint64_t)b->created_ms);
    put_u32(out + 17, b->version);
}

static int bucket_decode(const MDB_val *v, bucket_rec_t *b)
{
    const unsigned char *p = v->mv_data;
    if (v->mv_size != BUCKET_REC_LEN || p[0] != FORMAT)
        return STORAGE_EIO;
    b->ns = get_u32(p + 1);
    b->prev = get_u32(p + 5);
    b->created_ms = (int64_t)get_u64(p + 9);
    b->version = get_u32(p + 17);
    return 0;
}

/* Read bucket `name` inside txn. STORAGE_ENOBUCKET if it is absent, which
 * includes every invalid name (none can have been created). */
static int bucket_read(storage_t *s, MDB_txn *txn, const char *name, bucket_rec_t *b)
{
    if (!storage_bucket_name_valid(name))
        return STORAGE_ENOBUCKET;
    MDB_val k = {strlen(name), (void *)name};
    MDB_val v;
    int rc = mdb_get(txn, s->buckets, &k, &v);
    if (rc == MDB_NOTFOUND)
        return STORAGE_ENOBUCKET;
    if (rc != 0)
        return lmdb_error("read bucket", rc);
    return bucket_decode(&v, b);
}

static int bucket_write(storage_t *s, MDB_txn *txn, const char *name, const bucket_rec_t *b)
{
    unsigned char buf[BUCKET_REC_LEN];
    bucket_encode(b, buf);
    MDB_val k = {strlen(name), (void *)name};
    MDB_val v = {sizeof buf, buf};
    return lmdb_error("write bucket", mdb_put(txn, s->buckets, &k, &v, 0));
}

/* Allocate a fresh namespace id inside write txn. Ids start at 1 so that 0
 * can mean "none" in a bucket record; they are never reused. */
static int ns_alloc(storage_t *s, MDB_txn *txn, uint32_t *out)
{
    MDB_val k = {7, "next_ns"};
    MDB_val v;
    uint32_t next = 1;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0) {
        if (v.mv_size != 4)
            return STORAGE_EIO;
        next = get_u32(v.mv_data);
    } else if (rc != MDB_NOTFOUND) {
        return lmdb_error("read next_ns", rc);
    }
    if (next == 0 || next == UINT32_MAX) {
        log_error("storage: namespace ids exhausted");
        return STORAGE_EIO;
    }
    unsigned char buf[4];
    put_u32(buf, next + 1);
    v.mv_size = sizeof buf;
    v.mv_data = buf;
    rc = mdb_put(txn, s->meta, &k, &v, 0);
    if (rc != 0)
        return lmdb_error("write next_ns", rc);
    *out = next;
    return 0;
}

/* Returns 1 if namespace ns holds at least one object, 0 if none, or an
 * error. */
static int ns_nonempty(storage_t *s, MDB_txn *txn, uint32_t ns)
{
    MDB_cursor *cur = NULL;
    unsigned char nsb[NS_LEN];
    put_u32(nsb, ns);
    int rc = mdb_cursor_open(txn, s->objects, &cur);
    if (rc != 0)
        return lmdb_error("open cursor", rc);
    MDB_val k = {NS_LEN, nsb};
    MDB_val v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0)
        rc = starts_with(k.mv_data, k.mv_size, nsb, NS_LEN);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    else
        rc = lmdb_error("seek", rc);
    mdb_cursor_close(cur);
    return rc;
}

/* Delete every object of namespace ns inside write txn. Each step seeks
 * afresh rather than relying on where mdb_cursor_del leaves the cursor. */
static int ns_drop(storage_t *s, MDB_txn *txn, uint32_t ns)
{
    MDB_cursor *cur = NULL;
    unsigned char nsb[NS_LEN];
    put_u32(nsb, ns);
    int rc = mdb_cursor_open(txn, s->objects, &cur);
    if (rc != 0)
        return lmdb_error("open cursor", rc);
    for (;;) {
        MDB_val k = {NS_LEN, nsb};
        MDB_val v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND || (rc == 0 && !starts_with(k.mv_data, k.mv_size, nsb, NS_LEN))) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = lmdb_error("seek", rc);
            break;
        }
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            rc = lmdb_error("delete object", rc);
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Write the LMDB key of `key` into out (OBJ_KEY_MAX bytes), leaving the
 * first NS_LEN bytes for the caller's namespace; returns its length. key_len
 * must be 1..STORAGE_MAX_KEY. */
static size_t objkey_encode(const char *key, size_t key_len, unsigned char *out)
{
    if (key_len <= STORAGE_INLINE_KEY) {
        memcpy(out + NS_LEN, key, key_len);
        return NS_LEN + key_len;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    memcpy(out + NS_LEN, key, STORAGE_INLINE_KEY);
    if (EVP_Digest(key, key_len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "storage: SHA-256 failed\n");
        abort();
    }
    memcpy(out + NS_LEN + STORAGE_INLINE_KEY, md, HASH_LEN);
    return LONG_KEY_LEN;
}

/* Decode an object record (k, v from the map) into *o, whose pointers then
 * borrow from the map. STORAGE_EIO if the record is malformed. */
static int obj_decode(const MDB_val *k, const MDB_val *v, storage_object_t *o)
{
    const unsigned char *p = v->mv_data;
    size_t n = v->mv_size, off;
    if (n < 3 || p[0] != FORMAT || k->mv_size <= NS_LEN)
        return STORAGE_EIO;
    unsigned flags = p[1];
    size_t etag_len = p[2];
    off = 3;
    if (etag_len >= STORAGE_ETAG_MAX || n - off < etag_len + 4)
        return STORAGE_EIO;
    memcpy(o->etag, p + off, etag_len);
    o->etag[etag_len] = '\0';
    off += etag_len;
    size_t hlen = get_u32(p + off);
    off += 4;
    if (n - off < hlen + 16)
        return STORAGE_EIO;
    o->headers = (const char *)p + off;
    o->headers_len = hlen;
    off += hlen;
    o->size = get_u64(p + off);
    o->mtime_ms = (int64_t)get_u64(p + off + 8);
    off += 16;
    if (flags & OBJ_FULL_KEY) {
        if (n - off < 2)
            return STORAGE_EIO;
        size_t klen = get_u16(p + off);
        off += 2;
        if (n - off < klen)
            return STORAGE_EIO;
        o->key = (const char *)p + off;
        o->key_len = klen;
        off += klen;
    } else {
        o->key = (const char *)k->mv_data + NS_LEN;
        o->key_len = k->mv_size - NS_LEN;
    }
    if (o->size != n - off)
        return STORAGE_EIO;
    o->body = p + off;
    return 0;
}

/* Returns 1 if h[0:len] is a packed header list storage accepts: pairs of
 * NUL-terminated strings, each name non-empty and free of uppercase letters
 * (storage_header looks names up by exact lowercase match), MAX_HEADERS bytes
 * at most. */
static int headers_valid(const char *h, size_t len)
{
    if (len == 0)
        return 1;
    if (h == NULL || len > MAX_HEADERS || h[len - 1] != '\0')
        return 0;
    size_t off = 0, nstr = 0;
    while (off < len) {
        size_t slen = strlen(h + off); /* terminated: h[len - 1] is NUL */
        if (nstr % 2 == 0) {
            if (slen == 0)
                return 0;
            for (size_t i = 0; i < slen; i++) {
                if (h[off + i] >= 'A' && h[off + i] <= 'Z')
                    return 0;
            }
        }
        nstr++;
        off += slen + 1;
    }
    return nstr % 2 == 0;
}

const char *storage_header(const char *headers, size_t headers_len, const char *name)
{
    if (headers == NULL || name == NULL)
        return NULL;
    const char *p = headers, *end = headers + headers_len;
    while (p < end) {
        const char *nend = memchr(p, '\0', (size_t)(end - p));
        if (nend == NULL || nend + 1 >= end)
            return NULL;
        const char *val = nend + 1;
        const char *vend = memchr(val, '\0', (size_t)(end - val));
        if (vend == NULL)
            return NULL;
        if (strcmp(p, name) == 0)
            return val;
        p = vend + 1;
    }
    return NULL;
}

/* Validate one write and do the work that needs no lock: encode the key,
 * compute the ETag, size the record. STORAGE_EKEYTOOLONG or STORAGE_EINVAL. */
static int put_prepare(put_req_t *r, const char *key, size_t key_len, const void *body, size_t len,
                       const storage_meta_t *meta)
{
    if (key == NULL || key_len == 0 || key_len > STORAGE_MAX_KEY)
        return STORAGE_EKEYTOOLONG;
    if (body == NULL && len > 0)
        return STORAGE_EINVAL;
    r->headers = meta ? meta->headers : NULL;
    r->headers_len = meta ? meta->headers_len : 0;
    if (!headers_valid(r->headers, r->headers_len))
        return STORAGE_EINVAL;
    if (meta && meta->etag) {
        r->etag_len = strnlen(meta->etag, STORAGE_ETAG_MAX);
        if (r->etag_len == 0 || r->etag_len >= STORAGE_ETAG_MAX)
            return STORAGE_EINVAL;
        memcpy(r->etag, meta->etag, r->etag_len + 1);
    } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        if (EVP_Digest(len ? body : "", len, md, &mdlen, EVP_md5(), NULL) != 1) {
            fprintf(stderr, "storage: MD5 failed\n");
            abort();
        }
        util_hex(md, mdlen, r->etag);
        r->etag_len = 2 * (size_t)mdlen;
    }
    r->mtime_ms = meta && meta->mtime_ms ? meta->mtime_ms : util_now_ms();
    r->key = key;
    r->key_len = key_len;
    r->body = body;
    r->len = len;
    r->lkey_len = objkey_encode(key, key_len, r->lkey);
    size_t fixed = 3 + r->etag_len + 4 + r->headers_len + 16;
    if (key_len > STORAGE_INLINE_KEY)
        fixed += 2 + key_len;
    if (len > MAX_RECORD - fixed)
        return STORAGE_EINVAL;
    r->rec_len = fixed + len;
    return 0;
}

/* Write prepared object r into namespace ns inside write txn. The record is
 * reserved in the map and filled in place, so the body is copied once.
 * STORAGE_EPRECONDITION if if_absent and the key exists; STORAGE_EFULL or
 * STORAGE_EIO leave txn fit only for abort. */
static int put_write(storage_t *s, MDB_txn *txn, uint32_t ns, put_req_t *r, int if_absent)
{
    put_u32(r->lkey, ns);
    MDB_val k = {r->lkey_len, r->lkey};
    MDB_val v = {r->rec_len, NULL};
    int rc = mdb_put(txn, s->objects, &k, &v, MDB_RESERVE | (if_absent ? MDB_NOOVERWRITE : 0));
    if (rc == MDB_KEYEXIST)
        return STORAGE_EPRECONDITION;
    if (rc != 0)
        return lmdb_error("put object", rc);
    unsigned char *p = v.mv_data;
    p[0] = FORMAT;
    p[1] = r->key_len > STORAGE_INLINE_KEY ? OBJ_FULL_KEY : 0;
    p[2] = (unsigned char)r->etag_len;
    size_t off = 3;
    memcpy(p + off, r->etag, r->etag_len);
    off += r->etag_len;
    put_u32(p + off, (uint32_t)r->headers_len);
    off += 4;
    if (r->headers_len > 0)
        memcpy(p + off, r->headers, r->headers_len);
    off += r->headers_len;
    put_u64(p + off, r->len);
    put_u64(p + off + 8, (uint64_t)r->mtime_ms);
    off += 16;
    if (r->key_len > STORAGE_INLINE_KEY) {
        put_u16(p + off, (uint16_t)r->key_len);
        off += 2;
        memcpy(p + off, r->key, r->key_len);
        off += r->key_len;
    }
    if (r->len > 0)
        memcpy(p + off, r->body, r->len);
    return 0;
}

/* ---- environment ---- */

int storage_open(storage_t **out, const char *dir, const storage_options_t *opts)
{
    size_t map_size = opts && opts->map_size ? opts->map_size : DEFAULT_MAP;
    unsigned readers = opts && opts->max_readers ? opts->max_readers : DEFAULT_READERS;
    storage_t *s = NULL;
    MDB_txn *txn = NULL;
    int rc;

    *out = NULL;
    if (dir == NULL || readers > MAX_READERS)
        return STORAGE_EINVAL;
    s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    rc = mdb_env_create(&s->env);
    if (rc != 0) {
        s->env = NULL;
        rc = lmdb_error("create environment", rc);
        goto err;
    }
    rc = mdb_env_set_maxdbs(s->env, 8);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map_size);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(s->env, readers);
    if (rc != 0) {
        rc = lmdb_error("configure environment", rc);
        goto err;
    }
    /* MDB_NOTLS ties reader slots to transactions rather than threads, so a
     * view may be closed on another thread and reset transactions can be
     * pooled. */
    rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
    if (rc != 0) {
        log_error("storage: open %s: %s", dir, mdb_strerror(rc));
        rc = STORAGE_EIO;
        goto err;
    }
    /* A process that died with a view open leaves its reader slot behind,
     * which would pin old pages and eat a slot forever. */
    int dead = 0;
    mdb_reader_check(s->env, &dead);

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = lmdb_error("begin", rc);
        goto err;
    }
    rc = mdb_dbi_open(txn, "buckets", MDB_CREATE, &s->buckets);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "objects", MDB_CREATE, &s->objects);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "records", MDB_CREATE, &s->records);
    if (rc != 0) {
        rc = lmdb_error("open databases", rc);
        goto err;
    }
    MDB_val k = {6, "format"};
    MDB_val v;
    unsigned char fmt = FORMAT;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        v.mv_size = 1;
        v.mv_data = &fmt;
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    } else if (rc == 0 && (v.mv_size != 1 || *(unsigned char *)v.mv_data != FORMAT)) {
        log_error("storage: %s: unknown data format", dir);
        rc = STORAGE_EIO;
        goto err;
    }
    if (rc != 0) {
        rc = lmdb_error("format", rc);
        goto err;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        rc = lmdb_error("commit", rc);
        goto err;
    }
    *out = s;
    return 0;

err:
    if (txn)
        mdb_txn_abort(txn);
    storage_close(s);
    return rc;
}

/* Free a view and its read transaction (reset or live). */
static void view_free(storage_view_t *v)
{
    if (v->cur)
        mdb_cursor_close(v->cur);
    mdb_txn_abort(v->txn);
    free(v);
}

void storage_close(storage_t *s)
{
    if (s == NULL)
        return;
    while (s->idle) {
        storage_view_t *v = s->idle;
        s->idle = v->next;
        view_free(v);
    }
    if (s->env)
        mdb_env_close(s->env);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- views ---- */

int storage_view_open(storage_t *s, storage_view_t **out)
{
    storage_view_t *v;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&s->lock);
    v = s->idle;
    if (v) {
        s->idle = v->next;
        s->nidle--;
    }
    pthread_mutex_unlock(&s->lock);

    if (v) {
        rc = mdb_txn_renew(v->txn);
        if (rc == 0)
            rc = mdb_cursor_renew(v->txn, v->cur);
        if (rc == 0) {
            *out = v;
            return 0;
        }
        /* A renew failure means the slot is unusable; start over with a
         * fresh transaction rather than fail the request. */
        view_free(v);
    }

    v = xmalloc(sizeof *v);
    v->s = s;
    v->cur = NULL;
    v->next = NULL;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &v->txn);
    if (rc != 0) {
        free(v);
        return lmdb_error("begin read", rc);
    }
    rc = mdb_cursor_open(v->txn, s->objects, &v->cur);
    if (rc != 0) {
        v->cur = NULL;
        rc = lmdb_error("open cursor", rc);
        goto err;
    }
    *out = v;
    return 0;

err:
    view_free(v);
    return rc;
}

void storage_view_close(storage_view_t *v)
{
    if (v == NULL)
        return;
    storage_t *s = v->s;
    /* Reset releases the snapshot (old pages can be reused by writers) but
     * keeps the reader slot, so the next open is a cheap renew. */
    mdb_txn_reset(v->txn);
    pthread_mutex_lock(&s->lock);
    if (s->nidle < VIEWS_CACHED) {
        v->next = s->idle;
        s->idle = v;
        s->nidle++;
        v = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (v)
        view_free(v);
}

/* ---- buckets ---- */

int storage_bucket_name_valid(const char *name)
{
    if (name == NULL)
        return 0;
    size_t len = strnlen(name, STORAGE_MAX_BUCKET + 1);
    if (len < 3 || len > STORAGE_MAX_BUCKET)
        return 0;
    int dots = 0, digits_only = 1, group = 0, short_groups = 1;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '-')
            return 0;
        if ((i == 0 || i == len - 1) && !alnum)
            return 0;
        if (c == '.' && name[i + 1] == '.')
            return 0;
        if (c == '.') {
            dots++;
            group = 0;
        } else if (c >= '0' && c <= '9') {
            group++;
            if (group > 3)
                short_groups = 0;
        } else {
            digits_only = 0;
        }
    }
    /* Four dot-separated groups of 1-3 digits read as an IPv4 address. */
    if (digits_only && dots == 3 && short_groups)
        return 0;
    return 1;
}

int storage_bucket_create(storage_t *s, const char *name)
{
    MDB_txn *txn = NULL;
    bucket_rec_t b;
    int rc;

    if (!storage_bucket_name_valid(name))
        return STORAGE_EINVAL;
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = lmdb_error("begin", rc);
        goto err;
    }
    rc = bucket_read(s, txn, name, &b);
    if (rc == 0) {
        rc = STORAGE_EEXIST;
        goto err;
    }
    if (rc != STORAGE_ENOBUCKET)
        goto err;
    memset(&b, 0, sizeof b);
    b.created_ms = util_now_ms();
    rc = ns_alloc(s, txn, &b.ns);
    if (rc != 0)
        goto err;
    rc = bucket_write(s, txn, name, &b);
    if (rc != 0)
        goto err;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    rc = lmdb_error("commit", rc);

err:
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

int storage_bucket_delete(storage_t *s, const char *name)
{
    MDB_txn *txn = NULL;
    bucket_rec_t b;
    int rc;

    if (!storage_bucket_name_valid(name))
        return STORAGE_ENOBUCKET;
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = lmdb_error("begin", rc);
        goto err;
    }
    rc = bucket_read(s, txn, name, &b);
    if (rc != 0)
        goto err;
    rc = ns_nonempty(s, txn, b.ns);
    if (rc == 1)
        rc = STORAGE_ENOTEMPTY;
    if (rc != 0)
        goto err;
    if (b.prev != 0) {
        rc = ns_drop(s, txn, b.prev);
        if (rc != 0)
            goto err;
    }
    MDB_val k = {strlen(name), (void *)name};
    rc = mdb_del(txn, s->buckets, &k, NULL);
    if (rc != 0) {
        rc = lmdb_error("delete bucket", rc);
        goto err;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    rc = lmdb_error("commit", rc);

err:
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

int storage_bucket_list(storage_view_t *v, int (*cb)(void *ctx, const storage_bucket_info_t *b),
                        void *ctx)
{
    MDB_cursor *cur = NULL;
    MDB_val k, val;
    int rc = mdb_cursor_open(v->txn, v->s->buckets, &cur);
    if (rc != 0)
        return lmdb_error("open cursor", rc);
    rc = mdb_cursor_get(cur, &k, &val, MDB_FIRST);
    while (rc == 0) {
        /* Names in the map are not NUL-terminated; the callback wants a C
         * string. Only valid names are ever written. */
        char name[STORAGE_MAX_BUCKET + 1];
        bucket_rec_t b;
        if (k.mv_size > STORAGE_MAX_BUCKET || bucket_decode(&val, &b) != 0) {
            rc = STORAGE_EIO;
            goto err;
        }
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        storage_bucket_info_t info = {name, b.created_ms, b.version};
        rc = cb(ctx, &info);
        if (rc != 0)
            goto err;
        rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT);
    }
    rc = rc == MDB_NOTFOUND ? 0 : lmdb_error("next bucket", rc);

err:
    mdb_cursor_close(cur);
    return rc;
}

int storage_bucket_get(storage_view_t *v, const char *name, storage_bucket_info_t *out)
{
    bucket_rec_t b;
    int rc = bucket_read(v->s, v->txn, name, &b);
    if (rc != 0)
        return rc;
    out->name = name;
    out->created_ms = b.created_ms;
    out->version = b.version;
    return 0;
}

/* ---- objects ---- */

int storage_put(storage_t *s, const char *bucket, const char *key, size_t key_len, const void *body,
                size_t len, const storage_meta_t *meta, unsigned flags,
                char etag_out[STORAGE_ETAG_MAX])
{
    MDB_txn *txn = NULL;
    bucket_rec_t b;
    put_req_t r;
    int rc;

    rc = put_prepare(&r, key, key_len, body, len, meta);
    if (rc != 0)
        return rc;
    if (!storage_bucket_name_valid(bucket))
        return STORAGE_ENOBUCKET;
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = lmdb_error("begin", rc);
        goto err;
    }
    rc = bucket_read(s, txn, bucket, &b);
    if (rc != 0)
        goto err;
    rc = put_write(s, txn, b.ns, &r, (flags & STORAGE_PUT_IF_ABSENT) != 0);
    if (rc != 0)
        goto err;
    /* Commit frees txn even when it fails (MDB_MAP_FULL is possible here
     * too, when the free list itself needs pages). */
    rc = mdb_txn_commit(txn);
    txn = NULL;
    rc = lmdb_error("commit", rc);
    if (rc == 0 && etag_out)
        memcpy(etag_out, r.etag, r.etag_len + 1);

err:
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

int storage_delete(storage_t *s, const char *bucket, const char *key, size_t key_len)
{
    MDB_txn *txn = NULL;
    bucket_rec_t b;
    unsigned char lkey[OBJ_KEY_MAX];
    int rc;

    if (key == NULL || key_len == 0 || key_len > STORAGE_MAX_KEY)
        return STORAGE_EKEYTOOLONG;
    if (!storage_bucket_name_valid(bucket))
        return STORAGE_ENOBUCKET;
    size_t lkey_len = objkey_encode(key, key_len, lkey);
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = lmdb_error("begin", rc);
        goto err;
    }
    rc = bucket_read(s, txn, bucket, &b);
    if (rc != 0)
        goto err;
    put_u32(lkey, b.ns);
    MDB_val k = {lkey_len, lkey};
    MDB_val v;
    rc = mdb_get(txn, s->objects, &k, &v);
    if (rc == MDB_NOTFOUND) {
        rc = STORAGE_ENOTFOUND;
        goto err;
    }
    if (rc != 0) {
        rc = lmdb_error("get object", rc);
        goto err;
    }
    /* A long key is found by its hash; make sure the record is this key. */
    storage_object_t o;
    rc = obj_decode(&k, &v, &o);
    if (rc != 0)
        goto err;
    if (bytes_cmp(o.key, o.key_len, key, key_len) != 0) {
        rc = STORAGE_ENOTFOUND;
        goto err;
    }
    rc = mdb_del(txn, s->objects, &k, NULL);
    if (rc != 0) {
        rc = lmdb_error("delete object", rc);
        goto err;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    rc = lmdb_error("commit", rc);

err:
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

int storage_get(storage_view_t *v, const char *bucket, const char *key, size_t key_len,
                storage_object_t *out)
{
    bucket_rec_t b;
    unsigned char lkey[OBJ_KEY_MAX];
    MDB_val k, val;
    int rc;

    if (key == NULL || key_len == 0 || key_len > STORAGE_MAX_KEY)
        return STORAGE_EKEYTOOLONG;
    rc = bucket_read(v->s, v->txn, bucket, &b);
    if (rc != 0)
        return rc;
    put_u32(lkey, b.ns);
    k.mv_size = objkey_encode(key, key_len, lkey);
    k.mv_data = lkey;
    /* Through the cursor, not mdb_get, so that k comes back pointing into
     * the map: out->key must outlive this call. */
    rc = mdb_cursor_get(v->cur, &k, &val, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND)
        return STORAGE_ENOTFOUND;
    if (rc != 0)
        return lmdb_error("get object", rc);
    rc = obj_decode(&k, &val, out);
    if (rc != 0)
        return rc;
    if (bytes_cmp(out->key, out->key_len, key, key_len) != 0)
        return STORAGE_ENOTFOUND;
    return 0;
}

/* ---- listing ---- */

typedef struct lister {
    const char *prefix;
    size_t prefix_len;
    const char *delim;
    size_t delim_len;
    const char *after; /* NULL: no lower bound */
    size_t after_len;
    size_t max;
    storage_list_cb cb;
    void *ctx;
    size_t count;   /* entries delivered */
    int truncated;  /* an entry past max was found */
    int cb_rc;      /* the callback's non-zero return */
    const char *cp; /* the last common prefix met (borrowed from the map) */
    size_t cp_len;
    int skip; /* cp was just met: the rest of its folder can be skipped */
} lister_t;

/* Turn one object into its listing entry (the key, or the common prefix it
 * rolls up into) and deliver it unless it is filtered out. Returns 0 to go on
 * or 1 to stop (max reached with one more entry seen, or the callback said
 * stop). */
static int list_visit(lister_t *l, const storage_object_t *o)
{
    const char *entry = o->key;
    size_t elen = o->key_len;
    int is_cp = 0;

    if (!starts_with(o->key, o->key_len, l->prefix, l->prefix_len))
        return 0;
    if (l->delim_len > 0) {
        const char *d =
            memmem(o->key + l->prefix_len, o->key_len - l->prefix_len, l->delim, l->delim_len);
        if (d) {
            elen = (size_t)(d - o->key) + l->delim_len;
            is_cp = 1;
        }
    }
    if (is_cp) {
        /* Keys rolling up into one common prefix are adjacent, so comparing
         * with the last one met is enough to deliver each once. */
        if (l->cp && bytes_cmp(l->cp, l->cp_len, entry, elen) == 0)
            return 0;
        l->cp = entry;
        l->cp_len = elen;
        l->skip = 1;
    }
    if (l->after && bytes_cmp(entry, elen, l->after, l->after_len) <= 0)
        return 0;
    if (l->count == l->max) {
        l->truncated = 1;
        return 1;
    }
    l->count++;
    l->cb_rc = is_cp ? l->cb(l->ctx, NULL, entry, elen) : l->cb(l->ctx, o, NULL, 0);
    return l->cb_rc != 0;
}

static int obj_cmp(const void *a, const void *b)
{
    const storage_object_t *x = a, *y = b;
    return bytes_cmp(x->key, x->key_len, y->key, y->key_len);
}

/* Compute where a listing (re)starts: the larger of ns + prefix and ns +
 * after, each cut to the inline key length. Writes the key into seek
 * (RUN_PREFIX_LEN bytes) and returns its length. */
static size_t list_start(uint32_t ns, const lister_t *l, unsigned char *seek)
{
    const char *from = l->prefix;
    size_t len = l->prefix_len;
    if (l->after && bytes_cmp(l->after, l->after_len, l->prefix, l->prefix_len) > 0) {
        from = l->after;
        len = l->after_len;
    }
    if (len > STORAGE_INLINE_KEY)
        len = STORAGE_INLINE_KEY;
    put_u32(seek, ns);
    if (len > 0)
        memcpy(seek + NS_LEN, from, len);
    return NS_LEN + len;
}

int storage_list(storage_view_t *v, const char *bucket, const storage_list_opts_t *opts,
                 storage_list_cb cb, void *ctx, int *truncated)
{
    storage_t *s = v->s;
    MDB_cursor *cur = NULL;
    storage_object_t *run = NULL;
    size_t run_cap = 0;
    unsigned char base[RUN_PREFIX_LEN]; /* ns + prefix cut to the inline length */
    unsigned char seek[RUN_PREFIX_LEN];
    bucket_rec_t b;
    MDB_val k, val;
    int rc;
    lister_t l = {
        .prefix = opts && opts->prefix ? opts->prefix : "",
        .prefix_len = opts && opts->prefix ? opts->prefix_len : 0,
        .delim = opts && opts->delimiter ? opts->delimiter : "",
        .delim_len = opts && opts->delimiter ? opts->delimiter_len : 0,
        .after = opts ? opts->after : NULL,
        .after_len = opts && opts->after ? opts->after_len : 0,
        .max = opts && opts->max ? opts->max : DEFAULT_LIST_MAX,
        .cb = cb,
        .ctx = ctx,
    };

    if (truncated)
        *truncated = 0;
    rc = bucket_read(s, v->txn, bucket, &b);
    if (rc != 0)
        return rc;
    /* No key is longer than STORAGE_MAX_KEY, so neither is any match. */
    if (l.prefix_len > STORAGE_MAX_KEY)
        return 0;
    size_t base_len =
        NS_LEN + (l.prefix_len < STORAGE_INLINE_KEY ? l.prefix_len : STORAGE_INLINE_KEY);
    put_u32(base, b.ns);
    memcpy(base + NS_LEN, l.prefix, base_len - NS_LEN);

    rc = mdb_cursor_open(v->txn, s->objects, &cur);
    if (rc != 0) {
        cur = NULL;
        rc = lmdb_error("open cursor", rc);
        goto err;
    }
    k.mv_size = list_start(b.ns, &l, seek);
    k.mv_data = seek;
    rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE);
    while (rc == 0 && starts_with(k.mv_data, k.mv_size, base, base_len)) {
        int stop = 0, moved = 0;
        if (k.mv_size == LONG_KEY_LEN) {
            /* A run of long keys with one 480-byte prefix is in hash order:
             * gather it and deliver it in key order. */
            const void *run_key = k.mv_data;
            size_t n = 0;
            do {
                if (n == run_cap) {
                    run_cap = run_cap ? 2 * run_cap : 16;
                    run = xrealloc(run, run_cap * sizeof *run);
                }
                rc = obj_decode(&k, &val, &run[n]);
                if (rc != 0)
                    goto err;
                n++;
                rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT);
            } while (rc == 0 && k.mv_size == LONG_KEY_LEN &&
                     memcmp(k.mv_data, run_key, RUN_PREFIX_LEN) == 0);
            moved = 1;
            qsort(run, n, sizeof *run, obj_cmp);
            for (size_t i = 0; i < n && !stop; i++)
                stop = list_visit(&l, &run[i]);
        } else {
            storage_object_t o;
            rc = obj_decode(&k, &val, &o);
            if (rc != 0)
                goto err;
            stop = list_visit(&l, &o);
        }
        if (stop) {
            rc = 0;
            break;
        }
        if (l.skip && l.cp_len <= STORAGE_INLINE_KEY && (unsigned char)l.cp[l.cp_len - 1] != 0xff) {
            /* Every key under common prefix cp rolls up into it: jump to the
             * first key past cp's folder (cp with its last byte raised), so a
             * delimited listing costs one seek per folder, not one step per
             * key. */
            put_u32(seek, b.ns);
            memcpy(seek + NS_LEN, l.cp, l.cp_len);
            seek[NS_LEN + l.cp_len - 1]++;
            k.mv_size = NS_LEN + l.cp_len;
            k.mv_data = seek;
            rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE);
        } else if (!moved) {
            rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT);
        }
        l.skip = 0;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = lmdb_error("next object", rc);
        goto err;
    }
    if (truncated)
        *truncated = l.truncated;
    rc = l.cb_rc;

err:
    if (cur)
        mdb_cursor_close(cur);
    free(run);
    return rc;
}

/* ---- deploys ---- */

int storage_deploy_begin(storage_t *s, const char *bucket, storage_deploy_t **out)
{
    storage_deploy_t *d = NULL;
    bucket_rec_t b;
    int rc;

    *out = NULL;
    if (!storage_bucket_name_valid(bucket))
        return STORAGE_EINVAL;
    d = xcalloc(1, sizeof *d);
    d->s = s;
    memcpy(d->bucket, bucket, strlen(bucket) + 1);
    rc = mdb_txn_begin(s->env, NULL, 0, &d->txn);
    if (rc != 0) {
        d->txn = NULL;
        rc = lmdb_error("begin", rc);
        goto err;
    }
    rc = bucket_read(s, d->txn, bucket, &b);
    if (rc == STORAGE_ENOBUCKET) {
        /* Created in this transaction, so an abort leaves no trace. */
        memset(&b, 0, sizeof b);
        b.created_ms = util_now_ms();
        rc = ns_alloc(s, d->txn, &b.ns);
        if (rc == 0)
            rc = bucket_write(s, d->txn, bucket, &b);
    }
    if (rc != 0)
        goto err;
    rc = ns_alloc(s, d->txn, &d->ns);
    if (rc != 0)
        goto err;
    *out = d;
    return 0;

err:
    storage_deploy_abort(d);
    return rc;
}

int storage_deploy_put(storage_deploy_t *d, const char *key, size_t key_len, const void *body,
                       size_t len, const storage_meta_t *meta)
{
    put_req_t r;
    int rc;

    if (d->failed)
        return d->failed;
    rc = put_prepare(&r, key, key_len, body, len, meta);
    if (rc != 0)
        return rc;
    rc = put_write(d->s, d->txn, d->ns, &r, 0);
    /* After an LMDB error the transaction is unusable: remember it so that
     * commit reports it instead of writing half a site. */
    if (rc != 0)
        d->failed = rc;
    return rc;
}

int storage_deploy_commit(storage_deploy_t *d, uint32_t *version_out)
{
    storage_t *s = d->s;
    bucket_rec_t b;
    int rc = d->failed;

    if (rc != 0)
        goto err;
    rc = bucket_read(s, d->txn, d->bucket, &b);
    if (rc != 0)
        goto err;
    if (b.prev != 0) {
        rc = ns_drop(s, d->txn, b.prev);
        if (rc != 0)
            goto err;
    }
    b.prev = b.ns;
    b.ns = d->ns;
    b.version++;
    rc = bucket_write(s, d->txn, d->bucket, &b);
    if (rc != 0)
        goto err;
    rc = mdb_txn_commit(d->txn);
    d->txn = NULL;
    rc = lmdb_error("commit", rc);
    if (rc == 0 && version_out)
        *version_out = b.version;

err:
    storage_deploy_abort(d);
    return rc;
}

void storage_deploy_abort(storage_deploy_t *d)
{
    if (d == NULL)
        return;
    if (d->txn)
        mdb_txn_abort(d->txn);
    free(d);
}

int storage_bucket_rollback(storage_t *s, const char *bucket, uint32_t *version_out)
{
    MDB_txn *txn = NULL;
    bucket_rec_t b;
    int rc;

    if (!storage_bucket_name_valid(bucket))
        return STORAGE_ENOBUCKET;
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = lmdb_error("begin", rc);
        goto err;
    }
    rc = bucket_read(s, txn, bucket, &b);
    if (rc != 0)
        goto err;
    if (b.prev == 0) {
        rc = STORAGE_ENOVERSION;
        goto err;
    }
    uint32_t cur = b.ns;
    b.ns = b.prev;
    b.prev = cur;
    b.version++;
    rc = bucket_write(s, txn, bucket, &b);
    if (rc != 0)
        goto err;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    rc = lmdb_error("commit", rc);
    if (rc == 0 && version_out)
        *version_out = b.version;

err:
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

/* ---- records ---- */

struct storage_txn {
    storage_t *s;
    MDB_txn *txn;
    int failed; /* the storage code of a write that broke the transaction */
};

#define TABLE_MAX 32

/* The LMDB key of a record: table name, NUL, key. Returns its length, or 0
 * when the table name or the key is not acceptable. */
static size_t rec_key(const char *table, const void *key, size_t key_len,
                      unsigned char out[STORAGE_REC_MAX_KEY])
{
    size_t tlen = strnlen(table, TABLE_MAX + 1);
    if (tlen == 0 || tlen > TABLE_MAX || tlen + 1 + key_len > STORAGE_REC_MAX_KEY)
        return 0;
    memcpy(out, table, tlen);
    out[tlen] = '\0';
    if (key_len > 0)
        memcpy(out + tlen + 1, key, key_len);
    return tlen + 1 + key_len;
}

int storage_txn_begin(storage_t *s, storage_txn_t **out)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_error("begin write", rc);
    storage_txn_t *t = xmalloc(sizeof *t);
    t->s = s;
    t->txn = txn;
    t->failed = 0;
    *out = t;
    return 0;
}

int storage_txn_commit(storage_txn_t *t)
{
    int rc = t->failed;
    if (rc != 0) {
        mdb_txn_abort(t->txn);
    } else {
        rc = mdb_txn_commit(t->txn);
        rc = rc ? lmdb_error("commit", rc) : 0;
    }
    free(t);
    return rc;
}

void storage_txn_abort(storage_txn_t *t)
{
    if (t == NULL)
        return;
    mdb_txn_abort(t->txn);
    free(t);
}

/* Shared by the transaction and view readers. */
static int rec_get(MDB_txn *txn, MDB_dbi dbi, const char *table, const void *key, size_t key_len,
                   const void **val, size_t *val_len)
{
    unsigned char lk[STORAGE_REC_MAX_KEY];
    size_t n = rec_key(table, key, key_len, lk);
    if (n == 0)
        return STORAGE_EINVAL;
    MDB_val k = {n, lk}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return STORAGE_ENOTFOUND;
    if (rc != 0)
        return lmdb_error("get record", rc);
    *val = v.mv_data;
    *val_len = v.mv_size;
    return 0;
}

int storage_rec_get(storage_txn_t *t, const char *table, const void *key, size_t key_len,
                    const void **val, size_t *val_len)
{
    if (t->failed)
        return t->failed;
    return rec_get(t->txn, t->s->records, table, key, key_len, val, val_len);
}

int storage_view_rec_get(storage_view_t *v, const char *table, const void *key, size_t key_len,
                         const void **val, size_t *val_len)
{
    return rec_get(v->txn, v->s->records, table, key, key_len, val, val_len);
}

int storage_rec_put(storage_txn_t *t, const char *table, const void *key, size_t key_len,
                    const void *val, size_t val_len, unsigned flags)
{
    if (t->failed)
        return t->failed;
    unsigned char lk[STORAGE_REC_MAX_KEY];
    size_t n = rec_key(table, key, key_len, lk);
    if (n == 0)
        return STORAGE_EINVAL;
    MDB_val k = {n, lk}, v = {val_len, (void *)val};
    int rc = mdb_put(t->txn, t->s->records, &k, &v,
                     (flags & STORAGE_PUT_IF_ABSENT) ? MDB_NOOVERWRITE : 0);
    if (rc == MDB_KEYEXIST)
        return STORAGE_EEXIST;
    if (rc != 0) {
        /* LMDB leaves the transaction unusable after a failed put. */
        t->failed = lmdb_error("put record", rc);
        return t->failed;
    }
    return 0;
}

int storage_rec_del(storage_txn_t *t, const char *table, const void *key, size_t key_len)
{
    if (t->failed)
        return t->failed;
    unsigned char lk[STORAGE_REC_MAX_KEY];
    size_t n = rec_key(table, key, key_len, lk);
    if (n == 0)
        return STORAGE_EINVAL;
    MDB_val k = {n, lk};
    int rc = mdb_del(t->txn, t->s->records, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return STORAGE_ENOTFOUND;
    if (rc != 0) {
        t->failed = lmdb_error("delete record", rc);
        return t->failed;
    }
    return 0;
}

int storage_view_rec_scan(storage_view_t *v, const char *table, const void *prefix,
                          size_t prefix_len,
                          int (*cb)(void *ctx, const void *key, size_t key_len, const void *val,
                                    size_t val_len),
                          void *ctx)
{
    unsigned char lk[STORAGE_REC_MAX_KEY];
    size_t n = rec_key(table, prefix, prefix_len, lk);
    if (n == 0)
        return STORAGE_EINVAL;
    size_t tlen = n - prefix_len; /* table name and its NUL */
    MDB_cursor *cur;
    int rc = mdb_cursor_open(v->txn, v->s->records, &cur);
    if (rc != 0)
        return lmdb_error("open cursor", rc);
    MDB_val k = {n, lk}, val;
    int ret = 0;
    for (rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
        if (!starts_with(k.mv_data, k.mv_size, lk, n))
            break;
        ret = cb(ctx, (const unsigned char *)k.mv_data + tlen, k.mv_size - tlen, val.mv_data,
                 val.mv_size);
        if (ret != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = lmdb_error("scan records", rc);
    return ret;
}
