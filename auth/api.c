/* api.c - the Cognito User Pools API (awsJson1_1, wire doc section 2).
 *
 * auth_handle parses the JSON body, finds the operation named by
 * X-Amz-Target and runs it. Every input is checked the way the service
 * does it: a member of the wrong JSON type is a SerializationException, a
 * missing or over-long one an InvalidParameterException; each error is
 * answered in the JSON shape SDKs parse ({"__type","message"} plus
 * x-amzn-ErrorType, HTTP 400; 500 only for InternalErrorException).
 *
 * Writes that must not half-happen (a user and its confirmation code and
 * outbox message) go in one storage transaction, after the slow password
 * hashing, so a failed SignUp leaves nothing behind.
 */
#include "auth/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/log.h"
#include "common/util.h"

#define T_USERS "users"
#define T_CODES "codes"
#define BODY_MAX (256 * 1024)
#define CONFIRM_TTL (24 * 3600)
#define RESET_TTL 3600
#define CHALLENGE_TTL_MS (5 * 60 * 1000)
#define TIMESTAMP_SKEW 900
#define ATTR_VALUE_MAX 2048
#define MAX_ATTRS 50

typedef struct op {
    auth_t *a;
    const http_req_t *req;
    http_resp_t *resp;
    json_t *in;
    int done;
} op_t;

/* ---- answers ---- */

