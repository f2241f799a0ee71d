/* shout.h - the `shout` example function: echoes its JSON event with every
 * string, keys included, upper-cased.
 *
 * The transform is kept apart from main.c so the unit tests can call it and
 * the handler without a process in between.
 */
#ifndef SHOUT_H
#define SHOUT_H

#include <stddef.h>

#include "lambda_runtime.h"

/* Append to out a copy of the JSON text in (n bytes) in which every ASCII
 * letter inside a string is upper-cased, escaped ones included ("\u0061"
 * becomes "\u0041"), while escape letters ("\n"), non-ASCII characters and
 * everything outside strings are copied unchanged; the copy has the same
 * length. Only the strings are checked, not the structure around them.
 * Returns 0, or -1 with out unchanged and a one-line reason in err (size
 * errsz) if the input is not UTF-8, a string is unterminated or holds a raw
 * control character or a bad escape, or out's limit is reached. */
int shout_transform(const unsigned char *in, size_t n, lr_buf_t *out, char *err, size_t errsz);

/* The lr_handler_fn: logs "shout: <n> bytes" to stdout, and answers with
 * shout_transform's copy of the event, or fails with type "InvalidEvent". */
int shout_handle(const lr_invocation_t *inv, lr_buf_t *out, char *err_type, size_t err_type_size,
                 char *err_msg, size_t err_msg_size, void *ctx);

#endif
