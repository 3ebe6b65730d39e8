package io.sentinelstream.gateway;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Produces one transaction to {@code <prefix>transactions} and prints its decision as one line
 * of JSON. Exit codes: 0 decided, 2 bad option or setting, 3 refused (dead-lettered, the
 * reason on stderr), 4 no decision within --timeout-s, 5 its decision or dead letter could not
 * be read (a schema newer than this build), 1 Kafka failed.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        try {
            System.exit(run(options(args), GatewayConfig.fromEnvironment(System.getenv())));
        } catch (GatewayException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(e.exitCode);
        }
    }

    private static int run(Map<String, String> options, GatewayConfig config) {
        Duration timeout = Duration.ofSeconds(seconds(options.remove("timeout-s")));
        GenericRecord tx = Transactions.build(options);
        String transactionId = tx.get("transaction_id").toString();
        try (DecisionWatcher watcher = new DecisionWatcher(config)) {
            RecordMetadata sent = produce(config, tx);
            System.err.printf("produced %s to %s-%d@%d%n", transactionId, sent.topic(), sent.partition(), sent.offset());
            Outcome outcome = watcher.await(transactionId, tx.get("account_id").toString(), sent, timeout);
            if (outcome == null) {
                System.err.println("error: no decision for " + transactionId + " within " + timeout.toSeconds() + " s");
                return 4;
            }
            if (outcome.deadLetter() != null) {
                System.err.println("refused: " + outcome.deadLetter().get("error_code") + ": "
                        + outcome.deadLetter().get("error_message"));
                return 3;
            }
            // Avro's own JSON rendering of the record (unions unwrapped, bytes as {"bytes": ...}).
            System.out.println(GenericData.get().toString(outcome.decision()));
            return 0;
        } catch (org.apache.kafka.common.KafkaException e) {
            System.err.println("error: Kafka: " + e.getMessage());
            return 1;
        }
    }

    /** Keyed by account id; Java's default partitioner puts it on murmur2(key) % partitions. */
    private static RecordMetadata produce(GatewayConfig config, GenericRecord tx) {
        Properties props = config.clientProperties();
        props.put("acks", "all");
        props.put("enable.idempotence", "true");
        String topic = config.topic(Contract.TRANSACTIONS);
        byte[] value = Contract.encode("transaction", Contract.TRANSACTION_VERSION, tx);
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
            return producer.send(new ProducerRecord<>(topic, tx.get("account_id").toString(), value)).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.KafkaException("interrupted while producing", e);
        } catch (ExecutionException e) {
            throw new org.apache.kafka.common.KafkaException(e.getCause().getMessage(), e.getCause());
        }
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            String name = args[i].startsWith("--") ? args[i].substring(2) : "";
            if (!(Transactions.knows(name) || name.equals("timeout-s")) || i + 1 >= args.length) {
                throw new GatewayException("usage: --<field> <value> ...; bad or incomplete option " + args[i]);
            }
            options.put(name, args[i + 1]);
        }
        return options;
    }

    private static long seconds(String text) {
        try {
            return text == null ? 60 : Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new GatewayException("--timeout-s " + text + " is not a whole number of seconds");
        }
    }
}
