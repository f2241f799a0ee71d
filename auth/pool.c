/* pool.c - user pools and their app clients.
 *
 * Pools come from three places: cloudlet.json ("userPools", read at start
 * and never stored), CreateUserPool (stored in the "pools" table), and the
 * default pool, made at first start when the config declares none and kept
 * like an API pool, so its ids survive restarts. App clients made with
 * CreateUserPoolClient are stored in "clients", for any pool. Each pool has
 * an RSA signing key, generated once and kept in "keys".
 *
 * The in-memory tables are append-only (pools and clients are never
 * deleted), so request threads read them without a lock.
 */
#include "auth/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/util.h"

#define T_POOLS "pools"
#define T_CLIENTS "clients"
#define T_KEYS "keys"
#define T_META "auth-meta"

/* ---- ids ---- */

static void random_chars(char *out, size_t n, const char *alphabet)
{
    size_t m = strlen(alphabet);
    unsigned char r[128];
    util_random(r, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[r[i] % m]; /* slight bias is harmless for ids */
    out[n] = '\0';
}

/* "<region>_<9 alphanumerics>", the form Cognito uses. */
static void new_pool_id(const auth_t *a, char out[AUTH_POOL_ID_MAX + 1])
{
    char suffix[10];
    random_chars(suffix, 9, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    snprintf(out, AUTH_POOL_ID_MAX + 1, "%s_%s", a->region, suffix);
}

static int pool_id_valid(const char *id)
{
    size_t n = strlen(id);
    const char *us = strrchr(id, '_');
    if (n == 0 || n > AUTH_POOL_ID_MAX || us == NULL || us == id || us[1] == '\0')
        return 0;
    for (const char *p = id; p < us; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return 0;
    }
    for (const char *p = us + 1; *p; p++) {
        if (!isalnum((unsigned char)*p))
            return 0;
    }
    return 1;
}

static int client_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > AUTH_CLIENT_ID_MAX)
        return 0;
    for (const char *p = id; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '+')
            return 0;
    }
    return 1;
}

/* ---- lookup ---- */

auth_pool_t *auth_pool_find(auth_t *a, const char *id)
{
    int n = atomic_load_explicit(&a->npools, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        if (strcmp(a->pools[i]->id, id) == 0)
            return a->pools[i];
    }
    return NULL;
}

auth_client_t *auth_client_find(auth_pool_t *p, const char *id)
{
    int n = atomic_load_explicit(&p->nclients, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        if (strcmp(p->clients[i]->id, id) == 0)
            return p->clients[i];
    }
    return NULL;
}

auth_client_t *auth_client_lookup(auth_t *a, const char *client_id, auth_pool_t **pool_out)
{
    int n = atomic_load_explicit(&a->npools, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        auth_client_t *c = auth_client_find(a->pools[i], client_id);
        if (c != NULL) {
            *pool_out = a->pools[i];
            return c;
        }
    }
    return NULL;
}

int auth_pool_wants_srp(auth_pool_t *p)
{
    int n = atomic_load_explicit(&p->nclients, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        if (p->clients[i]->flows & FLOW_SRP)
            return 1;
    }
    return 0;
}

static void add_client(auth_pool_t *p, auth_client_t *c)
{
    int n = atomic_load_explicit(&p->nclients, memory_order_relaxed);
    p->clients[n] = c;
    atomic_store_explicit(&p->nclients, n + 1, memory_order_release);
}

static void add_pool(auth_t *a, auth_pool_t *p)
{
    int n = atomic_load_explicit(&a->npools, memory_order_relaxed);
    a->pools[n] = p;
    atomic_store_explicit(&a->npools, n + 1, memory_order_release);
}

static void client_free(auth_client_t *c)
{
    if (c == NULL)
        return;
    if (c->secret != NULL) {
        OPENSSL_cleanse(c->secret, strlen(c->secret));
        free(c->secret);
    }
    free(c);
}

static void pool_free(auth_pool_t *p)
{
    if (p == NULL)
        return;
    int n = atomic_load(&p->nclients);
    for (int i = 0; i < n; i++)
        client_free(p->clients[i]);
    auth_key_free(p->key);
    free(p->issuer);
    free(p);
}

void auth_pools_free(auth_t *a)
{
    int n = atomic_load(&a->npools);
    for (int i = 0; i < n; i++)
        pool_free(a->pools[i]);
    atomic_store(&a->npools, 0);
}

