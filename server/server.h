/* server.h - cloudlet's HTTP front: configuration and the daemon.
 *
 * server/ owns the socket, the per-request lifecycle and the route table
 * (DESIGN.md, "Routing rule"); the modules own their handlers. main.c parses
 * flags, loads the config, opens storage and starts the daemon.
 */
#ifndef CLOUDLET_SERVER_H
#define CLOUDLET_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "functions/functions.h"
#include "storage/storage.h"
#include "sts/sts.h"

/* Every setting of cloudlet.json, with defaults applied. Strings are owned. */
typedef struct config {
    char *listen_host;     /* "127.0.0.1" */
    unsigned listen_port;  /* 8080 */
    char *data_dir;        /* "var" */
    char *region;          /* "us-east-1" */
    char *account_id;      /* "000000000000" */
    char *endpoint;        /* public URL; NULL = "http://<listen>" */
    unsigned threads;      /* 0 = number of cores */
    size_t max_body;       /* limits.maxBodyBytes: 128 MiB */
    size_t max_header;     /* limits.maxHeaderBytes: 16 KiB */
    unsigned max_conns;    /* limits.maxConnections: 1024 */
    unsigned idle_timeout; /* limits.idleTimeoutSeconds: 30 */
    size_t map_size;       /* storage.mapSizeMB: 16384 MiB */
    char *site_bucket;     /* site.bucket: "site" */
    char *index_doc;       /* site.indexDocument: "index.html" */
    char *error_doc;       /* site.errorDocument: NULL = none */
    int spa_fallback;      /* site.spaFallback: false */
    int access_log;        /* accessLog: true */
    struct json_t *user_pools; /* userPools: the raw array, validated by auth/; NULL = default pool */
    unsigned max_failed_user;  /* auth.maxFailedLoginsPerUser: 5 */
    unsigned max_failed_addr;  /* auth.maxFailedLoginsPerAddress: 20 */
    unsigned lockout_seconds;  /* auth.lockoutSeconds: 900 */
    struct json_t *roles;          /* roles: validated by sts/; NULL = the default role */
    struct json_t *identity_pools; /* identityPools: validated by sts/; NULL = default pool */
    unsigned sts_default_duration; /* sts.defaultDurationSeconds: 3600 */
    unsigned sts_min_duration;     /* sts.minDurationSeconds: 900 */
    struct json_t *functions;      /* functions: validated by functions/; NULL = none */
    unsigned fn_keep_warm;         /* lambda.keepWarmSeconds: 300 */
    unsigned fn_max_concurrency;   /* lambda.maxConcurrency: 16 */
    unsigned fn_event_retry_ms;    /* lambda.eventRetryMs: 1000 */
    char *fn_examples_dir;         /* lambda.examplesDir: NULL = <root>/functions/examples */
    char *fn_node;                 /* lambda.node, lambda.python: NULL = search */
    char *fn_python;
} config_t;

/* Fill *cfg with the defaults. */
void config_defaults(config_t *cfg);
/* Read `path` (cloudlet.json) over the defaults already in *cfg. On error
 * returns -1 and writes a message naming the file and the field into
 * err (size errsz); *cfg is then partly updated and must still be freed. */
int config_load(config_t *cfg, const char *path, char *err, size_t errsz);
/* Parse "HOST:PORT" into the config. Returns 0 or -1. */
int config_set_listen(config_t *cfg, const char *hostport);
/* Free the strings of a config (not the struct). */
void config_free(config_t *cfg);

typedef struct server server_t;

/* Start serving on cfg's address with storage `st`, identity `auth`, the
 * gate `sts` and the functions `fn` (all borrowed; they must outlive the
 * server; fn_shutdown must come before server_stop). Returns NULL with
 * a message in err on failure. */
server_t *server_start(const config_t *cfg, storage_t *st, auth_t *auth, sts_t *sts, fn_t *fn,
                       char *err, size_t errsz);
/* Stop accepting, wait up to grace_ms for requests in flight, then stop the
 * daemon and free the server. Accepts NULL. */
void server_stop(server_t *srv, unsigned grace_ms);

#endif
