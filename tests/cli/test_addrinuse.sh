# Binding an endpoint another process holds exits 1 with the library's error.
. "$(dirname "$0")/lib.sh"

bg holder "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --timeout 20000
holder=$pid
endpoint holder
run 1 second "$TERN" pull --bind "$EP"
has "$T/second.err" "tern pull: cannot bind $EP: TERN_EADDRINUSE (address already in use)"
run 1 push "$TERN" push --bind "$EP" --data x
has "$T/push.err" "tern push: cannot bind $EP: TERN_EADDRINUSE (address already in use)"
kill -TERM "$holder"
await 0 holder "$holder"
