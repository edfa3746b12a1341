#!/bin/sh
# tern demo, in six parts, each a few processes talking over tcp:
#  - two producers push numbered lines to one sink, which reports its rate;
#  - a request/reply service: three clients, every reply checked;
#  - a pub/sub feed through a proxy to two subscribers with different
#    subscriptions, each checked to get exactly its topics;
#  - RPC: a directory, two calc servers registered in it, and a client that
#    finds them by name and calls them in every mode;
#  - live migration: a worker dirtying a 256 MiB arena moves to another
#    process while it runs, and the destination checks it went on exactly;
#  - persistent messaging: a Kafka-protocol broker keeps orders through a
#    restart until a consumer group that was offline reads each once.
# Exits 0 if every process got exactly what was sent to it.
#   scripts/demo.sh BUILD-DIR      (DEMO_MESSAGES=N: messages per producer,
#   DEMO_FAST_MESSAGES, DEMO_REQUESTS: per client, DEMO_FEED: feed lines)
set -eu
build=${1:-build}
tern=$build/tern

if [ ! -x "$tern" ]; then
    echo "demo: no $tern; build first (make build)" >&2
    exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/tern-demo.XXXXXX")
pids=""
cleanup()
{
    for p in $pids; do
        kill "$p" 2>/dev/null || true
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then
    bold=$(printf '\033[1m') green=$(printf '\033[32m') red=$(printf '\033[31m') off=$(printf '\033[0m')
else
    bold="" green="" red="" off=""
fi
step()
{
    printf '\n%s%s%s\n' "$bold" "$*" "$off"
}

# endpoint PID FILE [N]: waits until the process PID (run with
# --print-endpoint, stderr in FILE) has bound N endpoints (default 1);
# prints the Nth.
endpoint()
{
    i=0
    until line=$(grep '^tcp://' "$2" 2>/dev/null | sed -n "${3:-1}p") && [ -n "$line" ]; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$1" 2>/dev/null; then
            echo "demo: a process did not start:" >&2
            cat "$2" >&2
            exit 1
        fi
        sleep 0.05
    done
    echo "$line"
}

# live PID FILE LABEL: shows FILE's lines but the first (an endpoint) as
# PID writes them, labelled; the view's pid goes to $view.
live()
{
    tail -n +2 -s 0.1 -f --pid="$1" "$2" | sed -u "s/^/   $3 | /" &
    view=$!
    pids="$pids $view"
}

# check NAME WANT GOT: GOT holds exactly WANT's lines, in order.
check()
{
    if cmp -s "$2" "$3"; then
        echo "   $1: $(wc -l <"$3") lines, exactly as expected"
    else
        printf '   %s%s%s: got %d lines, expected %d\n' "$red" "$1" "$off" "$(wc -l <"$3")" \
            "$(wc -l <"$2")" >&2
        status=1
    fi
}

# A producer's stream: a greeting, then rounds of numbered lines each
# closed by a progress line, then a farewell. The pauses between rounds
# keep the show going for the sink's once-a-second reports.
rounds=5
chunk=$((${DEMO_MESSAGES:-250000} / rounds))
per=$((2 + rounds * (chunk + 1)))
total=$((2 * per))
produce()
{
    echo "hello from producer $1"
    r=1
    while [ $r -le $rounds ]; do
        awk -v name="$1" -v from=$(((r - 1) * chunk + 1)) -v to=$((r * chunk)) \
            'BEGIN { for (i = from; i <= to; i++) printf "%s %07d\n", name, i }'
        echo "producer $1: round $r of $rounds sent"
        sleep 0.25
        r=$((r + 1))
    done
    echo "goodbye from producer $1"
}

step "1. A PULL sink binds a free tcp port on loopback and counts what arrives"
"$tern" pull --bind tcp://127.0.0.1:0 --print-endpoint --rate --count "$total" --timeout 10000 \
    >"$dir/received" 2>"$dir/sink.err" &
sink=$!
pids="$pids $sink"
ep=$(endpoint "$sink" "$dir/sink.err")
echo "   $tern pull --bind tcp://127.0.0.1:0 --rate --count $total"
echo "   listening on $ep"

step "2. Two PUSH producers connect and send $per lines each"
echo "   (producer) | $tern push --connect $ep"
echo "   Each sends $rounds rounds of $chunk numbered lines (A 0000001 ...) as fast as it"
echo "   can; below are the sink's reports and, live, every line received except"
echo "   the numbered ones."
# Live views: the sink's reports after its endpoint line, and what arrives.
live "$sink" "$dir/sink.err" "sink "
show_rate=$view
tail -n +1 -s 0.1 -f --pid="$sink" "$dir/received" | grep --line-buffered -v '^[AB] [0-9]' |
    sed -u 's/^/   recv  | /' &
show_recv=$!
pids="$pids $show_recv"

start=$(date +%s%N)
produce A | tee "$dir/a.sent" | "$tern" push --connect "$ep" --timeout 10000 &
a=$!
produce B | tee "$dir/b.sent" | "$tern" push --connect "$ep" --timeout 10000 &
b=$!
pids="$pids $a $b"

status=0
wait "$a" || status=$?
wait "$b" || status=$?
sent_ms=$((($(date +%s%N) - start) / 1000000))
wait "$sink" || status=$?
wait "$show_rate" "$show_recv" || true
echo "   producers done in $sent_ms ms"

step "3. What the sink received"
echo "   $(grep -c '^A ' "$dir/received") numbered lines from A, $(grep -c '^B ' "$dir/received") from B; where the streams meet:"
grep -m1 -B2 -A2 "^B " "$dir/received" | sed 's/^/     /'

# Exactly what was sent: the same lines, each once (order differs between
# the producers, so compare sorted).
sort "$dir/received" >"$dir/received.sorted"
sort "$dir/a.sent" "$dir/b.sent" >"$dir/sent.sorted"
got=$(wc -l <"$dir/received")
if [ "$status" -ne 0 ] || ! cmp -s "$dir/sent.sorted" "$dir/received.sorted"; then
    printf '\n%sFAILED%s: %d lines sent, %d received (exit status %d).\n' \
        "$red" "$off" "$total" "$got" "$status" >&2
    exit 1
fi
echo "   all $got lines arrived, each exactly once"

# Without pauses or line parsing: how fast the same path goes.
fast=${DEMO_FAST_MESSAGES:-4000000}
step "4. Full speed: two producers send $fast 16-byte messages each; the sink counts"
"$tern" pull --bind tcp://127.0.0.1:0 --print-endpoint --rate --quiet --count $((2 * fast)) \
    --timeout 10000 2>"$dir/fast.err" &
sink=$!
pids="$pids $sink"
ep=$(endpoint "$sink" "$dir/fast.err")
live "$sink" "$dir/fast.err" "sink "
show_rate=$view
"$tern" push --connect "$ep" --data "0123456789abcdef" --count "$fast" --timeout 10000 &
a=$!
"$tern" push --connect "$ep" --data "fedcba9876543210" --count "$fast" --timeout 10000 &
b=$!
pids="$pids $a $b"
wait "$a" || status=$?
wait "$b" || status=$?
wait "$sink" || status=$?
wait "$show_rate" || true

step "5. A request/reply service: one REP server echoes, three REQ clients check every reply"
requests=${DEMO_REQUESTS:-5000}
"$tern" rep --bind tcp://127.0.0.1:0 --print-endpoint --echo --count $((3 * requests)) \
    --timeout 10000 --quiet --rate --events --stats 2>"$dir/server.err" &
server=$!
pids="$pids $server"
ep=$(endpoint "$server" "$dir/server.err")
echo "   $tern rep --bind tcp://127.0.0.1:0 --echo --events --stats"
echo "   (requests) | $tern req --connect $ep"
echo "   Three clients at once, $requests requests each: each sends a request, waits"
echo "   for its reply, then sends the next. Below, live, the server's connection"
echo "   events and, at its exit, its counters."
live "$server" "$dir/server.err" "server"
show_server=$view
clients=""
for c in 1 2 3; do
    awk -v c=$c -v n="$requests" \
        'BEGIN { for (i = 1; i <= n; i++) printf "client %d request %05d\n", c, i }' \
        >"$dir/client$c.sent"
    "$tern" req --connect "$ep" --timeout 10000 <"$dir/client$c.sent" >"$dir/client$c.got" &
    clients="$clients $!"
done
pids="$pids $clients"
for p in $clients; do
    wait "$p" || status=$?
done
wait "$server" || status=$?
wait "$show_server" || true
for c in 1 2 3; do
    check "client $c, replies" "$dir/client$c.sent" "$dir/client$c.got"
done

step "6. A pub/sub feed through a proxy: two subscribers, each gets exactly its topics"
feed=${DEMO_FEED:-200000}
"$tern" proxy xsub:tcp://127.0.0.1:0 xpub:tcp://127.0.0.1:0 --print-endpoint --lossless \
    --stats 2>"$dir/proxy.err" &
proxy=$!
pids="$pids $proxy"
front=$(endpoint "$proxy" "$dir/proxy.err" 1)
back=$(endpoint "$proxy" "$dir/proxy.err" 2)
awk -v n="$feed" 'BEGIN { split("weather sports news markets", topic, " ")
    for (i = 1; i <= n; i++) printf "%s.city%d update %06d\n", topic[i % 4 + 1], i % 7, i }' \
    >"$dir/feed"
