# A full disk: the broker's data directory is a 4 MiB tmpfs (in a mount
# namespace of this test's own). Produces fail with KAFKA_STORAGE_ERROR once
# it fills, the broker keeps serving, every record it acknowledged reads
# back, the log takes records again once there is room, and a restart
# recovers it whole.
if [ -z "${TERN_DISKFULL_NS:-}" ]; then
    TERN_DISKFULL_NS=1 exec unshare -m sh "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/disk"
mount -t tmpfs -o size=4m tmpfs "$T/disk" || fail "cannot mount a tmpfs (needs root)"
trap 'umount "$T/disk" 2>/dev/null; cleanup' EXIT

start_broker()
{
    bg broker "$TERN" broker --data "$T/disk/data" --listen "127.0.0.1:${1:-0}" --fsync always
    broker_pid=$pid
    appears "$T/broker.err" "listening on"
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/broker.err" | tail -1)
    B=127.0.0.1:$port
}
# A filler, removed later to make room again.
head -c 1048576 /dev/zero >"$T/disk/filler"
start_broker
run 0 create "$TERN" topic create full --brokers "$B"
# Records of 900 bytes: "NNNNNN " and padding, so each can be checked.
awk 'BEGIN { pad = sprintf("%893s", ""); gsub(/ /, "x", pad);
             for (i = 0; i < 8000; i++) printf "%06d %s\n", i, pad }' >"$T/records"
i=0
got=0
while [ $i -lt 80 ]; do
    sed -n "$((i * 100 + 1)),$((i * 100 + 100))p" "$T/records" >"$T/chunk"
    got=0
    "$TERN" produce full --acks all --brokers "$B" <"$T/chunk" >/dev/null 2>"$T/produce.err" || got=$?
    [ "$got" -eq 0 ] || break
    i=$((i + 1))
done
[ "$got" -eq 1 ] || fail "the disk never filled: $i chunks went in"
has "$T/produce.err" "KAFKA_STORAGE_ERROR"
has "$T/broker.err" "no space left"
acked=$((i * 100))
# Still serving: everything acknowledged reads back whole and in order.
run 0 consume "$TERN" consume full --from-beginning --count "$acked" --timeout 5 --brokers "$B"
head -n "$acked" "$T/records" >"$T/want"
head -n "$acked" "$T/consume.out" >"$T/got"
same "$T/want" "$T/got"
# Room again: the same log takes records at once, after the acknowledged ones.
rm "$T/disk/filler"
printf 'after the storm\n' >"$T/more"
run 0 more "$TERN" produce full --acks all --brokers "$B" <"$T/more"
has "$T/more.err" "offsets $acked-$acked"
cat "$T/more" >>"$T/want"
acked=$((acked + 1))
# Restart on the same disk: recovery finds a valid log.
kill "$broker_pid"
wait "$broker_pid" || true
start_broker "$port"
run 0 consume2 "$TERN" consume full --from-beginning --count "$acked" --timeout 5 --brokers "$B"
head -n "$acked" "$T/consume2.out" >"$T/got2"
same "$T/want" "$T/got2"
kill "$broker_pid"
wait "$broker_pid" || true
