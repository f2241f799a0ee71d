/* policy.c - the IAM JSON policy evaluator: validation of identity policy
 * documents (role policies, session policies) and the decision of one
 * document for one request (Allow, Deny, or neither).
 *
 * Why a matcher of its own rather than fnmatch: the details that AWS gets
 * right and a generic glob gets wrong are the ones that decide security.
 * Policy variables are substituted before matching, and a '*' that comes
 * from a substituted value (a Cognito identity id, a user name, a request
 * key) must stay a literal character. So every pattern is compiled to a
 * token list in which a wildcard from the policy text and a character from
 * a value are different tokens, and matched with the greedy two-pointer
 * algorithm: O(pattern * subject) in the worst case, never exponential.
 *
 * Conservative by construction: a document that fails validation never
 * allows anything, but each of its statements that reads as a Deny still
 * denies when every part of it that can be understood matches the request
 * (a part that cannot be understood counts as matching).
 */
#include "sts/internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/util.h"

#define TOK_ANY 256 /* the '*' wildcard */
#define TOK_ONE 257 /* the '?' wildcard */

#define CF_WILD 1 /* '*' and '?' in the text are wildcards */
#define CF_VARS 2 /* ${...} policy variables are substituted (Version 2012-10-17) */

#define KEY_NAME_MAX 256 /* longest condition key or variable name looked up */

/* ---- token lists and the matcher ---- */

/* A compiled pattern: 0..255 are literal bytes, TOK_ANY and TOK_ONE wildcards. */
typedef struct toks {
    int *t;
    size_t n, cap;
} toks_t;

static void toks_push(toks_t *k, int c)
{
    if (k->n == k->cap) {
        k->cap = k->cap != 0 ? 2 * k->cap : 64;
        k->t = xrealloc(k->t, k->cap * sizeof *k->t);
    }
    k->t[k->n++] = c;
}

static void toks_push_bytes(toks_t *k, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        toks_push(k, (unsigned char)s[i]);
}

static void toks_free(toks_t *k)
{
    free(k->t);
    k->t = NULL;
    k->n = k->cap = 0;
}

/* The length of the UTF-8 sequence starting at s (at most n), so that '?'
 * and '*' consume whole characters as IAM's do; a stray byte counts as one. */
static size_t cp_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t len = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
    return len < n ? len : n;
}

static int lit_eq(int tok, unsigned char c, int icase)
{
    if (icase)
        return tolower(tok) == tolower(c);
    return tok == c;
}

/* Does the token pattern p[0..pn) match all of s[0..sn)? Greedy two-pointer
 * matching: on a mismatch only the most recent '*' is widened by one
 * character, which bounds the work by pn * sn (no backtracking tree).
 * icase folds ASCII letters (actions compare case-insensitively). */
static int glob_match(const int *p, size_t pn, const char *s, size_t sn, int icase)
{
    size_t pi = 0, si = 0;
    size_t star = (size_t)-1, mark = 0;

    while (si < sn) {
        if (pi < pn && p[pi] == TOK_ANY) {
            star = pi++;
            mark = si;
        } else if (pi < pn && p[pi] == TOK_ONE) {
            pi++;
            si += cp_len(s + si, sn - si);
        } else if (pi < pn && lit_eq(p[pi], (unsigned char)s[si], icase)) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            mark += cp_len(s + mark, sn - mark);
            si = mark;
        } else {
            return 0;
        }
    }
    while (pi < pn && p[pi] == TOK_ANY)
        pi++;
    return pi == pn;
}

/* ---- the request context ---- */

/* What one evaluation knows besides the document: the request and the
 * context keys derived from the caller, computed once. */
typedef struct env {
    const sts_policy_req_t *req;
    int vars;                   /* Version 2012-10-17: substitute policy variables */
    const char *username;       /* aws:username (IAM users only), or NULL */
    const char *principal_type; /* aws:PrincipalType, or NULL */
    char principal_arn[320];    /* aws:PrincipalArn, "" if unknown */
    char now_iso[32];           /* aws:CurrentTime */
    char now_epoch[24];         /* aws:EpochTime */
} env_t;

/* The values of one condition key: a single value, or a JSON array of them
 * (a multi-valued key in req->context). */
typedef struct keyval {
    size_t n;
    const char *one;
    const json_t *arr;
    char scratch[64]; /* text of a number or boolean from the context */
} keyval_t;

/* Split s at its first five ':' into the six ARN components (arn,
 * partition, service, region, account, resource). Returns 0, or -1 if s
 * has fewer than six. */
static int arn_split(const char *s, const char *part[6], size_t len[6])
{
    const char *p = s;
    for (int i = 0; i < 5; i++) {
        const char *c = strchr(p, ':');
        if (c == NULL)
            return -1;
        part[i] = p;
        len[i] = (size_t)(c - p);
        p = c + 1;
    }
    part[5] = p;
    len[5] = strlen(p);
    return 0;
}

