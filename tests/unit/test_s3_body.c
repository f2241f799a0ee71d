/* test_s3_body.c - unit tests for storage/s3_body.c (request bodies:
 * aws-chunked, Content-MD5, x-amz-checksum-*) and storage/s3_multipart.c
 * (multipart uploads, and the parser of the CompleteMultipartUpload XML).
 *
 * Checksums are held to published check values ("123456789": CRC-32
 * cbf43926, CRC-32C e3069283, CRC-64/NVME ae8b14860a799888), to digests
 * computed outside cloudlet (Python's hashlib and a bitwise CRC), to what
 * the SDKs send for an empty body, and the table-driven CRCs to a bitwise
 * reference in this file over every length and alignment up to 100 bytes.
 *
 * Requests are fake http_req_t values over a static header list (as in
 * test_sts.c); errors are read back from the S3 XML error document. The
 * multipart tests run against a real store in a fresh temporary folder.
 *
 * s3.c (the dispatcher) provides s3_error, s3_param and s3_object_headers;
 * the weak definitions below stand in for them only when it is not linked,
 * and behave the same way for what these tests look at.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/http.h"
#include "common/util.h"
#include "storage/s3.h"
#include "storage/storage.h"
#include "tests/unit/testutil.h"

/* ---- stand-ins for s3.c ---- */

__attribute__((weak)) void s3_error(s3_ctx_t *c, int status, const char *code, const char *msg)
{
    http_resp_clear(c->resp);
    http_resp_init(c->resp);
    http_error(c->resp, HTTP_PROTO_S3, status, code, msg, NULL, c->req->request_id);
}

__attribute__((weak)) int s3_param(const s3_ctx_t *c, const char *name, char *out, size_t outsz)
{
    return http_query_param(c->req->query, name, out, outsz);
}

__attribute__((weak)) int s3_object_headers(s3_ctx_t *c, buf_t *headers)
{
    const char *ct = http_header(c->req, "Content-Type");
    const char *v = ct ? ct : "binary/octet-stream";
    buf_puts(headers, "content-type");
    buf_append(headers, "", 1);
    buf_puts(headers, v);
    buf_append(headers, "", 1);
    return 0;
}

/* ---- a fake request over a static header list ---- */

#define FAKE_MAX_HEADERS 24

typedef struct fake {
    http_req_t req;
    const char *names[FAKE_MAX_HEADERS];
    const char *values[FAKE_MAX_HEADERS];
    int n;
    http_resp_t resp;
    s3_ctx_t c;
    char key[64];
} fake_t;

static const char *fake_header(void *conn, const char *name)
{
    fake_t *f = conn;
    for (int i = 0; i < f->n; i++) {
        if (util_strcaseeq(f->names[i], name))
            return f->values[i];
    }
    return NULL;
}

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

/* A request for object "bkt/key" (or the bucket when key is NULL) with the
 * given method, raw query and body (borrowed), and no headers yet. */
static void fake_init(fake_t *f, storage_t *st, http_method_t m, const char *key, const char *query,
                      const void *body, size_t len)
{
    memset(f, 0, sizeof *f);
    f->req.method = m;
    f->req.method_name = m == HTTP_PUT ? "PUT" : m == HTTP_POST ? "POST" : "GET";
    f->req.path = "/bkt";
    f->req.path_len = 4;
    f->req.query = query ? query : "";
    f->req.body = body;
    f->req.body_len = len;
    f->req.remote = "127.0.0.1";
    snprintf(f->req.request_id, sizeof f->req.request_id, "TESTREQUEST00001");
    f->req.header_fn = fake_header;
    f->req.each_fn = fake_each;
    f->req.conn = f;
    http_resp_init(&f->resp);
    f->c.st = st;
    f->c.req = &f->req;
    f->c.resp = &f->resp;
    snprintf(f->c.bucket, sizeof f->c.bucket, "bkt");
    if (key != NULL) {
        snprintf(f->key, sizeof f->key, "%s", key);
        f->c.key = f->key;
        f->c.key_len = strlen(key);
    }
    f->c.max_object = (size_t)64 << 20;
}

static void fake_add(fake_t *f, const char *name, const char *value)
{
    assert_true(f->n < FAKE_MAX_HEADERS);
    f->names[f->n] = name;
    f->values[f->n] = value;
    f->n++;
}

static void fake_done(fake_t *f)
{
    http_resp_clear(&f->resp);
}

/* The response body as text (NUL-terminated copy in a static buffer). */
static const char *resp_text(const fake_t *f)
{
    static char text[1 << 16];
    size_t n = f->resp.body_len < sizeof text - 1 ? f->resp.body_len : sizeof text - 1;
    if (n > 0)
        memcpy(text, f->resp.body, n);
    text[n] = '\0';
    return text;
}

/* Assert the response is the S3 error `code` with `status`. */
static void assert_error(const fake_t *f, int status, const char *code)
{
    char want[128];
    snprintf(want, sizeof want, "<Code>%s</Code>", code);
    if (f->resp.status != status || strstr(resp_text(f), want) == NULL)
        fail_msg("expected %d %s, got %d: %s", status, code, f->resp.status, resp_text(f));
}

static const char *resp_header(const fake_t *f, const char *name)
{
    for (int i = 0; i < f->resp.nheaders; i++) {
        if (util_strcaseeq(f->resp.headers[i].name, name))
            return f->resp.headers[i].value;
    }
    return NULL;
}

/* ---- s3_body over a fake request ---- */

typedef struct body_result {
    int rc;
    const unsigned char *body;
    size_t len;
    unsigned char *owned;
    buf_t headers;
} body_result_t;

static void run_body(fake_t *f, body_result_t *r)
{
    buf_init(&r->headers, 4096);
    r->rc = s3_body(&f->c, &r->body, &r->len, &r->owned, &r->headers);
}

static void body_result_free(body_result_t *r)
{
    free(r->owned);
    buf_free(&r->headers);
}

/* The stored checksum header `name` among r's headers, or NULL. */
static const char *stored(const body_result_t *r, const char *name)
{
    return storage_header(r->headers.data, r->headers.len, name);
}

/* ---- checksums ---- */

static const char check[] = "123456789";

static void test_checksum_check_values(void **state)
{
    (void)state;
    char out[64];
    s3_checksum_b64("crc32", check, 9, out);
    assert_string_equal(out, "y/Q5Jg=="); /* cbf43926 */
    s3_checksum_b64("CRC32C", check, 9, out);
    assert_string_equal(out, "4waSgw=="); /* e3069283 */
    s3_checksum_b64("crc64nvme", check, 9, out);
    assert_string_equal(out, "rosUhgp5mIg="); /* ae8b14860a799888 */
    s3_checksum_b64("sha1", check, 9, out);
    assert_string_equal(out, "98O8HYCOBHMq32eZZczDTKeuNEE=");
    s3_checksum_b64("sha256", check, 9, out);
    assert_string_equal(out, "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=");
}

static void test_checksum_empty_body(void **state)
{
    (void)state;
    char out[64];
    s3_checksum_b64("crc32", "", 0, out);
    assert_string_equal(out, "AAAAAA==");
    s3_checksum_b64("crc32c", NULL, 0, out);
    assert_string_equal(out, "AAAAAA==");
    s3_checksum_b64("crc64nvme", "", 0, out);
    assert_string_equal(out, "AAAAAAAAAAA=");
    s3_checksum_b64("sha256", "", 0, out);
    assert_string_equal(out, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    s3_checksum_b64("sha1", "", 0, out);
    assert_string_equal(out, "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
    s3_checksum_b64("md5", "", 0, out);
    assert_string_equal(out, "");
    s3_checksum_b64(NULL, "", 0, out);
    assert_string_equal(out, "");
}

/* Bitwise reflected CRCs, the definition the tables must agree with. */
static uint64_t ref_crc(const unsigned char *p, size_t n, uint64_t poly, uint64_t mask)
{
    uint64_t crc = mask;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ poly : crc >> 1;
    }
    return (crc ^ mask) & mask;
}

static void ref_b64(uint64_t v, size_t len, char out[64])
{
    unsigned char be[8];
    for (size_t i = 0; i < len; i++)
        be[i] = (unsigned char)(v >> (8 * (len - 1 - i)));
    char *b = util_base64(be, len);
    snprintf(out, 64, "%s", b);
    free(b);
}

static void test_checksum_tables_match_bitwise(void **state)
{
    (void)state;
    unsigned char data[128];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 131 + 7);
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n <= 100; n++) {
            char got[64], want[64];
            s3_checksum_b64("crc32", data + off, n, got);
            ref_b64(ref_crc(data + off, n, 0xedb88320u, 0xffffffffu), 4, want);
            assert_string_equal(got, want);
            s3_checksum_b64("crc32c", data + off, n, got);
            ref_b64(ref_crc(data + off, n, 0x82f63b78u, 0xffffffffu), 4, want);
            assert_string_equal(got, want);
            s3_checksum_b64("crc64nvme", data + off, n, got);
            ref_b64(ref_crc(data + off, n, 0x9a6c9329ac4bc9b5ull, ~0ull), 8, want);
            assert_string_equal(got, want);
        }
    }
}

