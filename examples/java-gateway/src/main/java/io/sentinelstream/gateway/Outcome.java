package io.sentinelstream.gateway;

import org.apache.avro.generic.GenericRecord;

/** What became of the produced transaction: its decision, or the dead letter that refused it. */
record Outcome(GenericRecord decision, GenericRecord deadLetter) {
    static Outcome decided(GenericRecord decision) {
        return new Outcome(decision, null);
    }

    static Outcome refused(GenericRecord deadLetter) {
        return new Outcome(null, deadLetter);
    }
}
