/* test_sts.c - unit tests for sts/ (sts.h): root credentials and the SigV4 verifier.
 *
 * sts_verify is the gate in front of every signed request, so it is held to
 * outside truth rather than to itself: the aws-sig-v4-test-suite vectors
 * (signatures copied from the suite's .sreq files) for every case whose
 * wire path needs no escaping; requests signed by the AWS SDK's own signer
 * (@smithy/signature-v4) in header and presigned form for Lambda, STS,
 * Cognito and S3 (tests/unit/sigv4_vectors.h, made by gen_sigv4_vectors.mjs:
 * spaces, unicode, repeated headers, empty query values, dot segments, ARNs
 * in the path, '+' in the query, temporary credentials); and, for the cases
 * neither covers (bodies with x-amz-content-sha256 markers, presigned
 * parameters the SDK never writes), a small independent signer in this
 * file that signs a canonical request written out by hand. That signer is
 * itself checked against the suite's get-vanilla vector first.
 *
 * To regenerate the SDK vectors after changing the generator (deterministic,
 * so an unchanged generator reproduces the header byte for byte):
 *   node tests/unit/gen_sigv4_vectors.mjs > tests/unit/sigv4_vectors.h
 *
 * Temporary credentials: the vectors sign with the root credentials (given
 * to sts through CLOUDLET_ROOT_*, as every test here does) except the ASIA
 * cases, whose session tokens sts never issued: they check that the token
 * reaches sts_session_open and that its refusal is STS_EUNKNOWNKEY. Tokens
 * that sts did issue (sts_session_mint, from sts/internal.h) are signed by
 * the independent signer, in both forms, to see them accepted, expire and
 * be refused when tampered with or borrowed.
 *
 * The suite's access key id AKIDEXAMPLE is shorter than the 16 characters
 * sts accepts; the key id takes no part in the signature (only the scope
 * does), so the tests use AKIDEXAMPLE12345 with the suite's secret.
 *
 * Root credential tests cover the environment, an existing file, a created
 * file (mode, format, same key on reload) and each refusal. Each test runs
 * in a fresh temporary data directory with the CLOUDLET_ROOT_* variables
 * set or cleared as it needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/http.h"
#include "common/util.h"
#include "sts/internal.h" /* sts_session_mint: tokens to verify */
#include "sts/sts.h"
#include "tests/unit/sigv4_vectors.h"
#include "tests/unit/testutil.h"

#define ENV_KEY_ID "CLOUDLET_ROOT_ACCESS_KEY_ID"
#define ENV_SECRET "CLOUDLET_ROOT_SECRET_ACCESS_KEY"

#define SUITE_KEY_ID "AKIDEXAMPLE12345"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define SUITE_TIME ((int64_t)1440938160) /* 2015-08-30T12:36:00Z */
#define SUITE_SCOPE "20150830/us-east-1/service/aws4_request"
#define SUITE_HOST "example.amazonaws.com"
#define VANILLA_SIG "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MISMATCH_TEXT                                                                              \
    "The request signature we calculated does not match the signature you provided. Check your "   \
    "AWS Secret Access Key and signing method. Consult the service documentation for details."

/* ---- a fake request over a static header list ---- */

#define FAKE_MAX_HEADERS 24

typedef struct fake {
    http_req_t req;
    const char *names[FAKE_MAX_HEADERS];
    const char *values[FAKE_MAX_HEADERS];
    int n;
    char authz[1024];
} fake_t;

/* header_fn: the first header named `name` (any case), or NULL. */
static const char *fake_header(void *conn, const char *name)
{
    fake_t *f = conn;
    for (int i = 0; i < f->n; i++) {
        if (util_strcaseeq(f->names[i], name))
            return f->values[i];
    }
    return NULL;
}

/* each_fn: every header in the order added, repeats included. */
static int fake_each(void *conn, int (*cb)(void *ctx, const char *name, const char *value),
                     void *ctx)
{
    fake_t *f = conn;
    for (int i = 0; i < f->n; i++) {
        int rc = cb(ctx, f->names[i], f->values[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A request with the given method, wire path, raw query and body (NULL for
 * none), and no headers yet. */
static void fake_init(fake_t *f, const char *method, const char *path, const char *query,
                      const char *body)
{
    memset(f, 0, sizeof *f);
    f->req.method = strcmp(method, "POST") == 0 ? HTTP_POST : HTTP_GET;
    f->req.method_name = method;
    f->req.path = path;
    f->req.path_len = strlen(path);
    f->req.query = query;
    f->req.body = (const unsigned char *)body;
    f->req.body_len = body != NULL ? strlen(body) : 0;
    f->req.remote = "127.0.0.1";
    f->req.header_fn = fake_header;
    f->req.each_fn = fake_each;
    f->req.conn = f;
}

/* Append a header (both strings borrowed for the request's life). */
static void fake_add(fake_t *f, const char *name, const char *value)
{
    assert_true(f->n < FAKE_MAX_HEADERS);
    f->names[f->n] = name;
    f->values[f->n] = value;
    f->n++;
}

/* Set the Authorization header to the usual SDK form. */
static void fake_authz(fake_t *f, const char *akid, const char *scope, const char *signed_headers,
                       const char *sig)
{
    snprintf(f->authz, sizeof f->authz,
             "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", akid, scope,
             signed_headers, sig);
    fake_add(f, "Authorization", f->authz);
}

/* The suite's GET / with Host and X-Amz-Date, signed. */
static void fake_vanilla(fake_t *f)
{
    fake_init(f, "GET", "/", "", NULL);
    fake_add(f, "Host", SUITE_HOST);
    fake_add(f, "X-Amz-Date", SUITE_DATE);
    fake_authz(f, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date", VANILLA_SIG);
}

/* ---- an independent signer: HMAC chain over a hand-written canonical request ---- */

/* Lowercase hex of n bytes into out (2n+1). */
static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* Lowercase hex SHA-256 of s[0..n). */
static void sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(s, n, md, &len, EVP_sha256(), NULL), 1);
    hex(md, 32, out);
}

/* HMAC-SHA256 of the string data under key. */
static void mac(const void *key, size_t keylen, const char *data, unsigned char out[32])
{
    unsigned int len = 0;
    assert_non_null(
        HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), out, &len));
    assert_int_equal(len, 32);
}

/* Sign `canonical` as of amz_date in region/service with `secret`. */
static void oracle_sign(const char *secret, const char *amz_date, const char *region,
                        const char *service, const char *canonical, char out[65])
{
    char k0[200], date[9], hash[65], sts[512];
    unsigned char a[32], b[32];

    snprintf(k0, sizeof k0, "AWS4%s", secret);
    snprintf(date, sizeof date, "%.8s", amz_date);
    mac(k0, strlen(k0), date, a);
    mac(a, 32, region, b);
    mac(b, 32, service, a);
    mac(a, 32, "aws4_request", b);
    sha256_hex(canonical, strlen(canonical), hash);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
             region, service, hash);
    mac(b, 32, sts, a);
    hex(a, 32, out);
}

/* ---- fixtures ---- */

typedef struct fixture {
    char dir[64];
    char path[96]; /* dir/root-credentials */
    sts_t *sts;
    seal_key_t key; /* setup_session: seals session tokens */
} fixture_t;

/* The options every test opens sts with: the fixture's directory, the defaults. */
static sts_options_t options(const fixture_t *f)
{
    sts_options_t o = {.data_dir = f->dir, .region = "us-east-1", .account_id = "000000000000"};
    return o;
}

/* A fresh data directory and no CLOUDLET_ROOT_* in the environment. */
static int setup_dir(void **state)
{
    fixture_t *f = xcalloc(1, sizeof *f);
    if (test_tmpdir(f->dir, sizeof f->dir, "sts") != 0) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/root-credentials", f->dir);
    unsetenv(ENV_KEY_ID);
    unsetenv(ENV_SECRET);
    *state = f;
    return 0;
}

/* Close sts, clear the environment and remove the directory. */
static int teardown_dir(void **state)
{
    fixture_t *f = *state;
    sts_close(f->sts);
    unsetenv(ENV_KEY_ID);
    unsetenv(ENV_SECRET);
    test_rm_dir(f->dir);
    free(f);
    return 0;
}

/* An sts opened with the suite's credentials from the environment. */
static int setup_suite(void **state)
{
    if (setup_dir(state) != 0)
        return -1;
    fixture_t *f = *state;
    char err[256];
    setenv(ENV_KEY_ID, SUITE_KEY_ID, 1);
    setenv(ENV_SECRET, SUITE_SECRET, 1);
    sts_options_t o = options(f);
    if (sts_open(&f->sts, &o, err, sizeof err) != 0) {
        fprintf(stderr, "sts_open: %s\n", err);
        return -1;
    }
    return 0;
}

/* Write text to path and set its mode. */
static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* The first 4 KiB of a file as a string; caller frees. */
static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char *text = xcalloc(1, 4096);
    size_t n = fread(text, 1, 4095, fp);
    text[n] = '\0';
    fclose(fp);
    return text;
}

/* Verify f against s for `service` at `now`; returns the code, message in msg. */
static int verify(sts_t *s, fake_t *f, const char *service, int64_t now, char *msg, size_t msgsz)
{
    http_caller_t caller;
    memset(&caller, 0, sizeof caller);
    return sts_verify(s, &f->req, service, now, &caller, msg, msgsz);
}

/* Expect f to verify for the suite's "service" at the suite's time. */
static void expect_ok(sts_t *s, fake_t *f)
{
    char msg[512] = "";
    int rc = verify(s, f, "service", SUITE_TIME, msg, sizeof msg);
    if (rc != 0)
        fail_msg("refused (%d): %s", rc, msg);
}

/* Expect f to be refused with `code` and a message containing `want`. */
static void expect_refused(sts_t *s, fake_t *f, int64_t now, int code, const char *want)
{
    char msg[512] = "";
    int rc = verify(s, f, "service", now, msg, sizeof msg);
    if (rc != code)
        fail_msg("expected %d, got %d: %s", code, rc, msg);
    if (want != NULL && strstr(msg, want) == NULL)
        fail_msg("message \"%s\" does not contain \"%s\"", msg, want);
    assert_null(strstr(msg, SUITE_SECRET));
}

/* Sign a request whose SDK-side canonical form is `canonical` with the suite
 * secret, and check the verifier agrees. */
static void expect_oracle_ok(sts_t *s, fake_t *f, const char *signed_headers, const char *canonical)
{
    char sig[65];
    oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", "service", canonical, sig);
    fake_authz(f, SUITE_KEY_ID, SUITE_SCOPE, signed_headers, sig);
    expect_ok(s, f);
}

/* ---- root credentials ---- */