/* ---- plain bodies, Content-MD5, checksum headers ---- */

static void test_plain_body_borrowed(void **state)
{
    (void)state;
    fake_t f;
    body_result_t r;
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
    run_body(&f, &r);
    assert_int_equal(r.rc, 0);
    assert_ptr_equal(r.body, (const unsigned char *)check);
    assert_int_equal(r.len, 9);
    assert_null(r.owned);
    assert_int_equal(r.headers.len, 0);
    body_result_free(&r);
    fake_done(&f);
}

static void test_content_md5(void **state)
{
    (void)state;
    static const struct {
        const char *md5;
        int status;
        const char *code;
    } cases[] = {
        {"JfnnlDI7RTiF9RgfG2JNCw==", 200, NULL},
        {"JfnnlDI7RTiF9RgfG2JNCw", 200, NULL},              /* padding optional */
        {"AAAAAAAAAAAAAAAAAAAAAA==", 400, "BadDigest"},     /* 16 bytes, not ours */
        {"JfnnlDI7RTiF9RgfG2JN", 400, "InvalidDigest"},     /* 15 bytes */
        {"JfnnlDI7RTiF9RgfG2JNCwAA", 400, "InvalidDigest"}, /* 18 bytes */
        {"not base64 at all!", 400, "InvalidDigest"},
        {"", 400, "InvalidDigest"},
        {"25f9e794323b453885f5181f1b624d0b", 400, "InvalidDigest"}, /* hex, not base64 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f;
        body_result_t r;
        fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
        fake_add(&f, "Content-MD5", cases[i].md5);
        run_body(&f, &r);
        if (cases[i].code == NULL) {
            assert_int_equal(r.rc, 0);
        } else {
            assert_int_equal(r.rc, -1);
            assert_null(r.owned);
            assert_error(&f, cases[i].status, cases[i].code);
        }
        body_result_free(&r);
        fake_done(&f);
    }
}

static void test_checksum_header_stored(void **state)
{
    (void)state;
    static const struct {
        const char *header, *value;
    } cases[] = {
        {"x-amz-checksum-crc32", "y/Q5Jg=="},
        {"X-Amz-Checksum-CRC32C", "4waSgw=="},
        {"x-amz-checksum-crc64nvme", "rosUhgp5mIg="},
        {"x-amz-checksum-sha1", "98O8HYCOBHMq32eZZczDTKeuNEE="},
        {"x-amz-checksum-sha256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="},
    };
    static const char *const stored_names[] = {"x-amz-checksum-crc32", "x-amz-checksum-crc32c",
                                               "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1",
                                               "x-amz-checksum-sha256"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f;
        body_result_t r;
        fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
        fake_add(&f, cases[i].header, cases[i].value);
        fake_add(&f, "x-amz-sdk-checksum-algorithm", "CRC32"); /* a value wins over it */
        run_body(&f, &r);
        assert_int_equal(r.rc, 0);
        const char *v = stored(&r, stored_names[i]);
        assert_non_null(v);
        assert_string_equal(v, cases[i].value);
        /* Exactly one header was added. */
        assert_int_equal(r.headers.len, strlen(stored_names[i]) + 1 + strlen(v) + 1);
        body_result_free(&r);
        fake_done(&f);
    }
}

static void test_checksum_mismatch(void **state)
{
    (void)state;
    fake_t f;
    body_result_t r;
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
    fake_add(&f, "x-amz-checksum-crc32", "AAAAAA==");
    run_body(&f, &r);
    assert_int_equal(r.rc, -1);
    assert_error(&f, 400, "BadDigest");
    assert_non_null(
        strstr(resp_text(&f), "The CRC32 you specified did not match the calculated checksum."));
    body_result_free(&r);
    fake_done(&f);

    fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
    fake_add(&f, "x-amz-checksum-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    run_body(&f, &r);
    assert_int_equal(r.rc, -1);
    assert_error(&f, 400, "BadDigest");
    assert_non_null(strstr(resp_text(&f), "The SHA256 you specified"));
    body_result_free(&r);
    fake_done(&f);
}

static void test_checksum_header_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *n1, *v1, *n2, *v2;
        const char *code;
    } cases[] = {
        /* two algorithms */
        {"x-amz-checksum-crc32", "y/Q5Jg==", "x-amz-checksum-crc32c", "4waSgw==", "InvalidRequest"},
        /* the same one twice */
        {"x-amz-checksum-crc32", "y/Q5Jg==", "x-amz-checksum-crc32", "y/Q5Jg==", "InvalidRequest"},
        /* wrong length for the algorithm: 8 bytes for CRC32 */
        {"x-amz-checksum-crc32", "rosUhgp5mIg=", NULL, NULL, "InvalidRequest"},
        {"x-amz-checksum-crc32", "***", NULL, NULL, "InvalidRequest"},
        {"x-amz-checksum-crc32", "", NULL, NULL, "InvalidRequest"},
        /* an algorithm S3 does not have */
        {"x-amz-checksum-md5", "JfnnlDI7RTiF9RgfG2JNCw==", NULL, NULL, "InvalidRequest"},
        {"x-amz-sdk-checksum-algorithm", "MD5", NULL, NULL, "InvalidRequest"},
        /* a trailer promised for a body that cannot have one */
        {"x-amz-trailer", "x-amz-checksum-crc32", NULL, NULL, "InvalidRequest"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f;
        body_result_t r;
        fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
        fake_add(&f, cases[i].n1, cases[i].v1);
        if (cases[i].n2 != NULL)
            fake_add(&f, cases[i].n2, cases[i].v2);
        run_body(&f, &r);
        assert_int_equal(r.rc, -1);
        assert_error(&f, 400, cases[i].code);
        body_result_free(&r);
        fake_done(&f);
    }
}

static void test_checksum_not_values_ignored(void **state)
{
    (void)state;
    fake_t f;
    body_result_t r;
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
    fake_add(&f, "x-amz-checksum-algorithm", "CRC32");
    fake_add(&f, "x-amz-checksum-type", "COMPOSITE");
    fake_add(&f, "x-amz-checksum-mode", "ENABLED");
    run_body(&f, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.headers.len, 0);
    body_result_free(&r);
    fake_done(&f);
}

static void test_sdk_algorithm_computed(void **state)
{
    (void)state;
    fake_t f;
    body_result_t r;
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
    fake_add(&f, "x-amz-sdk-checksum-algorithm", "crc64nvme");
    run_body(&f, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(stored(&r, "x-amz-checksum-crc64nvme"), "rosUhgp5mIg=");
    body_result_free(&r);
    fake_done(&f);
}

static void test_size_limit_plain(void **state)
{
    (void)state;
    fake_t f;
    body_result_t r;
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
    f.c.max_object = 8;
    run_body(&f, &r);
    assert_int_equal(r.rc, -1);
    assert_error(&f, 400, "EntityTooLarge");
    body_result_free(&r);
    fake_done(&f);

    fake_init(&f, NULL, HTTP_PUT, "k", NULL, check, 9);
    f.c.max_object = 9;
    run_body(&f, &r);
    assert_int_equal(r.rc, 0);
    body_result_free(&r);
    fake_done(&f);
}

/* ---- aws-chunked ---- */

/* An SDK v3 body: the payload in chunks of at most `chunk` bytes, "0\r\n",
 * then the trailer (if any) and the final CRLF. Caller frees. */
static unsigned char *sdk_chunked(const unsigned char *p, size_t n, size_t chunk,
                                  const char *trailer, size_t *out_len)
{
    buf_t b;
    buf_init(&b, 0);
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        buf_printf(&b, "%zx\r\n", len);
        buf_append(&b, p + off, len);
        buf_puts(&b, "\r\n");
    }
    buf_puts(&b, "0\r\n");
    if (trailer != NULL)
        buf_printf(&b, "%s\r\n\r\n", trailer);
    return (unsigned char *)buf_steal(&b, out_len);
}

