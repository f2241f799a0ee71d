/* lambda_runtime.h - a small client for the AWS Lambda Runtime API, for
 * functions written in C as custom runtimes (runtime "provided.al2023").
 *
 * A custom runtime is a program named `bootstrap` that asks the Runtime API
 * for the next event, handles it and posts the result, forever. This library
 * speaks that protocol over one keep-alive HTTP/1.1 connection to
 * AWS_LAMBDA_RUNTIME_API, with nothing beyond libc, so a function author can
 * copy lambda_runtime.h and lambda_runtime.c next to their code and build:
 *
 *     cc -O2 -std=c11 main.c lambda_runtime.c -o bootstrap
 *
 * The simplest bootstrap hands a handler to lr_run:
 *
 *     static int handle(const lr_invocation_t *inv, lr_buf_t *out, char *err_type,
 *                       size_t err_type_size, char *err_msg, size_t err_msg_size, void *ctx)
 *     {
 *         return lr_buf_append(out, inv->event, inv->event_len);   (an echo)
 *     }
 *     int main(void) { return lr_run(handle, NULL); }
 *
 * Programs that need a different loop (initialisation that can fail, several
 * results per event) use lr_open, lr_next, lr_respond and lr_fail directly.
 *
 * Not thread-safe: a runtime belongs to one thread. No global state: all of it
 * lives in the lr_runtime_t. Allocation failure aborts the process with a
 * message on stderr (a function out of memory cannot do anything useful).
 */
#ifndef LAMBDA_RUNTIME_H
#define LAMBDA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* Lambda's limit on a synchronous invocation's request and response payload. */
#define LR_PAYLOAD_MAX (6u * 1024 * 1024)
/* The largest event lr_next accepts: the payload limit plus slack for a
 * server that counts a little differently. */
#define LR_EVENT_MAX (LR_PAYLOAD_MAX + 256u * 1024)
/* The largest response head (status line and headers) the library reads. */
#define LR_HEAD_MAX (64u * 1024)

/* Error codes; every failing function returns one of these (all negative). */
enum {
    LR_ESYS = -1,    /* a system call failed (connect, read, write) */
    LR_ECLOSED = -2, /* the server closed the connection without answering */
    LR_EPROTO = -3,  /* the server's answer is not HTTP this library understands */
    LR_ETOOBIG = -4, /* a response head, event or body is over its limit */
    LR_ESTATUS = -5, /* the server answered with an unexpected HTTP status */
};

/* A short description of an error code ("unexpected HTTP status"); static storage. */
const char *lr_strerror(int code);

/* ---- growable output buffer ---- */

/* A growable byte buffer with a hard upper bound. `data` is NUL-terminated one
 * past `len` once anything was appended (NULL before), so text can be used as a
 * C string. An append that would pass `limit` fails and sets `overflow`, which
 * stays set until lr_buf_reset, so a handler may append without checking each
 * call and lr_run still notices. */
typedef struct lr_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit; /* most bytes it may hold; 0 at lr_buf_init means SIZE_MAX / 2 */
    int overflow; /* an append was refused */
} lr_buf_t;

/* Initialise an empty buffer that refuses to grow past `limit` bytes. */
void lr_buf_init(lr_buf_t *b, size_t limit);
/* Append n bytes. Returns 0, or -1 (buffer unchanged, overflow set) if the
 * limit would be passed. */
