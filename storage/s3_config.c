/* s3_config.c - bucket configurations: CORS, website and bucket policy.
 *
 * Each is kept as the document the client sent, in the record table
 * "bucket-config" under "<bucket>/cors", "/website" or "/policy", and read
 * back when it matters:
 *  - CORS: a bucket with rules answers browsers by them (preflight and
 *    actual requests); a bucket without rules keeps cloudlet's permissive
 *    development default.
 *  - website: a bucket with a website configuration is served as a website
 *    at http://<bucket>.<host>/ with its index and error documents and its
 *    redirect rules.
 *  - policy: a statement that allows s3:GetObject to Principal "*" makes
 *    those objects readable without a signature (public read).
 */
#include "storage/s3.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define T_CONFIG "bucket-config"
#define CONFIG_MAX (64 * 1024)
#define XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

/* ---- records ---- */

static size_t config_key(const char *bucket, const char *kind, char key[128])
{
    return (size_t)snprintf(key, 128, "%s/%s", bucket, kind);
}

/* The stored document (a copy the caller frees, NUL-terminated) or NULL. */
static char *config_get(storage_t *st, const char *bucket, const char *kind)
{
    char key[128];
    size_t klen = config_key(bucket, kind, key);
    storage_view_t *v;
    const void *val;
    size_t len;
    char *out = NULL;
    if (storage_view_open(st, &v) != 0)
        return NULL;
    if (storage_view_rec_get(v, T_CONFIG, key, klen, &val, &len) == 0)
        out = xstrndup(val, len);
    storage_view_close(v);
    return out;
}

static int config_put(storage_t *st, const char *bucket, const char *kind, const void *doc,
                      size_t len)
{
    char key[128];
    size_t klen = config_key(bucket, kind, key);
    storage_txn_t *t;
    int rc = storage_txn_begin(st, &t);
    if (rc != 0)
        return rc;
    rc = doc ? storage_rec_put(t, T_CONFIG, key, klen, doc, len, 0)
             : storage_rec_del(t, T_CONFIG, key, klen);
    if (rc != 0 && rc != STORAGE_ENOTFOUND) {
        storage_txn_abort(t);
        return rc;
    }
    return storage_txn_commit(t);
}

/* ---- tiny XML helpers (documents we stored ourselves after validation) ---- */

/* The text of the first <tag>...</tag> in [p, end), copied into out; NULL if absent. */
static const char *xml_text(const char *p, const char *end, const char *tag, char *out,
                            size_t outsz)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(p, open);
    if (a == NULL || a >= end)
        return NULL;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (b == NULL || b > end || (size_t)(b - a) >= outsz)
        return NULL;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    return b + strlen(close);
}

