/* api.c - the Lambda REST control plane (restJson1, wire doc 5.3).
 *
 * One route table serves two callers: fn_request_action, which the gate asks
 * for the IAM action and resource before any handler runs, and
 * fn_handle_api, which answers. Both find the route and resolve the
 * function named in the path with the same code, so a policy on a
 * function's ARN holds whichever form (name, partial or full ARN) the caller
 * used, and no request can reach a handler under a route or name other than
 * the one it was authorized for.
 *
 *   POST   /2015-03-31/functions                    CreateFunction
 *   GET    /2015-03-31/functions[/]                 ListFunctions
 *   GET    /2015-03-31/functions/{Name}             GetFunction
 *   DELETE /2015-03-31/functions/{Name}             DeleteFunction
 *   POST   /2015-03-31/functions/{Name}/invocations Invoke (invoke.c answers)
 *   GET    /2015-03-31/functions/{Name}/configuration  GetFunctionConfiguration
 *   PUT    /2015-03-31/functions/{Name}/configuration  UpdateFunctionConfiguration
 *   PUT    /2015-03-31/functions/{Name}/code        UpdateFunctionCode
 *   PUT    /2017-10-31/functions/{Name}/concurrency PutFunctionConcurrency
 *   GET    /2019-09-30/functions/{Name}/concurrency GetFunctionConcurrency
 *   DELETE /2017-10-31/functions/{Name}/concurrency DeleteFunctionConcurrency
 *   POST|GET|PUT|DELETE /2021-10-31/functions/{Name}/url  function URL config
 *
 * Only $LATEST exists: a qualifier naming anything else is a missing function.
 * A change builds a new definition from a copy of the current one and
 * publishes it whole (internal.h), so a refused request changes nothing; the
 * slow part of a code change (extracting the archive) happens before the
 * write lock below is taken.
 */
#include "functions/internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#define ZIP_MAX ((size_t)50 * 1024 * 1024) /* a direct upload (Code.ZipFile), decoded */
/* CreateFunction and UpdateFunctionCode: a 50 MiB archive in base64 plus room
 * for the other members. Other operations take small bodies. */
#define BODY_CODE_MAX ((size_t)71 * 1024 * 1024)
#define BODY_MAX ((size_t)256 * 1024)
#define SEGMENT_MAX 1024 /* the raw {FunctionName} path segment */
#define REF_MAX 256      /* a decoded function reference: full ARN with qualifier */
#define QUALIFIER_MAX 128
#define REF_PARTS 8
#define LIST_PAGE 50 /* Lambda returns at most 50 functions per page */
#define LIST_MAX_ITEMS 10000
#define DESCRIPTION_MAX 256
#define ROLE_MAX 255 /* fits fn_def_t.role */
#define MEMORY_MIN 128
#define MEMORY_MAX 10240
#define CONCURRENCY_MAX 1000
#define CORS_LIST_MAX 100
#define CORS_MAX_AGE 86400
#define DEFAULT_ROLE "cloudlet-function"

/* Serialises the control plane's writes, so that "read the current
 * definition, check its RevisionId, publish a changed copy" cannot lose a
 * concurrent change and two CreateFunction calls of one name cannot both
 * pass. Invokes never take it. It is never held while extracting an archive
 * or while an invoke runs; fn_def_publish takes fn_t.lk inside it, never the
 * other way round. */
static pthread_mutex_t write_lk = PTHREAD_MUTEX_INITIALIZER;

typedef enum kind {
    K_CREATE,
    K_LIST,
    K_INVOKE,
    K_GET,
    K_DELETE,
    K_GET_CONFIG,
    K_UPDATE_CONFIG,
    K_UPDATE_CODE,
    K_PUT_CONCURRENCY,
    K_GET_CONCURRENCY,
    K_DELETE_CONCURRENCY,
    K_CREATE_URL,
    K_GET_URL,
    K_UPDATE_URL,
    K_DELETE_URL,
} kind_t;

typedef struct route {
    const char *date; /* the API version in the path */
    http_method_t method;
    const char *sub; /* NULL: the collection; "": /functions/{Name}; else what follows it */
    kind_t kind;
    const char *action; /* the IAM action */
    size_t body_max;    /* largest body read; 0 = the body is not read */
} route_t;

static const route_t routes[] = {
    {"2015-03-31", HTTP_POST, NULL, K_CREATE, "lambda:CreateFunction", BODY_CODE_MAX},
    {"2015-03-31", HTTP_GET, NULL, K_LIST, "lambda:ListFunctions", 0},
    {"2015-03-31", HTTP_POST, "/invocations", K_INVOKE, "lambda:InvokeFunction", 0},
    {"2015-03-31", HTTP_GET, "", K_GET, "lambda:GetFunction", 0},
    {"2015-03-31", HTTP_DELETE, "", K_DELETE, "lambda:DeleteFunction", 0},
    {"2015-03-31", HTTP_GET, "/configuration", K_GET_CONFIG, "lambda:GetFunctionConfiguration", 0},
    {"2015-03-31", HTTP_PUT, "/configuration", K_UPDATE_CONFIG,
     "lambda:UpdateFunctionConfiguration", BODY_MAX},
    {"2015-03-31", HTTP_PUT, "/code", K_UPDATE_CODE, "lambda:UpdateFunctionCode", BODY_CODE_MAX},
    {"2017-10-31", HTTP_PUT, "/concurrency", K_PUT_CONCURRENCY, "lambda:PutFunctionConcurrency",
     BODY_MAX},
    {"2019-09-30", HTTP_GET, "/concurrency", K_GET_CONCURRENCY, "lambda:GetFunctionConcurrency", 0},
    {"2017-10-31", HTTP_DELETE, "/concurrency", K_DELETE_CONCURRENCY,
     "lambda:DeleteFunctionConcurrency", 0},
    {"2021-10-31", HTTP_POST, "/url", K_CREATE_URL, "lambda:CreateFunctionUrlConfig", BODY_MAX},
    {"2021-10-31", HTTP_GET, "/url", K_GET_URL, "lambda:GetFunctionUrlConfig", 0},
    {"2021-10-31", HTTP_PUT, "/url", K_UPDATE_URL, "lambda:UpdateFunctionUrlConfig", BODY_MAX},
    {"2021-10-31", HTTP_DELETE, "/url", K_DELETE_URL, "lambda:DeleteFunctionUrlConfig", 0},
};

/* A function named by a request, resolved to this account and region. */
typedef struct target {
    char name[FN_NAME_MAX + 1];
    char arn[256];   /* arn:aws:lambda:<region>:<acct>:function:<name> */
    char shown[420]; /* the ARN as asked for (with its qualifier), for "not found" */
} target_t;

