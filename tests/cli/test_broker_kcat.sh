# tern broker opposite kcat (Debian kcat, librdkafka inside): metadata,
# keyed produce with acks=all, consume from the beginning, a consumer group
# that resumes where it committed across a broker restart.
. "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (apt-get install kcat)"

start_broker()
{
    bg broker "$TERN" broker --data "$T/data" --listen "127.0.0.1:${1:-0}" --fsync always
    broker_pid=$pid
    appears "$T/broker.err" "listening on"
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/broker.err" | tail -1)
    [ -n "$port" ] || fail "no port in: $(cat "$T/broker.err")"
    B=127.0.0.1:$port
}

start_broker
printf 'k1:one\nk2:two\nk1:three\n' >"$T/in"
run 0 produce kcat -b "$B" -t orders -P -K: -X acks=all -l "$T/in"
run 0 meta kcat -b "$B" -L -t orders
has "$T/meta.out" 'topic "orders" with 1 partitions'
run 0 consume kcat -b "$B" -t orders -C -o beginning -e -q -f '%k=%s@%o\n'
printf 'k1=one@0\nk2=two@1\nk1=three@2\n' >"$T/want"
same "$T/want" "$T/consume.out"

# A group reads everything and commits; after a restart it sees only what is new.
run 0 group1 kcat -b "$B" -G readers orders -o beginning -e -q -f '%s\n' -X auto.commit.interval.ms=100
sort "$T/group1.out" >"$T/g1"
printf 'one\nthree\ntwo\n' >"$T/want"
same "$T/want" "$T/g1"
kill "$broker_pid"
wait "$broker_pid" || fail "broker exit status $?: $(cat "$T/broker.err")"
has "$T/broker.err" "stopped"
start_broker "$port"
printf 'four\nfive\n' | kcat -b "$B" -t orders -P -X acks=all || fail "produce after restart"
run 0 group2 kcat -b "$B" -G readers orders -e -q -f '%s\n'
printf 'four\nfive\n' >"$T/want"
same "$T/want" "$T/group2.out"
