/* srp.c - the server half of Cognito's SRP-6a (USER_SRP_AUTH, PASSWORD_VERIFIER).
 *
 * Amplify and amazon-cognito-identity-js sign in with USER_SRP_AUTH unless told
 * otherwise, so cloudlet must reproduce Cognito's own flavour of SRP bit for bit
 * (wire doc 2.4): the RFC 3526 3072-bit group with g = 2, SHA-256, and the
 * clients' "padHex", which hashes every number as its minimal big-endian
 * two's-complement bytes (a 0x00 in front when the top bit is set) instead of
 * padding to the size of N as RFC 5054 does. The session key is an HKDF-like
 * step keyed by u with the info string "Caldera Derived Key", and what the
 * client proves is an HMAC over the pool name, user id, secret block and
 * timestamp.
 *
 * Secret exponents (x, b) only ever go through the constant-time modular
 * exponentiation, and every secret-derived buffer is wiped before it is
 * released.
 */
#include "auth/internal.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/util.h"

#define HASH_LEN 32
#define KEY_LEN 16
#define SALT_MAX 1024 /* bytes; Cognito's are 16, anything far longer is a bug */
#define HEX_DIGITS_MAX (2 * AUTH_SRP_N_BYTES)
#define PAD_MAX (AUTH_SRP_N_BYTES + 1) /* padHex of a value below N */
#define SIG_B64_LEN 44                 /* base64 of a 32-byte HMAC, one '=' */
#define CHALLENGE_TRIES 8

static const char derived_key_info[] = "Caldera Derived Key\x01";

/* The group and the per-call BIGNUM scratch space. Built per call rather than
 * cached so the module has no global state and no initialisation order; the
 * cost is small next to the modular exponentiations. */
typedef struct group {
    BN_CTX *bn;
    BIGNUM *N;
    BIGNUM *g;
    BIGNUM *k;
} group_t;

/* Write padHex(x) as bytes: the minimal big-endian encoding, with a leading
 * 0x00 when the top bit of the first byte is set, and a single 0x00 for zero.
 * `out` must hold BN_num_bytes(x) + 1 bytes. Returns the length written. */
static size_t pad_bytes(const BIGNUM *x, unsigned char *out)
{
    if (BN_is_zero(x)) {
        out[0] = 0;
        return 1;
    }
    size_t n = (size_t)BN_num_bytes(x);
    if (BN_num_bits(x) % 8 == 0) {
        out[0] = 0;
        BN_bn2bin(x, out + 1);
        return n + 1;
    }
    BN_bn2bin(x, out);
    return n;
}

/* SHA-256 over the concatenation of nparts buffers. Returns 0 or -1. */
static int sha256_parts(const void *const *parts, const size_t *lens, size_t nparts,
                        unsigned char out[HASH_LEN])
{
    int rc = -1;
    unsigned int outlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        goto err;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto err;
    for (size_t i = 0; i < nparts; i++) {
        if (EVP_DigestUpdate(md, parts[i], lens[i]) != 1)
            goto err;
    }
    if (EVP_DigestFinal_ex(md, out, &outlen) != 1 || outlen != HASH_LEN)
        goto err;
    rc = 0;
err:
    EVP_MD_CTX_free(md);
    return rc;
}

/* HMAC-SHA256 with `key` over the concatenation of nparts buffers. Returns 0 or -1. */
static int hmac_parts(const unsigned char *key, size_t keylen, const void *const *parts,
                      const size_t *lens, size_t nparts, unsigned char out[HASH_LEN])
{
    int rc = -1;
    size_t outlen = 0;
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        goto err;
    ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL)
        goto err;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, key, keylen, params) != 1)
        goto err;
    for (size_t i = 0; i < nparts; i++) {
        if (EVP_MAC_update(ctx, parts[i], lens[i]) != 1)
            goto err;
    }
    if (EVP_MAC_final(ctx, out, &outlen, HASH_LEN) != 1 || outlen != HASH_LEN)
        goto err;
    rc = 0;
err:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

/* H(padHex(a) || padHex(b)) as a number; used for k and u. Returns NULL on failure. */
static BIGNUM *hash_pair(const BIGNUM *a, const BIGNUM *b)
{
    unsigned char pa[PAD_MAX], pb[PAD_MAX], h[HASH_LEN];
    if (BN_num_bytes(a) >= PAD_MAX || BN_num_bytes(b) >= PAD_MAX)
        return NULL;
    const void *parts[2] = {pa, pb};
    size_t lens[2] = {pad_bytes(a, pa), pad_bytes(b, pb)};
    if (sha256_parts(parts, lens, 2, h) != 0)
        return NULL;
    return BN_bin2bn(h, HASH_LEN, NULL);
}

static void group_free(group_t *gr)
{
    BN_free(gr->N);
    BN_free(gr->g);
    BN_free(gr->k);
    BN_CTX_free(gr->bn);
    memset(gr, 0, sizeof *gr);
}

/* N, g and k = H(padHex(N) || padHex(g)). Returns 0, or -1 with gr released. */
static int group_init(group_t *gr)
{
    memset(gr, 0, sizeof *gr);
    gr->bn = BN_CTX_secure_new();
    gr->N = BN_get_rfc3526_prime_3072(NULL);
    gr->g = BN_new();
    if (gr->bn == NULL || gr->N == NULL || gr->g == NULL || BN_set_word(gr->g, 2) != 1)
        goto err;
    gr->k = hash_pair(gr->N, gr->g);
    if (gr->k == NULL)
        goto err;
    return 0;
err:
    group_free(gr);
    return -1;
}

/* Parse a group element sent as hex: 1 to 768 hex digits of either case and
 * nothing else (BN_hex2bn alone would take a sign and stop at junk). Returns
 * NULL when malformed. */
static BIGNUM *parse_hex(const char *hex)
{
    size_t len = strnlen(hex, HEX_DIGITS_MAX + 1);
    if (len == 0 || len > HEX_DIGITS_MAX)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = hex[i];
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!ok)
            return NULL;
    }
    BIGNUM *x = NULL;
    if (BN_hex2bn(&x, hex) != (int)len) {
        BN_free(x);
        return NULL;
    }
    return x;
}

/* Lowercase hex of 0 <= x < 2^3072 without leading zeros ("0" for zero), as
 * BigInteger.toString(16) prints it. Returns 0 or -1. */
static int format_hex(const BIGNUM *x, char out[AUTH_SRP_HEX_MAX])
{
    unsigned char bytes[AUTH_SRP_N_BYTES];
    char hex[HEX_DIGITS_MAX + 1];
    if (BN_bn2binpad(x, bytes, sizeof bytes) != (int)sizeof bytes)
        return -1;
    util_hex(bytes, sizeof bytes, hex);
    size_t skip = strspn(hex, "0");
    if (skip == HEX_DIGITS_MAX)
        skip = HEX_DIGITS_MAX - 1;
    memcpy(out, hex + skip, HEX_DIGITS_MAX + 1 - skip);
    return 0;
}

/* B = (k*v + g^b) mod N, with b secret. Returns 0 or -1. */
static int compute_B(group_t *gr, const BIGNUM *v, const BIGNUM *b, BIGNUM *B)
{
    int rc = -1;
    BN_CTX_start(gr->bn);
    BIGNUM *gb = BN_CTX_get(gr->bn);
    BIGNUM *kv = BN_CTX_get(gr->bn);
    if (kv == NULL)
        goto err;
    if (BN_mod_exp_mont_consttime(gb, gr->g, b, gr->N, gr->bn, NULL) != 1)
        goto err;
    if (BN_mod_mul(kv, gr->k, v, gr->N, gr->bn) != 1)
        goto err;
    if (BN_mod_add(B, kv, gb, gr->N, gr->bn) != 1)
        goto err;
    rc = 0;
err:
    /* BN_CTX_end does not wipe, and gb reveals b to anyone who also knows v. */
    if (gb != NULL)
        BN_clear(gb);
    BN_CTX_end(gr->bn);
    return rc;
}

