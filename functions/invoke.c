/* invoke.c - Invoke (wire doc 5.1), the queue of asynchronous events, and
 * function URLs.
 *
 * A RequestResponse invoke defers its HTTP answer (http_defer) and hands an
 * invocation to the pool; the pool's completion fills the response. An
 * Event invoke is written to LMDB before the 202 goes out, so an accepted
 * event survives a crash; a thread of its own runs the queue: each event is
 * tried up to three times (Lambda's default of two retries), waiting
 * event_retry_ms and then twice that between tries; one that still fails is
 * moved to "fn-events-failed" with its last error, and logged. A throttled
 * event waits without losing a try. Delivery is at least once, as on AWS.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"

#define T_EVENTS "fn-events"
#define T_FAILED "fn-events-failed"
#define EVENT_MAX (1024 * 1024)  /* asynchronous payload limit (wire doc 5.1) */
#define EVENTS_IN_FLIGHT 64
#define CLIENT_CONTEXT_MAX 3583  /* Lambda's limit on X-Amz-Client-Context */

static void error_json(http_resp_t *resp, const http_req_t *req, int status, const char *code,
                       const char *msg)
{
    http_error(resp, HTTP_PROTO_JSON, status, code, msg, NULL, req->request_id);
}

/* The Lambda-Runtime-Cognito-Identity header of a caller with a Cognito
 * identity (context.identity in Node.js), or NULL. */
static char *cognito_identity(fn_t *f, const http_caller_t *caller)
{
    if (caller == NULL || caller->identity_id[0] == '\0')
        return NULL;
    const char *pool = sts_default_identity_pool_id(f->o.sts);
    json_t *j = json_pack("{s:s, s:s}", "cognitoIdentityId", caller->identity_id,
                          "cognitoIdentityPoolId", pool != NULL ? pool : "");
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* ---- RequestResponse ---- */

typedef struct sync_ctx {
    http_later_t *later;
    http_resp_t *resp;
    const char *request_id;
} sync_ctx_t;

static void sync_done(fn_inv_t *inv, fn_outcome_t outcome, const void *body, size_t len)
{
    sync_ctx_t *c = inv->ctx;
    http_resp_t *resp = c->resp;
    switch (outcome) {
    case FN_OK:
    case FN_ERROR: {
        resp->status = 200;
        http_resp_header(resp, "Content-Type", "application/json");
        http_resp_header(resp, "X-Amz-Executed-Version", "$LATEST");
        if (outcome == FN_ERROR)
            http_resp_header(resp, "X-Amz-Function-Error", "Unhandled");
        if (inv->tail) {
            char *b64 = util_base64(inv->tailbuf, inv->tail_used);
            http_resp_header(resp, "X-Amz-Log-Result", b64);
            free(b64);
        }
        char *copy = xmalloc(len ? len : 1);
        memcpy(copy, body, len);
        http_resp_body_owned(resp, copy, len);
        break;
    }
    case FN_THROTTLED:
        http_resp_header(resp, "Retry-After", "1");
        http_resp_json(resp, 429, "application/json",
                       "{\"Reason\":\"ReservedFunctionConcurrentInvocationLimitExceeded\","
                       "\"Type\":\"User\",\"message\":\"Rate Exceeded.\"}");
        http_resp_header(resp, "x-amzn-ErrorType", "TooManyRequestsException");
        break;
    case FN_SHUTDOWN:
        http_error(resp, HTTP_PROTO_JSON, 503, "ServiceException",
                   "cloudlet is shutting down.", NULL, c->request_id);
        break;
    }
    http_later_t *later = c->later;
    free(c);
    fn_inv_free(inv);
    http_later_done(later);
}

/* ---- The event queue ---- */

typedef struct done_event {
    struct done_event *next;
    char key[8];
    fn_outcome_t outcome;
    char *error; /* last error body, for the failure record */
} done_event_t;

struct fn_events {
    pthread_t thread;
    int started;
    pthread_mutex_t lk;
    pthread_cond_t cv;
    int stop;
    int kick;              /* something new to look at */
    done_event_t *done;    /* completions to record */
    char inflight[EVENTS_IN_FLIGHT][8];
    int ninflight;
    uint64_t seq;
};

static void key_make(char out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (char)(v & 0xff);
}

static void events_kick(fn_t *f)
{
    struct fn_events *e = f->events;
    pthread_mutex_lock(&e->lk);
    e->kick = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->lk);
}

