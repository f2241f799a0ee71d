/* test_common.c - unit tests for common/ (util.h, http.h, log.h).
 *
 * These are the pieces every handler leans on: bounded buffers, the escaping
 * that keeps XML and JSON bodies well-formed, HTTP dates, query parameters,
 * response construction and the AWS error shapes each SDK parses. Tests go
 * through the public headers only and check the contract written there;
 * JSON bodies are parsed with jansson rather than compared byte for byte.
 * The one test that writes files (the log) gets a fresh temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/http.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/util.h"

/* ---- helpers ---- */

typedef struct fixture {
    char dir[64];
} fixture_t;

static int setup_dir(void **state)
{
    fixture_t *f = xcalloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/cloudlet-common-XXXXXX",
             tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* The tests that use a directory remove their own files; a leftover file
 * makes rmdir fail, which the test would then notice as a failed teardown. */
static int teardown_dir(void **state)
{
    fixture_t *f = *state;
    int rc = rmdir(f->dir);
    free(f);
    return rc;
}

/* The value of response header `name` (any case), or NULL. */
static const char *resp_header(const http_resp_t *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

/* The response body as a NUL-terminated copy (caller frees), checking that
 * body_len agrees with the text. */
static char *resp_body(const http_resp_t *r)
{
    assert_non_null(r->body);
    char *s = xstrndup(r->body, r->body_len);
    assert_int_equal(strlen(s), r->body_len);
    return s;
}

/* ---- buf_t ---- */

static void test_buf_limit(void **state)
{
    buf_t b;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "hello", 5), 0);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "hello");
    /* Exactly up to the limit is allowed. */
    assert_int_equal(buf_puts(&b, "world"), 0);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    /* One byte more is refused and leaves the buffer as it was. */
    assert_int_equal(buf_append(&b, "x", 1), -1);
    assert_int_equal(buf_puts(&b, "xyz"), -1);
    assert_int_equal(buf_printf(&b, "%d", 7), -1);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    /* Appending nothing is always possible. */
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_int_equal(b.len, 10);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    /* A refused append larger than what is left does not half-apply. */
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "abc"), 0);
    assert_int_equal(buf_puts(&b, "defghi"), -1);
    assert_string_equal(b.data, "abc");
    assert_int_equal(buf_puts(&b, "defgh"), 0);
    assert_string_equal(b.data, "abcdefgh");
    buf_free(&b);

    /* Limit 0 means no practical limit: a megabyte goes in. */
    buf_init(&b, 0);
    char *big = xmalloc(1 << 20);
    memset(big, 'q', 1 << 20);
    assert_int_equal(buf_append(&b, big, 1 << 20), 0);
    assert_int_equal(b.len, 1 << 20);
    assert_int_equal(b.data[b.len], '\0');
    free(big);
    buf_free(&b);
    /* buf_free twice is harmless. */
    buf_free(&b);
}

static void test_buf_nul_termination(void **state)
{
    buf_t b;
    buf_init(&b, 0);
    /* Growing one byte at a time across several reallocations keeps the NUL. */
    for (int i = 0; i < 1000; i++) {
        char c = (char)('a' + i % 26);
        assert_int_equal(buf_append(&b, &c, 1), 0);
        assert_int_equal(b.len, (size_t)i + 1);
        assert_int_equal(b.data[b.len], '\0');
        assert_int_equal(strlen(b.data), b.len);
    }
    assert_true(b.cap > b.len);
    buf_free(&b);

    /* Binary data with an embedded NUL: len counts it, a NUL still follows. */
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4);
    buf_free(&b);

    /* An empty append to an empty buffer yields an empty C string. */
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    buf_free(&b);
}

static void test_buf_printf(void **state)
{
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_int_equal(buf_printf(&b, "/%05.1f/%c", 3.14159, 'z'), 0);
    assert_string_equal(b.data, "42-x/003.1/z");
    assert_int_equal(b.len, strlen("42-x/003.1/z"));
    /* An empty format appends nothing. */
    assert_int_equal(buf_printf(&b, "%s", ""), 0);
    assert_int_equal(b.len, strlen("42-x/003.1/z"));

    /* Output longer than the first allocation. */
    char long_arg[1001];
    memset(long_arg, 'L', 1000);
    long_arg[1000] = '\0';
    assert_int_equal(buf_printf(&b, "[%s]", long_arg), 0);
    assert_int_equal(b.len, strlen("42-x/003.1/z") + 1002);
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    buf_free(&b);

    /* printf that fits exactly, then one that does not. */
    buf_init(&b, 6);
    assert_int_equal(buf_printf(&b, "%s=%d", "ab", 123), 0);
    assert_string_equal(b.data, "ab=123");
    assert_int_equal(buf_printf(&b, "%d", 1), -1);
    assert_string_equal(b.data, "ab=123");
    buf_free(&b);
}

static void test_buf_steal(void **state)
{
    buf_t b;
    buf_init(&b, 16);
    buf_puts(&b, "stolen");
    size_t len = 0;
    char *p = buf_steal(&b, &len);
    assert_string_equal(p, "stolen");
    assert_int_equal(len, 6);
    /* The buffer is reset and usable again; the limit still holds. */
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(buf_puts(&b, "0123456789abcdef"), 0);
    assert_int_equal(buf_puts(&b, "!"), -1);
    buf_free(&b);
    free(p);

    /* Stealing an untouched buffer still gives a freeable empty string. */
    buf_init(&b, 0);
    len = 99;
    p = buf_steal(&b, &len);
    assert_non_null(p);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);

    /* len may be NULL. */
    buf_init(&b, 0);
    buf_puts(&b, "x");
    p = buf_steal(&b, NULL);
    assert_string_equal(p, "x");
    free(p);
}

