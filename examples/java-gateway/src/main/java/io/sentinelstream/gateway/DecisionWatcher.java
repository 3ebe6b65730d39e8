package io.sentinelstream.gateway;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads the decisions and dead-letter topics from their ends, without a consumer group, until
 * the decision of one transaction (matched by the transaction-id header) or the dead letter of
 * its record (matched by source topic, partition and offset) arrives. Opened before the
 * transaction is produced, so neither can be missed.
 */
final class DecisionWatcher implements AutoCloseable {
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final String decisions;
    private final String deadLetter;

    DecisionWatcher(GatewayConfig config) {
        decisions = config.topic(Contract.DECISIONS);
        deadLetter = config.topic(Contract.DEAD_LETTER);
        Properties props = config.clientProperties();
        props.put("enable.auto.commit", "false");
        props.put("isolation.level", "read_committed");
        consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> partitions = new ArrayList<>();
        partitions.addAll(partitionsOf(decisions));
        partitions.addAll(partitionsOf(deadLetter));
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        // seekToEnd is lazy: resolve the positions now, before anything is produced.
        partitions.forEach(consumer::position);
    }

    private List<TopicPartition> partitionsOf(String topic) {
        List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
        if (infos == null || infos.isEmpty()) {
            throw new GatewayException("topic " + topic + " does not exist (is SENTINEL_KAFKA_TOPIC_PREFIX right?)");
        }
        return infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
    }

    /** The outcome of {@code transactionId} of {@code accountId}, produced as {@code sent};
     * null after {@code timeout}. */
    Outcome await(String transactionId, String accountId, RecordMetadata sent, Duration timeout) {
        byte[] key = accountId.getBytes(StandardCharsets.UTF_8);
        Instant deadline = Instant.now().plus(timeout);
        while (Instant.now().isBefore(deadline)) {
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                Outcome found = match(record, transactionId, key, sent);
                if (found != null) {
                    return found;
                }
            }
        }
        return null;
    }

    private Outcome match(ConsumerRecord<byte[], byte[]> record, String transactionId, byte[] key, RecordMetadata sent) {
        if (record.topic().equals(decisions)) {
            // The header names the transaction: other decisions are skipped undecoded.
            Header header = record.headers().lastHeader(Contract.HEADER_TRANSACTION_ID);
            if (header != null && transactionId.equals(new String(header.value(), StandardCharsets.UTF_8))) {
                return Outcome.decided(Contract.decode("decision", record.value()));
            }
            return null;
        }
        // A dead letter keeps its record's key: only letters of this account are decoded.
        if (!Arrays.equals(record.key(), key)) {
            return null;
        }
        GenericRecord letter = Contract.decode("dead_letter", record.value());
        boolean ours = letter.get("source_topic").toString().equals(sent.topic())
                && (int) letter.get("partition") == sent.partition()
                && (long) letter.get("offset") == sent.offset();
        return ours ? Outcome.refused(letter) : null;
    }

    @Override
    public void close() {
        consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
    }
}
