/* api.c - the STS query API (wire doc section 4): form-encoded requests,
 * XML answers, version 2011-06-15.
 *
 *   GetCallerIdentity          who signed this request
 *   AssumeRoleWithWebIdentity  an ID token of one of our pools -> a role's credentials
 *   AssumeRole                 root (or a caller allowed sts:AssumeRole) -> a role's credentials
 *   GetSessionToken            root -> temporary credentials that act as root
 */
#include "sts/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/util.h"

#define XMLNS "https://sts.amazonaws.com/doc/2011-06-15/"
#define PARAM_MAX 16384
#define WEB_TOKEN_MAX 16384
#define GET_SESSION_TOKEN_MAX 129600
#define GET_SESSION_TOKEN_DEFAULT 43200

typedef struct call {
    sts_t *s;
    const http_req_t *req;
    http_resp_t *resp;
    const char *action;
} call_t;

static void err(call_t *c, int status, const char *code, const char *msg)
{
    http_resp_clear(c->resp);
    http_resp_init(c->resp);
    http_error(c->resp, HTTP_PROTO_QUERY, status, code, msg, NULL, c->req->request_id);
}

/* A form parameter (percent-decoded) into a heap string, or NULL when absent. */
static char *param(const call_t *c, const char *name)
{
    const char *body = c->req->body_len ? (const char *)c->req->body : "";
    char *out = xmalloc(PARAM_MAX);
    int n = http_query_param(body, name, out, PARAM_MAX);
    if (n < 0 || (size_t)n != strlen(out)) {
        free(out);
        return NULL;
    }
    return out;
}

static int session_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 2 || len > 64)
        return 0;
    for (const char *p = n; *p; p++) {
        if (!isalnum((unsigned char)*p) && strchr("+=,.@_-", *p) == NULL)
            return 0;
    }
    return 1;
}

/* DurationSeconds: default def, within [min, max]. Returns 0 or -1 (answered). */
static int duration(call_t *c, int64_t def, int64_t max, int64_t *out)
{
    char *v = param(c, "DurationSeconds");
    *out = def < max ? def : max;
    if (v == NULL)
        return 0;
    char *end;
    long long d = strtoll(v, &end, 10);
    int bad = *v == '\0' || *end != '\0' || d < c->s->min_duration || d > max;
    free(v);
    if (bad) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "1 validation error detected: Value at 'durationSeconds' failed to satisfy "
                 "constraint: Member must have value between %lld and %lld",
                 (long long)c->s->min_duration, (long long)max);
        err(c, 400, "ValidationError", msg);
        return -1;
    }
    *out = d;
    return 0;
}

/* An optional session policy: valid JSON, a valid policy, at most 2048 characters. */
static int session_policy(call_t *c, char **out)
{
    *out = param(c, "Policy");
    if (*out == NULL)
        return 0;
    char why[300];
    json_t *doc = json_loads(*out, 0, NULL);
    if (strlen(*out) > HTTP_SESSION_POLICY_MAX) {
        err(c, 400, "PackedPolicyTooLarge", "The session policy is longer than 2048 characters.");
    } else if (doc == NULL || sts_policy_validate(doc, why, sizeof why) != 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "The session policy is not a valid policy document: %s",
                 doc ? why : "not JSON");
        err(c, 400, "MalformedPolicyDocument", msg);
    } else {
        json_decref(doc);
        return 0;
    }
    json_decref(doc);
    free(*out);
    *out = NULL;
    return -1;
}

static void xml_text(buf_t *b, const char *tag, const char *text)
{
    buf_printf(b, "<%s>", tag);
    buf_xml_escape(b, text, strlen(text));
    buf_printf(b, "</%s>", tag);
}

static void credentials_xml(buf_t *b, const json_t *cred)
{
    char iso[25];
    util_iso8601_ms(json_integer_value(json_object_get(cred, "Expiration")) * 1000, iso);
    buf_puts(b, "<Credentials>");
    xml_text(b, "AccessKeyId", json_string_value(json_object_get(cred, "AccessKeyId")));
    xml_text(b, "SecretAccessKey", json_string_value(json_object_get(cred, "SecretAccessKey")));
    xml_text(b, "SessionToken", json_string_value(json_object_get(cred, "SessionToken")));
    /* Second precision, as STS writes it. */
    memcpy(iso + 19, "Z", 2);
    xml_text(b, "Expiration", iso);
    buf_puts(b, "</Credentials>");
}

