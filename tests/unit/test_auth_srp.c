/* test_auth_srp.c - unit tests for auth/srp.c (Cognito USER_SRP_AUTH).
 *
 * The SRP tests check auth/srp.c against vectors that gen_srp_vectors.mjs
 * computes in Node the way the JavaScript clients do, and against a client
 * written here with BIGNUM (its padHex works on hex text, as the clients'
 * does, where srp.c works on bytes). The vectors pin the server to what real
 * clients send; the C client allows fresh random round trips through
 * auth_srp_challenge, whose b cannot be fixed from outside.
 *
 * Until the Makefile builds auth/, build and run by hand:
 *   gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -I. $(pkg-config --cflags jansson libcrypto) \
 *       tests/unit/test_auth_srp.c auth/srp.c common/util.c \
 *       $(pkg-config --libs jansson libcrypto) -lcmocka -lpthread -o /tmp/test_auth
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/internal.h"
#include "common/util.h"
#include "tests/unit/srp_vectors.h"

/* ---- helpers ---- */

/* Decode lowercase/uppercase hex; caller frees. */
static unsigned char *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    assert_true(n % 2 == 0);
    unsigned char *out = xmalloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int byte;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
        out[i] = (unsigned char)byte;
    }
    *len = n / 2;
    return out;
}

static BIGNUM *bn_hex(const char *hex)
{
    BIGNUM *x = NULL;
    assert_int_equal(BN_hex2bn(&x, hex), (int)strlen(hex));
    return x;
}

static BIGNUM *group_N(void)
{
    BIGNUM *N = BN_get_rfc3526_prime_3072(NULL);
    assert_non_null(N);
    return N;
}

