"""The HTTP front door: FastAPI ingest, authorize, read side and rules admin."""
