/* token.c - signing keys, RS256 JWTs and their strict verification.
 *
 * Every token cloudlet accepts (ID tokens at STS, access tokens at the
 * Cognito API) passes through auth_jwt_verify, so this file is where a
 * forged token must stop. libjwt 1.10 signs our tokens but cannot be
 * trusted with verifying them: it verifies with whatever algorithm the
 * token's header names (so an HS256 token "signed" with the public key PEM as
 * HMAC secret passes) and skips verification when it has no key. So the
 * header is decoded and judged here - exactly RS256, a kid naming one of our
 * keys, nothing that points at another key - and the RS256 signature is
 * checked with OpenSSL against the key the kid names, parsed once at load
 * (libjwt would re-parse its PEM on every call). The claims (exp, iat, iss,
 * token_use, audience) are checked here too; libjwt 1.10 checks none.
 */
#include "auth/internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/util.h"

#define TOKEN_MAX_LEN (16 * 1024) /* refused unread above this (internal.h) */
#define HEADER_MAX_DEPTH 2        /* {"alg":..} is depth 1; anything deeper is not a header */
#define KEY_MIN_BITS 2048
#define KID_HASH_BYTES 16

struct auth_key {
    EVP_PKEY *pkey;
    char kid[32];  /* base64url of 16 bytes: 22 characters */
    char *pub_pem; /* SubjectPublicKeyInfo PEM, what libjwt verifies with */
    size_t pub_pem_len;
    char *priv_pem; /* PKCS#8 PEM, what libjwt signs with; wiped on free */
    size_t priv_pem_len;
    char *n_b64; /* JWK modulus and exponent, base64url */
    char *e_b64;
};

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decode unpadded base64url strictly: no padding, no other characters, and
 * the unused low bits of the last character must be zero, so each byte
 * string has exactly one accepted encoding. Returns a NUL-terminated buffer
 * (caller frees) and its length in *out_len, or NULL. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *out_len)
{
    unsigned char *out;
    unsigned long acc = 0;
    int bits = 0;
    size_t o = 0;

    if (n % 4 == 1)
        return NULL;
    out = xmalloc(n / 4 * 3 + 3);
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0)
            goto err;
        acc = ((acc << 6) | (unsigned long)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if ((acc & ((1ul << bits) - 1)) != 0)
        goto err;
    out[o] = '\0';
    *out_len = o;
    return out;
err:
    free(out);
    return NULL;
}

/* Copy a memory BIO's contents into a NUL-terminated heap string. */
static char *bio_to_string(BIO *bio, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *out;

    if (n <= 0 || data == NULL)
        return NULL;
    out = xmalloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    return out;
}

/* Base64url of a big-endian unsigned BIGNUM parameter of the key. */
static char *bn_param_b64url(const EVP_PKEY *pkey, const char *name)
{
    BIGNUM *bn = NULL;
    unsigned char *bytes = NULL;
    char *out = NULL;
    int n;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
        goto err;
    n = BN_num_bytes(bn);
    if (n <= 0)
        goto err;
    bytes = xmalloc((size_t)n);
    if (BN_bn2bin(bn, bytes) != n)
        goto err;
    out = util_base64url(bytes, (size_t)n);
err:
    free(bytes);
    BN_free(bn);
    return out;
}

/* Never prompt on stdin for a passphrase (OpenSSL's default for encrypted
 * PEM): an encrypted key simply fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

/* Wrap an RSA key (ownership taken) with everything derived from it: kid,
 * both PEMs and the JWK numbers. Returns NULL (and frees pkey) on failure. */