/* Lowercase hex as BigInteger.toString(16) prints it; caller frees. */
static char *bn_lower_hex(const BIGNUM *x)
{
    char *h = BN_bn2hex(x);
    assert_non_null(h);
    char *p = h;
    while (p[0] == '0' && p[1] != '\0')
        p++;
    char *out = xstrdup(p);
    for (char *c = out; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    OPENSSL_free(h);
    return out;
}

/* The clients' padHex, done on text the way they do it; returns the bytes
 * the padded hex spells (caller frees). */
static unsigned char *client_pad(const BIGNUM *x, size_t *len)
{
    char *h = bn_lower_hex(x);
    char *padded = xasprintf("%s%s", strlen(h) % 2 ? "0" : "", h);
    if (strchr("89abcdef", padded[0]) != NULL) {
        char *t = xasprintf("00%s", padded);
        free(padded);
        padded = t;
    }
    unsigned char *out = unhex(padded, len);
    free(h);
    free(padded);
    return out;
}

static void sha256(const unsigned char *p, size_t n, unsigned char out[32])
{
    unsigned int outlen = 0;
    assert_int_equal(EVP_Digest(p, n, out, &outlen, EVP_sha256(), NULL), 1);
    assert_int_equal(outlen, 32);
}

static BIGNUM *sha256_bn(const unsigned char *p, size_t n, unsigned char out[32])
{
    sha256(p, n, out);
    return BN_bin2bn(out, 32, NULL);
}

/* H(clientpad(a) || clientpad(b)) */
static BIGNUM *hash_two(const BIGNUM *a, const BIGNUM *b)
{
    size_t la, lb;
    unsigned char *pa = client_pad(a, &la), *pb = client_pad(b, &lb);
    unsigned char *cat = xmalloc(la + lb), h[32];
    memcpy(cat, pa, la);
    memcpy(cat + la, pb, lb);
    BIGNUM *r = sha256_bn(cat, la + lb, h);
    free(pa);
    free(pb);
    free(cat);
    return r;
}

typedef struct client_in {
    const char *pool_name;
    const char *user_id;
    const char *password;
    const unsigned char *salt;
    size_t salt_len;
    const unsigned char *secret;
    size_t secret_len;
    const char *timestamp;
} client_in_t;

/* The last steps of the client: K from u and S, then the signature. */
static void sign_with_key_from(const client_in_t *in, const BIGNUM *u, const BIGNUM *S,
                               char sig[45])
{
    size_t lu, lS;
    unsigned char *pu = client_pad(u, &lu), *pS = client_pad(S, &lS);
    unsigned char prk[32], K[32], mac[32];
    unsigned int maclen = 0;
    assert_non_null(HMAC(EVP_sha256(), pu, (int)lu, pS, lS, prk, &maclen));
    static const char info[] = "Caldera Derived Key\001";
    assert_non_null(
        HMAC(EVP_sha256(), prk, 32, (const unsigned char *)info, sizeof info - 1, K, &maclen));

    size_t lp = strlen(in->pool_name), lus = strlen(in->user_id), lt = strlen(in->timestamp);
    size_t mlen = lp + lus + in->secret_len + lt;
    unsigned char *msg = xmalloc(mlen + 1);
    memcpy(msg, in->pool_name, lp);
    memcpy(msg + lp, in->user_id, lus);
    if (in->secret_len > 0)
        memcpy(msg + lp + lus, in->secret, in->secret_len);
    memcpy(msg + lp + lus + in->secret_len, in->timestamp, lt);
    assert_non_null(HMAC(EVP_sha256(), K, 16, msg, mlen, mac, &maclen));
    assert_int_equal(EVP_EncodeBlock((unsigned char *)sig, mac, 32), 44);

    free(msg);
    free(pu);
    free(pS);
}

/* The client half of PASSWORD_VERIFIER for secret a and the server's B:
 * writes SRP_A (unpadded hex, caller frees) and PASSWORD_CLAIM_SIGNATURE. */
static void client_sign(const client_in_t *in, const BIGNUM *a, const char *B_hex, char **A_hex,
                        char sig[45])
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *N = group_N(), *g = BN_new(), *A = BN_new(), *gx = BN_new(), *base = BN_new();
    BIGNUM *exp = BN_new(), *S = BN_new();
    assert_non_null(ctx);
    assert_non_null(S);
    BN_set_word(g, 2);
    BIGNUM *B = bn_hex(B_hex);
    BIGNUM *k = hash_two(N, g);

    assert_int_equal(BN_mod_exp(A, g, a, N, ctx), 1);
    *A_hex = bn_lower_hex(A);
    BIGNUM *u = hash_two(A, B);

    /* x = H(clientpad(salt) || H(pool || user || ":" || password)) */
    char *up = xasprintf("%s%s:%s", in->pool_name, in->user_id, in->password);
    unsigned char inner[32], xh[32];
    sha256((const unsigned char *)up, strlen(up), inner);
    BIGNUM *salt = BN_bin2bn(in->salt, (int)in->salt_len, NULL);
    size_t ls;
    unsigned char *ps = client_pad(salt, &ls);
    unsigned char *xin = xmalloc(ls + 32);
    memcpy(xin, ps, ls);
    memcpy(xin + ls, inner, 32);
    BIGNUM *x = sha256_bn(xin, ls + 32, xh);

    /* S = (B - k*g^x)^(a + u*x) mod N */
    assert_int_equal(BN_mod_exp(gx, g, x, N, ctx), 1);
    assert_int_equal(BN_mul(base, k, gx, ctx), 1);
    assert_int_equal(BN_sub(base, B, base), 1);
    assert_int_equal(BN_nnmod(base, base, N, ctx), 1);
    assert_int_equal(BN_mul(exp, u, x, ctx), 1);
    assert_int_equal(BN_add(exp, exp, a), 1);
    assert_int_equal(BN_mod_exp(S, base, exp, N, ctx), 1);

    sign_with_key_from(in, u, S, sig);

    free(xin);
    free(ps);
    free(up);
    BN_free(salt);
    BN_free(x);
    BN_free(u);
    BN_free(k);
    BN_free(B);
    BN_free(N);
    BN_free(g);
    BN_free(A);
    BN_free(gx);
    BN_free(base);
    BN_free(exp);
    BN_free(S);
    BN_CTX_free(ctx);
}

/* A vector's inputs decoded for the API. */
typedef struct vec {
    const srp_vector_t *t;
    unsigned char *salt;
    size_t salt_len;
    unsigned char *secret;
    size_t secret_len;
    unsigned char v[AUTH_SRP_N_BYTES];
    unsigned char b[AUTH_SRP_B_BYTES];
} vec_t;