typedef struct call {
    fn_t *f;
    const http_req_t *req;
    http_resp_t *resp;
    const route_t *route;
    target_t t; /* routes with {Name} */
    json_t *in; /* the body, for routes that read one; owned */
} call_t;

/* ---- Answers ---- */

/* Copy s into out (size outsz >= 1) keeping printable ASCII only, so that
 * text from a request can go into an error message whatever it holds. */
static void printable(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n && s[i] != '\0' && o + 1 < outsz; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[o] = '\0';
}

static void fail(call_t *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(call_t *c, int status, const char *code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_resp_clear(c->resp);
    http_resp_init(c->resp);
    http_error(c->resp, HTTP_PROTO_JSON, status, code, msg, NULL, c->req->request_id);
}

/* 400 InvalidParameterValueException, the answer to most bad input. */
#define invalid(c, ...) fail((c), 400, "InvalidParameterValueException", __VA_ARGS__)

static void not_found(call_t *c)
{
    fail(c, 404, "ResourceNotFoundException", "Function not found: %s", c->t.shown);
}

static void reply(call_t *c, int status, json_t *out)
{
    char *text = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (text == NULL) {
        fail(c, 500, "ServiceException", "cloudlet could not encode the response.");
        return;
    }
    c->resp->status = status;
    http_resp_header(c->resp, "Content-Type", "application/json");
    http_resp_body_owned(c->resp, text, strlen(text));
}

static void reply_empty(call_t *c)
{
    c->resp->status = 204;
}

/* The answer to a failed fn_def_publish or fn_def_remove. */
static void fail_publish(call_t *c, int rc)
{
    if (rc == FN_EEXIST) {
        fail(c, 409, "ResourceConflictException", "Function already exist: %s", c->t.name);
    } else if (rc == FN_ENOTFOUND) {
        not_found(c);
    } else {
        log_error("functions: could not store function %s (LMDB write failed)", c->t.name);
        fail(c, 500, "ServiceException", "cloudlet could not store the function %s.", c->t.name);
    }
}

/* ---- Routes and function references ---- */

/* Decode a percent-encoded path segment s[0..n) into out (size outsz).
 * Returns 0, or -1 when an escape is malformed, decodes to NUL, or the
 * result does not fit. */
static int pct_decode(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            int hi = i + 2 < n ? util_hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? util_hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            ch = (char)(hi << 4 | lo);
            i += 2;
        }
        if (ch == '\0' || o + 1 >= outsz)
            return -1;
        out[o++] = ch;
    }
    out[o] = '\0';
    return 0;
}

/* The route of req, with the raw {FunctionName} segment (NULL for the
 * collection), or NULL when no route matches. */
static const route_t *match_route(const http_req_t *req, const char **seg, size_t *seg_len)
{
    const char *p = req->path;
    *seg = NULL;
    *seg_len = 0;
    if (p == NULL || strlen(p) < 21 || p[0] != '/' || strncmp(p + 11, "/functions", 10) != 0)
        return NULL;
    const char *rest = p + 21;
    const char *sub = NULL;
    if (strcmp(rest, "") != 0 && strcmp(rest, "/") != 0) {
        if (rest[0] != '/')
            return NULL;
        size_t n = strcspn(rest + 1, "/");
        if (n == 0)
            return NULL;
        *seg = rest + 1;
        *seg_len = n;
        sub = rest + 1 + n;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route_t *r = &routes[i];
        if (strncmp(p + 1, r->date, 10) != 0 || r->method != req->method)
            continue;
        if ((sub == NULL && r->sub == NULL) ||
            (sub != NULL && r->sub != NULL && strcmp(sub, r->sub) == 0))
            return r;
    }
    return NULL;
}

/* Split s at every ':' into at most REF_PARTS parts (s is modified).
 * Returns the count, or -1 when there are more. */
static int split_colons(char *s, char *parts[REF_PARTS])
{
    int n = 0;
    char *p = s;
    for (;;) {
        if (n == REF_PARTS)
            return -1;
        parts[n++] = p;
        char *colon = strchr(p, ':');
        if (colon == NULL)
            return n;
        *colon = '\0';
        p = colon + 1;
    }
}

typedef struct ref {
    const char *region, *account, *name, *qualifier; /* NULL when the form has none */
} ref_t;

/* The forms of Lambda's FunctionName: name[:qualifier],
 * <acct>:function:name[:qualifier] and
 * arn:aws:lambda:<region>:<acct>:function:name[:qualifier]. */
static int ref_fields(char *parts[], int n, ref_t *r)
{
    memset(r, 0, sizeof *r);
    if (n > 2 && strcmp(parts[0], "arn") == 0) {
        if ((n != 7 && n != 8) || strcmp(parts[1], "aws") != 0 || strcmp(parts[2], "lambda") != 0 ||
            strcmp(parts[5], "function") != 0)
            return -1;
        r->region = parts[3];
        r->account = parts[4];
        r->name = parts[6];
        r->qualifier = n == 8 ? parts[7] : NULL;
        return 0;
    }
    if (n > 2) {
        if (n > 4 || strcmp(parts[1], "function") != 0)
            return -1;
        r->account = parts[0];
        r->name = parts[2];
        r->qualifier = n == 4 ? parts[3] : NULL;
        return 0;
    }
    r->name = parts[0];
    r->qualifier = n == 2 ? parts[1] : NULL;
    return 0;
}

static int all_of(const char *s, size_t min, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 strchr(extra, ch) != NULL;
        if (!ok)
            return 0;
    }
    return 1;
}

/* Exactly 12 decimal digits: an account id. (util_digits would overflow.) */
static int account_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return n == 12;
}

static int qualifier_ok(const char *q)
{
    return all_of(q, 1, QUALIFIER_MAX, "$_-");
}

/* Resolve a function reference `text` (any FunctionName form) and an
 * optional ?Qualifier= value into t. Returns 0, 400 (malformed; or any
 * qualifier when !allow_qualifier) or 404 (another region or account, or a
 * version other than $LATEST), with a message in msg. Touches no state. */
