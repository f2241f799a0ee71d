/* daemon.c - the libmicrohttpd daemon, the request lifecycle and the routes.
 *
 * Lifecycle of one request (STYLE.md, libmicrohttpd habit; DESIGN.md trap):
 *   1. The URI-log callback allocates the request state and keeps the raw
 *      request target: libmicrohttpd would otherwise turn '+' into ' ' in
 *      the query, and SigV4 and the website need the bytes as sent.
 *   2. First access-handler call: pick the route from method, path and
 *      headers; refuse an announced body over the limit (413 in the route's
 *      error shape); otherwise return without queuing, which keeps the
 *      connection alive and lets libmicrohttpd answer Expect: 100-continue.
 *   3. Body calls append to a bounded buffer.
 *   4. Final call: run the handler and queue its response.
 *   5. The completed callback writes the access-log line and frees the state.
 *
 * Routing follows DESIGN.md's rule; services that are not built yet answer
 * 501 in their own error shape so their SDKs raise a clear error.
 */
#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "common/http.h"
#include "common/log.h"
#include "common/util.h"

struct server {
    const config_t *cfg;
    storage_t *st;
    auth_t *auth;
    sts_t *sts;
    fn_t *fn;
    char endpoint[300]; /* public base URL, no trailing slash */
    struct MHD_Daemon *mhd;
    storage_site_opts_t site;
    storage_s3_opts_t s3;
    pthread_mutex_t later_lk; /* orders a handler's suspend against its later answer */
    atomic_int inflight;
    atomic_int public_hint; /* some bucket may have a policy (public read) */
    uint64_t id_base;
    atomic_uint_fast64_t id_next;
};

typedef struct route route_t;
typedef void (*handler_fn)(server_t *srv, const http_req_t *req, http_resp_t *resp,
                           const route_t *route);

/* One row of the route table: what the request is, how its errors look. */
struct route {
    const char *service; /* for the access log */
    http_proto_t proto;
    handler_fn handler;
    const char *too_large_code; /* error code for a 413 in this service's shape */
    const char *what;           /* for "not built yet" answers */
    const char *signing;        /* SigV4 service name: signed requests are verified
                                   before the handler runs; NULL = not yet */
    /* The action and resource a signed request asks for, for the policy
     * check (0), or 1 when it needs no permission. NULL: none needed. */
    int (*describe)(server_t *srv, const http_req_t *req, char *action, size_t actionsz,
                    char *resource, size_t resourcesz, json_t **context);
};

/* PHASE_DISCARD: a chunked body passed the limit; the rest is read and
 * dropped (up to DISCARD_MAX bytes) so that a 413 can still be sent. */
/* PHASE_WAIT: the handler deferred its answer (http_defer); the connection
 * is suspended until http_later_done resumes it. */
enum { PHASE_NEW, PHASE_BODY, PHASE_DISCARD, PHASE_WAIT, PHASE_DONE };
#define DISCARD_MAX ((size_t)16 << 20)

typedef struct request {
    server_t *srv;
    uint64_t start_ns;
    char *uri; /* raw request target, owned */
    const route_t *route;
    int phase;
    buf_t body;
    size_t discarded;
    http_req_t req;
    struct MHD_Connection *conn;
    http_later_t later;
    int suspended, ready; /* under srv->later_lk */
    char remote[48];
    int status;
    size_t bytes;
    http_resp_t resp; /* on_uri zeroes everything before it */
    http_caller_t caller; /* filled only by a verified signature (kilobytes: not zeroed) */
} request_t;

/* ---- Handlers that belong to server/ itself ---- */

static char *build_wellknown(const server_t *srv);

static void handle_health(server_t *srv, const http_req_t *req, http_resp_t *resp,
                          const route_t *route)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    http_resp_header(resp, "Content-Type", "application/json");
    http_resp_header(resp, "Cache-Control", "no-store");
    http_resp_body_static(resp, ok, sizeof ok - 1);
}

static void handle_wellknown(server_t *srv, const http_req_t *req, http_resp_t *resp,
                             const route_t *route)
{
    /* Built per request: functions come and go through the Lambda API. */
    char *body = build_wellknown(srv);
    http_resp_header(resp, "Content-Type", "application/json");
    http_resp_header(resp, "Cache-Control", "no-cache");
    http_resp_body_owned(resp, body, strlen(body));
}

/* The first path segment ("/bucket/...") into out; 0 if it cannot be a bucket. */
static int path_bucket(const char *path, char out[STORAGE_MAX_BUCKET + 1])
{
    size_t n = strcspn(path + 1, "/");
    if (n == 0 || n > STORAGE_MAX_BUCKET || path[1 + n] != '/')
        return 0;
    memcpy(out, path + 1, n);
    out[n] = '\0';
    return storage_bucket_name_valid(out);
}

