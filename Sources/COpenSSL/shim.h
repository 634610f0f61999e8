#ifndef POSTERN_COPENSSL_SHIM_H
#define POSTERN_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/opensslv.h>

/* Function-like macros and SSL_OP_* constants are not imported by Swift. */
static inline const char *cossl_version_text(void) { return OPENSSL_VERSION_TEXT; }
static inline long cossl_set_tlsext_host_name(SSL *s, const char *n) { return SSL_set_tlsext_host_name(s, n); }
static inline long cossl_ctx_set_min_proto_version(SSL_CTX *c, int v) { return SSL_CTX_set_min_proto_version(c, v); }
static inline long cossl_ctx_set_max_proto_version(SSL_CTX *c, int v) { return SSL_CTX_set_max_proto_version(c, v); }
static inline long cossl_ctx_set_mode(SSL_CTX *c, long m) { return SSL_CTX_set_mode(c, m); }
typedef int (*cossl_servername_cb)(SSL *, int *, void *);
static inline long cossl_ctx_set_servername_cb(SSL_CTX *c, cossl_servername_cb cb) { return SSL_CTX_set_tlsext_servername_callback(c, cb); }
static inline long cossl_ctx_set_servername_arg(SSL_CTX *c, void *a) { return SSL_CTX_set_tlsext_servername_arg(c, a); }
static inline uint64_t cossl_op_no_compression(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t cossl_op_no_ticket(void) { return SSL_OP_NO_TICKET; }
static inline uint64_t cossl_op_cipher_server_preference(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }
#endif
