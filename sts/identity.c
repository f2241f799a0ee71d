/* identity.c - the Cognito Identity API (identity pools; wire doc section 3).
 *
 * An ID token goes in, temporary credentials come out: GetId gives each
 * user of a pool one identity id, kept in LMDB so it is the same on every
 * log-in; GetCredentialsForIdentity checks the Logins again and mints
 * credentials for the pool's authenticated role (or, for guests where the
 * pool allows them, its unauthenticated role). Tables:
 *   "identities": "<idpool>|<provider>|<sub>" -> identity id
 *   "identity":   identity id -> {"p": idpool, "prov": provider or "", "sub": sub or ""}
 */
#include "sts/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/util.h"

#define T_IDENTITIES "identities"
#define T_IDENTITY "identity"
#define BODY_MAX (64 * 1024)
#define OPENID_TTL 600

typedef struct op {
    sts_t *s;
    const http_req_t *req;
    http_resp_t *resp;
    json_t *in;
    int done;
} op_t;

static void fail(op_t *op, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(op_t *op, const char *code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_resp_clear(op->resp);
    http_resp_init(op->resp);
    http_error(op->resp, HTTP_PROTO_JSON,
               strcmp(code, "InternalErrorException") == 0 ? 500 : 400, code, msg, NULL,
               op->req->request_id);
    op->done = 1;
}

static void reply(op_t *op, json_t *out)
{
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    http_resp_header(op->resp, "Content-Type", "application/x-amz-json-1.1");
    http_resp_body_owned(op->resp, text, strlen(text));
    op->done = 1;
}

/* A string member: NULL when absent and optional; answers and returns -1
 * for a wrong type, a missing required member or a bad length. */
static int get_str(op_t *op, const char *name, int required, size_t max, const char **out)
{
    const json_t *v = json_object_get(op->in, name);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required)
            fail(op, "InvalidParameterException",
                 "1 validation error detected: Value null at '%s' failed to satisfy "
                 "constraint: Member must not be null",
                 name);
        return required ? -1 : 0;
    }
    if (!json_is_string(v)) {
        fail(op, "SerializationException", "Value of '%s' must be a string.", name);
        return -1;
    }
    if (json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        fail(op, "InvalidParameterException",
             "1 validation error detected: Value at '%s' failed to satisfy constraint: Member "
             "must have length between 1 and %zu",
             name, max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static sts_idpool_t *get_pool(op_t *op, const char *member)
{
    const char *id;
    if (get_str(op, member, 1, 55, &id) != 0)
        return NULL;
    sts_idpool_t *p = sts_idpool_get(op->s, id);
    if (p == NULL)
        fail(op, "ResourceNotFoundException", "IdentityPool '%s' not found.", id);
    return p;
}

/* ---- Logins ---- */

/* Check the Logins map against pool p: exactly one login, from one of the
 * pool's providers, with a valid ID token of that pool's client. Fills the
 * provider name, the user pool id and the token's sub. Returns 0, 1 when
 * there are no logins, or -1 (answered). */
static int check_logins(op_t *op, const sts_idpool_t *p, char provider[160], char pool_id[64],
                        char sub[96])
{
    const json_t *logins = json_object_get(op->in, "Logins");
    if (logins == NULL || json_is_null(logins) ||
        (json_is_object(logins) && json_object_size(logins) == 0))
        return 1;
    if (!json_is_object(logins)) {
        fail(op, "SerializationException", "Logins must be a map of provider names to tokens.");
        return -1;
    }
    if (json_object_size(logins) > 1) {
        fail(op, "NotAuthorizedException", "cloudlet accepts one login provider per request.");
        return -1;
    }
    const char *name = NULL;
    json_t *tokv = NULL;
    json_object_foreach((json_t *)logins, name, tokv) break;
    const char *token = json_string_value(tokv);
    char prefix[96];
    int n = snprintf(prefix, sizeof prefix, "cognito-idp.%s.amazonaws.com/", op->s->region);
    if (token == NULL || strlen(name) >= 160 || strncmp(name, prefix, (size_t)n) != 0) {
        fail(op, "NotAuthorizedException", "Invalid login token. Not a valid provider: %.100s",
             name);
        return -1;
    }
    const char *upool = name + n;
    const char *client = NULL;
    int listed = 0;
    size_t i;
    json_t *pv;
    json_array_foreach(p->providers, i, pv)
    {
        if (strcmp(json_string_value(json_object_get(pv, "userPoolId")), upool) == 0) {
            listed = 1;
            client = json_string_value(json_object_get(pv, "clientId"));
        }
    }
    if (!listed) {
        fail(op, "NotAuthorizedException",
             "Invalid login token. %.100s is not a provider of this identity pool.", name);
        return -1;
    }
    json_t *claims = NULL;
    char why[100];
    if (auth_token_verify(op->s->auth, upool, token, "id", client, &claims, why, sizeof why) !=
        0) {
        fail(op, "NotAuthorizedException", "Invalid login token. %s.",
             strcmp(why, "expired") == 0 ? "Token expired" : "Token is not valid");
        return -1;
    }
    const char *s = json_string_value(json_object_get(claims, "sub"));
    if (s == NULL || strlen(s) >= 96) {
        json_decref(claims);
        fail(op, "NotAuthorizedException", "Invalid login token. The token has no sub.");
        return -1;
    }
    snprintf(provider, 160, "%s", name);
    snprintf(pool_id, 64, "%s", upool);
    snprintf(sub, 96, "%s", s);
    json_decref(claims);
    return 0;
}

static void new_identity_id(const sts_t *s, char *out, size_t outsz)
{
    char uuid[37];
    util_uuid(uuid);
    snprintf(out, outsz, "%.40s:%s", s->region, uuid);
}

/* The identity id of (pool, provider, sub), made and stored on first use;
 * "" provider means a new guest identity. Returns 0 or a storage error. */
static int identity_for(sts_t *s, const char *pool, const char *provider, const char *sub,
                        char id[96])
{
    char key[400];
    int klen = snprintf(key, sizeof key, "%s|%s|%s", pool, provider, sub);
    if (provider[0] != '\0') {
        storage_view_t *v;
        const void *val;
        size_t len;
        int found = 0;
        if (storage_view_open(s->st, &v) == 0) {
            if (storage_view_rec_get(v, T_IDENTITIES, key, (size_t)klen, &val, &len) == 0 &&
                len < 96) {
                memcpy(id, val, len);
                id[len] = '\0';
                found = 1;
            }
            storage_view_close(v);
        }
        if (found)
            return 0;
    }
    new_identity_id(s, id, 96);
    json_t *rec = json_pack("{s:s, s:s, s:s}", "p", pool, "prov", provider, "sub", sub);
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    storage_txn_t *t;
    int rc = storage_txn_begin(s->st, &t);
    if (rc == 0 && provider[0] != '\0') {
        const void *val;
        size_t len;
        /* Another request may have made it since the read above. */
        if (storage_rec_get(t, T_IDENTITIES, key, (size_t)klen, &val, &len) == 0 && len < 96) {
            memcpy(id, val, len);
            id[len] = '\0';
            storage_txn_abort(t);
            free(text);
            return 0;
        }
        rc = storage_rec_put(t, T_IDENTITIES, key, (size_t)klen, id, strlen(id), 0);
    }
    if (rc == 0)
        rc = storage_rec_put(t, T_IDENTITY, id, strlen(id), text, strlen(text), 0);
    if (rc == 0)
        rc = storage_txn_commit(t);
    else if (t != NULL)
        storage_txn_abort(t);
    free(text);
    return rc;
}

/* The stored record of an identity id, or NULL. */
static json_t *identity_get(sts_t *s, const char *id)
{
    storage_view_t *v;
    const void *val;
    size_t len;
    json_t *rec = NULL;
    if (storage_view_open(s->st, &v) != 0)
        return NULL;
    if (storage_view_rec_get(v, T_IDENTITY, id, strlen(id), &val, &len) == 0)
        rec = json_loadb(val, len, 0, NULL);
    storage_view_close(v);
    return rec;
}

/* ---- operations ---- */

static void op_get_id(op_t *op)
{
    sts_idpool_t *p = get_pool(op, "IdentityPoolId");
    char provider[160], upool[64], sub[96], id[96];
    if (p == NULL)
        return;
    int rc = check_logins(op, p, provider, upool, sub);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        if (!p->allow_unauth || p->unauth_role[0] == '\0') {
            fail(op, "NotAuthorizedException",
                 "Unauthenticated access is not supported for this identity pool.");
            goto out;
        }
        provider[0] = sub[0] = '\0';
    }
    if (identity_for(op->s, p->id, provider, sub, id) != 0)
        fail(op, "InternalErrorException", "The identity could not be stored.");
    else
        reply(op, json_pack("{s:s}", "IdentityId", id));
out:
    sts_idpool_free(p);
}

/* Check that the request may act as identity `id`: its pool, and for an
 * authenticated identity, Logins of the same user. Returns the pool (caller
 * frees) or NULL (answered); *guest tells which kind it is, and id_out the
 * identity to answer for (a guest with Logins becomes the user's identity). */
static sts_idpool_t *identity_access(op_t *op, const char *id, int *guest, char sub[96],
                                     char upool[64], char id_out[96])
{
    snprintf(id_out, 96, "%s", id);
    json_t *rec = identity_get(op->s, id);
    const char *pid = json_string_value(json_object_get(rec, "p"));
    const char *prov = json_string_value(json_object_get(rec, "prov"));
    const char *rsub = json_string_value(json_object_get(rec, "sub"));
    sts_idpool_t *p = pid ? sts_idpool_get(op->s, pid) : NULL;
    char provider[160];
    if (p == NULL || prov == NULL || rsub == NULL) {
        fail(op, "ResourceNotFoundException", "Identity '%s' not found.", id);
        goto err;
    }
    int rc = check_logins(op, p, provider, upool, sub);
    if (rc < 0)
        goto err;
    *guest = prov[0] == '\0';
    if (*guest && rc == 0) {
        /* A guest who has signed in (Amplify keeps the guest id): the login
         * wins, as in Cognito. The user's own identity is used, made now if
         * this is their first. */
        char uid[96];
        if (identity_for(op->s, p->id, provider, sub, uid) != 0) {
            fail(op, "InternalErrorException", "The identity could not be stored.");
            goto err;
        }
        snprintf(id_out, 96, "%s", uid);
        *guest = 0;
        json_decref(rec);
        return p;
    }
    if (*guest) {
        if (!p->allow_unauth || p->unauth_role[0] == '\0') {
            fail(op, "NotAuthorizedException",
                 "Unauthenticated access is not supported for this identity pool.");
            goto err;
        }
        sub[0] = upool[0] = '\0';
    } else if (rc == 1) {
        fail(op, "NotAuthorizedException",
             "Access to Identity '%s' is forbidden: the identity is authenticated and the "
             "request has no Logins.",
             id);
        goto err;
    } else if (strcmp(provider, prov) != 0 || strcmp(sub, rsub) != 0) {
        fail(op, "NotAuthorizedException", "Invalid login token. The token belongs to another "
                                           "identity.");
        goto err;
    }
    json_decref(rec);
    return p;
err:
    json_decref(rec);
    sts_idpool_free(p);
    return NULL;
}

static void op_get_credentials(op_t *op)
{
    const char *id;
    char sub[96], upool[64], idbuf[96];
    int guest = 0;
    if (get_str(op, "IdentityId", 1, 55, &id) != 0)
        return;
    sts_idpool_t *p = identity_access(op, id, &guest, sub, upool, idbuf);
    if (p == NULL)
        return;
    id = idbuf;
    const sts_role_t *role = sts_role_find(op->s, guest ? p->unauth_role : p->auth_role);
    if (role == NULL) {
        fail(op, "InvalidIdentityPoolConfigurationException",
             "Invalid identity pool configuration. Check assigned IAM roles for this pool.");
        sts_idpool_free(p);
        return;
    }
    sts_session_t sess = {0, role, "CognitoIdentityCredentials", id, guest ? NULL : sub, NULL,
                          op->s->default_duration};
    json_t *c = sts_session_mint(op->s, &sess, util_now_ms() / 1000);
    if (c == NULL) {
        fail(op, "InternalErrorException", "Temporary credentials are not available.");
    } else {
        reply(op, json_pack("{s:s, s:{s:O, s:O, s:O, s:O}}", "IdentityId", id, "Credentials",
                            "AccessKeyId", json_object_get(c, "AccessKeyId"), "SecretKey",
                            json_object_get(c, "SecretAccessKey"), "SessionToken",
                            json_object_get(c, "SessionToken"), "Expiration",
                            json_object_get(c, "Expiration")));
        json_t *sec = json_object_get(c, "SecretAccessKey");
        OPENSSL_cleanse((char *)json_string_value(sec), json_string_length(sec));
        json_decref(c);
    }
    sts_idpool_free(p);
}

static void op_get_open_id_token(op_t *op)
{
    const char *id;
    char sub[96], upool[64], idbuf[96];
    int guest = 0;
    if (get_str(op, "IdentityId", 1, 55, &id) != 0)
        return;
    sts_idpool_t *p = identity_access(op, id, &guest, sub, upool, idbuf);
    if (p == NULL)
        return;
    id = idbuf;
    int64_t now = util_now_ms() / 1000;
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:[s]}", "iss",
                               "https://cognito-identity.amazonaws.com", "aud", p->id, "sub", id,
                               "iat", (json_int_t)now, "exp", (json_int_t)(now + OPENID_TTL),
                               "amr", guest ? "unauthenticated" : "authenticated");
    if (!guest)
        json_array_append_new(json_object_get(claims, "amr"),
                              json_sprintf("cognito-idp.%s.amazonaws.com/%s", op->s->region,
                                           upool));
    /* Signed with the key of the user pool behind the identity (the default
     * pool's for guests), so the token verifies against a served JWKS. */
    char *token = auth_sign(op->s->auth, guest ? auth_default_pool_id(op->s->auth) : upool,
                            claims);
    json_decref(claims);
    if (token == NULL)
        fail(op, "InternalErrorException", "The token could not be signed.");
    else
        reply(op, json_pack("{s:s, s:s}", "IdentityId", id, "Token", token));
    free(token);
    sts_idpool_free(p);
}

