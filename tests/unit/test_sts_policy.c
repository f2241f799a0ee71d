/* test_sts_policy.c - unit tests for the IAM policy evaluator (sts/policy.c).
 *
 * Policies are written inline with '`' for '"' so that they stay readable;
 * load() turns them into JSON. The expectations follow IAM's documented
 * behaviour: explicit deny wins, actions compare case-insensitively and
 * resources case-sensitively, policy variables are substituted (only under
 * Version 2012-10-17) as literal text that can never act as a wildcard, a
 * variable without a value makes its pattern match nothing, negated
 * condition operators hold for a missing key, and a document that fails
 * validation never allows but still denies.
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

#include "common/http.h"
#include "common/util.h"
#include "sts/internal.h"

#define ACCT "000000000000"
#define NOW ((int64_t)1790000000) /* 2026-09-21T14:13:20Z */
#define V12 "{`Version`:`2012-10-17`,`Statement`:"
#define V08 "{`Version`:`2008-10-17`,`Statement`:"
#define BUCKET "arn:aws:s3:::uploads"
#define ID_A "us-east-1:aaaa-1111"
#define ID_B "us-east-1:bbbb-2222"

/* ---- helpers ---- */

/* Parse text with '`' standing for '"'; fails the test on bad JSON. Caller decrefs. */
static json_t *load(const char *text)
{
    char *s = xstrdup(text);
    for (char *p = s; *p != '\0'; p++) {
        if (*p == '`')
            *p = '"';
    }
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (j == NULL)
        fail_msg("bad JSON in test: %s: %s", e.text, s);
    free(s);
    return j;
}

/* A caller that assumed role `role` through Cognito identity `identity`. */
static http_caller_t role_caller(const char *role, const char *identity)
{
    http_caller_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.access_key_id, sizeof c.access_key_id, "ASIAEXAMPLEEXAMPLE12");
    snprintf(c.arn, sizeof c.arn,
             "arn:aws:sts::" ACCT ":assumed-role/%s/CognitoIdentityCredentials", role);
    snprintf(c.user_id, sizeof c.user_id, "AROAEXAMPLEROLEID:CognitoIdentityCredentials");
    snprintf(c.account, sizeof c.account, ACCT);
    snprintf(c.role, sizeof c.role, "%s", role);
    snprintf(c.identity_id, sizeof c.identity_id, "%s", identity);
    return c;
}

/* An IAM user arn:aws:iam::ACCT:user/division/<name>. */
static http_caller_t user_caller(const char *name)
{
    http_caller_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.arn, sizeof c.arn, "arn:aws:iam::" ACCT ":user/division/%s", name);
    snprintf(c.user_id, sizeof c.user_id, "AIDAEXAMPLEUSER");
    snprintf(c.account, sizeof c.account, ACCT);
    return c;
}

static http_caller_t root_caller(void)
{
    http_caller_t c;
    memset(&c, 0, sizeof c);
    c.root = 1;
    snprintf(c.arn, sizeof c.arn, "arn:aws:iam::" ACCT ":root");
    snprintf(c.user_id, sizeof c.user_id, ACCT);
    snprintf(c.account, sizeof c.account, ACCT);
    return c;
}

/* Evaluate policy text for one request; ctx is JSON text (backticks) or NULL. */
static int eval_at(const char *policy, const char *action, const char *resource,
                   const http_caller_t *c, int64_t now, const char *ctx)
{
    json_t *doc = load(policy);
    json_t *cx = ctx != NULL ? load(ctx) : NULL;
    sts_policy_req_t req = {action, resource, c, now, cx};
    int r = sts_policy_eval(doc, &req);
    json_decref(doc);
    json_decref(cx);
    return r;
}

static int eval_ctx(const char *policy, const char *action, const char *resource,
                    const http_caller_t *c, const char *ctx)
{
    return eval_at(policy, action, resource, c, NOW, ctx);
}

static int eval(const char *policy, const char *action, const char *resource,
                const http_caller_t *c)
{
    return eval_at(policy, action, resource, c, NOW, NULL);
}

/* Validate policy text: returns the result, with the message in err. */
static int validate(const char *policy, char *err, size_t errsz)
{
    json_t *doc = load(policy);
    err[0] = '\0';
    int r = sts_policy_validate(doc, err, errsz);
    json_decref(doc);
    return r;
}

/* Assert that policy text is refused with a message containing `want`. */
#define assert_invalid(policy, want)                                                               \
    do {                                                                                           \
        char err_[256];                                                                            \
        assert_int_equal(validate((policy), err_, sizeof err_), -1);                               \
        if (strstr(err_, (want)) == NULL)                                                          \
            fail_msg("message \"%s\" lacks \"%s\"", err_, (want));                                 \
    } while (0)

#define assert_valid(policy)                                                                       \
    do {                                                                                           \
        char err_[256];                                                                            \
        if (validate((policy), err_, sizeof err_) != 0)                                            \
            fail_msg("refused: %s", err_);                                                         \
    } while (0)

/* ---- Effect, Action, Resource ---- */

static void test_allow_deny_none(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    const char *p = V12 "[{`Effect`:`Allow`,`Action`:`s3:GetObject`,`Resource`:`" BUCKET "/*`}]}";
    assert_valid(p);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/x", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:PutObject", BUCKET "/x", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", "arn:aws:s3:::other/x", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET, &a), STS_POLICY_NONE);

    /* A single statement object, arrays of actions and resources. */
    p = V12 "{`Sid`:`One`,`Effect`:`Allow`,`Action`:[`s3:PutObject`,`s3:GetObject`],"
            "`Resource`:[`arn:aws:s3:::a/*`,`" BUCKET "/*`]}}";
    assert_valid(p);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/k", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:DeleteObject", BUCKET "/k", &a), STS_POLICY_NONE);

    p = V12 "{`Effect`:`Deny`,`Action`:`s3:GetObject`,`Resource`:`*`}}";
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/k", &a), STS_POLICY_DENY);

    /* No statements at all: nothing is allowed. */
    assert_int_equal(eval(V12 "[]}", "s3:GetObject", BUCKET "/k", &a), STS_POLICY_NONE);
    assert_int_equal(eval("{`Version`:`2012-10-17`}", "s3:GetObject", BUCKET, &a), STS_POLICY_NONE);
}