static void fail(op_t *op, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(op_t *op, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int status = strcmp(code, "InternalErrorException") == 0 ? 500 : 400;
    http_resp_clear(op->resp);
    http_resp_init(op->resp);
    http_error(op->resp, HTTP_PROTO_JSON, status, code, msg, NULL, op->req->request_id);
    op->done = 1;
}

static void reply(op_t *op, json_t *out)
{
    char *s = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    http_resp_header(op->resp, "Content-Type", "application/x-amz-json-1.1");
    http_resp_body_owned(op->resp, s, strlen(s));
    op->done = 1;
}

static void internal(op_t *op, const char *what)
{
    log_error("auth: %s failed", what);
    fail(op, "InternalErrorException", "Internal error: %s failed.", what);
}

/* ---- input ---- */

/* "ClientId" -> "clientId", the form the service's messages use. */
static void member_path(const char *name, char out[64])
{
    snprintf(out, 64, "%s", name);
    out[0] = (char)tolower((unsigned char)out[0]);
}

/* A string member: wrong type → SerializationException; absent and required,
 * or outside [min, max] bytes → InvalidParameterException. *out is NULL when
 * absent and optional. Returns 0 or -1 (the answer is set). */
static int get_str(op_t *op, const json_t *obj, const char *name, int required, size_t min,
                   size_t max, const char **out)
{
    char path[64];
    const json_t *v = json_object_get(obj, name);
    *out = NULL;
    member_path(name, path);
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return 0;
        fail(op, "InvalidParameterException",
             "1 validation error detected: Value null at '%s' failed to satisfy constraint: "
             "Member must not be null",
             path);
        return -1;
    }
    if (!json_is_string(v)) {
        fail(op, "SerializationException", "Value of '%s' must be a string.", name);
        return -1;
    }
    size_t n = json_string_length(v);
    if (n < min || n > max || strlen(json_string_value(v)) != n) {
        fail(op, "InvalidParameterException",
             "1 validation error detected: Value at '%s' failed to satisfy constraint: Member "
             "must have length between %zu and %zu",
             path, min, max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int get_bool(op_t *op, const json_t *obj, const char *name, int *out)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        fail(op, "SerializationException", "Value of '%s' must be a boolean.", name);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* A map of strings (AuthParameters, ChallengeResponses): NULL when absent. */
static int get_map(op_t *op, const json_t *obj, const char *name, const json_t **out)
{
    const json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    const char *k;
    const json_t *e;
    if (!json_is_object(v)) {
        fail(op, "SerializationException", "Value of '%s' must be a map of strings.", name);
        return -1;
    }
    json_object_foreach((json_t *)v, k, e)
    {
        /* A null entry counts as absent: browsers send DEVICE_KEY: null. */
        if (json_is_null(e))
            continue;
        if (!json_is_string(e) || json_string_length(e) > 8192) {
            fail(op, "SerializationException", "Value of '%s.%s' must be a string.", name, k);
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* A parameter inside a map, required. */
static int map_param(op_t *op, const json_t *map, const char *name, size_t max, const char **out)
{
    const json_t *v = map ? json_object_get(map, name) : NULL;
    *out = NULL;
    if (v == NULL || json_string_length(v) == 0) {
        fail(op, "InvalidParameterException", "Missing required parameter %s", name);
        return -1;
    }
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        fail(op, "InvalidParameterException", "Parameter %s is too long.", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int username_ok(const char *u)
{
    for (const unsigned char *p = (const unsigned char *)u; *p; p++) {
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    }
    return 1;
}

static int get_username(op_t *op, const json_t *obj, const char *name, const char **out)
{
    if (get_str(op, obj, name, 1, 1, AUTH_USERNAME_MAX, out) != 0)
        return -1;
    if (!username_ok(*out)) {
        fail(op, "InvalidParameterException",
             "1 validation error detected: Value at 'username' failed to satisfy constraint: "
             "Member must satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+");
        return -1;
    }
    return 0;
}

static int get_password(op_t *op, const json_t *obj, const char *name, const char **out)
{
    return get_str(op, obj, name, 1, 1, AUTH_PASSWORD_MAX, out);
}

static auth_pool_t *get_pool(op_t *op)
{
    const char *id;
    if (get_str(op, op->in, "UserPoolId", 1, 1, AUTH_POOL_ID_MAX, &id) != 0)
        return NULL;
    auth_pool_t *p = auth_pool_find(op->a, id);
    if (p == NULL)
        fail(op, "ResourceNotFoundException", "User pool %s does not exist.", id);
    return p;
}

static auth_client_t *get_client(op_t *op, auth_pool_t **pool)
{
    const char *id;
    if (get_str(op, op->in, "ClientId", 1, 1, AUTH_CLIENT_ID_MAX, &id) != 0)
        return NULL;
    auth_client_t *c = auth_client_lookup(op->a, id, pool);
    if (c == NULL)
        fail(op, "ResourceNotFoundException", "User pool client %s does not exist.", id);
    return c;
}

static const char *const standard_attrs[] = {
    "address",      "birthdate",   "email",       "email_verified",        "family_name",
    "gender",       "given_name",  "locale",      "middle_name",           "name",
    "nickname",     "phone_number", "phone_number_verified", "picture",     "preferred_username",
    "profile",      "zoneinfo",    "updated_at",  "website",               NULL};

/* Parse [{Name, Value}] into attrs (an object). Verified flags only when
 * `admin`: a user must not mark their own e-mail verified. */
static int get_attributes(op_t *op, const char *member, int admin, json_t *attrs)
{
    const json_t *arr = json_object_get(op->in, member);
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr)) {
        fail(op, "SerializationException", "Value of '%s' must be a list.", member);
        return -1;
    }
    if (json_array_size(arr) > MAX_ATTRS) {
        fail(op, "InvalidParameterException", "Too many attributes (at most %d).", MAX_ATTRS);
        return -1;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *name, *value;
        if (!json_is_object(e)) {
            fail(op, "SerializationException", "Each of '%s' must be an object.", member);
            return -1;
        }
        if (get_str(op, e, "Name", 1, 1, 32, &name) != 0 ||
            get_str(op, e, "Value", 0, 0, ATTR_VALUE_MAX, &value) != 0)
            return -1;
        int known = util_startswith(name, "custom:") && strlen(name) > 7;
        for (const char *const *s = standard_attrs; !known && *s; s++)
            known = strcmp(*s, name) == 0;
        if (!known) {
            fail(op, "InvalidParameterException",
                 "Attribute does not exist in the schema: %s", name);
            return -1;
        }
        if (!admin && strstr(name, "_verified") != NULL) {
            fail(op, "NotAuthorizedException", "A client attempted to write unauthorized attribute");
            return -1;
        }
        json_object_set_new(attrs, name, json_string(value ? value : ""));
    }
    return 0;
}

/* ---- shared pieces ---- */

static int client_secret_hash_ok(const auth_client_t *c, const char *username, const char *given)
{
    unsigned char mac[32];
    unsigned int len = 0;
    char msg[AUTH_USERNAME_MAX + AUTH_CLIENT_ID_MAX + 1];
    int n = snprintf(msg, sizeof msg, "%s%s", username, c->id);
    HMAC(EVP_sha256(), c->secret, (int)strlen(c->secret), (const unsigned char *)msg, (size_t)n,
         mac, &len);
    char *want = util_base64(mac, sizeof mac);
    int ok = given != NULL && strlen(given) == strlen(want) &&
             CRYPTO_memcmp(want, given, strlen(want)) == 0;
    free(want);
    return ok;
}

/* SECRET_HASH for clients that have a secret. Returns 0 or -1 (answered). */
static int check_secret_hash(op_t *op, const auth_client_t *c, const char *username,
                             const char *given)
{
    if (c->secret == NULL)
        return 0;
    if (given == NULL) {
        fail(op, "NotAuthorizedException",
             "Client %s is configured with secret but SECRET_HASH was not received", c->id);
        return -1;
    }
    if (!client_secret_hash_ok(c, username, given)) {
        fail(op, "NotAuthorizedException", "Unable to verify secret hash for client %s", c->id);
        return -1;
    }
    return 0;
}

/* ClientSecret (GetTokensFromRefreshToken, RevokeToken) for clients that have one. */
static int check_client_secret(op_t *op, const auth_client_t *c, const char *given)
{
    if (c->secret == NULL)
        return 0;
    if (given == NULL || strlen(given) != strlen(c->secret) ||
        CRYPTO_memcmp(given, c->secret, strlen(given)) != 0) {
        fail(op, "NotAuthorizedException", "Unable to verify secret hash for client %s", c->id);
        return -1;
    }
    return 0;
}

static json_t *epoch(int64_t ms)
{
    return json_real((double)ms / 1000.0);
}

static json_t *attributes_json(const json_t *user)
{
    json_t *arr = json_array();
    json_array_append_new(arr, json_pack("{s:s, s:O}", "Name", "sub", "Value",
                                         json_object_get(user, "sub")));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(user, "a"), k, v)
        json_array_append_new(arr, json_pack("{s:s, s:O}", "Name", k, "Value", v));
    return arr;
}

static json_t *user_type(const json_t *user, const char *attrs_member)
{
    return json_pack("{s:O, s:o, s:o, s:o, s:O, s:O}", "Username", json_object_get(user, "u"),
                     attrs_member, attributes_json(user), "UserCreateDate",
                     epoch(json_integer_value(json_object_get(user, "c"))),
                     "UserLastModifiedDate", epoch(json_integer_value(json_object_get(user, "m"))),
                     "Enabled", json_object_get(user, "en"), "UserStatus",
                     json_object_get(user, "st"));
}

static const char *user_attr(const json_t *user, const char *name)
{
    return json_string_value(json_object_get(json_object_get(user, "a"), name));
}

/* "alice@example.com" -> "a***@e***.com", as Cognito shows destinations. */
static void mask(const char *dest, char out[128])
{
    const char *at = strchr(dest, '@');
    if (at == NULL || at == dest) {
        snprintf(out, 128, "%c***", dest[0] ? dest[0] : '*');
        return;
    }
    const char *dot = strrchr(at, '.');
    snprintf(out, 128, "%c***@%c***%s", dest[0], at[1] ? at[1] : '*', dot ? dot : "");
}

static json_t *delivery(const json_t *user, const char *username)
{
    const char *email = user ? user_attr(user, "email") : NULL;
    char m[128];
    mask(email ? email : username, m);
    return json_pack("{s:s, s:s, s:s}", "Destination", m, "DeliveryMedium", "EMAIL",
                     "AttributeName", "email");
}

/* Queue a code for user inside t: the code record and the outbox message. */
static int queue_code(op_t *op, storage_txn_t *t, const auth_pool_t *p, const json_t *user,
                      const char *purpose, int64_t ttl, const char *kind)
{
    char code[7], msg[200];
    const char *u = json_string_value(json_object_get(user, "u"));
    const char *email = user_attr(user, "email");
    int rc = auth_code_new(op->a, t, p, u, purpose, ttl, code);
    if (rc != 0)
        return rc;
    if (strcmp(purpose, "reset") == 0)
        snprintf(msg, sizeof msg, "Your password reset code is %s", code);
    else
        snprintf(msg, sizeof msg, "Your confirmation code is %s", code);
    rc = auth_outbox_put(t, p, u, email ? email : u, kind, code, msg);
    OPENSSL_cleanse(code, sizeof code);
    OPENSSL_cleanse(msg, sizeof msg);
    return rc;
}

/* Commit t, mapping failures to an answer. Returns 0 or -1 (answered). */
static int commit(op_t *op, storage_txn_t *t, const char *what)
{
    int rc = storage_txn_commit(t);
    if (rc != 0) {
        internal(op, what);
        return -1;
    }
    return 0;
}

/* Re-read user inside t, apply fn, write it back, commit. */
typedef void (*edit_fn)(json_t *user, void *ctx);

static int edit_user(op_t *op, const auth_pool_t *p, const char *username, edit_fn fn, void *ctx)
{
    char key[256];
    size_t klen = auth_user_key(p, username, key);
    storage_txn_t *t;
    if (storage_txn_begin(op->a->st, &t) != 0) {
        internal(op, "a transaction");
        return -1;
    }
    const void *val;
    size_t len;
    json_t *u = NULL;
    if (storage_rec_get(t, T_USERS, key, klen, &val, &len) == 0)
        u = json_loadb(val, len, 0, NULL);
    if (u == NULL) {
        storage_txn_abort(t);
        fail(op, "UserNotFoundException", "User does not exist.");
        return -1;
    }
    fn(u, ctx);
    int rc = auth_user_put(t, p, u, 0);
    json_decref(u);
    if (rc != 0) {
        storage_txn_abort(t);
        internal(op, "storing the user");
        return -1;
    }
    return commit(op, t, "storing the user");
}

/* Remove a user with its codes and sessions. */
static int delete_user(op_t *op, const auth_pool_t *p, const char *username)
{
    char key[256], ckey[300];
    size_t klen = auth_user_key(p, username, key);
    storage_txn_t *t;
    if (storage_txn_begin(op->a->st, &t) != 0) {
        internal(op, "a transaction");
        return -1;
    }
    int rc = storage_rec_del(t, T_USERS, key, klen);
    if (rc == STORAGE_ENOTFOUND) {
        storage_txn_abort(t);
        fail(op, "UserNotFoundException", "User does not exist.");
        return -1;
    }
    snprintf(ckey, sizeof ckey, "%s/confirm", key);
    storage_rec_del(t, T_CODES, ckey, strlen(ckey));
    snprintf(ckey, sizeof ckey, "%s/reset", key);
    storage_rec_del(t, T_CODES, ckey, strlen(ckey));
    if (commit(op, t, "deleting the user") != 0)
        return -1;
    auth_sessions_end_user(op->a, p, username);
    return 0;
}

/* ---- log-in ---- */

static int nonce_use(auth_t *a, const unsigned char nonce[16])
{
    int seen = 0;
    pthread_mutex_lock(&a->nonce_lock);
    for (unsigned i = 0; i < AUTH_NONCE_RING && !seen; i++)
        seen = memcmp(a->nonces[i], nonce, 16) == 0;
    if (!seen) {
        memcpy(a->nonces[a->nonce_next], nonce, 16);
        a->nonce_next = (a->nonce_next + 1) % AUTH_NONCE_RING;
    }
    pthread_mutex_unlock(&a->nonce_lock);
    return seen ? -1 : 0;
}

static void new_password_challenge(op_t *op, const auth_pool_t *p, const auth_client_t *c,
                                   const json_t *user)
{
    const char *u = json_string_value(json_object_get(user, "u"));
    json_t *s = json_pack("{s:s, s:s, s:s, s:I}", "p", p->id, "c", c->id, "u", u, "t",
                          (json_int_t)util_now_ms());
    char *plain = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    size_t n = strlen(plain);
    unsigned char *sealed = xmalloc(n + SEAL_OVERHEAD);
    size_t sn = seal(op->a->key, "new-password", plain, n, sealed);
    char *session = util_base64(sealed, sn);
    free(sealed);
    free(plain);
    json_t *attrs = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(user, "a"), k, v) json_object_set(attrs, k, v);
    char *attrs_s = json_dumps(attrs, JSON_COMPACT);
    json_decref(attrs);
    reply(op, json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "ChallengeName", "NEW_PASSWORD_REQUIRED",
                        "Session", session, "ChallengeParameters", "USER_ID_FOR_SRP", u,
                        "requiredAttributes", "[]", "userAttributes", attrs_s));
    free(session);
    free(attrs_s);
}

/* The password (or SRP proof) was right: check the user's state and answer
 * with tokens or the next challenge. */
static void finish_login(op_t *op, const auth_pool_t *p, const auth_client_t *c,
                         const json_t *user)
{
    const char *st = json_string_value(json_object_get(user, "st"));
    char key[256];
    auth_user_key(p, json_string_value(json_object_get(user, "u")), key);
    if (!json_is_true(json_object_get(user, "en"))) {
        fail(op, "NotAuthorizedException", "User is disabled.");
        return;
    }
    auth_throttle_reset(op->a, key);
    if (strcmp(st, "UNCONFIRMED") == 0) {
        fail(op, "UserNotConfirmedException", "User is not confirmed.");
        return;
    }
    if (strcmp(st, "RESET_REQUIRED") == 0) {
        fail(op, "PasswordResetRequiredException", "Password reset required for the user");
        return;
    }
    if (strcmp(st, "FORCE_CHANGE_PASSWORD") == 0) {
        new_password_challenge(op, p, c, user);
        return;
    }
    json_t *tokens = auth_tokens_issue(op->a, p, c, user, 1, 0, NULL);
    if (tokens == NULL) {
        internal(op, "issuing tokens");
        return;
    }
    reply(op, json_pack("{s:{}, s:o}", "ChallengeParameters", "AuthenticationResult", tokens));
}

/* Throttle check before any password work. Returns 0 to go on. */
static int throttled(op_t *op, const auth_pool_t *p, const char *username)
{
    char key[256];
    auth_user_key(p, username, key);
    int t = auth_throttle_check(op->a, key, op->req->remote);
    if (t == 1)
        fail(op, "NotAuthorizedException", "Password attempts exceeded");
    else if (t == 2)
        fail(op, "TooManyRequestsException",
             "Too many failed log-in attempts from this address; try again later.");
    return t;
}

static void login_failed(op_t *op, const auth_pool_t *p, const auth_client_t *c,
                         const char *username, int user_exists)
{
    char key[256];
    auth_user_key(p, username, key);
    auth_throttle_fail(op->a, key, op->req->remote);
    if (!user_exists && !c->prevent_existence)
        fail(op, "UserNotFoundException", "User does not exist.");
    else
        fail(op, "NotAuthorizedException", "Incorrect username or password.");
}

static void password_login(op_t *op, auth_pool_t *p, auth_client_t *c, const json_t *params)
{
    const char *username, *password, *hash = NULL;
    if (!(c->flows & FLOW_PASSWORD)) {
        fail(op, "InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client");
        return;
    }
    if (map_param(op, params, "USERNAME", AUTH_USERNAME_MAX, &username) != 0 ||
        map_param(op, params, "PASSWORD", AUTH_PASSWORD_MAX, &password) != 0)
        return;
    if (json_object_get(params, "SECRET_HASH") != NULL)
        hash = json_string_value(json_object_get(params, "SECRET_HASH"));
    if (check_secret_hash(op, c, username, hash) != 0 || throttled(op, p, username) != 0)
        return;
    json_t *user = auth_user_get(op->a, p, username);
    if (!auth_user_check_password(op->a, user, password))
        login_failed(op, p, c, username, user != NULL);
    else
        finish_login(op, p, c, user);
    json_decref(user);
}

/* A stable fake salt for a user that does not exist, so that asking twice
 * gives the same answer, as it would for a real user. */
static void fake_salt(auth_t *a, const auth_pool_t *p, const char *username,
                      unsigned char salt[AUTH_SRP_SALT_BYTES])
{
    unsigned char mac[32];
    unsigned int len = 0;
    char key[256], msg[300];
    auth_user_key(p, username, key);
    int n = snprintf(msg, sizeof msg, "fake-salt:%s", key);
    HMAC(EVP_sha256(), a->key->k, SEAL_KEY_BYTES, (const unsigned char *)msg, (size_t)n, mac,
         &len);
    memcpy(salt, mac, AUTH_SRP_SALT_BYTES);
}

static int hex_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (util_hexval(s[i]) < 0)
            return 0;
    }
    return 1;
}

static void srp_login(op_t *op, auth_pool_t *p, auth_client_t *c, const json_t *params)
{
    const char *username, *A_hex, *hash = NULL;
    if (!(c->flows & FLOW_SRP)) {
        fail(op, "InvalidParameterException", "USER_SRP_AUTH flow not enabled for this client");
        return;
    }
    if (map_param(op, params, "USERNAME", AUTH_USERNAME_MAX, &username) != 0 ||
        map_param(op, params, "SRP_A", 2 * AUTH_SRP_N_BYTES + 2, &A_hex) != 0)
        return;
    if (!hex_ok(A_hex, 2 * AUTH_SRP_N_BYTES + 2)) {
        fail(op, "InvalidParameterException", "SRP_A is not a hexadecimal number.");
        return;
    }
    if (json_object_get(params, "SECRET_HASH") != NULL)
        hash = json_string_value(json_object_get(params, "SECRET_HASH"));
    if (check_secret_hash(op, c, username, hash) != 0 || throttled(op, p, username) != 0)
        return;

    json_t *user = auth_user_get(op->a, p, username);
    unsigned char v[AUTH_SRP_N_BYTES], salt[AUTH_SRP_SALT_BYTES], b[AUTH_SRP_B_BYTES];
    size_t salt_len = sizeof salt;
    int fake = user == NULL || auth_user_verifier(op->a, p, user, v, salt, &salt_len) != 0;
    if (fake && user == NULL && !c->prevent_existence) {
        json_decref(user);
        fail(op, "UserNotFoundException", "User does not exist.");
        return;
    }
    if (fake) {
        /* Answer like a real user would be answered; the proof will fail. */
        fake_salt(op->a, p, username, salt);
        util_random(v, sizeof v);
        v[0] &= 0x7f;
    }
    const char *uid = user ? json_string_value(json_object_get(user, "u")) : username;
    char B_hex[AUTH_SRP_HEX_MAX], b_hex[2 * AUTH_SRP_B_BYTES + 1], salt_hex[2 * AUTH_SRP_SALT_BYTES + 1];
    char nonce_hex[33];
    unsigned char nonce[16];
    int rc = auth_srp_challenge(v, b, B_hex);
    OPENSSL_cleanse(v, sizeof v);
    if (rc != 0) {
        json_decref(user);
        internal(op, "the SRP challenge");
        return;
    }
    util_hex(b, sizeof b, b_hex);
    OPENSSL_cleanse(b, sizeof b);
    util_hex(salt, AUTH_SRP_SALT_BYTES, salt_hex);
    util_random(nonce, sizeof nonce);
    util_hex(nonce, sizeof nonce, nonce_hex);
    json_t *state = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "p", p->id, "c",
                              c->id, "u", uid, "b", b_hex, "A", A_hex, "B", B_hex, "t",
                              (json_int_t)util_now_ms(), "n", nonce_hex, "f", fake);
    char *plain = json_dumps(state, JSON_COMPACT);
    json_decref(state);
    OPENSSL_cleanse(b_hex, sizeof b_hex);
    size_t n = strlen(plain);
    unsigned char *sealed = xmalloc(n + SEAL_OVERHEAD);
    size_t sn = seal(op->a->key, "srp-challenge", plain, n, sealed);
    OPENSSL_cleanse(plain, n);
    free(plain);
    char *block = util_base64(sealed, sn);
    free(sealed);
    reply(op, json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "ChallengeName", "PASSWORD_VERIFIER",
                        "ChallengeParameters", "SALT", salt_hex, "SRP_B", B_hex, "SECRET_BLOCK",
                        block, "USERNAME", uid, "USER_ID_FOR_SRP", uid));
    free(block);
    json_decref(user);
}

