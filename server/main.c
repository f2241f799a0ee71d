/* main.c - the cloudlet command: flags, config, signals and wiring.
 *
 *   cloudlet serve [--listen HOST:PORT] [--data DIR] [--config FILE]
 *   cloudlet site deploy DIR [--data DIR] [--config FILE]
 *   cloudlet site rollback [--data DIR] [--config FILE]
 *   cloudlet outbox [--data DIR] [--config FILE] [--json]
 *   cloudlet rotate-session-key [--data DIR]
 *
 * Kept thin on purpose (STYLE.md): every module is linkable into a test
 * without this file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/util.h"
#include "functions/functions.h"
#include "sts/sts.h"
#include "server/server.h"
#include "storage/storage.h"

#define SHUTDOWN_GRACE_MS 10000

static void usage(FILE *out)
{
    fprintf(out, "usage:\n"
                 "  cloudlet serve [--listen HOST:PORT] [--data DIR] [--config FILE]\n"
                 "  cloudlet site deploy DIR [--data DIR] [--config FILE]\n"
                 "  cloudlet site rollback [--data DIR] [--config FILE]\n"
                 "  cloudlet outbox [--data DIR] [--config FILE] [--json]\n"
                 "  cloudlet rotate-session-key [--data DIR]\n"
                 "\n"
                 "defaults: --listen 127.0.0.1:8080 --data var; see README.md for cloudlet.json\n");
}

typedef struct options {
    const char *listen;
    const char *data;
    const char *config;
    const char *positional[2];
    int npositional;
    int json;
} options_t;

/* Parse flags after the command words. Returns 0, or -1 after printing why. */
static int parse_flags(int argc, char **argv, options_t *o)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--listen") == 0)
            slot = &o->listen;
        else if (strcmp(a, "--data") == 0)
            slot = &o->data;
        else if (strcmp(a, "--config") == 0)
            slot = &o->config;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (slot != NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cloudlet: %s needs a value\n", a);
                return -1;
            }
            *slot = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "cloudlet: unknown flag %s\n", a);
            return -1;
        } else if (o->npositional < 2) {
            o->positional[o->npositional++] = a;
        } else {
            fprintf(stderr, "cloudlet: unexpected argument %s\n", a);
            return -1;
        }
    }
    return 0;
}

/* Build the effective config: defaults, then the file, then the flags. */
static int load_config(const options_t *o, config_t *cfg)
{
    char err[600];
    config_defaults(cfg);
    if (o->config != NULL && config_load(cfg, o->config, err, sizeof err) != 0) {
        fprintf(stderr, "cloudlet: bad config: %s\n", err);
        return -1;
    }
    if (o->listen != NULL && config_set_listen(cfg, o->listen) != 0) {
        fprintf(stderr, "cloudlet: --listen wants HOST:PORT, got '%s'\n", o->listen);
        return -1;
    }
    if (o->data != NULL) {
        free(cfg->data_dir);
        cfg->data_dir = xstrdup(o->data);
    }
    return 0;
}

static int open_storage(const config_t *cfg, storage_t **st)
{
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cloudlet: cannot create data folder %s: %s\n", cfg->data_dir,
                strerror(errno));
        return -1;
    }
    storage_options_t so = {.map_size = cfg->map_size, .max_readers = cfg->max_conns + 64};
    int rc = storage_open(st, cfg->data_dir, &so);
    if (rc != 0) {
        fprintf(stderr, "cloudlet: cannot open the store in %s: %s\n", cfg->data_dir,
                storage_strerror(rc));
        return -1;
    }
    return 0;
}

/* Allow as many open files as the hard limit permits: each connection is one. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The checkout cloudlet runs from: build/cloudlet's grandparent, where
 * functions/runtimes and node_modules are; else the working directory. */
static void project_root(char *out, size_t n)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(exe, '/');
            if (slash != NULL)
                *slash = '\0';
        }
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/functions/runtimes", exe);
        if (access(probe, F_OK) == 0) {
            snprintf(out, n, "%s", exe);
            return;
        }
    }
    snprintf(out, n, ".");
}