static void test_deny_wins(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    /* Deny after, and before, the allow; in separate statements. */
    const char *after =
        V12 "[{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`},"
            "{`Effect`:`Deny`,`Action`:`s3:DeleteObject`,`Resource`:`" BUCKET "/*`}]}";
    const char *before = V12 "[{`Effect`:`Deny`,`Action`:`s3:DeleteObject`,`Resource`:`" BUCKET
                             "/*`},{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`}]}";
    assert_int_equal(eval(after, "s3:DeleteObject", BUCKET "/k", &a), STS_POLICY_DENY);
    assert_int_equal(eval(before, "s3:DeleteObject", BUCKET "/k", &a), STS_POLICY_DENY);
    assert_int_equal(eval(after, "s3:GetObject", BUCKET "/k", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(before, "s3:DeleteObject", "arn:aws:s3:::other/k", &a), STS_POLICY_ALLOW);

    /* The same action allowed and denied by identical statements. */
    const char *same = V12 "[{`Effect`:`Allow`,`Action`:`lambda:InvokeFunction`,`Resource`:`*`},"
                           "{`Effect`:`Deny`,`Action`:`lambda:InvokeFunction`,`Resource`:`*`}]}";
    assert_int_equal(
        eval(same, "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:" ACCT ":function:f", &a),
        STS_POLICY_DENY);
}

static void test_not_action_not_resource(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    const char *p = V12 "{`Effect`:`Allow`,`NotAction`:[`s3:Delete*`,`iam:*`],`Resource`:`*`}}";
    assert_valid(p);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/k", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:DeleteObject", BUCKET "/k", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "iam:CreateUser", "*", &a), STS_POLICY_NONE);

    p = V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`NotResource`:`arn:aws:s3:::secret/*`}}";
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/k", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:GetObject", "arn:aws:s3:::secret/k", &a), STS_POLICY_NONE);

    /* Deny everything outside the caller's bucket. */
    p = V12 "[{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`},"
            "{`Effect`:`Deny`,`Action`:`*`,`NotResource`:[`" BUCKET "`,`" BUCKET "/*`]}]}";
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/k", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:GetObject", "arn:aws:s3:::other/k", &a), STS_POLICY_DENY);
}

static void test_case_rules(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    const char *p = V12 "{`Effect`:`Allow`,`Action`:`S3:getobject`,`Resource`:`" BUCKET "/Key`}}";
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/Key", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:GETOBJECT", BUCKET "/Key", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/key", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", "arn:aws:s3:::Uploads/Key", &a), STS_POLICY_NONE);
}

static void test_wildcards(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    const char *p = V12 "{`Effect`:`Allow`,`Action`:[`s3:Get*`,`dynamodb:?etItem`],"
                        "`Resource`:[`" BUCKET "/??.txt`,`" BUCKET "/*/photo-*.jpg`]}}";
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/ab.txt", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:GetObjectAcl", BUCKET "/ab.txt", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "dynamodb:GetItem", BUCKET "/ab.txt", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "dynamodb:PutItem", BUCKET "/ab.txt", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "dynamodb:BatchGetItem", BUCKET "/ab.txt", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:PutObject", BUCKET "/ab.txt", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/abc.txt", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/a.txt", &a), STS_POLICY_NONE);
    /* '*' spans '/' in a resource; the literal tail must still match. */
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/x/y/photo-1.jpg", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/x/photo-1.png", &a), STS_POLICY_NONE);
    /* '?' is one character, also when it takes two bytes in UTF-8. */
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/\xc3\xa9\xc3\xa9.txt", &a), STS_POLICY_ALLOW);

    const char *all = V12 "{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`}}";
    assert_int_equal(eval(all, "sts:AssumeRole", "arn:aws:iam::" ACCT ":role/R", &a),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval(all, "s3:ListBucket", "", &a), STS_POLICY_ALLOW);
}

/* ---- policy variables ---- */

