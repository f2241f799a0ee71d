/* test_auth_token.c - unit tests for auth/token.c: signing keys, RS256 JWTs,
 * the JWK, and above all the strict verifier.
 *
 * Most tests here are forgeries built by hand (base64url header and payload
 * plus a signature computed with OpenSSL), because the verifier's job is to
 * refuse what an attacker can make, and libjwt 1.10 on its own accepts some of
 * it (see DESIGN.md). Each refusal is paired with a token made the same way
 * but valid, which must be accepted: that proves the forgery helper builds
 * real tokens, so a refusal means the check worked rather than the test token
 * being broken by accident.
 *
 * RSA key generation is slow, so the keys are made once in the group setup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/internal.h"
#include "common/util.h"

#define NOW ((int64_t)1754384587) /* Tue Aug 5 09:03:07 UTC 2025 */
#define LEEWAY ((int64_t)60)
#define ISS "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123"
#define CLIENT "5k1c2l3i4e5n6t7i8d9abcdefg"
#define WHYSZ 128

/* The two signing keys of the group, as token.c holds them and as an
 * attacker who had stolen them (or, for pub_pem, merely read the JWKS) would. */
typedef struct keys {
    auth_key_t *a, *b;
    EVP_PKEY *pa, *pb; /* the same private keys, loaded independently */
    char *pub_pem_a;   /* A's SubjectPublicKeyInfo PEM: public knowledge */
} keys_t;

static keys_t *K;

/* ---- helpers ---- */

static char *b64url(const void *p, size_t n)
{
    char *std = xmalloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)std, p, (int)n);
    size_t o = 0;

    for (int i = 0; i < len; i++) {
        if (std[i] == '=')
            break;
        std[o++] = std[i] == '+' ? '-' : std[i] == '/' ? '_' : std[i];
    }
    std[o] = '\0';
    return std;
}

static char *b64url_str(const char *s)
{
    return b64url(s, strlen(s));
}

/* Decode base64url (unpadded); returns length or -1. */
static int unb64url(const char *s, unsigned char *out, size_t outsz)
{
    size_t n = strlen(s);
    char *std = xmalloc(n + 4);
    unsigned char *tmp = xmalloc(n + 4);
    int len;

    for (size_t i = 0; i < n; i++)
        std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (n % 4 != 0)
        std[n++] = '=';
    std[n] = '\0';
    len = EVP_DecodeBlock(tmp, (unsigned char *)std, (int)n);
    if (len >= 0) {
        /* EVP_DecodeBlock counts the padding bytes as zeros. */
        for (size_t i = n; i > 0 && std[i - 1] == '='; i--)
            len--;
        if ((size_t)len > outsz)
            len = -1;
        else
            memcpy(out, tmp, (size_t)len);
    }
    free(std);
    free(tmp);
    return len;
}

static EVP_PKEY *load_private(const auth_key_t *k)
{
    size_t len;
    char *pem = auth_key_private_pem(k, &len);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *p = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

    BIO_free(bio);
    OPENSSL_cleanse(pem, len);
    free(pem);
    assert_non_null(p);
    return p;
}

static char *public_pem(EVP_PKEY *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;
    char *out;

    assert_int_equal(PEM_write_bio_PUBKEY(bio, p), 1);
    n = BIO_get_mem_data(bio, &data);
    out = xstrndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

/* header.payload from two JSON texts. */
static char *signing_input(const char *header, const char *payload)
{
    char *h = b64url_str(header);
    char *p = b64url_str(payload);
    char *out = xasprintf("%s.%s", h, p);

    free(h);
    free(p);
    return out;
}

/* A token with an RSA PKCS#1 v1.5 signature over header.payload. */
static char *forge_rsa(EVP_PKEY *key, const EVP_MD *md, const char *header, const char *payload)
{
    char *input = signing_input(header, payload);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    char *s64, *out;

    assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    s64 = b64url(sig, siglen);
    out = xasprintf("%s.%s", input, s64);
    free(s64);
    free(input);
    return out;
}

static char *forge_rs256(EVP_PKEY *key, const char *header, const char *payload)
{
    return forge_rsa(key, EVP_sha256(), header, payload);
}

/* A token with an HMAC-SHA256 signature under `secret`. */
static char *forge_hs256(const char *secret, size_t secret_len, const char *header,
                         const char *payload)
{
    char *input = signing_input(header, payload);
    unsigned char mac[32];
    unsigned int maclen = sizeof mac;
    char *s64, *out;

    assert_non_null(HMAC(EVP_sha256(), secret, (int)secret_len, (unsigned char *)input,
                         strlen(input), mac, &maclen));
    s64 = b64url(mac, maclen);
    out = xasprintf("%s.%s", input, s64);
    free(s64);
    free(input);
    return out;
}

/* Claims of a valid ID or access token at NOW; caller json_decref's. */
static json_t *claims_for(const char *use)
{
    json_t *c = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s}", "sub", "8b5e1a2c-0000-4000-8000-000000000001",
        "iss", ISS, "iat", (json_int_t)(NOW - 10), "exp", (json_int_t)(NOW + 3600), "auth_time",
        (json_int_t)(NOW - 10), "token_use", use, "jti", "11111111-2222-4333-8444-555555555555",
        "origin_jti", "66666666-7777-4888-8999-aaaaaaaaaaaa");
    assert_non_null(c);
    if (strcmp(use, "id") == 0) {
        json_object_set_new(c, "aud", json_string(CLIENT));
        json_object_set_new(c, "cognito:username", json_string("alice"));
        json_object_set_new(c, "email", json_string("alice@example.com"));
        json_object_set_new(c, "email_verified", json_true());
    } else {
        json_object_set_new(c, "client_id", json_string(CLIENT));
        json_object_set_new(c, "username", json_string("alice"));
        json_object_set_new(c, "scope", json_string("aws.cognito.signin.user.admin"));
    }
    json_object_set_new(c, "cognito:groups", json_pack("[s,s]", "admins", "users"));
    return c;
}

