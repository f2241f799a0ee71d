/* config.c - cloudlet.json: defaults, loading and validation.
 *
 * A config that cloudlet would misread is refused at start, with the field
 * named, rather than half-applied: unknown fields are errors (they are
 * usually typos), and so are wrong types and out-of-range values.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"

void config_defaults(config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_host = xstrdup("127.0.0.1");
    cfg->listen_port = 8080;
    cfg->data_dir = xstrdup("var");
    cfg->region = xstrdup("us-east-1");
    cfg->account_id = xstrdup("000000000000");
    cfg->endpoint = NULL;
    cfg->threads = 0;
    cfg->max_body = (size_t)128 << 20;
    cfg->max_header = (size_t)16 << 10;
    cfg->max_conns = 1024;
    cfg->idle_timeout = 30;
    cfg->map_size = (size_t)16384 << 20;
    cfg->site_bucket = xstrdup("site");
    cfg->index_doc = xstrdup("index.html");
    cfg->error_doc = NULL;
    cfg->spa_fallback = 0;
    cfg->access_log = 1;
    cfg->user_pools = NULL;
    cfg->max_failed_user = 5;
    cfg->max_failed_addr = 20;
    cfg->lockout_seconds = 900;
    cfg->roles = NULL;
    cfg->identity_pools = NULL;
    cfg->sts_default_duration = 3600;
    cfg->fn_keep_warm = 300;
    cfg->fn_max_concurrency = 16;
    cfg->fn_event_retry_ms = 1000;
    cfg->sts_min_duration = 900;
}

void config_free(config_t *cfg)
{
    free(cfg->listen_host);
    free(cfg->data_dir);
    free(cfg->region);
    free(cfg->account_id);
    free(cfg->endpoint);
    free(cfg->site_bucket);
    free(cfg->index_doc);
    free(cfg->error_doc);
    json_decref(cfg->user_pools);
    json_decref(cfg->roles);
    json_decref(cfg->identity_pools);
    json_decref(cfg->functions);
    free(cfg->fn_examples_dir);
    free(cfg->fn_node);
    free(cfg->fn_python);
    memset(cfg, 0, sizeof *cfg);
}

int config_set_listen(config_t *cfg, const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL || colon == hostport)
        return -1;
    /* The port is 1-5 plain digits: strtoul alone would take " 80" and "+80". */
    size_t digits = strspn(colon + 1, "0123456789");
    if (digits == 0 || digits > 5 || colon[1 + digits] != '\0')
        return -1;
    unsigned long port = strtoul(colon + 1, NULL, 10);
    if (port == 0 || port > 65535)
        return -1;
    const char *host = hostport;
    size_t hlen = (size_t)(colon - hostport);
    /* "[::1]:8080"; a bracket anywhere else is malformed. */
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    if (hlen == 0 || memchr(host, '[', hlen) != NULL || memchr(host, ']', hlen) != NULL ||
        memchr(host, ' ', hlen) != NULL)
        return -1;
    free(cfg->listen_host);
    cfg->listen_host = xstrndup(host, hlen);
    cfg->listen_port = (unsigned)port;
    return 0;
}

/* The kinds of value a field may hold, and where it goes. */
typedef enum { F_STRING, F_OPT_STRING, F_UINT, F_SIZE_MB, F_BOOL, F_LISTEN, F_ARRAY } ftype_t;

typedef struct field {
    const char *name;
    ftype_t type;
    size_t offset;
    uint64_t min, max; /* inclusive, for numbers */
} field_t;

#define OFF(m) offsetof(config_t, m)

