/* site.c - the static website: bucket "site" served to unsigned GET and HEAD,
 * and the folder deploy behind `cloudlet site deploy`.
 *
 * Website rules follow S3 website hosting (wire doc 6.5) plus what a single
 * page app needs: index documents, "/folder" -> 302 "/folder/", an error
 * document with the original status, an optional SPA fallback, conditional
 * requests, single ranges, and precompressed siblings (x.js.br, x.js.gz).
 *
 * The raw path is decoded exactly once, here. A decoded key never contains
 * NUL, "." or ".." segments, or more than STORAGE_MAX_KEY bytes: such requests
 * get 400 before any lookup, so nothing can address outside the bucket.
 * Object bodies are sent from the LMDB map; the view that maps them is closed
 * by the response's release function once libmicrohttpd has sent the body.
 */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/http.h"
#include "common/util.h"
#include "storage/s3.h"

/* ---- Content types ---- */

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"wav", "audio/wav"},
};

const char *storage_content_type(const char *key, size_t key_len)
{
    size_t i = key_len;
    while (i > 0 && key[i - 1] != '.' && key[i - 1] != '/')
        i--;
    if (i == 0 || key[i - 1] != '.')
        return "application/octet-stream";
    size_t elen = key_len - i;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (strlen(types[t].ext) == elen && strncasecmp(types[t].ext, key + i, elen) == 0)
            return types[t].type;
    }
    return "application/octet-stream";
}

/* ---- Path handling ---- */

/* Decode the raw request path into a bucket key (without the leading '/'),
 * collapsing repeated slashes. Returns the key length, or -1 for a path that
 * is malformed or tries to leave the bucket (400), or -2 when too long. */
static int path_to_key(const char *raw, size_t raw_len, char *key, size_t keysz)
{
    size_t o = 0;
    size_t seg_start = 0;
    if (raw_len == 0 || raw[0] != '/')
        return -1;
    for (size_t i = 1; i <= raw_len; i++) {
        char c;
        if (i == raw_len) {
            c = '/'; /* a sentinel that closes the last segment */
        } else if (raw[i] == '%') {
            if (i + 2 >= raw_len)
                return -1;
            int hi = util_hexval(raw[i + 1]);
            int lo = util_hexval(raw[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else {
            c = raw[i];
        }
        if (c == '\0')
            return -1;
        if (c == '/') {
            size_t seg_len = o - seg_start;
            if ((seg_len == 1 && key[seg_start] == '.') ||
                (seg_len == 2 && key[seg_start] == '.' && key[seg_start + 1] == '.'))
                return -1;
            if (i == raw_len)
                break;
            if (seg_len == 0 && o > 0)
                continue; /* "//" */
            if (o == 0)
                continue; /* leading "//" */
        }
        if (o + 1 >= keysz)
            return -2;
        key[o++] = c;
        if (c == '/')
            seg_start = o;
    }
    key[o] = '\0';
    return (int)o;
}

/* True if the last path segment has an extension ("app.js", not "about"). */
static int has_extension(const char *key, size_t len)
{
    for (size_t i = len; i > 0; i--) {
        if (key[i - 1] == '/')
            return 0;
        if (key[i - 1] == '.')
            return i - 1 > 0 && key[i - 2] != '/';
    }
    return 0;
}

/* A fingerprinted asset ("app-3F2A9C1B.js", "app.3f2a9c1b7d.css") never
 * changes under its name, so it may be cached for a year. The fingerprint is
 * the last '-' or '.' separated part of the stem: 8 to 64 characters of
 * [A-Za-z0-9_] with a digit, or all uppercase as esbuild writes them. */
static int is_fingerprinted(const char *key, size_t len)
{
    size_t end = len;
    while (end > 0 && key[end - 1] != '.' && key[end - 1] != '/')
        end--;
    if (end == 0 || key[end - 1] != '.')
        return 0;
    end--; /* the stem ends before the extension's dot */
    size_t start = end;
    while (start > 0 && key[start - 1] != '-' && key[start - 1] != '.' && key[start - 1] != '/')
        start--;
    if (start == 0 || key[start - 1] == '/')
        return 0;
    size_t n = end - start;
    if (n < 8 || n > 64)
        return 0;
    int digit = 0, lower = 0;
    for (size_t i = start; i < end; i++) {
        char c = key[i];
        if (c >= '0' && c <= '9')
            digit = 1;
        else if ((c >= 'a' && c <= 'z'))
            lower = 1;
        else if (!((c >= 'A' && c <= 'Z') || c == '_'))
            return 0;
    }
    return digit || !lower;
}

/* Does the comma-separated header list contain `token` (ignoring q-values)?
 * Used for Accept-Encoding; "br;q=0" counts as refused. */
static int accepts_token(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != ',' && *p != ';' && *p != ' ')
            p++;
        size_t n = (size_t)(p - start);
        int match = n == tlen && strncasecmp(start, token, tlen) == 0;
        const char *params = p;
        while (*p != '\0' && *p != ',')
            p++;
        if (match) {
            const char *q = strstr(params, "q=");
            if (q != NULL && q < p && strtod(q + 2, NULL) == 0.0)
                return 0;
            return 1;
        }
    }
    return 0;
}

/* Does If-None-Match (a list of entity tags or "*") match etag? Weak
 * comparison, as RFC 9110 prescribes for If-None-Match. */
int storage_etag_list_matches(const char *list, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p == '"') {
            const char *end = strchr(p + 1, '"');
            if (end == NULL)
                return 0;
            if ((size_t)(end - p - 1) == elen && memcmp(p + 1, etag, elen) == 0)
                return 1;
            p = end + 1;
        } else {
            while (*p != '\0' && *p != ',')
                p++;
        }
    }
    return 0;
}