static char *dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(s);
    return s;
}

/* Header {"alg":alg,"kid":kid} as JSON text; kid NULL leaves it out. */
static char *header_for(const char *alg, const char *kid)
{
    json_t *h = json_pack("{s:s}", "alg", alg);
    char *s;

    if (kid != NULL)
        json_object_set_new(h, "kid", json_string(kid));
    s = dump(h);
    json_decref(h);
    return s;
}

static auth_jwt_expect_t expect_for(const char *use)
{
    auth_jwt_expect_t e = {
        .issuer = ISS, .token_use = use, .client_id = CLIENT, .now = NOW, .leeway = LEEWAY};
    return e;
}

static int verify_ab(const char *token, const auth_jwt_expect_t *e, json_t **claims, char *why)
{
    const auth_key_t *keys[2] = {K->a, K->b};
    return auth_jwt_verify(token, keys, 2, e, claims, why, WHYSZ);
}

/* The token must be accepted as `use`. */
static void accepted(const char *token, const char *use)
{
    auth_jwt_expect_t e = expect_for(use);
    char why[WHYSZ] = "";
    json_t *claims = NULL;

    if (verify_ab(token, &e, &claims, why) != 0)
        fail_msg("valid token refused: %s", why);
    assert_true(json_is_object(claims));
    json_decref(claims);
}

/* The token must be refused, with a reason containing `reason`, leaving no
 * claims behind and never echoing the token. */
static void refused_e(const char *token, const auth_jwt_expect_t *e, const char *reason)
{
    char why[WHYSZ] = "";
    json_t *claims = (json_t *)1;

    assert_int_equal(verify_ab(token, e, &claims, why), -1);
    assert_null(claims);
    assert_true(why[0] != '\0');
    if (reason != NULL && strstr(why, reason) == NULL)
        fail_msg("refused for \"%s\", expected \"%s\"", why, reason);
    if (strlen(token) >= 8)
        assert_null(strstr(why, token));
}

static void refused(const char *token, const char *use, const char *reason)
{
    auth_jwt_expect_t e = expect_for(use);
    refused_e(token, &e, reason);
}

/* Sign `claims` by hand with the standard header of key A. */
static char *forge_claims(const json_t *claims)
{
    char *h = header_for("RS256", auth_key_kid(K->a));
    char *p = dump(claims);
    char *t = forge_rs256(K->pa, h, p);

    free(h);
    free(p);
    return t;
}

/* ---- group setup ---- */

static int group_setup(void **state)
{
    K = xcalloc(1, sizeof *K);
    K->a = auth_key_generate();
    K->b = auth_key_generate();
    K->pa = load_private(K->a);
    K->pb = load_private(K->b);
    K->pub_pem_a = public_pem(K->pa);
    return 0;
}

static int group_teardown(void **state)
{
    auth_key_free(K->a);
    auth_key_free(K->b);
    EVP_PKEY_free(K->pa);
    EVP_PKEY_free(K->pb);
    free(K->pub_pem_a);
    free(K);
    K = NULL;
    return 0;
}

/* ---- keys, JWK, signing ---- */

