/* pools.c - roles, identity pools, and the authorization decision.
 *
 * Roles come only from cloudlet.json ("roles"), or, when it names none, the
 * default role `cloudlet-authenticated` (DESIGN.md: may invoke every
 * function; it also owns the caller's folder of the `uploads` bucket).
 * Every policy is validated at start, and a bad one stops the server with
 * the role and statement named.
 *
 * Identity pools come from cloudlet.json ("identityPools"), from
 * CreateIdentityPool (table "idpools"), and, when the config names none,
 * a default pool made at first start over the default user pool. Their roles
 * can change at run time (SetIdentityPoolRoles), so the table is under a
 * read-write lock and readers take copies.
 */
#include "sts/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "common/util.h"

#define T_IDPOOLS "idpools"
#define T_META "sts-meta"
#define DEFAULT_ROLE "cloudlet-authenticated"
#define FUNCTION_ROLE "cloudlet-function"

/* ---- roles ---- */

static void role_free(sts_role_t *r)
{
    if (r == NULL)
        return;
    json_decref(r->policies);
    json_decref(r->trust_pools);
    free(r);
}

static int role_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > STS_ROLE_NAME_MAX)
        return 0;
    for (const char *p = n; *p; p++) {
        if (!isalnum((unsigned char)*p) && strchr("+=,.@_-", *p) == NULL)
            return 0;
    }
    return 1;
}

/* A role id like IAM's "AROA" + 17 characters, derived from the name so it
 * is stable across restarts and front ends. */