static json_t *pool_shape(const sts_t *s, const sts_idpool_t *p)
{
    json_t *provs = json_array();
    size_t i;
    json_t *pv;
    json_array_foreach(p->providers, i, pv)
    {
        json_t *e = json_pack("{s:o, s:b}", "ProviderName",
                              json_sprintf("cognito-idp.%s.amazonaws.com/%s", s->region,
                                           json_string_value(json_object_get(pv, "userPoolId"))),
                              "ServerSideTokenCheck", 0);
        if (json_object_get(pv, "clientId") != NULL)
            json_object_set(e, "ClientId", json_object_get(pv, "clientId"));
        json_array_append_new(provs, e);
    }
    return json_pack("{s:s, s:s, s:b, s:b, s:o}", "IdentityPoolId", p->id, "IdentityPoolName",
                     p->name, "AllowUnauthenticatedIdentities", p->allow_unauth,
                     "AllowClassicFlow", 0, "CognitoIdentityProviders", provs);
}

/* Parse CognitoIdentityProviders into our providers array. Returns 0 or -1 (answered). */
static int parse_providers(op_t *op, json_t *providers)
{
    const json_t *arr = json_object_get(op->in, "CognitoIdentityProviders");
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > 16) {
        fail(op, "SerializationException", "CognitoIdentityProviders must be a list.");
        return -1;
    }
    char prefix[96];
    int n = snprintf(prefix, sizeof prefix, "cognito-idp.%s.amazonaws.com/", op->s->region);
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "ProviderName"));
        const char *client = json_string_value(json_object_get(e, "ClientId"));
        if (name == NULL || strncmp(name, prefix, (size_t)n) != 0 || strlen(name) > 150 ||
            (client != NULL && strlen(client) > 128)) {
            fail(op, "InvalidParameterException",
                 "ProviderName must be cognito-idp.%s.amazonaws.com/<userPoolId>.",
                 op->s->region);
            return -1;
        }
        json_array_append_new(providers, json_pack("{s:s, s:s?}", "userPoolId", name + n,
                                                   "clientId", client));
    }
    return 0;
}

