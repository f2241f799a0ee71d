/* registry.c - function definitions: where they come from, how they are kept.
 *
 * Three sources, loaded at start in this order, a later one replacing an
 * earlier one of the same name (and saying so in the log):
 *   1. LMDB table "fn-defs": functions made through the Lambda API, their
 *      code extracted under DATA/functions/<name>/<uuid>/;
 *   2. the folders of functions/examples/ that hold a function.json;
 *   3. cloudlet.json's "functions" array.
 * Only API-made functions are written back: the files stay the truth for the
 * others, so editing a manifest and restarting is the way to change them.
 *
 * Published definitions are immutable and reference-counted (internal.h):
 * an update publishes a copy, so an instance or an invoke that holds the old
 * one never sees a half-changed configuration.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "common/log.h"
#include "common/util.h"

#define T_DEFS "fn-defs"
#define MANIFEST "function.json"
#define MANIFEST_MAX (64 * 1024)

/* Generations are unique across the process, so a function deleted and
 * created again never mistakes an old instance for a current one. */
static atomic_uint next_generation = 1;

/* ---- Definitions and code ---- */

fn_def_t *fn_def_new(void)
{
    fn_def_t *d = xcalloc(1, sizeof *d);
    atomic_init(&d->refs, 1);
    d->timeout = 3;
    d->memory = 128;
    d->reserved = -1;
    d->environment = json_object();
    return d;
}

fn_def_t *fn_def_copy(const fn_def_t *d)
{
    fn_def_t *c = xmalloc(sizeof *c);
    memcpy(c, d, sizeof *c);
    atomic_init(&c->refs, 1);
    c->environment = json_deep_copy(d->environment);
    c->url = d->url != NULL ? json_deep_copy(d->url) : NULL;
    if (c->code != NULL)
        atomic_fetch_add(&c->code->refs, 1);
    return c;
}

fn_def_t *fn_def_ref(fn_def_t *d)
{
    atomic_fetch_add(&d->refs, 1);
    return d;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void fn_remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

void fn_code_unref(fn_code_t *c)
{
    if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    if (c->owned && atomic_load(&c->doomed))
        fn_remove_tree(c->dir);
    free(c->dir);
    free(c);
}

void fn_def_unref(fn_def_t *d)
{
    if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    json_decref(d->environment);
    json_decref(d->url);
    fn_code_unref(d->code);
    free(d);
}

static fn_code_t *code_new(const char *dir, int owned)
{
    fn_code_t *c = xcalloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    c->dir = xstrdup(dir);
    c->owned = owned;
    atomic_init(&c->doomed, owned);
    return c;
}

static void sha256_b64(const void *p, size_t n, char out[45])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(p, n, md);
    char *b = util_base64(md, sizeof md);
    snprintf(out, 45, "%s", b);
    free(b);
}

/* ---- Validation ---- */

int fn_check_name(const char *name, char *err, size_t errsz)
{
    size_t n = strlen(name);
    if (n == 0 || n > FN_NAME_MAX) {
        snprintf(err, errsz, "A function name must be 1 to %d characters long.", FN_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            snprintf(err, errsz,
                     "The function name may contain only letters, digits, '-' and '_'.");
            return -1;
        }
    }
    return 0;
}

fn_kind_t fn_runtime_kind(const char *runtime)
{
    if (util_startswith(runtime, "nodejs"))
        return FN_KIND_NODE;
    if (util_startswith(runtime, "python3"))
        return FN_KIND_PYTHON;
    return FN_KIND_PROVIDED;
}

int fn_check_runtime(const char *runtime, char *err, size_t errsz)
{
    static const char *const known[] = {
        "provided",    "provided.al2",  "provided.al2023", "nodejs18.x",  "nodejs20.x",
        "nodejs22.x",  "nodejs24.x",    "python3.9",       "python3.10",  "python3.11",
        "python3.12",  "python3.13",    "python3.14",      NULL};
    for (size_t i = 0; known[i] != NULL; i++) {
        if (strcmp(runtime, known[i]) == 0)
            return 0;
    }
    snprintf(err, errsz,
             "Value %.40s at 'runtime' failed to satisfy constraint: cloudlet runs provided, "
             "provided.al2, provided.al2023, nodejs18.x-nodejs24.x and python3.9-python3.14",
             runtime);
    return -1;
}