static void env_init(env_t *e, const json_t *doc, const sts_policy_req_t *req)
{
    memset(e, 0, sizeof *e);
    e->req = req;
    const char *version = json_string_value(json_object_get(doc, "Version"));
    /* Variables arrived with 2012-10-17; older or absent versions take
     * ${...} literally, as IAM does. */
    e->vars = version != NULL && strcmp(version, "2012-10-17") == 0;

    time_t now = (time_t)req->now;
    struct tm tm;
    if (gmtime_r(&now, &tm) != NULL)
        strftime(e->now_iso, sizeof e->now_iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(e->now_epoch, sizeof e->now_epoch, "%lld", (long long)req->now);

    const http_caller_t *c = req->caller;
    const char *part[6];
    size_t len[6];
    if (c == NULL)
        return;
    snprintf(e->principal_arn, sizeof e->principal_arn, "%s", c->arn);
    if (arn_split(c->arn, part, len) != 0)
        return;
    const char *res = part[5];
    if (strcmp(res, "root") == 0) {
        e->principal_type = "Account";
    } else if (util_startswith(res, "user/")) {
        e->principal_type = "User";
        const char *name = strrchr(res, '/') + 1;
        e->username = *name != '\0' ? name : NULL;
    } else if (util_startswith(res, "assumed-role/")) {
        /* IAM gives the role's ARN, not the session's, as aws:PrincipalArn. */
        e->principal_type = "AssumedRole";
        const char *role = res + strlen("assumed-role/");
        const char *slash = strchr(role, '/');
        size_t role_len = slash != NULL ? (size_t)(slash - role) : strlen(role);
        snprintf(e->principal_arn, sizeof e->principal_arn, "arn:%.*s:iam::%.*s:role/%.*s",
                 (int)len[1], part[1], (int)len[4], part[4], (int)role_len, role);
    }
}

/* Set kv to the single value s; an empty or NULL s counts as absent. */
static int kv_one(keyval_t *kv, const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    kv->n = 1;
    kv->one = s;
    return 1;
}

/* The text of a scalar JSON value (string, number, boolean), or NULL. A
 * number or boolean is written into buf. */
static const char *scalar_text(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, n, "%.17g", json_real_value(v));
        return buf;
    }
    if (json_is_true(v))
        return "true";
    if (json_is_false(v))
        return "false";
    return NULL;
}

/* Look up condition key `name` (case-insensitive, as IAM's key names are).
 * Returns 1 and fills kv when the key is present, 0 when absent. Keys that
 * describe the verified caller or the time come from the caller and `now`
 * only: the context can never override them. */
static int key_get(const env_t *e, const char *name, keyval_t *kv)
{
    memset(kv, 0, sizeof *kv);
    const http_caller_t *c = e->req->caller;

    if (util_strcaseeq(name, "aws:username"))
        return kv_one(kv, e->username);
    if (util_strcaseeq(name, "aws:userid"))
        return kv_one(kv, c != NULL ? c->user_id : NULL);
    if (util_strcaseeq(name, "aws:PrincipalArn"))
        return kv_one(kv, e->principal_arn);
    if (util_strcaseeq(name, "aws:PrincipalAccount"))
        return kv_one(kv, c != NULL ? c->account : NULL);
    if (util_strcaseeq(name, "aws:PrincipalType"))
        return kv_one(kv, e->principal_type);
    if (util_strcaseeq(name, "aws:CurrentTime"))
        return kv_one(kv, e->now_iso);
    if (util_strcaseeq(name, "aws:EpochTime"))
        return kv_one(kv, e->now_epoch);
    if (util_strcaseeq(name, "cognito-identity.amazonaws.com:sub"))
        return kv_one(kv, c != NULL ? c->identity_id : NULL);

    const json_t *ctx = e->req->context;
    if (json_is_object(ctx)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)ctx, k, v)
        {
            if (!util_strcaseeq(k, name))
                continue;
            if (json_is_array(v)) {
                kv->arr = v;
                kv->n = json_array_size(v);
                if (kv->n > STS_POLICY_MAX_VALUES)
                    kv->n = STS_POLICY_MAX_VALUES;
                return 1;
            }
            const char *text = scalar_text(v, kv->scratch, sizeof kv->scratch);
            if (text == NULL)
                return 0; /* null or an object: not a value */
            kv->n = 1;
            kv->one = text;
            return 1;
        }
    }
    /* Requests reach cloudlet over plain HTTP unless the context says otherwise. */
    if (util_strcaseeq(name, "aws:SecureTransport"))
        return kv_one(kv, "false");
    return 0;
}

/* The i-th value of kv, or NULL for a non-string element of a context array. */
static const char *kv_value(const keyval_t *kv, size_t i)
{
    if (kv->arr == NULL)
        return kv->one;
    return json_string_value(json_array_get(kv->arr, i));
}

/* ---- policy variables ---- */

/* A parsed ${...} reference. */
typedef struct varref {
    char esc; /* '*', '?' or '$' for the escapes ${*} ${?} ${$}; 0 for a variable */
    const char *name;
    size_t name_len;
    const char *def; /* the default of ${name, 'default'}, or NULL */
    size_t def_len;
} varref_t;

static int is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == ':' || c == '-' || c == '_' || c == '.' || c == '/';
}

/* Parse the reference at s, which starts with "${". Returns its length up
 * to and including '}' and fills *v, or 0 when the text is not a well-formed
 * reference: ${*}, ${?}, ${$}, ${name} or ${name, 'default'}. */
