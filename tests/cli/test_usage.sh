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

# The new subcommands: flags that belong to other subcommands, or that
# contradict each other, are usage errors too.
run 2 echodata "$TERN" rep --bind tcp://127.0.0.1:0 --echo --data x
has "$T/echodata.err" "--echo cannot be combined with --data or --file"
run 2 subdata "$TERN" sub --connect tcp://127.0.0.1:9 --data x
has "$T/subdata.err" "tern sub: unknown flag '--data'"
run 2 pubformat "$TERN" pub --connect tcp://127.0.0.1:9 --format raw
run 2 pubsubscribe "$TERN" pub --connect tcp://127.0.0.1:9 --subscribe x
run 2 reqecho "$TERN" req --connect tcp://127.0.0.1:9 --echo
run 2 resend0 "$TERN" req --connect tcp://127.0.0.1:9 --resend 0
run 2 relaxedval "$TERN" req --connect tcp://127.0.0.1:9 --relaxed=1
run 2 routingid "$TERN" dealer --connect tcp://127.0.0.1:9 --routing-id ""
has "$T/routingid.err" "--routing-id wants 1 to 255 bytes"
run 2 stats "$TERN" req --connect tcp://127.0.0.1:9 --stats=xml
has "$T/stats.err" "--stats takes no value or '=json', not 'xml'"
run 2 waitsubs "$TERN" sub --connect tcp://127.0.0.1:9 --wait-subscriptions 1
run 2 reqnoep "$TERN" req --data x
has "$T/reqnoep.err" "give at least one --bind or --connect"

# --stats alone takes no value from the next argument.
run 3 statsalone "$TERN" pull --stats --bind tcp://127.0.0.1:0 --timeout 100
has "$T/statsalone.err" "tern pull: PULL socket stats"

# proxy wants FRONTEND and BACKEND, each TYPE:ENDPOINTS.
run 2 proxynone "$TERN" proxy
has "$T/proxynone.err" "give a FRONTEND and a BACKEND, as TYPE:ENDPOINTS"
run 2 proxyone "$TERN" proxy xsub:tcp://127.0.0.1:0
run 2 proxytype "$TERN" proxy tcp://127.0.0.1:0 xpub:tcp://127.0.0.1:0
has "$T/proxytype.err" "tern proxy: the frontend 'tcp://127.0.0.1:0' is not TYPE:ENDPOINTS"
run 2 proxyunknown "$TERN" proxy xsub:tcp://127.0.0.1:0 nosuch:tcp://127.0.0.1:0
has "$T/proxyunknown.err" "the backend 'nosuch:tcp://127.0.0.1:0' is not TYPE:ENDPOINTS"
run 2 proxyempty "$TERN" proxy xsub: xpub:tcp://127.0.0.1:0
has "$T/proxyempty.err" "the frontend 'xsub:' names no endpoint"
run 2 proxycapture "$TERN" proxy xsub:tcp://127.0.0.1:0 xpub:tcp://127.0.0.1:0 --capture x
run 2 proxybind "$TERN" proxy xsub:tcp://127.0.0.1:0 xpub:tcp://127.0.0.1:0 --bind x
run 1 proxybad "$TERN" proxy xsub:nonsense://x xpub:tcp://127.0.0.1:0
has "$T/proxybad.err" "tern proxy: cannot bind nonsense://x: TERN_"
