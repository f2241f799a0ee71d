/* test_server.c - unit tests for server/'s configuration (server.h, config.c).
 *
 * cloudlet refuses a config it would misread, naming the field, rather than
 * half-applying it. These tests hold config_defaults to the values server.h
 * and README.md document, check that a full cloudlet.json applies every
 * field, and that each kind of mistake (unknown field, wrong type, out of
 * range, broken JSON, bad bucket or index document) is refused with a
 * message naming the file and the field. Each test writes its configs into
 * a fresh temporary directory and removes them again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/unit/testutil.h"
#include "server/server.h"

typedef struct fixture {
    char dir[64];
    char path[96]; /* dir/cloudlet.json */
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = xcalloc(1, sizeof *f);
    if (test_tmpdir(f->dir, sizeof f->dir, "server") != 0) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/cloudlet.json", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    unlink(f->path);
    int rc = rmdir(f->dir);
    free(f);
    return rc;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

/* Write `json` as the fixture's config and load it over the defaults. */
static int load(fixture_t *f, const char *json, config_t *cfg, char *err, size_t errsz)
{
    write_file(f->path, json);
    config_defaults(cfg);
    err[0] = '\0';
    return config_load(cfg, f->path, err, errsz);
}

/* Load `json`, expect refusal, and expect the message to name the file and
 * to contain `want` (the field, quoted as the messages quote it). */
static void expect_refused(fixture_t *f, const char *json, const char *want)
{
    config_t cfg;
    char err[512];
    int rc = load(f, json, &cfg, err, sizeof err);
    config_free(&cfg);
    if (rc != -1)
        fail_msg("accepted %s", json);
    if (strstr(err, f->path) == NULL)
        fail_msg("message for %s does not name the file: \"%s\"", json, err);
    if (strstr(err, want) == NULL)
        fail_msg("message for %s does not contain %s: \"%s\"", json, want, err);
}

/* Load `json` and expect it to be accepted. */
static void expect_accepted(fixture_t *f, const char *json, config_t *cfg)
{
    char err[512];
    int rc = load(f, json, cfg, err, sizeof err);
    if (rc != 0)
        fail_msg("refused %s: \"%s\"", json, err);
}

static void check_defaults(const config_t *cfg)
{
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8080);
    assert_string_equal(cfg->data_dir, "var");
    assert_string_equal(cfg->region, "us-east-1");
    assert_string_equal(cfg->account_id, "000000000000");
    assert_null(cfg->endpoint);
    assert_int_equal(cfg->threads, 0);
    assert_int_equal(cfg->max_body, (size_t)128 << 20);
    assert_int_equal(cfg->max_header, (size_t)16 << 10);
    assert_int_equal(cfg->max_conns, 1024);
    assert_int_equal(cfg->idle_timeout, 30);
    assert_int_equal(cfg->map_size, (size_t)16384 << 20);
    assert_string_equal(cfg->site_bucket, "site");
    assert_string_equal(cfg->index_doc, "index.html");
    assert_null(cfg->error_doc);
    assert_int_equal(cfg->spa_fallback, 0);
    assert_int_equal(cfg->access_log, 1);
    assert_null(cfg->user_pools);
    assert_int_equal(cfg->max_failed_user, 5);
    assert_int_equal(cfg->max_failed_addr, 20);
    assert_int_equal(cfg->lockout_seconds, 900);
}

/* ---- defaults and --listen ---- */

static void test_defaults(void **state)
{
    config_t cfg;
    memset(&cfg, 0x5a, sizeof cfg);
    config_defaults(&cfg);
    check_defaults(&cfg);
    config_free(&cfg);
    /* config_free leaves nothing dangling; freeing again is harmless. */
    assert_null(cfg.listen_host);
    config_free(&cfg);
}

