/* main.c - the cloudlet command: flags, config, signals and wiring.
 *
 *   cloudlet serve [--listen HOST:PORT] [--data DIR] [--config FILE]
 *   cloudlet site deploy DIR [--data DIR] [--config FILE]
 *   cloudlet site rollback [--data DIR] [--config FILE]
 *
 * Kept thin on purpose (STYLE.md): every module is linkable into a test
 * without this file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <pthread.h>

#include "common/log.h"
#include "common/util.h"
#include "server/server.h"
#include "storage/storage.h"

#define SHUTDOWN_GRACE_MS 10000

static void usage(FILE *out)
{
    fprintf(out, "usage:\n"
                 "  cloudlet serve [--listen HOST:PORT] [--data DIR] [--config FILE]\n"
                 "  cloudlet site deploy DIR [--data DIR] [--config FILE]\n"
                 "  cloudlet site rollback [--data DIR] [--config FILE]\n"
                 "\n"
                 "defaults: --listen 127.0.0.1:8080 --data var; see README.md for cloudlet.json\n");
}

typedef struct options {
    const char *listen;
    const char *data;
    const char *config;
    const char *positional[2];
    int npositional;
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
    char err[300];
    server_t *srv = server_start(cfg, st, err, sizeof err);
    if (srv == NULL) {
        log_error("%s", err);
        log_stop();
        storage_close(st);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    log_info("received %s: finishing requests in flight", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server_stop(srv, SHUTDOWN_GRACE_MS);
    storage_close(st);
    log_info("stopped");
    log_stop();
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
    } else {
        usage(stderr);
        rc = 2;
    }
    config_free(&cfg);
    return rc;
}