static int enqueue(fn_t *f, const char *name, const void *payload, size_t len,
                   const char *identity, char request_id[37])
{
    struct fn_events *e = f->events;
    char key[8];
    pthread_mutex_lock(&e->lk);
    uint64_t seq = ++e->seq;
    pthread_mutex_unlock(&e->lk);
    key_make(key, seq);
    util_uuid(request_id);
    json_t *rec = json_pack("{s:s, s:s%, s:i, s:I, s:s, s:s?}", "fn", name, "p",
                            (const char *)payload, len, "a", 0, "t", (json_int_t)0, "id",
                            request_id, "ci", identity);
    if (rec == NULL)
        return -1;
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    storage_txn_t *t;
    int rc = storage_txn_begin(f->o.st, &t);
    if (rc == 0)
        rc = storage_rec_put(t, T_EVENTS, key, sizeof key, text, strlen(text), 0);
    if (rc == 0)
        rc = storage_txn_commit(t);
    else
        storage_txn_abort(t);
    free(text);
    if (rc != 0)
        return -1;
    events_kick(f);
    return 0;
}

int fn_enqueue(fn_t *f, const char *name, const void *payload, size_t len)
{
    fn_def_t *d = fn_def_find(f, name);
    if (d == NULL || len > EVENT_MAX)
        return -1;
    fn_def_unref(d);
    char id[37];
    return enqueue(f, name, payload, len, NULL, id);
}

typedef struct event_ctx {
    fn_t *f;
    char key[8];
} event_ctx_t;

static void event_done(fn_inv_t *inv, fn_outcome_t outcome, const void *body, size_t len)
{
    event_ctx_t *c = inv->ctx;
    struct fn_events *e = c->f->events;
    done_event_t *d = xcalloc(1, sizeof *d);
    memcpy(d->key, c->key, 8);
    d->outcome = outcome;
    if (outcome == FN_ERROR)
        d->error = xstrndup(body, len > 4096 ? 4096 : len);
    if (outcome == FN_OK || outcome == FN_ERROR)
        log_info("fn %s %s: event %s", inv->def->name, inv->request_id,
                 outcome == FN_OK ? "delivered" : "failed");
    pthread_mutex_lock(&e->lk);
    d->next = e->done;
    e->done = d;
    e->kick = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->lk);
    free(c);
    fn_inv_free(inv);
}

static int is_inflight(struct fn_events *e, const char *key)
{
    for (int i = 0; i < e->ninflight; i++) {
        if (memcmp(e->inflight[i], key, 8) == 0)
            return 1;
    }
    return 0;
}

static void drop_inflight(struct fn_events *e, const char *key)
{
    for (int i = 0; i < e->ninflight; i++) {
        if (memcmp(e->inflight[i], key, 8) == 0) {
            memcpy(e->inflight[i], e->inflight[--e->ninflight], 8);
            return;
        }
    }
}

