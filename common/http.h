/* http.h - the request and response that every module's HTTP handlers see.
 *
 * Handlers live in their modules (storage/ serves the website and S3, auth/
 * Cognito, ...) but must not depend on server/ or on libmicrohttpd: server/
 * fills an http_req_t, calls the handler, and turns the http_resp_t into a
 * libmicrohttpd response. That keeps handlers testable without a socket and
 * keeps the dependency arrows of DESIGN.md pointing one way.
 *
 * AWS error shapes are built here, one function per protocol, so that every
 * service answers errors in the form its SDK parses (wire-protocols doc 0, 1.4).
 */
#ifndef CLOUDLET_HTTP_H
#define CLOUDLET_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef enum http_method {
    HTTP_OTHER = 0,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
} http_method_t;

/* The wire protocol a route speaks; decides the error shape and request-id header. */
typedef enum http_proto {
    HTTP_PROTO_PLAIN = 0, /* cloudlet's own JSON endpoints (/healthz, well-known) */
    HTTP_PROTO_WEBSITE,   /* static website: HTML errors, x-amz-request-id */
    HTTP_PROTO_S3,        /* REST-XML <Error><Code>, x-amz-request-id */
    HTTP_PROTO_JSON,      /* awsJson1_1 and restJson1: {"__type","message"}, x-amzn-ErrorType */
    HTTP_PROTO_QUERY,     /* STS query protocol: <ErrorResponse><Error><Code> */
} http_proto_t;

#define HTTP_REQUEST_ID_LEN 16

typedef struct http_req {
    http_method_t method;
    const char *method_name; /* as sent, e.g. "GET" */
    const char *path;        /* raw path as sent: percent-encoded, no query, NUL-terminated */
    size_t path_len;
    const char *query;          /* raw query string without '?'; "" when absent */
    const unsigned char *body;  /* the whole body (bounded by the server's limit) */
    size_t body_len;
    const char *remote;         /* client address text */
    char request_id[HTTP_REQUEST_ID_LEN + 1];
    /* Header lookup, case-insensitive; NULL when absent. Use http_header(). */
    const char *(*header_fn)(void *conn, const char *name);
    /* Visit every header in received order (repeats included); a non-zero
     * return from cb stops and is returned. Use http_header_each(). */
    int (*each_fn)(void *conn, int (*cb)(void *ctx, const char *name, const char *value),
                   void *ctx);
    void *conn;
    /* Who signed the request, filled by server/ after the signature was
     * verified (sts/); NULL for unsigned requests. */
    const struct http_caller *caller;
    /* Set by server/ where a handler may answer later (http_defer). */
    struct http_later *later;
} http_req_t;


/* The verified signer of a request: filled by sts/ from the root
 * credentials or from a temporary credential's sealed session token. */
#define HTTP_SESSION_POLICY_MAX 2048 /* IAM's limit on an inline session policy */
typedef struct http_caller {
    int root;                  /* the root (admin) credentials: everything is allowed */
    char access_key_id[129];
    char arn[256];             /* arn:aws:iam::<acct>:root or arn:aws:sts::<acct>:assumed-role/R/S */
    char user_id[200];         /* aws:userid: the account id for root, "AROA…:<session>" */
    char account[16];
    char role[65];             /* the assumed role's name; "" for root */
    char identity_id[96];      /* Cognito identity id: ${cognito-identity.amazonaws.com:sub} */
    char subject[96];          /* the web identity's sub (user pool sub), "" if none */
    char session_policy[HTTP_SESSION_POLICY_MAX + 1]; /* inline session policy JSON, "" = none */
    int64_t expires;           /* seconds since the epoch; 0 = never (root) */
} http_caller_t;

/* The value of request header `name` (any case), or NULL. Borrowed for the request. */
const char *http_header(const http_req_t *r, const char *name);

/* Visit every request header in received order; see each_fn. Returns 0 when
 * the request has no headers or cb never stopped the walk. */
