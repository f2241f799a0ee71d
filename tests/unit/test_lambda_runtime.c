/* test_lambda_runtime.c - unit tests for the C custom-runtime library
 * (functions/runtimes/c/lambda_runtime.h) and the `shout` example built on it
 * (functions/examples/shout/shout.c, included here).
 *
 * Each test talks to a fake Runtime API: a thread listening on 127.0.0.1:0
 * that plays a script of canned answers, one per request, in order (whole,
 * or dribbled out a few bytes at a time, optionally closing the connection
 * afterwards), and records every request it reads so the test can check the
 * method, path, headers and body the library sent. The thread never calls
 * cmocka: only the main thread asserts, after the call under test returned.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* the Makefile builds with _GNU_SOURCE; a bare cc may not */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "functions/runtimes/c/lambda_runtime.h"
#include "functions/examples/shout/shout.c"

#define MAX_STEPS 16
#define WAIT_MS 10000 /* the fake server gives up on a silent client after this */

/* ---- the fake Runtime API ---- */

/* One canned answer. */
typedef struct step {
    char *raw; /* bytes to send; NULL closes the connection without answering */
    size_t len;
    size_t split;    /* send in pieces of this many bytes, pausing between them; 0 = whole */
    int close_after; /* close the connection after answering */
    int early;       /* answer (and close) after the request head, leaving the body unread */
} step_t;

/* One request as the server read it. */
typedef struct request {
    char *head; /* request line and headers, NUL-terminated */
    char *body;
    size_t body_len;
    int conn; /* which accepted connection it came on, from 1 */
} request_t;

typedef struct fake {
    int lfd;
    int port;
    char api[32];
    pthread_t thread;
    int started;
    atomic_int stop;
    step_t steps[MAX_STEPS];
    size_t nsteps;
    pthread_mutex_t mu; /* guards reqs, nreqs, accepts */
    request_t reqs[MAX_STEPS];
    size_t nreqs;
    int accepts;
    lr_runtime_t *rt; /* the test's runtime, closed by teardown */
} fake_t;

static char *dup_bytes(const void *p, size_t n)
{
    char *q = malloc(n + 1);
    if (q == NULL)
        abort(); /* also called on the server thread, where cmocka must not be */
    memcpy(q, p, n);
    q[n] = '\0';
    return q;
}

/* Append a step whose bytes are printf-formatted. */
static void fake_stepf(fake_t *f, size_t split, int close_after, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fake_stepf(fake_t *f, size_t split, int close_after, const char *fmt, ...)
{
    assert_true(f->nsteps < MAX_STEPS);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    step_t *s = &f->steps[f->nsteps++];
    s->raw = malloc((size_t)n + 1);
    assert_non_null(s->raw);
    va_start(ap, fmt);
    vsnprintf(s->raw, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len = (size_t)n;
    s->split = split;
    s->close_after = close_after;
}

/* Append a step that takes raw (len bytes, copied). */
static void fake_step_raw(fake_t *f, const void *raw, size_t len, int close_after)
{
    assert_true(f->nsteps < MAX_STEPS);
    step_t *s = &f->steps[f->nsteps++];
    s->raw = raw != NULL ? dup_bytes(raw, len) : NULL;
    s->len = len;
    s->split = 0;
    s->close_after = close_after;
}

/* An answer to `next` with a request id, a deadline 3 s ahead and an event. */
static void fake_next(fake_t *f, const char *id, const char *event)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long deadline = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 3000;
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: %s\r\n"
               "Lambda-Runtime-Deadline-Ms: %lld\r\nContent-Type: application/json\r\n"
               "Content-Length: %zu\r\n\r\n%s",
               id, deadline, strlen(event), event);
}

/* An answer with a status and a body. */
static void fake_status(fake_t *f, int status, const char *body)
{
    fake_stepf(f, 0, 0,
               "HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\n"
               "Content-Length: %zu\r\n\r\n%s",
               status, strlen(body), body);
}

static void fake_accepted(fake_t *f)
{
    fake_status(f, 202, "{\"status\":\"OK\"}");
}

/* Wait until fd is readable. Returns 0, or -1 on stop or after WAIT_MS. */
static int wait_readable(fake_t *f, int fd)
{
    for (int waited = 0; waited < WAIT_MS; waited += 20) {
        if (atomic_load(&f->stop))
            return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, 20);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
    return -1;
}

/* Read one request from cfd into *rq, keeping extra bytes in buf (*len).
 * Returns 0, or -1 if the client closed the connection or went silent. */