static void test_root_from_env(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    setenv(ENV_KEY_ID, "AKIAIOSFODNN7EXAMPLE", 1);
    setenv(ENV_SECRET, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
    sts_options_t o = options(f);
    assert_int_equal(sts_open(&f->sts, &o, err, sizeof err), 0);
    assert_string_equal(sts_root_access_key_id(f->sts), "AKIAIOSFODNN7EXAMPLE");
    assert_string_equal(sts_root_source(f->sts), "environment");
    /* The environment wins; no file is written. */
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_root_env_wins_over_file(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    write_file(f->path,
               "[default]\naws_access_key_id = AKIAFILEFILEFILEFILE\n"
               "aws_secret_access_key = secretsecretsecretsecret\n",
               0600);
    setenv(ENV_KEY_ID, SUITE_KEY_ID, 1);
    setenv(ENV_SECRET, SUITE_SECRET, 1);
    sts_options_t o = options(f);
    assert_int_equal(sts_open(&f->sts, &o, err, sizeof err), 0);
    assert_string_equal(sts_root_access_key_id(f->sts), SUITE_KEY_ID);
}

/* sts_open must refuse, with a message containing `want` and not the secret. */
static void expect_open_refused(fixture_t *f, const char *want, const char *secret)
{
    char err[512] = "";
    sts_t *s = NULL;
    sts_options_t o = options(f);
    int rc = sts_open(&s, &o, err, sizeof err);
    if (rc != -1) {
        sts_close(s);
        fail_msg("sts_open accepted; expected \"%s\"", want);
    }
    if (strstr(err, want) == NULL)
        fail_msg("message \"%s\" does not contain \"%s\"", err, want);
    if (secret != NULL && strstr(err, secret) != NULL)
        fail_msg("message \"%s\" quotes the secret", err);
}

static void test_root_env_refused(void **state)
{
    fixture_t *f = *state;
    static const char good_secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    char long_id[130];

    /* Only one of the two. */
    setenv(ENV_KEY_ID, "AKIAIOSFODNN7EXAMPLE", 1);
    expect_open_refused(f, "set both or neither", NULL);
    unsetenv(ENV_KEY_ID);
    setenv(ENV_SECRET, good_secret, 1);
    expect_open_refused(f, "set both or neither", good_secret);
    /* Bad key ids: too short (the suite's own), lowercase, too long. */
    setenv(ENV_KEY_ID, "AKIDEXAMPLE", 1);
    expect_open_refused(f, ENV_KEY_ID, good_secret);
    setenv(ENV_KEY_ID, "akiaiosfodnn7example", 1);
    expect_open_refused(f, "A-Z and 0-9", good_secret);
    memset(long_id, 'A', 129);
    long_id[129] = '\0';
    setenv(ENV_KEY_ID, long_id, 1);
    expect_open_refused(f, ENV_KEY_ID, good_secret);
    /* Bad secrets: a space, too short, a control character. */
    setenv(ENV_KEY_ID, "AKIAIOSFODNN7EXAMPLE", 1);
    setenv(ENV_SECRET, "wJalrXUtnFEMI K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
    expect_open_refused(f, ENV_SECRET, "wJalrXUtnFEMI K7MDENG");
    setenv(ENV_SECRET, "short", 1);
    expect_open_refused(f, ENV_SECRET, "short");
    setenv(ENV_SECRET, "wJalrXUtnFEMI\tK7MDENG/bPxRfiCYEXAMPLEKEY", 1);
    expect_open_refused(f, ENV_SECRET, "wJalrXUtnFEMI");
    /* Nothing was written on the way. */
    assert_int_equal(access(f->path, F_OK), -1);
}

/* A root credential loaded into s signs: a request signed with `secret`
 * verifies. */
static void expect_secret(sts_t *s, const char *akid, const char *secret)
{
    fake_t fk;
    char sig[65];
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    oracle_sign(secret, SUITE_DATE, "us-east-1", "service",
                "GET\n/\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
                "\n\nhost;x-amz-date\n" EMPTY_SHA256,
                sig);
    fake_authz(&fk, akid, SUITE_SCOPE, "host;x-amz-date", sig);
    expect_ok(s, &fk);
}

/* 1 if s[0..n) uses only characters of alphabet. */
static int only_from(const char *s, size_t n, const char *alphabet)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || strchr(alphabet, s[i]) == NULL)
            return 0;
    }
    return 1;
}

