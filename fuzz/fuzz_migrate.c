/* Fuzzes the migration stream's decoders as the destination drives them:
 * the input is a stream of frames (header, then payload) read the way the
 * receiving side reads them, for an arena of 1000 pages. Checks on every
 * input:
 *  - no decoder reads past what it was given (ASan) or accepts a run,
 *    fetch or owed page outside the arena;
 *  - accepted page frames re-encode to exactly the metadata read;
 *  - nothing allocates: every buffer here is fixed, whatever the lengths
 *    in the input say. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/frame.h"

#define NPAGES 1000u
#define WORDS ((NPAGES + 63) / 64)

static void check_pages(const uint8_t *meta, size_t len)
{
    static tn_mig_pages p;
    static uint8_t again[8 + TN_MIG_MAX_RUNS * 16];
    const char *why = "";
    if (tn_mig_pages_get(meta, len, NPAGES, &p, &why) != TERN_OK)
        return;
    for (uint32_t i = 0; i < p.nruns; i++)
        if (p.run[i].first >= NPAGES || p.run[i].count > NPAGES - p.run[i].first)
            abort();
    if (tn_mig_pages_put(again, &p) != len || memcmp(again, meta, len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size >= TN_MIG_HEADER) {
        tn_mig_header h;
        const char *why = "";
        if (tn_mig_header_get(data, &h, &why) != TERN_OK)
            return 0;
        const uint8_t *hdr = data;
        data += TN_MIG_HEADER;
        size -= TN_MIG_HEADER;
        size_t len = h.length < size ? h.length : size;
        (void)tn_mig_crc(hdr, data, len);
        switch (h.type) {
        case TN_MIG_HELLO: {
            tn_mig_hello hello;
            if (tn_mig_hello_get(data, len, &hello, &why) == TERN_OK &&
                (hello.size == 0 || hello.size > TN_MIG_MAX_ARENA ||
                 hello.base + hello.size < hello.base))
                abort();
            break;
        }
        case TN_MIG_WELCOME: {
            tn_mig_welcome w;
            (void)tn_mig_welcome_get(data, len, &w);
            break;
        }
        case TN_MIG_PAGES: {
            uint32_t nruns, ndata;
            if (len >= 8 && tn_mig_pages_counts(data, h.length, &nruns, &ndata, &why) == TERN_OK) {
                size_t meta = tn_mig_pages_meta_len(nruns);
                check_pages(data, meta <= len ? meta : len);
                /* The trailer: whatever its bytes, ndata CRCs, no more. */
                static tn_mig_pages p;
                size_t trailer = (size_t)ndata * 4;
                p.ndata = ndata;
                if (trailer <= len)
                    tn_mig_pages_crcs_get(data + len - trailer, &p);
            } else if (len >= 8) {
                check_pages(data, len); /* the full decoder must refuse it too, or agree */
            }
            break;
        }
        case TN_MIG_SWITCH: {
            static uint64_t needed[WORDS];
            tn_mig_switch sw;
            if (tn_mig_switch_get(data, len, NPAGES, &sw, needed, &why) == TERN_OK) {
                if (sw.mode == 1 && (needed[WORDS - 1] >> (NPAGES % 64)))
                    abort();
                if (sw.ctx + sw.ctx_len > data + len)
                    abort();
            }
            break;
        }
        default:
            break;
        }
        data += len;
        size -= len;
    }
    return 0;
}
