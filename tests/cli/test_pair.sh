# pair sends and receives on one socket, in both directions at once.
. "$(dirname "$0")/lib.sh"

bg a "$TERN" pair --bind tcp://127.0.0.1:0 --print-endpoint --data ping --count 1 --timeout 10000
a=$pid
endpoint a
run 0 b "$TERN" pair --connect "$EP" --data pong --count 1 --timeout 10000
await 0 a "$a"
[ "$(cat "$T/a.out")" = pong ] || fail "a got '$(cat "$T/a.out")'"
[ "$(cat "$T/b.out")" = ping ] || fail "b got '$(cat "$T/b.out")'"

# Lines from stdin one way, repeated --data the other, over ipc.
ep="ipc://$T/pair.sock"
printf 'one\ntwo\nthree\n' >"$T/lines"
bg -i "$T/lines" c "$TERN" pair --bind "$ep" --count 3 --timeout 10000
c=$pid
run 0 d "$TERN" pair --connect "$ep" --data r --count 3 --format quoted --timeout 10000
await 0 c "$c"
printf 'r\nr\nr\n' >"$T/c.want"
same "$T/c.want" "$T/c.out"
printf '"one"\n"two"\n"three"\n' >"$T/d.want"
same "$T/d.want" "$T/d.out"
