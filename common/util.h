/* util.h - allocation, bounded buffers, time and text helpers shared by every module.
 *
 * Allocation failure is not a condition callers handle: the x* wrappers abort
 * with a message, so the rest of the code base never checks for NULL from them.
 * Everything here is free of HTTP and storage knowledge so any module (and any
 * unit test) can link it alone.
 */
#ifndef CLOUDLET_UTIL_H
#define CLOUDLET_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Allocate or die. The returned memory is owned by the caller (free()). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formatted allocation; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer with a hard upper bound. `data` is always
 * NUL-terminated one past `len` so text can be used as a C string. */
typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit; /* 0 = no limit beyond SIZE_MAX/2 */
} buf_t;

/* Initialise an empty buffer that refuses to grow past `limit` bytes. */
void buf_init(buf_t *b, size_t limit);
/* Use caller-provided memory (size >= 1) instead of the heap: appends that
 * would need more than size-1 bytes fail, and buf_free must not be called. */
void buf_init_fixed(buf_t *b, char *mem, size_t size);
/* Append n bytes. Returns 0, or -1 (buffer unchanged) if the limit would be passed. */
int buf_append(buf_t *b, const void *p, size_t n);
int buf_puts(buf_t *b, const char *s);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s with JSON string escaping (no surrounding quotes). */
int buf_json_escape(buf_t *b, const char *s, size_t n);
/* Append s with XML text escaping (&, <, >, ", '). */
int buf_xml_escape(buf_t *b, const char *s, size_t n);
/* Hand the bytes to the caller (who frees them) and reset the buffer. */
char *buf_steal(buf_t *b, size_t *len);
void buf_free(buf_t *b);

/* Wall clock in milliseconds since the epoch, and a monotonic clock in ns. */
int64_t util_now_ms(void);
uint64_t util_mono_ns(void);

/* Format `t` (seconds since the epoch, UTC) as an RFC 7231 IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT") into out[30]. */
void util_http_date(int64_t t, char out[30]);
/* Parse an IMF-fixdate (also RFC 850 and asctime forms). Returns 0 and sets *t, or -1. */
int util_parse_http_date(const char *s, int64_t *t);
/* Format ms since the epoch as ISO 8601 with milliseconds ("2009-10-12T17:50:30.000Z") into out[25]. */
void util_iso8601_ms(int64_t ms, char out[25]);

/* The value of one hex digit (either case), or -1. */
int util_hexval(char c);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void util_hex(const unsigned char *p, size_t n, char *out);

/* Base64 of n bytes, NUL-terminated; caller frees. util_base64 is the
 * standard padded alphabet, util_base64url the URL alphabet without padding. */
char *util_base64(const void *p, size_t n);
char *util_base64url(const void *p, size_t n);
/* Decode base64 text s[0..n) in either alphabet (padding optional, no
 * whitespace) into out (size outsz). Returns the decoded length, or -1 if the
 * text is malformed or does not fit. */
long util_base64_decode(const char *s, size_t n, unsigned char *out, size_t outsz);

/* The value of exactly n ASCII digits at s, or -1 if any is not a digit. */
int util_digits(const char *s, int n);

/* A random RFC 4122 version-4 UUID, lowercase, into out[37]. */
void util_uuid(char out[37]);

/* Fill p with n cryptographically random bytes; aborts if the RNG fails. */
void util_random(void *p, size_t n);

/* Case-insensitive ASCII comparison of two NUL-terminated strings / prefixes. */
int util_strcaseeq(const char *a, const char *b);
int util_startswith(const char *s, const char *prefix);

#endif
