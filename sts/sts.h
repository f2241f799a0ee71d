/* sts.h - the gate: root credentials and the SigV4 verifier.
 *
 * Every signed request anywhere in cloudlet is verified here before its
 * handler runs (DESIGN.md, routing rule). This first part holds the root
 * (admin) credentials and verifies the header form of SigV4 for the JSON
 * services (canonical request per wire doc 1.1 with the non-S3 path rules);
 * the credentials issue adds temporary credentials, the presigned form,
 * the S3 path rules, identity pools, the STS API and policies.
 *
 * Root credentials (DESIGN.md, contract): CLOUDLET_ROOT_ACCESS_KEY_ID and
 * CLOUDLET_ROOT_SECRET_ACCESS_KEY from the environment, both or neither;
 * otherwise DIR/root-credentials, created at first start (mode 0600) in the
 * AWS shared-credentials form, so that
 *   AWS_SHARED_CREDENTIALS_FILE=var/root-credentials aws ...
 * works as is:
 *   [default]
 *   aws_access_key_id = AKIA...        (AKIA + 16 of A-Z2-7)
 *   aws_secret_access_key = ...        (40 characters of base64)
 */
#ifndef CLOUDLET_STS_H
#define CLOUDLET_STS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "common/http.h"
#include "common/seal.h"
#include "storage/storage.h"

typedef struct sts sts_t;

typedef struct sts_options {
    const char *data_dir;   /* where root-credentials lives */
    const char *region;     /* the only region a credential scope may name */
    const char *account_id; /* for ARNs: arn:aws:iam::<account>:root */
    /* The rest may be NULL/0 (unit tests of the verifier): then there are no
     * temporary credentials, roles or identity pools. All borrowed. */
    storage_t *st;                  /* identity records and API-made identity pools */
    auth_t *auth;                   /* verifies the ID tokens of our user pools */
    const seal_key_t *key;          /* seals session tokens */
    const seal_key_t *previous_key; /* still opens them (key rotation); may be NULL */
    const json_t *roles;            /* cloudlet.json "roles" (NULL = the default role) */
    const json_t *identity_pools;   /* cloudlet.json "identityPools" (NULL = default pool) */
    unsigned default_duration;      /* sts.defaultDurationSeconds: 3600 */
    unsigned min_duration;          /* sts.minDurationSeconds: 900 */
} sts_options_t;

/* Errors of sts_verify. Each maps to one AWS error per protocol (see
 * sts_error_response). */
enum {
    STS_EMISSING = -1,   /* no Authorization header */
    STS_EMALFORMED = -2, /* Authorization or X-Amz-Date unparsable, host not signed */
    STS_EUNKNOWNKEY = -3, /* no such access key id */
    STS_ESIGNATURE = -4, /* signature does not match, or the body does not match its hash */
    STS_ESKEW = -5,      /* X-Amz-Date more than 15 minutes from now */
    STS_ESCOPE = -6,     /* credential scope names another date, region or service */
    STS_EEXPIRED = -7,   /* the temporary credentials (or the presigned URL) have expired */
    STS_EDENIED = -8,    /* verified, but the caller's policy does not allow the action */
    STS_EQUERYPARAMS = -9, /* presigned query parameters malformed (e.g. X-Amz-Expires too big) */
};

/* Load the root credentials (environment, else the file, else create it).
 * Returns 0, or -1 with a message in err. */
int sts_open(sts_t **out, const sts_options_t *opts, char *err, size_t errsz);
/* Wipe the secrets and free. Accepts NULL. */
void sts_close(sts_t *s);

/* The root access key id (not secret; the server logs it at start). */
const char *sts_root_access_key_id(const sts_t *s);
/* Where the root credentials came from: "environment" or the file path. */
const char *sts_root_source(const sts_t *s);

/* Verify the SigV4 signature of `req` for `service` (e.g. "cognito-idp",
 * "s3") at time `now` (seconds since the epoch): the Authorization header,
 * or a presigned URL's X-Amz-* query parameters. "s3" uses S3's rules (the
 * path encoded once, x-amz-content-sha256 required, UNSIGNED-PAYLOAD and
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER allowed). ASIA... keys are opened from
 * their session token. On success fills *caller (root, or the temporary
 * credential's role, identity and session policy) and returns 0; otherwise
 * returns an STS_E* code and writes a message for the client into msg (size
 * msgsz) that never contains a secret. Signatures are compared in constant
 * time. */
int sts_verify(sts_t *s, const http_req_t *req, const char *service, int64_t now,
               http_caller_t *caller, char *msg, size_t msgsz);

/* The identity pool that /.well-known/cloudlet.json advertises ("" if none). */
const char *sts_default_identity_pool_id(const sts_t *s);

/* POST / with X-Amz-Target: AWSCognitoIdentityService.<Op> (identity pools). */
void sts_handle_identity(sts_t *s, const http_req_t *req, http_resp_t *resp);
/* POST / with a form body Action=... (the STS query API). */
void sts_handle_sts(sts_t *s, const http_req_t *req, http_resp_t *resp);

/* May the verified `caller` do `action` (e.g. "lambda:InvokeFunction") on
 * `resource` (an ARN)? Root may do everything; temporary credentials are
 * judged by their role's policies intersected with their session policy.
 * `context` holds extra condition keys (may be NULL). Returns 0 when
 * allowed, STS_EDENIED otherwise. */
int sts_authorize(const sts_t *s, const http_caller_t *caller, const char *action,
                  const char *resource, const json_t *context);

/* The action and resource of a signed request to the identity-pool API
 * (query = 0) or the STS API (query = 1), for sts_authorize. Returns 0 with
 * both filled, or 1 when the operation needs no permission. */
int sts_request_action(const sts_t *s, const http_req_t *req, int query, char *action,
                       size_t actionsz, char *resource, size_t resourcesz);

/* Temporary credentials for a function instance (execution role). */
typedef struct sts_creds {
    char access_key_id[32];
    char secret[64];
    char *session_token; /* owned; sts_creds_wipe frees it */
    int64_t expiration;  /* seconds since the epoch */
} sts_creds_t;

/* Mint credentials of role `role` (an ARN, or a name; "" = the default
 * execution role "cloudlet-function") for `duration` seconds, as Lambda does
 * for a function's execution role. Returns 0, or -1 when the role does not
 * exist (or no session key is set). */
int sts_mint_role(const sts_t *s, const char *role, const char *session_name,
                  unsigned duration, sts_creds_t *out);
/* Does the role exist? (CreateFunction checks its Role.) */
int sts_role_exists(const sts_t *s, const char *role);
/* Wipe the secret and free the token. Accepts an already wiped struct. */
void sts_creds_wipe(sts_creds_t *c);

/* Fill resp with the error for STS_E* code `err` in the shape of `proto`
 * (wire doc 1.4): e.g. JSON InvalidSignatureException, S3/STS
 * SignatureDoesNotMatch. */
void sts_error_response(int err, const char *msg, http_proto_t proto, const char *request_id,
                        http_resp_t *resp);

#endif