static void chunked_headers(fake_t *f, const char *decoded_len)
{
    fake_add(f, "Content-Encoding", "aws-chunked");
    fake_add(f, "Transfer-Encoding", "chunked");
    fake_add(f, "x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    if (decoded_len != NULL)
        fake_add(f, "x-amz-decoded-content-length", decoded_len);
}

static void test_chunked_sdk_trailer(void **state)
{
    (void)state;
    /* 64 KiB chunks, as Node streams deliver a file, plus a short last one. */
    size_t n = 65536 * 2 + 100;
    unsigned char *data = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 8));
    char crc[64], trailer[128], dlen[32];
    s3_checksum_b64("crc32", data, n, crc);
    snprintf(trailer, sizeof trailer, "x-amz-checksum-crc32:%s", crc);
    snprintf(dlen, sizeof dlen, "%zu", n);
    size_t raw_len;
    unsigned char *raw = sdk_chunked(data, n, 65536, trailer, &raw_len);

    fake_t f;
    body_result_t r;
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, raw, raw_len);
    chunked_headers(&f, dlen);
    fake_add(&f, "x-amz-trailer", "x-amz-checksum-crc32");
    fake_add(&f, "x-amz-sdk-checksum-algorithm", "CRC32");
    run_body(&f, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.len, n);
    assert_memory_equal(r.body, data, n);
    assert_non_null(r.owned);
    assert_ptr_equal(r.body, r.owned);
    assert_string_equal(stored(&r, "x-amz-checksum-crc32"), crc);
    body_result_free(&r);
    fake_done(&f);

    /* The same body with a wrong trailer value. */
    free(raw);
    raw = sdk_chunked(data, n, 65536, "x-amz-checksum-crc32:AAAAAA==", &raw_len);
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, raw, raw_len);
    chunked_headers(&f, dlen);
    fake_add(&f, "x-amz-trailer", "x-amz-checksum-crc32");
    run_body(&f, &r);
    assert_int_equal(r.rc, -1);
    assert_null(r.owned);
    assert_error(&f, 400, "BadDigest");
    body_result_free(&r);
    fake_done(&f);

    /* A trailer and a header for the checksum at once. */
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, raw, raw_len);
    chunked_headers(&f, dlen);
    fake_add(&f, "x-amz-trailer", "x-amz-checksum-crc32");
    fake_add(&f, "x-amz-checksum-crc32c", "AAAAAA==");
    run_body(&f, &r);
    assert_int_equal(r.rc, -1);
    assert_error(&f, 400, "InvalidRequest");
    body_result_free(&r);
    fake_done(&f);
    free(raw);
    free(data);
}

static void test_chunked_forms_accepted(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        const char *decoded;
        int content_encoding; /* say aws-chunked in Content-Encoding, else only in sha256 */
    } cases[] = {
        /* SDK v3 without a checksum: ends right after the last chunk */
        {"5\r\nhello\r\n0\r\n", "hello", 1},
        /* botocore's form without trailers: final CRLF */
        {"5\r\nhello\r\n0\r\n\r\n", "hello", 1},
        /* several chunks, upper-case hex, leading zeros */
        {"3\r\nhel\r\n002\r\nlo\r\n0\r\n", "hello", 0},
        {"A\r\n0123456789\r\n0\r\n", "0123456789", 1},
        /* chunk extensions are ignored */
        {"5;name=value\r\nhello\r\n0;x\r\n\r\n", "hello", 1},
        /* an empty object */
        {"0\r\n", "", 1},
        {"0\r\n\r\n", "", 0},
        /* trailers we do not use are skipped */
        {"5\r\nhello\r\n0\r\nx-other: 1\r\n\r\n", "hello", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f;
        body_result_t r;
        fake_init(&f, NULL, HTTP_PUT, "k", NULL, cases[i].raw, strlen(cases[i].raw));
        if (cases[i].content_encoding)
            fake_add(&f, "Content-Encoding", "gzip, aws-chunked");
        else
            fake_add(&f, "x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD");
        run_body(&f, &r);
        if (r.rc != 0)
            fail_msg("case %zu refused: %s", i, resp_text(&f));
        assert_int_equal(r.len, strlen(cases[i].decoded));
        assert_memory_equal(r.body, cases[i].decoded, r.len);
        body_result_free(&r);
        fake_done(&f);
    }
}

static void test_chunked_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        const char *code;
        const char *trailer; /* x-amz-trailer, or NULL */
    } cases[] = {
        {"", "IncompleteBody", NULL},                             /* nothing at all */
        {"zz\r\nhello\r\n0\r\n", "InvalidRequest", NULL},         /* no hex size */
        {"\r\nhello\r\n0\r\n", "InvalidRequest", NULL},           /* empty size */
        {"5", "IncompleteBody", NULL},                            /* ends in the size */
        {"5\r", "IncompleteBody", NULL},                          /* ends in the CRLF */
        {"5\nhello\n0\n", "InvalidRequest", NULL},                /* LF only */
        {"5 \r\nhello\r\n0\r\n", "InvalidRequest", NULL},         /* space after size */
        {"5\r\nhel", "IncompleteBody", NULL},                     /* truncated data */
        {"5\r\nhello", "IncompleteBody", NULL},                   /* no CRLF after data */
        {"5\r\nhello!\r\n0\r\n", "InvalidRequest", NULL},         /* chunk longer than size */
        {"5\r\nhello\r\n", "IncompleteBody", NULL},               /* no last chunk */
        {"5\r\nhello\r\n0\r\nx-a:1", "IncompleteBody", NULL},     /* trailer cut */
        {"5\r\nhello\r\n0\r\nx-a:1\r\n", "IncompleteBody", NULL}, /* no final CRLF */
        {"5\r\nhello\r\n0\r\nno colon\r\n\r\n", "InvalidRequest", NULL},
        {"5\r\nhello\r\n0\r\n:v\r\n\r\n", "InvalidRequest", NULL},             /* empty name */
        {"5\r\nhello\r\n0\r\nx-a:1\rX\r\n", "InvalidRequest", NULL},           /* CR without LF */
        {"5\r\nhello\r\n0\r\n\r\nextra", "InvalidRequest", NULL},              /* after the end */
        {"5\r\nhello\r\n0\r\n\r\n", "InvalidRequest", "x-amz-checksum-crc32"}, /* no trailer */
        {"5\r\nhello\r\n0\r\n", "InvalidRequest", "x-amz-checksum-crc32"},
        {"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n"
         "x-amz-checksum-crc32:NhCmhg==\r\n\r\n",
         "InvalidRequest", "x-amz-checksum-crc32"}, /* the trailer twice */
        {"5\r\nhello\r\n0\r\n\r\n", "InvalidRequest", "x-amz-checksum-xxhash64"},
        /* sizes that overflow or pass the limit */
        {"ffffffffffffffffffffffff\r\nhello\r\n0\r\n", "EntityTooLarge", NULL},
        {"10000000000000000\r\nhello\r\n0\r\n", "EntityTooLarge", NULL},
        {"4000001\r\nhello\r\n0\r\n", "EntityTooLarge", NULL}, /* 64 MiB + 1 */
        {"400\r\nhello\r\n0\r\n", "IncompleteBody", NULL},     /* 1 KiB promised */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f;
        body_result_t r;
        fake_init(&f, NULL, HTTP_PUT, "k", NULL, cases[i].raw, strlen(cases[i].raw));
        chunked_headers(&f, NULL);
        if (cases[i].trailer != NULL)
            fake_add(&f, "x-amz-trailer", cases[i].trailer);
        run_body(&f, &r);
        if (r.rc != -1)
            fail_msg("case %zu accepted", i);
        assert_null(r.owned);
        char want[96];
        snprintf(want, sizeof want, "<Code>%s</Code>", cases[i].code);
        if (f.resp.status != 400 || strstr(resp_text(&f), want) == NULL)
            fail_msg("case %zu: expected %s, got %d %s", i, cases[i].code, f.resp.status,
                     resp_text(&f));
        body_result_free(&r);
        fake_done(&f);
    }
}

static void test_chunked_trailer_checksum_good(void **state)
{
    (void)state;
    /* "hello": CRC32 3610a686 = NhCmhg==; spaces around the trailer value are allowed. */
    const char *raw = "5\r\nhello\r\n0\r\nX-Amz-Checksum-Crc32: NhCmhg==\r\n\r\n";
    fake_t f;
    body_result_t r;
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, raw, strlen(raw));
    chunked_headers(&f, "5");
    fake_add(&f, "x-amz-trailer", "x-amz-checksum-crc32");
    run_body(&f, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(stored(&r, "x-amz-checksum-crc32"), "NhCmhg==");
    body_result_free(&r);
    fake_done(&f);
}