static void test_buf_fixed(void **state)
{
    /* A guard after the caller's memory shows any write past it. */
    struct {
        char mem[8];
        char guard[8];
    } m;
    memset(&m, '#', sizeof m);
    buf_t b;
    buf_init_fixed(&b, m.mem, sizeof m.mem);
    assert_ptr_equal(b.data, m.mem);
    assert_int_equal(b.len, 0);
    assert_int_equal(m.mem[0], '\0');

    assert_int_equal(buf_puts(&b, "abc"), 0);
    assert_int_equal(buf_printf(&b, "%d", 1234), 0);
    assert_int_equal(b.len, 7); /* size - 1 */
    assert_string_equal(m.mem, "abc1234");
    /* Full: every kind of append is refused and nothing moves or changes. */
    assert_int_equal(buf_append(&b, "x", 1), -1);
    assert_int_equal(buf_puts(&b, "y"), -1);
    assert_int_equal(buf_printf(&b, "%s", "z"), -1);
    assert_int_equal(buf_json_escape(&b, "q", 1), -1);
    assert_int_equal(buf_xml_escape(&b, "q", 1), -1);
    assert_ptr_equal(b.data, m.mem);
    assert_string_equal(m.mem, "abc1234");
    assert_memory_equal(m.guard, "########", 8);

    /* A fresh fixed buffer refuses a single append that would not fit. */
    memset(&m, '#', sizeof m);
    buf_init_fixed(&b, m.mem, sizeof m.mem);
    assert_int_equal(buf_puts(&b, "12345678"), -1);
    assert_int_equal(b.len, 0);
    assert_int_equal(m.mem[0], '\0');
    assert_ptr_equal(b.data, m.mem);
    assert_memory_equal(m.guard, "########", 8);

    /* Size 1: room for the NUL only. */
    char one[1] = {'#'};
    buf_init_fixed(&b, one, 1);
    assert_int_equal(one[0], '\0');
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_int_equal(buf_append(&b, "a", 1), -1);
    assert_ptr_equal(b.data, one);
}

/* JSON-escape s (n bytes) into a fresh buffer; caller frees. */
static char *json_escaped(const char *s, size_t n)
{
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(buf_json_escape(&b, s, n), 0);
    return buf_steal(&b, NULL);
}

static void test_json_escape(void **state)
{
    char *e = json_escaped("say \"hi\" \\o/", 12);
    assert_string_equal(e, "say \\\"hi\\\" \\\\o/");
    free(e);

    /* Plain text, '/', DEL and UTF-8 pass through. */
    const char *plain = "a/b\x7f caf\xc3\xa9";
    e = json_escaped(plain, strlen(plain));
    assert_string_equal(e, plain);
    free(e);

    /* Every control character (NUL included, via n) becomes \u00XX. */
    char ctl[32];
    for (int i = 0; i < 32; i++)
        ctl[i] = (char)i;
    e = json_escaped(ctl, sizeof ctl);
    assert_int_equal(strlen(e), 32 * 6);
    for (int i = 0; i < 32; i++) {
        char want[7];
        snprintf(want, sizeof want, "\\u%04x", i);
        assert_memory_equal(e + 6 * i, "\\u00", 4);
        assert_int_equal(strncasecmp(e + 6 * i, want, 6), 0);
    }
    free(e);

    /* The escaped text, quoted, is a JSON string that decodes to the input. */
    const char nasty[] = "q\"b\\n\n\r\t\x01\x1f\b\f end\0tail";
    size_t nlen = sizeof nasty - 1;
    e = json_escaped(nasty, nlen);
    for (const char *p = e; *p; p++)
        assert_true((unsigned char)*p >= 0x20);
    char *doc = xasprintf("[\"%s\"]", e);
    json_error_t jerr;
    json_t *root = json_loads(doc, JSON_ALLOW_NUL, &jerr);
    assert_non_null(root);
    json_t *str = json_array_get(root, 0);
    assert_true(json_is_string(str));
    assert_int_equal(json_string_length(str), nlen);
    assert_memory_equal(json_string_value(str), nasty, nlen);
    json_decref(root);
    free(doc);
    free(e);

    /* n bounds the input: bytes after it are not read. */
    e = json_escaped("ab\"cd", 2);
    assert_string_equal(e, "ab");
    free(e);

    /* The buffer limit applies to the escaped size. */
    buf_t b;
    buf_init(&b, 5);
    assert_int_equal(buf_json_escape(&b, "\n", 1), -1);
    buf_free(&b);
}