static void role_id(const sts_t *s, const char *name, char out[24])
{
    unsigned char md[32];
    unsigned int len = 0;
    char msg[200];
    snprintf(msg, sizeof msg, "%s/%s", s->account_id, name);
    EVP_Digest(msg, strlen(msg), md, &len, EVP_sha256(), NULL);
    memcpy(out, "AROA", 4);
    for (int i = 0; i < 17; i++)
        out[4 + i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[md[i] % 32];
    out[21] = '\0';
}

static sts_role_t *role_new(const sts_t *s, const char *name)
{
    sts_role_t *r = xcalloc(1, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->arn, sizeof r->arn, "arn:aws:iam::%s:role/%s", s->account_id, name);
    role_id(s, name, r->id);
    r->max_duration = 3600;
    r->policies = json_array();
    r->trust_pools = json_array();
    return r;
}

static int add_policy(sts_role_t *r, json_t *doc, const char *where, char *err, size_t errsz)
{
    char why[300];
    if (sts_policy_validate(doc, why, sizeof why) != 0) {
        snprintf(err, errsz, "%s: %s", where, why);
        return -1;
    }
    json_array_append(r->policies, doc);
    return 0;
}

static sts_role_t *role_from_config(sts_t *s, const json_t *c, const char *where, char *err,
                                    size_t errsz)
{
    const char *key;
    const json_t *v;
    if (!json_is_object(c)) {
        snprintf(err, errsz, "field '%s' must be an object", where);
        return NULL;
    }
    json_object_foreach((json_t *)c, key, v)
    {
        if (strcmp(key, "name") != 0 && strcmp(key, "maxSessionDuration") != 0 &&
            strcmp(key, "trust") != 0 && strcmp(key, "policies") != 0) {
            snprintf(err, errsz, "field '%s.%s' is not a known setting", where, key);
            return NULL;
        }
    }
    const char *name = json_string_value(json_object_get(c, "name"));
    if (name == NULL || !role_name_ok(name)) {
        snprintf(err, errsz, "field '%s.name' must be 1-64 characters of [A-Za-z0-9+=,.@_-]",
                 where);
        return NULL;
    }
    if (sts_role_find(s, name) != NULL) {
        snprintf(err, errsz, "field '%s.name': role %s is declared twice", where, name);
        return NULL;
    }
    sts_role_t *r = role_new(s, name);
    const json_t *max = json_object_get(c, "maxSessionDuration");
    if (max != NULL) {
        if (!json_is_integer(max) || json_integer_value(max) < 1 ||
            json_integer_value(max) > 43200) {
            snprintf(err, errsz, "field '%s.maxSessionDuration' must be an integer from 1 to 43200",
                     where);
            goto err;
        }
        r->max_duration = json_integer_value(max);
    }
    const json_t *trust = json_object_get(c, "trust");
    if (trust != NULL) {
        const json_t *pools = json_object_get(trust, "userPools");
        if (!json_is_object(trust) || json_object_size(trust) != (pools != NULL) ||
            (pools != NULL && !json_is_array(pools))) {
            snprintf(err, errsz, "field '%s.trust' must be {\"userPools\": [pool ids or \"*\"]}",
                     where);
            goto err;
        }
        size_t i;
        json_t *p;
        json_array_foreach(pools, i, p)
        {
            if (!json_is_string(p)) {
                snprintf(err, errsz, "field '%s.trust.userPools[%zu]' must be a string", where, i);
                goto err;
            }
            json_array_append(r->trust_pools, p);
        }
    }
    const json_t *pols = json_object_get(c, "policies");
    if (pols != NULL && !json_is_array(pols)) {
        snprintf(err, errsz, "field '%s.policies' must be an array of policy documents", where);
        goto err;
    }
    size_t i;
    json_t *doc;
    json_array_foreach(pols, i, doc)
    {
        char w[160];
        snprintf(w, sizeof w, "%s.policies[%zu]", where, i);
        if (add_policy(r, doc, w, err, errsz) != 0)
            goto err;
    }
    return r;
err:
    role_free(r);
    return NULL;
}

/* DESIGN.md's authenticated role: invoke every function, own one folder of
 * the uploads bucket. */
static sts_role_t *default_role(sts_t *s, const char *user_pool, char *err, size_t errsz)
{
    sts_role_t *r = role_new(s, DEFAULT_ROLE);
    char *text = xasprintf(
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Sid\":\"InvokeFunctions\",\"Effect\":\"Allow\",\"Action\":[\"lambda:InvokeFunction\","
        "\"lambda:InvokeFunctionUrl\"],"
        "\"Resource\":\"arn:aws:lambda:%s:%s:function:*\"},"
        "{\"Sid\":\"OwnFiles\",\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\","
        "\"s3:DeleteObject\"],"
        "\"Resource\":\"arn:aws:s3:::uploads/${cognito-identity.amazonaws.com:sub}/*\"},"
        "{\"Sid\":\"ListOwnFiles\",\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\","
        "\"Resource\":\"arn:aws:s3:::uploads\",\"Condition\":{\"StringLike\":{\"s3:prefix\":"
        "[\"${cognito-identity.amazonaws.com:sub}/*\",\"${cognito-identity.amazonaws.com:sub}/\"]}}}"
        "]}",
        s->region, s->account_id);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    int rc = add_policy(r, doc, "the default role", err, errsz);
    json_decref(doc);
    if (user_pool != NULL && user_pool[0] != '\0')
        json_array_append_new(r->trust_pools, json_string(user_pool));
    if (rc != 0) {
        role_free(r);
        return NULL;
    }
    return r;
}

/* The default execution role of functions: what a function's own code may
 * do with the credentials it is started with (cloudlet's S3 and Lambda APIs).
 * Nobody may assume it: it has no trust. */
static sts_role_t *function_role(sts_t *s, char *err, size_t errsz)
{
    sts_role_t *r = role_new(s, FUNCTION_ROLE);
    char *text = xasprintf(
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Sid\":\"Storage\",\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"},"
        "{\"Sid\":\"Functions\",\"Effect\":\"Allow\",\"Action\":[\"lambda:InvokeFunction\","
        "\"lambda:GetFunction\",\"lambda:ListFunctions\"],"
        "\"Resource\":[\"arn:aws:lambda:%s:%s:function:*\",\"*\"]}"
        "]}",
        s->region, s->account_id);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    int rc = add_policy(r, doc, "the default function role", err, errsz);
    json_decref(doc);
    if (rc != 0) {
        role_free(r);
        return NULL;
    }
    return r;
}

const sts_role_t *sts_role_find(const sts_t *s, const char *name)
{
    for (int i = 0; i < s->nroles; i++) {
        if (strcmp(s->roles[i]->name, name) == 0)
            return s->roles[i];
    }
    return NULL;
}

const sts_role_t *sts_role_by_arn(const sts_t *s, const char *arn)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "arn:aws:iam::%s:role/", s->account_id);
    if (arn == NULL || strncmp(arn, prefix, (size_t)n) != 0)
        return NULL;
    /* Role paths ("role/path/name") end with the name. */
    const char *name = strrchr(arn + n, '/');
    return sts_role_find(s, name ? name + 1 : arn + n);
}

/* ---- identity pools ---- */

void sts_idpool_free(sts_idpool_t *p)
{
    if (p == NULL)
        return;
    json_decref(p->providers);
    free(p);
}

static sts_idpool_t *idpool_copy(const sts_idpool_t *p)
{
    sts_idpool_t *c = xmalloc(sizeof *c);
    *c = *p;
    c->providers = json_deep_copy(p->providers);
    return c;
}