/* The bucket named by a virtual host "<bucket>.<host>[:port]", or 0. */
static int host_bucket(const http_req_t *req, char out[STORAGE_MAX_BUCKET + 1])
{
    const char *host = http_header(req, "Host");
    if (host == NULL)
        return 0;
    size_t n = strcspn(host, ".:");
    if (host[n] != '.' || n == 0 || n > STORAGE_MAX_BUCKET)
        return 0;
    struct in_addr a4;
    char hostonly[300];
    size_t hl = strcspn(host, ":");
    if (hl < sizeof hostonly) {
        memcpy(hostonly, host, hl);
        hostonly[hl] = '\0';
        if (inet_pton(AF_INET, hostonly, &a4) == 1)
            return 0;
    }
    memcpy(out, host, n);
    out[n] = '\0';
    return storage_bucket_name_valid(out);
}

/* Redirect per a website's RedirectAllRequestsTo or a routing rule. */
static void website_redirect(http_resp_t *resp, int code, const char *protocol, const char *host,
                             const char *path)
{
    http_resp_clear(resp);
    http_resp_init(resp);
    resp->status = code;
    if (host != NULL && host[0] != '\0')
        http_resp_headerf(resp, "Location", "%s://%s%s", protocol[0] ? protocol : "http", host,
                          path);
    else
        http_resp_header(resp, "Location", path);
}

/* A bucket configured with PutBucketWebsite, served at http://<bucket>.<host>/. */
static void serve_bucket_website(server_t *srv, const char *bucket, const storage_s3_website_t *w,
                                 const http_req_t *req, http_resp_t *resp)
{
    if (w->redirect_host[0] != '\0') {
        website_redirect(resp, 301, w->redirect_protocol, w->redirect_host, req->path);
        return;
    }
    const char *key = req->path + 1;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < w->nrules; i++) {
            const storage_s3_rule_t *r = &w->rules[i];
            /* Pass 0: rules without an error condition; pass 1: after serving. */
            if ((pass == 0) != (r->error_code == 0) || !util_startswith(key, r->prefix) ||
                (pass == 1 && r->error_code != resp->status))
                continue;
            char to[1400];
            if (r->has_replace_key)
                snprintf(to, sizeof to, "/%s", r->replace_key);
            else if (r->has_replace_prefix)
                snprintf(to, sizeof to, "/%s%s", r->replace_prefix, key + strlen(r->prefix));
            else
                snprintf(to, sizeof to, "/%s", key);
            website_redirect(resp, r->redirect_code, r->protocol, r->host, to);
            return;
        }
        if (pass == 0) {
            storage_site_opts_t o = {bucket, w->index[0] ? w->index : "index.html",
                                     w->error[0] ? w->error : NULL, 0};
            storage_site_handle(srv->st, &o, req, resp);
        }
    }
}

static void handle_website(server_t *srv, const http_req_t *req, http_resp_t *resp,
                           const route_t *route)
{
    char bucket[STORAGE_MAX_BUCKET + 1];
    storage_s3_website_t *w = NULL;
    if (host_bucket(req, bucket)) {
        w = xmalloc(sizeof *w);
        if (storage_s3_website(srv->st, bucket, w) == 0) {
            serve_bucket_website(srv, bucket, w, req, resp);
            free(w);
            return;
        }
        free(w);
    }
    /* Objects a bucket policy makes public are readable without a signature
     * at /bucket/key (the hint spares the lookup while no policy exists). */
    if (atomic_load(&srv->public_hint) && path_bucket(req->path, bucket) &&
        strcmp(bucket, srv->cfg->site_bucket) != 0) {
        const char *raw_key = req->path + 1 + strlen(bucket) + 1;
        if (storage_s3_public_read(srv->st, bucket, raw_key)) {
            storage_s3_handle(srv->st, &srv->s3, req, resp);
            return;
        }
    }
    storage_site_handle(srv->st, &srv->site, req, resp);
}

static void handle_idp(server_t *srv, const http_req_t *req, http_resp_t *resp,
                       const route_t *route)
{
    auth_handle(srv->auth, req, resp);
}

static void handle_identity(server_t *srv, const http_req_t *req, http_resp_t *resp,
                            const route_t *route)
{
    sts_handle_identity(srv->sts, req, resp);
}

static void handle_sts(server_t *srv, const http_req_t *req, http_resp_t *resp,
                       const route_t *route)
{
    sts_handle_sts(srv->sts, req, resp);
}

/* A bucket notification for a function: queue it as an Event invoke. */
static void s3_event_to_function(void *ctx, const char *function_arn, const char *event,
                                 size_t len)
{
    server_t *srv = ctx;
    const char *name = strstr(function_arn, ":function:");
    char fn_name[80];
    if (name == NULL)
        return;
    snprintf(fn_name, sizeof fn_name, "%.*s", (int)strcspn(name + 10, ":"), name + 10);
    if (fn_enqueue(srv->fn, fn_name, event, len) != 0)
        log_warn("s3: bucket event for %s dropped: no such function or queue full", fn_name);
}

/* Does the function a bucket notification names exist (in this region and
 * account)? 0 if so. */
