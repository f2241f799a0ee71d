/* internal.h - declarations shared by the .c files of auth/; other modules
 * include only auth/auth.h.
 *
 * pool.c  - user pools and app clients: config, the default pool, records,
 *           signing keys; CreateUserPool and friends.
 * user.c  - user records, argon2id hashes, sealed SRP verifiers, codes, the
 *           outbox and the failed-log-in throttle.
 * session.c - issuing tokens, refresh sessions, revocation, and the checks
 *           behind auth_token_verify.
 * api.c   - the Cognito JSON API: parsing, validation, the operations.
 * srp.c   - Cognito's flavour of SRP-6a (wire doc 2.4): verifiers, the
 *           server's challenge and the check of PASSWORD_CLAIM_SIGNATURE.
 * token.c - RSA signing keys, RS256 JWTs via libjwt, JWKS, and the strict
 *           verification that every other module relies on (DESIGN.md:
 *           libjwt 1.10 trusts the token's alg header and accepts anything
 *           when given no key, so the checks are ours).
 */
#ifndef CLOUDLET_AUTH_INTERNAL_H
#define CLOUDLET_AUTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

/* ---- SRP (srp.c) ---- */

#define AUTH_SRP_N_BYTES 384   /* the 3072-bit group */
#define AUTH_SRP_SALT_BYTES 16
#define AUTH_SRP_B_BYTES 32    /* the server's secret exponent b */
#define AUTH_SRP_HEX_MAX 800   /* unpadded hex of a group element, plus NUL */

/* v = g^x mod N for x = H(padHex(salt) || H(pool_name || user_id || ":" || password)),
 * written big-endian, left-padded to AUTH_SRP_N_BYTES. pool_name is the part
 * of the user pool id after '_'. Returns 0, or -1 on an internal failure. */
int auth_srp_verifier(const char *pool_name, const char *user_id, const char *password,
                      const unsigned char *salt, size_t salt_len,
                      unsigned char v[AUTH_SRP_N_BYTES]);

/* Start a PASSWORD_VERIFIER challenge for verifier v: choose a random secret
 * b (written to b_out) and compute B = (k*v + g^b) mod N as lowercase,
 * unpadded hex (B_hex, size AUTH_SRP_HEX_MAX). Returns 0 or -1. */
int auth_srp_challenge(const unsigned char v[AUTH_SRP_N_BYTES],
                       unsigned char b_out[AUTH_SRP_B_BYTES], char B_hex[AUTH_SRP_HEX_MAX]);

/* Check a client's PASSWORD_CLAIM_SIGNATURE (base64) for the challenge made
 * with v and b: A_hex is the client's SRP_A (hex), B_hex what the challenge
 * sent; secret_block the raw bytes of PASSWORD_CLAIM_SECRET_BLOCK; timestamp
 * the TIMESTAMP text as sent. Refuses A mod N == 0 and u == 0. The comparison
 * is constant-time. Returns 0 when the signature is right, -1 otherwise. */
int auth_srp_verify(const unsigned char v[AUTH_SRP_N_BYTES],
                    const unsigned char b[AUTH_SRP_B_BYTES], const char *A_hex, const char *B_hex,
                    const char *pool_name, const char *user_id, const unsigned char *secret_block,
                    size_t secret_block_len, const char *timestamp, const char *signature_b64);

/* Parse Cognito's TIMESTAMP ("Tue Aug 5 09:03:07 UTC 2025": day not padded)
 * into seconds since the epoch. Returns 0 or -1. */
int auth_srp_parse_timestamp(const char *s, int64_t *out);

/* ---- Keys and tokens (token.c) ---- */

typedef struct auth_key auth_key_t;

/* Generate a new RSA-2048 signing key. Never NULL (aborts if OpenSSL cannot). */
auth_key_t *auth_key_generate(void);
/* Load a key from its private-key PEM (as written by auth_key_private_pem).
 * Returns NULL if the PEM is not an unencrypted RSA private key of at least
 * 2048 bits. */
auth_key_t *auth_key_from_pem(const char *pem, size_t len);
/* The private key as PKCS#8 PEM; caller frees and should OPENSSL_cleanse it. */
char *auth_key_private_pem(const auth_key_t *k, size_t *len);
/* The key id: base64url of the first 16 bytes of SHA-256 over the DER public key. */
const char *auth_key_kid(const auth_key_t *k);
/* Append this key's public JWK ({"alg","e","kid","kty","n","use"}) to a JSON array. */
void auth_key_jwk(const auth_key_t *k, json_t *keys);
/* Wipe and free. Accepts NULL. */
void auth_key_free(auth_key_t *k);

/* Sign `claims` (a JSON object, not modified) as an RS256 JWT with header
 * {"alg":"RS256","kid":kid,"typ":"JWT"} (libjwt 1.10 always adds "typ").
 * Returns the compact token (caller free()s) or NULL. */
char *auth_jwt_sign(const auth_key_t *k, const json_t *claims);