static auth_pool_t *pool_new(auth_t *a, const char *id, const char *name)
{
    auth_pool_t *p = xcalloc(1, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    p->suffix = strrchr(p->id, '_') + 1;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->issuer = xasprintf("https://cognito-idp.%s.amazonaws.com/%s", a->region, p->id);
    p->min_length = 8;
    p->req_upper = p->req_lower = p->req_digits = 1;
    p->req_symbols = 0;
    p->created_ms = util_now_ms();
    atomic_init(&p->nclients, 0);
    return p;
}

static auth_client_t *client_new(const char *id, const char *name)
{
    auth_client_t *c = xcalloc(1, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->flows = FLOW_SRP | FLOW_PASSWORD | FLOW_REFRESH;
    c->prevent_existence = 1;
    c->id_validity = 3600;
    c->access_validity = 3600;
    c->refresh_validity = 30 * 86400;
    c->created_ms = util_now_ms();
    return c;
}

/* ---- flows ---- */

static const struct {
    const char *name;
    unsigned flag;
} flow_names[] = {
    {"ALLOW_USER_SRP_AUTH", FLOW_SRP},
    {"ALLOW_USER_PASSWORD_AUTH", FLOW_PASSWORD},
    {"ALLOW_REFRESH_TOKEN_AUTH", FLOW_REFRESH},
    {"ALLOW_ADMIN_USER_PASSWORD_AUTH", FLOW_ADMIN_PASSWORD},
    {"ALLOW_CUSTOM_AUTH", FLOW_CUSTOM},
    /* The legacy names, as the API still accepts them. */
    {"USER_PASSWORD_AUTH", FLOW_PASSWORD},
    {"ADMIN_NO_SRP_AUTH", FLOW_ADMIN_PASSWORD},
    {"CUSTOM_AUTH_FLOW_ONLY", FLOW_CUSTOM},
};

/* Parse an array of flow names into flags. Returns -1 naming the bad entry. */
static int parse_flows(const json_t *arr, unsigned *out, char *bad, size_t badsz)
{
    if (!json_is_array(arr))
        return -1;
    unsigned flags = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        size_t k = 0, nf = sizeof flow_names / sizeof flow_names[0];
        while (k < nf && !(json_is_string(v) && strcmp(json_string_value(v), flow_names[k].name) == 0))
            k++;
        if (k == nf) {
            snprintf(bad, badsz, "%s", json_is_string(v) ? json_string_value(v) : "(not a string)");
            return -1;
        }
        flags |= flow_names[k].flag;
    }
    *out = flags;
    return 0;
}

static json_t *flows_json(unsigned flows)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < 5; k++) {
        if (flows & flow_names[k].flag)
            json_array_append_new(arr, json_string(flow_names[k].name));
    }
    return arr;
}

/* ---- cloudlet.json ---- */

/* Check that every member of obj is one of the allowed names. */
static int only_fields(const json_t *obj, const char *const *allowed, const char *where, char *err,
                       size_t errsz)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        int ok = 0;
        for (const char *const *f = allowed; *f; f++)
            ok |= strcmp(*f, key) == 0;
        if (!ok) {
            snprintf(err, errsz, "field '%s.%s' is not a known setting", where, key);
            return -1;
        }
    }
    return 0;
}