/* Shell-style match with '*' (CORS origins allow one). */
static int wild_match(const char *pat, const char *s)
{
    const char *star = NULL, *mark = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            mark = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++mark;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* ---- the API: PUT/GET/DELETE ?cors, ?website, ?policy ---- */

static void send_doc(s3_ctx_t *c, const char *doc, const char *ctype)
{
    http_resp_header(c->resp, "Content-Type", ctype);
    http_resp_body_owned(c->resp, xstrdup(doc), strlen(doc));
}

static int read_doc(s3_ctx_t *c, char **doc)
{
    const unsigned char *body;
    size_t len;
    unsigned char *owned = NULL;
    buf_t ignored;
    buf_init(&ignored, 4096);
    int rc = s3_body(c, &body, &len, &owned, &ignored);
    buf_free(&ignored);
    if (rc != 0) {
        free(owned);
        return -1;
    }
    if (len > CONFIG_MAX) {
        free(owned);
        s3_error(c, 400, "MaxMessageLengthExceeded", "Your request was too big.");
        return -1;
    }
    *doc = xstrndup((const char *)body, len);
    free(owned);
    if (strlen(*doc) != len) {
        free(*doc);
        s3_error(c, 400, "MalformedXML", "The document contains a NUL byte.");
        return -1;
    }
    return 0;
}

static int valid_cors(const char *x)
{
    if (strstr(x, "<CORSConfiguration") == NULL)
        return 0;
    int rules = 0;
    for (const char *r = strstr(x, "<CORSRule>"); r; r = strstr(r + 1, "<CORSRule>")) {
        const char *end = strstr(r, "</CORSRule>");
        char tmp[512];
        if (end == NULL || xml_text(r, end, "AllowedOrigin", tmp, sizeof tmp) == NULL ||
            xml_text(r, end, "AllowedMethod", tmp, sizeof tmp) == NULL)
            return 0;
        if (++rules > 100)
            return 0;
    }
    return rules > 0;
}

static int valid_website(const char *x)
{
    char tmp[1100];
    if (strstr(x, "<WebsiteConfiguration") == NULL)
        return 0;
    const char *end = x + strlen(x);
    if (xml_text(x, end, "RedirectAllRequestsTo", tmp, sizeof tmp) != NULL)
        return xml_text(x, end, "HostName", tmp, sizeof tmp) != NULL;
    return xml_text(x, end, "Suffix", tmp, sizeof tmp) != NULL && tmp[0] != '\0' &&
           strchr(tmp, '/') == NULL;
}

/* A bucket policy: JSON with Statement entries that each have Effect,
 * Principal, Action and Resource. */
static int valid_policy(const char *doc, char *why, size_t whysz)
{
    json_error_t e;
    json_t *j = json_loads(doc, 0, &e);
    json_t *st = json_object_get(j, "Statement");
    int ok = 0;
    if (j == NULL) {
        snprintf(why, whysz, "Policies must be valid JSON: %s", e.text);
    } else if (!json_is_array(st) && !json_is_object(st)) {
        snprintf(why, whysz, "Missing required field Statement");
    } else {
        ok = 1;
        size_t i, n = json_is_array(st) ? json_array_size(st) : 1;
        for (i = 0; i < n && ok; i++) {
            json_t *s = json_is_array(st) ? json_array_get(st, i) : st;
            const char *eff = json_string_value(json_object_get(s, "Effect"));
            if (eff == NULL || (strcmp(eff, "Allow") != 0 && strcmp(eff, "Deny") != 0) ||
                json_object_get(s, "Principal") == NULL || json_object_get(s, "Action") == NULL ||
                json_object_get(s, "Resource") == NULL) {
                snprintf(why, whysz,
                         "Statement %zu needs Effect (Allow|Deny), Principal, Action and Resource",
                         i);
                ok = 0;
            }
        }
    }
    json_decref(j);
    return ok;
}

/* <NotificationConfiguration>: each <CloudFunctionConfiguration> (the SDK's
 * LambdaFunctionConfigurations) names a function and at least one s3:
 * event; queue and topic targets do not exist here. */
static int valid_notification(const char *x, char *why, size_t whysz)
{
    if (strstr(x, "<NotificationConfiguration") == NULL) {
        snprintf(why, whysz, "The document is not a NotificationConfiguration");
        return 0;
    }
    if (strstr(x, "<QueueConfiguration>") != NULL || strstr(x, "<TopicConfiguration>") != NULL) {
        snprintf(why, whysz, "cloudlet delivers bucket events to functions only "
                             "(LambdaFunctionConfigurations)");
        return 0;
    }
    const char *p = x;
    while ((p = strstr(p, "<CloudFunctionConfiguration>")) != NULL) {
        const char *end = strstr(p, "</CloudFunctionConfiguration>");
        char arn[300], ev[128];
        if (end == NULL || xml_text(p, end, "CloudFunction", arn, sizeof arn) == NULL ||
            strncmp(arn, "arn:aws:lambda:", 15) != 0 ||
            xml_text(p, end, "Event", ev, sizeof ev) == NULL || strncmp(ev, "s3:", 3) != 0) {
            snprintf(why, whysz, "Each LambdaFunctionConfiguration needs a function ARN and at "
                                 "least one s3: event");
            return 0;
        }
        p = end;
    }
    return 1;
}

/* Every function a notification names must exist now. */
static int destinations_exist(s3_ctx_t *c, const char *x)
{
    if (c->opts == NULL || c->opts->notify_check == NULL)
        return 1;
    const char *p = x;
    while ((p = strstr(p, "<CloudFunctionConfiguration>")) != NULL) {
        const char *end = strstr(p, "</CloudFunctionConfiguration>");
        char arn[300];
        if (end == NULL || xml_text(p, end, "CloudFunction", arn, sizeof arn) == NULL ||
            c->opts->notify_check(c->opts->notify_ctx, arn) != 0)
            return 0;
        p = end;
    }
    return 1;
}

void s3_bucket_config(s3_ctx_t *c, const char *kind)
{
    static const struct {
        const char *kind, *missing_code, *missing_msg, *ctype;
    } kinds[] = {
        {"cors", "NoSuchCORSConfiguration", "The CORS configuration does not exist",
         "application/xml"},
        {"website", "NoSuchWebsiteConfiguration",
         "The specified bucket does not have a website configuration", "application/xml"},
        {"policy", "NoSuchBucketPolicy", "The bucket policy does not exist", "application/json"},
        {"notification", NULL, NULL, "application/xml"},
    };
    size_t k = 0;
    while (k < 4 && strcmp(kinds[k].kind, kind) != 0)
        k++;
    storage_view_t *v;
    storage_bucket_info_t info;
    int rc = storage_view_open(c->st, &v);
    if (rc == 0) {
        rc = storage_bucket_get(v, c->bucket, &info);
        storage_view_close(v);
    }
    if (rc != 0) {
        s3_error(c, 404, "NoSuchBucket", "The specified bucket does not exist");
        return;
    }
    http_method_t m = c->req->method;
    if (m == HTTP_GET) {
        char *doc = config_get(c->st, c->bucket, kind);
        if (doc == NULL && k == 3)
            send_doc(c, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<NotificationConfiguration xmlns=\"" XMLNS "\"/>", kinds[k].ctype);
        else if (doc == NULL)
            s3_error(c, 404, kinds[k].missing_code, kinds[k].missing_msg);
        else
            send_doc(c, doc, kinds[k].ctype);
        free(doc);
        return;
    }
    if (m == HTTP_DELETE) {
        rc = config_put(c->st, c->bucket, kind, NULL, 0);
        if (rc != 0)
            s3_error(c, 500, "InternalError", storage_strerror(rc));
        else
            c->resp->status = 204;
        return;
    }
    if (m != HTTP_PUT) {
        s3_error(c, 405, "MethodNotAllowed",
                 "The specified method is not allowed against this resource.");
        return;
    }
    char *doc;
    if (read_doc(c, &doc) != 0)
        return;
    char why[300] = "";
    int ok = k == 0   ? valid_cors(doc)
             : k == 1 ? valid_website(doc)
             : k == 2 ? valid_policy(doc, why, sizeof why)
                      : valid_notification(doc, why, sizeof why);
    if (!ok) {
        if (k == 2)
            s3_error(c, 400, "MalformedPolicy", why);
        else if (k == 3)
            s3_error(c, 400, "InvalidArgument", why);
        else
            s3_error(c, 400, "MalformedXML",
                     "The XML you provided was not well-formed or did not validate against our "
                     "published schema");
    } else if (k == 3 && !destinations_exist(c, doc)) {
        s3_error(c, 400, "InvalidArgument",
                 "Unable to validate the following destination configurations");
    } else if ((rc = config_put(c->st, c->bucket, kind, doc, strlen(doc))) != 0) {
        s3_error(c, 500, "InternalError", storage_strerror(rc));
    } else {
        c->resp->status = k == 2 ? 204 : 200;
    }
    free(doc);
}

/* ---- public read ---- */

static int json_has_match(const json_t *v, const char *want, int wildcard)
{
    if (json_is_string(v))
        return wildcard ? wild_match(json_string_value(v), want)
                        : strcmp(json_string_value(v), want) == 0;
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)v, i, e)
    {
        if (json_has_match(e, want, wildcard))
            return 1;
    }
    return 0;
}

