# SIGTERM stops cleanly (exit 0, summary printed); --rate reports each
# second; --interval paces sends.
. "$(dirname "$0")/lib.sh"

bg sink "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --rate
sink=$pid
endpoint sink
run 0 push "$TERN" push --connect "$EP" --data x --count 50
lines_reach "$T/sink.out" 50
kill -TERM "$sink"
await 0 sink "$sink"
has "$T/sink.err" "tern pull: received 50 msgs, 50 bytes"

# Without --rate the summary comes only when a signal ends the run.
bg quiet "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --quiet
sink=$pid
endpoint quiet
run 0 push3 "$TERN" push --connect "$EP" --data xy --count 7
sleep 0.3
kill -TERM "$sink"
await 0 quiet "$sink"
[ ! -s "$T/quiet.out" ] || fail "--quiet printed messages"
has "$T/quiet.err" "tern pull: received 7 msgs, 14 bytes"

# A sender stuck with nowhere to send also stops at once.
bg stuck "$TERN" push --connect "ipc://$T/nobody" --data x --count 1000000 --linger 0
stuck=$pid
sleep 0.3
kill -TERM "$stuck"
await 0 stuck "$stuck"

# 15 messages 100 ms apart take about 1.4 s: one rate line, then the summary.
bg sink2 "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --rate --count 15 \
    --timeout 10000
sink=$pid
endpoint sink2
start=$(date +%s%N)
run 0 push2 "$TERN" push --connect "$EP" --data x --count 15 --interval 100
await 0 sink2 "$sink"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 1300 ] || fail "15 sends 100 ms apart took only $ms ms"
grep -Eq '^tern pull: [0-9]+ msgs/s, [0-9.]+ MB/s \([0-9]+ in total\)$' "$T/sink2.err" ||
    fail "no rate line: $(cat "$T/sink2.err")"
has "$T/sink2.err" "tern pull: received 15 msgs, 15 bytes in "
