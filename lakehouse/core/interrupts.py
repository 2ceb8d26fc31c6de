"""Ctrl-C that reaches DuckDB. Python runs its SIGINT handler only between bytecodes, so a query that
runs inside one C call (an aggregate, the next batch of an Arrow stream) would ignore Ctrl-C until it
ends. `install()` (the CLI calls it; a library user's signal handling stays untouched) asks the
interpreter to write every signal to a socket, which a thread reads at once, interrupting every open
DuckDB connection: the query fails with DuckDB's interrupt error, which the CLI reports as exit 130.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

_connections: weakref.WeakSet[Any] = weakref.WeakSet()
_installed = False
_sockets: tuple[socket.socket, socket.socket] | None = None  # held for the process's life (the fd is in use)


def register(connection: Any) -> None:
    """A connection (anything with `interrupt()`) to stop on Ctrl-C once `install()` ran."""
    _connections.add(connection)


def interrupt_all() -> None:
    for connection in list(_connections):
        try:
            connection.interrupt()
        except Exception:  # already closed: nothing to stop
            continue


def install(stuck: Callable[[], None] | None = None, grace: float = 3.0) -> None:
    """Interrupt every registered connection as SIGINT arrives; Python's own handler still raises
    KeyboardInterrupt in the main thread. Only from the main thread, once, and not over another
    wake-up fd (an event loop's)."""
    global _installed, _sockets
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    try:
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:
        return
    if previous != -1:  # someone else listens: give it back
        signal.set_wakeup_fd(previous)
        return
    _installed, _sockets = True, (reader, writer)

    def watch() -> None:
        while data := reader.recv(64):
            if signal.SIGINT in data:
                # A query only just starting clears an earlier interrupt: keep interrupting while the
                # process winds down (every later query would only be cleanup). DuckDB does not always
                # honour it inside an Arrow stream; after `grace` seconds `stuck` ends the process.
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline:
                    interrupt_all()
                    time.sleep(0.05)
                if stuck is not None:
                    stuck()

    threading.Thread(target=watch, name="lake-sigint", daemon=True).start()
