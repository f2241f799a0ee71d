/* pool.c - function instances, the Runtime API and the event loop.
 *
 * An instance is a process running a function's bootstrap (wire doc 5.4). It
 * gets a loopback port of its own for the Runtime API (AWS_LAMBDA_RUNTIME_API),
 * so a request on that port can only be about that instance. One thread runs
 * an epoll loop over every instance's listening socket, Runtime API
 * connections, output pipe (stdout and stderr, captured per invocation) and
 * pidfd (exit), plus a 25 ms tick for timeouts and idle reaping. The Runtime
 * API is small enough to parse here (request line, headers, Content-Length or
 * chunked body), which keeps a runtime's long poll for `next` free: it is
 * just a connection nobody has answered yet.
 *
 * An invoke (fn_pool_submit, on an HTTP thread) takes an idle instance, or
 * starts one below the concurrency limit, or is throttled. If the instance is
 * already waiting in `next`, the event is written to it right there, so a
 * warm invoke costs no thread hop on the way in; the result comes back on
 * the loop thread, which completes the invocation (http_later_done).
 *
 * Isolation (README "What functions can and cannot do"): a fresh environment,
 * an empty private TMPDIR, rlimits, no inherited descriptors, its own process
 * group (killed whole), and where the kernel has Landlock, a filesystem view
 * without cloudlet's data directory: read-only system folders, the code, the
 * runtimes, and read-write only its TMPDIR.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/util.h"

#define TICK_MS 25
#define INIT_MS 10000            /* Lambda's limit on a runtime's start-up */
#define HEAD_MAX (64 * 1024)     /* Runtime API request line and headers */
#define CRED_SECONDS 3600        /* execution-role credentials of an instance */
#define CRED_MARGIN 300          /* an idle instance whose credentials end sooner retires */
#define LOG_LINE_MAX 1024        /* server-log line cut */

enum { W_LISTEN, W_CONN, W_OUT, W_PID, W_WAKE };

typedef struct watch {
    int kind;
    void *obj;
} watch_t;

typedef struct inst inst_t;

/* One Runtime API connection of an instance. */
typedef struct conn {
    watch_t w;
    int fd;
    inst_t *inst;
    struct conn *next; /* in inst->conns */
    char *in;
    size_t in_len, in_cap;
    char *out; /* unsent bytes of a response */
    size_t out_len, out_off;
    int parked;   /* a `next` waiting for an event */
    int continued; /* 100 Continue sent for the request in progress */
    int close_after; /* the client sent Connection: close: end after the answer */
    int closing;
} conn_t;

enum { I_STARTING, I_LIVE, I_DYING };

struct inst {
    struct inst *next; /* in pool->insts */
    struct pool *pool;
    fn_def_t *def;
    uint64_t id;
    int state;
    pid_t pid;
    watch_t wl, wo, wp;
    int lfd, outfd, pidfd, port;
    conn_t *conns;
    conn_t *parked;
    fn_inv_t *current;  /* assigned; delivered once sent to `next` */
    int delivered;
    int retiring;
    int killed_for_timeout;
    char *init_error;   /* body of /runtime/init/error, for the first invoke */
    uint64_t spawn_ns, idle_since_ns;
    int64_t creds_expire;
    double init_ms;     /* time from spawn to the first `next` */
    char tmpdir[PATH_MAX];
    char line[LOG_LINE_MAX]; /* partial output line for the server log */
    size_t line_len;
    char prelog[FN_TAIL_MAX]; /* output before the first invocation (init) */
    size_t prelog_len;
};

typedef struct pool {
    struct pool *next;
    char name[FN_NAME_MAX + 1];
    inst_t *insts;
    int count; /* instances not yet dying */
} pool_t;

/* An invocation finished while fn->lk was held: done() runs after unlock. */
typedef struct finished {
    fn_inv_t *inv;
    fn_outcome_t outcome;
    char *body;
    size_t len;
    struct finished *next;
} finished_t;

struct fn_loop {
    int ep, wakefd;
    watch_t ww;
    pthread_t thread;
    int started;
    atomic_int stop;
    pool_t *pools;
    uint64_t next_id;
    int landlock_abi; /* 0: not available */
    finished_t *finished; /* under fn->lk */
};

/* ---- Invocations ---- */

fn_inv_t *fn_inv_new(fn_def_t *def)
{
    fn_inv_t *inv = xcalloc(1, sizeof *inv);
    inv->def = fn_def_ref(def);
    util_uuid(inv->request_id);
    return inv;
}

void fn_inv_free(fn_inv_t *inv)
{
    if (inv == NULL)
        return;
    fn_def_unref(inv->def);
    free(inv->payload);
    free(inv->cognito_identity);
    free(inv->client_context);
    free(inv);
}

/* Keep the last FN_TAIL_MAX bytes of an invocation's log. */
static void tail_add(fn_inv_t *inv, const char *p, size_t n)
{
    if (n >= FN_TAIL_MAX) {
        memcpy(inv->tailbuf, p + n - FN_TAIL_MAX, FN_TAIL_MAX);
        inv->tail_used = FN_TAIL_MAX;
        return;
    }
    if (inv->tail_used + n > FN_TAIL_MAX) {
        size_t drop = inv->tail_used + n - FN_TAIL_MAX;
        memmove(inv->tailbuf, inv->tailbuf + drop, inv->tail_used - drop);
        inv->tail_used -= drop;
    }
    memcpy(inv->tailbuf + inv->tail_used, p, n);
    inv->tail_used += n;
}