/* Record one completion: delete, reschedule, or move to the failed table. */
static void record_done(fn_t *f, done_event_t *d)
{
    storage_txn_t *t;
    if (storage_txn_begin(f->o.st, &t) != 0)
        return;
    const void *val;
    size_t vlen;
    int rc = storage_rec_get(t, T_EVENTS, d->key, 8, &val, &vlen);
    json_t *rec = rc == 0 ? json_loadb(val, vlen, 0, NULL) : NULL;
    if (rec == NULL) {
        storage_txn_abort(t);
        return;
    }
    int attempts = (int)json_integer_value(json_object_get(rec, "a"));
    if (d->outcome == FN_OK) {
        rc = storage_rec_del(t, T_EVENTS, d->key, 8);
    } else if (d->outcome == FN_THROTTLED || d->outcome == FN_SHUTDOWN) {
        json_object_set_new(rec, "t", json_integer(util_now_ms() + 200));
    } else {
        attempts++;
        json_object_set_new(rec, "a", json_integer(attempts));
        json_object_set_new(rec, "e", json_string(d->error ? d->error : ""));
        json_object_set_new(rec, "t",
                            json_integer(util_now_ms() +
                                         (int64_t)f->o.event_retry_ms * (attempts == 1 ? 1 : 2)));
    }
    if (d->outcome != FN_OK) {
        char *text = json_dumps(rec, JSON_COMPACT);
        if (attempts >= 3) {
            rc = storage_rec_put(t, T_FAILED, d->key, 8, text, strlen(text), 0);
            if (rc == 0)
                rc = storage_rec_del(t, T_EVENTS, d->key, 8);
            log_warn("fn %s %s: event failed 3 times, kept in %s",
                     json_string_value(json_object_get(rec, "fn")),
                     json_string_value(json_object_get(rec, "id")), T_FAILED);
        } else {
            rc = storage_rec_put(t, T_EVENTS, d->key, 8, text, strlen(text), 0);
        }
        free(text);
    }
    json_decref(rec);
    if (rc == 0)
        storage_txn_commit(t);
    else
        storage_txn_abort(t);
}

typedef struct due {
    fn_t *f;
    int64_t now;
    int64_t next_at; /* earliest future try */
    json_t *batch;   /* [[key(hex), record], ...] due now */
} due_t;

static int due_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    due_t *d = ctx;
    struct fn_events *e = d->f->events;
    if (key_len != 8 || is_inflight(e, key))
        return 0;
    json_t *rec = json_loadb(val, val_len, 0, NULL);
    if (rec == NULL)
        return 0;
    int64_t t = json_integer_value(json_object_get(rec, "t"));
    if (t > d->now) {
        if (d->next_at == 0 || t < d->next_at)
            d->next_at = t;
        json_decref(rec);
        return 0;
    }
    char hex[17];
    util_hex(key, 8, hex);
    json_array_append_new(d->batch, json_pack("[s, o]", hex, rec));
    return json_array_size(d->batch) + (size_t)e->ninflight >= EVENTS_IN_FLIGHT;
}

/* Start the due events (events thread, e->lk not held). Returns the time
 * of the next future try, or 0. */
