/* zip.c - safe extraction of a function's deployment package.
 *
 * A zip uploaded with CreateFunction is hostile input that ends up as files on
 * our disk, so extraction is done in two passes. The first reads only the
 * central directory and refuses anything that could write outside the target
 * folder (zip-slip names, symlinks), anything that is not a plain file or
 * folder, and anything too large (declared sizes, entry count, compression
 * ratio). The second inflates into a private temporary folder inside the
 * target, counting the real bytes because declared sizes can lie, and only a
 * fully successful extraction is renamed into place; any failure removes the
 * temporary folder, so callers never see half a package.
 */
#include "functions/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "common/util.h"

#define CHUNK (64 * 1024)

/* One archive entry that passed the checks. */
typedef struct entry {
    zip_uint64_t index;
    char *path; /* as in the archive, without a trailing '/' */
    int is_dir;
    mode_t mode; /* permissions to create it with */
    uint64_t size;
} entry_t;

/* A list of names, for folder listings. */
typedef struct names {
    char **v;
    size_t n;
} names_t;

void fn_zip_default_limits(fn_zip_limits_t *lim)
{
    lim->max_total = 250ull * 1024 * 1024;
    lim->max_entries = 10000;
    lim->max_ratio = 200;
    lim->max_path = 1024;
}

static void fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errsz, const char *fmt, ...)
{
    if (errsz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

static uint64_t rd16(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8;
}

static uint64_t rd32(const unsigned char *p)
{
    return rd16(p) | rd16(p + 2) << 16;
}

static uint64_t rd64(const unsigned char *p)
{
    return rd32(p) | rd32(p + 4) << 32;
}

/* Walk a candidate central directory. Returns 0 if it holds `want` entries
 * and no name has a NUL, -1 if a name has a NUL, 1 if it does not parse. */
static int walk_cd(const unsigned char *p, size_t len, uint64_t off, uint64_t size, uint64_t count,
                   uint64_t want)
{
    if (count != want || off > len || size > len - off)
        return 1;
    uint64_t pos = off, end = off + size;
    for (uint64_t k = 0; k < count; k++) {
        if (end - pos < 46 || memcmp(p + pos, "PK\1\2", 4) != 0)
            return 1;
        uint64_t nlen = rd16(p + pos + 28);
        uint64_t rest = nlen + rd16(p + pos + 30) + rd16(p + pos + 32);
        if (end - pos - 46 < rest)
            return 1;
        if (memchr(p + pos + 46, 0, nlen) != NULL)
            return -1;
        pos += 46 + rest;
    }
    return 0;
}

/* libzip turns a NUL inside a stored name into a space, which would let
 * "a\0b" pass as "a b"; so look at the raw names in the central directory.
 * Returns 0 if they are clean, -1 with a message otherwise. */
static int check_raw_names(const unsigned char *p, size_t len, uint64_t nentries, char *err,
                           size_t errsz)
{
    if (len >= 22) {
        size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
        for (size_t i = len - 22 + 1; i-- > lo;) {
            if (memcmp(p + i, "PK\5\6", 4) != 0)
                continue;
            uint64_t count = rd16(p + i + 10), size = rd32(p + i + 12), off = rd32(p + i + 16);
            if (count == 0xffff || size == 0xffffffff || off == 0xffffffff) {
                /* Zip64: the real values are in the zip64 end record. */
                if (i < 20 || memcmp(p + i - 20, "PK\6\7", 4) != 0)
                    continue;
                uint64_t z = rd64(p + i - 20 + 8);
                if (z > len || len - z < 56 || memcmp(p + z, "PK\6\6", 4) != 0)
                    continue;
                count = rd64(p + z + 32);
                size = rd64(p + z + 40);
                off = rd64(p + z + 48);
            }
            int r = walk_cd(p, len, off, size, count, nentries);
            if (r == 0)
                return 0;
            if (r < 0) {
                fail(err, errsz, "an entry name contains a NUL byte");
                return -1;
            }
        }
    }
    fail(err, errsz, "corrupt zip archive: central directory not found");
    return -1;
}

/* Check one entry name. Returns NULL if acceptable (setting *is_dir for a
 * trailing '/'), else the reason. */
static const char *bad_name(const char *name, uint64_t max_path, int *is_dir)
{
    size_t n = strlen(name);
    if (n == 0)
        return "empty name";
    if (n > max_path)
        return "name too long";
    if (name[0] == '/')
        return "absolute path";
    if (strchr(name, '\\') != NULL)
        return "backslash in name";
    char c = (char)(name[0] | 0x20);
    if (c >= 'a' && c <= 'z' && name[1] == ':')
        return "drive letter in name";
    *is_dir = name[n - 1] == '/';
    if (*is_dir)
        n--;
    size_t depth = 0;
    const char *p = name, *end = name + n;
    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash != NULL ? slash : end;
        size_t clen = (size_t)(stop - p);
        if (clen == 0)
            return "empty path component";
        if (clen == 1 && p[0] == '.')
            return "'.' path component";
        if (clen == 2 && p[0] == '.' && p[1] == '.')
            return "'..' path component";
        if (clen > NAME_MAX)
            return "path component too long";
        if (++depth > FN_ZIP_MAX_DEPTH)
            return "nested too deeply";
        if (slash == NULL)
            return NULL;
        p = slash + 1;
    }
}

static int cmp_entry_path(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->path, ((const entry_t *)b)->path);
}