static void tail_printf(fn_inv_t *inv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tail_printf(fn_inv_t *inv, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        tail_add(inv, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Max Memory Used, from the kernel's high-water mark of the instance. */
static long inst_peak_mb(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *h = strstr(buf, "VmHWM:");
    return h != NULL ? strtol(h + 6, NULL, 10) / 1024 : 0;
}

/* Record the end of inv on f's finished list (fn->lk held). body is copied. */
static void finish(fn_t *f, inst_t *in, fn_inv_t *inv, fn_outcome_t outcome, const void *body,
                   size_t len)
{
    inv->duration_us = (util_mono_ns() - inv->start_ns) / 1000;
    if (inv->start_ns != 0) {
        unsigned ms = (unsigned)(inv->duration_us / 1000);
        tail_printf(inv, "END RequestId: %s\n", inv->request_id);
        tail_printf(inv,
                    "REPORT RequestId: %s\tDuration: %llu.%02u ms\tBilled Duration: %u ms\t"
                    "Memory Size: %u MB\tMax Memory Used: %ld MB\t",
                    inv->request_id, (unsigned long long)(inv->duration_us / 1000),
                    (unsigned)(inv->duration_us % 1000 / 10), ms + 1, inv->def->memory,
                    in != NULL && inv->tail ? inst_peak_mb(in->pid) : 0);
        if (inv->cold && in != NULL)
            tail_printf(inv, "Init Duration: %.2f ms\t", in->init_ms);
        tail_add(inv, "\n", 1);
    }
    finished_t *x = xmalloc(sizeof *x);
    x->inv = inv;
    x->outcome = outcome;
    x->body = len ? xmalloc(len) : NULL;
    if (len)
        memcpy(x->body, body, len);
    x->len = len;
    x->next = f->loop->finished;
    f->loop->finished = x;
}

/* Call done() for everything finished (fn->lk NOT held). */
static void run_finished(fn_t *f)
{
    pthread_mutex_lock(&f->lk);
    finished_t *x = f->loop->finished;
    f->loop->finished = NULL;
    pthread_mutex_unlock(&f->lk);
    while (x != NULL) {
        finished_t *next = x->next;
        x->inv->done(x->inv, x->outcome, x->body, x->len);
        free(x->body);
        free(x);
        x = next;
    }
}

static void finish_error(fn_t *f, inst_t *in, fn_inv_t *inv, const char *type, const char *fmt,
                         ...) __attribute__((format(printf, 5, 6)));
static void finish_error(fn_t *f, inst_t *in, fn_inv_t *inv, const char *type, const char *fmt,
                         ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s, s:s}", "errorType", type, "errorMessage", msg);
    char *text = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    finish(f, in, inv, FN_ERROR, text, strlen(text));
    free(text);
}

/* ---- Pools ---- */

static pool_t *pool_get(fn_t *f, const char *name, int create)
{
    for (pool_t *p = f->loop->pools; p != NULL; p = p->next) {
        if (strcmp(p->name, name) == 0)
            return p;
    }
    if (!create)
        return NULL;
    pool_t *p = xcalloc(1, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->next = f->loop->pools;
    f->loop->pools = p;
    return p;
}

static void ep_add(fn_t *f, int fd, watch_t *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    epoll_ctl(f->loop->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void ep_mod(fn_t *f, int fd, watch_t *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    epoll_ctl(f->loop->ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Stop an instance: its whole process group dies; the pidfd reports the end. */
static void inst_kill(inst_t *in)
{
    if (in->state == I_DYING)
        return;
    in->state = I_DYING;
    in->pool->count--;
    kill(-in->pid, SIGKILL);
    kill(in->pid, SIGKILL);
}

/* ---- Writing to a runtime ---- */

static void conn_close(fn_t *f, conn_t *c);

/* Send bytes to a runtime connection: at once if the socket takes them,
 * else the rest waits for EPOLLOUT. */
static void conn_send(fn_t *f, conn_t *c, const char *head, size_t hlen, const void *body,
                      size_t blen)
{
    struct iovec iov[2] = {{(void *)head, hlen}, {(void *)body, blen}};
    size_t total = hlen + blen;
    ssize_t n = c->out_len > c->out_off ? 0 : writev(c->fd, iov, blen ? 2 : 1);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        c->closing = 1;
        return;
    }
    size_t sent = n > 0 ? (size_t)n : 0;
    if (sent == total) {
        /* The loop sees the hang-up and frees the connection. */
        if (c->close_after && !c->parked)
            shutdown(c->fd, SHUT_RDWR);
        return;
    }
    /* Queue what is left (rare: a big event, or a slow reader). */
    size_t left = total - sent;
    size_t pending = c->out_len - c->out_off;
    char *out = xmalloc(pending + left);
    memcpy(out, c->out + c->out_off, pending);
    for (size_t i = 0, off = 0; i < 2; i++) {
        size_t len = iov[i].iov_len;
        if (sent >= len) {
            sent -= len;
            continue;
        }
        memcpy(out + pending + off, (char *)iov[i].iov_base + sent, len - sent);
        off += len - sent;
        sent = 0;
    }
    free(c->out);
    c->out = out;
    c->out_len = pending + left;
    c->out_off = 0;
    ep_mod(f, c->fd, &c->w, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
}

static void conn_reply(fn_t *f, conn_t *c, int status, const char *reason, const char *json)
{
    char head[256];
    size_t blen = strlen(json);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "\r\n",
                     status, reason, blen);
    conn_send(f, c, head, (size_t)n, json, blen);
}

/* Hand the instance's current invocation to its parked `next`. */
static void deliver(fn_t *f, inst_t *in)
{
    conn_t *c = in->parked;
    fn_inv_t *inv = in->current;
    in->parked = NULL;
    c->parked = 0;
    in->delivered = 1;
    inv->deadline_ms = util_now_ms() + (int64_t)inv->def->timeout * 1000;
    inv->start_ns = util_mono_ns();
    if (in->prelog_len > 0) {
        tail_add(inv, in->prelog, in->prelog_len);
        in->prelog_len = 0;
    }
    tail_printf(inv, "START RequestId: %s Version: $LATEST\n", inv->request_id);
    unsigned char rnd[12];
    util_random(rnd, sizeof rnd);
    char hex[25];
    util_hex(rnd, sizeof rnd, hex);
    char head[8192];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                     "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                     "Lambda-Runtime-Invoked-Function-Arn: %s\r\n"
                     "Lambda-Runtime-Trace-Id: Root=1-%08llx-%.24s;Parent=%.16s;Sampled=0\r\n",
                     inv->request_id, (long long)inv->deadline_ms, inv->def->arn,
                     (unsigned long long)(util_now_ms() / 1000), hex, hex + 8);
    if (inv->cognito_identity != NULL && n > 0 && (size_t)n < sizeof head)
        n += snprintf(head + n, sizeof head - (size_t)n, "Lambda-Runtime-Cognito-Identity: %s\r\n",
                      inv->cognito_identity);
    if (inv->client_context != NULL && n > 0 && (size_t)n < sizeof head)
        n += snprintf(head + n, sizeof head - (size_t)n, "Lambda-Runtime-Client-Context: %s\r\n",
                      inv->client_context);
    if (n > 0 && (size_t)n < sizeof head)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n\r\n",
                      inv->payload_len);
    if (n < 0 || (size_t)n >= sizeof head) {
        finish_error(f, in, inv, "Runtime.InvalidRequest", "The request headers are too long.");
        in->current = NULL;
        return;
    }
    conn_send(f, c, head, (size_t)n, inv->payload, inv->payload_len);
}

/* ---- Starting an instance ---- */

static const char *interp_for(fn_t *f, const fn_def_t *d)
{
    switch (fn_runtime_kind(d->runtime)) {
    case FN_KIND_NODE:
        return f->node;
    case FN_KIND_PYTHON:
        return f->python;
    default:
        return NULL;
    }
}

/* Landlock (linux/landlock.h values, spelled out so an older header builds). */
#define LL_CREATE_RULESET_VERSION 1u
#define LL_RULE_PATH_BENEATH 1
#define LL_EXECUTE (1ull << 0)
#define LL_WRITE_FILE (1ull << 1)
#define LL_READ_FILE (1ull << 2)
#define LL_READ_DIR (1ull << 3)
#define LL_IOCTL_DEV (1ull << 15)

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
};
struct ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

static uint64_t ll_all(int abi)
{
    uint64_t all = (1ull << 13) - 1; /* ABI 1: execute .. make_sym */
    if (abi >= 2)
        all |= 1ull << 13; /* refer */
    if (abi >= 3)
        all |= 1ull << 14; /* truncate */
    if (abi >= 5)
        all |= LL_IOCTL_DEV;
    return all;
}

static void ll_allow(int rfd, const char *path, uint64_t access)
{
    if (path == NULL || path[0] == '\0')
        return;
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat sb;
    /* A rule on a file may only name file rights. */
    if (fstat(fd, &sb) == 0 && !S_ISDIR(sb.st_mode))
        access &= LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | (1ull << 14) | LL_IOCTL_DEV;
    struct ll_path_beneath pb = {.allowed_access = access, .parent_fd = fd};
    syscall(SYS_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0);
    close(fd);
}

/* The filesystem an instance may see; -1 when Landlock is unavailable. */
static int ll_ruleset(fn_t *f, const inst_t *in, const char *interp)
{
    int abi = f->loop->landlock_abi;
    if (abi <= 0)
        return -1;
    uint64_t all = ll_all(abi);
    struct ll_ruleset_attr attr = {.handled_access_fs = all};
    int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rfd < 0)
        return -1;
    uint64_t ro = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR;
    static const char *const sys[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc",
                                      "/proc", "/sys", "/opt", "/run", NULL};
    for (size_t i = 0; sys[i] != NULL; i++)
        ll_allow(rfd, sys[i], ro);
    ll_allow(rfd, "/dev", ro | LL_WRITE_FILE | (abi >= 5 ? LL_IOCTL_DEV : 0));
    ll_allow(rfd, in->def->code->dir, ro);
    ll_allow(rfd, f->runtimes_dir, ro);
    ll_allow(rfd, f->sdk_dir, ro);
    ll_allow(rfd, in->tmpdir, all);
    if (interp != NULL) {
        /* An interpreter outside /usr (nvm, pyenv) needs its own prefix. */
        char *real = realpath(interp, NULL);
        if (real != NULL) {
            char *slash = strrchr(real, '/');
            if (slash != NULL && slash != real)
                *slash = '\0';
            slash = strrchr(real, '/');
            if (slash != NULL && slash != real)
                *slash = '\0';
            ll_allow(rfd, real, ro);
            free(real);
        }
    }
    return rfd;
}

static void env_add(char ***env, size_t *n, size_t *cap, char *kv)
{
    if (*n + 2 > *cap) {
        *cap = *cap ? *cap * 2 : 48;
        *env = xrealloc(*env, *cap * sizeof **env);
    }
    (*env)[(*n)++] = kv;
    (*env)[*n] = NULL;
}

static char **build_env(fn_t *f, const inst_t *in, const sts_creds_t *cr)
{
    const fn_def_t *d = in->def;
    char **env = NULL;
    size_t n = 0, cap = 0;
    const char *k;
    json_t *v;
    json_object_foreach(d->environment, k, v)
        env_add(&env, &n, &cap, xasprintf("%s=%s", k, json_string_value(v)));
    fn_kind_t kind = fn_runtime_kind(d->runtime);
    char date[11];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y/%m/%d", &tm);
    env_add(&env, &n, &cap, xstrdup("PATH=/usr/local/bin:/usr/bin:/bin"));
    env_add(&env, &n, &cap, xstrdup("LANG=C.UTF-8"));
    env_add(&env, &n, &cap, xstrdup("TZ=UTC"));
    env_add(&env, &n, &cap, xasprintf("HOME=%s", in->tmpdir));
    env_add(&env, &n, &cap, xasprintf("TMPDIR=%s", in->tmpdir));
    env_add(&env, &n, &cap, xasprintf("AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", in->port));
    env_add(&env, &n, &cap, xasprintf("_HANDLER=%s", d->handler));
    env_add(&env, &n, &cap, xasprintf("LAMBDA_TASK_ROOT=%s", d->code->dir));
    env_add(&env, &n, &cap,
            xasprintf("LAMBDA_RUNTIME_DIR=%s",
                      kind == FN_KIND_PROVIDED ? d->code->dir : f->runtimes_dir));
    env_add(&env, &n, &cap, xasprintf("AWS_REGION=%s", f->region));
    env_add(&env, &n, &cap, xasprintf("AWS_DEFAULT_REGION=%s", f->region));
    env_add(&env, &n, &cap, xasprintf("AWS_EXECUTION_ENV=AWS_Lambda_%s", d->runtime));
    env_add(&env, &n, &cap, xasprintf("AWS_LAMBDA_FUNCTION_NAME=%s", d->name));
    env_add(&env, &n, &cap, xasprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%u", d->memory));
    env_add(&env, &n, &cap, xstrdup("AWS_LAMBDA_FUNCTION_VERSION=$LATEST"));
    env_add(&env, &n, &cap, xstrdup("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"));
    env_add(&env, &n, &cap, xasprintf("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", d->name));
    env_add(&env, &n, &cap,
            xasprintf("AWS_LAMBDA_LOG_STREAM_NAME=%s/[$LATEST]%016llx", date,
                      (unsigned long long)in->id));
    env_add(&env, &n, &cap, xasprintf("AWS_ACCESS_KEY_ID=%s", cr->access_key_id));
    env_add(&env, &n, &cap, xasprintf("AWS_SECRET_ACCESS_KEY=%s", cr->secret));
    env_add(&env, &n, &cap, xasprintf("AWS_SESSION_TOKEN=%s", cr->session_token));
    env_add(&env, &n, &cap, xasprintf("AWS_ENDPOINT_URL=%s", f->endpoint));
    if (kind == FN_KIND_NODE && f->sdk_dir != NULL)
        env_add(&env, &n, &cap, xasprintf("NODE_PATH=%s", f->sdk_dir));
    if (kind == FN_KIND_PYTHON)
        env_add(&env, &n, &cap, xstrdup("PYTHONDONTWRITEBYTECODE=1"));
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        OPENSSL_cleanse(env[i], strlen(env[i]));
        free(env[i]);
    }
    free(env);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_fail(const char *what)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "cloudlet: cannot start the function: %s: %s\n", what,
                     strerror(errno));
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        _exit(127);
    _exit(127);
}

static void child(const inst_t *in, int outfd, int rfd, char *const argv[], char *const envp[])
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &dfl, NULL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
        child_fail("stdio");
    if (chdir(in->def->code->dir) != 0)
        child_fail("code folder");
    struct rlimit core = {0, 0}, files = {1024, 1024};
    rlim_t mem = (rlim_t)in->def->memory << 20;
    struct rlimit lim = {mem, mem};
    setrlimit(RLIMIT_CORE, &core);
    setrlimit(RLIMIT_NOFILE, &files);
    /* The memory limit counts private writable memory (heap, stacks,
     * anonymous mappings), not address space: V8, Go and the JVM reserve
     * gigabytes they never touch, so RLIMIT_AS at MemorySize would stop them
     * at start. */
    setrlimit(RLIMIT_DATA, &lim);
    /* Run as root, an instance would keep every capability (reading any
     * file, tracing cloudlet): empty the bounding set, so that the exec
     * grants none, and allow no regaining through set-uid programs. */
    for (int cap = 0; cap <= 63; cap++)
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (rfd >= 0 && syscall(SYS_landlock_restrict_self, rfd, 0) != 0)
        child_fail("landlock");
    syscall(SYS_close_range, 3u, ~0u, 0u);
    execve(argv[0], argv, envp);
    child_fail(argv[0]);
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Start an instance of d for inv (fn->lk held). Returns the instance or NULL
 * with inv finished with an error. */
static inst_t *spawn(fn_t *f, pool_t *p, fn_def_t *d, fn_inv_t *inv)
{
    inst_t *in = xcalloc(1, sizeof *in);
    in->pool = p;
    in->def = fn_def_ref(d);
    in->id = ++f->loop->next_id;
    in->lfd = in->outfd = in->pidfd = -1;
    in->pid = -1;
    int made_tmp = 0;
    const char *interp = interp_for(f, d);
    fn_kind_t kind = fn_runtime_kind(d->runtime);
    char boot[PATH_MAX];
    if (kind == FN_KIND_PROVIDED)
        snprintf(boot, sizeof boot, "%s/bootstrap", d->code->dir);
    else
        snprintf(boot, sizeof boot, "%s/%s", f->runtimes_dir,
                 kind == FN_KIND_NODE ? "node/bootstrap.js" : "python/bootstrap.py");
    if (kind != FN_KIND_PROVIDED && (interp == NULL || interp[0] == '\0')) {
        finish_error(f, NULL, inv, "Runtime.InvalidRuntime",
                     "cloudlet found no %s interpreter for runtime %s.",
                     kind == FN_KIND_NODE ? "node" : "python3", d->runtime);
        goto err;
    }
    if (access(boot, kind == FN_KIND_PROVIDED ? X_OK : R_OK) != 0) {
        finish_error(f, NULL, inv, "Runtime.InvalidEntrypoint",
                     "Couldn't find valid bootstrap(s): [%s]", boot);
        goto err;
    }
    sts_creds_t cr;
    if (sts_mint_role(f->o.sts, d->role, d->name, CRED_SECONDS, &cr) != 0) {
        finish_error(f, NULL, inv, "Runtime.InvalidRole",
                     "The role defined for the function cannot be assumed by Lambda: %s",
                     d->role[0] ? d->role : "cloudlet-function");
        goto err;
    }
    in->creds_expire = cr.expiration;
    const char *tmp = getenv("TMPDIR");
    snprintf(in->tmpdir, sizeof in->tmpdir, "%s/cloudlet-%s-XXXXXX",
             tmp != NULL && tmp[0] == '/' ? tmp : "/tmp", d->name);
    int pfd[2] = {-1, -1};
    made_tmp = mkdtemp(in->tmpdir) != NULL;
    if (!made_tmp || (in->lfd = listen_loopback(&in->port)) < 0 ||
        pipe2(pfd, O_CLOEXEC) != 0) {
        sts_creds_wipe(&cr);
        finish_error(f, NULL, inv, "Runtime.StartError", "cannot prepare the instance: %s",
                     strerror(errno));
        goto err;
    }
    char **env = build_env(f, in, &cr);
    sts_creds_wipe(&cr);
    char *argv[3] = {NULL, NULL, NULL};
    if (kind == FN_KIND_PROVIDED) {
        argv[0] = boot;
    } else {
        argv[0] = (char *)interp;
        argv[1] = boot;
    }
    int rfd = ll_ruleset(f, in, interp);
    in->spawn_ns = util_mono_ns();
    pid_t pid = fork();
    if (pid == 0)
        child(in, pfd[1], rfd, argv, env);
    int fork_errno = errno;
    free_env(env);
    if (rfd >= 0)
        close(rfd);
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        finish_error(f, NULL, inv, "Runtime.StartError", "fork: %s", strerror(fork_errno));
        goto err;
    }
    in->pid = pid;
    in->outfd = pfd[0];
    fcntl(in->outfd, F_SETFL, O_NONBLOCK);
    in->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    in->state = I_STARTING;
    in->wl = (watch_t){W_LISTEN, in};
    in->wo = (watch_t){W_OUT, in};
    in->wp = (watch_t){W_PID, in};
    ep_add(f, in->lfd, &in->wl, EPOLLIN);
    ep_add(f, in->outfd, &in->wo, EPOLLIN);
    ep_add(f, in->pidfd, &in->wp, EPOLLIN);
    in->next = p->insts;
    p->insts = in;
    p->count++;
    return in;
err:
    if (in->lfd >= 0)
        close(in->lfd);
    if (made_tmp)
        rmdir(in->tmpdir);
    fn_def_unref(in->def);
    free(in);
    return NULL;
}