static int64_t run_due(fn_t *f)
{
    struct fn_events *e = f->events;
    storage_view_t *v;
    if (storage_view_open(f->o.st, &v) != 0)
        return util_now_ms() + 100;
    due_t d = {f, util_now_ms(), 0, json_array()};
    pthread_mutex_lock(&e->lk);
    storage_view_rec_scan(v, T_EVENTS, "", 0, due_cb, &d);
    pthread_mutex_unlock(&e->lk);
    storage_view_close(v);
    size_t i;
    json_t *item;
    json_array_foreach(d.batch, i, item) {
        const char *hex = json_string_value(json_array_get(item, 0));
        json_t *rec = json_array_get(item, 1);
        event_ctx_t *c = xcalloc(1, sizeof *c);
        c->f = f;
        for (int k = 0; k < 8; k++)
            c->key[k] = (char)(util_hexval(hex[2 * k]) << 4 | util_hexval(hex[2 * k + 1]));
        const char *name = json_string_value(json_object_get(rec, "fn"));
        fn_def_t *def = name != NULL ? fn_def_find(f, name) : NULL;
        pthread_mutex_lock(&e->lk);
        memcpy(e->inflight[e->ninflight++], c->key, 8);
        pthread_mutex_unlock(&e->lk);
        if (def == NULL) {
            /* The function is gone: the event fails each try. */
            done_event_t *dd = xcalloc(1, sizeof *dd);
            memcpy(dd->key, c->key, 8);
            dd->outcome = FN_ERROR;
            dd->error = xstrdup("{\"errorType\":\"ResourceNotFoundException\","
                                "\"errorMessage\":\"The function no longer exists.\"}");
            pthread_mutex_lock(&e->lk);
            dd->next = e->done;
            e->done = dd;
            pthread_mutex_unlock(&e->lk);
            free(c);
            continue;
        }
        fn_inv_t *inv = fn_inv_new(def);
        fn_def_unref(def);
        json_t *p = json_object_get(rec, "p");
        inv->payload_len = json_string_length(p);
        inv->payload = xmalloc(inv->payload_len + 1);
        memcpy(inv->payload, json_string_value(p), inv->payload_len);
        const char *id = json_string_value(json_object_get(rec, "id"));
        if (id != NULL)
            snprintf(inv->request_id, sizeof inv->request_id, "%s", id);
        const char *ci = json_string_value(json_object_get(rec, "ci"));
        inv->cognito_identity = ci != NULL ? xstrdup(ci) : NULL;
        inv->done = event_done;
        inv->ctx = c;
        fn_pool_submit(f, inv);
    }
    json_decref(d.batch);
    return d.next_at;
}

static void *events_main(void *arg)
{
    fn_t *f = arg;
    struct fn_events *e = f->events;
    int64_t next_at = 0;
    for (;;) {
        pthread_mutex_lock(&e->lk);
        while (!e->stop && !e->kick && (next_at == 0 || util_now_ms() < next_at)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait_ms = next_at != 0 ? next_at - util_now_ms() : 1000;
            if (wait_ms > 1000)
                wait_ms = 1000;
            if (wait_ms < 1)
                wait_ms = 1;
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&e->cv, &e->lk, &ts);
        }
        if (e->stop) {
            pthread_mutex_unlock(&e->lk);
            return NULL;
        }
        e->kick = 0;
        done_event_t *done = e->done;
        e->done = NULL;
        pthread_mutex_unlock(&e->lk);
        while (done != NULL) {
            done_event_t *nx = done->next;
            record_done(f, done);
            pthread_mutex_lock(&e->lk);
            drop_inflight(e, done->key);
            pthread_mutex_unlock(&e->lk);
            free(done->error);
            free(done);
            done = nx;
        }
        next_at = run_due(f);
    }
}

static int last_seq_cb(void *ctx, const void *key, size_t key_len, const void *val,
                       size_t val_len)
{
    uint64_t *seq = ctx;
    const unsigned char *k = key;
    if (key_len != 8)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | k[i];
    if (v > *seq)
        *seq = v;
    return 0;
}

int fn_events_open(fn_t *f, char *err, size_t errsz)
{
    struct fn_events *e = xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->lk, NULL);
    pthread_cond_init(&e->cv, NULL);
    /* Keys grow: continue after the largest kept one (queued or failed). */
    storage_view_t *v;
    if (storage_view_open(f->o.st, &v) == 0) {
        storage_view_rec_scan(v, T_EVENTS, "", 0, last_seq_cb, &e->seq);
        storage_view_rec_scan(v, T_FAILED, "", 0, last_seq_cb, &e->seq);
        storage_view_close(v);
    }
    f->events = e;
    (void)err;
    (void)errsz;
    return 0;
}

int fn_events_start(fn_t *f, char *err, size_t errsz)
{
    struct fn_events *e = f->events;
    if (pthread_create(&e->thread, NULL, events_main, f) != 0) {
        snprintf(err, errsz, "functions: cannot start the event queue");
        return -1;
    }
    e->started = 1;
    events_kick(f);
    return 0;
}