static void test_set_listen(void **state)
{
    config_t cfg;
    config_defaults(&cfg);
    assert_int_equal(config_set_listen(&cfg, "127.0.0.1:80"), 0);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 80);

    assert_int_equal(config_set_listen(&cfg, "[::1]:8080"), 0);
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 8080);

    assert_int_equal(config_set_listen(&cfg, "0.0.0.0:65535"), 0);
    assert_string_equal(cfg.listen_host, "0.0.0.0");
    assert_int_equal(cfg.listen_port, 65535);

    assert_int_equal(config_set_listen(&cfg, "localhost:1"), 0);
    assert_string_equal(cfg.listen_host, "localhost");
    assert_int_equal(cfg.listen_port, 1);

    assert_int_equal(config_set_listen(&cfg, "[fe80::1]:443"), 0);
    assert_string_equal(cfg.listen_host, "fe80::1");
    assert_int_equal(cfg.listen_port, 443);
    config_free(&cfg);
}

static void test_set_listen_bad(void **state)
{
    const char *bad[] = {"nohost",
                         "h:",
                         "h:99999",
                         ":80",
                         "",
                         ":",
                         "h:80x",
                         "h:x80",
                         "h:65536",
                         "h:-1",
                         "h:18446744073709551617",
                         "[]:80",
                         "h: 80",
                         "h:+80",
                         "h:0",
                         "[::1]80:1"};
    config_t cfg;
    config_defaults(&cfg);
    assert_int_equal(config_set_listen(&cfg, "example.com:9000"), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (config_set_listen(&cfg, bad[i]) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        /* A refused address leaves the config as it was. */
        assert_string_equal(cfg.listen_host, "example.com");
        assert_int_equal(cfg.listen_port, 9000);
    }
    config_free(&cfg);
}

/* ---- loading ---- */

static void test_load_full(void **state)
{
    fixture_t *f = *state;
    const char *json = "{\n"
                       "  \"listen\": \"[::]:9000\",\n"
                       "  \"dataDir\": \"/srv/cloudlet\",\n"
                       "  \"region\": \"eu-west-1\",\n"
                       "  \"accountId\": \"123456789012\",\n"
                       "  \"endpoint\": \"https://cloud.example.com\",\n"
                       "  \"threads\": 8,\n"
                       "  \"accessLog\": false,\n"
                       "  \"limits\": {\n"
                       "    \"maxBodyBytes\": 1048576,\n"
                       "    \"maxHeaderBytes\": 8192,\n"
                       "    \"maxConnections\": 50,\n"
                       "    \"idleTimeoutSeconds\": 5\n"
                       "  },\n"
                       "  \"storage\": { \"mapSizeMB\": 64 },\n"
                       "  \"site\": {\n"
                       "    \"bucket\": \"www.example-site\",\n"
                       "    \"indexDocument\": \"home.htm\",\n"
                       "    \"errorDocument\": \"errors/404.html\",\n"
                       "    \"spaFallback\": true\n"
                       "  }\n"
                       "}\n";
    config_t cfg;
    expect_accepted(f, json, &cfg);
    assert_string_equal(cfg.listen_host, "::");
    assert_int_equal(cfg.listen_port, 9000);
    assert_string_equal(cfg.data_dir, "/srv/cloudlet");
    assert_string_equal(cfg.region, "eu-west-1");
    assert_string_equal(cfg.account_id, "123456789012");
    assert_string_equal(cfg.endpoint, "https://cloud.example.com");
    assert_int_equal(cfg.threads, 8);
    assert_int_equal(cfg.access_log, 0);
    assert_int_equal(cfg.max_body, 1048576);
    assert_int_equal(cfg.max_header, 8192);
    assert_int_equal(cfg.max_conns, 50);
    assert_int_equal(cfg.idle_timeout, 5);
    assert_int_equal(cfg.map_size, (size_t)64 << 20);
    assert_string_equal(cfg.site_bucket, "www.example-site");
    assert_string_equal(cfg.index_doc, "home.htm");
    assert_string_equal(cfg.error_doc, "errors/404.html");
    assert_int_equal(cfg.spa_fallback, 1);
    config_free(&cfg);
}

/* README.md's configuration section lists the defaults as a cloudlet.json;
 * loading it must change nothing. */
static void test_load_readme_defaults(void **state)
{
    fixture_t *f = *state;
    const char *json = "{\n"
                       "  \"listen\": \"127.0.0.1:8080\",\n"
                       "  \"dataDir\": \"var\",\n"
                       "  \"region\": \"us-east-1\",\n"
                       "  \"accountId\": \"000000000000\",\n"
                       "  \"endpoint\": null,\n"
                       "  \"threads\": 0,\n"
                       "  \"accessLog\": true,\n"
                       "  \"limits\": {\n"
                       "    \"maxBodyBytes\": 134217728,\n"
                       "    \"maxHeaderBytes\": 16384,\n"
                       "    \"maxConnections\": 1024,\n"
                       "    \"idleTimeoutSeconds\": 30\n"
                       "  },\n"
                       "  \"storage\": { \"mapSizeMB\": 16384 },\n"
                       "  \"site\": {\n"
                       "    \"bucket\": \"site\",\n"
                       "    \"indexDocument\": \"index.html\",\n"
                       "    \"errorDocument\": null,\n"
                       "    \"spaFallback\": false\n"
                       "  },\n"
                       "  \"auth\": {\n"
                       "    \"maxFailedLoginsPerUser\": 5,\n"
                       "    \"maxFailedLoginsPerAddress\": 20,\n"
                       "    \"lockoutSeconds\": 900\n"
                       "  },\n"
                       "  \"userPools\": null\n"
                       "}\n";
    config_t cfg;
    expect_accepted(f, json, &cfg);
    check_defaults(&cfg);
    config_free(&cfg);

    /* Every field is optional: empty objects change nothing either. */
    expect_accepted(f, "{}", &cfg);
    check_defaults(&cfg);
    config_free(&cfg);
    expect_accepted(f, "{\"limits\": {}, \"storage\": {}, \"site\": {}}", &cfg);
    check_defaults(&cfg);
    config_free(&cfg);
}

/* A config is read over what is already in *cfg: fields it does not set
 * keep their values. */
static void test_load_over_existing(void **state)
{
    fixture_t *f = *state;
    write_file(f->path, "{\"region\": \"ap-south-1\"}");
    config_t cfg;
    config_defaults(&cfg);
    assert_int_equal(config_set_listen(&cfg, "10.0.0.1:81"), 0);
    char err[256];
    assert_int_equal(config_load(&cfg, f->path, err, sizeof err), 0);
    assert_string_equal(cfg.region, "ap-south-1");
    assert_string_equal(cfg.listen_host, "10.0.0.1");
    assert_int_equal(cfg.listen_port, 81);
    config_free(&cfg);
}

static void test_load_null_optional(void **state)
{
    fixture_t *f = *state;
    write_file(f->path, "{\"endpoint\": null, \"site\": {\"errorDocument\": null}}");
    config_t cfg;
    config_defaults(&cfg);
    /* Set them first, so null visibly clears them (and frees the old value). */
    cfg.endpoint = xstrdup("http://old");
    cfg.error_doc = xstrdup("old.html");
    char err[256];
    assert_int_equal(config_load(&cfg, f->path, err, sizeof err), 0);
    assert_null(cfg.endpoint);
    assert_null(cfg.error_doc);
    config_free(&cfg);

    /* null is only for the optional strings. */
    expect_refused(f, "{\"region\": null}", "'region'");
    expect_refused(f, "{\"dataDir\": null}", "'dataDir'");
    expect_refused(f, "{\"site\": {\"indexDocument\": null}}", "'site.indexDocument'");
    expect_refused(f, "{\"site\": {\"bucket\": null}}", "'site.bucket'");
    expect_refused(f, "{\"listen\": null}", "'listen'");
    expect_refused(f, "{\"threads\": null}", "'threads'");
}

static void test_load_unknown_fields(void **state)
{
    fixture_t *f = *state;
    expect_refused(f, "{\"lsiten\": \"127.0.0.1:80\"}", "'lsiten'");
    expect_refused(f, "{\"region\": \"x\", \"Region\": \"y\"}", "'Region'");
    expect_refused(f, "{\"limits\": {\"foo\": 1}}", "'limits.foo'");
    expect_refused(f, "{\"storage\": {\"mapSize\": 1}}", "'storage.mapSize'");
    expect_refused(f, "{\"site\": {\"index\": \"a.html\"}}", "'site.index'");
    /* A top-level field is not accepted inside a section, nor a section in
     * a section. */
    expect_refused(f, "{\"site\": {\"listen\": \"h:1\"}}", "'site.listen'");
    expect_refused(f, "{\"limits\": {\"site\": {}}}", "'limits.site'");
    /* A section's field is not accepted at the top level. */
    expect_refused(f, "{\"maxBodyBytes\": 1}", "'maxBodyBytes'");
    /* The messages say why. */
    expect_refused(f, "{\"limits\": {\"foo\": 1}}", "not a known setting");
}

static void test_load_wrong_types(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *json;
        const char *field;
    } cases[] = {
        {"{\"listen\": 8080}", "'listen'"},
        {"{\"listen\": \"nohost\"}", "'listen'"},
        {"{\"dataDir\": 5}", "'dataDir'"},
        {"{\"dataDir\": \"\"}", "'dataDir'"},
        {"{\"region\": [\"us-east-1\"]}", "'region'"},
        {"{\"accountId\": 123456789012}", "'accountId'"},
        {"{\"endpoint\": false}", "'endpoint'"},
        {"{\"endpoint\": \"\"}", "'endpoint'"},
        {"{\"threads\": \"4\"}", "'threads'"},
        {"{\"threads\": 4.0}", "'threads'"},
        {"{\"threads\": true}", "'threads'"},
        {"{\"accessLog\": 1}", "'accessLog'"},
        {"{\"accessLog\": \"true\"}", "'accessLog'"},
        {"{\"limits\": 5}", "'limits'"},
        {"{\"limits\": []}", "'limits'"},
        {"{\"storage\": null}", "'storage'"},
        {"{\"site\": \"site\"}", "'site'"},
        {"{\"limits\": {\"maxBodyBytes\": \"1MB\"}}", "'limits.maxBodyBytes'"},
        {"{\"limits\": {\"maxConnections\": 1.5}}", "'limits.maxConnections'"},
        {"{\"storage\": {\"mapSizeMB\": 1.5}}", "'storage.mapSizeMB'"},
        {"{\"site\": {\"bucket\": 7}}", "'site.bucket'"},
        {"{\"site\": {\"indexDocument\": \"\"}}", "'site.indexDocument'"},
        {"{\"site\": {\"errorDocument\": 404}}", "'site.errorDocument'"},
        {"{\"site\": {\"spaFallback\": \"yes\"}}", "'site.spaFallback'"},
        {"{\"site\": {\"spaFallback\": null}}", "'site.spaFallback'"},
        {"{\"userPools\": {}}", "'userPools'"},
        {"{\"userPools\": \"pool\"}", "'userPools'"},
        {"{\"auth\": {\"maxFailedLoginsPerUser\": 0}}", "'auth.maxFailedLoginsPerUser'"},
        {"{\"auth\": {\"lockoutSeconds\": \"15m\"}}", "'auth.lockoutSeconds'"},
        {"{\"auth\": {\"maxFailed\": 3}}", "'auth.maxFailed'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refused(f, cases[i].json, cases[i].field);

    /* Strings are bounded. */
    char *longstr = xmalloc(5000);
    memset(longstr, 'r', 4999);
    longstr[4999] = '\0';
    char *json = xasprintf("{\"region\": \"%s\"}", longstr);
    expect_refused(f, json, "'region'");
    free(json);
    free(longstr);
}

static void test_load_out_of_range(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *json;
        const char *field;
    } refused[] = {
        {"{\"threads\": 257}", "'threads'"},
        {"{\"threads\": -1}", "'threads'"},
        {"{\"limits\": {\"maxBodyBytes\": 0}}", "'limits.maxBodyBytes'"},
        {"{\"limits\": {\"maxBodyBytes\": 68719476737}}", "'limits.maxBodyBytes'"},
        {"{\"limits\": {\"maxBodyBytes\": -5}}", "'limits.maxBodyBytes'"},
        {"{\"limits\": {\"maxHeaderBytes\": 1023}}", "'limits.maxHeaderBytes'"},
        {"{\"limits\": {\"maxHeaderBytes\": 1048577}}", "'limits.maxHeaderBytes'"},
        {"{\"limits\": {\"maxConnections\": 0}}", "'limits.maxConnections'"},
        {"{\"limits\": {\"maxConnections\": 100001}}", "'limits.maxConnections'"},
        {"{\"limits\": {\"idleTimeoutSeconds\": 0}}", "'limits.idleTimeoutSeconds'"},
        {"{\"limits\": {\"idleTimeoutSeconds\": 86401}}", "'limits.idleTimeoutSeconds'"},
        {"{\"storage\": {\"mapSizeMB\": 0}}", "'storage.mapSizeMB'"},
        {"{\"storage\": {\"mapSizeMB\": 16777217}}", "'storage.mapSizeMB'"},
        {"{\"listen\": \"127.0.0.1:70000\"}", "'listen'"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        expect_refused(f, refused[i].json, refused[i].field);
    /* The message gives the range, as README.md shows. */
    expect_refused(f, "{\"limits\": {\"maxBodyBytes\": 0}}",
                   "field 'limits.maxBodyBytes' must be an integer from 1 to 68719476736");

    /* The bounds themselves are accepted and stored in full. */
    config_t cfg;
    expect_accepted(f,
                    "{\"threads\": 256, \"limits\": {\"maxBodyBytes\": 68719476736, "
                    "\"maxHeaderBytes\": 1048576, \"maxConnections\": 100000, "
                    "\"idleTimeoutSeconds\": 86400}, \"storage\": {\"mapSizeMB\": 16777216}}",
                    &cfg);
    assert_int_equal(cfg.threads, 256);
    assert_int_equal(cfg.max_body, (size_t)64 << 30);
    assert_int_equal(cfg.max_header, (size_t)1 << 20);
    assert_int_equal(cfg.max_conns, 100000);
    assert_int_equal(cfg.idle_timeout, 86400);
    assert_int_equal(cfg.map_size, (size_t)1 << 44);
    config_free(&cfg);
    expect_accepted(f,
                    "{\"threads\": 0, \"limits\": {\"maxBodyBytes\": 1, "
                    "\"maxHeaderBytes\": 1024, \"maxConnections\": 1, "
                    "\"idleTimeoutSeconds\": 1}, \"storage\": {\"mapSizeMB\": 1}}",
                    &cfg);
    assert_int_equal(cfg.threads, 0);
    assert_int_equal(cfg.max_body, 1);
    assert_int_equal(cfg.max_header, 1024);
    assert_int_equal(cfg.max_conns, 1);
    assert_int_equal(cfg.idle_timeout, 1);
    assert_int_equal(cfg.map_size, (size_t)1 << 20);
    config_free(&cfg);
}

static void test_load_invalid_json(void **state)
{
    fixture_t *f = *state;
    /* The parse error gives file:line: the stray word is on line 3. */
    char *want = xasprintf("%s:3:", f->path);
    expect_refused(f, "{\n  \"threads\": 4,\n  oops\n}\n", want);
    free(want);
    want = xasprintf("%s:2:", f->path);
    expect_refused(f, "{\n  \"threads\": 4,,\n}\n", want);
    free(want);
    /* Unterminated, empty, and duplicate keys (which one would win?). */
    expect_refused(f, "{\"threads\": 4", f->path);
    expect_refused(f, "", f->path);
    expect_refused(f, "{\"threads\": 1, \"threads\": 2}", "threads");

    /* A missing file is refused with its name. */
    config_t cfg;
    config_defaults(&cfg);
    char *missing = xasprintf("%s/no-such.json", f->dir);
    char err[512];
    assert_int_equal(config_load(&cfg, missing, err, sizeof err), -1);
    assert_non_null(strstr(err, missing));
    free(missing);
    check_defaults(&cfg);
    config_free(&cfg);
}

static void test_load_not_object(void **state)
{
    fixture_t *f = *state;
    expect_refused(f, "[]", "top level must be a JSON object");
    expect_refused(f, "[{\"threads\": 1}]", "top level must be a JSON object");
    /* Scalars at the top level are refused too (by the parser or the check). */
    expect_refused(f, "\"cloudlet\"", f->path);
    expect_refused(f, "42", f->path);
    expect_refused(f, "null", f->path);
}

static void test_load_bad_bucket(void **state)
{
    fixture_t *f = *state;
    const char *bad[] = {"Site",  "my_site", "ab",          "-site",
                         "site-", "a..b",    "192.168.1.1", "site/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *json = xasprintf("{\"site\": {\"bucket\": \"%s\"}}", bad[i]);
        expect_refused(f, json, "'site.bucket'");
        free(json);
    }
    expect_refused(f, "{\"site\": {\"bucket\": \"Site\"}}", "not a valid bucket name");

    config_t cfg;
    expect_accepted(f, "{\"site\": {\"bucket\": \"my.site-2\"}}", &cfg);
    assert_string_equal(cfg.site_bucket, "my.site-2");
    config_free(&cfg);
}

static void test_load_index_document(void **state)
{
    fixture_t *f = *state;
    expect_refused(f, "{\"site\": {\"indexDocument\": \"a/index.html\"}}", "'site.indexDocument'");
    expect_refused(f, "{\"site\": {\"indexDocument\": \"/index.html\"}}", "'site.indexDocument'");
    expect_refused(f, "{\"site\": {\"indexDocument\": \"index.html/\"}}", "'site.indexDocument'");
    expect_refused(f, "{\"site\": {\"indexDocument\": \"a/b\"}}", "must not contain '/'");

    /* The error document is a key, and keys may contain '/'. */
    config_t cfg;
    expect_accepted(f,
                    "{\"site\": {\"indexDocument\": \"default.htm\", "
                    "\"errorDocument\": \"errors/404.html\"}}",
                    &cfg);
    assert_string_equal(cfg.index_doc, "default.htm");
    assert_string_equal(cfg.error_doc, "errors/404.html");
    config_free(&cfg);
}

/* A refused config is partly applied and must still be freed (ASan checks
 * that nothing leaks); a small err buffer is truncated, never overrun. */
static void test_load_error_cleanup(void **state)
{
    fixture_t *f = *state;
    write_file(f->path, "{\"region\": \"eu-north-1\", \"endpoint\": \"http://x\", "
                        "\"site\": {\"errorDocument\": \"e.html\", \"bucket\": \"BAD\"}}");
    config_t cfg;
    config_defaults(&cfg);
    struct {
        char err[16];
        char guard[16];
    } m;
    memset(&m, '#', sizeof m);
    assert_int_equal(config_load(&cfg, f->path, m.err, sizeof m.err), -1);
    assert_int_equal(strlen(m.err), sizeof m.err - 1);
    assert_memory_equal(m.guard, "################", 16);
    config_free(&cfg);
    assert_null(cfg.region);
    assert_null(cfg.endpoint);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set_listen),
        cmocka_unit_test(test_set_listen_bad),
        cmocka_unit_test_setup_teardown(test_load_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_readme_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_over_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_null_optional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_unknown_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_invalid_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_not_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_bad_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_index_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_error_cleanup, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