/* ---- Submitting ---- */

void fn_pool_submit(fn_t *f, fn_inv_t *inv)
{
    fn_def_t *d = inv->def;
    pthread_mutex_lock(&f->lk);
    if (f->closing || f->loop == NULL) {
        pthread_mutex_unlock(&f->lk);
        inv->done(inv, FN_SHUTDOWN, NULL, 0);
        return;
    }
    pool_t *p = pool_get(f, d->name, 1);
    unsigned limit = d->reserved >= 0 ? (unsigned)d->reserved : f->o.max_concurrency;
    unsigned busy = 0;
    inst_t *idle = NULL;
    for (inst_t *in = p->insts; in != NULL; in = in->next) {
        busy += in->state != I_DYING && in->current != NULL;
        if (in->state == I_DYING || in->retiring || in->current != NULL ||
            in->def->generation != d->generation)
            continue;
        /* Prefer one already waiting in `next` (the event goes out at once),
         * and among those the one that finished last: a few hot instances
         * keep their caches and JIT warm while the rest idle out. */
        if (idle == NULL || (in->parked != NULL && idle->parked == NULL) ||
            ((in->parked != NULL) == (idle->parked != NULL) &&
             in->idle_since_ns > idle->idle_since_ns))
            idle = in;
    }
    /* The limit is on invocations running at once (a lowered reservation
     * also holds back instances that are already warm). */
    if (busy >= limit)
        idle = NULL;
    else if (idle == NULL && (unsigned)p->count < limit) {
        inv->cold = 1;
        inv->start_ns = 0;
        idle = spawn(f, p, d, inv);
        if (idle == NULL) {
            pthread_mutex_unlock(&f->lk);
            run_finished(f);
            return;
        }
    }
    if (idle == NULL) {
        pthread_mutex_unlock(&f->lk);
        inv->done(inv, FN_THROTTLED, NULL, 0);
        return;
    }
    idle->current = inv;
    idle->delivered = 0;
    inv->inst = NULL;
    /* Until delivered, a cold start is bounded by the init limit. */
    inv->deadline_ms = util_now_ms() + INIT_MS + (int64_t)d->timeout * 1000;
    if (idle->parked != NULL)
        deliver(f, idle);
    pthread_mutex_unlock(&f->lk);
    run_finished(f);
}