sts_idpool_t *sts_idpool_get(sts_t *s, const char *id)
{
    sts_idpool_t *found = NULL;
    pthread_rwlock_rdlock(&s->idpools_lock);
    for (int i = 0; i < s->nidpools; i++) {
        if (strcmp(s->idpools[i]->id, id) == 0)
            found = idpool_copy(s->idpools[i]);
    }
    pthread_rwlock_unlock(&s->idpools_lock);
    return found;
}

static int idpool_id_ok(const sts_t *s, const char *id)
{
    size_t rl = strlen(s->region);
    if (strlen(id) != rl + 1 + 36 || strncmp(id, s->region, rl) != 0 || id[rl] != ':')
        return 0;
    for (const char *p = id + rl + 1; *p; p++) {
        if (!isxdigit((unsigned char)*p) && *p != '-')
            return 0;
    }
    return 1;
}

/* Parse {"id","name","allowUnauthenticated","authenticatedRole","unauthenticatedRole",
 * "providers"} (the config form, also used for stored pools). */
static sts_idpool_t *idpool_parse(sts_t *s, const json_t *c, const char *where, char *err,
                                  size_t errsz)
{
    const char *key;
    const json_t *v;
    if (!json_is_object(c)) {
        snprintf(err, errsz, "field '%s' must be an object", where);
        return NULL;
    }
    json_object_foreach((json_t *)c, key, v)
    {
        static const char *const ok[] = {"id", "name", "allowUnauthenticated",
                                         "authenticatedRole", "unauthenticatedRole", "providers",
                                         NULL};
        int known = 0;
        for (const char *const *k = ok; *k; k++)
            known |= strcmp(*k, key) == 0;
        if (!known) {
            snprintf(err, errsz, "field '%s.%s' is not a known setting", where, key);
            return NULL;
        }
    }
    const char *id = json_string_value(json_object_get(c, "id"));
    if (id == NULL || !idpool_id_ok(s, id)) {
        snprintf(err, errsz, "field '%s.id' must look like \"%s:<uuid>\"", where, s->region);
        return NULL;
    }
    sts_idpool_t *p = xcalloc(1, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    const char *name = json_string_value(json_object_get(c, "name"));
    snprintf(p->name, sizeof p->name, "%s", name ? name : id);
    const json_t *au = json_object_get(c, "allowUnauthenticated");
    if (au != NULL && !json_is_boolean(au)) {
        snprintf(err, errsz, "field '%s.allowUnauthenticated' must be true or false", where);
        goto err;
    }
    p->allow_unauth = json_is_true(au);
    static const char *const role_fields[] = {"authenticatedRole", "unauthenticatedRole"};
    char *slots[] = {p->auth_role, p->unauth_role};
    for (int i = 0; i < 2; i++) {
        const json_t *rv = json_object_get(c, role_fields[i]);
        if (rv == NULL || json_is_null(rv))
            continue;
        if (!json_is_string(rv) || sts_role_find(s, json_string_value(rv)) == NULL) {
            snprintf(err, errsz, "field '%s.%s' must name a role of 'roles'", where,
                     role_fields[i]);
            goto err;
        }
        snprintf(slots[i], STS_ROLE_NAME_MAX + 1, "%s", json_string_value(rv));
    }
    p->providers = json_array();
    const json_t *provs = json_object_get(c, "providers");
    if (provs != NULL && !json_is_array(provs)) {
        snprintf(err, errsz, "field '%s.providers' must be an array", where);
        goto err;
    }
    size_t i;
    json_t *pv;
    json_array_foreach(provs, i, pv)
    {
        const char *pool = json_string_value(json_object_get(pv, "userPoolId"));
        const char *client = json_string_value(json_object_get(pv, "clientId"));
        if (!json_is_object(pv) || pool == NULL || json_object_size(pv) > 2 ||
            (json_object_get(pv, "clientId") != NULL && client == NULL)) {
            snprintf(err, errsz,
                     "field '%s.providers[%zu]' must be {\"userPoolId\": ..., \"clientId\": ...}",
                     where, i);
            goto err;
        }
        json_array_append_new(p->providers, json_pack("{s:s, s:s?}", "userPoolId", pool,
                                                      "clientId", client));
    }
    return p;
err:
    sts_idpool_free(p);
    return NULL;
}

json_t *sts_idpool_record(const sts_idpool_t *p)
{
    return json_pack("{s:s, s:s, s:b, s:s?, s:s?, s:O}", "id", p->id, "name", p->name,
                     "allowUnauthenticated", p->allow_unauth, "authenticatedRole",
                     p->auth_role[0] ? p->auth_role : NULL, "unauthenticatedRole",
                     p->unauth_role[0] ? p->unauth_role : NULL, "providers", p->providers);
}

int sts_idpool_store(sts_t *s, sts_idpool_t *p, int create)
{
    json_t *rec = sts_idpool_record(p);
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    storage_txn_t *t;
    int rc = storage_txn_begin(s->st, &t);
    if (rc == 0) {
        rc = storage_rec_put(t, T_IDPOOLS, p->id, strlen(p->id), text, strlen(text), 0);
        rc = rc == 0 ? storage_txn_commit(t) : (storage_txn_abort(t), rc);
    }
    free(text);
    if (rc != 0)
        return rc;
    pthread_rwlock_wrlock(&s->idpools_lock);
    int i = 0;
    while (i < s->nidpools && strcmp(s->idpools[i]->id, p->id) != 0)
        i++;
    if (i < s->nidpools) {
        sts_idpool_free(s->idpools[i]);
        s->idpools[i] = p;
    } else if (create && s->nidpools < STS_MAX_IDPOOLS) {
        s->idpools[s->nidpools++] = p;
    } else {
        sts_idpool_free(p);
        rc = STORAGE_EFULL;
    }
    pthread_rwlock_unlock(&s->idpools_lock);
    return rc;
}

typedef struct load_ctx {
    sts_t *s;
} load_ctx_t;

static int load_idpool_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    sts_t *s = ((load_ctx_t *)ctx)->s;
    json_t *rec = json_loadb(val, len, 0, NULL);
    char err[300];
    sts_idpool_t *p = rec ? idpool_parse(s, rec, "stored identity pool", err, sizeof err) : NULL;
    json_decref(rec);
    if (p == NULL) {
        log_warn("sts: skipping a stored identity pool that no longer fits the config");
        return 0;
    }
    for (int i = 0; i < s->nidpools; i++) {
        if (strcmp(s->idpools[i]->id, p->id) == 0) {
            /* SetIdentityPoolRoles on a configured pool: the stored roles win. */
            sts_idpool_free(s->idpools[i]);
            s->idpools[i] = p;
            return 0;
        }
    }
    if (s->nidpools < STS_MAX_IDPOOLS)
        s->idpools[s->nidpools++] = p;
    else
        sts_idpool_free(p);
    return 0;
}

