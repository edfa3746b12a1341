# tern directory: serves on a free port, lists and looks up registrations
# (two calc example servers register), --json, errors with clear exits,
# SIGTERM stops it cleanly.
. "$(dirname "$0")/lib.sh"
EXAMPLES=$(dirname "$TERN")/examples

bg dir "$TERN" directory --listen 127.0.0.1:0
dir=$pid
appears "$T/dir.out" "listening on tcp://127.0.0.1:"
at=$(sed -n 's/^tern directory listening on tcp:\/\///p' "$T/dir.out")

# Empty at first: list prints nothing, lookup of a name fails (exit 1).
run 0 list "$TERN" directory list --at "$at"
[ ! -s "$T/list.out" ] || fail "an empty directory listed: $(cat "$T/list.out")"
run 1 lookup "$TERN" directory lookup calc --at "$at"
has "$T/lookup.err" "calc is not registered"

# Two servers register; both are listed, as text and as JSON.
bg calc1 "$EXAMPLES/calc_server" --directory "$at"
c1=$pid
bg calc2 "$EXAMPLES/calc_server" --directory "$at" --name other
c2=$pid
appears "$T/calc1.out" "registered as calc"
appears "$T/calc2.out" "registered as other"
run 0 list "$TERN" directory list --at "$at"
[ "$(grep -c 6f1c2a8e-7c1d-4a53-9a0b-2f3c4d5e6f70 "$T/list.out")" -eq 2 ] || fail "list: $(cat "$T/list.out")"
has "$T/list.out" "example=calc"
run 0 lookup "$TERN" directory lookup other --at "$at" --json
[ "$(wc -l <"$T/lookup.out")" -eq 1 ] || fail "lookup other: $(cat "$T/lookup.out")"
has "$T/lookup.out" '"name":"other"'
has "$T/lookup.out" '"version":"1.2"'
has "$T/lookup.out" '"endpoint":"tcp://127.0.0.1:'

# A server that stops unregisters.
kill -TERM "$c1"
await 0 calc1 "$c1"
run 1 gone "$TERN" directory lookup calc --at "$at"
kill -TERM "$c2"
await 0 calc2 "$c2"

# Usage errors exit 2; an unreachable directory exits 1 and says so.
run 2 verb "$TERN" directory frobnicate
run 2 args "$TERN" directory lookup
run 2 mixed "$TERN" directory list --listen 127.0.0.1:1
run 1 away "$TERN" directory list --at 127.0.0.1:1
has "$T/away.err" "TERN_EUNAVAILABLE"
# The port is taken: a second directory cannot listen there.
run 1 taken "$TERN" directory --listen "$at"
has "$T/taken.err" "cannot listen"

kill -TERM "$dir"
await 0 dir "$dir"
