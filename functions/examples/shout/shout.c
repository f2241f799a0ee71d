/* shout.c - the `shout` function's transform and handler; see shout.h.
 *
 * The event is scanned once and never parsed into a tree: upper-casing ASCII
 * letters keeps every string the same length and every escape the same
 * shape, so the copy can be written in place over a buffer of the input's
 * size. Only strings are looked into, which is all the transform needs; the
 * Invoke API has already refused payloads that are not JSON.
 */
#include "shout.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void reason(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write the reason for a refusal into err. */
static void reason(char *err, size_t errsz, const char *fmt, ...)
{
    if (errsz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int shout_transform(const unsigned char *in, size_t n, lr_buf_t *out, char *err, size_t errsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start_len = out->len;
    char *o = lr_buf_extend(out, n);
    if (o == NULL) {
        reason(err, errsz, "the result would be over %zu bytes", out->limit);
        return -1;
    }
    int in_string = 0;
    size_t string_start = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = in[i];
        if (c >= 0x80) {
            size_t k = lr_utf8_len(in + i, n - i);
            if (k == 0) {
                reason(err, errsz, "not UTF-8 at byte %zu", i);
                goto err;
            }
            memcpy(o + i, in + i, k);
            i += k;
            continue;
        }
        if (!in_string) {
            if (c == '"') {
                in_string = 1;
                string_start = i;
            }
            o[i++] = (char)c;
            continue;
        }
        if (c == '"') {
            in_string = 0;
            o[i++] = (char)c;
        } else if (c < 0x20) {
            reason(err, errsz, "control character 0x%02x in the string at byte %zu", c,
                   string_start);
            goto err;
        } else if (c != '\\') {
            o[i++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
        } else if (i + 1 < n && in[i + 1] != '\0' && strchr("\"\\/bfnrt", in[i + 1]) != NULL) {
            /* the escape letter names the character: it must not change */
            memcpy(o + i, in + i, 2);
            i += 2;
        } else if (i + 1 < n && in[i + 1] == 'u') {
            int v = 0;
            for (size_t k = 2; k < 6; k++) {
                int d = i + k < n ? hexval(in[i + k]) : -1;
                if (d < 0) {
                    reason(err, errsz, "bad \\u escape at byte %zu", i);
                    goto err;
                }
                v = v * 16 + d;
            }
            memcpy(o + i, in + i, 6);
            if (v >= 'a' && v <= 'z') {
                /* "\u0061" is an "a" too: shout it, in the same six bytes */
                v -= 32;
                o[i + 4] = hex[v >> 4];
                o[i + 5] = hex[v & 15];
            }
            i += 6;
        } else if (i + 1 < n) {
            reason(err, errsz, "bad escape at byte %zu", i);
            goto err;
        } else {
            break; /* a backslash as the last byte: unterminated */
        }
    }
    if (in_string) {
        reason(err, errsz, "unterminated string at byte %zu", string_start);
        goto err;
    }
    return 0;
err:
    out->len = start_len;
    out->data[start_len] = '\0';
    return -1;
}

int shout_handle(const lr_invocation_t *inv, lr_buf_t *out, char *err_type, size_t err_type_size,
                 char *err_msg, size_t err_msg_size, void *ctx)
{
    (void)ctx;
    printf("shout: %zu bytes\n", inv->event_len);
    if (shout_transform(inv->event, inv->event_len, out, err_msg, err_msg_size) != 0) {
        snprintf(err_type, err_type_size, "InvalidEvent");
        return -1;
    }
    return 0;
}
