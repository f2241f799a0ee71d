/* test_storage.c - unit tests for storage/ (the LMDB object store).
 *
 * Each test runs in a fresh temporary data directory. Listings are checked
 * against a brute-force reference implementation of S3's ListObjects rules
 * over the same key set, including keys longer than STORAGE_INLINE_KEY,
 * because the store's listing takes shortcuts (seeks past folders, sorts runs
 * of long keys) that only a reference can catch going wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "tests/unit/testutil.h"
#include "storage/storage.h"

typedef struct fixture {
    char dir[64];
    storage_t *s;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = xcalloc(1, sizeof *f);
    if (test_tmpdir(f->dir, sizeof f->dir, "storage") != 0) {
        free(f);
        return -1;
    }
    if (storage_open(&f->s, f->dir, NULL) != 0) {
        test_rm_dir(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    storage_close(f->s);
    test_rm_dir(f->dir);
    free(f);
    return 0;
}

/* Close the fixture's store and open it again with other options. The lock
 * file goes too: LMDB sizes the reader table only when it creates that file. */
static void reopen(fixture_t *f, size_t map_size, unsigned max_readers)
{
    storage_options_t o = {map_size, max_readers};
    storage_close(f->s);
    f->s = NULL;
    char *lock = xasprintf("%s/lock.mdb", f->dir);
    unlink(lock);
    free(lock);
    assert_int_equal(storage_open(&f->s, f->dir, &o), 0);
}

static void md5_hex(const void *p, size_t n, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(n ? p : "", n, md, &len, EVP_md5(), NULL), 1);
    util_hex(md, len, out);
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* ---- key sets and listing results ---- */

typedef struct key {
    char *p;
    size_t len;
} key_t_;

typedef struct keyset {
    key_t_ *v;
    size_t n, cap;
} keyset_t;

static void keyset_add(keyset_t *ks, const char *p, size_t len)
{
    for (size_t i = 0; i < ks->n; i++) {
        if (bytes_cmp(ks->v[i].p, ks->v[i].len, p, len) == 0)
            return;
    }
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? 2 * ks->cap : 64;
        ks->v = xrealloc(ks->v, ks->cap * sizeof *ks->v);
    }
    ks->v[ks->n].p = xmalloc(len ? len : 1);
    memcpy(ks->v[ks->n].p, p, len);
    ks->v[ks->n].len = len;
    ks->n++;
}

static void keyset_adds(keyset_t *ks, const char *s)
{
    keyset_add(ks, s, strlen(s));
}

static int key_cmp(const void *a, const void *b)
{
    const key_t_ *x = a, *y = b;
    return bytes_cmp(x->p, x->len, y->p, y->len);
}

static void keyset_sort(keyset_t *ks)
{
    qsort(ks->v, ks->n, sizeof *ks->v, key_cmp);
}

static void keyset_free(keyset_t *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        free(ks->v[i].p);
    free(ks->v);
    memset(ks, 0, sizeof *ks);
}

typedef struct entry {
    char *p;
    size_t len;
    int is_cp;
} entry_t;

typedef struct entries {
    entry_t *v;
    size_t n, cap;
    int bad; /* a callback saw an object whose body is not its own key */
} entries_t;

static void entries_add(entries_t *es, const char *p, size_t len, int is_cp)
{
    if (es->n == es->cap) {
        es->cap = es->cap ? 2 * es->cap : 64;
        es->v = xrealloc(es->v, es->cap * sizeof *es->v);
    }
    es->v[es->n].p = xmalloc(len ? len : 1);
    memcpy(es->v[es->n].p, p, len);
    es->v[es->n].len = len;
    es->v[es->n].is_cp = is_cp;
    es->n++;
}

static void entries_free(entries_t *es)
{
    for (size_t i = 0; i < es->n; i++)
        free(es->v[i].p);
    free(es->v);
    memset(es, 0, sizeof *es);
}

/* Objects loaded by load_keys have their own key as body. */
static int collect_cb(void *ctx, const storage_object_t *o, const char *cp, size_t cp_len)
{
    entries_t *es = ctx;
    if (o) {
        if (o->size != o->key_len || memcmp(o->body, o->key, o->key_len) != 0)
            es->bad = 1;
        entries_add(es, o->key, o->key_len, 0);
    } else {
        entries_add(es, cp, cp_len, 1);
    }
    return 0;
}

/* S3's listing rules, the slow and obvious way, over a sorted key set. */
static void ref_list(const keyset_t *ks, const storage_list_opts_t *o, entries_t *out,
                     int *truncated)
{
    size_t max = o->max ? o->max : 1000;
    const char *last = NULL;
    size_t last_len = 0;
    *truncated = 0;
    for (size_t i = 0; i < ks->n; i++) {
        const char *k = ks->v[i].p;
        size_t klen = ks->v[i].len;
        if (klen < o->prefix_len || (o->prefix_len && memcmp(k, o->prefix, o->prefix_len) != 0))
            continue;
        size_t elen = klen;
        int is_cp = 0;
        if (o->delimiter_len > 0) {
            const char *d =
                memmem(k + o->prefix_len, klen - o->prefix_len, o->delimiter, o->delimiter_len);
            if (d) {
                elen = (size_t)(d - k) + o->delimiter_len;
                is_cp = 1;
            }
        }
        if (last && bytes_cmp(last, last_len, k, elen) == 0)
            continue;
        if (o->after && bytes_cmp(k, elen, o->after, o->after_len) <= 0)
            continue;
        if (out->n == max) {
            *truncated = 1;
            return;
        }
        entries_add(out, k, elen, is_cp);
        last = k;
        last_len = elen;
    }
}

static void assert_entries_equal(const entries_t *a, const entries_t *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->v[i].len, b->v[i].len);
        assert_memory_equal(a->v[i].p, b->v[i].p, a->v[i].len);
        assert_int_equal(a->v[i].is_cp, b->v[i].is_cp);
    }
}

/* One storage_list call must match the reference exactly. */
static void check_list(storage_t *s, const char *bucket, const keyset_t *ks,
                       const storage_list_opts_t *o)
{
    storage_view_t *v;
    entries_t got = {0}, want = {0};
    int trunc = -1, want_trunc;
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_list(v, bucket, o, collect_cb, &got, &trunc), 0);
    storage_view_close(v);
    ref_list(ks, o, &want, &want_trunc);
    assert_false(got.bad);
    assert_entries_equal(&got, &want);
    assert_int_equal(trunc, want_trunc);
    entries_free(&got);
    entries_free(&want);
}

/* Page through a listing `max` entries at a time, resuming after the last
 * entry of each page; the pages joined must be the full listing, with no
 * duplicates or gaps. */
static void check_pages(storage_t *s, const char *bucket, const keyset_t *ks,
                        const storage_list_opts_t *base, size_t max)
{
    storage_list_opts_t o = *base;
    storage_list_opts_t all = *base;
    entries_t got = {0}, want = {0};
    char *after = NULL;
    int trunc = 1, want_trunc, pages = 0;
    all.max = 100000;
    ref_list(ks, &all, &want, &want_trunc);
    o.max = max;
    while (trunc) {
        storage_view_t *v;
        size_t before = got.n;
        pages++;
        assert_true(pages <= (int)ks->n + 2);
        assert_int_equal(storage_view_open(s, &v), 0);
        assert_int_equal(storage_list(v, bucket, &o, collect_cb, &got, &trunc), 0);
        storage_view_close(v);
        assert_true(got.n - before <= max);
        if (trunc) {
            assert_int_equal(got.n - before, max);
            free(after);
            after = xmalloc(got.v[got.n - 1].len + 1);
            memcpy(after, got.v[got.n - 1].p, got.v[got.n - 1].len);
            o.after = after;
            o.after_len = got.v[got.n - 1].len;
        }
    }
    assert_false(got.bad);
    assert_entries_equal(&got, &want);
    free(after);
    entries_free(&got);
    entries_free(&want);
}