/* What a verified token must satisfy. */
typedef struct auth_jwt_expect {
    const char *issuer;    /* exact "iss" */
    const char *token_use; /* "id" or "access" */
    const char *client_id; /* "aud" for ID tokens, "client_id" for access tokens; NULL = any */
    int64_t now;           /* seconds since the epoch */
    int64_t leeway;        /* seconds of clock skew tolerated for exp and iat */
} auth_jwt_expect_t;

/* Verify `token` strictly against the candidate keys: the header must be
 * exactly alg RS256 with a kid naming one of keys[0..nkeys); the signature
 * must verify with that key; exp must be in the future, iat not in the
 * future, iss, token_use and audience as expected. On success returns 0 and
 * the claims in *claims_out (caller json_decref's). Returns -1 for any
 * failure and writes a short reason to why (size whysz) that never contains
 * the token. Tokens over 16 KiB are refused unread. */
int auth_jwt_verify(const char *token, const auth_key_t *const *keys, size_t nkeys,
                    const auth_jwt_expect_t *expect, json_t **claims_out, char *why,
                    size_t whysz);


/* ---- The pieces of an auth_t (pool.c, user.c, session.c, api.c) ---- */

#include <pthread.h>
#include <stdatomic.h>

#include "auth/auth.h"

#define AUTH_MAX_POOLS 64
#define AUTH_MAX_CLIENTS 32
#define AUTH_POOL_ID_MAX 55
#define AUTH_CLIENT_ID_MAX 128
#define AUTH_NAME_MAX 128
#define AUTH_USERNAME_MAX 128
#define AUTH_PASSWORD_MAX 256

enum {
    FLOW_SRP = 1,           /* ALLOW_USER_SRP_AUTH */
    FLOW_PASSWORD = 2,      /* ALLOW_USER_PASSWORD_AUTH */
    FLOW_REFRESH = 4,       /* ALLOW_REFRESH_TOKEN_AUTH */
    FLOW_ADMIN_PASSWORD = 8, /* ALLOW_ADMIN_USER_PASSWORD_AUTH */
    FLOW_CUSTOM = 16,       /* ALLOW_CUSTOM_AUTH (accepted, never offered) */
};

typedef struct auth_client {
    char id[AUTH_CLIENT_ID_MAX + 1];
    char name[AUTH_NAME_MAX + 1];
    char *secret; /* NULL: no secret, no SECRET_HASH */
    unsigned flows;
    int prevent_existence; /* PreventUserExistenceErrors ENABLED */
    int64_t id_validity, access_validity, refresh_validity; /* seconds */
    int64_t created_ms;
} auth_client_t;

typedef struct auth_pool {
    char id[AUTH_POOL_ID_MAX + 1];
    const char *suffix; /* the part after '_', SRP's "pool name" */
    char name[AUTH_NAME_MAX + 1];
    char *issuer;
    int auto_confirm;
    unsigned min_length;
    int req_upper, req_lower, req_digits, req_symbols;
    int from_config;
    int64_t created_ms;
    auth_key_t *key;
    /* Clients are only ever appended: readers take nclients with acquire
     * order and read the pointers below it without a lock. */
    auth_client_t *clients[AUTH_MAX_CLIENTS];
    atomic_int nclients;
} auth_pool_t;

typedef struct throttle throttle_t;

struct auth {
    storage_t *st;
    const seal_key_t *key;
    char *region;
    char *account_id;
    auth_pool_t *pools[AUTH_MAX_POOLS]; /* append-only, like clients */
    atomic_int npools;
    pthread_mutex_t create_lock; /* serialises CreateUserPool / CreateUserPoolClient */
    char default_pool[AUTH_POOL_ID_MAX + 1];
    char default_client[AUTH_CLIENT_ID_MAX + 1];
    throttle_t *throttle;
    unsigned max_failed_user, max_failed_addr, lockout_seconds;
    char *dummy_hash; /* argon2id of a random password: unknown users cost the same */
    /* SRP challenges answered recently: each SECRET_BLOCK is good for one try. */
    pthread_mutex_t nonce_lock;
    unsigned char (*nonces)[16];
    unsigned nonce_next;
    atomic_uint writes; /* outbox messages and log-ins since the last prune */
};

#define AUTH_NONCE_RING 4096

/* pool.c */
int auth_pools_load(auth_t *a, const json_t *config_pools, char *err, size_t errsz);
void auth_pools_free(auth_t *a);
auth_pool_t *auth_pool_find(auth_t *a, const char *id);
auth_client_t *auth_client_find(auth_pool_t *p, const char *id);
/* Find a client by id across every pool; *pool_out receives its pool. */
auth_client_t *auth_client_lookup(auth_t *a, const char *client_id, auth_pool_t **pool_out);
/* Does any client of the pool allow SRP (then users get a sealed verifier)? */
int auth_pool_wants_srp(auth_pool_t *p);
json_t *auth_pool_describe(auth_t *a, const auth_pool_t *p);
json_t *auth_client_describe(const auth_pool_t *p, const auth_client_t *c);
/* CreateUserPool / CreateUserPoolClient from validated API input. On error
 * returns NULL and sets *code/msg. */