static int resolve(const fn_t *f, const char *text, const char *query_qualifier,
                   int allow_qualifier, target_t *t, char *msg, size_t msgsz)
{
    char copy[REF_MAX + 1], shown[REF_MAX + 1], why[300];
    char *parts[REF_PARTS];
    ref_t r;
    printable(text, strlen(text), shown, sizeof shown);
    if (strlen(text) > REF_MAX) {
        snprintf(msg, msgsz, "The function name is longer than %d characters.", REF_MAX);
        return 400;
    }
    snprintf(copy, sizeof copy, "%s", text);
    int n = split_colons(copy, parts);
    if (n < 0 || ref_fields(parts, n, &r) != 0 ||
        (r.region != NULL && !all_of(r.region, 1, 32, "-")) ||
        (r.account != NULL && !account_ok(r.account, strlen(r.account))) ||
        (r.qualifier != NULL && !qualifier_ok(r.qualifier))) {
        snprintf(msg, msgsz,
                 "'%s' is not a valid function name: use a name, name:qualifier, "
                 "<account>:function:<name> or a function ARN.",
                 shown);
        return 400;
    }
    if (fn_check_name(r.name, why, sizeof why) != 0) {
        snprintf(msg, msgsz, "'%s' is not a valid function name: %s", shown, why);
        return 400;
    }
    if (query_qualifier != NULL && !qualifier_ok(query_qualifier)) {
        snprintf(msg, msgsz, "The Qualifier must be 1 to %d letters, digits, '$', '_' or '-'.",
                 QUALIFIER_MAX);
        return 400;
    }
    if (r.qualifier != NULL && query_qualifier != NULL &&
        strcmp(r.qualifier, query_qualifier) != 0) {
        snprintf(msg, msgsz,
                 "The derived qualifier from the function name does not match "
                 "the specified qualifier.");
        return 400;
    }
    const char *qual = r.qualifier != NULL ? r.qualifier : query_qualifier;
    if (qual != NULL && !allow_qualifier) {
        snprintf(msg, msgsz, "'%s' is not a valid function name here: it may not be qualified.",
                 shown);
        return 400;
    }
    const char *region = r.region != NULL ? r.region : f->region;
    const char *account = r.account != NULL ? r.account : f->account_id;
    snprintf(t->name, sizeof t->name, "%s", r.name);
    snprintf(t->arn, sizeof t->arn, "arn:aws:lambda:%s:%s:function:%s", f->region, f->account_id,
             r.name);
    snprintf(t->shown, sizeof t->shown, "arn:aws:lambda:%s:%s:function:%s%s%s", region, account,
             r.name, qual != NULL ? ":" : "", qual != NULL ? qual : "");
    if (strcmp(region, f->region) != 0 || strcmp(account, f->account_id) != 0 ||
        (qual != NULL && strcmp(qual, "$LATEST") != 0)) {
        snprintf(msg, msgsz, "Function not found: %s", t->shown);
        return 404;
    }
    return 0;
}

/* Resolve the {FunctionName} segment of the path (and ?Qualifier=). */
static int resolve_path(const fn_t *f, const http_req_t *req, const char *seg, size_t seg_len,
                        target_t *t, char *msg, size_t msgsz)
{
    char text[REF_MAX + 1], qual[QUALIFIER_MAX + 1];
    if (seg_len > SEGMENT_MAX || pct_decode(seg, seg_len, text, sizeof text) != 0) {
        snprintf(msg, msgsz,
                 "The function name in the path is malformed (bad percent-encoding or longer "
                 "than %d characters).",
                 REF_MAX);
        return 400;
    }
    int qn = http_query_param(req->query != NULL ? req->query : "", "Qualifier", qual, sizeof qual);
    if (qn == -2) {
        snprintf(msg, msgsz, "The Qualifier must be 1 to %d letters, digits, '$', '_' or '-'.",
                 QUALIFIER_MAX);
        return 400;
    }
    return resolve(f, text, qn >= 0 ? qual : NULL, 1, t, msg, msgsz);
}

/* Parse a request body as a JSON object; NULL when it is not one (or is
 * larger than max). Both the gate and the handler parse with these flags, so
 * both read the same FunctionName. */
static json_t *parse_body(const http_req_t *req, size_t max)
{
    if (req->body == NULL || req->body_len == 0 || req->body_len > max)
        return NULL;
    json_t *in = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(in)) {
        json_decref(in);
        return NULL;
    }
    return in;
}

/* CreateFunction's FunctionName member, resolved. Returns 0, or 400 with msg. */
static int create_target(const fn_t *f, const json_t *in, target_t *t, char *msg, size_t msgsz)
{
    const json_t *v = json_object_get(in, "FunctionName");
    if (!json_is_string(v)) {
        snprintf(msg, msgsz, "FunctionName is required and must be a string.");
        return 400;
    }
    return resolve(f, json_string_value(v), NULL, 0, t, msg, msgsz) == 0 ? 0 : 400;
}

/* ---- Members of a request body ---- */

/* A string member: *out is NULL when absent or null. Answers and returns -1
 * for another type or a length outside [min, max] bytes. */
