/* http.c - request helpers, response construction and AWS error shapes. */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *http_header(const http_req_t *r, const char *name)
{
    if (r->header_fn == NULL)
        return NULL;
    return r->header_fn(r->conn, name);
}

int http_header_each(const http_req_t *r, int (*cb)(void *ctx, const char *name, const char *value),
                     void *ctx)
{
    if (r->each_fn == NULL)
        return 0;
    return r->each_fn(r->conn, cb, ctx);
}

/* Percent-decode [s, s+n) into out (size outsz). '+' is a space in query
 * strings (form encoding). Returns the length, or -2 on overflow or a bad escape. */
static int decode_component(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -2;
            int hi = util_hexval(s[i + 1]);
            int lo = util_hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -2;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= outsz)
            return -2;
        out[o++] = c;
    }
    if (o >= outsz)
        return -2;
    out[o] = '\0';
    return (int)o;
}

int http_query_param(const char *query, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            if (eq == NULL) {
                if (outsz == 0)
                    return -2;
                out[0] = '\0';
                return 0;
            }
            return decode_component(eq + 1, len - klen - 1, out, outsz);
        }
        p = end ? end + 1 : NULL;
    }
    return -1;
}

http_later_t *http_defer(const http_req_t *req, http_resp_t *resp)
{
    if (req->later == NULL)
        return NULL;
    resp->deferred = 1;
    return req->later;
}

void http_resp_init(http_resp_t *resp)
{
    resp->status = 200;
    resp->nheaders = 0;
    resp->body = NULL;
    resp->body_len = 0;
    resp->release = NULL;
    resp->release_cls = NULL;
    resp->arena_used = 0;
    resp->deferred = 0;
    resp->nspill = 0;
}

void http_resp_clear(http_resp_t *resp)
{
    if (resp->release != NULL)
        resp->release(resp->release_cls);
    for (int i = 0; i < resp->nspill; i++)
        free(resp->spill[i]);
    http_resp_init(resp);
}

/* Copy s into the response's arena (or a spill allocation freed with it). */
static char *resp_copy(http_resp_t *resp, const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy;
    if (n <= HTTP_RESP_ARENA - resp->arena_used) {
        copy = resp->arena + resp->arena_used;
        resp->arena_used += n;
        memcpy(copy, s, n);
    } else {
        if (resp->nspill >= HTTP_RESP_MAX_HEADERS)
            return NULL;
        copy = xstrndup(s, n - 1);
        resp->spill[resp->nspill++] = copy;
    }
    return copy;
}

void http_resp_header(http_resp_t *resp, const char *name, const char *value)
{
    if (resp->nheaders >= HTTP_RESP_MAX_HEADERS)
        return;
    const char *copy = resp_copy(resp, value);
    if (copy == NULL)
        return;
    resp->headers[resp->nheaders].name = name;
    resp->headers[resp->nheaders].value = copy;
    resp->nheaders++;
}

void http_resp_header_copy(http_resp_t *resp, const char *name, const char *value)
{
    if (resp->nheaders >= HTTP_RESP_MAX_HEADERS)
        return;
    const char *n = resp_copy(resp, name);
    if (n != NULL)
        http_resp_header(resp, n, value);
}

void http_resp_headerf(http_resp_t *resp, const char *name, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        http_resp_header(resp, name, small);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    http_resp_header(resp, name, big);
    free(big);
}

static void set_body(http_resp_t *resp, const void *data, size_t len, void (*release)(void *),
                     void *cls)
{
    if (resp->release != NULL)
        resp->release(resp->release_cls);
    resp->body = data;
    resp->body_len = len;
    resp->release = release;
    resp->release_cls = cls;
}

void http_resp_body_owned(http_resp_t *resp, char *data, size_t len)
{
    set_body(resp, data, len, free, data);
}

void http_resp_body_static(http_resp_t *resp, const void *data, size_t len)
{
    set_body(resp, data, len, NULL, NULL);
}

void http_resp_body_borrowed(http_resp_t *resp, const void *data, size_t len,
                             void (*release)(void *), void *cls)
{
    set_body(resp, data, len, release, cls);
}

