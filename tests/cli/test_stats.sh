# --stats prints a block per socket at exit, --stats=json one JSON line,
# --events each connection event as it happens; all on stderr. Peers are
# checked only on a side whose peer is still there when it exits.
. "$(dirname "$0")/lib.sh"

bg rep "$TERN" rep --bind tcp://127.0.0.1:0 --print-endpoint --echo --timeout 10000 \
    --stats=json --events
rep=$pid
endpoint rep
run 0 req "$TERN" req --connect "$EP" --data ab --data cde --timeout 10000 --stats --events
kill -TERM "$rep"
await 0 rep "$rep"
printf 'ab\ncde\n' >"$T/want"
same "$T/want" "$T/req.out"

has "$T/req.err" "tern req: REQ socket stats"
has "$T/req.err" "  messages        in 2, out 2"
has "$T/req.err" "  bytes           in 5, out 5"
has "$T/req.err" "  drops           0"
has "$T/req.err" "  connections     accepted 0, connected 1"
has "$T/req.err" "  handshakes      ok 1, failed 0"
has "$T/req.err" "  peers           1"
has "$T/req.err" "    REP ${EP#tcp://}: in 2, out 2, drops 0, queued 0"
has "$T/req.err" "tern req: event CONNECTED $EP"
has "$T/req.err" "tern req: event HANDSHAKE_OK $EP"

has "$T/rep.err" "tern rep: event LISTENING $EP"
grep -Eq "^tern rep: event ACCEPTED $EP peer=127\.0\.0\.1:[0-9]+$" "$T/rep.err" ||
    fail "no ACCEPTED event: $(cat "$T/rep.err")"
grep -Eq "^tern rep: event HANDSHAKE_OK $EP peer=127\.0\.0\.1:[0-9]+$" "$T/rep.err" ||
    fail "no HANDSHAKE_OK event: $(cat "$T/rep.err")"
# One JSON line with the counters.
[ "$(grep -c '^{' "$T/rep.err")" -eq 1 ] || fail "expected one JSON line: $(cat "$T/rep.err")"
has "$T/rep.err" '{"command":"rep","type":"REP","msgs_in":2,"msgs_out":2,"bytes_in":5,"bytes_out":5,"drops":0,"accepted":1,"connected":0,"handshakes":1,'
if command -v python3 >/dev/null; then
    grep '^{' "$T/rep.err" | python3 -c 'import json, sys; json.loads(sys.stdin.read())' ||
        fail "not JSON: $(grep '^{' "$T/rep.err")"
fi

# A connect that keeps failing: each retry is an event, and the stats
# count them even when the run ends by --timeout.
run 3 retry "$TERN" pull --connect "ipc://$T/nobody" --timeout 500 --events --stats
grep -Eq "^tern pull: event RECONNECT ipc://$T/nobody in [0-9]+ ms: " "$T/retry.err" ||
    fail "no RECONNECT event: $(cat "$T/retry.err")"
grep -Eq '^  reconnects      [1-9]' "$T/retry.err" || fail "no reconnects: $(cat "$T/retry.err")"

# A proxy reports each of its sockets, named by role; the subscriber is
# still attached when the proxy stops.
bg proxy "$TERN" proxy "xsub:ipc://$T/f.sock" "xpub:ipc://$T/b.sock" --stats=json
proxy=$pid
bg sub "$TERN" sub --connect "ipc://$T/b.sock" --subscribe t --timeout 10000
sub=$pid
run 0 pub "$TERN" pub --connect "ipc://$T/f.sock" --wait-subscriptions 1 --timeout 10000 --data t1
lines_reach "$T/sub.out" 1
kill -TERM "$proxy"
await 0 proxy "$proxy"
kill -TERM "$sub"
await 0 sub "$sub"
has "$T/proxy.err" '{"command":"proxy","role":"frontend","type":"XSUB","msgs_in":1,'
has "$T/proxy.err" '{"command":"proxy","role":"backend","type":"XPUB",'
grep -q '"role":"backend".*"peers":\[{"address":"[^"]*","type":"SUB","routing_id":"",.*"subscriptions":1}\]}$' \
    "$T/proxy.err" || fail "no subscriber in the backend's JSON: $(cat "$T/proxy.err")"
