/* testutil.h - helpers shared by the unit tests: temporary folders.
 *
 * Header-only (static functions) because each test binary is built from one
 * test file plus the library objects.
 */
#ifndef CLOUDLET_TESTUTIL_H
#define CLOUDLET_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

/* Make a fresh folder "$TMPDIR/cloudlet-<tag>-XXXXXX" (TMPDIR when short
 * enough, else /tmp) into out (size n). Returns 0, or -1 if it cannot. */
static inline int test_tmpdir(char *out, size_t n, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, n, "%s/cloudlet-%s-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp", tag);
    return mkdtemp(out) != NULL ? 0 : -1;
}

/* Remove a folder and the files directly inside it. */
static inline void test_rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = xasprintf("%s/%s", dir, e->d_name);
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

#endif