static int s3_event_target_exists(void *ctx, const char *function_arn)
{
    server_t *srv = ctx;
    char prefix[128];
    int n = snprintf(prefix, sizeof prefix, "arn:aws:lambda:%s:%s:function:", srv->cfg->region,
                     srv->cfg->account_id);
    if (strncmp(function_arn, prefix, (size_t)n) != 0)
        return -1;
    char *names = fn_names_json(srv->fn);
    json_t *arr = json_loads(names, 0, NULL);
    free(names);
    const char *want = function_arn + n;
    size_t wlen = strcspn(want, ":");
    size_t i;
    json_t *v;
    int found = 0;
    json_array_foreach(arr, i, v) {
        found |= json_string_length(v) == wlen && memcmp(json_string_value(v), want, wlen) == 0;
    }
    json_decref(arr);
    return found ? 0 : -1;
}

static void handle_s3(server_t *srv, const http_req_t *req, http_resp_t *resp,
                      const route_t *route)
{
    storage_s3_handle(srv->st, &srv->s3, req, resp);
    if (req->method == HTTP_PUT && resp->status < 300 && strstr(req->query, "policy") != NULL)
        atomic_store(&srv->public_hint, 1);
}

static int describe_s3(server_t *srv, const http_req_t *req, char *action, size_t actionsz,
                       char *resource, size_t resourcesz, json_t **context)
{
    char prefix[1100];
    storage_s3_action(req, action, actionsz, resource, resourcesz, prefix, sizeof prefix);
    /* A copy (CopyObject, UploadPartCopy) also reads its source: when the
     * caller may not read it, the request is judged on that instead. */
    const char *src = http_header(req, "x-amz-copy-source");
    if (src != NULL && req->method == HTTP_PUT && req->caller != NULL) {
        char arn[1200];
        if (storage_s3_copy_source_arn(src, arn, sizeof arn) != 0 ||
            sts_authorize(srv->sts, req->caller, "s3:GetObject", arn, NULL) != 0) {
            snprintf(action, actionsz, "s3:GetObject");
            snprintf(resource, resourcesz, "%s", arn);
            return 0;
        }
    }
    /* s3:prefix is the condition key of per-user listing policies. */
    if (strcmp(action, "s3:ListBucket") == 0)
        *context = json_pack("{s:s}", "s3:prefix", prefix);
    return 0;
}

static int describe_idp(server_t *srv, const http_req_t *req, char *action, size_t actionsz,
                        char *resource, size_t resourcesz, json_t **context)
{
    return auth_request_action(srv->auth, req, action, actionsz, resource, resourcesz);
}

static int describe_identity(server_t *srv, const http_req_t *req, char *action,
                             size_t actionsz, char *resource, size_t resourcesz, json_t **context)
{
    return sts_request_action(srv->sts, req, 0, action, actionsz, resource, resourcesz);
}

static int describe_sts(server_t *srv, const http_req_t *req, char *action, size_t actionsz,
                        char *resource, size_t resourcesz, json_t **context)
{
    return sts_request_action(srv->sts, req, 1, action, actionsz, resource, resourcesz);
}

static void handle_pool_keys(server_t *srv, const http_req_t *req, http_resp_t *resp,
                             const route_t *route)
{
    auth_handle_wellknown(srv->auth, srv->endpoint, req, resp);
}

static void handle_method_not_allowed(server_t *srv, const http_req_t *req, http_resp_t *resp,
                                      const route_t *route)
{
    http_resp_header(resp, "Allow", "GET, HEAD, OPTIONS");
    http_error(resp, route->proto, 405, "MethodNotAllowed",
               "The specified method is not allowed against this resource.", NULL,
               req->request_id);
}

static void handle_unknown_target(server_t *srv, const http_req_t *req, http_resp_t *resp,
                                  const route_t *route)
{
    http_error(resp, route->proto, 400, "UnknownOperationException",
               "The X-Amz-Target header names no service that cloudlet provides.", NULL,
               req->request_id);
}

static void handle_lambda(server_t *srv, const http_req_t *req, http_resp_t *resp,
                          const route_t *route)
{
    fn_handle_api(srv->fn, req, resp);
}

static int describe_lambda(server_t *srv, const http_req_t *req, char *action, size_t actionsz,
                           char *resource, size_t resourcesz, json_t **context)
{
    return fn_request_action(srv->fn, req, action, actionsz, resource, resourcesz);
}

/* Function URLs judge their own callers: AuthType NONE needs no signature. */
static void handle_fn_url(server_t *srv, const http_req_t *req, http_resp_t *resp,
                          const route_t *route)
{
    fn_handle_url(srv->fn, req, resp);
}