/* Wrap a result body in <XResponse><XResult>...</XResult><ResponseMetadata/></XResponse>. */
static void send_xml(call_t *c, buf_t *inner)
{
    buf_t b;
    buf_init(&b, 0);
    buf_printf(&b, "<%sResponse xmlns=\"%s\"><%sResult>", c->action, XMLNS, c->action);
    buf_append(&b, inner->data, inner->len);
    buf_printf(&b, "</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>",
               c->action, c->req->request_id, c->action);
    OPENSSL_cleanse(inner->data, inner->len);
    buf_free(inner);
    size_t len;
    char *text = buf_steal(&b, &len);
    http_resp_header(c->resp, "Content-Type", "text/xml");
    http_resp_body_owned(c->resp, text, len);
}

static void wipe_cred(json_t *cred)
{
    json_t *sec = json_object_get(cred, "SecretAccessKey");
    if (json_is_string(sec))
        OPENSSL_cleanse((char *)json_string_value(sec), json_string_length(sec));
    json_decref(cred);
}

/* ---- actions ---- */

static void get_caller_identity(call_t *c)
{
    const http_caller_t *who = c->req->caller;
    if (who == NULL) {
        err(c, 403, "MissingAuthenticationToken", "Request is missing Authentication Token");
        return;
    }
    buf_t b;
    buf_init(&b, 0);
    xml_text(&b, "Arn", who->arn);
    xml_text(&b, "UserId", who->user_id[0] ? who->user_id : c->s->account_id);
    xml_text(&b, "Account", c->s->account_id);
    send_xml(c, &b);
}

/* The shared part of the AssumeRole* actions: mint and answer. */
static void assume(call_t *c, const sts_role_t *role, const char *session_name,
                   const char *identity_id, const char *subject, const char *policy,
                   int64_t dur, const json_t *web)
{
    sts_session_t sess = {0, role, session_name, identity_id, subject, policy, dur};
    json_t *cred = sts_session_mint(c->s, &sess, util_now_ms() / 1000);
    if (cred == NULL) {
        err(c, 500, "InternalFailure", "Temporary credentials are not available.");
        return;
    }
    buf_t b;
    buf_init(&b, 0);
    credentials_xml(&b, cred);
    if (web != NULL)
        xml_text(&b, "SubjectFromWebIdentityToken", subject);
    buf_puts(&b, "<AssumedRoleUser>");
    xml_text(&b, "AssumedRoleId", json_string_value(json_object_get(cred, "AssumedRoleId")));
    xml_text(&b, "Arn", json_string_value(json_object_get(cred, "Arn")));
    buf_puts(&b, "</AssumedRoleUser>");
    if (web != NULL) {
        const char *iss = json_string_value(json_object_get(web, "iss"));
        const char *aud = json_string_value(json_object_get(web, "aud"));
        xml_text(&b, "Provider", iss && util_startswith(iss, "https://") ? iss + 8 : "");
        xml_text(&b, "Audience", aud ? aud : "");
    }
    wipe_cred(cred);
    send_xml(c, &b);
}

/* RoleArn and RoleSessionName, checked. Returns the role or NULL (answered). */
static const sts_role_t *role_params(call_t *c, char **session_name, const char *denied)
{
    char *arn = param(c, "RoleArn");
    *session_name = param(c, "RoleSessionName");
    const sts_role_t *role = NULL;
    if (arn == NULL || *session_name == NULL) {
        err(c, 400, "MissingParameter",
            arn == NULL ? "The request must contain the parameter RoleArn"
                        : "The request must contain the parameter RoleSessionName");
    } else if (!session_name_ok(*session_name)) {
        err(c, 400, "ValidationError",
            "1 validation error detected: Value at 'roleSessionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]{2,64}");
    } else {
        role = sts_role_by_arn(c->s, arn);
        if (role == NULL)
            err(c, 403, "AccessDenied", denied);
    }
    free(arn);
    if (role == NULL) {
        free(*session_name);
        *session_name = NULL;
    }
    return role;
}