static int read_request(fake_t *f, int cfd, char *buf, size_t cap, size_t *len, request_t *rq,
                        int head_only)
{
    char *end;
    for (;;) {
        buf[*len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL)
            break;
        if (*len == cap - 1 || wait_readable(f, cfd) != 0)
            return -1;
        ssize_t n = read(cfd, buf + *len, cap - 1 - *len);
        if (n <= 0)
            return -1;
        *len += (size_t)n;
    }
    size_t head_len = (size_t)(end - buf) + 4;
    size_t body_len = 0;
    for (char *p = buf; p < end; p++) {
        if (strncasecmp(p, "\r\nContent-Length:", 17) == 0)
            body_len = strtoul(p + 17, NULL, 10);
    }
    if (head_only)
        body_len = 0;
    char *body = malloc(body_len + 1);
    if (body == NULL)
        return -1;
    size_t got = *len - head_len < body_len ? *len - head_len : body_len;
    memcpy(body, buf + head_len, got);
    while (got < body_len) {
        ssize_t n = wait_readable(f, cfd) == 0 ? read(cfd, body + got, body_len - got) : -1;
        if (n <= 0) {
            free(body);
            return -1;
        }
        got += (size_t)n;
    }
    body[body_len] = '\0';
    rq->head = dup_bytes(buf, head_len);
    rq->body = body;
    rq->body_len = body_len;
    size_t used = head_len + (*len - head_len < body_len ? *len - head_len : body_len);
    memmove(buf, buf + used, *len - used);
    *len -= used;
    return 0;
}

static void send_step(int cfd, const step_t *s)
{
    size_t piece = s->split ? s->split : s->len;
    for (size_t off = 0; off < s->len; off += piece) {
        size_t n = s->len - off < piece ? s->len - off : piece;
        size_t done = 0;
        while (done < n) {
            ssize_t w = send(cfd, s->raw + off + done, n - done, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return; /* the client gave up, as some tests expect */
            done += (size_t)w;
        }
        if (s->split) {
            struct timespec pause = {0, 50 * 1000};
            nanosleep(&pause, NULL);
        }
    }
}

static void *serve(void *arg)
{
    fake_t *f = arg;
    size_t cap = 256 * 1024;
    char *buf = malloc(cap);
    size_t len = 0;
    int cfd = -1;
    size_t next = 0;
    while (buf != NULL && next < f->nsteps) {
        if (cfd < 0) {
            if (wait_readable(f, f->lfd) != 0)
                break;
            cfd = accept(f->lfd, NULL, NULL);
            if (cfd < 0)
                break;
            int one = 1;
            setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            pthread_mutex_lock(&f->mu);
            f->accepts++;
            pthread_mutex_unlock(&f->mu);
            len = 0;
        }
        request_t rq = {0};
        const step_t *s = &f->steps[next];
        if (read_request(f, cfd, buf, cap, &len, &rq, s->early) != 0) {
            close(cfd);
            cfd = -1;
            continue;
        }
        pthread_mutex_lock(&f->mu);
        rq.conn = f->accepts;
        f->reqs[f->nreqs++] = rq;
        pthread_mutex_unlock(&f->mu);
        next++;
        if (s->raw != NULL)
            send_step(cfd, s);
        if (s->raw == NULL || s->close_after || s->early) {
            close(cfd);
            cfd = -1;
        }
    }
    if (cfd >= 0)
        close(cfd);
    free(buf);
    return NULL;
}

static int setup(void **state)
{
    fake_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(f->lfd, 8) != 0 || getsockname(f->lfd, (struct sockaddr *)&a, &alen) != 0) {
        free(f);
        return -1;
    }
    f->port = ntohs(a.sin_port);
    snprintf(f->api, sizeof f->api, "127.0.0.1:%d", f->port);
    setenv("AWS_LAMBDA_RUNTIME_API", f->api, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fake_t *f = *state;
    lr_close(f->rt);
    atomic_store(&f->stop, 1);
    if (f->started)
        pthread_join(f->thread, NULL);
    close(f->lfd);
    for (size_t i = 0; i < f->nsteps; i++)
        free(f->steps[i].raw);
    for (size_t i = 0; i < f->nreqs; i++) {
        free(f->reqs[i].head);
        free(f->reqs[i].body);
    }
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* Start serving the script and open the runtime on it. */
static lr_runtime_t *fake_start(fake_t *f)
{
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
    f->started = 1;
    f->rt = lr_open();
    assert_non_null(f->rt);
    return f->rt;
}

/* Request i as recorded (the caller's call has returned, so it is there). */
static const request_t *req(fake_t *f, size_t i)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nreqs;
    pthread_mutex_unlock(&f->mu);
    if (i >= n)
        fail_msg("request %zu was not received (%zu were)", i, n);
    return &f->reqs[i];
}

static int accepts(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->accepts;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Assert the request head holds the line exactly (CRLF-delimited). */
static void assert_header(const request_t *rq, const char *line)
{
    char want[512];
    snprintf(want, sizeof want, "\r\n%s\r\n", line);
    if (strstr(rq->head, want) == NULL)
        fail_msg("no header line \"%s\" in:\n%s", line, rq->head);
}

static void assert_request_line(const request_t *rq, const char *line)
{
    size_t n = strlen(line);
    if (strncmp(rq->head, line, n) != 0 || strncmp(rq->head + n, "\r\n", 2) != 0)
        fail_msg("request line is not \"%s\":\n%s", line, rq->head);
}

static void assert_ok(lr_runtime_t *rt, int rc)
{
    if (rc != 0)
        fail_msg("rc %d: %s", rc, lr_errmsg(rt));
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- next ---- */

static void test_next_headers(void **state)
{
    fake_t *f = *state;
    const char *ev = "{\"msg\":\"hi\"}";
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\n"
               "content-type: application/json\r\n"
               "lambda-runtime-aws-request-id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
               "LAMBDA-RUNTIME-DEADLINE-MS: 1542409706888\r\n"
               "Lambda-Runtime-Invoked-Function-Arn: "
               "arn:aws:lambda:us-east-1:000000000000:function:shout\r\n"
               "Lambda-Runtime-Trace-Id: \t Root=1-5bef4de7-ad49b0e8;Sampled=1 \r\n"
               "Lambda-Runtime-Client-Context: {\"custom\":{\"k\":\"v\"}}\r\n"
               "Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"id-1\"}\r\n"
               "Content-Length: %zu\r\n"
               "\r\n%s",
               strlen(ev), ev);
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    assert_true(inv.deadline_ms == 1542409706888LL);
    assert_string_equal(inv.function_arn, "arn:aws:lambda:us-east-1:000000000000:function:shout");
    assert_string_equal(inv.trace_id, "Root=1-5bef4de7-ad49b0e8;Sampled=1");
    assert_string_equal(inv.client_context, "{\"custom\":{\"k\":\"v\"}}");
    assert_string_equal(inv.cognito_identity, "{\"cognitoIdentityId\":\"id-1\"}");
    assert_int_equal(inv.event_len, strlen(ev));
    assert_memory_equal(inv.event, ev, inv.event_len);
    assert_int_equal(inv.event[inv.event_len], '\0');

    const request_t *rq = req(f, 0);
    assert_request_line(rq, "GET /2018-06-01/runtime/invocation/next HTTP/1.1");
    char host[64];
    snprintf(host, sizeof host, "Host: %s", f->api);
    assert_header(rq, host);
    assert_header(rq, "Content-Length: 0");
    assert_int_equal(rq->body_len, 0);
}

static void test_next_minimal(void **state)
{
    fake_t *f = *state;
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\n"
               "Content-Length: 0\r\n\r\n");
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "r1");
    assert_null(inv.function_arn);
    assert_null(inv.trace_id);
    assert_null(inv.client_context);
    assert_null(inv.cognito_identity);
    assert_true(inv.deadline_ms == 0);
    assert_true(lr_remaining_ms(&inv) == INT64_MAX);
    assert_int_equal(inv.event_len, 0);
    assert_non_null(inv.event);
    assert_int_equal(inv.event[0], '\0');
}