static void vec_load(vec_t *x, const srp_vector_t *t)
{
    size_t n;
    x->t = t;
    x->salt = unhex(t->salt_hex, &x->salt_len);
    x->secret = unhex(t->secret_block_hex, &x->secret_len);
    unsigned char *v = unhex(t->v_hex, &n);
    assert_int_equal(n, AUTH_SRP_N_BYTES);
    memcpy(x->v, v, n);
    free(v);
    unsigned char *b = unhex(t->b_hex, &n);
    assert_int_equal(n, AUTH_SRP_B_BYTES);
    memcpy(x->b, b, n);
    free(b);
}

static void vec_free(vec_t *x)
{
    free(x->salt);
    free(x->secret);
}

/* auth_srp_verify with the vector's values except where overridden. */
static int vec_verify(const vec_t *x, const char *A_hex, const char *user_id,
                      const unsigned char *secret, size_t secret_len, const char *timestamp,
                      const char *sig)
{
    return auth_srp_verify(x->v, x->b, A_hex ? A_hex : x->t->A_hex, x->t->B_hex, x->t->pool_name,
                           user_id ? user_id : x->t->user_id, secret ? secret : x->secret,
                           secret ? secret_len : x->secret_len,
                           timestamp ? timestamp : x->t->timestamp,
                           sig ? sig : x->t->signature_b64);
}

/* ---- SRP: against the Node vectors ---- */

static void test_srp_verifier_vectors(void **state)
{
    for (size_t i = 0; i < SRP_NVECTORS; i++) {
        vec_t x;
        vec_load(&x, &srp_vectors[i]);
        unsigned char v[AUTH_SRP_N_BYTES];
        char hex[2 * AUTH_SRP_N_BYTES + 1];
        assert_int_equal(
            auth_srp_verifier(x.t->pool_name, x.t->user_id, x.t->password, x.salt, x.salt_len, v),
            0);
        util_hex(v, sizeof v, hex);
        assert_string_equal(hex, x.t->v_hex);
        vec_free(&x);
    }
}

static void test_srp_verify_vectors(void **state)
{
    for (size_t i = 0; i < SRP_NVECTORS; i++) {
        vec_t x;
        vec_load(&x, &srp_vectors[i]);
        assert_int_equal(vec_verify(&x, NULL, NULL, NULL, 0, NULL, NULL), 0);
        vec_free(&x);
    }
}

/* The vectors' B is (k*v + g^b) mod N by this file's arithmetic too. */
static void test_srp_vectors_B(void **state)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *N = group_N(), *g = BN_new(), *t = BN_new(), *gb = BN_new();
    BN_set_word(g, 2);
    BIGNUM *k = hash_two(N, g);
    for (size_t i = 0; i < SRP_NVECTORS; i++) {
        BIGNUM *v = bn_hex(srp_vectors[i].v_hex), *b = bn_hex(srp_vectors[i].b_hex);
        assert_int_equal(BN_mod_exp(gb, g, b, N, ctx), 1);
        assert_int_equal(BN_mod_mul(t, k, v, N, ctx), 1);
        assert_int_equal(BN_mod_add(t, t, gb, N, ctx), 1);
        char *h = bn_lower_hex(t);
        assert_string_equal(h, srp_vectors[i].B_hex);
        free(h);
        BN_free(v);
        BN_free(b);
    }
    BN_free(k);
    BN_free(N);
    BN_free(g);
    BN_free(t);
    BN_free(gb);
    BN_CTX_free(ctx);
}

/* This file's client reproduces the Node client's A and signature, so the
 * random round trips below are checked against a client known to be right. */
static void test_srp_client_matches_vectors(void **state)
{
    for (size_t i = 0; i < SRP_NVECTORS; i++) {
        vec_t x;
        vec_load(&x, &srp_vectors[i]);
        client_in_t in = {x.t->pool_name, x.t->user_id, x.t->password, x.salt,
                          x.salt_len,     x.secret,     x.secret_len,  x.t->timestamp};
        BIGNUM *a = bn_hex(x.t->a_hex);
        char *A_hex, sig[45];
        client_sign(&in, a, x.t->B_hex, &A_hex, sig);
        assert_string_equal(A_hex, x.t->A_hex);
        assert_string_equal(sig, x.t->signature_b64);
        free(A_hex);
        BN_free(a);
        vec_free(&x);
    }
}