static void test_root_created(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    char akid[64], secret[64];
    struct stat st;

    sts_options_t o = options(f);
    assert_int_equal(sts_open(&f->sts, &o, err, sizeof err), 0);
    assert_string_equal(sts_root_source(f->sts), f->path);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* The AWS shared-credentials form, exactly. */
    char *text = read_text(f->path);
    assert_int_equal(strlen(text), strlen("[default]\naws_access_key_id = \n"
                                          "aws_secret_access_key = \n") +
                                       20 + 40);
    assert_int_equal(sscanf(text,
                            "[default]\naws_access_key_id = %63s\naws_secret_access_key = %63s",
                            akid, secret),
                     2);
    assert_int_equal(strlen(akid), 20);
    assert_memory_equal(akid, "AKIA", 4);
    assert_true(only_from(akid + 4, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
    assert_int_equal(strlen(secret), 40);
    assert_true(
        only_from(secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"));
    assert_string_equal(sts_root_access_key_id(f->sts), akid);
    expect_secret(f->sts, akid, secret);
    free(text);

    /* Reopening reads the same credentials back. */
    sts_close(f->sts);
    f->sts = NULL;
    assert_int_equal(sts_open(&f->sts, &o, err, sizeof err), 0);
    assert_string_equal(sts_root_access_key_id(f->sts), akid);
    expect_secret(f->sts, akid, secret);

    /* A second data directory gets a different key. */
    fixture_t g;
    sts_t *s2 = NULL;
    assert_int_equal(test_tmpdir(g.dir, sizeof g.dir, "sts"), 0);
    sts_options_t o2 = options(&g);
    assert_int_equal(sts_open(&s2, &o2, err, sizeof err), 0);
    assert_string_not_equal(sts_root_access_key_id(s2), akid);
    sts_close(s2);
    test_rm_dir(g.dir);
}

static void test_root_from_file(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    /* Comments, other sections, spacing, CRLF, other keys, case of names. */
    write_file(f->path,
               "# cloudlet root\r\n"
               "[other]\n"
               "aws_access_key_id=AKIAOTHEROTHEROTHER1\n"
               "aws_secret_access_key=otherotherotherother\n"
               "junk without equals\n"
               "\n"
               "  [ default ]  \r\n"
               "; a comment\n"
               "region = us-east-1\n"
               "AWS_Access_Key_Id\t=   AKIAFILE234567FILE23\r\n"
               "aws_secret_access_key=" SUITE_SECRET "   \n"
               "[later]\n"
               "aws_access_key_id = AKIALATERLATERLATER1\n",
               0600);
    sts_options_t o = options(f);
    assert_int_equal(sts_open(&f->sts, &o, err, sizeof err), 0);
    assert_string_equal(sts_root_access_key_id(f->sts), "AKIAFILE234567FILE23");
    assert_string_equal(sts_root_source(f->sts), f->path);
    expect_secret(f->sts, "AKIAFILE234567FILE23", SUITE_SECRET);
}

static void test_root_file_refused(void **state)
{
    fixture_t *f = *state;
    static const char good[] = "[default]\naws_access_key_id = AKIAFILE234567FILE23\n"
                               "aws_secret_access_key = " SUITE_SECRET "\n";
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"", "no [default] section"},
        {"[other]\naws_access_key_id = AKIAFILE234567FILE23\naws_secret_access_key = " SUITE_SECRET
         "\n",
         "no [default] section"},
        {"[default]\naws_access_key_id = AKIAFILE234567FILE23\n", "no [default] section"},
        {"[default]\naws_secret_access_key = " SUITE_SECRET "\n", "no [default] section"},
        {"[default]\naws_access_key_id = AKIAFILE234567FILE23\naws_access_key_id = "
         "AKIAFILE234567FILE24\naws_secret_access_key = " SUITE_SECRET "\n",
         "appears twice"},
        {"[default]\naws_access_key_id = akiafile234567file23\naws_secret_access_key "
         "= " SUITE_SECRET "\n",
         "line 2: aws_access_key_id must be"},
        {"[default]\naws_access_key_id = AKIAFILE234567FILE23\naws_secret_access_key = short\n",
         "line 3: aws_secret_access_key must be"},
        {"[default]\naws_access_key_id = AKIAFILE234567FILE23\naws_secret_access_key = wJalrXUt "
         "nFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n",
         "printable characters without spaces"},
        {"[default]\naws_access_key_id AKIAFILE234567FILE23\n", "line 2: expected 'name = value'"},
        {"[default\naws_access_key_id = AKIAFILE234567FILE23\n", "line 1: a section header"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(f->path, cases[i].text, 0600);
        expect_open_refused(f, cases[i].want, "wJalrXUt");
        expect_open_refused(f, f->path, NULL);
    }

    /* The right content, but open to others or the group. */
    write_file(f->path, good, 0644);
    expect_open_refused(f, "chmod 600", SUITE_SECRET);
    write_file(f->path, good, 0640);
    expect_open_refused(f, "group or others", SUITE_SECRET);
    write_file(f->path, good, 0600);
    char err[256];
    sts_options_t o = options(f);
    assert_int_equal(sts_open(&f->sts, &o, err, sizeof err), 0);

    /* A directory where the file should be. */
    sts_close(f->sts);
    f->sts = NULL;
    unlink(f->path);
    assert_int_equal(mkdir(f->path, 0700), 0);
    expect_open_refused(f, "not a regular file", NULL);
    rmdir(f->path);
}

static void test_open_options(void **state)
{
    fixture_t *f = *state;
    char err[256];
    sts_t *s = NULL;
    sts_options_t o = {.data_dir = NULL, .region = "us-east-1", .account_id = "000000000000"};
    assert_int_equal(sts_open(&s, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "data directory"));
    o.data_dir = "/nonexistent/cloudlet-sts";
    assert_int_equal(sts_open(&s, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/cloudlet-sts/root-credentials"));
    o.data_dir = f->dir;
    o.region = NULL;
    assert_int_equal(sts_open(&s, &o, err, sizeof err), -1);
    assert_null(s);
    sts_close(NULL);
}

/* ---- suite vectors ---- */

static void test_oracle_matches_suite(void **state)
{
    char sig[65];
    oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", "service",
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                "host;x-amz-date\n" EMPTY_SHA256,
                sig);
    assert_string_equal(sig, VANILLA_SIG);
}

static void test_get_vanilla(void **state)
{
    fixture_t *f = *state;
    fake_t fk;
    http_caller_t caller;
    char msg[256] = "";

    fake_vanilla(&fk);
    memset(&caller, 0x5a, sizeof caller);
    assert_int_equal(sts_verify(f->sts, &fk.req, "service", SUITE_TIME, &caller, msg, sizeof msg),
                     0);
    assert_int_equal(caller.root, 1);
    assert_string_equal(caller.access_key_id, SUITE_KEY_ID);
    assert_string_equal(caller.arn, "arn:aws:iam::000000000000:root");
    /* Again, now with the signing key from the cache. */
    expect_ok(f->sts, &fk);
}

/* One suite case: method, wire path, raw query, body, the headers besides
 * Host and X-Amz-Date (name, value pairs in received order), SignedHeaders
 * and the suite's signature (from its .sreq file). */
typedef struct suite_case {
    const char *name;
    const char *method;
    const char *path;
    const char *query;
    const char *body;
    const char *headers[10]; /* name, value, ...; NULL-terminated; Host/X-Amz-Date added */
    const char *signed_headers;
    const char *signature;
} suite_case_t;

static const suite_case_t suite_cases[] = {
    {"get-vanilla-query-order-key-case",
     "GET",
     "/",
     "Param2=value2&Param1=value1",
     NULL,
     {NULL},
     "host;x-amz-date",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-query-order-value",
     "GET",
     "/",
     "Param1=value2&Param1=value1",
     NULL,
     {NULL},
     "host;x-amz-date",
     "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
    {"get-vanilla-empty-query-key",
     "GET",
     "/",
     "Param1=value1",
     NULL,
     {NULL},
     "host;x-amz-date",
     "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
    {"get-vanilla-query-unreserved",
     "GET",
     "/",
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     NULL,
     {NULL},
     "host;x-amz-date",
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    /* The suite's raw "?ሴ=bar", as a client sends it: the query is decoded
     * and encoded once, so the suite's value holds. */
    {"get-vanilla-utf8-query",
     "GET",
     "/",
     "%E1%88%B4=bar",
     NULL,
     {NULL},
     "host;x-amz-date",
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"post-x-www-form-urlencoded",
     "POST",
     "/",
     "",
     "Param1=value1",
     {"Content-Type", "application/x-www-form-urlencoded", NULL},
     "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
    {"post-x-www-form-urlencoded-parameters",
     "POST",
     "/",
     "",
     "Param1=value1",
     {"Content-Type", "application/x-www-form-urlencoded; charset=utf8", NULL},
     "content-type;host;x-amz-date",
     "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
    {"post-header-key-sort",
     "POST",
     "/",
     "",
     NULL,
     {"My-Header1", "value1", NULL},
     "host;my-header1;x-amz-date",
     "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
    {"get-header-value-trim",
     "GET",
     "/",
     "",
     NULL,
     {"My-Header1", " value1", "My-Header2", " \"a   b   c\"", NULL},
     "host;my-header1;my-header2;x-amz-date",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    /* Repeated headers: values joined with ',' in received order. */
    {"get-header-key-duplicate",
     "GET",
     "/",
     "",
     NULL,
     {"My-Header1", "value2", "My-Header1", "value2", "My-Header1", "value1", NULL},
     "host;my-header1;x-amz-date",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-order",
     "GET",
     "/",
     "",
     NULL,
     {"My-Header1", "value4", "My-Header1", "value1", "my-header1", "value3", "MY-HEADER1",
      "value2", NULL},
     "host;my-header1;x-amz-date",
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    /* normalize-path: dot segments and empty segments. */
    {"get-slashes",
     "GET",
     "//example//",
     "",
     NULL,
     {NULL},
     "host;x-amz-date",
     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
    {"get-relative-relative",
     "GET",
     "/example1/example2/../..",
     "",
     NULL,
     {NULL},
     "host;x-amz-date",
     VANILLA_SIG},
    {"get-slash-dot-slash", "GET", "/./", "", NULL, {NULL}, "host;x-amz-date", VANILLA_SIG},
    {"get-relative", "GET", "/example/..", "", NULL, {NULL}, "host;x-amz-date", VANILLA_SIG},
};

static void test_suite_vectors(void **state)
{
    fixture_t *f = *state;

    for (size_t i = 0; i < sizeof suite_cases / sizeof suite_cases[0]; i++) {
        const suite_case_t *c = &suite_cases[i];
        fake_t fk;
        char msg[256] = "";
        fake_init(&fk, c->method, c->path, c->query, c->body);
        fake_add(&fk, "Host", SUITE_HOST);
        for (int h = 0; c->headers[h] != NULL; h += 2)
            fake_add(&fk, c->headers[h], c->headers[h + 1]);
        fake_add(&fk, "X-Amz-Date", SUITE_DATE);
        fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, c->signed_headers, c->signature);
        int rc = verify(f->sts, &fk, "service", SUITE_TIME, msg, sizeof msg);
        if (rc != 0)
            fail_msg("%s: refused (%d): %s", c->name, rc, msg);
    }
}

/* Encoded wire paths: the non-S3 rule encodes them a second time, so the
 * suite's values (computed from raw paths) do not apply; the expected
 * canonical requests are written out by hand. */
static void test_encoded_paths(void **state)
{
    fixture_t *f = *state;
    fake_t fk;

    /* get-utf8: /ሴ sent as /%E1%88%B4. */
    fake_init(&fk, "GET", "/%E1%88%B4", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    expect_oracle_ok(f->sts, &fk, "host;x-amz-date",
                     "GET\n/%25E1%2588%25B4\n\nhost:example.amazonaws.com\n"
                     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA256);

    /* A Lambda ARN in the path (wire doc 1.1), with a trailing slash kept. */
    fake_init(&fk, "POST",
              "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/"
              "invocations/",
              "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    expect_oracle_ok(f->sts, &fk, "host;x-amz-date",
                     "POST\n/2015-03-31/functions/"
                     "arn%253Aaws%253Alambda%253Aus-east-1%253A000000000000%253Afunction%253Af/"
                     "invocations/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                     "host;x-amz-date\n" EMPTY_SHA256);

    /* get-space: "/example space/" sent as /example%20space/; dot segments
     * around it go. */
    fake_init(&fk, "GET", "/a/./b/../example%20space/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    expect_oracle_ok(f->sts, &fk, "host;x-amz-date",
                     "GET\n/a/example%2520space/\n\nhost:example.amazonaws.com\n"
                     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA256);
}

/* The canonical query: '+' is a literal plus, '/' and '=' in values are
 * encoded, a bare name becomes "name=", and X-Amz-Signature is left out. */
static void test_query_rules(void **state)
{
    fixture_t *f = *state;
    fake_t fk;

    fake_init(&fk, "GET", "/", "b=x+y&a=1/2%3D3&flag&X-Amz-Signature=abc&%7e=%41", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    expect_oracle_ok(f->sts, &fk, "host;x-amz-date",
                     "GET\n/\na=1%2F2%3D3&b=x%2By&flag=&~=A\nhost:example.amazonaws.com\n"
                     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA256);

    /* A malformed escape cannot be canonicalised. */
    fake_init(&fk, "GET", "/", "a=%zz", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EMALFORMED, "percent-escape");
}

/* Host with a port, and the tolerated spellings of the Authorization header. */
static void test_authorization_spacing(void **state)
{
    fixture_t *f = *state;
    static const char *const forms[] = {
        "AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=%s,Signature=%s",
        "AWS4-HMAC-SHA256   Credential=%s/%s ,  SignedHeaders=%s,\tSignature=%s  ",
        "AWS4-HMAC-SHA256 Signature=%4$s, Credential=%1$s/%2$s, SignedHeaders=%3$s",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        fake_t fk;
        fake_init(&fk, "GET", "/", "", NULL);
        fake_add(&fk, "Host", SUITE_HOST);
        fake_add(&fk, "X-Amz-Date", SUITE_DATE);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(fk.authz, sizeof fk.authz, forms[i], SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date",
                 VANILLA_SIG);
#pragma GCC diagnostic pop
        fake_add(&fk, "Authorization", fk.authz);
        expect_ok(f->sts, &fk);
    }

    fake_t fk;
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", "127.0.0.1:8080");
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    expect_oracle_ok(f->sts, &fk, "host;x-amz-date",
                     "GET\n/\n\nhost:127.0.0.1:8080\nx-amz-date:20150830T123600Z\n\n"
                     "host;x-amz-date\n" EMPTY_SHA256);
}

/* ---- bodies ---- */

/* A POST with a JSON body as SDK v3 sends it, optionally with x-amz-content-sha256. */
static void body_request(fake_t *fk, const char *body, const char *content_sha256)
{
    fake_init(fk, "POST", "/", "", body);
    fake_add(fk, "Content-Type", "application/x-amz-json-1.1");
    fake_add(fk, "Host", SUITE_HOST);
    if (content_sha256 != NULL)
        fake_add(fk, "X-Amz-Content-Sha256", content_sha256);
    fake_add(fk, "X-Amz-Date", SUITE_DATE);
    fake_add(fk, "X-Amz-Target", "AWSCognitoIdentityProviderService.InitiateAuth");
}

static void test_body(void **state)
{
    fixture_t *f = *state;
    static const char body[] = "{\"AuthFlow\":\"USER_SRP_AUTH\"}";
    static const char tampered[] = "{\"AuthFlow\":\"ADMIN_NO_SRP\"}";
    char hash[65], canonical[1024], sig[65];
    fake_t fk;

    sha256_hex(body, strlen(body), hash);

    /* Without x-amz-content-sha256: the body's hash is the payload line. */
    snprintf(canonical, sizeof canonical,
             "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:example.amazonaws.com\n"
             "x-amz-date:20150830T123600Z\n"
             "x-amz-target:AWSCognitoIdentityProviderService.InitiateAuth\n\n"
             "content-type;host;x-amz-date;x-amz-target\n%s",
             hash);
    oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", "service", canonical, sig);
    body_request(&fk, body, NULL);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "content-type;host;x-amz-date;x-amz-target", sig);
    expect_ok(f->sts, &fk);
    body_request(&fk, tampered, NULL);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "content-type;host;x-amz-date;x-amz-target", sig);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);

    /* With x-amz-content-sha256 (as SDK v3 sends it), signed. */
    snprintf(canonical, sizeof canonical,
             "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:example.amazonaws.com\n"
             "x-amz-content-sha256:%s\nx-amz-date:20150830T123600Z\n"
             "x-amz-target:AWSCognitoIdentityProviderService.InitiateAuth\n\n"
             "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target\n%s",
             hash, hash);
    oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", "service", canonical, sig);
    body_request(&fk, body, hash);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE,
               "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target", sig);
    expect_ok(f->sts, &fk);
    body_request(&fk, tampered, hash);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE,
               "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target", sig);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESIGNATURE, "does not match the SHA-256");

    /* The header's value is used verbatim: uppercase hex of the right hash. */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(hash[i] >= 'a' && hash[i] <= 'f' ? hash[i] - 32 : hash[i]);
    snprintf(canonical, sizeof canonical,
             "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:example.amazonaws.com\n"
             "x-amz-content-sha256:%s\nx-amz-date:20150830T123600Z\n"
             "x-amz-target:AWSCognitoIdentityProviderService.InitiateAuth\n\n"
             "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target\n%s",
             upper, upper);
    oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", "service", canonical, sig);
    body_request(&fk, body, upper);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE,
               "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target", sig);
    expect_ok(f->sts, &fk);

    /* UNSIGNED-PAYLOAD and other markers are refused for these services,
     * even when correctly signed. */
    static const char *const markers[] = {"UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                          "0123"};
    static const char *const wants[] = {"UNSIGNED-PAYLOAD", "x-amz-content-sha256",
                                        "x-amz-content-sha256"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        snprintf(canonical, sizeof canonical,
                 "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:example.amazonaws.com\n"
                 "x-amz-content-sha256:%s\nx-amz-date:20150830T123600Z\n"
                 "x-amz-target:AWSCognitoIdentityProviderService.InitiateAuth\n\n"
                 "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target\n%s",
                 markers[i], markers[i]);
        oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", "service", canonical, sig);
        body_request(&fk, body, markers[i]);
        fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE,
                   "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target", sig);
        expect_refused(f->sts, &fk, SUITE_TIME, STS_ESIGNATURE, wants[i]);
    }
    body_request(&fk, body, "UNSIGNED-PAYLOAD");
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "content-type;host;x-amz-date;x-amz-target", sig);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESIGNATURE, "UNSIGNED-PAYLOAD");
}

/* ---- refusals ---- */

static void test_missing(void **state)
{
    fixture_t *f = *state;
    fake_t fk;
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EMISSING, "Missing Authentication Token");
}

static void test_wrong_secret(void **state)
{
    fixture_t *f = *state;
    fake_t fk;
    char sig[65];

    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    oracle_sign("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ", SUITE_DATE, "us-east-1", "service",
                "GET\n/\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
                "\n\nhost;x-amz-date\n" EMPTY_SHA256,
                sig);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date", sig);
    char msg[512];
    assert_int_equal(verify(f->sts, &fk, "service", SUITE_TIME, msg, sizeof msg), STS_ESIGNATURE);
    assert_string_equal(msg, MISMATCH_TEXT);

    /* Any other change to a signed part: the path, the host, a header. */
    fake_init(&fk, "GET", "/other", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", "example.amazonaws.com:443");
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "My-Header1", "value2");
    fake_add(&fk, "My-Header1", "value1"); /* the suite signed value2,value2,value1 */
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;my-header1;x-amz-date",
               "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
    /* One flipped hex digit of the signature. */
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date",
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30");
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
}

static void test_skew(void **state)
{
    fixture_t *f = *state;
    fake_t fk;

    fake_vanilla(&fk);
    expect_refused(f->sts, &fk, SUITE_TIME + 16 * 60, STS_ESKEW,
                   "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z "
                   "(20150830T125200Z - 15 min.)");
    expect_refused(f->sts, &fk, SUITE_TIME - 16 * 60, STS_ESKEW,
                   "Signature not yet current: 20150830T123600Z is still later than "
                   "20150830T123500Z (20150830T122000Z + 15 min.)");
    expect_refused(f->sts, &fk, SUITE_TIME + 901, STS_ESKEW, "Signature expired");
    expect_refused(f->sts, &fk, SUITE_TIME - 901, STS_ESKEW, "not yet current");
    /* Exactly 15 minutes either way is still fine. */
    char msg[256];
    assert_int_equal(verify(f->sts, &fk, "service", SUITE_TIME + 900, msg, sizeof msg), 0);
    assert_int_equal(verify(f->sts, &fk, "service", SUITE_TIME - 900, msg, sizeof msg), 0);
}

/* A GET / signed by the oracle for the given scope parts. */
static void scoped_request(fake_t *fk, const char *amz_date, const char *scope_date,
                           const char *region, const char *service, const char *terminator)
{
    char canonical[512], sig[65], scope[128];
    fake_init(fk, "GET", "/", "", NULL);
    fake_add(fk, "Host", SUITE_HOST);
    fake_add(fk, "X-Amz-Date", amz_date);
    snprintf(canonical, sizeof canonical,
             "GET\n/\n\nhost:" SUITE_HOST "\nx-amz-date:%s\n\nhost;x-amz-date\n" EMPTY_SHA256,
             amz_date);
    oracle_sign(SUITE_SECRET, amz_date, region, service, canonical, sig);
    snprintf(scope, sizeof scope, "%s/%s/%s/%s", scope_date, region, service, terminator);
    snprintf(fk->authz, sizeof fk->authz,
             "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-date, Signature=%s",
             SUITE_KEY_ID, scope, sig);
    fake_add(fk, "Authorization", fk->authz);
}

static void test_scope(void **state)
{
    fixture_t *f = *state;
    fake_t fk;

    scoped_request(&fk, SUITE_DATE, "20150830", "us-east-1", "service", "aws4_request");
    expect_ok(f->sts, &fk);
    scoped_request(&fk, SUITE_DATE, "20150830", "us-west-2", "service", "aws4_request");
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESCOPE, "region: 'us-west-2' is not 'us-east-1'");
    scoped_request(&fk, SUITE_DATE, "20150830", "us-east-1", "lambda", "aws4_request");
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESCOPE, "correct service: 'service'");
    scoped_request(&fk, SUITE_DATE, "20150829", "us-east-1", "service", "aws4_request");
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESCOPE, "'20150829' != '20150830'");
    scoped_request(&fk, SUITE_DATE, "20150830", "us-east-1", "service", "aws4_reques");
    expect_refused(f->sts, &fk, SUITE_TIME, STS_ESCOPE, "terminator");
    /* The same request is fine for the service it names. */
    char msg[256];
    scoped_request(&fk, SUITE_DATE, "20150830", "us-east-1", "lambda", "aws4_request");
    assert_int_equal(verify(f->sts, &fk, "lambda", SUITE_TIME, msg, sizeof msg), 0);
    /* Just after midnight, a scope from the day before is refused. */
    scoped_request(&fk, "20150831T000100Z", "20150830", "us-east-1", "service", "aws4_request");
    expect_refused(f->sts, &fk, SUITE_TIME + 11 * 3600 + 25 * 60, STS_ESCOPE, "'20150830' != ");
}

static void test_signed_headers_rules(void **state)
{
    fixture_t *f = *state;
    fake_t fk;

    /* Host not signed, x-amz-date not signed. */
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "x-amz-date", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EMALFORMED, "'Host'");
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EMALFORMED, "'X-Amz-Date'");

    /* A signed header that the request does not carry. */
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date;x-amz-target", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EMALFORMED, "'x-amz-target' is not in the request");
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EMALFORMED, "'host' is not in the request");

    /* An unsigned header may change freely. */
    fake_vanilla(&fk);
    fake_add(&fk, "User-Agent", "anything");
    expect_ok(f->sts, &fk);
}

