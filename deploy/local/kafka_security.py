"""The local broker's security: its CA and certificate, the SASL_SSL listener with SCRAM,
the StandardAuthorizer, the per-service principals and what a client needs to use them.

Every local broker runs a SASL_SSL listener (TLS with the stack's own CA, SCRAM-SHA-512)
and KRaft's ``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``: a
principal may do only what ``deploy.acls`` grants it. Beside it, unless
``SENTINEL_STACK_KAFKA_DEV_LISTENER=false``, the loopback PLAINTEXT listener stays on the
client port for development and the test suites; its ANONYMOUS principal is a super user
(a dev convenience, never a production setting). The controller listener stays internal.

``kafka.py`` renders each node's properties and merges ``broker_properties`` into them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from deploy.acls import ADMIN
from deploy.local.kafka_cluster import sasl_bootstrap
from deploy.local.secret_file import replace_private, write_private
from deploy.local.settings import StackSettings
from deploy.local.system import StackError
from schemas import kafka_edge
from schemas.connections import KafkaConnection

if TYPE_CHECKING:
    from concurrent.futures import Future

    from confluent_kafka.admin import AdminClient

SASL_SSL = "SASL_SSL"
MECHANISM = "SCRAM-SHA-512"
# SCRAM's work factor: Kafka's minimum is 4096; 8192 is what its own tools default to.
SCRAM_ITERATIONS = 8192
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
# The stack's own CA lives ten years; the broker's certificate two (browsers' limit, which
# some TLS stacks apply to every server certificate).
CA_DAYS, BROKER_DAYS = 3650, 825


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The PEM files of a stack's TLS: clients trust ``ca``; the broker presents ``keystore``
    (its encrypted key and certificate chain), opened with the password in ``key_password``."""

    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def keystore(self) -> Path:
        return self.dir / "broker-keystore.pem"

    @property
    def key_password(self) -> Path:
        return self.dir / "broker-key.password"

    def complete(self) -> bool:
        return all(p.is_file() for p in (self.ca, self.ca_key, self.keystore, self.key_password))


def tls_files(stack_dir: Path) -> TlsFiles:
    return TlsFiles(stack_dir / "kafka" / "tls")


