"""The faust-streaming app: per-account features, rules, model scoring and decision policy."""