static void test_variables_resource(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    http_caller_t b = role_caller("Authenticated", ID_B);
    http_caller_t star = role_caller("Authenticated", "*");
    http_caller_t region_star = role_caller("Authenticated", "us-east-1:*");
    const char *p = V12 "{`Effect`:`Allow`,`Action`:[`s3:GetObject`,`s3:PutObject`],"
                        "`Resource`:`" BUCKET "/${cognito-identity.amazonaws.com:sub}/*`}}";
    assert_valid(p);
    assert_int_equal(eval(p, "s3:PutObject", BUCKET "/" ID_A "/photo.jpg", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:PutObject", BUCKET "/" ID_B "/photo.jpg", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:PutObject", BUCKET "/" ID_B "/photo.jpg", &b), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:PutObject", BUCKET "/" ID_A "/photo.jpg", &b), STS_POLICY_NONE);

    /* Wildcards in a substituted value are literal characters. */
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/" ID_A "/photo.jpg", &star), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/" ID_A "/photo.jpg", &region_star),
                     STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/*/photo.jpg", &star), STS_POLICY_ALLOW);
    http_caller_t q = role_caller("Authenticated", "us-east-1:aaaa-111?");
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/" ID_A "/photo.jpg", &q), STS_POLICY_NONE);

    /* aws:username exists for IAM users only; aws:userid for everyone. */
    http_caller_t alice = user_caller("alice");
    const char *u =
        V12 "{`Effect`:`Allow`,`Action`:`s3:*`,"
            "`Resource`:[`" BUCKET "/home/${aws:username}/*`,`" BUCKET "/ids/${aws:userid}`]}}";
    assert_int_equal(eval(u, "s3:GetObject", BUCKET "/home/alice/f", &alice), STS_POLICY_ALLOW);
    assert_int_equal(eval(u, "s3:GetObject", BUCKET "/home/bob/f", &alice), STS_POLICY_NONE);
    assert_int_equal(eval(u, "s3:GetObject", BUCKET "/home/Authenticated/f", &a), STS_POLICY_NONE);
    assert_int_equal(eval(u, "s3:GetObject", BUCKET "/home//f", &a), STS_POLICY_NONE);
    assert_int_equal(eval(u, "s3:GetObject", BUCKET "/ids/AIDAEXAMPLEUSER", &alice),
                     STS_POLICY_ALLOW);
    assert_int_equal(
        eval(u, "s3:GetObject", BUCKET "/ids/AROAEXAMPLEROLEID:CognitoIdentityCredentials", &a),
        STS_POLICY_ALLOW);

    /* A default value stands in for a missing variable, literally. */
    const char *d = V12 "{`Effect`:`Allow`,`Action`:`s3:*`,"
                        "`Resource`:`" BUCKET "/home/${aws:username, 'guest*'}/f`}}";
    assert_valid(d);
    assert_int_equal(eval(d, "s3:GetObject", BUCKET "/home/guest*/f", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(d, "s3:GetObject", BUCKET "/home/guests/f", &a), STS_POLICY_NONE);
    assert_int_equal(eval(d, "s3:GetObject", BUCKET "/home/alice/f", &alice), STS_POLICY_ALLOW);

    /* Before 2012-10-17 there are no variables: the text is literal. */
    const char *old = V08 "{`Effect`:`Allow`,`Action`:`s3:*`,"
                          "`Resource`:`" BUCKET "/${cognito-identity.amazonaws.com:sub}/*`}}";
    assert_valid(old);
    assert_int_equal(eval(old, "s3:GetObject", BUCKET "/" ID_A "/x", &a), STS_POLICY_NONE);
    assert_int_equal(
        eval(old, "s3:GetObject", BUCKET "/${cognito-identity.amazonaws.com:sub}/x", &a),
        STS_POLICY_ALLOW);
}

static void test_variable_escapes(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    const char *p = V12 "{`Effect`:`Allow`,`Action`:`s3:*`,"
                        "`Resource`:[`" BUCKET "/star-${*}`,`" BUCKET "/q-${?}`,`" BUCKET
                        "/cost-${$}5`,`" BUCKET "/lit-${$}{aws:username}`]}}";
    assert_valid(p);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/star-*", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/star-x", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/star-", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/q-?", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/q-x", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/cost-$5", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/lit-${aws:username}", &a), STS_POLICY_ALLOW);
}

static void test_unknown_variable(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    http_caller_t anon = role_caller("Unauthenticated", "");
    const char *p =
        V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:[`" BUCKET "/${aws:nosuchkey}*`,`" BUCKET
            "/${cognito-identity.amazonaws.com:sub}*`]}}";
    assert_valid(p);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/x", &a), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/" ID_A "x", &a), STS_POLICY_ALLOW);
    /* An empty identity id is no identity: the pattern must not become a bare wildcard. */
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/x", &anon), STS_POLICY_NONE);
    assert_int_equal(eval(p, "s3:GetObject", BUCKET "/x", NULL), STS_POLICY_NONE);

    /* In NotResource the statement does not apply rather than widening. */
    const char *n =
        V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`NotResource`:`" BUCKET "/${aws:username}/*`}}";
    assert_int_equal(eval(n, "s3:GetObject", BUCKET "/x/y", &a), STS_POLICY_NONE);
    http_caller_t alice = user_caller("alice");
    assert_int_equal(eval(n, "s3:GetObject", BUCKET "/bob/y", &alice), STS_POLICY_ALLOW);
    assert_int_equal(eval(n, "s3:GetObject", BUCKET "/alice/y", &alice), STS_POLICY_NONE);

    /* In a condition: the statement does not apply. */
    const char *c = V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`,`Condition`:"
                        "{`StringNotEquals`:{`s3:prefix`:`${aws:username}`}}}}";
    assert_int_equal(eval_ctx(c, "s3:ListBucket", BUCKET, &a, "{`s3:prefix`:`x`}"),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(c, "s3:ListBucket", BUCKET, &alice, "{`s3:prefix`:`x`}"),
                     STS_POLICY_ALLOW);

    /* Malformed variables are refused when validating. */
    assert_invalid(V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`" BUCKET "/${aws:username`}}",
                   "Statement: Resource");
    assert_invalid(V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`" BUCKET "/${a b}`}}",
                   "malformed policy variable");
}

/* ---- conditions ---- */

#define COND(c) V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`,`Condition`:" c "}}"

static void test_condition_strings(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    const char *ctx = "{`s3:prefix`:`Photos/2024`}";

    assert_int_equal(
        eval(COND("{`StringEquals`:{`aws:PrincipalAccount`:`" ACCT "`}}"), "s3:GetObject", "x", &a),
        STS_POLICY_ALLOW);
    assert_int_equal(eval(COND("{`StringEquals`:{`aws:PrincipalAccount`:`111111111111`}}"),
                          "s3:GetObject", "x", &a),
                     STS_POLICY_NONE);
    /* Values within a key OR; key names are case-insensitive. */
    assert_int_equal(eval_ctx(COND("{`StringEquals`:{`S3:Prefix`:[`a`,`Photos/2024`]}}"),
                              "s3:ListBucket", BUCKET, &a, ctx),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(COND("{`StringEquals`:{`s3:prefix`:`photos/2024`}}"), "s3:ListBucket",
                              BUCKET, &a, ctx),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`StringNotEquals`:{`s3:prefix`:`photos/2024`}}"),
                              "s3:ListBucket", BUCKET, &a, ctx),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(COND("{`StringNotEquals`:{`s3:prefix`:[`x`,`Photos/2024`]}}"),
                              "s3:ListBucket", BUCKET, &a, ctx),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`StringEqualsIgnoreCase`:{`s3:prefix`:`PHOTOS/2024`}}"),
                              "s3:ListBucket", BUCKET, &a, ctx),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(COND("{`StringNotEqualsIgnoreCase`:{`s3:prefix`:`PHOTOS/2024`}}"),
                              "s3:ListBucket", BUCKET, &a, ctx),
                     STS_POLICY_NONE);
    /* StringEquals takes '*' literally; StringLike does not. */
    assert_int_equal(eval_ctx(COND("{`StringEquals`:{`s3:prefix`:`Photos/*`}}"), "s3:ListBucket",
                              BUCKET, &a, ctx),
                     STS_POLICY_NONE);
    assert_int_equal(
        eval_ctx(COND("{`StringLike`:{`s3:prefix`:`Photos/*`}}"), "s3:ListBucket", BUCKET, &a, ctx),
        STS_POLICY_ALLOW);
    assert_int_equal(
        eval_ctx(COND("{`StringLike`:{`s3:prefix`:`photos/*`}}"), "s3:ListBucket", BUCKET, &a, ctx),
        STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`StringNotLike`:{`s3:prefix`:`Photos/20??`}}"),
                              "s3:ListBucket", BUCKET, &a, ctx),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`StringNotLike`:{`s3:prefix`:`Videos/*`}}"), "s3:ListBucket",
                              BUCKET, &a, ctx),
                     STS_POLICY_ALLOW);

    /* Keys AND, operators AND. */
    const char *both = COND("{`StringEquals`:{`aws:PrincipalAccount`:`" ACCT "`,"
                            "`s3:prefix`:`Photos/2024`},`StringLike`:{`aws:userid`:`AROA*`}}");
    assert_int_equal(eval_ctx(both, "s3:ListBucket", BUCKET, &a, ctx), STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(both, "s3:ListBucket", BUCKET, &a, "{`s3:prefix`:`x`}"),
                     STS_POLICY_NONE);
    http_caller_t alice = user_caller("alice");
    assert_int_equal(eval_ctx(both, "s3:ListBucket", BUCKET, &alice, ctx), STS_POLICY_NONE);

    /* Numbers and booleans in the context are read as text. */
    assert_int_equal(eval_ctx(COND("{`StringEquals`:{`x:n`:`42`,`x:b`:`true`}}"), "s3:ListBucket",
                              BUCKET, &a, "{`x:n`:42,`x:b`:true}"),
                     STS_POLICY_ALLOW);
}