static void test_sign_verify_roundtrip(void **state)
{
    json_t *in = claims_for("id");
    char *token = auth_jwt_sign(K->a, in);
    auth_jwt_expect_t e = expect_for("id");
    json_t *out = NULL;
    char why[WHYSZ] = "";
    char *dot;
    unsigned char hdr[256];
    int hlen;
    json_t *h;

    assert_non_null(token);
    assert_int_equal(verify_ab(token, &e, &out, why), 0);
    /* Every claim comes back unchanged, nested ones included. */
    assert_true(json_equal(in, out));
    json_decref(out);

    /* The header is what wire doc 2.5 describes. */
    dot = strchr(token, '.');
    assert_non_null(dot);
    *dot = '\0';
    hlen = unb64url(token, hdr, sizeof hdr - 1);
    *dot = '.';
    assert_true(hlen > 0);
    hdr[hlen] = '\0';
    h = json_loads((char *)hdr, 0, NULL);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), auth_key_kid(K->a));
    /* libjwt 1.10 always adds "typ":"JWT" when signing; nothing else. */
    if (json_object_get(h, "typ") != NULL) {
        assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
        assert_int_equal(json_object_size(h), 3);
    } else {
        assert_int_equal(json_object_size(h), 2);
    }
    json_decref(h);

    /* Key B's tokens verify too, and only the expected client's. */
    free(token);
    token = auth_jwt_sign(K->b, in);
    assert_non_null(token);
    accepted(token, "id");
    /* claims_out may be NULL; why may be NULL. */
    {
        const auth_key_t *keys[1] = {K->b};
        assert_int_equal(auth_jwt_verify(token, keys, 1, &e, NULL, NULL, 0), 0);
        /* With only key A on offer, B's token has an unknown kid. */
        keys[0] = K->a;
        assert_int_equal(auth_jwt_verify(token, keys, 1, &e, NULL, NULL, 0), -1);
        assert_int_equal(auth_jwt_verify(token, keys, 0, &e, NULL, why, sizeof why), -1);
    }
    free(token);
    json_decref(in);

    /* Access tokens too. */
    in = claims_for("access");
    token = auth_jwt_sign(K->a, in);
    accepted(token, "access");
    free(token);
    json_decref(in);

    /* Only an object can be signed. */
    in = json_array();
    assert_null(auth_jwt_sign(K->a, in));
    json_decref(in);
}

static void test_kid_and_jwk(void **state)
{
    const char *kid = auth_key_kid(K->a);
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(K->pa, &der);
    unsigned char digest[32];
    char *want_kid;
    json_t *keys = json_array();
    json_t *jwk;
    unsigned char n[600];
    int nlen;
    BIGNUM *bn = NULL;
    unsigned char modulus[256];

    /* kid = base64url(SHA-256(DER SPKI)[0..16]) */
    assert_true(der_len > 0);
    assert_int_equal(EVP_Digest(der, (size_t)der_len, digest, NULL, EVP_sha256(), NULL), 1);
    OPENSSL_free(der);
    want_kid = b64url(digest, 16);
    assert_string_equal(kid, want_kid);
    assert_int_equal(strlen(kid), 22);
    free(want_kid);
    assert_string_not_equal(kid, auth_key_kid(K->b));

    auth_key_jwk(K->a, keys);
    auth_key_jwk(K->b, keys);
    assert_int_equal(json_array_size(keys), 2);
    jwk = json_array_get(keys, 0);
    assert_int_equal(json_object_size(jwk), 6);
    assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "RSA");
    assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
    assert_string_equal(json_string_value(json_object_get(jwk, "e")), "AQAB");
    assert_string_equal(json_string_value(json_object_get(jwk, "kid")), kid);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys, 1), "kid")),
                        auth_key_kid(K->b));

    /* n: unpadded base64url of exactly the 256-byte big-endian modulus. */
    const char *n64 = json_string_value(json_object_get(jwk, "n"));
    assert_non_null(n64);
    assert_null(strchr(n64, '='));
    assert_null(strchr(n64, '+'));
    assert_null(strchr(n64, '/'));
    nlen = unb64url(n64, n, sizeof n);
    assert_int_equal(nlen, 256);
    assert_true(n[0] & 0x80);
    assert_int_equal(EVP_PKEY_get_bn_param(K->pa, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
    assert_int_equal(BN_bn2binpad(bn, modulus, sizeof modulus), 256);
    assert_memory_equal(n, modulus, 256);
    BN_free(bn);
    json_decref(keys);
}

static void test_pem_roundtrip(void **state)
{
    size_t len = 0;
    char *pem = auth_key_private_pem(K->a, &len);
    json_t *c = claims_for("id");
    char *before = auth_jwt_sign(K->a, c);
    auth_key_t *again;
    char *after;
    auth_jwt_expect_t e = expect_for("id");
    json_t *keys = json_array();

    assert_int_equal(strlen(pem), len);
    assert_true(strncmp(pem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
    again = auth_key_from_pem(pem, len);
    assert_non_null(again);
    assert_string_equal(auth_key_kid(again), auth_key_kid(K->a));

    /* Same JWK. */
    auth_key_jwk(K->a, keys);
    auth_key_jwk(again, keys);
    assert_true(json_equal(json_array_get(keys, 0), json_array_get(keys, 1)));
    json_decref(keys);

    /* A token signed before the export verifies with the imported key, and
     * one signed by the imported key verifies with the original. */
    {
        const auth_key_t *only_again[1] = {again};
        const auth_key_t *only_a[1] = {K->a};
        after = auth_jwt_sign(again, c);
        assert_non_null(after);
        assert_int_equal(auth_jwt_verify(before, only_again, 1, &e, NULL, NULL, 0), 0);
        assert_int_equal(auth_jwt_verify(after, only_a, 1, &e, NULL, NULL, 0), 0);
    }

    /* The length is honoured: a PEM without its NUL, or with trailing junk
     * beyond len, still loads. */
    {
        char *copy = xmalloc(len + 8);
        memcpy(copy, pem, len);
        memcpy(copy + len, "garbage", 8);
        auth_key_t *k2 = auth_key_from_pem(copy, len);
        assert_non_null(k2);
        assert_string_equal(auth_key_kid(k2), auth_key_kid(K->a));
        auth_key_free(k2);
        /* Truncated: not a key. */
        assert_null(auth_key_from_pem(copy, len / 2));
        OPENSSL_cleanse(copy, len + 8);
        free(copy);
    }

    OPENSSL_cleanse(pem, len);
    free(pem);
    free(before);
    free(after);
    auth_key_free(again);
    auth_key_free(NULL);
    json_decref(c);
}

/* Keys that are not an RSA private key of signing strength are refused. */
static void test_pem_refused(void **state)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    EVP_PKEY *small = EVP_RSA_gen(1024);
    BIO *bio;
    char *data;
    long n;

    assert_null(auth_key_from_pem("", 0));
    assert_null(auth_key_from_pem(NULL, 10));
    assert_null(auth_key_from_pem("not a pem", 9));
    /* The public key is not a private key. */
    assert_null(auth_key_from_pem(K->pub_pem_a, strlen(K->pub_pem_a)));

    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    assert_null(auth_key_from_pem(data, (size_t)n));
    BIO_free(bio);

    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, small, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    assert_null(auth_key_from_pem(data, (size_t)n));
    BIO_free(bio);

    /* An encrypted key fails instead of prompting for a passphrase on stdin. */
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, K->pa, EVP_aes_256_cbc(), NULL, 0, NULL,
                                                   (void *)"secret"),
                     1);
    n = BIO_get_mem_data(bio, &data);
    assert_null(auth_key_from_pem(data, (size_t)n));
    BIO_free(bio);

    EVP_PKEY_free(ec);
    EVP_PKEY_free(small);
}

