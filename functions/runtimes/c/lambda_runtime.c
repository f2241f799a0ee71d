/* lambda_runtime.c - a Lambda Runtime API client for custom runtimes; see
 * lambda_runtime.h.
 *
 * A warm invocation is two HTTP exchanges on loopback (GET next, POST
 * response), so the client is built to add as little as possible to them:
 * one persistent connection with TCP_NODELAY, each request written with a
 * single sendmsg (head and body together, so Nagle and delayed ACKs never
 * meet), responses read with as few read calls as the kernel allows, and
 * every buffer kept in the runtime and reused, so a steady loop allocates
 * nothing. The server is trusted to speak HTTP/1.1 but not to be small: the
 * head, the event and every other body are bounded.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "lambda_runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on the socket instead */
#endif

#define API_PREFIX "/2018-06-01"
/* Longest AWS_LAMBDA_RUNTIME_API accepted; it is also the Host header. */
#define API_MAX 255
/* Longest error type kept; it is echoed in a header. */
#define ERROR_TYPE_MAX 128
/* Bound on the body of an answer to a POST (normally empty or a short JSON). */
#define POST_BODY_MAX (1024u * 1024)
/* How much of an error answer's body lr_errmsg quotes. */
#define QUOTE_MAX 200

/* The Lambda headers lr_next keeps, in lr_invocation_t order. */
enum { H_REQUEST_ID, H_ARN, H_TRACE, H_CLIENT_CONTEXT, H_COGNITO, H_DEADLINE, H_COUNT };

static const char *const lambda_headers[H_COUNT] = {
    "Lambda-Runtime-Aws-Request-Id",   "Lambda-Runtime-Invoked-Function-Arn",
    "Lambda-Runtime-Trace-Id",         "Lambda-Runtime-Client-Context",
    "Lambda-Runtime-Cognito-Identity", "Lambda-Runtime-Deadline-Ms",
};

struct lr_runtime {
    int fd;     /* -1 while not connected */
    int reused; /* the connection has carried a full exchange, so the server may
                 * have closed it since while it sat idle */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char api[API_MAX + 1]; /* "host:port", for the Host header and messages */

    /* Read buffer: a response head must fit in it whole; bodies pass
     * through it or, when large, are read straight into their destination. */
    unsigned char *in;
    size_t in_pos, in_len; /* unconsumed bytes are in[in_pos, in_len) */

    lr_buf_t req;             /* the request head being sent */
    lr_buf_t doc;             /* an error document being sent */
    lr_buf_t event;           /* the current event */
    lr_buf_t meta;            /* the current event's header values, NUL-terminated */
    lr_buf_t scratch;         /* the body of an answer to a POST or a refused GET */
    size_t meta_off[H_COUNT]; /* offset of each value in meta, SIZE_MAX if absent */

    char what[128]; /* the request line being sent, for messages */
    char err[512];
};

/* What read_head learned about a response. */
typedef struct resp {
    int status;
    int keep;        /* the connection may carry another request afterwards */
    int chunked;     /* Transfer-Encoding: chunked */
    int64_t length;  /* Content-Length, -1 if absent */
    size_t head_len; /* bytes of in[] the head took */
} resp_t;

