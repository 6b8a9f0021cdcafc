/*
 * Fuzz mixscope's capture side: a pcap/pcapng file read by libpcap from
 * memory, every frame through link-layer and IP/TCP decoding, reassembly
 * and Noise message framing, and the analysis and reports on top.  An input
 * libpcap refuses is fed as one raw frame instead (its first byte picks the
 * link type), so the decoders see arbitrary bytes either way.  An odd last
 * byte adds a small ground truth and the first pass that aligns it.  No input may
 * crash, leak or grow memory past the documented bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "../../scope/analyse.h"
#include "../../scope/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = { CAP_DLT_NULL,      CAP_DLT_EN10MB,     CAP_DLT_RAW,  CAP_DLT_LOOP,
                            CAP_DLT_LINUX_SLL, CAP_DLT_LINUX_SLL2, CAP_DLT_IPV4, CAP_DLT_IPV6 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scope *s = scope_new();
    if (s == NULL)
        return 0;
    /* The testnet's namespace layout and a loopback one, so real captures reach the framer. */
    if (scope_add_node(s, "gw1", ENT_GATEWAY, 0, "10.77.0.13:7100") ||
        scope_add_node(s, "gw2", ENT_GATEWAY, 0, "10.77.0.14:7100") ||
        scope_add_node(s, "mix1", ENT_MIX, 1, "10.77.0.15:7100") ||
        scope_add_node(s, "mix2", ENT_MIX, 2, "10.77.0.17:7100") ||
        scope_add_node(s, "mix3", ENT_MIX, 3, "10.77.0.19:7100") ||
        scope_add_node(s, "lo-gw", ENT_GATEWAY, 0, "127.0.0.1:10000") ||
        scope_add_node(s, "lo-mix", ENT_MIX, 1, "127.0.0.1:10001") ||
        scope_add_authority(s, "10.77.0.10:7000") || scope_add_authority(s, "127.0.0.1:10002"))
        abort();
    s->win[0] = (struct scope_window){ 0, 5000000000LL };
    s->win[1] = (struct scope_window){ 5000000000LL, 10000000000LL };

    /* A ground truth for a few client endpoints, so the alignment pass runs (as --truth). */
    static const char truth[] = "# mixscope-truth 1\n"
                                "1 127.0.0.1:40000 0\n2 127.0.0.1:40000 1\n3 127.0.0.1:40000 2\n"
                                "1000000000 10.77.0.30:40000 3\n1100000000 10.77.0.30:40000 4\n"
                                "1300000000 10.77.0.30:40000 5\n";
    char err[PCAP_ERRBUF_SIZE];
    bool with_truth = size > 0 && (data[size - 1] & 1);
    if (with_truth) {
        s->conns = calloc(SCOPE_MAX_CONNS, sizeof(*s->conns));
        if (s->conns == NULL || !truth_parse(&s->truth, truth, sizeof(truth) - 1, err, 64))
            abort();
        s->have_truth = true;
    }
    for (int pass = with_truth ? 0 : 1; pass < 2; pass++) {
        FILE *f = size ? fmemopen((void *)(uintptr_t)data, size, "rb") : NULL;
        pcap_t *p =
            f ? pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err) : NULL;
        if (p != NULL) {
            int dlt = pcap_datalink(p);
            struct pcap_pkthdr *h;
            const u_char *bytes;
            while (pcap_next_ex(p, &h, &bytes) == 1) {
                int64_t t = (int64_t)h->ts.tv_sec * 1000000000LL + h->ts.tv_usec;
                if (pass == 0)
                    scope_align_frame(s, dlt, t, bytes, h->caplen, h->len);
                else
                    scope_frame(s, dlt, t, bytes, h->caplen, h->len);
            }
            pcap_close(p); /* closes f too */
        } else {
            if (f != NULL)
                fclose(f);
            if (size > 0 && pass == 1)
                scope_frame(s, dlts[data[0] % 8], 1, data + 1, size - 1, size - 1);
        }
        if (pass == 0)
            scope_align_finish(s);
    }
    if (cap_held_bytes(s->cap) > (64u << 20))
        abort();
    scope_finish(s);
    FILE *null = fopen("/dev/null", "w");
    if (null != NULL) {
        scope_report(s, FMT_JSON, null);
        scope_report(s, FMT_CSV, null);
        scope_report(s, FMT_TEXT, null);
        fclose(null);
    }
    scope_free(s);
    return 0;
}