static int cfg_bool(const json_t *obj, const char *name, int *out, const char *where, char *err,
                    size_t errsz)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v)) {
        snprintf(err, errsz, "field '%s.%s' must be true or false", where, name);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int cfg_int(const json_t *obj, const char *name, int64_t lo, int64_t hi, int64_t *out,
                   const char *where, char *err, size_t errsz)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errsz, "field '%s.%s' must be an integer from %lld to %lld", where, name,
                 (long long)lo, (long long)hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int cfg_str(const json_t *obj, const char *name, size_t maxlen, const char **out,
                   const char *where, char *err, size_t errsz)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > maxlen) {
        snprintf(err, errsz, "field '%s.%s' must be a string of 1 to %zu characters", where, name,
                 maxlen);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int policy_from_config(auth_pool_t *p, const json_t *pol, const char *where, char *err,
                              size_t errsz)
{
    static const char *const fields[] = {"minimumLength", "requireUppercase", "requireLowercase",
                                         "requireNumbers", "requireSymbols", NULL};
    if (!json_is_object(pol)) {
        snprintf(err, errsz, "field '%s' must be an object", where);
        return -1;
    }
    int64_t min = p->min_length;
    if (only_fields(pol, fields, where, err, errsz) != 0 ||
        cfg_int(pol, "minimumLength", 6, 99, &min, where, err, errsz) != 0 ||
        cfg_bool(pol, "requireUppercase", &p->req_upper, where, err, errsz) != 0 ||
        cfg_bool(pol, "requireLowercase", &p->req_lower, where, err, errsz) != 0 ||
        cfg_bool(pol, "requireNumbers", &p->req_digits, where, err, errsz) != 0 ||
        cfg_bool(pol, "requireSymbols", &p->req_symbols, where, err, errsz) != 0)
        return -1;
    p->min_length = (unsigned)min;
    return 0;
}

static auth_client_t *client_from_config(const json_t *c, const char *where, char *err,
                                         size_t errsz)
{
    static const char *const fields[] = {
        "id", "name", "secret", "authFlows", "preventUserExistenceErrors",
        "idTokenValiditySeconds", "accessTokenValiditySeconds", "refreshTokenValiditySeconds",
        NULL};
    if (!json_is_object(c)) {
        snprintf(err, errsz, "field '%s' must be an object", where);
        return NULL;
    }
    const char *id = NULL, *name = NULL, *secret = NULL;
    if (only_fields(c, fields, where, err, errsz) != 0 ||
        cfg_str(c, "id", AUTH_CLIENT_ID_MAX, &id, where, err, errsz) != 0 ||
        cfg_str(c, "name", AUTH_NAME_MAX, &name, where, err, errsz) != 0 ||
        cfg_str(c, "secret", 256, &secret, where, err, errsz) != 0)
        return NULL;
    if (id == NULL || !client_id_valid(id)) {
        snprintf(err, errsz, "field '%s.id' must be 1-128 characters of [A-Za-z0-9_+]", where);
        return NULL;
    }
    auth_client_t *cl = client_new(id, name ? name : id);
    if (secret != NULL)
        cl->secret = xstrdup(secret);
    const json_t *flows = json_object_get(c, "authFlows");
    char bad[64];
    if (flows != NULL && parse_flows(flows, &cl->flows, bad, sizeof bad) != 0) {
        snprintf(err, errsz, "field '%s.authFlows' must be an array of ALLOW_* flow names",
                 where);
        goto err;
    }
    if (cfg_bool(c, "preventUserExistenceErrors", &cl->prevent_existence, where, err, errsz) !=
            0 ||
        cfg_int(c, "idTokenValiditySeconds", 1, 86400, &cl->id_validity, where, err, errsz) != 0 ||
        cfg_int(c, "accessTokenValiditySeconds", 1, 86400, &cl->access_validity, where, err,
                errsz) != 0 ||
        cfg_int(c, "refreshTokenValiditySeconds", 60, 315360000, &cl->refresh_validity, where,
                err, errsz) != 0)
        goto err;
    return cl;
err:
    client_free(cl);
    return NULL;
}

static auth_pool_t *pool_from_config(auth_t *a, const json_t *pc, const char *where, char *err,
                                     size_t errsz)
{
    static const char *const fields[] = {"id",     "name",           "autoConfirm",
                                         "issuer", "passwordPolicy", "clients", NULL};
    if (!json_is_object(pc)) {
        snprintf(err, errsz, "field '%s' must be an object", where);
        return NULL;
    }
    const char *id = NULL, *name = NULL, *issuer = NULL;
    if (only_fields(pc, fields, where, err, errsz) != 0 ||
        cfg_str(pc, "id", AUTH_POOL_ID_MAX, &id, where, err, errsz) != 0 ||
        cfg_str(pc, "name", AUTH_NAME_MAX, &name, where, err, errsz) != 0 ||
        cfg_str(pc, "issuer", 256, &issuer, where, err, errsz) != 0)
        return NULL;
    if (id == NULL || !pool_id_valid(id)) {
        snprintf(err, errsz, "field '%s.id' must look like \"%s_AbC123\"", where, a->region);
        return NULL;
    }
    if (auth_pool_find(a, id) != NULL) {
        snprintf(err, errsz, "field '%s.id': pool %s is declared twice", where, id);
        return NULL;
    }
    auth_pool_t *p = pool_new(a, id, name ? name : id);
    p->from_config = 1;
    if (issuer != NULL) {
        free(p->issuer);
        p->issuer = xstrdup(issuer);
    }
    char sub[300];
    const json_t *pol = json_object_get(pc, "passwordPolicy");
    snprintf(sub, sizeof sub, "%s.passwordPolicy", where);
    if (cfg_bool(pc, "autoConfirm", &p->auto_confirm, where, err, errsz) != 0 ||
        (pol != NULL && policy_from_config(p, pol, sub, err, errsz) != 0))
        goto err;
    const json_t *clients = json_object_get(pc, "clients");
    if (clients != NULL && (!json_is_array(clients) || json_array_size(clients) > AUTH_MAX_CLIENTS)) {
        snprintf(err, errsz, "field '%s.clients' must be an array of at most %d clients", where,
                 AUTH_MAX_CLIENTS);
        goto err;
    }
    size_t i;
    const json_t *c;
    json_array_foreach((json_t *)clients, i, c)
    {
        snprintf(sub, sizeof sub, "%s.clients[%zu]", where, i);
        auth_client_t *cl = client_from_config(c, sub, err, errsz);
        if (cl == NULL)
            goto err;
        auth_pool_t *other = NULL;
        if (auth_client_find(p, cl->id) != NULL || auth_client_lookup(a, cl->id, &other) != NULL) {
            snprintf(err, errsz, "field '%s.id': client %s is declared twice", sub, cl->id);
            client_free(cl);
            goto err;
        }
        add_client(p, cl);
    }
    return p;
err:
    pool_free(p);
    return NULL;
}

/* ---- stored pools and clients ---- */

static json_t *pool_record(const auth_pool_t *p)
{
    return json_pack("{s:s, s:s, s:I, s:b, s:{s:i, s:b, s:b, s:b, s:b}}", "id", p->id, "name",
                     p->name, "created", (json_int_t)p->created_ms, "autoConfirm", p->auto_confirm,
                     "policy", "min", (int)p->min_length, "upper", p->req_upper, "lower",
                     p->req_lower, "digits", p->req_digits, "symbols", p->req_symbols);
}

static auth_pool_t *pool_from_record(auth_t *a, const void *val, size_t len)
{
    json_t *r = json_loadb(val, len, 0, NULL);
    const char *id = NULL, *name = NULL;
    json_int_t created = 0, min = 8;
    int ac = 0, up = 1, lo = 1, di = 1, sy = 0;
    auth_pool_t *p = NULL;
    if (r != NULL && json_unpack(r, "{s:s, s:s, s:I, s:b, s:{s:I, s:b, s:b, s:b, s:b}}", "id", &id,
                                 "name", &name, "created", &created, "autoConfirm", &ac, "policy",
                                 "min", &min, "upper", &up, "lower", &lo, "digits", &di,
                                 "symbols", &sy) == 0 &&
        pool_id_valid(id)) {
        p = pool_new(a, id, name);
        p->created_ms = created;
        p->auto_confirm = ac;
        p->min_length = (unsigned)min;
        p->req_upper = up;
        p->req_lower = lo;
        p->req_digits = di;
        p->req_symbols = sy;
    }
    json_decref(r);
    return p;
}

static json_t *client_record(const auth_pool_t *p, const auth_client_t *c)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:i, s:b, s:I, s:I, s:I, s:I}", "pool", p->id, "id",
                          c->id, "name", c->name, "flows", (int)c->flows, "prevent",
                          c->prevent_existence, "idv", (json_int_t)c->id_validity, "accv",
                          (json_int_t)c->access_validity, "refv", (json_int_t)c->refresh_validity,
                          "created", (json_int_t)c->created_ms);
    if (c->secret != NULL)
        json_object_set_new(r, "secret", json_string(c->secret));
    return r;
}