/* ---- forgeries ---- */

/* alg "none": libjwt 1.10 would skip the signature. */
static void test_alg_none(void **state)
{
    json_t *c = claims_for("id");
    char *p = dump(c);
    char *h = header_for("none", auth_key_kid(K->a));
    char *input = signing_input(h, p);
    char *unsigned_tok = xasprintf("%s.", input);
    char *junk_sig = xasprintf("%s.AAAA", input);
    char *good = forge_claims(c);
    char *h2 = header_for("None", auth_key_kid(K->a));
    char *none2 = forge_rs256(K->pa, h2, p);

    accepted(good, "id");
    refused(unsigned_tok, "id", "malformed token");
    refused(junk_sig, "id", "alg is not RS256");
    /* Even with a real RSA signature, the header must say RS256. */
    refused(none2, "id", "alg is not RS256");

    free(p);
    free(h);
    free(h2);
    free(input);
    free(unsigned_tok);
    free(junk_sig);
    free(good);
    free(none2);
    json_decref(c);
}

/* HS256 keyed with the public PEM: the classic confusion that libjwt 1.10
 * falls for, since it verifies with whatever alg the header names. */
static void test_hs256_public_key_confusion(void **state)
{
    json_t *c = claims_for("id");
    char *p = dump(c);
    char *h = header_for("HS256", auth_key_kid(K->a));
    char *forged = forge_hs256(K->pub_pem_a, strlen(K->pub_pem_a), h, p);
    char *h_nokid = header_for("HS256", NULL);
    char *forged_nokid = forge_hs256(K->pub_pem_a, strlen(K->pub_pem_a), h_nokid, p);
    char *h_rs = header_for("RS256", auth_key_kid(K->a));
    char *forged_rs = forge_hs256(K->pub_pem_a, strlen(K->pub_pem_a), h_rs, p);
    char *good = forge_rs256(K->pa, h_rs, p);
    jwt_t *raw = NULL;

    /* The forgery is a real attack: libjwt alone, handed the public key the
     * way a naive wrapper would, accepts it. (If a libjwt upgrade makes this
     * fail, the library closed the hole; the refusals below still matter.) */
    assert_int_equal(
        jwt_decode(&raw, forged, (const unsigned char *)K->pub_pem_a, (int)strlen(K->pub_pem_a)),
        0);
    assert_int_equal(jwt_get_alg(raw), JWT_ALG_HS256);
    jwt_free(raw);

    accepted(good, "id");
    refused(forged, "id", "alg is not RS256");
    refused(forged_nokid, "id", "alg is not RS256");
    /* An HMAC under an RS256 header is just a bad signature. */
    refused(forged_rs, "id", "bad signature");

    free(p);
    free(h);
    free(h_nokid);
    free(h_rs);
    free(forged);
    free(forged_nokid);
    free(forged_rs);
    free(good);
    json_decref(c);
}

