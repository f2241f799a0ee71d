/* s3.h - declarations shared by the S3 API files of storage/ (s3.c,
 * s3_body.c, s3_multipart.c); other modules use storage/storage.h.
 *
 * s3.c          dispatch, buckets, objects, listings, errors, the action of
 *               a request for the gate
 * s3_body.c     request bodies: aws-chunked decoding, Content-MD5 and
 *               x-amz-checksum-* (CRC32, CRC32C, CRC64NVME, SHA1, SHA256)
 * s3_multipart.c multipart uploads
 */
#ifndef CLOUDLET_STORAGE_S3_H
#define CLOUDLET_STORAGE_S3_H

#include <stddef.h>
#include <stdint.h>

#include "common/http.h"
#include "common/util.h"
#include "storage/storage.h"

/* One S3 request being answered. */
typedef struct s3_ctx {
    storage_t *st;
    const http_req_t *req;
    http_resp_t *resp;
    char bucket[STORAGE_MAX_BUCKET + 1]; /* "" for the service (ListBuckets) */
    char *key;                           /* decoded key (may hold any byte but NUL), NULL for bucket ops */
    size_t key_len;
    size_t max_object; /* largest object a single PUT may store */
    const storage_s3_opts_t *opts;
} s3_ctx_t;

/* Answer with an S3 XML error (wire doc 6.4). `resource` may be NULL. */
void s3_error(s3_ctx_t *c, int status, const char *code, const char *msg);

/* Answer for a storage error code (NoSuchBucket, NoSuchKey, KeyTooLongError,
 * InsufficientStorage, SlowDown, InternalError). */
void s3_storage_error(s3_ctx_t *c, int rc);
/* Answer `status` with the XML document in b (taken over). */
void s3_send_xml(s3_ctx_t *c, int status, buf_t *b);

/* Percent-decode s[0..n) in place (a '+' stays a '+'), NUL-terminating it.
 * Returns the decoded length, or -1 for a malformed escape. */
long s3_pct_decode(char *s, size_t n);

/* The decoded query parameter `name` of the request into out (size outsz):
 * its length, -1 when absent, -2 when malformed or too long. */
int s3_param(const s3_ctx_t *c, const char *name, char *out, size_t outsz);

/* ---- s3_body.c ---- */

/* The payload of a PUT (object or part), decoded and checked:
 *  - Content-Encoding/x-amz-content-sha256 aws-chunked framing
 *    (STREAMING-UNSIGNED-PAYLOAD-TRAILER: "<hex>\r\n<data>\r\n" ... "0\r\n"
 *    trailer lines "\r\n") is removed; x-amz-decoded-content-length must match;
 *  - Content-MD5 (base64) must match (InvalidDigest when malformed, BadDigest
 *    when it differs);
 *  - x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256} (header, or trailer
 *    named by x-amz-trailer) must match (BadDigest), and is appended to
 *    `headers` (packed "name\0value\0") to be stored and echoed.
 * On success returns 0 with *body and *len pointing either into the request
 * body or into *owned (a buffer the caller frees). On failure answers with
 * the S3 error and returns -1. */
int s3_body(s3_ctx_t *c, const unsigned char **body, size_t *len, unsigned char **owned,
            buf_t *headers);

/* Checksums of a whole buffer, base64 of the big-endian value, as S3 writes them. */
void s3_checksum_b64(const char *algorithm, const void *p, size_t n, char out[64]);

/* ---- s3_config.c ---- */

/* PUT/GET/DELETE /b?cors, ?website, ?policy (kind "cors", "website", "policy"). */
void s3_bucket_config(s3_ctx_t *c, const char *kind);

/* After a successful write or delete of c->key: send the bucket's matching
 * notifications (event_name e.g. "ObjectCreated:Put"). Cheap when the bucket
 * has none. */
void s3_notify(s3_ctx_t *c, const char *event_name, uint64_t size, const char *etag);

/* ---- s3_multipart.c ---- */

 /* Multipart: POST /b/k?uploads, PUT /b/k?partNumber=N&uploadId=U, POST /b/k?uploadId=U,
 * DELETE /b/k?uploadId=U, GET /b/k?uploadId=U, GET /b?uploads. */
void s3_create_multipart(s3_ctx_t *c);
void s3_upload_part(s3_ctx_t *c);
void s3_complete_multipart(s3_ctx_t *c);
void s3_abort_multipart(s3_ctx_t *c);
void s3_list_parts(s3_ctx_t *c);
void s3_list_multipart_uploads(s3_ctx_t *c);

/* Headers to store with an object, from the request (s3.c): content-type
 * (default binary/octet-stream), cache-control, content-disposition,
 * content-encoding (without aws-chunked), content-language, expires,
 * x-amz-meta-*; packed into headers. Returns 0, or -1 (answered) when the
 * metadata is too large (2 KiB of user metadata, as S3). */
int s3_object_headers(s3_ctx_t *c, buf_t *headers);

/* Helpers shared with the website (site.c). */
int storage_etag_list_matches(const char *list, const char *etag);
int storage_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last);

#endif