static void free_entries(entry_t *ents, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ents[i].path);
    free(ents);
}

/* First pass: check every entry from the central directory alone and build
 * the list to extract (in archive order). Returns 0 or -1 with a message. */
static int plan(zip_t *za, const fn_zip_limits_t *lim, entry_t **out, size_t *nout, char *err,
                size_t errsz)
{
    const zip_uint64_t need = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE |
                              ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
    zip_int64_t num = zip_get_num_entries(za, 0);
    size_t n = num > 0 ? (size_t)num : 0;
    entry_t *ents = xcalloc(n ? n : 1, sizeof *ents);
    entry_t *sorted = NULL;
    uint64_t total = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        entry_t *e = &ents[i];
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(za, i, 0, &st) != 0 || (st.valid & need) != need) {
            fail(err, errsz, "corrupt zip archive: entry %zu: %s", i, zip_strerror(za));
            goto err;
        }
        const char *why = bad_name(st.name, lim->max_path, &e->is_dir);
        if (why != NULL) {
            if (strlen(st.name) > lim->max_path)
                fail(err, errsz, "entry %zu: %s", i, why);
            else
                fail(err, errsz, "entry '%s': %s", st.name, why);
            goto err;
        }
        e->index = i;
        e->path = xstrndup(st.name, strlen(st.name) - (e->is_dir ? 1 : 0));
        e->size = st.size;
        if (st.encryption_method != ZIP_EM_NONE) {
            fail(err, errsz, "entry '%s': encrypted entries are not supported", st.name);
            goto err;
        }

        zip_uint8_t opsys = 0;
        zip_uint32_t attr = 0;
        if (zip_file_get_external_attributes(za, i, 0, &opsys, &attr) != 0) {
            fail(err, errsz, "corrupt zip archive: entry '%s': %s", st.name, zip_strerror(za));
            goto err;
        }
        mode_t umode = opsys == ZIP_OPSYS_UNIX ? (mode_t)(attr >> 16) : 0;
        mode_t type = umode & S_IFMT;
        if (type == S_IFLNK) {
            fail(err, errsz, "entry '%s': symbolic links are not allowed", st.name);
            goto err;
        }
        if (type != 0 && type != S_IFREG && type != S_IFDIR) {
            fail(err, errsz, "entry '%s': special files are not allowed", st.name);
            goto err;
        }
        if ((type == S_IFDIR && !e->is_dir) || (type == S_IFREG && e->is_dir)) {
            fail(err, errsz, "entry '%s': type does not match its name", st.name);
            goto err;
        }
        e->mode = e->is_dir || (umode & 0111) != 0 ? 0755 : 0644;
        if (e->is_dir && st.size != 0) {
            fail(err, errsz, "entry '%s': folder entry with data", st.name);
            goto err;
        }
        if (!zip_compression_method_supported(st.comp_method, 0)) {
            fail(err, errsz, "entry '%s': unsupported compression method %d", st.name,
                 (int)st.comp_method);
            goto err;
        }
        if (st.size > lim->max_total - total) {
            fail(err, errsz, "archive unpacks to more than %llu bytes",
                 (unsigned long long)lim->max_total);
            goto err;
        }
        total += st.size;
        if (st.size > FN_ZIP_RATIO_FLOOR &&
            (st.comp_size == 0 || st.size / st.comp_size > lim->max_ratio)) {
            fail(err, errsz, "entry '%s': compression ratio above %llu (zip bomb?)", st.name,
                 (unsigned long long)lim->max_ratio);
            goto err;
        }
    }

    /* Duplicates after dropping the trailing '/': extracting both would
     * either fail half-way or let the second silently replace the first. */
    sorted = xmalloc((n ? n : 1) * sizeof *sorted);
    if (n > 0)
        memcpy(sorted, ents, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_entry_path);
    for (size_t k = 1; k < n; k++) {
        if (strcmp(sorted[k - 1].path, sorted[k].path) == 0) {
            fail(err, errsz, "entry '%s': duplicate name", sorted[k].path);
            goto err;
        }
    }
    free(sorted);
    *out = ents;
    *nout = n;
    return 0;
