/* test_sts_creds.c - unit tests for sts/creds.c: sealed session tokens and
 * the authorization decision (sts_authorize) over roles and session policies.
 *
 * A session token is the whole temporary credential sealed under the
 * session key, so these tests attack it the ways a client could: flip any
 * byte, cut it short, present it with another access key id, open it with
 * another key, wait past its expiry; and check that a rotated-out key still
 * opens the tokens it sealed.
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
#include <openssl/crypto.h>

#include "common/seal.h"
#include "common/util.h"
#include "sts/internal.h"
#include "tests/unit/testutil.h"

typedef struct fixture {
    char dir[64];
    seal_key_t key, other;
    json_t *roles;
    sts_t *s;
} fixture_t;

static const char roles_json[] =
    "[{\"name\":\"reader\",\"maxSessionDuration\":7200,\"trust\":{\"userPools\":[\"*\"]},"
    "\"policies\":[{\"Version\":\"2012-10-17\",\"Statement\":["
    "{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":"
    "\"arn:aws:s3:::uploads/${cognito-identity.amazonaws.com:sub}/*\"},"
    "{\"Effect\":\"Allow\",\"Action\":\"lambda:InvokeFunction\",\"Resource\":\"*\"},"
    "{\"Effect\":\"Deny\",\"Action\":\"lambda:InvokeFunction\",\"Resource\":"
    "\"arn:aws:lambda:us-east-1:000000000000:function:admin\"}]}]}]";

static int setup(void **state)
{
    fixture_t *f = xcalloc(1, sizeof *f);
    if (test_tmpdir(f->dir, sizeof f->dir, "creds") != 0)
        return -1;
    setenv("CLOUDLET_ROOT_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
    setenv("CLOUDLET_ROOT_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
    util_random(f->key.k, sizeof f->key.k);
    util_random(f->other.k, sizeof f->other.k);
    f->roles = json_loads(roles_json, 0, NULL);
    char err[300];
    sts_options_t o = {.data_dir = f->dir,
                       .region = "us-east-1",
                       .account_id = "000000000000",
                       .key = &f->key,
                       .roles = f->roles,
                       .identity_pools = NULL};
    if (sts_open(&f->s, &o, err, sizeof err) != 0) {
        fprintf(stderr, "sts_open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sts_close(f->s);
    json_decref(f->roles);
    test_rm_dir(f->dir);
    free(f);
    return 0;
}

/* Mint credentials for role "reader" as identity `iid`, lasting `dur`. */
static json_t *mint(fixture_t *f, const char *iid, const char *policy, int64_t now, int64_t dur)
{
    sts_session_t sess = {0, sts_role_find(f->s, "reader"), "sess", iid, "sub-1", policy, dur};
    assert_non_null(sess.role);
    json_t *c = sts_session_mint(f->s, &sess, now);
    assert_non_null(c);
    return c;
}

static const char *get(const json_t *c, const char *name)
{
    return json_string_value(json_object_get(c, name));
}

static void test_round_trip(void **state)
{
    fixture_t *f = *state;
    int64_t now = 1800000000;
    json_t *c = mint(f, "us-east-1:aaaa", NULL, now, 3600);
    assert_true(util_startswith(get(c, "AccessKeyId"), "ASIA"));
    assert_int_equal(strlen(get(c, "AccessKeyId")), 20);
    assert_int_equal(strlen(get(c, "SecretAccessKey")), 40);
    assert_int_equal(json_integer_value(json_object_get(c, "Expiration")), now + 3600);

    sts_cred_t cred;
    http_caller_t who;
    assert_int_equal(
        sts_session_open(f->s, get(c, "AccessKeyId"), get(c, "SessionToken"), now, &cred, &who),
        0);
    assert_string_equal(cred.secret, get(c, "SecretAccessKey"));
    assert_string_equal(who.access_key_id, get(c, "AccessKeyId"));
    assert_string_equal(who.arn, "arn:aws:sts::000000000000:assumed-role/reader/sess");
    assert_string_equal(who.role, "reader");
    assert_string_equal(who.identity_id, "us-east-1:aaaa");
    assert_string_equal(who.subject, "sub-1");
    assert_true(util_startswith(who.user_id, "AROA"));
    assert_non_null(strstr(who.user_id, ":sess"));
    assert_int_equal(who.root, 0);
    assert_int_equal(who.expires, now + 3600);
    /* Two mints never share a key id or secret. */
    json_t *d = mint(f, "us-east-1:aaaa", NULL, now, 3600);
    assert_string_not_equal(get(c, "AccessKeyId"), get(d, "AccessKeyId"));
    assert_string_not_equal(get(c, "SecretAccessKey"), get(d, "SecretAccessKey"));
    json_decref(c);
    json_decref(d);
}