static int principal_is_anyone(const json_t *p)
{
    if (json_is_string(p))
        return strcmp(json_string_value(p), "*") == 0;
    return json_has_match(json_object_get(p, "AWS"), "*", 0);
}

int storage_s3_public_read(storage_t *st, const char *bucket, const char *raw_key)
{
    size_t raw_len = strlen(raw_key);
    if (!storage_bucket_name_valid(bucket) || raw_len == 0 || raw_len > 3 * STORAGE_MAX_KEY)
        return 0;
    char key[3 * STORAGE_MAX_KEY + 1];
    memcpy(key, raw_key, raw_len + 1);
    long decoded = s3_pct_decode(key, raw_len);
    if (decoded <= 0 || decoded > STORAGE_MAX_KEY)
        return 0;
    size_t key_len = (size_t)decoded;
    char *doc = config_get(st, bucket, "policy");
    if (doc == NULL)
        return 0;
    json_t *j = json_loads(doc, 0, NULL);
    free(doc);
    char arn[STORAGE_MAX_KEY + 96];
    snprintf(arn, sizeof arn, "arn:aws:s3:::%s/%.*s", bucket, (int)key_len, key);
    json_t *st_ = json_object_get(j, "Statement");
    size_t n = json_is_array(st_) ? json_array_size(st_) : (st_ != NULL);
    int allow = 0, deny = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(st_) ? json_array_get(st_, i) : st_;
        const char *eff = json_string_value(json_object_get(s, "Effect"));
        json_t *act = json_object_get(s, "Action");
        /* Conditions cannot be judged for anonymous callers here: such a
         * statement never grants, and a Deny with one still denies. */
        int cond = json_object_get(s, "Condition") != NULL;
        if (eff == NULL || !principal_is_anyone(json_object_get(s, "Principal")) ||
            !json_has_match(json_object_get(s, "Resource"), arn, 1) ||
            !(json_has_match(act, "s3:GetObject", 1) || json_has_match(act, "s3:getobject", 1)))
            continue;
        if (strcmp(eff, "Deny") == 0)
            deny = 1;
        else if (strcmp(eff, "Allow") == 0 && !cond)
            allow = 1;
    }
    json_decref(j);
    return allow && !deny;
}

