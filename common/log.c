/* log.c - see log.h. Per-thread buffers registered in a small global table so
 * the flusher can reach them; each buffer has its own mutex, contended only
 * when the flusher visits. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define LOG_BUF_SIZE 65536
#define LOG_MAX_THREADS 128

typedef struct logbuf {
    pthread_mutex_t lock;
    size_t len;
    char data[LOG_BUF_SIZE];
} logbuf_t;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static logbuf_t *table[LOG_MAX_THREADS];
static int ntable;
static __thread logbuf_t *mine;

static pthread_t flusher;
static int flusher_running;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static int stopping;

/* Write all of p to stderr, retrying on short writes; errors are dropped
 * because there is nowhere left to report them. */
static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Must hold b->lock. */
static void drain(logbuf_t *b)
{
    write_all(b->data, b->len);
    b->len = 0;
}

/* This thread's buffer, registering it on first use. Threads beyond the
 * table size share a buffer-less path: they write directly. */
static logbuf_t *thread_buf(void)
{
    if (mine != NULL)
        return mine;
    logbuf_t *b = xmalloc(sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    b->len = 0;
    pthread_mutex_lock(&table_lock);
    if (ntable < LOG_MAX_THREADS) {
        table[ntable++] = b;
        mine = b;
    }
    pthread_mutex_unlock(&table_lock);
    if (mine == NULL) {
        pthread_mutex_destroy(&b->lock);
        free(b);
    }
    return mine;
}

void log_line(const char *line, size_t len)
{
    logbuf_t *b = thread_buf();
    if (b == NULL || len + 1 > LOG_BUF_SIZE) {
        char nl = '\n';
        write_all(line, len);
        write_all(&nl, 1);
        return;
    }
    pthread_mutex_lock(&b->lock);
    if (b->len + len + 1 > LOG_BUF_SIZE)
        drain(b);
    memcpy(b->data + b->len, line, len);
    b->data[b->len + len] = '\n';
    b->len += len + 1;
    pthread_mutex_unlock(&b->lock);
}

void log_flush(void)
{
    pthread_mutex_lock(&table_lock);
    int n = ntable;
    pthread_mutex_unlock(&table_lock);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&table[i]->lock);
        drain(table[i]);
        pthread_mutex_unlock(&table[i]->lock);
    }
}

static void *flush_loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&stop_lock);
    while (!stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += LOG_FLUSH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&stop_cond, &stop_lock, &ts);
        pthread_mutex_unlock(&stop_lock);
        log_flush();
        pthread_mutex_lock(&stop_lock);
    }
    pthread_mutex_unlock(&stop_lock);
    return NULL;
}

void log_start(void)
{
    if (flusher_running)
        return;
    stopping = 0;
    if (pthread_create(&flusher, NULL, flush_loop, NULL) == 0)
        flusher_running = 1;
}

void log_stop(void)
{
    if (flusher_running) {
        pthread_mutex_lock(&stop_lock);
        stopping = 1;
        pthread_cond_signal(&stop_cond);
        pthread_mutex_unlock(&stop_lock);
        pthread_join(flusher, NULL);
        flusher_running = 0;
    }
    log_flush();
}

void log_timestamp(char out[25])
{
    static __thread time_t cached_sec = -1;
    static __thread char cached[20];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000L);
    memcpy(out, cached, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

void log_msg(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char ts[25];
    log_timestamp(ts);
    buf_t b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level);
    buf_json_escape(&b, msg, strlen(msg));
    buf_puts(&b, "\"}\n");
    /* Messages are rare and matter: keep them in order with the access lines
     * buffered before them, and write them at once. */
    log_flush();
    write_all(b.data, b.len);
    buf_free(&b);
}