/* Chunked bodies, with extensions and trailers, and answers dribbled out a
 * few bytes at a time; all on one connection, so each framing must end
 * exactly where the answer does. */
static void test_next_chunked_and_split(void **state)
{
    fake_t *f = *state;
    static const char chunked[] = "HTTP/1.1 200 OK\r\n"
                                  "Lambda-Runtime-Aws-Request-Id: c1\r\n"
                                  "Transfer-Encoding: chunked\r\n"
                                  "\r\n"
                                  "5\r\n{\"a\":\r\n"
                                  "A;ext=1\r\n\"chunked!\"\r\n"
                                  "1\r\n}\r\n"
                                  "0\r\nX-Trailer: t\r\n\r\n";
    fake_step_raw(f, chunked, sizeof chunked - 1, 0);
    char big[3001];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof big - 1] = '\0';
    fake_stepf(f, 7, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: s2\r\n"
               "Content-Length: %zu\r\n\r\n%s",
               strlen(big), big);
    fake_step_raw(f, chunked, sizeof chunked - 1, 0);
    f->steps[2].split = 1;
    fake_next(f, "after", "{}");
    lr_runtime_t *rt = fake_start(f);

    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "c1");
    assert_string_equal((const char *)inv.event, "{\"a\":\"chunked!\"}");
    assert_int_equal(inv.event_len, 16);

    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "s2");
    assert_int_equal(inv.event_len, strlen(big));
    assert_memory_equal(inv.event, big, inv.event_len);

    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "c1");
    assert_string_equal((const char *)inv.event, "{\"a\":\"chunked!\"}");

    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "after");
    assert_string_equal((const char *)inv.event, "{}");
    assert_int_equal(accepts(f), 1);
}

