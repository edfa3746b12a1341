/* Fuzzes what a ZMTP peer controls: the greeting, then a stream of frames
 * fed to the decoder in chunks whose sizes the input picks, with commands
 * parsed as the engine parses them (READY properties, PING). */
#include <stdint.h>
#include <string.h>

#include "wire/zmtp.h"

static tern_err on_command(void *arg, const uint8_t *body, size_t len)
{
    tn_zmtp_command cmd;
    tn_zmtp_props props;
    const char *why;
    (void)arg;
    if (tn_zmtp_command_parse(body, len, &cmd) != TERN_OK)
        return TERN_EPROTO;
    if (tn_zmtp_command_is(&cmd, "READY"))
        return tn_zmtp_props_parse(cmd.data, cmd.data_len, &props, &why);
    if (tn_zmtp_command_is(&cmd, "PING") && cmd.data_len >= 2) {
        uint8_t pong[64];
        size_t clen = cmd.data_len - 2;
        tn_zmtp_pong_build(pong, sizeof(pong), cmd.data + 2, clen > 16 ? 16 : clen);
    }
    return TERN_OK;
}

static int on_message(void *arg, tern_msg *m)
{
    size_t *count = arg;
    (*count)++;
    tern_msg_free(m);
    return (*count % 7) == 0; /* exercise pausing */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;

    tn_zmtp_greeting g;
    const char *why = NULL;
    size_t glen = size < TN_ZMTP_GREETING_SIZE ? size : TN_ZMTP_GREETING_SIZE;
    if (tn_zmtp_greeting_check(data, glen, &g, &why) != TERN_OK)
        return 0;
    data += glen;
    size -= glen;

    size_t count = 0;
    tn_zmtp_sink sink = {.message = on_message, .command = on_command, .arg = &count};
    tn_zmtp_dec dec;
    tn_zmtp_dec_init(&dec, 1 << 20);
    while (size > 0) {
        size_t n = size < chunk ? size : chunk;
        uint8_t *dst;
        size_t direct = tn_zmtp_dec_direct(&dec, &dst);
        int paused;
        if (direct > 0 && (chunk & 1)) {
            /* As the engine does for large bodies: bytes land in place. */
            if (n > direct)
                n = direct;
            memcpy(dst, data, n);
            if (tn_zmtp_dec_wrote(&dec, n, &sink, &paused) != TERN_OK)
                break;
        } else {
            size_t used;
            if (tn_zmtp_dec_feed(&dec, data, n, &used, &sink, &paused) != TERN_OK)
                break;
            n = used;
            if (n == 0 && !paused)
                break;
        }
        data += n;
        size -= n;
    }
    tn_zmtp_dec_fini(&dec);
    return 0;
}