err:
    free(sorted);
    free_entries(ents, n);
    return -1;
}

/* The names in the folder open as fd, except "." and "..". Returns 0 or -1. */
static int list_dir(int fd, names_t *out)
{
    out->v = NULL;
    out->n = 0;
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return -1;
    }
    size_t cap = 0;
    for (struct dirent *de = readdir(d); de != NULL; de = readdir(d)) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            out->v = xrealloc(out->v, cap * sizeof *out->v);
        }
        out->v[out->n++] = xstrdup(de->d_name);
    }
    closedir(d);
    return 0;
}

static void names_free(names_t *nm)
{
    for (size_t i = 0; i < nm->n; i++)
        free(nm->v[i]);
    free(nm->v);
    nm->v = NULL;
    nm->n = 0;
}

/* Remove `name` under the folder pfd and everything below it, never following
 * a symlink. One descriptor per level is held, hence FN_ZIP_MAX_DEPTH. */
static int remove_tree_at(int pfd, const char *name)
{
    if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    names_t nm;
    int rc = list_dir(fd, &nm);
    for (size_t i = 0; i < nm.n; i++) {
        if (remove_tree_at(fd, nm.v[i]) != 0)
            rc = -1;
    }
    names_free(&nm);
    close(fd);
    if (unlinkat(pfd, name, AT_REMOVEDIR) != 0)
        rc = -1;
    return rc;
}

