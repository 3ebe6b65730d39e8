"""The SentinelStream schema as ordered alembic migrations (raw SQL); run them via migrate.py."""