/* An interim 100 answer is skipped; HTTP/1.0 answers close the connection. */
static void test_next_interim_and_http10(void **state)
{
    fake_t *f = *state;
    fake_stepf(f, 0, 0,
               "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
               "Lambda-Runtime-Aws-Request-Id: i1\r\nContent-Length: 2\r\n\r\n{}");
    fake_stepf(f, 0, 1, "HTTP/1.0 200 OK\r\nLambda-Runtime-Aws-Request-Id: h1\r\n\r\n[1,2]");
    fake_next(f, "n3", "3");
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "i1");
    assert_string_equal((const char *)inv.event, "{}");
    /* no length: the body runs to the end of the connection */
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "h1");
    assert_string_equal((const char *)inv.event, "[1,2]");
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal((const char *)inv.event, "3");
    assert_int_equal(accepts(f), 2);
}

static void test_next_bad_status(void **state)
{
    fake_t *f = *state;
    fake_status(f, 500, "{\"errorMessage\":\"boom\"}");
    fake_status(f, 403, "");
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_int_equal(lr_next(rt, &inv), LR_ESTATUS);
    assert_non_null(strstr(lr_errmsg(rt), "HTTP 500"));
    assert_non_null(strstr(lr_errmsg(rt), "boom"));
    assert_non_null(strstr(lr_errmsg(rt), "/runtime/invocation/next"));
    assert_int_equal(lr_next(rt, &inv), LR_ESTATUS);
    assert_non_null(strstr(lr_errmsg(rt), "HTTP 403"));
    assert_string_equal(lr_strerror(LR_ESTATUS), "unexpected HTTP status");
}

/* Answers the library cannot trust: each is refused and the connection
 * dropped, and the next request works on a fresh one. */
static void test_next_malformed(void **state)
{
    fake_t *f = *state;
    fake_stepf(f, 0, 0, "HTTP/2 200\r\n\r\n");
    fake_stepf(f, 0, 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"); /* no request id */
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\n"
               "Transfer-Encoding: gzip\r\n\r\n");
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\n"
               "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}");
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\n"
               "Transfer-Encoding: chunked\r\n\r\nzz\r\n");
    /* the body is cut short: the server closes after 2 of 10 bytes */
    fake_stepf(f, 0, 1,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\n"
               "Content-Length: 10\r\n\r\n{}");
    fake_step_raw(f, NULL, 0, 1);
    fake_next(f, "good", "{}");
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_int_equal(lr_next(rt, &inv), LR_EPROTO);
    assert_int_equal(lr_next(rt, &inv), LR_EPROTO);
    assert_non_null(strstr(lr_errmsg(rt), "Request-Id"));
    assert_int_equal(lr_next(rt, &inv), LR_EPROTO);
    assert_int_equal(lr_next(rt, &inv), LR_EPROTO);
    assert_int_equal(lr_next(rt, &inv), LR_EPROTO);
    assert_int_equal(lr_next(rt, &inv), LR_EPROTO);
    /* a fresh connection closed without an answer is not retried */
    assert_int_equal(lr_next(rt, &inv), LR_ECLOSED);
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "good");
}

static void test_next_too_big(void **state)
{
    fake_t *f = *state;
    /* a declared length over the limit is refused before anything is read */
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: big\r\n"
               "Content-Length: %u\r\n\r\n{\"a\":",
               LR_EVENT_MAX + 1);
    /* so is a chunked body that grows past it */
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: big\r\n"
               "Transfer-Encoding: chunked\r\n\r\n%x\r\n",
               LR_EVENT_MAX + 1);
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: big\r\n"
               "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n");
    /* and a head over 64 KiB */
    char *pad = malloc(LR_HEAD_MAX + 1);
    assert_non_null(pad);
    memset(pad, 'p', LR_HEAD_MAX);
    pad[LR_HEAD_MAX] = '\0';
    fake_stepf(f, 0, 0,
               "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: big\r\n"
               "X-Pad: %s\r\nContent-Length: 2\r\n\r\n{}",
               pad);
    free(pad);
    /* an event of exactly LR_EVENT_MAX bytes is fine */
    char *ev = malloc(LR_EVENT_MAX + 1);
    assert_non_null(ev);
    memset(ev, ' ', LR_EVENT_MAX);
    ev[0] = '"';
    ev[LR_EVENT_MAX - 1] = '"';
    ev[LR_EVENT_MAX] = '\0';
    fake_next(f, "max", ev);
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_int_equal(lr_next(rt, &inv), LR_ETOOBIG);
    assert_int_equal(lr_next(rt, &inv), LR_ETOOBIG);
    assert_int_equal(lr_next(rt, &inv), LR_ETOOBIG);
    assert_int_equal(lr_next(rt, &inv), LR_ETOOBIG);
    assert_non_null(strstr(lr_errmsg(rt), "head"));
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "max");
    assert_int_equal(inv.event_len, LR_EVENT_MAX);
    assert_memory_equal(inv.event, ev, LR_EVENT_MAX);
    free(ev);
    assert_int_equal(accepts(f), 5);
}