static auth_client_t *client_from_record(const json_t *r, const char **pool_id)
{
    const char *id = NULL, *name = NULL, *secret = NULL;
    int flows = 0, prevent = 1;
    json_int_t idv = 3600, accv = 3600, refv = 2592000, created = 0;
    if (json_unpack((json_t *)r, "{s:s, s:s, s:s, s?s, s:i, s:b, s:I, s:I, s:I, s:I}", "pool",
                    pool_id, "id", &id, "name", &name, "secret", &secret, "flows", &flows,
                    "prevent", &prevent, "idv", &idv, "accv", &accv, "refv", &refv, "created",
                    &created) != 0 ||
        !client_id_valid(id))
        return NULL;
    auth_client_t *c = client_new(id, name);
    c->secret = secret ? xstrdup(secret) : NULL;
    c->flows = (unsigned)flows;
    c->prevent_existence = prevent;
    c->id_validity = idv;
    c->access_validity = accv;
    c->refresh_validity = refv;
    c->created_ms = created;
    return c;
}

static int put_json(storage_txn_t *t, const char *table, const char *key, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    int rc = storage_rec_put(t, table, key, strlen(key), s, strlen(s), 0);
    OPENSSL_cleanse(s, strlen(s));
    free(s);
    return rc;
}

typedef struct load_ctx {
    auth_t *a;
    int bad;
} load_ctx_t;

