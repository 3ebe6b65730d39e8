"""The local PostgreSQL server: its own cluster on loopback, the project's role and database.

The cluster trusts connections on its own Unix socket, which lives in the data directory
(mode 0700: only the server's user, and root, can reach it). That is how the stack sets the
superuser's password to the configured one on a cluster initialised with another (a `.stack/`
from before the generated passwords): no old password is needed, nothing is lost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from deploy.local.process import tail, wait_until
from deploy.local.settings import LOOPBACK, StackSettings
from deploy.local.system import StackError, postgres_bindir
from ledger_sink import roles


def _dsn_parts(dsn: str) -> dict[str, str]:
    return {key: str(value) for key, value in conninfo_to_dict(dsn).items() if value is not None}


class PostgresService:
    """initdb once, pg_ctl start/stop, and an idempotent role and database for the app."""

    name = "postgres"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        base = settings.postgres_data_dir()
        self.data = base / "data"
        # The server (not root) writes this log, so it lives beside the data, where the
        # server's user can reach it; .stack/logs links to it.
        self.log_file = base / "postgres.log"
        self.app = _dsn_parts(settings.postgres.dsn.get_secret_value())
        self.admin_dsn = settings.postgres.admin_dsn.get_secret_value()
        self.admin = _dsn_parts(self.admin_dsn)
        if self.admin.get("host", "127.0.0.1") not in LOOPBACK:
            raise StackError("the local PostgreSQL binds to loopback only")

    @property
    def address(self) -> str:
        return f"{self.admin.get('host', '127.0.0.1')}:{self.admin.get('port', '5432')}"

    def prepare(self) -> None:
        self._link_log()
        if (self.data / "PG_VERSION").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        self._own(self.data)
        with tempfile.NamedTemporaryFile("w", suffix=".pw", delete=False) as pwfile:
            pwfile.write(self.admin.get("password", "postgres") + "\n")
        self._own(Path(pwfile.name))
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                self.admin.get("user", "postgres"),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile.name}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            os.unlink(pwfile.name)

    def start(self) -> None:
        # The server writes its own log; make sure its user may append to it.
        self.log_file.touch()
        self._own(self.log_file)
        opts = " ".join(
            [
                f"-c listen_addresses={self.admin.get('host', '127.0.0.1')}",
                f"-p {self.admin.get('port', '5432')}",
                f"-c unix_socket_directories={self.data}",
                f"-c shared_buffers={self.settings.postgres_shared_buffers}",
                f"-c max_connections={self.settings.postgres_max_connections}",
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-o", opts, "-W", "start"
        )

    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError, PermissionError):
            return None
        from deploy.local.process import runs

        return pid if runs(pid, "postgres") else None

    def answers(self) -> bool:
        return _answers(make_conninfo(self.admin_dsn, connect_timeout=2))

    def local_conninfo(self) -> str:
        """The superuser over the cluster's own socket, where it trusts local connections."""
        return make_conninfo(
            host=str(self.data),
            port=self.admin.get("port", "5432"),
            user=self.admin.get("user", "postgres"),
            dbname="postgres",
            connect_timeout=2,
        )

    def secure(self, timeout_s: float) -> list[str]:
        """Give the superuser the configured password if it does not log in with it; what
        it changed. Waits (up to ``timeout_s``) for the server, which may be starting."""
        if not wait_until(lambda: self.answers() or _answers(self.local_conninfo()), timeout_s):
            raise StackError(
                f"postgres did not answer on {self.address} nor on its socket within "
                f"{timeout_s:.0f} s; its log is {self.log_file}. Last lines:\n{tail(self.log_file)}"
            )
        if self.answers() or "password" not in self.admin:
            return []  # no password configured: a .pgpass or PGPASSWORD is the user's own
        user = self.admin.get("user", "postgres")
        with psycopg.connect(self.local_conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(self.admin.get("password", ""))
                )
            )
        return [f"PostgreSQL role {user}: password set to SENTINEL_POSTGRES_ADMIN_DSN's"]

    def after_start(self) -> None:
        """Create the application's role and database, and the services' roles (idempotent)."""
        user, password, dbname = self.app["user"], self.app.get("password", ""), self.app["dbname"]
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(password)
                )
            )
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(dbname), sql.Identifier(user)
                    )
                )
        # The services' groups and the configured login roles: the migrations grant to the
        # groups, and the migration role (the database owner) may not create roles itself.
        roles.provision(self.admin_dsn, roles.RuntimeRoles())

    def stop(self) -> bool:
        if self.pid() is None:
            return False
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(self.settings.stop_timeout_s)),
            "stop",
        )
        return True

    def purge(self) -> None:
        shutil.rmtree(self.data.parent, ignore_errors=True)

    def _link_log(self) -> None:
        self.settings.logs.mkdir(parents=True, exist_ok=True)
        link = self.settings.logs / "postgres.log"
        if link.resolve() != self.log_file.resolve():
            link.unlink(missing_ok=True)
            link.symlink_to(self.log_file)

    def _run(self, tool: str, *args: str) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise StackError("PostgreSQL server binaries not found: apt-get install postgresql")
        argv = [str(bindir / tool), *args]
        if os.geteuid() == 0:
            # The server refuses to run as root: run it as the package's own user.
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd="/")  # noqa: S603
        if done.returncode != 0:
            raise StackError(f"{tool} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")

    @staticmethod
    def _own(path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")


def _answers(conninfo: str) -> bool:
    """Whether a server takes a login and a query there."""
    try:
        with psycopg.connect(conninfo) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False