/* ---- posting results ---- */

static void test_respond(void **state)
{
    fake_t *f = *state;
    fake_next(f, "abc/def?x y", "{\"k\":1}");
    fake_accepted(f);
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    static const char body[] = "a\0b\xff\r\n";
    assert_ok(rt, lr_respond(rt, &inv, body, sizeof body - 1));
    /* the invocation outlives the response */
    assert_string_equal(inv.request_id, "abc/def?x y");
    assert_string_equal((const char *)inv.event, "{\"k\":1}");

    const request_t *rq = req(f, 1);
    assert_request_line(rq,
                        "POST /2018-06-01/runtime/invocation/abc%2Fdef%3Fx%20y/response HTTP/1.1");
    assert_header(rq, "Content-Length: 6");
    assert_int_equal(rq->body_len, 6);
    assert_memory_equal(rq->body, body, 6);
    assert_int_equal(rq->conn, 1);
}

static void test_respond_refused(void **state)
{
    fake_t *f = *state;
    fake_next(f, "r1", "{}");
    fake_status(f, 413, "{\"errorMessage\":\"Exceeded maximum allowed payload size\"}");
    fake_accepted(f);
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    assert_int_equal(lr_respond(rt, &inv, "x", 1), LR_ESTATUS);
    assert_non_null(strstr(lr_errmsg(rt), "HTTP 413"));
    assert_non_null(strstr(lr_errmsg(rt), "/runtime/invocation/r1/response"));
    /* the connection is still good */
    assert_ok(rt, lr_respond(rt, &inv, "", 0));
    assert_header(req(f, 2), "Content-Length: 0");
    assert_int_equal(accepts(f), 1);
}

/* A server that refuses a large result answers before reading it and closes
 * the connection: the answer is what lr_respond reports, not the reset. */
static void test_respond_refused_early(void **state)
{
    fake_t *f = *state;
    fake_next(f, "r1", "{}");
    fake_status(f, 413, "{\"errorMessage\":\"Payload too large\"}");
    f->steps[1].early = 1;
    fake_next(f, "r2", "{}");
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    size_t len = 16u * 1024 * 1024; /* more than the socket buffers hold */
    char *big = calloc(1, len);
    assert_non_null(big);
    int rc = lr_respond(rt, &inv, big, len);
    free(big);
    if (rc != LR_ESTATUS)
        fail_msg("rc %d: %s", rc, lr_errmsg(rt));
    assert_non_null(strstr(lr_errmsg(rt), "HTTP 413"));
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "r2");
    assert_int_equal(accepts(f), 2);
}

static void test_fail(void **state)
{
    fake_t *f = *state;
    fake_next(f, "r1", "{}");
    fake_accepted(f);
    fake_accepted(f);
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    const char *msg = "say \"hi\" \\ back\nslash\ttab\x01\x1f\x7f caf\xc3\xa9 \xff end";
    assert_ok(rt, lr_fail(rt, &inv, "Bad\r\nX-Injected: 1", msg));

    const request_t *rq = req(f, 1);
    assert_request_line(rq, "POST /2018-06-01/runtime/invocation/r1/error HTTP/1.1");
    assert_header(rq, "Lambda-Runtime-Function-Error-Type: Bad__X-Injected: 1");
    assert_header(rq, "Content-Type: application/vnd.aws.lambda.error+json");
    assert_null(strstr(rq->head, "\r\nX-Injected"));
    assert_string_equal(rq->body, "{\"errorMessage\":\"say \\\"hi\\\" \\\\ back\\nslash\\ttab"
                                  "\\u0001\\u001f\\u007f caf\xc3\xa9 \\ufffd end\","
                                  "\"errorType\":\"Bad__X-Injected: 1\",\"stackTrace\":[]}");
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu", strlen(rq->body));
    assert_header(rq, cl);

    assert_ok(rt, lr_fail(rt, &inv, NULL, NULL));
    rq = req(f, 2);
    assert_header(rq, "Lambda-Runtime-Function-Error-Type: Unhandled");
    assert_string_equal(rq->body,
                        "{\"errorMessage\":\"\",\"errorType\":\"Unhandled\",\"stackTrace\":[]}");
}