static void test_chunked_decoded_length(void **state)
{
    (void)state;
    const char *raw = "5\r\nhello\r\n0\r\n";
    static const struct {
        const char *dlen;
        const char *code;
    } cases[] = {
        {"5", NULL},
        {"4", "IncompleteBody"},
        {"6", "IncompleteBody"},
        {"0", "IncompleteBody"},
        {"99999999999999999999999", "InvalidArgument"},
        {"-5", "InvalidArgument"},
        {"5x", "InvalidArgument"},
        {"", "InvalidArgument"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f;
        body_result_t r;
        fake_init(&f, NULL, HTTP_PUT, "k", NULL, raw, strlen(raw));
        chunked_headers(&f, cases[i].dlen);
        run_body(&f, &r);
        if (cases[i].code == NULL) {
            assert_int_equal(r.rc, 0);
            assert_int_equal(r.len, 5);
        } else {
            assert_int_equal(r.rc, -1);
            assert_error(&f, 400, cases[i].code);
        }
        body_result_free(&r);
        fake_done(&f);
    }
}

static void test_chunked_md5_of_decoded(void **state)
{
    (void)state;
    const char *raw = "4\r\n1234\r\n5\r\n56789\r\n0\r\n\r\n";
    fake_t f;
    body_result_t r;
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, raw, strlen(raw));
    chunked_headers(&f, "9");
    fake_add(&f, "Content-MD5", "JfnnlDI7RTiF9RgfG2JNCw==");
    fake_add(&f, "x-amz-checksum-crc32c", "4waSgw==");
    run_body(&f, &r);
    assert_int_equal(r.rc, 0);
    assert_memory_equal(r.body, check, 9);
    assert_string_equal(stored(&r, "x-amz-checksum-crc32c"), "4waSgw==");
    body_result_free(&r);
    fake_done(&f);
}

static void test_chunked_size_limit(void **state)
{
    (void)state;
    /* Two chunks, each under the limit, together over it. */
    const char *raw = "5\r\nhello\r\n5\r\nworld\r\n0\r\n";
    fake_t f;
    body_result_t r;
    fake_init(&f, NULL, HTTP_PUT, "k", NULL, raw, strlen(raw));
    chunked_headers(&f, NULL);
    f.c.max_object = 9;
    run_body(&f, &r);
    assert_int_equal(r.rc, -1);
    assert_error(&f, 400, "EntityTooLarge");
    body_result_free(&r);
    fake_done(&f);

    fake_init(&f, NULL, HTTP_PUT, "k", NULL, raw, strlen(raw));
    chunked_headers(&f, NULL);
    f.c.max_object = 10;
    run_body(&f, &r);
    assert_int_equal(r.rc, 0);
    assert_memory_equal(r.body, "helloworld", 10);
    body_result_free(&r);
    fake_done(&f);
}

static void test_chunk_signed_refused(void **state)
{
    (void)state;
    const char *raw = "5;chunk-signature=abc\r\nhello\r\n0;chunk-signature=def\r\n\r\n";
    static const char *const modes[] = {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                                        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"};
    for (size_t i = 0; i < 3; i++) {
        fake_t f;
        body_result_t r;
        fake_init(&f, NULL, HTTP_PUT, "k", NULL, raw, strlen(raw));
        fake_add(&f, "Content-Encoding", "aws-chunked");
        fake_add(&f, "x-amz-content-sha256", modes[i]);
        run_body(&f, &r);
        assert_int_equal(r.rc, -1);
        assert_error(&f, 501, "NotImplemented");
        assert_non_null(strstr(resp_text(&f), "STREAMING-UNSIGNED-PAYLOAD-TRAILER"));
        body_result_free(&r);
        fake_done(&f);
    }
}

/* ---- multipart uploads against a real store ---- */

typedef struct mp {
    char dir[256];
    storage_t *st;
} mp_t;

static int mp_setup(void **state)
{
    mp_t *m = xcalloc(1, sizeof *m);
    if (test_tmpdir(m->dir, sizeof m->dir, "s3mp") != 0)
        return -1;
    storage_options_t o = {(size_t)1 << 30, 0};
    if (storage_open(&m->st, m->dir, &o) != 0 || storage_bucket_create(m->st, "bkt") != 0)
        return -1;
    *state = m;
    return 0;
}

static int mp_teardown(void **state)
{
    mp_t *m = *state;
    storage_close(m->st);
    test_rm_dir(m->dir);
    free(m);
    return 0;
}

typedef void (*mp_op)(s3_ctx_t *c);

/* Run op on a request; f must be fake_done()'d by the caller. */
static void mp_run(fake_t *f, mp_op op)
{
    op(&f->c);
}

/* The text of the first <tag> element in f's response body, into out. */
static void xml_field(const fake_t *f, const char *tag, char *out, size_t outsz)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *text = resp_text(f);
    const char *p = strstr(text, open);
    assert_non_null(p);
    p += strlen(open);
    const char *e = strstr(p, close);
    assert_non_null(e);
    size_t n = (size_t)(e - p);
    assert_true(n < outsz);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* CreateMultipartUpload for key; the UploadId into id. */
static void mp_create(mp_t *m, const char *key, const char *algorithm, char id[128])
{
    fake_t f;
    fake_init(&f, m->st, HTTP_POST, key, "uploads", NULL, 0);
    fake_add(&f, "Content-Type", "text/plain");
    if (algorithm != NULL)
        fake_add(&f, "x-amz-checksum-algorithm", algorithm);
    mp_run(&f, s3_create_multipart);
    if (f.resp.status != 200)
        fail_msg("create: %d %s", f.resp.status, resp_text(&f));
    assert_non_null(strstr(resp_text(&f), "<InitiateMultipartUploadResult xmlns=\"http://s3."
                                          "amazonaws.com/doc/2006-03-01/\">"));
    xml_field(&f, "UploadId", id, 128);
    char k[128];
    buf_t esc;
    buf_init(&esc, 0);
    buf_xml_escape(&esc, key, strlen(key));
    xml_field(&f, "Key", k, sizeof k);
    assert_string_equal(k, esc.data);
    buf_free(&esc);
    fake_done(&f);
}

/* UploadPart; the ETag (quoted) into etag. Returns the status. */
static int mp_part(mp_t *m, const char *key, const char *id, int number, const void *data,
                   size_t len, const char *ck_name, const char *ck_value, char etag[64])
{
    fake_t f;
    char query[256];
    snprintf(query, sizeof query, "partNumber=%d&uploadId=%s&x-id=UploadPart", number, id);
    fake_init(&f, m->st, HTTP_PUT, key, query, data, len);
    if (ck_name != NULL)
        fake_add(&f, ck_name, ck_value);
    mp_run(&f, s3_upload_part);
    int status = f.resp.status;
    if (status == 200 && etag != NULL) {
        const char *e = resp_header(&f, "ETag");
        assert_non_null(e);
        snprintf(etag, 64, "%s", e);
    }
    fake_done(&f);
    return status;
}

/* CompleteMultipartUpload with document xml; leaves the response in f. */
static void mp_complete(fake_t *f, mp_t *m, const char *key, const char *id, const char *xml,
                        size_t len)
{
    static char query[256];
    snprintf(query, sizeof query, "uploadId=%s", id);
    fake_init(f, m->st, HTTP_POST, key, query, xml, len);
    fake_add(f, "Host", "127.0.0.1:8080");
    mp_run(f, s3_complete_multipart);
}

static int count_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    (*(int *)ctx)++;
    return 0;
}

/* Records left in table. */
static int count_records(mp_t *m, const char *table)
{
    storage_view_t *v;
    int n = 0;
    assert_int_equal(storage_view_open(m->st, &v), 0);
    assert_int_equal(storage_view_rec_scan(v, table, "", 0, count_cb, &n), 0);
    storage_view_close(v);
    return n;
}

static void md5_bin(const void *p, size_t n, unsigned char out[16])
{
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(n ? p : "", n, out, &len, EVP_md5(), NULL), 1);
}