static int policy_cb(void *ctx, const void *key, size_t key_len, const void *val, size_t len)
{
    if (key_len > 7 && memcmp((const char *)key + key_len - 7, "/policy", 7) == 0) {
        *(int *)ctx = 1;
        return 1;
    }
    return 0;
}

int storage_s3_has_public_policy(storage_t *st)
{
    storage_view_t *v;
    int found = 0;
    if (storage_view_open(st, &v) != 0)
        return 1; /* unknown: let the per-request check decide */
    storage_view_rec_scan(v, T_CONFIG, "", 0, policy_cb, &found);
    storage_view_close(v);
    return found;
}

/* ---- website per bucket ---- */

int storage_s3_website(storage_t *st, const char *bucket, storage_s3_website_t *w)
{
    memset(w, 0, sizeof *w);
    char *doc = config_get(st, bucket, "website");
    if (doc == NULL)
        return -1;
    const char *end = doc + strlen(doc);
    char all[1200];
    if (xml_text(doc, end, "RedirectAllRequestsTo", all, sizeof all) != NULL) {
        const char *ae = all + strlen(all);
        xml_text(all, ae, "HostName", w->redirect_host, sizeof w->redirect_host);
        xml_text(all, ae, "Protocol", w->redirect_protocol, sizeof w->redirect_protocol);
        free(doc);
        return 0;
    }
    xml_text(doc, end, "Suffix", w->index, sizeof w->index);
    const char *ed = strstr(doc, "<ErrorDocument>");
    if (ed != NULL)
        xml_text(ed, end, "Key", w->error, sizeof w->error);
    /* Routing rules: KeyPrefixEquals and/or HttpErrorCodeReturnedEquals ->
     * a redirect (HostName, Protocol, ReplaceKeyPrefixWith or ReplaceKeyWith,
     * HttpRedirectCode). */
    for (const char *r = strstr(doc, "<RoutingRule>"); r && w->nrules < STORAGE_S3_MAX_RULES;
         r = strstr(r + 1, "<RoutingRule>")) {
        const char *re = strstr(r, "</RoutingRule>");
        if (re == NULL)
            break;
        storage_s3_rule_t *rule = &w->rules[w->nrules++];
        char code[8] = "";
        xml_text(r, re, "KeyPrefixEquals", rule->prefix, sizeof rule->prefix);
        if (xml_text(r, re, "HttpErrorCodeReturnedEquals", code, sizeof code) != NULL)
            rule->error_code = atoi(code);
        xml_text(r, re, "HostName", rule->host, sizeof rule->host);
        xml_text(r, re, "Protocol", rule->protocol, sizeof rule->protocol);
        rule->has_replace_prefix = xml_text(r, re, "ReplaceKeyPrefixWith", rule->replace_prefix,
                                            sizeof rule->replace_prefix) != NULL;
        rule->has_replace_key =
            xml_text(r, re, "ReplaceKeyWith", rule->replace_key, sizeof rule->replace_key) != NULL;
        code[0] = '\0';
        rule->redirect_code = xml_text(r, re, "HttpRedirectCode", code, sizeof code) ? atoi(code) : 301;
    }
    free(doc);
    return 0;
}