static int get_str(call_t *c, const json_t *obj, const char *name, size_t min, size_t max,
                   const char **out)
{
    const json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        invalid(c, "%s must be a string.", name);
        return -1;
    }
    size_t n = json_string_length(v);
    if (n < min || n > max) {
        invalid(c,
                "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                "Member must have length between %zu and %zu",
                name, min, max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* An integer member in [min, max]: *present is 0 when absent or null. */
static int get_int(call_t *c, const json_t *obj, const char *name, json_int_t min, json_int_t max,
                   json_int_t *out, int *present)
{
    const json_t *v = json_object_get(obj, name);
    *present = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        invalid(c, "%s must be an integer.", name);
        return -1;
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        invalid(c,
                "1 validation error detected: Value '%lld' at '%s' failed to satisfy "
                "constraint: Member must be between %lld and %lld",
                (long long)x, name, (long long)min, (long long)max);
        return -1;
    }
    *out = x;
    *present = 1;
    return 0;
}

/* A boolean member; *out keeps its value when absent or null. */
static int get_bool(call_t *c, const json_t *obj, const char *name, int *out)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        invalid(c, "%s must be a boolean.", name);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* An object member: *out is NULL when absent or null. */
static int get_obj(call_t *c, const json_t *obj, const char *name, json_t **out)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        invalid(c, "%s must be an object.", name);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- Output shapes ---- */

/* A JSON string of s. Text that is not valid UTF-8 (a manifest's description
 * cut at its field size) loses its broken tail rather than the member. */
static json_t *jstr(const char *s)
{
    size_t n = strlen(s);
    for (size_t cut = 0; cut < 4 && cut <= n; cut++) {
        json_t *v = json_stringn(s, n - cut);
        if (v != NULL)
            return v;
    }
    return json_string("");
}

static void set_str(json_t *o, const char *key, const char *s)
{
    json_object_set_new(o, key, jstr(s));
}

/* FunctionConfiguration. */
static json_t *config_json(const fn_t *f, const fn_def_t *d)
{
    json_t *o = json_object();
    char role[300];
    if (d->role[0] != '\0')
        snprintf(role, sizeof role, "%s", d->role);
    else
        snprintf(role, sizeof role, "arn:aws:iam::%s:role/%s", f->account_id, DEFAULT_ROLE);
    set_str(o, "FunctionName", d->name);
    set_str(o, "FunctionArn", d->arn);
    set_str(o, "Runtime", d->runtime);
    set_str(o, "Role", role);
    set_str(o, "Handler", d->handler);
    json_object_set_new(o, "CodeSize",
                        json_integer(d->code != NULL ? (json_int_t)d->code->size : 0));
    set_str(o, "Description", d->description);
    json_object_set_new(o, "Timeout", json_integer(d->timeout));
    json_object_set_new(o, "MemorySize", json_integer(d->memory));
    set_str(o, "LastModified", d->last_modified);
    set_str(o, "CodeSha256", d->code != NULL ? d->code->sha256 : "");
    set_str(o, "Version", "$LATEST");
    if (json_object_size(d->environment) > 0)
        json_object_set_new(o, "Environment",
                            json_pack("{s:o}", "Variables", json_deep_copy(d->environment)));
    set_str(o, "State", "Active");
    set_str(o, "LastUpdateStatus", "Successful");
    set_str(o, "PackageType", "Zip");
    json_object_set_new(o, "Architectures", json_pack("[s]", "x86_64"));
    set_str(o, "RevisionId", d->revision);
    json_object_set_new(o, "TracingConfig", json_pack("{s:s}", "Mode", "PassThrough"));
    json_object_set_new(o, "EphemeralStorage", json_pack("{s:i}", "Size", 512));
    return o;
}

/* A function URL config: the stored members plus the URL and the ARN. */
static json_t *url_json(const fn_t *f, const fn_def_t *d, int with_last_modified)
{
    json_t *o = json_object();
    const char *base = f->endpoint != NULL ? f->endpoint : "";
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    char *url = xasprintf("%.*s/fn/%s/", (int)n, base, d->name);
    set_str(o, "FunctionUrl", url);
    free(url);
    set_str(o, "FunctionArn", d->arn);
    static const char *const keys[] = {"AuthType", "Cors", "CreationTime", "LastModifiedTime",
                                       "InvokeMode"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(d->url, keys[i]);
        if (v != NULL && (with_last_modified || strcmp(keys[i], "LastModifiedTime") != 0))
            json_object_set(o, keys[i], v);
    }
    if (json_object_get(o, "InvokeMode") == NULL)
        set_str(o, "InvokeMode", "BUFFERED");
    return o;
}

/* ---- Configuration members (CreateFunction, UpdateFunctionConfiguration) ---- */

/* arn:aws:iam::<12 digits>:role/<path and name>, as Lambda's Role pattern. */
static int role_arn_ok(const char *role)
{
    static const char prefix[] = "arn:aws:iam::";
    size_t p = sizeof prefix - 1;
    if (strncmp(role, prefix, p) != 0 || strlen(role) < p + 12 || !account_ok(role + p, 12) ||
        strncmp(role + p + 12, ":role/", 6) != 0)
        return 0;
    return all_of(role + p + 18, 1, ROLE_MAX, "+=,.@_-/");
}

/* The Role member: well formed, a role cloudlet knows, and one the caller
 * may hand to a function (iam:PassRole, as in AWS: the function will act
 * with that role's credentials). */
static int check_role(call_t *c, const char *role)
{
    char shown[300];
    printable(role, strlen(role), shown, sizeof shown);
    if (!role_arn_ok(role)) {
        invalid(c,
                "1 validation error detected: Value '%s' at 'role' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "arn:aws:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
                shown);
        return -1;
    }
    const sts_t *s = c->f->o.sts;
    if (s == NULL)
        return 0;
    if (!sts_role_exists(s, role)) {
        invalid(c, "The role defined for the function cannot be assumed by Lambda.");
        return -1;
    }
    const http_caller_t *who = c->req->caller;
    if (!who->root && sts_authorize(s, who, "iam:PassRole", role, NULL) != 0) {
        fail(c, 403, "AccessDeniedException",
             "User: %s is not authorized to perform: iam:PassRole on resource: %s", who->arn,
             shown);
        return -1;
    }
    return 0;
}

/* PackageType and Architectures: cloudlet runs x86_64 Zip functions. */
static int check_package(call_t *c, const json_t *in)
{
    const char *pt;
    if (get_str(c, in, "PackageType", 0, 16, &pt) != 0)
        return -1;
    if (pt != NULL && strcmp(pt, "Zip") != 0) {
        invalid(c, "cloudlet runs Zip functions only (PackageType \"Zip\").");
        return -1;
    }
    const json_t *arch = json_object_get(in, "Architectures");
    if (arch == NULL || json_is_null(arch))
        return 0;
    if (!json_is_array(arch) || json_array_size(arch) != 1 ||
        !json_is_string(json_array_get(arch, 0))) {
        invalid(c, "Architectures must be a list of one architecture.");
        return -1;
    }
    if (strcmp(json_string_value(json_array_get(arch, 0)), "x86_64") != 0) {
        invalid(c, "cloudlet runs x86_64 functions only (Architectures [\"x86_64\"]).");
        return -1;
    }
    return 0;
}

/* Runtime and Handler. A Node.js or Python function needs a handler; a
 * provided runtime's bootstrap may ignore it, so "" is allowed there. */
static int apply_runtime(call_t *c, const json_t *in, fn_def_t *d, int creating)
{
    const char *runtime, *handler;
    char why[400];
    if (get_str(c, in, "Runtime", 0, 64, &runtime) != 0 ||
        get_str(c, in, "Handler", 0, FN_HANDLER_MAX, &handler) != 0)
        return -1;
    if (runtime == NULL && creating) {
        invalid(c, "Runtime and Handler are mandatory parameters for functions created with "
                   "deployment packages.");
        return -1;
    }
    if (runtime != NULL && fn_check_runtime(runtime, why, sizeof why) != 0) {
        invalid(c, "%s", why);
        return -1;
    }
    if (runtime != NULL)
        snprintf(d->runtime, sizeof d->runtime, "%s", runtime);
    if (handler != NULL)
        snprintf(d->handler, sizeof d->handler, "%s", handler);
    if (d->handler[0] == '\0' && fn_runtime_kind(d->runtime) == FN_KIND_PROVIDED)
        return 0;
    if (d->handler[0] == '\0') {
        invalid(c, "Runtime and Handler are mandatory parameters for functions created with "
                   "deployment packages.");
        return -1;
    }
    if (fn_check_handler(d->handler, why, sizeof why) != 0) {
        invalid(c, "%s", why);
        return -1;
    }
    return 0;
}

/* Timeout, MemorySize and Description. */
static int apply_limits(call_t *c, const json_t *in, fn_def_t *d)
{
    json_int_t timeout, memory;
    int has_timeout, has_memory;
    const char *desc;
    if (get_int(c, in, "Timeout", 1, FN_TIMEOUT_MAX, &timeout, &has_timeout) != 0 ||
        get_int(c, in, "MemorySize", MEMORY_MIN, MEMORY_MAX, &memory, &has_memory) != 0 ||
        get_str(c, in, "Description", 0, DESCRIPTION_MAX, &desc) != 0)
        return -1;
    if (has_timeout)
        d->timeout = (unsigned)timeout;
    if (has_memory)
        d->memory = (unsigned)memory;
    if (desc != NULL)
        snprintf(d->description, sizeof d->description, "%s", desc);
    return 0;
}

/* Environment.Variables: present replaces the whole set ({} clears it). */
static int apply_environment(call_t *c, const json_t *in, fn_def_t *d)
{
    json_t *env;
    char why[400];
    if (get_obj(c, in, "Environment", &env) != 0)
        return -1;
    if (env == NULL)
        return 0;
    json_t *vars = json_object_get(env, "Variables");
    if (vars == NULL || json_is_null(vars)) {
        json_decref(d->environment);
        d->environment = json_object();
        return 0;
    }
    if (fn_check_environment(vars, why, sizeof why) != 0) {
        invalid(c, "%s", why);
        return -1;
    }
    json_decref(d->environment);
    d->environment = json_deep_copy(vars);
    return 0;
}

/* Apply the configuration members of a CreateFunction (creating) or an
 * UpdateFunctionConfiguration body to d. Other members of the real API
 * (Layers, VpcConfig, TracingConfig, Tags, ...) are accepted and ignored.
 * Returns 0, or -1 (answered; d may be half changed and must be dropped). */
static int apply_config(call_t *c, const json_t *in, fn_def_t *d, int creating)
{
    const char *role;
    if (check_package(c, in) != 0 || apply_runtime(c, in, d, creating) != 0 ||
        apply_limits(c, in, d) != 0 || apply_environment(c, in, d) != 0 ||
        get_str(c, in, "Role", 0, ROLE_MAX, &role) != 0)
        return -1;
    if (role == NULL && creating) {
        invalid(c, "1 validation error detected: Value null at 'role' failed to satisfy "
                   "constraint: Member must not be null");
        return -1;
    }
    if (role != NULL && check_role(c, role) != 0)
        return -1;
    if (role != NULL)
        snprintf(d->role, sizeof d->role, "%s", role);
    return 0;
}

/* A RevisionId member, if given, must name the current definition. */
static int check_revision(call_t *c, const fn_def_t *cur)
{
    const char *rev;
    if (get_str(c, c->in, "RevisionId", 0, 64, &rev) != 0)
        return -1;
    if (rev != NULL && strcmp(rev, cur->revision) != 0) {
        fail(c, 412, "PreconditionFailedException",
             "The Revision Id provided does not match the latest Revision Id. Call the "
             "GetFunction/GetAlias API to retrieve the latest Revision Id");
        return -1;
    }
    return 0;
}

/* ---- Code ---- */

/* Code.ZipFile: base64 of the archive. Decodes and extracts it, then drops
 * the member from src so the encoded copy does not outlive its use. */
static fn_code_t *code_from_base64(call_t *c, json_t *src, const char *b64, size_t n)
{
    size_t m = n;
    while (m > 0 && b64[m - 1] == '=')
        m--;
    size_t size = m / 4 * 3 + (m % 4 > 1 ? m % 4 - 1 : 0);
    if (size > ZIP_MAX) {
        fail(c, 413, "RequestTooLargeException",
             "The deployment package is %zu bytes; a direct upload (ZipFile) may be at most "
             "%zu bytes. Upload larger packages to S3 and pass S3Bucket and S3Key.",
             size, ZIP_MAX);
        return NULL;
    }
    unsigned char *zip = xmalloc(size + 1);
    long len = util_base64_decode(b64, n, zip, size + 1);
    json_object_del(src, "ZipFile");
    fn_code_t *code = NULL;
    char err[600];
    if (len < 0)
        invalid(c, "Could not unzip uploaded file. Please check your file, then try to upload "
                   "again. (ZipFile is not valid base64)");
    else if (fn_code_from_zip(c->f, c->t.name, zip, (size_t)len, &code, err, sizeof err) != 0)
        invalid(c, "%s", err);
    free(zip);
    return code;
}

/* S3Bucket + S3Key: the archive is read from cloudlet's own S3, with the
 * caller's right to read it, as Lambda does. */
static fn_code_t *code_from_s3(call_t *c, const char *bucket, const char *key)
{
    char arn[STORAGE_MAX_KEY + 100], shown[200];
    fn_code_t *code = NULL;
    storage_view_t *v = NULL;
    storage_object_t obj;
    printable(key, strlen(key), shown, sizeof shown);
    snprintf(arn, sizeof arn, "arn:aws:s3:::%s/%s", bucket, key);
    const sts_t *s = c->f->o.sts;
    const http_caller_t *who = c->req->caller;
    if (s != NULL && !who->root && sts_authorize(s, who, "s3:GetObject", arn, NULL) != 0) {
        fail(c, 403, "AccessDeniedException",
             "Your access has been denied by S3, please make sure your request credentials "
             "have permission to GetObject for %s/%s. S3 Error Code: AccessDenied. S3 Error "
             "Message: Access Denied",
             bucket, shown);
        goto out;
    }
    if (storage_view_open(c->f->o.st, &v) != 0) {
        fail(c, 500, "ServiceException", "cloudlet could not read S3 right now.");
        goto out;
    }
    int rc = storage_get(v, bucket, key, strlen(key), &obj);
    if (rc == STORAGE_ENOBUCKET) {
        invalid(c, "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error "
                   "Message: The specified bucket does not exist");
        goto out;
    }
    if (rc != 0) {
        invalid(c, "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error "
                   "Message: The specified key does not exist.");
        goto out;
    }
    char err[600];
    if (fn_code_from_zip(c->f, c->t.name, obj.body, (size_t)obj.size, &code, err, sizeof err) != 0)
        invalid(c, "%s", err);
out:
    storage_view_close(v);
    return code;
}

/* The code of a CreateFunction (src = its Code member) or UpdateFunctionCode
 * (src = the body): exactly one of ZipFile or S3Bucket + S3Key, extracted
 * into a new folder of c->t.name. Returns the code, or NULL (answered). */
static fn_code_t *code_from(call_t *c, json_t *src)
{
    const char *zip, *bucket, *key, *version, *image;
    if (get_str(c, src, "ZipFile", 0, BODY_CODE_MAX, &zip) != 0 ||
        get_str(c, src, "S3Bucket", 3, 63, &bucket) != 0 ||
        get_str(c, src, "S3Key", 1, STORAGE_MAX_KEY, &key) != 0 ||
        get_str(c, src, "S3ObjectVersion", 1, 1024, &version) != 0 ||
        get_str(c, src, "ImageUri", 0, 1024, &image) != 0)
        return NULL;
    if (image != NULL) {
        invalid(c, "cloudlet runs Zip functions only: ImageUri is not supported.");
        return NULL;
    }
    if (zip != NULL && (bucket != NULL || key != NULL)) {
        invalid(c, "Please provide either ZipFile, or S3Bucket and S3Key, not both.");
        return NULL;
    }
    if (zip != NULL)
        return code_from_base64(c, src, zip, json_string_length(json_object_get(src, "ZipFile")));
    if (bucket == NULL || key == NULL) {
        invalid(c, "Please provide a source for function code: ZipFile, or S3Bucket and S3Key.");
        return NULL;
    }
    if (!storage_bucket_name_valid(bucket)) {
        invalid(c, "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error "
                   "Message: The specified bucket does not exist");
        return NULL;
    }
    return code_from_s3(c, bucket, key);
}

/* ---- Operations ---- */

/* The current definition of c->t.name, or NULL (answered 404). */
static fn_def_t *current(call_t *c)
{
    fn_def_t *d = fn_def_find(c->f, c->t.name);
    if (d == NULL)
        not_found(c);
    return d;
}

/* Publish d (the caller's reference is taken over) and answer with its
 * configuration (status 200 or 201), or with the publish error. */
static void publish_reply(call_t *c, fn_def_t *d, int mode, int restart, int status)
{
    fn_def_ref(d);
    int rc = fn_def_publish(c->f, d, mode, restart);
    if (rc == 0)
        reply(c, status, config_json(c->f, d));
    else
        fail_publish(c, rc);
    fn_def_unref(d);
}

static void op_create(call_t *c)
{
    char msg[600];
    json_t *code_in;
    fn_def_t *d = fn_def_new();
    if (create_target(c->f, c->in, &c->t, msg, sizeof msg) != 0) {
        invalid(c, "%s", msg);
        goto out;
    }
    snprintf(d->name, sizeof d->name, "%s", c->t.name);
    if (apply_config(c, c->in, d, 1) != 0 || get_obj(c, c->in, "Code", &code_in) != 0)
        goto out;
    if (code_in == NULL) {
        invalid(c, "1 validation error detected: Value null at 'code' failed to satisfy "
                   "constraint: Member must not be null");
        goto out;
    }
    /* Refuse a taken name before extracting; publish checks again. */
    fn_def_t *cur = fn_def_find(c->f, c->t.name);
    int taken = cur != NULL;
    fn_def_unref(cur);
    if (taken) {
        fail_publish(c, FN_EEXIST);
        goto out;
    }
    d->code = code_from(c, code_in);
    if (d->code == NULL)
        goto out;
    pthread_mutex_lock(&write_lk);
    publish_reply(c, d, FN_PUT_CREATE, 1, 201);
    d = NULL;
    pthread_mutex_unlock(&write_lk);
out:
    fn_def_unref(d);
}

static void op_list(call_t *c)
{
    const char *q = c->req->query != NULL ? c->req->query : "";
    char marker[REF_MAX + 1], items[16], version[16];
    int has_marker = http_query_param(q, "Marker", marker, sizeof marker);
    int has_items = http_query_param(q, "MaxItems", items, sizeof items);
    int has_version = http_query_param(q, "FunctionVersion", version, sizeof version);
    if (has_marker == -2) {
        invalid(c, "The Marker is not one that ListFunctions returned.");
        return;
    }
    long max = LIST_PAGE;
    if (has_items != -1) {
        char *end = NULL;
        max = has_items > 0 ? strtol(items, &end, 10) : 0;
        if (has_items < 0 || end == NULL || *end != '\0' || max < 1 || max > LIST_MAX_ITEMS) {
            invalid(c, "MaxItems must be an integer from 1 to %d.", LIST_MAX_ITEMS);
            return;
        }
        if (max > LIST_PAGE)
            max = LIST_PAGE;
    }
    if (has_version != -1 && (has_version < 0 || strcmp(version, "ALL") != 0)) {
        invalid(c, "FunctionVersion must be ALL.");
        return;
    }
    fn_def_t **defs;
    size_t n = fn_def_list(c->f, &defs);
    json_t *list = json_array();
    const char *next = NULL;
    for (size_t i = 0; i < n; i++) {
        if (has_marker >= 0 && strcmp(defs[i]->name, marker) <= 0)
            continue;
        if ((long)json_array_size(list) == max) {
            next = defs[i - 1]->name;
            break;
        }
        json_array_append_new(list, config_json(c->f, defs[i]));
    }
    json_t *out = json_pack("{s:o}", "Functions", list);
    if (next != NULL)
        set_str(out, "NextMarker", next);
    for (size_t i = 0; i < n; i++)
        fn_def_unref(defs[i]);
    free(defs);
    reply(c, 200, out);
}

static void op_invoke(call_t *c)
{
    fn_def_t *d = current(c);
    if (d == NULL)
        return;
    fn_invoke_http(c->f, d, c->req, c->resp);
    fn_def_unref(d);
}

static void op_get(call_t *c)
{
    fn_def_t *d = current(c);
    if (d == NULL)
        return;
    json_t *out = json_object();
    json_object_set_new(out, "Configuration", config_json(c->f, d));
    char *loc = xasprintf("file://%s", d->code != NULL ? d->code->dir : "");
    json_t *code = json_object();
    set_str(code, "RepositoryType", "S3");
    set_str(code, "Location", loc);
    free(loc);
    json_object_set_new(out, "Code", code);
    if (d->reserved >= 0)
        json_object_set_new(out, "Concurrency",
                            json_pack("{s:i}", "ReservedConcurrentExecutions", d->reserved));
    json_object_set_new(out, "Tags", json_object());
    fn_def_unref(d);
    reply(c, 200, out);
}

static void op_get_config(call_t *c)
{
    fn_def_t *d = current(c);
    if (d == NULL)
        return;
    reply(c, 200, config_json(c->f, d));
    fn_def_unref(d);
}

static void op_delete(call_t *c)
{
    pthread_mutex_lock(&write_lk);
    int rc = fn_def_remove(c->f, c->t.name);
    pthread_mutex_unlock(&write_lk);
    if (rc != 0)
        fail_publish(c, rc);
    else
        reply_empty(c);
}

static void op_update_config(call_t *c)
{
    pthread_mutex_lock(&write_lk);
    fn_def_t *d = NULL;
    fn_def_t *cur = current(c);
    if (cur == NULL || check_revision(c, cur) != 0)
        goto out;
    d = fn_def_copy(cur);
    if (apply_config(c, c->in, d, 0) != 0)
        goto out;
    publish_reply(c, d, FN_PUT_REPLACE, 1, 200);
    d = NULL;
out:
    pthread_mutex_unlock(&write_lk);
    fn_def_unref(d);
    fn_def_unref(cur);
}

/* UpdateFunctionCode. The archive is extracted before the write lock, the
 * RevisionId checked both before (to fail fast) and under it. DryRun
 * extracts (that is the validation) and answers the configuration that
 * would result, then drops the new code. Publish is accepted: only $LATEST
 * exists, so there is no version to publish. */
static void op_update_code(call_t *c)
{
    int dry = 0, publish = 0, locked = 0;
    fn_code_t *code = NULL;
    fn_def_t *d = NULL;
    fn_def_t *cur = current(c);
    if (cur == NULL || get_bool(c, c->in, "DryRun", &dry) != 0 ||
        get_bool(c, c->in, "Publish", &publish) != 0 || check_package(c, c->in) != 0 ||
        check_revision(c, cur) != 0)
        goto out;
    fn_def_unref(cur);
    cur = NULL;
    code = code_from(c, c->in);
    if (code == NULL)
        goto out;
    pthread_mutex_lock(&write_lk);
    locked = 1;
    cur = current(c);
    if (cur == NULL || check_revision(c, cur) != 0)
        goto out;
    d = fn_def_copy(cur);
    fn_code_unref(d->code);
    d->code = code;
    code = NULL;
    if (dry) {
        reply(c, 200, config_json(c->f, d));
        goto out;
    }
    publish_reply(c, d, FN_PUT_REPLACE, 1, 200);
    d = NULL;
out:
    if (locked)
        pthread_mutex_unlock(&write_lk);
    fn_code_unref(code);
    fn_def_unref(d);
    fn_def_unref(cur);
}

/* Publish a copy of the current definition with reserved concurrency
 * `reserved` (-1 = none); warm instances stay. */
static int set_reserved(call_t *c, int reserved)
{
    pthread_mutex_lock(&write_lk);
    fn_def_t *cur = current(c);
    int rc = -1;
    if (cur == NULL)
        goto out;
    rc = 0;
    if (cur->reserved == reserved)
        goto out;
    fn_def_t *d = fn_def_copy(cur);
    d->reserved = reserved;
    rc = fn_def_publish(c->f, d, FN_PUT_REPLACE, 0);
    if (rc != 0)
        fail_publish(c, rc);
out:
    pthread_mutex_unlock(&write_lk);
    fn_def_unref(cur);
    return rc;
}

static void op_put_concurrency(call_t *c)
{
    json_int_t n;
    int present;
    if (get_int(c, c->in, "ReservedConcurrentExecutions", 0, CONCURRENCY_MAX, &n, &present) != 0)
        return;
    if (!present) {
        invalid(c, "1 validation error detected: Value null at 'reservedConcurrentExecutions' "
                   "failed to satisfy constraint: Member must not be null");
        return;
    }
    if (set_reserved(c, (int)n) == 0)
        reply(c, 200, json_pack("{s:I}", "ReservedConcurrentExecutions", n));
}

static void op_get_concurrency(call_t *c)
{
    fn_def_t *d = current(c);
    if (d == NULL)
        return;
    json_t *out = json_object();
    if (d->reserved >= 0)
        json_object_set_new(out, "ReservedConcurrentExecutions", json_integer(d->reserved));
    fn_def_unref(d);
    reply(c, 200, out);
}

static void op_delete_concurrency(call_t *c)
{
    if (set_reserved(c, -1) == 0)
        reply_empty(c);
}

/* ---- Function URL configs ---- */

/* A list of 1..max_len printable-ASCII strings (they become response
 * headers of the function URL, so no CR or LF may get through). */
static int cors_list(call_t *c, const json_t *v, const char *name, size_t max_items, size_t max_len)
{
    if (!json_is_array(v) || json_array_size(v) > max_items) {
        invalid(c, "Cors.%s must be a list of at most %zu strings.", name, max_items);
        return -1;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        size_t n = s != NULL ? strlen(s) : 0;
        int ok = s != NULL && n >= 1 && n <= max_len;
        for (size_t k = 0; ok && k < n; k++)
            ok = s[k] >= 0x20 && s[k] < 0x7f;
        if (!ok) {
            invalid(c, "Cors.%s items must be 1 to %zu printable ASCII characters.", name, max_len);
            return -1;
        }
    }
    return 0;
}

/* The Cors member, checked: a new object holding only its known members,
 * or NULL with *failed set (answered). */
static json_t *read_cors(call_t *c, const json_t *cors, int *failed)
{
    static const struct {
        const char *name;
        size_t items, len;
    } lists[] = {{"AllowHeaders", CORS_LIST_MAX, 1024},
                 {"AllowMethods", 6, 6},
                 {"AllowOrigins", CORS_LIST_MAX, 253},
                 {"ExposeHeaders", CORS_LIST_MAX, 1024}};
    json_t *out = json_object();
    int credentials = 0;
    json_int_t age;
    int has_age;
    *failed = 1;
    if (get_bool(c, cors, "AllowCredentials", &credentials) != 0 ||
        get_int(c, cors, "MaxAge", 0, CORS_MAX_AGE, &age, &has_age) != 0)
        goto err;
    if (json_object_get(cors, "AllowCredentials") != NULL)
        json_object_set_new(out, "AllowCredentials", json_boolean(credentials));
    if (has_age)
        json_object_set_new(out, "MaxAge", json_integer(age));
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        json_t *v = json_object_get(cors, lists[i].name);
        if (v == NULL || json_is_null(v))
            continue;
        if (cors_list(c, v, lists[i].name, lists[i].items, lists[i].len) != 0)
            goto err;
        json_object_set(out, lists[i].name, v);
    }
    *failed = 0;
    return out;
err:
    json_decref(out);
    return NULL;
}