static void test_condition_string_like_variable(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    http_caller_t b = role_caller("Authenticated", ID_B);
    http_caller_t star = role_caller("Authenticated", "*");
    const char *p =
        V12 "{`Effect`:`Allow`,`Action`:`s3:ListBucket`,`Resource`:`" BUCKET "`,`Condition`:"
            "{`StringLike`:{`s3:prefix`:[`${cognito-identity.amazonaws.com:sub}/*`]}}}}";
    assert_valid(p);
    assert_int_equal(eval_ctx(p, "s3:ListBucket", BUCKET, &a, "{`s3:prefix`:`" ID_A "/photos`}"),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(p, "s3:ListBucket", BUCKET, &b, "{`s3:prefix`:`" ID_A "/photos`}"),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(p, "s3:ListBucket", BUCKET, &star, "{`s3:prefix`:`" ID_A "/photos`}"),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(p, "s3:ListBucket", BUCKET, &star, "{`s3:prefix`:`*/photos`}"),
                     STS_POLICY_ALLOW);
    /* No prefix in the request: StringLike fails for a missing key. */
    assert_int_equal(eval(p, "s3:ListBucket", BUCKET, &a), STS_POLICY_NONE);
    /* The context cannot override who the caller is. */
    assert_int_equal(eval_ctx(p, "s3:ListBucket", BUCKET, &b,
                              "{`cognito-identity.amazonaws.com:sub`:`" ID_A "`,"
                              "`s3:prefix`:`" ID_A "/photos`}"),
                     STS_POLICY_NONE);
}

static void test_condition_arn(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    http_caller_t alice = user_caller("alice");
    http_caller_t root = root_caller();
    /* For an assumed role, aws:PrincipalArn is the role's ARN (as in IAM). */
    const char *like = COND("{`ArnLike`:{`aws:PrincipalArn`:`arn:aws:iam::*:role/Auth*`}}");
    assert_int_equal(eval(like, "s3:GetObject", "x", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(like, "s3:GetObject", "x", &alice), STS_POLICY_NONE);
    const char *eq =
        COND("{`ArnEquals`:{`aws:PrincipalArn`:`arn:aws:iam::" ACCT ":role/Authenticated`}}");
    assert_int_equal(eval(eq, "s3:GetObject", "x", &a), STS_POLICY_ALLOW);
    http_caller_t other = role_caller("Authenticated2", ID_A);
    assert_int_equal(eval(eq, "s3:GetObject", "x", &other), STS_POLICY_NONE);
    assert_int_equal(eval(COND("{`ArnEquals`:{`aws:PrincipalArn`:`arn:aws:iam::" ACCT ":root`}}"),
                          "s3:GetObject", "x", &root),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval(COND("{`ArnNotLike`:{`aws:PrincipalArn`:`arn:aws:iam::*:user/*`}}"),
                          "s3:GetObject", "x", &a),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval(COND("{`ArnNotEquals`:{`aws:PrincipalArn`:`arn:aws:iam::*:user/*`}}"),
                          "s3:GetObject", "x", &alice),
                     STS_POLICY_NONE);
    /* A '*' does not span ':' between ARN components, and the pattern must
     * have all six of them. */
    assert_int_equal(eval(COND("{`ArnLike`:{`aws:PrincipalArn`:`arn:*:role/Authenticated`}}"),
                          "s3:GetObject", "x", &a),
                     STS_POLICY_NONE);
    assert_int_equal(
        eval(COND("{`ArnLike`:{`aws:PrincipalArn`:`arn:aws:iam::*:*`}}"), "s3:GetObject", "x", &a),
        STS_POLICY_ALLOW);
    /* A context value that is not an ARN never matches. */
    assert_int_equal(eval_ctx(COND("{`ArnLike`:{`aws:SourceArn`:`arn:*:*:*:*:*`}}"), "s3:GetObject",
                              "x", &a, "{`aws:SourceArn`:`not-an-arn`}"),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`ArnLike`:{`aws:SourceArn`:`arn:*:*:*:*:*`}}"), "s3:GetObject",
                              "x", &a, "{`aws:SourceArn`:`arn:aws:lambda:us-east-1:1:function:f`}"),
                     STS_POLICY_ALLOW);
}

