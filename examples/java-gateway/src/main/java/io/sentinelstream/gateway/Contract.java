package io.sentinelstream.gateway;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

/**
 * SentinelStream's wire contract (docs/schema-contract.md): topic names, the header that names
 * a decision's transaction, and Confluent framing (magic byte 0, 4-byte big-endian schema id,
 * Avro binary) with the fixed id table, schema id = record code * 1000 + version.
 */
final class Contract {
    static final String TRANSACTIONS = "transactions";
    static final String DECISIONS = "decisions";
    static final String DEAD_LETTER = "dead-letter";
    static final String HEADER_TRANSACTION_ID = "transaction-id";
    static final int TRANSACTION_VERSION = 2;

    // The record codes this gateway writes or reads; checked against schemas/registry.py by
    // tests/unit/examples/test_java_gateway_contract.py. Codes are never reused.
    static final Map<String, Integer> RECORD_CODES = Map.ofEntries(
            Map.entry("transaction", 1),
            Map.entry("decision", 2),
            Map.entry("dead_letter", 6));

    private static final byte MAGIC_BYTE = 0;
    private static final int HEADER_SIZE = 5;

    private Contract() {}

    static int schemaId(String record, int version) {
        return RECORD_CODES.get(record) * 1000 + version;
    }

    /** The schema of {@code record} at {@code version}, from the classpath's /avro/*.avsc. */
    static Schema schema(String record, int version) {
        String path = "/avro/" + record + ".v" + version + ".avsc";
        try (InputStream in = Contract.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new GatewayException(GatewayException.UNREADABLE,
                        "no schema " + path + " in this build: rebuild it against the current schemas/avro", null);
            }
            return new Schema.Parser().parse(in);
        } catch (IOException e) {
            throw new GatewayException(GatewayException.UNREADABLE, "cannot read " + path, e);
        }
    }

    /** {@code value} framed: the header of {@code record} v{@code version}, then its Avro body. */
    static byte[] encode(String record, int version, GenericRecord value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(MAGIC_BYTE);
        out.writeBytes(ByteBuffer.allocate(4).putInt(schemaId(record, version)).array());
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        try {
            new GenericDatumWriter<GenericRecord>(value.getSchema()).write(value, encoder);
            encoder.flush();
        } catch (IOException | RuntimeException e) {
            throw new GatewayException(GatewayException.USAGE, record + " does not fit its schema: " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    /** A framed message that must hold {@code record}, read with the schema it was written with. */
    static GenericRecord decode(String record, byte[] data) {
        if (data == null || data.length < HEADER_SIZE || data[0] != MAGIC_BYTE) {
            throw new GatewayException(GatewayException.UNREADABLE, "not a Confluent-framed Avro message", null);
        }
        int id = ByteBuffer.wrap(data, 1, 4).getInt();
        int code = RECORD_CODES.get(record);
        if (id / 1000 != code) {
            throw new GatewayException(GatewayException.UNREADABLE, "expected a " + record + ", got schema id " + id, null);
        }
        Schema writer = schema(record, id % 1000);
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(data, HEADER_SIZE, data.length - HEADER_SIZE, null);
        try {
            return new GenericDatumReader<GenericRecord>(writer).read(null, decoder);
        } catch (IOException | RuntimeException e) {
            throw new GatewayException(GatewayException.UNREADABLE,
                    record + " (schema id " + id + ") does not decode: " + e.getMessage(), e);
        }
    }
}