/* AuthType, Cors and InvokeMode of a URL config body into url (a new
 * object for a create, a copy of the stored one for an update). */
static int apply_url(call_t *c, json_t *url, int creating)
{
    const char *auth, *mode;
    json_t *cors_in;
    if (get_str(c, c->in, "AuthType", 0, 16, &auth) != 0 ||
        get_str(c, c->in, "InvokeMode", 0, 16, &mode) != 0 ||
        get_obj(c, c->in, "Cors", &cors_in) != 0)
        return -1;
    if ((auth == NULL && creating) ||
        (auth != NULL && strcmp(auth, "AWS_IAM") != 0 && strcmp(auth, "NONE") != 0)) {
        invalid(c, "AuthType must be AWS_IAM or NONE.");
        return -1;
    }
    if (mode != NULL && strcmp(mode, "BUFFERED") != 0) {
        invalid(c, "cloudlet's function URLs are BUFFERED only (InvokeMode).");
        return -1;
    }
    if (auth != NULL)
        set_str(url, "AuthType", auth);
    set_str(url, "InvokeMode", "BUFFERED");
    if (cors_in != NULL) {
        int failed;
        json_t *cors = read_cors(c, cors_in, &failed);
        if (failed)
            return -1;
        json_object_set_new(url, "Cors", cors);
    }
    char now[25];
    util_iso8601_ms(util_now_ms(), now);
    if (creating)
        set_str(url, "CreationTime", now);
    set_str(url, "LastModifiedTime", now);
    return 0;
}