static void test_malformed(void **state)
{
    fixture_t *f = *state;
    static const char *const bad[] = {
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA1 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        "aws4-hmac-sha256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS AKIDEXAMPLE12345:c2lnbmF0dXJl",
        "Bearer abc",
        /* missing parts */
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE ", Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date",
        /* duplicate parts */
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG ", Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE ", Credential=" SUITE_KEY_ID
        "/" SUITE_SCOPE ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        /* unknown part, empty part, part without '=' */
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG ", Extra=1",
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG ",",
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ",, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential " SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        /* signatures: uppercase, short, long, not hex */
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, "
        "Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=5fa00fa3",
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG "00",
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbfzz",
        /* signed headers: unsorted, repeated, uppercase, empty name */
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=x-amz-date;host, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=Host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=host;;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        ", SignedHeaders=, Signature=" VANILLA_SIG,
        /* credentials: too few or too many parts, a bad date, empty parts */
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID
        "/20150830/us-east-1/service, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID "/" SUITE_SCOPE
        "/x, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID
        "/2015083a/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
        "Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID
        "/201508300/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
        "Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=/" SUITE_SCOPE
        ", SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
        "AWS4-HMAC-SHA256 Credential=" SUITE_KEY_ID
        "/20150830//service/aws4_request, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fake_t fk;
        char msg[512] = "";
        fake_init(&fk, "GET", "/", "", NULL);
        fake_add(&fk, "Host", SUITE_HOST);
        fake_add(&fk, "X-Amz-Date", SUITE_DATE);
        fake_add(&fk, "Authorization", bad[i]);
        int rc = verify(f->sts, &fk, "service", SUITE_TIME, msg, sizeof msg);
        if (rc != STS_EMALFORMED)
            fail_msg("case %zu (%s): expected STS_EMALFORMED, got %d: %s", i, bad[i], rc, msg);
        if (msg[0] == '\0')
            fail_msg("case %zu: no message", i);
    }

    /* An overlong header. */
    char *huge = xmalloc(9000);
    memset(huge, 'a', 8999);
    huge[8999] = '\0';
    memcpy(huge, "AWS4-HMAC-SHA256 Credential=", 28);
    fake_t fk;
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_add(&fk, "Authorization", huge);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EMALFORMED, "longer than");
    free(huge);
}

static void test_bad_date(void **state)
{
    fixture_t *f = *state;
    static const char *const dates[] = {
        "20150830T123600",  "2015-08-30T12:36:00Z",
        "20150830t123600z", "20150230T123600Z",
        "20150830T243600Z", "20150830T126000Z",
        "20150830T123660Z", "20151330T123600Z",
        "20150800T123600Z", "20150830T123600Z ",
        "2015083OT123600Z", "",
        "20140229T123600Z", "Sun, 30 Aug 2015 12:36:00 GMT",
    };
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        fake_t fk;
        fake_init(&fk, "GET", "/", "", NULL);
        fake_add(&fk, "Host", SUITE_HOST);
        fake_add(&fk, "X-Amz-Date", dates[i]);
        fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date", VANILLA_SIG);
        expect_refused(f->sts, &fk, SUITE_TIME, STS_EMALFORMED, "X-Amz-Date");
    }
    /* No X-Amz-Date at all (a Date header is not enough). */
    fake_t fk;
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "Date", "Sun, 30 Aug 2015 12:36:00 GMT");
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EMALFORMED, "X-Amz-Date");
    /* A leap day parses. */
    scoped_request(&fk, "20160229T000000Z", "20160229", "us-east-1", "service", "aws4_request");
    char msg[256] = "";
    int rc = verify(f->sts, &fk, "service", 1456704000, msg, sizeof msg);
    if (rc != 0)
        fail_msg("leap day refused (%d): %s", rc, msg);
}

static void test_unknown_key(void **state)
{
    fixture_t *f = *state;
    fake_t fk;

    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, "AKIDEXAMPLE12346", SUITE_SCOPE, "host;x-amz-date", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EUNKNOWNKEY,
                   "The security token included in the request is invalid.");
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_authz(&fk, "AKIDEXAMPLE", SUITE_SCOPE, "host;x-amz-date", VANILLA_SIG);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EUNKNOWNKEY, NULL);

    /* A session token with the long-term root key is not ignored. */
    char canonical[512], sig[65];
    fake_init(&fk, "GET", "/", "", NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    fake_add(&fk, "X-Amz-Date", SUITE_DATE);
    fake_add(&fk, "X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLE");
    snprintf(canonical, sizeof canonical,
             "GET\n/\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
             "\nx-amz-security-token:FQoGZXIvYXdzEXAMPLE\n\nhost;x-amz-date;x-amz-security-"
             "token\n" EMPTY_SHA256);
    oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", "service", canonical, sig);
    fake_authz(&fk, SUITE_KEY_ID, SUITE_SCOPE, "host;x-amz-date;x-amz-security-token", sig);
    expect_refused(f->sts, &fk, SUITE_TIME, STS_EUNKNOWNKEY, "security token");
}

/* ---- concurrency and the key cache ---- */

typedef struct worker {
    sts_t *sts;
    int id;
    int failures;
} worker_t;

/* Verify signed and mis-signed requests for many services against one shared sts. */
static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 300; i++) {
        /* 24 services over 16 cache slots: hits, misses and evictions. */
        char service[16], canonical[512], sig[65], scope[96], msg[256];
        fake_t fk;
        http_caller_t caller;
        snprintf(service, sizeof service, "svc%d", (i * 7 + w->id) % 24);
        snprintf(canonical, sizeof canonical,
                 "GET\n/\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
                 "\n\nhost;x-amz-date\n" EMPTY_SHA256);
        oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", service, canonical, sig);
        snprintf(scope, sizeof scope, "20150830/us-east-1/%s/aws4_request", service);
        fake_init(&fk, "GET", "/", "", NULL);
        fake_add(&fk, "Host", SUITE_HOST);
        fake_add(&fk, "X-Amz-Date", SUITE_DATE);
        fake_authz(&fk, SUITE_KEY_ID, scope, "host;x-amz-date", sig);
        if (sts_verify(w->sts, &fk.req, service, SUITE_TIME, &caller, msg, sizeof msg) != 0)
            w->failures++;
        /* A wrong signature must stay wrong whatever the cache holds. */
        sig[0] = sig[0] == '0' ? '1' : '0';
        fake_init(&fk, "GET", "/", "", NULL);
        fake_add(&fk, "Host", SUITE_HOST);
        fake_add(&fk, "X-Amz-Date", SUITE_DATE);
        fake_authz(&fk, SUITE_KEY_ID, scope, "host;x-amz-date", sig);
        if (sts_verify(w->sts, &fk.req, service, SUITE_TIME, &caller, msg, sizeof msg) !=
            STS_ESIGNATURE)
            w->failures++;
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    fixture_t *f = *state;
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i].sts = f->sts;
        w[i].id = i;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
}

/* ---- error shapes ---- */

/* The value of response header `name`, or NULL. */
static const char *resp_header(const http_resp_t *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++) {
        if (util_strcaseeq(r->headers[i].name, name))
            return r->headers[i].value;
    }
    return NULL;
}

/* Check status, that the body names `code`, and that it carries `text`. */
static void expect_error(int err, const char *msg, http_proto_t proto, int status, const char *code,
                         const char *text)
{
    http_resp_t resp;
    http_resp_init(&resp);
    sts_error_response(err, msg, proto, "REQID0123456789A", &resp);
    assert_int_equal(resp.status, status);
    char *body = xstrndup(resp.body, resp.body_len);
    if (strstr(body, code) == NULL)
        fail_msg("error %d proto %d: body does not name %s: %s", err, (int)proto, code, body);
    if (text != NULL && strstr(body, text) == NULL)
        fail_msg("error %d proto %d: body does not carry \"%s\": %s", err, (int)proto, text, body);
    if (proto == HTTP_PROTO_JSON) {
        const char *t = resp_header(&resp, "x-amzn-ErrorType");
        assert_non_null(t);
        assert_string_equal(t, code);
    }
    free(body);
    http_resp_clear(&resp);
}