/* ---- allocation and buffers ---- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "lambda_runtime: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return q;
}

void lr_buf_init(lr_buf_t *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit ? limit : SIZE_MAX / 2;
    b->overflow = 0;
}

/* Make room for n more bytes plus the terminating NUL. */
static int reserve(lr_buf_t *b, size_t n)
{
    if (n > b->limit - b->len) {
        b->overflow = 1;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 4 ? need : cap * 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

char *lr_buf_extend(lr_buf_t *b, size_t n)
{
    if (reserve(b, n) != 0)
        return NULL;
    char *p = b->data + b->len;
    b->len += n;
    b->data[b->len] = '\0';
    return p;
}

int lr_buf_append(lr_buf_t *b, const void *p, size_t n)
{
    char *dst = lr_buf_extend(b, n);
    if (dst == NULL)
        return -1;
    if (n > 0)
        memcpy(dst, p, n);
    return 0;
}

int lr_buf_puts(lr_buf_t *b, const char *s)
{
    return lr_buf_append(b, s, strlen(s));
}

int lr_buf_printf(lr_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void lr_buf_reset(lr_buf_t *b)
{
    b->len = 0;
    b->overflow = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void lr_buf_free(lr_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->overflow = 0;
}

size_t lr_utf8_len(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0; /* continuation byte, overlong lead (c0, c1) or past U+10FFFF */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
        return 0;
    return len;
}

int lr_buf_json_string(lr_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    if (lr_buf_append(b, "\"", 1) != 0)
        return -1;
    size_t run = 0; /* start of the bytes that need no escaping, copied in one go */
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t k = 1;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            k = lr_utf8_len(p + i, n - i);
            if (k > 0) {
                i += k;
                continue;
            }
            k = 1;
        }
        if (lr_buf_append(b, p + run, i - run) != 0)
            return -1;
        char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        const char *rep = esc;
        switch (c) {
        case '"':
            rep = "\\\"";
            break;
        case '\\':
            rep = "\\\\";
            break;
        case '\b':
            rep = "\\b";
            break;
        case '\f':
            rep = "\\f";
            break;
        case '\n':
            rep = "\\n";
            break;
        case '\r':
            rep = "\\r";
            break;
        case '\t':
            rep = "\\t";
            break;
        default:
            if (c >= 0x80)
                rep = "\\ufffd";
            break;
        }
        if (lr_buf_puts(b, rep) != 0)
            return -1;
        i += k;
        run = i;
    }
    if (lr_buf_append(b, p + run, n - run) != 0)
        return -1;
    return lr_buf_append(b, "\"", 1);
}

/* ---- errors ---- */

const char *lr_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
    case LR_ESYS:
        return "system call failed";
    case LR_ECLOSED:
        return "connection closed by the server";
    case LR_EPROTO:
        return "malformed HTTP response";
    case LR_ETOOBIG:
        return "response over the size limit";
    case LR_ESTATUS:
        return "unexpected HTTP status";
    default:
        return "unknown error";
    }
}

const char *lr_errmsg(const lr_runtime_t *rt)
{
    return rt->err;
}

static int seterr(lr_runtime_t *rt, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the message for lr_errmsg and return code. */
static int seterr(lr_runtime_t *rt, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rt->err, sizeof rt->err, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- small text helpers (locale-free) ---- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Does s (n bytes) equal the NUL-terminated word, ignoring ASCII case? */
static int caseeq(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n; i++) {
        if (word[i] == '\0' || lower((unsigned char)s[i]) != lower((unsigned char)word[i]))
            return 0;
    }
    return word[i] == '\0';
}

/* Does the comma-separated list s (n bytes) hold the token, ignoring case? */
static int has_token(const char *s, size_t n, const char *token)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        if (end > start && caseeq(s + start, end - start, token))
            return 1;
    }
    return 0;
}

/* Parse n decimal digits (n >= 1) into *v. Returns 0, or -1 on anything
 * else or overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *v)
{
    if (n == 0)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* Append the request id to a path: anything but RFC 3986 unreserved
 * characters is percent-encoded, so no id can reshape the request line. */
