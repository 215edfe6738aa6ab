"""A private PostgreSQL server on a loopback port, for the tests: Debian's binaries, a
fresh cluster from ``initdb`` in a temporary folder, password authentication.

PostgreSQL refuses to run as root; run as root (CI, containers), the server runs as
the ``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from tests.support import ROOT
from tests.support.emulator import free_port

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


class PostgresServer:
    def __init__(self, directory: Path) -> None:
        self.bin = binaries()
        self.directory = directory
        self.data = directory / "data"
        self.log_path = directory / "server.log"
        self.port = free_port()
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("run as root, PostgreSQL needs a postgres user") from None
            os.chown(directory, owner.pw_uid, owner.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        password_file = directory / "initdb-password"
        password_file.write_text(PASSWORD)
        if self._run_as:
            os.chown(password_file, pwd.getpwnam("postgres").pw_uid, -1)
        self._command(
            "initdb",
            f"--pgdata={self.data}",
            f"--username={USER}",
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        password_file.unlink()

    def _command(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self._run_as, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{tool} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                f"{self.log_path.read_text() if self.log_path.exists() else ''}"
            )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c full_page_writes=off"  # a throw-away cluster: speed over safety
        )
        self._command(
            "pg_ctl",
            "start",
            "--wait",
            f"--pgdata={self.data}",
            f"--log={self.log_path}",
            f"--options={options}",
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast``: the server disconnects every client (an administrator's shutdown)."""
        self._command("pg_ctl", "stop", "--wait", f"--pgdata={self.data}", f"--mode={mode}")

    def processes(self) -> list[int]:
        """The server's processes: the postmaster and every child it started."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = [
            int(stat.parent.name)
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent(stat) == postmaster
        ]
        return [postmaster, *children]

    def freeze(self, frozen: bool) -> None:
        """SIGSTOP (or SIGCONT) the whole server: it accepts connections and keeps them
        open, as its kernel does, but answers nothing, like a hung machine."""
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

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
        psql = self.bin / "psql" if (self.bin / "psql").exists() else Path("/usr/bin/psql")
        env = {
            "PATH": f"{psql.parent}:/usr/bin:/bin",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGPASSWORD": PASSWORD,
            "POSTGRES_USER": USER,
            "POSTGRES_DB": DATABASE,
            "SINK_MIGRATION_USER": MIGRATION_USER,
            "SINK_MIGRATION_PASSWORD_FILE": str(files[MIGRATION_USER]),
            "SINK_USER": RUNTIME_USER,
            "SINK_PASSWORD_FILE": str(files[RUNTIME_USER]),
        }
        result = subprocess.run(
            ["sh", str(ROLES_SCRIPT)],
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"{ROLES_SCRIPT.name} failed:\n{result.stdout}\n{result.stderr}")
        return {
            **self.settings(),
            "POSTGRES_USER": RUNTIME_USER,
            "POSTGRES_PASSWORD_FILE": str(files[RUNTIME_USER]),
            "POSTGRES_MIGRATION_USER": MIGRATION_USER,
            "POSTGRES_MIGRATION_PASSWORD_FILE": str(files[MIGRATION_USER]),
        }


def _parent(stat: Path) -> int:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A started server holding an empty database ``readings``; removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="sink-pg-"))
    try:
        server = PostgresServer(directory)
        server.start()
        try:
            with server.connect("postgres") as connection:
                connection.execute(f"CREATE DATABASE {DATABASE}")
            yield server
        finally:
            if server.running():
                with contextlib.suppress(PostgresUnavailable):
                    server.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