static void test_error_response(void **state)
{
    const char *skew = "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z "
                       "(20150830T125200Z - 15 min.)";

    expect_error(STS_EMISSING, "", HTTP_PROTO_JSON, 403, "MissingAuthenticationTokenException",
                 "Missing Authentication Token");
    expect_error(STS_EMALFORMED, "Signature must be 64", HTTP_PROTO_JSON, 400,
                 "IncompleteSignatureException", "Signature must be 64");
    expect_error(STS_EUNKNOWNKEY, NULL, HTTP_PROTO_JSON, 400, "UnrecognizedClientException",
                 "The security token included in the request is invalid.");
    expect_error(STS_ESIGNATURE, MISMATCH_TEXT, HTTP_PROTO_JSON, 400, "InvalidSignatureException",
                 "The request signature we calculated");
    expect_error(STS_ESKEW, skew, HTTP_PROTO_JSON, 400, "InvalidSignatureException",
                 "Signature expired");
    expect_error(STS_ESCOPE, "Credential should be scoped to a valid region", HTTP_PROTO_JSON, 400,
                 "InvalidSignatureException", "Credential should be scoped");

    expect_error(STS_EMISSING, NULL, HTTP_PROTO_QUERY, 403, "<Code>MissingAuthenticationToken<",
                 NULL);
    expect_error(STS_EMALFORMED, "x", HTTP_PROTO_QUERY, 400, "<Code>IncompleteSignature<", NULL);
    expect_error(STS_EUNKNOWNKEY, NULL, HTTP_PROTO_QUERY, 403, "<Code>InvalidClientTokenId<",
                 "The security token included in the request is invalid.");
    expect_error(STS_ESIGNATURE, MISMATCH_TEXT, HTTP_PROTO_QUERY, 403,
                 "<Code>SignatureDoesNotMatch<", "The request signature we calculated");
    expect_error(STS_ESKEW, skew, HTTP_PROTO_QUERY, 403, "<Code>SignatureDoesNotMatch<",
                 "Signature expired");
    expect_error(STS_ESCOPE, "x", HTTP_PROTO_QUERY, 403, "<Code>SignatureDoesNotMatch<", NULL);

    expect_error(STS_EMISSING, NULL, HTTP_PROTO_S3, 403, "<Code>AccessDenied<", NULL);
    expect_error(STS_EMALFORMED, "x", HTTP_PROTO_S3, 400, "<Code>AuthorizationHeaderMalformed<",
                 NULL);
    expect_error(STS_EUNKNOWNKEY, NULL, HTTP_PROTO_S3, 403, "<Code>InvalidAccessKeyId<", NULL);
    expect_error(STS_ESIGNATURE, MISMATCH_TEXT, HTTP_PROTO_S3, 403, "<Code>SignatureDoesNotMatch<",
                 NULL);
    expect_error(STS_ESKEW, skew, HTTP_PROTO_S3, 403, "<Code>RequestTimeTooSkewed<", NULL);
    expect_error(STS_ESCOPE, "x", HTTP_PROTO_S3, 400, "<Code>AuthorizationHeaderMalformed<", NULL);

    /* Other protocols are mapped like JSON. */
    expect_error(STS_ESIGNATURE, MISMATCH_TEXT, HTTP_PROTO_PLAIN, 400, "InvalidSignatureException",
                 NULL);
    /* No message from the verifier: a default text, never an empty one. */
    expect_error(STS_ESIGNATURE, NULL, HTTP_PROTO_JSON, 400, "InvalidSignatureException",
                 "The request signature we calculated");
}

/* ---- requests signed by the AWS SDK (sigv4_vectors.h) ---- */

/* An sts opened with the root credentials the SDK vectors were signed with. */
static int setup_vectors(void **state)
{
    if (setup_dir(state) != 0)
        return -1;
    fixture_t *f = *state;
    char err[256];
    setenv(ENV_KEY_ID, SIGV4_VECTOR_KEY_ID, 1);
    setenv(ENV_SECRET, SIGV4_VECTOR_SECRET, 1);
    sts_options_t o = options(f);
    if (sts_open(&f->sts, &o, err, sizeof err) != 0) {
        fprintf(stderr, "sts_open: %s\n", err);
        return -1;
    }
    return 0;
}

/* The vector called `name`. */
static const sigv4_vector_t *find_vector(const char *name)
{
    for (size_t i = 0; i < sizeof sigv4_vectors / sizeof sigv4_vectors[0]; i++) {
        if (strcmp(sigv4_vectors[i].name, name) == 0)
            return &sigv4_vectors[i];
    }
    fail_msg("no vector %s", name);
    return NULL;
}

/* The request of vector v (strings borrowed from v), with path and query
 * replaced when not NULL. */
static void fake_vector(fake_t *f, const sigv4_vector_t *v, const char *path, const char *query)
{
    fake_init(f, v->method, path != NULL ? path : v->path, query != NULL ? query : v->query, NULL);
    f->req.body = (const unsigned char *)v->body;
    f->req.body_len = v->body_len;
    for (int i = 0; v->headers[i] != NULL; i += 2)
        fake_add(f, v->headers[i], v->headers[i + 1]);
}

/* Expect sts_verify of f for `service` at `now` to return `code`, with a
 * message containing `want` (if not NULL) and never the secrets. */
static void expect_code(sts_t *s, fake_t *f, const char *service, int64_t now, int code,
                        const char *want)
{
    char msg[512] = "";
    int rc = verify(s, f, service, now, msg, sizeof msg);
    if (rc != code)
        fail_msg("%s %s?%s: expected %d, got %d: %s", f->req.method_name, f->req.path, f->req.query,
                 code, rc, msg);
    if (want != NULL && strstr(msg, want) == NULL)
        fail_msg("message \"%s\" does not contain \"%s\"", msg, want);
    assert_null(strstr(msg, SIGV4_VECTOR_SECRET));
    assert_null(strstr(msg, SUITE_SECRET));
}

/* Vector `name` with its query edited: `from` replaced by `to` (which must
 * occur), verified at `now`. */
static void expect_query_edit(sts_t *s, const char *name, const char *from, const char *to,
                              int64_t now, int code, const char *want)
{
    const sigv4_vector_t *v = find_vector(name);
    char query[2048];
    const char *at = strstr(v->query, from);
    if (at == NULL)
        fail_msg("%s: the query has no \"%s\"", name, from);
    snprintf(query, sizeof query, "%.*s%s%s", (int)(at - v->query), v->query, to,
             at + strlen(from));
    fake_t fk;
    fake_vector(&fk, v, NULL, query);
    expect_code(s, &fk, v->service, now, code, want);
}

static void test_sdk_vectors(void **state)
{
    fixture_t *f = *state;
    size_t n = sizeof sigv4_vectors / sizeof sigv4_vectors[0];

    for (size_t i = 0; i < n; i++) {
        const sigv4_vector_t *v = &sigv4_vectors[i];
        fake_t fk;
        http_caller_t caller;
        char msg[512] = "";

        fake_vector(&fk, v, NULL, NULL);
        memset(&caller, 0x5a, sizeof caller);
        int rc =
            sts_verify(f->sts, &fk.req, v->service, SIGV4_VECTOR_TIME, &caller, msg, sizeof msg);
        if (rc != v->expect)
            fail_msg("%s: expected %d, got %d: %s", v->name, v->expect, rc, msg);
        if (rc != 0)
            continue;
        assert_int_equal(caller.root, 1);
        assert_string_equal(caller.access_key_id, SIGV4_VECTOR_KEY_ID);
        assert_string_equal(caller.arn, "arn:aws:iam::000000000000:root");
        assert_string_equal(caller.user_id, "000000000000");
        assert_string_equal(caller.account, "000000000000");
        assert_string_equal(caller.role, "");
        assert_string_equal(caller.identity_id, "");
        assert_string_equal(caller.subject, "");
        assert_string_equal(caller.session_policy, "");
        assert_int_equal(caller.expires, 0);

        /* Headers no signer signs may be added freely. */
        fake_add(&fk, "User-Agent", "aws-sdk-js/3.1164.0");
        fake_add(&fk, "Connection", "keep-alive");
        expect_code(f->sts, &fk, v->service, SIGV4_VECTOR_TIME, 0, NULL);

        /* Any change to the path is a different request. */
        char path[512];
        snprintf(path, sizeof path, "%sx", v->path);
        fake_vector(&fk, v, path, NULL);
        expect_code(f->sts, &fk, v->service, SIGV4_VECTOR_TIME, STS_ESIGNATURE, MISMATCH_TEXT);

        /* The same request for another service is refused by its scope. */
        fake_vector(&fk, v, NULL, NULL);
        expect_code(f->sts, &fk, strcmp(v->service, "s3") == 0 ? "lambda" : "s3", SIGV4_VECTOR_TIME,
                    STS_ESCOPE, "correct service");
    }
}

/* A header signed once as "a,b,c" and sent as repeated lines verifies; sent
 * as the one joined line it verifies too (the canonical value is the same),
 * and in another order it does not. */
static void test_sdk_repeated_headers(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *vector;
        const char *name;
        const char *joined;
        const char *reordered[3];
    } cases[] = {
        {"lambda-repeated-header", "x-custom", "first,second,third", {"second", "first", "third"}},
        {"s3-put-object-space-unicode", "x-amz-meta-tags", "red,green", {"green", "red", NULL}},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const sigv4_vector_t *v = find_vector(cases[c].vector);
        fake_t fk, joined, reordered;
        int lines = 0;

        fake_vector(&fk, v, NULL, NULL);
        expect_code(f->sts, &fk, v->service, SIGV4_VECTOR_TIME, 0, NULL);
        fake_init(&joined, v->method, v->path, v->query, NULL);
        joined.req.body = (const unsigned char *)v->body;
        joined.req.body_len = v->body_len;
        fake_init(&reordered, v->method, v->path, v->query, NULL);
        reordered.req.body = (const unsigned char *)v->body;
        reordered.req.body_len = v->body_len;
        for (int i = 0; v->headers[i] != NULL; i += 2) {
            if (strcmp(v->headers[i], cases[c].name) != 0) {
                fake_add(&joined, v->headers[i], v->headers[i + 1]);
                fake_add(&reordered, v->headers[i], v->headers[i + 1]);
                continue;
            }
            if (lines == 0) {
                fake_add(&joined, cases[c].name, cases[c].joined);
                for (int k = 0; k < 3 && cases[c].reordered[k] != NULL; k++)
                    fake_add(&reordered, cases[c].name, cases[c].reordered[k]);
            }
            lines++;
        }
        assert_true(lines >= 2);
        expect_code(f->sts, &joined, v->service, SIGV4_VECTOR_TIME, 0, NULL);
        expect_code(f->sts, &reordered, v->service, SIGV4_VECTOR_TIME, STS_ESIGNATURE,
                    MISMATCH_TEXT);
    }
}

/* ---- presigned URLs ---- */

static void test_presigned_expiry(void **state)
{
    fixture_t *f = *state;
    fake_t fk;
    const sigv4_vector_t *get = find_vector("s3-presigned-get");     /* X-Amz-Expires=900 */
    const sigv4_vector_t *put = find_vector("s3-presigned-put");     /* 604800 */
    const sigv4_vector_t *lam = find_vector("lambda-presigned-get"); /* 300 */
    const sigv4_vector_t *sts = find_vector("sts-presigned-get-caller-identity"); /* 60 */

    fake_vector(&fk, get, NULL, NULL);
    /* Valid through X-Amz-Date + X-Amz-Expires, however old the date. */
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME + 900, 0, NULL);
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME + 901, STS_EEXPIRED, "Request has expired");
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME + 86400, STS_EEXPIRED, "Request has expired");
    /* Up to 15 minutes early for a client whose clock runs ahead, no more. */
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME - 900, 0, NULL);
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME - 901, STS_ESKEW, "not yet current");

    fake_vector(&fk, put, NULL, NULL);
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME + 604800, 0, NULL);
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME + 604801, STS_EEXPIRED, NULL);
    fake_vector(&fk, lam, NULL, NULL);
    expect_code(f->sts, &fk, "lambda", SIGV4_VECTOR_TIME + 300, 0, NULL);
    expect_code(f->sts, &fk, "lambda", SIGV4_VECTOR_TIME + 301, STS_EEXPIRED, NULL);
    fake_vector(&fk, sts, NULL, NULL);
    expect_code(f->sts, &fk, "sts", SIGV4_VECTOR_TIME + 61, STS_EEXPIRED, NULL);
}

