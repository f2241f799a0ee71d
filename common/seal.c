/* seal.c - AES-256-GCM sealing under the server key (see seal.h). */
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util.h"

#define SEAL_VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16

int seal_key_load(const char *path, seal_key_t *key, char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        util_random(key->k, sizeof key->k);
        /* O_EXCL: two processes starting at once must not both write a key. */
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ssize_t w = write(fd, key->k, sizeof key->k);
            int bad = w != (ssize_t)sizeof key->k || fsync(fd) != 0;
            close(fd);
            if (bad) {
                unlink(path);
                snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
                return -1;
            }
            return 0;
        }
        if (errno != EEXIST) {
            snprintf(err, errsz, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size != SEAL_KEY_BYTES) {
        close(fd);
        snprintf(err, errsz, "%s is not a %d-byte key", path, SEAL_KEY_BYTES);
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        snprintf(err, errsz, "%s is readable by others: chmod 600 it", path);
        return -1;
    }
    ssize_t r = read(fd, key->k, sizeof key->k);
    close(fd);
    if (r != (ssize_t)sizeof key->k) {
        snprintf(err, errsz, "cannot read %s", path);
        return -1;
    }
    return 0;
}

size_t seal(const seal_key_t *key, const char *aad, const void *pt, size_t n, unsigned char *out)
{
    unsigned char *nonce = out + 1;
    unsigned char *ct = out + 1 + NONCE_LEN;
    out[0] = SEAL_VERSION;
    util_random(nonce, NONCE_LEN);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    if (c == NULL || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key->k, nonce) != 1 ||
        EVP_EncryptUpdate(c, NULL, &len, out, 1) != 1 ||
        EVP_EncryptUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        EVP_EncryptUpdate(c, ct, &len, pt, (int)n) != 1 ||
        EVP_EncryptFinal_ex(c, ct + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, ct + n) != 1) {
        fprintf(stderr, "cloudlet: AES-GCM sealing failed\n");
        abort();
    }
    EVP_CIPHER_CTX_free(c);
    return n + SEAL_OVERHEAD;
}

long seal_open(const seal_key_t *key, const char *aad, const unsigned char *in, size_t len,
               unsigned char *out)
{
    if (len < SEAL_OVERHEAD || in[0] != SEAL_VERSION || len - SEAL_OVERHEAD > (size_t)1 << 30)
        return -1;
    size_t n = len - SEAL_OVERHEAD;
    const unsigned char *nonce = in + 1;
    const unsigned char *ct = in + 1 + NONCE_LEN;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0, ok = 0;
    if (c != NULL && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key->k, nonce) == 1 &&
        EVP_DecryptUpdate(c, NULL, &l, in, 1) == 1 &&
        EVP_DecryptUpdate(c, NULL, &l, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
        EVP_DecryptUpdate(c, out, &l, ct, (int)n) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)(ct + n)) == 1 &&
        EVP_DecryptFinal_ex(c, out + l, &l) == 1)
        ok = 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        OPENSSL_cleanse(out, n);
        return -1;
    }
    return (long)n;
}

void seal_key_wipe(seal_key_t *key)
{
    OPENSSL_cleanse(key->k, sizeof key->k);
}
