/* creds.c - temporary credentials and their sealed session tokens.
 *
 * A temporary credential is an "ASIA..." access key id, a random secret and
 * a session token. The token is the whole credential sealed with AES-256-GCM
 * under the server key (common/seal.h): access key id, secret, expiry, role,
 * identity and session policy. Verifying a request therefore needs no
 * database lookup, and any cloudlet front end that holds the key can verify
 * it. A token that is altered, cut short, sealed under another key, expired,
 * or presented with another access key id is refused.
 *
 * After a key rotation the previous key still opens tokens, so credentials
 * issued before it keep working until they expire (the grace period).
 */
#include "sts/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/util.h"

#define TOKEN_AAD "session-token"
#define TOKEN_B64_MAX 8192 /* a token is under 2 KiB; anything far longer is not ours */
#define SECRET_LEN 40

static const char base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char secret_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void random_text(char *out, size_t n, const char *alphabet, size_t alen)
{
    unsigned char r[64];
    util_random(r, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[r[i] % alen]; /* 32 and 64 divide 256: no bias */
    out[n] = '\0';
    OPENSSL_cleanse(r, sizeof r);
}

json_t *sts_session_mint(const sts_t *s, const sts_session_t *sess, int64_t now)
{
    if (s->key == NULL)
        return NULL;
    char akid[21], secret[SECRET_LEN + 1], arn[400], uid[300];
    memcpy(akid, "ASIA", 4);
    random_text(akid + 4, 16, base32, 32);
    random_text(secret, SECRET_LEN, secret_chars, 64);
    int64_t exp = now + sess->duration;
    if (sess->root) {
        snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", s->account_id);
        snprintf(uid, sizeof uid, "%s", s->account_id);
    } else {
        snprintf(arn, sizeof arn, "arn:aws:sts::%s:assumed-role/%s/%s", s->account_id,
                 sess->role->name, sess->session_name);
        snprintf(uid, sizeof uid, "%s:%s", sess->role->id, sess->session_name);
    }
    json_t *rec = json_pack("{s:s, s:s, s:I, s:b, s:s, s:s, s:s, s:s, s:s, s:s}", "k", akid, "s",
                            secret, "e", (json_int_t)exp, "root", sess->root, "r",
                            sess->root ? "" : sess->role->name, "arn", arn, "uid", uid, "iid",
                            sess->identity_id ? sess->identity_id : "", "sub",
                            sess->subject ? sess->subject : "", "p",
                            sess->policy ? sess->policy : "");
    char *plain = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    size_t n = strlen(plain);
    unsigned char *sealed = xmalloc(n + SEAL_OVERHEAD);
    size_t sn = seal(s->key, TOKEN_AAD, plain, n, sealed);
    OPENSSL_cleanse(plain, n);
    free(plain);
    char *token = util_base64(sealed, sn);
    free(sealed);
    json_t *out = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "AccessKeyId", akid,
                            "SecretAccessKey", secret, "SessionToken", token, "Expiration",
                            (json_int_t)exp, "Arn", arn, "AssumedRoleId", uid);
    OPENSSL_cleanse(secret, sizeof secret);
    free(token);
    return out;
}