void fn_pool_retire(fn_t *f, const char *name)
{
    fn_def_t *cur = fn_def_find(f, name);
    pthread_mutex_lock(&f->lk);
    pool_t *p = f->loop != NULL ? pool_get(f, name, 0) : NULL;
    for (inst_t *in = p != NULL ? p->insts : NULL; in != NULL; in = in->next) {
        if (cur != NULL && in->def->generation == cur->generation)
            continue;
        in->retiring = 1;
        if (in->current == NULL)
            inst_kill(in);
    }
    pthread_mutex_unlock(&f->lk);
    fn_def_unref(cur);
}

/* ---- Output of instances ---- */

static void log_output_line(inst_t *in, const char *line, size_t n)
{
    const char *rid = in->current != NULL ? in->current->request_id : "init";
    log_info("fn %s %s: %.*s", in->def->name, rid, (int)n, line);
}

/* Read everything the instance has written (fn->lk held). */
static void read_output(inst_t *in)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(in->outfd, buf, sizeof buf);
        if (n <= 0)
            return;
        if (in->current != NULL && in->delivered)
            tail_add(in->current, buf, (size_t)n);
        else {
            /* Start-up output goes with the first invocation's log. */
            size_t k = (size_t)n > FN_TAIL_MAX ? FN_TAIL_MAX : (size_t)n;
            if (in->prelog_len + k > FN_TAIL_MAX)
                in->prelog_len = 0;
            memcpy(in->prelog + in->prelog_len, buf + n - k, k);
            in->prelog_len += k;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || in->line_len == sizeof in->line) {
                log_output_line(in, in->line, in->line_len);
                in->line_len = 0;
                if (buf[i] == '\n')
                    continue;
            }
            in->line[in->line_len++] = buf[i];
        }
    }
}

