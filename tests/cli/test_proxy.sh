# tern proxy in the middle: xsub/xpub between pub and two subs (over tcp),
# router/dealer between req and two reps (over ipc), a streamer with
# --capture; SIGTERM stops it with exit 0.
. "$(dirname "$0")/lib.sh"

# A forwarder: subscriptions flow up through it, messages down.
bg fwd "$TERN" proxy xsub:tcp://127.0.0.1:0 xpub:tcp://127.0.0.1:0 --print-endpoint
fwd=$pid
endpoint fwd 1
front=$EP
endpoint fwd 2
back=$EP
bg a "$TERN" sub --connect "$back" --subscribe a --count 2 --timeout 10000
a=$pid
bg b "$TERN" sub --connect "$back" --subscribe b --count 1 --timeout 10000
b=$pid
# The proxy passes each topic up once: 2 subscriptions mean both subs listen.
run 0 pub "$TERN" pub --connect "$front" --wait-subscriptions 2 --timeout 10000 \
    --data a1 --data b1 --data c1 --data a2
await 0 a "$a"
await 0 b "$b"
printf 'a1\na2\n' >"$T/a.want"
same "$T/a.want" "$T/a.out"
[ "$(cat "$T/b.out")" = b1 ] || fail "b got '$(cat "$T/b.out")'"
kill -TERM "$fwd"
await 0 fwd "$fwd"

# A shared queue: requests from req reach the reps through router/dealer,
# and every reply finds its way back.
bg queue "$TERN" proxy "router:ipc://$T/front.sock" "dealer:ipc://$T/back.sock" --print-endpoint
queue=$pid
endpoint queue 2
bg w1 "$TERN" rep --connect "ipc://$T/back.sock" --data w1 --timeout 10000
w1=$pid
bg w2 "$TERN" rep --connect "ipc://$T/back.sock" --data w2 --timeout 10000
w2=$pid
run 0 req "$TERN" req --connect "ipc://$T/front.sock" --data q --count 6 --timeout 10000
[ "$(grep -cxE 'w1|w2' "$T/req.out")" -eq 6 ] || fail "req got: $(cat "$T/req.out")"
[ "$(cat "$T/w1.out" "$T/w2.out" | grep -cx q)" -eq 6 ] || fail "the reps did not get 6 requests"
kill -TERM "$queue" "$w1" "$w2"
await 0 queue "$queue"
await 0 w1 "$w1"
await 0 w2 "$w2"

# A streamer (pull -> push) whose capture socket gets a copy of each
# message; --events shows when the capture's reader is connected.
bg stream "$TERN" proxy "pull:ipc://$T/in.sock" "push:ipc://$T/out.sock" \
    --capture "push:ipc://$T/cap.sock" --events
stream=$pid
bg cap "$TERN" pull --connect "ipc://$T/cap.sock" --count 3 --timeout 10000
cap=$pid
appears "$T/stream.err" "tern proxy: capture event HANDSHAKE_OK ipc://$T/cap.sock"
bg out "$TERN" pull --connect "ipc://$T/out.sock" --count 3 --timeout 10000
out=$pid
run 0 in "$TERN" push --connect "ipc://$T/in.sock" --data x --data y --data z --timeout 10000
await 0 out "$out"
await 0 cap "$cap"
printf 'x\ny\nz\n' >"$T/stream.want"
same "$T/stream.want" "$T/out.out"
same "$T/stream.want" "$T/cap.out"
kill -TERM "$stream"
await 0 stream "$stream"
has "$T/stream.err" "tern proxy: frontend event LISTENING ipc://$T/in.sock"
has "$T/stream.err" "tern proxy: backend event LISTENING ipc://$T/out.sock"

# Connecting instead of binding: '>' before the endpoint.
bg pubsrc "$TERN" pub --bind "ipc://$T/src.sock" --wait-peers 1 --timeout 10000 --data hello
pubsrc=$pid
bg relay "$TERN" proxy "xsub:>ipc://$T/src.sock" "xpub:ipc://$T/relay.sock"
relay=$pid
run 0 far "$TERN" sub --connect "ipc://$T/relay.sock" --count 1 --timeout 10000
await 0 pubsrc "$pubsrc"
[ "$(cat "$T/far.out")" = hello ] || fail "far got '$(cat "$T/far.out")'"
kill -TERM "$relay"
await 0 relay "$relay"