/* ---- CORS per bucket ---- */

/* Is every header of the comma-separated request list allowed by the rule? */
static int headers_allowed(const char *rule, const char *end, const char *list)
{
    char name[256];
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == 0)
            break;
        if (n >= sizeof name)
            return 0;
        for (size_t i = 0; i < n; i++)
            name[i] = (char)tolower((unsigned char)p[i]);
        name[n] = '\0';
        int ok = 0;
        char allowed[256];
        for (const char *q = rule; !ok && (q = xml_text(q, end, "AllowedHeader", allowed,
                                                       sizeof allowed)) != NULL;) {
            for (char *a = allowed; *a; a++)
                *a = (char)tolower((unsigned char)*a);
            ok = wild_match(allowed, name);
        }
        if (!ok)
            return 0;
        p += strcspn(p, ",");
    }
    return 1;
}

int storage_s3_cors(storage_t *st, const char *bucket, const char *origin, const char *method,
                    const char *req_headers, http_resp_t *resp)
{
    if (origin == NULL || !storage_bucket_name_valid(bucket))
        return 0;
    char *doc = config_get(st, bucket, "cors");
    if (doc == NULL)
        return 0;
    int allowed = 0;
    for (const char *r = strstr(doc, "<CORSRule>"); r && !allowed; r = strstr(r + 1, "<CORSRule>")) {
        const char *end = strstr(r, "</CORSRule>");
        if (end == NULL)
            break;
        char val[512];
        int origin_ok = 0, method_ok = 0;
        for (const char *q = r; !origin_ok && (q = xml_text(q, end, "AllowedOrigin", val, sizeof val));)
            origin_ok = wild_match(val, origin);
        for (const char *q = r; !method_ok && (q = xml_text(q, end, "AllowedMethod", val, sizeof val));)
            method_ok = strcasecmp(val, method) == 0;
        if (!origin_ok || !method_ok || !headers_allowed(r, end, req_headers))
            continue;
        allowed = 1;
        http_resp_header(resp, "Access-Control-Allow-Origin", origin);
        http_resp_header(resp, "Access-Control-Allow-Methods", method);
        if (req_headers != NULL && *req_headers)
            http_resp_header(resp, "Access-Control-Allow-Headers", req_headers);
        buf_t expose;
        char mem[1024];
        buf_init_fixed(&expose, mem, sizeof mem);
        for (const char *q = r; (q = xml_text(q, end, "ExposeHeader", val, sizeof val));)
            buf_printf(&expose, "%s%s", expose.len ? ", " : "", val);
        if (expose.len > 0)
            http_resp_header(resp, "Access-Control-Expose-Headers", expose.data);
        if (xml_text(r, end, "MaxAgeSeconds", val, sizeof val) != NULL)
            http_resp_header(resp, "Access-Control-Max-Age", val);
        http_resp_header(resp, "Vary", "Origin, Access-Control-Request-Headers, "
                                       "Access-Control-Request-Method");
    }
    free(doc);
    return allowed ? 1 : -1;
}

/* ---- event notifications ---- */

