/* internal.h - declarations shared by the .c files of functions/ (the Lambda
 * service); other modules use functions/functions.h.
 *
 * zip.c    safe extraction of a deployment package (CreateFunction's
 *          Code.ZipFile, UpdateFunctionCode) into a function's code folder
 */
#ifndef CLOUDLET_FUNCTIONS_INTERNAL_H
#define CLOUDLET_FUNCTIONS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Deepest folder nesting an archive entry may have. Not a Lambda rule: it
 * bounds the file descriptors that extraction and clean-up hold at once (one
 * per level), which max_path alone would allow to reach ~512. */
#define FN_ZIP_MAX_DEPTH 64

/* Entries no larger than this are exempt from the compression-ratio check, so
 * small, highly compressible files (a minified bundle, a file of zeros) pass. */
#define FN_ZIP_RATIO_FLOOR (1024u * 1024u)

/* What an uploaded archive may contain. */
typedef struct fn_zip_limits {
    uint64_t max_total;   /* sum of uncompressed sizes: 250 MiB (Lambda's unzipped limit) */
    uint64_t max_entries; /* 10000 */
    uint64_t max_ratio; /* refuse an entry whose uncompressed/compressed ratio exceeds this: 200 */
    uint64_t max_path;  /* longest entry name in bytes: 1024 */
} fn_zip_limits_t;

/* Fill *lim with the defaults listed beside the fields above. */
void fn_zip_default_limits(fn_zip_limits_t *lim);

/* Extract the zip archive in memory (zip, len; borrowed for the call only)
 * into the folder `dir`, which must exist and be empty.
 *
 * Files are created 0644, or 0755 when the entry's unix mode (external
 * attributes) has an execute bit; folders 0755. The archive is checked in full
 * before anything is written, then extracted into a fresh `dir/.tmp-XXXXXXXX`
 * whose top-level entries are renamed into `dir` at the end; every file and
 * folder is opened relative to its parent's descriptor with O_NOFOLLOW, so
 * nothing outside `dir` is touched even if something races with extraction.
 *
 * Refused: a `dir` that is not an empty folder; a truncated, corrupt or empty
 * (0-byte) input; more than max_entries entries; names that are empty, longer
 * than max_path, absolute, start with a drive letter ("C:"), hold a backslash
 * or a NUL, or have an empty, "." or ".." component, or nest deeper than
 * FN_ZIP_MAX_DEPTH; duplicate names ("a" and "a/" count as the same); symlink,
 * device, fifo and socket entries (every symlink, wherever it points);
 * encrypted entries and unsupported compression methods; declared
 * uncompressed sizes summing past max_total; an entry above FN_ZIP_RATIO_FLOOR
 * whose uncompressed/compressed ratio exceeds max_ratio; an entry that inflates
 * to more or fewer bytes than it declares (the real bytes are counted against
 * max_total too) or whose CRC does not match.
 *
 * Returns 0, with *files_out (if not NULL) set to the number of regular files
 * written. On refusal or any I/O failure returns -1 with a one-line message
 * in err (size errsz; may hold the offending entry name) and leaves `dir` as
 * empty as it was found. Thread-safe: no shared state.
 */
int fn_zip_extract(const void *zip, size_t len, const char *dir, const fn_zip_limits_t *lim,
                   size_t *files_out, char *err, size_t errsz);

#endif
