"""A fixed set of worker processes that run one task each, any of which can be killed.

``concurrent.futures.ProcessPoolExecutor`` cannot stop one task that runs past its
deadline, so each slot here is a process of its own, talking over a pipe: a task that
overruns is terminated with its process, and a fresh process takes the slot.

Processes are started with "spawn": the parent runs gRPC threads, which a forked child
must not inherit. Children ignore SIGINT and SIGTERM; the parent decides when they stop.
Each imports the task function (TASK_FUNCTION, ``common.seams.TaskFunction``) itself
from its import path, once, and runs it on every message the parent sends. A spawned
process starts with no logging set up: each sets up the service's (level, format, its
``service`` field), so that what a task function logs reads like the rest of the log.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from common import logs
from common.loading import LoadError, load_callable
from common.seams import Delivery, not_awaitable

_CONTEXT = multiprocessing.get_context("spawn")
STOP_TIMEOUT_SECONDS = 2.0
# How long a new process may take to start and import the task function before it is
# given tasks anyway (they then wait in its pipe).
READY_TIMEOUT_SECONDS = 30.0
# What a process sends once it has imported the task function and can take tasks.
READY = None


@dataclass(frozen=True)
class Outcome:
    ok: bool
    # The task's one-line result ("" for None), or the error it raised.
    text: str


@dataclass(frozen=True)
class LogSettings:
    """The service's logging, for its worker processes to set up the same way."""

    level: str = "INFO"
    format: str = "text"
    context: tuple[tuple[str, str], ...] = (("service", "subscriber"),)


def _serve(conn: Connection, task_function: str, log_settings: LogSettings) -> None:
    """A worker process: run tasks from the pipe until the parent closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logs.configure(log_settings.level, log_settings.format)
    logs.set_context(**dict(log_settings.context))
    function: Callable[..., object] | None = None
    failure = ""
    try:
        function = load_callable(task_function, arguments=1)
    except LoadError as exc:
        # The parent loaded it at start-up; a module that imports there and not here
        # fails each task, loudly, rather than dying and being respawned in a loop.
        failure = f"cannot load TASK_FUNCTION={task_function}: {exc}"
    conn.send(READY)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        try:
            if function is None:
                raise RuntimeError(failure)
            result = not_awaitable(function(message), "the task function")
            outcome = Outcome(True, "" if result is None else logs.capped(str(result)))
        except BaseException as exc:  # a sys.exit in the task fails the task, not the process
            outcome = Outcome(False, logs.error_text(exc))
        try:
            conn.send(outcome)
        except (BrokenPipeError, ConnectionResetError):
            return  # the parent is gone (SIGKILL); so is the message's lease


@dataclass
class _Slot:
    process: BaseProcess
    conn: Connection
    busy: bool = False


class ProcessSlots:
    """``size`` processes running the task function at the import path ``task_function``."""

    def __init__(
        self, size: int, task_function: str, log_settings: LogSettings = LogSettings()
    ) -> None:
        self._task_function = task_function
        self._log_settings = log_settings
        # Started together, then waited for: a process's start-up (seconds on a busy
        # machine, and your module's imports) must not count against its first task's
        # deadline, which runs from when the task is handed over.
        self._slots = [self._spawn() for _ in range(size)]
        for slot in self._slots:
            self._wait_ready(slot)

    def _spawn(self) -> _Slot:
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=_serve, args=(child, self._task_function, self._log_settings), daemon=True
        )
        process.start()
        child.close()
        return _Slot(process, parent)

    @property
    def size(self) -> int:
        return len(self._slots)

    def free(self) -> int:
        return sum(1 for slot in self._slots if not slot.busy)

    def start(self, message: Delivery) -> int:
        """Hand the message to a free slot's task function; return the slot's number."""
        number = next(i for i, slot in enumerate(self._slots) if not slot.busy)
        try:
            self._slots[number].conn.send(message)
        except (BrokenPipeError, ConnectionResetError):  # it died while idle
            self._replace(number)
            self._slots[number].conn.send(message)
        self._slots[number].busy = True
        return number

    def wait(self, timeout: float, wake: Connection | None = None) -> list[tuple[int, Outcome]]:
        """Outcomes of the tasks that finished, waiting up to ``timeout`` for the first
        (or for ``wake`` to become readable)."""
        busy = {slot.conn: number for number, slot in enumerate(self._slots) if slot.busy}
        watched: list[Connection] = [*busy, *([wake] if wake else [])]
        finished: list[tuple[int, Outcome]] = []
        for conn in wait(watched, timeout=timeout):
            assert isinstance(conn, Connection)
            if conn not in busy:
                continue
            number = busy[conn]
            try:
                outcome = conn.recv()
            except (EOFError, ConnectionResetError):  # it died under the task (killed, OOM)
                outcome = Outcome(False, "the worker process died")
                self._replace(number)
            if outcome is READY:  # a slow start's late word, not the task's outcome
                continue
            self._slots[number].busy = False
            finished.append((number, outcome))
        return finished

    def kill(self, number: int) -> None:
        """Terminate the task in this slot, and the process with it; a new one takes over."""
        self._replace(number)

    def _replace(self, number: int) -> None:
        old = self._slots[number]
        old.process.kill()
        old.process.join(STOP_TIMEOUT_SECONDS)
        old.conn.close()
        self._slots[number] = self._spawn()
        self._wait_ready(self._slots[number])

    @staticmethod
    def _wait_ready(slot: _Slot) -> None:
        """Until the process says it is ready, up to ``READY_TIMEOUT_SECONDS``."""
        try:
            if slot.conn.poll(READY_TIMEOUT_SECONDS):
                slot.conn.recv()
        except (EOFError, ConnectionResetError):
            pass  # it died starting: its first task reports it, and a new one takes over

    def close(self) -> None:
        """Stop every process: idle ones read EOF and return, busy ones are killed (their
        tasks were given back before this is called)."""
        for slot in self._slots:
            if slot.busy:
                slot.process.kill()
            slot.conn.close()
        for slot in self._slots:
            slot.process.join(STOP_TIMEOUT_SECONDS)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(STOP_TIMEOUT_SECONDS)