static void test_srp_wrong_password(void **state)
{
    vec_t x;
    vec_load(&x, &srp_vectors[0]);
    unsigned char v[AUTH_SRP_N_BYTES];
    assert_int_equal(
        auth_srp_verifier(x.t->pool_name, x.t->user_id, "Passw0rd?", x.salt, x.salt_len, v), 0);
    assert_int_not_equal(memcmp(v, x.v, sizeof v), 0);
    /* The server holding the wrong verifier also sends a different B, but
     * even given the vector's B the claim must not verify. */
    assert_int_equal(auth_srp_verify(v, x.b, x.t->A_hex, x.t->B_hex, x.t->pool_name, x.t->user_id,
                                     x.secret, x.secret_len, x.t->timestamp, x.t->signature_b64),
                     -1);
    /* A different pool name or salt is a different verifier as well. */
    assert_int_equal(
        auth_srp_verifier("AbC124", x.t->user_id, x.t->password, x.salt, x.salt_len, v), 0);
    assert_int_not_equal(memcmp(v, x.v, sizeof v), 0);
    x.salt[x.salt_len - 1] ^= 1;
    assert_int_equal(
        auth_srp_verifier(x.t->pool_name, x.t->user_id, x.t->password, x.salt, x.salt_len, v), 0);
    assert_int_not_equal(memcmp(v, x.v, sizeof v), 0);
    vec_free(&x);
}

static void test_srp_tampered(void **state)
{
    for (size_t i = 0; i < SRP_NVECTORS; i++) {
        vec_t x;
        vec_load(&x, &srp_vectors[i]);

        /* signature: flip one bit of the MAC */
        char sig[45];
        unsigned char raw[33];
        assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)x.t->signature_b64, 44), 33);
        raw[7] ^= 0x10;
        EVP_EncodeBlock((unsigned char *)sig, raw, 32);
        assert_int_equal(vec_verify(&x, NULL, NULL, NULL, 0, NULL, sig), -1);

        /* timestamp: one second later, and the zero-padded spelling of the same instant */
        char *ts = xstrdup(x.t->timestamp);
        ts[strlen(ts) - 10] ^= 1;
        assert_int_equal(vec_verify(&x, NULL, NULL, NULL, 0, ts, NULL), -1);
        free(ts);
        assert_int_equal(vec_verify(&x, NULL, NULL, NULL, 0, "Tue Aug 05 09:03:07 UTC 2025", NULL),
                         -1);

        /* secret block: one bit flipped, one byte short, one byte long */
        unsigned char *sb = xmalloc(x.secret_len + 1);
        memcpy(sb, x.secret, x.secret_len);
        sb[0] ^= 0x80;
        assert_int_equal(vec_verify(&x, NULL, NULL, sb, x.secret_len, NULL, NULL), -1);
        sb[0] ^= 0x80;
        assert_int_equal(vec_verify(&x, NULL, NULL, sb, x.secret_len - 1, NULL, NULL), -1);
        sb[x.secret_len] = 0;
        assert_int_equal(vec_verify(&x, NULL, NULL, sb, x.secret_len + 1, NULL, NULL), -1);
        assert_int_equal(vec_verify(&x, NULL, NULL, sb, x.secret_len, NULL, NULL), 0);
        free(sb);

        /* user id and pool name */
        char *user = xasprintf("%sx", x.t->user_id);
        assert_int_equal(vec_verify(&x, NULL, user, NULL, 0, NULL, NULL), -1);
        free(user);
        assert_int_equal(auth_srp_verify(x.v, x.b, x.t->A_hex, x.t->B_hex, "AbC12", x.t->user_id,
                                         x.secret, x.secret_len, x.t->timestamp,
                                         x.t->signature_b64),
                         -1);

        /* b and B: another b, or a B that is not this challenge's */
        unsigned char b2[AUTH_SRP_B_BYTES];
        memcpy(b2, x.b, sizeof b2);
        b2[31] ^= 1;
        assert_int_equal(auth_srp_verify(x.v, b2, x.t->A_hex, x.t->B_hex, x.t->pool_name,
                                         x.t->user_id, x.secret, x.secret_len, x.t->timestamp,
                                         x.t->signature_b64),
                         -1);
        memset(b2, 0, sizeof b2);
        assert_int_equal(auth_srp_verify(x.v, b2, x.t->A_hex, x.t->B_hex, x.t->pool_name,
                                         x.t->user_id, x.secret, x.secret_len, x.t->timestamp,
                                         x.t->signature_b64),
                         -1);
        char *B2 = xstrdup(x.t->B_hex);
        B2[strlen(B2) - 1] = B2[strlen(B2) - 1] == '0' ? '1' : '0';
        assert_int_equal(auth_srp_verify(x.v, x.b, x.t->A_hex, B2, x.t->pool_name, x.t->user_id,
                                         x.secret, x.secret_len, x.t->timestamp,
                                         x.t->signature_b64),
                         -1);
        free(B2);

        /* A: another value entirely */
        char *A2 = xstrdup(x.t->A_hex);
        A2[strlen(A2) - 1] = A2[strlen(A2) - 1] == '0' ? '1' : '0';
        assert_int_equal(vec_verify(&x, A2, NULL, NULL, 0, NULL, NULL), -1);
        free(A2);

        /* the same A in upper case or with leading zeros is the same number */
        char *Aup = xstrdup(x.t->A_hex);
        for (char *c = Aup; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        assert_int_equal(vec_verify(&x, Aup, NULL, NULL, 0, NULL, NULL), 0);
        free(Aup);
        if (strlen(x.t->A_hex) < 2 * AUTH_SRP_N_BYTES) {
            char *Az = xasprintf("0%s", x.t->A_hex);
            assert_int_equal(vec_verify(&x, Az, NULL, NULL, 0, NULL, NULL), 0);
            free(Az);
        }
        vec_free(&x);
    }
}