/* Replace bucket's content with ks (each body is the key) in one deploy:
 * one transaction instead of one fsync per key. */
static void load_keys(storage_t *s, const char *bucket, const keyset_t *ks)
{
    storage_deploy_t *d;
    assert_int_equal(storage_deploy_begin(s, bucket, &d), 0);
    for (size_t i = 0; i < ks->n; i++) {
        assert_int_equal(
            storage_deploy_put(d, ks->v[i].p, ks->v[i].len, ks->v[i].p, ks->v[i].len, NULL), 0);
    }
    assert_int_equal(storage_deploy_commit(d, NULL), 0);
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- tests ---- */

static void test_strerror(void **state)
{
    (void)state;
    for (int e = 0; e >= STORAGE_EREADERS; e--) {
        const char *m = storage_strerror(e);
        assert_non_null(m);
        assert_string_not_equal(m, storage_strerror(-1000));
    }
    assert_string_equal(storage_strerror(STORAGE_ENOBUCKET), "no such bucket");
}

static void test_open_errors(void **state)
{
    storage_t *s = (storage_t *)1;
    storage_options_t o = {0, 1000000};
    (void)state;
    assert_int_equal(storage_open(&s, "/nonexistent/cloudlet/dir", NULL), STORAGE_EIO);
    assert_null(s);
    assert_int_equal(storage_open(&s, "/tmp", &o), STORAGE_EINVAL);
    storage_close(NULL);
    storage_view_close(NULL);
    storage_deploy_abort(NULL);
}

static void test_bucket_names(void **state)
{
    static const char *good[] = {
        "abc",
        "site",
        "my-bucket.example",
        "a1b",
        "123",
        "1.2.3",
        "1.2.3.4.5",
        "1234.2.3.4",
        "a23456789012345678901234567890123456789012345678901234567890123",
    };
    static const char *bad[] = {
        "",        "ab",
        "ABC",     "a_b",
        "-ab",     "ab-",
        ".ab",     "ab.",
        "a..b",    "192.168.5.4",
        "1.2.3.4", "a b",
        "abc/",    "a234567890123456789012345678901234567890123456789012345678901234",
    };
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (!storage_bucket_name_valid(good[i]))
            fail_msg("should be valid: %s", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (storage_bucket_name_valid(bad[i]))
            fail_msg("should be invalid: %s", bad[i]);
    }
    assert_false(storage_bucket_name_valid(NULL));
}

typedef struct names {
    char v[8][64];
    uint32_t version[8];
    int n;
    int stop_at;
} names_t;

static int names_cb(void *ctx, const storage_bucket_info_t *b)
{
    names_t *ns = ctx;
    if (ns->n == ns->stop_at)
        return 7;
    snprintf(ns->v[ns->n], sizeof ns->v[ns->n], "%s", b->name);
    ns->version[ns->n] = b->version;
    ns->n++;
    return 0;
}

static void test_buckets(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    storage_view_t *v;
    storage_bucket_info_t info;
    names_t ns = {.stop_at = -1};
    int64_t now = util_now_ms();

    assert_int_equal(storage_bucket_create(s, "zeta"), 0);
    assert_int_equal(storage_bucket_create(s, "alpha"), 0);
    assert_int_equal(storage_bucket_create(s, "mid.dle"), 0);
    assert_int_equal(storage_bucket_create(s, "alpha"), STORAGE_EEXIST);
    assert_int_equal(storage_bucket_create(s, "Bad"), STORAGE_EINVAL);
    assert_int_equal(storage_bucket_create(s, NULL), STORAGE_EINVAL);

    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_bucket_list(v, names_cb, &ns), 0);
    assert_int_equal(ns.n, 3);
    assert_string_equal(ns.v[0], "alpha");
    assert_string_equal(ns.v[1], "mid.dle");
    assert_string_equal(ns.v[2], "zeta");
    assert_int_equal(ns.version[0], 0);
    memset(&ns, 0, sizeof ns);
    ns.stop_at = 1;
    assert_int_equal(storage_bucket_list(v, names_cb, &ns), 7);
    assert_int_equal(ns.n, 1);
    assert_int_equal(storage_bucket_get(v, "alpha", &info), 0);
    assert_string_equal(info.name, "alpha");
    assert_int_equal(info.version, 0);
    assert_true(info.created_ms >= now - 1000 && info.created_ms <= util_now_ms() + 1000);
    assert_int_equal(storage_bucket_get(v, "nope", &info), STORAGE_ENOBUCKET);
    assert_int_equal(storage_bucket_get(v, "NOPE", &info), STORAGE_ENOBUCKET);
    storage_view_close(v);

    assert_int_equal(storage_put(s, "alpha", "k", 1, "x", 1, NULL, 0, NULL), 0);
    assert_int_equal(storage_bucket_delete(s, "alpha"), STORAGE_ENOTEMPTY);
    assert_int_equal(storage_bucket_delete(s, "nope"), STORAGE_ENOBUCKET);
    assert_int_equal(storage_bucket_delete(s, "Bad!"), STORAGE_ENOBUCKET);
    assert_int_equal(storage_delete(s, "alpha", "k", 1), 0);
    assert_int_equal(storage_bucket_delete(s, "alpha"), 0);
    assert_int_equal(storage_bucket_delete(s, "zeta"), 0);
    assert_int_equal(storage_bucket_delete(s, "zeta"), STORAGE_ENOBUCKET);

    memset(&ns, 0, sizeof ns);
    ns.stop_at = -1;
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_bucket_list(v, names_cb, &ns), 0);
    assert_int_equal(ns.n, 1);
    assert_string_equal(ns.v[0], "mid.dle");
    storage_view_close(v);

    /* A re-created bucket starts empty even though the name was used. */
    assert_int_equal(storage_bucket_create(s, "alpha"), 0);
    assert_int_equal(storage_view_open(s, &v), 0);
    storage_object_t o;
    assert_int_equal(storage_get(v, "alpha", "k", 1, &o), STORAGE_ENOTFOUND);
    storage_view_close(v);
}

static void test_bucket_delete_drops_previous(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    storage_deploy_t *d;
    storage_view_t *v;
    storage_object_t o;

    /* Version 1 has a file; version 2 is empty, so the bucket may be
     * deleted even though its kept previous version is not. */
    assert_int_equal(storage_deploy_begin(s, "site", &d), 0);
    assert_int_equal(storage_deploy_put(d, "index.html", 10, "v1", 2, NULL), 0);
    assert_int_equal(storage_deploy_commit(d, NULL), 0);
    assert_int_equal(storage_deploy_begin(s, "site", &d), 0);
    assert_int_equal(storage_deploy_commit(d, NULL), 0);
    assert_int_equal(storage_bucket_delete(s, "site"), 0);

    assert_int_equal(storage_bucket_create(s, "site"), 0);
    assert_int_equal(storage_bucket_rollback(s, "site", NULL), STORAGE_ENOVERSION);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "site", "index.html", 10, &o), STORAGE_ENOTFOUND);
    storage_view_close(v);
}

