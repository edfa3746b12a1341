# Lines from stdin: one message each, newline stripped, none lost when push
# exits right after the last one.
. "$(dirname "$0")/lib.sh"

seq 10000 >"$T/lines"
bg sink "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 10000 --timeout 10000
sink=$pid
endpoint sink
run 0 push "$TERN" push --connect "$EP" <"$T/lines"
await 0 sink "$sink"
same "$T/lines" "$T/sink.out"

# Empty lines are empty messages; a last line without a newline still counts.
bg sink2 "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 3 --format quoted \
    --timeout 10000
sink=$pid
endpoint sink2
printf 'a\n\nlast' | run 0 push2 "$TERN" push --connect "$EP"
await 0 sink2 "$sink"
printf '"a"\n""\n"last"\n' >"$T/want2"
same "$T/want2" "$T/sink2.out"

# --count stops reading stdin after N lines.
bg sink3 "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 5 --timeout 10000
sink=$pid
endpoint sink3
run 0 push3 "$TERN" push --connect "$EP" --count 5 <"$T/lines"
await 0 sink3 "$sink"
seq 5 >"$T/want3"
same "$T/want3" "$T/sink3.out"