static void test_condition_dates(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    const char *before = COND("{`DateLessThan`:{`aws:CurrentTime`:`2026-11-24T10:00:00Z`}}");
    const char *after = COND("{`DateGreaterThan`:{`aws:CurrentTime`:`2026-11-24T10:00:00Z`}}");
    int64_t t = 1795514400; /* 2026-11-24T10:00:00Z */
    assert_int_equal(eval_at(before, "s3:GetObject", "x", &a, t - 1, NULL), STS_POLICY_ALLOW);
    assert_int_equal(eval_at(before, "s3:GetObject", "x", &a, t, NULL), STS_POLICY_NONE);
    assert_int_equal(eval_at(after, "s3:GetObject", "x", &a, t + 1, NULL), STS_POLICY_ALLOW);
    assert_int_equal(eval_at(after, "s3:GetObject", "x", &a, t, NULL), STS_POLICY_NONE);
    const char *le = COND("{`DateLessThanEquals`:{`aws:CurrentTime`:`2026-11-24T10:00:00.000Z`}}");
    const char *ge =
        COND("{`DateGreaterThanEquals`:{`aws:CurrentTime`:`2026-11-24T11:00:00+01:00`}}");
    assert_int_equal(eval_at(le, "s3:GetObject", "x", &a, t, NULL), STS_POLICY_ALLOW);
    assert_int_equal(eval_at(le, "s3:GetObject", "x", &a, t + 1, NULL), STS_POLICY_NONE);
    assert_int_equal(eval_at(ge, "s3:GetObject", "x", &a, t, NULL), STS_POLICY_ALLOW);
    assert_int_equal(eval_at(ge, "s3:GetObject", "x", &a, t - 1, NULL), STS_POLICY_NONE);
    /* Epoch seconds on either side; date-only values are midnight UTC. */
    const char *eq = COND("{`DateEquals`:{`aws:EpochTime`:`2026-11-24T10:00:00Z`}}");
    assert_int_equal(eval_at(eq, "s3:GetObject", "x", &a, t, NULL), STS_POLICY_ALLOW);
    const char *ne = COND("{`DateNotEquals`:{`aws:CurrentTime`:`1795514400`}}");
    assert_int_equal(eval_at(ne, "s3:GetObject", "x", &a, t, NULL), STS_POLICY_NONE);
    assert_int_equal(eval_at(ne, "s3:GetObject", "x", &a, t + 60, NULL), STS_POLICY_ALLOW);
    const char *day = COND("{`DateGreaterThanEquals`:{`aws:CurrentTime`:`2026-11-24`}}");
    assert_int_equal(eval_at(day, "s3:GetObject", "x", &a, t - 36000, NULL), STS_POLICY_ALLOW);
    assert_int_equal(eval_at(day, "s3:GetObject", "x", &a, t - 36001, NULL), STS_POLICY_NONE);
    /* A context date with fractional seconds; a non-date never matches. */
    const char *ctxd = COND("{`DateLessThan`:{`x:when`:`2026-11-24T10:00:00Z`}}");
    assert_int_equal(eval_ctx(ctxd, "s3:GetObject", "x", &a, "{`x:when`:`2026-11-24T09:59:59.5Z`}"),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(ctxd, "s3:GetObject", "x", &a, "{`x:when`:`yesterday`}"),
                     STS_POLICY_NONE);
    assert_invalid(COND("{`DateLessThan`:{`aws:CurrentTime`:`2026-02-30`}}"), "is not a date");
    assert_invalid(COND("{`DateLessThan`:{`aws:CurrentTime`:`soon`}}"), "is not a date");
}

static void test_condition_numeric_bool_null(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    http_caller_t alice = user_caller("alice");
    const char *ctx = "{`s3:max-keys`:`10`}";
    assert_int_equal(eval_ctx(COND("{`NumericLessThanEquals`:{`s3:max-keys`:`10`}}"),
                              "s3:ListBucket", BUCKET, &a, ctx),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(COND("{`NumericLessThan`:{`s3:max-keys`:`10`}}"), "s3:ListBucket",
                              BUCKET, &a, ctx),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`NumericGreaterThan`:{`s3:max-keys`:9.5}}"), "s3:ListBucket",
                              BUCKET, &a, ctx),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(COND("{`NumericGreaterThanEquals`:{`s3:max-keys`:`11`}}"),
                              "s3:ListBucket", BUCKET, &a, ctx),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`NumericEquals`:{`s3:max-keys`:[`1`,`10.0`]}}"),
                              "s3:ListBucket", BUCKET, &a, ctx),
                     STS_POLICY_ALLOW);
    assert_int_equal(
        eval_ctx(COND("{`NumericNotEquals`:{`s3:max-keys`:10}}"), "s3:ListBucket", BUCKET, &a, ctx),
        STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`NumericEquals`:{`s3:max-keys`:`10`}}"), "s3:ListBucket",
                              BUCKET, &a, "{`s3:max-keys`:`ten`}"),
                     STS_POLICY_NONE);
    assert_invalid(COND("{`NumericEquals`:{`s3:max-keys`:`0x10`}}"), "is not a number");

    /* aws:SecureTransport is false unless the context says otherwise. */
    const char *secure = COND("{`Bool`:{`aws:SecureTransport`:`true`}}");
    assert_int_equal(eval(secure, "s3:GetObject", "x", &a), STS_POLICY_NONE);
    assert_int_equal(eval_ctx(secure, "s3:GetObject", "x", &a, "{`aws:SecureTransport`:`TRUE`}"),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval(COND("{`Bool`:{`aws:SecureTransport`:false}}"), "s3:GetObject", "x", &a),
                     STS_POLICY_ALLOW);
    assert_int_equal(
        eval_ctx(COND("{`Bool`:{`x:flag`:`true`}}"), "s3:GetObject", "x", &a, "{`x:flag`:`yes`}"),
        STS_POLICY_NONE);
    assert_invalid(COND("{`Bool`:{`aws:SecureTransport`:`yes`}}"), "\"true\" or \"false\"");

    /* Null: "true" holds when the key is absent. */
    const char *no_user = COND("{`Null`:{`aws:username`:`true`}}");
    assert_int_equal(eval(no_user, "s3:GetObject", "x", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(no_user, "s3:GetObject", "x", &alice), STS_POLICY_NONE);
    const char *has_sub = COND("{`Null`:{`cognito-identity.amazonaws.com:sub`:false}}");
    assert_int_equal(eval(has_sub, "s3:GetObject", "x", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(has_sub, "s3:GetObject", "x", &alice), STS_POLICY_NONE);
    assert_invalid(COND("{`Null`:{`aws:username`:`maybe`}}"), "\"true\" or \"false\"");
}

static void test_condition_missing_keys(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    /* Absent key: positive operators fail, negated ones hold, IfExists holds. */
    static const struct {
        const char *cond;
        int want;
    } cases[] = {
        {COND("{`StringEquals`:{`x:absent`:`v`}}"), STS_POLICY_NONE},
        {COND("{`StringLike`:{`x:absent`:`*`}}"), STS_POLICY_NONE},
        {COND("{`StringNotEquals`:{`x:absent`:`v`}}"), STS_POLICY_ALLOW},
        {COND("{`StringNotLike`:{`x:absent`:`*`}}"), STS_POLICY_ALLOW},
        {COND("{`StringNotEqualsIgnoreCase`:{`x:absent`:`v`}}"), STS_POLICY_ALLOW},
        {COND("{`ArnNotLike`:{`x:absent`:`arn:*:*:*:*:*`}}"), STS_POLICY_ALLOW},
        {COND("{`NumericNotEquals`:{`x:absent`:`1`}}"), STS_POLICY_ALLOW},
        {COND("{`DateLessThan`:{`x:absent`:`2030-01-01`}}"), STS_POLICY_NONE},
        {COND("{`NumericLessThan`:{`x:absent`:`1`}}"), STS_POLICY_NONE},
        {COND("{`Bool`:{`x:absent`:`true`}}"), STS_POLICY_NONE},
        {COND("{`ArnLike`:{`x:absent`:`arn:*:*:*:*:*`}}"), STS_POLICY_NONE},
        {COND("{`StringEqualsIfExists`:{`x:absent`:`v`}}"), STS_POLICY_ALLOW},
        {COND("{`DateLessThanIfExists`:{`x:absent`:`2000-01-01`}}"), STS_POLICY_ALLOW},
        {COND("{`BoolIfExists`:{`x:absent`:`true`}}"), STS_POLICY_ALLOW},
        {COND("{`ForAllValues:StringEquals`:{`x:absent`:`v`}}"), STS_POLICY_ALLOW},
        {COND("{`ForAnyValue:StringEquals`:{`x:absent`:`v`}}"), STS_POLICY_NONE},
        /* A user name exists for IAM users only. */
        {COND("{`StringEquals`:{`aws:username`:`Authenticated`}}"), STS_POLICY_NONE},
        {COND("{`StringLike`:{`aws:username`:`*`}}"), STS_POLICY_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_valid(cases[i].cond);
        int got = eval(cases[i].cond, "s3:GetObject", "x", &a);
        if (got != cases[i].want)
            fail_msg("case %zu (%s): got %d, want %d", i, cases[i].cond, got, cases[i].want);
    }

    /* IfExists checks a present key like the plain operator. */
    const char *ie = COND("{`StringEqualsIfExists`:{`s3:prefix`:`home/`}}");
    assert_int_equal(eval_ctx(ie, "s3:ListBucket", BUCKET, &a, "{`s3:prefix`:`home/`}"),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(ie, "s3:ListBucket", BUCKET, &a, "{`s3:prefix`:`etc/`}"),
                     STS_POLICY_NONE);
    /* A Deny with a negated operator on a missing key applies. */
    const char *deny = V12 "[{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`},"
                           "{`Effect`:`Deny`,`Action`:`*`,`Resource`:`*`,`Condition`:"
                           "{`StringNotEquals`:{`aws:RequestedRegion`:`us-east-1`}}}]}";
    assert_int_equal(eval(deny, "s3:GetObject", "x", &a), STS_POLICY_DENY);
    assert_int_equal(eval_ctx(deny, "s3:GetObject", "x", &a, "{`aws:RequestedRegion`:`us-east-1`}"),
                     STS_POLICY_ALLOW);
}

static void test_condition_set_operators(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    const char *tags = "{`aws:TagKeys`:[`env`,`team`]}";
    assert_int_equal(eval_ctx(COND("{`ForAllValues:StringEquals`:{`aws:TagKeys`:[`env`,`team`,"
                                   "`cost`]}}"),
                              "s3:GetObject", "x", &a, tags),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(COND("{`ForAllValues:StringEquals`:{`aws:TagKeys`:[`env`]}}"),
                              "s3:GetObject", "x", &a, tags),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`ForAnyValue:StringEquals`:{`aws:TagKeys`:[`team`]}}"),
                              "s3:GetObject", "x", &a, tags),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(COND("{`ForAnyValue:StringLike`:{`aws:TagKeys`:[`co*`]}}"),
                              "s3:GetObject", "x", &a, tags),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(COND("{`ForAnyValue:StringNotEquals`:{`aws:TagKeys`:[`env`]}}"),
                              "s3:GetObject", "x", &a, tags),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(COND("{`ForAllValues:StringNotEquals`:{`aws:TagKeys`:[`env`]}}"),
                              "s3:GetObject", "x", &a, tags),
                     STS_POLICY_NONE);
    /* On a single-valued key ForAnyValue is the plain operator. */
    assert_int_equal(eval(COND("{`ForAnyValue:StringEquals`:{`aws:PrincipalAccount`:`" ACCT "`}}"),
                          "s3:GetObject", "x", &a),
                     STS_POLICY_ALLOW);
    assert_int_equal(
        eval(COND("{`ForAllValues:StringEqualsIfExists`:{`aws:PrincipalAccount`:`1`}}"),
             "s3:GetObject", "x", &a),
        STS_POLICY_NONE);
}