/* Open a sealed blob carried through the client (SECRET_BLOCK, Session). */
static json_t *open_blob(auth_t *a, const char *aad, const char *b64, unsigned char **raw,
                         size_t *raw_len)
{
    size_t n = strlen(b64);
    if (n > 8192)
        return NULL;
    unsigned char *bytes = xmalloc(n);
    long bn = util_base64_decode(b64, n, bytes, n);
    json_t *j = NULL;
    if (bn > SEAL_OVERHEAD) {
        char *plain = xmalloc((size_t)bn);
        long pn = seal_open(a->key, aad, bytes, (size_t)bn, (unsigned char *)plain);
        if (pn > 0)
            j = json_loadb(plain, (size_t)pn, 0, NULL);
        OPENSSL_cleanse(plain, (size_t)bn);
        free(plain);
    }
    if (raw != NULL && j != NULL) {
        *raw = bytes;
        *raw_len = (size_t)bn;
    } else {
        free(bytes);
    }
    return j;
}

static void respond_password_verifier(op_t *op, auth_pool_t *p, auth_client_t *c,
                                      const json_t *resp)
{
    const char *username, *block, *timestamp, *signature, *hash = NULL;
    if (map_param(op, resp, "USERNAME", AUTH_USERNAME_MAX, &username) != 0 ||
        map_param(op, resp, "PASSWORD_CLAIM_SECRET_BLOCK", 8192, &block) != 0 ||
        map_param(op, resp, "TIMESTAMP", 64, &timestamp) != 0 ||
        map_param(op, resp, "PASSWORD_CLAIM_SIGNATURE", 64, &signature) != 0)
        return;
    if (json_object_get(resp, "SECRET_HASH") != NULL)
        hash = json_string_value(json_object_get(resp, "SECRET_HASH"));
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    json_t *st = open_blob(op->a, "srp-challenge", block, &raw, &raw_len);
    json_t *user = NULL;
    const char *sp = json_string_value(json_object_get(st, "p"));
    const char *sc = json_string_value(json_object_get(st, "c"));
    const char *su = json_string_value(json_object_get(st, "u"));
    const char *nonce_hex = json_string_value(json_object_get(st, "n"));
    int64_t t0 = json_integer_value(json_object_get(st, "t"));
    int64_t ts = 0, now = util_now_ms();
    unsigned char nonce[16];
    if (st == NULL || sp == NULL || sc == NULL || su == NULL || nonce_hex == NULL ||
        strlen(nonce_hex) != 32 || strcmp(sp, p->id) != 0 || strcmp(sc, c->id) != 0 ||
        strcasecmp(su, username) != 0) {
        fail(op, "NotAuthorizedException", "Incorrect username or password.");
        goto out;
    }
    if (now - t0 > CHALLENGE_TTL_MS || now < t0) {
        fail(op, "NotAuthorizedException", "The challenge has expired; sign in again.");
        goto out;
    }
    if (auth_srp_parse_timestamp(timestamp, &ts) != 0 || ts < now / 1000 - TIMESTAMP_SKEW ||
        ts > now / 1000 + TIMESTAMP_SKEW) {
        fail(op, "NotAuthorizedException", "TIMESTAMP is malformed or too far from the server time.");
        goto out;
    }
    for (int i = 0; i < 16; i++)
        nonce[i] = (unsigned char)(util_hexval(nonce_hex[2 * i]) << 4 |
                                   util_hexval(nonce_hex[2 * i + 1]));
    if (nonce_use(op->a, nonce) != 0) {
        fail(op, "NotAuthorizedException", "This challenge was already answered; sign in again.");
        goto out;
    }
    if (check_secret_hash(op, c, su, hash) != 0 || throttled(op, p, su) != 0)
        goto out;
    user = json_is_true(json_object_get(st, "f")) ? NULL : auth_user_get(op->a, p, su);
    unsigned char v[AUTH_SRP_N_BYTES], salt[AUTH_SRP_SALT_BYTES], b[AUTH_SRP_B_BYTES];
    size_t salt_len = sizeof salt;
    const char *b_hex = json_string_value(json_object_get(st, "b"));
    if (user == NULL || b_hex == NULL || strlen(b_hex) != 2 * AUTH_SRP_B_BYTES ||
        auth_user_verifier(op->a, p, user, v, salt, &salt_len) != 0) {
        login_failed(op, p, c, su, 1);
        goto out;
    }
    for (int i = 0; i < AUTH_SRP_B_BYTES; i++)
        b[i] = (unsigned char)(util_hexval(b_hex[2 * i]) << 4 | util_hexval(b_hex[2 * i + 1]));
    unsigned char sb[8192];
    long sbn = util_base64_decode(block, strlen(block), sb, sizeof sb);
    int ok = sbn > 0 &&
             auth_srp_verify(v, b, json_string_value(json_object_get(st, "A")),
                             json_string_value(json_object_get(st, "B")), p->suffix,
                             json_string_value(json_object_get(user, "u")), sb, (size_t)sbn,
                             timestamp, signature) == 0;
    OPENSSL_cleanse(v, sizeof v);
    OPENSSL_cleanse(b, sizeof b);
    if (!ok)
        login_failed(op, p, c, su, 1);
    else
        finish_login(op, p, c, user);
out:
    if (st != NULL) {
        /* b is the server's SRP secret: do not leave it in freed memory. */
        json_t *bj = json_object_get(st, "b");
        if (json_is_string(bj))
            OPENSSL_cleanse((char *)json_string_value(bj), json_string_length(bj));
    }
    json_decref(st);
    json_decref(user);
    free(raw);
}