int http_header_each(const http_req_t *r, int (*cb)(void *ctx, const char *name, const char *value),
                     void *ctx);

/* Find query parameter `name` (exact, case-sensitive) in a raw query string and
 * percent-decode its value into out (size outsz, NUL-terminated). Returns the
 * decoded length, or -1 if absent, or -2 if it does not fit or is malformed.
 * A parameter without '=' decodes to "". */
int http_query_param(const char *query, const char *name, char *out, size_t outsz);

#define HTTP_RESP_MAX_HEADERS 32
#define HTTP_RESP_ARENA 2048

/* A response under construction. Header names must be string literals (or
 * otherwise outlive the response); values are copied. The body is either
 * static (release == NULL), or released by release(release_cls) once the
 * server has sent it, e.g. to free a buffer or close a storage view. */
typedef struct http_resp {
    int status;
    int nheaders;
    struct {
        const char *name;
        const char *value;
    } headers[HTTP_RESP_MAX_HEADERS];
    const void *body;
    size_t body_len;
    void (*release)(void *cls);
    void *release_cls;
    /* Header values live here; larger ones are allocated and freed in http_resp_clear. */
    char arena[HTTP_RESP_ARENA];
    size_t arena_used;
    void *spill[HTTP_RESP_MAX_HEADERS];
    int nspill;
    int deferred; /* set by http_defer: the server waits for http_later_done */
} http_resp_t;

/* An answer that comes later: a function invoke waits for its instance
 * without holding a server thread. The handler calls http_defer and keeps
 * the returned pointer and its resp; later, from any thread, it fills that
 * resp and calls http_later_done exactly once. Until then req and resp stay
 * valid (the connection is suspended); after, it must not touch either. */
typedef struct http_later {
    void (*done)(struct http_later *l); /* server/'s */
} http_later_t;

/* Mark resp as answered later and return the token, or NULL when this route
 * cannot defer (req->later unset): then answer at once. */
http_later_t *http_defer(const http_req_t *req, http_resp_t *resp);

/* Send the response filled since http_defer. */
static inline void http_later_done(http_later_t *l)
{
    l->done(l);
}

/* Prepare an empty 200 response. */
void http_resp_init(http_resp_t *resp);
/* Release the body (if a release function is set) and header storage; the
 * response becomes empty. The server calls this if the response is never sent. */
void http_resp_clear(http_resp_t *resp);
/* Add a header; the value is copied. Extra headers beyond the maximum are dropped
 * (the maximum is far above what any handler sets). */
void http_resp_header(http_resp_t *resp, const char *name, const char *value);
/* Add a header whose name is not a literal (x-amz-meta-*): both are copied. */
void http_resp_header_copy(http_resp_t *resp, const char *name, const char *value);
void http_resp_headerf(http_resp_t *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set a body that the response owns: it is freed with free() after sending. */
void http_resp_body_owned(http_resp_t *resp, char *data, size_t len);
/* Set a body that outlives every response (a string literal, a table). */
void http_resp_body_static(http_resp_t *resp, const void *data, size_t len);
/* Set a borrowed body and the function that releases what it borrows from. */
void http_resp_body_borrowed(http_resp_t *resp, const void *data, size_t len,
                             void (*release)(void *), void *cls);
/* Set a JSON body from a string (copied); adds Content-Type. */
void http_resp_json(http_resp_t *resp, int status, const char *content_type, const char *json);

/* Fill resp with an error in the shape of protocol `proto`: `code` is the AWS
 * error code (e.g. "NoSuchKey", "NotAuthorizedException"), `message` plain text.
 * `resource` is an optional extra (S3 <Resource>, may be NULL). */
void http_error(http_resp_t *resp, http_proto_t proto, int status, const char *code,
                const char *message, const char *resource, const char *request_id);

/* The reason phrase for a status code ("Not Found"). */
const char *http_reason(int status);

#endif