static const field_t top_fields[] = {
    {"listen", F_LISTEN, 0, 0, 0},
    {"dataDir", F_STRING, OFF(data_dir), 0, 0},
    {"region", F_STRING, OFF(region), 0, 0},
    {"accountId", F_STRING, OFF(account_id), 0, 0},
    {"endpoint", F_OPT_STRING, OFF(endpoint), 0, 0},
    {"threads", F_UINT, OFF(threads), 0, 256},
    {"accessLog", F_BOOL, OFF(access_log), 0, 0},
    {"userPools", F_ARRAY, OFF(user_pools), 0, 0},
    {"roles", F_ARRAY, OFF(roles), 0, 0},
    {"identityPools", F_ARRAY, OFF(identity_pools), 0, 0},
    {"functions", F_ARRAY, OFF(functions), 0, 0},
    {NULL, 0, 0, 0, 0},
};

static const field_t lambda_fields[] = {
    {"keepWarmSeconds", F_UINT, OFF(fn_keep_warm), 1, 86400},
    {"maxConcurrency", F_UINT, OFF(fn_max_concurrency), 1, 1000},
    {"eventRetryMs", F_UINT, OFF(fn_event_retry_ms), 1, 3600000},
    {"examplesDir", F_OPT_STRING, OFF(fn_examples_dir), 0, 0},
    {"node", F_OPT_STRING, OFF(fn_node), 0, 0},
    {"python", F_OPT_STRING, OFF(fn_python), 0, 0},
    {NULL, 0, 0, 0, 0},
};

static const field_t sts_fields[] = {
    {"defaultDurationSeconds", F_UINT, OFF(sts_default_duration), 1, 43200},
    {"minDurationSeconds", F_UINT, OFF(sts_min_duration), 1, 43200},
    {NULL, 0, 0, 0, 0},
};

static const field_t auth_fields[] = {
    {"maxFailedLoginsPerUser", F_UINT, OFF(max_failed_user), 1, 1000000000},
    {"maxFailedLoginsPerAddress", F_UINT, OFF(max_failed_addr), 1, 1000000000},
    {"lockoutSeconds", F_UINT, OFF(lockout_seconds), 1, 86400 * 7},
    {NULL, 0, 0, 0, 0},
};

static const field_t limit_fields[] = {
    {"maxBodyBytes", F_UINT, OFF(max_body), 1, (uint64_t)64 << 30},
    {"maxHeaderBytes", F_UINT, OFF(max_header), 1024, (uint64_t)1 << 20},
    {"maxConnections", F_UINT, OFF(max_conns), 1, 100000},
    {"idleTimeoutSeconds", F_UINT, OFF(idle_timeout), 1, 86400},
    {NULL, 0, 0, 0, 0},
};

static const field_t storage_fields[] = {
    {"mapSizeMB", F_SIZE_MB, OFF(map_size), 1, (uint64_t)1 << 24},
    {NULL, 0, 0, 0, 0},
};

static const field_t site_fields[] = {
    {"bucket", F_STRING, OFF(site_bucket), 0, 0},
    {"indexDocument", F_STRING, OFF(index_doc), 0, 0},
    {"errorDocument", F_OPT_STRING, OFF(error_doc), 0, 0},
    {"spaFallback", F_BOOL, OFF(spa_fallback), 0, 0},
    {NULL, 0, 0, 0, 0},
};

/* Sections: objects at the top level, each with its own fields. */
static const struct {
    const char *name;
    const field_t *fields;
} sections[] = {
    {"limits", limit_fields},
    {"storage", storage_fields},
    {"site", site_fields},
    {"auth", auth_fields},
    {"sts", sts_fields},
    {"lambda", lambda_fields},
    {NULL, NULL},
};