typedef struct set_pw_ctx {
    const json_t *hashed; /* h, salt, v to copy */
    const char *status;
    const json_t *attrs;
} set_pw_ctx_t;

static void apply_password(json_t *user, void *ctx)
{
    set_pw_ctx_t *c = ctx;
    static const char *const fields[] = {"h", "salt", "v"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(c->hashed, fields[i]);
        if (v != NULL)
            json_object_set(user, fields[i], v);
        else
            json_object_del(user, fields[i]);
    }
    if (c->status != NULL)
        json_object_set_new(user, "st", json_string(c->status));
    if (c->attrs != NULL)
        json_object_update(json_object_get(user, "a"), (json_t *)c->attrs);
}

/* Hash `password` for user (slow, outside any transaction) and store it
 * with an optional new status and attributes. Returns 0 or -1 (answered). */
static int store_password(op_t *op, const auth_pool_t *p, const json_t *user, const char *password,
                          const char *status, const json_t *attrs)
{
    json_t *hashed = json_pack("{s:O}", "sub", json_object_get(user, "sub"));
    json_object_set(hashed, "u", json_object_get(user, "u"));
    if (auth_user_set_password(op->a, p, hashed, password) != 0) {
        json_decref(hashed);
        internal(op, "password hashing");
        return -1;
    }
    set_pw_ctx_t ctx = {hashed, status, attrs};
    int rc = edit_user(op, p, json_string_value(json_object_get(user, "u")), apply_password, &ctx);
    json_decref(hashed);
    return rc;
}

static void respond_new_password(op_t *op, auth_pool_t *p, auth_client_t *c, const json_t *resp)
{
    const char *session, *username, *password;
    if (get_str(op, op->in, "Session", 1, 20, 8192, &session) != 0 ||
        map_param(op, resp, "USERNAME", AUTH_USERNAME_MAX, &username) != 0 ||
        map_param(op, resp, "NEW_PASSWORD", AUTH_PASSWORD_MAX, &password) != 0)
        return;
    json_t *st = open_blob(op->a, "new-password", session, NULL, NULL);
    json_t *user = NULL, *attrs = json_object();
    const char *sp = json_string_value(json_object_get(st, "p"));
    const char *sc = json_string_value(json_object_get(st, "c"));
    const char *su = json_string_value(json_object_get(st, "u"));
    int64_t t0 = json_integer_value(json_object_get(st, "t"));
    if (sp == NULL || sc == NULL || su == NULL || strcmp(sp, p->id) != 0 ||
        strcmp(sc, c->id) != 0 || strcasecmp(su, username) != 0 ||
        util_now_ms() - t0 > CHALLENGE_TTL_MS) {
        fail(op, "NotAuthorizedException", "Invalid session for the user, session is expired.");
        goto out;
    }
    const char *problem = auth_password_problem(p, password);
    if (problem != NULL) {
        fail(op, "InvalidPasswordException", "%s", problem);
        goto out;
    }
    /* userAttributes.<name> responses set attributes on the way. */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)resp, k, v)
    {
        if (util_startswith(k, "userAttributes.") && strlen(k) > 15 &&
            strstr(k, "_verified") == NULL && json_string_length(v) <= ATTR_VALUE_MAX)
            json_object_set(attrs, k + 15, v);
    }
    user = auth_user_get(op->a, p, su);
    const char *ust = json_string_value(json_object_get(user, "st"));
    if (user == NULL || ust == NULL || strcmp(ust, "FORCE_CHANGE_PASSWORD") != 0) {
        fail(op, "NotAuthorizedException", "Invalid session for the user.");
        goto out;
    }
    if (store_password(op, p, user, password, "CONFIRMED", attrs) != 0)
        goto out;
    json_decref(user);
    user = auth_user_get(op->a, p, su);
    if (user == NULL)
        internal(op, "reading the user");
    else
        finish_login(op, p, c, user);
out:
    json_decref(st);
    json_decref(attrs);
    json_decref(user);
}

static void refresh_login(op_t *op, auth_pool_t *p, auth_client_t *c, const char *token,
                          const char *secret_hash, int check_hash)
{
    int64_t auth_time;
    char origin[40], ukey[256], msg[100];
    if (!(c->flows & FLOW_REFRESH)) {
        fail(op, "InvalidParameterException", "REFRESH_TOKEN_AUTH flow not enabled for this client");
        return;
    }
    if (auth_refresh_check(op->a, token, p, c, &auth_time, origin, ukey, msg, sizeof msg) != 0) {
        fail(op, "NotAuthorizedException", "%s", msg);
        return;
    }
    json_t *user = auth_user_get(op->a, p, ukey + strlen(p->id) + 1);
    if (user == NULL) {
        fail(op, "NotAuthorizedException", "Invalid Refresh Token");
        return;
    }
    if (check_hash &&
        check_secret_hash(op, c, json_string_value(json_object_get(user, "u")), secret_hash) != 0)
        goto out;
    if (!json_is_true(json_object_get(user, "en"))) {
        fail(op, "NotAuthorizedException", "User is disabled.");
        goto out;
    }
    json_t *tokens = auth_tokens_issue(op->a, p, c, user, 0, auth_time, origin);
    if (tokens == NULL)
        internal(op, "issuing tokens");
    else
        reply(op, json_pack("{s:{}, s:o}", "ChallengeParameters", "AuthenticationResult", tokens));
out:
    json_decref(user);
}

/* ---- operations: sign-up and confirmation ---- */

static void op_sign_up(op_t *op)
{
    auth_pool_t *p;
    const char *username, *password, *hash;
    auth_client_t *c = get_client(op, &p);
    if (c == NULL || get_username(op, op->in, "Username", &username) != 0 ||
        get_password(op, op->in, "Password", &password) != 0 ||
        get_str(op, op->in, "SecretHash", 0, 1, 128, &hash) != 0)
        return;
    if (check_secret_hash(op, c, username, hash) != 0)
        return;
    const char *problem = auth_password_problem(p, password);
    if (problem != NULL) {
        fail(op, "InvalidPasswordException", "%s", problem);
        return;
    }
    char sub[37];
    util_uuid(sub);
    int64_t now = util_now_ms();
    json_t *user = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:{}}", "u", username, "sub", sub,
                             "st", p->auto_confirm ? "CONFIRMED" : "UNCONFIRMED", "en", 1, "c",
                             (json_int_t)now, "m", (json_int_t)now, "a");
    if (get_attributes(op, "UserAttributes", 0, json_object_get(user, "a")) != 0)
        goto out;
    /* A cheap early answer before the hashing; the insert below is what
     * decides under races. */
    json_t *existing = auth_user_get(op->a, p, username);
    if (existing != NULL) {
        json_decref(existing);
        fail(op, "UsernameExistsException", "User already exists");
        goto out;
    }
    if (auth_user_set_password(op->a, p, user, password) != 0) {
        internal(op, "password hashing");
        goto out;
    }
    storage_txn_t *t;
    if (storage_txn_begin(op->a->st, &t) != 0) {
        internal(op, "a transaction");
        goto out;
    }
    int rc = auth_user_put(t, p, user, 1);
    if (rc == STORAGE_EEXIST) {
        storage_txn_abort(t);
        fail(op, "UsernameExistsException", "User already exists");
        goto out;
    }
    if (rc == 0 && !p->auto_confirm)
        rc = queue_code(op, t, p, user, "confirm", CONFIRM_TTL, "SignUp");
    if (rc != 0) {
        storage_txn_abort(t);
        internal(op, "storing the user");
        goto out;
    }
    if (commit(op, t, "storing the user") != 0)
        goto out;
    json_t *out = json_pack("{s:b, s:s}", "UserConfirmed", p->auto_confirm, "UserSub", sub);
    if (!p->auto_confirm)
        json_object_set_new(out, "CodeDeliveryDetails", delivery(user, username));
    reply(op, out);
out:
    json_decref(user);
}

static void mark_confirmed(json_t *user, void *ctx)
{
    json_object_set_new(user, "st", json_string("CONFIRMED"));
    if (ctx != NULL && json_object_get(json_object_get(user, "a"), "email") != NULL)
        json_object_set_new(json_object_get(user, "a"), "email_verified", json_string("true"));
}

