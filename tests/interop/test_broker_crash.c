/* Crash safety: `tern broker --fsync always` is killed with SIGKILL again
 * and again while a librdkafka idempotent producer (acks=all) sends to it.
 * Afterwards every record the producer saw acknowledged must be in the log
 * exactly once, and each partition must hold the records in the order they
 * were sent. */
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/kwire.h"

#define TOTAL 100000
#define ROUNDS 6

static char dir[64], errpath[128], bootstrap[64];
static int port;

/* Starts the broker; the first time on port 0, then on the same port. */
static pid_t start_broker(void)
{
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        execl(TERN_BIN, "tern", "broker", "--data", dir, "--listen", listen, "--fsync", "always",
              "--partitions", "2", (char *)NULL);
        _exit(127);
    }
    /* Wait for this run's startup line (the log keeps every run's); it
     * carries the port. */
    static int starts;
    starts++;
    for (int i = 0; i < 400; i++) {
        char line[512];
        int seen = 0;
        FILE *f = fopen(errpath, "r");
        while (f && fgets(line, sizeof line, f)) {
            const char *at = strstr(line, "listening on 127.0.0.1:");
            if (at && ++seen == starts) {
                port = atoi(at + strlen("listening on 127.0.0.1:"));
                snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d", port);
                fclose(f);
                return pid;
            }
        }
        if (f)
            fclose(f);
        test_sleep_ms(25);
    }
    fail_msg("the broker did not start");
    return -1;
}

struct acks {
    unsigned char acked[TOTAL];
    int ok, failed;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct acks *a = opaque;
    int i = (int)(intptr_t)m->_private;
    if (m->err) {
        a->failed++;
        return;
    }
    a->acked[i] = 1;
    a->ok++;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        fail_msg("%s=%s: %s", k, v, err);
}

static void test_kill9_under_load(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/tern-crash-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(errpath, sizeof errpath, "%s.err", dir);
    pid_t pid = start_broker();

    static struct acks a;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", bootstrap);
    if (getenv("TERN_TEST_RDKAFKA_DEBUG")) /* e.g. protocol,msg,eos */
        set(c, "debug", getenv("TERN_TEST_RDKAFKA_DEBUG"));
    set(c, "acks", "all");
    set(c, "enable.idempotence", "true");
    set(c, "linger.ms", "2");
    set(c, "message.timeout.ms", "120000");
    set(c, "reconnect.backoff.ms", "20");
    set(c, "reconnect.backoff.max.ms", "200");
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, &a);
    char err[256];
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    assert_non_null(p);

    srand(7);
    int next = 0, in_flight = 0;
    for (int round = 0; round < ROUNDS; round++) {
        /* Produce for a while, then kill the broker mid-stream. */
        int64_t until = (int64_t)(tern_clock_ns() / 1000000) + 150 + rand() % 400;
        while ((int64_t)(tern_clock_ns() / 1000000) < until && next < TOTAL) {
            char key[16], val[32];
            snprintf(key, sizeof key, "k%d", next % 97);
            snprintf(val, sizeof val, "value-%d", next);
            rd_kafka_resp_err_t e = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC("crash"), RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_OPAQUE((void *)(intptr_t)next), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                next++;
            rd_kafka_poll(p, e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? 5 : 0);
            if (next % 20 == 0)
                test_sleep_ms(1); /* about 15k records/s: the kill lands mid-stream */
        }
        in_flight += next - a.ok - a.failed;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        rd_kafka_poll(p, 50);
        pid = start_broker();
    }
    assert_int_equal(rd_kafka_flush(p, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
    fprintf(stderr,
            "sent %d, acknowledged %d, failed %d; %d unacknowledged when the %d kills came\n", next,
            a.ok, a.failed, in_flight, ROUNDS);
    assert_true(a.ok > 0);
    assert_true(in_flight > 0); /* otherwise the kills tested nothing */

    /* Read both partitions back from the start. */
    c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", bootstrap);
    set(c, "group.id", "crash-check");
    set(c, "enable.partition.eof", "true");
    rd_kafka_t *k = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    assert_non_null(k);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(l, "crash", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_topic_partition_list_add(l, "crash", 1)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(k, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    static int count[TOTAL];
    int last[2] = {-1, -1}, eofs = 0, idle = 0, disorder = 0;
    while (eofs < 2 && idle < 200) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k, 50);
        if (m == NULL) {
            idle++;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eofs++;
        else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            char val[32] = {0};
            memcpy(val, m->payload, m->len < 31 ? m->len : 31);
            int i = -1;
            if (sscanf(val, "value-%d", &i) == 1 && i >= 0 && i < TOTAL) {
                count[i]++;
                if (i <= last[m->partition])
                    disorder++;
                last[m->partition] = i;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(k);
    rd_kafka_destroy(k);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    int missing = 0, dup = 0;
    for (int i = 0; i < next; i++) {
        missing += a.acked[i] && count[i] == 0;
        dup += count[i] > 1;
    }
    fprintf(stderr, "read back: %d acknowledged missing, %d duplicated, %d out of order\n", missing,
            dup, disorder);
    assert_int_equal(eofs, 2);
    assert_int_equal(missing, 0);
    assert_int_equal(dup, 0);
    assert_int_equal(disorder, 0);
    kw_rm_tree(dir);
    unlink(errpath);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill9_under_load)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