static int load_pool_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    load_ctx_t *lc = ctx;
    auth_pool_t *p = pool_from_record(lc->a, val, len);
    if (p == NULL) {
        log_warn("auth: skipping an unreadable pool record");
        return 0;
    }
    if (auth_pool_find(lc->a, p->id) != NULL ||
        atomic_load(&lc->a->npools) >= AUTH_MAX_POOLS) {
        log_warn("auth: stored pool %s is shadowed by the config; ignoring it", p->id);
        pool_free(p);
        return 0;
    }
    add_pool(lc->a, p);
    return 0;
}

static int load_client_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    load_ctx_t *lc = ctx;
    json_t *r = json_loadb(val, len, 0, NULL);
    const char *pool_id = NULL;
    auth_client_t *c = r ? client_from_record(r, &pool_id) : NULL;
    auth_pool_t *p = c ? auth_pool_find(lc->a, pool_id) : NULL;
    auth_pool_t *other;
    if (p == NULL || atomic_load(&p->nclients) >= AUTH_MAX_CLIENTS ||
        auth_client_lookup(lc->a, c->id, &other) != NULL) {
        log_warn("auth: skipping a stored app client whose pool is gone or whose id is taken");
        client_free(c);
    } else {
        add_client(p, c);
    }
    json_decref(r);
    return 0;
}

/* Give every pool its signing key: load it, or make and store a new one. */
static int load_keys(auth_t *a, char *err, size_t errsz)
{
    int n = atomic_load(&a->npools);
    for (int i = 0; i < n; i++) {
        auth_pool_t *p = a->pools[i];
        storage_view_t *v;
        const void *val;
        size_t len;
        if (storage_view_open(a->st, &v) != 0) {
            snprintf(err, errsz, "cannot read the store");
            return -1;
        }
        if (storage_view_rec_get(v, T_KEYS, p->id, strlen(p->id), &val, &len) == 0)
            p->key = auth_key_from_pem(val, len);
        storage_view_close(v);
        if (p->key != NULL)
            continue;
        p->key = auth_key_generate();
        size_t plen;
        char *pem = auth_key_private_pem(p->key, &plen);
        storage_txn_t *t;
        int rc = storage_txn_begin(a->st, &t);
        if (rc == 0) {
            rc = storage_rec_put(t, T_KEYS, p->id, strlen(p->id), pem, plen, 0);
            rc = rc == 0 ? storage_txn_commit(t) : (storage_txn_abort(t), rc);
        }
        OPENSSL_cleanse(pem, plen);
        free(pem);
        if (rc != 0) {
            snprintf(err, errsz, "cannot store the signing key of pool %s: %s", p->id,
                     storage_strerror(rc));
            return -1;
        }
        log_info("auth: new signing key %s for user pool %s", auth_key_kid(p->key), p->id);
    }
    return 0;
}

