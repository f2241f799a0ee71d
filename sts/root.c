/* root.c - the root (admin) credentials and the life of the sts handle.
 *
 * Root may call every API (DESIGN.md, contract), so its secret is handled
 * like one: taken from the environment when the operator provides it, else
 * kept in DIR/root-credentials, which is created once with O_EXCL and mode
 * 0600 and refused when group or others could read it. The file uses the AWS
 * shared-credentials form so the AWS CLI and SDKs read it as is
 * (AWS_SHARED_CREDENTIALS_FILE=var/root-credentials aws ...). Nothing here
 * writes the secret into a message, and every buffer that held it is wiped.
 */
#include "sts/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/util.h"

#define ENV_KEY_ID "CLOUDLET_ROOT_ACCESS_KEY_ID"
#define ENV_SECRET "CLOUDLET_ROOT_SECRET_ACCESS_KEY"
#define CRED_FILE "root-credentials"
#define CRED_FILE_MAX (64 * 1024) /* a credentials file is a few lines */
#define GEN_KEY_ID_RANDOM 16      /* AKIA + 16 characters of base32 */
#define GEN_SECRET_LEN 40         /* the length of AWS secret access keys */
/* A verified caller carries the key id in a fixed array (common/http.h). */
#define CALLER_KEY_ID_MAX (sizeof(((http_caller_t *)0)->access_key_id) - 1)

/* An environment variable, with "set but empty" read as unset so that
 * `CLOUDLET_ROOT_ACCESS_KEY_ID= make run` means "no override". */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Check an access key id: STS_KEY_ID_MIN..MAX characters of A-Z and 0-9 (and
 * no longer than a caller record holds). Returns 0, or -1 with a message
 * naming `what` in err. */
static int check_key_id(const char *akid, const char *what, char *err, size_t errsz)
{
    size_t n = strlen(akid);

    if (n < STS_KEY_ID_MIN || n > STS_KEY_ID_MAX) {
        snprintf(err, errsz, "%s must be %d to %d characters of A-Z and 0-9 (it has %zu)", what,
                 STS_KEY_ID_MIN, STS_KEY_ID_MAX, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = akid[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            snprintf(err, errsz, "%s must be %d to %d characters of A-Z and 0-9", what,
                     STS_KEY_ID_MIN, STS_KEY_ID_MAX);
            return -1;
        }
    }
    if (n > CALLER_KEY_ID_MAX) {
        snprintf(err, errsz, "%s has %zu characters; this build accepts at most %zu", what, n,
                 (size_t)CALLER_KEY_ID_MAX);
        return -1;
    }
    return 0;
}

/* Check a secret access key: STS_SECRET_MIN..MAX printable ASCII characters
 * without spaces. Returns 0, or -1 with a message that names `what` and
 * never quotes the secret. */
static int check_secret(const char *secret, const char *what, char *err, size_t errsz)
{
    size_t n = strlen(secret);

    if (n < STS_SECRET_MIN || n > STS_SECRET_MAX) {
        snprintf(err, errsz, "%s must be %d to %d printable characters without spaces (it has %zu)",
                 what, STS_SECRET_MIN, STS_SECRET_MAX, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)secret[i];
        if (c < 0x21 || c > 0x7e) {
            snprintf(err, errsz, "%s must be %d to %d printable characters without spaces", what,
                     STS_SECRET_MIN, STS_SECRET_MAX);
            return -1;
        }
    }
    return 0;
}

/* Strip spaces, tabs and a CR from both ends of s, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Read aws_access_key_id and aws_secret_access_key from the [default]
 * section of the shared-credentials text (modified in place). Other
 * sections, other keys, blank lines and '#'/';' comments are ignored; names
 * are case-insensitive and may have spaces around '='. Returns 0, or -1
 * with a message naming `path` and the line. */
static int parse_credentials(char *text, const char *path, sts_cred_t *cred, char *err,
                             size_t errsz)
{
    int in_default = 0, have_id = 0, have_secret = 0, lineno = 0;
    char what[sizeof((sts_t *)0)->source + 64];
    char *next = text;

    while (next != NULL) {
        char *line = next;
        char *nl = strchr(line, '\n');
        next = NULL;
        if (nl != NULL) {
            *nl = '\0';
            next = nl + 1;
        }
        lineno++;
        line = trim(line);
        if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            size_t n = strlen(line);
            if (line[n - 1] != ']') {
                snprintf(err, errsz, "%s line %d: a section header must end with ']'", path,
                         lineno);
                return -1;
            }
            line[n - 1] = '\0';
            in_default = strcmp(trim(line + 1), "default") == 0;
            continue;
        }
        if (!in_default)
            continue;
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            snprintf(err, errsz, "%s line %d: expected 'name = value'", path, lineno);
            return -1;
        }
        *eq = '\0';
        char *name = trim(line);
        char *value = trim(eq + 1);
        snprintf(what, sizeof what, "%s line %d: %s", path, lineno, name);
        if (strcasecmp(name, "aws_access_key_id") == 0) {
            if (have_id) {
                snprintf(err, errsz, "%s appears twice in [default]", what);
                return -1;
            }
            if (check_key_id(value, what, err, errsz) != 0)
                return -1;
            memcpy(cred->access_key_id, value, strlen(value) + 1);
            have_id = 1;
        } else if (strcasecmp(name, "aws_secret_access_key") == 0) {
            if (have_secret) {
                snprintf(err, errsz, "%s appears twice in [default]", what);
                return -1;
            }
            if (check_secret(value, what, err, errsz) != 0)
                return -1;
            memcpy(cred->secret, value, strlen(value) + 1);
            have_secret = 1;
        }
    }
    if (!have_id || !have_secret) {
        snprintf(err, errsz,
                 "%s has no [default] section with aws_access_key_id and aws_secret_access_key "
                 "(remove the file to have new root credentials generated)",
                 path);
        return -1;
    }
    return 0;
}