static void test_init_fail(void **state)
{
    fake_t *f = *state;
    fake_accepted(f);
    lr_runtime_t *rt = fake_start(f);
    assert_ok(rt, lr_init_fail(rt, "Runtime.ConfigError", "TABLE is \"unset\""));
    const request_t *rq = req(f, 0);
    assert_request_line(rq, "POST /2018-06-01/runtime/init/error HTTP/1.1");
    assert_header(rq, "Lambda-Runtime-Function-Error-Type: Runtime.ConfigError");
    assert_header(rq, "Content-Type: application/vnd.aws.lambda.error+json");
    assert_string_equal(rq->body, "{\"errorMessage\":\"TABLE is \\\"unset\\\"\","
                                  "\"errorType\":\"Runtime.ConfigError\",\"stackTrace\":[]}");
}

/* ---- the connection ---- */

static void test_keep_alive(void **state)
{
    fake_t *f = *state;
    for (int i = 0; i < 3; i++) {
        fake_next(f, "k", "{}");
        fake_accepted(f);
    }
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    assert_ok(rt, lr_respond(rt, &inv, "1", 1));
    assert_ok(rt, lr_next(rt, &inv));
    assert_ok(rt, lr_fail(rt, &inv, "E", "m"));
    assert_ok(rt, lr_next(rt, &inv));
    assert_ok(rt, lr_respond(rt, &inv, "3", 1));
    assert_int_equal(accepts(f), 1);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(req(f, i)->conn, 1);
}

/* The server closes an idle keep-alive connection (without saying so, or
 * with Connection: close): the next request goes out on a new one. */
static void test_reconnect(void **state)
{
    fake_t *f = *state;
    fake_next(f, "r1", "{}");
    f->steps[0].close_after = 1;
    fake_accepted(f);
    f->steps[1].close_after = 1;
    fake_next(f, "r2", "{}");
    fake_stepf(f, 0, 1, "HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    fake_next(f, "r3", "{}");
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    assert_ok(rt, lr_respond(rt, &inv, "a", 1));
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "r2");
    assert_ok(rt, lr_respond(rt, &inv, "b", 1));
    assert_ok(rt, lr_next(rt, &inv));
    assert_string_equal(inv.request_id, "r3");
    assert_int_equal(accepts(f), 4);
    assert_int_equal(req(f, 1)->conn, 2);
    assert_int_equal(req(f, 2)->conn, 3);
    assert_int_equal(req(f, 4)->conn, 4);
    assert_string_equal(req(f, 1)->body, "a");
}

/* Reconnecting happens once: a new connection that also closes is an error. */
static void test_reconnect_once(void **state)
{
    fake_t *f = *state;
    fake_next(f, "r1", "{}");
    f->steps[0].close_after = 1;
    fake_step_raw(f, NULL, 0, 1);
    lr_runtime_t *rt = fake_start(f);
    lr_invocation_t inv;
    assert_ok(rt, lr_next(rt, &inv));
    assert_int_equal(lr_respond(rt, &inv, "a", 1), LR_ECLOSED);
    assert_int_equal(accepts(f), 2);
}

static void test_connect_refused(void **state)
{
    fake_t *f = *state;
    /* the fixture's port, closed before anyone connects */
    close(f->lfd);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    f->rt = lr_open();
    assert_non_null(f->rt);
    lr_invocation_t inv;
    assert_int_equal(lr_next(f->rt, &inv), LR_ESYS);
    assert_non_null(strstr(lr_errmsg(f->rt), "connect"));
}