static void test_put_get_delete(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    storage_view_t *v;
    storage_object_t o;
    char etag[STORAGE_ETAG_MAX];
    static const char hdrs[] = "content-type\0text/plain\0x-amz-meta-color\0blue\0";
    storage_meta_t meta = {hdrs, sizeof hdrs - 1, NULL, 0};
    int64_t before = util_now_ms();

    assert_int_equal(storage_bucket_create(s, "bkt"), 0);
    assert_int_equal(storage_put(s, "bkt", "hello.txt", 9, "hello world", 11, &meta, 0, etag), 0);
    assert_string_equal(etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");

    assert_int_equal(storage_view_open(s, &v), 0);
    memset(&o, 0xa5, sizeof o);
    assert_int_equal(storage_get(v, "bkt", "hello.txt", 9, &o), 0);
    assert_int_equal(o.key_len, 9);
    assert_memory_equal(o.key, "hello.txt", 9);
    assert_int_equal(o.size, 11);
    assert_memory_equal(o.body, "hello world", 11);
    assert_string_equal(o.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_true(o.mtime_ms >= before && o.mtime_ms <= util_now_ms());
    assert_int_equal(o.headers_len, sizeof hdrs - 1);
    assert_memory_equal(o.headers, hdrs, sizeof hdrs - 1);
    assert_string_equal(storage_header(o.headers, o.headers_len, "content-type"), "text/plain");
    assert_string_equal(storage_header(o.headers, o.headers_len, "x-amz-meta-color"), "blue");
    assert_null(storage_header(o.headers, o.headers_len, "text/plain"));
    assert_null(storage_header(o.headers, o.headers_len, "cache-control"));

    assert_int_equal(storage_get(v, "bkt", "hello", 5, &o), STORAGE_ENOTFOUND);
    assert_int_equal(storage_get(v, "nobucket", "hello.txt", 9, &o), STORAGE_ENOBUCKET);
    assert_int_equal(storage_get(v, "BKT", "hello.txt", 9, &o), STORAGE_ENOBUCKET);
    assert_int_equal(storage_get(v, "", "hello.txt", 9, &o), STORAGE_ENOBUCKET);
    assert_int_equal(storage_get(v, "bkt", "", 0, &o), STORAGE_EKEYTOOLONG);
    storage_view_close(v);

    /* Overwrite with a given ETag and mtime, and an empty body. */
    storage_meta_t m2 = {NULL, 0, "custom-etag-1", 1234567};
    assert_int_equal(storage_put(s, "bkt", "hello.txt", 9, NULL, 0, &m2, 0, etag), 0);
    assert_string_equal(etag, "custom-etag-1");
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "bkt", "hello.txt", 9, &o), 0);
    assert_int_equal(o.size, 0);
    assert_int_equal(o.headers_len, 0);
    assert_string_equal(o.etag, "custom-etag-1");
    assert_int_equal(o.mtime_ms, 1234567);
    storage_view_close(v);

    /* MD5 of the empty body, and keys with NUL and 0xff bytes. */
    assert_int_equal(storage_put(s, "bkt", "a\0\xff", 3, "", 0, NULL, 0, etag), 0);
    assert_string_equal(etag, "d41d8cd98f00b204e9800998ecf8427e");

    /* Key length limits. */
    char key[STORAGE_MAX_KEY + 1];
    memset(key, 'k', sizeof key);
    assert_int_equal(storage_put(s, "bkt", key, 0, "x", 1, NULL, 0, NULL), STORAGE_EKEYTOOLONG);
    assert_int_equal(storage_put(s, "bkt", NULL, 3, "x", 1, NULL, 0, NULL), STORAGE_EKEYTOOLONG);
    assert_int_equal(storage_put(s, "bkt", key, STORAGE_MAX_KEY + 1, "x", 1, NULL, 0, NULL),
                     STORAGE_EKEYTOOLONG);
    assert_int_equal(storage_put(s, "bkt", key, STORAGE_MAX_KEY, "max", 3, NULL, 0, NULL), 0);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "bkt", key, STORAGE_MAX_KEY, &o), 0);
    assert_int_equal(o.key_len, STORAGE_MAX_KEY);
    assert_memory_equal(o.key, key, STORAGE_MAX_KEY);
    assert_memory_equal(o.body, "max", 3);
    assert_int_equal(storage_get(v, "bkt", key, STORAGE_MAX_KEY + 1, &o), STORAGE_EKEYTOOLONG);
    assert_int_equal(storage_get(v, "bkt", key, STORAGE_MAX_KEY - 1, &o), STORAGE_ENOTFOUND);
    storage_view_close(v);
    assert_int_equal(storage_delete(s, "bkt", key, STORAGE_MAX_KEY + 1), STORAGE_EKEYTOOLONG);
    assert_int_equal(storage_delete(s, "bkt", key, STORAGE_MAX_KEY), 0);
    assert_int_equal(storage_delete(s, "bkt", key, STORAGE_MAX_KEY), STORAGE_ENOTFOUND);

    /* Bad buckets, bad metadata. */
    assert_int_equal(storage_put(s, "nobucket", "k", 1, "x", 1, NULL, 0, NULL), STORAGE_ENOBUCKET);
    assert_int_equal(storage_put(s, "Bad_Name", "k", 1, "x", 1, NULL, 0, NULL), STORAGE_ENOBUCKET);
    assert_int_equal(storage_put(s, NULL, "k", 1, "x", 1, NULL, 0, NULL), STORAGE_ENOBUCKET);
    static const char odd[] = "content-type\0text/plain\0x-orphan\0";
    static const char unterminated[] = "content-type\0text/plain";
    static const char empty_name[] = "\0value\0";
    static const char upper[] = "Content-Type\0text/plain\0";
    const char *bad_headers[] = {odd, unterminated, empty_name, upper};
    size_t bad_lens[] = {sizeof odd - 1, sizeof unterminated - 1, sizeof empty_name - 1,
                         sizeof upper - 1};
    for (size_t i = 0; i < 4; i++) {
        storage_meta_t bm = {bad_headers[i], bad_lens[i], NULL, 0};
        assert_int_equal(storage_put(s, "bkt", "k", 1, "x", 1, &bm, 0, NULL), STORAGE_EINVAL);
    }
    char *big = xcalloc(1, 9000);
    memcpy(big, "x-amz-meta-big", 14);
    memset(big + 15, 'v', 9000 - 16);
    storage_meta_t bigm = {big, 9000, NULL, 0};
    assert_int_equal(storage_put(s, "bkt", "k", 1, "x", 1, &bigm, 0, NULL), STORAGE_EINVAL);
    free(big);
    char long_etag[STORAGE_ETAG_MAX + 1];
    memset(long_etag, 'e', STORAGE_ETAG_MAX);
    long_etag[STORAGE_ETAG_MAX] = '\0';
    storage_meta_t em = {NULL, 0, long_etag, 0};
    assert_int_equal(storage_put(s, "bkt", "k", 1, "x", 1, &em, 0, NULL), STORAGE_EINVAL);
    em.etag = "";
    assert_int_equal(storage_put(s, "bkt", "k", 1, "x", 1, &em, 0, NULL), STORAGE_EINVAL);
    assert_int_equal(storage_put(s, "bkt", "k", 1, NULL, 5, NULL, 0, NULL), STORAGE_EINVAL);

    /* Delete. */
    assert_int_equal(storage_delete(s, "bkt", "hello.txt", 9), 0);
    assert_int_equal(storage_delete(s, "bkt", "hello.txt", 9), STORAGE_ENOTFOUND);
    assert_int_equal(storage_delete(s, "nobucket", "hello.txt", 9), STORAGE_ENOBUCKET);
    assert_int_equal(storage_delete(s, "bkt", "", 0), STORAGE_EKEYTOOLONG);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "bkt", "hello.txt", 9, &o), STORAGE_ENOTFOUND);
    assert_int_equal(storage_get(v, "bkt", "a\0\xff", 3, &o), 0);
    storage_view_close(v);
}