static void test_srp_bad_A(void **state)
{
    vec_t x;
    vec_load(&x, &srp_vectors[0]);
    BIGNUM *N = group_N(), *t = BN_new();
    char *Nh = bn_lower_hex(N);
    assert_int_equal(BN_lshift1(t, N), 1);
    char *N2h = bn_lower_hex(t);
    assert_non_null(BN_copy(t, N));
    assert_int_equal(BN_add_word(t, 1), 1);
    char *N1h = bn_lower_hex(t);

    const char *bad[] = {
        "0",  "00",     "000000", Nh,      N2h,     N1h,    "",     "-1",
        "+1", "0x1234", "12 34",  " 1234", "1234 ", "12g4", "\xff", "abc\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vec_verify(&x, bad[i], NULL, NULL, 0, NULL, NULL), -1);

    /* over-long: the right A behind enough zeros to pass 768 digits */
    size_t alen = strlen(x.t->A_hex);
    char *longA = xmalloc(2 * AUTH_SRP_N_BYTES + 2);
    memset(longA, '0', 2 * AUTH_SRP_N_BYTES + 1 - alen);
    memcpy(longA + 2 * AUTH_SRP_N_BYTES + 1 - alen, x.t->A_hex, alen + 1);
    assert_int_equal(strlen(longA), 2 * AUTH_SRP_N_BYTES + 1);
    assert_int_equal(vec_verify(&x, longA, NULL, NULL, 0, NULL, NULL), -1);
    /* ... and at exactly 768 digits it is still the same A */
    assert_int_equal(vec_verify(&x, longA + 1, NULL, NULL, 0, NULL, NULL), 0);
    free(longA);

    /* a huge string is refused without trouble */
    char *huge = xmalloc(100001);
    memset(huge, 'f', 100000);
    huge[100000] = '\0';
    assert_int_equal(vec_verify(&x, huge, NULL, NULL, 0, NULL, NULL), -1);
    free(huge);

    /* the same checks apply to B */
    assert_int_equal(auth_srp_verify(x.v, x.b, x.t->A_hex, "0", x.t->pool_name, x.t->user_id,
                                     x.secret, x.secret_len, x.t->timestamp, x.t->signature_b64),
                     -1);
    assert_int_equal(auth_srp_verify(x.v, x.b, x.t->A_hex, "zz", x.t->pool_name, x.t->user_id,
                                     x.secret, x.secret_len, x.t->timestamp, x.t->signature_b64),
                     -1);

    free(Nh);
    free(N2h);
    free(N1h);
    BN_free(N);
    BN_free(t);
    vec_free(&x);
}

/* With A = 0 mod N the server's S is 0 whatever the password, so anyone can
 * compute the "right" signature: these must be refused before the MAC. */
static void test_srp_zero_A_forgery(void **state)
{
    vec_t x;
    vec_load(&x, &srp_vectors[0]);
    client_in_t in = {x.t->pool_name, x.t->user_id, "unknown",    x.salt,
                      x.salt_len,     x.secret,     x.secret_len, x.t->timestamp};
    BIGNUM *N = group_N(), *A = BN_new(), *S = BN_new(), *B = bn_hex(x.t->B_hex);
    BN_zero(S);
    for (int m = 0; m <= 3; m++) {
        assert_int_equal(BN_copy(A, N) != NULL, 1);
        assert_int_equal(BN_mul_word(A, (BN_ULONG)m), 1);
        char *A_hex = bn_lower_hex(A), sig[45];
        BIGNUM *u = hash_two(A, B);
        sign_with_key_from(&in, u, S, sig);
        assert_int_equal(vec_verify(&x, A_hex, NULL, NULL, 0, NULL, sig), -1);
        free(A_hex);
        BN_free(u);
    }
    BN_free(N);
    BN_free(A);
    BN_free(S);
    BN_free(B);
    vec_free(&x);
}

static void test_srp_bad_signature_encoding(void **state)
{
    vec_t x;
    vec_load(&x, &srp_vectors[0]);
    const char *s = x.t->signature_b64;
    char *unpadded = xstrndup(s, 43);
    char *spaced = xasprintf(" %s", s);
    char *trailing = xasprintf("%s\n", s);
    char *doubled = xasprintf("%s%s", s, s);
    char *urlsafe = xstrdup(s);
    for (char *c = urlsafe; *c; c++) {
        if (*c == '+')
            *c = '-';
        else if (*c == '/')
            *c = '_';
    }
    const char *bad[] = {"", unpadded, spaced, trailing, doubled, "====", "not base64 at all"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vec_verify(&x, NULL, NULL, NULL, 0, NULL, bad[i]), -1);
    if (strcmp(urlsafe, s) != 0)
        assert_int_equal(vec_verify(&x, NULL, NULL, NULL, 0, NULL, urlsafe), -1);
    free(unpadded);
    free(spaced);
    free(trailing);
    free(doubled);
    free(urlsafe);
    vec_free(&x);
}

/* ---- SRP: random round trips through auth_srp_challenge ---- */

static void test_srp_round_trip_random(void **state)
{
    static const char *users[] = {"alice", "0b5e1c2a-7f3d-4e9b-a1c8-2d6f4b3e9a70",
                                  "\303\251l\303\250ve"};
    static const char *passwords[] = {"Passw0rd!", "\360\237\224\221 key", "p"};
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *N = group_N(), *g = BN_new(), *t = BN_new(), *gb = BN_new();
    BN_set_word(g, 2);
    BIGNUM *k = hash_two(N, g);

    for (size_t i = 0; i < 3; i++) {
        unsigned char salt[AUTH_SRP_SALT_BYTES], v[AUTH_SRP_N_BYTES], b[AUTH_SRP_B_BYTES];
        unsigned char secret[200], ab[128];
        char B_hex[AUTH_SRP_HEX_MAX];
        util_random(salt, sizeof salt);
        util_random(secret, sizeof secret);
        util_random(ab, sizeof ab);
        assert_int_equal(auth_srp_verifier("AbC123", users[i], passwords[i], salt, sizeof salt, v),
                         0);
        assert_int_equal(auth_srp_challenge(v, b, B_hex), 0);

        /* B is lowercase, minimal, and (k*v + g^b) mod N */
        assert_true(strlen(B_hex) >= 1 && strlen(B_hex) <= 2 * AUTH_SRP_N_BYTES);
        assert_true(B_hex[0] != '0');
        assert_int_equal(strspn(B_hex, "0123456789abcdef"), strlen(B_hex));
        BIGNUM *vb = BN_bin2bn(v, sizeof v, NULL), *bb = BN_bin2bn(b, sizeof b, NULL);
        assert_int_equal(BN_mod_exp(gb, g, bb, N, ctx), 1);
        assert_int_equal(BN_mod_mul(t, k, vb, N, ctx), 1);
        assert_int_equal(BN_mod_add(t, t, gb, N, ctx), 1);
        char *want = bn_lower_hex(t);
        assert_string_equal(B_hex, want);
        free(want);

        client_in_t in = {"AbC123",    users[i], passwords[i],  salt,
                          sizeof salt, secret,   sizeof secret, "Tue Aug 5 09:03:07 UTC 2025"};
        BIGNUM *a = BN_bin2bn(ab, sizeof ab, NULL);
        char *A_hex, sig[45];
        client_sign(&in, a, B_hex, &A_hex, sig);
        assert_int_equal(auth_srp_verify(v, b, A_hex, B_hex, "AbC123", users[i], secret,
                                         sizeof secret, in.timestamp, sig),
                         0);

        /* the same client with the wrong password */
        client_in_t bad = in;
        bad.password = "wrong";
        char *A2_hex, sig2[45];
        client_sign(&bad, a, B_hex, &A2_hex, sig2);
        assert_string_equal(A2_hex, A_hex);
        assert_int_equal(auth_srp_verify(v, b, A2_hex, B_hex, "AbC123", users[i], secret,
                                         sizeof secret, in.timestamp, sig2),
                         -1);

        free(A_hex);
        free(A2_hex);
        BN_free(a);
        BN_free(vb);
        BN_free(bb);
    }
    BN_free(k);
    BN_free(N);
    BN_free(g);
    BN_free(t);
    BN_free(gb);
    BN_CTX_free(ctx);
}

static void test_srp_challenge_fresh(void **state)
{
    vec_t x;
    vec_load(&x, &srp_vectors[1]);
    unsigned char b1[AUTH_SRP_B_BYTES], b2[AUTH_SRP_B_BYTES];
    char B1[AUTH_SRP_HEX_MAX], B2[AUTH_SRP_HEX_MAX];
    assert_int_equal(auth_srp_challenge(x.v, b1, B1), 0);
    assert_int_equal(auth_srp_challenge(x.v, b2, B2), 0);
    assert_int_not_equal(memcmp(b1, b2, sizeof b1), 0);
    assert_string_not_equal(B1, B2);

    /* a verifier that is not a group element is refused */
    unsigned char bad[AUTH_SRP_N_BYTES];
    memset(bad, 0, sizeof bad);
    assert_int_equal(auth_srp_challenge(bad, b1, B1), -1);
    memset(bad, 0xff, sizeof bad);
    assert_int_equal(auth_srp_challenge(bad, b1, B1), -1);
    vec_free(&x);
}

/* The client parses SALT as a number, so leading zero bytes do not count. */
static void test_srp_verifier_salt(void **state)
{
    const srp_vector_t *t = &srp_vectors[1];
    size_t n;
    unsigned char *salt = unhex(t->salt_hex, &n);
    assert_int_equal(salt[0], 0);
    unsigned char v1[AUTH_SRP_N_BYTES], v2[AUTH_SRP_N_BYTES];
    assert_int_equal(auth_srp_verifier(t->pool_name, t->user_id, t->password, salt, n, v1), 0);
    assert_int_equal(auth_srp_verifier(t->pool_name, t->user_id, t->password, salt + 1, n - 1, v2),
                     0);
    assert_memory_equal(v1, v2, sizeof v1);
    assert_int_equal(auth_srp_verifier(t->pool_name, t->user_id, t->password, salt, 0, v1), -1);
    assert_int_equal(auth_srp_verifier(NULL, t->user_id, t->password, salt, n, v1), -1);
    free(salt);
}

/* ---- SRP: TIMESTAMP ---- */

static void test_srp_timestamp_valid(void **state)
{
    static const struct {
        const char *s;
        int64_t t;
    } ok[] = {
        {"Tue Aug 5 09:03:07 UTC 2025", 1754384587},
        {"Tue Aug 05 09:03:07 UTC 2025", 1754384587},
        {"Sun Dec 28 23:59:59 UTC 2025", 1766966399},
        {"Thu Jan 1 00:00:00 UTC 1970", 0},
        {"Thu Feb 29 12:00:00 UTC 2024", 1709208000},
        {"Wed Mar 1 00:00:00 UTC 2000", 951868800},
        {"Fri Dec 31 23:59:59 UTC 9999", 253402300799},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t t = -1;
        assert_int_equal(auth_srp_parse_timestamp(ok[i].s, &t), 0);
        assert_int_equal(t, ok[i].t);
    }
}

static void test_srp_timestamp_invalid(void **state)
{
    static const char *bad[] = {
        "",
        "Tue Aug 5 09:03:07 UTC",
        "Mon Aug 5 09:03:07 UTC 2025",  /* wrong weekday */
        "tue aug 5 09:03:07 UTC 2025",  /* lower case */
        "TUE AUG 5 09:03:07 UTC 2025",  /* upper case */
        "Tue Aug  5 09:03:07 UTC 2025", /* asctime's space padding */
        "Tue Aug 005 09:03:07 UTC 2025",
        "Tue Aug 5 9:03:07 UTC 2025",
        "Tue Aug 5 09:3:07 UTC 2025",
        "Tue Aug 5 09:03:7 UTC 2025",
        "Tue Aug 5 09:03:07 GMT 2025",
        "Tue Aug 5 09:03:07 utc 2025",
        "Tue Aug 5 09:03:07 UTC 25",
        "Tue Aug 5 09:03:07 UTC 02025",
        "Tue Aug 5 09:03:07 UTC 2025 ",
        " Tue Aug 5 09:03:07 UTC 2025",
        "Tue Aug 5 09:03:07 UTC 2025\n",
        "Tue Aug 5 09:03:07  UTC 2025",
        "Tue, Aug 5 09:03:07 UTC 2025",
        "Tue Aug 5 09-03-07 UTC 2025",
        "Tue Aug 5 09:03:07Z UTC 2025",
        "Tue Aug 5 09:03:07 UTC +2025",
        "Tue Aug 5 09:03:07 UTC 20a5",
        "Tue Aug 5 24:00:00 UTC 2025",
        "Tue Aug 5 09:60:00 UTC 2025",
        "Tue Aug 5 09:03:60 UTC 2025",
        "Sun Aug 0 09:03:07 UTC 2025",
        "Mon Aug 32 09:03:07 UTC 2025",
        "Sat Feb 29 12:00:00 UTC 2025", /* 2025 is not a leap year */
        "Tue Feb 29 12:00:00 UTC 1900",
        "Sat Apr 31 12:00:00 UTC 2025",
        "Wed Dec 31 23:59:59 UTC 1969",
        "Tue Agu 5 09:03:07 UTC 2025",
        "Tue Aug 5 09:03:07 UTC 2025 extra",
        "Tue Aug 5 09:03:07.123 UTC 2025",
        "Tue Aug +5 09:03:07 UTC 2025",
        "Tue Aug -5 09:03:07 UTC 2025",
        "2025-08-05T09:03:07Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 42;
        if (auth_srp_parse_timestamp(bad[i], &t) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(t, 42);
    }
    int64_t t;
    assert_int_equal(auth_srp_parse_timestamp(NULL, &t), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srp_verifier_vectors),
        cmocka_unit_test(test_srp_verify_vectors),
        cmocka_unit_test(test_srp_vectors_B),
        cmocka_unit_test(test_srp_client_matches_vectors),
        cmocka_unit_test(test_srp_wrong_password),
        cmocka_unit_test(test_srp_tampered),
        cmocka_unit_test(test_srp_bad_A),
        cmocka_unit_test(test_srp_zero_A_forgery),
        cmocka_unit_test(test_srp_bad_signature_encoding),
        cmocka_unit_test(test_srp_round_trip_random),
        cmocka_unit_test(test_srp_challenge_fresh),
        cmocka_unit_test(test_srp_verifier_salt),
        cmocka_unit_test(test_srp_timestamp_valid),
        cmocka_unit_test(test_srp_timestamp_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