static void assume_role_with_web_identity(call_t *c)
{
    char *session = NULL, *policy = NULL, *token = NULL;
    json_t *claims = NULL;
    const sts_role_t *role =
        role_params(c, &session, "Not authorized to perform sts:AssumeRoleWithWebIdentity");
    if (role == NULL)
        return;
    token = param(c, "WebIdentityToken");
    char pool[64], why[100];
    int64_t dur;
    if (token == NULL) {
        err(c, 400, "MissingParameter", "The request must contain the parameter WebIdentityToken");
        goto out;
    }
    if (c->s->auth == NULL || strlen(token) > WEB_TOKEN_MAX ||
        auth_token_verify_any(c->s->auth, token, "id", pool, sizeof pool, &claims, why,
                              sizeof why) != 0) {
        err(c, 400, strcmp(why, "expired") == 0 ? "ExpiredTokenException" : "InvalidIdentityToken",
            strcmp(why, "expired") == 0 ? "Token is expired."
                                        : "The ID Token provided is not a valid JWT of a user "
                                          "pool of this server.");
        goto out;
    }
    int trusted = 0;
    size_t i;
    json_t *p;
    json_array_foreach(role->trust_pools, i, p)
    {
        const char *v = json_string_value(p);
        trusted |= strcmp(v, "*") == 0 || strcmp(v, pool) == 0;
    }
    if (!trusted) {
        err(c, 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity");
        goto out;
    }
    if (duration(c, c->s->default_duration, role->max_duration, &dur) != 0 || session_policy(c, &policy) != 0)
        goto out;
    assume(c, role, session, NULL, json_string_value(json_object_get(claims, "sub")), policy, dur,
           claims);
out:
    json_decref(claims);
    free(session);
    free(policy);
    free(token);
}

static void assume_role(call_t *c)
{
    const http_caller_t *who = c->req->caller;
    char *session = NULL, *policy = NULL;
    int64_t dur;
    if (who == NULL) {
        err(c, 403, "MissingAuthenticationToken", "Request is missing Authentication Token");
        return;
    }
    /* The gate has already checked sts:AssumeRole on the role for non-root callers. */
    const sts_role_t *role = role_params(c, &session, "Not authorized to perform sts:AssumeRole");
    if (role == NULL)
        return;
    if (duration(c, c->s->default_duration, role->max_duration, &dur) == 0 && session_policy(c, &policy) == 0)
        assume(c, role, session, who->identity_id[0] ? who->identity_id : NULL,
               who->subject[0] ? who->subject : NULL, policy, dur, NULL);
    free(session);
    free(policy);
}

static void get_session_token(call_t *c)
{
    const http_caller_t *who = c->req->caller;
    int64_t dur;
    if (who == NULL) {
        err(c, 403, "MissingAuthenticationToken", "Request is missing Authentication Token");
        return;
    }
    if (!who->root || who->expires != 0) {
        err(c, 403, "AccessDenied", "Cannot call GetSessionToken with session credentials");
        return;
    }
    if (duration(c, GET_SESSION_TOKEN_DEFAULT, GET_SESSION_TOKEN_MAX, &dur) != 0)
        return;
    sts_session_t sess = {1, NULL, NULL, NULL, NULL, NULL, dur};
    json_t *cred = sts_session_mint(c->s, &sess, util_now_ms() / 1000);
    if (cred == NULL) {
        err(c, 500, "InternalFailure", "Temporary credentials are not available.");
        return;
    }
    buf_t b;
    buf_init(&b, 0);
    credentials_xml(&b, cred);
    wipe_cred(cred);
    send_xml(c, &b);
}

static const struct {
    const char *name;
    void (*fn)(call_t *c);
} actions[] = {
    {"GetCallerIdentity", get_caller_identity},
    {"AssumeRoleWithWebIdentity", assume_role_with_web_identity},
    {"AssumeRole", assume_role},
    {"GetSessionToken", get_session_token},
};

int sts_api_action(const sts_t *s, const http_req_t *req, char *action, size_t actionsz,
                   char *resource, size_t resourcesz)
{
    const char *body = req->body_len ? (const char *)req->body : "";
    char name[64], arn[200];
    if (http_query_param(body, "Action", name, sizeof name) < 0 ||
        strcmp(name, "AssumeRole") != 0)
        return 1;
    snprintf(action, actionsz, "sts:AssumeRole");
    if (http_query_param(body, "RoleArn", arn, sizeof arn) < 0)
        snprintf(arn, sizeof arn, "*");
    snprintf(resource, resourcesz, "%s", arn);
    return 0;
}

void sts_handle_sts(sts_t *s, const http_req_t *req, http_resp_t *resp)
{
    call_t c = {s, req, resp, NULL};
    const char *body = req->body_len ? (const char *)req->body : "";
    char name[64];
    if (req->body_len > 64 * 1024) {
        err(&c, 413, "RequestEntityTooLarge", "The request body is too large.");
        return;
    }
    if (http_query_param(body, "Action", name, sizeof name) < 0) {
        err(&c, 400, "MissingAction", "The request must contain the parameter Action.");
        return;
    }
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        if (strcmp(actions[i].name, name) == 0) {
            c.action = actions[i].name;
            actions[i].fn(&c);
            return;
        }
    }
    char msg[160];
    snprintf(msg, sizeof msg, "Could not find operation %.64s for version 2011-06-15.", name);
    err(&c, 400, "InvalidAction", msg);
}

int sts_request_action(const sts_t *s, const http_req_t *req, int query, char *action,
                       size_t actionsz, char *resource, size_t resourcesz)
{
    return query ? sts_api_action(s, req, action, actionsz, resource, resourcesz)
                 : sts_identity_action(s, req, action, actionsz, resource, resourcesz);
}