static void test_header_lookup(void **state)
{
    static const char h[] = "a\0"
                            "1\0"
                            "bb\0"
                            "\0"
                            "c\0"
                            "3\0";
    (void)state;
    assert_string_equal(storage_header(h, sizeof h - 1, "a"), "1");
    assert_string_equal(storage_header(h, sizeof h - 1, "bb"), "");
    assert_string_equal(storage_header(h, sizeof h - 1, "c"), "3");
    assert_null(storage_header(h, sizeof h - 1, "b"));
    assert_null(storage_header(h, sizeof h - 1, "1"));
    assert_null(storage_header(h, 0, "a"));
    assert_null(storage_header(NULL, 0, "a"));
    /* Truncated lists never read past their end. */
    assert_null(storage_header(h, 2, "a"));
    assert_null(storage_header(h, 3, "a"));
    assert_string_equal(storage_header(h, 4, "a"), "1");
}

static void test_put_if_absent(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    storage_view_t *v;
    storage_object_t o;
    char key[700];
    memset(key, 'q', sizeof key);

    assert_int_equal(storage_bucket_create(s, "bkt"), 0);
    assert_int_equal(storage_put(s, "bkt", "k", 1, "one", 3, NULL, STORAGE_PUT_IF_ABSENT, NULL), 0);
    assert_int_equal(storage_put(s, "bkt", "k", 1, "two", 3, NULL, STORAGE_PUT_IF_ABSENT, NULL),
                     STORAGE_EPRECONDITION);
    assert_int_equal(
        storage_put(s, "bkt", key, sizeof key, "one", 3, NULL, STORAGE_PUT_IF_ABSENT, NULL), 0);
    assert_int_equal(
        storage_put(s, "bkt", key, sizeof key, "two", 3, NULL, STORAGE_PUT_IF_ABSENT, NULL),
        STORAGE_EPRECONDITION);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "bkt", "k", 1, &o), 0);
    assert_memory_equal(o.body, "one", 3);
    assert_int_equal(storage_get(v, "bkt", key, sizeof key, &o), 0);
    assert_memory_equal(o.body, "one", 3);
    storage_view_close(v);
    assert_int_equal(storage_put(s, "bkt", "k", 1, "two", 3, NULL, 0, NULL), 0);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "bkt", "k", 1, &o), 0);
    assert_memory_equal(o.body, "two", 3);
    storage_view_close(v);
}

static void test_list_basic(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    keyset_t ks = {0};
    static const char *keys[] = {
        "a.txt",
        "b/1",
        "b/2",
        "b/c/3",
        "b/c/4",
        "b0",
        "b/",
        "c/d/e",
        "c/x",
        "d",
        "d/",
        "d//",
        "photos/2006/jan/1.jpg",
        "photos/2006/feb/2.jpg",
        "photos/2007/x.jpg",
        "photos/index.html",
        "z\xff/a",
        "z\xff\xff",
        "z\xff/b",
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        keyset_adds(&ks, keys[i]);
    keyset_sort(&ks);
    load_keys(s, "bkt", &ks);

    storage_list_opts_t o = {0};
    check_list(s, "bkt", &ks, &o);
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.delimiter = "/", .delimiter_len = 1});
    check_list(s, "bkt", &ks,
               &(storage_list_opts_t){
                   .prefix = "photos/", .prefix_len = 7, .delimiter = "/", .delimiter_len = 1});
    check_list(
        s, "bkt", &ks,
        &(storage_list_opts_t){
            .prefix = "photos/2006/", .prefix_len = 12, .delimiter = "/", .delimiter_len = 1});
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.prefix = "b", .prefix_len = 1});
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.prefix = "nothing", .prefix_len = 7});
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.delimiter = "0", .delimiter_len = 1});
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.delimiter = "\xff", .delimiter_len = 1});
    check_list(s, "bkt", &ks,
               &(storage_list_opts_t){.delimiter = "/2", .delimiter_len = 2, .max = 3});
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.after = "c", .after_len = 1});
    check_list(s, "bkt", &ks,
               &(storage_list_opts_t){
                   .delimiter = "/", .delimiter_len = 1, .after = "b/", .after_len = 2});
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.max = 5});

    /* Explicit spot checks, in case reference and store share a mistake. */
    storage_view_t *v;
    entries_t es = {0};
    int trunc = -1;
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_list(v, "bkt",
                                  &(storage_list_opts_t){.prefix = "photos/",
                                                         .prefix_len = 7,
                                                         .delimiter = "/",
                                                         .delimiter_len = 1},
                                  collect_cb, &es, &trunc),
                     0);
    assert_int_equal(es.n, 3);
    assert_int_equal(trunc, 0);
    assert_true(es.v[0].is_cp && es.v[0].len == 12 && !memcmp(es.v[0].p, "photos/2006/", 12));
    assert_true(es.v[1].is_cp && es.v[1].len == 12 && !memcmp(es.v[1].p, "photos/2007/", 12));
    assert_true(!es.v[2].is_cp && es.v[2].len == 17);
    entries_free(&es);
    assert_int_equal(storage_list(v, "nobucket", NULL, collect_cb, &es, &trunc), STORAGE_ENOBUCKET);
    assert_int_equal(storage_list(v, "bkt", NULL, collect_cb, &es, NULL), 0);
    assert_int_equal(es.n, ks.n);
    entries_free(&es);
    storage_view_close(v);

    for (size_t max = 1; max <= 7; max++) {
        check_pages(s, "bkt", &ks, &o, max);
        check_pages(s, "bkt", &ks, &(storage_list_opts_t){.delimiter = "/", .delimiter_len = 1},
                    max);
        check_pages(s, "bkt", &ks,
                    &(storage_list_opts_t){
                        .prefix = "photos/", .prefix_len = 7, .delimiter = "/", .delimiter_len = 1},
                    max);
    }
    keyset_free(&ks);
}

static int stop_cb(void *ctx, const storage_object_t *o, const char *cp, size_t cp_len)
{
    int *n = ctx;
    (*n)++;
    return *n == 3 ? 42 : 0;
}

static void test_list_stop_and_empty(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    storage_view_t *v;
    int n = 0, trunc = -1;
    keyset_t ks = {0};
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        keyset_adds(&ks, k);
    }
    assert_int_equal(storage_bucket_create(s, "empty"), 0);
    load_keys(s, "bkt", &ks);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_list(v, "bkt", NULL, stop_cb, &n, &trunc), 42);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(storage_list(v, "empty", NULL, stop_cb, &n, &trunc), 0);
    assert_int_equal(n, 0);
    assert_int_equal(trunc, 0);
    storage_view_close(v);
    /* Other buckets' namespaces never leak into a listing. */
    keyset_t none = {0};
    check_list(s, "empty", &none, &(storage_list_opts_t){0});
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.prefix = "k", .prefix_len = 1});
    check_list(
        s, "bkt", &ks,
        &(storage_list_opts_t){.prefix = "k5", .prefix_len = 2, .after = "k7", .after_len = 2});
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.after = "zzz", .after_len = 3});
    /* A prefix no key can have. */
    char longp[STORAGE_MAX_KEY + 10];
    memset(longp, 'k', sizeof longp);
    check_list(s, "bkt", &ks, &(storage_list_opts_t){.prefix = longp, .prefix_len = sizeof longp});
    keyset_free(&ks);
}

