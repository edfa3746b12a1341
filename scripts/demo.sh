#!/bin/sh
# tern demo: two producer processes push numbered lines over tcp to one sink
# process, which reports the rate it measures. Exits 0 if the sink received
# exactly the lines that were sent.
#   scripts/demo.sh BUILD-DIR      (DEMO_MESSAGES=N: messages per producer)
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
i=0
until ep=$(grep -m1 '^tcp://' "$dir/sink.err" 2>/dev/null); do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$sink" 2>/dev/null; then
        echo "demo: the sink did not start:" >&2
        cat "$dir/sink.err" >&2
        exit 1
    fi
    sleep 0.05
done
echo "   $tern pull --bind tcp://127.0.0.1:0 --rate --count $total"
echo "   listening on $ep"

step "2. Two PUSH producers connect and send $per lines each"
echo "   (producer) | $tern push --connect $ep"
echo "   Each sends $rounds rounds of $chunk numbered lines (A 0000001 ...) as fast as it"
echo "   can; below are the sink's reports and, live, every line received except"
echo "   the numbered ones."
# Live views: the sink's reports after its endpoint line, and what arrives.
tail -n +2 -s 0.1 -f --pid="$sink" "$dir/sink.err" | sed -u 's/^/   sink  | /' &
show_rate=$!
tail -n +1 -s 0.1 -f --pid="$sink" "$dir/received" | grep --line-buffered -v '^[AB] [0-9]' |
    sed -u 's/^/   recv  | /' &
show_recv=$!
pids="$pids $show_rate $show_recv"

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
until ep=$(grep -m1 '^tcp://' "$dir/fast.err" 2>/dev/null); do
    kill -0 "$sink" 2>/dev/null || break
    sleep 0.05
done
tail -n +2 -s 0.1 -f --pid="$sink" "$dir/fast.err" | sed -u 's/^/   sink  | /' &
show_rate=$!
pids="$pids $show_rate"
"$tern" push --connect "$ep" --data "0123456789abcdef" --count "$fast" --timeout 10000 &
a=$!
"$tern" push --connect "$ep" --data "fedcba9876543210" --count "$fast" --timeout 10000 &
b=$!
pids="$pids $a $b"
wait "$a" || status=$?
wait "$b" || status=$?
wait "$sink" || status=$?
wait "$show_rate" || true

if [ "$status" -eq 0 ]; then
    printf '\n%sOK%s: the sink received exactly what was sent (%d lines, then %d messages).\n' \
        "$green" "$off" "$total" $((2 * fast))
    exit 0
fi
printf '\n%sFAILED%s: a process exited with status %d.\n' "$red" "$off" "$status" >&2
exit 1