void fn_events_close(fn_t *f)
{
    struct fn_events *e = f->events;
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->lk);
    e->stop = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->lk);
    if (e->started)
        pthread_join(e->thread, NULL);
    e->started = 0;
    /* Completions that came after the thread stopped (instances being
     * stopped): the events stay queued and run again at the next start. */
    pthread_mutex_lock(&e->lk);
    done_event_t *d = e->done;
    e->done = NULL;
    pthread_mutex_unlock(&e->lk);
    while (d != NULL) {
        done_event_t *nx = d->next;
        free(d->error);
        free(d);
        d = nx;
    }
}

void fn_events_free(fn_t *f)
{
    struct fn_events *e = f->events;
    if (e == NULL)
        return;
    fn_events_close(f);
    pthread_mutex_destroy(&e->lk);
    pthread_cond_destroy(&e->cv);
    free(e);
    f->events = NULL;
}

/* ---- Invoke ---- */

void fn_invoke_http(fn_t *f, fn_def_t *d, const http_req_t *req, http_resp_t *resp)
{
    const char *type = http_header(req, "X-Amz-Invocation-Type");
    const char *log_type = http_header(req, "X-Amz-Log-Type");
    const char *cc = http_header(req, "X-Amz-Client-Context");
    if (type == NULL)
        type = "RequestResponse";
    if (strcmp(type, "RequestResponse") != 0 && strcmp(type, "Event") != 0 &&
        strcmp(type, "DryRun") != 0) {
        error_json(resp, req, 400, "InvalidParameterValueException",
                   "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun.");
        return;
    }
    if (log_type != NULL && strcmp(log_type, "None") != 0 && strcmp(log_type, "Tail") != 0) {
        error_json(resp, req, 400, "InvalidParameterValueException",
                   "X-Amz-Log-Type must be None or Tail.");
        return;
    }
    int event = strcmp(type, "Event") == 0;
    size_t limit = event ? EVENT_MAX : f->o.max_payload;
    if (req->body_len > limit) {
        char msg[160];
        snprintf(msg, sizeof msg, "%zu byte payload is too large for the %s invocation type "
                 "(limit %zu bytes)", req->body_len, type, limit);
        error_json(resp, req, 413, "RequestTooLargeException", msg);
        return;
    }
    const char *payload = req->body_len > 0 ? (const char *)req->body : "{}";
    size_t plen = req->body_len > 0 ? req->body_len : 2;
    json_error_t je;
    json_t *parsed = json_loadb(payload, plen, JSON_DECODE_ANY, &je);
    if (parsed == NULL) {
        char msg[300];
        snprintf(msg, sizeof msg, "Could not parse request body into json: %s", je.text);
        error_json(resp, req, 400, "InvalidRequestContentException", msg);
        return;
    }
    json_decref(parsed);
    char *client_context = NULL;
    if (cc != NULL) {
        size_t n = strlen(cc);
        unsigned char *raw = xmalloc(n + 1);
        long dl = n <= CLIENT_CONTEXT_MAX ? util_base64_decode(cc, n, raw, n) : -1;
        json_t *j = dl >= 0 ? json_loadb((char *)raw, (size_t)dl, 0, NULL) : NULL;
        if (!json_is_object(j)) {
            free(raw);
            json_decref(j);
            error_json(resp, req, 400, "InvalidRequestContentException",
                       "Client context must be a valid Base64-encoded JSON object.");
            return;
        }
        client_context = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        free(raw);
    }
    if (strcmp(type, "DryRun") == 0) {
        free(client_context);
        resp->status = 204;
        return;
    }
    char *identity = cognito_identity(f, req->caller);
    if (event) {
        char id[37];
        int rc = enqueue(f, d->name, payload, plen, identity, id);
        free(identity);
        free(client_context);
        if (rc != 0) {
            error_json(resp, req, 500, "ServiceException", "The event could not be queued.");
            return;
        }
        resp->status = 202;
        http_resp_header(resp, "x-amzn-RequestId", id);
        return;
    }
    http_later_t *later = http_defer(req, resp);
    if (later == NULL) {
        free(identity);
        free(client_context);
        error_json(resp, req, 500, "ServiceException", "This route cannot wait for a function.");
        return;
    }
    fn_inv_t *inv = fn_inv_new(d);
    inv->payload = xmalloc(plen);
    memcpy(inv->payload, payload, plen);
    inv->payload_len = plen;
    inv->cognito_identity = identity;
    inv->client_context = client_context;
    inv->tail = log_type != NULL && strcmp(log_type, "Tail") == 0;
    sync_ctx_t *c = xmalloc(sizeof *c);
    c->later = later;
    c->resp = resp;
    c->request_id = req->request_id;
    inv->ctx = c;
    inv->done = sync_done;
    fn_pool_submit(f, inv);
}