/* Copy a string member into a fixed field; returns -1 if absent or too long. */
static int field(const json_t *rec, const char *name, char *out, size_t outsz)
{
    const char *v = json_string_value(json_object_get(rec, name));
    if (v == NULL || strlen(v) >= outsz)
        return -1;
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

int sts_session_open(const sts_t *s, const char *akid, const char *token, int64_t now,
                     sts_cred_t *cred, http_caller_t *caller)
{
    if (s->key == NULL || token == NULL || akid == NULL)
        return STS_EUNKNOWNKEY;
    size_t tlen = strnlen(token, TOKEN_B64_MAX + 1);
    if (tlen == 0 || tlen > TOKEN_B64_MAX)
        return STS_EUNKNOWNKEY;
    unsigned char *sealed = xmalloc(tlen);
    char *plain = xmalloc(tlen + 1);
    long sn = util_base64_decode(token, tlen, sealed, tlen);
    long pn = -1;
    if (sn > SEAL_OVERHEAD) {
        pn = seal_open(s->key, TOKEN_AAD, sealed, (size_t)sn, (unsigned char *)plain);
        if (pn < 0 && s->previous_key != NULL)
            pn = seal_open(s->previous_key, TOKEN_AAD, sealed, (size_t)sn,
                           (unsigned char *)plain);
    }
    free(sealed);
    json_t *rec = pn > 0 ? json_loadb(plain, (size_t)pn, 0, NULL) : NULL;
    if (pn > 0)
        OPENSSL_cleanse(plain, (size_t)pn);
    free(plain);
    int rc = STS_EUNKNOWNKEY;
    const char *k = json_string_value(json_object_get(rec, "k"));
    /* Presented with another access key id: a token is bound to its key. */
    if (rec == NULL || k == NULL || strcmp(k, akid) != 0)
        goto out;
    memset(cred, 0, sizeof *cred);
    memset(caller, 0, sizeof *caller);
    if (field(rec, "k", cred->access_key_id, sizeof cred->access_key_id) != 0 ||
        field(rec, "s", cred->secret, sizeof cred->secret) != 0 ||
        field(rec, "arn", cred->arn, sizeof cred->arn) != 0 ||
        field(rec, "k", caller->access_key_id, sizeof caller->access_key_id) != 0 ||
        field(rec, "arn", caller->arn, sizeof caller->arn) != 0 ||
        field(rec, "uid", caller->user_id, sizeof caller->user_id) != 0 ||
        field(rec, "r", caller->role, sizeof caller->role) != 0 ||
        field(rec, "iid", caller->identity_id, sizeof caller->identity_id) != 0 ||
        field(rec, "sub", caller->subject, sizeof caller->subject) != 0 ||
        field(rec, "p", caller->session_policy, sizeof caller->session_policy) != 0)
        goto out;
    caller->root = json_is_true(json_object_get(rec, "root"));
    caller->expires = json_integer_value(json_object_get(rec, "e"));
    snprintf(caller->account, sizeof caller->account, "%.15s", s->account_id);
    rc = now < caller->expires ? 0 : STS_EEXPIRED;
out:
    if (rec != NULL) {
        json_t *sec = json_object_get(rec, "s");
        if (json_is_string(sec))
            OPENSSL_cleanse((char *)json_string_value(sec), json_string_length(sec));
    }
    json_decref(rec);
    if (rc != 0)
        OPENSSL_cleanse(cred, sizeof *cred);
    return rc;
}

static const sts_role_t *role_named(const sts_t *s, const char *role)
{
    if (role == NULL || role[0] == '\0')
        role = "cloudlet-function";
    const sts_role_t *r = sts_role_by_arn(s, role);
    return r != NULL ? r : sts_role_find(s, role);
}

int sts_role_exists(const sts_t *s, const char *role)
{
    return role_named(s, role) != NULL;
}

int sts_mint_role(const sts_t *s, const char *role, const char *session_name,
                  unsigned duration, sts_creds_t *out)
{
    memset(out, 0, sizeof *out);
    const sts_role_t *r = role_named(s, role);
    if (r == NULL)
        return -1;
    sts_session_t sess = {.role = r, .session_name = session_name, .duration = duration};
    json_t *c = sts_session_mint(s, &sess, util_now_ms() / 1000);
    if (c == NULL)
        return -1;
    snprintf(out->access_key_id, sizeof out->access_key_id, "%s",
             json_string_value(json_object_get(c, "AccessKeyId")));
    json_t *sec = json_object_get(c, "SecretAccessKey");
    snprintf(out->secret, sizeof out->secret, "%s", json_string_value(sec));
    OPENSSL_cleanse((char *)json_string_value(sec), json_string_length(sec));
    out->session_token = xstrdup(json_string_value(json_object_get(c, "SessionToken")));
    out->expiration = json_integer_value(json_object_get(c, "Expiration"));
    json_decref(c);
    return 0;
}

void sts_creds_wipe(sts_creds_t *c)
{
    OPENSSL_cleanse(c->secret, sizeof c->secret);
    free(c->session_token);
    c->session_token = NULL;
}