static void test_multipart_roundtrip(void **state)
{
    mp_t *m = *state;
    char id[128], e1[64], e2[64], e3[64];
    size_t big = (size_t)5 << 20;
    unsigned char *p1 = xmalloc(big), *p2 = xmalloc(big);
    memset(p1, 'a', big);
    memset(p2, 'b', big);
    const char *p3 = "the end";

    mp_create(m, "dir/big file.bin", NULL, id);
    assert_int_equal(strlen(id), 44);
    /* Parts may come in any order and be replaced. */
    assert_int_equal(mp_part(m, "dir/big file.bin", id, 3, "old", 3, NULL, NULL, e3), 200);
    assert_int_equal(mp_part(m, "dir/big file.bin", id, 3, p3, 7, NULL, NULL, e3), 200);
    assert_int_equal(mp_part(m, "dir/big file.bin", id, 1, p1, big, NULL, NULL, e1), 200);
    assert_int_equal(mp_part(m, "dir/big file.bin", id, 2, p2, big, NULL, NULL, e2), 200);
    assert_int_equal(count_records(m, "mpu"), 1);
    assert_int_equal(count_records(m, "mpu-parts"), 3);

    /* The part ETag is the quoted MD5 hex of the part. */
    unsigned char md[3][16];
    char hex[33], want[64];
    md5_bin(p3, 7, md[2]);
    util_hex(md[2], 16, hex);
    snprintf(want, sizeof want, "\"%s\"", hex);
    assert_string_equal(e3, want);
    md5_bin(p1, big, md[0]);
    md5_bin(p2, big, md[1]);

    /* ListParts, one page at a time. */
    fake_t f;
    char query[256], field[64];
    snprintf(query, sizeof query, "uploadId=%s&max-parts=2", id);
    fake_init(&f, m->st, HTTP_GET, "dir/big file.bin", query, NULL, 0);
    mp_run(&f, s3_list_parts);
    assert_int_equal(f.resp.status, 200);
    assert_non_null(strstr(resp_text(&f), "<IsTruncated>true</IsTruncated>"));
    assert_non_null(strstr(resp_text(&f), "<PartNumber>1</PartNumber>"));
    assert_non_null(strstr(resp_text(&f), "<PartNumber>2</PartNumber>"));
    assert_null(strstr(resp_text(&f), "<PartNumber>3</PartNumber>"));
    xml_field(&f, "NextPartNumberMarker", field, sizeof field);
    assert_string_equal(field, "2");
    xml_field(&f, "Size", field, sizeof field);
    assert_string_equal(field, "5242880");
    fake_done(&f);
    snprintf(query, sizeof query, "uploadId=%s&max-parts=2&part-number-marker=2", id);
    fake_init(&f, m->st, HTTP_GET, "dir/big file.bin", query, NULL, 0);
    mp_run(&f, s3_list_parts);
    assert_int_equal(f.resp.status, 200);
    assert_non_null(strstr(resp_text(&f), "<IsTruncated>false</IsTruncated>"));
    assert_non_null(strstr(resp_text(&f), "<PartNumber>3</PartNumber><LastModified>"));
    assert_non_null(strstr(resp_text(&f), "<Size>7</Size>"));
    fake_done(&f);

    /* Complete as botocore writes it: ETags with their quotes, escaped or not. */
    char xml[1024];
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
             "<Part><ETag>%s</ETag><PartNumber>1</PartNumber></Part>\n"
             "  <Part><PartNumber>2</PartNumber><ETag>&quot;%.32s&quot;</ETag></Part>"
             "<!-- the last one may be small -->"
             "<Part><PartNumber>3</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             e1, e2 + 1, e3);
    mp_complete(&f, m, "dir/big file.bin", id, xml, strlen(xml));
    if (f.resp.status != 200)
        fail_msg("complete: %s", resp_text(&f));
    unsigned char cat[48], mm[16];
    memcpy(cat, md, 48);
    md5_bin(cat, 48, mm);
    util_hex(mm, 16, hex);
    snprintf(want, sizeof want, "&quot;%s-3&quot;", hex);
    xml_field(&f, "ETag", field, sizeof field);
    assert_string_equal(field, want);
    xml_field(&f, "Location", field, sizeof field);
    assert_string_equal(field, "http://127.0.0.1:8080/bkt/dir/big%20file.bin");
    assert_non_null(strstr(resp_text(&f), "<CompleteMultipartUploadResult xmlns="));
    fake_done(&f);

    /* The object is the parts in order; the upload is gone. */
    storage_view_t *v;
    storage_object_t obj;
    assert_int_equal(storage_view_open(m->st, &v), 0);
    assert_int_equal(storage_get(v, "bkt", "dir/big file.bin", 16, &obj), 0);
    assert_int_equal(obj.size, 2 * big + 7);
    assert_memory_equal(obj.body, p1, big);
    assert_memory_equal((const char *)obj.body + big, p2, big);
    assert_memory_equal((const char *)obj.body + 2 * big, p3, 7);
    snprintf(want, sizeof want, "%s-3", hex);
    assert_string_equal(obj.etag, want);
    assert_string_equal(storage_header(obj.headers, obj.headers_len, "content-type"), "text/plain");
    storage_view_close(v);
    assert_int_equal(count_records(m, "mpu"), 0);
    assert_int_equal(count_records(m, "mpu-parts"), 0);

    /* Completing again: the upload no longer exists. */
    mp_complete(&f, m, "dir/big file.bin", id, xml, strlen(xml));
    assert_error(&f, 404, "NoSuchUpload");
    fake_done(&f);
    free(p1);
    free(p2);
}

static void test_multipart_part_rules(void **state)
{
    mp_t *m = *state;
    char id[128], e1[64], e2[64], xml[1024];
    fake_t f;
    mp_create(m, "k", NULL, id);
    assert_int_equal(mp_part(m, "k", id, 1, "small", 5, NULL, NULL, e1), 200);
    assert_int_equal(mp_part(m, "k", id, 2, "last", 4, NULL, NULL, e2), 200);

    /* A non-last part under 5 MiB. */
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "<Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             e1, e2);
    mp_complete(&f, m, "k", id, xml, strlen(xml));
    assert_error(&f, 400, "EntityTooSmall");
    fake_done(&f);

    /* A wrong ETag, a part never uploaded. */
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             e1);
    mp_complete(&f, m, "k", id, xml, strlen(xml));
    assert_error(&f, 400, "InvalidPart");
    fake_done(&f);
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>7</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             e1);
    mp_complete(&f, m, "k", id, xml, strlen(xml));
    assert_error(&f, 400, "InvalidPart");
    fake_done(&f);

    /* Out of order, repeated, out of range. */
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part>"
             "<Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             e2, e1);
    mp_complete(&f, m, "k", id, xml, strlen(xml));
    assert_error(&f, 400, "InvalidPartOrder");
    fake_done(&f);
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "<Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             e1, e1);
    mp_complete(&f, m, "k", id, xml, strlen(xml));
    assert_error(&f, 400, "InvalidPartOrder");
    fake_done(&f);
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>%s</ETag>"
             "</Part></CompleteMultipartUpload>",
             e1);
    mp_complete(&f, m, "k", id, xml, strlen(xml));
    assert_error(&f, 400, "InvalidArgument");
    fake_done(&f);

    /* A single small part is a whole object; ETag compared without quotes, any case. */
    char upper[64];
    snprintf(upper, sizeof upper, "%s", e1 + 1);
    upper[strlen(upper) - 1] = '\0';
    for (char *p = upper; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber> 1 </PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             upper);
    mp_complete(&f, m, "k", id, xml, strlen(xml));
    if (f.resp.status != 200)
        fail_msg("complete: %s", resp_text(&f));
    fake_done(&f);
    /* Part 2 was not listed: it went with the upload. */
    assert_int_equal(count_records(m, "mpu-parts"), 0);

    /* Part numbers out of range on upload. */
    mp_create(m, "k", NULL, id);
    assert_int_equal(mp_part(m, "k", id, 0, "x", 1, NULL, NULL, NULL), 400);
    assert_int_equal(mp_part(m, "k", id, 10001, "x", 1, NULL, NULL, NULL), 400);
    assert_int_equal(mp_part(m, "k", id, 10000, "x", 1, NULL, NULL, NULL), 200);
}

