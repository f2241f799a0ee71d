/* auth.h - identity: Cognito user pools, their users and their tokens.
 *
 * One auth_t serves every user pool: those declared in cloudlet.json
 * ("userPools"), those made with CreateUserPool, and, when the config
 * declares none, a default pool with one app client created at first start
 * and kept in the store. Users, confirmation codes, the outbox, refresh
 * sessions and each pool's RSA signing key are records in storage/.
 *
 * Other modules see two things: the handlers that server/ routes to, and
 * auth_token_verify, the one strict check of a token that every consumer
 * of our JWTs (identity pools, functions) must use.
 */
#ifndef CLOUDLET_AUTH_H
#define CLOUDLET_AUTH_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "common/http.h"
#include "common/seal.h"
#include "storage/storage.h"

typedef struct auth auth_t;

typedef struct auth_options {
    const char *region;     /* pool ids are "<region>_<suffix>" */
    const char *account_id; /* for pool ARNs */
    const json_t *pools;    /* cloudlet.json "userPools" (borrowed, may be NULL) */
    const seal_key_t *key;  /* the server key (borrowed; must outlive the auth_t) */
    unsigned max_failed_per_user;    /* failed log-ins before a user is locked out: 5 */
    unsigned max_failed_per_address; /* failed log-ins from one address before 429s: 20 */
    unsigned lockout_seconds;        /* the window both counters cover: 900 */
} auth_options_t;

/* Load (or create) every pool and its signing key. On error returns -1 with
 * a message naming the offending "userPools" field in err. */
int auth_open(auth_t **out, storage_t *st, const auth_options_t *opts, char *err, size_t errsz);
/* Free everything; key material is wiped. Accepts NULL. */
void auth_close(auth_t *a);

/* The pool and app client that /.well-known/cloudlet.json advertises: the
 * first configured pool and its first client, or the default ones. Borrowed
 * for the life of the auth_t. */
const char *auth_default_pool_id(const auth_t *a);
const char *auth_default_client_id(const auth_t *a);

/* POST / with X-Amz-Target: AWSCognitoIdentityProviderService.<Op>. Admin
 * and pool-management operations require req->caller to be root. */
void auth_handle(auth_t *a, const http_req_t *req, http_resp_t *resp);
/* GET /<poolId>/.well-known/jwks.json and .../openid-configuration.
 * `endpoint` is the public base URL ("http://127.0.0.1:8080"). */
void auth_handle_wellknown(auth_t *a, const char *endpoint, const http_req_t *req,
                           http_resp_t *resp);

/* Verify a token issued by pool `pool_id`: RS256 with the pool's kid, a
 * valid signature, exp in the future, iat not in the future, iss the pool's
 * issuer, token_use as given ("id" or "access"), and, when client_id is not
 * NULL, aud (ID tokens) or client_id (access tokens) equal to it. Returns 0
 * and the claims in *claims (caller json_decref's), or -1 with a short
 * reason in why (never the token). */
int auth_token_verify(auth_t *a, const char *pool_id, const char *token, const char *token_use,
                      const char *client_id, json_t **claims, char *why, size_t whysz);

/* Verify a token of whichever of our pools signed it (found by the kid in
 * its header; then strictly as auth_token_verify with that pool and any
 * client). On success writes the pool id into pool_id (size pool_idsz). */
int auth_token_verify_any(auth_t *a, const char *token, const char *token_use, char *pool_id,
                          size_t pool_idsz, json_t **claims, char *why, size_t whysz);

/* Sign `claims` as an RS256 JWT with the key of pool `pool_id` (for
 * tokens other modules issue, e.g. GetOpenIdToken). Caller frees; NULL if
 * the pool is unknown. */
char *auth_sign(auth_t *a, const char *pool_id, const json_t *claims);

/* The action and resource of a signed request to the Cognito User Pools API,
 * for the gate: returns 0 with "cognito-idp:<Op>" and the pool's ARN (or
 * "*"), or 1 when the operation needs no permission (the unsigned ones). */
int auth_request_action(auth_t *a, const http_req_t *req, char *action, size_t actionsz,
                        char *resource, size_t resourcesz);

/* Print the newest `limit` outbox messages, oldest first, to out: one text
 * line each, or one JSON object per line when json is set. Returns the
 * number printed, or a negative storage error. */
int auth_outbox_print(storage_t *st, FILE *out, int json, unsigned limit);

#endif
