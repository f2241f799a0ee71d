/* user.c - user records, passwords, codes, the outbox and the throttle.
 *
 * A user is one JSON record in table "users" under "<poolId>/<lowercased
 * username>" (usernames are case-insensitive; the record keeps the case the
 * user signed up with):
 *   {"u": username, "sub": uuid, "st": UNCONFIRMED|CONFIRMED|FORCE_CHANGE_PASSWORD|
 *    RESET_REQUIRED, "en": enabled, "c"/"m": created/modified ms,
 *    "h": argon2id encoded hash, "salt": SRP salt hex, "v": sealed verifier
 *    (base64), "a": {attribute: value}}
 *
 * Passwords are hashed with argon2id at OWASP's parameters (19 MiB, t=2,
 * p=1). The SRP verifier g^x is as cheap to attack offline as one SHA-256
 * of the password, so it is sealed under the server key (common/seal.h) with
 * the pool and sub as associated data: the store alone does not reveal it.
 *
 * Codes (confirmation 24 h, reset 1 h) are kept as HMACs under a key derived
 * from the server key, single use, with an attempt limit. Messages that a
 * real pool would e-mail go to the "outbox" table, which `cloudlet outbox`
 * prints; the server log says that a message was queued, never the code.
 */
#include "auth/internal.h"

#include <argon2.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/log.h"
#include "common/util.h"

#define T_USERS "users"
#define T_CODES "codes"
#define T_OUTBOX "outbox"
#define ARGON2_SALT_LEN 16
#define ARGON2_HASH_LEN 32
#define CODE_MAX_ATTEMPTS 5

size_t auth_user_key(const auth_pool_t *p, const char *username, char key[256])
{
    size_t n = (size_t)snprintf(key, 256, "%s/", p->id);
    for (const char *s = username; *s && n < 255; s++)
        key[n++] = (char)tolower((unsigned char)*s);
    key[n] = '\0';
    return n;
}

json_t *auth_user_get(auth_t *a, const auth_pool_t *p, const char *username)
{
    char key[256];
    size_t klen = auth_user_key(p, username, key);
    storage_view_t *v;
    const void *val;
    size_t len;
    json_t *u = NULL;
    if (storage_view_open(a->st, &v) != 0)
        return NULL;
    if (storage_view_rec_get(v, T_USERS, key, klen, &val, &len) == 0)
        u = json_loadb(val, len, 0, NULL);
    storage_view_close(v);
    return u;
}

int auth_user_put(storage_txn_t *t, const auth_pool_t *p, json_t *user, int create)
{
    char key[256];
    size_t klen = auth_user_key(p, json_string_value(json_object_get(user, "u")), key);
    json_object_set_new(user, "m", json_integer(util_now_ms()));
    char *s = json_dumps(user, JSON_COMPACT);
    int rc = storage_rec_put(t, T_USERS, key, klen, s, strlen(s), create ? STORAGE_PUT_IF_ABSENT : 0);
    free(s);
    return rc;
}

/* ---- passwords ---- */

const char *auth_password_problem(const auth_pool_t *p, const char *pw)
{
    int up = 0, lo = 0, di = 0, sy = 0;
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)pw; *s; s++) {
        /* Count characters, not bytes: UTF-8 continuation bytes do not start one. */
        if ((*s & 0xc0) != 0x80)
            n++;
        if (*s >= 'A' && *s <= 'Z')
            up = 1;
        else if (*s >= 'a' && *s <= 'z')
            lo = 1;
        else if (*s >= '0' && *s <= '9')
            di = 1;
        else if (strchr("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ", *s) != NULL)
            sy = 1;
    }
    if (n < p->min_length)
        return "Password did not conform with policy: Password not long enough";
    if (p->req_upper && !up)
        return "Password did not conform with policy: Password must have uppercase characters";
    if (p->req_lower && !lo)
        return "Password did not conform with policy: Password must have lowercase characters";
    if (p->req_digits && !di)
        return "Password did not conform with policy: Password must have numeric characters";
    if (p->req_symbols && !sy)
        return "Password did not conform with policy: Password must have symbol characters";
    return NULL;
}