/* A big folder listed with a delimiter must be one entry, found by seeking
 * past the folder. Only correctness is checked here; the seek keeps it fast. */
static void test_list_big_folder(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    keyset_t ks = {0};
    char k[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "assets/%05d.js", i);
        keyset_adds(&ks, k);
    }
    for (int i = 0; i < 30; i++) {
        snprintf(k, sizeof k, "dir%02d/sub/file", i);
        keyset_adds(&ks, k);
        snprintf(k, sizeof k, "dir%02d.txt", i);
        keyset_adds(&ks, k);
    }
    keyset_adds(&ks, "index.html");
    keyset_sort(&ks);
    load_keys(s, "bkt", &ks);
    storage_list_opts_t d = {.delimiter = "/", .delimiter_len = 1};
    check_list(s, "bkt", &ks, &d);
    check_pages(s, "bkt", &ks, &d, 1);
    check_pages(s, "bkt", &ks, &d, 4);
    check_pages(s, "bkt", &ks, &(storage_list_opts_t){.prefix = "assets/", .prefix_len = 7}, 997);
    keyset_free(&ks);
}

/* Long keys: several over STORAGE_INLINE_KEY share one 480-byte prefix, with
 * short keys right around that prefix. */
static void build_long_keys(keyset_t *ks, char *p480)
{
    char buf[STORAGE_MAX_KEY + 1];
    memcpy(p480, "long/", 5);
    for (int i = 5; i < STORAGE_INLINE_KEY; i++)
        p480[i] = (char)('a' + i % 26);
    p480[200] = '/';

    keyset_add(ks, p480, STORAGE_INLINE_KEY);     /* exactly the prefix */
    keyset_add(ks, p480, STORAGE_INLINE_KEY - 1); /* one byte shorter */
    keyset_add(ks, p480, 201);                    /* the folder itself */
    memcpy(buf, p480, STORAGE_INLINE_KEY);
    buf[STORAGE_INLINE_KEY - 1]++;
    keyset_add(ks, buf, STORAGE_INLINE_KEY); /* just after the prefix */
    memcpy(buf + STORAGE_INLINE_KEY, "zz", 2);
    keyset_add(ks, buf, STORAGE_INLINE_KEY + 2); /* a long key of the next run */
    buf[STORAGE_INLINE_KEY - 1] -= 2;
    keyset_add(ks, buf, STORAGE_INLINE_KEY + 2); /* a long key of the run before */
    memcpy(buf, p480, STORAGE_INLINE_KEY);
    static const char *tails[] = {"a",    "b",  "/x", "/y/z", "\xff", "\xff\xff",
                                  "\x01", "aa", "ab", "b/c",  "/"};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        size_t n = strlen(tails[i]);
        memcpy(buf + STORAGE_INLINE_KEY, tails[i], n);
        keyset_add(ks, buf, STORAGE_INLINE_KEY + n);
    }
    buf[STORAGE_INLINE_KEY] = '\0';
    keyset_add(ks, buf, STORAGE_INLINE_KEY + 1);
    for (int i = STORAGE_INLINE_KEY; i < STORAGE_MAX_KEY; i++)
        buf[i] = (char)('a' + i % 3);
    keyset_add(ks, buf, STORAGE_MAX_KEY);
    keyset_add(ks, buf, STORAGE_MAX_KEY - 1);
    keyset_add(ks, buf, 700);
    keyset_adds(ks, "a");
    keyset_adds(ks, "long");
    keyset_adds(ks, "long/");
    keyset_adds(ks, "zzz");
    keyset_sort(ks);
}

static void test_long_keys(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    keyset_t ks = {0};
    char p480[STORAGE_INLINE_KEY];
    storage_view_t *v;
    storage_object_t o;

    build_long_keys(&ks, p480);
    assert_int_equal(storage_bucket_create(s, "bkt"), 0);
    /* Through storage_put, in an order unlike the sorted one. */
    for (size_t i = 0; i < ks.n; i++) {
        size_t j = (i * 7) % ks.n;
        assert_int_equal(
            storage_put(s, "bkt", ks.v[j].p, ks.v[j].len, ks.v[j].p, ks.v[j].len, NULL, 0, NULL),
            0);
    }
    check_list(s, "bkt", &ks, &(storage_list_opts_t){0});
    assert_int_equal(storage_view_open(s, &v), 0);
    for (size_t i = 0; i < ks.n; i++) {
        assert_int_equal(storage_get(v, "bkt", ks.v[i].p, ks.v[i].len, &o), 0);
        assert_int_equal(o.key_len, ks.v[i].len);
        assert_memory_equal(o.key, ks.v[i].p, ks.v[i].len);
        assert_int_equal(o.size, ks.v[i].len);
        assert_memory_equal(o.body, ks.v[i].p, ks.v[i].len);
    }
    /* A long key that was never stored, sharing the prefix. */
    char miss[600];
    memcpy(miss, p480, STORAGE_INLINE_KEY);
    memset(miss + STORAGE_INLINE_KEY, 'm', sizeof miss - STORAGE_INLINE_KEY);
    assert_int_equal(storage_get(v, "bkt", miss, sizeof miss, &o), STORAGE_ENOTFOUND);
    storage_view_close(v);

    const char *delims[] = {NULL, "/", "a", "\xff", "z"};
    size_t plens[] = {
        0, 5, 201, 300, STORAGE_INLINE_KEY - 1, STORAGE_INLINE_KEY, STORAGE_INLINE_KEY + 1};
    for (size_t di = 0; di < sizeof delims / sizeof *delims; di++) {
        for (size_t pi = 0; pi < sizeof plens / sizeof *plens; pi++) {
            char pre[STORAGE_INLINE_KEY + 1];
            memcpy(pre, p480, STORAGE_INLINE_KEY);
            pre[STORAGE_INLINE_KEY] = 'a';
            storage_list_opts_t lo = {.prefix = pre,
                                      .prefix_len = plens[pi],
                                      .delimiter = delims[di],
                                      .delimiter_len = delims[di] ? strlen(delims[di]) : 0};
            check_list(s, "bkt", &ks, &lo);
            check_pages(s, "bkt", &ks, &lo, 1);
            check_pages(s, "bkt", &ks, &lo, 3);
        }
    }
    /* Resuming after a long key, and after a string between long keys. */
    for (size_t i = 0; i < ks.n; i++) {
        storage_list_opts_t lo = {.after = ks.v[i].p, .after_len = ks.v[i].len, .max = 4};
        check_list(s, "bkt", &ks, &lo);
        lo.after_len = ks.v[i].len > 1 ? ks.v[i].len - 1 : 1;
        check_list(s, "bkt", &ks, &lo);
    }

    for (size_t i = 0; i < ks.n; i++)
        assert_int_equal(storage_delete(s, "bkt", ks.v[i].p, ks.v[i].len), 0);
    keyset_t none = {0};
    check_list(s, "bkt", &none, &(storage_list_opts_t){0});
    assert_int_equal(storage_bucket_delete(s, "bkt"), 0);
    keyset_free(&ks);
}

/* Random key sets over a small alphabet (so that prefixes and delimiters
 * collide often), long keys included, against the reference listing. */