static void test_refusals(void **state)
{
    fixture_t *f = *state;
    int64_t now = 1800000000;
    json_t *c = mint(f, "us-east-1:aaaa", NULL, now, 900);
    const char *akid = get(c, "AccessKeyId");
    char *token = xstrdup(get(c, "SessionToken"));
    size_t n = strlen(token);
    sts_cred_t cred;
    http_caller_t who;

    /* Expired: at and after the expiry. */
    assert_int_equal(sts_session_open(f->s, akid, token, now + 900, &cred, &who), STS_EEXPIRED);
    assert_int_equal(sts_session_open(f->s, akid, token, now + 899, &cred, &who), 0);
    /* Another access key id. */
    json_t *d = mint(f, "us-east-1:bbbb", NULL, now, 900);
    assert_int_equal(sts_session_open(f->s, get(d, "AccessKeyId"), token, now, &cred, &who),
                     STS_EUNKNOWNKEY);
    /* Every single-character change (to another base64 character) is refused. */
    for (size_t i = 0; i < n; i++) {
        char saved = token[i];
        token[i] = saved == 'A' ? 'B' : 'A';
        int rc = sts_session_open(f->s, akid, token, now, &cred, &who);
        token[i] = saved;
        if (rc != STS_EUNKNOWNKEY)
            fail_msg("a token changed at %zu was accepted (%d)", i, rc);
    }
    /* Cut short, empty, garbage, absurdly long. */
    for (size_t cut = 0; cut < n; cut += n / 16 + 1) {
        char *t = xstrndup(token, cut);
        assert_int_equal(sts_session_open(f->s, akid, t, now, &cred, &who), STS_EUNKNOWNKEY);
        free(t);
    }
    assert_int_equal(sts_session_open(f->s, akid, "!!not base64!!", now, &cred, &who),
                     STS_EUNKNOWNKEY);
    char *big = xmalloc(100000);
    memset(big, 'A', 99999);
    big[99999] = '\0';
    assert_int_equal(sts_session_open(f->s, akid, big, now, &cred, &who), STS_EUNKNOWNKEY);
    free(big);

    /* Sealed under another key: refused; after a rotation (the old key is
     * the previous one) it still opens. */
    f->s->key = &f->other;
    assert_int_equal(sts_session_open(f->s, akid, token, now, &cred, &who), STS_EUNKNOWNKEY);
    f->s->previous_key = &f->key;
    assert_int_equal(sts_session_open(f->s, akid, token, now, &cred, &who), 0);
    f->s->key = &f->key;
    f->s->previous_key = NULL;
    OPENSSL_cleanse(&cred, sizeof cred);
    free(token);
    json_decref(c);
    json_decref(d);
}

