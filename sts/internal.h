/* internal.h - declarations shared by the .c files of sts/; other modules
 * include only sts/sts.h.
 *
 * root.c  - sts_open/sts_close, the root credentials (environment, or the
 *           root-credentials file, created at first start) and the lookup
 *           of a credential by access key id.
 * sigv4.c - the SigV4 header-form verifier, the cache of derived signing
 *           keys, and the mapping of STS_E* codes to AWS error shapes.
 *
 * The handle keeps every secret inline (no pointers to secret bytes), so
 * that sts_close can wipe all of them with one OPENSSL_cleanse of the struct.
 */
#ifndef CLOUDLET_STS_INTERNAL_H
#define CLOUDLET_STS_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/seal.h"
#include "sts/sts.h"

#define STS_KEY_ID_MIN 16
#define STS_KEY_ID_MAX 128 /* IAM's AccessKeyId limits */
#define STS_SECRET_MIN 16
#define STS_SECRET_MAX 128
#define STS_SCOPE_PART_MAX 64 /* region or service name in a credential scope */
#define STS_SIGNING_KEY_LEN 32
#define STS_KEY_CACHE_SLOTS 16 /* (key, date, region, service) rarely exceeds a handful */

/* One credential that can sign requests. Today only the root credential
 * exists; temporary credentials will be looked up through the same type so
 * that the verifier does not care where a secret came from. */
typedef struct sts_cred {
    int root; /* the root (admin) credential */
    char access_key_id[STS_KEY_ID_MAX + 1];
    char secret[STS_SECRET_MAX + 1]; /* wiped in sts_close */
    char arn[256];                   /* what the caller becomes: arn:aws:iam::<account>:root */
} sts_cred_t;

/* A derived SigV4 signing key. Keyed by the access key id alone, which
 * assumes that an access key id never changes its secret while the process
 * runs (true for root; temporary credentials must keep ids unique). */
typedef struct sts_key_slot {
    int valid;
    uint64_t used; /* tick of the last use, for least-recently-used eviction */
    char access_key_id[STS_KEY_ID_MAX + 1];
    char date[9];
    char region[STS_SCOPE_PART_MAX + 1];
    char service[STS_SCOPE_PART_MAX + 1];
    unsigned char key[STS_SIGNING_KEY_LEN]; /* wiped in sts_close */
} sts_key_slot_t;

#define STS_MAX_ROLES 64
#define STS_MAX_IDPOOLS 64
#define STS_ROLE_NAME_MAX 64
#define STS_IDPOOL_ID_MAX 80

/* A role: who may assume it, for how long, and what it may do. */
typedef struct sts_role {
    char name[STS_ROLE_NAME_MAX + 1];
    char arn[160];
    char id[24];              /* "AROA..." derived from the name: stable across restarts */
    int64_t max_duration;     /* seconds */
    json_t *policies;         /* array of validated policy documents */
    json_t *trust_pools;      /* array of user pool ids (or "*") whose ID tokens may assume it */
} sts_role_t;

/* An identity pool (config, CreateIdentityPool, or the default one). */
typedef struct sts_idpool {
    char id[STS_IDPOOL_ID_MAX + 1];
    char name[129];
    int allow_unauth;
    char auth_role[STS_ROLE_NAME_MAX + 1];   /* "" = none */
    char unauth_role[STS_ROLE_NAME_MAX + 1]; /* "" = none */
    json_t *providers; /* [{"userPoolId","clientId"}] */
    int from_config;
} sts_idpool_t;

struct sts {
    char region[STS_SCOPE_PART_MAX + 1];
    char account_id[32];
    char source[4096]; /* "environment" or the path of root-credentials */
    sts_cred_t root;
    pthread_mutex_t cache_lock; /* sts_verify runs on every server thread */
    uint64_t cache_tick;
    sts_key_slot_t cache[STS_KEY_CACHE_SLOTS];
    /* Temporary credentials, identity pools and roles (creds.c, pools.c, api.c). */
    storage_t *st;
    auth_t *auth;
    const seal_key_t *key;
    const seal_key_t *previous_key;
    int64_t default_duration, min_duration;
    sts_role_t *roles[STS_MAX_ROLES];
    int nroles;
    pthread_rwlock_t idpools_lock; /* SetIdentityPoolRoles and CreateIdentityPool write */
    sts_idpool_t *idpools[STS_MAX_IDPOOLS];
    int nidpools;
    char default_idpool[STS_IDPOOL_ID_MAX + 1];
};

/* The credential whose access key id is `akid`, or NULL. Borrowed from s,
 * valid until sts_close. This is the one place that knows which credentials
 * exist: temporary credentials join here. (root.c) */
const sts_cred_t *sts_cred_lookup(const sts_t *s, const char *akid);

/* ---- Temporary credentials (creds.c) ----
 *
 * An ASIA... access key id comes with a session token (X-Amz-Security-Token
 * header, or query parameter in a presigned URL) that is a sealed record of
 * the credential: its access key id, secret, expiry, role and identity. */

/* Open `token` (as sent) for access key id `akid` at time `now`. On success
 * fills *cred (with the secret; the caller must OPENSSL_cleanse it) and
 * *caller, and returns 0. Returns STS_EUNKNOWNKEY when the token is not one
 * of ours (malformed, truncated, tampered, sealed under another key, or for
 * another access key id) and STS_EEXPIRED when it has expired. */
int sts_session_open(const sts_t *s, const char *akid, const char *token, int64_t now,
                     sts_cred_t *cred, http_caller_t *caller);