static void test_multipart_unknown_upload(void **state)
{
    mp_t *m = *state;
    char id[128];
    fake_t f;
    const char *bogus[] = {"0123", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
                           "000000000000000000000000000000000000000000ab"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(mp_part(m, "k", bogus[i], 1, "x", 1, NULL, NULL, NULL), 404);
        mp_complete(&f, m, "k", bogus[i], "<CompleteMultipartUpload/>", 26);
        assert_error(&f, 404, "NoSuchUpload");
        fake_done(&f);
    }
    /* An upload is reachable only through its own key. */
    mp_create(m, "mine", NULL, id);
    assert_int_equal(mp_part(m, "other", id, 1, "x", 1, NULL, NULL, NULL), 404);
    char query[256];
    snprintf(query, sizeof query, "uploadId=%s", id);
    fake_init(&f, m->st, HTTP_DELETE, "other", query, NULL, 0);
    mp_run(&f, s3_abort_multipart);
    assert_error(&f, 404, "NoSuchUpload");
    fake_done(&f);
    fake_init(&f, m->st, HTTP_GET, "other", query, NULL, 0);
    mp_run(&f, s3_list_parts);
    assert_error(&f, 404, "NoSuchUpload");
    fake_done(&f);

    /* Abort: 204, parts gone, then 404. */
    assert_int_equal(mp_part(m, "mine", id, 1, "x", 1, NULL, NULL, NULL), 200);
    assert_int_equal(mp_part(m, "mine", id, 2, "y", 1, NULL, NULL, NULL), 200);
    fake_init(&f, m->st, HTTP_DELETE, "mine", query, NULL, 0);
    mp_run(&f, s3_abort_multipart);
    assert_int_equal(f.resp.status, 204);
    fake_done(&f);
    assert_int_equal(count_records(m, "mpu"), 0);
    assert_int_equal(count_records(m, "mpu-parts"), 0);
    fake_init(&f, m->st, HTTP_DELETE, "mine", query, NULL, 0);
    mp_run(&f, s3_abort_multipart);
    assert_error(&f, 404, "NoSuchUpload");
    fake_done(&f);
    assert_int_equal(mp_part(m, "mine", id, 1, "x", 1, NULL, NULL, NULL), 404);

    /* No such bucket. */
    fake_init(&f, m->st, HTTP_POST, "k", "uploads", NULL, 0);
    snprintf(f.c.bucket, sizeof f.c.bucket, "nobucket");
    mp_run(&f, s3_create_multipart);
    assert_error(&f, 404, "NoSuchBucket");
    fake_done(&f);
}

static void test_multipart_checksums(void **state)
{
    mp_t *m = *state;
    char id[128], e1[64], xml[1024];
    fake_t f;

    /* An algorithm on the upload: a part without a checksum gets one, a
     * part with another algorithm is refused. */
    mp_create(m, "ck", "CRC32", id);
    assert_int_equal(mp_part(m, "ck", id, 1, check, 9, "x-amz-checksum-crc32c", "4waSgw==", NULL),
                     400);
    assert_int_equal(mp_part(m, "ck", id, 1, check, 9, "x-amz-checksum-crc32", "AAAAAA==", NULL),
                     400);
    char query[256];
    snprintf(query, sizeof query, "partNumber=1&uploadId=%s", id);
    fake_init(&f, m->st, HTTP_PUT, "ck", query, check, 9);
    mp_run(&f, s3_upload_part);
    assert_int_equal(f.resp.status, 200);
    assert_string_equal(resp_header(&f, "x-amz-checksum-crc32"), "y/Q5Jg==");
    snprintf(e1, sizeof e1, "%s", resp_header(&f, "ETag"));
    fake_done(&f);

    /* COMPOSITE needs every part's checksum in the request. */
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             e1);
    mp_complete(&f, m, "ck", id, xml, strlen(xml));
    assert_error(&f, 400, "InvalidRequest");
    fake_done(&f);
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag>"
             "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>",
             e1);
    mp_complete(&f, m, "ck", id, xml, strlen(xml));
    assert_error(&f, 400, "InvalidPart");
    fake_done(&f);
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><ChecksumCRC32>y/Q5Jg==</ChecksumCRC32>"
             "<PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             e1);
    mp_complete(&f, m, "ck", id, xml, strlen(xml));
    if (f.resp.status != 200)
        fail_msg("complete: %s", resp_text(&f));
    /* Composite: CRC32 of the part CRC32s (cb f4 39 26), then "-1". */
    unsigned char partcrc[4] = {0xcb, 0xf4, 0x39, 0x26};
    char comp[64], want[80], field[80];
    s3_checksum_b64("crc32", partcrc, 4, comp);
    snprintf(want, sizeof want, "%s-1", comp);
    xml_field(&f, "ChecksumCRC32", field, sizeof field);
    assert_string_equal(field, want);
    xml_field(&f, "ChecksumType", field, sizeof field);
    assert_string_equal(field, "COMPOSITE");
    fake_done(&f);
    storage_view_t *v;
    storage_object_t obj;
    assert_int_equal(storage_view_open(m->st, &v), 0);
    assert_int_equal(storage_get(v, "bkt", "ck", 2, &obj), 0);
    assert_string_equal(storage_header(obj.headers, obj.headers_len, "x-amz-checksum-crc32"), want);
    storage_view_close(v);

    /* FULL_OBJECT (CRC64NVME's only type): the checksum of the object, and
     * a whole-object checksum sent with the request must match. */
    mp_create(m, "full", "CRC64NVME", id);
    assert_int_equal(mp_part(m, "full", id, 1, check, 9, NULL, NULL, e1), 200);
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             e1);
    snprintf(query, sizeof query, "uploadId=%s", id);
    fake_init(&f, m->st, HTTP_POST, "full", query, xml, strlen(xml));
    fake_add(&f, "x-amz-checksum-crc64nvme", "AAAAAAAAAAA=");
    mp_run(&f, s3_complete_multipart);
    assert_error(&f, 400, "BadDigest");
    fake_done(&f);
    fake_init(&f, m->st, HTTP_POST, "full", query, xml, strlen(xml));
    fake_add(&f, "x-amz-checksum-crc64nvme", "rosUhgp5mIg=");
    fake_add(&f, "x-amz-mp-object-size", "9");
    mp_run(&f, s3_complete_multipart);
    if (f.resp.status != 200)
        fail_msg("complete: %s", resp_text(&f));
    xml_field(&f, "ChecksumCRC64NVME", field, sizeof field);
    assert_string_equal(field, "rosUhgp5mIg=");
    fake_done(&f);

    /* Refused combinations on create. */
    static const struct {
        const char *alg, *type;
    } bad[] = {{"MD5", NULL},
               {"SHA256", "FULL_OBJECT"},
               {"CRC64NVME", "COMPOSITE"},
               {NULL, "COMPOSITE"},
               {"CRC32", "PARTIAL"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fake_init(&f, m->st, HTTP_POST, "k", "uploads", NULL, 0);
        if (bad[i].alg)
            fake_add(&f, "x-amz-checksum-algorithm", bad[i].alg);
        if (bad[i].type)
            fake_add(&f, "x-amz-checksum-type", bad[i].type);
        mp_run(&f, s3_create_multipart);
        assert_error(&f, 400, "InvalidRequest");
        fake_done(&f);
    }
}

