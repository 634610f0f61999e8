#ifndef CRESOLV_SHIM_H
#define CRESOLV_SHIM_H
/* glibc's libresolv builds and parses DNS messages for the resolver; the
   accessors below are macros in <arpa/nameser.h> or need a res_state, which
   Swift cannot spell, so they get static-inline wrappers. */
#include <string.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>

/* A recursive IN-class query for `name` of `type` into buf; the message
   length, or -1. The state is local and zeroed: only RES_RECURSE matters
   to res_nmkquery, and no global resolver state is touched. */
static inline int cresolv_mkquery(const char *name, int type, unsigned char *buf, int buflen) {
    struct __res_state state;
    memset(&state, 0, sizeof state);
    state.options = RES_RECURSE;
    return res_nmkquery(&state, ns_o_query, name, ns_c_in, type, NULL, 0, NULL, buf, buflen);
}

static inline int cresolv_msg_count(const ns_msg *msg, int section) { return ns_msg_count(*msg, (ns_sect)section); }
static inline int cresolv_msg_id(const ns_msg *msg) { return ns_msg_id(*msg); }
static inline int cresolv_msg_flag(const ns_msg *msg, int flag) { return ns_msg_getflag(*msg, flag); }
static inline const unsigned char *cresolv_msg_base(const ns_msg *msg) { return ns_msg_base(*msg); }
static inline const unsigned char *cresolv_msg_end(const ns_msg *msg) { return ns_msg_end(*msg); }

static inline int cresolv_flag_qr(void) { return ns_f_qr; }
static inline int cresolv_flag_tc(void) { return ns_f_tc; }
static inline int cresolv_flag_rcode(void) { return ns_f_rcode; }
static inline int cresolv_section_question(void) { return ns_s_qd; }
static inline int cresolv_section_answer(void) { return ns_s_an; }

static inline int cresolv_rr_type(const ns_rr *rr) { return ns_rr_type(*rr); }
static inline int cresolv_rr_class(const ns_rr *rr) { return ns_rr_class(*rr); }
static inline unsigned int cresolv_rr_ttl(const ns_rr *rr) { return ns_rr_ttl(*rr); }
static inline int cresolv_rr_rdlen(const ns_rr *rr) { return ns_rr_rdlen(*rr); }
static inline const unsigned char *cresolv_rr_rdata(const ns_rr *rr) { return ns_rr_rdata(*rr); }
static inline const char *cresolv_rr_name(const ns_rr *rr) { return rr->name; }

#endif
