/* functions.c - the module's handle: options, interpreters, start and stop. */
#include "internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

void fn_default_options(fn_options_t *o)
{
    o->keep_warm_seconds = 300;
    o->max_concurrency = 16;
    o->event_retry_ms = 1000;
    o->max_payload = 6 * 1024 * 1024;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

/* The interpreter to run a runtime with: the configured path, else the
 * first of the usual places. Debian's own come first: a version manager's
 * shim on PATH (pyenv) costs tens of milliseconds per start. */
static char *find_interp(const char *configured, const char *const *candidates)
{
    if (configured != NULL)
        return xstrdup(access(configured, X_OK) == 0 ? configured : "");
    for (size_t i = 0; candidates[i] != NULL; i++) {
        if (access(candidates[i], X_OK) == 0)
            return xstrdup(candidates[i]);
    }
    return xstrdup("");
}

int fn_open(fn_t **out, const fn_options_t *o, char *err, size_t errsz)
{
    fn_t *f = xcalloc(1, sizeof *f);
    f->o = *o;
    pthread_mutex_init(&f->lk, NULL);
    f->data_dir = dup_or_null(o->data_dir);
    f->region = dup_or_null(o->region);
    f->account_id = dup_or_null(o->account_id);
    f->endpoint = dup_or_null(o->endpoint);
    f->examples_dir = o->examples_dir != NULL ? realpath(o->examples_dir, NULL) : NULL;
    f->runtimes_dir = o->runtimes_dir != NULL ? realpath(o->runtimes_dir, NULL) : NULL;
    f->sdk_dir = o->sdk_dir != NULL ? realpath(o->sdk_dir, NULL) : NULL;
    if (f->runtimes_dir == NULL)
        f->runtimes_dir = xstrdup("/nonexistent");
    static const char *const nodes[] = {"/usr/bin/node", "/usr/local/bin/node", NULL};
    static const char *const pythons[] = {"/usr/bin/python3", "/usr/local/bin/python3", NULL};
    f->node = find_interp(o->node, nodes);
    f->python = find_interp(o->python, pythons);
    if (fn_pool_open(f, err, errsz) != 0 || fn_registry_load(f, err, errsz) != 0 ||
        fn_events_open(f, err, errsz) != 0) {
        fn_close(f);
        return -1;
    }
    log_info("functions: %zu loaded; node %s, python %s", f->ndefs,
             f->node[0] ? f->node : "(none)", f->python[0] ? f->python : "(none)");
    *out = f;
    return 0;
}

int fn_start(fn_t *f, char *err, size_t errsz)
{
    if (fn_pool_start(f, err, errsz) != 0)
        return -1;
    return fn_events_start(f, err, errsz);
}

void fn_shutdown(fn_t *f)
{
    if (f == NULL)
        return;
    fn_events_close(f);
    fn_pool_shutdown(f);
}

void fn_close(fn_t *f)
{
    if (f == NULL)
        return;
    f->closing = 1;
    fn_events_free(f);
    fn_pool_close(f);
    fn_registry_free(f);
    pthread_mutex_destroy(&f->lk);
    free(f->data_dir);
    free(f->region);
    free(f->account_id);
    free(f->endpoint);
    free(f->examples_dir);
    free(f->runtimes_dir);
    free(f->sdk_dir);
    free(f->node);
    free(f->python);
    free(f);
}
