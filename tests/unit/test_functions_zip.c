/* test_functions_zip.c - unit tests for functions/zip.c (deployment package
 * extraction).
 *
 * Archives are built in the test with libzip itself; the hostile ones that
 * libzip refuses to write (duplicate names, NUL in a name, lying sizes, bad
 * CRC) are made by patching the bytes of a well-formed archive. After every
 * refusal the target folder must still be empty: no file, no temporary folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "common/util.h"
#include "functions/internal.h"
#include "tests/unit/testutil.h"

#define MIB (1024u * 1024u)

/* ---- building archives ---- */

typedef struct zb {
    zip_source_t *src;
    zip_t *za;
} zb_t;

static void zb_new(zb_t *b)
{
    zip_error_t ze;
    zip_error_init(&ze);
    b->src = zip_source_buffer_create(NULL, 0, 0, &ze);
    assert_non_null(b->src);
    zip_source_keep(b->src);
    b->za = zip_open_from_source(b->src, ZIP_TRUNCATE, &ze);
    assert_non_null(b->za);
    zip_error_fini(&ze);
}

/* Add a file (a copy of data). unix_mode 0 leaves libzip's default attributes
 * (no mode at all); otherwise it is the full st_mode, type bits included. */
static zip_int64_t zb_add(zb_t *b, const char *name, const void *data, size_t len,
                          uint32_t unix_mode)
{
    /* libzip frees the copy with the source, except an empty one */
    void *copy = NULL;
    if (len > 0) {
        copy = xmalloc(len);
        memcpy(copy, data, len);
    }
    zip_source_t *s = zip_source_buffer(b->za, copy, len, copy != NULL);
    assert_non_null(s);
    zip_int64_t idx = zip_file_add(b->za, name, s, 0);
    if (idx < 0)
        fail_msg("zip_file_add(%s): %s", name, zip_strerror(b->za));
    if (unix_mode != 0)
        assert_int_equal(zip_file_set_external_attributes(b->za, (zip_uint64_t)idx, 0,
                                                          ZIP_OPSYS_UNIX, unix_mode << 16),
                         0);
    return idx;
}

static zip_int64_t zb_add_str(zb_t *b, const char *name, const char *text, uint32_t unix_mode)
{
    return zb_add(b, name, text, strlen(text), unix_mode);
}

/* Close the archive and return its bytes (caller frees). */
static unsigned char *zb_finish(zb_t *b, size_t *len)
{
    if (zip_close(b->za) != 0)
        fail_msg("zip_close: %s", zip_strerror(b->za));
    assert_int_equal(zip_source_open(b->src), 0);
    assert_int_equal(zip_source_seek(b->src, 0, SEEK_END), 0);
    zip_int64_t n = zip_source_tell(b->src);
    assert_true(n >= 0);
    assert_int_equal(zip_source_seek(b->src, 0, SEEK_SET), 0);
    unsigned char *p = xmalloc(n > 0 ? (size_t)n : 1);
    assert_int_equal(zip_source_read(b->src, p, (zip_uint64_t)n), n);
    zip_source_close(b->src);
    zip_source_free(b->src);
    *len = (size_t)n;
    return p;
}

/* Replace every occurrence of `from` by `to` (same length n); returns how many. */
static int patch_all(unsigned char *p, size_t len, const void *from, const void *to, size_t n)
{
    int count = 0;
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(p + i, from, n) == 0) {
            memcpy(p + i, to, n);
            count++;
        }
    }
    return count;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* ---- the target folder ---- */