static int append_path_segment(lr_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        unsigned char c = *p;
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        int rc = plain ? lr_buf_append(b, p, 1) : lr_buf_append(b, enc, 3);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- the connection ---- */

static void disconnect(lr_runtime_t *rt)
{
    if (rt->fd >= 0)
        close(rt->fd);
    rt->fd = -1;
    rt->reused = 0;
    rt->in_pos = rt->in_len = 0;
}

/* Wait for a connect that a signal interrupted to finish. Returns 0 or -1 (errno set). */
static int finish_connect(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int n;
    do {
        n = poll(&pfd, 1, -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        return -1;
    if (soerr != 0) {
        errno = soerr;
        return -1;
    }
    return 0;
}

static int conn_open(lr_runtime_t *rt)
{
    int fd = socket(rt->addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return seterr(rt, LR_ESYS, "socket: %s", strerror(errno));
    /* A function that runs other programs must not hand them the API socket. */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    if (connect(fd, (const struct sockaddr *)&rt->addr, rt->addrlen) != 0 &&
        (errno != EINTR || finish_connect(fd) != 0)) {
        int e = errno;
        close(fd);
        return seterr(rt, LR_ESYS, "connect: %s", strerror(e));
    }
    rt->fd = fd;
    rt->reused = 0;
    rt->in_pos = rt->in_len = 0;
    return 0;
}

/* Write the whole of iov[0..n) (modified on the way). Returns 0, LR_ECLOSED
 * if the server had closed the connection, or LR_ESYS. */
static int send_all(lr_runtime_t *rt, struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(rt->fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int code = errno == EPIPE || errno == ECONNRESET ? LR_ECLOSED : LR_ESYS;
            return seterr(rt, code, "write: %s", strerror(errno));
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Read what the socket has into in[], compacting first if in[] is full.
 * Returns the byte count, 0 at end of stream, LR_ETOOBIG if in[] is full of
 * unconsumed bytes, LR_ECLOSED on a reset, or LR_ESYS. */
static ssize_t fill(lr_runtime_t *rt)
{
    if (rt->in_pos == rt->in_len)
        rt->in_pos = rt->in_len = 0;
    if (rt->in_len == LR_HEAD_MAX) {
        if (rt->in_pos == 0)
            return LR_ETOOBIG;
        memmove(rt->in, rt->in + rt->in_pos, rt->in_len - rt->in_pos);
        rt->in_len -= rt->in_pos;
        rt->in_pos = 0;
    }
    for (;;) {
        ssize_t r = read(rt->fd, rt->in + rt->in_len, LR_HEAD_MAX - rt->in_len);
        if (r >= 0) {
            rt->in_len += (size_t)r;
            return r;
        }
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET)
            return seterr(rt, LR_ECLOSED, "read: %s", strerror(errno));
        return seterr(rt, LR_ESYS, "read: %s", strerror(errno));
    }
}

/* Read exactly n bytes of body into dst: first what in[] holds, then straight
 * from the socket, never past the end of the body. Returns 0 or LR_E*. */
static int read_exact(lr_runtime_t *rt, char *dst, size_t n)
{
    size_t got = rt->in_len - rt->in_pos;
    if (got > n)
        got = n;
    if (got > 0)
        memcpy(dst, rt->in + rt->in_pos, got);
    rt->in_pos += got;
    while (got < n) {
        ssize_t r = read(rt->fd, dst + got, n - got);
        if (r > 0) {
            got += (size_t)r;
        } else if (r == 0) {
            return seterr(rt, LR_EPROTO, "the connection closed inside a body");
        } else if (errno != EINTR) {
            return seterr(rt, LR_ESYS, "read: %s", strerror(errno));
        }
    }
    return 0;
}

/* Find the next CRLF-terminated line in in[] (reading more as needed) and
 * consume it. Sets *line and *len (without the CRLF). Returns 0 or LR_E*. */
static int read_line(lr_runtime_t *rt, const char **line, size_t *len)
{
    size_t seen = 0; /* bytes after in_pos already searched (fill may move them) */
    for (;;) {
        const unsigned char *p = rt->in;
        for (size_t i = rt->in_pos + seen; i + 1 < rt->in_len; i++) {
            if (p[i] == '\r' && p[i + 1] == '\n') {
                *line = (const char *)p + rt->in_pos;
                *len = i - rt->in_pos;
                rt->in_pos = i + 2;
                return 0;
            }
        }
        seen = rt->in_len - rt->in_pos;
        seen = seen > 0 ? seen - 1 : 0;
        ssize_t r = fill(rt);
        if (r == LR_ETOOBIG)
            return seterr(rt, LR_ETOOBIG, "a chunk line is over %u bytes", LR_HEAD_MAX);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return seterr(rt, LR_EPROTO, "the connection closed inside a chunked body");
    }
}

/* ---- responses ---- */

/* Record a Lambda header value for lr_next. */
static int keep_meta(lr_runtime_t *rt, int which, const char *v, size_t n)
{
    if (rt->meta_off[which] != SIZE_MAX)
        return 0; /* the first of duplicates wins */
    rt->meta_off[which] = rt->meta.len;
    if (lr_buf_append(&rt->meta, v, n) != 0 || lr_buf_append(&rt->meta, "", 1) != 0)
        return seterr(rt, LR_ETOOBIG, "the Lambda headers are too large");
    return 0;
}

/* Parse the head in[0, head_len) into *r; with `lambda` set, also keep the
 * Lambda-Runtime-* values in rt->meta. Returns 0 or LR_EPROTO/LR_ETOOBIG. */
static int parse_head(lr_runtime_t *rt, resp_t *r, int lambda)
{
    const char *p = (const char *)rt->in;
    const char *end = p + r->head_len - 2; /* the final empty line's CRLF */
    const char *eol = memchr(p, '\r', (size_t)(end - p));
    /* "HTTP/1.x NNN[ reason]" */
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != ' ' || (eol - p > 12 && p[12] != ' '))
        return seterr(rt, LR_EPROTO, "malformed status line");
    uint64_t status;
    if (parse_u64(p + 9, 3, &status) != 0)
        return seterr(rt, LR_EPROTO, "malformed status line");
    r->status = (int)status;
    r->keep = p[7] == '1';
    r->chunked = 0;
    r->length = -1;

    for (p = eol + 2; p < end; p = eol + 2) {
        eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL || eol[1] != '\n')
            return seterr(rt, LR_EPROTO, "malformed header line");
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p || *p == ' ' || *p == '\t')
            return seterr(rt, LR_EPROTO, "malformed header line");
        size_t nlen = (size_t)(colon - p);
        const char *v = colon + 1, *vend = eol;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        size_t vlen = (size_t)(vend - v);

        if (caseeq(p, nlen, "Content-Length")) {
            uint64_t n;
            if (parse_u64(v, vlen, &n) != 0 || n > INT64_MAX ||
                (r->length >= 0 && (uint64_t)r->length != n))
                return seterr(rt, LR_EPROTO, "bad Content-Length");
            r->length = (int64_t)n;
        } else if (caseeq(p, nlen, "Transfer-Encoding")) {
            if (!caseeq(v, vlen, "chunked"))
                return seterr(rt, LR_EPROTO, "unsupported Transfer-Encoding");
            r->chunked = 1;
        } else if (caseeq(p, nlen, "Connection")) {
            if (has_token(v, vlen, "close"))
                r->keep = 0;
            else if (has_token(v, vlen, "keep-alive"))
                r->keep = 1;
        } else if (lambda && nlen > 15 && caseeq(p, 15, "Lambda-Runtime-")) {
            for (int h = 0; h < H_COUNT; h++) {
                if (caseeq(p, nlen, lambda_headers[h])) {
                    int rc = keep_meta(rt, h, v, vlen);
                    if (rc != 0)
                        return rc;
                    break;
                }
            }
        }
    }
    if (r->chunked)
        r->length = -1; /* RFC 9112 6.3: chunked wins over a Content-Length */
    return 0;
}

/* Read and parse a response head, skipping interim (1xx) answers. Returns 0,
 * LR_ECLOSED if the connection ended before the first byte, or LR_E*. */
static int read_head(lr_runtime_t *rt, resp_t *r, int lambda)
{
    for (;;) {
        if (rt->in_pos > 0) {
            memmove(rt->in, rt->in + rt->in_pos, rt->in_len - rt->in_pos);
            rt->in_len -= rt->in_pos;
            rt->in_pos = 0;
        }
        size_t scanned = 0;
        const unsigned char *hit = NULL;
        for (;;) {
            size_t from = scanned > 3 ? scanned - 3 : 0;
            for (size_t i = from; i + 3 < rt->in_len; i++) {
                if (rt->in[i] == '\r' && memcmp(rt->in + i, "\r\n\r\n", 4) == 0) {
                    hit = rt->in + i;
                    break;
                }
            }
            if (hit != NULL)
                break;
            scanned = rt->in_len;
            ssize_t n = fill(rt);
            if (n == LR_ETOOBIG)
                return seterr(rt, LR_ETOOBIG, "the response head is over %u bytes", LR_HEAD_MAX);
            if (n == LR_ECLOSED && rt->in_len > 0)
                return seterr(rt, LR_EPROTO, "the connection was reset inside a response head");
            if (n < 0)
                return (int)n;
            if (n == 0 && rt->in_len == 0)
                return seterr(rt, LR_ECLOSED, "the server closed the connection");
            if (n == 0)
                return seterr(rt, LR_EPROTO, "the connection closed inside a response head");
        }
        r->head_len = (size_t)(hit - rt->in) + 4;
        if (lambda) {
            lr_buf_reset(&rt->meta);
            for (int h = 0; h < H_COUNT; h++)
                rt->meta_off[h] = SIZE_MAX;
        }
        int rc = parse_head(rt, r, lambda);
        if (rc != 0)
            return rc;
        rt->in_pos = r->head_len;
        if (r->status >= 200)
            return 0;
    }
}

/* Read a chunked body into dst. Returns 0 or LR_E*. */
static int read_chunked(lr_runtime_t *rt, lr_buf_t *dst)
{
    for (;;) {
        const char *line;
        size_t len;
        int rc = read_line(rt, &line, &len);
        if (rc != 0)
            return rc;
        size_t i = 0;
        uint64_t size = 0;
        for (; i < len; i++) {
            int c = lower((unsigned char)line[i]);
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                break;
            if (size > (uint64_t)dst->limit)
                return seterr(rt, LR_ETOOBIG, "the body is over %zu bytes", dst->limit);
            size = size * 16 + (uint64_t)d;
        }
        if (i == 0 || (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
            return seterr(rt, LR_EPROTO, "malformed chunk size");
        if (size == 0)
            break;
        if (size > dst->limit - dst->len)
            return seterr(rt, LR_ETOOBIG, "the body is over %zu bytes", dst->limit);
        char *p = lr_buf_extend(dst, (size_t)size);
        rc = read_exact(rt, p, (size_t)size);
        if (rc == 0)
            rc = read_line(rt, &line, &len);
        if (rc != 0)
            return rc;
        if (len != 0)
            return seterr(rt, LR_EPROTO, "a chunk is longer than its size");
    }
    /* trailer fields, up to the empty line; ignored */
    for (;;) {
        const char *line;
        size_t len;
        int rc = read_line(rt, &line, &len);
        if (rc != 0 || len == 0)
            return rc;
    }
}

/* Read the body that follows head *r into dst (appending; dst->limit bounds
 * it). Returns 0 or LR_E*; after a failure the connection must be dropped. */
static int read_body(lr_runtime_t *rt, resp_t *r, lr_buf_t *dst)
{
    if (r->status == 204 || r->status == 304)
        return 0;
    if (r->chunked)
        return read_chunked(rt, dst);
    if (r->length >= 0) {
        if ((uint64_t)r->length > dst->limit - dst->len)
            return seterr(rt, LR_ETOOBIG, "the body (%lld bytes) is over %zu bytes",
                          (long long)r->length, dst->limit);
        char *p = lr_buf_extend(dst, (size_t)r->length);
        return read_exact(rt, p, (size_t)r->length);
    }
    /* Neither length nor chunks: the body runs to the end of the connection. */
    r->keep = 0;
    for (;;) {
        size_t avail = rt->in_len - rt->in_pos;
        if (lr_buf_append(dst, rt->in + rt->in_pos, avail) != 0)
            return seterr(rt, LR_ETOOBIG, "the body is over %zu bytes", dst->limit);
        rt->in_pos = rt->in_len;
        ssize_t n = fill(rt);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
    }
}

/* Send a request (head in rt->req, then body) and read the response head.
 * If a connection that sat idle turns out to have been closed by the server
 * (it ends before answering), reconnect and send once more. Returns 0 or
 * LR_E*; on failure the connection is dropped. */
static int exchange(lr_runtime_t *rt, const void *body, size_t len, resp_t *r, int lambda)
{
    /* We never pipeline, so bytes left over from an earlier answer mean the
     * framing cannot be trusted: start afresh. */
    if (rt->fd >= 0 && rt->in_pos != rt->in_len)
        disconnect(rt);
    for (int attempt = 0;; attempt++) {
        if (rt->fd < 0) {
            int rc = conn_open(rt);
            if (rc != 0)
                return rc;
        }
        int idle = rt->reused;
        rt->in_pos = rt->in_len = 0;
        struct iovec iov[2] = {{rt->req.data, rt->req.len}, {(void *)body, len}};
        int rc = send_all(rt, iov, len > 0 ? 2 : 1);
        if (rc == 0 || rc == LR_ECLOSED) {
            /* A server that stopped reading may still have answered first
             * (413 for a body it refuses): that answer is the one to report. */
            int head_rc = read_head(rt, r, lambda);
            if (head_rc == 0) {
                if (rc != 0)
                    r->keep = 0;
                return 0;
            }
            if (rc == 0)
                rc = head_rc;
        }
        disconnect(rt);
        if (rc != LR_ECLOSED || !idle || attempt > 0)
            return rc;
    }
}

/* Start rt->req with "<method> /2018-06-01<path>". */
static void head_start(lr_runtime_t *rt, const char *method, const char *path)
{
    lr_buf_reset(&rt->req);
    lr_buf_puts(&rt->req, method);
    lr_buf_puts(&rt->req, " " API_PREFIX);
    lr_buf_puts(&rt->req, path);
}

/* Prefix the current message with the request line and the server address. */
static int with_context(lr_runtime_t *rt, int rc)
{
    char cause[sizeof rt->err];
    memcpy(cause, rt->err, sizeof cause);
    return seterr(rt, rc, "%s (%s): %s", rt->what, rt->api, cause);
}

/* Finish the request begun by head_start (Host, Content-Length, the `extra`
 * header lines, each ending in CRLF), send it with body, and read the whole
 * answer: its body goes to ok_body if the status is 200 and ok_body is not
 * NULL, else to rt->scratch. Sets *status. Returns 0 or LR_E*, with
 * lr_errmsg naming the request. */
static int request(lr_runtime_t *rt, const char *extra, const void *body, size_t len, int lambda,
                   lr_buf_t *ok_body, int *status)
{
    lr_buf_t *b = &rt->req;
    size_t n = b->len < sizeof rt->what - 1 ? b->len : sizeof rt->what - 1;
    memcpy(rt->what, b->data, n);
    rt->what[n] = '\0';
    lr_buf_puts(b, " HTTP/1.1\r\nHost: ");
    lr_buf_puts(b, rt->api);
    lr_buf_puts(b, "\r\nContent-Length: ");
    /* the number by hand: printf would be most of the library's own time */
    char digits[24], *d = digits + sizeof digits;
    *--d = '\0';
    size_t v = len;
    do {
        *--d = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    lr_buf_puts(b, d);
    lr_buf_puts(b, "\r\n");
    lr_buf_puts(b, extra);
    lr_buf_puts(b, "\r\n");
    if (b->overflow)
        return with_context(rt, seterr(rt, LR_ETOOBIG, "the request head is too large"));

    resp_t r = {.length = -1};
    int rc = exchange(rt, body, len, &r, lambda);
    if (rc != 0)
        return with_context(rt, rc);
    lr_buf_t *dst = r.status == 200 && ok_body != NULL ? ok_body : &rt->scratch;
    lr_buf_reset(dst);
    rc = read_body(rt, &r, dst);
    if (rc != 0) {
        disconnect(rt);
        return with_context(rt, rc);
    }
    if (r.keep)
        rt->reused = 1;
    else
        disconnect(rt);
    *status = r.status;
    return 0;
}

/* Fail with LR_ESTATUS, quoting the start of the answer's body (in
 * rt->scratch), made printable, in the message. */
static int bad_status(lr_runtime_t *rt, int status)
{
    lr_buf_t *b = &rt->scratch;
    size_t n = b->len < QUOTE_MAX ? b->len : QUOTE_MAX;
    char quote[QUOTE_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b->data[i];
        quote[i] = c < 0x20 || c >= 0x7f ? ' ' : (char)c;
    }
    quote[n] = '\0';
    return with_context(rt, seterr(rt, LR_ESTATUS, "HTTP %d %s", status, quote));
}

/* POST the request begun by head_start; a 2xx answer is success. */
static int post(lr_runtime_t *rt, const char *extra, const void *body, size_t len)
{
    /* The server collects the function's output when the result arrives;
     * make sure everything logged so far is in the pipe by then. */
    fflush(stdout);
    fflush(stderr);
    int status;
    int rc = request(rt, extra, body, len, 0, NULL, &status);
    if (rc != 0)
        return rc;
    if (status < 200 || status > 299)
        return bad_status(rt, status);
    return 0;
}

/* ---- the API ---- */

/* Parse "host:port" or "[v6]:port" into rt->addr. Returns 0 or -1 with a
 * message on stderr. */
static int parse_api(lr_runtime_t *rt, const char *api)
{
    char host[API_MAX + 1];
    const char *port;
    if (api[0] == '[') {
        const char *close_br = strchr(api, ']');
        if (close_br == NULL || close_br[1] != ':')
            goto bad;
        memcpy(host, api + 1, (size_t)(close_br - api - 1));
        host[close_br - api - 1] = '\0';
        port = close_br + 2;
    } else {
        const char *colon = strrchr(api, ':');
        if (colon == NULL || colon == api || memchr(api, ':', (size_t)(colon - api)) != NULL)
            goto bad;
        memcpy(host, api, (size_t)(colon - api));
        host[colon - api] = '\0';
        port = colon + 1;
    }
    uint64_t pnum;
    if (strlen(port) > 5 || parse_u64(port, strlen(port), &pnum) != 0 || pnum == 0 || pnum > 65535)
        goto bad;

    memset(&rt->addr, 0, sizeof rt->addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&rt->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&rt->addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)pnum);
        rt->addrlen = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)pnum);
        rt->addrlen = sizeof *v6;
        return 0;
    }
    /* A name: resolve it now, once, rather than on every reconnect. */
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0 || res == NULL || res->ai_addrlen > sizeof rt->addr) {
        fprintf(stderr, "lambda_runtime: AWS_LAMBDA_RUNTIME_API %s: %s\n", api,
                gai != 0 ? gai_strerror(gai) : "no usable address");
        if (res != NULL)
            freeaddrinfo(res);
        return -1;
    }
    memcpy(&rt->addr, res->ai_addr, res->ai_addrlen);
    rt->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
bad:
    fprintf(stderr, "lambda_runtime: AWS_LAMBDA_RUNTIME_API \"%s\" is not host:port\n", api);
    return -1;
}