/* ---- Function URLs (payload format 2.0) ---- */

typedef struct url_ctx {
    http_later_t *later;
    http_resp_t *resp;
} url_ctx_t;

static void url_error(http_resp_t *resp, int status, const char *message)
{
    char body[128];
    snprintf(body, sizeof body, "{\"Message\":\"%s\"}", message);
    http_resp_json(resp, status, "application/json", body);
}

/* Headers that describe the connection or the framing are the server's to
 * set; a function's own are dropped (Lambda drops them too). */
static int hop_by_hop(const char *name)
{
    static const char *const hop[] = {"content-length", "transfer-encoding", "connection",
                                      "keep-alive",     "upgrade",           "te",
                                      "trailer",        "proxy-connection",  "date", NULL};
    for (size_t i = 0; hop[i] != NULL; i++) {
        if (strcasecmp(name, hop[i]) == 0)
            return 1;
    }
    return 0;
}

/* Map the function's answer to HTTP, as Lambda does for function URLs: an
 * object with statusCode is a response; anything else is a 200 JSON body. */
static void url_done(fn_inv_t *inv, fn_outcome_t outcome, const void *body, size_t len)
{
    url_ctx_t *c = inv->ctx;
    http_resp_t *resp = c->resp;
    json_t *r = outcome == FN_OK ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
    if (outcome == FN_THROTTLED) {
        url_error(resp, 429, "Rate Exceeded.");
    } else if (outcome != FN_OK || r == NULL) {
        url_error(resp, 502, "Internal Server Error");
    } else if (json_is_object(r) && json_is_integer(json_object_get(r, "statusCode"))) {
        json_int_t st = json_integer_value(json_object_get(r, "statusCode"));
        resp->status = st >= 100 && st <= 599 ? (int)st : 502;
        const char *k;
        json_t *v;
        int typed = 0;
        json_object_foreach(json_object_get(r, "headers"), k, v) {
            if (json_is_string(v) && strlen(k) < 128 && strpbrk(k, "\r\n: ") == NULL &&
                strpbrk(json_string_value(v), "\r\n") == NULL && !hop_by_hop(k)) {
                http_resp_header_copy(resp, k, json_string_value(v));
                typed |= strcasecmp(k, "content-type") == 0;
            }
        }
        size_t i;
        json_array_foreach(json_object_get(r, "cookies"), i, v) {
            if (json_is_string(v) && strpbrk(json_string_value(v), "\r\n") == NULL)
                http_resp_header(resp, "Set-Cookie", json_string_value(v));
        }
        json_t *b = json_object_get(r, "body");
        const char *text = json_is_string(b) ? json_string_value(b) : "";
        size_t tlen = json_is_string(b) ? json_string_length(b) : 0;
        char *out;
        long olen;
        if (json_is_true(json_object_get(r, "isBase64Encoded"))) {
            out = xmalloc(tlen + 1);
            olen = util_base64_decode(text, tlen, (unsigned char *)out, tlen + 1);
            if (olen < 0)
                olen = 0;
        } else {
            out = xstrndup(text, tlen);
            olen = (long)tlen;
        }
        if (!typed)
            http_resp_header(resp, "Content-Type", "text/plain; charset=utf-8");
        http_resp_body_owned(resp, out, (size_t)olen);
    } else {
        char *copy = xmalloc(len ? len : 1);
        memcpy(copy, body, len);
        http_resp_header(resp, "Content-Type", "application/json");
        http_resp_body_owned(resp, copy, len);
    }
    json_decref(r);
    http_later_t *later = c->later;
    free(c);
    fn_inv_free(inv);
    http_later_done(later);
}