typedef struct fixture {
    char dir[64];
    fn_zip_limits_t lim;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = xcalloc(1, sizeof *f);
    if (test_tmpdir(f->dir, sizeof f->dir, "fzip") != 0) {
        free(f);
        return -1;
    }
    fn_zip_default_limits(&f->lim);
    *state = f;
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Extraction must fail with a message containing `want` (if not NULL) and
 * leave the folder empty. */
static void expect_refused(fixture_t *f, const fn_zip_limits_t *lim, const unsigned char *z,
                           size_t len, const char *want)
{
    char err[256] = "";
    size_t files = 12345;
    int rc = fn_zip_extract(z, len, f->dir, lim, &files, err, sizeof err);
    if (rc != -1)
        fail_msg("expected a refusal containing '%s', got rc %d", want ? want : "", rc);
    assert_true(err[0] != '\0');
    if (getenv("FZIP_VERBOSE") != NULL)
        print_message("refused: %s\n", err);
    if (want != NULL && strstr(err, want) == NULL)
        fail_msg("error '%s' lacks '%s'", err, want);
    assert_int_equal(files, 12345);
    assert_int_equal(count_entries(f->dir), 0);
}

static char *read_file_at(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    free(path);
    if (fp == NULL)
        return NULL;
    char *s = xcalloc(1, 4096);
    size_t n = fread(s, 1, 4095, fp);
    s[n] = '\0';
    fclose(fp);
    return s;
}

static mode_t mode_of(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct stat sb;
    int rc = lstat(path, &sb);
    free(path);
    assert_int_equal(rc, 0);
    return sb.st_mode;
}

/* ---- successes ---- */

static void test_normal_function(void **state)
{
    fixture_t *f = *state;
    zb_t b;
    zb_new(&b);
    zb_add_str(&b, "index.js", "exports.handler = async () => 'hi';\n", 0);
    assert_true(zip_dir_add(b.za, "lib/", 0) >= 0);
    zb_add_str(&b, "lib/util.js", "module.exports = 1;\n", S_IFREG | 0644);
    zb_add_str(&b, "bootstrap", "#!/bin/sh\necho hi\n", S_IFREG | 0755);
    zb_add_str(&b, "deep/er/still.txt", "x", 0); /* parents without folder entries */
    size_t len;
    unsigned char *z = zb_finish(&b, &len);

    char err[256] = "";
    size_t files = 0;
    int rc = fn_zip_extract(z, len, f->dir, &f->lim, &files, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(files, 4);
    assert_int_equal(count_entries(f->dir), 4); /* index.js lib bootstrap deep, no .tmp */

    char *s = read_file_at(f->dir, "index.js");
    assert_string_equal(s, "exports.handler = async () => 'hi';\n");
    free(s);
    s = read_file_at(f->dir, "lib/util.js");
    assert_string_equal(s, "module.exports = 1;\n");
    free(s);
    s = read_file_at(f->dir, "deep/er/still.txt");
    assert_string_equal(s, "x");
    free(s);

    assert_int_equal(mode_of(f->dir, "index.js"), S_IFREG | 0644);
    assert_int_equal(mode_of(f->dir, "lib/util.js"), S_IFREG | 0644);
    assert_int_equal(mode_of(f->dir, "bootstrap"), S_IFREG | 0755);
    assert_int_equal(mode_of(f->dir, "lib"), S_IFDIR | 0755);
    assert_int_equal(mode_of(f->dir, "deep/er"), S_IFDIR | 0755);
    free(z);
}

static void test_files_out_may_be_null(void **state)
{
    fixture_t *f = *state;
    zb_t b;
    zb_new(&b);
    zb_add_str(&b, "a.py", "def handler(e, c): return e\n", 0);
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    char err[128];
    assert_int_equal(fn_zip_extract(z, len, f->dir, &f->lim, NULL, err, sizeof err), 0);
    assert_int_equal(count_entries(f->dir), 1);
    free(z);
}

/* An archive of no entries is just the 22-byte end record. */
static void test_empty_archive(void **state)
{
    fixture_t *f = *state;
    unsigned char eocd[22] = {'P', 'K', 5, 6};
    char err[128] = "";
    size_t files = 99;
    int rc = fn_zip_extract(eocd, sizeof eocd, f->dir, &f->lim, &files, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(files, 0);
    assert_int_equal(count_entries(f->dir), 0);
}

/* Small highly compressible files are exempt from the ratio check. */
static void test_small_compressible_ok(void **state)
{
    fixture_t *f = *state;
    size_t n = 512 * 1024;
    char *zeros = xcalloc(1, n);
    zb_t b;
    zb_new(&b);
    zb_add(&b, "zeros.bin", zeros, n, 0);
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    assert_true(len < n / 200); /* it really is above the ratio */
    char err[128] = "";
    int rc = fn_zip_extract(z, len, f->dir, &f->lim, NULL, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    char *path = xasprintf("%s/zeros.bin", f->dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, n);
    free(path);
    free(zeros);
    free(z);
}

/* ---- refusals ---- */

static void test_bad_names(void **state)
{
    fixture_t *f = *state;
    static const char *const names[] = {
        "/etc/x", "../x", "a/../../x", "a//b", "C:x",    "c:/x", "a\\b",
        "..\\x",  "./x",  "a/./b",     "x/..", "a/../b", "//x",  "..",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        zb_t b;
        zb_new(&b);
        zb_add_str(&b, "ok.txt", "fine", 0); /* a good entry first: it must not survive */
        zb_add_str(&b, names[i], "evil", 0);
        size_t len;
        unsigned char *z = zb_finish(&b, &len);
        expect_refused(f, &f->lim, z, len, NULL);
        free(z);
    }
}

static void test_name_limits(void **state)
{
    fixture_t *f = *state;
    fn_zip_limits_t lim = f->lim;
    lim.max_path = 16;
    zb_t b;
    zb_new(&b);
    zb_add_str(&b, "0123456789abcdefg", "x", 0); /* 17 bytes */
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    expect_refused(f, &lim, z, len, "too long");
    free(z);

    /* FN_ZIP_MAX_DEPTH + 1 levels */
    char deep[2 * (FN_ZIP_MAX_DEPTH + 1) + 1] = "";
    for (int i = 0; i < FN_ZIP_MAX_DEPTH; i++)
        strcat(deep, "d/");
    strcat(deep, "f");
    zb_new(&b);
    zb_add_str(&b, deep, "x", 0);
    z = zb_finish(&b, &len);
    expect_refused(f, &f->lim, z, len, "deeply");
    free(z);
}

static void test_nul_in_name(void **state)
{
    fixture_t *f = *state;
    zb_t b;
    zb_new(&b);
    zb_add_str(&b, "abXYcd.js", "x", 0);
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    /* local header and central directory both say "ab\0Ycd.js" */
    assert_int_equal(patch_all(z, len, "abXYcd.js", "ab\0Ycd.js", 9), 2);
    expect_refused(f, &f->lim, z, len, "NUL");
    free(z);
}

static void test_symlinks(void **state)
{
    fixture_t *f = *state;
    static const char *const targets[] = {"../../../etc/passwd", "/etc/passwd", "index.js"};
    for (size_t i = 0; i < 3; i++) {
        zb_t b;
        zb_new(&b);
        zb_add_str(&b, "index.js", "x", 0);
        zb_add_str(&b, "link", targets[i], S_IFLNK | 0777);
        size_t len;
        unsigned char *z = zb_finish(&b, &len);
        expect_refused(f, &f->lim, z, len, "symbolic link");
        free(z);
    }
}

static void test_special_files(void **state)
{
    fixture_t *f = *state;
    static const uint32_t modes[] = {S_IFIFO | 0644, S_IFCHR | 0644, S_IFBLK | 0644,
                                     S_IFSOCK | 0644};
    for (size_t i = 0; i < 4; i++) {
        zb_t b;
        zb_new(&b);
        zb_add_str(&b, "dev", "", modes[i]);
        size_t len;
        unsigned char *z = zb_finish(&b, &len);
        expect_refused(f, &f->lim, z, len, "special");
        free(z);
    }
}

static void test_duplicates(void **state)
{
    fixture_t *f = *state;
    /* Exact duplicates: libzip will not write them, so rename one in place. */
    zb_t b;
    zb_new(&b);
    zb_add_str(&b, "dup1.js", "first", 0);
    zb_add_str(&b, "dup2.js", "second", 0);
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    assert_int_equal(patch_all(z, len, "dup2.js", "dup1.js", 7), 2);
    expect_refused(f, &f->lim, z, len, NULL);
    free(z);

    /* A file and a folder of the same name. */
    zb_new(&b);
    zb_add_str(&b, "a", "file", 0);
    assert_true(zip_dir_add(b.za, "a/", 0) >= 0);
    z = zb_finish(&b, &len);
    expect_refused(f, &f->lim, z, len, "duplicate");
    free(z);

    /* A file that is also used as a folder: found during extraction, so
     * this exercises the clean-up of a half-extracted tree. */
    zb_new(&b);
    zb_add_str(&b, "x/y/z.txt", "1", 0);
    zb_add_str(&b, "x/y", "2", 0);
    zb_add_str(&b, "x/y/w.txt", "3", 0);
    z = zb_finish(&b, &len);
    expect_refused(f, &f->lim, z, len, NULL);
    free(z);
}

static void test_too_many_entries(void **state)
{
    fixture_t *f = *state;
    fn_zip_limits_t lim = f->lim;
    lim.max_entries = 3;
    zb_t b;
    zb_new(&b);
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        zb_add_str(&b, name, "x", 0);
    }
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    expect_refused(f, &lim, z, len, "entries");
    lim.max_entries = 4;
    char err[128] = "";
    size_t files = 0;
    assert_int_equal(fn_zip_extract(z, len, f->dir, &lim, &files, err, sizeof err), 0);
    assert_int_equal(files, 4);
    free(z);
}

static void test_total_declared(void **state)
{
    fixture_t *f = *state;
    fn_zip_limits_t lim = f->lim;
    lim.max_total = MIB;
    lim.max_ratio = UINT64_MAX; /* isolate the total check */
    char *zeros = xcalloc(1, 2 * MIB);
    zb_t b;
    zb_new(&b);
    zb_add(&b, "a.bin", zeros, MIB / 2, 0);
    zb_add(&b, "b.bin", zeros, MIB / 2 + 1, 0); /* one byte over in sum */
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    expect_refused(f, &lim, z, len, "more than");
    free(z);

    zb_new(&b);
    zb_add(&b, "zeros.bin", zeros, 2 * MIB, 0);
    z = zb_finish(&b, &len);
    expect_refused(f, &lim, z, len, "more than");
    free(z);
    free(zeros);
}

static void test_bomb_ratio(void **state)
{
    fixture_t *f = *state;
    size_t n = 100 * MIB;
    char *zeros = xcalloc(1, n);
    zb_t b;
    zb_new(&b);
    zb_add_str(&b, "index.js", "x", 0);
    zb_add(&b, "bomb.bin", zeros, n, 0);
    free(zeros);
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    assert_true(len < 200 * 1024); /* ~1000:1 */
    expect_refused(f, &f->lim, z, len, "ratio");
    free(z);
}

/* The declared size says 100 bytes, the data inflates to 2 MiB: the real
 * bytes are counted and extraction stops. */
static void test_lying_size(void **state)
{
    fixture_t *f = *state;
    char *zeros = xcalloc(1, 2 * MIB);
    zb_t b;
    zb_new(&b);
    zb_add(&b, "liar.bin", zeros, 2 * MIB, 0);
    free(zeros);
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    /* local header: size at 22; central directory header: size at 24 */
    assert_memory_equal(z, "PK\3\4", 4);
    put32(z + 22, 100);
    int found = 0;
    for (size_t i = 30; i + 46 <= len; i++) {
        if (memcmp(z + i, "PK\1\2", 4) == 0) {
            put32(z + i + 24, 100);
            found++;
        }
    }
    assert_int_equal(found, 1);
    expect_refused(f, &f->lim, z, len, NULL);
    free(z);
}

static void test_crc_mismatch(void **state)
{
    fixture_t *f = *state;
    zb_t b;
    zb_new(&b);
    zip_int64_t idx = zb_add_str(&b, "data.txt", "the quick brown fox", 0);
    assert_int_equal(zip_set_file_compression(b.za, (zip_uint64_t)idx, ZIP_CM_STORE, 0), 0);
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    assert_int_equal(patch_all(z, len, "quick", "QUICK", 5), 1);
    expect_refused(f, &f->lim, z, len, "CRC");
    free(z);
}

static void test_encrypted(void **state)
{
    fixture_t *f = *state;
    zip_uint16_t em =
        zip_encryption_method_supported(ZIP_EM_AES_256, 1) ? ZIP_EM_AES_256 : ZIP_EM_TRAD_PKWARE;
    if (!zip_encryption_method_supported(em, 1))
        skip();
    zb_t b;
    zb_new(&b);
    zip_int64_t idx = zb_add_str(&b, "secret.txt", "hidden", 0);
    assert_int_equal(zip_file_set_encryption(b.za, (zip_uint64_t)idx, em, "pw"), 0);
    size_t len;
    unsigned char *z = zb_finish(&b, &len);
    expect_refused(f, &f->lim, z, len, "encrypted");
    free(z);
}

static void test_corrupt_and_garbage(void **state)
{
    fixture_t *f = *state;
    zb_t b;
    zb_new(&b);
    zb_add_str(&b, "index.js", "exports.handler = async () => 1;\n", 0);
    zb_add_str(&b, "other.js", "module.exports = 2;\n", 0);
    size_t len;
    unsigned char *z = zb_finish(&b, &len);

    /* every truncation, from nothing to one byte short */
    for (size_t cut = 0; cut < len; cut++)
        expect_refused(f, &f->lim, z, cut, NULL);

    /* a flipped byte anywhere must never be accepted silently as something
     * else: either refused, or (in a field nobody checks) extracted intact */
    for (size_t i = 0; i < len; i++) {
        unsigned char *c = xmalloc(len);
        memcpy(c, z, len);
        c[i] ^= 0x55;
        char err[256];
        if (fn_zip_extract(c, len, f->dir, &f->lim, NULL, err, sizeof err) != 0) {
            assert_int_equal(count_entries(f->dir), 0);
        } else {
            nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
            assert_int_equal(mkdir(f->dir, 0700), 0);
        }
        free(c);
    }
    free(z);

    unsigned char garbage[1000];
    util_random(garbage, sizeof garbage);
    expect_refused(f, &f->lim, garbage, sizeof garbage, NULL);
    expect_refused(f, &f->lim, (const unsigned char *)"PK\3\4", 4, NULL);
}

static void test_dir_not_empty(void **state)
{
    fixture_t *f = *state;
    char *path = xasprintf("%s/existing", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    unsigned char eocd[22] = {'P', 'K', 5, 6};
    char err[128] = "";
    assert_int_equal(fn_zip_extract(eocd, sizeof eocd, f->dir, &f->lim, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "not empty"));
    assert_int_equal(count_entries(f->dir), 1);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_normal_function, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_out_may_be_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_archive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_compressible_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_in_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_total_declared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bomb_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crc_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encrypted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_not_empty, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