lr_runtime_t *lr_open(void)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (api == NULL || api[0] == '\0') {
        fprintf(stderr, "lambda_runtime: AWS_LAMBDA_RUNTIME_API is not set\n");
        return NULL;
    }
    if (strlen(api) > API_MAX) {
        fprintf(stderr, "lambda_runtime: AWS_LAMBDA_RUNTIME_API is too long\n");
        return NULL;
    }
    lr_runtime_t *rt = xrealloc(NULL, sizeof *rt);
    memset(rt, 0, sizeof *rt);
    rt->fd = -1;
    strcpy(rt->api, api);
    if (parse_api(rt, api) != 0) {
        free(rt);
        return NULL;
    }
    rt->in = xrealloc(NULL, LR_HEAD_MAX);
    lr_buf_init(&rt->req, LR_HEAD_MAX);
    lr_buf_init(&rt->doc, LR_PAYLOAD_MAX);
    lr_buf_init(&rt->event, LR_EVENT_MAX);
    lr_buf_init(&rt->meta, LR_HEAD_MAX);
    lr_buf_init(&rt->scratch, POST_BODY_MAX);
    for (int h = 0; h < H_COUNT; h++)
        rt->meta_off[h] = SIZE_MAX;
    return rt;
}

void lr_close(lr_runtime_t *rt)
{
    if (rt == NULL)
        return;
    disconnect(rt);
    free(rt->in);
    lr_buf_free(&rt->req);
    lr_buf_free(&rt->doc);
    lr_buf_free(&rt->event);
    lr_buf_free(&rt->meta);
    lr_buf_free(&rt->scratch);
    free(rt);
}

