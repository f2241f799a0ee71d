/* creds.c - temporary credentials: minting and opening sealed session tokens. */
#include "sts/internal.h"

#include <string.h>

int sts_session_open(const sts_t *s, const char *akid, const char *token, int64_t now,
                     sts_cred_t *cred, http_caller_t *caller)
{
    return STS_EUNKNOWNKEY;
}