static void test_presigned_params(void **state)
{
    fixture_t *f = *state;
    const char *get = "s3-presigned-get";
    int64_t t = SIGV4_VECTOR_TIME;

    /* X-Amz-Expires: at most 7 days, a positive whole number. */
    expect_query_edit(f->sts, get, "X-Amz-Expires=900", "X-Amz-Expires=604801", t, STS_EQUERYPARAMS,
                      "604800");
    expect_query_edit(f->sts, get, "X-Amz-Expires=900", "X-Amz-Expires=0", t, STS_EQUERYPARAMS,
                      "X-Amz-Expires");
    expect_query_edit(f->sts, get, "X-Amz-Expires=900", "X-Amz-Expires=-5", t, STS_EQUERYPARAMS,
                      "should be a number");
    expect_query_edit(f->sts, get, "X-Amz-Expires=900", "X-Amz-Expires=9e2", t, STS_EQUERYPARAMS,
                      "should be a number");
    expect_query_edit(f->sts, get, "X-Amz-Expires=900", "X-Amz-Expires=", t, STS_EQUERYPARAMS,
                      "should be a number");
    expect_query_edit(f->sts, get, "X-Amz-Expires=900", "X-Amz-Expires=99999999999999999999", t,
                      STS_EQUERYPARAMS, "should be a number");
    /* Within the limit but not what was signed. */
    expect_query_edit(f->sts, get, "X-Amz-Expires=900", "X-Amz-Expires=901", t, STS_ESIGNATURE,
                      MISMATCH_TEXT);

    /* Each required parameter missing. */
    static const char *const required[] = {
        "X-Amz-Algorithm=", "X-Amz-Credential=",    "X-Amz-Date=",
        "X-Amz-Expires=",   "X-Amz-SignedHeaders=", "X-Amz-Signature="};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        /* Rename it, which keeps the rest of the query intact. */
        char renamed[64];
        snprintf(renamed, sizeof renamed, "Not-%s", required[i]);
        expect_query_edit(f->sts, get, required[i], renamed, t, STS_EQUERYPARAMS,
                          "Query-string authentication version 4 requires");
    }
    /* Malformed values and repeats. */
    expect_query_edit(f->sts, get, "X-Amz-Algorithm=AWS4-HMAC-SHA256",
                      "X-Amz-Algorithm=AWS4-HMAC-SHA1", t, STS_EQUERYPARAMS, "AWS4-HMAC-SHA256");
    expect_query_edit(f->sts, get, "X-Amz-Algorithm=AWS4-HMAC-SHA256",
                      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=AWS4-HMAC-SHA256", t,
                      STS_EQUERYPARAMS, "appears 2 times");
    expect_query_edit(f->sts, get, "X-Amz-Date=20250314T150926Z", "X-Amz-Date=20250314T150926", t,
                      STS_EQUERYPARAMS, "X-Amz-Date");
    expect_query_edit(f->sts, get, "%2Fs3%2Faws4_request", "%2Fs3", t, STS_EQUERYPARAMS,
                      "Credential");
    expect_query_edit(f->sts, get, "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=range", t,
                      STS_EQUERYPARAMS, "host");
    expect_query_edit(f->sts, get, "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x%3Bhost", t,
                      STS_EQUERYPARAMS, "sorted");
    expect_query_edit(f->sts, get, "X-Amz-Signature=", "X-Amz-Signature=00", t, STS_EQUERYPARAMS,
                      "Signature");
    expect_query_edit(f->sts, get, "X-Amz-Signature=", "X-Amz-Signature=%zz", t, STS_EQUERYPARAMS,
                      NULL);
    /* The scope is judged as in the header form. */
    expect_query_edit(f->sts, get, "us-east-1", "us-west-2", t, STS_ESCOPE, "us-west-2");
    expect_query_edit(f->sts, get, "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLF", t,
                      STS_EUNKNOWNKEY, NULL);

    /* Tampering with anything signed. */
    expect_query_edit(f->sts, get, "x-id=GetObject", "x-id=PutObject", t, STS_ESIGNATURE,
                      MISMATCH_TEXT);
    expect_query_edit(f->sts, get, "attachment", "inline", t, STS_ESIGNATURE, MISMATCH_TEXT);
    expect_query_edit(f->sts, get, "x-id=GetObject", "x-id=GetObject&versionId=1", t,
                      STS_ESIGNATURE, MISMATCH_TEXT);
    char sig_from[24], sig_to[24];
    const char *sig = strstr(find_vector(get)->query, "X-Amz-Signature=");
    assert_non_null(sig);
    snprintf(sig_from, sizeof sig_from, "%.17s", sig);
    snprintf(sig_to, sizeof sig_to, "%.16s%c", sig, sig[16] == '0' ? '1' : '0');
    expect_query_edit(f->sts, get, sig_from, sig_to, t, STS_ESIGNATURE, MISMATCH_TEXT);
    /* The query's order is free: only the signature is left out. */
    const sigv4_vector_t *v = find_vector(get);
    char query[2048];
    const char *amp = strchr(v->query, '&');
    assert_non_null(amp);
    snprintf(query, sizeof query, "%s&%.*s", amp + 1, (int)(amp - v->query), v->query);
    fake_t fk;
    fake_vector(&fk, v, NULL, query);
    expect_code(f->sts, &fk, "s3", t, 0, NULL);

    /* An Authorization header as well: one mechanism only. */
    fake_vector(&fk, v, NULL, NULL);
    fake_add(&fk, "Authorization",
             "AWS4-HMAC-SHA256 Credential=" SIGV4_VECTOR_KEY_ID
             "/20250314/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, "
             "Signature=" VANILLA_SIG);
    expect_code(f->sts, &fk, "s3", t, STS_EMALFORMED, "Only one auth mechanism allowed");

    /* No parameters and no header at all. */
    fake_init(&fk, "GET", "/bucket/key", "x-id=GetObject", NULL);
    fake_add(&fk, "host", "127.0.0.1:4566");
    expect_code(f->sts, &fk, "s3", t, STS_EMISSING, "Missing Authentication Token");
    /* A stray X-Amz-Signature alone is a presigned URL with parts missing. */
    fake_init(&fk, "GET", "/bucket/key", "X-Amz-Signature=" VANILLA_SIG, NULL);
    fake_add(&fk, "host", "127.0.0.1:4566");
    expect_code(f->sts, &fk, "s3", t, STS_EQUERYPARAMS, "requires");
}

/* Session tokens in presigned URLs: an ASIA key's token is handed to
 * sts_session_open (which knows none of these); a root key with a token is
 * refused as in the header form. */
static void test_presigned_token(void **state)
{
    fixture_t *f = *state;
    int64_t t = SIGV4_VECTOR_TIME;

    for (int i = 0; i < 2; i++) {
        const char *name =
            i == 0 ? "s3-presigned-temporary-credentials" : "sts-presigned-temporary-credentials";
        const sigv4_vector_t *v = find_vector(name);
        fake_t fk;
        fake_vector(&fk, v, NULL, NULL);
        assert_non_null(strstr(v->query, "X-Amz-Security-Token="));
        expect_code(f->sts, &fk, v->service, t, STS_EUNKNOWNKEY, "security token");
        /* Without its token an ASIA key is unknown too. */
        expect_query_edit(f->sts, name, "X-Amz-Security-Token=", "Other=", t, STS_EUNKNOWNKEY,
                          "security token");
        /* A repeated token is malformed. */
        expect_query_edit(f->sts, name, "X-Amz-Security-Token=",
                          "X-Amz-Security-Token=a&X-Amz-Security-Token=", t, STS_EQUERYPARAMS,
                          NULL);
    }
    expect_query_edit(f->sts, "s3-presigned-get", "x-id=GetObject",
                      "x-id=GetObject&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE", t, STS_EUNKNOWNKEY,
                      "security token");
}

/* Sign a presigned GET of the suite's host for `service` with the suite's
 * credentials: the query is the authentication parameters with `extra`
 * (UriEncoded, ending in '&', sorting between X-Amz-Algorithm and
 * X-Amz-Credential, as X-Amz-Content-Sha256 does) and the payload line
 * `payload`. Writes the wire query with the signature into out. */
static void oracle_presign(const char *service, const char *extra, const char *payload, char *out,
                           size_t outsz)
{
    char canonical[2048], sig[65], query[1536];
    snprintf(query, sizeof query,
             "X-Amz-Algorithm=AWS4-HMAC-SHA256&%sX-Amz-Credential=" SUITE_KEY_ID
             "%%2F20150830%%2Fus-east-1%%2F%s%%2Faws4_request&X-Amz-Date=" SUITE_DATE
             "&X-Amz-Expires=60&X-Amz-SignedHeaders=host",
             extra, service);
    snprintf(canonical, sizeof canonical, "GET\n/\n%s\nhost:" SUITE_HOST "\n\nhost\n%s", query,
             payload);
    oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", service, canonical, sig);
    snprintf(out, outsz, "%s&X-Amz-Signature=%s", query, sig);
}

/* The payload line of presigned URLs: UNSIGNED-PAYLOAD when the URL says so
 * (any service), else the body's hash (S3: UNSIGNED-PAYLOAD). */
