package io.sentinelstream.gateway;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * The Kafka connection, read from the same SENTINEL_KAFKA_* variables as every SentinelStream
 * service, turned into kafka-clients properties (bootstrap, TLS against a PEM CA, SASL/SCRAM).
 */
final class GatewayConfig {
    private static final Set<String> PROTOCOLS = Set.of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL");
    private static final Set<String> MECHANISMS = Set.of("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN");

    final String bootstrapServers;
    final String topicPrefix;
    final String securityProtocol;
    final String saslMechanism;
    final String saslUsername;
    final String saslPassword;
    final String sslCaFile;

    private GatewayConfig(Map<String, String> env) {
        bootstrapServers = env.getOrDefault("SENTINEL_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092");
        topicPrefix = env.getOrDefault("SENTINEL_KAFKA_TOPIC_PREFIX", "");
        securityProtocol = oneOf(env, "SENTINEL_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", PROTOCOLS);
        saslMechanism = oneOf(env, "SENTINEL_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", MECHANISMS);
        saslUsername = env.getOrDefault("SENTINEL_KAFKA_SASL_USERNAME", "");
        saslPassword = env.getOrDefault("SENTINEL_KAFKA_SASL_PASSWORD", "");
        sslCaFile = env.getOrDefault("SENTINEL_KAFKA_SSL_CA_FILE", "");
    }

    static GatewayConfig fromEnvironment(Map<String, String> env) {
        return new GatewayConfig(env);
    }

    String topic(String name) {
        return topicPrefix + name;
    }

    /** Connection and security properties shared by the producer and the consumer. */
    Properties clientProperties() {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrapServers);
        props.put("security.protocol", securityProtocol);
        props.put("client.id", "sentinel-java-gateway");
        if (securityProtocol.startsWith("SASL_")) {
            props.put("sasl.mechanism", saslMechanism);
            props.put("sasl.jaas.config", jaasConfig());
        }
        if (securityProtocol.endsWith("SSL") && !sslCaFile.isEmpty()) {
            if (!Files.isReadable(Path.of(sslCaFile))) {
                throw new GatewayException("SENTINEL_KAFKA_SSL_CA_FILE " + sslCaFile + " is not a readable file");
            }
            // kafka-clients reads a PEM CA directly: no keystore to build.
            props.put("ssl.truststore.type", "PEM");
            props.put("ssl.truststore.location", sslCaFile);
        }
        return props;
    }

    private String jaasConfig() {
        if (saslUsername.isEmpty()) {
            throw new GatewayException("SENTINEL_KAFKA_SASL_USERNAME is required with " + securityProtocol);
        }
        String module = saslMechanism.equals("PLAIN")
                ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                : "org.apache.kafka.common.security.scram.ScramLoginModule";
        return module + " required username=\"" + quoted(saslUsername)
                + "\" password=\"" + quoted(saslPassword) + "\";";
    }

    // JAAS values are double-quoted strings: a quote or backslash in a password is escaped.
    private static String quoted(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private static String oneOf(Map<String, String> env, String name, String fallback, Set<String> allowed) {
        String value = env.getOrDefault(name, fallback).toUpperCase(Locale.ROOT);
        if (!allowed.contains(value)) {
            throw new GatewayException(name + "=" + value + " is not one of " + allowed);
        }
        return value;
    }
}