/* Apply one field's JSON value to cfg, or describe what is wrong with it. */
static int apply_field(config_t *cfg, const field_t *f, const char *path, json_t *v, char *err,
                       size_t errsz)
{
    char *base = (char *)cfg;
    switch (f->type) {
    case F_STRING:
    case F_OPT_STRING: {
        if (f->type == F_OPT_STRING && json_is_null(v)) {
            char **slot = (char **)(base + f->offset);
            free(*slot);
            *slot = NULL;
            return 0;
        }
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 4096) {
            snprintf(err, errsz, "field '%s' must be a non-empty string", path);
            return -1;
        }
        char **slot = (char **)(base + f->offset);
        free(*slot);
        *slot = xstrdup(json_string_value(v));
        return 0;
    }
    case F_UINT:
    case F_SIZE_MB: {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (uint64_t)json_integer_value(v) < f->min || (uint64_t)json_integer_value(v) > f->max) {
            snprintf(err, errsz, "field '%s' must be an integer from %llu to %llu", path,
                     (unsigned long long)f->min, (unsigned long long)f->max);
            return -1;
        }
        uint64_t n = (uint64_t)json_integer_value(v);
        if (f->type == F_SIZE_MB)
            *(size_t *)(base + f->offset) = (size_t)n << 20;
        else if (f->offset == OFF(max_body) || f->offset == OFF(max_header))
            *(size_t *)(base + f->offset) = (size_t)n;
        else
            *(unsigned *)(base + f->offset) = (unsigned)n;
        return 0;
    }
    case F_BOOL:
        if (!json_is_boolean(v)) {
            snprintf(err, errsz, "field '%s' must be true or false", path);
            return -1;
        }
        *(int *)(base + f->offset) = json_is_true(v);
        return 0;
    case F_ARRAY: {
        /* Validated field by field by the module that owns it (auth/ for userPools). */
        json_t **slot = (json_t **)(base + f->offset);
        if (json_is_null(v)) {
            json_decref(*slot);
            *slot = NULL;
            return 0;
        }
        if (!json_is_array(v)) {
            snprintf(err, errsz, "field '%s' must be an array", path);
            return -1;
        }
        json_decref(*slot);
        *slot = json_incref(v);
        return 0;
    }
    case F_LISTEN:
        if (!json_is_string(v) || config_set_listen(cfg, json_string_value(v)) != 0) {
            snprintf(err, errsz, "field '%s' must be \"HOST:PORT\"", path);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* Apply every member of object `obj` using the field table, refusing unknown names. */
static int apply_object(config_t *cfg, json_t *obj, const char *prefix, const field_t *fields,
                        char *err, size_t errsz)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", key);
        const field_t *f = fields;
        while (f->name != NULL && strcmp(f->name, key) != 0)
            f++;
        if (f->name != NULL) {
            if (apply_field(cfg, f, path, v, err, errsz) != 0)
                return -1;
            continue;
        }
        if (prefix[0] != '\0') {
            snprintf(err, errsz, "field '%s' is not a known setting", path);
            return -1;
        }
        int s = 0;
        while (sections[s].name != NULL && strcmp(sections[s].name, key) != 0)
            s++;
        if (sections[s].name == NULL) {
            snprintf(err, errsz, "field '%s' is not a known setting", path);
            return -1;
        }
        if (!json_is_object(v)) {
            snprintf(err, errsz, "field '%s' must be an object", path);
            return -1;
        }
        if (apply_object(cfg, v, key, sections[s].fields, err, errsz) != 0)
            return -1;
    }
    return 0;
}

int config_load(config_t *cfg, const char *path, char *err, size_t errsz)
{
    json_error_t jerr;
    char msg[512];
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errsz, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root)) {
        snprintf(err, errsz, "%s: the top level must be a JSON object", path);
        goto err;
    }
    if (apply_object(cfg, root, "", top_fields, msg, sizeof msg) != 0) {
        snprintf(err, errsz, "%s: %s", path, msg);
        goto err;
    }
    if (!storage_bucket_name_valid(cfg->site_bucket)) {
        snprintf(err, errsz, "%s: field 'site.bucket' is not a valid bucket name", path);
        goto err;
    }
    if (strchr(cfg->index_doc, '/') != NULL) {
        snprintf(err, errsz, "%s: field 'site.indexDocument' must not contain '/'", path);
        goto err;
    }
    rc = 0;
err:
    json_decref(root);
    return rc;
}
