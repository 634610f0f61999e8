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
/* TLS layer (Sources/Server/TLS): more macros and SSL_OP_BIT constants. */
#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
static inline uint64_t cossl_op_no_sslv2(void) { return SSL_OP_NO_SSLv2; }
static inline uint64_t cossl_op_no_sslv3(void) { return SSL_OP_NO_SSLv3; }
static inline uint64_t cossl_op_no_tlsv1(void) { return SSL_OP_NO_TLSv1; }
static inline uint64_t cossl_op_no_tlsv1_1(void) { return SSL_OP_NO_TLSv1_1; }
static inline uint64_t cossl_op_no_tlsv1_2(void) { return SSL_OP_NO_TLSv1_2; }
static inline uint64_t cossl_op_no_tlsv1_3(void) { return SSL_OP_NO_TLSv1_3; }
static inline uint64_t cossl_op_ignore_unexpected_eof(void) { return SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline uint64_t cossl_op_no_renegotiation(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline long cossl_mode_relay(void) {
    return SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS;
}
static inline long cossl_ctx_set_session_cache_mode(SSL_CTX *c, long m) { return SSL_CTX_set_session_cache_mode(c, m); }
static inline long cossl_ctx_sess_set_cache_size(SSL_CTX *c, long n) { return SSL_CTX_sess_set_cache_size(c, n); }
static inline long cossl_sess_cache_server_no_store(void) { return SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL_STORE; }
static inline long cossl_ctx_add1_chain_cert(SSL_CTX *c, X509 *x) { return SSL_CTX_add1_chain_cert(c, x); }
static inline long cossl_ctx_set1_groups_list(SSL_CTX *c, const char *s) { return SSL_CTX_set1_groups_list(c, s); }
static inline int cossl_ssl_get_ex_new_index(void) { return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }
static inline int cossl_ctx_get_ex_new_index(void) { return SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }
static inline unsigned long cossl_xn_flag_rfc2253(void) { return XN_FLAG_RFC2253; }
static inline long cossl_bio_get_mem_data(BIO *b, char **p) { return BIO_get_mem_data(b, p); }
static inline unsigned long cossl_crl_check_all(void) { return X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL; }
/* Session ticket HMAC key: OSSL_PARAM arrays are easiest built in C. */
static inline int cossl_mac_init_hmac_sha256(EVP_MAC_CTX *h, const unsigned char *key, size_t len) {
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key, len);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(h, params);
}
typedef int (*cossl_ticket_evp_cb)(SSL *, unsigned char *, unsigned char *, EVP_CIPHER_CTX *, EVP_MAC_CTX *, int);
typedef int (*cossl_verify_cb)(int, X509_STORE_CTX *);
typedef int (*cossl_password_cb)(char *, int, int, void *);
/* HMAC-SHA256 for the auth cache, with the padded key hashed once. An EVP
   digest context allocates on every copy; a SHA256_CTX copies by value, so a
   MAC with a prepared key is two short SHA-256 runs and no allocation. The
   SHA256_* calls are deprecated in OpenSSL 3 (still shipped) for this reason. */
#include <openssl/sha.h>
#include <string.h>
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
typedef struct { SHA256_CTX inner; SHA256_CTX outer; } cossl_hmac_sha256_key;
static inline void cossl_hmac_sha256_key_init(cossl_hmac_sha256_key *k, const unsigned char *key, size_t len) {
    unsigned char block[64], pad[64];
    memset(block, 0, sizeof block);
    if (len > 64) {
        SHA256(key, len, block);
    } else if (len > 0) {
        memcpy(block, key, len);
    }
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&k->inner);
    SHA256_Update(&k->inner, pad, 64);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&k->outer);
    SHA256_Update(&k->outer, pad, 64);
}
static inline void cossl_hmac_sha256(const cossl_hmac_sha256_key *k, const unsigned char *msg, size_t len,
                                     unsigned char *out) {
    SHA256_CTX c = k->inner;
    unsigned char inner[32];
    if (len > 0) SHA256_Update(&c, msg, len);
    SHA256_Final(inner, &c);
    c = k->outer;
    SHA256_Update(&c, inner, 32);
    SHA256_Final(out, &c);
}
#pragma clang diagnostic pop
#endif
