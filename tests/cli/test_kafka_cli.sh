# tern topic, produce and consume against tern broker: topics created,
# listed, described and deleted; lines produced and read back, keys kept
# on one partition; a group resumes where it committed (also after a
# SIGTERM) and reads only what is new; a group shared with librdkafka
# (kcat); clear errors and exit statuses.
. "$(dirname "$0")/lib.sh"

bg broker "$TERN" broker --data "$T/data" --listen 127.0.0.1:0
broker=$pid
appears "$T/broker.err" "tern broker: listening on 127.0.0.1:"
port=$(sed -n 's/^tern broker: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/broker.err")
[ -n "$port" ] || fail "no port in: $(cat "$T/broker.err")"
B=127.0.0.1:$port

# Topics: create, a second create refused, list, describe.
run 0 create "$TERN" topic create t --partitions 3 --brokers "$B"
has "$T/create.err" "created t"
run 1 again "$TERN" topic create t --partitions 3 --brokers "$B"
has "$T/again.err" "TOPIC_ALREADY_EXISTS"
TERN_BROKERS=$B run 0 list "$TERN" topic list
[ "$(cat "$T/list.out")" = t ] || fail "list: $(cat "$T/list.out")"

# 100 lines out, the same 100 back.
seq 1 100 >"$T/lines"
run 0 produce "$TERN" produce t --brokers "$B" <"$T/lines"
has "$T/produce.err" "100 records to t"
run 0 all "$TERN" consume t --from-beginning --count 100 --brokers "$B"
sort -n "$T/all.out" >"$T/sorted"
same "$T/lines" "$T/sorted"

# Keyed lines: one key, one partition, in order; acks=1 and acks=0 too.
printf 'k1:a\nk1:b\nk2:x\nk1:c\n' >"$T/keyed"
run 0 keyed "$TERN" produce t --key-separator : --acks 1 --brokers "$B" <"$T/keyed"
printf 'n1\nn2\n' | run 0 noack "$TERN" produce t --acks 0 --partition 2 --brokers "$B"
has "$T/noack.err" "2 records sent to t (acks=0"
run 0 keys "$TERN" consume t --from-beginning --count 106 --print-key --print-offset --brokers "$B"
grep "	k1	" "$T/keys.out" | cut -f1 | cut -d: -f1 | sort -u >"$T/k1parts"
[ "$(wc -l <"$T/k1parts")" -eq 1 ] || fail "k1 on several partitions: $(cat "$T/keys.out")"
[ "$(grep "	k1	" "$T/keys.out" | cut -f3 | tr -d '\n')" = abc ] || fail "k1 out of order"
grep -q "^2:[0-9]*		n2$" "$T/keys.out" || fail "n2 not on partition 2: $(cat "$T/keys.out")"

# describe: the END offsets add up to every record produced.
run 0 describe "$TERN" topic describe t --brokers "$B"
[ "$(grep -c '^t ' "$T/describe.out")" -eq 3 ] || fail "describe: $(cat "$T/describe.out")"
total=$(awk '$1 == "t" { n += $6 } END { print n }' "$T/describe.out")
[ "$total" -eq 106 ] || fail "describe counts $total records: $(cat "$T/describe.out")"
end0=$(awk '$1 == "t" && $2 == 0 { print $6 }' "$T/describe.out")
run 3 part0 "$TERN" consume t --partition 0 --from-beginning --timeout 1 --brokers "$B"
[ "$(wc -l <"$T/part0.out")" -eq "$end0" ] || fail "partition 0 gave $(wc -l <"$T/part0.out"), END says $end0"

# A group reads everything once, then nothing, then only what is new.
run 3 g1 "$TERN" consume t --group g --from-beginning --timeout 1.5 --brokers "$B"
[ "$(wc -l <"$T/g1.out")" -eq 106 ] || fail "group run 1 got $(wc -l <"$T/g1.out") records"
has "$T/g1.err" "nothing arrived for 1.5 s"
run 3 g2 "$TERN" consume t --group g --from-beginning --timeout 1.5 --brokers "$B"
[ ! -s "$T/g2.out" ] || fail "group run 2 got again: $(cat "$T/g2.out")"
printf 'new1\nnew2\nnew3\n' | run 0 more "$TERN" produce t --brokers "$B"
run 3 g3 "$TERN" consume t --group g --timeout 1.5 --brokers "$B"
sort "$T/g3.out" >"$T/g3.sorted"
printf 'new1\nnew2\nnew3\n' >"$T/want3"
same "$T/want3" "$T/g3.sorted"

# SIGTERM: the member commits what it printed and leaves; the next one
# resumes after it.
bg sig "$TERN" consume t --group h --from-beginning --brokers "$B"
sig=$pid
appears "$T/sig.out" new3
lines_reach "$T/sig.out" 109
kill -TERM "$sig"
await 0 sig "$sig"
run 3 after "$TERN" consume t --group h --timeout 1 --brokers "$B"
[ ! -s "$T/after.out" ] || fail "after SIGTERM the group read again: $(cat "$T/after.out")"

# With librdkafka (kcat) as the peer: keys land on the partitions its
# murmur2 partitioner picks, and a tern member and a kcat member share a
# group (each decodes the other's subscription and assignment), every
# record read once.
run 0 ktopic "$TERN" topic create keys --partitions 7 --brokers "$B"
seq 1 40 | sed 's/^/key-/; s/$/:v/' >"$T/kv"
kcat -P -b "$B" -t keys -K : -X topic.partitioner=murmur2_random -l "$T/kv"
run 0 kprod "$TERN" produce keys --key-separator : --brokers "$B" <"$T/kv"
kcat -C -b "$B" -t keys -o beginning -e -q -f '%k %p\n' >"$T/kparts"
[ "$(wc -l <"$T/kparts")" -eq 80 ] || fail "kcat read $(wc -l <"$T/kparts") of 80 records"
[ "$(sort -u "$T/kparts" | wc -l)" -eq 40 ] || fail "tern and librdkafka disagree on partitions"
TERN_TRACE=broker bg mixt "$TERN" consume keys --group mix --brokers "$B"
mixt=$pid
appears "$T/mixt.err" "assigned 7 partitions"
bg mixk kcat -b "$B" -G mix -u -q -X auto.offset.reset=latest -f '%s\n' keys
mixk=$pid
appears "$T/mixt.err" "generation 2"
seq 1 60 | sed 's/.*/m&:v&/' | run 0 mixp "$TERN" produce keys --key-separator : --brokers "$B"
i=0
while [ "$(cat "$T/mixt.out" "$T/mixk.out" | wc -l)" -lt 60 ]; do
    [ $i -lt 200 ] || fail "the group read $(cat "$T/mixt.out" "$T/mixk.out" | wc -l) of 60"
    sleep 0.05
    i=$((i + 1))
done
[ -s "$T/mixt.out" ] && [ -s "$T/mixk.out" ] || fail "one member got nothing"
[ -z "$(cat "$T/mixt.out" "$T/mixk.out" | sort | uniq -d)" ] || fail "records read twice"
kill -TERM "$mixt"
await 0 mixt "$mixt"
kill -TERM "$mixk"
await 0 mixk "$mixk"

# Usage errors exit 2; an unreachable broker and a missing topic exit 1.
run 2 verb "$TERN" topic frobnicate --brokers "$B"
run 2 notopic "$TERN" produce --brokers "$B"
run 2 acks "$TERN" produce t --acks 2 --brokers "$B"
run 2 both "$TERN" produce t --key k --key-separator : --brokers "$B"
run 2 tmo "$TERN" consume t --timeout soon --brokers "$B"
run 2 stray "$TERN" topic list --partitions 3 --brokers "$B"
run 1 away "$TERN" topic list --brokers 127.0.0.1:1
has "$T/away.err" "tern topic: cannot reach broker 127.0.0.1:1: connection refused"
run 1 awayc "$TERN" consume t --brokers 127.0.0.1:1
has "$T/awayc.err" "tern consume: cannot reach broker 127.0.0.1:1"
run 1 missing "$TERN" topic describe nosuch --brokers "$B"
has "$T/missing.err" "no topic 'nosuch'"

# Deleting: gone from the list, describe fails, a second delete too.
run 0 delete "$TERN" topic delete t --brokers "$B"
run 0 list2 "$TERN" topic list --brokers "$B"
! grep -qx t "$T/list2.out" || fail "t still listed after delete"
run 1 gone "$TERN" topic describe t --brokers "$B"
run 1 delete2 "$TERN" topic delete t --brokers "$B"

kill -TERM "$broker"
await 0 broker "$broker"
