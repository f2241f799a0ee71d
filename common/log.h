/* log.h - JSON-lines logging to stderr, batched off the hot path.
 *
 * At 100k+ requests per second a write(2) per access-log line shows in the
 * profile (DESIGN.md, known traps), so lines are appended to a per-thread
 * buffer and written in batches: when a buffer fills, and by a background
 * flusher every LOG_FLUSH_MS. Lines from one thread keep their order.
 *
 * Nothing logged here may contain a secret: callers log paths without query
 * strings, never header values of Authorization or security tokens.
 */
#ifndef CLOUDLET_LOG_H
#define CLOUDLET_LOG_H

#include <stddef.h>

#define LOG_FLUSH_MS 200

/* Start the background flusher. Safe to skip (then lines are written when a
 * buffer fills and at log_stop). */
void log_start(void);
/* Flush every buffer and stop the flusher. Call once at exit. */
void log_stop(void);
/* Write every buffered line now. */
void log_flush(void);

/* Append one complete JSON line (without the trailing newline). */
void log_line(const char *line, size_t len);

/* A JSON line {"time":..,"level":..,"msg":..} with printf formatting of msg. */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_info(...) log_msg("info", __VA_ARGS__)
#define log_warn(...) log_msg("warn", __VA_ARGS__)
#define log_error(...) log_msg("error", __VA_ARGS__)

/* The current UTC time as "2026-11-24T10:00:00.123Z" into out[25]; the
 * seconds part is cached per thread so this is cheap per request. */
void log_timestamp(char out[25]);

#endif
