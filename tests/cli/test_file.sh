# --file sends a whole file as one message; "-" reads stdin.
. "$(dirname "$0")/lib.sh"

head -c 100000 /dev/urandom >"$T/blob"
: >"$T/empty"

bg sink "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 1 --format len \
    --timeout 10000
sink=$pid
endpoint sink
run 0 push "$TERN" push --connect "$EP" --file "$T/blob"
await 0 sink "$sink"
{ printf '100000 '; cat "$T/blob"; printf '\n'; } >"$T/want"
same "$T/want" "$T/sink.out"

# From stdin, repeated by --count.
bg sink2 "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 3 --format len \
    --timeout 10000
sink=$pid
endpoint sink2
run 0 push2 "$TERN" push --connect "$EP" --file - --count 3 <"$T/blob"
await 0 sink2 "$sink"
cat "$T/want" "$T/want" "$T/want" >"$T/want3"
same "$T/want3" "$T/sink2.out"

# An empty file is one empty message.
bg sink3 "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 1 --format len \
    --timeout 10000
sink=$pid
endpoint sink3
run 0 push3 "$TERN" push --connect "$EP" --file "$T/empty"
await 0 sink3 "$sink"
printf '0 \n' >"$T/want0"
same "$T/want0" "$T/sink3.out"