static void url_missing(call_t *c)
{
    fail(c, 404, "ResourceNotFoundException", "The resource you requested does not exist.");
}

/* Create (creating) or update the URL config: publish a copy of the
 * current definition with the new config; warm instances stay. */
static void op_put_url(call_t *c, int creating)
{
    pthread_mutex_lock(&write_lk);
    fn_def_t *d = NULL;
    fn_def_t *cur = current(c);
    if (cur == NULL)
        goto out;
    if (creating && cur->url != NULL) {
        fail(c, 409, "ResourceConflictException",
             "Failed to create function url config for [functionArn = %s]. Error message:  "
             "FunctionUrlConfig exists for this Lambda function",
             cur->arn);
        goto out;
    }
    if (!creating && cur->url == NULL) {
        url_missing(c);
        goto out;
    }
    d = fn_def_copy(cur);
    if (d->url == NULL)
        d->url = json_object();
    if (apply_url(c, d->url, creating) != 0)
        goto out;
    fn_def_ref(d);
    int rc = fn_def_publish(c->f, d, FN_PUT_REPLACE, 0);
    if (rc == 0)
        reply(c, creating ? 201 : 200, url_json(c->f, d, !creating));
    else
        fail_publish(c, rc);
out:
    pthread_mutex_unlock(&write_lk);
    fn_def_unref(d);
    fn_def_unref(cur);
}

