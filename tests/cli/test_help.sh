# tern version, tern help, tern help push, tern push --help.
. "$(dirname "$0")/lib.sh"

run 0 version "$TERN" version
grep -Eqx 'tern [0-9]+\.[0-9]+\.[0-9]+' "$T/version.out" || fail "version: $(cat "$T/version.out")"
run 0 version2 "$TERN" --version
same "$T/version.out" "$T/version2.out"

run 0 help "$TERN" help
for c in push pull pair req rep dealer router pub sub xpub xsub proxy help version; do
    grep -Eq "^  $c +[a-z]" "$T/help.out" || fail "tern help does not list $c"
done
run 0 help2 "$TERN" --help
same "$T/help.out" "$T/help2.out"

run 0 push "$TERN" help push
has "$T/push.out" "usage: tern push"
for flag in "--bind EP" "--connect EP" "--data STR" "--parts" "--file PATH" "--count N" \
    "--interval MS" "--timeout MS" "--hwm N" "--linger MS" "exit status"; do
    has "$T/push.out" "$flag"
done
# Receiving flags belong to pull and pair only.
! grep -q -- "--format" "$T/push.out" || fail "tern help push mentions --format"
run 0 push2 "$TERN" push --help
same "$T/push.out" "$T/push2.out"

run 0 pull "$TERN" help pull
for text in "--format FMT" "--rate" "-q, --quiet" "quoted" "hex" "len"; do
    has "$T/pull.out" "$text"
done

run 2 nosuch "$TERN" help nosuch
has "$T/nosuch.err" "see 'tern help'"

# Every socket subcommand documents the flags all share.
for c in push pull pair req rep dealer router pub sub xpub xsub proxy; do
    run 0 "help-$c" "$TERN" help "$c"
    for text in "usage: tern $c" "--hwm N" "--print-endpoint" "--stats[=json]" "--events" \
        "exit status"; do
        has "$T/help-$c.out" "$text"
    done
done
for flag in "--relaxed" "--correlate" "--resend MS" "--rcv-timeout MS" "--wait-peers N" \
    "--routing-id ID" "--format FMT"; do
    has "$T/help-req.out" "$flag"
done
has "$T/help-rep.out" "--echo"
has "$T/help-router.out" "--echo"
has "$T/help-router.out" "routing id"
has "$T/help-sub.out" "--subscribe PREFIX"
has "$T/help-xsub.out" "--subscribe PREFIX"
for flag in "--lossless" "--wait-peers N" "--wait-subscriptions N"; do
    has "$T/help-pub.out" "$flag"
done
has "$T/help-xpub.out" "--verbose"
has "$T/help-proxy.out" "--capture SPEC"
has "$T/help-proxy.out" "TYPE:ENDPOINTS"
# pub only sends, sub only receives.
! grep -q -- "--format" "$T/help-pub.out" || fail "tern help pub mentions --format"
! grep -q -- "--data" "$T/help-sub.out" || fail "tern help sub mentions --data"