def _openssl(*args: str, cwd: Path) -> None:
    # The openssl command, not the `cryptography` package: that is not among the project's
    # dependencies (yet), and Debian ships openssl wherever Python runs.
    binary = shutil.which("openssl")
    if binary is None:
        raise StackError("openssl is missing: apt-get install -y openssl")
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [binary, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise StackError(f"openssl {' '.join(args)} failed:\n{done.stderr[-1500:]}")


def ensure_certificates(files: TlsFiles, password: str) -> TlsFiles:
    """Create the CA and the broker's certificate (SAN 127.0.0.1, localhost) once; private
    keys are 0600. Kafka reads PEM (``ssl.keystore.type=PEM``) and, for a PEM key file,
    insists on an encrypted key: hence ``password``, kept in ``key_password``."""
    if files.complete():
        return files
    files.dir.mkdir(parents=True, exist_ok=True)
    os.chmod(files.dir, 0o700)
    for stale in files.dir.iterdir():  # a half-made set from an interrupted run
        stale.unlink()
    write_private(files.key_password, password + "\n")
    _make_ca(files)
    _make_broker_certificate(files)
    return files


def _make_ca(files: TlsFiles) -> None:
    write_private(files.ca_key, "")  # 0600 before openssl writes the key into it
    _openssl(
        *("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
        *("-noenc", "-keyout", files.ca_key.name, "-out", files.ca.name),
        *("-days", str(CA_DAYS), "-subj", "/CN=SentinelStream local CA"),
        *("-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        cwd=files.dir,
    )


def _make_broker_certificate(files: TlsFiles) -> None:
    key, csr, cert = "broker.key", "broker.csr", "broker.pem"
    write_private(files.dir / key, "")
    pass_arg = f"file:{files.key_password.name}"
    plain = files.dir / "broker-plain.key"
    write_private(plain, "")
    _openssl(
        *("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"),
        *("-out", plain.name),
        cwd=files.dir,
    )
    # Encrypted PKCS#8 with PBES1 (SHA1 + 3DES): the JDK's PBE reads no PBES2 ("PBES2
    # SecretKeyFactory not available", Java 17). It guards a 0600 file whose password sits
    # beside it: the file mode is the protection, the encryption Kafka's requirement.
    _openssl(
        *("pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES", "-in", plain.name),
        *("-passout", pass_arg, "-out", key),
        cwd=files.dir,
    )
    plain.unlink()
    _openssl(
        *("req", "-new", "-key", key, "-passin", pass_arg, "-subj", "/CN=localhost"),
        *("-out", csr),
        cwd=files.dir,
    )
    extensions = files.dir / "broker.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl(
        *("x509", "-req", "-in", csr, "-CA", files.ca.name, "-CAkey", files.ca_key.name),
        *("-CAcreateserial", "-days", str(BROKER_DAYS), "-sha256"),
        *("-extfile", extensions.name, "-out", cert),
        cwd=files.dir,
    )
    chain = (files.dir / key).read_text() + (files.dir / cert).read_text() + files.ca.read_text()
    replace_private(files.keystore, chain)
    for scratch in (csr, "ca.srl", extensions.name, key):
        (files.dir / scratch).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class BrokerSecurity:
    """What a node's properties need to run the SASL_SSL listener and the authorizer."""

    files: TlsFiles
    key_password: str
    # The admin principal: super user, and the brokers' own SCRAM identity when they talk
    # to each other over SASL_SSL (no dev listener).
    admin_user: str
    admin_password: str
    dev_listener: bool = True


def broker_properties(
    props: Mapping[str, str], security: BrokerSecurity, host: str, sasl_port: int
) -> dict[str, str]:
    """``props`` (one node's, as kafka.py renders them) with the SASL_SSL listener on
    ``sasl_port`` added, the authorizer on, and the PLAINTEXT listener kept only as the dev
    listener."""
    merged = dict(props)
    listener = f"{SASL_SSL}://{host}:{sasl_port}"
    merged["listeners"] = _with_listener(props["listeners"], listener, security.dev_listener)
    advertised = _with_listener(props["advertised.listeners"], listener, security.dev_listener)
    merged["advertised.listeners"] = advertised
    merged["listener.security.protocol.map"] += f",{SASL_SSL}:{SASL_SSL}"
    merged.update(_tls(security))
    merged.update(_sasl(security))
    merged.update(_authorizer(security))
    if not security.dev_listener:
        merged["inter.broker.listener.name"] = SASL_SSL
        merged["sasl.mechanism.inter.broker.protocol"] = MECHANISM
    return merged


def _with_listener(listeners: str, listener: str, dev_listener: bool) -> str:
    kept = [
        item for item in listeners.split(",") if dev_listener or item.split(":")[0] != "PLAINTEXT"
    ]
    return ",".join([*kept, listener])


def _tls(security: BrokerSecurity) -> dict[str, str]:
    prefix = f"listener.name.{SASL_SSL.lower()}."
    return {
        f"{prefix}ssl.keystore.type": "PEM",
        f"{prefix}ssl.keystore.location": str(security.files.keystore),
        f"{prefix}ssl.key.password": security.key_password,
        # The brokers' own client side (inter-broker over SASL_SSL) trusts the stack's CA.
        f"{prefix}ssl.truststore.type": "PEM",
        f"{prefix}ssl.truststore.location": str(security.files.ca),
        f"{prefix}ssl.client.auth": "none",
    }


def _sasl(security: BrokerSecurity) -> dict[str, str]:
    prefix = f"listener.name.{SASL_SSL.lower()}."
    # The login module's options are the broker's own identity for inter-broker SCRAM.
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{security.admin_user}" password="{security.admin_password}";'
    )
    return {
        f"{prefix}sasl.enabled.mechanisms": MECHANISM,
        f"{prefix}{MECHANISM.lower()}.sasl.jaas.config": jaas,
    }


def _authorizer(security: BrokerSecurity) -> dict[str, str]:
    # ANONYMOUS is who the internal controller listener (and the dev listener) see: the
    # controller's own requests must pass, so it is a super user, on loopback only.
    supers = ["User:ANONYMOUS", f"User:{security.admin_user}"]
    return {
        "authorizer.class.name": AUTHORIZER,
        "allow.everyone.if.no.acl.found": "false",
        "super.users": ";".join(supers),
    }


def password_var(principal: str) -> str:
    """The variable (in ``.stack/sentinel.env``) that holds ``principal``'s SCRAM password."""
    return "SENTINEL_STACK_KAFKA_PASSWORD_" + principal.upper().replace("-", "_")


def new_passwords(values: Mapping[str, str], principals: Iterable[str]) -> dict[str, str]:
    """A new password (as variable -> value) for each principal ``values`` has none for."""
    from deploy.local.credentials import new_password

    missing = [p for p in principals if not values.get(password_var(p))]
    return {password_var(p): new_password() for p in missing}


def known_passwords(values: Mapping[str, str], principals: Iterable[str]) -> dict[str, str]:
    """The principals ``values`` holds a password for: the only ones the brokers may be
    given (one nobody kept must not replace the password its clients log in with)."""
    return {p: values[password_var(p)] for p in principals if values.get(password_var(p))}


def passwords(values: Mapping[str, str], principals: Iterable[str]) -> dict[str, str]:
    """Each principal's password from ``values``; one nobody kept (no env file to keep it
    in) gets a random one that lives as long as this process: its principal is unusable,
    as a secret nobody was told should be."""
    return {
        p: values.get(password_var(p)) or new_passwords({}, [p])[password_var(p)]
        for p in principals
    }


def principal_connection(settings: StackSettings, principal: str, password: str) -> KafkaConnection:
    """A client that is ``principal`` over every node's SASL_SSL listener, trusting the
    stack's CA."""
    return KafkaConnection(
        bootstrap_servers=sasl_bootstrap(settings),
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=principal,
        sasl_password=SecretStr(password),
        ssl_ca_file=tls_files(settings.dir).ca,
    )


def client_env(connection: KafkaConnection) -> dict[str, str]:
    """The ``SENTINEL_KAFKA_*`` variables a service's ``KafkaConnection`` reads back as
    ``connection`` (its topic prefix aside: that is the environment's, not the principal's)."""
    return {
        "SENTINEL_KAFKA_BOOTSTRAP_SERVERS": connection.bootstrap_servers,
        "SENTINEL_KAFKA_SECURITY_PROTOCOL": connection.security_protocol,
        "SENTINEL_KAFKA_SASL_MECHANISM": connection.sasl_mechanism,
        "SENTINEL_KAFKA_SASL_USERNAME": connection.sasl_username,
        "SENTINEL_KAFKA_SASL_PASSWORD": connection.sasl_password.get_secret_value(),
        "SENTINEL_KAFKA_SSL_CA_FILE": str(connection.ssl_ca_file or ""),
    }


def format_arguments(security: BrokerSecurity) -> list[str]:
    """kafka-storage format's arguments that create the admin principal with the cluster:
    without the dev listener it is the only way in to create the others."""
    credential = f"name={security.admin_user},password={security.admin_password}"
    return ["--add-scram", f"{MECHANISM}=[{credential},iterations={SCRAM_ITERATIONS}]"]


def principals_record(settings: StackSettings) -> Path:
    """What ``upsert_principals`` last gave this stack's cluster (fingerprints, no secret)."""
    return settings.dir / "kafka" / "principals.json"


@dataclass(frozen=True, slots=True)
class PrincipalChanges:
    """What ``upsert_principals`` wrote: every principal given its password, and among them
    those that had another password before (a rotation: their running clients lose access)."""

    written: tuple[str, ...]
    rotated: tuple[str, ...]


def upsert_principals(
    admin: AdminClient, users: Mapping[str, str], timeout_s: float, record: Path
) -> PrincipalChanges:
    """Give each principal its SCRAM-SHA-512 password where the brokers do not hold it yet.

    Writing a credential again, even with the same password, gives it a new salt, and a
    client of that principal in the middle of logging in then fails: ``stack up`` on a
    running cluster must leave unchanged credentials alone. SCRAM credentials cannot be
    read back, so what was applied is recorded in ``record`` as fingerprints, under the
    cluster's id (a record from a cluster since purged and formatted again is ignored).
    A principal is written when the brokers hold no SHA-512 credential at
    ``SCRAM_ITERATIONS`` for it, or when its password is not the one recorded."""
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    cluster = str(admin.describe_cluster(request_timeout=timeout_s).result(timeout_s).cluster_id)
    wanted = {user: _fingerprint(cluster, user, password) for user, password in users.items()}
    applied = _applied(record, cluster)
    held = _held(admin, list(users), timeout_s)
    stale = [user for user in users if user not in held or applied.get(user) != wanted[user]]
    if stale:
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        upserts: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(user, info, users[user].encode()) for user in stale
        ]
        futures = admin.alter_user_scram_credentials(upserts, request_timeout=timeout_s)
        for user, future in futures.items():
            try:
                future.result(timeout=timeout_s)
            except Exception as exc:
                raise StackError(f"could not set the SCRAM password of {user!r}: {exc}") from exc
        _await_held(admin, stale, timeout_s)
    merged = {**applied, **wanted}  # a principal not given here keeps its line
    if merged != applied:
        record.parent.mkdir(parents=True, exist_ok=True)
        replace_private(record, json.dumps({"cluster_id": cluster, "principals": merged}))
    rotated = tuple(user for user in stale if user in held and user in applied)
    return PrincipalChanges(written=tuple(stale), rotated=rotated)


