"""A private PostgreSQL server on a loopback port, for the tests, with password
authentication: this machine's server binaries where it has them (a fresh cluster from
``initdb`` in a temporary folder), else the postgres image docker-compose.yml runs, as a
container (``tests.support.containers``). Both stop, start and freeze the same way.

PostgreSQL refuses to run as root; run as root (CI, containers), the local server runs as
the ``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import abc
import shutil
from pathlib import Path
from typing import Any

import psycopg

from tests.support import ROOT

USER = "sink"
DATABASE = "readings"
PASSWORD = "test-only-password"
COMMAND_TIMEOUT_SECONDS = 60
# The project's own script that makes the sink's two roles (compose runs it at the
# postgres image's first start); here ``USER`` is the server's superuser, so the roles get
# names of their own.
ROLES_SCRIPT = ROOT / "deploy" / "postgres" / "initdb.d" / "10-sink-roles.sh"
MIGRATION_USER = "sink_owner"
RUNTIME_USER = "sink_writer"


class PostgresUnavailable(RuntimeError):
    pass


def binaries() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable(
        "the sink's tests need PostgreSQL's server binaries (initdb, pg_ctl): "
        "apt-get install postgresql"
    )


class PostgresServer(abc.ABC):
    """A server on 127.0.0.1:``port`` holding the user ``sink`` (password ``PASSWORD``)."""

    port: int

    @abc.abstractmethod
    def start(self) -> None:
        """Start it again after ``stop``, on the same port, with its data."""

    @abc.abstractmethod
    def stop(self, mode: str = "fast") -> None:
        """``fast``: the server disconnects every client (an administrator's shutdown);
        ``immediate``: it quits without a checkpoint."""

    @abc.abstractmethod
    def freeze(self, frozen: bool) -> None:
        """Stop (or resume) the whole server: it accepts connections, as its kernel does,
        but answers nothing, like a hung machine."""

    @abc.abstractmethod
    def running(self) -> bool:
        """Whether the server runs (not stopped; a frozen one runs)."""

    def settings(self) -> dict[str, str]:
        """The sink's environment for this server, but the password file."""
        return {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_DB": DATABASE,
            "POSTGRES_USER": USER,
        }

    def connect(
        self, dbname: str = DATABASE, user: str = USER, password: str = PASSWORD
    ) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname=dbname,
            user=user,
            password=password,
            autocommit=True,
            connect_timeout=5,
        )

    def create_sink_roles(self, folder: Path) -> dict[str, str]:
        """Run the project's roles script as the compose file does (as the superuser, its
        passwords in files); the sink's environment for the two roles it makes, their
        password files (holding ``PASSWORD``) in ``folder``."""
        files = {}
        for role in (MIGRATION_USER, RUNTIME_USER):
            files[role] = folder / f"{role}-password.txt"
            files[role].write_text(PASSWORD + "\n")
        status, output = self._run_roles_script(folder)
        if status != 0:
            raise AssertionError(f"{ROLES_SCRIPT.name} failed:\n{output}")
        return {
            **self.settings(),
            "POSTGRES_USER": RUNTIME_USER,
            "POSTGRES_PASSWORD_FILE": str(files[RUNTIME_USER]),
            "POSTGRES_MIGRATION_USER": MIGRATION_USER,
            "POSTGRES_MIGRATION_PASSWORD_FILE": str(files[MIGRATION_USER]),
        }

    @abc.abstractmethod
    def _run_roles_script(self, folder: Path) -> tuple[int, str]:
        """Run ``ROLES_SCRIPT`` as the superuser, both roles' passwords ``PASSWORD`` (in
        files in ``folder``, where the script runs on this machine); its exit status and
        output."""

    @staticmethod
    def _roles_env(password_folder: str) -> dict[str, str]:
        return {
            "PGPASSWORD": PASSWORD,
            "POSTGRES_USER": USER,
            "POSTGRES_DB": DATABASE,
            "SINK_MIGRATION_USER": MIGRATION_USER,
            "SINK_MIGRATION_PASSWORD_FILE": f"{password_folder}/{MIGRATION_USER}-password.txt",
            "SINK_USER": RUNTIME_USER,
            "SINK_PASSWORD_FILE": f"{password_folder}/{RUNTIME_USER}-password.txt",
        }


def create_database(server: PostgresServer) -> None:
    with server.connect("postgres") as connection:
        connection.execute(f"CREATE DATABASE {DATABASE}")