static size_t parse_var(const char *s, varref_t *v)
{
    memset(v, 0, sizeof *v);
    const char *close = strchr(s + 2, '}');
    if (close == NULL)
        return 0;
    size_t len = (size_t)(close + 1 - s);
    const char *p = s + 2;
    if (close - p == 1 && (*p == '*' || *p == '?' || *p == '$')) {
        v->esc = *p;
        return len;
    }
    while (p < close && *p == ' ')
        p++;
    const char *name = p;
    while (p < close && is_name_char(*p))
        p++;
    if (p == name)
        return 0;
    v->name = name;
    v->name_len = (size_t)(p - name);
    while (p < close && *p == ' ')
        p++;
    if (p < close && *p == ',') {
        p++;
        while (p < close && *p == ' ')
            p++;
        if (p >= close || *p != '\'')
            return 0;
        const char *def = ++p;
        while (p < close && *p != '\'')
            p++;
        if (p >= close)
            return 0;
        v->def = def;
        v->def_len = (size_t)(p - def);
        p++;
        while (p < close && *p == ' ')
            p++;
    }
    return p == close ? len : 0;
}

/* Does every "${" in s start a well-formed reference? */
static int vars_well_formed(const char *s)
{
    for (const char *p = strstr(s, "${"); p != NULL; p = strstr(p + 1, "${")) {
        varref_t v;
        size_t len = parse_var(p, &v);
        if (len == 0)
            return 0;
        p += len - 1;
    }
    return 1;
}

/* Append the value of variable v as literal tokens. Returns 0, or -1 when
 * the variable has no single non-empty value and no default. */
static int push_var(const env_t *e, const varref_t *v, toks_t *out)
{
    char name[KEY_NAME_MAX + 1];
    keyval_t kv;
    if (v->name_len <= KEY_NAME_MAX) {
        memcpy(name, v->name, v->name_len);
        name[v->name_len] = '\0';
        if (key_get(e, name, &kv) && kv.n == 1) {
            const char *val = kv_value(&kv, 0);
            if (val != NULL && *val != '\0') {
                toks_push_bytes(out, val, strlen(val));
                return 0;
            }
        }
    }
    if (v->def == NULL)
        return -1;
    toks_push_bytes(out, v->def, v->def_len);
    return 0;
}

/* Compile the policy text s into out (reset first). With CF_WILD, '*' and
 * '?' in s are wildcards; with CF_VARS, ${...} references are replaced by
 * their values as literal characters. Returns 0, or -1 when a variable
 * cannot be resolved (the pattern then matches nothing). Text that is not a
 * well-formed reference is taken literally. */
static int compile(const env_t *e, const char *s, int flags, toks_t *out)
{
    out->n = 0;
    for (size_t i = 0; s[i] != '\0';) {
        if ((flags & CF_VARS) && s[i] == '$' && s[i + 1] == '{') {
            varref_t v;
            size_t len = parse_var(s + i, &v);
            if (len > 0) {
                if (v.esc != 0)
                    toks_push(out, (unsigned char)v.esc);
                else if (push_var(e, &v, out) != 0)
                    return -1;
                i += len;
                continue;
            }
        }
        unsigned char c = (unsigned char)s[i++];
        if ((flags & CF_WILD) && c == '*')
            toks_push(out, TOK_ANY);
        else if ((flags & CF_WILD) && c == '?')
            toks_push(out, TOK_ONE);
        else
            toks_push(out, c);
    }
    return 0;
}

/* The literal text of a token list without wildcards; caller frees. */
static char *toks_text(const toks_t *k)
{
    char *s = xmalloc(k->n + 1);
    for (size_t i = 0; i < k->n; i++)
        s[i] = (char)(k->t[i] < 256 ? k->t[i] : '?');
    s[k->n] = '\0';
    return s;
}

/* ---- typed values ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Read exactly n digits at *p into *out and advance. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Parse an IAM date: epoch seconds, or ISO 8601 "YYYY-MM-DD" optionally
 * followed by "THH:MM[:SS[.fff]]" and "Z" or "+HH:MM" (no zone = UTC).
 * Sets *ms (milliseconds since the epoch). Returns 0, or -1. */
