"""The local stack: a real Kafka (KRaft), PostgreSQL and Redis on loopback, no Docker."""