/* A JSON string of request text, which the client controls: bytes that do
 * not make UTF-8 become '?', so that the event can always be built. */
static json_t *text(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    char *copy = xstrdup(s);
    for (char *p = copy; *p != '\0'; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(copy);
    free(copy);
    return j;
}

typedef struct hdr_ctx {
    json_t *headers;
    json_t *cookies;
} hdr_ctx_t;

static int collect_header(void *ctx, const char *name, const char *value)
{
    hdr_ctx_t *h = ctx;
    char lower[128];
    size_t n = strlen(name);
    if (n >= sizeof lower)
        return 0;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    if (strcmp(lower, "cookie") == 0) {
        char *copy = xstrdup(value), *save = NULL;
        for (char *c = strtok_r(copy, ";", &save); c != NULL; c = strtok_r(NULL, ";", &save)) {
            while (*c == ' ')
                c++;
            json_array_append_new(h->cookies, text(c));
        }
        free(copy);
        return 0;
    }
    json_t *old = json_object_get(h->headers, lower);
    if (old != NULL) {
        char *joined = xasprintf("%s,%s", json_string_value(old), value);
        json_object_set_new(h->headers, lower, text(joined));
        free(joined);
    } else {
        json_object_set_new(h->headers, lower, text(value));
    }
    return 0;
}

static json_t *query_params(const char *q)
{
    json_t *o = json_object();
    char *copy = xstrdup(q), *save = NULL;
    for (char *kv = strtok_r(copy, "&", &save); kv != NULL; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        char name[256], value[2048];
        if (eq != NULL)
            *eq = '\0';
        /* Decode through http_query_param on a one-parameter query. */
        char *one = xasprintf("k=%s", kv);
        int nl = http_query_param(one, "k", name, sizeof name);
        free(one);
        one = xasprintf("k=%s", eq != NULL ? eq + 1 : "");
        int vl = http_query_param(one, "k", value, sizeof value);
        free(one);
        if (nl < 0 || vl < 0)
            continue;
        json_t *old = json_object_get(o, name);
        if (old != NULL) {
            char *joined = xasprintf("%s,%s", json_string_value(old), value);
            json_object_set_new(o, name, text(joined));
            free(joined);
        } else {
            json_object_set_new(o, name, text(value));
        }
    }
    free(copy);
    return o;
}

/* The payload format 2.0 event of a function URL request. */
static char *url_event(fn_t *f, const fn_def_t *d, const http_req_t *req, const char *raw_path,
                       const http_caller_t *caller)
{
    hdr_ctx_t h = {json_object(), json_array()};
    http_header_each(req, collect_header, &h);
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    const char *host = http_header(req, "Host");
    const char *ua = http_header(req, "User-Agent");
    json_t *http = json_pack("{s:o, s:o, s:s, s:s, s:o}", "method", text(req->method_name),
                             "path", text(raw_path), "protocol", "HTTP/1.1", "sourceIp",
                             req->remote ? req->remote : "127.0.0.1", "userAgent",
                             text(ua ? ua : ""));
    json_t *rc = json_pack("{s:s, s:s, s:o, s:s, s:o, s:s, s:s, s:s, s:s, s:I}", "accountId",
                           caller != NULL ? f->account_id : "anonymous", "apiId", d->name,
                           "domainName", text(host ? host : ""), "domainPrefix", d->name, "http",
                           http,
                           "requestId", req->request_id, "routeKey", "$default", "stage",
                           "$default", "time", when, "timeEpoch", (json_int_t)util_now_ms());
    if (caller != NULL) {
        json_t *iam = json_pack("{s:s, s:s, s:s, s:s}", "accessKey", caller->access_key_id,
                                "accountId", caller->account, "callerId", caller->user_id,
                                "userArn", caller->arn, "userId", caller->user_id);
        if (caller->identity_id[0] != '\0')
            json_object_set_new(iam, "cognitoIdentity",
                                json_pack("{s:s, s:[]}", "identityId", caller->identity_id,
                                          "amr"));
        json_object_set_new(rc, "authorizer", json_pack("{s:o}", "iam", iam));
    }
    int binary = 0;
    for (size_t i = 0; i < req->body_len && !binary; i++)
        binary = req->body[i] == 0 || req->body[i] >= 0x80;
    json_t *ev = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:b}", "version", "2.0", "routeKey",
                           "$default", "rawPath", text(raw_path), "rawQueryString",
                           text(req->query),
                           "headers", h.headers, "requestContext", rc, "isBase64Encoded",
                           binary);
    if (json_array_size(h.cookies) > 0)
        json_object_set(ev, "cookies", h.cookies);
    json_decref(h.cookies);
    if (req->query[0] != '\0')
        json_object_set_new(ev, "queryStringParameters", query_params(req->query));
    if (req->body_len > 0) {
        if (binary) {
            char *b = util_base64(req->body, req->body_len);
            json_object_set_new(ev, "body", json_string(b));
            free(b);
        } else {
            json_object_set_new(ev, "body", json_stringn((const char *)req->body, req->body_len));
        }
    }
    char *s = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return s != NULL ? s : xstrdup("{}");
}

