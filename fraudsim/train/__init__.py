"""Model training: stream features replayed offline, prequential validation, a published model."""