static void op_create_identity_pool(op_t *op)
{
    const char *name;
    if (get_str(op, "IdentityPoolName", 1, 128, &name) != 0)
        return;
    const json_t *au = json_object_get(op->in, "AllowUnauthenticatedIdentities");
    if (au == NULL || !json_is_boolean(au)) {
        fail(op, "InvalidParameterException",
             "AllowUnauthenticatedIdentities is required and must be a boolean.");
        return;
    }
    sts_idpool_t *p = xcalloc(1, sizeof *p);
    new_identity_id(op->s, p->id, sizeof p->id);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->allow_unauth = json_is_true(au);
    p->providers = json_array();
    if (parse_providers(op, p->providers) != 0) {
        sts_idpool_free(p);
        return;
    }
    json_t *shape = pool_shape(op->s, p);
    if (sts_idpool_store(op->s, p, 1) != 0) {
        json_decref(shape);
        fail(op, "LimitExceededException", "The identity pool could not be stored.");
        return;
    }
    reply(op, shape);
}

static void op_describe_identity_pool(op_t *op)
{
    sts_idpool_t *p = get_pool(op, "IdentityPoolId");
    if (p == NULL)
        return;
    reply(op, pool_shape(op->s, p));
    sts_idpool_free(p);
}

static void op_list_identity_pools(op_t *op)
{
    const json_t *max = json_object_get(op->in, "MaxResults");
    if (!json_is_integer(max) || json_integer_value(max) < 1 || json_integer_value(max) > 60) {
        fail(op, "InvalidParameterException", "MaxResults must be an integer from 1 to 60.");
        return;
    }
    json_t *arr = json_array();
    pthread_rwlock_rdlock(&op->s->idpools_lock);
    for (int i = 0; i < op->s->nidpools && i < json_integer_value(max); i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "IdentityPoolId",
                                             op->s->idpools[i]->id, "IdentityPoolName",
                                             op->s->idpools[i]->name));
    pthread_rwlock_unlock(&op->s->idpools_lock);
    reply(op, json_pack("{s:o}", "IdentityPools", arr));
}