void fn_handle_url(fn_t *f, const http_req_t *req, http_resp_t *resp)
{
    /* /fn/<name>[/rest] */
    const char *name_start = req->path + 4;
    size_t nlen = strcspn(name_start, "/");
    char name[FN_NAME_MAX + 1];
    if (nlen == 0 || nlen > FN_NAME_MAX) {
        url_error(resp, 404, "Not Found");
        return;
    }
    memcpy(name, name_start, nlen);
    name[nlen] = '\0';
    const char *raw_path = name_start[nlen] == '/' ? name_start + nlen : "/";
    fn_def_t *d = fn_def_find(f, name);
    const char *auth = d != NULL && d->url != NULL
                           ? json_string_value(json_object_get(d->url, "AuthType"))
                           : NULL;
    if (auth == NULL) {
        fn_def_unref(d);
        url_error(resp, 404, "Not Found");
        return;
    }
    http_caller_t caller;
    const http_caller_t *who = NULL;
    if (strcmp(auth, "AWS_IAM") == 0) {
        char msg[800];
        if (sts_verify(f->o.sts, req, "lambda", util_now_ms() / 1000, &caller, msg,
                       sizeof msg) != 0 ||
            sts_authorize(f->o.sts, &caller, "lambda:InvokeFunctionUrl", d->arn, NULL) != 0) {
            fn_def_unref(d);
            url_error(resp, 403, "Forbidden");
            return;
        }
        who = &caller;
    }
    if (req->body_len > f->o.max_payload) {
        fn_def_unref(d);
        url_error(resp, 413, "Request Entity Too Large");
        return;
    }
    http_later_t *later = http_defer(req, resp);
    if (later == NULL) {
        fn_def_unref(d);
        url_error(resp, 500, "Internal Server Error");
        return;
    }
    fn_inv_t *inv = fn_inv_new(d);
    inv->payload = (unsigned char *)url_event(f, d, req, raw_path, who);
    inv->payload_len = strlen((char *)inv->payload);
    inv->cognito_identity = cognito_identity(f, who);
    fn_def_unref(d);
    url_ctx_t *c = xmalloc(sizeof *c);
    c->later = later;
    c->resp = resp;
    inv->ctx = c;
    inv->done = url_done;
    fn_pool_submit(f, inv);
}