static void test_presigned_payload(void **state)
{
    fixture_t *f = *state;
    char query[2048];
    fake_t fk;

    /* A Lambda URL that declares UNSIGNED-PAYLOAD takes any body. */
    oracle_presign("lambda", "", "UNSIGNED-PAYLOAD", query, sizeof query);
    fake_init(&fk, "GET", "/", query, "anything");
    fake_add(&fk, "Host", SUITE_HOST);
    expect_code(f->sts, &fk, "lambda", SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
    oracle_presign("lambda", "X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&", "UNSIGNED-PAYLOAD", query,
                   sizeof query);
    fake_init(&fk, "GET", "/", query, "anything");
    fake_add(&fk, "Host", SUITE_HOST);
    expect_code(f->sts, &fk, "lambda", SUITE_TIME, 0, NULL);
    /* Without it, the body's hash, as every SDK signs (aws-c-auth's suite too). */
    oracle_presign("lambda", "", EMPTY_SHA256, query, sizeof query);
    fake_init(&fk, "GET", "/", query, NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    expect_code(f->sts, &fk, "lambda", SUITE_TIME, 0, NULL);
    fake_init(&fk, "GET", "/", query, "x");
    fake_add(&fk, "Host", SUITE_HOST);
    expect_code(f->sts, &fk, "lambda", SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
    /* A declared hash is checked against the body. */
    oracle_presign("lambda", "X-Amz-Content-Sha256=" EMPTY_SHA256 "&", EMPTY_SHA256, query,
                   sizeof query);
    fake_init(&fk, "GET", "/", query, "x");
    fake_add(&fk, "Host", SUITE_HOST);
    expect_code(f->sts, &fk, "lambda", SUITE_TIME, STS_ESIGNATURE, "SHA-256");
    /* S3 without the parameter: UNSIGNED-PAYLOAD. */
    oracle_presign("s3", "", "UNSIGNED-PAYLOAD", query, sizeof query);
    fake_init(&fk, "GET", "/", query, "whatever");
    fake_add(&fk, "Host", SUITE_HOST);
    expect_code(f->sts, &fk, "s3", SUITE_TIME, 0, NULL);
}

/* ---- S3 rules ---- */

/* Sign a PUT /bucket/key for `service` with x-amz-content-sha256 `declared`
 * (NULL: no such header; the payload line is then the body's hash) over
 * `path` (wire) whose canonical form is `canonical_path`. */
static void oracle_put(fake_t *fk, const char *service, const char *path,
                       const char *canonical_path, const char *body, const char *declared)
{
    char canonical[1024], sig[65], scope[96], hash[65];
    sha256_hex(body, strlen(body), hash);
    fake_init(fk, "PUT", path, "", body);
    fake_add(fk, "Host", SUITE_HOST);
    if (declared != NULL)
        fake_add(fk, "x-amz-content-sha256", declared);
    fake_add(fk, "X-Amz-Date", SUITE_DATE);
    if (declared != NULL)
        snprintf(canonical, sizeof canonical,
                 "PUT\n%s\n\nhost:" SUITE_HOST "\nx-amz-content-sha256:%s\nx-amz-date:" SUITE_DATE
                 "\n\nhost;x-amz-content-sha256;x-amz-date\n%s",
                 canonical_path, declared, declared);
    else
        snprintf(canonical, sizeof canonical,
                 "PUT\n%s\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE "\n\nhost;x-amz-date\n%s",
                 canonical_path, hash);
    oracle_sign(SUITE_SECRET, SUITE_DATE, "us-east-1", service, canonical, sig);
    snprintf(scope, sizeof scope, "20150830/us-east-1/%s/aws4_request", service);
    fake_authz(fk, SUITE_KEY_ID, scope,
               declared != NULL ? "host;x-amz-content-sha256;x-amz-date" : "host;x-amz-date", sig);
}

static void test_s3_payload(void **state)
{
    fixture_t *f = *state;
    fake_t fk;

    /* UNSIGNED-PAYLOAD: S3 yes, Lambda no. */
    oracle_put(&fk, "s3", "/bucket/key", "/bucket/key", "body", "UNSIGNED-PAYLOAD");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, 0, NULL);
    oracle_put(&fk, "lambda", "/bucket/key", "/bucket/key", "body", "UNSIGNED-PAYLOAD");
    expect_code(f->sts, &fk, "lambda", SUITE_TIME, STS_ESIGNATURE, "UNSIGNED-PAYLOAD");
    /* STREAMING-UNSIGNED-PAYLOAD-TRAILER: verbatim, body unchecked (it is
     * aws-chunked on the wire); refused elsewhere. */
    oracle_put(&fk, "s3", "/bucket/key", "/bucket/key", "5\r\nhello\r\n0\r\n\r\n",
               "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, 0, NULL);
    oracle_put(&fk, "lambda", "/bucket/key", "/bucket/key", "x",
               "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    expect_code(f->sts, &fk, "lambda", SUITE_TIME, STS_ESIGNATURE, "x-amz-content-sha256");
    /* Chunk signatures are not verified, so such uploads are refused. */
    oracle_put(&fk, "s3", "/bucket/key", "/bucket/key", "x", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, STS_EMALFORMED, "not supported");
    oracle_put(&fk, "s3", "/bucket/key", "/bucket/key", "x",
               "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, STS_EMALFORMED, "not supported");
    /* Anything else is not a payload hash. */
    oracle_put(&fk, "s3", "/bucket/key", "/bucket/key", "x", "sha256");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, STS_EMALFORMED, "must be UNSIGNED-PAYLOAD");
    /* A hex hash must be the body's. */
    char hash[65];
    sha256_hex("body", 4, hash);
    oracle_put(&fk, "s3", "/bucket/key", "/bucket/key", "body", hash);
    expect_code(f->sts, &fk, "s3", SUITE_TIME, 0, NULL);
    oracle_put(&fk, "s3", "/bucket/key", "/bucket/key", "bodx", hash);
    expect_code(f->sts, &fk, "s3", SUITE_TIME, STS_ESIGNATURE,
                "The provided 'x-amz-content-sha256' header does not match what was computed.");
    /* S3 requires the header in the header form; other services do not. */
    oracle_put(&fk, "s3", "/bucket/key", "/bucket/key", "body", NULL);
    expect_code(f->sts, &fk, "s3", SUITE_TIME, STS_EMALFORMED,
                "Missing required header for this request: x-amz-content-sha256");
    oracle_put(&fk, "lambda", "/bucket/key", "/bucket/key", "body", NULL);
    expect_code(f->sts, &fk, "lambda", SUITE_TIME, 0, NULL);
}

static void test_s3_paths(void **state)
{
    fixture_t *f = *state;
    fake_t fk;

    /* Dot segments and double slashes are part of S3 keys. */
    oracle_put(&fk, "s3", "/bucket/a/../b/./c//d", "/bucket/a/../b/./c//d", "x",
               "UNSIGNED-PAYLOAD");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, 0, NULL);
    oracle_put(&fk, "s3", "/bucket/a/../b/./c//d", "/bucket/b/c/d", "x", "UNSIGNED-PAYLOAD");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
    /* Each key byte is encoded once, whatever escapes the client chose. */
    oracle_put(&fk, "s3", "/bucket/a%20b/%e1%88%b4~x%7E%41", "/bucket/a%20b/%E1%88%B4~x~A", "x",
               "UNSIGNED-PAYLOAD");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, 0, NULL);
    oracle_put(&fk, "s3", "/bucket/!'()*$@", "/bucket/%21%27%28%29%2A%24%40", "x",
               "UNSIGNED-PAYLOAD");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, 0, NULL);
    /* An escaped '/' is part of a key, not a separator. */
    oracle_put(&fk, "s3", "/bucket/a%2Fb", "/bucket/a%2Fb", "x", "UNSIGNED-PAYLOAD");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, 0, NULL);
    oracle_put(&fk, "s3", "/bucket/a%2Fb", "/bucket/a/b", "x", "UNSIGNED-PAYLOAD");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
    /* The same wire path for a non-S3 service is normalised and encoded twice. */
    oracle_put(&fk, "lambda", "/a/../b/%41", "/b/%2541", "", NULL);
    expect_code(f->sts, &fk, "lambda", SUITE_TIME, 0, NULL);
    /* A malformed escape names no key. */
    oracle_put(&fk, "s3", "/bucket/a%zz", "/bucket/a%zz", "x", "UNSIGNED-PAYLOAD");
    expect_code(f->sts, &fk, "s3", SUITE_TIME, STS_EMALFORMED, "percent-escape");
}

/* The S3 rules on requests the SDK signed. */
static void test_s3_sdk_vectors(void **state)
{
    fixture_t *f = *state;
    fake_t fk;

    /* The same key spelled with other escapes is the same key. */
    const sigv4_vector_t *v = find_vector("s3-special-characters");
    fake_vector(&fk, v, "/bucket/!'()*@$&+,;=:%7E-_.", NULL);
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME, 0, NULL);
    /* Dot segments are not normalised away. */
    v = find_vector("s3-dot-segments-kept");
    fake_vector(&fk, v, "/bucket/b/c/d", NULL);
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
    /* The aws-chunked upload with another body: the body is not hashed. */
    v = find_vector("s3-aws-chunked-trailer");
    fake_vector(&fk, v, NULL, NULL);
    fk.req.body = (const unsigned char *)"3\r\nabc\r\n0\r\n\r\n";
    fk.req.body_len = strlen("3\r\nabc\r\n0\r\n\r\n");
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME, 0, NULL);
    /* UNSIGNED-PAYLOAD likewise. */
    v = find_vector("s3-unsigned-payload");
    fake_vector(&fk, v, NULL, NULL);
    fk.req.body = (const unsigned char *)"other";
    fk.req.body_len = 5;
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME, 0, NULL);
    /* A hashed body must match its hash. */
    v = find_vector("s3-put-object-space-unicode");
    fake_vector(&fk, v, NULL, NULL);
    fk.req.body = (const unsigned char *)"hello worle";
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME, STS_ESIGNATURE,
                "The provided 'x-amz-content-sha256' header does not match what was computed.");
    /* The presigned PUT: UNSIGNED-PAYLOAD from the query, any body. */
    v = find_vector("s3-presigned-put");
    fake_vector(&fk, v, NULL, NULL);
    fk.req.body = (const unsigned char *)"another upload";
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME, 0, NULL);
    /* Lambda's hashed body, changed. */
    v = find_vector("lambda-invoke-arn-path");
    fake_vector(&fk, v, NULL, NULL);
    fk.req.body = (const unsigned char *)"{\"key\":\"valuf\"}";
    expect_code(f->sts, &fk, "lambda", SIGV4_VECTOR_TIME, STS_ESIGNATURE, "SHA-256");
    v = find_vector("lambda-no-checksum-header");
    fake_vector(&fk, v, NULL, NULL);
    fk.req.body_len--;
    expect_code(f->sts, &fk, "lambda", SIGV4_VECTOR_TIME, STS_ESIGNATURE, MISMATCH_TEXT);
}

/* ---- temporary credentials in the header form ---- */

static void test_temporary_header(void **state)
{
    fixture_t *f = *state;
    const sigv4_vector_t *v = find_vector("lambda-temporary-credentials");
    fake_t fk;
    http_caller_t caller;
    char msg[256];

    /* The token reaches sts_session_open, which does not know it. */
    fake_vector(&fk, v, NULL, NULL);
    memset(&caller, 0x5a, sizeof caller);
    assert_int_equal(
        sts_verify(f->sts, &fk.req, "lambda", SIGV4_VECTOR_TIME, &caller, msg, sizeof msg),
        STS_EUNKNOWNKEY);
    assert_string_equal(msg, "The security token included in the request is invalid.");
    /* A refusal after the token was looked at leaves no caller behind. */
    assert_int_equal(caller.root, 0);
    assert_int_equal(caller.access_key_id[0], '\0');
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME, STS_ESCOPE, NULL);

    /* Without the token header: unknown. */
    fake_init(&fk, v->method, v->path, v->query, NULL);
    fk.req.body = (const unsigned char *)v->body;
    fk.req.body_len = v->body_len;
    const char *authz = NULL;
    for (int i = 0; v->headers[i] != NULL; i += 2) {
        if (strcmp(v->headers[i], "authorization") == 0)
            authz = v->headers[i + 1];
        if (strcmp(v->headers[i], "x-amz-security-token") != 0)
            fake_add(&fk, v->headers[i], v->headers[i + 1]);
    }
    assert_non_null(authz);
    expect_code(f->sts, &fk, "lambda", SIGV4_VECTOR_TIME, STS_EUNKNOWNKEY, "security token");

    /* With the token header but not signed: AWS signs it, so must the client. */
    char unsigned_authz[1024];
    const char *at = strstr(authz, ";x-amz-security-token");
    assert_non_null(at);
    snprintf(unsigned_authz, sizeof unsigned_authz, "%.*s%s", (int)(at - authz), authz,
             at + strlen(";x-amz-security-token"));
    fake_init(&fk, v->method, v->path, v->query, NULL);
    for (int i = 0; v->headers[i] != NULL; i += 2) {
        if (strcmp(v->headers[i], "authorization") == 0)
            fake_add(&fk, "authorization", unsigned_authz);
        else
            fake_add(&fk, v->headers[i], v->headers[i + 1]);
    }
    expect_code(f->sts, &fk, "lambda", SIGV4_VECTOR_TIME, STS_EMALFORMED,
                "'X-Amz-Security-Token' must be a 'SignedHeader'");

    /* S3 likewise. */
    const sigv4_vector_t *s3v = find_vector("s3-temporary-credentials");
    fake_vector(&fk, s3v, NULL, NULL);
    expect_code(f->sts, &fk, "s3", SIGV4_VECTOR_TIME, STS_EUNKNOWNKEY, NULL);
}

/* ---- temporary credentials minted by sts (sealed session tokens) ---- */

/* An sts with the suite's root credentials and a session key, so that it
 * mints and opens session tokens. */
static int setup_session(void **state)
{
    if (setup_dir(state) != 0)
        return -1;
    fixture_t *f = *state;
    char err[256];
    setenv(ENV_KEY_ID, SUITE_KEY_ID, 1);
    setenv(ENV_SECRET, SUITE_SECRET, 1);
    util_random(f->key.k, sizeof f->key.k);
    sts_options_t o = {
        .data_dir = f->dir, .region = "us-east-1", .account_id = "000000000000", .key = &f->key};
    if (sts_open(&f->sts, &o, err, sizeof err) != 0) {
        fprintf(stderr, "sts_open: %s\n", err);
        return -1;
    }
    return 0;
}

/* A temporary credential: GetSessionToken's kind (acting as root). */
typedef struct temp_cred {
    char akid[32];
    char secret[64];
    char token[4096];
    int64_t expires;
} temp_cred_t;

