# req <-> rep over tcp and ipc: --echo, answers from --data and from stdin,
# multipart requests, and a rep that runs out of answers.
. "$(dirname "$0")/lib.sh"

# Echo over tcp: each reply is its request; both sides print them.
bg rep "$TERN" rep --bind tcp://127.0.0.1:0 --print-endpoint --echo --count 3 --timeout 10000
rep=$pid
endpoint rep
run 0 req "$TERN" req --connect "$EP" --data one --data two --data three --timeout 10000
await 0 rep "$rep"
printf 'one\ntwo\nthree\n' >"$T/want"
same "$T/want" "$T/req.out"
same "$T/want" "$T/rep.out"

# Over ipc, req connects first with requests from stdin; rep's --data
# answers take turns.
ep="ipc://$T/rr.sock"
seq 4 >"$T/lines"
bg -i "$T/lines" req2 "$TERN" req --connect "$ep" --timeout 10000
req=$pid
run 0 rep2 "$TERN" rep --bind "$ep" --data x --data y --count 4 --timeout 10000
await 0 req2 "$req"
printf 'x\ny\nx\ny\n' >"$T/want2"
same "$T/want2" "$T/req2.out"
same "$T/lines" "$T/rep2.out"

# A multipart request comes back whole.
bg rep3 "$TERN" rep --bind tcp://127.0.0.1:0 --print-endpoint --echo --count 1 --format quoted \
    --timeout 10000
rep=$pid
endpoint rep3
run 0 req3 "$TERN" req --connect "$EP" --parts --data a --data "b c" --data "" --format quoted \
    --timeout 10000
await 0 rep3 "$rep"
printf '"a" "b c" ""\n' >"$T/want3"
same "$T/want3" "$T/req3.out"
same "$T/want3" "$T/rep3.out"

# Answers from stdin: one line each; when stdin ends, rep says so and
# exits, and the request it could not answer is reported by req (exit 3).
printf 'first\n' >"$T/answers"
bg -i "$T/answers" rep4 "$TERN" rep --bind "ipc://$T/stdin.sock" --timeout 10000
rep=$pid
run 3 req4 "$TERN" req --connect "ipc://$T/stdin.sock" --data q1 --data q2 --timeout 10000
await 0 rep4 "$rep"
[ "$(cat "$T/req4.out")" = first ] || fail "req4 got '$(cat "$T/req4.out")'"
has "$T/rep4.err" "tern rep: stdin ended: request 2 is left unanswered"
has "$T/req4.err" "tern req: no reply to request 2: its peer went away"