static char *hash_password(const char *password)
{
    unsigned char salt[ARGON2_SALT_LEN];
    util_random(salt, sizeof salt);
    size_t elen = argon2_encodedlen(AUTH_ARGON2_T, AUTH_ARGON2_M_KIB, AUTH_ARGON2_P,
                                    ARGON2_SALT_LEN, ARGON2_HASH_LEN, Argon2_id);
    char *enc = xmalloc(elen);
    if (argon2id_hash_encoded(AUTH_ARGON2_T, AUTH_ARGON2_M_KIB, AUTH_ARGON2_P, password,
                              strlen(password), salt, sizeof salt, ARGON2_HASH_LEN, enc,
                              elen) != ARGON2_OK) {
        free(enc);
        return NULL;
    }
    return enc;
}

int auth_user_check_password(auth_t *a, const json_t *user, const char *password)
{
    const char *h = user ? json_string_value(json_object_get(user, "h")) : NULL;
    if (h == NULL) {
        /* Unknown user (or one without a password): spend the same time. */
        argon2id_verify(a->dummy_hash, password, strlen(password));
        return 0;
    }
    return argon2id_verify(h, password, strlen(password)) == ARGON2_OK;
}

static void verifier_aad(const auth_pool_t *p, const json_t *user, char aad[128])
{
    snprintf(aad, 128, "srp-verifier:%s/%s", p->id,
             json_string_value(json_object_get(user, "sub")));
}

int auth_user_set_password(auth_t *a, const auth_pool_t *p, json_t *user, const char *password)
{
    char *h = hash_password(password);
    if (h == NULL)
        return -1;
    json_object_set_new(user, "h", json_string(h));
    free(h);
    json_object_del(user, "salt");
    json_object_del(user, "v");
    if (!auth_pool_wants_srp((auth_pool_t *)p))
        return 0;
    unsigned char salt[AUTH_SRP_SALT_BYTES], v[AUTH_SRP_N_BYTES];
    unsigned char sealed[AUTH_SRP_N_BYTES + SEAL_OVERHEAD];
    char salt_hex[2 * AUTH_SRP_SALT_BYTES + 1], aad[128];
    util_random(salt, sizeof salt);
    /* USER_ID_FOR_SRP is the stored username: the challenge sends exactly it. */
    if (auth_srp_verifier(p->suffix, json_string_value(json_object_get(user, "u")), password,
                          salt, sizeof salt, v) != 0)
        return -1;
    verifier_aad(p, user, aad);
    size_t n = seal(a->key, aad, v, sizeof v, sealed);
    OPENSSL_cleanse(v, sizeof v);
    util_hex(salt, sizeof salt, salt_hex);
    char *b64 = util_base64(sealed, n);
    json_object_set_new(user, "salt", json_string(salt_hex));
    json_object_set_new(user, "v", json_string(b64));
    free(b64);
    return 0;
}

int auth_user_verifier(auth_t *a, const auth_pool_t *p, const json_t *user,
                       unsigned char v[AUTH_SRP_N_BYTES], unsigned char *salt, size_t *salt_len)
{
    const char *vb = json_string_value(json_object_get(user, "v"));
    const char *sh = json_string_value(json_object_get(user, "salt"));
    if (vb == NULL || sh == NULL || strlen(sh) != 2 * AUTH_SRP_SALT_BYTES)
        return -1;
    unsigned char sealed[AUTH_SRP_N_BYTES + SEAL_OVERHEAD + 8];
    long n = util_base64_decode(vb, strlen(vb), sealed, sizeof sealed);
    char aad[128];
    verifier_aad(p, user, aad);
    unsigned char plain[AUTH_SRP_N_BYTES + 8];
    if (n < 0 || seal_open(a->key, aad, sealed, (size_t)n, plain) != AUTH_SRP_N_BYTES)
        return -1;
    memcpy(v, plain, AUTH_SRP_N_BYTES);
    OPENSSL_cleanse(plain, sizeof plain);
    for (size_t i = 0; i < AUTH_SRP_SALT_BYTES; i++)
        salt[i] = (unsigned char)(util_hexval(sh[2 * i]) << 4 | util_hexval(sh[2 * i + 1]));
    *salt_len = AUTH_SRP_SALT_BYTES;
    return 0;
}

/* ---- codes ---- */