/* The default pool and client (DESIGN.md: defaults when no config is given). */
static int ensure_default(auth_t *a, char *err, size_t errsz)
{
    storage_view_t *v;
    const void *val;
    size_t len;
    json_t *meta = NULL;
    if (storage_view_open(a->st, &v) != 0) {
        snprintf(err, errsz, "cannot read the store");
        return -1;
    }
    if (storage_view_rec_get(v, T_META, "default", 7, &val, &len) == 0)
        meta = json_loadb(val, len, 0, NULL);
    storage_view_close(v);
    const char *pid = NULL, *cid = NULL;
    if (meta != NULL && json_unpack(meta, "{s:s, s:s}", "pool", &pid, "client", &cid) == 0 &&
        auth_pool_find(a, pid) != NULL) {
        snprintf(a->default_pool, sizeof a->default_pool, "%s", pid);
        snprintf(a->default_client, sizeof a->default_client, "%s", cid);
        json_decref(meta);
        return 0;
    }
    json_decref(meta);

    char id[AUTH_POOL_ID_MAX + 1], client_id[27];
    new_pool_id(a, id);
    random_chars(client_id, 26, "abcdefghijklmnopqrstuvwxyz0123456789");
    auth_pool_t *p = pool_new(a, id, "cloudlet");
    auth_client_t *c = client_new(client_id, "web");
    json_t *prec = pool_record(p);
    json_t *crec = client_record(p, c);
    json_t *mrec = json_pack("{s:s, s:s}", "pool", id, "client", client_id);
    storage_txn_t *t;
    int rc = storage_txn_begin(a->st, &t);
    if (rc == 0) {
        char ckey[300];
        snprintf(ckey, sizeof ckey, "%s/%s", id, client_id);
        rc = put_json(t, T_POOLS, id, prec);
        if (rc == 0)
            rc = put_json(t, T_CLIENTS, ckey, crec);
        if (rc == 0)
            rc = put_json(t, T_META, "default", mrec);
        rc = rc == 0 ? storage_txn_commit(t) : (storage_txn_abort(t), rc);
    }
    json_decref(prec);
    json_decref(crec);
    json_decref(mrec);
    if (rc != 0) {
        pool_free(p);
        client_free(c);
        snprintf(err, errsz, "cannot store the default user pool: %s", storage_strerror(rc));
        return -1;
    }
    add_client(p, c);
    add_pool(a, p);
    snprintf(a->default_pool, sizeof a->default_pool, "%s", id);
    snprintf(a->default_client, sizeof a->default_client, "%s", client_id);
    log_info("auth: created the default user pool %s with app client %s", id, client_id);
    return 0;
}

int auth_pools_load(auth_t *a, const json_t *config_pools, char *err, size_t errsz)
{
    size_t i;
    const json_t *pc;
    if (config_pools != NULL && json_array_size(config_pools) > AUTH_MAX_POOLS) {
        snprintf(err, errsz, "field 'userPools' may list at most %d pools", AUTH_MAX_POOLS);
        return -1;
    }
    json_array_foreach((json_t *)config_pools, i, pc)
    {
        char where[40];
        snprintf(where, sizeof where, "userPools[%zu]", i);
        auth_pool_t *p = pool_from_config(a, pc, where, err, errsz);
        if (p == NULL)
            return -1;
        add_pool(a, p);
    }
    storage_view_t *v;
    load_ctx_t lc = {a, 0};
    if (storage_view_open(a->st, &v) != 0) {
        snprintf(err, errsz, "cannot read the store");
        return -1;
    }
    storage_view_rec_scan(v, T_POOLS, "", 0, load_pool_cb, &lc);
    storage_view_rec_scan(v, T_CLIENTS, "", 0, load_client_cb, &lc);
    storage_view_close(v);

    if (config_pools != NULL && json_array_size(config_pools) > 0) {
        auth_pool_t *first = a->pools[0];
        snprintf(a->default_pool, sizeof a->default_pool, "%s", first->id);
        if (atomic_load(&first->nclients) > 0)
            snprintf(a->default_client, sizeof a->default_client, "%s", first->clients[0]->id);
    } else if (ensure_default(a, err, errsz) != 0) {
        return -1;
    }
    return load_keys(a, err, errsz);
}

/* ---- API: describe ---- */

static json_t *epoch(int64_t ms)
{
    return json_real((double)ms / 1000.0);
}

json_t *auth_pool_describe(auth_t *a, const auth_pool_t *p)
{
    json_t *pool = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:s, s:{s:{s:i, s:b, s:b, s:b, s:b, s:i}}, s:[s], s:{}}", "Id",
        p->id, "Name", p->name, "CreationDate", epoch(p->created_ms), "LastModifiedDate",
        epoch(p->created_ms), "Arn",
        json_sprintf("arn:aws:cognito-idp:%s:%s:userpool/%s", a->region, a->account_id, p->id),
        "MfaConfiguration", "OFF", "Policies", "PasswordPolicy", "MinimumLength",
        (int)p->min_length, "RequireUppercase", p->req_upper, "RequireLowercase", p->req_lower,
        "RequireNumbers", p->req_digits, "RequireSymbols", p->req_symbols,
        "TemporaryPasswordValidityDays", 7, "AutoVerifiedAttributes", "email", "UserPoolTags");
    if (p->auto_confirm)
        json_object_set_new(json_object_get(pool, "UserPoolTags"), "cloudlet:autoConfirm",
                            json_string("true"));
    return pool;
}