grep '^weather\.' "$dir/feed" >"$dir/weather.want"
grep -E '^(sports|news)\.' "$dir/feed" >"$dir/sports.want"
echo "   $tern proxy xsub:tcp://127.0.0.1:0 xpub:tcp://127.0.0.1:0 --lossless --stats"
echo "   publishers connect to $front, subscribers to $back"
echo "   $tern sub --connect $back --subscribe weather.                   (W)"
echo "   $tern sub --connect $back --subscribe sports. --subscribe news.  (S)"
echo "   (feed) | $tern pub --connect $front --wait-subscriptions 3 --lossless"
echo "   The feed is $feed lines on weather., sports., news. and markets. The"
echo "   subscriptions flow up through the proxy to the publisher, which filters:"
echo "   markets lines, which nobody wants, never leave it. --lossless holds the"
echo "   publisher back rather than drop for a slow subscriber."
"$tern" sub --connect "$back" --subscribe weather. --count "$(wc -l <"$dir/weather.want")" \
    --timeout 10000 --rate >"$dir/weather.got" 2>"$dir/weather.err" &
sub_w=$!
"$tern" sub --connect "$back" --subscribe sports. --subscribe news. \
    --count "$(wc -l <"$dir/sports.want")" --timeout 10000 --rate >"$dir/sports.got" \
    2>"$dir/sports.err" &
