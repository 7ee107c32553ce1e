/*
 * A libsrtp2 peer for ferrtc-srtp's interop test (tests/libsrtp2.rs).
 *
 * usage: peer PROFILE protect|unprotect rtp|rtcp HEXKEYSALT
 *   PROFILE: cm80 | cm32 | gcm128 | gcm256
 *
 * One libsrtp2 session per run. Reads packets from stdin as (u32 big-endian length, bytes),
 * processes each with srtp_protect / srtp_unprotect (or the RTCP variants), and writes
 * (u32 big-endian libsrtp status, u32 big-endian length, bytes) per packet to stdout.
 */
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_u32(uint32_t *v) {
    unsigned char b[4];
    if (fread(b, 1, 4, stdin) != 4) return 0;
    *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    return 1;
}

static void write_u32(uint32_t v) {
    unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};
    fwrite(b, 1, 4, stdout);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s PROFILE protect|unprotect rtp|rtcp HEXKEYSALT\n", argv[0]);
        return 2;
    }
    const char *profile = argv[1];
    int protect = strcmp(argv[2], "protect") == 0;
    int rtcp = strcmp(argv[3], "rtcp") == 0;
    unsigned char key[64];
    size_t key_len = strlen(argv[4]) / 2;
    if (key_len > sizeof key) return 2;
    for (size_t i = 0; i < key_len; i++) sscanf(argv[4] + 2 * i, "%2hhx", &key[i]);

    if (srtp_init() != srtp_err_status_ok) return 3;
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (strcmp(profile, "cm80") == 0) {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    } else if (strcmp(profile, "cm32") == 0) {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    } else if (strcmp(profile, "gcm128") == 0) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    } else if (strcmp(profile, "gcm256") == 0) {
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtcp);
    } else {
        return 2;
    }
    policy.ssrc.type = protect ? ssrc_any_outbound : ssrc_any_inbound;
    policy.key = key;
    policy.window_size = 1024;
    policy.allow_repeat_tx = 0;
    policy.next = NULL;
    srtp_t session;
    srtp_err_status_t st = srtp_create(&session, &policy);
    if (st != srtp_err_status_ok) {
        fprintf(stderr, "srtp_create: %d\n", (int)st);
        return 4;
    }

    static unsigned char buf[65536 + SRTP_MAX_TRAILER_LEN];
    uint32_t len;
    while (read_u32(&len)) {
        if (len > 65536 || fread(buf, 1, len, stdin) != len) return 5;
        int n = (int)len;
        if (protect)
            st = rtcp ? srtp_protect_rtcp(session, buf, &n) : srtp_protect(session, buf, &n);
        else
            st = rtcp ? srtp_unprotect_rtcp(session, buf, &n) : srtp_unprotect(session, buf, &n);
        write_u32((uint32_t)st);
        if (st != srtp_err_status_ok) n = 0;
        write_u32((uint32_t)n);
        fwrite(buf, 1, (size_t)n, stdout);
    }
    fflush(stdout);
    srtp_dealloc(session);
    srtp_shutdown();
    return 0;
}
