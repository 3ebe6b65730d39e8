package io.sentinelstream.gateway;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Conversions;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

/**
 * One transaction as a GenericRecord of transaction.v2.avsc, built from --name value options.
 * Only the schema's shape is checked here; the pipeline's validity rules (amount decimals per
 * currency, ISO codes, no card number...) are the agents' to apply: they dead-letter a record
 * that breaks one, and this gateway reports that letter.
 */
final class Transactions {
    private static final Map<String, String> DEFAULTS = Map.ofEntries(
            Map.entry("account-id", "acct-java-1"),
            Map.entry("card-token", "tok_java_gateway"),
            Map.entry("amount", "42.00"),
            Map.entry("currency", "INR"),
            Map.entry("merchant-id", "m-java-1"),
            Map.entry("country", "IN"),
            Map.entry("channel", "POS"),
            Map.entry("type", "debit"));
    // Optional string fields, null unless given.
    private static final String[] OPTIONAL = {"mcc", "city", "device-id", "ip", "merchant-name"};

    private Transactions() {}

    static GenericRecord build(Map<String, String> options) {
        Schema schema = Contract.schema("transaction", Contract.TRANSACTION_VERSION);
        Map<String, String> given = new HashMap<>(DEFAULTS);
        given.putAll(options);
        GenericRecord tx = new GenericData.Record(schema);
        tx.put("transaction_id", given.getOrDefault("transaction-id", UUID.randomUUID().toString()));
        for (String name : new String[] {"account-id", "card-token", "currency", "merchant-id", "country"}) {
            tx.put(field(name), given.get(name));
        }
        for (String name : OPTIONAL) {
            tx.put(field(name), given.get(name));
        }
        tx.put("amount", amount(schema.getField("amount").schema(), given.get("amount")));
        tx.put("channel", symbol(schema, "channel", given.get("channel").toUpperCase(Locale.ROOT)));
        tx.put("type", symbol(schema, "type", given.get("type").toLowerCase(Locale.ROOT)));
        tx.put("timestamp", timestamp(given.get("timestamp")));
        return tx;
    }

    private static String field(String option) {
        return option.replace('-', '_');
    }

    // decimal(18, 4) as bytes: the unscaled value at scale 4, big-endian two's complement.
    private static Object amount(Schema schema, String text) {
        LogicalTypes.Decimal decimal = (LogicalTypes.Decimal) schema.getLogicalType();
        BigDecimal value;
        try {
            value = new BigDecimal(text).setScale(decimal.getScale(), RoundingMode.UNNECESSARY);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new GatewayException("--amount " + text + " is not a decimal with at most "
                    + decimal.getScale() + " places");
        }
        if (value.precision() > decimal.getPrecision()) {
            throw new GatewayException("--amount " + text + " has more than " + decimal.getPrecision() + " digits");
        }
        return new Conversions.DecimalConversion().toBytes(value, schema, decimal);
    }

    private static Object symbol(Schema schema, String field, String value) {
        Schema enumSchema = schema.getField(field).schema();
        if (!enumSchema.hasEnumSymbol(value)) {
            throw new GatewayException("--" + field + " " + value + " is not one of " + enumSchema.getEnumSymbols());
        }
        return new GenericData.EnumSymbol(enumSchema, value);
    }

    // timestamp-millis: milliseconds since the epoch, UTC. Default: now.
    private static long timestamp(String text) {
        if (text == null) {
            return Instant.now().toEpochMilli();
        }
        try {
            return Instant.parse(text).toEpochMilli();
        } catch (DateTimeParseException e) {
            throw new GatewayException("--timestamp " + text + " is not an ISO-8601 instant such as 2026-01-31T12:00:00Z");
        }
    }

    static boolean knows(String option) {
        return DEFAULTS.containsKey(option) || option.equals("transaction-id") || option.equals("timestamp")
                || Arrays.asList(OPTIONAL).contains(option);
    }
}