static auth_key_t *key_wrap(EVP_PKEY *pkey)
{
    auth_key_t *k = xcalloc(1, sizeof *k);
    BIO *bio = NULL;
    unsigned char *der = NULL;
    unsigned char digest[32];
    char *kid = NULL;
    int der_len;

    k->pkey = pkey;

    der_len = i2d_PUBKEY(pkey, &der);
    if (der_len <= 0)
        goto err;
    if (EVP_Digest(der, (size_t)der_len, digest, NULL, EVP_sha256(), NULL) != 1)
        goto err;
    kid = util_base64url(digest, KID_HASH_BYTES);
    if (strlen(kid) >= sizeof k->kid)
        goto err;
    strcpy(k->kid, kid);

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1)
        goto err;
    k->pub_pem = bio_to_string(bio, &k->pub_pem_len);
    BIO_free(bio);
    bio = NULL;

    /* A mem BIO's buffer is freed with OPENSSL_clear_free, so the private
     * PEM leaves no copy behind there. */
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1)
        goto err;
    k->priv_pem = bio_to_string(bio, &k->priv_pem_len);
    BIO_free(bio);
    bio = NULL;

    k->n_b64 = bn_param_b64url(pkey, OSSL_PKEY_PARAM_RSA_N);
    k->e_b64 = bn_param_b64url(pkey, OSSL_PKEY_PARAM_RSA_E);
    if (k->pub_pem == NULL || k->priv_pem == NULL || k->n_b64 == NULL || k->e_b64 == NULL)
        goto err;
    if (k->pub_pem_len > INT_MAX || k->priv_pem_len > INT_MAX)
        goto err;

    free(kid);
    OPENSSL_free(der);
    return k;
err:
    BIO_free(bio);
    free(kid);
    OPENSSL_free(der);
    auth_key_free(k);
    return NULL;
}

auth_key_t *auth_key_generate(void)
{
    EVP_PKEY *pkey = EVP_RSA_gen(KEY_MIN_BITS);
    auth_key_t *k;

    if (pkey == NULL) {
        fprintf(stderr, "cloudlet: RSA key generation failed\n");
        abort();
    }
    k = key_wrap(pkey);
    if (k == NULL) {
        fprintf(stderr, "cloudlet: cannot export a generated RSA key\n");
        abort();
    }
    return k;
}

auth_key_t *auth_key_from_pem(const char *pem, size_t len)
{
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;

    if (pem == NULL || len == 0 || len > INT_MAX)
        return NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return NULL;
    pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (pkey == NULL)
        return NULL;
    /* Only a real RSA key of signing strength: not RSA-PSS, not EC, not a
     * toy key that someone dropped into the data directory. */
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pkey) < KEY_MIN_BITS) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return key_wrap(pkey);
}

char *auth_key_private_pem(const auth_key_t *k, size_t *len)
{
    char *out = xmalloc(k->priv_pem_len + 1);

    memcpy(out, k->priv_pem, k->priv_pem_len + 1);
    if (len != NULL)
        *len = k->priv_pem_len;
    return out;
}

const char *auth_key_kid(const auth_key_t *k)
{
    return k->kid;
}

void auth_key_jwk(const auth_key_t *k, json_t *keys)
{
    json_t *jwk = json_object();

    json_object_set_new(jwk, "alg", json_string("RS256"));
    json_object_set_new(jwk, "e", json_string(k->e_b64));
    json_object_set_new(jwk, "kid", json_string(k->kid));
    json_object_set_new(jwk, "kty", json_string("RSA"));
    json_object_set_new(jwk, "n", json_string(k->n_b64));
    json_object_set_new(jwk, "use", json_string("sig"));
    json_array_append_new(keys, jwk);
}