/* Make the default identity pool once and remember its id. */
static int ensure_default_idpool(sts_t *s, char *err, size_t errsz)
{
    storage_view_t *v;
    const void *val;
    size_t len;
    if (storage_view_open(s->st, &v) == 0) {
        if (storage_view_rec_get(v, T_META, "default", 7, &val, &len) == 0 &&
            len < sizeof s->default_idpool) {
            memcpy(s->default_idpool, val, len);
            s->default_idpool[len] = '\0';
        }
        storage_view_close(v);
    }
    for (int i = 0; i < s->nidpools; i++) {
        if (strcmp(s->idpools[i]->id, s->default_idpool) == 0)
            return 0;
    }
    sts_idpool_t *p = xcalloc(1, sizeof *p);
    char uuid[37];
    util_uuid(uuid);
    snprintf(p->id, sizeof p->id, "%.40s:%s", s->region, uuid);
    snprintf(p->name, sizeof p->name, "cloudlet");
    snprintf(p->auth_role, sizeof p->auth_role, "%s", DEFAULT_ROLE);
    p->providers = json_array();
    if (s->auth != NULL)
        json_array_append_new(p->providers,
                              json_pack("{s:s, s:s}", "userPoolId", auth_default_pool_id(s->auth),
                                        "clientId", auth_default_client_id(s->auth)));
    snprintf(s->default_idpool, sizeof s->default_idpool, "%s", p->id);
    storage_txn_t *t;
    int rc = storage_txn_begin(s->st, &t);
    if (rc == 0) {
        rc = storage_rec_put(t, T_META, "default", 7, p->id, strlen(p->id), 0);
        rc = rc == 0 ? storage_txn_commit(t) : (storage_txn_abort(t), rc);
    }
    if (rc == 0)
        rc = sts_idpool_store(s, p, 1);
    else
        sts_idpool_free(p);
    if (rc != 0) {
        snprintf(err, errsz, "cannot store the default identity pool: %s", storage_strerror(rc));
        return -1;
    }
    log_info("sts: created the default identity pool %s", s->default_idpool);
    return 0;
}