/* Parse a single "bytes=" range against size. Returns 1 with [*first, *last]
 * for a satisfiable range, 0 to ignore the header (absent, malformed or
 * multi-range: the whole object is sent), -1 when unsatisfiable (416). */
int storage_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
        return 0;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        if (p[1] < '0' || p[1] > '9')
            return 0;
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (*end != '\0')
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *first = n >= size ? 0 : size - n;
        *last = size - 1;
        return 1;
    }
    if (*p < '0' || *p > '9')
        return 0;
    unsigned long long a = strtoull(p, &end, 10);
    if (*end != '-')
        return 0;
    p = end + 1;
    unsigned long long b = size ? size - 1 : 0;
    if (*p != '\0') {
        if (*p < '0' || *p > '9')
            return 0;
        b = strtoull(p, &end, 10);
        if (*end != '\0' || b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

/* ---- Serving ---- */

static void close_view(void *cls)
{
    storage_view_close(cls);
}

/* Headers that describe the object, shared by 200, 206 and 304 answers. */
static void object_headers(http_resp_t *resp, const storage_object_t *obj, const char *key,
                           size_t key_len)
{
    char date[30];
    http_resp_headerf(resp, "ETag", "\"%s\"", obj->etag);
    util_http_date(obj->mtime_ms / 1000, date);
    http_resp_header(resp, "Last-Modified", date);
    const char *cc = storage_header(obj->headers, obj->headers_len, "cache-control");
    if (cc == NULL) {
        const char *ct = storage_content_type(key, key_len);
        if (strncmp(ct, "text/html", 9) == 0)
            cc = "no-cache";
        else if (is_fingerprinted(key, key_len))
            cc = "public, max-age=31536000, immutable";
        else
            cc = "public, max-age=300";
    }
    http_resp_header(resp, "Cache-Control", cc);
}

/* Send `obj` (found under `key`) with status 200 or, if `status` is an error
 * status (the error document), with that status and no conditional handling.
 * `encoding` is set when obj is a precompressed sibling of `key`. Takes over
 * the view v. */
static void send_object(storage_view_t *v, const storage_object_t *obj, const char *key,
                        size_t key_len, const char *encoding, int status,
                        const http_req_t *req, http_resp_t *resp)
{
    const char *ctype = storage_header(obj->headers, obj->headers_len, "content-type");
    if (ctype == NULL || encoding != NULL)
        ctype = storage_content_type(key, key_len);
    http_resp_header(resp, "Content-Type", ctype);
    if (encoding != NULL) {
        http_resp_header(resp, "Content-Encoding", encoding);
        http_resp_header(resp, "Vary", "Accept-Encoding");
    } else {
        const char *ce = storage_header(obj->headers, obj->headers_len, "content-encoding");
        if (ce != NULL)
            http_resp_header(resp, "Content-Encoding", ce);
    }
    object_headers(resp, obj, key, key_len);

    if (status == 200) {
        http_resp_header(resp, "Accept-Ranges", "bytes");
        const char *inm = http_header(req, "If-None-Match");
        const char *ims = http_header(req, "If-Modified-Since");
        int64_t since;
        int not_modified = 0;
        if (inm != NULL)
            not_modified = storage_etag_list_matches(inm, obj->etag);
        else if (ims != NULL && util_parse_http_date(ims, &since) == 0)
            not_modified = obj->mtime_ms / 1000 <= since;
        if (not_modified) {
            resp->status = 304;
            storage_view_close(v);
            return;
        }
        const char *range = http_header(req, "Range");
        const char *if_range = http_header(req, "If-Range");
        if (range != NULL && if_range != NULL && !storage_etag_list_matches(if_range, obj->etag))
            range = NULL;
        uint64_t first = 0, last = 0;
        int r = storage_parse_range(range, obj->size, &first, &last);
        if (r < 0) {
            storage_view_close(v);
            http_resp_headerf(resp, "Content-Range", "bytes */%llu",
                              (unsigned long long)obj->size);
            http_error(resp, HTTP_PROTO_WEBSITE, 416, "InvalidRange",
                       "The requested range is not satisfiable", NULL, req->request_id);
            return;
        }
        if (r > 0) {
            resp->status = 206;
            http_resp_headerf(resp, "Content-Range", "bytes %llu-%llu/%llu",
                              (unsigned long long)first, (unsigned long long)last,
                              (unsigned long long)obj->size);
            http_resp_body_borrowed(resp, (const char *)obj->body + first, last - first + 1,
                                    close_view, v);
            return;
        }
    }
    resp->status = status;
    http_resp_body_borrowed(resp, obj->body, obj->size, close_view, v);
}

/* Look for a precompressed sibling the client accepts. Returns the encoding
 * name and fills *out, or NULL. */
static const char *find_sibling(storage_view_t *v, const char *bucket, const http_req_t *req,
                                const char *key, size_t key_len, storage_object_t *out)
{
    const char *ae = http_header(req, "Accept-Encoding");
    if (ae == NULL || key_len + 3 > STORAGE_MAX_KEY)
        return NULL;
    static const struct {
        const char *token, *suffix;
    } encodings[] = {{"br", ".br"}, {"gzip", ".gz"}};
    char sib[STORAGE_MAX_KEY + 1];
    memcpy(sib, key, key_len);
    for (size_t i = 0; i < 2; i++) {
        if (!accepts_token(ae, encodings[i].token))
            continue;
        memcpy(sib + key_len, encodings[i].suffix, 4);
        if (storage_get(v, bucket, sib, key_len + 3, out) == 0)
            return encodings[i].token;
    }
    return NULL;
}

/* Serve the object at key, preferring a precompressed sibling. */
static void serve_found(storage_view_t *v, const storage_site_opts_t *o, const http_req_t *req,
                        http_resp_t *resp, const char *key, size_t key_len,
                        const storage_object_t *obj, int status)
{
    storage_object_t sib;
    const char *enc = NULL;
    if (status == 200)
        enc = find_sibling(v, o->bucket, req, key, key_len, &sib);
    send_object(v, enc ? &sib : obj, key, key_len, enc, status, req, resp);
}

/* 404 (or another 4xx): the error document with the original status, else
 * the built-in page. Takes over v. */
static void send_error(storage_view_t *v, const storage_site_opts_t *o, const http_req_t *req,
                       http_resp_t *resp, int status, const char *code, const char *message)
{
    storage_object_t obj;
    if (o->error_doc != NULL &&
        storage_get(v, o->bucket, o->error_doc, strlen(o->error_doc), &obj) == 0) {
        send_object(v, &obj, o->error_doc, strlen(o->error_doc), NULL, status, req, resp);
        return;
    }
    storage_view_close(v);
    http_error(resp, HTTP_PROTO_WEBSITE, status, code, message, NULL, req->request_id);
}

void storage_site_handle(storage_t *s, const storage_site_opts_t *o, const http_req_t *req,
                         http_resp_t *resp)
{
    char key[STORAGE_MAX_KEY + 2];
    int n = path_to_key(req->path, req->path_len, key, STORAGE_MAX_KEY + 1);
    if (n == -2) {
        http_error(resp, HTTP_PROTO_WEBSITE, 400, "KeyTooLongError", "The path is too long.",
                   NULL, req->request_id);
        return;
    }
    if (n < 0) {
        http_error(resp, HTTP_PROTO_WEBSITE, 400, "InvalidURI",
                   "The path could not be parsed.", NULL, req->request_id);
        return;
    }
    size_t key_len = (size_t)n;
    storage_view_t *v;
    int rc = storage_view_open(s, &v);
    if (rc != 0) {
        http_error(resp, HTTP_PROTO_WEBSITE, 503, "SlowDown", storage_strerror(rc), NULL,
                   req->request_id);
        return;
    }
    storage_object_t obj;
    size_t index_len = strlen(o->index_doc);

    /* "/" and "folder/" name their index document. */
    if (key_len == 0 || key[key_len - 1] == '/') {
        if (key_len + index_len > STORAGE_MAX_KEY) {
            send_error(v, o, req, resp, 404, "NoSuchKey", "The specified key does not exist.");
            return;
        }
        memcpy(key + key_len, o->index_doc, index_len + 1);
        key_len += index_len;
    }
    rc = storage_get(v, o->bucket, key, key_len, &obj);
    if (rc == 0) {
        serve_found(v, o, req, resp, key, key_len, &obj, 200);
        return;
    }
    if (rc == STORAGE_ENOBUCKET) {
        send_error(v, o, req, resp, 404, "NoSuchBucket", "The website has not been deployed.");
        return;
    }
    /* "/folder" -> "/folder/" when folder/index.html exists. */
    if (key_len > 0 && key[key_len - 1] != '/' && key_len + 1 + index_len <= STORAGE_MAX_KEY) {
        char folder[STORAGE_MAX_KEY + 2];
        memcpy(folder, key, key_len);
        folder[key_len] = '/';
        memcpy(folder + key_len + 1, o->index_doc, index_len);
        if (storage_get(v, o->bucket, folder, key_len + 1 + index_len, &obj) == 0) {
            storage_view_close(v);
            resp->status = 302;
            http_resp_headerf(resp, "Location", "%s/", req->path);
            return;
        }
    }
    /* Single-page apps route client-side: "/settings" serves the root index. */
    if (o->spa_fallback && !has_extension(key, key_len) &&
        storage_get(v, o->bucket, o->index_doc, index_len, &obj) == 0) {
        serve_found(v, o, req, resp, o->index_doc, index_len, &obj, 200);
        return;
    }
    send_error(v, o, req, resp, 404, "NoSuchKey", "The specified key does not exist.");
}

/* ---- Deploy ---- */

#define DEPLOY_MAX_FILES 100000
#define DEPLOY_MAX_DEPTH 32

typedef struct deploy_walk {
    storage_deploy_t *d;
    size_t files;
    char *err;
    size_t errsz;
} deploy_walk_t;

/* Read a whole regular file into memory; caller frees. */
static int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    char *data = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto err;
    data = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto err;
        got += (size_t)r;
    }
    close(fd);
    *out = data;
    *len = got;
    return 0;
err:
    free(data);
    close(fd);
    return -1;
}

