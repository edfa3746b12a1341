# push -> pull over ipc, in both directions of binding.
. "$(dirname "$0")/lib.sh"

ep="ipc://$T/a.sock"
bg src "$TERN" push --bind "$ep" --data hello --count 1000 --timeout 10000
src=$pid
run 0 sink "$TERN" pull --connect "$ep" --count 1000 --timeout 10000
await 0 src "$src"
[ "$(grep -c '^hello$' "$T/sink.out")" -eq 1000 ] || fail "expected 1000 hello lines"
[ "$(wc -l <"$T/sink.out")" -eq 1000 ] || fail "expected 1000 lines"

ep="ipc://$T/b.sock"
bg sink2 "$TERN" pull --bind "$ep" --print-endpoint --count 2 --timeout 10000
sink=$pid
endpoint sink2
[ "$EP" = "$ep" ] || fail "printed endpoint $EP, expected $ep"
run 0 src2 "$TERN" push --connect "$ep" --data first --data second
await 0 sink2 "$sink"
printf 'first\nsecond\n' >"$T/want"
same "$T/want" "$T/sink2.out"