/* ---- validation ---- */

static void test_validate_errors(void **state)
{
    assert_invalid(V12 "[{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`},"
                       "{`Effect`:`Permit`,`Action`:`s3:*`,`Resource`:`*`}]}",
                   "Statement[1]: Effect");
    assert_invalid(V12 "{`Effect`:`allow`,`Action`:`s3:*`,`Resource`:`*`}}", "Statement: Effect");
    assert_invalid(V12 "[{`Action`:`s3:*`,`Resource`:`*`}]}", "Statement[0]: Effect is missing");
    assert_invalid(V12 "[{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`},"
                       "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`},"
                       "{`Effect`:`Deny`,`Action`:`s3:*`,`NotAction`:`s3:Get*`,`Resource`:`*`}]}",
                   "Statement[2]: Action and NotAction are mutually exclusive");
    assert_invalid(V12 "[{`Effect`:`Allow`,`Resource`:`*`}]}",
                   "Statement[0]: Action or NotAction is required");
    assert_invalid(V12 "[{`Effect`:`Allow`,`Action`:`s3:*`}]}",
                   "Statement[0]: Resource or NotResource is required");
    assert_invalid(V12 "[{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`,`NotResource`:`*`}]}",
                   "Statement[0]: Resource and NotResource are mutually exclusive");
    assert_invalid(V12
                   "[{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`},{`Effect`:`Allow`,"
                   "`Action`:`s3:*`,`Resource`:`*`,`Condition`:{`StringMatches`:{`a:b`:`c`}}}]}",
                   "Statement[1]: unsupported condition operator \"StringMatches\"");
    assert_invalid(COND("{`NullIfExists`:{`a:b`:`true`}}"), "unsupported condition operator");
    assert_invalid(COND("{`ForAnyValue:Null`:{`a:b`:`true`}}"), "unsupported condition operator");
    assert_invalid(COND("{`stringequals`:{`a:b`:`c`}}"), "unsupported condition operator");
    assert_invalid(COND("{`StringEquals`:`a:b`}"), "must map condition keys to values");
    assert_invalid(COND("{`StringEquals`:{`a:b`:[]}}"), "needs 1 to");
    assert_invalid(COND("{`StringEquals`:{`a:b`:{`c`:`d`}}}"), "values must be strings");
    assert_invalid(COND("[]"), "Statement: Condition must be an object");
    assert_invalid(V12 "[{`Effect`:`Allow`,`Principal`:{`AWS`:`*`},`Action`:`s3:*`,"
                       "`Resource`:`*`}]}",
                   "Statement[0]: Principal is not allowed");
    assert_invalid(V12 "{`Effect`:`Deny`,`NotPrincipal`:`*`,`Action`:`s3:*`,`Resource`:`*`}}",
                   "Statement: NotPrincipal is not allowed");
    assert_invalid(V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`,`Conditions`:{}}}",
                   "Statement: unknown element \"Conditions\"");
    assert_invalid(V12 "`all`}", "Statement must be an object or an array");
    assert_invalid(V12 "[`x`]}", "Statement[0]: a statement must be a JSON object");
    assert_invalid("{`Version`:`2012-10-18`,`Statement`:[]}", "Version must be");
    assert_invalid("{`Version`:20121017,`Statement`:[]}", "Version must be");
    assert_invalid("[]", "must be a JSON object");
    assert_invalid("{`Statment`:[]}", "unknown policy element \"Statment\"");
    assert_invalid(V12 "{`Effect`:`Allow`,`Action`:`GetObject`,`Resource`:`*`}}",
                   "Statement: Action \"GetObject\" is not of the form service:action");
    assert_invalid(V12 "{`Effect`:`Allow`,`Action`:[],`Resource`:`*`}}",
                   "Statement: Action must not be empty");
    assert_invalid(V12 "{`Effect`:`Allow`,`Action`:[`s3:*`,3],`Resource`:`*`}}",
                   "Statement: Action must be a string or an array of strings");
    assert_invalid(V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`bucket/*`}}",
                   "Statement: Resource \"bucket/*\" must be \"*\" or an ARN");
    assert_invalid(V12 "{`Sid`:1,`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`}}",
                   "Statement: Sid must be a string");

    /* What is accepted: no Version, an Id, IfExists and qualifiers. */
    assert_valid("{`Statement`:{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`}}");
    assert_valid("{`Version`:`2012-10-17`,`Id`:`p1`,`Statement`:[]}");
    assert_valid(COND("{`ForAllValues:StringLikeIfExists`:{`a:b`:[`c*`,`d`]},"
                      "`NumericLessThanIfExists`:{`a:n`:5},`Null`:{`a:c`:true}}"));
    assert_valid(COND("{`DateGreaterThan`:{`aws:CurrentTime`:`${x:start}`}}"));

    /* A NULL err is fine. */
    json_t *doc = load("[]");
    assert_int_equal(sts_policy_validate(doc, NULL, 0), -1);
    json_decref(doc);
}

static void test_validate_limits(void **state)
{
    /* Depth: the document at level 1, nine levels refused. */
    assert_valid(COND("{`StringEquals`:{`a:b`:[`c`]}}")); /* 6 levels */
    assert_invalid("{`Statement`:[[[[[[[[[]]]]]]]]]}", "nested deeper than 8 levels");
    assert_invalid("{`Id`:{`a`:{`b`:{`c`:{`d`:{`e`:{`f`:{`g`:{`h`:1}}}}}}}}}",
                   "nested deeper than 8 levels");

    /* 100 statements pass, 101 are refused. */
    buf_t b;
    buf_init(&b, 0);
    buf_puts(&b, "{`Version`:`2012-10-17`,`Statement`:[");
    for (int i = 0; i < 101; i++) {
        if (i == 100) {
            buf_puts(&b, "]}");
            assert_valid(b.data);
            b.len -= 2;
            b.data[b.len] = '\0';
        }
        buf_printf(&b, "%s{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`}", i ? "," : "");
    }
    buf_puts(&b, "]}");
    assert_invalid(b.data, "more than 100 statements");
    buf_free(&b);

    /* Patterns up to 2048 characters. */
    char pat[2100];
    memset(pat, 'a', sizeof pat);
    memcpy(pat, "arn:aws:s3:::", 13);
    pat[2048] = '\0';
    char *ok = xasprintf(V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`%s`}}", pat);
    pat[2048] = 'a';
    pat[2049] = '\0';
    char *bad = xasprintf(V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`%s`}}", pat);
    assert_valid(ok);
    assert_invalid(bad, "Statement: Resource has a pattern longer than 2048 characters");
    free(ok);
    free(bad);
}