static void test_open_env(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",         "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x",
        "a:b:9001", "[::1]9001", ":9001",      "[::1:9001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("AWS_LAMBDA_RUNTIME_API", bad[i], 1);
        lr_runtime_t *rt = lr_open();
        if (rt != NULL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    unsetenv("AWS_LAMBDA_RUNTIME_API");
    assert_null(lr_open());
    assert_int_equal(lr_run(shout_handle, NULL), 1);
    static const char *const good[] = {"127.0.0.1:9001", "[::1]:9001", "localhost:9001"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        setenv("AWS_LAMBDA_RUNTIME_API", good[i], 1);
        lr_runtime_t *rt = lr_open();
        if (rt == NULL)
            fail_msg("refused \"%s\"", good[i]);
        lr_close(rt);
    }
    lr_close(NULL);
}

static void test_remaining_ms(void **state)
{
    (void)state;
    lr_invocation_t inv = {0};
    assert_true(lr_remaining_ms(&inv) == INT64_MAX);
    inv.deadline_ms = now_ms() + 5000;
    int64_t left = lr_remaining_ms(&inv);
    assert_true(left > 4000 && left <= 5000);
    inv.deadline_ms = now_ms() - 1000;
    assert_true(lr_remaining_ms(&inv) < 0);
}

/* ---- buffers and text ---- */

static void test_buf(void **state)
{
    (void)state;
    lr_buf_t b;
    lr_buf_init(&b, 8);
    assert_null(b.data);
    assert_int_equal(lr_buf_puts(&b, "abc"), 0);
    assert_int_equal(lr_buf_printf(&b, "%d", 12345), 0);
    assert_string_equal(b.data, "abc12345");
    assert_int_equal(b.overflow, 0);
    assert_int_equal(lr_buf_append(&b, "x", 1), -1);
    assert_int_equal(b.overflow, 1);
    assert_null(lr_buf_extend(&b, 1));
    assert_int_equal(lr_buf_printf(&b, "%s", "y"), -1);
    assert_string_equal(b.data, "abc12345");
    lr_buf_reset(&b);
    assert_int_equal(b.overflow, 0);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    char *p = lr_buf_extend(&b, 3);
    assert_non_null(p);
    memcpy(p, "xyz", 3);
    assert_string_equal(b.data, "xyz");
    lr_buf_free(&b);
    assert_null(b.data);

    lr_buf_init(&b, 0);
    assert_int_equal(lr_buf_json_string(&b, "", 0), 0);
    assert_string_equal(b.data, "\"\"");
    lr_buf_reset(&b);
    /* a NUL, a truncated sequence at the end, and a 4-byte character */
    static const char s[] = "\0\b\f\r/\xf0\x9f\x98\x80\xc3";
    assert_int_equal(lr_buf_json_string(&b, s, sizeof s - 1), 0);
    assert_string_equal(b.data, "\"\\u0000\\b\\f\\r/\xf0\x9f\x98\x80\\ufffd\"");
    lr_buf_free(&b);
    lr_buf_init(&b, 4);
    assert_int_equal(lr_buf_json_string(&b, "abcdef", 6), -1);
    assert_int_equal(b.overflow, 1);
    lr_buf_free(&b);
}

static void test_utf8_len(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n, want;
    } cases[] = {
        {"a", 1, 1},
        {"\xc3\xa9", 2, 2},
        {"\xe2\x82\xac", 3, 3},
        {"\xf0\x9f\x98\x80", 4, 4},
        {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
        {"", 0, 0},
        {"\x80", 1, 0},             /* stray continuation */
        {"\xc0\xaf", 2, 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 3, 0},     /* overlong */
        {"\xf0\x80\x80\xaf", 4, 0}, /* overlong */
        {"\xed\xa0\x80", 3, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0},
        {"\xe2\x82", 2, 0},     /* truncated */
        {"\xe2\x28\xa1", 3, 0}, /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = lr_utf8_len((const unsigned char *)cases[i].s, cases[i].n);
        if (got != cases[i].want)
            fail_msg("case %zu: %zu, want %zu", i, got, cases[i].want);
    }
}

static void test_strerror(void **state)
{
    (void)state;
    static const int codes[] = {LR_ESYS, LR_ECLOSED, LR_EPROTO, LR_ETOOBIG, LR_ESTATUS};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_true(codes[i] < 0);
        assert_string_not_equal(lr_strerror(codes[i]), "unknown error");
    }
    assert_string_equal(lr_strerror(-99), "unknown error");
}

/* ---- shout ---- */

static void expect_shout(const char *in, const char *want)
{
    lr_buf_t out;
    lr_buf_init(&out, 0);
    char err[128] = "";
    if (shout_transform((const unsigned char *)in, strlen(in), &out, err, sizeof err) != 0)
        fail_msg("refused %s: %s", in, err);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    lr_buf_free(&out);
}

static void expect_refused(const char *in, const char *why)
{
    lr_buf_t out;
    lr_buf_init(&out, 0);
    lr_buf_puts(&out, "kept");
    char err[128] = "";
    if (shout_transform((const unsigned char *)in, strlen(in), &out, err, sizeof err) == 0)
        fail_msg("accepted %s", in);
    if (strstr(err, why) == NULL)
        fail_msg("%s: \"%s\" does not say \"%s\"", in, err, why);
    assert_string_equal(out.data, "kept");
    lr_buf_free(&out);
}