/* ---- The Runtime API ---- */

/* Complete the instance's current invocation from the runtime's answer. */
static void runtime_result(fn_t *f, inst_t *in, fn_outcome_t outcome, const char *body,
                           size_t len)
{
    fn_inv_t *inv = in->current;
    /* The runtime flushed its log before answering: read it into this
     * invocation's tail while it is still the current one. */
    read_output(in);
    if (in->line_len > 0) {
        log_output_line(in, in->line, in->line_len);
        in->line_len = 0;
    }
    log_info("fn %s %s: %s in %llu us", in->def->name, inv->request_id,
             outcome == FN_OK ? "done" : "failed",
             (unsigned long long)((util_mono_ns() - inv->start_ns) / 1000));
    in->current = NULL;
    in->delivered = 0;
    in->idle_since_ns = util_mono_ns();
    if (outcome == FN_OK && len > f->o.max_payload) {
        finish_error(f, in, inv, "Function.ResponseSizeTooLarge",
                     "Response payload size exceeded maximum allowed payload size (%zu bytes).",
                     f->o.max_payload);
    } else {
        finish(f, in, inv, outcome, body, len);
    }
    if (in->retiring || f->closing)
        inst_kill(in);
}

/* An /error body: the runtime's JSON, or one built from the header. */
static char *error_body(const char *body, size_t len, const char *type_header)
{
    json_t *j = len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    if (json_is_object(j)) {
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        return s;
    }
    json_decref(j);
    /* The header is the runtime's (untrusted) text: printable ASCII only,
     * bounded, so that it always makes a JSON string. */
    char type[129] = "Runtime.Unknown";
    if (type_header != NULL && type_header[0] != '\0') {
        size_t n = 0;
        for (; type_header[n] != '\0' && n < sizeof type - 1; n++)
            type[n] = type_header[n] >= 0x20 && type_header[n] < 0x7f ? type_header[n] : '_';
        type[n] = '\0';
    }
    json_t *e = json_pack("{s:s, s:s}", "errorType", type, "errorMessage",
                          "The runtime reported an error without a body.");
    char *s = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    return s;
}