static void op_set_identity_pool_roles(op_t *op)
{
    sts_idpool_t *p = get_pool(op, "IdentityPoolId");
    if (p == NULL)
        return;
    const json_t *roles = json_object_get(op->in, "Roles");
    if (!json_is_object(roles)) {
        fail(op, "InvalidParameterException", "Roles is required: {\"authenticated\": roleArn}.");
        sts_idpool_free(p);
        return;
    }
    const char *key;
    const json_t *v;
    p->auth_role[0] = p->unauth_role[0] = '\0';
    json_object_foreach((json_t *)roles, key, v)
    {
        const sts_role_t *r = sts_role_by_arn(op->s, json_string_value(v));
        char *slot = strcmp(key, "authenticated") == 0     ? p->auth_role
                     : strcmp(key, "unauthenticated") == 0 ? p->unauth_role
                                                           : NULL;
        if (slot == NULL || r == NULL) {
            fail(op, "InvalidParameterException",
                 "Roles must map authenticated/unauthenticated to the ARN of a role in the "
                 "config.");
            sts_idpool_free(p);
            return;
        }
        snprintf(slot, STS_ROLE_NAME_MAX + 1, "%s", r->name);
    }
    if (sts_idpool_store(op->s, p, 0) != 0)
        fail(op, "InternalErrorException", "The identity pool could not be stored.");
    else
        reply(op, json_object());
}