static void code_mac(auth_t *a, const char *key, const char *code, char hex[65])
{
    unsigned char mac[32];
    unsigned int len = 0;
    char msg[400];
    int n = snprintf(msg, sizeof msg, "code:%s:%s", key, code);
    HMAC(EVP_sha256(), a->key->k, SEAL_KEY_BYTES, (const unsigned char *)msg, (size_t)n, mac,
         &len);
    util_hex(mac, sizeof mac, hex);
}

static size_t code_key(const auth_pool_t *p, const char *username, const char *purpose,
                       char key[300])
{
    char ukey[256];
    auth_user_key(p, username, ukey);
    return (size_t)snprintf(key, 300, "%s/%s", ukey, purpose);
}

int auth_code_new(auth_t *a, storage_txn_t *t, const auth_pool_t *p, const char *username,
                  const char *purpose, int64_t ttl_s, char code[7])
{
    uint32_t r;
    /* Rejection sampling keeps the six digits uniform. */
    do {
        util_random(&r, sizeof r);
    } while (r >= 4294000000u);
    snprintf(code, 7, "%06u", (unsigned)(r % 1000000u));
    char key[300], mac[65];
    size_t klen = code_key(p, username, purpose, key);
    code_mac(a, key, code, mac);
    json_t *rec = json_pack("{s:s, s:I, s:i}", "h", mac, "e",
                            (json_int_t)(util_now_ms() + ttl_s * 1000), "n", 0);
    char *s = json_dumps(rec, JSON_COMPACT);
    int rc = storage_rec_put(t, T_CODES, key, klen, s, strlen(s), 0);
    free(s);
    json_decref(rec);
    return rc;
}

int auth_code_check(auth_t *a, const auth_pool_t *p, const char *username, const char *purpose,
                    const char *code)
{
    char key[300], mac[65];
    size_t klen = code_key(p, username, purpose, key);
    storage_txn_t *t;
    if (storage_txn_begin(a->st, &t) != 0)
        return -2;
    const void *val;
    size_t len;
    int result = -2;
    json_t *rec = NULL;
    if (storage_rec_get(t, T_CODES, key, klen, &val, &len) != 0)
        goto out;
    rec = json_loadb(val, len, 0, NULL);
    const char *h = json_string_value(json_object_get(rec, "h"));
    json_int_t exp = json_integer_value(json_object_get(rec, "e"));
    json_int_t tries = json_integer_value(json_object_get(rec, "n"));
    if (h == NULL || strlen(h) != 64 || exp < util_now_ms()) {
        storage_rec_del(t, T_CODES, key, klen);
        goto out;
    }
    code_mac(a, key, strlen(code) <= 16 ? code : "", mac);
    if (CRYPTO_memcmp(mac, h, 64) == 0) {
        storage_rec_del(t, T_CODES, key, klen);
        result = 0;
        goto out;
    }
    if (tries + 1 >= CODE_MAX_ATTEMPTS) {
        storage_rec_del(t, T_CODES, key, klen);
        result = -3;
        goto out;
    }
    json_object_set_new(rec, "n", json_integer(tries + 1));
    char *s = json_dumps(rec, JSON_COMPACT);
    storage_rec_put(t, T_CODES, key, klen, s, strlen(s), 0);
    free(s);
    result = -1;
out:
    json_decref(rec);
    if (storage_txn_commit(t) != 0)
        return -2;
    return result;
}

/* ---- outbox ---- */

int auth_outbox_put(storage_txn_t *t, const auth_pool_t *p, const char *username,
                    const char *destination, const char *kind, const char *code,
                    const char *message)
{
    /* Keys sort by time: 8 bytes of big-endian milliseconds, 4 random. */
    int64_t now = util_now_ms();
    unsigned char key[12];
    for (int i = 0; i < 8; i++)
        key[i] = (unsigned char)((uint64_t)now >> (56 - 8 * i));
    util_random(key + 8, 4);
    char ts[25];
    util_iso8601_ms(now, ts);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "time", ts, "pool", p->id,
                            "username", username, "destination", destination, "kind", kind,
                            "code", code, "message", message);
    char *s = json_dumps(rec, JSON_COMPACT);
    int rc = storage_rec_put(t, T_OUTBOX, key, sizeof key, s, strlen(s), 0);
    OPENSSL_cleanse(s, strlen(s));
    free(s);
    json_decref(rec);
    if (rc == 0)
        log_info("auth: queued a %s message for user %s of pool %s in the outbox "
                 "(read it with `cloudlet outbox`)",
                 kind, username, p->id);
    return rc;
}

