/* internal.h - declarations shared by the .c files of auth/; other modules
 * include only auth/auth.h.
 *
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

#endif