void auth_key_free(auth_key_t *k)
{
    if (k == NULL)
        return;
    if (k->priv_pem != NULL) {
        OPENSSL_cleanse(k->priv_pem, k->priv_pem_len);
        free(k->priv_pem);
    }
    free(k->pub_pem);
    free(k->n_b64);
    free(k->e_b64);
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

char *auth_jwt_sign(const auth_key_t *k, const json_t *claims)
{
    jwt_t *jwt = NULL;
    char *claims_json = NULL;
    char *token = NULL;

    if (k == NULL || !json_is_object(claims))
        return NULL;
    claims_json = json_dumps(claims, JSON_COMPACT);
    if (claims_json == NULL)
        goto err;
    if (jwt_new(&jwt) != 0)
        goto err;
    /* libjwt copies the key and scrubs its copy in jwt_free. */
    if (jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)k->priv_pem, (int)k->priv_pem_len) !=
        0)
        goto err;
    if (jwt_add_grants_json(jwt, claims_json) != 0)
        goto err;
    if (jwt_add_header(jwt, "kid", k->kid) != 0)
        goto err;
    token = jwt_encode_str(jwt);
err:
    jwt_free(jwt);
    free(claims_json);
    return token;
}

/* Whether claim `name` of obj is a string exactly equal to want (length
 * included, so an embedded NUL cannot shorten the comparison). */
static int claim_is(const json_t *obj, const char *name, const char *want)
{
    const json_t *v = json_object_get(obj, name);
    size_t n = strlen(want);

    return json_is_string(v) && json_string_length(v) == n &&
           memcmp(json_string_value(v), want, n) == 0;
}

static int refuse(char *why, size_t whysz, const char *reason)
{
    if (why != NULL && whysz > 0)
        snprintf(why, whysz, "%s", reason);
    return -1;
}

/* Deepest [ / { nesting of a JSON text, counting only outside strings, so a
 * hostile header cannot make the parser recurse. Stops counting past limit. */
static int json_depth_exceeds(const unsigned char *s, size_t n, int limit)
{
    int depth = 0;
    int in_string = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
            if (depth > limit)
                return 1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

/* Judge the decoded header and pick the key its kid names. Returns the key,
 * or NULL with *reason set. */
static const auth_key_t *header_key(const unsigned char *hdr, size_t hdr_len,
                                    const auth_key_t *const *keys, size_t nkeys,
                                    const char **reason)
{
    /* Members that ask the verifier to fetch, trust or understand something
     * beyond our own key list. */
    static const char *const forbidden[] = {"crit", "jku", "jwk", "x5u", "x5c"};
    json_t *h = NULL;
    const auth_key_t *found = NULL;

    *reason = "malformed header";
    /* libjwt parses the header as a C string: an embedded NUL would make it
     * read less than we judged. */
    if (memchr(hdr, '\0', hdr_len) != NULL)
        goto err;
    if (json_depth_exceeds(hdr, hdr_len, HEADER_MAX_DEPTH))
        goto err;
    /* Duplicate members are refused so that "alg" means one thing to us and
     * to libjwt, whichever of two copies either would keep. */
    h = json_loadb((const char *)hdr, hdr_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(h))
        goto err;

    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        if (json_object_get(h, forbidden[i]) != NULL) {
            *reason = "forbidden header member";
            goto err;
        }
    }
    if (!claim_is(h, "alg", "RS256")) {
        *reason = "alg is not RS256";
        goto err;
    }
    if (!json_is_string(json_object_get(h, "kid"))) {
        *reason = "no kid";
        goto err;
    }
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i] != NULL && claim_is(h, "kid", keys[i]->kid)) {
            found = keys[i];
            break;
        }
    }
    if (found == NULL)
        *reason = "unknown kid";
err:
    json_decref(h);
    return found;
}

/* Check the RS256 signature of the compact token (its first len bytes)
 * with k's parsed public key. Returns 1 if it verifies. */
static int rs256_verify(const auth_key_t *k, const char *token, size_t len, const char **reason)
{
    const char *dot2 = memchr(token, '.', len);
    dot2 = dot2 ? memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) : NULL;
    size_t sig_len = 0;
    unsigned char *sig = dot2 ? b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &sig_len)
                              : NULL;
    int ok = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (sig != NULL && md != NULL &&
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
        EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)token,
                         (size_t)(dot2 - token)) == 1)
        ok = 1;
    EVP_MD_CTX_free(md);
    free(sig);
    if (!ok)
        *reason = "bad signature or payload";
    return ok;
}