/* What a new session is: the caller it will verify as. */
typedef struct sts_session {
    int root;                /* GetSessionToken by root: acts as root */
    const sts_role_t *role;  /* NULL for root sessions */
    const char *session_name;
    const char *identity_id; /* may be NULL */
    const char *subject;     /* may be NULL */
    const char *policy;      /* inline session policy JSON, may be NULL */
    int64_t duration;        /* seconds */
} sts_session_t;

/* Mint temporary credentials for sess: returns a JSON object
 * {"AccessKeyId","SecretAccessKey","SessionToken","Expiration"(seconds),"Arn","AssumedRoleId"}
 * (caller json_decref's and wipes), or NULL when no server key is set. */
json_t *sts_session_mint(const sts_t *s, const sts_session_t *sess, int64_t now);

/* ---- Roles and identity pools (pools.c) ---- */

int sts_pools_load(sts_t *s, const sts_options_t *opts, char *err, size_t errsz);
void sts_pools_free(sts_t *s);
const sts_role_t *sts_role_find(const sts_t *s, const char *name);
/* The role named by an ARN "arn:aws:iam::<account>:role/<name>", or NULL. */
const sts_role_t *sts_role_by_arn(const sts_t *s, const char *arn);
/* Copy of an identity pool (caller frees with sts_idpool_free), or NULL. */
sts_idpool_t *sts_idpool_get(sts_t *s, const char *id);
void sts_idpool_free(sts_idpool_t *p);
/* The stored form of an identity pool (caller json_decref's). */
json_t *sts_idpool_record(const sts_idpool_t *p);
/* Store p (taking ownership) and make it the live version; `create` allows a
 * new id. Returns 0 or a storage error. */
int sts_idpool_store(sts_t *s, sts_idpool_t *p, int create);

/* ---- The APIs (identity.c: Cognito Identity; api.c: STS query API) ---- */

/* The action/resource of a signed request to each API (see sts_request_action). */
int sts_identity_action(const sts_t *s, const http_req_t *req, char *action, size_t actionsz,
                        char *resource, size_t resourcesz);
int sts_api_action(const sts_t *s, const http_req_t *req, char *action, size_t actionsz,
                   char *resource, size_t resourcesz);

/* ---- Policies (policy.c) ----
 *
 * IAM JSON identity policies (role policies, session policies): validated
 * once when loaded, evaluated per request. The calls keep no state, so any
 * thread may call them on a document nobody modifies meanwhile. */

#define STS_POLICY_MAX_DEPTH 8        /* JSON nesting of a document */
#define STS_POLICY_MAX_STATEMENTS 100 /* statements in one document */
#define STS_POLICY_MAX_PATTERN 2048   /* bytes in one pattern or condition value */
#define STS_POLICY_MAX_VALUES 256     /* entries in one Action/Resource list or condition key */

enum { STS_POLICY_NONE = 0, STS_POLICY_ALLOW = 1, STS_POLICY_DENY = 2 };

/* One request as a policy sees it. Every pointer is borrowed for the call.
 * context: extra condition keys and values, e.g. {"s3:prefix": "a/"}, or
 * NULL. Values are strings (numbers and booleans are read as text) or
 * arrays of strings (multi-valued keys). The keys about the caller and the
 * time (aws:username, aws:userid, aws:PrincipalArn, aws:PrincipalAccount,
 * aws:PrincipalType, aws:CurrentTime, aws:EpochTime,
 * cognito-identity.amazonaws.com:sub) always come from caller and now,
 * never from the context; aws:SecureTransport is "false" unless the context
 * sets it. */
typedef struct sts_policy_req {
    /* e.g. "s3:GetObject" (service prefix lowercase; action names compare
     * case-insensitively, as IAM does) */
    const char *action;
    const char *resource;        /* e.g. "arn:aws:s3:::bucket/key" */
    const http_caller_t *caller; /* the verified caller: policy variables come from it */
    int64_t now;                 /* seconds since the epoch: aws:CurrentTime, aws:EpochTime */
    const json_t *context;       /* extra condition keys and values (above); may be NULL */
} sts_policy_req_t;

/* Check that `doc` is a policy document cloudlet can evaluate: an object
 * with optional "Version" ("2012-10-17" or "2008-10-17"), "Id" and
 * "Statement" (one object or an array of them); each statement has "Effect"
 * Allow|Deny, exactly one of Action/NotAction, exactly one of
 * Resource/NotResource (strings or arrays of strings), optional "Sid"
 * string, optional "Condition" with only supported operators; no
 * "Principal"/"NotPrincipal" (identity policies) and no unknown elements.
 * Also refuses nesting deeper than STS_POLICY_MAX_DEPTH, more than
 * STS_POLICY_MAX_STATEMENTS statements, patterns longer than
 * STS_POLICY_MAX_PATTERN, and (Version 2012-10-17) malformed ${...}
 * variables. Returns 0, or -1 with a message in err (may be NULL) that
 * names the statement: "Statement[2]: ..." (index in the array;
 * "Statement" when it is a single object). */
int sts_policy_validate(const json_t *doc, char *err, size_t errsz);

/* Evaluate one policy document for req: STS_POLICY_DENY if any matching
 * statement denies, else STS_POLICY_ALLOW if any matching statement allows,
 * else STS_POLICY_NONE. A document that fails validation evaluates to
 * STS_POLICY_NONE for Allow purposes, but any statement that could be
 * understood as a matching Deny still denies (when in doubt, never allow).
 * A NULL req, action or resource gives STS_POLICY_DENY. Policy variables
 * are substituted only under Version "2012-10-17" (as in IAM, older or
 * absent versions read ${...} literally). */
int sts_policy_eval(const json_t *doc, const sts_policy_req_t *req);

#endif