static void test_shout_transform(void **state)
{
    (void)state;
    expect_shout("", "");
    expect_shout("{\"msg\":\"hello, World\",\"n\":[1,true,null,-2.5e3],\"o\":{\"k\":\"v\"}}",
                 "{\"MSG\":\"HELLO, WORLD\",\"N\":[1,true,null,-2.5e3],\"O\":{\"K\":\"V\"}}");
    expect_shout("\"line\\nbreak \\\"q\\\" \\\\ \\/ \\b\\f\\r\\t\"",
                 "\"LINE\\nBREAK \\\"Q\\\" \\\\ \\/ \\b\\f\\r\\t\"");
    /* escaped letters are shouted too; other escapes are left alone */
    expect_shout("[\"\\u0061\\u007a\\u00e9\\u0041\\uD83D\\uDE00x\"]",
                 "[\"\\u0041\\u005A\\u00e9\\u0041\\uD83D\\uDE00X\"]");
    expect_shout("{\"caf\xc3\xa9\":\"\xe2\x82\xac 5 \xf0\x9f\x98\x80 ok\"}",
                 "{\"CAF\xc3\xa9\":\"\xe2\x82\xac 5 \xf0\x9f\x98\x80 OK\"}");
    expect_shout(" true ", " true ");

    expect_refused("{\"a\":\"open", "unterminated string at byte 5");
    expect_refused("\"abc\\", "unterminated");
    expect_refused("{\"a\":\"\\x\"}", "bad escape");
    expect_refused("\"\\u12\"", "bad \\u escape");
    expect_refused("\"\\u12g4\"", "bad \\u escape");
    expect_refused("\"\xff\"", "not UTF-8 at byte 1");
    expect_refused("\"\xc3\"", "not UTF-8");
    expect_refused("{}\xed\xa0\x80", "not UTF-8");
    expect_refused("\"a\nb\"", "control character");

    lr_buf_t small;
    lr_buf_init(&small, 4);
    char err[128] = "";
    assert_int_equal(
        shout_transform((const unsigned char *)"\"hello\"", 7, &small, err, sizeof err), -1);
    assert_non_null(strstr(err, "over 4 bytes"));
    lr_buf_free(&small);
}

/* The whole bootstrap loop against the fake server: a good event, a bad one
 * (a handled error), a result the server refuses (logged, the loop goes on),
 * then a failing `next`, which ends it with status 1. */
static void test_shout_run(void **state)
{
    fake_t *f = *state;
    fake_next(f, "e1", "{\"msg\":\"hi\"}");
    fake_accepted(f);
    fake_next(f, "e2", "{\"msg\":\"oops");
    fake_accepted(f);
    fake_next(f, "e3", "\"ok\"");
    fake_status(f, 413, "{}");
    fake_status(f, 500, "{}");
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
    f->started = 1;

    assert_int_equal(lr_run(shout_handle, NULL), 1);

    const request_t *rq = req(f, 1);
    assert_request_line(rq, "POST /2018-06-01/runtime/invocation/e1/response HTTP/1.1");
    assert_string_equal(rq->body, "{\"MSG\":\"HI\"}");
    rq = req(f, 3);
    assert_request_line(rq, "POST /2018-06-01/runtime/invocation/e2/error HTTP/1.1");
    assert_header(rq, "Lambda-Runtime-Function-Error-Type: InvalidEvent");
    assert_string_equal(rq->body, "{\"errorMessage\":\"unterminated string at byte 7\","
                                  "\"errorType\":\"InvalidEvent\",\"stackTrace\":[]}");
    rq = req(f, 5);
    assert_request_line(rq, "POST /2018-06-01/runtime/invocation/e3/response HTTP/1.1");
    assert_string_equal(rq->body, "\"OK\"");
    assert_request_line(req(f, 6), "GET /2018-06-01/runtime/invocation/next HTTP/1.1");
    assert_int_equal(accepts(f), 1);
}

static int overflowing_handler(const lr_invocation_t *inv, lr_buf_t *out, char *err_type,
                               size_t err_type_size, char *err_msg, size_t err_msg_size, void *ctx)
{
    (void)inv;
    (void)err_type;
    (void)err_type_size;
    (void)err_msg;
    (void)err_msg_size;
    (*(int *)ctx)++;
    char *p = lr_buf_extend(out, LR_PAYLOAD_MAX);
    if (p != NULL)
        memset(p, 'x', LR_PAYLOAD_MAX);
    lr_buf_append(out, "!", 1); /* one byte too many; the result is ignored */
    return 0;
}

static void test_run_overflow(void **state)
{
    fake_t *f = *state;
    fake_next(f, "o1", "{}");
    fake_accepted(f);
    fake_status(f, 500, "");
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
    f->started = 1;
    int calls = 0;
    assert_int_equal(lr_run(overflowing_handler, &calls), 1);
    assert_int_equal(calls, 1);
    const request_t *rq = req(f, 1);
    assert_request_line(rq, "POST /2018-06-01/runtime/invocation/o1/error HTTP/1.1");
    assert_header(rq, "Lambda-Runtime-Function-Error-Type: Function.ResponseSizeTooLarge");
}

int main(void)
{
    /* The fake server writes to clients that may have gone; and no test
     * may hang the suite. */
    signal(SIGPIPE, SIG_IGN);
    alarm(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_next_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_minimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_chunked_and_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_interim_and_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_bad_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respond, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respond_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respond_refused_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test(test_open_env),
        cmocka_unit_test(test_remaining_ms),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_shout_transform),
        cmocka_unit_test_setup_teardown(test_shout_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_overflow, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
