# --timeout: exit 3 with a message when nothing arrives, or no peer takes
# what we send.
. "$(dirname "$0")/lib.sh"

run 3 pull "$TERN" pull --bind tcp://127.0.0.1:0 --timeout 300
has "$T/pull.err" "tern pull: nothing arrived for 300 ms"

# The timeout counts from the last arrival, not from the start.
bg sink "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --timeout 1500
sink=$pid
endpoint sink
run 0 push "$TERN" push --connect "$EP" --data a --data b --data c --interval 600
await 3 sink "$sink"
printf 'a\nb\nc\n' >"$T/want"
same "$T/want" "$T/sink.out"

# Nobody listens at the endpoint: the queue fills, then sending times out.
run 3 stuck "$TERN" push --connect "ipc://$T/nobody" --data x --count 1000000 --hwm 1 \
    --timeout 300 --linger 0
has "$T/stuck.err" "tern push: no peer took a message for 300 ms"