sub_s=$!
pids="$pids $sub_w $sub_s"
"$tern" pub --connect "$front" --wait-subscriptions 3 --lossless --timeout 10000 <"$dir/feed" ||
    status=$?
wait "$sub_w" || status=$?
wait "$sub_s" || status=$?
sed 's/^/   W      | /' "$dir/weather.err"
sed 's/^/   S      | /' "$dir/sports.err"
check "W, weather. lines" "$dir/weather.want" "$dir/weather.got"
check "S, sports. and news. lines" "$dir/sports.want" "$dir/sports.got"
kill -TERM "$proxy"
wait "$proxy" || status=$?
echo "   The proxy, stopped by SIGTERM, reports what went through it (the few messages"
echo "   the other way are the subscriptions it passed up, and their cancels):"
grep -E 'socket stats|messages|drops' "$dir/proxy.err" | sed 's/^/   proxy  | /'

step "7. RPC: a directory, two calc servers registered in it, a client that finds them by name"
# A free port for the directory: bind port 0 once through tern itself.
"$tern" directory --listen 127.0.0.1:0 >"$dir/directory.out" 2>"$dir/directory.err" &
directory=$!
pids="$pids $directory"
i=0
until dir_ep=$(sed -n 's/^tern directory listening on tcp:\/\///p' "$dir/directory.out") && [ -n "$dir_ep" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$directory" 2>/dev/null; then
        echo "demo: the directory did not start:" >&2
        cat "$dir/directory.err" >&2
        exit 1
    fi
    sleep 0.05
done
echo "   $tern directory --listen 127.0.0.1:0       -> listening on $dir_ep"
examples=$build/examples
for n in 1 2; do
    "$examples/calc_server" --directory "$dir_ep" >"$dir/calc$n.out" 2>&1 &
    eval "calc$n=\$!"
    pids="$pids $!"
done
i=0
until [ "$(grep -c serving "$dir/calc1.out" "$dir/calc2.out" | awk -F: '{ s += $2 } END { print s }')" -eq 2 ]; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "demo: a calc server did not start:" >&2
        cat "$dir/calc1.out" "$dir/calc2.out" >&2
        exit 1
    fi
    sleep 0.05
done
sed 's/^/   /' "$dir/calc1.out" "$dir/calc2.out"
echo "   $tern directory list --at $dir_ep:"
"$tern" directory list --at "$dir_ep" | sed 's/^/     /'
echo "   calc_client --directory $dir_ep   (binds tern://$dir_ep/calc, calls it every way)"
"$examples/calc_client" --directory "$dir_ep" | sed 's/^/   /' || status=1
kill -TERM "$calc1" "$calc2"
wait "$calc1" || status=$?
wait "$calc2" || status=$?
echo "   The servers unregistered as they stopped; the directory now lists:"
left=$("$tern" directory list --at "$dir_ep" | wc -l)
echo "     $left registrations"
[ "$left" -eq 0 ] || status=1
kill -TERM "$directory"
wait "$directory" || status=$?

step "8. Live migration: a running worker moves to another process, hybrid strategy"
echo "   $tern migrate demo --strategy hybrid --size 256M --dirty-rate 50M"
echo "   A worker mutates a 256 MiB arena at 50 MB/s. tern copies the arena to a second"
echo "   process while it runs, resends what it dirtied in rounds, then stops it for a"
echo "   few milliseconds, sends the rest and resumes it there. The destination runs it"
echo "   on, then replays every step from scratch and compares the whole arena."
"$tern" migrate demo --strategy hybrid --size 256M --dirty-rate 50M | sed 's/^/   /' || status=1

step "9. Persistent messaging: a broker keeps orders until a consumer group that was offline reads them"
# start_broker [PORT]: a tern broker on loopback (port 0: any); its port goes to $bport.
start_broker()
{
    "$tern" broker --data "$dir/broker" --listen "127.0.0.1:${1:-0}" --fsync batch \
        2>>"$dir/broker.err" &
    broker=$!
    pids="$pids $broker"
    i=0
    starts=$((${starts:-0} + 1))
    until [ "$(grep -c 'listening on' "$dir/broker.err" 2>/dev/null || true)" -ge "$starts" ]; do
        [ $i -lt 200 ] || { echo "   the broker did not start: $(cat "$dir/broker.err")"; return 1; }
        sleep 0.05
        i=$((i + 1))
    done
    bport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.err" | tail -1)
}
start_broker || status=1
kb=127.0.0.1:$bport
echo "   $tern broker --data DIR --listen 127.0.0.1:$bport      (speaks the Kafka protocol)"
"$tern" topic create orders --partitions 3 --brokers "$kb" 2>&1 | sed 's/^/   /' || status=1
echo "   The consumer group 'billing' reads once, commits, and goes offline:"
"$tern" consume orders --group billing --from-beginning --timeout 2 --brokers "$kb" \
    >/dev/null 2>&1 || true
orders=${DEMO_ORDERS:-3000}
echo "   Meanwhile $orders orders arrive (keyed by customer, acks=all):"
i=1
while [ $i -le "$orders" ]; do
    printf 'customer-%d:order %05d\n' $((i % 17)) "$i"
    i=$((i + 1))
done >"$dir/orders"
sed 's/^[^:]*://' "$dir/orders" | sort >"$dir/orders.want"
"$tern" produce orders --key-separator : --acks all --brokers "$kb" <"$dir/orders" 2>&1 |
    sed 's/^/   /' || status=1
echo "   The broker restarts (SIGTERM, then a new process on the same data):"
kill -TERM "$broker"
wait "$broker" || status=1
start_broker "$bport" || status=1
grep 'recovered\|loaded' "$dir/broker.err" | tail -1 | sed 's/^/   /'
echo "   Now 'billing' comes back as two members; they split the 3 partitions and read"
echo "   only what arrived while the group was away:"
"$tern" consume orders --group billing --from-beginning --timeout 3 --brokers "$kb" >"$dir/billing1" 2>"$dir/b1.err" &
m1=$!
"$tern" consume orders --group billing --from-beginning --timeout 3 --brokers "$kb" >"$dir/billing2" 2>"$dir/b2.err" &
m2=$!
wait "$m1" || [ $? -eq 3 ] || status=1
wait "$m2" || [ $? -eq 3 ] || status=1
echo "     member 1 read $(wc -l <"$dir/billing1") orders, member 2 read $(wc -l <"$dir/billing2")"
sort "$dir/billing1" "$dir/billing2" >"$dir/billing.got"
check "billing" "$dir/orders.want" "$dir/billing.got"
kill -TERM "$broker"
wait "$broker" || status=1

if [ "$status" -eq 0 ]; then
    printf '\n%sOK%s: every process got exactly what was sent to it: the sink %d lines, then\n' \
        "$green" "$off" "$total"
    printf '%d messages; the clients %d replies; the subscribers their %d and %d lines;\n' \
        $((2 * fast)) $((3 * requests)) "$(wc -l <"$dir/weather.want")" \
        "$(wc -l <"$dir/sports.want")"
    printf 'the calc client every answer, found through the directory; the migrated worker\n'
    printf 'its exact state; the offline consumer group every order, once.\n'
    exit 0
fi
printf '\n%sFAILED%s: a process exited with status %d, or got what was not sent.\n' "$red" \
    "$off" "$status" >&2
exit 1