/* A value from the verifier: 0 < v < N, else NULL. */
static BIGNUM *load_verifier(const group_t *gr, const unsigned char v[AUTH_SRP_N_BYTES])
{
    BIGNUM *x = BN_secure_new();
    if (x == NULL || BN_bin2bn(v, AUTH_SRP_N_BYTES, x) == NULL)
        goto err;
    if (BN_is_zero(x) || BN_cmp(x, gr->N) >= 0)
        goto err;
    return x;
err:
    BN_clear_free(x);
    return NULL;
}

/* The secret exponent b from its bytes, flagged for constant-time use; NULL if zero. */
static BIGNUM *load_b(const unsigned char b[AUTH_SRP_B_BYTES])
{
    BIGNUM *x = BN_secure_new();
    if (x == NULL || BN_bin2bn(b, AUTH_SRP_B_BYTES, x) == NULL || BN_is_zero(x)) {
        BN_clear_free(x);
        return NULL;
    }
    BN_set_flags(x, BN_FLG_CONSTTIME);
    return x;
}

/* Decode a PASSWORD_CLAIM_SIGNATURE: exactly 44 characters of standard
 * base64 ending in a single '=', as every client sends it. Returns 0 or -1. */
static int decode_signature(const char *b64, unsigned char out[HASH_LEN])
{
    unsigned char buf[HASH_LEN + 1]; /* EVP_DecodeBlock counts the padding byte too */
    if (strnlen(b64, SIG_B64_LEN + 1) != SIG_B64_LEN)
        return -1;
    for (size_t i = 0; i < SIG_B64_LEN - 1; i++) {
        char c = b64[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/';
        if (!ok)
            return -1;
    }
    if (b64[SIG_B64_LEN - 1] != '=')
        return -1;
    if (EVP_DecodeBlock(buf, (const unsigned char *)b64, SIG_B64_LEN) != HASH_LEN + 1)
        return -1;
    memcpy(out, buf, HASH_LEN);
    return 0;
}

int auth_srp_verifier(const char *pool_name, const char *user_id, const char *password,
                      const unsigned char *salt, size_t salt_len, unsigned char v[AUTH_SRP_N_BYTES])
{
    int rc = -1;
    group_t gr;
    unsigned char inner[HASH_LEN], xh[HASH_LEN];
    unsigned char *psalt = NULL;
    BIGNUM *s = NULL, *x = NULL, *vv = NULL;

    if (pool_name == NULL || user_id == NULL || password == NULL || salt == NULL || salt_len == 0 ||
        salt_len > SALT_MAX)
        return -1;
    if (group_init(&gr) != 0)
        return -1;

    const void *up[4] = {pool_name, user_id, ":", password};
    size_t ul[4] = {strlen(pool_name), strlen(user_id), 1, strlen(password)};
    if (sha256_parts(up, ul, 4, inner) != 0)
        goto err;

    /* The client parses SALT as a number and re-pads it, so leading zero
     * bytes of the stored salt vanish from the hash; do the same. */
    s = BN_bin2bn(salt, (int)salt_len, NULL);
    if (s == NULL)
        goto err;
    psalt = xmalloc(salt_len + 1);
    const void *xp[2] = {psalt, inner};
    size_t xl[2] = {pad_bytes(s, psalt), HASH_LEN};
    if (sha256_parts(xp, xl, 2, xh) != 0)
        goto err;

    x = BN_secure_new();
    vv = BN_secure_new();
    if (x == NULL || vv == NULL || BN_bin2bn(xh, HASH_LEN, x) == NULL)
        goto err;
    if (BN_mod_exp_mont_consttime(vv, gr.g, x, gr.N, gr.bn, NULL) != 1)
        goto err;
    if (BN_bn2binpad(vv, v, AUTH_SRP_N_BYTES) != AUTH_SRP_N_BYTES)
        goto err;
    rc = 0;
err:
    OPENSSL_cleanse(inner, sizeof inner);
    OPENSSL_cleanse(xh, sizeof xh);
    free(psalt);
    BN_free(s);
    BN_clear_free(x);
    BN_clear_free(vv);
    group_free(&gr);
    return rc;
}

int auth_srp_challenge(const unsigned char v[AUTH_SRP_N_BYTES],
                       unsigned char b_out[AUTH_SRP_B_BYTES], char B_hex[AUTH_SRP_HEX_MAX])
{
    int rc = -1;
    group_t gr;
    BIGNUM *vv = NULL, *b = NULL, *B = NULL;

    if (v == NULL || b_out == NULL || B_hex == NULL)
        return -1;
    if (group_init(&gr) != 0)
        return -1;
    vv = load_verifier(&gr, v);
    B = BN_new();
    if (vv == NULL || B == NULL)
        goto err;

    /* A zero b or a B that is 0 mod N would make the client give up; both
     * are astronomically unlikely, so a few fresh draws settle it. */
    for (int tries = 0; tries < CHALLENGE_TRIES; tries++) {
        util_random(b_out, AUTH_SRP_B_BYTES);
        BN_clear_free(b);
        b = load_b(b_out);
        if (b == NULL)
            continue;
        if (compute_B(&gr, vv, b, B) != 0)
            goto err;
        if (!BN_is_zero(B)) {
            rc = format_hex(B, B_hex);
            break;
        }
    }
err:
    if (rc != 0 && b_out != NULL)
        OPENSSL_cleanse(b_out, AUTH_SRP_B_BYTES);
    BN_clear_free(vv);
    BN_clear_free(b);
    BN_free(B);
    group_free(&gr);
    return rc;
}

int auth_srp_verify(const unsigned char v[AUTH_SRP_N_BYTES],
                    const unsigned char b[AUTH_SRP_B_BYTES], const char *A_hex, const char *B_hex,
                    const char *pool_name, const char *user_id, const unsigned char *secret_block,
                    size_t secret_block_len, const char *timestamp, const char *signature_b64)
{
    int rc = -1;
    group_t gr;
    unsigned char pu[PAD_MAX], pS[PAD_MAX], prk[HASH_LEN], K[HASH_LEN];
    unsigned char want[HASH_LEN], got[HASH_LEN];
    BIGNUM *vv = NULL, *bb = NULL, *A = NULL, *B = NULL, *Bcheck = NULL, *u = NULL;
    BIGNUM *t = NULL, *S = NULL;

    if (v == NULL || b == NULL || A_hex == NULL || B_hex == NULL || pool_name == NULL ||
        user_id == NULL || (secret_block == NULL && secret_block_len > 0) || timestamp == NULL ||
        signature_b64 == NULL)
        return -1;
    if (decode_signature(signature_b64, got) != 0)
        return -1;
    if (group_init(&gr) != 0)
        return -1;

    vv = load_verifier(&gr, v);
    bb = load_b(b);
    A = parse_hex(A_hex);
    B = parse_hex(B_hex);
    Bcheck = BN_new();
    t = BN_secure_new();
    S = BN_secure_new();
    if (vv == NULL || bb == NULL || A == NULL || B == NULL || Bcheck == NULL || t == NULL ||
        S == NULL)
        goto err;

    /* SRP's safety check is A mod N != 0; an honest client's A = g^a mod N is
     * also always below N, so anything at or above N is refused outright
     * rather than reduced, keeping padHex(A) the same number the client
     * hashed. */
    if (BN_cmp(A, gr.N) >= 0 || BN_is_zero(A))
        goto err;

    /* B_hex comes from the session the handler kept; recomputing it from v
     * and b makes sure the u we derive belongs to this very challenge. */
    if (compute_B(&gr, vv, bb, Bcheck) != 0 || BN_cmp(B, Bcheck) != 0)
        goto err;

    u = hash_pair(A, B);
    if (u == NULL || BN_is_zero(u))
        goto err;

    /* S = (A * v^u)^b mod N */
    if (BN_mod_exp_mont_consttime(t, vv, u, gr.N, gr.bn, NULL) != 1)
        goto err;
    if (BN_mod_mul(t, t, A, gr.N, gr.bn) != 1)
        goto err;
    if (BN_mod_exp_mont_consttime(S, t, bb, gr.N, gr.bn, NULL) != 1)
        goto err;

    /* PRK = HMAC(padHex(u), padHex(S)); K = HMAC(PRK, info || 0x01)[0..15] */
    const void *sp[1] = {pS};
    size_t sl[1] = {pad_bytes(S, pS)};
    if (hmac_parts(pu, pad_bytes(u, pu), sp, sl, 1, prk) != 0)
        goto err;
    const void *ip[1] = {derived_key_info};
    size_t il[1] = {sizeof derived_key_info - 1};
    if (hmac_parts(prk, HASH_LEN, ip, il, 1, K) != 0)
        goto err;

    const void *mp[4] = {pool_name, user_id, secret_block, timestamp};
    size_t ml[4] = {strlen(pool_name), strlen(user_id), secret_block_len, strlen(timestamp)};
    if (hmac_parts(K, KEY_LEN, mp, ml, 4, want) != 0)
        goto err;
    if (CRYPTO_memcmp(want, got, HASH_LEN) != 0)
        goto err;
    rc = 0;
err:
    OPENSSL_cleanse(pS, sizeof pS);
    OPENSSL_cleanse(prk, sizeof prk);
    OPENSSL_cleanse(K, sizeof K);
    OPENSSL_cleanse(want, sizeof want);
    BN_clear_free(vv);
    BN_clear_free(bb);
    BN_free(A);
    BN_free(B);
    BN_free(Bcheck);
    BN_free(u);
    BN_clear_free(t);
    BN_clear_free(S);
    group_free(&gr);
    return rc;
}

/* ---- TIMESTAMP ---- */

static const char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int name_index(const char *s, const char (*names)[4], int count)
{
    for (int i = 0; i < count; i++) {
        if (memcmp(s, names[i], 3) == 0)
            return i;
    }
    return -1;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1-12). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Strict on purpose: every client builds this string the same way (English
 * names, single spaces, two-digit time fields, literal "UTC"), so anything
 * else is not a client's timestamp. The weekday must match the date. */
int auth_srp_parse_timestamp(const char *s, int64_t *out)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (s == NULL || out == NULL)
        return -1;
    /* "Tue Aug 5 09:03:07 UTC 2025": 27 characters, 28 with a two-digit day */
    size_t len = strnlen(s, 32);
    if (len != 27 && len != 28)
        return -1;
    int dlen = (int)len - 26;

    if (s[3] != ' ' || s[7] != ' ')
        return -1;
    int wday = name_index(s, day_names, 7);
    int mon = name_index(s + 4, month_names, 12);
    int mday = util_digits(s + 8, dlen);
    const char *p = s + 8 + dlen;
    if (wday < 0 || mon < 0 || mday < 0)
        return -1;
    if (p[0] != ' ' || p[3] != ':' || p[6] != ':' || memcmp(p + 9, " UTC ", 5) != 0)
        return -1;
    int hour = util_digits(p + 1, 2);
    int min = util_digits(p + 4, 2);
    int sec = util_digits(p + 7, 2);
    int year = util_digits(p + 14, 4);
    if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
        return -1;
    if (year < 1970)
        return -1;
    int mlen = mdays[mon] + (mon == 1 && is_leap(year));
    if (mday < 1 || mday > mlen)
        return -1;

    int64_t days = days_from_civil(year, mon + 1, mday);
    /* 1970-01-01 was a Thursday */
    if ((days + 4) % 7 != wday)
        return -1;
    *out = days * 86400 + hour * 3600 + min * 60 + sec;
    return 0;
}
