/* internal.h - declarations shared by the .c files of functions/ (the Lambda
 * service); other modules use functions/functions.h.
 *
 * registry.c  function definitions: manifests, config, LMDB records, code folders
 * api.c       the Lambda REST control plane (CreateFunction, GetFunction, ...)
 * invoke.c    Invoke, the durable queue of asynchronous events, function URLs
 * pool.c      instances (processes), the Runtime API and the event loop
 * zip.c       safe extraction of a deployment package (CreateFunction's
 *             Code.ZipFile, UpdateFunctionCode) into a function's code folder
 *
 * Locking: fn_t.lk guards the registry (defs) and every pool and instance.
 * Definitions are immutable once published: an update publishes a new one,
 * and whoever holds a reference (an instance, an invoke) keeps the old one
 * alive. Never hold fn_t.lk across LMDB writes or process creation waits.
 */
#ifndef CLOUDLET_FUNCTIONS_INTERNAL_H
#define CLOUDLET_FUNCTIONS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "functions.h"

/* Deepest folder nesting an archive entry may have. Not a Lambda rule: it
 * bounds the file descriptors that extraction and clean-up hold at once (one
 * per level), which max_path alone would allow to reach ~512. */
#define FN_ZIP_MAX_DEPTH 64

/* Entries no larger than this are exempt from the compression-ratio check, so
 * small, highly compressible files (a minified bundle, a file of zeros) pass. */
#define FN_ZIP_RATIO_FLOOR (1024u * 1024u)

/* What an uploaded archive may contain. */
typedef struct fn_zip_limits {
    uint64_t max_total;   /* sum of uncompressed sizes: 250 MiB (Lambda's unzipped limit) */
    uint64_t max_entries; /* 10000 */
    uint64_t max_ratio; /* refuse an entry whose uncompressed/compressed ratio exceeds this: 200 */
    uint64_t max_path;  /* longest entry name in bytes: 1024 */
} fn_zip_limits_t;

/* Fill *lim with the defaults listed beside the fields above. */
void fn_zip_default_limits(fn_zip_limits_t *lim);

/* Extract the zip archive in memory (zip, len; borrowed for the call only)
 * into the folder `dir`, which must exist and be empty.
 *
 * Files are created 0644, or 0755 when the entry's unix mode (external
 * attributes) has an execute bit; folders 0755. The archive is checked in full
 * before anything is written, then extracted into a fresh `dir/.tmp-XXXXXXXX`
 * whose top-level entries are renamed into `dir` at the end; every file and
 * folder is opened relative to its parent's descriptor with O_NOFOLLOW, so
 * nothing outside `dir` is touched even if something races with extraction.
 *
 * Refused: a `dir` that is not an empty folder; a truncated, corrupt or empty
 * (0-byte) input; more than max_entries entries; names that are empty, longer
 * than max_path, absolute, start with a drive letter ("C:"), hold a backslash
 * or a NUL, or have an empty, "." or ".." component, or nest deeper than
 * FN_ZIP_MAX_DEPTH; duplicate names ("a" and "a/" count as the same); symlink,
 * device, fifo and socket entries (every symlink, wherever it points);
 * encrypted entries and unsupported compression methods; declared
 * uncompressed sizes summing past max_total; an entry above FN_ZIP_RATIO_FLOOR
 * whose uncompressed/compressed ratio exceeds max_ratio; an entry that inflates
 * to more or fewer bytes than it declares (the real bytes are counted against
 * max_total too) or whose CRC does not match.
 *
 * Returns 0, with *files_out (if not NULL) set to the number of regular files
 * written. On refusal or any I/O failure returns -1 with a one-line message
 * in err (size errsz; may hold the offending entry name) and leaves `dir` as
 * empty as it was found. Thread-safe: no shared state.
 */
int fn_zip_extract(const void *zip, size_t len, const char *dir, const fn_zip_limits_t *lim,
                   size_t *files_out, char *err, size_t errsz);

/* ---- Definitions (registry.c) ---- */

#define FN_NAME_MAX 64     /* Lambda: 1-64 of [A-Za-z0-9_-] */
#define FN_HANDLER_MAX 128
#define FN_RUNTIME_MAX 32
#define FN_TIMEOUT_MAX 900 /* seconds */
#define FN_ENV_MAX 4096    /* bytes of Environment.Variables, as Lambda */

enum {
    FN_ENOTFOUND = -1, /* no such function */
    FN_EEXIST = -2,    /* a function of that name exists (CreateFunction) */
    FN_ESTORAGE = -3,  /* LMDB refused the write; nothing changed */
    FN_EINVAL = -4,    /* a field is out of range (message in err) */
};

