"""Contracts every part shares: Avro schemas, record types, codec, topics, connections."""