int fn_check_handler(const char *handler, char *err, size_t errsz)
{
    size_t n = strlen(handler);
    if (n == 0 || n > FN_HANDLER_MAX) {
        snprintf(err, errsz, "The handler must be 1 to %d characters long.", FN_HANDLER_MAX);
        return -1;
    }
    /* Lambda's pattern is [^\s]+; a path may not climb out of the task root. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)handler[i];
        if (c <= ' ' || c == 0x7f) {
            snprintf(err, errsz, "The handler may not contain spaces or control characters.");
            return -1;
        }
    }
    if (handler[0] == '/' || strstr(handler, "..") != NULL) {
        snprintf(err, errsz, "The handler must name a file inside the function's code.");
        return -1;
    }
    return 0;
}

static int env_key_reserved(const char *k)
{
    static const char *const reserved[] = {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
        "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", NULL};
    for (size_t i = 0; reserved[i] != NULL; i++) {
        if (strcmp(k, reserved[i]) == 0)
            return 1;
    }
    return 0;
}

int fn_check_environment(const json_t *vars, char *err, size_t errsz)
{
    if (!json_is_object(vars)) {
        snprintf(err, errsz, "Environment variables must be an object of strings.");
        return -1;
    }
    size_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)vars, k, v) {
        size_t kl = strlen(k);
        int ok = kl > 0 && ((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z'));
        for (size_t i = 1; ok && i < kl; i++) {
            char c = k[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_';
        }
        if (!ok) {
            snprintf(err, errsz,
                     "Environment variable name '%.64s' must match [a-zA-Z][a-zA-Z0-9_]*.", k);
            return -1;
        }
        if (env_key_reserved(k)) {
            snprintf(err, errsz,
                     "Lambda was unable to configure your environment variables because the "
                     "environment variables you have provided contains reserved keys that are "
                     "currently not supported for modification. Reserved keys used in this "
                     "request: %.64s",
                     k);
            return -1;
        }
        if (!json_is_string(v) || memchr(json_string_value(v), '\0', json_string_length(v))) {
            snprintf(err, errsz, "Environment variable '%.64s' must be a string.", k);
            return -1;
        }
        total += kl + json_string_length(v);
    }
    if (total > FN_ENV_MAX) {
        snprintf(err, errsz,
                 "Lambda was unable to configure your environment variables because the "
                 "environment variables you have provided exceeded the 4KB limit.");
        return -1;
    }
    return 0;
}

/* ---- The table of current definitions (sorted array; callers hold f->lk) ---- */

static size_t find_slot(fn_t *f, const char *name, int *found)
{
    size_t lo = 0, hi = f->ndefs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(f->defs[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* Put d (one reference handed over) in the table; returns the definition it
 * replaced (a reference for the caller) or NULL. */
static fn_def_t *table_put(fn_t *f, fn_def_t *d)
{
    int found;
    size_t i = find_slot(f, d->name, &found);
    if (found) {
        fn_def_t *old = f->defs[i];
        f->defs[i] = d;
        return old;
    }
    if (f->ndefs == f->capdefs) {
        f->capdefs = f->capdefs ? f->capdefs * 2 : 16;
        f->defs = xrealloc(f->defs, f->capdefs * sizeof *f->defs);
    }
    memmove(&f->defs[i + 1], &f->defs[i], (f->ndefs - i) * sizeof *f->defs);
    f->defs[i] = d;
    f->ndefs++;
    return NULL;
}

fn_def_t *fn_def_find(fn_t *f, const char *name)
{
    pthread_mutex_lock(&f->lk);
    int found;
    size_t i = find_slot(f, name, &found);
    fn_def_t *d = found ? fn_def_ref(f->defs[i]) : NULL;
    pthread_mutex_unlock(&f->lk);
    return d;
}

size_t fn_def_list(fn_t *f, fn_def_t ***out)
{
    pthread_mutex_lock(&f->lk);
    size_t n = f->ndefs;
    fn_def_t **arr = xmalloc((n ? n : 1) * sizeof *arr);
    for (size_t i = 0; i < n; i++)
        arr[i] = fn_def_ref(f->defs[i]);
    pthread_mutex_unlock(&f->lk);
    *out = arr;
    return n;
}

/* ---- LMDB records ---- */

static json_t *def_record(const fn_def_t *d)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:O, s:{s:s, s:s, s:I}, s:s, s:s}",
                          "runtime", d->runtime, "handler", d->handler, "role", d->role,
                          "description", d->description, "timeout", (json_int_t)d->timeout,
                          "memory", (json_int_t)d->memory, "reserved", (json_int_t)d->reserved,
                          "environment", d->environment, "code", "dir", d->code->dir, "sha256",
                          d->code->sha256, "size", (json_int_t)d->code->size, "lastModified",
                          d->last_modified, "revision", d->revision);
    if (d->url != NULL)
        json_object_set(r, "url", d->url);
    return r;
}

static int record_write(fn_t *f, const char *name, const fn_def_t *d)
{
    storage_txn_t *t;
    if (storage_txn_begin(f->o.st, &t) != 0)
        return FN_ESTORAGE;
    int rc;
    if (d != NULL) {
        json_t *r = def_record(d);
        char *text = json_dumps(r, JSON_COMPACT);
        json_decref(r);
        rc = storage_rec_put(t, T_DEFS, name, strlen(name), text, strlen(text), 0);
        free(text);
    } else {
        rc = storage_rec_del(t, T_DEFS, name, strlen(name));
        if (rc == STORAGE_ENOTFOUND)
            rc = 0;
    }
    if (rc != 0) {
        storage_txn_abort(t);
        return FN_ESTORAGE;
    }
    return storage_txn_commit(t) == 0 ? 0 : FN_ESTORAGE;
}

static void stamp(fn_t *f, fn_def_t *d)
{
    snprintf(d->arn, sizeof d->arn, "arn:aws:lambda:%s:%s:function:%s", f->region, f->account_id,
             d->name);
    int64_t ms = util_now_ms();
    char iso[25];
    util_iso8601_ms(ms, iso); /* 2019-09-24T18:20:35.054Z */
    iso[23] = '\0';
    snprintf(d->last_modified, sizeof d->last_modified, "%s+0000", iso);
    util_uuid(d->revision);
}

int fn_def_publish(fn_t *f, fn_def_t *d, int mode, int restart)
{
    fn_def_t *cur = fn_def_find(f, d->name);
    if ((mode == FN_PUT_CREATE && cur != NULL) || (mode == FN_PUT_REPLACE && cur == NULL)) {
        int rc = cur != NULL ? FN_EEXIST : FN_ENOTFOUND;
        fn_def_unref(cur);
        fn_def_unref(d);
        return rc;
    }
    if (restart || cur == NULL)
        d->generation = atomic_fetch_add(&next_generation, 1);
    else
        d->generation = cur->generation;
    fn_def_unref(cur);
    stamp(f, d);
    /* LMDB first: if the write fails, nothing changed anywhere. */
    if (!d->from_file && record_write(f, d->name, d) != 0) {
        fn_def_unref(d);
        return FN_ESTORAGE;
    }
    char name[FN_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", d->name);
    pthread_mutex_lock(&f->lk);
    fn_def_t *old = table_put(f, d);
    atomic_store(&d->code->doomed, 0);
    if (old != NULL && old->code != d->code)
        atomic_store(&old->code->doomed, 1);
    pthread_mutex_unlock(&f->lk);
    fn_def_unref(old);
    if (restart)
        fn_pool_retire(f, name);
    return 0;
}

int fn_def_remove(fn_t *f, const char *name)
{
    fn_def_t *cur = fn_def_find(f, name);
    if (cur == NULL)
        return FN_ENOTFOUND;
    int from_file = cur->from_file;
    fn_def_unref(cur);
    if (!from_file && record_write(f, name, NULL) != 0)
        return FN_ESTORAGE;
    pthread_mutex_lock(&f->lk);
    int found;
    size_t i = find_slot(f, name, &found);
    fn_def_t *old = NULL;
    if (found) {
        old = f->defs[i];
        memmove(&f->defs[i], &f->defs[i + 1], (f->ndefs - i - 1) * sizeof *f->defs);
        f->ndefs--;
        atomic_store(&old->code->doomed, 1);
    }
    pthread_mutex_unlock(&f->lk);
    fn_def_unref(old);
    fn_pool_retire(f, name);
    return 0;
}

/* ---- Code from an archive ---- */

int fn_code_from_zip(fn_t *f, const char *name, const void *zip, size_t len, fn_code_t **out,
                     char *err, size_t errsz)
{
    char dir[PATH_MAX], uuid[37];
    snprintf(dir, sizeof dir, "%s/functions", f->data_dir);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/functions/%s", f->data_dir, name);
    mkdir(dir, 0755);
    util_uuid(uuid);
    snprintf(dir, sizeof dir, "%s/functions/%s/%s", f->data_dir, name, uuid);
    if (mkdir(dir, 0755) != 0) {
        snprintf(err, errsz, "Could not store the function's code: %s", strerror(errno));
        return -1;
    }
    fn_zip_limits_t lim;
    fn_zip_default_limits(&lim);
    char zerr[300];
    if (fn_zip_extract(zip, len, dir, &lim, NULL, zerr, sizeof zerr) != 0) {
        rmdir(dir);
        snprintf(err, errsz, "Could not unzip uploaded file. Please check your file, then try "
                             "to upload again. (%s)", zerr);
        return -1;
    }
    char *abs = realpath(dir, NULL);
    fn_code_t *c = code_new(abs != NULL ? abs : dir, 1);
    free(abs);
    sha256_b64(zip, len, c->sha256);
    c->size = len;
    *out = c;
    return 0;
}

/* ---- Loading ---- */

static uint64_t tree_bytes;
static int sum_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        tree_bytes += (uint64_t)sb->st_size;
    return 0;
}

/* Fill a definition's fields from a manifest or a config entry. `where`
 * names it in error messages. */
static int def_from_json(fn_def_t *d, const json_t *m, const char *where, char *err,
                         size_t errsz)
{
    static const char *const fields[] = {"name",        "code",    "runtime", "handler",
                                         "timeout",     "memory",  "description", "environment",
                                         "concurrency", "role",    NULL};
    const char *k;
    json_t *v;
    char why[400];
    json_object_foreach((json_t *)m, k, v) {
        int known = 0;
        for (size_t i = 0; fields[i] != NULL && !known; i++)
            known = strcmp(k, fields[i]) == 0;
        if (!known) {
            snprintf(err, errsz, "%s: unknown field '%.64s'", where, k);
            return -1;
        }
    }
    const char *runtime = json_string_value(json_object_get(m, "runtime"));
    if (runtime == NULL || fn_check_runtime(runtime, why, sizeof why) != 0) {
        snprintf(err, errsz, "%s: 'runtime' %s", where, runtime ? why : "is required");
        return -1;
    }
    snprintf(d->runtime, sizeof d->runtime, "%s", runtime);
    const char *handler = json_string_value(json_object_get(m, "handler"));
    if (handler == NULL)
        handler = fn_runtime_kind(runtime) == FN_KIND_PROVIDED ? "bootstrap" : NULL;
    if (handler == NULL || fn_check_handler(handler, why, sizeof why) != 0) {
        snprintf(err, errsz, "%s: 'handler' %s", where, handler ? why : "is required");
        return -1;
    }
    snprintf(d->handler, sizeof d->handler, "%s", handler);
    json_t *t = json_object_get(m, "timeout");
    if (t != NULL && (!json_is_integer(t) || json_integer_value(t) < 1 ||
                      json_integer_value(t) > FN_TIMEOUT_MAX)) {
        snprintf(err, errsz, "%s: 'timeout' must be 1 to %d seconds", where, FN_TIMEOUT_MAX);
        return -1;
    }
    if (t != NULL)
        d->timeout = (unsigned)json_integer_value(t);
    json_t *mem = json_object_get(m, "memory");
    if (mem != NULL && (!json_is_integer(mem) || json_integer_value(mem) < 16 ||
                        json_integer_value(mem) > 10240)) {
        snprintf(err, errsz, "%s: 'memory' must be 16 to 10240 MB", where);
        return -1;
    }
    if (mem != NULL)
        d->memory = (unsigned)json_integer_value(mem);
    json_t *c = json_object_get(m, "concurrency");
    if (c != NULL && (!json_is_integer(c) || json_integer_value(c) < 0 ||
                      json_integer_value(c) > 1000)) {
        snprintf(err, errsz, "%s: 'concurrency' must be 0 to 1000", where);
        return -1;
    }
    if (c != NULL)
        d->reserved = (int)json_integer_value(c);
    const char *desc = json_string_value(json_object_get(m, "description"));
    if (desc != NULL)
        snprintf(d->description, sizeof d->description, "%s", desc);
    const char *role = json_string_value(json_object_get(m, "role"));
    if (role != NULL)
        snprintf(d->role, sizeof d->role, "%s", role);
    json_t *env = json_object_get(m, "environment");
    if (env != NULL) {
        if (fn_check_environment(env, why, sizeof why) != 0) {
            snprintf(err, errsz, "%s: 'environment': %s", where, why);
            return -1;
        }
        json_decref(d->environment);
        d->environment = json_deep_copy(env);
    }
    return 0;
}

/* A function whose code is a folder of files (examples, config). */
static int load_folder(fn_t *f, const char *name, const char *dir, const json_t *m,
                       const char *where, char *err, size_t errsz)
{
    char why[300];
    if (fn_check_name(name, why, sizeof why) != 0) {
        snprintf(err, errsz, "%s: %s", where, why);
        return -1;
    }
    char *abs = realpath(dir, NULL);
    struct stat sb;
    if (abs == NULL || stat(abs, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errsz, "%s: code folder %s not found", where, dir);
        free(abs);
        return -1;
    }
    fn_def_t *d = fn_def_new();
    snprintf(d->name, sizeof d->name, "%s", name);
    d->from_file = 1;
    if (def_from_json(d, m, where, err, errsz) != 0) {
        free(abs);
        fn_def_unref(d);
        return -1;
    }
    d->code = code_new(abs, 0);
    char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    sha256_b64(text, strlen(text), d->code->sha256);
    free(text);
    tree_bytes = 0;
    nftw(abs, sum_entry, 16, FTW_PHYS);
    d->code->size = tree_bytes;
    free(abs);
    fn_def_t *cur = fn_def_find(f, name);
    if (cur != NULL)
        log_info("functions: %s from %s replaces the one made through the API", name, where);
    fn_def_unref(cur);
    fn_def_publish(f, d, cur != NULL ? FN_PUT_REPLACE : FN_PUT_CREATE, 1);
    return 0;
}

static json_t *read_manifest(const char *path, char *err, size_t errsz)
{
    json_error_t je;
    json_t *m = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (m == NULL) {
        snprintf(err, errsz, "%s:%d: %s", path, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(m)) {
        snprintf(err, errsz, "%s: must be a JSON object", path);
        json_decref(m);
        return NULL;
    }
    return m;
}

static int load_examples(fn_t *f, char *err, size_t errsz)
{
    if (f->examples_dir == NULL)
        return 0;
    DIR *dh = opendir(f->examples_dir);
    if (dh == NULL)
        return 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char dir[PATH_MAX], path[PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/%s", f->examples_dir, e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, MANIFEST);
        if (access(path, R_OK) != 0)
            continue;
        json_t *m = read_manifest(path, err, errsz);
        if (m == NULL) {
            rc = -1;
            break;
        }
        rc = load_folder(f, e->d_name, dir, m, path, err, errsz);
        json_decref(m);
    }
    closedir(dh);
    return rc;
}

static int load_config(fn_t *f, char *err, size_t errsz)
{
    const json_t *arr = f->o.functions;
    if (arr == NULL)
        return 0;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        char where[64];
        snprintf(where, sizeof where, "functions[%zu]", i);
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *code = json_string_value(json_object_get(e, "code"));
        if (!json_is_object(e) || name == NULL || code == NULL) {
            snprintf(err, errsz, "%s: needs string fields 'name' and 'code' (its folder)", where);
            return -1;
        }
        if (load_folder(f, name, code, e, where, err, errsz) != 0)
            return -1;
    }
    return 0;
}

typedef struct stored {
    fn_t *f;
    json_t *keep; /* code dirs still in use: {dir: true} */
} stored_t;

static int stored_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    stored_t *s = ctx;
    char name[FN_NAME_MAX + 1], why[200];
    if (key_len > FN_NAME_MAX)
        return 0;
    memcpy(name, key, key_len);
    name[key_len] = '\0';
    json_t *r = json_loadb(val, val_len, 0, NULL);
    json_t *code = json_object_get(r, "code");
    const char *dir = json_string_value(json_object_get(code, "dir"));
    struct stat sb;
    if (r == NULL || dir == NULL || fn_check_name(name, why, sizeof why) != 0 ||
        stat(dir, &sb) != 0) {
        log_warn("functions: skipping stored function %s: record or code folder missing", name);
        json_decref(r);
        return 0;
    }
    fn_def_t *d = fn_def_new();
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->runtime, sizeof d->runtime, "%s", json_string_value(json_object_get(r, "runtime")) ?: "");
    snprintf(d->handler, sizeof d->handler, "%s", json_string_value(json_object_get(r, "handler")) ?: "");
    snprintf(d->role, sizeof d->role, "%s", json_string_value(json_object_get(r, "role")) ?: "");
    snprintf(d->description, sizeof d->description, "%s",
             json_string_value(json_object_get(r, "description")) ?: "");
    d->timeout = (unsigned)json_integer_value(json_object_get(r, "timeout"));
    d->memory = (unsigned)json_integer_value(json_object_get(r, "memory"));
    d->reserved = (int)json_integer_value(json_object_get(r, "reserved"));
    json_t *env = json_object_get(r, "environment");
    if (json_is_object(env)) {
        json_decref(d->environment);
        d->environment = json_deep_copy(env);
    }
    json_t *url = json_object_get(r, "url");
    if (json_is_object(url))
        d->url = json_deep_copy(url);
    d->code = code_new(dir, 1);
    atomic_store(&d->code->doomed, 0);
    snprintf(d->code->sha256, sizeof d->code->sha256, "%s",
             json_string_value(json_object_get(code, "sha256")) ?: "");
    d->code->size = (uint64_t)json_integer_value(json_object_get(code, "size"));
    json_object_set_new(s->keep, dir, json_true());
    if (d->timeout < 1 || d->timeout > FN_TIMEOUT_MAX)
        d->timeout = 3;
    if (d->memory < 16)
        d->memory = 128;
    d->generation = atomic_fetch_add(&next_generation, 1);
    /* Keep the stored stamps: they describe the last real change. */
    snprintf(d->arn, sizeof d->arn, "arn:aws:lambda:%s:%s:function:%s", s->f->region,
             s->f->account_id, name);
    snprintf(d->last_modified, sizeof d->last_modified, "%s",
             json_string_value(json_object_get(r, "lastModified")) ?: "");
    snprintf(d->revision, sizeof d->revision, "%s",
             json_string_value(json_object_get(r, "revision")) ?: "");
    json_decref(r);
    fn_def_unref(table_put(s->f, d));
    return 0;
}