/* Open (creating if needed) the folder `name` under pfd. Returns an fd or -1. */
static int open_subdir(int pfd, const char *name)
{
    int created = mkdirat(pfd, name, 0755) == 0;
    if (!created && errno != EEXIST)
        return -1;
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* Exact permissions whatever the process umask is. */
    if (created && fchmod(fd, 0755) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Open the folder that holds path's last component, creating the folders on
 * the way. Returns an fd (caller closes) and sets *base, or -1. */
static int open_parent(int rootfd, const char *path, const char **base)
{
    int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const char *p = path;
    const char *slash = strchr(p, '/');
    while (fd >= 0 && slash != NULL) {
        char comp[NAME_MAX + 1];
        size_t n = (size_t)(slash - p); /* <= NAME_MAX: checked by bad_name */
        memcpy(comp, p, n);
        comp[n] = '\0';
        int nfd = open_subdir(fd, comp);
        close(fd);
        fd = nfd;
        p = slash + 1;
        slash = strchr(p, '/');
    }
    *base = p;
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Second pass for one entry: create it under rootfd. *total counts the real
 * inflated bytes of all entries so far. Returns 0 or -1 with a message. */
static int extract_one(zip_t *za, const entry_t *e, int rootfd, const fn_zip_limits_t *lim,
                       uint64_t *total, char *buf, char *err, size_t errsz)
{
    int rc = -1, fd = -1, pfd = -1;
    zip_file_t *zf = NULL;
    const char *base = NULL;

    pfd = open_parent(rootfd, e->path, &base);
    if (pfd < 0) {
        fail(err, errsz, "entry '%s': cannot create its folder: %s", e->path, strerror(errno));
        goto out;
    }
    if (e->is_dir) {
        fd = open_subdir(pfd, base);
        if (fd < 0)
            fail(err, errsz, "entry '%s': cannot create folder: %s", e->path, strerror(errno));
        else
            rc = 0;
        goto out;
    }

    fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail(err, errsz, "entry '%s': cannot create file: %s", e->path, strerror(errno));
        goto out;
    }
    zf = zip_fopen_index(za, e->index, 0);
    if (zf == NULL) {
        fail(err, errsz, "entry '%s': %s", e->path, zip_strerror(za));
        goto out;
    }
    uint64_t got = 0;
    for (;;) {
        /* Reading to the end (a 0 return) is what makes libzip check the CRC. */
        zip_int64_t n = zip_fread(zf, buf, CHUNK);
        if (n < 0) {
            fail(err, errsz, "corrupt zip archive: entry '%s': %s", e->path, zip_file_strerror(zf));
            goto out;
        }
        if (n == 0)
            break;
        got += (uint64_t)n;
        *total += (uint64_t)n;
        if (got > e->size) {
            fail(err, errsz, "entry '%s': inflates to more than its declared %llu bytes", e->path,
                 (unsigned long long)e->size);
            goto out;
        }
        if (*total > lim->max_total) {
            fail(err, errsz, "archive unpacks to more than %llu bytes",
                 (unsigned long long)lim->max_total);
            goto out;
        }
        if (write_all(fd, buf, (size_t)n) != 0) {
            fail(err, errsz, "entry '%s': write failed: %s", e->path, strerror(errno));
            goto out;
        }
    }
    if (got != e->size) {
        fail(err, errsz, "corrupt zip archive: entry '%s' is shorter than declared", e->path);
        goto out;
    }
    if (fchmod(fd, e->mode) != 0) {
        fail(err, errsz, "entry '%s': chmod failed: %s", e->path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (zf != NULL)
        zip_fclose(zf);
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        fail(err, errsz, "entry '%s': close failed: %s", e->path, strerror(errno));
        rc = -1;
    }
    if (pfd >= 0)
        close(pfd);
    return rc;
}

/* Rename without replacing: `dir` was empty, so anything there now arrived
 * behind our back and must not be clobbered. */
static int rename_noreplace(int ofd, const char *name, int nfd)
{
    if (renameat2(ofd, name, nfd, name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* A file system without RENAME_NOREPLACE: check, then rename. */
    struct stat sb;
    if (fstatat(nfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
        return -1;
    }
    return renameat(ofd, name, nfd, name);
}

/* Move the top-level entries of the temporary folder into dir. On failure the
 * ones already moved are removed again. Returns 0 or -1 with a message. */
static int move_into_place(int tmpfd, int dirfd, char *err, size_t errsz)
{
    names_t nm;
    if (list_dir(tmpfd, &nm) != 0) {
        fail(err, errsz, "cannot list the temporary folder: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < nm.n; i++) {
        if (rename_noreplace(tmpfd, nm.v[i], dirfd) != 0) {
            fail(err, errsz, "cannot move '%s' into place: %s", nm.v[i], strerror(errno));
            for (size_t j = 0; j < i; j++)
                remove_tree_at(dirfd, nm.v[j]);
            rc = -1;
            break;
        }
    }
    names_free(&nm);
    return rc;
}

/* Create dir/.tmp-XXXXXXXX (random hex). Returns its fd and fills name, or -1. */
static int make_tmp(int dirfd, char name[32], char *err, size_t errsz)
{
    for (int tries = 0; tries < 16; tries++) {
        unsigned char rnd[4];
        char hex[9];
        util_random(rnd, sizeof rnd);
        util_hex(rnd, sizeof rnd, hex);
        snprintf(name, 32, ".tmp-%s", hex);
        if (mkdirat(dirfd, name, 0700) != 0) {
            if (errno == EEXIST)
                continue;
            break;
        }
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            unlinkat(dirfd, name, AT_REMOVEDIR);
        else
            return fd;
        break;
    }
    fail(err, errsz, "cannot create a temporary folder: %s", strerror(errno));
    name[0] = '\0';
    return -1;
}

int fn_zip_extract(const void *zip, size_t len, const char *dir, const fn_zip_limits_t *lim,
                   size_t *files_out, char *err, size_t errsz)
{
    int rc = -1, dirfd = -1, tmpfd = -1;
    char tmpname[32] = "";
    zip_source_t *src = NULL;
    zip_t *za = NULL;
    entry_t *ents = NULL;
    size_t nents = 0, nfiles = 0;
    char *buf = NULL;
    names_t existing = {0};
    zip_error_t ze;

    zip_error_init(&ze);
    if (errsz > 0)
        err[0] = '\0';
    if (zip == NULL || dir == NULL || lim == NULL) {
        fail(err, errsz, "invalid arguments");
        goto out;
    }
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        fail(err, errsz, "cannot open %s: %s", dir, strerror(errno));
        goto out;
    }
    if (list_dir(dirfd, &existing) != 0) {
        fail(err, errsz, "cannot list %s: %s", dir, strerror(errno));
        goto out;
    }
    if (existing.n != 0) {
        fail(err, errsz, "%s is not empty", dir);
        goto out;
    }
    /* libzip reads 0 bytes as an empty archive; an upload of nothing is not one. */
    if (len == 0) {
        fail(err, errsz, "not a zip archive: empty input");
        goto out;
    }

    src = zip_source_buffer_create(zip, len, 0, &ze);
    if (src == NULL) {
        fail(err, errsz, "cannot read the archive: %s", zip_error_strerror(&ze));
        goto out;
    }
    /* ZIP_CHECKCONS compares each local header with the central directory
     * and refuses duplicate names. */
    za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (za == NULL) {
        fail(err, errsz, "not a valid zip archive: %s", zip_error_strerror(&ze));
        goto out;
    }
    src = NULL; /* owned by za now */

    zip_int64_t num = zip_get_num_entries(za, 0);
    if (num < 0 || (uint64_t)num > lim->max_entries) {
        fail(err, errsz, "archive has more than %llu entries",
             (unsigned long long)lim->max_entries);
        goto out;
    }
    if (check_raw_names(zip, len, (uint64_t)num, err, errsz) != 0)
        goto out;
    if (plan(za, lim, &ents, &nents, err, errsz) != 0)
        goto out;

    tmpfd = make_tmp(dirfd, tmpname, err, errsz);
    if (tmpfd < 0)
        goto out;
    buf = xmalloc(CHUNK);
    uint64_t total = 0;
    for (size_t i = 0; i < nents; i++) {
        if (extract_one(za, &ents[i], tmpfd, lim, &total, buf, err, errsz) != 0)
            goto out;
        if (!ents[i].is_dir)
            nfiles++;
    }
    if (move_into_place(tmpfd, dirfd, err, errsz) != 0)
        goto out;
    close(tmpfd);
    tmpfd = -1;
    if (unlinkat(dirfd, tmpname, AT_REMOVEDIR) != 0) {
        /* Cannot happen short of a racer: take back what was moved rather
         * than leave a stray folder in the function's code. */
        fail(err, errsz, "cannot remove the temporary folder: %s", strerror(errno));
        names_t moved;
        if (list_dir(dirfd, &moved) == 0) {
            for (size_t i = 0; i < moved.n; i++)
                remove_tree_at(dirfd, moved.v[i]);
            names_free(&moved);
        }
        tmpname[0] = '\0';
        goto out;
    }
    tmpname[0] = '\0';
    if (files_out != NULL)
        *files_out = nfiles;
    rc = 0;
out:
    if (tmpfd >= 0)
        close(tmpfd);
    if (tmpname[0] != '\0')
        remove_tree_at(dirfd, tmpname);
    free(buf);
    free_entries(ents, nents);
    names_free(&existing);
    if (za != NULL)
        zip_discard(za);
    if (src != NULL)
        zip_source_free(src);
    zip_error_fini(&ze);
    if (dirfd >= 0)
        close(dirfd);
    return rc;
}