static void test_list_fuzz(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    static const char alpha[] = {'a', 'b', '/', '\xff', '\0', '-'};
    char p480[STORAGE_INLINE_KEY];
    for (int i = 0; i < STORAGE_INLINE_KEY; i++)
        p480[i] = alpha[i % 3];

    for (int round = 0; round < 12; round++) {
        keyset_t ks = {0};
        char buf[STORAGE_MAX_KEY];
        int nkeys = 40 + (int)(rnd() % 200);
        for (int i = 0; i < nkeys; i++) {
            size_t len, off = 0;
            if (rnd() % 4 == 0) {
                /* Near or past the inline length, often sharing p480. */
                off = STORAGE_INLINE_KEY - 3 + rnd() % 4;
                memcpy(buf, p480, off);
                len = off + rnd() % 6;
            } else {
                len = 1 + rnd() % 6;
            }
            for (size_t j = off; j < len; j++)
                buf[j] = alpha[rnd() % sizeof alpha];
            if (len == 0)
                continue;
            keyset_add(&ks, buf, len);
        }
        keyset_sort(&ks);
        load_keys(s, "fuzz", &ks);

        for (int q = 0; q < 40; q++) {
            char pre[STORAGE_INLINE_KEY + 8], aft[STORAGE_INLINE_KEY + 8], del[3];
            storage_list_opts_t lo = {0};
            const key_t_ *src = &ks.v[rnd() % ks.n];
            size_t plen = rnd() % 3 ? rnd() % 3 : rnd() % (src->len + 1);
            if (plen > sizeof pre)
                plen = sizeof pre;
            if (plen > src->len)
                plen = src->len;
            memcpy(pre, src->p, plen);
            lo.prefix = pre;
            lo.prefix_len = plen;
            if (rnd() % 3) {
                size_t dl = 1 + rnd() % 2;
                for (size_t j = 0; j < dl; j++)
                    del[j] = alpha[rnd() % sizeof alpha];
                lo.delimiter = del;
                lo.delimiter_len = dl;
            }
            if (rnd() % 2) {
                const key_t_ *a = &ks.v[rnd() % ks.n];
                size_t alen = a->len > 1 && rnd() % 2 ? a->len - rnd() % 2 : a->len;
                if (alen > sizeof aft)
                    alen = sizeof aft;
                memcpy(aft, a->p, alen);
                lo.after = aft;
                lo.after_len = alen;
            }
            lo.max = rnd() % 4 ? 0 : 1 + rnd() % 5;
            check_list(s, "fuzz", &ks, &lo);
            if (q % 4 == 0)
                check_pages(s, "fuzz", &ks, &lo, 1 + rnd() % 4);
        }
        keyset_free(&ks);
    }
}

static void test_large_object(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    size_t n = 50u << 20;
    unsigned char *body = xmalloc(n);
    char etag[STORAGE_ETAG_MAX], want[33];
    storage_view_t *v;
    storage_object_t o;

    for (size_t i = 0; i < n; i++)
        body[i] = (unsigned char)(i * 2654435761u >> 13);
    md5_hex(body, n, want);
    assert_int_equal(storage_bucket_create(s, "big"), 0);
    assert_int_equal(storage_put(s, "big", "blob.bin", 8, body, n, NULL, 0, etag), 0);
    assert_string_equal(etag, want);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "big", "blob.bin", 8, &o), 0);
    assert_int_equal(o.size, n);
    assert_string_equal(o.etag, want);
    assert_ptr_not_equal(o.body, body);
    assert_memory_equal(o.body, body, n);
    storage_view_close(v);
    assert_int_equal(storage_delete(s, "big", "blob.bin", 8), 0);
    free(body);
}

static void fill_obj(unsigned char *p, size_t n, int i)
{
    for (size_t j = 0; j < n; j++)
        p[j] = (unsigned char)(i * 31 + j * 7);
}

static void check_objs(storage_t *s, int count, size_t size)
{
    storage_view_t *v;
    storage_object_t o;
    unsigned char *want = xmalloc(size);
    char key[32];
    assert_int_equal(storage_view_open(s, &v), 0);
    for (int i = 0; i < count; i++) {
        snprintf(key, sizeof key, "obj-%04d", i);
        fill_obj(want, size, i);
        assert_int_equal(storage_get(v, "full", key, strlen(key), &o), 0);
        assert_int_equal(o.size, size);
        assert_memory_equal(o.body, want, size);
    }
    storage_view_close(v);
    free(want);
}

static void test_map_full(void **state)
{
    fixture_t *f = *state;
    size_t size = 64 << 10;
    unsigned char *body = xmalloc(size);
    char key[32];
    int count = 0, rc = 0;

    reopen(f, 2 << 20, 0);
    assert_int_equal(storage_bucket_create(f->s, "full"), 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "obj-%04d", i);
        fill_obj(body, size, i);
        rc = storage_put(f->s, "full", key, strlen(key), body, size, NULL, 0, NULL);
        if (rc != 0)
            break;
        count++;
    }
    assert_int_equal(rc, STORAGE_EFULL);
    assert_true(count > 5);
    check_objs(f->s, count, size);

    /* A too-big object fails cleanly too, and so does a deploy. */
    unsigned char *huge = xcalloc(1, 4 << 20);
    assert_int_equal(storage_put(f->s, "full", "huge", 4, huge, 4 << 20, NULL, 0, NULL),
                     STORAGE_EFULL);
    storage_deploy_t *d;
    rc = storage_deploy_begin(f->s, "newsite", &d);
    if (rc == 0) {
        for (int i = 0; i < 100 && rc == 0; i++) {
            snprintf(key, sizeof key, "f%d", i);
            rc = storage_deploy_put(d, key, strlen(key), body, size, NULL);
        }
        assert_int_equal(rc, STORAGE_EFULL);
        assert_int_equal(storage_deploy_put(d, "x", 1, "x", 1, NULL), STORAGE_EFULL);
        assert_int_equal(storage_deploy_commit(d, NULL), STORAGE_EFULL);
    } else {
        assert_int_equal(rc, STORAGE_EFULL);
    }
    storage_view_t *v;
    storage_bucket_info_t info;
    assert_int_equal(storage_view_open(f->s, &v), 0);
    assert_int_equal(storage_bucket_get(v, "newsite", &info), STORAGE_ENOBUCKET);
    storage_view_close(v);
    free(huge);
    check_objs(f->s, count, size);

    reopen(f, 2 << 20, 0);
    check_objs(f->s, count, size);
    for (int i = 0; i < count; i++) {
        snprintf(key, sizeof key, "obj-%04d", i);
        assert_int_equal(storage_delete(f->s, "full", key, strlen(key)), 0);
    }
    /* The space is reusable. */
    fill_obj(body, size, 0);
    assert_int_equal(storage_put(f->s, "full", "obj-0000", 8, body, size, NULL, 0, NULL), 0);
    check_objs(f->s, 1, size);
    free(body);
}

/* ---- concurrency ---- */

#define CONC_KEYS 4
#define CONC_VERSIONS 150

typedef struct conc {
    storage_t *s;
    atomic_int done;
    atomic_long reads;
    atomic_long errors;
    atomic_int write_rc;
} conc_t;

static size_t conc_size(long ver)
{
    return 1000 + (size_t)(ver % 37) * 211;
}

/* Every body is one byte repeated, derived from the version number in the
 * object's own header: a torn read would show as a mismatch. */
static void *conc_writer(void *arg)
{
    conc_t *c = arg;
    unsigned char *body = xmalloc(conc_size(36));
    for (long ver = 1; ver <= CONC_VERSIONS; ver++) {
        for (int k = 0; k < CONC_KEYS; k++) {
            char key[16], hdr[64];
            snprintf(key, sizeof key, "k%d", k);
            int hl = snprintf(hdr, sizeof hdr, "x-amz-meta-v%c%ld%c", '\0', ver, '\0');
            storage_meta_t m = {hdr, (size_t)hl, NULL, 0};
            memset(body, (int)(ver & 0xff), conc_size(ver));
            int rc = storage_put(c->s, "bkt", key, strlen(key), body, conc_size(ver), &m, 0, NULL);
            if (rc != 0) {
                atomic_store(&c->write_rc, rc);
                goto out;
            }
        }
    }
out:
    free(body);
    atomic_store(&c->done, 1);
    return NULL;
}