static int parse_date(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    if (n == 0)
        return -1;
    if (strspn(s, "0123456789") == n) {
        if (n > 12)
            return -1;
        *ms = strtoll(s, NULL, 10) * 1000;
        return 0;
    }
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return -1;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return -1;
    int64_t offset = 0;
    if (*p == 'T' || *p == 't') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return -1;
            if (*p == '.') {
                p++;
                int nd = 0;
                while (isdigit((unsigned char)*p)) {
                    if (nd < 3)
                        frac = frac * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0 || nd > 9)
                    return -1;
                for (; nd < 3; nd++)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return -1;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om;
            if (digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (digits(&p, 2, &om) || oh > 23 || om > 59)
                return -1;
            offset = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p != '\0')
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    *ms = secs * 1000 + frac;
    return 0;
}

/* Parse a decimal number (no hex, inf or nan). Returns 0, or -1. */
static int parse_num(const char *s, double *out)
{
    if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
        return -1;
    char *end;
    double d = strtod(s, &end);
    if (*end != '\0' || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static int is_bool_text(const char *s)
{
    return strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0;
}

/* ---- condition operators ---- */

enum { FAM_STR, FAM_STR_ICASE, FAM_STR_LIKE, FAM_ARN, FAM_DATE, FAM_NUM, FAM_BOOL, FAM_NULL };
enum { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE };
enum { Q_NONE, Q_ANY, Q_ALL };

typedef struct opdef {
    const char *name;
    unsigned char fam, cmp, neg; /* neg: a negated operator (true when nothing matches) */
} opdef_t;

static const opdef_t OPS[] = {
    {"StringEquals", FAM_STR, CMP_EQ, 0},
    {"StringNotEquals", FAM_STR, CMP_EQ, 1},
    {"StringEqualsIgnoreCase", FAM_STR_ICASE, CMP_EQ, 0},
    {"StringNotEqualsIgnoreCase", FAM_STR_ICASE, CMP_EQ, 1},
    {"StringLike", FAM_STR_LIKE, CMP_EQ, 0},
    {"StringNotLike", FAM_STR_LIKE, CMP_EQ, 1},
    {"ArnEquals", FAM_ARN, CMP_EQ, 0}, /* IAM: ArnEquals matches like ArnLike */
    {"ArnLike", FAM_ARN, CMP_EQ, 0},
    {"ArnNotEquals", FAM_ARN, CMP_EQ, 1},
    {"ArnNotLike", FAM_ARN, CMP_EQ, 1},
    {"DateEquals", FAM_DATE, CMP_EQ, 0},
    {"DateNotEquals", FAM_DATE, CMP_EQ, 1},
    {"DateLessThan", FAM_DATE, CMP_LT, 0},
    {"DateLessThanEquals", FAM_DATE, CMP_LE, 0},
    {"DateGreaterThan", FAM_DATE, CMP_GT, 0},
    {"DateGreaterThanEquals", FAM_DATE, CMP_GE, 0},
    {"NumericEquals", FAM_NUM, CMP_EQ, 0},
    {"NumericNotEquals", FAM_NUM, CMP_EQ, 1},
    {"NumericLessThan", FAM_NUM, CMP_LT, 0},
    {"NumericLessThanEquals", FAM_NUM, CMP_LE, 0},
    {"NumericGreaterThan", FAM_NUM, CMP_GT, 0},
    {"NumericGreaterThanEquals", FAM_NUM, CMP_GE, 0},
    {"Bool", FAM_BOOL, CMP_EQ, 0},
    {"Null", FAM_NULL, CMP_EQ, 0},
};

typedef struct op {
    const opdef_t *def;
    int qual;      /* Q_NONE, Q_ANY (ForAnyValue:), Q_ALL (ForAllValues:) */
    int if_exists; /* ...IfExists: true when the key is absent */
} op_t;

/* Parse an operator name such as "ForAnyValue:StringLikeIfExists".
 * Operator names are case-sensitive. Returns 0, or -1 if unsupported. */
static int parse_op(const char *name, op_t *op)
{
    memset(op, 0, sizeof *op);
    if (util_startswith(name, "ForAnyValue:")) {
        op->qual = Q_ANY;
        name += strlen("ForAnyValue:");
    } else if (util_startswith(name, "ForAllValues:")) {
        op->qual = Q_ALL;
        name += strlen("ForAllValues:");
    }
    size_t len = strlen(name);
    const size_t sfx = strlen("IfExists");
    if (len > sfx && strcmp(name + len - sfx, "IfExists") == 0) {
        op->if_exists = 1;
        len -= sfx;
    }
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++) {
        if (strlen(OPS[i].name) == len && strncmp(OPS[i].name, name, len) == 0) {
            op->def = &OPS[i];
            break;
        }
    }
    if (op->def == NULL)
        return -1;
    /* Null tests presence itself: a qualifier or IfExists makes no sense. */
    if (op->def->fam == FAM_NULL && (op->qual != Q_NONE || op->if_exists))
        return -1;
    return 0;
}

/* One policy value of a condition, compiled. */
typedef struct pval {
    toks_t t;
    char *text; /* typed families: the substituted text */
    int64_t ms;
    double num;
} pval_t;

static int cmp_ok(int cmp, int c)
{
    switch (cmp) {
    case CMP_LT:
        return c < 0;
    case CMP_LE:
        return c <= 0;
    case CMP_GT:
        return c > 0;
    case CMP_GE:
        return c >= 0;
    default:
        return c == 0;
    }
}

/* ArnLike: each of the six ARN components matched on its own, so that a
 * '*' never spans a ':' before the resource part. */
static int arn_match(const toks_t *p, const char *v)
{
    const char *part[6];
    size_t len[6];
    if (arn_split(v, part, len) != 0)
        return 0;
    size_t start[6], end[6];
    size_t i = 0;
    int k = 0;
    start[0] = 0;
    for (; i < p->n && k < 5; i++) {
        if (p->t[i] == ':') {
            end[k] = i;
            start[++k] = i + 1;
        }
    }
    if (k < 5)
        return 0;
    end[5] = p->n;
    for (k = 0; k < 6; k++) {
        if (!glob_match(p->t + start[k], end[k] - start[k], part[k], len[k], 0))
            return 0;
    }
    return 1;
}

/* Does key value v satisfy the positive form of op for any policy value? */
static int pos_match(const op_t *op, const char *v, const pval_t *pv, size_t np)
{
    if (v == NULL)
        return 0;
    int64_t vms = 0;
    double vnum = 0;
    int fam = op->def->fam;
    if (fam == FAM_DATE && parse_date(v, &vms) != 0)
        return 0;
    if (fam == FAM_NUM && parse_num(v, &vnum) != 0)
        return 0;
    if (fam == FAM_BOOL && !is_bool_text(v))
        return 0;
    size_t vlen = strlen(v);
    for (size_t i = 0; i < np; i++) {
        int m = 0;
        switch (fam) {
        case FAM_STR:
        case FAM_STR_LIKE:
            m = glob_match(pv[i].t.t, pv[i].t.n, v, vlen, 0);
            break;
        case FAM_STR_ICASE:
            m = glob_match(pv[i].t.t, pv[i].t.n, v, vlen, 1);
            break;
        case FAM_ARN:
            m = arn_match(&pv[i].t, v);
            break;
        case FAM_DATE:
            m = cmp_ok(op->def->cmp, (vms > pv[i].ms) - (vms < pv[i].ms));
            break;
        case FAM_NUM:
            m = cmp_ok(op->def->cmp, (vnum > pv[i].num) - (vnum < pv[i].num));
            break;
        case FAM_BOOL:
            m = strcasecmp(v, pv[i].text) == 0;
            break;
        }
        if (m)
            return 1;
    }
    return 0;
}

/* The Null operator: "true" holds when the key is absent, "false" when present. */
static int null_test(const json_t *vals, int present)
{
    size_t np = json_is_array(vals) ? json_array_size(vals) : 1;
    int unknown = 0;
    for (size_t i = 0; i < np; i++) {
        char buf[64];
        const json_t *v = json_is_array(vals) ? json_array_get(vals, i) : vals;
        const char *text = scalar_text(v, buf, sizeof buf);
        if (text != NULL && strcasecmp(text, "true") == 0 && !present)
            return 1;
        if (text != NULL && strcasecmp(text, "false") == 0 && present)
            return 1;
        if (text == NULL || !is_bool_text(text))
            unknown = 1;
    }
    return unknown ? -1 : 0;
}

/* Evaluate one condition key under one operator. Returns 1 (holds), 0
 * (does not hold, also when a policy variable in the values cannot be
 * resolved: IAM then treats the statement as not applying), or -1 (the
 * values cannot be understood; only in documents that failed validation). */
static int cond_key(const env_t *e, const op_t *op, const char *key, const json_t *vals)
{
    keyval_t kv;
    int present = key_get(e, key, &kv);
    if (op->def->fam == FAM_NULL)
        return null_test(vals, present);

    size_t np = json_is_array(vals) ? json_array_size(vals) : 1;
    if (np == 0 || np > STS_POLICY_MAX_VALUES)
        return -1;
    if (!present) {
        /* IAM: IfExists and ForAllValues hold for a missing key; a negated
         * operator holds (nothing matches); everything else fails. */
        if (op->if_exists || op->qual == Q_ALL)
            return 1;
        if (op->qual == Q_ANY)
            return 0;
        return op->def->neg;
    }

    int fam = op->def->fam;
    int flags = (e->vars ? CF_VARS : 0) | (fam == FAM_STR_LIKE || fam == FAM_ARN ? CF_WILD : 0);
    int rc = 1;
    pval_t *pv = xcalloc(np, sizeof *pv);
    for (size_t i = 0; i < np; i++) {
        char buf[64];
        const json_t *v = json_is_array(vals) ? json_array_get(vals, i) : vals;
        const char *text = scalar_text(v, buf, sizeof buf);
        if (text == NULL || strlen(text) > STS_POLICY_MAX_PATTERN) {
            rc = -1;
            goto out;
        }
        if (compile(e, text, flags, &pv[i].t) != 0) {
            rc = 0;
            goto out;
        }
        if (fam != FAM_DATE && fam != FAM_NUM && fam != FAM_BOOL)
            continue;
        pv[i].text = toks_text(&pv[i].t);
        int bad = (fam == FAM_DATE && parse_date(pv[i].text, &pv[i].ms) != 0) ||
                  (fam == FAM_NUM && parse_num(pv[i].text, &pv[i].num) != 0) ||
                  (fam == FAM_BOOL && !is_bool_text(pv[i].text));
        if (bad) {
            /* A value that only went wrong after substitution makes the
             * statement not apply; one that was wrong as written is unknown. */
            rc = e->vars && strstr(text, "${") != NULL ? 0 : -1;
            goto out;
        }
    }

    int neg = op->def->neg;
    if (op->qual == Q_NONE) {
        int any = 0;
        for (size_t i = 0; i < kv.n && !any; i++)
            any = pos_match(op, kv_value(&kv, i), pv, np);
        rc = neg ? !any : any;
    } else if (op->qual == Q_ANY) {
        rc = 0;
        for (size_t i = 0; i < kv.n && !rc; i++)
            rc = pos_match(op, kv_value(&kv, i), pv, np) != neg;
    } else {
        rc = 1;
        for (size_t i = 0; i < kv.n && rc; i++)
            rc = pos_match(op, kv_value(&kv, i), pv, np) != neg;
    }

out:
    for (size_t i = 0; i < np; i++) {
        toks_free(&pv[i].t);
        free(pv[i].text);
    }
    free(pv);
    return rc;
}

/* The Condition element: every operator and every key must hold. Returns
 * 1, 0, or -1 when some part cannot be understood and none fails. */
static int cond_match(const env_t *e, const json_t *cond)
{
    if (cond == NULL)
        return 1;
    if (!json_is_object(cond))
        return -1;
    int unknown = 0;
    const char *opname;
    json_t *body;
    json_object_foreach((json_t *)cond, opname, body)
    {
        op_t op;
        if (parse_op(opname, &op) != 0 || !json_is_object(body) || json_object_size(body) == 0) {
            unknown = 1;
            continue;
        }
        const char *key;
        json_t *vals;
        json_object_foreach(body, key, vals)
        {
            int r = cond_key(e, &op, key, vals);
            if (r == 0)
                return 0;
            if (r < 0)
                unknown = 1;
        }
    }
    return unknown ? -1 : 1;
}

/* ---- Action and Resource ---- */

/* Match one Action or Resource pattern. Returns 1, 0, -1 (cannot be
 * understood) or -2 (a policy variable has no value: matches nothing). */
static int pattern_match(const env_t *e, const char *pat, int is_action)
{
    const char *subject = is_action ? e->req->action : e->req->resource;
    if (strlen(pat) > STS_POLICY_MAX_PATTERN)
        return -1;
    toks_t t = {0};
    int flags = CF_WILD | (!is_action && e->vars ? CF_VARS : 0);
    int rc;
    if (compile(e, pat, flags, &t) != 0)
        rc = -2;
    else
        rc = glob_match(t.t, t.n, subject, strlen(subject), is_action);
    toks_free(&t);
    return rc;
}

/* Match a string or array of patterns: 1 if any matches; otherwise -1 if
 * some entry cannot be understood, -2 if some had an unresolved variable,
 * else 0. */
static int list_match(const env_t *e, const json_t *list, int is_action)
{
    if (json_is_string(list))
        return pattern_match(e, json_string_value(list), is_action);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return -1;
    int malformed = 0, unresolved = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        int r = json_is_string(v) ? pattern_match(e, json_string_value(v), is_action) : -1;
        if (r == 1)
            return 1;
        if (r == -1)
            malformed = 1;
        if (r == -2)
            unresolved = 1;
    }
    return malformed ? -1 : unresolved ? -2 : 0;
}

/* Action/NotAction (is_action) or Resource/NotResource of statement st.
 * Returns 1, 0 or -1 (cannot be understood). */
static int elem_match(const env_t *e, const json_t *st, int is_action)
{
    const json_t *pos = json_object_get(st, is_action ? "Action" : "Resource");
    const json_t *neg = json_object_get(st, is_action ? "NotAction" : "NotResource");
    if ((pos == NULL) == (neg == NULL))
        return -1;
    int r = list_match(e, pos != NULL ? pos : neg, is_action);
    if (r == -1)
        return -1;
    if (pos != NULL)
        return r == 1;
    /* NotX matches when no entry does; an entry whose variable cannot be
     * resolved makes the statement not apply rather than widening it. */
    return r == 0;
}

/* Does statement st apply to the request? In lenient mode (a document that
 * failed validation) a part that cannot be understood counts as matching. */
static int stmt_matches(const env_t *e, const json_t *st, int lenient)
{
    int r[3] = {elem_match(e, st, 1), 0, 0};
    if (r[0] == 0 || (r[0] < 0 && !lenient))
        return 0;
    r[1] = elem_match(e, st, 0);
    if (r[1] == 0 || (r[1] < 0 && !lenient))
        return 0;
    r[2] = cond_match(e, json_object_get(st, "Condition"));
    if (r[2] == 0 || (r[2] < 0 && !lenient))
        return 0;
    return 1;
}

int sts_policy_eval(const json_t *doc, const sts_policy_req_t *req)
{
    if (req == NULL || req->action == NULL || req->resource == NULL)
        return STS_POLICY_DENY; /* a request that cannot be described is refused */
    if (!json_is_object(doc))
        return STS_POLICY_NONE;
    int valid = sts_policy_validate(doc, NULL, 0) == 0;
    env_t e;
    env_init(&e, doc, req);

    const json_t *stmts = json_object_get(doc, "Statement");
    size_t n = json_is_array(stmts) ? json_array_size(stmts) : json_is_object(stmts) ? 1 : 0;
    int allow = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *st = json_is_array(stmts) ? json_array_get(stmts, i) : stmts;
        if (!json_is_object(st))
            continue;
        const char *effect = json_string_value(json_object_get(st, "Effect"));
        if (effect == NULL)
            continue;
        int deny = valid ? strcmp(effect, "Deny") == 0 : strcasecmp(effect, "Deny") == 0;
        int allows = valid && strcmp(effect, "Allow") == 0;
        if ((!deny && !allows) || (allows && allow))
            continue; /* once allowed, only a Deny can change the answer */
        if (stmt_matches(&e, st, !valid)) {
            if (deny)
                return STS_POLICY_DENY;
            allow = 1;
        }
    }
    return allow ? STS_POLICY_ALLOW : STS_POLICY_NONE;
}