static int open_functions(const config_t *cfg, storage_t *st, sts_t *sts, fn_t **fn, char *err,
                          size_t errsz)
{
    char root[4096], examples[4200], runtimes[4200], sdk[4200], endpoint[300];
    project_root(root, sizeof root);
    snprintf(examples, sizeof examples, "%s/functions/examples", root);
    snprintf(runtimes, sizeof runtimes, "%s/functions/runtimes", root);
    snprintf(sdk, sizeof sdk, "%s/node_modules", root);
    if (cfg->endpoint != NULL)
        snprintf(endpoint, sizeof endpoint, "%s", cfg->endpoint);
    else if (strchr(cfg->listen_host, ':') != NULL)
        snprintf(endpoint, sizeof endpoint, "http://[%s]:%u", cfg->listen_host, cfg->listen_port);
    else
        snprintf(endpoint, sizeof endpoint, "http://%s:%u", cfg->listen_host, cfg->listen_port);
    fn_options_t fo = {0};
    fn_default_options(&fo);
    fo.st = st;
    fo.sts = sts;
    fo.data_dir = cfg->data_dir;
    fo.region = cfg->region;
    fo.account_id = cfg->account_id;
    fo.endpoint = endpoint;
    fo.examples_dir = cfg->fn_examples_dir != NULL ? cfg->fn_examples_dir : examples;
    fo.runtimes_dir = runtimes;
    fo.sdk_dir = access(sdk, F_OK) == 0 ? sdk : NULL;
    fo.functions = cfg->functions;
    fo.node = cfg->fn_node;
    fo.python = cfg->fn_python;
    fo.keep_warm_seconds = cfg->fn_keep_warm;
    fo.max_concurrency = cfg->fn_max_concurrency;
    fo.event_retry_ms = cfg->fn_event_retry_ms;
    return fn_open(fn, &fo, err, errsz);
}