static void *conc_reader(void *arg)
{
    conc_t *c = arg;
    long n = 0;
    while (!atomic_load(&c->done) || n < 100) {
        storage_view_t *v;
        if (storage_view_open(c->s, &v) != 0) {
            atomic_fetch_add(&c->errors, 1);
            break;
        }
        for (int k = 0; k < CONC_KEYS; k++) {
            char key[16];
            storage_object_t o;
            snprintf(key, sizeof key, "k%d", k);
            if (storage_get(v, "bkt", key, strlen(key), &o) != 0) {
                atomic_fetch_add(&c->errors, 1);
                continue;
            }
            const char *vs = storage_header(o.headers, o.headers_len, "x-amz-meta-v");
            long ver = vs ? atol(vs) : -1;
            const unsigned char *b = o.body;
            int ok = ver >= 0 && o.size == conc_size(ver);
            for (size_t i = 0; ok && i < o.size; i++)
                ok = b[i] == (unsigned char)(ver & 0xff);
            if (!ok)
                atomic_fetch_add(&c->errors, 1);
            n++;
        }
        storage_view_close(v);
    }
    atomic_fetch_add(&c->reads, n);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    fixture_t *f = *state;
    conc_t c = {.s = f->s};
    pthread_t w, r[3];
    unsigned char body[1000];

    assert_int_equal(storage_bucket_create(f->s, "bkt"), 0);
    memset(body, 0, sizeof body);
    for (int k = 0; k < CONC_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", k);
        storage_meta_t m = {"x-amz-meta-v\0"
                            "0",
                            15, NULL, 0};
        assert_int_equal(
            storage_put(f->s, "bkt", key, strlen(key), body, conc_size(0), &m, 0, NULL), 0);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&r[i], NULL, conc_reader, &c), 0);
    assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(r[i], NULL);
    assert_int_equal(atomic_load(&c.write_rc), 0);
    assert_int_equal(atomic_load(&c.errors), 0);
    assert_true(atomic_load(&c.reads) >= 300);
}

static void test_deploy(void **state)
{
    fixture_t *f = *state;
    storage_t *s = f->s;
    storage_deploy_t *d;
    storage_view_t *old, *mid, *v;
    storage_object_t o;
    storage_bucket_info_t info;
    uint32_t ver = 99;

    assert_int_equal(storage_bucket_rollback(s, "site", &ver), STORAGE_ENOBUCKET);
    assert_int_equal(storage_deploy_begin(s, "Bad_Name", &d), STORAGE_EINVAL);
    assert_null(d);

    /* Version 1: into a bucket that does not exist yet. */
    assert_int_equal(storage_deploy_begin(s, "site", &d), 0);
    assert_int_equal(storage_deploy_put(d, "index.html", 10, "v1", 2, NULL), 0);
    assert_int_equal(storage_deploy_put(d, "a.txt", 5, "a", 1, NULL), 0);
    assert_int_equal(storage_deploy_put(d, "", 0, "a", 1, NULL), STORAGE_EKEYTOOLONG);
    assert_int_equal(storage_deploy_commit(d, &ver), 0);
    assert_int_equal(ver, 1);

    /* Version 2: a view opened before the commit keeps seeing version 1. */
    assert_int_equal(storage_view_open(s, &old), 0);
    assert_int_equal(storage_deploy_begin(s, "site", &d), 0);
    assert_int_equal(storage_deploy_put(d, "index.html", 10, "v2", 2, NULL), 0);
    assert_int_equal(storage_deploy_put(d, "b.txt", 5, "b", 1, NULL), 0);
    assert_int_equal(storage_view_open(s, &mid), 0);
    assert_int_equal(storage_get(mid, "site", "b.txt", 5, &o), STORAGE_ENOTFOUND);
    assert_int_equal(storage_deploy_commit(d, &ver), 0);
    assert_int_equal(ver, 2);
    assert_int_equal(storage_get(old, "site", "index.html", 10, &o), 0);
    assert_memory_equal(o.body, "v1", 2);
    assert_int_equal(storage_get(old, "site", "a.txt", 5, &o), 0);
    assert_int_equal(storage_get(old, "site", "b.txt", 5, &o), STORAGE_ENOTFOUND);
    assert_int_equal(storage_get(mid, "site", "index.html", 10, &o), 0);
    assert_memory_equal(o.body, "v1", 2);
    storage_view_close(old);
    storage_view_close(mid);

    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "site", "index.html", 10, &o), 0);
    assert_memory_equal(o.body, "v2", 2);
    assert_int_equal(storage_get(v, "site", "a.txt", 5, &o), STORAGE_ENOTFOUND);
    assert_int_equal(storage_get(v, "site", "b.txt", 5, &o), 0);
    assert_int_equal(storage_bucket_get(v, "site", &info), 0);
    assert_int_equal(info.version, 2);
    storage_view_close(v);

    /* Rollback swaps back; a second rollback rolls forward. */
    assert_int_equal(storage_bucket_rollback(s, "site", &ver), 0);
    assert_int_equal(ver, 3);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "site", "index.html", 10, &o), 0);
    assert_memory_equal(o.body, "v1", 2);
    assert_int_equal(storage_get(v, "site", "a.txt", 5, &o), 0);
    storage_view_close(v);
    assert_int_equal(storage_bucket_rollback(s, "site", &ver), 0);
    assert_int_equal(ver, 4);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "site", "index.html", 10, &o), 0);
    assert_memory_equal(o.body, "v2", 2);
    storage_view_close(v);

    /* Abort leaves everything as it was. */
    assert_int_equal(storage_deploy_begin(s, "site", &d), 0);
    assert_int_equal(storage_deploy_put(d, "index.html", 10, "v3", 2, NULL), 0);
    storage_deploy_abort(d);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "site", "index.html", 10, &o), 0);
    assert_memory_equal(o.body, "v2", 2);
    assert_int_equal(storage_bucket_get(v, "site", &info), 0);
    assert_int_equal(info.version, 4);
    storage_view_close(v);

    /* Version 3 drops version 1: two rollbacks cannot reach it. */
    assert_int_equal(storage_deploy_begin(s, "site", &d), 0);
    assert_int_equal(storage_deploy_put(d, "index.html", 10, "v3", 2, NULL), 0);
    assert_int_equal(storage_deploy_commit(d, &ver), 0);
    assert_int_equal(ver, 5);
    assert_int_equal(storage_bucket_rollback(s, "site", NULL), 0);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "site", "index.html", 10, &o), 0);
    assert_memory_equal(o.body, "v2", 2);
    storage_view_close(v);
    assert_int_equal(storage_bucket_rollback(s, "site", NULL), 0);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "site", "index.html", 10, &o), 0);
    assert_memory_equal(o.body, "v3", 2);
    assert_int_equal(storage_get(v, "site", "a.txt", 5, &o), STORAGE_ENOTFOUND);
    storage_view_close(v);

    /* Puts go to the current version; a fresh bucket has none to roll back. */
    assert_int_equal(storage_put(s, "site", "extra", 5, "e", 1, NULL, 0, NULL), 0);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_get(v, "site", "extra", 5, &o), 0);
    storage_view_close(v);
    assert_int_equal(storage_bucket_create(s, "fresh"), 0);
    assert_int_equal(storage_bucket_rollback(s, "fresh", &ver), STORAGE_ENOVERSION);
    assert_int_equal(storage_bucket_rollback(s, "Bad_Name", &ver), STORAGE_ENOBUCKET);

    /* An aborted first deploy does not create the bucket. */
    assert_int_equal(storage_deploy_begin(s, "ghost", &d), 0);
    storage_deploy_abort(d);
    assert_int_equal(storage_view_open(s, &v), 0);
    assert_int_equal(storage_bucket_get(v, "ghost", &info), STORAGE_ENOBUCKET);
    storage_view_close(v);
}

