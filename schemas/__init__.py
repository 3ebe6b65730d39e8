"""Contracts every part shares: Avro schemas, record types, codec, topics, connections."""

from schemas.native import check_fresh

check_fresh()  # a compiled module older than its source would run code no longer there