/* The value of a kept Lambda header, or NULL. */
static const char *meta(const lr_runtime_t *rt, int which)
{
    size_t off = rt->meta_off[which];
    return off == SIZE_MAX ? NULL : rt->meta.data + off;
}

int lr_next(lr_runtime_t *rt, lr_invocation_t *out)
{
    memset(out, 0, sizeof *out);
    head_start(rt, "GET", "/runtime/invocation/next");
    int status;
    int rc = request(rt, "", NULL, 0, 1, &rt->event, &status);
    if (rc != 0)
        return rc;
    if (status != 200)
        return bad_status(rt, status);

    out->request_id = meta(rt, H_REQUEST_ID);
    if (out->request_id == NULL || out->request_id[0] == '\0')
        return with_context(rt, seterr(rt, LR_EPROTO, "no Lambda-Runtime-Aws-Request-Id"));
    out->function_arn = meta(rt, H_ARN);
    out->trace_id = meta(rt, H_TRACE);
    out->client_context = meta(rt, H_CLIENT_CONTEXT);
    out->cognito_identity = meta(rt, H_COGNITO);
    const char *deadline = meta(rt, H_DEADLINE);
    uint64_t ms;
    if (deadline != NULL && parse_u64(deadline, strlen(deadline), &ms) == 0 && ms <= INT64_MAX)
        out->deadline_ms = (int64_t)ms;
    if (rt->event.data == NULL)
        lr_buf_append(&rt->event, "", 0); /* an empty event is still a C string */
    out->event = (const unsigned char *)rt->event.data;
    out->event_len = rt->event.len;
    return 0;
}