typedef struct request {
    const char *method;
    const char *path;
    const char *error_type;
    const char *body;
    size_t body_len;
} request_t;

static void runtime_request(fn_t *f, conn_t *c, const request_t *rq)
{
    inst_t *in = c->inst;
    const char *base = "/2018-06-01/runtime/";
    if (strncmp(rq->path, base, strlen(base)) != 0) {
        conn_reply(f, c, 404, "Not Found", "{\"errorMessage\":\"Unknown Runtime API path\"}");
        return;
    }
    const char *p = rq->path + strlen(base);
    if (strcmp(rq->method, "GET") == 0 && strcmp(p, "invocation/next") == 0) {
        if (in->state == I_STARTING) {
            in->state = I_LIVE;
            in->init_ms = (double)(util_mono_ns() - in->spawn_ns) / 1e6;
            in->idle_since_ns = util_mono_ns();
        }
        if (in->parked != NULL && in->parked != c)
            in->parked->parked = 0; /* a second poller replaces the first */
        in->parked = c;
        c->parked = 1;
        if (in->current != NULL && !in->delivered)
            deliver(f, in);
        return;
    }
    if (strcmp(rq->method, "POST") == 0 && strcmp(p, "init/error") == 0) {
        free(in->init_error);
        in->init_error = error_body(rq->body, rq->body_len, rq->error_type);
        conn_reply(f, c, 202, "Accepted", "{\"status\":\"OK\"}");
        return;
    }
    const char *inv_prefix = "invocation/";
    const char *slash = strncmp(p, inv_prefix, strlen(inv_prefix)) == 0
                            ? strchr(p + strlen(inv_prefix), '/')
                            : NULL;
    if (strcmp(rq->method, "POST") != 0 || slash == NULL) {
        conn_reply(f, c, 404, "Not Found", "{\"errorMessage\":\"Unknown Runtime API path\"}");
        return;
    }
    const char *id = p + strlen(inv_prefix);
    size_t idlen = (size_t)(slash - id);
    fn_inv_t *inv = in->current;
    if (inv == NULL || !in->delivered || idlen != strlen(inv->request_id) ||
        memcmp(id, inv->request_id, idlen) != 0) {
        conn_reply(f, c, 400, "Bad Request",
                   "{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}");
        return;
    }
    if (strcmp(slash, "/response") == 0) {
        conn_reply(f, c, 202, "Accepted", "{\"status\":\"OK\"}");
        runtime_result(f, in, FN_OK, rq->body, rq->body_len);
    } else if (strcmp(slash, "/error") == 0) {
        conn_reply(f, c, 202, "Accepted", "{\"status\":\"OK\"}");
        char *e = error_body(rq->body, rq->body_len, rq->error_type);
        runtime_result(f, in, FN_ERROR, e, strlen(e));
        free(e);
    } else {
        conn_reply(f, c, 404, "Not Found", "{\"errorMessage\":\"Unknown Runtime API path\"}");
    }
}

/* Decode a chunked body in place. Returns its length, -1 if incomplete,
 * -2 if malformed. *used = bytes of input consumed. */
static long dechunk(char *p, size_t n, size_t *used)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *eol = memmem(p + in, n - in, "\r\n", 2);
        if (eol == NULL)
            return -1;
        char *end;
        unsigned long len = strtoul(p + in, &end, 16);
        if (end == p + in || len > (64ul << 20))
            return -2;
        in = (size_t)(eol - p) + 2;
        if (len == 0) {
            /* Trailers end with an empty line. */
            char *fin = memmem(p + in - 2, n - in + 2, "\r\n\r\n", 4);
            if (fin == NULL)
                return -1;
            *used = (size_t)(fin - p) + 4;
            return (long)out;
        }
        if (n - in < len + 2)
            return -1;
        memmove(p + out, p + in, len);
        out += len;
        in += len + 2;
    }
}

/* Parse and answer every complete request in c's buffer. The head is
 * parsed from a copy, so a request whose body has not fully arrived is left
 * as it was. */