static void test_xml_escape(void **state)
{
    buf_t b;
    buf_init(&b, 0);
    const char *s = "<a href=\"x\">Tom & 'Jerry'</a>";
    assert_int_equal(buf_xml_escape(&b, s, strlen(s)), 0);
    assert_string_equal(b.data,
                        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;");
    buf_free(&b);

    /* Already-escaped text is escaped again (no double-decoding shortcuts). */
    buf_init(&b, 0);
    assert_int_equal(buf_xml_escape(&b, "&amp;", 5), 0);
    assert_string_equal(b.data, "&amp;amp;");
    buf_free(&b);

    /* Ordinary text, UTF-8 included, is unchanged; n bounds the input. */
    buf_init(&b, 0);
    assert_int_equal(buf_xml_escape(&b, "plain caf\xc3\xa9<", 11), 0);
    assert_string_equal(b.data, "plain caf\xc3\xa9");
    buf_free(&b);

    /* The limit applies to the escaped size. */
    buf_init(&b, 4);
    assert_int_equal(buf_xml_escape(&b, "&", 1), -1);
    buf_free(&b);
}

/* ---- time and text ---- */

static void test_http_date_format(void **state)
{
    char out[30];
    util_http_date(784111777, out);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    util_http_date(0, out);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    util_http_date(951782400, out);
    assert_string_equal(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    util_http_date(1255369830, out);
    assert_string_equal(out, "Mon, 12 Oct 2009 17:50:30 GMT");
    assert_int_equal(strlen(out), 29);
}

static void test_http_date_round_trip(void **state)
{
    const int64_t times[] = {0,          1,          784111777,  951782400, 1255369830,
                             1700000000, 2147483647, 2147483648, 4102444799};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char out[30];
        util_http_date(times[i], out);
        int64_t t = -1;
        assert_int_equal(util_parse_http_date(out, &t), 0);
        assert_int_equal(t, times[i]);
    }
    /* And the current time. */
    int64_t now = util_now_ms() / 1000;
    char out[30];
    util_http_date(now, out);
    int64_t t = -1;
    assert_int_equal(util_parse_http_date(out, &t), 0);
    assert_int_equal(t, now);
}

static void test_http_date_obsolete_forms(void **state)
{
    /* The three forms RFC 7231 7.1.1.1 makes recipients accept. */
    int64_t t = -1;
    assert_int_equal(util_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    t = -1;
    assert_int_equal(util_parse_http_date("Sun Nov  6 08:49:37 1994", &t), 0);
    assert_int_equal(t, 784111777);
    t = -1;
    assert_int_equal(util_parse_http_date("Wed Nov 16 08:49:37 1994", &t), 0);
    assert_int_equal(t, 784111777 + 10 * 86400);
    t = -1;
    assert_int_equal(util_parse_http_date("Monday, 12-Oct-09 17:50:30 GMT", &t), 0);
    assert_int_equal(t, 1255369830);
}

static void test_http_date_garbage(void **state)
{
    const char *bad[] = {
        "",
        "garbage",
        "Sun, 06 Nov 1994 08:49:37",           /* no zone */
        "Sun, 06 Nov 1994 08:49:37 GMT extra", /* trailing text */
        "Sun, 06 Nov 1994 08:49:37 GMTX",
        "Sun, 06 Foo 1994 08:49:37 GMT", /* no such month */
        "Sun, 32 Nov 1994 08:49:37 GMT", /* no such day */
        "Sun, 06 Nov 1994 25:00:00 GMT", /* no such hour */
        "Sun, 06 Nov 1994 08:60:00 GMT", /* no such minute */
        "Sun, 06 Nov 1994 08:49 GMT",    /* no seconds */
        "1994-11-06T08:49:37Z",          /* ISO 8601 is not an HTTP date */
        "784111777",
        "Sunday, 06-Nov-94 08:49:37",
        "Sun Nov  6 08:49:37",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 12345;
        if (util_parse_http_date(bad[i], &t) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        /* *t is set only on success. */
        assert_int_equal(t, 12345);
    }
}

static void test_iso8601_ms(void **state)
{
    const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1, "1970-01-01T00:00:00.001Z"},
        {999, "1970-01-01T00:00:00.999Z"},
        {1000, "1970-01-01T00:00:01.000Z"},
        {1255369830123, "2009-10-12T17:50:30.123Z"},
        {1255369830000, "2009-10-12T17:50:30.000Z"},
        {951782400005, "2000-02-29T00:00:00.005Z"},
        {784111777450, "1994-11-06T08:49:37.450Z"},
        {4102444799999, "2099-12-31T23:59:59.999Z"},
        {253402300799999, "9999-12-31T23:59:59.999Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[25];
        memset(out, '#', sizeof out);
        util_iso8601_ms(cases[i].ms, out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(strlen(out), 24);
    }
}

/* ms is signed and "since the epoch": instants before 1970 are valid input
 * and must come out as the right (earlier) time, like positive ones do. */
static void test_iso8601_ms_before_epoch(void **state)
{
    const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {-1000, "1969-12-31T23:59:59.000Z"},     {-86400000, "1969-12-31T00:00:00.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},        {-1500, "1969-12-31T23:59:58.500Z"},
        {-86399999, "1969-12-31T00:00:00.001Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[25];
        memset(out, 0, sizeof out);
        util_iso8601_ms(cases[i].ms, out);
        assert_string_equal(out, cases[i].want);
    }
}

static void test_hex(void **state)
{
    const unsigned char in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
    char out[2 * sizeof in + 2];
    memset(out, 'Z', sizeof out);
    util_hex(in, sizeof in, out);
    assert_string_equal(out, "00017f80abcdefff");
    /* Exactly 2n+1 bytes are written. */
    assert_int_equal(out[2 * sizeof in + 1], 'Z');

    char empty[2] = {'Z', 'Z'};
    util_hex(in, 0, empty);
    assert_int_equal(empty[0], '\0');
    assert_int_equal(empty[1], 'Z');
}

/* ---- http_query_param ---- */

static void test_query_param_present_absent(void **state)
{
    char out[64];
    const char *q = "a=1&bee=two&c=three";
    assert_int_equal(http_query_param(q, "a", out, sizeof out), 1);
    assert_string_equal(out, "1");
    assert_int_equal(http_query_param(q, "bee", out, sizeof out), 3);
    assert_string_equal(out, "two");
    assert_int_equal(http_query_param(q, "c", out, sizeof out), 5);
    assert_string_equal(out, "three");

    assert_int_equal(http_query_param(q, "d", out, sizeof out), -1);
    assert_int_equal(http_query_param("", "a", out, sizeof out), -1);
    /* Names are case-sensitive. */
    assert_int_equal(http_query_param(q, "A", out, sizeof out), -1);
    /* A name that appears only as a value is not a parameter. */
    assert_int_equal(http_query_param("x=a&y=a%3D1", "a", out, sizeof out), -1);

    /* An explicit empty value. */
    assert_int_equal(http_query_param("a=&b=2", "a", out, sizeof out), 0);
    assert_string_equal(out, "");
    /* Values may contain '='. */
    assert_int_equal(http_query_param("k=a=b", "k", out, sizeof out), 3);
    assert_string_equal(out, "a=b");
    /* Empty pairs are skipped. */
    assert_int_equal(http_query_param("&&x=1&&", "x", out, sizeof out), 1);
    assert_string_equal(out, "1");
}

static void test_query_param_no_equals(void **state)
{
    char out[16];
    memset(out, '#', sizeof out);
    assert_int_equal(http_query_param("uploads&prefix=p", "uploads", out, sizeof out), 0);
    assert_string_equal(out, "");
    memset(out, '#', sizeof out);
    assert_int_equal(http_query_param("prefix=p&acl", "acl", out, sizeof out), 0);
    assert_string_equal(out, "");
    memset(out, '#', sizeof out);
    assert_int_equal(http_query_param("delete", "delete", out, sizeof out), 0);
    assert_string_equal(out, "");
    /* A one-byte buffer holds "". */
    char one[1] = {'#'};
    assert_int_equal(http_query_param("acl", "acl", one, sizeof one), 0);
    assert_int_equal(one[0], '\0');
}

static void test_query_param_decoding(void **state)
{
    char out[64];
    assert_int_equal(http_query_param("k=%2Fa%20b%3d%3D", "k", out, sizeof out), 6);
    assert_string_equal(out, "/a b==");
    assert_int_equal(http_query_param("q=hello+world+", "q", out, sizeof out), 12);
    assert_string_equal(out, "hello world ");
    /* An encoded '+' stays a plus. */
    assert_int_equal(http_query_param("q=1%2B1", "q", out, sizeof out), 3);
    assert_string_equal(out, "1+1");
    /* Mixed-case hex digits; an escape at the very end. */
    assert_int_equal(http_query_param("k=%c3%A9%41", "k", out, sizeof out), 3);
    assert_string_equal(out, "\xc3\xa9"
                             "A");
    /* UTF-8 and an embedded NUL: the length counts decoded bytes. */
    assert_int_equal(http_query_param("k=a%00b", "k", out, sizeof out), 3);
    assert_memory_equal(out, "a\0b", 4);
    /* A percent-encoded name is not decoded before matching. */
    assert_int_equal(http_query_param("%61=1", "a", out, sizeof out), -1);
}

static void test_query_param_malformed(void **state)
{
    char out[64];
    const char *bad[] = {"k=%",   "k=%4",  "k=abc%", "k=a%2", "k=%zz",
                         "k=%4g", "k=%g4", "k=% 41", "k=%%41"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (http_query_param(bad[i], "k", out, sizeof out) != -2)
            fail_msg("\"%s\" not refused as malformed", bad[i]);
    }
    /* A malformed escape in another parameter does not matter. */
    assert_int_equal(http_query_param("x=%zz&k=ok", "k", out, sizeof out), 2);
    assert_string_equal(out, "ok");
}

static void test_query_param_overflow(void **state)
{
    char out[4];
    /* 3 bytes + NUL fit in 4; 4 do not. */
    assert_int_equal(http_query_param("k=abc", "k", out, sizeof out), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(http_query_param("k=abcd", "k", out, sizeof out), -2);
    /* Decoded size is what counts: 9 encoded bytes decode to 3. */
    assert_int_equal(http_query_param("k=%41%42%43", "k", out, sizeof out), 3);
    assert_string_equal(out, "ABC");
    assert_int_equal(http_query_param("k=%41%42%43%44", "k", out, sizeof out), -2);

    /* Overflow never writes past outsz. */
    struct {
        char out[4];
        char guard[4];
    } m;
    memset(&m, '#', sizeof m);
    assert_int_equal(http_query_param("k=abcdefgh", "k", m.out, sizeof m.out), -2);
    assert_memory_equal(m.guard, "####", 4);

    /* A zero-size buffer cannot hold even "". */
    char zero[1] = {'#'};
    assert_int_equal(http_query_param("k", "k", zero, 0), -2);
    assert_int_equal(http_query_param("k=v", "k", zero, 0), -2);
    assert_int_equal(zero[0], '#');
}

/* "k=" has the empty value, just like "k": with outsz 0 it does not fit
 * either, and out (size 0) must not be written. */
static void test_query_param_empty_value_zero_outsz(void **state)
{
    char zero[1] = {'#'};
    int rc = http_query_param("k=", "k", zero, 0);
    assert_int_equal(zero[0], '#');
    assert_int_equal(rc, -2);
}

static void test_query_param_prefix_names(void **state)
{
    char out[16];
    /* "ab" is not "a", and "a" is not "ab". */
    assert_int_equal(http_query_param("ab=1&a=2", "a", out, sizeof out), 1);
    assert_string_equal(out, "2");
    assert_int_equal(http_query_param("ab=1", "a", out, sizeof out), -1);
    assert_int_equal(http_query_param("a=1", "ab", out, sizeof out), -1);
    assert_int_equal(http_query_param("prefix-x=1&prefix=2", "prefix", out, sizeof out), 1);
    assert_string_equal(out, "2");
    /* The same without '='. */
    assert_int_equal(http_query_param("versions&version=3", "version", out, sizeof out), 1);
    assert_string_equal(out, "3");
    assert_int_equal(http_query_param("versions", "version", out, sizeof out), -1);
    assert_int_equal(http_query_param("version", "versions", out, sizeof out), -1);
}

/* ---- http_resp_t ---- */

static void test_resp_init(void **state)
{
    http_resp_t r;
    memset(&r, 0x5a, sizeof r);
    http_resp_init(&r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.nheaders, 0);
    assert_null(r.body);
    assert_int_equal(r.body_len, 0);
    assert_null(r.release);
    http_resp_clear(&r);
}

static void test_resp_header_copies_value(void **state)
{
    http_resp_t r;
    http_resp_init(&r);
    char src[] = "text/plain";
    http_resp_header(&r, "Content-Type", src);
    memset(src, 'X', sizeof src - 1);
    char *heap = xstrdup("abc123");
    http_resp_header(&r, "ETag", heap);
    free(heap);

    assert_int_equal(r.nheaders, 2);
    assert_string_equal(r.headers[0].name, "Content-Type");
    assert_string_equal(r.headers[0].value, "text/plain");
    assert_string_equal(r.headers[1].name, "ETag");
    assert_string_equal(r.headers[1].value, "abc123");

    /* Empty values are kept as empty strings. */
    http_resp_header(&r, "X-Empty", "");
    assert_string_equal(resp_header(&r, "x-empty"), "");

    http_resp_clear(&r);
    assert_int_equal(r.nheaders, 0);
}

static void test_resp_header_spills_to_heap(void **state)
{
    http_resp_t r;
    http_resp_init(&r);
    /* One value larger than the whole arena. */
    size_t n = HTTP_RESP_ARENA + 1000;
    char *big = xmalloc(n + 1);
    memset(big, 'v', n);
    big[n] = '\0';
    http_resp_header(&r, "X-Big", big);
    big[0] = 'w';
    assert_int_equal(strlen(r.headers[0].value), n);
    assert_int_equal(r.headers[0].value[0], 'v');

    /* Many medium values: the arena fills, later ones spill; all stay intact. */
    char val[400];
    for (int i = 0; i < 12; i++) {
        memset(val, 'a' + i, sizeof val - 1);
        val[sizeof val - 1] = '\0';
        http_resp_header(&r, "X-Medium", val);
    }
    assert_int_equal(r.nheaders, 13);
    for (int i = 0; i < 12; i++) {
        const char *v = r.headers[1 + i].value;
        assert_int_equal(strlen(v), sizeof val - 1);
        for (size_t j = 0; j < sizeof val - 1; j++)
            assert_int_equal(v[j], 'a' + i);
    }
    /* A long formatted value goes through the same path. */
    http_resp_headerf(&r, "X-Fmt", "%s-%d", big, 7);
    assert_int_equal(strlen(r.headers[13].value), n + 2);
    assert_string_equal(r.headers[13].value + n, "-7");
    assert_int_equal(r.headers[13].value[0], 'w');
    free(big);

    /* Clearing frees the spilled values (ASan's leak check) and the
     * response is reusable. */
    http_resp_clear(&r);
    assert_int_equal(r.nheaders, 0);
    http_resp_header(&r, "X-After", "ok");
    assert_string_equal(resp_header(&r, "X-After"), "ok");
    http_resp_clear(&r);
}

static void test_resp_header_maximum(void **state)
{
    http_resp_t r;
    http_resp_init(&r);
    for (int i = 0; i < HTTP_RESP_MAX_HEADERS + 10; i++)
        http_resp_headerf(&r, "X-N", "%d", i);
    assert_int_equal(r.nheaders, HTTP_RESP_MAX_HEADERS);
    for (int i = 0; i < HTTP_RESP_MAX_HEADERS; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(r.headers[i].value, want);
    }
    http_resp_clear(&r);

    /* The same with values that all spill: no overflow of the spill table. */
    http_resp_init(&r);
    size_t n = HTTP_RESP_ARENA + 1;
    char *big = xmalloc(n + 1);
    memset(big, 's', n);
    big[n] = '\0';
    for (int i = 0; i < 2 * HTTP_RESP_MAX_HEADERS; i++)
        http_resp_header(&r, "X-Big", big);
    assert_int_equal(r.nheaders, HTTP_RESP_MAX_HEADERS);
    assert_int_equal(strlen(r.headers[HTTP_RESP_MAX_HEADERS - 1].value), n);
    free(big);
    http_resp_clear(&r);
}

static void count_release(void *cls)
{
    (*(int *)cls)++;
}

static void test_resp_clear_releases_once(void **state)
{
    http_resp_t r;
    int released = 0;
    static const char data[] = "borrowed";
    http_resp_init(&r);
    http_resp_body_borrowed(&r, data, 8, count_release, &released);
    assert_ptr_equal(r.body, data);
    assert_int_equal(r.body_len, 8);
    assert_int_equal(released, 0);
    http_resp_clear(&r);
    assert_int_equal(released, 1);
    assert_null(r.body);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(r.status, 200);
    /* A second clear does not release again. */
    http_resp_clear(&r);
    assert_int_equal(released, 1);

    /* Replacing a body releases the old one once, and only the new one
     * is released at clear. */
    int first = 0, second = 0;
    http_resp_init(&r);
    http_resp_body_borrowed(&r, data, 8, count_release, &first);
    http_resp_body_borrowed(&r, data, 3, count_release, &second);
    assert_int_equal(first, 1);
    assert_int_equal(second, 0);
    http_resp_body_static(&r, "static", 6);
    assert_int_equal(second, 1);
    http_resp_clear(&r);
    assert_int_equal(first, 1);
    assert_int_equal(second, 1);

    /* An owned body is freed by clear (ASan's leak check sees it). */
    http_resp_init(&r);
    http_resp_body_owned(&r, xstrdup("owned"), 5);
    http_resp_clear(&r);
    assert_null(r.body);
}

static void test_resp_json(void **state)
{
    http_resp_t r;
    http_resp_init(&r);
    char json[] = "{\"status\":\"ok\"}";
    http_resp_json(&r, 201, NULL, json);
    json[2] = 'X';
    assert_int_equal(r.status, 201);
    assert_string_equal(resp_header(&r, "content-type"), "application/json");
    char *body = resp_body(&r);
    assert_string_equal(body, "{\"status\":\"ok\"}");
    free(body);
    http_resp_clear(&r);

    http_resp_init(&r);
    http_resp_json(&r, 200, "application/x-amz-json-1.1", "{}");
    assert_string_equal(resp_header(&r, "Content-Type"), "application/x-amz-json-1.1");
    http_resp_clear(&r);
}

static void test_reason(void **state)
{
    assert_string_equal(http_reason(200), "OK");
    assert_string_equal(http_reason(304), "Not Modified");
    assert_string_equal(http_reason(403), "Forbidden");
    assert_string_equal(http_reason(404), "Not Found");
    assert_string_equal(http_reason(413), "Payload Too Large");
    assert_string_equal(http_reason(500), "Internal Server Error");
    assert_non_null(http_reason(799));
}

/* ---- http_error ---- */

static void test_error_s3(void **state)
{
    http_resp_t r;
    http_resp_init(&r);
    http_error(&r, HTTP_PROTO_S3, 404, "NoSuchKey", "The key <a> & \"b\" isn't here", "/bucket/a&b",
               "0123456789ABCDEF");
    assert_int_equal(r.status, 404);
    assert_string_equal(resp_header(&r, "Content-Type"), "application/xml");
    char *body = resp_body(&r);
    assert_true(util_startswith(body, "<?xml"));
    assert_non_null(strstr(body, "<Error><Code>NoSuchKey</Code>"));
    assert_non_null(strstr(body, "<Message>The key &lt;a&gt; &amp; &quot;b&quot; "
                                 "isn&apos;t here</Message>"));
    assert_non_null(strstr(body, "<Resource>/bucket/a&amp;b</Resource>"));
    assert_non_null(strstr(body, "<RequestId>0123456789ABCDEF</RequestId>"));
    assert_non_null(strstr(body, "</Error>"));
    /* Nothing unescaped from the message leaks into the markup. */
    assert_null(strstr(body, "<a>"));
    free(body);
    http_resp_clear(&r);

    /* Without a resource there is no <Resource>. */
    http_resp_init(&r);
    http_error(&r, HTTP_PROTO_S3, 403, "AccessDenied", "Access Denied", NULL, "REQ");
    assert_int_equal(r.status, 403);
    body = resp_body(&r);
    assert_non_null(strstr(body, "<Error><Code>AccessDenied</Code><Message>Access Denied"));
    assert_null(strstr(body, "<Resource>"));
    assert_non_null(strstr(body, "<RequestId>REQ</RequestId>"));
    free(body);
    http_resp_clear(&r);
}

static void test_error_query(void **state)
{
    const struct {
        int status;
        const char *type;
    } cases[] = {
        {400, "Sender"}, {403, "Sender"}, {429, "Sender"}, {500, "Receiver"}, {503, "Receiver"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_resp_t r;
        http_resp_init(&r);
        http_error(&r, HTTP_PROTO_QUERY, cases[i].status, "InvalidClientTokenId",
                   "token <bad> & expired", NULL, "RID-1");
        assert_int_equal(r.status, cases[i].status);
        assert_string_equal(resp_header(&r, "Content-Type"), "text/xml");
        char *body = resp_body(&r);
        char *type = xasprintf("<Type>%s</Type>", cases[i].type);
        assert_non_null(strstr(body, "<ErrorResponse"));
        assert_non_null(strstr(body, "<Error>"));
        assert_non_null(strstr(body, type));
        assert_non_null(strstr(body, "<Code>InvalidClientTokenId</Code>"));
        assert_non_null(strstr(body, "<Message>token &lt;bad&gt; &amp; expired</Message>"));
        assert_non_null(strstr(body, "<RequestId>RID-1</RequestId>"));
        assert_non_null(strstr(body, "</ErrorResponse>"));
        free(type);
        free(body);
        http_resp_clear(&r);
    }
}

static void test_error_json(void **state)
{
    http_resp_t r;
    http_resp_init(&r);
    const char *msg = "Incorrect \"username\" or password.\n\\end\x01";
    http_error(&r, HTTP_PROTO_JSON, 400, "NotAuthorizedException", msg, NULL, "RID");
    assert_int_equal(r.status, 400);
    assert_string_equal(resp_header(&r, "Content-Type"), "application/x-amz-json-1.1");
    assert_string_equal(resp_header(&r, "x-amzn-ErrorType"), "NotAuthorizedException");
    char *body = resp_body(&r);
    assert_true(util_startswith(body, "{\"__type\":\"NotAuthorizedException\",\"message\":"));
    json_error_t jerr;
    json_t *root = json_loads(body, 0, &jerr);
    assert_non_null(root);
    assert_true(json_is_object(root));
    assert_string_equal(json_string_value(json_object_get(root, "__type")),
                        "NotAuthorizedException");
    assert_string_equal(json_string_value(json_object_get(root, "message")), msg);
    json_decref(root);
    free(body);
    http_resp_clear(&r);
}

static void test_error_plain(void **state)
{
    http_resp_t r;
    http_resp_init(&r);
    http_error(&r, HTTP_PROTO_PLAIN, 404, "NotFound", "no such \"route\"", NULL, "RID");
    assert_int_equal(r.status, 404);
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    assert_null(resp_header(&r, "x-amzn-ErrorType"));
    char *body = resp_body(&r);
    json_error_t jerr;
    json_t *root = json_loads(body, 0, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "__type")), "NotFound");
    assert_string_equal(json_string_value(json_object_get(root, "message")), "no such \"route\"");
    json_decref(root);
    free(body);
    http_resp_clear(&r);
}

static void test_error_website(void **state)
{
    http_resp_t r;
    http_resp_init(&r);
    http_error(&r, HTTP_PROTO_WEBSITE, 404, "NoSuchKey", "<script>x</script>", "/a", "WEBRID");
    assert_int_equal(r.status, 404);
    assert_string_equal(resp_header(&r, "Content-Type"), "text/html; charset=utf-8");
    char *body = resp_body(&r);
    assert_non_null(strstr(body, "<html"));
    assert_non_null(strstr(body, "404 Not Found"));
    assert_non_null(strstr(body, "NoSuchKey"));
    assert_non_null(strstr(body, "&lt;script&gt;x&lt;/script&gt;"));
    assert_null(strstr(body, "<script>"));
    assert_non_null(strstr(body, "WEBRID"));
    free(body);
    http_resp_clear(&r);

    http_resp_init(&r);
    http_error(&r, HTTP_PROTO_WEBSITE, 403, "AccessDenied", "Access Denied", NULL, NULL);
    assert_int_equal(r.status, 403);
    body = resp_body(&r);
    assert_non_null(strstr(body, "403 Forbidden"));
    free(body);
    http_resp_clear(&r);
}

/* http_error on a response that already has a body replaces it, releasing
 * the old body, and keeps earlier headers. */
static void test_error_replaces_body(void **state)
{
    http_resp_t r;
    int released = 0;
    http_resp_init(&r);
    http_resp_header(&r, "x-amz-request-id", "RID");
    http_resp_body_borrowed(&r, "old", 3, count_release, &released);
    http_error(&r, HTTP_PROTO_S3, 500, "InternalError", "boom", NULL, "RID");
    assert_int_equal(released, 1);
    assert_int_equal(r.status, 500);
    assert_string_equal(resp_header(&r, "x-amz-request-id"), "RID");
    char *body = resp_body(&r);
    assert_non_null(strstr(body, "<Code>InternalError</Code>"));
    free(body);
    http_resp_clear(&r);
    assert_int_equal(released, 1);
}

/* ---- log ---- */

/* Check that ts looks like "2026-11-24T10:00:00.123Z" and is within a few
 * seconds of now. */
static void check_timestamp(const char *ts)
{
    assert_int_equal(strlen(ts), 24);
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (int i = 0; i < 24; i++) {
        if (shape[i] == 'd')
            assert_true(isdigit((unsigned char)ts[i]));
        else
            assert_int_equal(ts[i], shape[i]);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '.');
    int64_t t = (int64_t)timegm(&tm);
    int64_t now = util_now_ms() / 1000;
    assert_true(t >= now - 5 && t <= now + 1);
}

static void test_log_timestamp(void **state)
{
    char out[25];
    memset(out, '#', sizeof out);
    log_timestamp(out);
    check_timestamp(out);
    assert_int_equal(out[23], 'Z');
    assert_int_equal(out[24], '\0');
    /* The second call takes the cached-seconds path. */
    char again[25];
    log_timestamp(again);
    check_timestamp(again);
    assert_true(strcmp(again, out) >= 0);
}

static void test_log_lines(void **state)
{
    fixture_t *f = *state;
    char *path = xasprintf("%s/stderr.log", f->dir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    assert_true(fd >= 0);

    /* Capture stderr in the file; restore it before asserting so cmocka's
     * own messages are not lost. */
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    dup2(fd, STDERR_FILENO);
    log_line("{\"a\":1}", 7);
    log_info("hello \"%s\"\n\t%d", "x", 5);
    log_line("{\"b\":2}", 7);
    log_flush();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    char text[4096];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(path);
    free(path);
    assert_true(n > 0);
    text[n] = '\0';

    /* Three lines, in order, each ending in a newline. */
    char *line1 = text;
    char *nl = strchr(line1, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_string_equal(line1, "{\"a\":1}");
    char *line2 = nl + 1;
    nl = strchr(line2, '\n');
    assert_non_null(nl);
    *nl = '\0';
    char *line3 = nl + 1;
    assert_string_equal(line3, "{\"b\":2}\n");

    json_error_t jerr;
    json_t *root = json_loads(line2, 0, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(root, "msg")), "hello \"x\"\n\t5");
    const char *ts = json_string_value(json_object_get(root, "time"));
    assert_non_null(ts);
    check_timestamp(ts);
    json_decref(root);
}


/* ---- base64 ---- */

static void test_base64_vectors(void **state)
{
    /* RFC 4648 section 10. */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = util_base64(in[i], strlen(in[i]));
        assert_string_equal(e, std[i]);
        free(e);
        e = util_base64url(in[i], strlen(in[i]));
        assert_string_equal(e, url[i]);
        free(e);
        unsigned char out[16];
        long n = util_base64_decode(std[i], strlen(std[i]), out, sizeof out);
        assert_int_equal(n, (long)strlen(in[i]));
        assert_memory_equal(out, in[i], (size_t)n);
        n = util_base64_decode(url[i], strlen(url[i]), out, sizeof out);
        assert_int_equal(n, (long)strlen(in[i]));
    }
    unsigned char all[256], out[300];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char *e = util_base64url(all, sizeof all);
    assert_int_equal(util_base64_decode(e, strlen(e), out, sizeof out), 256);
    assert_memory_equal(out, all, 256);
    free(e);
}

static void test_base64_refuses(void **state)
{
    unsigned char out[8];
    assert_int_equal(util_base64_decode("Zm9v!", 5, out, sizeof out), -1);   /* bad character */
    assert_int_equal(util_base64_decode("Z", 1, out, sizeof out), -1);       /* impossible length */
    assert_int_equal(util_base64_decode("Zh==", 4, out, sizeof out), -1);    /* non-zero spare bits */
    assert_int_equal(util_base64_decode("Zm9vYmFyYmF6", 12, out, 8), -1);  /* does not fit */
    assert_int_equal(util_base64_decode("Zm 9v", 5, out, sizeof out), -1);   /* whitespace */
}

/* ---- seal ---- */

static void test_seal_roundtrip_and_tamper(void **state)
{
    fixture_t *f = *state;
    char path[128], err[200];
    snprintf(path, sizeof path, "%s/server-key", f->dir);
    seal_key_t k1, k2, k3;
    assert_int_equal(seal_key_load(path, &k1, err, sizeof err), 0);
    assert_int_equal(seal_key_load(path, &k2, err, sizeof err), 0); /* reloads, same key */
    assert_memory_equal(k1.k, k2.k, SEAL_KEY_BYTES);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    const char msg[] = "the verifier";
    unsigned char sealed[sizeof msg + SEAL_OVERHEAD], again[sizeof msg + SEAL_OVERHEAD];
    unsigned char out[sizeof msg + SEAL_OVERHEAD];
    size_t n = seal(&k1, "purpose", msg, sizeof msg, sealed);
    assert_int_equal(n, sizeof msg + SEAL_OVERHEAD);
    assert_int_equal(seal_open(&k1, "purpose", sealed, n, out), (long)sizeof msg);
    assert_memory_equal(out, msg, sizeof msg);
    /* A fresh nonce each time: the same plaintext never seals the same. */
    seal(&k1, "purpose", msg, sizeof msg, again);
    assert_memory_not_equal(sealed, again, n);
    /* Another purpose, another key, any flipped bit, a short blob: refused. */
    assert_int_equal(seal_open(&k1, "other", sealed, n, out), -1);
    memset(k3.k, 7, sizeof k3.k);
    assert_int_equal(seal_open(&k3, "purpose", sealed, n, out), -1);
    for (size_t i = 0; i < n; i++) {
        sealed[i] ^= 1;
        assert_int_equal(seal_open(&k1, "purpose", sealed, n, out), -1);
        sealed[i] ^= 1;
    }
    assert_int_equal(seal_open(&k1, "purpose", sealed, n - 1, out), -1);
    assert_int_equal(seal_open(&k1, "purpose", sealed, SEAL_OVERHEAD - 1, out), -1);

    /* A key readable by others, or of the wrong size, is refused. */
    chmod(path, 0644);
    assert_int_equal(seal_key_load(path, &k2, err, sizeof err), -1);
    assert_non_null(strstr(err, "readable"));
    FILE *fp = fopen(path, "w");
    fputs("short", fp);
    fclose(fp);
    chmod(path, 0600);
    assert_int_equal(seal_key_load(path, &k2, err, sizeof err), -1);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_buf_nul_termination),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_buf_steal),
        cmocka_unit_test(test_buf_fixed),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_xml_escape),
        cmocka_unit_test(test_http_date_format),
        cmocka_unit_test(test_http_date_round_trip),
        cmocka_unit_test(test_http_date_obsolete_forms),
        cmocka_unit_test(test_http_date_garbage),
        cmocka_unit_test(test_iso8601_ms),
        cmocka_unit_test(test_iso8601_ms_before_epoch),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_query_param_present_absent),
        cmocka_unit_test(test_query_param_no_equals),
        cmocka_unit_test(test_query_param_decoding),
        cmocka_unit_test(test_query_param_malformed),
        cmocka_unit_test(test_query_param_overflow),
        cmocka_unit_test(test_query_param_empty_value_zero_outsz),
        cmocka_unit_test(test_query_param_prefix_names),
        cmocka_unit_test(test_resp_init),
        cmocka_unit_test(test_resp_header_copies_value),
        cmocka_unit_test(test_resp_header_spills_to_heap),
        cmocka_unit_test(test_resp_header_maximum),
        cmocka_unit_test(test_resp_clear_releases_once),
        cmocka_unit_test(test_resp_json),
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_error_s3),
        cmocka_unit_test(test_error_query),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_error_plain),
        cmocka_unit_test(test_error_website),
        cmocka_unit_test(test_error_replaces_body),
        cmocka_unit_test(test_log_timestamp),
        cmocka_unit_test_setup_teardown(test_log_lines, setup_dir, teardown_dir),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_refuses),
        cmocka_unit_test_setup_teardown(test_seal_roundtrip_and_tamper, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