int lr_respond(lr_runtime_t *rt, const lr_invocation_t *inv, const void *body, size_t len)
{
    head_start(rt, "POST", "/runtime/invocation/");
    append_path_segment(&rt->req, inv->request_id);
    lr_buf_puts(&rt->req, "/response");
    return post(rt, "", body, len);
}

/* POST an error document to the path begun by head_start. */
static int post_error(lr_runtime_t *rt, const char *error_type, const char *message)
{
    /* The type goes into a header: keep it short and free of CR, LF and
     * anything else a header cannot carry. */
    char type[ERROR_TYPE_MAX + 1];
    if (error_type == NULL || error_type[0] == '\0')
        error_type = "Unhandled";
    size_t n = 0;
    for (; error_type[n] != '\0' && n < ERROR_TYPE_MAX; n++) {
        unsigned char c = (unsigned char)error_type[n];
        type[n] = c < 0x20 || c >= 0x7f ? '_' : (char)c;
    }
    type[n] = '\0';
    if (message == NULL)
        message = "";

    lr_buf_t *d = &rt->doc;
    lr_buf_reset(d);
    lr_buf_puts(d, "{\"errorMessage\":");
    lr_buf_json_string(d, message, strlen(message));
    lr_buf_puts(d, ",\"errorType\":");
    lr_buf_json_string(d, type, n);
    lr_buf_puts(d, ",\"stackTrace\":[]}");
    if (d->overflow)
        return with_context(rt, seterr(rt, LR_ETOOBIG, "the error message is too large"));

    char extra[ERROR_TYPE_MAX + 128];
    snprintf(extra, sizeof extra,
             "Lambda-Runtime-Function-Error-Type: %s\r\n"
             "Content-Type: application/vnd.aws.lambda.error+json\r\n",
             type);
    return post(rt, extra, d->data, d->len);
}