/* ---- housekeeping ---- */

#define OUTBOX_KEEP 1000

typedef struct prune_ctx {
    json_t *keys;   /* keys to delete, as base64 strings (outbox keys are binary) */
    size_t total;   /* outbox entries seen */
    int64_t now_ms;
    const char *table;
} prune_ctx_t;

static int count_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    ((prune_ctx_t *)ctx)->total++;
    return 0;
}

static void prune_add(prune_ctx_t *pc, const void *key, size_t key_len)
{
    char *k = util_base64(key, key_len);
    json_array_append_new(pc->keys, json_string(k));
    free(k);
}

static int outbox_old_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    prune_ctx_t *pc = ctx;
    if (pc->total <= OUTBOX_KEEP)
        return 1;
    pc->total--;
    prune_add(pc, key, key_len);
    return 0;
}

/* Records whose JSON has an expiry field past: sessions ("e", seconds) and codes ("e", ms). */
static int expired_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    prune_ctx_t *pc = ctx;
    json_t *r = json_loadb(val, len, 0, NULL);
    json_int_t e = json_integer_value(json_object_get(r, "e"));
    int64_t now = strcmp(pc->table, "sessions") == 0 ? pc->now_ms / 1000 : pc->now_ms;
    if (r != NULL && e < now)
        prune_add(pc, key, key_len);
    json_decref(r);
    return json_array_size(pc->keys) >= 10000; /* a bounded amount per pass */
}

int auth_prune(auth_t *a)
{
    static const char *const tables[] = {"outbox", "sessions", "codes"};
    int removed = 0;
    for (size_t i = 0; i < 3; i++) {
        prune_ctx_t pc = {json_array(), 0, util_now_ms(), tables[i]};
        storage_view_t *v;
        if (storage_view_open(a->st, &v) != 0) {
            json_decref(pc.keys);
            return -1;
        }
        if (i == 0) {
            storage_view_rec_scan(v, T_OUTBOX, "", 0, count_cb, &pc);
            storage_view_rec_scan(v, T_OUTBOX, "", 0, outbox_old_cb, &pc);
        } else {
            storage_view_rec_scan(v, tables[i], "", 0, expired_cb, &pc);
        }
        storage_view_close(v);
        storage_txn_t *t;
        if (json_array_size(pc.keys) > 0 && storage_txn_begin(a->st, &t) == 0) {
            size_t k;
            json_t *j;
            json_array_foreach(pc.keys, k, j)
            {
                unsigned char key[STORAGE_REC_MAX_KEY];
                const char *b64 = json_string_value(j);
                long n = util_base64_decode(b64, strlen(b64), key, sizeof key);
                if (n > 0 && storage_rec_del(t, tables[i], key, (size_t)n) == 0)
                    removed++;
            }
            storage_txn_commit(t);
        }
        json_decref(pc.keys);
    }
    return removed;
}

typedef struct outbox_ctx {
    json_t **items;
    unsigned limit;
    unsigned count; /* total seen; the ring keeps the newest `limit` */
} outbox_ctx_t;

static int outbox_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    outbox_ctx_t *oc = ctx;
    json_t *m = json_loadb(val, len, 0, NULL);
    if (m == NULL)
        return 0;
    unsigned slot = oc->count % oc->limit;
    json_decref(oc->items[slot]);
    oc->items[slot] = m;
    oc->count++;
    return 0;
}