static void test_authorize(void **state)
{
    fixture_t *f = *state;
    int64_t now = util_now_ms() / 1000;
    sts_cred_t cred;
    http_caller_t a, b, narrow;
    json_t *ca = mint(f, "us-east-1:aaaa", NULL, now, 900);
    json_t *cb = mint(f, "us-east-1:bbbb", NULL, now, 900);
    json_t *cn = mint(f, "us-east-1:aaaa",
                      "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}}",
                      now, 900);
    assert_int_equal(sts_session_open(f->s, get(ca, "AccessKeyId"), get(ca, "SessionToken"), now,
                                      &cred, &a),
                     0);
    assert_int_equal(sts_session_open(f->s, get(cb, "AccessKeyId"), get(cb, "SessionToken"), now,
                                      &cred, &b),
                     0);
    assert_int_equal(sts_session_open(f->s, get(cn, "AccessKeyId"), get(cn, "SessionToken"), now,
                                      &cred, &narrow),
                     0);
    /* The policy variable keeps each user in their own folder. */
    assert_int_equal(sts_authorize(f->s, &a, "s3:GetObject", "arn:aws:s3:::uploads/us-east-1:aaaa/x",
                                   NULL),
                     0);
    assert_int_equal(sts_authorize(f->s, &b, "s3:GetObject", "arn:aws:s3:::uploads/us-east-1:aaaa/x",
                                   NULL),
                     STS_EDENIED);
    /* Deny beats allow. */
    assert_int_equal(sts_authorize(f->s, &a, "lambda:InvokeFunction",
                                   "arn:aws:lambda:us-east-1:000000000000:function:hello", NULL),
                     0);
    assert_int_equal(sts_authorize(f->s, &a, "lambda:InvokeFunction",
                                   "arn:aws:lambda:us-east-1:000000000000:function:admin", NULL),
                     STS_EDENIED);
    /* Not mentioned: denied. */
    assert_int_equal(sts_authorize(f->s, &a, "s3:DeleteObject",
                                   "arn:aws:s3:::uploads/us-east-1:aaaa/x", NULL),
                     STS_EDENIED);
    /* A session policy narrows: the role allows Invoke, the session does not. */
    assert_int_equal(sts_authorize(f->s, &narrow, "lambda:InvokeFunction",
                                   "arn:aws:lambda:us-east-1:000000000000:function:hello", NULL),
                     STS_EDENIED);
    assert_int_equal(sts_authorize(f->s, &narrow, "s3:GetObject",
                                   "arn:aws:s3:::uploads/us-east-1:aaaa/x", NULL),
                     0);
    /* ...and never widens: it allows s3:GetObject on *, the role only on the own folder. */
    assert_int_equal(sts_authorize(f->s, &narrow, "s3:GetObject",
                                   "arn:aws:s3:::uploads/us-east-1:bbbb/x", NULL),
                     STS_EDENIED);
    /* Root may do everything; no caller may do nothing. */
    http_caller_t root = {.root = 1};
    assert_int_equal(sts_authorize(f->s, &root, "anything:At", "*", NULL), 0);
    assert_int_equal(sts_authorize(f->s, NULL, "s3:GetObject", "*", NULL), STS_EDENIED);
    OPENSSL_cleanse(&cred, sizeof cred);
    json_decref(ca);
    json_decref(cb);
    json_decref(cn);
}

static void test_bad_config(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *roles;
        const char *want;
    } cases[] = {
        {"[{\"name\":\"r\",\"policies\":[{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\"}]}]}]",
         "roles[0].policies[0]: Statement[0]"},
        {"[{\"name\":\"bad name!\"}]", "roles[0].name"},
        {"[{\"name\":\"r\",\"maxSessionDuration\":99999}]", "roles[0].maxSessionDuration"},
        {"[{\"name\":\"r\",\"colour\":1}]", "roles[0].colour"},
        {"[{\"name\":\"r\"},{\"name\":\"r\"}]", "declared twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *roles = json_loads(cases[i].roles, 0, NULL);
        assert_non_null(roles);
        sts_options_t o = {.data_dir = f->dir,
                           .region = "us-east-1",
                           .account_id = "000000000000",
                           .key = &f->key,
                           .roles = roles};
        sts_t *s = NULL;
        char err[400] = "";
        int rc = sts_open(&s, &o, err, sizeof err);
        json_decref(roles);
        sts_close(s);
        if (rc == 0 || strstr(err, cases[i].want) == NULL)
            fail_msg("roles %s: rc %d, message \"%s\" does not name %s", cases[i].roles, rc, err,
                     cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