int lr_fail(lr_runtime_t *rt, const lr_invocation_t *inv, const char *error_type,
            const char *message)
{
    head_start(rt, "POST", "/runtime/invocation/");
    append_path_segment(&rt->req, inv->request_id);
    lr_buf_puts(&rt->req, "/error");
    return post_error(rt, error_type, message);
}

int lr_init_fail(lr_runtime_t *rt, const char *error_type, const char *message)
{
    head_start(rt, "POST", "/runtime/init/error");
    return post_error(rt, error_type, message);
}

int64_t lr_remaining_ms(const lr_invocation_t *inv)
{
    if (inv->deadline_ms == 0)
        return INT64_MAX;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return inv->deadline_ms - now;
}

int lr_run(lr_handler_fn handler, void *ctx)
{
    lr_runtime_t *rt = lr_open();
    if (rt == NULL)
        return 1;
    lr_buf_t out;
    lr_buf_init(&out, LR_PAYLOAD_MAX);
    char err_type[ERROR_TYPE_MAX + 1], err_msg[4096];
    for (;;) {
        lr_invocation_t inv;
        if (lr_next(rt, &inv) != 0)
            break;
        lr_buf_reset(&out);
        err_type[0] = err_msg[0] = '\0';
        int failed = handler(&inv, &out, err_type, sizeof err_type, err_msg, sizeof err_msg, ctx);
        if (failed == 0 && out.overflow) {
            failed = 1;
            snprintf(err_type, sizeof err_type, "Function.ResponseSizeTooLarge");
            snprintf(err_msg, sizeof err_msg, "the response is over %u bytes", LR_PAYLOAD_MAX);
        }
        int rc;
        if (failed == 0)
            rc = lr_respond(rt, &inv, out.data, out.len);
        else
            rc = lr_fail(rt, &inv, err_type, err_msg[0] ? err_msg : "the handler failed");
        if (rc == LR_ESTATUS)
            fprintf(stderr, "lambda_runtime: %s\n", lr_errmsg(rt));
        else if (rc != 0)
            break;
    }
    fprintf(stderr, "lambda_runtime: %s\n", lr_errmsg(rt));
    lr_buf_free(&out);
    lr_close(rt);
    return 1;
}