/* A function's code folder. Shared by the definitions that use it (a
 * configuration change keeps the code). An owned folder (under
 * DATA/functions/) is removed when the last reference goes, if by then no
 * published definition uses it (doomed): replaced code goes once the last
 * instance running it ends, while current code survives a shutdown. */
typedef struct fn_code {
    atomic_int refs;
    char *dir;          /* absolute path */
    int owned;
    atomic_int doomed;  /* 1 until published, and again once replaced */
    char sha256[45];    /* base64 SHA-256 of the zip (CodeSha256); of the manifest for folders */
    uint64_t size;      /* bytes of the zip, or of the folder's files */
} fn_code_t;

/* One published configuration of a function (FunctionConfiguration). */
typedef struct fn_def {
    atomic_int refs;
    char name[FN_NAME_MAX + 1];
    char arn[256];                   /* arn:aws:lambda:<region>:<acct>:function:<name> */
    char runtime[FN_RUNTIME_MAX + 1];
    char handler[FN_HANDLER_MAX + 1];
    char role[256];                  /* role ARN; "" = the default execution role */
    char description[257];
    unsigned timeout;                /* seconds, 1..900 */
    unsigned memory;                 /* MB */
    int reserved;                    /* reserved concurrency; -1 = none (max_concurrency) */
    json_t *environment;             /* object of string values, owned, never NULL */
    fn_code_t *code;                 /* one reference */
    char last_modified[32];          /* 2019-09-24T18:20:35.054+0000 */
    char revision[37];               /* RevisionId: a UUID, new at every publish */
    int from_file;                   /* examples/ or cloudlet.json: not kept in LMDB */
    unsigned generation;             /* instances of an older generation retire */
    json_t *url;                     /* function URL config {"AuthType","CreationTime",
                                        "LastModifiedTime"} or NULL; owned */
} fn_def_t;

/* A new definition: refs 1, environment {}, reserved -1, timeout 3, memory 128. */
fn_def_t *fn_def_new(void);
/* A new definition with d's fields (environment and url deep-copied, code
 * referenced), refs 1: the start of an update. */
fn_def_t *fn_def_copy(const fn_def_t *d);
fn_def_t *fn_def_ref(fn_def_t *d);
void fn_def_unref(fn_def_t *d); /* accepts NULL */
void fn_code_unref(fn_code_t *c); /* accepts NULL */

/* The current definition of function `name` (a plain name, not an ARN), as a
 * new reference, or NULL. */
fn_def_t *fn_def_find(fn_t *f, const char *name);

enum { FN_PUT_CREATE, FN_PUT_REPLACE };
/* Publish d (taking over the caller's reference) as function d->name: fill
 * arn, last_modified and revision; keep it in LMDB unless from_file; replace
 * the previous definition. FN_PUT_CREATE fails with FN_EEXIST if the name is
 * taken, FN_PUT_REPLACE with FN_ENOTFOUND if it is not. With `restart`, the
 * generation is bumped and warm instances of the old one retire (code or
 * configuration changed); without (concurrency, URL config) they stay.
 * On error d is released and nothing changed. */
int fn_def_publish(fn_t *f, fn_def_t *d, int mode, int restart);
/* Delete function `name`: its record, its instances, its queued events stay
 * (they fail when run). FN_ENOTFOUND, FN_ESTORAGE. */
int fn_def_remove(fn_t *f, const char *name);
/* A snapshot of every definition sorted by name: *out is an array of new
 * references (caller unrefs each and frees the array). Returns the count. */
size_t fn_def_list(fn_t *f, fn_def_t ***out);

/* Extract a deployment package into a fresh owned folder under
 * DATA/functions/<name>/ and describe it. Returns 0, or -1 with a message
 * for InvalidParameterValueException in err. */
int fn_code_from_zip(fn_t *f, const char *name, const void *zip, size_t len, fn_code_t **out,
                     char *err, size_t errsz);

/* Remove a folder tree without following symbolic links out of it or
 * crossing into other file systems (code folders, instance TMPDIRs). */
void fn_remove_tree(const char *dir);

/* Validators shared by manifests, the config and the API. Each returns 0, or
 * -1 with a message in err naming the rule. */
