# A request no peer takes, or no peer answers, ends in exit 3 with a note;
# with --relaxed the next request still goes; --resend retries elsewhere.
. "$(dirname "$0")/lib.sh"

run 3 nopeer "$TERN" req --connect "ipc://$T/nobody" --data x --timeout 300
has "$T/nopeer.err" "tern req: no peer took request 1 for 300 ms"

# A router that never answers.
bg mute "$TERN" router --bind "ipc://$T/mute.sock" --quiet --timeout 20000
mute=$pid
run 3 noreply "$TERN" req --connect "ipc://$T/mute.sock" --data a --timeout 300
has "$T/noreply.err" "tern req: no reply to request 1 within 300 ms"

run 3 strict "$TERN" req --connect "ipc://$T/mute.sock" --data a --data b --rcv-timeout 200 \
    --timeout 10000
has "$T/strict.err" "tern req: no reply to request 1 within 200 ms"
! grep -q "request 2" "$T/strict.err" || fail "a strict req sent a second request"

run 3 relaxed "$TERN" req --connect "ipc://$T/mute.sock" --data a --data b --data c \
    --rcv-timeout 200 --relaxed --timeout 10000
has "$T/relaxed.err" "tern req: no reply to request 3 within 200 ms"
has "$T/relaxed.err" "tern req: 3 of 3 requests got no reply"

# With a second peer that answers, each request the mute one sits on is
# resent there.
bg echo "$TERN" rep --bind "ipc://$T/echo.sock" --echo --timeout 20000
echo=$pid
run 0 resend "$TERN" req --connect "ipc://$T/mute.sock" --connect "ipc://$T/echo.sock" \
    --wait-peers 2 --data a --data b --data c --resend 200 --timeout 10000
printf 'a\nb\nc\n' >"$T/want"
same "$T/want" "$T/resend.out"
kill -TERM "$mute" "$echo"
await 0 mute "$mute"
await 0 echo "$echo"