static int cmd_serve(const config_t *cfg)
{
    /* Block the stop signals in every thread; this one waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    storage_t *st;
    if (open_storage(cfg, &st) != 0)
        return 1;
    log_start();
    char err[600], path[4096];
    int rc = 1;
    seal_key_t key, session_key, previous;
    int have_previous = 0;
    sts_t *sts = NULL;
    auth_t *auth = NULL;
    server_t *srv = NULL;
    fn_t *fn = NULL;
    snprintf(path, sizeof path, "%s/server-key", cfg->data_dir);
    if (seal_key_load(path, &key, err, sizeof err) != 0)
        goto out;
    auth_options_t ao = {cfg->region,          cfg->account_id,     cfg->user_pools,
                         &key,                 cfg->max_failed_user, cfg->max_failed_addr,
                         cfg->lockout_seconds};
    if (auth_open(&auth, st, &ao, err, sizeof err) != 0)
        goto out;
    /* Session tokens have their own key so that it can be rotated without
     * touching what the server key seals at rest. */
    snprintf(path, sizeof path, "%s/session-key", cfg->data_dir);
    if (seal_key_load(path, &session_key, err, sizeof err) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/session-key.previous", cfg->data_dir);
    have_previous = access(path, F_OK) == 0;
    if (have_previous && seal_key_load(path, &previous, err, sizeof err) != 0)
        goto out;
    sts_options_t so = {.data_dir = cfg->data_dir,
                        .region = cfg->region,
                        .account_id = cfg->account_id,
                        .st = st,
                        .auth = auth,
                        .key = &session_key,
                        .previous_key = have_previous ? &previous : NULL,
                        .roles = cfg->roles,
                        .identity_pools = cfg->identity_pools,
                        .default_duration = cfg->sts_default_duration,
                        .min_duration = cfg->sts_min_duration};
    if (sts_open(&sts, &so, err, sizeof err) != 0)
        goto out;
    log_info("root credentials: access key %s from %s", sts_root_access_key_id(sts),
             sts_root_source(sts));
    /* Function instances run on this machine: the root secret must not stay
     * readable in /proc/<pid>/environ (which shows the original bytes), and
     * the process is made non-dumpable, so that only a process with
     * CAP_SYS_PTRACE may read its memory or environment at all. */
    char *secret = getenv("CLOUDLET_ROOT_SECRET_ACCESS_KEY");
    if (secret != NULL)
        OPENSSL_cleanse(secret, strlen(secret));
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* The default role gives each user a folder of bucket `uploads`: make
     * sure the bucket is there (the client app's "My files"). */
    if (cfg->roles == NULL && storage_bucket_create(st, "uploads") == 0)
        log_info("created bucket uploads");
    if (open_functions(cfg, st, sts, &fn, err, sizeof err) != 0)
        goto out;
    srv = server_start(cfg, st, auth, sts, fn, err, sizeof err);
    if (srv == NULL || fn_start(fn, err, sizeof err) != 0)
        goto out;
    int sig = 0;
    sigwait(&stop, &sig);
    log_info("received %s: finishing requests in flight", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* Invokes wait on suspended connections: answer them first. */
    fn_shutdown(fn);
    server_stop(srv, SHUTDOWN_GRACE_MS);
    srv = NULL;
    log_info("stopped");
    rc = 0;
out:
    if (rc != 0)
        log_error("%s", err);
    fn_shutdown(fn);
    server_stop(srv, SHUTDOWN_GRACE_MS);
    fn_close(fn);
    sts_close(sts);
    auth_close(auth);
    seal_key_wipe(&key);
    seal_key_wipe(&session_key);
    seal_key_wipe(&previous);
    storage_close(st);
    log_stop();
    return rc;
}

/* Make a new session-token key; the old one becomes session-key.previous and
 * still opens the tokens it sealed (the grace period lasts until the next
 * rotation). A running server picks the keys up when it restarts. */
static int cmd_rotate_session_key(const config_t *cfg)
{
    char cur[4096], prev[4200], err[600];
    seal_key_t k;
    snprintf(cur, sizeof cur, "%s/session-key", cfg->data_dir);
    snprintf(prev, sizeof prev, "%s/session-key.previous", cfg->data_dir);
    if (access(cur, F_OK) == 0 && rename(cur, prev) != 0) {
        fprintf(stderr, "cloudlet: cannot move %s: %s\n", cur, strerror(errno));
        return 1;
    }
    if (seal_key_load(cur, &k, err, sizeof err) != 0) {
        fprintf(stderr, "cloudlet: %s\n", err);
        return 1;
    }
    seal_key_wipe(&k);
    printf("new session-token key in %s; the previous one still opens tokens until the next "
           "rotation. Restart the server to use it.\n",
           cur);
    return 0;
}

static int cmd_outbox(const config_t *cfg, const options_t *o)
{
    storage_t *st;
    if (o->npositional != 0) {
        usage(stderr);
        return 2;
    }
    if (open_storage(cfg, &st) != 0)
        return 1;
    int n = auth_outbox_print(st, stdout, o->json, 50);
    storage_close(st);
    if (n < 0) {
        fprintf(stderr, "cloudlet: cannot read the outbox: %s\n", storage_strerror(n));
        return 1;
    }
    if (n == 0 && !o->json)
        printf("the outbox is empty\n");
    return 0;
}

static int cmd_site(const config_t *cfg, const options_t *o)
{
    const char *verb = o->positional[0];
    storage_t *st;
    char err[600];
    uint32_t version = 0;
    int rc;
    if (verb != NULL && strcmp(verb, "deploy") == 0 && o->npositional == 2) {
        if (open_storage(cfg, &st) != 0)
            return 1;
        size_t files = 0;
        rc = storage_site_deploy_dir(st, cfg->site_bucket, o->positional[1], &version, &files,
                                     err, sizeof err);
        storage_close(st);
        if (rc != 0) {
            fprintf(stderr, "cloudlet: deploy failed, the site is unchanged: %s\n", err);
            return 1;
        }
        printf("deployed %zu files from %s to bucket %s (version %u)\n", files,
               o->positional[1], cfg->site_bucket, version);
        return 0;
    }
    if (verb != NULL && strcmp(verb, "rollback") == 0 && o->npositional == 1) {
        if (open_storage(cfg, &st) != 0)
            return 1;
        rc = storage_bucket_rollback(st, cfg->site_bucket, &version);
        storage_close(st);
        if (rc != 0) {
            fprintf(stderr, "cloudlet: rollback failed: %s\n", storage_strerror(rc));
            return 1;
        }
        printf("bucket %s rolled back (version %u)\n", cfg->site_bucket, version);
        return 0;
    }
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    options_t o;
    memset(&o, 0, sizeof o);
    if (parse_flags(argc - 2, argv + 2, &o) != 0)
        return 2;
    config_t cfg;
    if (load_config(&o, &cfg) != 0) {
        config_free(&cfg);
        return 1;
    }
    int rc;
    if (strcmp(cmd, "serve") == 0 && o.npositional == 0) {
        rc = cmd_serve(&cfg);
    } else if (strcmp(cmd, "site") == 0) {
        rc = cmd_site(&cfg, &o);
    } else if (strcmp(cmd, "outbox") == 0) {
        rc = cmd_outbox(&cfg, &o);
    } else if (strcmp(cmd, "rotate-session-key") == 0 && o.npositional == 0) {
        rc = cmd_rotate_session_key(&cfg);
    } else {
        usage(stderr);
        rc = 2;
    }
    config_free(&cfg);
    return rc;
}