json_t *auth_client_describe(const auth_pool_t *p, const auth_client_t *c)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:I, s:I, s:I, s:{s:s, s:s, s:s}, s:b}",
        "UserPoolId", p->id, "ClientName", c->name, "ClientId", c->id, "CreationDate",
        epoch(c->created_ms), "LastModifiedDate", epoch(c->created_ms), "ExplicitAuthFlows",
        flows_json(c->flows), "PreventUserExistenceErrors",
        c->prevent_existence ? "ENABLED" : "LEGACY", "IdTokenValidity",
        (json_int_t)c->id_validity, "AccessTokenValidity", (json_int_t)c->access_validity,
        "RefreshTokenValidity", (json_int_t)c->refresh_validity, "TokenValidityUnits",
        "IdToken", "seconds", "AccessToken", "seconds", "RefreshToken", "seconds",
        "EnableTokenRevocation", 1);
    if (c->secret != NULL)
        json_object_set_new(o, "ClientSecret", json_string(c->secret));
    return o;
}

/* ---- API: create ---- */

#define FAIL(c, ...)                                                                               \
    do {                                                                                           \
        *code = (c);                                                                               \
        snprintf(msg, msgsz, __VA_ARGS__);                                                         \
        goto err;                                                                                  \
    } while (0)

auth_pool_t *auth_pool_create(auth_t *a, const json_t *in, const char **code, char *msg,
                              size_t msgsz)
{
    const char *name = json_string_value(json_object_get(in, "PoolName"));
    auth_pool_t *p = NULL;
    json_t *rec = NULL;
    pthread_mutex_lock(&a->create_lock);
    if (atomic_load(&a->npools) >= AUTH_MAX_POOLS)
        FAIL("LimitExceededException", "cloudlet holds at most %d user pools.", AUTH_MAX_POOLS);
    char id[AUTH_POOL_ID_MAX + 1];
    new_pool_id(a, id);
    p = pool_new(a, id, name);
    const json_t *pol = json_object_get(json_object_get(in, "Policies"), "PasswordPolicy");
    if (json_is_object(pol)) {
        const json_t *v = json_object_get(pol, "MinimumLength");
        if (v != NULL) {
            if (!json_is_integer(v) || json_integer_value(v) < 6 || json_integer_value(v) > 99)
                FAIL("InvalidParameterException",
                     "1 validation error detected: Value at 'policies.passwordPolicy.minimumLength' "
                     "failed to satisfy constraint: Member must have value between 6 and 99");
            p->min_length = (unsigned)json_integer_value(v);
        }
        static const struct {
            const char *name;
            size_t off;
        } flags[] = {{"RequireUppercase", offsetof(auth_pool_t, req_upper)},
                     {"RequireLowercase", offsetof(auth_pool_t, req_lower)},
                     {"RequireNumbers", offsetof(auth_pool_t, req_digits)},
                     {"RequireSymbols", offsetof(auth_pool_t, req_symbols)}};
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
            v = json_object_get(pol, flags[i].name);
            if (json_is_boolean(v))
                *(int *)((char *)p + flags[i].off) = json_is_true(v);
        }
    }
    const char *ac =
        json_string_value(json_object_get(json_object_get(in, "UserPoolTags"), "cloudlet:autoConfirm"));
    p->auto_confirm = ac != NULL && strcmp(ac, "true") == 0;
    p->key = auth_key_generate();
    rec = pool_record(p);
    size_t plen;
    char *pem = auth_key_private_pem(p->key, &plen);
    storage_txn_t *t;
    int rc = storage_txn_begin(a->st, &t);
    if (rc == 0) {
        rc = put_json(t, T_POOLS, p->id, rec);
        if (rc == 0)
            rc = storage_rec_put(t, T_KEYS, p->id, strlen(p->id), pem, plen, 0);
        rc = rc == 0 ? storage_txn_commit(t) : (storage_txn_abort(t), rc);
    }
    OPENSSL_cleanse(pem, plen);
    free(pem);
    if (rc != 0)
        FAIL("InternalErrorException", "The user pool could not be stored: %s.",
             storage_strerror(rc));
    add_pool(a, p);
    pthread_mutex_unlock(&a->create_lock);
    json_decref(rec);
    log_info("auth: created user pool %s", p->id);
    return p;
