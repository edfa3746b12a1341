# push -> pull over tcp: --data, --count on both sides, and the other
# direction of binding (push binds, pull connects).
. "$(dirname "$0")/lib.sh"

bg sink "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 3 --timeout 10000
sink=$pid
endpoint sink
run 0 push "$TERN" push --connect "$EP" --data one --data two --data three
await 0 sink "$sink"
printf 'one\ntwo\nthree\n' >"$T/want"
same "$T/want" "$T/sink.out"

# --count repeats the --data values in order.
bg sink2 "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 5 --timeout 10000
sink=$pid
endpoint sink2
run 0 push2 "$TERN" push --connect "$EP" --data a --data b --count 5
await 0 sink2 "$sink"
printf 'a\nb\na\nb\na\n' >"$T/want2"
same "$T/want2" "$T/sink2.out"

# push binds and waits for a peer; pull connects.
bg src "$TERN" push --bind tcp://127.0.0.1:0 --print-endpoint --data x --count 100 --timeout 10000
src=$pid
endpoint src
run 0 sink3 "$TERN" pull --connect "$EP" --count 100 --timeout 10000
await 0 src "$src"
[ "$(grep -c '^x$' "$T/sink3.out")" -eq 100 ] || fail "expected 100 x lines"