static void op_get_identity_pool_roles(op_t *op)
{
    sts_idpool_t *p = get_pool(op, "IdentityPoolId");
    if (p == NULL)
        return;
    json_t *roles = json_object();
    const sts_role_t *r = sts_role_find(op->s, p->auth_role);
    if (r != NULL)
        json_object_set_new(roles, "authenticated", json_string(r->arn));
    r = sts_role_find(op->s, p->unauth_role);
    if (r != NULL)
        json_object_set_new(roles, "unauthenticated", json_string(r->arn));
    reply(op, json_pack("{s:s, s:o}", "IdentityPoolId", p->id, "Roles", roles));
    sts_idpool_free(p);
}

static const struct {
    const char *name;
    void (*fn)(op_t *op);
    int admin;
} ops[] = {
    {"GetId", op_get_id, 0},
    {"GetCredentialsForIdentity", op_get_credentials, 0},
    {"GetOpenIdToken", op_get_open_id_token, 0},
    {"CreateIdentityPool", op_create_identity_pool, 1},
    {"DescribeIdentityPool", op_describe_identity_pool, 1},
    {"ListIdentityPools", op_list_identity_pools, 1},
    {"SetIdentityPoolRoles", op_set_identity_pool_roles, 1},
    {"GetIdentityPoolRoles", op_get_identity_pool_roles, 1},
};

