/* functions.h - the Lambda service: functions, their warm instances, the
 * Lambda REST API, the Runtime API and asynchronous events.
 *
 * A function is a folder of code plus a configuration (runtime, handler,
 * timeout, memory, environment, concurrency, execution role). Functions come
 * from three places: the folders under functions/examples/ (each with a
 * function.json manifest), cloudlet.json's "functions", and the Lambda API
 * (CreateFunction), whose functions are kept in LMDB and their code under
 * DATA/functions/.
 *
 * An invoke goes to an idle warm instance of the function, or starts a new one
 * (a separate process, wire doc 5.4) up to the function's concurrency limit;
 * past it the caller gets TooManyRequestsException. Instances talk to cloudlet
 * through the Runtime API, served by this module on a loopback port of their
 * own, which is how cloudlet knows which instance is asking. One event-loop
 * thread serves every Runtime API connection, reads the instances' output and
 * notices their exits; a runtime's long poll for its next event holds no
 * thread, and neither does an invoke waiting for its result (http_defer).
 */
#ifndef CLOUDLET_FUNCTIONS_H
#define CLOUDLET_FUNCTIONS_H

#include <stddef.h>

#include <jansson.h>

#include "common/http.h"
#include "storage/storage.h"
#include "sts/sts.h"

typedef struct fn fn_t;

typedef struct fn_options {
    storage_t *st;          /* function records, the event queue, S3 code */
    sts_t *sts;             /* execution-role credentials */
    const char *data_dir;   /* DATA: code of API-made functions goes to DATA/functions/ */
    const char *region;
    const char *account_id;
    const char *endpoint;   /* cloudlet's public URL: AWS_ENDPOINT_URL of instances */
    const char *examples_dir; /* folders with function.json; NULL or missing = none */
    const char *runtimes_dir; /* functions/runtimes: the Node.js and Python bootstraps */
    const char *sdk_dir;      /* node_modules holding the AWS SDK (NODE_PATH), may be NULL */
    const json_t *functions;  /* cloudlet.json "functions" (borrowed), may be NULL */
    const char *node;         /* interpreter paths; NULL = search the usual places */
    const char *python;
    unsigned keep_warm_seconds;   /* idle instances stop after this: 300 */
    unsigned max_concurrency;     /* instances per function without a reservation: 16 */
    unsigned event_retry_ms;      /* delay before an async event's first retry: 1000 */
    size_t max_payload;           /* synchronous request and response: 6 MB */
} fn_options_t;

/* Fill *o's numeric fields with the defaults above (pointers stay NULL). */
void fn_default_options(fn_options_t *o);

/* Load every function (manifests, config, LMDB records). Nothing runs yet.
 * Returns 0, or -1 with a message naming the function and field in err. */
int fn_open(fn_t **out, const fn_options_t *o, char *err, size_t errsz);

/* Start the event loop: instances can start, queued events run. */
int fn_start(fn_t *f, char *err, size_t errsz);

/* Stop: refuse new invokes, answer every waiting one with an error, stop
 * every instance. Call before the HTTP server stops (it cannot stop while
 * invokes wait on suspended connections). Accepts NULL. */
void fn_shutdown(fn_t *f);

/* Free everything (after fn_shutdown). Accepts NULL. */
void fn_close(fn_t *f);

/* The Lambda REST API (/2015-03-31/functions..., restJson1). Must be called
 * with req->caller set by a verified signature (an unsigned request gets
 * 403). An invoke answers later through http_defer. */
void fn_handle_api(fn_t *f, const http_req_t *req, http_resp_t *resp);

/* Function URLs: /fn/<name>/<path...>, any method; answered later. */
void fn_handle_url(fn_t *f, const http_req_t *req, http_resp_t *resp);

/* The IAM action and resource of a Lambda API request, for sts_authorize:
 * ("lambda:InvokeFunction", "arn:aws:lambda:<region>:<acct>:function:<name>").
 * Returns 0 with both filled, or 1 when no permission is needed. */
int fn_request_action(fn_t *f, const http_req_t *req, char *action, size_t actionsz,
                      char *resource, size_t resourcesz);

/* The names of all functions as a JSON array text (caller frees), for
 * /.well-known/cloudlet.json. */
char *fn_names_json(fn_t *f);

/* Queue an asynchronous invoke of `name` with `payload` (an S3 event) durably.
 * Returns 0, or -1 when there is no such function or the queue is full. */
int fn_enqueue(fn_t *f, const char *name, const void *payload, size_t len);

#endif
