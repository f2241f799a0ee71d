/* session.c - issuing tokens, refresh sessions and revocation.
 *
 * Every log-in starts a session named by its origin_jti (a UUID carried by
 * the ID and access tokens of the log-in and of every refresh after it):
 *   "sessions": origin_jti -> {"p": pool, "u": user key, "c": client,
 *                              "at": auth_time, "e": expiry, "h": sha256 of the secret}
 *   "usess":    "<user key>/<origin_jti>" -> "" (to find a user's sessions)
 * The refresh token is "<origin_jti>.<base64url of 32 random bytes>"; only
 * the hash of the random part is stored. RevokeToken ends one session,
 * GlobalSignOut all of a user's; an access token is accepted by the Cognito
 * API only while its session lives, which is what makes sign-out revoke the
 * access tokens issued before it.
 */
#include "auth/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/util.h"

#define T_SESSIONS "sessions"
#define T_USESS "usess"
#define REFRESH_SECRET_BYTES 32
#define REFRESH_TOKEN_MAX 128

static void sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    util_hex(md, sizeof md, hex);
}

static int64_t now_s(void)
{
    return util_now_ms() / 1000;
}

/* Copy the user's attributes into ID-token claims (verified flags as booleans). */
static void add_attribute_claims(json_t *claims, const json_t *user)
{
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(user, "a"), name, v)
    {
        if (strcmp(name, "sub") == 0)
            continue;
        if (strcmp(name, "email_verified") == 0 || strcmp(name, "phone_number_verified") == 0)
            json_object_set_new(claims, name,
                                json_boolean(strcmp(json_string_value(v), "true") == 0));
        else
            json_object_set(claims, name, v);
    }
}

json_t *auth_tokens_issue(auth_t *a, const auth_pool_t *p, const auth_client_t *c,
                          const json_t *user, int refresh, int64_t auth_time,
                          const char *origin_jti)
{
    int64_t now = now_s();
    char origin[37], jti_id[37], jti_access[37], event[37];
    if (origin_jti == NULL) {
        util_uuid(origin);
        auth_time = now;
    } else {
        snprintf(origin, sizeof origin, "%s", origin_jti);
    }
    util_uuid(jti_id);
    util_uuid(jti_access);
    util_uuid(event);
    const char *username = json_string_value(json_object_get(user, "u"));
    const char *sub = json_string_value(json_object_get(user, "sub"));

    json_t *id = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "sub", sub,
                           "aud", c->id, "token_use", "id", "auth_time", (json_int_t)auth_time,
                           "iss", p->issuer, "cognito:username", username, "exp",
                           (json_int_t)(now + c->id_validity), "iat", (json_int_t)now, "jti",
                           jti_id, "origin_jti", origin, "event_id", event);
    add_attribute_claims(id, user);
    if (json_object_get(id, "email") != NULL && json_object_get(id, "email_verified") == NULL)
        json_object_set_new(id, "email_verified", json_false());
    json_t *access = json_pack(
        "{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "sub", sub, "token_use",
        "access", "scope", "aws.cognito.signin.user.admin", "auth_time", (json_int_t)auth_time,
        "iss", p->issuer, "exp", (json_int_t)(now + c->access_validity), "iat", (json_int_t)now,
        "jti", jti_access, "origin_jti", origin, "client_id", c->id, "username", username,
        "event_id", event);
    char *id_token = auth_jwt_sign(p->key, id);
    char *access_token = auth_jwt_sign(p->key, access);
    json_decref(id);
    json_decref(access);
    json_t *result = NULL;
    if (id_token == NULL || access_token == NULL)
        goto out;
    result = json_pack("{s:s, s:I, s:s, s:s}", "AccessToken", access_token, "ExpiresIn",
                       (json_int_t)c->access_validity, "TokenType", "Bearer", "IdToken", id_token);
    if (!refresh)
        goto out;

    unsigned char secret[REFRESH_SECRET_BYTES];
    util_random(secret, sizeof secret);
    char *secret_b64 = util_base64url(secret, sizeof secret);
    char hash[65], ukey[256], uskey[300];
    sha256_hex(secret_b64, strlen(secret_b64), hash);
    auth_user_key(p, username, ukey);
    snprintf(uskey, sizeof uskey, "%s/%s", ukey, origin);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "p", p->id, "u", ukey, "c", c->id,
                            "at", (json_int_t)auth_time,
                            "e", (json_int_t)(now + c->refresh_validity), "h", hash);
    char *s = json_dumps(rec, JSON_COMPACT);
    storage_txn_t *t;
    int rc = storage_txn_begin(a->st, &t);
    if (rc == 0) {
        rc = storage_rec_put(t, T_SESSIONS, origin, strlen(origin), s, strlen(s), 0);
        if (rc == 0)
            rc = storage_rec_put(t, T_USESS, uskey, strlen(uskey), "", 0, 0);
        rc = rc == 0 ? storage_txn_commit(t) : (storage_txn_abort(t), rc);
    }
    free(s);
    json_decref(rec);
    if (rc == 0) {
        char *token = xasprintf("%s.%s", origin, secret_b64);
        json_object_set_new(result, "RefreshToken", json_string(token));
        OPENSSL_cleanse(token, strlen(token));
        free(token);
    } else {
        json_decref(result);
        result = NULL;
    }
    OPENSSL_cleanse(secret_b64, strlen(secret_b64));
    free(secret_b64);