/* ---- documents that fail validation ---- */

static void test_invalid_documents(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    /* An Allow in an invalid document allows nothing. */
    assert_int_equal(eval(V12 "[{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`},"
                              "{`Effect`:`Allow`,`Principal`:`*`,`Action`:`s3:*`,`Resource`:`*`}]}",
                          "s3:GetObject", "x", &a),
                     STS_POLICY_NONE);
    assert_int_equal(eval("{`Version`:`2013-01-01`,`Statement`:{`Effect`:`Allow`,`Action`:`*`,"
                          "`Resource`:`*`}}",
                          "s3:GetObject", "x", &a),
                     STS_POLICY_NONE);
    /* A Deny that can be understood still denies. */
    assert_int_equal(eval(V12 "[{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`},"
                              "{`Effect`:`deny`,`Action`:`s3:Delete*`,`Resource`:`*`}]}",
                          "s3:DeleteObject", "x", &a),
                     STS_POLICY_DENY);
    assert_int_equal(eval(V12 "[{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`},"
                              "{`Effect`:`deny`,`Action`:`s3:Delete*`,`Resource`:`*`}]}",
                          "s3:GetObject", "x", &a),
                     STS_POLICY_NONE);
    /* Parts that cannot be understood count as matching for a Deny. */
    const char *unk = V12 "{`Effect`:`Deny`,`Action`:`s3:GetObject`,`Resource`:`*`,`Condition`:"
                          "{`StringMatches`:{`a:b`:`c`}}}}";
    assert_int_equal(eval(unk, "s3:GetObject", "x", &a), STS_POLICY_DENY);
    assert_int_equal(eval(unk, "s3:PutObject", "x", &a), STS_POLICY_NONE);
    const char *no_res = V12 "{`Effect`:`Deny`,`Action`:[`s3:GetObject`,7]}}";
    assert_int_equal(eval(no_res, "s3:GetObject", "x", &a), STS_POLICY_DENY);
    assert_int_equal(eval(no_res, "s3:PutObject", "x", &a), STS_POLICY_DENY);
    /* ...but a condition that is understood and fails keeps it out. */
    const char *known_false =
        V12 "{`Effect`:`Deny`,`Action`:`s3:GetObject`,`Resource`:`*`,`Condition`:"
            "{`StringMatches`:{`a:b`:`c`},`StringEquals`:{`aws:PrincipalAccount`:`1`}}}}";
    assert_int_equal(eval(known_false, "s3:GetObject", "x", &a), STS_POLICY_NONE);
    /* Not a document at all. */
    json_t *arr = json_array();
    sts_policy_req_t req = {"s3:GetObject", "x", &a, NOW, NULL};
    assert_int_equal(sts_policy_eval(arr, &req), STS_POLICY_NONE);
    assert_int_equal(sts_policy_eval(NULL, &req), STS_POLICY_NONE);
    json_decref(arr);
    /* A request that cannot be described is denied. */
    json_t *doc = load(V12 "{`Effect`:`Allow`,`Action`:`*`,`Resource`:`*`}}");
    sts_policy_req_t no_action = {NULL, "x", &a, NOW, NULL};
    assert_int_equal(sts_policy_eval(doc, &no_action), STS_POLICY_DENY);
    assert_int_equal(sts_policy_eval(doc, NULL), STS_POLICY_DENY);
    json_decref(doc);
}

