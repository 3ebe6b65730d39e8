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
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values, load_dotenv

from deploy.local.secret_file import replace_private
from deploy.local.settings import StackSettings
from ingest_api.settings import ApiSettings
from schemas.webhook_targets import LOOPBACK_NETWORKS

ENV_FILE_VAR = "SENTINEL_ENV_FILE"
# Where the stack's servers are and the passwords they take: what a test suite, which reads
# nothing else of the file, needs to reach them (tests/conftest.py).
CONNECTION_VARS = (
    "SENTINEL_KAFKA_BOOTSTRAP_SERVERS",
    "SENTINEL_POSTGRES_DSN",
    "SENTINEL_POSTGRES_ADMIN_DSN",
    "SENTINEL_REDIS_URL",
)


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


def file_values(path: Path | None = None) -> dict[str, str]:
    """The file's lines as a mapping (none when there is no file)."""
    path = path if path is not None else env_file_path()
    if path is None or not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def connection_values() -> dict[str, str]:
    """The stack's addresses and passwords from the file, and nothing else of it."""
    values = file_values()
    return {name: values[name] for name in CONNECTION_VARS if name in values}


def local_configuration(settings: StackSettings) -> dict[str, str]:
    """The values every service of the local deployment and every command must agree on."""
    api = ApiSettings()
    return {
        "SENTINEL_STACK_DIR": str(settings.dir),
        "SENTINEL_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "SENTINEL_STACK_KAFKA_BROKERS": str(settings.kafka_brokers),
        "SENTINEL_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        # Where the services' SASL_SSL listener is (deploy.local.kafka_security).
        "SENTINEL_STACK_KAFKA_SASL_SSL_PORT": str(settings.kafka_sasl_ssl_port),
        "SENTINEL_POSTGRES_DSN": settings.postgres.dsn.get_secret_value(),
        "SENTINEL_POSTGRES_ADMIN_DSN": settings.postgres.admin_dsn.get_secret_value(),
        "SENTINEL_REDIS_URL": settings.redis.url.get_secret_value(),
        "SENTINEL_API_HOST": api.host,
        "SENTINEL_API_PORT": str(api.port),
        "SENTINEL_AGENTS_MODEL_REGISTRY": str(settings.dir / "models"),
        # The local demo's webhook receivers listen on this machine over plain http: what
        # the webhook target policy refuses everywhere it is not said explicitly.
        "SENTINEL_WEBHOOKS_ALLOW_HTTP": "true",
        "SENTINEL_WEBHOOKS_ALLOWED_NETWORKS": LOOPBACK_NETWORKS,
    }


def write(settings: StackSettings, extra: Mapping[str, str] | None = None) -> Path | None:
    """Write (or refresh) the file from the settings in force and ``extra`` (new secrets);
    keep lines a user added."""
    path = env_file_path()
    if path is None:
        return None
    values = file_values(path)
    values.update(local_configuration(settings))
    values.update(extra or {})
    _generate_pepper(values, settings)
    header = "# The local deployment's configuration: written by `make up`, read by every\n"
    header += "# `sentinel` command. Environment variables win over these lines.\n"
    body = "".join(f"{key}={_quoted(value)}\n" for key, value in sorted(values.items()))
    replace_private(path, header + body)  # it holds the database and Redis passwords
    return path


PEPPER_VAR = "SENTINEL_API_API_KEY_PEPPER"


def _generate_pepper(values: dict[str, str], settings: StackSettings) -> None:
    """Give a new checkout's stack an API-key pepper of its own, never the public default.

    Only once, and only before the demo key exists: a key is stored as its hash under the
    pepper, so changing the pepper of a running stack would lock out every key it has.
    (The PostgreSQL and Redis passwords are `sentinel stack up`'s: deploy.local.credentials.)
    """
    if PEPPER_VAR in values or settings.demo_api_key.exists():
        return
    values[PEPPER_VAR] = secrets.token_urlsafe(32)


def _quoted(value: str) -> str:
    """Quoted as python-dotenv reads it back: single quotes are literal, double quotes
    take backslash escapes (for a value that holds a single quote)."""
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