out:
    free(id_token);
    free(access_token);
    return result;
}

/* The pool whose signing key the token's header names (unverified: the
 * strict verification with that pool's key and issuer follows). */
static auth_pool_t *pool_of_token(auth_t *a, const char *token)
{
    const char *dot = strchr(token, '.');
    if (dot == NULL || dot - token > 1024)
        return NULL;
    unsigned char hdr[800];
    long n = util_base64_decode(token, (size_t)(dot - token), hdr, sizeof hdr);
    if (n <= 0)
        return NULL;
    json_t *h = json_loadb((const char *)hdr, (size_t)n, 0, NULL);
    const char *kid = json_string_value(json_object_get(h, "kid"));
    auth_pool_t *found = NULL;
    int np = atomic_load_explicit(&a->npools, memory_order_acquire);
    for (int i = 0; kid != NULL && i < np; i++) {
        if (strcmp(auth_key_kid(a->pools[i]->key), kid) == 0)
            found = a->pools[i];
    }
    json_decref(h);
    return found;
}

static int verify_in_pool(auth_pool_t *p, const char *token, const char *token_use,
                          const char *client_id, json_t **claims, char *why, size_t whysz)
{
    const auth_key_t *keys[1] = {p->key};
    auth_jwt_expect_t ex = {p->issuer, token_use, client_id, now_s(), 0};
    return auth_jwt_verify(token, keys, 1, &ex, claims, why, whysz);
}

int auth_token_verify(auth_t *a, const char *pool_id, const char *token, const char *token_use,
                      const char *client_id, json_t **claims, char *why, size_t whysz)
{
    *claims = NULL;
    auth_pool_t *p = auth_pool_find(a, pool_id);
    if (p == NULL) {
        snprintf(why, whysz, "unknown user pool");
        return -1;
    }
    return verify_in_pool(p, token, token_use, client_id, claims, why, whysz);
}

/* Read a session record (a copy) or NULL. */
static json_t *session_get(auth_t *a, const char *origin_jti)
{
    storage_view_t *v;
    const void *val;
    size_t len;
    json_t *s = NULL;
    if (storage_view_open(a->st, &v) != 0)
        return NULL;
    if (storage_view_rec_get(v, T_SESSIONS, origin_jti, strlen(origin_jti), &val, &len) == 0)
        s = json_loadb(val, len, 0, NULL);
    storage_view_close(v);
    return s;
}

int auth_access_check(auth_t *a, const char *token, auth_pool_t **pool_out, json_t **user_out,
                      json_t **claims_out, char *msg, size_t msgsz)
{
    char why[100];
    json_t *claims = NULL, *sess = NULL, *user = NULL;
    *user_out = NULL;
    if (claims_out != NULL)
        *claims_out = NULL;
    auth_pool_t *p = token ? pool_of_token(a, token) : NULL;
    if (p == NULL || verify_in_pool(p, token, "access", NULL, &claims, why, sizeof why) != 0) {
        snprintf(msg, msgsz, "%s",
                 p != NULL && strcmp(why, "expired") == 0 ? "Access Token has expired"
                                                          : "Invalid Access Token");
        goto err;
    }
    const char *origin = json_string_value(json_object_get(claims, "origin_jti"));
    const char *username = json_string_value(json_object_get(claims, "username"));
    const char *client = json_string_value(json_object_get(claims, "client_id"));
    char ukey[256];
    if (origin == NULL || username == NULL || client == NULL) {
        snprintf(msg, msgsz, "Invalid Access Token");
        goto err;
    }
    auth_user_key(p, username, ukey);
    sess = session_get(a, origin);
    const char *su = json_string_value(json_object_get(sess, "u"));
    const char *sc = json_string_value(json_object_get(sess, "c"));
    if (su == NULL || sc == NULL || strcmp(su, ukey) != 0 || strcmp(sc, client) != 0) {
        snprintf(msg, msgsz, "Access Token has been revoked");
        goto err;
    }
    user = auth_user_get(a, p, username);
    const char *sub = json_string_value(json_object_get(user, "sub"));
    if (user == NULL || sub == NULL ||
        strcmp(sub, json_string_value(json_object_get(claims, "sub"))) != 0) {
        snprintf(msg, msgsz, "User does not exist.");
        goto err;
    }
    if (!json_is_true(json_object_get(user, "en"))) {
        snprintf(msg, msgsz, "User is disabled.");
        goto err;
    }
    json_decref(sess);
    *pool_out = p;
    *user_out = user;
    if (claims_out != NULL)
        *claims_out = claims;
    else
        json_decref(claims);
    return 0;
err:
    json_decref(claims);
    json_decref(sess);
    json_decref(user);
    return -1;
}

