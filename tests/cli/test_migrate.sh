# tern migrate: the demo moves a running worker with each strategy and the
# destination verifies it by replay; listen/send work as two commands;
# bad flags and an unreachable destination fail clearly.
. "$(dirname "$0")/lib.sh"

for s in precopy stop-and-copy postcopy hybrid; do
    run 0 "demo-$s" "$TERN" migrate demo --strategy "$s" --size 16M --dirty-rate 20M --run-after 100 --json
    has "$T/demo-$s.out" "\"strategy\":\"$s\""
    has "$T/demo-$s.out" '"ok":true,"verified":true'
done

# Text output names the rounds and the verdict.
run 0 demo-text "$TERN" migrate demo --size 8M --dirty-rate 5M --run-after 50
has "$T/demo-text.out" "round"
has "$T/demo-text.out" "continued exactly"

# The two halves as separate commands.
bg dst "$TERN" migrate listen --listen 127.0.0.1:0 --run-after 100
dst=$pid
appears "$T/dst.out" "listening on tcp://127.0.0.1:"
ep=$(sed -n 's/^tern migrate listening on tcp:\/\///p' "$T/dst.out")
run 0 send "$TERN" migrate send "$ep" --strategy hybrid --size 8M --dirty-rate 10M
await 0 dst "$dst"
has "$T/dst.out" "continued exactly"

# Errors: bad flags are usage errors; nobody listening fails at once.
run 2 badstrategy "$TERN" migrate demo --strategy teleport
has "$T/badstrategy.err" "unknown strategy 'teleport'"
run 2 badsize "$TERN" migrate demo --size lots
has "$T/badsize.err" "--size wants a byte count"
run 2 noverb "$TERN" migrate
run 1 nobody "$TERN" migrate send 127.0.0.1:1 --size 1M --reconnect 300
has "$T/nobody.err" "cannot reach the destination"