/* Check a code, answering the code errors. Returns 0 when right. */
static int check_code(op_t *op, const auth_pool_t *p, const char *username, const char *purpose,
                      const char *code)
{
    int rc = auth_code_check(op->a, p, username, purpose, code);
    if (rc == -1)
        fail(op, "CodeMismatchException", "Invalid verification code provided, please try again.");
    else if (rc == -2)
        fail(op, "ExpiredCodeException", "Invalid code provided, please request a code again.");
    else if (rc == -3)
        fail(op, "TooManyFailedAttemptsException",
             "Too many failed attempts: request a new code.");
    return rc;
}

static void op_confirm_sign_up(op_t *op)
{
    auth_pool_t *p;
    const char *username, *code, *hash;
    auth_client_t *c = get_client(op, &p);
    if (c == NULL || get_username(op, op->in, "Username", &username) != 0 ||
        get_str(op, op->in, "ConfirmationCode", 1, 1, 2048, &code) != 0 ||
        get_str(op, op->in, "SecretHash", 0, 1, 128, &hash) != 0 ||
        check_secret_hash(op, c, username, hash) != 0)
        return;
    json_t *user = auth_user_get(op->a, p, username);
    if (user == NULL) {
        if (c->prevent_existence)
            fail(op, "CodeMismatchException", "Invalid verification code provided, please try again.");
        else
            fail(op, "UserNotFoundException", "User does not exist.");
        return;
    }
    const char *st = json_string_value(json_object_get(user, "st"));
    if (strcmp(st, "UNCONFIRMED") != 0) {
        fail(op, "NotAuthorizedException", "User cannot be confirmed. Current status is %s", st);
    } else if (check_code(op, p, username, "confirm", code) == 0 &&
               edit_user(op, p, username, mark_confirmed, (void *)1) == 0) {
        reply(op, json_object());
    }
    json_decref(user);
}

/* ResendConfirmationCode and ForgotPassword: a new code to the outbox. */
static void send_code(op_t *op, const char *purpose, int64_t ttl, const char *kind)
{
    auth_pool_t *p;
    const char *username, *hash;
    auth_client_t *c = get_client(op, &p);
    if (c == NULL || get_username(op, op->in, "Username", &username) != 0 ||
        get_str(op, op->in, "SecretHash", 0, 1, 128, &hash) != 0 ||
        check_secret_hash(op, c, username, hash) != 0)
        return;
    json_t *user = auth_user_get(op->a, p, username);
    if (user == NULL) {
        if (c->prevent_existence)
            reply(op, json_pack("{s:o}", "CodeDeliveryDetails", delivery(NULL, username)));
        else
            fail(op, "UserNotFoundException", "Username/client id combination not found.");
        return;
    }
    const char *st = json_string_value(json_object_get(user, "st"));
    storage_txn_t *t;
    if (strcmp(purpose, "confirm") == 0 && strcmp(st, "UNCONFIRMED") != 0) {
        fail(op, "InvalidParameterException", "User is already confirmed.");
    } else if (storage_txn_begin(op->a->st, &t) != 0) {
        internal(op, "a transaction");
    } else if (queue_code(op, t, p, user, purpose, ttl, kind) != 0) {
        storage_txn_abort(t);
        internal(op, "queueing the code");
    } else if (commit(op, t, "queueing the code") == 0) {
        reply(op, json_pack("{s:o}", "CodeDeliveryDetails", delivery(user, username)));
    }
    json_decref(user);
}

static void op_resend_code(op_t *op)
{
    send_code(op, "confirm", CONFIRM_TTL, "ResendConfirmationCode");
}

static void op_forgot_password(op_t *op)
{
    send_code(op, "reset", RESET_TTL, "ForgotPassword");
}

static void op_confirm_forgot_password(op_t *op)
{
    auth_pool_t *p;
    const char *username, *code, *password, *hash;
    auth_client_t *c = get_client(op, &p);
    if (c == NULL || get_username(op, op->in, "Username", &username) != 0 ||
        get_str(op, op->in, "ConfirmationCode", 1, 1, 2048, &code) != 0 ||
        get_password(op, op->in, "Password", &password) != 0 ||
        get_str(op, op->in, "SecretHash", 0, 1, 128, &hash) != 0 ||
        check_secret_hash(op, c, username, hash) != 0)
        return;
    const char *problem = auth_password_problem(p, password);
    if (problem != NULL) {
        fail(op, "InvalidPasswordException", "%s", problem);
        return;
    }
    json_t *user = auth_user_get(op->a, p, username);
    if (user == NULL) {
        if (c->prevent_existence)
            fail(op, "CodeMismatchException", "Invalid verification code provided, please try again.");
        else
            fail(op, "UserNotFoundException", "Username/client id combination not found.");
        return;
    }
    const char *st = json_string_value(json_object_get(user, "st"));
    const char *next = strcmp(st, "UNCONFIRMED") == 0 ? NULL : "CONFIRMED";
    if (check_code(op, p, username, "reset", code) == 0 &&
        store_password(op, p, user, password, next, NULL) == 0)
        reply(op, json_object());
    json_decref(user);
}

/* ---- operations: log-in ---- */

static void op_initiate_auth(op_t *op)
{
    auth_pool_t *p;
    const char *flow;
    const json_t *params;
    auth_client_t *c = get_client(op, &p);
    if (c == NULL || get_str(op, op->in, "AuthFlow", 1, 1, 64, &flow) != 0 ||
        get_map(op, op->in, "AuthParameters", &params) != 0)
        return;
    if (strcmp(flow, "USER_PASSWORD_AUTH") == 0) {
        password_login(op, p, c, params);
    } else if (strcmp(flow, "USER_SRP_AUTH") == 0) {
        srp_login(op, p, c, params);
    } else if (strcmp(flow, "REFRESH_TOKEN_AUTH") == 0 || strcmp(flow, "REFRESH_TOKEN") == 0) {
        const char *token;
        if (map_param(op, params, "REFRESH_TOKEN", 4096, &token) != 0)
            return;
        refresh_login(op, p, c, token, json_string_value(json_object_get(params, "SECRET_HASH")),
                      1);
    } else {
        fail(op, "InvalidParameterException",
             "Auth flow %s is not supported by cloudlet: use USER_SRP_AUTH, "
             "USER_PASSWORD_AUTH or REFRESH_TOKEN_AUTH.",
             flow);
    }
}

static void op_respond_to_auth_challenge(op_t *op)
{
    auth_pool_t *p;
    const char *name;
    const json_t *resp;
    auth_client_t *c = get_client(op, &p);
    if (c == NULL || get_str(op, op->in, "ChallengeName", 1, 1, 64, &name) != 0 ||
        get_map(op, op->in, "ChallengeResponses", &resp) != 0)
        return;
    if (strcmp(name, "PASSWORD_VERIFIER") == 0)
        respond_password_verifier(op, p, c, resp);
    else if (strcmp(name, "NEW_PASSWORD_REQUIRED") == 0)
        respond_new_password(op, p, c, resp);
    else
        fail(op, "InvalidParameterException", "Challenge %s is not supported by cloudlet.", name);
}

static void op_get_tokens_from_refresh_token(op_t *op)
{
    auth_pool_t *p;
    const char *token, *secret;
    auth_client_t *c = get_client(op, &p);
    if (c == NULL || get_str(op, op->in, "RefreshToken", 1, 1, 4096, &token) != 0 ||
        get_str(op, op->in, "ClientSecret", 0, 1, 256, &secret) != 0)
        return;
    if (check_client_secret(op, c, secret) != 0)
        return;
    refresh_login(op, p, c, token, NULL, 0);
}

/* ---- operations: the signed-in user (AccessToken) ---- */

/* Check the AccessToken member. Returns the user (caller json_decref's) or NULL (answered). */
static json_t *signed_in(op_t *op, auth_pool_t **p)
{
    const char *token;
    json_t *user;
    char msg[100];
    if (get_str(op, op->in, "AccessToken", 1, 1, BODY_MAX, &token) != 0)
        return NULL;
    if (auth_access_check(op->a, token, p, &user, NULL, msg, sizeof msg) != 0) {
        fail(op, "NotAuthorizedException", "%s", msg);
        return NULL;
    }
    return user;
}

static void op_get_user(op_t *op)
{
    auth_pool_t *p;
    json_t *user = signed_in(op, &p);
    if (user == NULL)
        return;
    reply(op, json_pack("{s:O, s:o, s:[]}", "Username", json_object_get(user, "u"),
                        "UserAttributes", attributes_json(user), "UserMFASettingList"));
    json_decref(user);
}

static void merge_attrs(json_t *user, void *ctx)
{
    json_t *attrs = json_object_get(user, "a");
    const char *email = json_string_value(json_object_get(ctx, "email"));
    const char *old = json_string_value(json_object_get(attrs, "email"));
    if (email != NULL && (old == NULL || strcmp(old, email) != 0))
        json_object_set_new(attrs, "email_verified", json_string("false"));
    json_object_update(attrs, ctx);
}

static void op_update_user_attributes(op_t *op)
{
    auth_pool_t *p;
    json_t *user = signed_in(op, &p), *attrs = json_object();
    if (user != NULL && json_object_get(op->in, "UserAttributes") == NULL)
        fail(op, "InvalidParameterException",
             "1 validation error detected: Value null at 'userAttributes' failed to satisfy "
             "constraint: Member must not be null");
    else if (user != NULL && get_attributes(op, "UserAttributes", 0, attrs) == 0 &&
             edit_user(op, p, json_string_value(json_object_get(user, "u")), merge_attrs, attrs) == 0)
        reply(op, json_object());
    json_decref(attrs);
    json_decref(user);
}