/* Remove code folders under DATA/functions/ that no record uses: left by a
 * crash between extraction and the record write, or by a deleted function. */
static void sweep_code(fn_t *f, json_t *keep)
{
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s/functions", f->data_dir);
    DIR *dh = opendir(root);
    if (dh == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char fdir[PATH_MAX + 300];
        snprintf(fdir, sizeof fdir, "%s/%s", root, e->d_name);
        DIR *sub = opendir(fdir);
        if (sub == NULL)
            continue;
        struct dirent *v;
        while ((v = readdir(sub)) != NULL) {
            if (v->d_name[0] == '.')
                continue;
            char cdir[PATH_MAX + 600];
            snprintf(cdir, sizeof cdir, "%s/%s", fdir, v->d_name);
            char *abs = realpath(cdir, NULL);
            if (abs != NULL && json_object_get(keep, abs) == NULL)
                fn_remove_tree(abs);
            free(abs);
        }
        closedir(sub);
        rmdir(fdir); /* only when empty */
    }
    closedir(dh);
}

int fn_registry_load(fn_t *f, char *err, size_t errsz)
{
    storage_view_t *v;
    if (storage_view_open(f->o.st, &v) != 0) {
        snprintf(err, errsz, "functions: cannot read the function records");
        return -1;
    }
    stored_t s = {f, json_object()};
    pthread_mutex_lock(&f->lk);
    storage_view_rec_scan(v, T_DEFS, "", 0, stored_cb, &s);
    pthread_mutex_unlock(&f->lk);
    storage_view_close(v);
    sweep_code(f, s.keep);
    json_decref(s.keep);
    if (load_examples(f, err, errsz) != 0 || load_config(f, err, errsz) != 0)
        return -1;
    return 0;
}

void fn_registry_free(fn_t *f)
{
    for (size_t i = 0; i < f->ndefs; i++)
        fn_def_unref(f->defs[i]);
    free(f->defs);
    f->defs = NULL;
    f->ndefs = f->capdefs = 0;
}