/* CORS preflight: the SDKs and Amplify send these from browsers (wire doc 0). */
static void handle_preflight(server_t *srv, const http_req_t *req, http_resp_t *resp,
                             const route_t *route)
{
    /* A bucket with CORS rules answers by them (S3); others get the
     * permissive development default below. */
    char bucket[STORAGE_MAX_BUCKET + 1];
    size_t blen = strcspn(req->path + 1, "/");
    if (blen > 0 && blen <= STORAGE_MAX_BUCKET) {
        memcpy(bucket, req->path + 1, blen);
        bucket[blen] = '\0';
    } else {
        bucket[0] = '\0';
    }
    if (storage_bucket_name_valid(bucket)) {
        const char *method = http_header(req, "Access-Control-Request-Method");
        int rc = storage_s3_cors(srv->st, bucket, http_header(req, "Origin"),
                                 method ? method : "GET",
                                 http_header(req, "Access-Control-Request-Headers"), resp);
        if (rc == 1) {
            resp->status = 200;
            return;
        }
        if (rc == -1) {
            http_error(resp, HTTP_PROTO_S3, 403, "AccessForbidden",
                       "CORSResponse: This CORS request is not allowed. This is usually because "
                       "the evalution of Origin, request method / Access-Control-Request-Method "
                       "or Access-Control-Request-Headers are not whitelisted by the resource's "
                       "CORS spec.",
                       NULL, req->request_id);
            return;
        }
    }
    resp->status = 204;
    const char *asked = http_header(req, "Access-Control-Request-Headers");
    if (asked != NULL && strlen(asked) <= 2048)
        http_resp_header(resp, "Access-Control-Allow-Headers", asked);
    else
        http_resp_header(resp, "Access-Control-Allow-Headers",
                         "content-type, x-amz-target, x-amz-user-agent, cache-control, "
                         "authorization, x-amz-date, x-amz-security-token, "
                         "x-amz-content-sha256, amz-sdk-invocation-id, amz-sdk-request, range, "
                         "if-none-match, if-match");
    http_resp_header(resp, "Access-Control-Allow-Methods",
                     "GET, HEAD, PUT, POST, DELETE, OPTIONS");
    http_resp_header(resp, "Access-Control-Max-Age", "600");
}

/* ---- The route table (DESIGN.md, "Routing rule") ---- */

static const route_t R_HEALTH = {"health", HTTP_PROTO_PLAIN, handle_health, "RequestTooLarge", "", NULL, NULL};
static const route_t R_WELLKNOWN = {"wellknown", HTTP_PROTO_PLAIN, handle_wellknown,
                                    "RequestTooLarge", "", NULL, NULL};
static const route_t R_POOL_KEYS = {"cognito-idp", HTTP_PROTO_PLAIN, handle_pool_keys,
                                    "RequestTooLarge", "", NULL, NULL};
static const route_t R_PREFLIGHT = {"cors", HTTP_PROTO_PLAIN, handle_preflight,
                                    "RequestTooLarge", "", NULL, NULL};
static const route_t R_IDP = {"cognito-idp", HTTP_PROTO_JSON, handle_idp,
                              "RequestEntityTooLargeException", "Cognito User Pools API",
                              "cognito-idp", describe_idp};
static const route_t R_IDENTITY = {"cognito-identity", HTTP_PROTO_JSON, handle_identity,
                                   "RequestEntityTooLargeException",
                                   "Cognito Identity (identity pools) API", "cognito-identity",
                                   describe_identity};
static const route_t R_TARGET = {"unknown", HTTP_PROTO_JSON, handle_unknown_target,
                                 "RequestEntityTooLargeException", "", NULL, NULL};
static const route_t R_STS = {"sts", HTTP_PROTO_QUERY, handle_sts, "RequestEntityTooLarge",
                              "STS API", "sts", describe_sts};
static const route_t R_LAMBDA = {"lambda", HTTP_PROTO_JSON, handle_lambda,
                                 "RequestTooLargeException", "Lambda API", "lambda",
                                 describe_lambda};
static const route_t R_FN_URL = {"lambda-url", HTTP_PROTO_JSON, handle_fn_url,
                                 "RequestTooLargeException", "function URL", NULL, NULL};
static const route_t R_S3 = {"s3", HTTP_PROTO_S3, handle_s3, "EntityTooLarge", "S3 API", "s3",
                             describe_s3};
static const route_t R_WEBSITE = {"website", HTTP_PROTO_WEBSITE, handle_website, "EntityTooLarge",
                                  "", NULL, NULL};
static const route_t R_WEBSITE_405 = {"website", HTTP_PROTO_WEBSITE, handle_method_not_allowed,
                                      "EntityTooLarge", "", NULL, NULL};

static http_method_t parse_method(const char *m)
{
    static const struct {
        const char *name;
        http_method_t m;
    } methods[] = {{"GET", HTTP_GET},       {"HEAD", HTTP_HEAD},       {"POST", HTTP_POST},
                   {"PUT", HTTP_PUT},       {"DELETE", HTTP_DELETE},   {"OPTIONS", HTTP_OPTIONS},
                   {"PATCH", HTTP_PATCH}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(m, methods[i].name) == 0)
            return methods[i].m;
    }
    return HTTP_OTHER;
}

/* "/2015-03-31/functions..." and the other dated Lambda API prefixes
 * ("/2017-10-31/functions/x/concurrency", "/2021-10-31/functions/x/url"). */
