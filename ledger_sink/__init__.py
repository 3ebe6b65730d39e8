"""Decisions into the immutable PostgreSQL ledger, its migrations, and webhook delivery."""