int auth_outbox_print(storage_t *st, FILE *out, int json, unsigned limit)
{
    if (limit == 0)
        limit = 50;
    storage_view_t *v;
    int rc = storage_view_open(st, &v);
    if (rc != 0)
        return rc;
    outbox_ctx_t oc = {xcalloc(limit, sizeof(json_t *)), limit, 0};
    rc = storage_view_rec_scan(v, T_OUTBOX, "", 0, outbox_cb, &oc);
    storage_view_close(v);
    unsigned n = oc.count < limit ? oc.count : limit;
    unsigned first = oc.count < limit ? 0 : oc.count % limit;
    for (unsigned i = 0; i < n; i++) {
        json_t *m = oc.items[(first + i) % limit];
        if (json) {
            char *s = json_dumps(m, JSON_COMPACT);
            fprintf(out, "%s\n", s);
            free(s);
        } else {
            fprintf(out, "%s  %s  %-16s %-24s to %s: %s\n",
                    json_string_value(json_object_get(m, "time")),
                    json_string_value(json_object_get(m, "pool")),
                    json_string_value(json_object_get(m, "kind")),
                    json_string_value(json_object_get(m, "username")),
                    json_string_value(json_object_get(m, "destination")),
                    json_string_value(json_object_get(m, "message")));
        }
    }
    for (unsigned i = 0; i < limit; i++)
        json_decref(oc.items[i]);
    free(oc.items);
    return rc < 0 ? rc : (int)n;
}

/* ---- the throttle of failed log-ins ----
 *
 * A fixed table of counters keyed by "u:<userkey>" and "a:<address>",
 * each counting failures inside a window of lockout_seconds from its first
 * failure. Fixed size so that a flood of usernames cannot grow memory: a
 * full neighbourhood evicts its oldest entry. */

#define THROTTLE_SLOTS 4096
#define THROTTLE_PROBE 8
#define THROTTLE_KEY 272

typedef struct slot {
    char key[THROTTLE_KEY];
    int64_t start_ms;
    unsigned fails;
} slot_t;

struct throttle {
    pthread_mutex_t lock;
    slot_t slots[THROTTLE_SLOTS];
};

throttle_t *auth_throttle_new(void)
{
    throttle_t *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void auth_throttle_free(throttle_t *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot for key (created when `create`), or NULL. Caller holds the lock. */
static slot_t *find_slot(auth_t *a, const char *key, int create)
{
    throttle_t *t = a->throttle;
    int64_t now = util_now_ms();
    int64_t window = (int64_t)a->lockout_seconds * 1000;
    uint32_t h = fnv(key);
    slot_t *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < THROTTLE_PROBE; i++) {
        slot_t *s = &t->slots[(h + (uint32_t)i) % THROTTLE_SLOTS];
        int live = s->key[0] != '\0' && now - s->start_ms <= window;
        if (s->key[0] != '\0' && strcmp(s->key, key) == 0) {
            if (!live) {
                s->fails = 0;
                s->start_ms = now;
            }
            return s;
        }
        if (!live && free_slot == NULL)
            free_slot = s;
        else if (live && (oldest == NULL || s->start_ms < oldest->start_ms))
            oldest = s;
    }
    slot_t *victim = free_slot != NULL ? free_slot : oldest;
    if (!create)
        return NULL;
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->start_ms = now;
    victim->fails = 0;
    return victim;
}

int auth_throttle_check(auth_t *a, const char *userkey, const char *addr)
{
    char k[THROTTLE_KEY];
    int verdict = 0;
    pthread_mutex_lock(&a->throttle->lock);
    snprintf(k, sizeof k, "a:%s", addr ? addr : "-");
    slot_t *s = find_slot(a, k, 0);
    if (s != NULL && s->fails >= a->max_failed_addr)
        verdict = 2;
    snprintf(k, sizeof k, "u:%s", userkey);
    s = verdict ? NULL : find_slot(a, k, 0);
    if (s != NULL && s->fails >= a->max_failed_user)
        verdict = 1;
    pthread_mutex_unlock(&a->throttle->lock);
    return verdict;
}

void auth_throttle_fail(auth_t *a, const char *userkey, const char *addr)
{
    char k[THROTTLE_KEY];
    pthread_mutex_lock(&a->throttle->lock);
    snprintf(k, sizeof k, "a:%s", addr ? addr : "-");
    find_slot(a, k, 1)->fails++;
    snprintf(k, sizeof k, "u:%s", userkey);
    find_slot(a, k, 1)->fails++;
    pthread_mutex_unlock(&a->throttle->lock);
}

void auth_throttle_reset(auth_t *a, const char *userkey)
{
    char k[THROTTLE_KEY];
    pthread_mutex_lock(&a->throttle->lock);
    snprintf(k, sizeof k, "u:%s", userkey);
    slot_t *s = find_slot(a, k, 0);
    if (s != NULL)
        s->fails = 0;
    pthread_mutex_unlock(&a->throttle->lock);
}