static void mint_temp(sts_t *s, int64_t now, int64_t duration, temp_cred_t *c)
{
    sts_session_t sess = {.root = 1, .session_name = "test", .duration = duration};
    json_t *j = sts_session_mint(s, &sess, now);
    assert_non_null(j);
    snprintf(c->akid, sizeof c->akid, "%s", json_string_value(json_object_get(j, "AccessKeyId")));
    snprintf(c->secret, sizeof c->secret, "%s",
             json_string_value(json_object_get(j, "SecretAccessKey")));
    snprintf(c->token, sizeof c->token, "%s",
             json_string_value(json_object_get(j, "SessionToken")));
    c->expires = json_integer_value(json_object_get(j, "Expiration"));
    json_decref(j);
    assert_true(strncmp(c->akid, "ASIA", 4) == 0);
}

/* UriEncode s into out (room for 3 strlen(s) + 1). */
static void uri_encode_str(const char *s, char *out)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            *out++ = (char)c;
        else
            out += sprintf(out, "%%%02X", c);
    }
    *out = '\0';
}

/* A GET / in header form with X-Amz-Security-Token `token` (signed),
 * signed with `secret` for access key id `akid`. */
static void temp_request(fake_t *fk, const char *akid, const char *secret, const char *token)
{
    char canonical[8192], sig[65];
    snprintf(canonical, sizeof canonical,
             "GET\n/\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
             "\nx-amz-security-token:%s\n\nhost;x-amz-date;x-amz-security-token\n" EMPTY_SHA256,
             token);
    oracle_sign(secret, SUITE_DATE, "us-east-1", "service", canonical, sig);
    fake_init(fk, "GET", "/", "", NULL);
    fake_add(fk, "Host", SUITE_HOST);
    fake_add(fk, "X-Amz-Date", SUITE_DATE);
    fake_add(fk, "X-Amz-Security-Token", token);
    fake_authz(fk, akid, SUITE_SCOPE, "host;x-amz-date;x-amz-security-token", sig);
}

static void test_temporary_signed(void **state)
{
    fixture_t *f = *state;
    temp_cred_t c, d;
    fake_t fk;
    http_caller_t caller;
    char msg[512];

    mint_temp(f->sts, SUITE_TIME - 100, 900, &c);
    mint_temp(f->sts, SUITE_TIME - 100, 900, &d);
    assert_int_equal(c.expires, SUITE_TIME + 800);

    /* Header form: the caller is what the token says. */
    temp_request(&fk, c.akid, c.secret, c.token);
    for (int pass = 0; pass < 2; pass++) { /* the second with the key cached */
        memset(&caller, 0x5a, sizeof caller);
        assert_int_equal(
            sts_verify(f->sts, &fk.req, "service", SUITE_TIME, &caller, msg, sizeof msg), 0);
        assert_string_equal(caller.access_key_id, c.akid);
        assert_int_equal(caller.root, 1);
        assert_string_equal(caller.arn, "arn:aws:iam::000000000000:root");
        assert_int_equal(caller.expires, SUITE_TIME + 800);
    }
    /* Expired: the token's expiry, not the skew window. */
    memset(&caller, 0x5a, sizeof caller);
    assert_int_equal(
        sts_verify(f->sts, &fk.req, "service", SUITE_TIME + 800, &caller, msg, sizeof msg),
        STS_EEXPIRED);
    assert_string_equal(msg, "The security token included in the request is expired");
    assert_int_equal(caller.access_key_id[0], '\0'); /* nothing half-filled */
    assert_int_equal(caller.root, 0);

    /* The token of another credential, a tampered token, another secret. */
    temp_request(&fk, c.akid, c.secret, d.token);
    expect_code(f->sts, &fk, "service", SUITE_TIME, STS_EUNKNOWNKEY, "security token");
    char tampered[sizeof c.token];
    snprintf(tampered, sizeof tampered, "%s", c.token);
    tampered[strlen(tampered) / 2] = tampered[strlen(tampered) / 2] == 'A' ? 'B' : 'A';
    temp_request(&fk, c.akid, c.secret, tampered);
    expect_code(f->sts, &fk, "service", SUITE_TIME, STS_EUNKNOWNKEY, "security token");
    temp_request(&fk, c.akid, d.secret, c.token);
    expect_code(f->sts, &fk, "service", SUITE_TIME, STS_ESIGNATURE, MISMATCH_TEXT);

    /* Presigned, the token in the query (UriEncoded: base64 has + / =). */
    char token_enc[3 * sizeof c.token], query[16384], canonical[16384 + 256], sig[65];
    uri_encode_str(c.token, token_enc);
    snprintf(query, sizeof query,
             "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F20150830%%2Fus-east-1%%2F"
             "service%%2Faws4_request&X-Amz-Date=" SUITE_DATE
             "&X-Amz-Expires=3600&X-Amz-Security-Token=%s&X-Amz-SignedHeaders=host",
             c.akid, token_enc);
    snprintf(canonical, sizeof canonical, "GET\n/\n%s\nhost:" SUITE_HOST "\n\nhost\n" EMPTY_SHA256,
             query);
    oracle_sign(c.secret, SUITE_DATE, "us-east-1", "service", canonical, sig);
    snprintf(query + strlen(query), sizeof query - strlen(query), "&X-Amz-Signature=%s", sig);
    fake_init(&fk, "GET", "/", query, NULL);
    fake_add(&fk, "Host", SUITE_HOST);
    memset(&caller, 0, sizeof caller);
    assert_int_equal(sts_verify(f->sts, &fk.req, "service", SUITE_TIME, &caller, msg, sizeof msg),
                     0);
    assert_string_equal(caller.access_key_id, c.akid);
    /* The URL lives an hour, the credential less: the credential wins. */
    expect_code(f->sts, &fk, "service", SUITE_TIME + 801, STS_EEXPIRED, "security token");
}

/* ---- error shapes of the newer codes ---- */

static void test_error_response_more(void **state)
{
    const char *expired = "The security token included in the request is expired";

    /* Expired temporary credentials. */
    expect_error(STS_EEXPIRED, expired, HTTP_PROTO_JSON, 403, "ExpiredTokenException", expired);
    expect_error(STS_EEXPIRED, NULL, HTTP_PROTO_JSON, 403, "ExpiredTokenException", expired);
    expect_error(STS_EEXPIRED, expired, HTTP_PROTO_QUERY, 403, "<Code>ExpiredToken<", expired);
    expect_error(STS_EEXPIRED, expired, HTTP_PROTO_S3, 400, "<Code>ExpiredToken<", NULL);
    /* An expired presigned URL: S3 says AccessDenied. */
    expect_error(STS_EEXPIRED, "Request has expired", HTTP_PROTO_S3, 403, "<Code>AccessDenied<",
                 "Request has expired");
    /* Denied by policy. */
    expect_error(STS_EDENIED, "User: arn:aws:sts::000000000000:assumed-role/r/s is not authorized",
                 HTTP_PROTO_JSON, 400, "AccessDeniedException", "is not authorized");
    expect_error(STS_EDENIED, NULL, HTTP_PROTO_JSON, 400, "AccessDeniedException", "access");
    expect_error(STS_EDENIED, "x", HTTP_PROTO_QUERY, 403, "<Code>AccessDenied<", NULL);
    expect_error(STS_EDENIED, "x", HTTP_PROTO_S3, 403, "<Code>AccessDenied<", "Access Denied");
    /* Presigned parameters. */
    expect_error(STS_EQUERYPARAMS, "X-Amz-Expires must be less than a week", HTTP_PROTO_S3, 400,
                 "<Code>AuthorizationQueryParametersError<", "X-Amz-Expires");
    expect_error(STS_EQUERYPARAMS, "x", HTTP_PROTO_JSON, 400, "IncompleteSignatureException", NULL);
    expect_error(STS_EQUERYPARAMS, "x", HTTP_PROTO_QUERY, 400, "<Code>IncompleteSignature<", NULL);
    /* S3's own codes for payload and mechanism errors. */
    expect_error(STS_EMALFORMED, "Missing required header for this request: x-amz-content-sha256",
                 HTTP_PROTO_S3, 400, "<Code>InvalidRequest<", "x-amz-content-sha256");
    expect_error(STS_ESIGNATURE,
                 "The provided 'x-amz-content-sha256' header does not match what was computed.",
                 HTTP_PROTO_S3, 400, "<Code>XAmzContentSHA256Mismatch<", NULL);
    expect_error(STS_EMALFORMED,
                 "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                 "STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid sha256 value.",
                 HTTP_PROTO_S3, 400, "<Code>InvalidArgument<", NULL);
    /* The same messages elsewhere keep the generic shapes. */
    expect_error(STS_EMALFORMED, "Missing required header for this request: x-amz-content-sha256",
                 HTTP_PROTO_JSON, 400, "IncompleteSignatureException", NULL);
    expect_error(STS_EEXPIRED, "Request has expired", HTTP_PROTO_QUERY, 403, "<Code>ExpiredToken<",
                 NULL);
    /* Past the last code: still an error. */
    expect_error(-10, "x", HTTP_PROTO_S3, 500, "<Code>InternalError<", NULL);
    expect_error(1, "x", HTTP_PROTO_JSON, 500, "InternalFailure", NULL);

    /* The verifier's messages map as they should, end to end. */
    fixture_t *f = *state;
    char msg[512];
    fake_t fk;
    fake_vector(&fk, find_vector("s3-presigned-get"), NULL, NULL);
    assert_int_equal(verify(f->sts, &fk, "s3", SIGV4_VECTOR_TIME + 901, msg, sizeof msg),
                     STS_EEXPIRED);
    expect_error(STS_EEXPIRED, msg, HTTP_PROTO_S3, 403, "<Code>AccessDenied<", NULL);
    /* (Refused before the signature is looked at.) */
    fake_init(&fk, "PUT", "/bucket/key", "", "x");
    fake_add(&fk, "Host", "h");
    fake_add(&fk, "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    fake_add(&fk, "X-Amz-Date", "20250314T150926Z");
    fake_authz(&fk, SIGV4_VECTOR_KEY_ID, "20250314/us-east-1/s3/aws4_request",
               "host;x-amz-content-sha256;x-amz-date", VANILLA_SIG);
    assert_int_equal(verify(f->sts, &fk, "s3", SIGV4_VECTOR_TIME, msg, sizeof msg), STS_EMALFORMED);
    expect_error(STS_EMALFORMED, msg, HTTP_PROTO_S3, 501, "<Code>NotImplemented<", "not supported");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root_from_env, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_root_env_wins_over_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_root_env_refused, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_root_created, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_root_from_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_root_file_refused, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_open_options, setup_dir, teardown_dir),
        cmocka_unit_test(test_oracle_matches_suite),
        cmocka_unit_test_setup_teardown(test_get_vanilla, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_suite_vectors, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_encoded_paths, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_query_rules, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_authorization_spacing, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_body, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_missing, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_wrong_secret, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_skew, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_scope, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_signed_headers_rules, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_malformed, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_date, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_concurrent, setup_suite, teardown_dir),
        cmocka_unit_test(test_error_response),
        cmocka_unit_test_setup_teardown(test_sdk_vectors, setup_vectors, teardown_dir),
        cmocka_unit_test_setup_teardown(test_sdk_repeated_headers, setup_vectors, teardown_dir),
        cmocka_unit_test_setup_teardown(test_presigned_expiry, setup_vectors, teardown_dir),
        cmocka_unit_test_setup_teardown(test_presigned_params, setup_vectors, teardown_dir),
        cmocka_unit_test_setup_teardown(test_presigned_token, setup_vectors, teardown_dir),
        cmocka_unit_test_setup_teardown(test_presigned_payload, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_s3_payload, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_s3_paths, setup_suite, teardown_dir),
        cmocka_unit_test_setup_teardown(test_s3_sdk_vectors, setup_vectors, teardown_dir),
        cmocka_unit_test_setup_teardown(test_temporary_header, setup_vectors, teardown_dir),
        cmocka_unit_test_setup_teardown(test_temporary_signed, setup_session, teardown_dir),
        cmocka_unit_test_setup_teardown(test_error_response_more, setup_vectors, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