/* ---- validation ---- */

static int fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write the message into err (if any) and return -1. */
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
    if (err != NULL && errsz > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Is j nested deeper than STS_POLICY_MAX_DEPTH (j itself at `depth`)? */
static int too_deep(const json_t *j, int depth)
{
    if (depth > STS_POLICY_MAX_DEPTH)
        return 1;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            if (too_deep(v, depth + 1))
                return 1;
        }
    } else if (json_is_array(j)) {
        size_t i;
        const json_t *v;
        json_array_foreach(j, i, v)
        {
            if (too_deep(v, depth + 1))
                return 1;
        }
    }
    return 0;
}

/* Check one Action/NotAction/Resource/NotResource pattern. */
static int check_pattern(const char *where, const char *elem, const char *s, int is_action,
                         int vars, char *err, size_t errsz)
{
    size_t len = strlen(s);
    if (len == 0)
        return fail(err, errsz, "%s: %s must not contain an empty string", where, elem);
    if (len > STS_POLICY_MAX_PATTERN)
        return fail(err, errsz, "%s: %s has a pattern longer than %d characters", where, elem,
                    STS_POLICY_MAX_PATTERN);
    if (strcmp(s, "*") == 0)
        return 0;
    if (is_action) {
        const char *colon = strchr(s, ':');
        if (colon == NULL || colon == s || colon[1] == '\0')
            return fail(err, errsz, "%s: %s \"%.64s\" is not of the form service:action", where,
                        elem, s);
        return 0;
    }
    if (!util_startswith(s, "arn:"))
        return fail(err, errsz, "%s: %s \"%.64s\" must be \"*\" or an ARN", where, elem, s);
    if (vars && !vars_well_formed(s))
        return fail(err, errsz, "%s: %s \"%.64s\" has a malformed policy variable", where, elem, s);
    return 0;
}