static void test_multipart_part_copy(void **state)
{
    mp_t *m = *state;
    char id[128], query[256], xml[1024], e1[64], e2[64];
    fake_t f;
    size_t big = ((size_t)5 << 20) + 3;
    unsigned char *src = xmalloc(big);
    for (size_t i = 0; i < big; i++)
        src[i] = (unsigned char)(i % 251);
    assert_int_equal(storage_bucket_create(m->st, "other"), 0);
    assert_int_equal(storage_put(m->st, "other", "src key", 7, src, big, NULL, 0, NULL), 0);

    mp_create(m, "dst", "CRC32C", id);
    snprintf(query, sizeof query, "partNumber=1&uploadId=%s", id);
    /* The whole source as part 1 (percent-encoded, leading slash, versionId ignored). */
    fake_init(&f, m->st, HTTP_PUT, "dst", query, NULL, 0);
    fake_add(&f, "x-amz-copy-source", "/other/src%20key?versionId=null");
    mp_run(&f, s3_upload_part);
    if (f.resp.status != 200)
        fail_msg("copy: %s", resp_text(&f));
    assert_non_null(strstr(resp_text(&f), "<CopyPartResult xmlns="));
    xml_field(&f, "ETag", e1, sizeof e1);
    char crc[64], field[64];
    s3_checksum_b64("crc32c", src, big, crc);
    xml_field(&f, "ChecksumCRC32C", field, sizeof field);
    assert_string_equal(field, crc);
    fake_done(&f);
    /* Bytes 10-19 as part 2. */
    snprintf(query, sizeof query, "partNumber=2&uploadId=%s", id);
    fake_init(&f, m->st, HTTP_PUT, "dst", query, NULL, 0);
    fake_add(&f, "x-amz-copy-source", "other/src%20key");
    fake_add(&f, "x-amz-copy-source-range", "bytes=10-19");
    mp_run(&f, s3_upload_part);
    assert_int_equal(f.resp.status, 200);
    xml_field(&f, "ETag", e2, sizeof e2);
    s3_checksum_b64("crc32c", src + 10, 10, crc);
    xml_field(&f, "ChecksumCRC32C", field, sizeof field);
    fake_done(&f);
    char crc1[64];
    s3_checksum_b64("crc32c", src, big, crc1);
    snprintf(xml, sizeof xml,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag>"
             "<ChecksumCRC32C>%s</ChecksumCRC32C></Part><Part><PartNumber>2</PartNumber>"
             "<ETag>%s</ETag><ChecksumCRC32C>%s</ChecksumCRC32C></Part>"
             "</CompleteMultipartUpload>",
             e1, crc1, e2, crc);
    mp_complete(&f, m, "dst", id, xml, strlen(xml));
    if (f.resp.status != 200)
        fail_msg("complete: %s", resp_text(&f));
    fake_done(&f);
    storage_view_t *v;
    storage_object_t obj;
    assert_int_equal(storage_view_open(m->st, &v), 0);
    assert_int_equal(storage_get(v, "bkt", "dst", 3, &obj), 0);
    assert_int_equal(obj.size, big + 10);
    assert_memory_equal(obj.body, src, big);
    assert_memory_equal((const char *)obj.body + big, src + 10, 10);
    storage_view_close(v);

    /* Refusals: no such source, a bad source, bad ranges. */
    static const struct {
        const char *source, *range;
        int status;
        const char *code;
    } bad[] = {
        {"other/missing", NULL, 404, "NoSuchKey"},
        {"nobucket/x", NULL, 404, "NoSuchBucket"},
        {"other", NULL, 400, "InvalidArgument"},
        {"other/", NULL, 400, "InvalidArgument"},
        {"/src", NULL, 400, "InvalidArgument"},
        {"other/a%00b", NULL, 400, "InvalidArgument"},
        {"other/a%zz", NULL, 400, "InvalidArgument"},
        {"other/src%20key", "bytes=5-4", 400, "InvalidArgument"},
        {"other/src%20key", "bytes=0-5242883", 400, "InvalidArgument"},
        {"other/src%20key", "bytes=0-", 400, "InvalidArgument"},
        {"other/src%20key", "bytes=-5", 400, "InvalidArgument"},
        {"other/src%20key", "items=0-1", 400, "InvalidArgument"},
    };
    mp_create(m, "dst", NULL, id);
    snprintf(query, sizeof query, "partNumber=1&uploadId=%s", id);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fake_init(&f, m->st, HTTP_PUT, "dst", query, NULL, 0);
        fake_add(&f, "x-amz-copy-source", bad[i].source);
        if (bad[i].range != NULL)
            fake_add(&f, "x-amz-copy-source-range", bad[i].range);
        mp_run(&f, s3_upload_part);
        assert_error(&f, bad[i].status, bad[i].code);
        fake_done(&f);
    }
    assert_int_equal(count_records(m, "mpu-parts"), 0);
    free(src);
}

static void test_multipart_list_uploads(void **state)
{
    mp_t *m = *state;
    char ids[5][128];
    const char *keys[5] = {"b/2", "a", "b/1", "c&d", "a"};
    for (int i = 0; i < 5; i++) {
        mp_create(m, keys[i], i == 0 ? "SHA256" : NULL, ids[i]);
        usleep(2000); /* ids order by start time in ms */
    }
    fake_t f;
    fake_init(&f, m->st, HTTP_GET, NULL, "uploads", NULL, 0);
    mp_run(&f, s3_list_multipart_uploads);
    assert_int_equal(f.resp.status, 200);
    const char *t = resp_text(&f);
    /* Key order, then start order for one key; keys XML-escaped. */
    const char *a1 = strstr(t, ids[1]), *a2 = strstr(t, ids[4]), *b1 = strstr(t, ids[2]);
    const char *b2 = strstr(t, ids[0]), *cd = strstr(t, "<Key>c&amp;d</Key>");
    assert_true(a1 && a2 && b1 && b2 && cd);
    assert_true(a1 < a2 && a2 < b1 && b1 < b2 && b2 < cd);
    assert_non_null(strstr(t, "<ChecksumAlgorithm>SHA256</ChecksumAlgorithm>"));
    assert_non_null(strstr(t, "<IsTruncated>false</IsTruncated>"));
    fake_done(&f);

    /* Paging with markers. */
    fake_init(&f, m->st, HTTP_GET, NULL, "uploads&max-uploads=2", NULL, 0);
    mp_run(&f, s3_list_multipart_uploads);
    char next_key[64], next_id[128], query[512];
    t = resp_text(&f);
    assert_non_null(strstr(t, "<IsTruncated>true</IsTruncated>"));
    xml_field(&f, "NextKeyMarker", next_key, sizeof next_key);
    xml_field(&f, "NextUploadIdMarker", next_id, sizeof next_id);
    assert_string_equal(next_key, "a");
    assert_string_equal(next_id, ids[4]);
    fake_done(&f);
    snprintf(query, sizeof query, "uploads&max-uploads=2&key-marker=%s&upload-id-marker=%s",
             next_key, next_id);
    fake_init(&f, m->st, HTTP_GET, NULL, query, NULL, 0);
    mp_run(&f, s3_list_multipart_uploads);
    t = resp_text(&f);
    char listed[160];
    snprintf(listed, sizeof listed, "<UploadId>%s</UploadId>", ids[2]);
    assert_non_null(strstr(t, listed));
    snprintf(listed, sizeof listed, "<UploadId>%s</UploadId>", ids[0]);
    assert_non_null(strstr(t, listed));
    snprintf(listed, sizeof listed, "<UploadId>%s</UploadId>", ids[4]);
    assert_null(strstr(t, listed));
    assert_non_null(strstr(t, "<IsTruncated>true</IsTruncated>")); /* c&d remains */
    fake_done(&f);

    /* Delimiter: b/1 and b/2 roll up into one common prefix; url encoding. */
    fake_init(&f, m->st, HTTP_GET, NULL, "uploads&delimiter=%2F&encoding-type=url", NULL, 0);
    mp_run(&f, s3_list_multipart_uploads);
    t = resp_text(&f);
    assert_non_null(strstr(t, "<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes>"));
    assert_null(strstr(t, ids[2]));
    assert_non_null(strstr(t, "<Key>c%26d</Key>"));
    assert_non_null(strstr(t, "<EncodingType>url</EncodingType>"));
    fake_done(&f);

    /* Prefix. */
    fake_init(&f, m->st, HTTP_GET, NULL, "uploads&prefix=b%2F", NULL, 0);
    mp_run(&f, s3_list_multipart_uploads);
    t = resp_text(&f);
    assert_non_null(strstr(t, ids[2]));
    assert_non_null(strstr(t, ids[0]));
    assert_null(strstr(t, ids[1]));
    fake_done(&f);

    fake_init(&f, m->st, HTTP_GET, NULL, "uploads&max-uploads=x", NULL, 0);
    mp_run(&f, s3_list_multipart_uploads);
    assert_error(&f, 400, "InvalidArgument");
    fake_done(&f);
}

/* ---- the CompleteMultipartUpload parser, through s3_complete_multipart ---- */

/* Complete upload id with xml and return the status; f's response checked
 * against code when not NULL. */
static void expect_complete(mp_t *m, const char *id, const char *xml, size_t len, int status,
                            const char *code)
{
    fake_t f;
    mp_complete(&f, m, "x", id, xml, len);
    if (code != NULL) {
        char want[96];
        snprintf(want, sizeof want, "<Code>%s</Code>", code);
        if (f.resp.status != status || strstr(resp_text(&f), want) == NULL)
            fail_msg("expected %d %s for [%.200s], got %d %s", status, code, xml, f.resp.status,
                     resp_text(&f));
    } else if (f.resp.status != status) {
        fail_msg("expected %d for [%.200s], got %d %s", status, xml, f.resp.status, resp_text(&f));
    }
    fake_done(&f);
}