/* Add every regular file under dir/rel to the deploy, depth first. */
static int walk(deploy_walk_t *w, const char *dir, const char *rel, int depth)
{
    if (depth > DEPLOY_MAX_DEPTH) {
        snprintf(w->err, w->errsz, "%s: folders nested too deep", dir);
        return -1;
    }
    DIR *dh = opendir(dir);
    if (dh == NULL) {
        snprintf(w->err, w->errsz, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    for (de = readdir(dh); de != NULL && rc == 0; de = readdir(dh)) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", dir, de->d_name);
        char *key = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        struct stat st;
        if (lstat(path, &st) != 0) {
            snprintf(w->err, w->errsz, "%s: %s", path, strerror(errno));
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(w, path, key, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            char *data;
            size_t len;
            if (++w->files > DEPLOY_MAX_FILES) {
                snprintf(w->err, w->errsz, "more than %d files", DEPLOY_MAX_FILES);
                rc = -1;
            } else if (read_file(path, &data, &len) != 0) {
                snprintf(w->err, w->errsz, "%s: %s", path, strerror(errno));
                rc = -1;
            } else {
                const char *ct = storage_content_type(key, strlen(key));
                size_t hlen = strlen("content-type") + 1 + strlen(ct) + 1;
                char *hdrs = xmalloc(hlen);
                memcpy(hdrs, "content-type", 13);
                memcpy(hdrs + 13, ct, strlen(ct) + 1);
                storage_meta_t meta = {.headers = hdrs, .headers_len = hlen};
                int prc = storage_deploy_put(w->d, key, strlen(key), data, len, &meta);
                if (prc != 0) {
                    snprintf(w->err, w->errsz, "%s: %s", path, storage_strerror(prc));
                    rc = -1;
                }
                free(hdrs);
                free(data);
            }
        }
        /* Symlinks and special files are skipped: a deploy is the folder's own files. */
        free(path);
        free(key);
    }
    closedir(dh);
    return rc;
}

int storage_site_deploy_dir(storage_t *s, const char *bucket, const char *dir,
                            uint32_t *version_out, size_t *files_out, char *err, size_t errsz)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "%s: not a folder", dir);
        return STORAGE_EINVAL;
    }
    storage_deploy_t *d;
    int rc = storage_deploy_begin(s, bucket, &d);
    if (rc != 0) {
        snprintf(err, errsz, "%s: %s", bucket, storage_strerror(rc));
        return rc;
    }
    deploy_walk_t w = {.d = d, .files = 0, .err = err, .errsz = errsz};
    if (walk(&w, dir, "", 0) != 0) {
        storage_deploy_abort(d);
        return STORAGE_EINVAL;
    }
    rc = storage_deploy_commit(d, version_out);
    if (rc != 0) {
        snprintf(err, errsz, "%s: %s", bucket, storage_strerror(rc));
        return rc;
    }
    if (files_out != NULL)
        *files_out = w.files;
    return 0;
}
