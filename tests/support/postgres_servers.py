"""The two kinds of private PostgreSQL server the tests run (``tests.support.postgres``):
this machine's server binaries, or the postgres image as a container."""

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
from typing import ClassVar

import psycopg

from tests.support.containers import ContainersUnavailable, compose_image, loopback_container
from tests.support.emulator import free_port
from tests.support.postgres import (
    COMMAND_TIMEOUT_SECONDS,
    MIGRATION_USER,
    PASSWORD,
    ROLES_SCRIPT,
    RUNTIME_USER,
    USER,
    PostgresServer,
    PostgresUnavailable,
    binaries,
    create_database,
)
from tests.support.waiting import wait_for


class LocalPostgres(PostgresServer):
    """This machine's server binaries, a cluster in ``directory``."""

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

    def _run_roles_script(self, folder: Path) -> tuple[int, str]:
        psql = self.bin / "psql" if (self.bin / "psql").exists() else Path("/usr/bin/psql")
        env = {
            **self._roles_env(str(folder)),
            "PATH": f"{psql.parent}:/usr/bin:/bin",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
        }
        result = subprocess.run(
            ["sh", str(ROLES_SCRIPT)],
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        return result.returncode, result.stdout + result.stderr


class ContainerPostgres(PostgresServer):
    """The postgres image docker-compose.yml runs, its port on 127.0.0.1. Stopped with
    the signal of each shutdown mode and started again, it keeps its data (the container
    is kept); frozen, it is paused (the cgroup freezer: every process stopped at once)."""

    SIGNALS: ClassVar[dict[str, str]] = {
        "smart": "SIGTERM", "fast": "SIGINT", "immediate": "SIGQUIT"
    }  # fmt: skip

    def __init__(self) -> None:
        self.port = free_port()
        container = loopback_container(compose_image("postgres"), "postgres", {5432: self.port})
        container.with_env("POSTGRES_USER", USER).with_env("POSTGRES_PASSWORD", PASSWORD)
        # A throw-away cluster: speed over safety, as the local one.
        command = ["postgres", "-c", "fsync=off", "-c", "full_page_writes=off"]
        self._container = container.with_command(command).start()

    def wait_until_ready(self, timeout: float = 90) -> None:
        # The image's first start runs a temporary server on its socket only; TCP answers
        # once the real one listens.
        def connects() -> bool:
            if not self.running():
                raise PostgresUnavailable(f"postgres exited:\n{self.log()}")
            try:
                self.connect("postgres").close()
            except psycopg.OperationalError:
                return False
            return True

        wait_for(connects, timeout=timeout, interval=0.2, what="postgres", details=self.log)

    def log(self) -> str:
        stdout, stderr = self._container.get_logs()
        return (stdout + stderr).decode(errors="replace")

    def start(self) -> None:
        self._container.get_wrapped_container().start()
        self.wait_until_ready()

    def stop(self, mode: str = "fast") -> None:
        wrapped = self._container.get_wrapped_container()
        wrapped.kill(signal=self.SIGNALS[mode])
        wrapped.wait(timeout=COMMAND_TIMEOUT_SECONDS)

    def freeze(self, frozen: bool) -> None:
        wrapped = self._container.get_wrapped_container()
        wrapped.pause() if frozen else wrapped.unpause()

    def running(self) -> bool:
        self._container.reload()
        return bool(self._container.status == "running")

    def remove(self) -> None:
        self._container.stop()

    def _run_roles_script(self, folder: Path) -> tuple[int, str]:
        # Inside the container, as its entrypoint would: the script and the password files
        # written there first, psql on the server's own socket.
        env = {**self._roles_env("/tmp/roles"), "ROLES_SCRIPT": ROLES_SCRIPT.read_text()}
        command = (
            "set -e; mkdir -p /tmp/roles; "
            f'printf "%s\\n" "$PGPASSWORD" > /tmp/roles/{MIGRATION_USER}-password.txt; '
            f'printf "%s\\n" "$PGPASSWORD" > /tmp/roles/{RUNTIME_USER}-password.txt; '
            'printf "%s" "$ROLES_SCRIPT" > /tmp/roles/roles.sh; sh /tmp/roles/roles.sh'
        )
        wrapped = self._container.get_wrapped_container()
        status, output = wrapped.exec_run(["sh", "-c", command], environment=env)
        return int(status), bytes(output).decode(errors="replace")


def _parent(stat: Path) -> int:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A started server holding an empty database ``readings``; removed afterwards. This
    machine's binaries if it has them, else a container."""
    try:
        binaries()
    except PostgresUnavailable as missing:
        with container_server(str(missing)) as server:
            yield server
        return
    directory = Path(tempfile.mkdtemp(prefix="sink-pg-"))
    try:
        local = LocalPostgres(directory)
        local.start()
        try:
            create_database(local)
            yield local
        finally:
            if local.running():
                with contextlib.suppress(PostgresUnavailable):
                    local.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def container_server(
    missing: str = "PostgreSQL from its image",
) -> Iterator[PostgresServer]:
    """A ``ContainerPostgres`` holding an empty database ``readings``; removed afterwards.
    ``PostgresUnavailable`` (saying ``missing`` first) without Docker."""
    try:
        server = ContainerPostgres()
    except ContainersUnavailable as exc:
        raise PostgresUnavailable(f"{missing}; or Docker, for the postgres image: {exc}") from None
    try:
        server.wait_until_ready()
        create_database(server)
        yield server
    finally:
        server.remove()