/* Split "<origin_jti>.<secret>" and find its live session. */
static json_t *refresh_session(auth_t *a, const char *token, char origin[40])
{
    size_t n = token ? strnlen(token, REFRESH_TOKEN_MAX + 1) : 0;
    const char *dot = token ? strchr(token, '.') : NULL;
    if (n == 0 || n > REFRESH_TOKEN_MAX || dot == NULL || dot - token != 36)
        return NULL;
    memcpy(origin, token, 36);
    origin[36] = '\0';
    json_t *sess = session_get(a, origin);
    const char *h = json_string_value(json_object_get(sess, "h"));
    char hash[65];
    sha256_hex(dot + 1, strlen(dot + 1), hash);
    if (h == NULL || strlen(h) != 64 || CRYPTO_memcmp(h, hash, 64) != 0 ||
        json_integer_value(json_object_get(sess, "e")) < now_s()) {
        json_decref(sess);
        return NULL;
    }
    return sess;
}

int auth_refresh_check(auth_t *a, const char *token, const auth_pool_t *p, const auth_client_t *c,
                       int64_t *auth_time, char origin_jti[40], char username_key[256], char *msg,
                       size_t msgsz)
{
    json_t *sess = refresh_session(a, token, origin_jti);
    if (sess == NULL) {
        snprintf(msg, msgsz, "Invalid Refresh Token");
        return -1;
    }
    const char *sp = json_string_value(json_object_get(sess, "p"));
    const char *sc = json_string_value(json_object_get(sess, "c"));
    if (sp == NULL || sc == NULL || strcmp(sp, p->id) != 0 || strcmp(sc, c->id) != 0) {
        json_decref(sess);
        snprintf(msg, msgsz, "Invalid Refresh Token");
        return -1;
    }
    *auth_time = json_integer_value(json_object_get(sess, "at"));
    snprintf(username_key, 256, "%s", json_string_value(json_object_get(sess, "u")));
    json_decref(sess);
    return 0;
}

/* Delete one session and its index entry inside t. */
static void session_del(storage_txn_t *t, const char *origin, const char *ukey)
{
    char uskey[300];
    snprintf(uskey, sizeof uskey, "%s/%s", ukey, origin);
    storage_rec_del(t, T_SESSIONS, origin, strlen(origin));
    storage_rec_del(t, T_USESS, uskey, strlen(uskey));
}

int auth_session_revoke(auth_t *a, const char *refresh_token, const auth_client_t *c)
{
    char origin[40];
    json_t *sess = refresh_session(a, refresh_token, origin);
    if (sess == NULL)
        return -1;
    const char *sc = json_string_value(json_object_get(sess, "c"));
    if (sc == NULL || strcmp(sc, c->id) != 0) {
        json_decref(sess);
        return -1;
    }
    storage_txn_t *t;
    int rc = storage_txn_begin(a->st, &t);
    if (rc == 0) {
        session_del(t, origin, json_string_value(json_object_get(sess, "u")));
        rc = storage_txn_commit(t);
    }
    json_decref(sess);
    return rc == 0 ? 0 : -2;
}

typedef struct collect {
    json_t *jtis;
    size_t prefix_len;
} collect_t;

static int collect_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    collect_t *c = ctx;
    if (key_len > c->prefix_len && key_len - c->prefix_len < 40)
        json_array_append_new(c->jtis, json_stringn((const char *)key + c->prefix_len,
                                                    key_len - c->prefix_len));
    return 0;
}

int auth_sessions_end_user(auth_t *a, const auth_pool_t *p, const char *username)
{
    char ukey[256], prefix[260];
    auth_user_key(p, username, ukey);
    int plen = snprintf(prefix, sizeof prefix, "%s/", ukey);
    collect_t c = {json_array(), (size_t)plen};
    storage_view_t *v;
    int rc = storage_view_open(a->st, &v);
    if (rc == 0) {
        rc = storage_view_rec_scan(v, T_USESS, prefix, (size_t)plen, collect_cb, &c);
        storage_view_close(v);
    }
    storage_txn_t *t;
    if (rc == 0)
        rc = storage_txn_begin(a->st, &t);
    if (rc == 0) {
        size_t i;
        json_t *j;
        json_array_foreach(c.jtis, i, j) session_del(t, json_string_value(j), ukey);
        rc = storage_txn_commit(t);
    }
    json_decref(c.jtis);
    return rc;
}

int auth_token_verify_any(auth_t *a, const char *token, const char *token_use, char *pool_id,
                          size_t pool_idsz, json_t **claims, char *why, size_t whysz)
{
    *claims = NULL;
    auth_pool_t *p = token ? pool_of_token(a, token) : NULL;
    if (p == NULL) {
        snprintf(why, whysz, "not a token of any user pool here");
        return -1;
    }
    if (verify_in_pool(p, token, token_use, NULL, claims, why, whysz) != 0)
        return -1;
    snprintf(pool_id, pool_idsz, "%s", p->id);
    return 0;
}

char *auth_sign(auth_t *a, const char *pool_id, const json_t *claims)
{
    auth_pool_t *p = auth_pool_find(a, pool_id);
    return p ? auth_jwt_sign(p->key, claims) : NULL;
}