void http_resp_json(http_resp_t *resp, int status, const char *content_type, const char *json)
{
    size_t n = strlen(json);
    resp->status = status;
    http_resp_header(resp, "Content-Type", content_type ? content_type : "application/json");
    http_resp_body_owned(resp, xstrndup(json, n), n);
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

/* S3 REST-XML: <Error><Code/><Message/><Resource/><RequestId/></Error> (wire doc 6.4). */
static void s3_error(buf_t *b, const char *code, const char *message, const char *resource,
                     const char *request_id)
{
    buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
    buf_xml_escape(b, code, strlen(code));
    buf_puts(b, "</Code><Message>");
    buf_xml_escape(b, message, strlen(message));
    buf_puts(b, "</Message>");
    if (resource != NULL) {
        buf_puts(b, "<Resource>");
        buf_xml_escape(b, resource, strlen(resource));
        buf_puts(b, "</Resource>");
    }
    buf_puts(b, "<RequestId>");
    buf_puts(b, request_id);
    buf_puts(b, "</RequestId></Error>");
}

/* STS query protocol: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>. */
static void query_error(buf_t *b, int status, const char *code, const char *message,
                        const char *request_id)
{
    buf_puts(b, "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                "<Error><Type>");
    buf_puts(b, status >= 500 ? "Receiver" : "Sender");
    buf_puts(b, "</Type><Code>");
    buf_xml_escape(b, code, strlen(code));
    buf_puts(b, "</Code><Message>");
    buf_xml_escape(b, message, strlen(message));
    buf_puts(b, "</Message></Error><RequestId>");
    buf_puts(b, request_id);
    buf_puts(b, "</RequestId></ErrorResponse>");
}

/* JSON services: SDK v3 reads x-amzn-errortype first, then __type (wire doc 0). */
static void json_error(buf_t *b, const char *code, const char *message)
{
    buf_puts(b, "{\"__type\":\"");
    buf_json_escape(b, code, strlen(code));
    buf_puts(b, "\",\"message\":\"");
    buf_json_escape(b, message, strlen(message));
    buf_puts(b, "\"}");
}

/* The website answers errors as a small HTML page, as S3 website endpoints do. */
static void html_error(buf_t *b, int status, const char *code, const char *message,
                       const char *request_id)
{
    buf_printf(b, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head><body>\n<h1>%d %s</h1>\n<ul>\n<li>Code: ",
               status, http_reason(status), status, http_reason(status));
    buf_xml_escape(b, code, strlen(code));
    buf_puts(b, "</li>\n<li>Message: ");
    buf_xml_escape(b, message, strlen(message));
    buf_printf(b, "</li>\n<li>RequestId: %s</li>\n</ul>\n</body></html>\n", request_id);
}

void http_error(http_resp_t *resp, http_proto_t proto, int status, const char *code,
                const char *message, const char *resource, const char *request_id)
{
    buf_t b;
    buf_init(&b, 0);
    const char *ctype;
    switch (proto) {
    case HTTP_PROTO_S3:
        s3_error(&b, code, message, resource, request_id ? request_id : "");
        ctype = "application/xml";
        break;
    case HTTP_PROTO_QUERY:
        query_error(&b, status, code, message, request_id ? request_id : "");
        ctype = "text/xml";
        break;
    case HTTP_PROTO_WEBSITE:
        html_error(&b, status, code, message, request_id ? request_id : "");
        ctype = "text/html; charset=utf-8";
        break;
    case HTTP_PROTO_JSON:
        json_error(&b, code, message);
        ctype = "application/x-amz-json-1.1";
        http_resp_header(resp, "x-amzn-ErrorType", code);
        break;
    case HTTP_PROTO_PLAIN:
    default:
        json_error(&b, code, message);
        ctype = "application/json";
        break;
    }
    resp->status = status;
    http_resp_header(resp, "Content-Type", ctype);
    size_t len;
    char *body = buf_steal(&b, &len);
    http_resp_body_owned(resp, body, len);
}