static void conn_parse(fn_t *f, conn_t *c)
{
    while (!c->closing && c->in_len > 0) {
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (end == NULL) {
            if (c->in_len > HEAD_MAX)
                c->closing = 1;
            return;
        }
        size_t head_len = (size_t)(end - c->in) + 4;
        if (head_len > HEAD_MAX) {
            c->closing = 1;
            return;
        }
        char *hd = xstrndup(c->in, head_len - 4);
        char *save = NULL;
        char *line = strtok_r(hd, "\r\n", &save);
        char *sp1 = line ? strchr(line, ' ') : NULL;
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (sp1 == NULL || sp2 == NULL) {
            free(hd);
            c->closing = 1;
            return;
        }
        *sp1 = '\0';
        *sp2 = '\0';
        request_t rq = {.method = line, .path = sp1 + 1};
        long long clen = 0;
        int chunked = 0, expect = 0, close_after = 0;
        char *h;
        while ((h = strtok_r(NULL, "\r\n", &save)) != NULL) {
            char *colon = strchr(h, ':');
            if (colon == NULL)
                continue;
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (strcasecmp(h, "Content-Length") == 0)
                clen = strtoll(v, NULL, 10);
            else if (strcasecmp(h, "Transfer-Encoding") == 0)
                chunked = strcasestr(v, "chunked") != NULL;
            else if (strcasecmp(h, "Expect") == 0)
                expect = strcasecmp(v, "100-continue") == 0;
            else if (strcasecmp(h, "Connection") == 0)
                close_after = strcasecmp(v, "close") == 0;
            else if (strcasecmp(h, "Lambda-Runtime-Function-Error-Type") == 0)
                rq.error_type = v;
        }
        size_t limit = f->o.max_payload + (1u << 20);
        if (clen < 0 || (size_t)clen > limit) {
            free(hd);
            conn_reply(f, c, 413, "Payload Too Large", "{\"errorMessage\":\"Payload too large\"}");
            if (c->inst->current != NULL && c->inst->delivered) {
                static const char e[] =
                    "{\"errorType\":\"Function.ResponseSizeTooLarge\",\"errorMessage\":"
                    "\"Response payload size exceeded maximum allowed payload size.\"}";
                runtime_result(f, c->inst, FN_ERROR, e, sizeof e - 1);
            }
            c->closing = 1;
            return;
        }
        size_t consumed = 0;
        long blen;
        if (chunked) {
            size_t used = 0;
            blen = dechunk(c->in + head_len, c->in_len - head_len, &used);
            consumed = head_len + used;
        } else {
            blen = c->in_len - head_len < (size_t)clen ? -1 : (long)clen;
            consumed = head_len + (size_t)clen;
        }
        if (blen == -2 || (blen == -1 && c->in_len > limit + HEAD_MAX)) {
            free(hd);
            c->closing = 1;
            return;
        }
        if (blen == -1) {
            /* curl and others wait for this before sending a body. */
            if (expect && !c->continued) {
                c->continued = 1;
                conn_send(f, c, "HTTP/1.1 100 Continue\r\n\r\n", 25, NULL, 0);
            }
            free(hd);
            return;
        }
        rq.body = c->in + head_len;
        rq.body_len = (size_t)blen;
        c->continued = 0;
        runtime_request(f, c, &rq);
        free(hd);
        /* A parked `next` is answered later: end the connection once its
         * answer is written (conn_send), not now. */
        if (close_after) {
            c->close_after = 1;
            if (!c->parked && c->out_len == c->out_off)
                c->closing = 1;
        }
        memmove(c->in, c->in + consumed, c->in_len - consumed);
        c->in_len -= consumed;
    }
}

/* ---- Connections ---- */

