/* TLS for the edge link (XEP-0114 has no STARTTLS: TLS from the first byte), OpenSSL over
 * memory BIOs so that libuv owns the socket. Verification is always on: the server's chain
 * against ca_file (the system store when none is given) and its name against server_name
 * (DNS name or IP address), which is also sent as SNI when it is a DNS name. A client
 * certificate (cert_file + key_file) is presented when configured (mutual TLS).
 *
 * Ownership: an sx_tls_ctx (per edge, from sx_tls_ctx_new) outlives the sx_tls sessions made
 * from it (one per connection). Texts returned are static or written into caller buffers. */
#ifndef SX_XMPP_EDGE_TLS_H
#define SX_XMPP_EDGE_TLS_H
#include <stddef.h>

typedef struct sx_tls_ctx sx_tls_ctx;
typedef struct sx_tls sx_tls;

/* NULL on failure, with the reason in err (unreadable CA, certificate or key; a key that
 * does not match the certificate). ca_file, cert_file and key_file may be NULL. */
sx_tls_ctx *sx_tls_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
                           char *err, size_t errlen);
void sx_tls_ctx_free(sx_tls_ctx *c);

sx_tls *sx_tls_new(sx_tls_ctx *c, const char *server_name);
void sx_tls_free(sx_tls *t);

/* Output sink for ciphertext: called with bytes to write to the socket. */
typedef void (*sx_tls_write_fn)(void *ud, const char *data, size_t len);

/* Starts the handshake (writes the ClientHello through out). 0 or -1. */
int sx_tls_start(sx_tls *t, sx_tls_write_fn out, void *ud);
/* Ciphertext read from the socket. Decrypted bytes are appended to *plain (malloc'd, the
 * caller frees it; *plain_len its length). Returns 0; 1 when the peer sent close_notify;
 * -1 on a TLS failure (err filled: certificate verification, handshake, decryption). */
int sx_tls_input(sx_tls *t, const char *data, size_t len, char **plain, size_t *plain_len,
                 char *err, size_t errlen);
/* Encrypts plaintext (queued until the handshake is done). 0 or -1. */
int sx_tls_write(sx_tls *t, const char *data, size_t len);
/* Sends close_notify. */
void sx_tls_close(sx_tls *t);
/* 1 once the handshake completed and the peer was verified. */
int sx_tls_ready(const sx_tls *t);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" into buf once ready. */
void sx_tls_describe(const sx_tls *t, char *buf, size_t len);

#endif