/* Read and parse the open credentials file fd (closed here). Refuses
 * anything but a regular file of mode 0600 or stricter. */
static int read_credentials(int fd, const char *path, sts_cred_t *cred, char *err, size_t errsz)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    int rc = -1;

    if (fstat(fd, &st) != 0) {
        snprintf(err, errsz, "cannot stat %s: %s", path, strerror(errno));
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "%s is not a regular file", path);
        goto err;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errsz,
                 "%s holds the root secret but is open to group or others (mode %04o): "
                 "chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        goto err;
    }
    if (st.st_size > CRED_FILE_MAX) {
        snprintf(err, errsz, "%s is larger than %d bytes", path, CRED_FILE_MAX);
        goto err;
    }
    text = xmalloc(CRED_FILE_MAX + 2);
    for (;;) {
        ssize_t r = read(fd, text + len, CRED_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
            goto err;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > CRED_FILE_MAX) {
            snprintf(err, errsz, "%s is larger than %d bytes", path, CRED_FILE_MAX);
            goto err;
        }
    }
    text[len] = '\0';
    if (memchr(text, '\0', len) != NULL) {
        snprintf(err, errsz, "%s is not a text file", path);
        goto err;
    }
    rc = parse_credentials(text, path, cred, err, errsz);
err:
    if (text != NULL) {
        OPENSSL_cleanse(text, CRED_FILE_MAX + 2);
        free(text);
    }
    close(fd);
    return rc;
}

/* Fill cred with a new random key: "AKIA" + 16 characters of A-Z2-7, and a
 * secret of 40 characters of the base64 alphabet. 256 is a multiple of both
 * 32 and 64, so masking a random byte picks every character equally often. */
static void generate(sts_cred_t *cred)
{
    static const char base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char base64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char r[GEN_KEY_ID_RANDOM + GEN_SECRET_LEN];

    util_random(r, sizeof r);
    memcpy(cred->access_key_id, "AKIA", 4);
    for (size_t i = 0; i < GEN_KEY_ID_RANDOM; i++)
        cred->access_key_id[4 + i] = base32[r[i] & 31];
    cred->access_key_id[4 + GEN_KEY_ID_RANDOM] = '\0';
    for (size_t i = 0; i < GEN_SECRET_LEN; i++)
        cred->secret[i] = base64[r[GEN_KEY_ID_RANDOM + i] & 63];
    cred->secret[GEN_SECRET_LEN] = '\0';
    OPENSSL_cleanse(r, sizeof r);
}

/* Create `path` (O_EXCL, mode 0600) holding new random credentials, which
 * are left in cred. Returns 0; 1 if the file already exists (another
 * process won the race: read it instead); -1 with a message on failure,
 * leaving no file behind. */