/* Other RSA algorithms with a real signature by our key: still refused. */
static void test_other_algs(void **state)
{
    json_t *c = claims_for("id");
    char *p = dump(c);
    char *h = header_for("RS512", auth_key_kid(K->a));
    char *rs512 = forge_rsa(K->pa, EVP_sha512(), h, p);
    char *h_lower = header_for("rs256", auth_key_kid(K->a));
    char *lower = forge_rs256(K->pa, h_lower, p);
    char *h_sp = header_for("RS256 ", auth_key_kid(K->a));
    char *sp = forge_rs256(K->pa, h_sp, p);
    char *arr_h = xasprintf("{\"alg\":[\"RS256\"],\"kid\":\"%s\"}", auth_key_kid(K->a));
    char *arr = forge_rs256(K->pa, arr_h, p);
    char *good = forge_claims(c);

    accepted(good, "id");
    refused(rs512, "id", "alg is not RS256");
    refused(lower, "id", "alg is not RS256");
    refused(sp, "id", "alg is not RS256");
    refused(arr, "id", "alg is not RS256");

    free(p);
    free(h);
    free(h_lower);
    free(h_sp);
    free(arr_h);
    free(rs512);
    free(lower);
    free(sp);
    free(arr);
    free(good);
    json_decref(c);
}

static void test_unknown_kid(void **state)
{
    json_t *c = claims_for("id");
    char *p = dump(c);
    char *h = header_for("RS256", "AAAAAAAAAAAAAAAAAAAAAA");
    char *t = forge_rs256(K->pa, h, p);
    /* A kid that starts like ours is still another kid. */
    char *prefix = xstrndup(auth_key_kid(K->a), 10);
    char *h2 = header_for("RS256", prefix);
    char *t2 = forge_rs256(K->pa, h2, p);
    char *h3 = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\\u0000\"}", auth_key_kid(K->a));
    char *t3 = forge_rs256(K->pa, h3, p);
    char *h4 = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%sx\"}", auth_key_kid(K->a));
    char *t4 = forge_rs256(K->pa, h4, p);
    char *good = forge_claims(c);

    accepted(good, "id");
    refused(t, "id", "unknown kid");
    refused(t2, "id", "unknown kid");
    refused(t3, "id", NULL);
    refused(t4, "id", "unknown kid");

    free(p);
    free(h);
    free(t);
    free(prefix);
    free(h2);
    free(t2);
    free(h3);
    free(t3);
    free(h4);
    free(t4);
    free(good);
    json_decref(c);
}

static void test_no_kid(void **state)
{
    json_t *c = claims_for("id");
    char *p = dump(c);
    char *h = header_for("RS256", NULL);
    char *t = forge_rs256(K->pa, h, p);
    char *h2 = xasprintf("{\"alg\":\"RS256\",\"kid\":42}");
    char *t2 = forge_rs256(K->pa, h2, p);
    char *h3 = xasprintf("{\"alg\":\"RS256\",\"kid\":null}");
    char *t3 = forge_rs256(K->pa, h3, p);
    char *good = forge_claims(c);

    accepted(good, "id");
    refused(t, "id", "no kid");
    refused(t2, "id", "no kid");
    refused(t3, "id", "no kid");

    free(p);
    free(h);
    free(t);
    free(h2);
    free(t2);
    free(h3);
    free(t3);
    free(good);
    json_decref(c);
}

/* A's kid, B's signature: the verifier must use the key the kid names, not
 * any key that happens to verify. */
static void test_kid_of_a_signed_by_b(void **state)
{
    json_t *c = claims_for("id");
    char *p = dump(c);
    char *ha = header_for("RS256", auth_key_kid(K->a));
    char *hb = header_for("RS256", auth_key_kid(K->b));
    char *mixed = forge_rs256(K->pb, ha, p);
    char *good_b = forge_rs256(K->pb, hb, p);
    char *good_a = forge_rs256(K->pa, ha, p);

    accepted(good_a, "id");
    accepted(good_b, "id");
    refused(mixed, "id", "bad signature");

    free(p);
    free(ha);
    free(hb);
    free(mixed);
    free(good_b);
    free(good_a);
    json_decref(c);
}

/* Replace the payload (or header) segment of a token, keeping the rest. */
static char *swap_segment(const char *token, int which, const char *json)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = strchr(d1 + 1, '.');
    char *seg = b64url_str(json);
    char *out;

    if (which == 0)
        out = xasprintf("%s%s", seg, d1);
    else
        out = xasprintf("%.*s.%s%s", (int)(d1 - token), token, seg, d2);
    free(seg);
    return out;
}