err:
    pthread_mutex_unlock(&a->create_lock);
    json_decref(rec);
    pool_free(p);
    return NULL;
}

/* A token validity in seconds from a value and its unit name. */
static int validity_seconds(const json_t *in, const char *field, const char *unit_field,
                            const char *default_unit, int64_t lo, int64_t hi, int64_t *out)
{
    const json_t *v = json_object_get(in, field);
    if (v == NULL)
        return 0;
    const char *unit =
        json_string_value(json_object_get(json_object_get(in, "TokenValidityUnits"), unit_field));
    if (unit == NULL)
        unit = default_unit;
    int64_t mult = strcmp(unit, "seconds") == 0   ? 1
                   : strcmp(unit, "minutes") == 0 ? 60
                   : strcmp(unit, "hours") == 0   ? 3600
                   : strcmp(unit, "days") == 0    ? 86400
                                                  : 0;
    if (!json_is_integer(v) || mult == 0 || json_integer_value(v) <= 0 ||
        json_integer_value(v) > hi)
        return -1;
    int64_t s = json_integer_value(v) * mult;
    if (s < lo || s > hi)
        return -1;
    *out = s;
    return 0;
}

auth_client_t *auth_client_create(auth_t *a, auth_pool_t *p, const json_t *in, const char **code,
                                  char *msg, size_t msgsz)
{
    const char *name = json_string_value(json_object_get(in, "ClientName"));
    auth_client_t *c = NULL;
    json_t *rec = NULL;
    pthread_mutex_lock(&a->create_lock);
    if (atomic_load(&p->nclients) >= AUTH_MAX_CLIENTS)
        FAIL("LimitExceededException", "A user pool holds at most %d app clients in cloudlet.",
             AUTH_MAX_CLIENTS);
    char id[27];
    random_chars(id, 26, "abcdefghijklmnopqrstuvwxyz0123456789");
    c = client_new(id, name);
    if (json_is_true(json_object_get(in, "GenerateSecret"))) {
        char secret[52];
        random_chars(secret, 51, "abcdefghijklmnopqrstuvwxyz0123456789");
        c->secret = xstrdup(secret);
        OPENSSL_cleanse(secret, sizeof secret);
    }
    const json_t *flows = json_object_get(in, "ExplicitAuthFlows");
    char bad[64];
    if (flows != NULL && parse_flows(flows, &c->flows, bad, sizeof bad) != 0)
        FAIL("InvalidParameterException", "Invalid ExplicitAuthFlows value: %s.", bad);
    if (flows == NULL)
        c->flows = FLOW_SRP | FLOW_REFRESH | FLOW_CUSTOM;
    const char *prevent = json_string_value(json_object_get(in, "PreventUserExistenceErrors"));
    if (prevent != NULL) {
        if (strcmp(prevent, "ENABLED") != 0 && strcmp(prevent, "LEGACY") != 0)
            FAIL("InvalidParameterException",
                 "PreventUserExistenceErrors must be ENABLED or LEGACY.");
        c->prevent_existence = strcmp(prevent, "ENABLED") == 0;
    }
    if (validity_seconds(in, "IdTokenValidity", "IdToken", "hours", 300, 86400, &c->id_validity) !=
            0 ||
        validity_seconds(in, "AccessTokenValidity", "AccessToken", "hours", 300, 86400,
                         &c->access_validity) != 0 ||
        validity_seconds(in, "RefreshTokenValidity", "RefreshToken", "days", 3600, 315360000,
                         &c->refresh_validity) != 0)
        FAIL("InvalidParameterException",
             "Token validity out of range: ID and access tokens 5 minutes to 1 day, refresh "
             "tokens 1 hour to 10 years.");
    rec = client_record(p, c);
    char key[300];
    snprintf(key, sizeof key, "%s/%s", p->id, c->id);
    storage_txn_t *t;
    int rc = storage_txn_begin(a->st, &t);
    if (rc == 0) {
        rc = put_json(t, T_CLIENTS, key, rec);
        rc = rc == 0 ? storage_txn_commit(t) : (storage_txn_abort(t), rc);
    }
    if (rc != 0)
        FAIL("InternalErrorException", "The app client could not be stored: %s.",
             storage_strerror(rc));
    add_client(p, c);
    pthread_mutex_unlock(&a->create_lock);
    json_decref(rec);
    return c;
err:
    pthread_mutex_unlock(&a->create_lock);
    json_decref(rec);
    client_free(c);
    return NULL;
}
