/* seal.h - authenticated encryption under the server key.
 *
 * Secrets that cloudlet hands out or keeps (SRP verifiers at rest, the SRP
 * and NEW_PASSWORD_REQUIRED challenge state that travels through the
 * client, and later the session tokens of temporary credentials) are
 * sealed with AES-256-GCM under one server key: a sealed blob can be read
 * and trusted only by a holder of the key, and any change to it is
 * detected. The key lives in its own file (mode 0600) beside the LMDB
 * store, so a copy of the store alone reveals no verifier.
 *
 * A sealed blob is: version byte (1) || 12-byte random nonce || ciphertext
 * || 16-byte tag. `aad` binds the blob to its purpose ("srp-verifier",
 * "srp-challenge", ...) so a blob made for one use is refused for another.
 */
#ifndef CLOUDLET_SEAL_H
#define CLOUDLET_SEAL_H

#include <stddef.h>

#define SEAL_KEY_BYTES 32
#define SEAL_OVERHEAD (1 + 12 + 16)

typedef struct seal_key {
    unsigned char k[SEAL_KEY_BYTES];
} seal_key_t;

/* Read the key from `path`, creating it (mode 0600, random) when absent.
 * Refuses a file of the wrong size or one readable by others. Returns 0, or
 * -1 with a message in err (size errsz). */
int seal_key_load(const char *path, seal_key_t *key, char *err, size_t errsz);

/* Seal n bytes of pt into out, which must hold n + SEAL_OVERHEAD bytes.
 * Returns the sealed length. Aborts only if OpenSSL itself fails. */
size_t seal(const seal_key_t *key, const char *aad, const void *pt, size_t n, unsigned char *out);

/* Open a sealed blob into out (size at least len - SEAL_OVERHEAD). Returns
 * the plaintext length, or -1 if the blob is short, of another version,
 * sealed under another key or aad, or altered. */
long seal_open(const seal_key_t *key, const char *aad, const unsigned char *in, size_t len,
               unsigned char *out);

/* Wipe a key. */
void seal_key_wipe(seal_key_t *key);

#endif
