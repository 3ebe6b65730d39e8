"""The analyst console: a small web service of its own (ADR 0006), served under ``/console``."""
