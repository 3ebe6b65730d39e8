"""Webhook delivery: signed POSTs to subscribers, retried through Kafka, circuit-broken."""