static void test_tampered(void **state)
{
    json_t *c = claims_for("id");
    char *token = auth_jwt_sign(K->a, c);
    char *p, *tampered, *tampered_hdr, *h, *flipped;
    size_t len;

    accepted(token, "id");

    /* Flip a claim, keep the signature. */
    json_object_set_new(c, "cognito:username", json_string("admin"));
    p = dump(c);
    tampered = swap_segment(token, 1, p);
    refused(tampered, "id", "bad signature");

    /* Change the header (still acceptable on its own), keep the signature. */
    h = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"jwt\"}", auth_key_kid(K->a));
    tampered_hdr = swap_segment(token, 0, h);
    refused(tampered_hdr, "id", "bad signature");

    /* Flip one bit of the signature. */
    flipped = xstrdup(token);
    len = strlen(flipped);
    flipped[len - 5] = flipped[len - 5] == 'A' ? 'B' : 'A';
    refused(flipped, "id", "bad signature");

    /* Drop the signature's last character. */
    flipped[len - 1] = '\0';
    refused(flipped, "id", NULL);

    free(token);
    free(p);
    free(h);
    free(tampered);
    free(tampered_hdr);
    free(flipped);
    json_decref(c);
}

static void test_expired(void **state)
{
    json_t *c = claims_for("access");
    char *t;

    /* now < exp + leeway: the last accepted second and the first refused. */
    json_object_set_new(c, "exp", json_integer(NOW - LEEWAY + 1));
    t = forge_claims(c);
    accepted(t, "access");
    free(t);
    json_object_set_new(c, "exp", json_integer(NOW - LEEWAY));
    t = forge_claims(c);
    refused(t, "access", "expired");
    free(t);
    json_object_set_new(c, "exp", json_integer(NOW - 86400));
    t = forge_claims(c);
    refused(t, "access", "expired");
    free(t);

    /* exp must be an integer. */
    json_object_set_new(c, "exp", json_string("9999999999"));
    t = forge_claims(c);
    refused(t, "access", "exp missing or not an integer");
    free(t);
    json_object_set_new(c, "exp", json_real(9999999999.0));
    t = forge_claims(c);
    refused(t, "access", "exp missing or not an integer");
    free(t);
    json_object_del(c, "exp");
    t = forge_claims(c);
    refused(t, "access", "exp missing or not an integer");
    free(t);

    /* A huge exp is far future, not an overflow into the past (run under
     * ubsan this also proves the arithmetic does not overflow). */
    json_object_set_new(c, "exp", json_integer(INT64_MAX));
    t = forge_claims(c);
    accepted(t, "access");
    free(t);
    json_decref(c);
}

static void test_iat_in_future(void **state)
{
    json_t *c = claims_for("id");
    char *t;

    json_object_set_new(c, "iat", json_integer(NOW + LEEWAY));
    t = forge_claims(c);
    accepted(t, "id");
    free(t);
    json_object_set_new(c, "iat", json_integer(NOW + LEEWAY + 1));
    t = forge_claims(c);
    refused(t, "id", "future");
    free(t);
    json_object_set_new(c, "iat", json_string("0"));
    t = forge_claims(c);
    refused(t, "id", "iat missing or not an integer");
    free(t);
    json_object_del(c, "iat");
    t = forge_claims(c);
    refused(t, "id", "iat missing or not an integer");
    free(t);
    json_decref(c);
}

static void test_wrong_iss(void **state)
{
    json_t *c = claims_for("id");
    char *t;

    t = forge_claims(c);
    accepted(t, "id");
    free(t);
    json_object_set_new(c, "iss", json_string(ISS "/"));
    t = forge_claims(c);
    refused(t, "id", "issuer");
    free(t);
    json_object_set_new(c, "iss", json_string("https://cognito-idp.us-east-1.amazonaws.com/x"));
    t = forge_claims(c);
    refused(t, "id", "issuer");
    free(t);
    json_object_set_new(c, "iss", json_pack("[s]", ISS));
    t = forge_claims(c);
    refused(t, "id", "issuer");
    free(t);
    json_object_del(c, "iss");
    t = forge_claims(c);
    refused(t, "id", "issuer");
    free(t);
    json_decref(c);
}

static void test_token_use_mismatch(void **state)
{
    json_t *id = claims_for("id");
    json_t *access = claims_for("access");
    char *tid = forge_claims(id);
    char *tacc = forge_claims(access);
    auth_jwt_expect_t e = expect_for("access");

    accepted(tid, "id");
    accepted(tacc, "access");
    /* An ID token where an access token is expected, and the reverse; also
     * with no client check, so only token_use can catch it. */
    refused(tid, "access", "token_use");
    refused(tacc, "id", "token_use");
    e.client_id = NULL;
    refused_e(tid, &e, "token_use");

    json_object_del(id, "token_use");
    free(tid);
    tid = forge_claims(id);
    refused(tid, "id", "token_use");

    free(tid);
    free(tacc);
    json_decref(id);
    json_decref(access);
}