def _fingerprint(cluster: str, user: str, password: str) -> str:
    return hashlib.sha256(f"{cluster}\0{user}\0{password}".encode()).hexdigest()


def _applied(record: Path, cluster: str) -> dict[str, str]:
    """The fingerprints recorded for ``cluster``; none for another cluster's record, or
    for a record that is missing or unreadable (every principal is then written again)."""
    try:
        found = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict) or found.get("cluster_id") != cluster:
        return {}
    principals = found.get("principals")
    return dict(principals) if isinstance(principals, dict) else {}


def _await_held(admin: AdminClient, users: list[str], timeout_s: float) -> None:
    """Wait until the broker describes ``users``' credentials: the alteration returns once
    the controller has it, a moment before the broker's metadata does (a client logging in
    then, or the next ``stack up``, would not find it yet)."""
    deadline = time.monotonic() + timeout_s
    while not _held(admin, users, timeout_s).issuperset(users):
        if time.monotonic() > deadline:
            raise StackError(f"the broker did not show the SCRAM credentials of {users} in time")
        time.sleep(0.05)


def _held(admin: AdminClient, users: list[str], timeout_s: float) -> set[str]:
    """The principals the brokers hold a SHA-512 credential for, at ``SCRAM_ITERATIONS``.
    A principal not found, or not described in time, counts as not held: writing it again
    is safe, only not free."""
    from confluent_kafka.admin import ScramMechanism

    # One future per user named (a single one only when asked for every user).
    futures = cast(
        "dict[str, Future[Any]]",
        admin.describe_user_scram_credentials(users, request_timeout=timeout_s),
    )
    held: set[str] = set()
    for user, future in futures.items():
        try:
            infos = future.result(timeout=timeout_s).scram_credential_infos
        except Exception:  # noqa: BLE001 - RESOURCE_NOT_FOUND above all: written below
            infos = []
        if any(
            i.mechanism == ScramMechanism.SCRAM_SHA_512 and i.iterations == SCRAM_ITERATIONS
            for i in infos
        ):
            held.add(user)
    return held