int lr_buf_append(lr_buf_t *b, const void *p, size_t n);
int lr_buf_puts(lr_buf_t *b, const char *s);
int lr_buf_printf(lr_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append n bytes of unspecified content and return a pointer to them for the
 * caller to fill (valid until the next append), or NULL as lr_buf_append fails. */
char *lr_buf_extend(lr_buf_t *b, size_t n);
/* Append s (n bytes) as a JSON string literal, quotes included: '"', '\\' and
 * control characters are escaped, and bytes that are not well-formed UTF-8
 * become U+FFFD, so the result is always valid JSON. Returns 0 or -1 (limit;
 * the buffer may then hold part of the literal). */
int lr_buf_json_string(lr_buf_t *b, const char *s, size_t n);
/* Empty the buffer (keeping its memory for reuse) and clear overflow. */
void lr_buf_reset(lr_buf_t *b);
/* Release the memory; the buffer is then empty and may be reused. */
void lr_buf_free(lr_buf_t *b);

/* Length (1 to 4) of the well-formed UTF-8 character at p, where n bytes are
 * readable, or 0 if there is none: n == 0, a stray continuation byte, an
 * overlong form, a surrogate, a code point past U+10FFFF or a truncated sequence. */
size_t lr_utf8_len(const unsigned char *p, size_t n);

/* ---- the Runtime API ---- */

typedef struct lr_runtime lr_runtime_t;

/* One event. Every pointer is borrowed from the runtime and stays valid until
 * the next lr_next or lr_close on it (lr_respond and lr_fail leave it intact). */
typedef struct lr_invocation {
    const char *request_id;       /* Lambda-Runtime-Aws-Request-Id; never NULL */
    const char *function_arn;     /* Lambda-Runtime-Invoked-Function-Arn, or NULL */
    const char *trace_id;         /* Lambda-Runtime-Trace-Id, or NULL */
    const char *client_context;   /* Lambda-Runtime-Client-Context (JSON), or NULL */
    const char *cognito_identity; /* Lambda-Runtime-Cognito-Identity (JSON), or NULL */
    int64_t deadline_ms;          /* Lambda-Runtime-Deadline-Ms (epoch ms), 0 if absent */
    const unsigned char *event;   /* the payload, event_len bytes plus a NUL after them */
    size_t event_len;
} lr_invocation_t;

/* Make a runtime for the Runtime API named by the environment variable
 * AWS_LAMBDA_RUNTIME_API ("host:port", "[v6addr]:port"). A numeric address is
 * parsed without DNS; a name is resolved here, once. Does not connect: the
 * connection is made by the first request. Returns NULL, with a message on
 * stderr, if the variable is unset or unusable. Free with lr_close. */
lr_runtime_t *lr_open(void);

/* Close the connection and free the runtime. Accepts NULL. */
void lr_close(lr_runtime_t *rt);

/* The message of the runtime's last failure, naming the request, the server
 * and the cause ("GET /2018-06-01/runtime/invocation/next (127.0.0.1:9001):
 * HTTP 500 <start of the body>"); "" before any. Valid until the next call on rt. */
const char *lr_errmsg(const lr_runtime_t *rt);

/* Wait (without a time limit: this is a long poll) for the next event and
 * fill *out with it. Returns 0, or a negative LR_E* code, with lr_errmsg set,
 * if the request fails, the status is not 200, the answer lacks a request id,
 * or the event is over LR_EVENT_MAX bytes (LR_ETOOBIG). A custom runtime
 * should exit when this fails. */
int lr_next(lr_runtime_t *rt, lr_invocation_t *out);

/* Post the result of inv: `body` (len bytes, borrowed for the call). Flushes
 * stdout and stderr first, so the function's log lines reach the server
 * before its result. Returns 0 on 202 (any 2xx), or a negative LR_E* code:
 * LR_ESTATUS when the server refused the result (too large, unknown request
 * id), which a runtime may log and carry on from; anything else means the
 * server is gone. */
int lr_respond(lr_runtime_t *rt, const lr_invocation_t *inv, const void *body, size_t len);

/* Report that inv failed. `error_type` ("InvalidEvent"; NULL or "" mean
 * "Unhandled") becomes the Lambda-Runtime-Function-Error-Type header and
 * errorType, with bytes that cannot appear in a header replaced by '_' and
 * cut at 128 bytes; `message` (NULL means "") becomes errorMessage. Flushes
 * stdout and stderr first. Returns as lr_respond. */
int lr_fail(lr_runtime_t *rt, const lr_invocation_t *inv, const char *error_type,
            const char *message);

/* Report that the function could not initialise (before its first lr_next);
 * the server then fails the pending invocation. Arguments and result as lr_fail. */
int lr_init_fail(lr_runtime_t *rt, const char *error_type, const char *message);

/* Milliseconds left before inv's deadline (negative once it has passed), or
 * INT64_MAX if the server sent no deadline. */
int64_t lr_remaining_ms(const lr_invocation_t *inv);

/* A handler for lr_run. It reads inv and appends its result to `out` (empty
 * on entry; limited to LR_PAYLOAD_MAX bytes), and returns 0 for success. To
 * fail the invocation instead it returns non-zero, optionally writing an
 * error type and message (NUL-terminated, at most err_type_size and
 * err_msg_size bytes; both are "" on entry). `ctx` is lr_run's argument. */
typedef int (*lr_handler_fn)(const lr_invocation_t *inv, lr_buf_t *out, char *err_type,
                             size_t err_type_size, char *err_msg, size_t err_msg_size, void *ctx);

/* The usual custom-runtime loop: open the runtime, then for every event call
 * handler and post its result, or an error (type "Unhandled" if the handler
 * gave none; "Function.ResponseSizeTooLarge" if it overflowed `out`). A result
 * the server refuses with an HTTP error is logged to stderr and the loop goes
 * on. Returns, with a message on stderr, only when the Runtime API cannot be
 * used: the process exit status, 1. */
int lr_run(lr_handler_fn handler, void *ctx);

#endif