/* S3 events carry the key URL-encoded, spaces as '+'. */
static void event_key(buf_t *b, const char *k, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)k[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/') {
            buf_append(b, k + i, 1);
        } else if (ch == ' ') {
            buf_puts(b, "+");
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(b, e, 3);
        }
    }
}

/* Does the configuration block [p, end) want this event for this key? */
static int wants(const char *p, const char *end, const char *event, const char *key,
                 size_t key_len)
{
    int match = 0;
    const char *q = p;
    char ev[128];
    while ((q = xml_text(q, end, "Event", ev, sizeof ev)) != NULL && !match)
        match = wild_match(ev, event);
    if (!match)
        return 0;
    const char *r = p;
    while ((r = strstr(r, "<FilterRule>")) != NULL && r < end) {
        const char *rend = strstr(r, "</FilterRule>");
        char name[16], value[1100];
        if (rend == NULL || xml_text(r, rend, "Name", name, sizeof name) == NULL ||
            xml_text(r, rend, "Value", value, sizeof value) == NULL)
            return 0;
        size_t vl = strlen(value);
        if (strcasecmp(name, "prefix") == 0 && (vl > key_len || memcmp(key, value, vl) != 0))
            return 0;
        if (strcasecmp(name, "suffix") == 0 &&
            (vl > key_len || memcmp(key + key_len - vl, value, vl) != 0))
            return 0;
        r = rend;
    }
    return 1;
}

void s3_notify(s3_ctx_t *c, const char *event_name, uint64_t size, const char *etag)
{
    if (c->opts == NULL || c->opts->notify == NULL || c->key == NULL)
        return;
    char *doc = config_get(c->st, c->bucket, "notification");
    if (doc == NULL)
        return;
    char event[64];
    snprintf(event, sizeof event, "s3:%s", event_name);
    const char *p = doc;
    while ((p = strstr(p, "<CloudFunctionConfiguration>")) != NULL) {
        const char *end = strstr(p, "</CloudFunctionConfiguration>");
        char arn[300], id[256] = "";
        if (end == NULL || xml_text(p, end, "CloudFunction", arn, sizeof arn) == NULL)
            break;
        xml_text(p, end, "Id", id, sizeof id);
        if (wants(p, end, event, c->key, c->key_len)) {
            char when[25], seq[17];
            util_iso8601_ms(util_now_ms(), when);
            snprintf(seq, sizeof seq, "%016llX", (unsigned long long)util_mono_ns());
            const char *who = c->req->caller != NULL ? c->req->caller->user_id : "anonymous";
            buf_t b;
            buf_init(&b, 0);
            buf_printf(&b, "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","
                           "\"awsRegion\":\"%s\",\"eventTime\":\"%s\",\"eventName\":\"%s\","
                           "\"userIdentity\":{\"principalId\":\"",
                       c->opts->region, when, event_name);
            buf_json_escape(&b, who, strlen(who));
            buf_printf(&b, "\"},\"requestParameters\":{\"sourceIPAddress\":\"%s\"},"
                           "\"responseElements\":{\"x-amz-request-id\":\"%s\","
                           "\"x-amz-id-2\":\"%s\"},\"s3\":{\"s3SchemaVersion\":\"1.0\","
                           "\"configurationId\":\"",
                       c->req->remote != NULL ? c->req->remote : "127.0.0.1",
                       c->req->request_id, c->req->request_id);
            buf_json_escape(&b, id, strlen(id));
            buf_printf(&b, "\",\"bucket\":{\"name\":\"%s\",\"ownerIdentity\":{\"principalId\":"
                           "\"cloudlet\"},\"arn\":\"arn:aws:s3:::%s\"},\"object\":{\"key\":\"",
                       c->bucket, c->bucket);
            event_key(&b, c->key, c->key_len);
            buf_printf(&b, "\"");
            if (strncmp(event_name, "ObjectCreated", 13) == 0)
                buf_printf(&b, ",\"size\":%llu,\"eTag\":\"%s\"", (unsigned long long)size, etag);
            buf_printf(&b, ",\"sequencer\":\"%s\"}}}]}", seq);
            c->opts->notify(c->opts->notify_ctx, arn, b.data, b.len);
            buf_free(&b);
        }
        p = end;
    }
    free(doc);
}