static void conn_close(fn_t *f, conn_t *c)
{
    inst_t *in = c->inst;
    if (in->parked == c)
        in->parked = NULL;
    for (conn_t **pp = &in->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    epoll_ctl(f->loop->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

static void on_accept(fn_t *f, inst_t *in)
{
    for (;;) {
        int fd = accept4(in->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (in->state == I_DYING) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *c = xcalloc(1, sizeof *c);
        c->w = (watch_t){W_CONN, c};
        c->fd = fd;
        c->inst = in;
        c->next = in->conns;
        in->conns = c;
        ep_add(f, fd, &c->w, EPOLLIN | EPOLLRDHUP);
    }
}

static void on_conn(fn_t *f, conn_t *c, uint32_t events)
{
    if (events & EPOLLOUT) {
        while (c->out_off < c->out_len) {
            ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
            if (n <= 0) {
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                c->closing = 1;
                break;
            }
            c->out_off += (size_t)n;
        }
        if (c->out_off == c->out_len) {
            free(c->out);
            c->out = NULL;
            c->out_len = c->out_off = 0;
            ep_mod(f, c->fd, &c->w, EPOLLIN | EPOLLRDHUP);
            if (c->close_after && !c->parked)
                c->closing = 1;
        }
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        size_t limit = f->o.max_payload + (2u << 20) + HEAD_MAX;
        for (;;) {
            if (c->in_cap - c->in_len < 65536) {
                size_t cap = c->in_cap ? c->in_cap * 2 : 65536;
                if (cap > limit + 65536)
                    cap = limit + 65536;
                if (cap <= c->in_cap) {
                    c->closing = 1;
                    break;
                }
                c->in = xrealloc(c->in, cap);
                c->in_cap = cap;
            }
            ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            if (n <= 0) {
                c->closing = 1;
                break;
            }
            c->in_len += (size_t)n;
        }
        conn_parse(f, c);
    }
    if (c->closing)
        conn_close(f, c);
}

/* ---- Instances that end ---- */

/* The process is gone: finish what it was doing and free it (fn->lk held). */
static void on_exit_inst(fn_t *f, inst_t *in)
{
    int status = 0;
    waitpid(in->pid, &status, 0);
    if (in->state != I_DYING) {
        in->state = I_DYING;
        in->pool->count--;
    }
    /* Its process group may have stragglers. */
    kill(-in->pid, SIGKILL);
    read_output(in);
    fn_inv_t *inv = in->current;
    in->current = NULL;
    if (inv != NULL) {
        if (in->init_error != NULL) {
            finish(f, in, inv, FN_ERROR, in->init_error, strlen(in->init_error));
        } else if (WIFSIGNALED(status)) {
            finish_error(f, in, inv, "Runtime.ExitError",
                         "RequestId: %s Error: Runtime exited with error: signal: %s",
                         inv->request_id, strsignal(WTERMSIG(status)));
        } else {
            finish_error(f, in, inv, "Runtime.ExitError",
                         "RequestId: %s Error: Runtime exited with error: exit status %d",
                         inv->request_id, WEXITSTATUS(status));
        }
    }
    while (in->conns != NULL)
        conn_close(f, in->conns);
    epoll_ctl(f->loop->ep, EPOLL_CTL_DEL, in->lfd, NULL);
    epoll_ctl(f->loop->ep, EPOLL_CTL_DEL, in->outfd, NULL);
    epoll_ctl(f->loop->ep, EPOLL_CTL_DEL, in->pidfd, NULL);
    close(in->lfd);
    close(in->outfd);
    close(in->pidfd);
    fn_remove_tree(in->tmpdir);
    pool_t *p = in->pool;
    for (inst_t **pp = &p->insts; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == in) {
            *pp = in->next;
            break;
        }
    }
    free(in->init_error);
    fn_def_unref(in->def);
    free(in);
}

/* Timeouts, idle instances, expiring credentials (fn->lk held). */
static void tick(fn_t *f)
{
    int64_t now = util_now_ms();
    uint64_t mono = util_mono_ns();
    uint64_t keep = (uint64_t)f->o.keep_warm_seconds * 1000000000ull;
    for (pool_t *p = f->loop->pools; p != NULL; p = p->next) {
        for (inst_t *in = p->insts; in != NULL; in = in->next) {
            if (in->state == I_DYING)
                continue;
            fn_inv_t *inv = in->current;
            if (inv != NULL && now > inv->deadline_ms) {
                if (in->delivered)
                    finish_error(f, in, inv, "Sandbox.Timedout",
                                 "RequestId: %s Error: Task timed out after %u.00 seconds",
                                 inv->request_id, inv->def->timeout);
                else
                    finish_error(f, in, inv, "Runtime.InitTimeout",
                                 "RequestId: %s Error: the runtime did not start within %d "
                                 "seconds",
                                 inv->request_id, INIT_MS / 1000);
                in->current = NULL;
                inst_kill(in);
                continue;
            }
            if (inv == NULL && in->state == I_LIVE &&
                (mono - in->idle_since_ns > keep || in->creds_expire - now / 1000 < CRED_MARGIN))
                inst_kill(in);
        }
    }
}

/* ---- The loop ---- */

static void *loop_main(void *arg)
{
    fn_t *f = arg;
    struct epoll_event evs[64];
    uint64_t last_tick = 0;
    while (!atomic_load(&f->loop->stop)) {
        int n = epoll_wait(f->loop->ep, evs, 64, TICK_MS);
        pthread_mutex_lock(&f->lk);
        for (int i = 0; i < n; i++) {
            watch_t *w = evs[i].data.ptr;
            switch (w->kind) {
            case W_LISTEN:
                on_accept(f, w->obj);
                break;
            case W_CONN:
                on_conn(f, w->obj, evs[i].events);
                break;
            case W_OUT:
                read_output(w->obj);
                break;
            case W_PID:
                on_exit_inst(f, w->obj);
                /* Later events of this batch may name the freed instance. */
                n = 0;
                break;
            case W_WAKE: {
                uint64_t v;
                if (read(f->loop->wakefd, &v, sizeof v) < 0)
                    break;
                break;
            }
            }
        }
        uint64_t mono = util_mono_ns();
        if (mono - last_tick >= TICK_MS * 1000000ull) {
            last_tick = mono;
            tick(f);
        }
        pthread_mutex_unlock(&f->lk);
        run_finished(f);
    }
    return NULL;
}

/* ---- Open, start, stop ---- */

int fn_pool_open(fn_t *f, char *err, size_t errsz)
{
    struct fn_loop *L = xcalloc(1, sizeof *L);
    L->ep = epoll_create1(EPOLL_CLOEXEC);
    L->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (L->ep < 0 || L->wakefd < 0) {
        snprintf(err, errsz, "functions: epoll: %s", strerror(errno));
        if (L->ep >= 0)
            close(L->ep);
        if (L->wakefd >= 0)
            close(L->wakefd);
        free(L);
        return -1;
    }
    L->ww = (watch_t){W_WAKE, NULL};
    atomic_init(&L->stop, 0);
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    L->landlock_abi = abi > 0 ? (int)abi : 0;
    f->loop = L;
    ep_add(f, L->wakefd, &L->ww, EPOLLIN);
    if (L->landlock_abi == 0)
        log_warn("functions: this kernel has no Landlock: instances can read every file "
                 "cloudlet's user can, the data directory included");
    return 0;
}

int fn_pool_start(fn_t *f, char *err, size_t errsz)
{
    if (pthread_create(&f->loop->thread, NULL, loop_main, f) != 0) {
        snprintf(err, errsz, "functions: cannot start the event loop");
        return -1;
    }
    f->loop->started = 1;
    return 0;
}

void fn_pool_shutdown(fn_t *f)
{
    struct fn_loop *L = f->loop;
    if (L == NULL)
        return;
    pthread_mutex_lock(&f->lk);
    f->closing = 1;
    for (pool_t *p = L->pools; p != NULL; p = p->next) {
        for (inst_t *in = p->insts; in != NULL; in = in->next) {
            if (in->current != NULL) {
                finish(f, in, in->current, FN_SHUTDOWN, NULL, 0);
                in->current = NULL;
            }
            inst_kill(in);
        }
    }
    pthread_mutex_unlock(&f->lk);
    run_finished(f);
    /* Let the loop reap the instances (pidfds), then stop it. */
    uint64_t deadline = util_mono_ns() + 2000000000ull;
    for (;;) {
        pthread_mutex_lock(&f->lk);
        int left = 0;
        for (pool_t *p = L->pools; p != NULL; p = p->next)
            left += p->insts != NULL;
        pthread_mutex_unlock(&f->lk);
        if (left == 0 || !L->started || util_mono_ns() > deadline)
            break;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&L->stop, 1);
    uint64_t one = 1;
    if (write(L->wakefd, &one, sizeof one) < 0)
        log_warn("functions: cannot wake the event loop");
    if (L->started)
        pthread_join(L->thread, NULL);
    L->started = 0;
    /* Anything the loop did not reap. */
    pthread_mutex_lock(&f->lk);
    for (pool_t *p = L->pools; p != NULL; p = p->next) {
        while (p->insts != NULL)
            on_exit_inst(f, p->insts);
    }
    pthread_mutex_unlock(&f->lk);
    run_finished(f);
}

void fn_pool_close(fn_t *f)
{
    struct fn_loop *L = f->loop;
    if (L == NULL)
        return;
    pool_t *p = L->pools;
    while (p != NULL) {
        pool_t *next = p->next;
        free(p);
        p = next;
    }
    close(L->ep);
    close(L->wakefd);
    free(L);
    f->loop = NULL;
}