/* ---- cost ---- */

/* "a*a*...a*b" against a long run of 'a' is exponential for a backtracking
 * matcher; the two-pointer matcher is bounded by pattern * subject. */
static void test_pathological_patterns(void **state)
{
    http_caller_t a = role_caller("Authenticated", ID_A);
    buf_t pat;
    buf_init(&pat, 0);
    buf_puts(&pat, "arn:aws:s3:::");
    for (int i = 0; i < 900; i++)
        buf_puts(&pat, "a*");
    buf_puts(&pat, "b");
    buf_t res;
    buf_init(&res, 0);
    buf_puts(&res, "arn:aws:s3:::");
    for (int i = 0; i < 20000; i++)
        buf_puts(&res, "a");

    char *p = xasprintf(V12 "[{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`%s`},"
                            "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`*`,`Condition`:"
                            "{`StringLike`:{`x:k`:`%s`}}}]}",
                        pat.data, pat.data + 13);
    char *ctx = xasprintf("{`x:k`:`%s`}", res.data + 13);
    char *act = xasprintf("s3:%s", pat.data + 13);
    char *actp = xasprintf(V12 "{`Effect`:`Allow`,`Action`:`%s`,`Resource`:`*`}}", act);
    char *subject = xasprintf("s3:%s", res.data + 13);

    uint64_t t0 = util_mono_ns();
    assert_int_equal(eval_ctx(p, "s3:GetObject", res.data, &a, ctx), STS_POLICY_NONE);
    assert_int_equal(eval(actp, subject, "x", &a), STS_POLICY_NONE);
    /* The two-pointer matcher's own worst case: one '*' retried at every
     * position against a long literal tail (about 2e7 steps). */
    buf_t tail;
    buf_init(&tail, 0);
    buf_puts(&tail, V12 "{`Effect`:`Allow`,`Action`:`s3:*`,`Resource`:`arn:aws:s3:::*");
    for (int i = 0; i < 1000; i++)
        buf_puts(&tail, "a");
    buf_puts(&tail, "b`}}");
    assert_int_equal(eval(tail.data, "s3:GetObject", res.data, &a), STS_POLICY_NONE);
    buf_free(&tail);
    buf_puts(&res, "b");
    assert_int_equal(eval(p, "s3:GetObject", res.data, &a), STS_POLICY_ALLOW);
    uint64_t ms = (util_mono_ns() - t0) / 1000000;
    /* Under 1e8 steps in all: well under the bound even with sanitizers. */
    print_message("pathological patterns: %llu ms\n", (unsigned long long)ms);
    if (ms > 5000)
        fail_msg("pathological patterns took %llu ms", (unsigned long long)ms);

    free(p);
    free(ctx);
    free(act);
    free(actp);
    free(subject);
    buf_free(&pat);
    buf_free(&res);
}

static void test_principal_keys(void **state)
{
    http_caller_t root = root_caller();
    http_caller_t alice = user_caller("alice");
    http_caller_t a = role_caller("Authenticated", ID_A);
    const char *type = COND("{`StringEquals`:{`aws:PrincipalType`:`AssumedRole`}}");
    assert_int_equal(eval(type, "s3:GetObject", "x", &a), STS_POLICY_ALLOW);
    assert_int_equal(eval(type, "s3:GetObject", "x", &alice), STS_POLICY_NONE);
    assert_int_equal(
        eval(COND("{`StringEquals`:{`aws:PrincipalType`:`Account`}}"), "s3:GetObject", "x", &root),
        STS_POLICY_ALLOW);
    assert_int_equal(
        eval(COND("{`StringEquals`:{`aws:userid`:`" ACCT "`}}"), "s3:GetObject", "x", &root),
        STS_POLICY_ALLOW);
    /* The time keys come from `now`, whatever the context says. */
    assert_int_equal(eval_ctx(COND("{`StringEquals`:{`aws:EpochTime`:`1790000000`,"
                                   "`aws:CurrentTime`:`2026-09-21T14:13:20Z`}}"),
                              "s3:GetObject", "x", &a, "{`aws:EpochTime`:`1`}"),
                     STS_POLICY_ALLOW);
    /* A variable in a condition value of a typed operator. */
    const char *until = COND("{`DateLessThan`:{`aws:CurrentTime`:`${x:until}`}}");
    assert_int_equal(eval_ctx(until, "s3:GetObject", "x", &a, "{`x:until`:`2030-01-01`}"),
                     STS_POLICY_ALLOW);
    assert_int_equal(eval_ctx(until, "s3:GetObject", "x", &a, "{`x:until`:`2020-01-01`}"),
                     STS_POLICY_NONE);
    assert_int_equal(eval_ctx(until, "s3:GetObject", "x", &a, "{`x:until`:`later`}"),
                     STS_POLICY_NONE);
    assert_int_equal(eval(until, "s3:GetObject", "x", &a), STS_POLICY_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allow_deny_none),
        cmocka_unit_test(test_deny_wins),
        cmocka_unit_test(test_not_action_not_resource),
        cmocka_unit_test(test_case_rules),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_variables_resource),
        cmocka_unit_test(test_variable_escapes),
        cmocka_unit_test(test_unknown_variable),
        cmocka_unit_test(test_condition_strings),
        cmocka_unit_test(test_condition_string_like_variable),
        cmocka_unit_test(test_condition_arn),
        cmocka_unit_test(test_condition_dates),
        cmocka_unit_test(test_condition_numeric_bool_null),
        cmocka_unit_test(test_condition_missing_keys),
        cmocka_unit_test(test_condition_set_operators),
        cmocka_unit_test(test_validate_errors),
        cmocka_unit_test(test_validate_limits),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_pathological_patterns),
        cmocka_unit_test(test_principal_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