int fn_check_name(const char *name, char *err, size_t errsz);
int fn_check_runtime(const char *runtime, char *err, size_t errsz);
int fn_check_handler(const char *handler, char *err, size_t errsz);
/* `vars` must be an object of strings, keys [A-Za-z][A-Za-z0-9_]*, not
 * reserved (AWS_*, _HANDLER, LAMBDA_*, ...), at most FN_ENV_MAX bytes. */
int fn_check_environment(const json_t *vars, char *err, size_t errsz);

/* Which bootstrap a runtime uses. */
typedef enum fn_kind { FN_KIND_PROVIDED, FN_KIND_NODE, FN_KIND_PYTHON } fn_kind_t;
fn_kind_t fn_runtime_kind(const char *runtime);

int fn_registry_load(fn_t *f, char *err, size_t errsz);
void fn_registry_free(fn_t *f);

/* ---- Invokes (invoke.c) ---- */

/* POST .../invocations for function d (borrowed for the call): Invoke with
 * its headers (wire doc 5.1). Answers in resp now, or later via http_defer. */
void fn_invoke_http(fn_t *f, fn_def_t *d, const http_req_t *req, http_resp_t *resp);

/* The durable queue of Event invokes (LMDB table "fn-events"), run by a
 * thread of its own with up to 2 retries; failures go to "fn-events-failed". */
int fn_events_open(fn_t *f, char *err, size_t errsz);
int fn_events_start(fn_t *f, char *err, size_t errsz);
void fn_events_close(fn_t *f); /* stops the thread; idempotent */
void fn_events_free(fn_t *f);  /* closes, then frees */

/* ---- Instances (pool.c) ---- */

typedef struct fn_inv fn_inv_t;

#define FN_TAIL_MAX 4096 /* X-Amz-Log-Result: the last 4 KB of the log */

/* How an invocation ended, for its completion callback. */
typedef enum fn_outcome {
    FN_OK,        /* body = the function's result */
    FN_ERROR,     /* body = the error JSON (X-Amz-Function-Error: Unhandled) */
    FN_THROTTLED, /* no instance could take it: body empty */
    FN_SHUTDOWN,  /* cloudlet is stopping: body empty */
} fn_outcome_t;

/* One invocation on its way through the pool. The caller allocates it with
 * fn_inv_new, fills the request fields and hands it to fn_pool_submit; the
 * pool calls done() exactly once, from any thread, without fn_t.lk held, and
 * then owns nothing of it: done() frees it with fn_inv_free. */
struct fn_inv {
    fn_def_t *def;                 /* reference */
    char request_id[37];
    unsigned char *payload;        /* owned */
    size_t payload_len;
    char *cognito_identity;        /* JSON text for Lambda-Runtime-Cognito-Identity, or NULL */
    char *client_context;          /* decoded X-Amz-Client-Context JSON, or NULL */
    int tail;                      /* keep the log for X-Amz-Log-Result */
    void (*done)(fn_inv_t *inv, fn_outcome_t outcome, const void *body, size_t len);
    void *ctx;                     /* the caller's */
    /* Filled by the pool before done(): */
    uint64_t duration_us;
    /* The pool's own. */
    struct fn_inv *next;
    struct fn_inst *inst;
    int64_t deadline_ms;
    uint64_t start_ns;
    char tailbuf[FN_TAIL_MAX];     /* the log so far: the last FN_TAIL_MAX bytes */
    size_t tail_used;
    int cold;                      /* started a new instance */
};

fn_inv_t *fn_inv_new(fn_def_t *def);
void fn_inv_free(fn_inv_t *inv);

/* Run inv on an idle instance of its function, or a new one below the
 * function's concurrency limit; past it, done(FN_THROTTLED) at once. */
void fn_pool_submit(fn_t *f, fn_inv_t *inv);
/* Instances of `name` older than its current generation retire (all, when
 * the function is gone). */
void fn_pool_retire(fn_t *f, const char *name);

int fn_pool_open(fn_t *f, char *err, size_t errsz);
int fn_pool_start(fn_t *f, char *err, size_t errsz);
void fn_pool_shutdown(fn_t *f);
void fn_pool_close(fn_t *f);

/* ---- The module ---- */

struct fn {
    fn_options_t o;          /* strings copied below */
    char *data_dir, *region, *account_id, *endpoint, *examples_dir, *runtimes_dir, *sdk_dir;
    char *node, *python;     /* resolved interpreters ("" when not found) */
    pthread_mutex_t lk;
    fn_def_t **defs;         /* sorted by name */
    size_t ndefs, capdefs;
    int closing;
    struct fn_loop *loop;    /* pool.c */
    struct fn_events *events; /* invoke.c */
};

#endif