def known_values() -> dict[str, str]:
    """The stack's configuration file under this process's environment (which wins)."""
    from deploy.local import envfile

    return {**envfile.file_values(), **os.environ}


def admin_connection(settings: StackSettings, admin_password: str) -> KafkaConnection:
    """How the stack itself reaches its broker: the dev listener while there is one (its
    ANONYMOUS principal is a super user), else the admin principal over SASL_SSL."""
    if settings.kafka_dev_listener:
        return KafkaConnection(bootstrap_servers=settings.kafka.bootstrap_servers)
    return principal_connection(settings, ADMIN, admin_password)


def secure_cluster(
    settings: StackSettings, admin_password: str, users: Mapping[str, str], timeout_s: float = 30.0
) -> PrincipalChanges:
    """Each principal of ``users`` with its password, and the ACL table for the stack's
    topic prefix."""
    from deploy import acls

    # log_level 4 (warnings and worse): `stack up` printed librdkafka's info line about
    # background events nobody waited for, purged as the client closed.
    admin = kafka_edge.admin(admin_connection(settings, admin_password), log_level=4)
    changes = upsert_principals(admin, users, timeout_s, principals_record(settings))
    await_logins(settings, {user: users[user] for user in changes.written}, timeout_s)
    acls.apply(admin, settings.kafka.topic_prefix, timeout_s)
    return changes


def await_logins(settings: StackSettings, users: Mapping[str, str], timeout_s: float) -> None:
    """Wait until every broker lets each of ``users`` log in with its password.

    The controller has committed a SCRAM change when the admin call returns; each broker
    applies it from the metadata log a moment later. A service started in between (the
    pipeline right after ``stack up``) would be refused once, and for a rotation
    ``upsert_principals``' wait sees nothing to wait for: the broker describes the old
    credential already."""
    deadline = time.monotonic() + timeout_s
    for node in sasl_bootstrap(settings).split(","):
        for user, password in users.items():
            one = principal_connection(settings, user, password)
            while not logs_in(one.model_copy(update={"bootstrap_servers": node})):
                if time.monotonic() > deadline:
                    raise StackError(
                        f"the broker at {node} did not take {user!r}'s password in time"
                    )
                time.sleep(0.1)


def logs_in(connection: KafkaConnection) -> bool:
    """Whether a broker of ``connection`` answers a metadata request (no ACL needed) from its
    principal: False once a broker refuses the login, or when none answers within ~10 s."""
    refused: list[str] = []

    def heard(error: Any) -> None:
        if kafka_edge.refusal(connection, error) is not None:
            refused.append(error.str())

    # log_level 2: a refusal is expected while a broker catches up; librdkafka would print
    # each at error level (3).
    client = kafka_edge.admin(connection, error_cb=heard, log_level=2)
    for _ in range(20):
        try:
            client.list_topics(timeout=0.5)
            return True
        except Exception:  # noqa: BLE001 - not answered yet, or refused: told apart below
            client.poll(0.1)  # serves error_cb
            if refused:
                return False
    return False