static int is_lambda_path(const char *p)
{
    if (strlen(p) < 21 || p[0] != '/' || p[5] != '-' || p[8] != '-' || p[11] != '/')
        return 0;
    for (int i = 1; i <= 10; i++) {
        if (i != 5 && i != 8 && (p[i] < '0' || p[i] > '9'))
            return 0;
    }
    return strncmp(p + 11, "/functions", 10) == 0 && (p[21] == '\0' || p[21] == '/');
}

/* "/<userPoolId>/.well-known/jwks.json" or ".../openid-configuration". */
static int is_pool_wellknown(const char *p)
{
    const char *slash = strchr(p + 1, '/');
    if (slash == NULL || slash == p + 1)
        return 0;
    return strcmp(slash, "/.well-known/jwks.json") == 0 ||
           strcmp(slash, "/.well-known/openid-configuration") == 0;
}

/* Does the query carry presigned SigV4 parameters? */
static int query_is_signed(const char *q)
{
    return strstr(q, "X-Amz-Signature=") != NULL || strstr(q, "X-Amz-Credential=") != NULL;
}

static const route_t *pick_route(const http_req_t *req)
{
    const char *path = req->path;
    int get = req->method == HTTP_GET || req->method == HTTP_HEAD;
    if (get && strcmp(path, "/healthz") == 0)
        return &R_HEALTH;
    if (get && strcmp(path, "/.well-known/cloudlet.json") == 0)
        return &R_WELLKNOWN;
    if (get && is_pool_wellknown(path))
        return &R_POOL_KEYS;
    if (req->method == HTTP_OPTIONS)
        return &R_PREFLIGHT;
    if (req->method == HTTP_POST && strcmp(path, "/") == 0) {
        const char *target = http_header(req, "X-Amz-Target");
        if (target != NULL) {
            if (util_startswith(target, "AWSCognitoIdentityProviderService."))
                return &R_IDP;
            if (util_startswith(target, "AWSCognitoIdentityService."))
                return &R_IDENTITY;
            return &R_TARGET;
        }
        const char *ctype = http_header(req, "Content-Type");
        if (ctype != NULL && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
            return &R_STS;
    }
    if (is_lambda_path(path))
        return &R_LAMBDA;
    if (strncmp(path, "/fn/", 4) == 0)
        return &R_FN_URL;
    if (http_header(req, "Authorization") != NULL || query_is_signed(req->query))
        return &R_S3;
    if (get)
        return &R_WEBSITE;
    return &R_WEBSITE_405;
}

/* ---- libmicrohttpd glue ---- */

static const char *lookup_header(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

typedef struct each_ctx {
    int (*cb)(void *ctx, const char *name, const char *value);
    void *ctx;
    int stopped;
} each_ctx_t;

static enum MHD_Result each_header_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    each_ctx_t *e = cls;
    e->stopped = e->cb(e->ctx, key, value ? value : "");
    return e->stopped ? MHD_NO : MHD_YES;
}

static int each_header(void *conn, int (*cb)(void *ctx, const char *name, const char *value),
                       void *ctx)
{
    each_ctx_t e = {cb, ctx, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, each_header_cb, &e);
    return e.stopped;
}

/* The client's address as text, for throttles and logs. */
static void client_address(struct MHD_Connection *c, char *out, size_t outsz)
{
    snprintf(out, outsz, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outsz);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outsz);
}

/* Keep percent-escapes as sent: paths and queries are decoded by the code
 * that knows their rules (website keys, SigV4 canonical forms). */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    server_t *srv = cls;
    /* Not calloc: the response arena is kilobytes that need no zeroing. */
    request_t *r = xmalloc(sizeof *r);
    memset(r, 0, offsetof(request_t, resp));
    r->srv = srv;
    r->start_ns = util_mono_ns();
    r->uri = xstrdup(uri);
    r->phase = PHASE_NEW;
    uint64_t id = srv->id_base + atomic_fetch_add(&srv->id_next, 1);
    static const char hex[] = "0123456789ABCDEF";
    for (int i = HTTP_REQUEST_ID_LEN - 1; i >= 0; i--, id >>= 4)
        r->req.request_id[i] = hex[id & 15];
    r->req.request_id[HTTP_REQUEST_ID_LEN] = '\0';
    http_resp_init(&r->resp);
    atomic_fetch_add(&srv->inflight, 1);
    return r;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("http: %s", msg);
}

/* http_later_done: the deferred answer is in r->resp; wake the connection
 * if the handler already suspended it (otherwise on_request sends it). */
static void later_done(http_later_t *l)
{
    request_t *r = (request_t *)((char *)l - offsetof(request_t, later));
    /* Once resumed, a worker may send the answer and free r at once: touch
     * nothing of r after MHD_resume_connection. */
    server_t *srv = r->srv;
    pthread_mutex_lock(&srv->later_lk);
    r->ready = 1;
    if (r->suspended) {
        r->suspended = 0;
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&srv->later_lk);
}

/* Lambda, behind AWS's REST front end, answers every failed authentication
 * or authorization with 403 where the awsJson services use 400. */