static void op_change_password(op_t *op)
{
    auth_pool_t *p;
    const char *prev, *next;
    json_t *user = signed_in(op, &p);
    if (user == NULL)
        return;
    const char *u = json_string_value(json_object_get(user, "u"));
    char key[256];
    auth_user_key(p, u, key);
    if (get_password(op, op->in, "PreviousPassword", &prev) != 0 ||
        get_password(op, op->in, "ProposedPassword", &next) != 0 || throttled(op, p, u) != 0)
        goto out;
    if (!auth_user_check_password(op->a, user, prev)) {
        auth_throttle_fail(op->a, key, op->req->remote);
        fail(op, "NotAuthorizedException", "Incorrect username or password.");
        goto out;
    }
    const char *problem = auth_password_problem(p, next);
    if (problem != NULL)
        fail(op, "InvalidPasswordException", "%s", problem);
    else if (store_password(op, p, user, next, NULL, NULL) == 0)
        reply(op, json_object());
out:
    json_decref(user);
}

static void op_global_sign_out(op_t *op)
{
    auth_pool_t *p;
    json_t *user = signed_in(op, &p);
    if (user == NULL)
        return;
    if (auth_sessions_end_user(op->a, p, json_string_value(json_object_get(user, "u"))) != 0)
        internal(op, "ending the sessions");
    else
        reply(op, json_object());
    json_decref(user);
}

static void op_revoke_token(op_t *op)
{
    auth_pool_t *p;
    const char *token, *secret;
    auth_client_t *c = get_client(op, &p);
    if (c == NULL || get_str(op, op->in, "Token", 1, 1, 4096, &token) != 0 ||
        get_str(op, op->in, "ClientSecret", 0, 1, 256, &secret) != 0)
        return;
    if (check_client_secret(op, c, secret) != 0)
        return;
    int rc = auth_session_revoke(op->a, token, c);
    if (rc == -2)
        internal(op, "revoking the token");
    else if (rc == -1)
        fail(op, "UnsupportedTokenTypeException", "Invalid token or token type.");
    else
        reply(op, json_object());
}

static void op_delete_user(op_t *op)
{
    auth_pool_t *p;
    json_t *user = signed_in(op, &p);
    if (user == NULL)
        return;
    if (delete_user(op, p, json_string_value(json_object_get(user, "u"))) == 0)
        reply(op, json_object());
    json_decref(user);
}

/* ---- operations: administration (root-signed) ---- */

/* Read UserPoolId and Username and the user. Returns NULL (answered) when any is missing. */
static json_t *admin_user(op_t *op, auth_pool_t **p, const char **username)
{
    *p = get_pool(op);
    if (*p == NULL || get_username(op, op->in, "Username", username) != 0)
        return NULL;
    json_t *user = auth_user_get(op->a, *p, *username);
    if (user == NULL)
        fail(op, "UserNotFoundException", "User does not exist.");
    return user;
}

/* A temporary password that meets the pool's policy. */
static void temp_password(const auth_pool_t *p, char out[33])
{
    static const char *const sets[] = {"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz",
                                       "23456789", "!@#%^&*-_=+"};
    unsigned char r[32];
    util_random(r, sizeof r);
    size_t n = p->min_length > 16 ? p->min_length : 16;
    if (n > 32)
        n = 32;
    for (size_t i = 0; i < n; i++) {
        const char *set = sets[i % 4];
        out[i] = set[r[i] % strlen(set)];
    }
    out[n] = '\0';
}

static void op_admin_create_user(op_t *op)
{
    auth_pool_t *p = get_pool(op);
    const char *username, *temp, *action;
    char generated[33];
    if (p == NULL || get_username(op, op->in, "Username", &username) != 0 ||
        get_str(op, op->in, "TemporaryPassword", 0, 1, AUTH_PASSWORD_MAX, &temp) != 0 ||
        get_str(op, op->in, "MessageAction", 0, 1, 16, &action) != 0)
        return;
    if (action != NULL && strcmp(action, "SUPPRESS") != 0 && strcmp(action, "RESEND") != 0) {
        fail(op, "InvalidParameterException", "MessageAction must be RESEND or SUPPRESS.");
        return;
    }
    int resend = action != NULL && strcmp(action, "RESEND") == 0;
    if (temp != NULL) {
        const char *problem = auth_password_problem(p, temp);
        if (problem != NULL) {
            fail(op, "InvalidPasswordException", "%s", problem);
            return;
        }
    } else {
        temp_password(p, generated);
        temp = generated;
    }
    json_t *existing = auth_user_get(op->a, p, username);
    json_t *user = NULL;
    if (resend) {
        const char *st = json_string_value(json_object_get(existing, "st"));
        if (existing == NULL) {
            fail(op, "UserNotFoundException", "User does not exist.");
            goto out;
        }
        if (strcmp(st, "FORCE_CHANGE_PASSWORD") != 0) {
            fail(op, "UnsupportedUserStateException", "Resend not possible. %s status is %s.",
                 username, st);
            goto out;
        }
        user = json_deep_copy(existing);
    } else {
        if (existing != NULL) {
            fail(op, "UsernameExistsException", "User account already exists");
            goto out;
        }
        char sub[37];
        util_uuid(sub);
        int64_t now = util_now_ms();
        user = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:{}}", "u", username, "sub", sub, "st",
                         "FORCE_CHANGE_PASSWORD", "en", 1, "c", (json_int_t)now, "m",
                         (json_int_t)now, "a");
        if (get_attributes(op, "UserAttributes", 1, json_object_get(user, "a")) != 0)
            goto out;
    }
    if (auth_user_set_password(op->a, p, user, temp) != 0) {
        internal(op, "password hashing");
        goto out;
    }
    storage_txn_t *t;
    if (storage_txn_begin(op->a->st, &t) != 0) {
        internal(op, "a transaction");
        goto out;
    }
    int rc = auth_user_put(t, p, user, !resend);
    if (rc == STORAGE_EEXIST) {
        storage_txn_abort(t);
        fail(op, "UsernameExistsException", "User account already exists");
        goto out;
    }
    if (rc == 0 && (action == NULL || resend)) {
        const char *email = user_attr(user, "email");
        char msg[160];
        snprintf(msg, sizeof msg, "Your username is %s and temporary password is %s", username,
                 temp);
        rc = auth_outbox_put(t, p, username, email ? email : username, "AdminCreateUser", temp,
                             msg);
        OPENSSL_cleanse(msg, sizeof msg);
    }
    if (rc != 0) {
        storage_txn_abort(t);
        internal(op, "storing the user");
        goto out;
    }
    if (commit(op, t, "storing the user") == 0)
        reply(op, json_pack("{s:o}", "User", user_type(user, "Attributes")));
out:
    OPENSSL_cleanse(generated, sizeof generated);
    json_decref(existing);
    json_decref(user);
}

static void op_admin_confirm_sign_up(op_t *op)
{
    auth_pool_t *p;
    const char *username;
    json_t *user = admin_user(op, &p, &username);
    if (user == NULL)
        return;
    const char *st = json_string_value(json_object_get(user, "st"));
    if (strcmp(st, "UNCONFIRMED") != 0)
        fail(op, "NotAuthorizedException", "User cannot be confirmed. Current status is %s", st);
    else if (edit_user(op, p, username, mark_confirmed, NULL) == 0)
        reply(op, json_object());
    json_decref(user);
}

static void op_admin_get_user(op_t *op)
{
    auth_pool_t *p;
    const char *username;
    json_t *user = admin_user(op, &p, &username);
    if (user == NULL)
        return;
    json_t *out = user_type(user, "UserAttributes");
    json_object_set_new(out, "UserMFASettingList", json_array());
    reply(op, out);
    json_decref(user);
}

static void op_admin_delete_user(op_t *op)
{
    auth_pool_t *p;
    const char *username;
    json_t *user = admin_user(op, &p, &username);
    if (user != NULL && delete_user(op, p, username) == 0)
        reply(op, json_object());
    json_decref(user);
}

static void set_enabled(json_t *user, void *ctx)
{
    json_object_set_new(user, "en", json_boolean(ctx != NULL));
}

static void admin_enable(op_t *op, int enable)
{
    auth_pool_t *p;
    const char *username;
    json_t *user = admin_user(op, &p, &username);
    if (user == NULL)
        return;
    if (edit_user(op, p, username, set_enabled, enable ? (void *)1 : NULL) == 0) {
        /* A disabled user's sessions end, as their tokens would in Cognito. */
        if (!enable)
            auth_sessions_end_user(op->a, p, username);
        reply(op, json_object());
    }
    json_decref(user);
}

static void op_admin_disable_user(op_t *op)
{
    admin_enable(op, 0);
}

static void op_admin_enable_user(op_t *op)
{
    admin_enable(op, 1);
}

static void op_admin_set_user_password(op_t *op)
{
    auth_pool_t *p;
    const char *username, *password;
    int permanent = 0;
    json_t *user = admin_user(op, &p, &username);
    if (user == NULL || get_password(op, op->in, "Password", &password) != 0 ||
        get_bool(op, op->in, "Permanent", &permanent) != 0)
        goto out;
    const char *problem = auth_password_problem(p, password);
    if (problem != NULL)
        fail(op, "InvalidPasswordException", "%s", problem);
    else if (store_password(op, p, user, password,
                            permanent ? "CONFIRMED" : "FORCE_CHANGE_PASSWORD", NULL) == 0)
        reply(op, json_object());
out:
    json_decref(user);
}