static void test_wrong_audience(void **state)
{
    json_t *id = claims_for("id");
    json_t *access = claims_for("access");
    auth_jwt_expect_t eid = expect_for("id");
    auth_jwt_expect_t eacc = expect_for("access");
    char *t;

    /* ID token: aud must equal the client id... */
    json_object_set_new(id, "aud", json_string("someotherclient"));
    t = forge_claims(id);
    refused(t, "id", "aud");
    /* ...unless no client is expected. */
    eid.client_id = NULL;
    assert_int_equal(verify_ab(t, &eid, NULL, NULL), 0);
    eid.client_id = CLIENT;
    free(t);
    json_object_set_new(id, "aud", json_pack("[s]", CLIENT));
    t = forge_claims(id);
    refused(t, "id", "aud");
    free(t);
    /* client_id does not stand in for aud on an ID token. */
    json_object_del(id, "aud");
    json_object_set_new(id, "client_id", json_string(CLIENT));
    t = forge_claims(id);
    refused(t, "id", "aud");
    free(t);

    /* Access token: client_id must equal it, and aud does not stand in. */
    t = forge_claims(access);
    accepted(t, "access");
    free(t);
    json_object_set_new(access, "client_id", json_string("someotherclient"));
    json_object_set_new(access, "aud", json_string(CLIENT));
    t = forge_claims(access);
    refused(t, "access", "client_id");
    eacc.client_id = NULL;
    assert_int_equal(verify_ab(t, &eacc, NULL, NULL), 0);
    free(t);

    json_decref(id);
    json_decref(access);
}

/* Header members that point the verifier at some other key. */
static void test_forbidden_header_members(void **state)
{
    static const char *const extra[] = {
        "\"jku\":\"https://evil.example/jwks.json\"",
        "\"jwk\":{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"AA\"}",
        "\"x5u\":\"https://evil.example/cert.pem\"",
        "\"x5c\":[\"MIIB\"]",
        "\"crit\":[\"exp\"]",
    };
    json_t *c = claims_for("id");
    char *p = dump(c);
    char *h = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", auth_key_kid(K->a));
    char *good = forge_rs256(K->pa, h, p);

    /* Harmless extra members such as typ are fine. */
    accepted(good, "id");
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        char *hx = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\",%s}", auth_key_kid(K->a), extra[i]);
        char *t = forge_rs256(K->pa, hx, p);
        refused(t, "id", "forbidden");
        free(hx);
        free(t);
    }
    free(p);
    free(h);
    free(good);
    json_decref(c);
}

/* Two "alg" members: we and libjwt must not read different ones. */
static void test_duplicate_header_members(void **state)
{
    json_t *c = claims_for("id");
    char *p = dump(c);
    char *h = xasprintf("{\"alg\":\"HS256\",\"alg\":\"RS256\",\"kid\":\"%s\"}", auth_key_kid(K->a));
    char *t = forge_hs256(K->pub_pem_a, strlen(K->pub_pem_a), h, p);
    char *h2 =
        xasprintf("{\"alg\":\"RS256\",\"alg\":\"RS256\",\"kid\":\"%s\"}", auth_key_kid(K->a));
    char *t2 = forge_rs256(K->pa, h2, p);

    refused(t, "id", "malformed header");
    refused(t2, "id", "malformed header");

    free(p);
    free(h);
    free(t);
    free(h2);
    free(t2);
    json_decref(c);
}

/* A valid token with one character replaced. */
static char *with_char(const char *token, size_t pos, char ch)
{
    char *t = xstrdup(token);
    t[pos] = ch;
    return t;
}