auth_pool_t *auth_pool_create(auth_t *a, const json_t *in, const char **code, char *msg,
                              size_t msgsz);
auth_client_t *auth_client_create(auth_t *a, auth_pool_t *p, const json_t *in, const char **code,
                                  char *msg, size_t msgsz);

/* user.c */
#define AUTH_ARGON2_T 2
#define AUTH_ARGON2_M_KIB 19456
#define AUTH_ARGON2_P 1
/* The record key of a user: "<poolId>/<lowercased username>" into key (size 256). */
size_t auth_user_key(const auth_pool_t *p, const char *username, char key[256]);
/* Read a user (a copy; caller json_decref's) or NULL. */
json_t *auth_user_get(auth_t *a, const auth_pool_t *p, const char *username);
/* Hash the password (argon2id) and, if the pool wants SRP, make the sealed
 * verifier; store both into user (fields "h", "salt", "v"). The slow part:
 * call it before any write transaction. Returns 0 or -1. */
int auth_user_set_password(auth_t *a, const auth_pool_t *p, json_t *user, const char *password);
/* argon2id check of the password against the user's hash (or the dummy hash
 * when user is NULL, costing the same). Returns 1 if right. */
int auth_user_check_password(auth_t *a, const json_t *user, const char *password);
/* The SRP verifier of a user, unsealed. Returns 0 or -1 (none stored). */
int auth_user_verifier(auth_t *a, const auth_pool_t *p, const json_t *user,
                       unsigned char v[AUTH_SRP_N_BYTES], unsigned char *salt, size_t *salt_len);
/* The password policy: NULL if `pw` conforms, else the message naming the rule. */
const char *auth_password_problem(const auth_pool_t *p, const char *pw);
/* Store user (insert when create is set: STORAGE_EEXIST if present). */
int auth_user_put(storage_txn_t *t, const auth_pool_t *p, json_t *user, int create);
/* Codes: make a fresh 6-digit code for purpose ("confirm", "reset") into
 * code[7] and store its HMAC inside txn t. */
int auth_code_new(auth_t *a, storage_txn_t *t, const auth_pool_t *p, const char *username,
                  const char *purpose, int64_t ttl_s, char code[7]);
/* Check a code in its own transaction: 0 right (the code is consumed), or
 * -1 mismatch, -2 expired or absent, -3 too many attempts (the code is void). */
int auth_code_check(auth_t *a, const auth_pool_t *p, const char *username, const char *purpose,
                    const char *code);
/* Queue a message in the outbox inside t and log that it was queued. */
int auth_outbox_put(storage_txn_t *t, const auth_pool_t *p, const char *username,
                    const char *destination, const char *kind, const char *code,
                    const char *message);
/* Drop outbox messages beyond the newest 1000, and expired sessions and
 * codes. Returns how many records went, or -1. */
int auth_prune(auth_t *a);
/* Throttle of failed log-ins. auth_throttle_check returns 0 (go on), 1 (the
 * user is locked: "Password attempts exceeded") or 2 (the address is: 429-ish). */
throttle_t *auth_throttle_new(void);
void auth_throttle_free(throttle_t *t);
int auth_throttle_check(auth_t *a, const char *userkey, const char *addr);
void auth_throttle_fail(auth_t *a, const char *userkey, const char *addr);
void auth_throttle_reset(auth_t *a, const char *userkey);

/* session.c */
/* Sign ID and access tokens for user (and, when refresh is set, start a
 * refresh session and add RefreshToken). Returns the AuthenticationResult
 * object or NULL (internal error). auth_time/origin_jti NULL/0: a new log-in. */
json_t *auth_tokens_issue(auth_t *a, const auth_pool_t *p, const auth_client_t *c,
                          const json_t *user, int refresh, int64_t auth_time,
                          const char *origin_jti);
/* Check an access token for a Cognito API call: signature and claims, a live
 * session (not globally signed out or revoked), and a user that still
 * exists. Returns 0 with the pool and user (caller json_decref's), else -1
 * with the NotAuthorizedException message in msg. */
int auth_access_check(auth_t *a, const char *token, auth_pool_t **pool_out, json_t **user_out,
                      json_t **claims_out, char *msg, size_t msgsz);
/* Refresh: 0 and the session's auth_time/origin_jti, or -1 with msg. */
int auth_refresh_check(auth_t *a, const char *token, const auth_pool_t *p, const auth_client_t *c,
                       int64_t *auth_time, char origin_jti[40], char username_key[256], char *msg,
                       size_t msgsz);
/* End sessions: one (RevokeToken) or every session of a user. */
int auth_session_revoke(auth_t *a, const char *refresh_token, const auth_client_t *c);
int auth_sessions_end_user(auth_t *a, const auth_pool_t *p, const char *username);

#endif