static void op_get_url(call_t *c)
{
    fn_def_t *d = current(c);
    if (d == NULL)
        return;
    if (d->url == NULL)
        url_missing(c);
    else
        reply(c, 200, url_json(c->f, d, 1));
    fn_def_unref(d);
}

static void op_delete_url(call_t *c)
{
    pthread_mutex_lock(&write_lk);
    fn_def_t *cur = current(c);
    if (cur == NULL)
        goto out;
    if (cur->url == NULL) {
        url_missing(c);
        goto out;
    }
    fn_def_t *d = fn_def_copy(cur);
    json_decref(d->url);
    d->url = NULL;
    int rc = fn_def_publish(c->f, d, FN_PUT_REPLACE, 0);
    if (rc == 0)
        reply_empty(c);
    else
        fail_publish(c, rc);
out:
    pthread_mutex_unlock(&write_lk);
    fn_def_unref(cur);
}

/* ---- Entry points ---- */

static void dispatch(call_t *c)
{
    switch (c->route->kind) {
    case K_CREATE:
        op_create(c);
        break;
    case K_LIST:
        op_list(c);
        break;
    case K_INVOKE:
        op_invoke(c);
        break;
    case K_GET:
        op_get(c);
        break;
    case K_DELETE:
        op_delete(c);
        break;
    case K_GET_CONFIG:
        op_get_config(c);
        break;
    case K_UPDATE_CONFIG:
        op_update_config(c);
        break;
    case K_UPDATE_CODE:
        op_update_code(c);
        break;
    case K_PUT_CONCURRENCY:
        op_put_concurrency(c);
        break;
    case K_GET_CONCURRENCY:
        op_get_concurrency(c);
        break;
    case K_DELETE_CONCURRENCY:
        op_delete_concurrency(c);
        break;
    case K_CREATE_URL:
        op_put_url(c, 1);
        break;
    case K_GET_URL:
        op_get_url(c);
        break;
    case K_UPDATE_URL:
        op_put_url(c, 0);
        break;
    case K_DELETE_URL:
        op_delete_url(c);
        break;
    }
}

