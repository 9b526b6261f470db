/* TLS for the edge link (xmpp/edge_tls.h): OpenSSL with a memory BIO pair per connection. */
#include "xmpp/edge_tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "translate/text.h"

struct sx_tls_ctx {
  SSL_CTX *ctx;
};

struct sx_tls {
  SSL *ssl;
  BIO *rbio, *wbio; /* network side: we write ciphertext in, read ciphertext out */
  sx_tls_write_fn out;
  void *ud;
  int ready;
  sx_buf pending; /* plaintext written before the handshake finished */
};

static void last_error(char *err, size_t errlen, const char *what) {
  unsigned long e = ERR_get_error();
  char buf[256];
  if (e) {
    ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s: %s", what, buf);
  } else {
    snprintf(err, errlen, "%s", what);
  }
  ERR_clear_error();
}

sx_tls_ctx *sx_tls_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
                           char *err, size_t errlen) {
  sx_tls_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  c->ctx = SSL_CTX_new(TLS_client_method());
  if (!c->ctx) {
    last_error(err, errlen, "SSL_CTX_new");
    goto fail;
  }
  SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
  if (ca_file && *ca_file) {
    if (SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1) {
      char what[600];
      snprintf(what, sizeof what, "ca_file %s", ca_file);
      last_error(err, errlen, what);
      goto fail;
    }
  } else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
    last_error(err, errlen, "the system CA store");
    goto fail;
  }
  if (cert_file && *cert_file) {
    char what[600];
    if (SSL_CTX_use_certificate_chain_file(c->ctx, cert_file) != 1) {
      snprintf(what, sizeof what, "cert_file %s", cert_file);
      last_error(err, errlen, what);
      goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(c->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
      snprintf(what, sizeof what, "key_file %s", key_file ? key_file : "");
      last_error(err, errlen, what);
      goto fail;
    }
    if (SSL_CTX_check_private_key(c->ctx) != 1) {
      last_error(err, errlen, "key_file does not match cert_file");
      goto fail;
    }
  }
  return c;
fail:
  if (c->ctx) SSL_CTX_free(c->ctx);
  free(c);
  return NULL;
}

void sx_tls_ctx_free(sx_tls_ctx *c) {
  if (!c) return;
  SSL_CTX_free(c->ctx);
  free(c);
}

sx_tls *sx_tls_new(sx_tls_ctx *c, const char *server_name) {
  unsigned char ip[16];
  sx_tls *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->ssl = SSL_new(c->ctx);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rbio || !t->wbio) goto fail;
  SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both now */
  SSL_set_connect_state(t->ssl);
  if (inet_pton(AF_INET, server_name, ip) == 1 || inet_pton(AF_INET6, server_name, ip) == 1) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), server_name) != 1) goto fail;
  } else {
    if (SSL_set_tlsext_host_name(t->ssl, server_name) != 1) goto fail;
    if (SSL_set1_host(t->ssl, server_name) != 1) goto fail;
  }
  return t;
fail:
  if (t->ssl) SSL_free(t->ssl);
  else {
    BIO_free(t->rbio);
    BIO_free(t->wbio);
  }
  ERR_clear_error();
  free(t);
  return NULL;
}

void sx_tls_free(sx_tls *t) {
  if (!t) return;
  SSL_free(t->ssl);
  sx_buf_free(&t->pending);
  free(t);
}

static void drain(sx_tls *t) {
  char buf[16384];
  int n;
  while ((n = BIO_read(t->wbio, buf, sizeof buf)) > 0) t->out(t->ud, buf, (size_t)n);
}

static int handshake(sx_tls *t, char *err, size_t errlen) {
  int r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    t->ready = 1;
    if (t->pending.len) {
      int w = SSL_write(t->ssl, t->pending.data, (int)t->pending.len);
      t->pending.len = 0;
      if (w <= 0) {
        last_error(err, errlen, "TLS write");
        return -1;
      }
    }
    return 0;
  }
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  long v = SSL_get_verify_result(t->ssl);
  if (v != X509_V_OK) {
    snprintf(err, errlen, "TLS: the server's certificate was refused: %s",
             X509_verify_cert_error_string(v));
    ERR_clear_error();
  } else {
    last_error(err, errlen, "TLS handshake failed");
  }
  return -1;
}

int sx_tls_start(sx_tls *t, sx_tls_write_fn out, void *ud) {
  char err[8];
  t->out = out;
  t->ud = ud;
  if (handshake(t, err, sizeof err) != 0) return -1;
  drain(t);
  return 0;
}

int sx_tls_input(sx_tls *t, const char *data, size_t len, char **plain, size_t *plain_len,
                 char *err, size_t errlen) {
  sx_buf b = {0};
  int rc = 0;
  *plain = NULL;
  *plain_len = 0;
  if (len && BIO_write(t->rbio, data, (int)len) != (int)len) {
    snprintf(err, errlen, "TLS: out of memory");
    return -1;
  }
  if (!t->ready && handshake(t, err, errlen) != 0) {
    drain(t); /* the alert */
    return -1;
  }
  while (t->ready) {
    char buf[16384];
    int n = SSL_read(t->ssl, buf, sizeof buf);
    if (n > 0) {
      sx_buf_put(&b, buf, (size_t)n);
      continue;
    }
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      rc = 1;
      break;
    }
    last_error(err, errlen, "TLS read failed");
    rc = -1;
    break;
  }
  drain(t);
  if (b.oom) {
    sx_buf_free(&b);
    snprintf(err, errlen, "TLS: out of memory");
    return -1;
  }
  *plain = sx_buf_take(&b, plain_len);
  return rc;
}

int sx_tls_write(sx_tls *t, const char *data, size_t len) {
  if (!len) return 0;
  if (!t->ready) {
    sx_buf_put(&t->pending, data, len);
    return t->pending.oom ? -1 : 0;
  }
  if (SSL_write(t->ssl, data, (int)len) <= 0) {
    ERR_clear_error();
    return -1;
  }
  drain(t);
  return 0;
}

void sx_tls_close(sx_tls *t) {
  if (!t->ready) return;
  (void)SSL_shutdown(t->ssl);
  ERR_clear_error();
  drain(t);
}

int sx_tls_ready(const sx_tls *t) { return t && t->ready; }

void sx_tls_describe(const sx_tls *t, char *buf, size_t len) {
  if (!t || !t->ready) {
    snprintf(buf, len, "-");
    return;
  }
  snprintf(buf, len, "%s %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
}
