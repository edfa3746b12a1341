# Bad flags and arguments exit 2 with a one-line error and a pointer to help.
. "$(dirname "$0")/lib.sh"

run 2 bogus "$TERN" push --bogus
has "$T/bogus.err" "tern push: unknown flag '--bogus'"
has "$T/bogus.err" "see 'tern help push'"
[ "$(wc -l <"$T/bogus.err")" -eq 2 ] || fail "expected 2 lines: $(cat "$T/bogus.err")"

run 2 noep "$TERN" pull
has "$T/noep.err" "--bind or --connect"
run 2 novalue "$TERN" pull --bind
has "$T/novalue.err" "--bind needs a value"
run 2 count "$TERN" pull --bind tcp://127.0.0.1:0 --count abc
has "$T/count.err" "--count wants an integer"
run 2 count0 "$TERN" push --connect tcp://127.0.0.1:9 --count 0
run 2 format "$TERN" pull --bind tcp://127.0.0.1:0 --format nope
has "$T/format.err" "unknown format 'nope'"
run 2 recvflag "$TERN" push --connect tcp://127.0.0.1:9 --format raw
run 2 sendflag "$TERN" pull --bind tcp://127.0.0.1:0 --data x
run 2 both "$TERN" push --connect tcp://127.0.0.1:9 --data x --file /dev/null
run 2 parts "$TERN" push --connect tcp://127.0.0.1:9 --parts
run 2 extra "$TERN" pull --bind tcp://127.0.0.1:0 extra
has "$T/extra.err" "unexpected argument 'extra'"
run 2 boolval "$TERN" pull --bind tcp://127.0.0.1:0 --rate=yes
run 2 nosub "$TERN" nosuch
has "$T/nosub.err" "tern: unknown subcommand 'nosuch'"
run 2 none "$TERN"

# --flag=value is the same as --flag value.
run 3 equals "$TERN" pull --bind=tcp://127.0.0.1:0 --timeout=100 --format=hex
has "$T/equals.err" "nothing arrived for 100 ms"

# Runtime errors are 1, not 2.
run 1 nofile "$TERN" push --connect tcp://127.0.0.1:9 --file "$T/absent"
has "$T/nofile.err" "tern push: cannot open $T/absent: "
run 1 badep "$TERN" pull --bind nonsense://x
has "$T/badep.err" "tern pull: cannot bind nonsense://x: TERN_"
