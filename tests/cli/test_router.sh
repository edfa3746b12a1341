# dealer and req <-> router over tcp and ipc: the sender's routing id
# printed in hex in every format, --echo, answers behind the envelope, and
# dealer <-> rep with an explicit delimiter.
. "$(dirname "$0")/lib.sh"

# Dealers named alice and carol; router echoes each message back to its sender.
bg router "$TERN" router --bind tcp://127.0.0.1:0 --print-endpoint --echo --count 3 \
    --format quoted --timeout 10000
router=$pid
endpoint router
run 0 dealer "$TERN" dealer --connect "$EP" --routing-id alice --data hi --data "x y" --count 2 \
    --format quoted --timeout 10000
run 0 dealer2 "$TERN" dealer --connect "$EP" --routing-id carol --parts --data a --data b \
    --count 1 --format quoted --timeout 10000
await 0 router "$router"
printf '616c696365 "hi"\n616c696365 "x y"\n6361726f6c "a" "b"\n' >"$T/want"
same "$T/want" "$T/router.out"
printf '"hi"\n"x y"\n' >"$T/want2"
same "$T/want2" "$T/dealer.out"
printf '"a" "b"\n' >"$T/want3"
same "$T/want3" "$T/dealer2.out"

# The id is hex in raw and len too.
ep="ipc://$T/r.sock"
bg raw "$TERN" router --bind "$ep" --echo --count 1 --timeout 10000
router=$pid
run 0 bob "$TERN" dealer --connect "$ep" --routing-id bob --data hello --count 1 --timeout 10000
await 0 raw "$router"
printf '626f62\nhello\n' >"$T/raw.want"
same "$T/raw.want" "$T/raw.out"
ep="ipc://$T/len.sock"
bg len "$TERN" router --bind "$ep" --echo --count 1 --format len --timeout 10000
router=$pid
run 0 bob2 "$TERN" dealer --connect "$ep" --routing-id bob --data hello --count 1 \
    --timeout 10000
await 0 len "$router"
printf '6+ 626f62\n5 hello\n' >"$T/len.want"
same "$T/len.want" "$T/len.out"

# REQ peers: --data answers go behind the envelope (id and delimiter), so
# each reaches its requester; the router shows the empty delimiter.
ep="ipc://$T/req.sock"
bg answer "$TERN" router --bind "$ep" --data ANSWER --count 2 --format hex --timeout 10000
router=$pid
run 0 req "$TERN" req --connect "$ep" --data q1 --data q2 --timeout 10000
await 0 answer "$router"
printf 'ANSWER\nANSWER\n' >"$T/req.want"
same "$T/req.want" "$T/req.out"
[ "$(grep -cE '^[0-9a-f]+  71(31|32)$' "$T/answer.out")" -eq 2 ] ||
    fail "router printed: $(cat "$T/answer.out")"

# dealer -> rep: the dealer sends the empty delimiter a REP expects.
bg rep "$TERN" rep --bind tcp://127.0.0.1:0 --print-endpoint --echo --count 1 --timeout 10000
rep=$pid
endpoint rep
run 0 dealer3 "$TERN" dealer --connect "$EP" --parts --data "" --data ping --count 1 \
    --format quoted --timeout 10000
await 0 rep "$rep"
printf '"" "ping"\n' >"$T/dealer3.want"
same "$T/dealer3.want" "$T/dealer3.out"
[ "$(cat "$T/rep.out")" = ping ] || fail "rep got '$(cat "$T/rep.out")'"
