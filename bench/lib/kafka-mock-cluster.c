/*
 * A librdkafka mock cluster with one topic of many partitions, for the stream benchmark: kcat's
 * mock auto-creates topics with few partitions, and the mock keeps about 5 MiB a partition, so a
 * replay of millions of events needs a topic spread over enough partitions to keep them all.
 *
 *   kafka-mock-cluster TOPIC PARTITIONS
 *
 * Prints the bootstrap address on stdout, then serves until its stdin closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s TOPIC PARTITIONS\n", argv[0]);
    return 2;
  }
  char error[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!rk) {
    fprintf(stderr, "cannot make a client for the mock cluster: %s\n", error);
    return 1;
  }
  rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, 1);
  if (!cluster) {
    fprintf(stderr, "cannot start a mock cluster\n");
    return 1;
  }
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, argv[1], atoi(argv[2]), 1);
  if (err) {
    fprintf(stderr, "cannot create topic %s: %s\n", argv[1], rd_kafka_err2str(err));
    return 1;
  }
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  fflush(stdout);
  while (getchar() != EOF) {
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
