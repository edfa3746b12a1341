# pub -> sub over tcp and ipc: prefix filtering, two subscribers with
# different subscriptions, --wait-peers; xpub prints the subscriptions it
# gets, xsub subscribes by option and by message.
. "$(dirname "$0")/lib.sh"

# Two subscribers bind; pub connects to both and waits until both have
# subscribed, so nothing is sent before they listen.
bg weather "$TERN" sub --bind tcp://127.0.0.1:0 --print-endpoint --subscribe weather --count 2 \
    --timeout 10000
weather=$pid
endpoint weather
ep1=$EP
bg sports "$TERN" sub --bind tcp://127.0.0.1:0 --print-endpoint --subscribe sports \
    --subscribe news --count 3 --timeout 10000
sports=$pid
endpoint sports
run 0 pub "$TERN" pub --connect "$ep1" --connect "$EP" --wait-peers 2 --timeout 10000 \
    --data "weather sun" --data "sports 1-0" --data "other" --data "news x" \
    --data "weather rain" --data "sports 2-2"
await 0 weather "$weather"
await 0 sports "$sports"
printf 'weather sun\nweather rain\n' >"$T/weather.want"
same "$T/weather.want" "$T/weather.out"
printf 'sports 1-0\nnews x\nsports 2-2\n' >"$T/sports.want"
same "$T/sports.want" "$T/sports.out"

# Over ipc the publisher binds; a sub without --subscribe gets everything.
ep="ipc://$T/feed.sock"
bg all "$TERN" sub --connect "$ep" --count 3 --timeout 10000
all=$pid
run 0 pub2 "$TERN" pub --bind "$ep" --wait-peers 1 --timeout 10000 --data a --data b --data c
await 0 all "$all"
printf 'a\nb\nc\n' >"$T/all.want"
same "$T/all.want" "$T/all.out"

# Nobody subscribes: --wait-peers gives up after --timeout.
run 3 lonely "$TERN" pub --bind tcp://127.0.0.1:0 --wait-peers 1 --timeout 300 --data x
has "$T/lonely.err" "tern pub: 0 of 1 peers subscribed after 300 ms"

# xpub sees the subscription as a message: byte 1, then the prefix.
bg xpub "$TERN" xpub --bind tcp://127.0.0.1:0 --print-endpoint --wait-peers 1 --format quoted \
    --data "t1 hello" --data "t2 hidden" --timeout 10000
xpub=$pid
endpoint xpub
run 0 sub "$TERN" sub --connect "$EP" --subscribe t1 --count 1 --timeout 10000
await 0 xpub "$xpub"
printf '"\\x01t1"\n' >"$T/xpub.want"
same "$T/xpub.want" "$T/xpub.out"
[ "$(cat "$T/sub.out")" = "t1 hello" ] || fail "sub got '$(cat "$T/sub.out")'"

# xsub subscribes with --subscribe, and by sending byte 1 then a prefix.
bg xsub "$TERN" xsub --bind "ipc://$T/x.sock" --subscribe a --data "$(printf '\001b')" --count 2 \
    --timeout 10000
xsub=$pid
run 0 pub3 "$TERN" pub --connect "ipc://$T/x.sock" --wait-subscriptions 2 --timeout 10000 \
    --data a1 --data c1 --data b1
await 0 xsub "$xsub"
printf 'a1\nb1\n' >"$T/xsub.want"
same "$T/xsub.want" "$T/xsub.out"
