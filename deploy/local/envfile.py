"""The local deployment's one configuration file, ``.stack/sentinel.env``.

``make up`` writes it (``sentinel stack up``) with the addresses, topic prefix, database
and model registry its services run with; every ``sentinel`` command loads it before
building its settings, so a command typed at the repository root sees what the running
services see. Variables already set in the environment win over the file, and
``SENTINEL_ENV_FILE`` names another file (empty: none, as the test suites run).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dotenv import dotenv_values, load_dotenv

from deploy.local.settings import StackSettings
from ingest_api.settings import ApiSettings
from schemas.webhook_targets import LOOPBACK_NETWORKS

ENV_FILE_VAR = "SENTINEL_ENV_FILE"


def env_file_path() -> Path | None:
    """Where the configuration file is, or None when ``SENTINEL_ENV_FILE`` is empty."""
    named = os.environ.get(ENV_FILE_VAR)
    if named is not None:
        return Path(named) if named else None
    return StackSettings().dir / "sentinel.env"


def load() -> Path | None:
    """Load the file into this process's environment (never over a variable already set)."""
    path = env_file_path()
    if path is None or not path.is_file():
        return None
    load_dotenv(path, override=False)
    return path


def local_configuration(settings: StackSettings) -> dict[str, str]:
    """The values every service of the local deployment and every command must agree on."""
    api = ApiSettings()
    return {
        "SENTINEL_STACK_DIR": str(settings.dir),
        "SENTINEL_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "SENTINEL_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "SENTINEL_POSTGRES_DSN": settings.postgres.dsn.get_secret_value(),
        "SENTINEL_REDIS_URL": settings.redis.url.get_secret_value(),
        "SENTINEL_API_HOST": api.host,
        "SENTINEL_API_PORT": str(api.port),
        "SENTINEL_AGENTS_MODEL_REGISTRY": str(settings.dir / "models"),
        # The local demo's webhook receivers listen on this machine over plain http: what
        # the webhook target policy refuses everywhere it is not said explicitly.
        "SENTINEL_WEBHOOKS_ALLOW_HTTP": "true",
        "SENTINEL_WEBHOOKS_ALLOWED_NETWORKS": LOOPBACK_NETWORKS,
    }


def write(settings: StackSettings) -> Path | None:
    """Write (or refresh) the file from the settings in force; keep lines a user added."""
    path = env_file_path()
    if path is None:
        return None
    values = (
        {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    )
    values.update(local_configuration(settings))
    _generate_pepper(values, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# The local deployment's configuration: written by `make up`, read by every\n"
    header += "# `sentinel` command. Environment variables win over these lines.\n"
    body = "".join(f"{key}={_quoted(value)}\n" for key, value in sorted(values.items()))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(header + body)
    tmp.chmod(0o600)  # it holds the database and Redis passwords
    tmp.replace(path)
    return path


PEPPER_VAR = "SENTINEL_API_API_KEY_PEPPER"


def _generate_pepper(values: dict[str, str], settings: StackSettings) -> None:
    """Give a new checkout's stack an API-key pepper of its own, never the public default.

    Only once, and only before the demo key exists: a key is stored as its hash under the
    pepper, so changing the pepper of a running stack would lock out every key it has.
    (PostgreSQL's and Redis's passwords stay the loopback defaults: the test suites reach
    the same servers without this file.)
    """
    if PEPPER_VAR in values or (settings.dir / "demo" / "api-key").exists():
        return
    values[PEPPER_VAR] = secrets.token_urlsafe(32)


def _quoted(value: str) -> str:
    """Quoted as python-dotenv reads it back: single quotes are literal, double quotes
    take backslash escapes (for a value that holds a single quote)."""
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
