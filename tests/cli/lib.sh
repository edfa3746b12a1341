# Helpers for the tern CLI tests, sourced by each test_*.sh. A test runs as
# `sh test_x.sh PATH-TO-TERN`; its files live in $T, removed at exit along
# with any background process still running.
set -eu
TERN=${1:?usage: sh $0 PATH-TO-TERN}
T=$(mktemp -d "${TMPDIR:-/tmp}/tern-cli.XXXXXX")
bg_pids=""

cleanup()
{
    for p in $bg_pids; do
        kill "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail()
{
    echo "FAIL: $*" >&2
    exit 1
}

# bg [-i FILE] NAME CMD...: runs CMD in the background with stdin from FILE
# (else /dev/null: a script's background job cannot inherit its stdin),
# stdout in $T/NAME.out and stderr in $T/NAME.err; its pid goes to $pid.
bg()
{
    input=/dev/null
    if [ "$1" = -i ]; then
        input=$2
        shift 2
    fi
    name=$1
    shift
    # Emptied here, not only by the job's redirections, which run only once
    # it starts: a caller waiting for a line must not find the last run's.
    : >"$T/$name.out"
    : >"$T/$name.err"
    "$@" <"$input" >"$T/$name.out" 2>"$T/$name.err" &
    pid=$!
    bg_pids="$bg_pids $pid"
}

# run WANT NAME CMD...: runs CMD (stdin is the caller's) with output in
# $T/NAME.out and $T/NAME.err, and checks its exit status.
run()
{
    want=$1 name=$2
    shift 2
    got=0
    "$@" >"$T/$name.out" 2>"$T/$name.err" || got=$?
    [ "$got" = "$want" ] || fail "$name: exit $got, expected $want; stderr: $(cat "$T/$name.err")"
}

# await WANT NAME PID: waits for a background command; checks its status.
await()
{
    got=0
    wait "$3" || got=$?
    [ "$got" = "$1" ] || fail "$2: exit $got, expected $1; stderr: $(cat "$T/$2.err")"
}

# endpoint NAME [N]: waits until NAME has printed N (default 1) bound
# endpoints (run with --print-endpoint) and puts the Nth in $EP.
endpoint()
{
    i=0
    while [ $i -lt 200 ]; do
        EP=$(grep -E '^(tcp|ipc)://' "$T/$1.err" 2>/dev/null | sed -n "${2:-1}p")
        [ -n "$EP" ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    fail "$1 printed no endpoint ${2:-1}; stderr: $(cat "$T/$1.err")"
}

# appears FILE TEXT: waits up to 10 s until FILE contains TEXT (a fixed string).
appears()
{
    i=0
    until grep -qF -- "$2" "$1" 2>/dev/null; do
        [ $i -lt 200 ] || fail "$1 never showed '$2'; it holds: $(cat "$1")"
        sleep 0.05
        i=$((i + 1))
    done
}

# lines_reach FILE N: waits up to 10 s until FILE has at least N lines.
lines_reach()
{
    i=0
    while [ "$(wc -l <"$1")" -lt "$2" ]; do
        [ $i -lt 200 ] || fail "$1 has $(wc -l <"$1") lines, expected $2"
        sleep 0.05
        i=$((i + 1))
    done
}

# same WANT GOT: the files are byte for byte equal.
same()
{
    cmp -s "$1" "$2" || fail "$2 differs from $1:
$(od -c "$2" | head -20)"
}

# has FILE TEXT: FILE contains TEXT (a fixed string).
has()
{
    grep -qF -- "$2" "$1" || fail "$1 lacks '$2'; it holds: $(cat "$1")"
}