static void test_xml_malformed(void **state)
{
    mp_t *m = *state;
    char id[128], e1[64];
    mp_create(m, "x", NULL, id);
    assert_int_equal(mp_part(m, "x", id, 1, "data", 4, NULL, NULL, e1), 200);
    char part[200];
    snprintf(part, sizeof part, "<Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>", e1);
    const char *docs[] = {
        "",
        "   ",
        "<CompleteMultipartUpload/>",
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload>%s",                             /* unclosed root */
        "<CompleteMultipartUpload>%s</CompleteMultipartUploads>",  /* wrong end tag */
        "<CompleteMultipartUploadX>%s</CompleteMultipartUploadX>", /* wrong root */
        "<Complete>%s</Complete>",
        "<CompleteMultipartUpload>text%s</CompleteMultipartUpload>", /* text in the root */
        "<CompleteMultipartUpload>%s<Other/></CompleteMultipartUpload>",
        "<CompleteMultipartUpload>%s</CompleteMultipartUpload><Extra/>",
        "<CompleteMultipartUpload>%s</CompleteMultipartUpload>trailing",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><CompleteMultipartUpload>%s</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></"
        "CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part/></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>x</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>1</PartNumber>"
        "<ETag>x</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber><b>1</b></PartNumber><ETag>x</ETag></Part>"
        "</CompleteMultipartUpload>", /* nested element in a leaf */
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</Etag></Part>"
        "</CompleteMultipartUpload>", /* case matters */
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&bogus;</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&#0;</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&#xD800;</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&#1;</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&#x110000;</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\x01</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag><![CDATA[\x02]]></ETag>"
        "</Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&amp</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag><![CDATA[x</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><!-- unterminated %s</CompleteMultipartUpload>",
        "<CompleteMultipartUpload a=b>%s</CompleteMultipartUpload>", /* unquoted attribute */
        "<CompleteMultipartUpload a=\"<\">%s</CompleteMultipartUpload>",
        "<CompleteMultipartUpload xmlns=\"x\"a=\"y\">%s</CompleteMultipartUpload>",
        "<?xml version=\"1.0\"<CompleteMultipartUpload>%s</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><s3:Part>x</s3:Part></CompleteMultipartUpload>",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char xml[1024];
        snprintf(xml, sizeof xml, docs[i], part);
        expect_complete(m, id, xml, strlen(xml), 400, "MalformedXML");
    }
    /* A NUL inside the document (strlen would stop at it). */
    char nul[] = "<CompleteMultipartUpload><Part><PartNumber>1\0</PartNumber><ETag>x</ETag></Part>"
                 "</CompleteMultipartUpload>";
    expect_complete(m, id, nul, sizeof nul - 1, 400, "MalformedXML");
    /* Text longer than any field may be. */
    char *longtext = xmalloc(2000);
    int n =
        snprintf(longtext, 2000, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>");
    memset(longtext + n, 'e', 300);
    snprintf(longtext + n + 300, 2000 - (size_t)n - 300,
             "</ETag></Part></CompleteMultipartUpload>");
    expect_complete(m, id, longtext, strlen(longtext), 400, "MalformedXML");
    free(longtext);
    /* The upload is untouched by all of that. */
    char good[512];
    snprintf(good, sizeof good, "<CompleteMultipartUpload>%s</CompleteMultipartUpload>", part);
    expect_complete(m, id, good, strlen(good), 200, NULL);
}

static void test_xml_accepted_forms(void **state)
{
    mp_t *m = *state;
    char e1[64], hex[40];
    static const char *const forms[] = {
        /* BOM, declaration, comments, whitespace everywhere, single-quoted attribute */
        "\xef\xbb\xbf<?xml version='1.0'?>\n<!-- c -->\n<CompleteMultipartUpload "
        "xmlns='http://s3.amazonaws.com/doc/2006-03-01/' >\n  <Part >\n    <PartNumber>1"
        "</PartNumber >\n    <ETag>\"%s\"</ETag>\n  </Part>\n</CompleteMultipartUpload >\n",
        /* character references and CDATA */
        "<CompleteMultipartUpload><Part><PartNumber>&#49;</PartNumber>"
        "<ETag>&#x22;<![CDATA[%s]]>&#34;</ETag></Part></CompleteMultipartUpload>",
        /* unknown leaves and checksum elements we are not asked to use */
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag>"
        "<Size>4</Size><ChecksumXXHASH64>abc</ChecksumXXHASH64><Empty/></Part>"
        "</CompleteMultipartUpload>",
        /* a checksum given for a part uploaded without one is computed and compared */
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag>"
        "<ChecksumCRC32C>rth90Q==</ChecksumCRC32C></Part></CompleteMultipartUpload>",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char id[128], xml[1024];
        mp_create(m, "x", NULL, id);
        assert_int_equal(mp_part(m, "x", id, 1, "data", 4, NULL, NULL, e1), 200);
        snprintf(hex, sizeof hex, "%.32s", e1 + 1);
        snprintf(xml, sizeof xml, forms[i], hex);
        expect_complete(m, id, xml, strlen(xml), 200, NULL);
    }
}

static void test_xml_huge_and_deep(void **state)
{
    mp_t *m = *state;
    char id[128], e1[64];
    mp_create(m, "x", NULL, id);
    assert_int_equal(mp_part(m, "x", id, 1, "data", 4, NULL, NULL, e1), 200);
    buf_t b;

    /* 10001 parts: more than S3 allows, refused before any lookup. */
    buf_init(&b, 0);
    buf_puts(&b, "<CompleteMultipartUpload>");
    for (int i = 1; i <= 10001; i++)
        buf_printf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i, e1);
    buf_puts(&b, "</CompleteMultipartUpload>");
    expect_complete(m, id, b.data, b.len, 400, "MalformedXML");
    buf_free(&b);

    /* Deep nesting: refused at the fourth level. */
    buf_init(&b, 0);
    buf_puts(&b, "<CompleteMultipartUpload><Part><PartNumber>");
    for (int i = 0; i < 100000; i++)
        buf_puts(&b, "<a>");
    expect_complete(m, id, b.data, b.len, 400, "MalformedXML");
    buf_free(&b);
    buf_init(&b, 0);
    for (int i = 0; i < 100000; i++)
        buf_puts(&b, "<CompleteMultipartUpload>");
    expect_complete(m, id, b.data, b.len, 400, "MalformedXML");
    buf_free(&b);

    /* Over the size limit. */
    size_t big = ((size_t)4 << 20) + 1;
    char *huge = xmalloc(big);
    memset(huge, ' ', big);
    expect_complete(m, id, huge, big, 400, "MaxMessageLengthExceeded");
    free(huge);

    /* 10000 parts, the most S3 allows: parsed, then refused on their merits
     * (part 1 is small and not the last). */
    buf_init(&b, 0);
    buf_puts(&b, "<CompleteMultipartUpload>");
    for (int i = 1; i <= 10000; i++)
        buf_printf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i, e1);
    buf_puts(&b, "</CompleteMultipartUpload>");
    expect_complete(m, id, b.data, b.len, 400, "EntityTooSmall");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_check_values),
        cmocka_unit_test(test_checksum_empty_body),
        cmocka_unit_test(test_checksum_tables_match_bitwise),
        cmocka_unit_test(test_plain_body_borrowed),
        cmocka_unit_test(test_content_md5),
        cmocka_unit_test(test_checksum_header_stored),
        cmocka_unit_test(test_checksum_mismatch),
        cmocka_unit_test(test_checksum_header_refusals),
        cmocka_unit_test(test_checksum_not_values_ignored),
        cmocka_unit_test(test_sdk_algorithm_computed),
        cmocka_unit_test(test_size_limit_plain),
        cmocka_unit_test(test_chunked_sdk_trailer),
        cmocka_unit_test(test_chunked_forms_accepted),
        cmocka_unit_test(test_chunked_malformed),
        cmocka_unit_test(test_chunked_trailer_checksum_good),
        cmocka_unit_test(test_chunked_decoded_length),
        cmocka_unit_test(test_chunked_md5_of_decoded),
        cmocka_unit_test(test_chunked_size_limit),
        cmocka_unit_test(test_chunk_signed_refused),
        cmocka_unit_test_setup_teardown(test_multipart_roundtrip, mp_setup, mp_teardown),
        cmocka_unit_test_setup_teardown(test_multipart_part_rules, mp_setup, mp_teardown),
        cmocka_unit_test_setup_teardown(test_multipart_unknown_upload, mp_setup, mp_teardown),
        cmocka_unit_test_setup_teardown(test_multipart_checksums, mp_setup, mp_teardown),
        cmocka_unit_test_setup_teardown(test_multipart_part_copy, mp_setup, mp_teardown),
        cmocka_unit_test_setup_teardown(test_multipart_list_uploads, mp_setup, mp_teardown),
        cmocka_unit_test_setup_teardown(test_xml_malformed, mp_setup, mp_teardown),
        cmocka_unit_test_setup_teardown(test_xml_accepted_forms, mp_setup, mp_teardown),
        cmocka_unit_test_setup_teardown(test_xml_huge_and_deep, mp_setup, mp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