static void lambda_auth_status(request_t *r)
{
    if (r->route == &R_LAMBDA || r->route == &R_FN_URL)
        r->resp.status = 403;
}

/* Fill the request fields that come from the request line and the connection. */
static void start_request(server_t *srv, request_t *r, struct MHD_Connection *c,
                          const char *method)
{
    char *q = strchr(r->uri, '?');
    if (q != NULL) {
        *q = '\0';
        r->req.query = q + 1;
    } else {
        r->req.query = "";
    }
    r->req.path = r->uri;
    r->req.path_len = strlen(r->uri);
    r->req.method_name = method;
    r->req.method = parse_method(method);
    r->req.header_fn = lookup_header;
    r->req.each_fn = each_header;
    r->req.conn = c;
    r->conn = c;
    r->route = pick_route(&r->req);
    if (r->route == &R_LAMBDA || r->route == &R_FN_URL) {
        r->later.done = later_done;
        r->req.later = &r->later;
    }
    /* The website is the hot path and does not need it; the services do. */
    if (r->route != &R_WEBSITE) {
        client_address(c, r->remote, sizeof r->remote);
        r->req.remote = r->remote;
    }
    buf_init(&r->body, srv->cfg->max_body);
}

static const char *request_id_header(http_proto_t proto)
{
    return proto == HTTP_PROTO_JSON || proto == HTTP_PROTO_QUERY ? "x-amzn-RequestId"
                                                                 : "x-amz-request-id";
}

/* Turn r->resp into a libmicrohttpd response and queue it. */
static enum MHD_Result send_response(request_t *r, struct MHD_Connection *c)
{
    http_resp_t *resp = &r->resp;
    struct MHD_Response *mr;
    if (resp->release != NULL) {
        mr = MHD_create_response_from_buffer_with_free_callback_cls(
            resp->body_len, (void *)resp->body, resp->release, resp->release_cls);
    } else {
        mr = MHD_create_response_from_buffer(resp->body_len, (void *)resp->body,
                                             MHD_RESPMEM_PERSISTENT);
    }
    if (mr == NULL) {
        http_resp_clear(resp);
        return MHD_NO;
    }
    /* The body's release now belongs to libmicrohttpd. */
    resp->release = NULL;
    for (int i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
    MHD_add_response_header(mr, request_id_header(r->route->proto), r->req.request_id);
    const char *origin = http_header(&r->req, "Origin");
    int bucket_cors = 0;
    char bucket[STORAGE_MAX_BUCKET + 1];
    if (origin != NULL && r->route == &R_S3 && path_bucket(r->req.path, bucket)) {
        http_resp_t tmp;
        http_resp_init(&tmp);
        bucket_cors = storage_s3_cors(r->srv->st, bucket, origin, r->req.method_name,
                                      NULL, &tmp);
        for (int i = 0; bucket_cors == 1 && i < tmp.nheaders; i++)
            MHD_add_response_header(mr, tmp.headers[i].name, tmp.headers[i].value);
        http_resp_clear(&tmp);
    }
    /* A handler that answered CORS itself (a bucket's rules, or a preflight
     * those rules refused) is left alone. */
    if (r->route == &R_PREFLIGHT && resp->status == 403)
        bucket_cors = -1;
    for (int i = 0; bucket_cors == 0 && i < resp->nheaders; i++) {
        if (strcmp(resp->headers[i].name, "Access-Control-Allow-Origin") == 0)
            bucket_cors = 1;
    }
    if (origin != NULL && strlen(origin) <= 512 && bucket_cors == 0) {
        MHD_add_response_header(mr, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(mr, "Access-Control-Expose-Headers",
                                "x-amzn-requestid, x-amzn-errortype, x-amz-request-id, etag, "
                                "x-amz-version-id, date, content-range, content-length, "
                                "x-amz-function-error, x-amz-log-result, x-amz-executed-version");
        MHD_add_response_header(mr, "Vary", "Origin");
    }
    r->status = resp->status;
    r->bytes = r->req.method == HTTP_HEAD ? 0 : resp->body_len;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    http_resp_clear(resp);
    r->phase = PHASE_DONE;
    return ret;
}

static enum MHD_Result send_too_large(request_t *r, struct MHD_Connection *c)
{
    char msg[160];
    snprintf(msg, sizeof msg, "The request body is larger than the limit of %zu bytes.",
             r->srv->cfg->max_body);
    http_resp_clear(&r->resp);
    http_error(&r->resp, r->route->proto, 413, r->route->too_large_code, msg, NULL,
               r->req.request_id);
    return send_response(r, c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    server_t *srv = cls;
    request_t *r = *req_cls;
    if (r == NULL)
        return MHD_NO;

    if (r->phase == PHASE_NEW) {
        start_request(srv, r, c, method);
        r->phase = PHASE_BODY;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl != NULL) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end != '\0' || n > srv->cfg->max_body)
                return send_too_large(r, c);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->phase == PHASE_BODY && buf_append(&r->body, upload_data, n) != 0) {
            /* A chunked body ran past the limit. libmicrohttpd cannot queue a
             * response before the body ends, so drop what came and answer 413
             * at the end; a client that keeps sending is cut off. */
            buf_free(&r->body);
            r->phase = PHASE_DISCARD;
        }
        if (r->phase == PHASE_DISCARD) {
            r->discarded += n;
            if (r->discarded > DISCARD_MAX)
                return MHD_NO;
        }
        return MHD_YES;
    }
    if (r->phase == PHASE_DONE)
        return MHD_YES;
    if (r->phase == PHASE_WAIT)
        return r->ready ? send_response(r, c) : MHD_YES;
    if (r->phase == PHASE_DISCARD)
        return send_too_large(r, c);