static void test_garbage(void **state)
{
    json_t *c = claims_for("id");
    char *good = forge_claims(c);
    char *p = dump(c);
    size_t len = strlen(good);
    size_t d1 = (size_t)(strchr(good, '.') - good);
    size_t d2 = (size_t)(strrchr(good, '.') - good);
    static const char bad_chars[] = {'+', '/', '=', ' ', '\n', '%', '\x80', '\xff', '*'};
    char *t;

    accepted(good, "id");

    refused("", "id", "malformed");
    refused("abcdefghijklmnop", "id", "malformed");
    refused("a.b", "id", "malformed");
    refused("..", "id", "malformed");
    t = xasprintf("%s.AAAA", good);
    refused(t, "id", "malformed"); /* three dots */
    free(t);
    t = xasprintf(".%s", good);
    refused(t, "id", "malformed");
    free(t);

    /* Non-base64url characters in each segment. */
    for (size_t i = 0; i < sizeof bad_chars; i++) {
        size_t at[3] = {d1 / 2, (d1 + d2) / 2, (d2 + len) / 2};
        for (int s = 0; s < 3; s++) {
            t = with_char(good, at[s], bad_chars[i]);
            refused(t, "id", "malformed");
            free(t);
        }
    }
    /* A padded signature is not base64url either. */
    t = xasprintf("%s==", good);
    refused(t, "id", "malformed");
    free(t);

    /* Over 16 KiB: refused unread, even though it is validly signed; just
     * under the limit is fine. */
    {
        json_t *big = json_deep_copy(c);
        char *pad = xmalloc(20 * 1024);
        memset(pad, 'x', 20 * 1024 - 1);
        pad[20 * 1024 - 1] = '\0';
        json_object_set_new(big, "custom:pad", json_string(pad));
        t = forge_claims(big);
        assert_true(strlen(t) > 16 * 1024);
        refused(t, "id", "too long");
        free(t);
        pad[11 * 1024] = '\0';
        json_object_set_new(big, "custom:pad", json_string(pad));
        t = forge_claims(big);
        assert_true(strlen(t) > 15 * 1024 && strlen(t) <= 16 * 1024);
        accepted(t, "id");
        free(t);
        free(pad);
        json_decref(big);
    }

    /* Header that is not JSON, a JSON array, a string, too deep, with a
     * NUL, trailing junk, or non-canonical base64url. */
    {
        const char *kid = auth_key_kid(K->a);
        char *h_deep = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\",\"x\":[[[[1]]]]}", kid);
        char *h_ok = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
        char *h_junk = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\"} x", kid);
        const char *headers[] = {"not json", "[\"RS256\"]", "\"RS256\"", "", h_deep, h_junk};
        for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
            t = forge_rs256(K->pa, headers[i], p);
            refused(t, "id", "malformed");
            free(t);
        }
        /* A NUL after a valid header (signing_input would stop at it):
         * libjwt parses the header as a C string and would not see "x". */
        {
            size_t hn = strlen(h_ok);
            char *h_nul = xmalloc(hn + 3);
            memcpy(h_nul, h_ok, hn);
            memcpy(h_nul + hn, "\0x", 3);
            char *hseg = b64url(h_nul, hn + 2);
            free(h_nul);
            char *pseg = b64url_str(p);
            t = xasprintf("%s.%s.AAAA", hseg, pseg);
            refused(t, "id", "malformed");
            free(t);
            free(hseg);
            free(pseg);
        }
        /* Header segment of length 4n+1, and with non-zero unused bits. */
        {
            char *hseg = b64url_str(h_ok);
            buf_t b;
            buf_init(&b, 0);
            buf_puts(&b, hseg);
            while (b.len % 4 != 1)
                buf_puts(&b, "A");
            buf_puts(&b, good + d1);
            refused(b.data, "id", "malformed");
            buf_free(&b);
            free(hseg);
        }
        {
            char *hjson = header_for("RS256", kid);
            char *hseg = b64url_str(hjson);
            size_t hn = strlen(hseg);
            if (hn % 4 != 0) {
                /* Bump the last character by one: same bytes to a lax
                 * decoder, a different encoding to a strict one. */
                char last = hseg[hn - 1];
                hseg[hn - 1] = last == 'z' ? '0' : last == 'Z' ? 'a' : (char)(last + 1);
                t = xasprintf("%s%s", hseg, good + d1);
                refused(t, "id", "malformed");
                free(t);
            }
            free(hjson);
            free(hseg);
        }
        free(h_deep);
        free(h_ok);
        free(h_junk);
    }

    /* Payload that is not JSON, validly signed. */
    {
        char *h = header_for("RS256", auth_key_kid(K->a));
        t = forge_rs256(K->pa, h, "not json");
        refused(t, "id", NULL);
        free(t);
        t = forge_rs256(K->pa, h, "[1,2]");
        refused(t, "id", NULL);
        free(t);
        free(h);
    }

    /* No token, no expectations. */
    {
        const auth_key_t *keys[1] = {K->a};
        auth_jwt_expect_t e = expect_for("id");
        char why[WHYSZ];
        assert_int_equal(auth_jwt_verify(NULL, keys, 1, &e, NULL, why, sizeof why), -1);
        assert_int_equal(auth_jwt_verify(good, keys, 1, NULL, NULL, why, sizeof why), -1);
        e.issuer = NULL;
        assert_int_equal(auth_jwt_verify(good, keys, 1, &e, NULL, why, sizeof why), -1);
        e = expect_for("id");
        e.token_use = NULL;
        assert_int_equal(auth_jwt_verify(good, keys, 1, &e, NULL, why, sizeof why), -1);
        /* A NULL entry in the key list is skipped. */
        const auth_key_t *with_null[2] = {NULL, K->a};
        e = expect_for("id");
        assert_int_equal(auth_jwt_verify(good, with_null, 2, &e, NULL, NULL, 0), 0);
        /* A tiny why buffer is truncated, not overrun. */
        char small[4] = "zzz";
        assert_int_equal(auth_jwt_verify("x", keys, 1, &e, NULL, small, sizeof small), -1);
        assert_int_equal(strlen(small), 3);
    }

    free(good);
    free(p);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify_roundtrip),
        cmocka_unit_test(test_kid_and_jwk),
        cmocka_unit_test(test_pem_roundtrip),
        cmocka_unit_test(test_pem_refused),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_hs256_public_key_confusion),
        cmocka_unit_test(test_other_algs),
        cmocka_unit_test(test_unknown_kid),
        cmocka_unit_test(test_no_kid),
        cmocka_unit_test(test_kid_of_a_signed_by_b),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_iat_in_future),
        cmocka_unit_test(test_wrong_iss),
        cmocka_unit_test(test_token_use_mismatch),
        cmocka_unit_test(test_wrong_audience),
        cmocka_unit_test(test_forbidden_header_members),
        cmocka_unit_test(test_duplicate_header_members),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