/* ListUsers Filter: `attr = "value"` or `attr ^= "value"`. */
typedef struct filter {
    char attr[64];
    char value[ATTR_VALUE_MAX + 1];
    int prefix;
} filter_t;

static int parse_filter(const char *s, filter_t *f)
{
    while (*s == ' ')
        s++;
    size_t n = strcspn(s, " ^=");
    if (n == 0 || n >= sizeof f->attr)
        return -1;
    memcpy(f->attr, s, n);
    f->attr[n] = '\0';
    s += n;
    while (*s == ' ')
        s++;
    f->prefix = s[0] == '^';
    s += f->prefix;
    if (*s++ != '=')
        return -1;
    while (*s == ' ')
        s++;
    if (*s++ != '"')
        return -1;
    const char *end = strrchr(s, '"');
    if (end == NULL || (size_t)(end - s) > ATTR_VALUE_MAX)
        return -1;
    memcpy(f->value, s, (size_t)(end - s));
    f->value[end - s] = '\0';
    for (end++; *end == ' '; end++)
        ;
    if (*end != '\0')
        return -1;
    static const char *const ok[] = {"username", "email", "phone_number", "name", "given_name",
                                     "family_name", "preferred_username", "cognito:user_status",
                                     "status", "sub", NULL};
    for (const char *const *k = ok; *k; k++) {
        if (strcmp(*k, f->attr) == 0)
            return 0;
    }
    return -1;
}

static int filter_match(const filter_t *f, const json_t *user)
{
    const char *v;
    if (strcmp(f->attr, "username") == 0)
        v = json_string_value(json_object_get(user, "u"));
    else if (strcmp(f->attr, "cognito:user_status") == 0)
        v = json_string_value(json_object_get(user, "st"));
    else if (strcmp(f->attr, "status") == 0)
        v = json_is_true(json_object_get(user, "en")) ? "Enabled" : "Disabled";
    else if (strcmp(f->attr, "sub") == 0)
        v = json_string_value(json_object_get(user, "sub"));
    else
        v = user_attr(user, f->attr);
    if (v == NULL)
        return 0;
    return f->prefix ? util_startswith(v, f->value) : strcmp(v, f->value) == 0;
}

typedef struct list_ctx {
    const filter_t *filter;
    json_t *users;
    size_t limit;
    const char *after; /* user key to resume after, or NULL */
    char last[256];
    int more;
} list_ctx_t;

static int list_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    list_ctx_t *lc = ctx;
    if (key_len >= sizeof lc->last)
        return 0;
    if (lc->after != NULL) {
        size_t al = strlen(lc->after);
        int cmp = memcmp(key, lc->after, key_len < al ? key_len : al);
        if (cmp < 0 || (cmp == 0 && key_len <= al))
            return 0;
    }
    json_t *user = json_loadb(val, len, 0, NULL);
    if (user == NULL)
        return 0;
    if (lc->filter == NULL || filter_match(lc->filter, user)) {
        if (json_array_size(lc->users) == lc->limit) {
            lc->more = 1;
            json_decref(user);
            return 1;
        }
        json_array_append_new(lc->users, user_type(user, "Attributes"));
        memcpy(lc->last, key, key_len);
        lc->last[key_len] = '\0';
    }
    json_decref(user);
    return 0;
}

static void op_list_users(op_t *op)
{
    auth_pool_t *p = get_pool(op);
    const char *token, *filter_s;
    if (p == NULL || get_str(op, op->in, "PaginationToken", 0, 1, 512, &token) != 0 ||
        get_str(op, op->in, "Filter", 0, 0, 256, &filter_s) != 0)
        return;
    const json_t *lim = json_object_get(op->in, "Limit");
    if (lim != NULL && (!json_is_integer(lim) || json_integer_value(lim) < 0 ||
                        json_integer_value(lim) > 60)) {
        fail(op, "InvalidParameterException",
             "1 validation error detected: Value at 'limit' failed to satisfy constraint: "
             "Member must have value less than or equal to 60");
        return;
    }
    filter_t f;
    if (filter_s != NULL && filter_s[0] != '\0' && parse_filter(filter_s, &f) != 0) {
        fail(op, "InvalidParameterException", "Error while parsing filter.");
        return;
    }
    char after[300], prefix[AUTH_POOL_ID_MAX + 2];
    if (token != NULL) {
        long n = util_base64_decode(token, strlen(token), (unsigned char *)after, sizeof after - 1);
        if (n <= 0) {
            fail(op, "InvalidParameterException", "Invalid pagination token.");
            return;
        }
        after[n] = '\0';
    }
    int plen = snprintf(prefix, sizeof prefix, "%s/", p->id);
    list_ctx_t lc = {filter_s != NULL && filter_s[0] != '\0' ? &f : NULL, json_array(),
                     lim && json_integer_value(lim) > 0 ? (size_t)json_integer_value(lim) : 60,
                     token ? after : NULL, "", 0};
    storage_view_t *v;
    if (storage_view_open(op->a->st, &v) != 0) {
        json_decref(lc.users);
        internal(op, "reading the store");
        return;
    }
    storage_view_rec_scan(v, T_USERS, prefix, (size_t)plen, list_cb, &lc);
    storage_view_close(v);
    json_t *out = json_pack("{s:o}", "Users", lc.users);
    if (lc.more) {
        char *t = util_base64url(lc.last, strlen(lc.last));
        json_object_set_new(out, "PaginationToken", json_string(t));
        free(t);
    }
    reply(op, out);
}

static void op_create_user_pool(op_t *op)
{
    const char *name, *code;
    char msg[300];
    if (get_str(op, op->in, "PoolName", 1, 1, AUTH_NAME_MAX, &name) != 0)
        return;
    const json_t *pol = json_object_get(op->in, "Policies");
    if (pol != NULL && !json_is_object(pol)) {
        fail(op, "SerializationException", "Value of 'Policies' must be an object.");
        return;
    }
    auth_pool_t *p = auth_pool_create(op->a, op->in, &code, msg, sizeof msg);
    if (p == NULL)
        fail(op, code, "%s", msg);
    else
        reply(op, json_pack("{s:o}", "UserPool", auth_pool_describe(op->a, p)));
}

static void op_create_user_pool_client(op_t *op)
{
    const char *name, *code;
    char msg[300];
    int gen = 0;
    auth_pool_t *p = get_pool(op);
    if (p == NULL || get_str(op, op->in, "ClientName", 1, 1, AUTH_NAME_MAX, &name) != 0 ||
        get_bool(op, op->in, "GenerateSecret", &gen) != 0)
        return;
    auth_client_t *c = auth_client_create(op->a, p, op->in, &code, msg, sizeof msg);
    if (c == NULL)
        fail(op, code, "%s", msg);
    else
        reply(op, json_pack("{s:o}", "UserPoolClient", auth_client_describe(p, c)));
}

static void op_describe_user_pool(op_t *op)
{
    auth_pool_t *p = get_pool(op);
    if (p != NULL)
        reply(op, json_pack("{s:o}", "UserPool", auth_pool_describe(op->a, p)));
}

static void op_describe_user_pool_client(op_t *op)
{
    auth_pool_t *p = get_pool(op);
    const char *id;
    if (p == NULL || get_str(op, op->in, "ClientId", 1, 1, AUTH_CLIENT_ID_MAX, &id) != 0)
        return;
    auth_client_t *c = auth_client_find(p, id);
    if (c == NULL)
        fail(op, "ResourceNotFoundException", "User pool client %s does not exist.", id);
    else
        reply(op, json_pack("{s:o}", "UserPoolClient", auth_client_describe(p, c)));
}

static void op_list_user_pools(op_t *op)
{
    const json_t *max = json_object_get(op->in, "MaxResults");
    const char *token;
    if (max == NULL || !json_is_integer(max) || json_integer_value(max) < 1 ||
        json_integer_value(max) > 60) {
        fail(op, "InvalidParameterException",
             "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
             "Member must have value between 1 and 60");
        return;
    }
    if (get_str(op, op->in, "NextToken", 0, 1, 32, &token) != 0)
        return;
    long start = 0;
    if (token != NULL) {
        char *end;
        start = strtol(token, &end, 10);
        if (*end != '\0' || start < 0) {
            fail(op, "InvalidParameterException", "Invalid NextToken.");
            return;
        }
    }
    int n = atomic_load_explicit(&op->a->npools, memory_order_acquire);
    long stop = start + json_integer_value(max);
    json_t *arr = json_array();
    for (long i = start; i < n && i < stop; i++) {
        auth_pool_t *p = op->a->pools[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o}", "Id", p->id, "Name", p->name,
                                             "CreationDate", epoch(p->created_ms),
                                             "LastModifiedDate", epoch(p->created_ms)));
    }
    json_t *out = json_pack("{s:o}", "UserPools", arr);
    if (stop < n)
        json_object_set_new(out, "NextToken", json_sprintf("%ld", stop));
    reply(op, out);
}

/* ---- dispatch ---- */