    r->req.body = (const unsigned char *)r->body.data;
    r->req.body_len = r->body.len;
    /* DESIGN.md: every signed request is verified before any handler runs;
     * req.caller is set only by a good signature. */
    if (r->route->signing != NULL &&
        (http_header(&r->req, "Authorization") != NULL || query_is_signed(r->req.query))) {
        char msg[800];
        int rc = sts_verify(srv->sts, &r->req, r->route->signing, util_now_ms() / 1000,
                            &r->caller, msg, sizeof msg);
        if (rc != 0) {
            sts_error_response(rc, msg, r->route->proto, r->req.request_id, &r->resp);
            lambda_auth_status(r);
            return send_response(r, c);
        }
        r->req.caller = &r->caller;
        char action[128], resource[1200];
        json_t *context = NULL;
        if (!r->caller.root && r->route->describe != NULL &&
            r->route->describe(srv, &r->req, action, sizeof action, resource, sizeof resource,
                               &context) == 0 &&
            sts_authorize(srv->sts, &r->caller, action, resource, context) != 0) {
            json_decref(context);
            snprintf(msg, sizeof msg,
                     "User: %.255s is not authorized to perform: %.127s on resource: %.300s",
                     r->caller.arn, action, resource);
            sts_error_response(STS_EDENIED, msg, r->route->proto, r->req.request_id, &r->resp);
            lambda_auth_status(r);
            return send_response(r, c);
        }
        json_decref(context);
    }
    r->route->handler(srv, &r->req, &r->resp, r->route);
    if (r->resp.deferred) {
        /* The answer may already have come on another thread; if not, the
         * connection sleeps without holding this thread until it does. */
        r->phase = PHASE_WAIT;
        pthread_mutex_lock(&srv->later_lk);
        int ready = r->ready;
        if (!ready) {
            r->suspended = 1;
            MHD_suspend_connection(c);
        }
        pthread_mutex_unlock(&srv->later_lk);
        return ready ? send_response(r, c) : MHD_YES;
    }
    return send_response(r, c);
}

/* One JSON line per request: no query string and no header values, since
 * presigned URLs and Authorization carry credentials. */
static void access_log(request_t *r, struct MHD_Connection *c, enum MHD_RequestTerminationCode toe)
{
    char ts[25], ip[INET6_ADDRSTRLEN] = "-";
    log_timestamp(ts);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
    }
    /* Milliseconds with three decimals, printed as integers: no floating point
     * formatting on the per-request path. */
    uint64_t us = (util_mono_ns() - r->start_ns) / 1000;
    const char *m = r->req.method_name ? r->req.method_name : "-";
    const char *path = r->req.path ? r->req.path : "";
    size_t plen = strlen(path) > 1024 ? 1024 : strlen(path);
    char mem[8192]; /* fits a 1024-byte path even if every byte needs \u escaping */
    buf_t b;
    buf_init_fixed(&b, mem, sizeof mem);
    buf_printf(&b, "{\"time\":\"%s\",\"id\":\"%s\",\"remote\":\"%s\",\"method\":\"", ts,
               r->req.request_id, ip);
    buf_json_escape(&b, m, strlen(m) > 16 ? 16 : strlen(m));
    buf_puts(&b, "\",\"path\":\"");
    buf_json_escape(&b, path, plen);
    buf_printf(&b, "\",\"service\":\"%s\",\"status\":%d,\"bytes\":%zu,\"ms\":%llu.%03u%s}",
               r->route ? r->route->service : "-", r->status, r->bytes,
               (unsigned long long)(us / 1000), (unsigned)(us % 1000),
               toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ",\"aborted\":true");
    log_line(b.data, b.len);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server_t *srv = cls;
    request_t *r = *req_cls;
    if (r == NULL)
        return;
    *req_cls = NULL;
    if (r->phase == PHASE_NEW) {
        /* libmicrohttpd answered (or dropped) this request itself, e.g. 431
         * for headers over the limit; log its path without the query. */
        char *q = strchr(r->uri, '?');
        if (q != NULL)
            *q = '\0';
        r->req.path = r->uri;
    }
    if (srv->cfg->access_log)
        access_log(r, c, toe);
    http_resp_clear(&r->resp);
    buf_free(&r->body);
    free(r->uri);
    free(r);
    atomic_fetch_sub(&srv->inflight, 1);
}

