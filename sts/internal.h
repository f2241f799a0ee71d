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

struct sts {
    char region[STS_SCOPE_PART_MAX + 1];
    char account_id[32];
    char source[4096]; /* "environment" or the path of root-credentials */
    sts_cred_t root;
    pthread_mutex_t cache_lock; /* sts_verify runs on every server thread */
    uint64_t cache_tick;
    sts_key_slot_t cache[STS_KEY_CACHE_SLOTS];
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

#endif