/* Read the body of routes that take one. Returns 0, or -1 (answered). */
static int read_body(call_t *c)
{
    if (c->route->body_max == 0)
        return 0;
    if (c->req->body_len > c->route->body_max) {
        fail(c, 413, "RequestTooLargeException",
             "Request must be smaller than %zu bytes for the %s operation", c->route->body_max + 1,
             c->route->action + strlen("lambda:"));
        return -1;
    }
    c->in = parse_body(c->req, c->route->body_max);
    if (c->in == NULL) {
        fail(c, 400, "InvalidRequestContentException",
             "Could not parse request body into json: the body must be a JSON object.");
        return -1;
    }
    return 0;
}

void fn_handle_api(fn_t *f, const http_req_t *req, http_resp_t *resp)
{
    call_t c = {.f = f, .req = req, .resp = resp};
    if (req->caller == NULL) {
        fail(&c, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
        return;
    }
    const char *seg;
    size_t seg_len;
    c.route = match_route(req, &seg, &seg_len);
    if (c.route == NULL) {
        char method[17], path[201];
        printable(req->method_name != NULL ? req->method_name : "?", 16, method, sizeof method);
        printable(req->path != NULL ? req->path : "", 200, path, sizeof path);
        fail(&c, 404, "ResourceNotFoundException", "No Lambda operation matches %s %s", method,
             path);
        return;
    }
    char msg[600];
    int status = seg != NULL ? resolve_path(f, req, seg, seg_len, &c.t, msg, sizeof msg) : 0;
    if (status != 0) {
        fail(&c, status,
             status == 404 ? "ResourceNotFoundException" : "InvalidParameterValueException", "%s",
             msg);
        return;
    }
    if (read_body(&c) == 0)
        dispatch(&c);
    json_decref(c.in);
}

int fn_request_action(fn_t *f, const http_req_t *req, char *action, size_t actionsz, char *resource,
                      size_t resourcesz)
{
    const char *seg;
    size_t seg_len;
    const route_t *r = match_route(req, &seg, &seg_len);
    if (r == NULL)
        return 1;
    target_t t;
    char msg[600];
    const char *arn = "*";
    if (r->kind == K_CREATE) {
        /* An unreadable body or a bad name is refused by the handler; until
         * then the request is judged as creating any function. */
        json_t *in = parse_body(req, r->body_max);
        if (in != NULL && create_target(f, in, &t, msg, sizeof msg) == 0)
            arn = t.arn;
        snprintf(resource, resourcesz, "%s", arn);
        json_decref(in);
    } else if (seg != NULL) {
        /* A name that does not resolve only ever gets an error answer. */
        if (resolve_path(f, req, seg, seg_len, &t, msg, sizeof msg) != 0)
            return 1;
        snprintf(resource, resourcesz, "%s", t.arn);
    } else {
        snprintf(resource, resourcesz, "%s", arn);
    }
    snprintf(action, actionsz, "%s", r->action);
    return 0;
}

char *fn_names_json(fn_t *f)
{
    fn_def_t **defs;
    size_t n = fn_def_list(f, &defs);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, jstr(defs[i]->name));
        fn_def_unref(defs[i]);
    }
    free(defs);
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text != NULL ? text : xstrdup("[]");
}