int auth_jwt_verify(const char *token, const auth_key_t *const *keys, size_t nkeys,
                    const auth_jwt_expect_t *expect, json_t **claims_out, char *why, size_t whysz)
{
    const char *reason = "invalid token";
    const auth_key_t *key;
    unsigned char *hdr = NULL;
    size_t hdr_len = 0;
    json_t *claims = NULL;
    json_t *v;
    size_t len, dots = 0, seg_start = 0;
    size_t first_dot = 0;

    if (claims_out != NULL)
        *claims_out = NULL;
    if (token == NULL || expect == NULL || expect->issuer == NULL || expect->token_use == NULL)
        goto err;

    len = strnlen(token, TOKEN_MAX_LEN + 1);
    if (len > TOKEN_MAX_LEN) {
        reason = "token too long";
        goto err;
    }

    /* Shape: three non-empty base64url segments. */
    reason = "malformed token";
    for (size_t i = 0; i <= len; i++) {
        if (i == len || token[i] == '.') {
            if (i == seg_start)
                goto err;
            if (i < len) {
                dots++;
                if (dots > 2)
                    goto err;
                if (dots == 1)
                    first_dot = i;
            }
            seg_start = i + 1;
        } else if (b64url_value((unsigned char)token[i]) < 0) {
            goto err;
        }
    }
    if (dots != 2)
        goto err;

    hdr = b64url_decode(token, first_dot, &hdr_len);
    if (hdr == NULL)
        goto err;
    key = header_key(hdr, hdr_len, keys, nkeys, &reason);
    if (key == NULL)
        goto err;

    /* The signature is checked with the key the kid named, parsed once when
     * the key was loaded: libjwt 1.10 would re-parse the PEM on every call,
     * which was three quarters of GetUser's time (bench/results/auth.md).
     * RS256 is the only algorithm there is to check: the header said so. */
    if (!rs256_verify(key, token, len, &reason))
        goto err;

    reason = "malformed claims";
    {
        const char *payload = token + first_dot + 1;
        const char *dot2 = strchr(payload, '.');
        size_t plen = 0;
        unsigned char *pl = b64url_decode(payload, (size_t)(dot2 - payload), &plen);
        if (pl == NULL)
            goto err;
        claims = json_loadb((const char *)pl, plen, JSON_REJECT_DUPLICATES, NULL);
        free(pl);
    }
    if (!json_is_object(claims))
        goto err;

    /* Written as now - leeway < exp rather than now < exp + leeway so a
     * hostile exp near INT64_MAX cannot overflow. */
    v = json_object_get(claims, "exp");
    if (!json_is_integer(v)) {
        reason = "exp missing or not an integer";
        goto err;
    }
    if (!(expect->now - expect->leeway < (int64_t)json_integer_value(v))) {
        reason = "expired";
        goto err;
    }
    v = json_object_get(claims, "iat");
    if (!json_is_integer(v)) {
        reason = "iat missing or not an integer";
        goto err;
    }
    if ((int64_t)json_integer_value(v) > expect->now + expect->leeway) {
        reason = "issued in the future";
        goto err;
    }
    if (!claim_is(claims, "iss", expect->issuer)) {
        reason = "wrong issuer";
        goto err;
    }
    if (!claim_is(claims, "token_use", expect->token_use)) {
        reason = "wrong token_use";
        goto err;
    }
    if (expect->client_id != NULL) {
        int is_id = strcmp(expect->token_use, "id") == 0;
        if (!claim_is(claims, is_id ? "aud" : "client_id", expect->client_id)) {
            reason = is_id ? "wrong aud" : "wrong client_id";
            goto err;
        }
    }

    if (claims_out != NULL)
        *claims_out = claims;
    else
        json_decref(claims);
    free(hdr);
    return 0;
err:
    json_decref(claims);
    free(hdr);
    return refuse(why, whysz, reason);
}
