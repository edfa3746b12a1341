# A multipart message (--parts) printed in each --format, checked exactly.
. "$(dirname "$0")/lib.sh"

# Parts: plain text, text with a space, bytes that need escaping, empty.
odd=$(printf 'q"b\\s\nt\t\001\377')

# receive FORMAT: sends the message once and leaves the output in $T/FORMAT.out.
receive()
{
    bg "$1" "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 1 --format "$1" \
        --timeout 10000
    sink=$pid
    endpoint "$1"
    run 0 "push-$1" "$TERN" push --connect "$EP" --parts --data hello --data "two words" \
        --data "$odd" --data ""
    await 0 "$1" "$sink"
}

receive raw
printf 'hello\ntwo words\nq"b\\s\nt\t\001\377\n\n' >"$T/raw.want"
same "$T/raw.want" "$T/raw.out"

receive quoted
printf '"hello" "two words" "q\\"b\\\\s\\nt\\t\\x01\\xff" ""\n' >"$T/quoted.want"
same "$T/quoted.want" "$T/quoted.out"

receive hex
printf '68656c6c6f 74776f20776f726473 7122625c730a740901ff \n' >"$T/hex.want"
same "$T/hex.want" "$T/hex.out"

receive len
printf '5+ hello\n9+ two words\n10+ q"b\\s\nt\t\001\377\n0 \n' >"$T/len.want"
same "$T/len.want" "$T/len.out"

# Without --parts each --data value is its own message: one line each.
bg single "$TERN" pull --bind tcp://127.0.0.1:0 --print-endpoint --count 2 --format quoted \
    --timeout 10000
sink=$pid
endpoint single
run 0 push-single "$TERN" push --connect "$EP" --data hello --data "$odd"
await 0 single "$sink"
printf '"hello"\n"q\\"b\\\\s\\nt\\t\\x01\\xff"\n' >"$T/single.want"
same "$T/single.want" "$T/single.out"