int sts_pools_load(sts_t *s, const sts_options_t *o, char *err, size_t errsz)
{
    s->st = o->st;
    s->auth = o->auth;
    s->key = o->key;
    s->previous_key = o->previous_key;
    s->default_duration = o->default_duration ? o->default_duration : 3600;
    s->min_duration = o->min_duration ? o->min_duration : 900;
    if (s->default_duration < s->min_duration) {
        snprintf(err, errsz, "field 'sts.defaultDurationSeconds' must not be below "
                             "'sts.minDurationSeconds'");
        return -1;
    }
    size_t i;
    const json_t *c;
    if (json_array_size(o->roles) > STS_MAX_ROLES ||
        json_array_size(o->identity_pools) > STS_MAX_IDPOOLS) {
        snprintf(err, errsz, "at most %d roles and %d identity pools", STS_MAX_ROLES,
                 STS_MAX_IDPOOLS);
        return -1;
    }
    json_array_foreach((json_t *)o->roles, i, c)
    {
        char where[40];
        snprintf(where, sizeof where, "roles[%zu]", i);
        sts_role_t *r = role_from_config(s, c, where, err, errsz);
        if (r == NULL)
            return -1;
        s->roles[s->nroles++] = r;
    }
    int default_pools = o->identity_pools == NULL || json_array_size(o->identity_pools) == 0;
    if (default_pools && sts_role_find(s, DEFAULT_ROLE) == NULL && s->nroles < STS_MAX_ROLES) {
        sts_role_t *r =
            default_role(s, s->auth ? auth_default_pool_id(s->auth) : NULL, err, errsz);
        if (r == NULL)
            return -1;
        s->roles[s->nroles++] = r;
    }
    if (sts_role_find(s, FUNCTION_ROLE) == NULL && s->nroles < STS_MAX_ROLES) {
        sts_role_t *r = function_role(s, err, errsz);
        if (r == NULL)
            return -1;
        s->roles[s->nroles++] = r;
    }
    json_array_foreach((json_t *)o->identity_pools, i, c)
    {
        char where[40];
        snprintf(where, sizeof where, "identityPools[%zu]", i);
        sts_idpool_t *p = idpool_parse(s, c, where, err, errsz);
        if (p == NULL)
            return -1;
        p->from_config = 1;
        s->idpools[s->nidpools++] = p;
    }
    if (s->st == NULL)
        return 0;
    storage_view_t *v;
    load_ctx_t lc = {s};
    if (storage_view_open(s->st, &v) == 0) {
        storage_view_rec_scan(v, T_IDPOOLS, "", 0, load_idpool_cb, &lc);
        storage_view_close(v);
    }
    if (default_pools)
        return ensure_default_idpool(s, err, errsz);
    snprintf(s->default_idpool, sizeof s->default_idpool, "%s", s->idpools[0]->id);
    return 0;
}

void sts_pools_free(sts_t *s)
{
    for (int i = 0; i < s->nroles; i++)
        role_free(s->roles[i]);
    for (int i = 0; i < s->nidpools; i++)
        sts_idpool_free(s->idpools[i]);
    s->nroles = s->nidpools = 0;
}

const char *sts_default_identity_pool_id(const sts_t *s)
{
    return s->default_idpool;
}

/* ---- the decision ---- */

int sts_authorize(const sts_t *s, const http_caller_t *caller, const char *action,
                  const char *resource, const json_t *context)
{
    if (caller == NULL)
        return STS_EDENIED;
    if (caller->root)
        return 0;
    const sts_role_t *role = sts_role_find(s, caller->role);
    if (role == NULL)
        return STS_EDENIED;
    sts_policy_req_t req = {action, resource, caller, util_now_ms() / 1000, context};
    int allowed = 0;
    size_t i;
    json_t *doc;
    json_array_foreach(role->policies, i, doc)
    {
        int d = sts_policy_eval(doc, &req);
        if (d == STS_POLICY_DENY)
            return STS_EDENIED;
        allowed |= d == STS_POLICY_ALLOW;
    }
    if (!allowed)
        return STS_EDENIED;
    /* A session policy can only narrow what the role allows. */
    if (caller->session_policy[0] != '\0') {
        json_t *sp = json_loads(caller->session_policy, 0, NULL);
        int d = sp ? sts_policy_eval(sp, &req) : STS_POLICY_NONE;
        json_decref(sp);
        if (d != STS_POLICY_ALLOW)
            return STS_EDENIED;
    }
    return 0;
}