/* Check the pair Action/NotAction (is_action) or Resource/NotResource. */
static int check_pair(const char *where, const json_t *st, int is_action, int vars, char *err,
                      size_t errsz)
{
    const char *pname = is_action ? "Action" : "Resource";
    const char *nname = is_action ? "NotAction" : "NotResource";
    const json_t *pos = json_object_get(st, pname);
    const json_t *neg = json_object_get(st, nname);
    if (pos != NULL && neg != NULL)
        return fail(err, errsz, "%s: %s and %s are mutually exclusive", where, pname, nname);
    if (pos == NULL && neg == NULL)
        return fail(err, errsz, "%s: %s or %s is required", where, pname, nname);
    const char *elem = pos != NULL ? pname : nname;
    const json_t *list = pos != NULL ? pos : neg;
    if (json_is_string(list))
        return check_pattern(where, elem, json_string_value(list), is_action, vars, err, errsz);
    if (!json_is_array(list))
        return fail(err, errsz, "%s: %s must be a string or an array of strings", where, elem);
    if (json_array_size(list) == 0)
        return fail(err, errsz, "%s: %s must not be empty", where, elem);
    if (json_array_size(list) > STS_POLICY_MAX_VALUES)
        return fail(err, errsz, "%s: %s has more than %d entries", where, elem,
                    STS_POLICY_MAX_VALUES);
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v))
            return fail(err, errsz, "%s: %s must be a string or an array of strings", where, elem);
        if (check_pattern(where, elem, json_string_value(v), is_action, vars, err, errsz) != 0)
            return -1;
    }
    return 0;
}