#define VIEW_THREADS 4

typedef struct vt {
    storage_t *s;
    int iters;
    atomic_long ok;
    atomic_long readers_full;
    atomic_long errors;
} vt_t;

static void *view_worker(void *arg)
{
    vt_t *t = arg;
    for (int i = 0; i < t->iters; i++) {
        storage_view_t *v;
        storage_object_t o;
        int rc = storage_view_open(t->s, &v);
        if (rc == STORAGE_EREADERS) {
            atomic_fetch_add(&t->readers_full, 1);
            continue;
        }
        if (rc != 0) {
            atomic_fetch_add(&t->errors, 1);
            continue;
        }
        if (storage_get(v, "bkt", "k", 1, &o) != 0 || o.size != 5 || memcmp(o.body, "hello", 5))
            atomic_fetch_add(&t->errors, 1);
        else
            atomic_fetch_add(&t->ok, 1);
        storage_view_close(v);
    }
    return NULL;
}

/* Views close on another thread than the one that opened them. */
static void *view_closer(void *arg)
{
    storage_view_close(arg);
    return NULL;
}

static void test_views(void **state)
{
    fixture_t *f = *state;
    pthread_t th[VIEW_THREADS * 2];
    storage_view_t *vs[8];
    vt_t t = {.s = f->s, .iters = 20000};

    assert_int_equal(storage_bucket_create(f->s, "bkt"), 0);
    assert_int_equal(storage_put(f->s, "bkt", "k", 1, "hello", 5, NULL, 0, NULL), 0);
    for (int i = 0; i < VIEW_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, view_worker, &t), 0);
    for (int i = 0; i < VIEW_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&t.errors), 0);
    assert_int_equal(atomic_load(&t.readers_full), 0);
    assert_int_equal(atomic_load(&t.ok), VIEW_THREADS * t.iters);

    /* More views than slots: the extra ones fail cleanly. */
    reopen(f, 0, 4);
    int n = 0;
    for (; n < 8; n++) {
        int rc = storage_view_open(f->s, &vs[n]);
        if (rc != 0) {
            assert_int_equal(rc, STORAGE_EREADERS);
            assert_null(vs[n]);
            break;
        }
    }
    assert_int_equal(n, 4);
    pthread_t closer;
    assert_int_equal(pthread_create(&closer, NULL, view_closer, vs[0]), 0);
    pthread_join(closer, NULL);
    assert_int_equal(storage_view_open(f->s, &vs[0]), 0);
    assert_int_equal(storage_view_open(f->s, &vs[4]), STORAGE_EREADERS);
    for (int i = 0; i < n; i++)
        storage_view_close(vs[i]);

    vt_t t2 = {.s = f->s, .iters = 5000};
    for (int i = 0; i < VIEW_THREADS * 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, view_worker, &t2), 0);
    for (int i = 0; i < VIEW_THREADS * 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&t2.errors), 0);
    assert_int_equal(atomic_load(&t2.ok) + atomic_load(&t2.readers_full),
                     VIEW_THREADS * 2 * t2.iters);
    assert_true(atomic_load(&t2.ok) > 0);
}

/* ---- records ---- */

static int collect_keys(void *ctx, const void *key, size_t key_len, const void *val,
                        size_t val_len)
{
    buf_t *b = ctx;
    buf_append(b, key, key_len);
    buf_append(b, "=", 1);
    buf_append(b, val, val_len);
    buf_append(b, ";", 1);
    return 0;
}

/* Records: put/get/delete, tables kept apart, IF_ABSENT, scans by prefix. */
static void test_records(void **state)
{
    fixture_t *f = *state;
    storage_txn_t *t;
    const void *val;
    size_t len;
    assert_int_equal(storage_txn_begin(f->s, &t), 0);
    assert_int_equal(storage_rec_put(t, "users", "alice", 5, "A1", 2, 0), 0);
    assert_int_equal(storage_rec_put(t, "users", "alina", 5, "A2", 2, 0), 0);
    assert_int_equal(storage_rec_put(t, "users", "bob", 3, "B", 1, 0), 0);
    assert_int_equal(storage_rec_put(t, "names", "alice", 5, "other table", 11, 0), 0);
    assert_int_equal(storage_rec_put(t, "users", "bob", 3, "X", 1, STORAGE_PUT_IF_ABSENT),
                     STORAGE_EEXIST);
    assert_int_equal(storage_rec_get(t, "users", "alice", 5, &val, &len), 0);
    assert_memory_equal(val, "A1", 2);
    assert_int_equal(storage_txn_commit(t), 0);

    storage_view_t *v;
    assert_int_equal(storage_view_open(f->s, &v), 0);
    assert_int_equal(storage_view_rec_get(v, "names", "alice", 5, &val, &len), 0);
    assert_int_equal(len, 11);
    assert_int_equal(storage_view_rec_get(v, "users", "carol", 5, &val, &len),
                     STORAGE_ENOTFOUND);
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(storage_view_rec_scan(v, "users", "al", 2, collect_keys, &b), 0);
    assert_string_equal(b.data, "alice=A1;alina=A2;");
    buf_free(&b);
    buf_init(&b, 0);
    assert_int_equal(storage_view_rec_scan(v, "users", "", 0, collect_keys, &b), 0);
    assert_string_equal(b.data, "alice=A1;alina=A2;bob=B;");
    buf_free(&b);
    storage_view_close(v);

    /* An aborted transaction leaves nothing behind; deletes report absence. */
    assert_int_equal(storage_txn_begin(f->s, &t), 0);
    assert_int_equal(storage_rec_put(t, "users", "carol", 5, "C", 1, 0), 0);
    assert_int_equal(storage_rec_del(t, "users", "alice", 5), 0);
    storage_txn_abort(t);
    assert_int_equal(storage_txn_begin(f->s, &t), 0);
    assert_int_equal(storage_rec_get(t, "users", "carol", 5, &val, &len), STORAGE_ENOTFOUND);
    assert_int_equal(storage_rec_get(t, "users", "alice", 5, &val, &len), 0);
    assert_int_equal(storage_rec_del(t, "users", "alice", 5), 0);
    assert_int_equal(storage_rec_del(t, "users", "alice", 5), STORAGE_ENOTFOUND);
    /* Bad table names and over-long keys are refused, not truncated. */
    char big[STORAGE_REC_MAX_KEY];
    memset(big, 'k', sizeof big);
    assert_int_equal(storage_rec_put(t, "", "k", 1, "v", 1, 0), STORAGE_EINVAL);
    assert_int_equal(storage_rec_put(t, "users", big, sizeof big, "v", 1, 0), STORAGE_EINVAL);
    assert_int_equal(storage_txn_commit(t), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_bucket_names),
        cmocka_unit_test(test_header_lookup),
        cmocka_unit_test_setup_teardown(test_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bucket_delete_drops_previous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_if_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_stop_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_big_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_fuzz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