static int create_credentials(const char *path, sts_cred_t *cred, char *err, size_t errsz)
{
    char text[64 + STS_KEY_ID_MAX + STS_SECRET_MAX];
    int rc = -1;

    generate(cred);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return 1;
        snprintf(err, errsz, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    int n = snprintf(text, sizeof text,
                     "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                     cred->access_key_id, cred->secret);
    size_t off = 0;
    while (off < (size_t)n) {
        ssize_t w = write(fd, text + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off != (size_t)n || fsync(fd) != 0) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        goto out;
    }
    if (close(fd) != 0) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

/* Load the root credential into s->root and record its source: the
 * environment, else DIR/root-credentials (created when absent). */
static int load_root(sts_t *s, const char *data_dir, char *err, size_t errsz)
{
    const char *id = env(ENV_KEY_ID);
    const char *secret = env(ENV_SECRET);

    if (id != NULL && secret != NULL) {
        if (check_key_id(id, ENV_KEY_ID, err, errsz) != 0 ||
            check_secret(secret, ENV_SECRET, err, errsz) != 0)
            return -1;
        memcpy(s->root.access_key_id, id, strlen(id) + 1);
        memcpy(s->root.secret, secret, strlen(secret) + 1);
        snprintf(s->source, sizeof s->source, "environment");
        return 0;
    }
    if (id != NULL || secret != NULL) {
        snprintf(err, errsz, "%s is set but %s is not: set both or neither",
                 id != NULL ? ENV_KEY_ID : ENV_SECRET, id != NULL ? ENV_SECRET : ENV_KEY_ID);
        return -1;
    }
    if (data_dir == NULL || data_dir[0] == '\0') {
        snprintf(err, errsz, "no data directory for %s, and %s and %s are not set", CRED_FILE,
                 ENV_KEY_ID, ENV_SECRET);
        return -1;
    }
    int n = snprintf(s->source, sizeof s->source, "%s/%s", data_dir, CRED_FILE);
    if (n < 0 || (size_t)n >= sizeof s->source) {
        snprintf(err, errsz, "data directory path is too long");
        return -1;
    }
    const char *path = s->source;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        int rc = create_credentials(path, &s->root, err, errsz);
        if (rc <= 0)
            return rc;
        /* Lost the creation race: the other process's file is the one. */
        OPENSSL_cleanse(&s->root, sizeof s->root);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    return read_credentials(fd, path, &s->root, err, errsz);
}

int sts_open(sts_t **out, const sts_options_t *opts, char *err, size_t errsz)
{
    sts_t *s = NULL;

    *out = NULL;
    if (opts == NULL || opts->region == NULL || opts->account_id == NULL) {
        snprintf(err, errsz, "sts: a region and an account id are required");
        return -1;
    }
    if (opts->region[0] == '\0' || strlen(opts->region) > STS_SCOPE_PART_MAX) {
        snprintf(err, errsz, "sts: the region must be 1 to %d characters", STS_SCOPE_PART_MAX);
        return -1;
    }
    if (opts->account_id[0] == '\0' || strlen(opts->account_id) >= sizeof s->account_id) {
        snprintf(err, errsz, "sts: the account id must be 1 to %zu characters",
                 sizeof s->account_id - 1);
        return -1;
    }
    s = xcalloc(1, sizeof *s);
    if (pthread_mutex_init(&s->cache_lock, NULL) != 0 ||
        pthread_rwlock_init(&s->idpools_lock, NULL) != 0) {
        free(s);
        snprintf(err, errsz, "sts: cannot create a mutex");
        return -1;
    }
    memcpy(s->region, opts->region, strlen(opts->region) + 1);
    memcpy(s->account_id, opts->account_id, strlen(opts->account_id) + 1);
    if (load_root(s, opts->data_dir, err, errsz) != 0)
        goto err;
    s->root.root = 1;
    snprintf(s->root.arn, sizeof s->root.arn, "arn:aws:iam::%s:root", s->account_id);
    if (sts_pools_load(s, opts, err, errsz) != 0)
        goto err;
    *out = s;
    return 0;
err:
    sts_close(s);
    return -1;
}

void sts_close(sts_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->cache_lock);
    sts_pools_free(s);
    pthread_rwlock_destroy(&s->idpools_lock);
    /* The root secret and every cached signing key live inside *s. */
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

const char *sts_root_access_key_id(const sts_t *s)
{
    return s->root.access_key_id;
}

const char *sts_root_source(const sts_t *s)
{
    return s->source;
}

const sts_cred_t *sts_cred_lookup(const sts_t *s, const char *akid)
{
    /* Access key ids are not secret, so a plain comparison is fine. */
    if (strcmp(akid, s->root.access_key_id) == 0)
        return &s->root;
    return NULL;
}