/* Check one value of condition operator `opname` for key `key`. */
static int check_cond_value(const char *where, const char *opname, const op_t *op, const char *key,
                            const json_t *v, int vars, char *err, size_t errsz)
{
    char buf[64];
    const char *text = scalar_text(v, buf, sizeof buf);
    if (text == NULL)
        return fail(err, errsz,
                    "%s: Condition %.64s \"%.64s\": values must be strings, numbers or booleans",
                    where, opname, key);
    if (strlen(text) > STS_POLICY_MAX_PATTERN)
        return fail(err, errsz,
                    "%s: Condition %.64s \"%.64s\": a value is longer than %d characters", where,
                    opname, key, STS_POLICY_MAX_PATTERN);
    int has_var = vars && strstr(text, "${") != NULL;
    if (has_var && !vars_well_formed(text))
        return fail(err, errsz,
                    "%s: Condition %.64s \"%.64s\": malformed policy variable in \"%.64s\"", where,
                    opname, key, text);
    int64_t ms;
    double num;
    switch (op->def->fam) {
    case FAM_DATE:
        if (!has_var && parse_date(text, &ms) != 0)
            return fail(err, errsz, "%s: Condition %.64s \"%.64s\": \"%.64s\" is not a date", where,
                        opname, key, text);
        break;
    case FAM_NUM:
        if (!has_var && parse_num(text, &num) != 0)
            return fail(err, errsz, "%s: Condition %.64s \"%.64s\": \"%.64s\" is not a number",
                        where, opname, key, text);
        break;
    case FAM_BOOL:
    case FAM_NULL:
        if ((op->def->fam == FAM_NULL || !has_var) && !is_bool_text(text))
            return fail(err, errsz,
                        "%s: Condition %.64s \"%.64s\": values must be \"true\" or \"false\"",
                        where, opname, key);
        break;
    default:
        break;
    }
    return 0;
}