/* ---- Start and stop ---- */

static void public_endpoint(const config_t *cfg, char *endpoint, size_t n)
{
    if (cfg->endpoint != NULL)
        snprintf(endpoint, n, "%s", cfg->endpoint);
    else if (strchr(cfg->listen_host, ':') != NULL)
        snprintf(endpoint, n, "http://[%s]:%u", cfg->listen_host, cfg->listen_port);
    else
        snprintf(endpoint, n, "http://%s:%u", cfg->listen_host, cfg->listen_port);
    size_t len = strlen(endpoint);
    while (len > 0 && endpoint[len - 1] == '/')
        endpoint[--len] = '\0';
}

static char *build_wellknown(const server_t *srv)
{
    const config_t *cfg = srv->cfg;
    buf_t b;
    buf_init(&b, 0);
    const char *pool = auth_default_pool_id(srv->auth);
    const char *client = auth_default_client_id(srv->auth);
    buf_puts(&b, "{\"region\":\"");
    buf_json_escape(&b, cfg->region, strlen(cfg->region));
    buf_puts(&b, "\",\"endpoint\":\"");
    buf_json_escape(&b, srv->endpoint, strlen(srv->endpoint));
    buf_puts(&b, "\",\"userPoolId\":\"");
    buf_json_escape(&b, pool, strlen(pool));
    buf_puts(&b, "\",\"userPoolClientId\":\"");
    buf_json_escape(&b, client, strlen(client));
    const char *idpool = sts_default_identity_pool_id(srv->sts);
    buf_puts(&b, "\",\"identityPoolId\":\"");
    buf_json_escape(&b, idpool, strlen(idpool));
    buf_puts(&b, "\",\"siteBucket\":\"");
    buf_json_escape(&b, cfg->site_bucket, strlen(cfg->site_bucket));
    char *names = fn_names_json(srv->fn);
    buf_printf(&b, "\",\"functions\":%s}", names);
    free(names);
    return buf_steal(&b, NULL);
}

server_t *server_start(const config_t *cfg, storage_t *st, auth_t *auth, sts_t *sts, fn_t *fn,
                       char *err, size_t errsz)
{
    server_t *srv = xcalloc(1, sizeof *srv);
    srv->cfg = cfg;
    srv->st = st;
    srv->auth = auth;
    srv->sts = sts;
    srv->fn = fn;
    pthread_mutex_init(&srv->later_lk, NULL);
    public_endpoint(cfg, srv->endpoint, sizeof srv->endpoint);
    srv->site.bucket = cfg->site_bucket;
    srv->site.index_doc = cfg->index_doc;
    srv->site.error_doc = cfg->error_doc;
    srv->site.spa_fallback = cfg->spa_fallback;
    srv->s3.region = cfg->region;
    srv->s3.max_object = cfg->max_body;
    srv->s3.notify = s3_event_to_function;
    srv->s3.notify_check = s3_event_target_exists;
    srv->s3.notify_ctx = srv;
    atomic_init(&srv->public_hint, storage_s3_has_public_policy(st));
    util_random(&srv->id_base, sizeof srv->id_base);
    atomic_init(&srv->inflight, 0);
    atomic_init(&srv->id_next, 0);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->listen_host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)cfg->listen_port);
    } else if (inet_pton(AF_INET6, cfg->listen_host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)cfg->listen_port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errsz, "listen address '%s' is not an IP address", cfg->listen_host);
        goto err;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg->threads ? cfg->threads : (cores > 0 ? (unsigned)cores : 1);
    /* The pool holds the request line and headers plus the response header;
     * a request whose headers do not fit gets 431 from libmicrohttpd. */
    size_t pool = cfg->max_header + 16384;

    srv->mhd = MHD_start_daemon(
        flags, (uint16_t)cfg->listen_port, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns, MHD_OPTION_CONNECTION_TIMEOUT,
        cfg->idle_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_END);
    if (srv->mhd == NULL) {
        snprintf(err, errsz, "cannot listen on %s:%u (address in use or not permitted)",
                 cfg->listen_host, cfg->listen_port);
        goto err;
    }
    log_info("listening on http://%s:%u with %u threads, data in %s", cfg->listen_host,
             cfg->listen_port, threads, cfg->data_dir);
    return srv;
err:
    pthread_mutex_destroy(&srv->later_lk);
    free(srv);
    return NULL;
}

void server_stop(server_t *srv, unsigned grace_ms)
{
    if (srv == NULL)
        return;
    /* Stop accepting; requests already on connections are finished. */
    MHD_socket ls = MHD_quiesce_daemon(srv->mhd);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    uint64_t deadline = util_mono_ns() + (uint64_t)grace_ms * 1000000u;
    while (atomic_load(&srv->inflight) > 0 && util_mono_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    int left = atomic_load(&srv->inflight);
    MHD_stop_daemon(srv->mhd);
    if (left > 0)
        log_warn("stopped with %d requests unfinished after %u ms", left, grace_ms);
    pthread_mutex_destroy(&srv->later_lk);
    free(srv);
}