static int find_op(const http_req_t *req)
{
    const char *target = http_header(req, "X-Amz-Target");
    const char *name = target ? strchr(target, '.') : NULL;
    name = name ? name + 1 : "";
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

int sts_identity_action(const sts_t *s, const http_req_t *req, char *action, size_t actionsz,
                        char *resource, size_t resourcesz)
{
    int i = find_op(req);
    if (i < 0 || !ops[i].admin)
        return 1;
    snprintf(action, actionsz, "cognito-identity:%s", ops[i].name);
    json_t *in = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    const char *id = json_string_value(json_object_get(in, "IdentityPoolId"));
    snprintf(resource, resourcesz, "arn:aws:cognito-identity:%s:%s:identitypool/%s", s->region,
             s->account_id, id && strlen(id) <= 55 ? id : "*");
    json_decref(in);
    return 0;
}

void sts_handle_identity(sts_t *s, const http_req_t *req, http_resp_t *resp)
{
    op_t op = {s, req, resp, NULL, 0};
    int i = find_op(req);
    if (i < 0) {
        const char *target = http_header(req, "X-Amz-Target");
        fail(&op, "InvalidAction", "cloudlet does not implement the operation '%.64s'.",
             target ? target : "");
        return;
    }
    if (ops[i].admin && req->caller == NULL) {
        http_error(resp, HTTP_PROTO_JSON, 403, "MissingAuthenticationTokenException",
                   "Missing Authentication Token: this operation must be signed.", NULL,
                   req->request_id);
        return;
    }
    if (s->st == NULL || s->auth == NULL) {
        fail(&op, "InternalErrorException", "Identity pools are not configured.");
        return;
    }
    if (req->body_len > BODY_MAX) {
        http_error(resp, HTTP_PROTO_JSON, 413, "RequestEntityTooLargeException",
                   "The request body is too large.", NULL, req->request_id);
        return;
    }
    op.in = req->body_len == 0 ? json_object()
                               : json_loadb((const char *)req->body, req->body_len,
                                            JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (!json_is_object(op.in)) {
        json_decref(op.in);
        fail(&op, "SerializationException", "The request body is not a JSON object.");
        return;
    }
    ops[i].fn(&op);
    if (!op.done)
        fail(&op, "InternalErrorException", "Internal error in %s.", ops[i].name);
    json_decref(op.in);
}