static const struct {
    const char *name;
    void (*fn)(op_t *op);
    int admin;
} ops[] = {
    {"SignUp", op_sign_up, 0},
    {"ConfirmSignUp", op_confirm_sign_up, 0},
    {"ResendConfirmationCode", op_resend_code, 0},
    {"InitiateAuth", op_initiate_auth, 0},
    {"RespondToAuthChallenge", op_respond_to_auth_challenge, 0},
    {"GetTokensFromRefreshToken", op_get_tokens_from_refresh_token, 0},
    {"GetUser", op_get_user, 0},
    {"UpdateUserAttributes", op_update_user_attributes, 0},
    {"ChangePassword", op_change_password, 0},
    {"ForgotPassword", op_forgot_password, 0},
    {"ConfirmForgotPassword", op_confirm_forgot_password, 0},
    {"GlobalSignOut", op_global_sign_out, 0},
    {"RevokeToken", op_revoke_token, 0},
    {"DeleteUser", op_delete_user, 0},
    {"AdminCreateUser", op_admin_create_user, 1},
    {"AdminConfirmSignUp", op_admin_confirm_sign_up, 1},
    {"AdminGetUser", op_admin_get_user, 1},
    {"AdminDeleteUser", op_admin_delete_user, 1},
    {"AdminDisableUser", op_admin_disable_user, 1},
    {"AdminEnableUser", op_admin_enable_user, 1},
    {"AdminSetUserPassword", op_admin_set_user_password, 1},
    {"ListUsers", op_list_users, 1},
    {"CreateUserPool", op_create_user_pool, 1},
    {"CreateUserPoolClient", op_create_user_pool_client, 1},
    {"DescribeUserPool", op_describe_user_pool, 1},
    {"DescribeUserPoolClient", op_describe_user_pool_client, 1},
    {"ListUserPools", op_list_user_pools, 1},
};

int auth_request_action(auth_t *a, const http_req_t *req, char *action, size_t actionsz,
                        char *resource, size_t resourcesz)
{
    const char *target = http_header(req, "X-Amz-Target");
    const char *name = target ? strchr(target, '.') : NULL;
    name = name ? name + 1 : "";
    size_t i = 0, n = sizeof ops / sizeof ops[0];
    while (i < n && strcmp(ops[i].name, name) != 0)
        i++;
    if (i == n || !ops[i].admin)
        return 1;
    snprintf(action, actionsz, "cognito-idp:%s", ops[i].name);
    /* The pool is named in the body; an unreadable body fails later, in the handler. */
    json_t *in = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    const char *pool = json_string_value(json_object_get(in, "UserPoolId"));
    if (pool != NULL && strlen(pool) <= AUTH_POOL_ID_MAX)
        snprintf(resource, resourcesz, "arn:aws:cognito-idp:%s:%s:userpool/%s", a->region,
                 a->account_id, pool);
    else
        snprintf(resource, resourcesz, "*");
    json_decref(in);
    return 0;
}

void auth_handle(auth_t *a, const http_req_t *req, http_resp_t *resp)
{
    op_t op = {a, req, resp, NULL, 0};
    const char *target = http_header(req, "X-Amz-Target");
    const char *name = target ? strchr(target, '.') : NULL;
    size_t i = 0, n = sizeof ops / sizeof ops[0];
    name = name ? name + 1 : "";
    while (i < n && strcmp(ops[i].name, name) != 0)
        i++;
    if (i == n) {
        fail(&op, "InvalidAction",
             "cloudlet does not implement the Cognito operation '%.64s'.", name);
        return;
    }
    if (ops[i].admin) {
        if (req->caller == NULL) {
            http_error(resp, HTTP_PROTO_JSON, 403, "MissingAuthenticationTokenException",
                       "Missing Authentication Token: this operation must be signed with the "
                       "root credentials.",
                       NULL, req->request_id);
            return;
        }
        /* A caller other than root got here because the gate found its
         * policy allows the operation (auth_request_action). */
    }
    if (req->body_len > BODY_MAX) {
        http_error(resp, HTTP_PROTO_JSON, 413, "RequestEntityTooLargeException",
                   "The request body is too large.", NULL, req->request_id);
        return;
    }
    json_error_t jerr;
    if (req->body_len == 0)
        op.in = json_object();
    else
        op.in = json_loadb((const char *)req->body, req->body_len,
                           JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!json_is_object(op.in)) {
        json_decref(op.in);
        fail(&op, "SerializationException", "The request body is not a JSON object.");
        return;
    }
    ops[i].fn(&op);
    if (!op.done)
        internal(&op, ops[i].name);
    json_decref(op.in);
    /* Keep the outbox, sessions and codes bounded in a long-running server. */
    if (op.resp->status == 200 && atomic_fetch_add(&a->writes, 1) % 1024 == 1023)
        auth_prune(a);
}

/* ---- open and close ---- */

int auth_open(auth_t **out, storage_t *st, const auth_options_t *opts, char *err, size_t errsz)
{
    auth_t *a = xcalloc(1, sizeof *a);
    a->st = st;
    a->key = opts->key;
    a->region = xstrdup(opts->region);
    a->account_id = xstrdup(opts->account_id);
    atomic_init(&a->npools, 0);
    pthread_mutex_init(&a->create_lock, NULL);
    pthread_mutex_init(&a->nonce_lock, NULL);
    a->nonces = xcalloc(AUTH_NONCE_RING, sizeof *a->nonces);
    a->throttle = auth_throttle_new();
    a->max_failed_user = opts->max_failed_per_user ? opts->max_failed_per_user : 5;
    a->max_failed_addr = opts->max_failed_per_address ? opts->max_failed_per_address : 20;
    a->lockout_seconds = opts->lockout_seconds ? opts->lockout_seconds : 900;
    /* A zero nonce never comes from util_random in practice, but make the
     * empty ring hold values no challenge can have. */
    for (unsigned i = 0; i < AUTH_NONCE_RING; i++)
        memset(a->nonces[i], 0xff, 16);
    unsigned char pw[24];
    util_random(pw, sizeof pw);
    char *pw_hex = xmalloc(2 * sizeof pw + 1);
    util_hex(pw, sizeof pw, pw_hex);
    /* Same parameters as real hashes: verifying against it costs the same. */
    size_t elen = argon2_encodedlen(AUTH_ARGON2_T, AUTH_ARGON2_M_KIB, AUTH_ARGON2_P, 16, 32,
                                    Argon2_id);
    a->dummy_hash = xmalloc(elen);
    if (argon2id_hash_encoded(AUTH_ARGON2_T, AUTH_ARGON2_M_KIB, AUTH_ARGON2_P, pw_hex,
                              strlen(pw_hex), pw, 16, 32, a->dummy_hash, elen) != ARGON2_OK) {
        snprintf(err, errsz, "argon2id is not working");
        free(pw_hex);
        auth_close(a);
        return -1;
    }
    OPENSSL_cleanse(pw_hex, 2 * sizeof pw);
    free(pw_hex);
    if (auth_pools_load(a, opts->pools, err, errsz) != 0) {
        auth_close(a);
        return -1;
    }
    int pruned = auth_prune(a);
    if (pruned > 0)
        log_info("auth: removed %d expired sessions, codes and old outbox messages", pruned);
    *out = a;
    return 0;
}

void auth_close(auth_t *a)
{
    if (a == NULL)
        return;
    auth_pools_free(a);
    auth_throttle_free(a->throttle);
    pthread_mutex_destroy(&a->create_lock);
    pthread_mutex_destroy(&a->nonce_lock);
    free(a->nonces);
    free(a->dummy_hash);
    free(a->region);
    free(a->account_id);
    free(a);
}

const char *auth_default_pool_id(const auth_t *a)
{
    return a->default_pool;
}

const char *auth_default_client_id(const auth_t *a)
{
    return a->default_client;
}

/* ---- /<poolId>/.well-known/ ---- */

void auth_handle_wellknown(auth_t *a, const char *endpoint, const http_req_t *req,
                           http_resp_t *resp)
{
    char id[AUTH_POOL_ID_MAX + 1];
    const char *slash = strchr(req->path + 1, '/');
    size_t n = slash ? (size_t)(slash - req->path - 1) : 0;
    auth_pool_t *p = NULL;
    if (n > 0 && n <= AUTH_POOL_ID_MAX) {
        memcpy(id, req->path + 1, n);
        id[n] = '\0';
        p = auth_pool_find(a, id);
    }
    if (p == NULL) {
        http_error(resp, HTTP_PROTO_PLAIN, 404, "ResourceNotFoundException",
                   "No such user pool.", NULL, req->request_id);
        return;
    }
    json_t *out;
    if (util_startswith(slash, "/.well-known/jwks.json")) {
        out = json_pack("{s:[]}", "keys");
        auth_key_jwk(p->key, json_object_get(out, "keys"));
    } else {
        char base[600];
        snprintf(base, sizeof base, "%s/%s", endpoint, p->id);
        out = json_pack(
            "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:[s, s], s:[s], s:[s], s:[s, s], "
            "s:[s, s, s, s, s], s:[s, s], s:[s, s, s, s, s, s, s]}",
            "issuer", p->issuer, "jwks_uri", json_sprintf("%s/.well-known/jwks.json", base),
            "authorization_endpoint", json_sprintf("%s/oauth2/authorize", base),
            "token_endpoint", json_sprintf("%s/oauth2/token", base), "userinfo_endpoint",
            json_sprintf("%s/oauth2/userInfo", base), "end_session_endpoint",
            json_sprintf("%s/logout", base), "revocation_endpoint",
            json_sprintf("%s/oauth2/revoke", base), "response_types_supported", "code", "token",
            "subject_types_supported", "public", "id_token_signing_alg_values_supported",
            "RS256", "token_endpoint_auth_methods_supported", "client_secret_basic",
            "client_secret_post", "scopes_supported", "openid", "email", "phone", "profile",
            "aws.cognito.signin.user.admin", "grant_types_supported", "authorization_code",
            "refresh_token", "claims_supported", "sub", "iss", "aud", "email", "email_verified",
            "cognito:username", "token_use");
    }
    char *s = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    http_resp_header(resp, "Content-Type", "application/json");
    http_resp_header(resp, "Cache-Control", "public, max-age=300");
    http_resp_body_owned(resp, s, strlen(s));
}