static int check_condition(const char *where, const json_t *cond, int vars, char *err, size_t errsz)
{
    if (!json_is_object(cond))
        return fail(err, errsz, "%s: Condition must be an object", where);
    const char *opname;
    json_t *body;
    json_object_foreach((json_t *)cond, opname, body)
    {
        op_t op;
        if (parse_op(opname, &op) != 0)
            return fail(err, errsz, "%s: unsupported condition operator \"%.64s\"", where, opname);
        if (!json_is_object(body) || json_object_size(body) == 0)
            return fail(err, errsz, "%s: Condition %.64s must map condition keys to values", where,
                        opname);
        const char *key;
        json_t *vals;
        json_object_foreach(body, key, vals)
        {
            if (*key == '\0' || strlen(key) > KEY_NAME_MAX)
                return fail(err, errsz, "%s: Condition %.64s has an empty or too long key", where,
                            opname);
            if (!json_is_array(vals)) {
                if (check_cond_value(where, opname, &op, key, vals, vars, err, errsz) != 0)
                    return -1;
                continue;
            }
            if (json_array_size(vals) == 0 || json_array_size(vals) > STS_POLICY_MAX_VALUES)
                return fail(err, errsz, "%s: Condition %.64s \"%.64s\" needs 1 to %d values", where,
                            opname, key, STS_POLICY_MAX_VALUES);
            size_t i;
            const json_t *v;
            json_array_foreach(vals, i, v)
            {
                if (check_cond_value(where, opname, &op, key, v, vars, err, errsz) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

static int check_stmt(const char *where, const json_t *st, int vars, char *err, size_t errsz)
{
    static const char *const known[] = {"Sid",      "Effect",      "Action",   "NotAction",
                                        "Resource", "NotResource", "Condition"};
    if (!json_is_object(st))
        return fail(err, errsz, "%s: a statement must be a JSON object", where);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)st, k, v)
    {
        if (strcmp(k, "Principal") == 0 || strcmp(k, "NotPrincipal") == 0)
            return fail(err, errsz, "%s: %s is not allowed in an identity policy", where, k);
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(k, known[i]) != 0)
            i++;
        if (i == sizeof known / sizeof known[0])
            return fail(err, errsz, "%s: unknown element \"%.64s\"", where, k);
    }
    const json_t *sid = json_object_get(st, "Sid");
    if (sid != NULL && !json_is_string(sid))
        return fail(err, errsz, "%s: Sid must be a string", where);
    const json_t *effect = json_object_get(st, "Effect");
    if (effect == NULL)
        return fail(err, errsz, "%s: Effect is missing", where);
    const char *es = json_string_value(effect);
    if (es == NULL || (strcmp(es, "Allow") != 0 && strcmp(es, "Deny") != 0))
        return fail(err, errsz, "%s: Effect must be \"Allow\" or \"Deny\"", where);
    if (check_pair(where, st, 1, vars, err, errsz) != 0 ||
        check_pair(where, st, 0, vars, err, errsz) != 0)
        return -1;
    const json_t *cond = json_object_get(st, "Condition");
    if (cond != NULL && check_condition(where, cond, vars, err, errsz) != 0)
        return -1;
    return 0;
}

int sts_policy_validate(const json_t *doc, char *err, size_t errsz)
{
    if (!json_is_object(doc))
        return fail(err, errsz, "the policy document must be a JSON object");
    if (too_deep(doc, 1))
        return fail(err, errsz, "the policy document is nested deeper than %d levels",
                    STS_POLICY_MAX_DEPTH);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        if (strcmp(k, "Version") != 0 && strcmp(k, "Id") != 0 && strcmp(k, "Statement") != 0)
            return fail(err, errsz, "unknown policy element \"%.64s\"", k);
    }
    const json_t *version = json_object_get(doc, "Version");
    const char *vs = json_string_value(version);
    if (version != NULL &&
        (vs == NULL || (strcmp(vs, "2012-10-17") != 0 && strcmp(vs, "2008-10-17") != 0)))
        return fail(err, errsz, "Version must be \"2012-10-17\" or \"2008-10-17\"");
    const json_t *id = json_object_get(doc, "Id");
    if (id != NULL && !json_is_string(id))
        return fail(err, errsz, "Id must be a string");
    int vars = vs != NULL && strcmp(vs, "2012-10-17") == 0;

    const json_t *stmts = json_object_get(doc, "Statement");
    if (stmts == NULL)
        return 0;
    if (json_is_object(stmts))
        return check_stmt("Statement", stmts, vars, err, errsz);
    if (!json_is_array(stmts))
        return fail(err, errsz, "Statement must be an object or an array of objects");
    if (json_array_size(stmts) > STS_POLICY_MAX_STATEMENTS)
        return fail(err, errsz, "Statement: more than %d statements", STS_POLICY_MAX_STATEMENTS);
    size_t i;
    const json_t *st;
    json_array_foreach(stmts, i, st)
    {
        char where[32];
        snprintf(where, sizeof where, "Statement[%zu]", i);
        if (check_stmt(where, st, vars, err, errsz) != 0)
            return -1;
    }
    return 0;
}
