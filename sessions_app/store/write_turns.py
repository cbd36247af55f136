"""Turns at SQLite's write lock for the group commits of processes sharing one file (runmcp --workers).

SQLite has a writer that finds the file locked sleep and retry (1 ms, then 2, 5, 10 ms and longer). Two
workers each committing hundreds of batches a second spend much of that asleep: `calculate` on two workers
measured no faster than on one. Here each process's group commit first takes a turn, an exclusive flock on a
file beside the database, and the next process in line wakes as soon as the turn is given back.

SQLite's own lock still decides who writes; the turn only orders who asks, so a writer that takes none (a
management command, the admin) is served as before. A turn is waited for by a thread of its own (a flock
cannot time out), at most `wait` seconds: past that (a worker stopped while it held its turn), the commit goes
ahead without one and SQLite's busy timeout takes over, as without turns.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
from contextlib import contextmanager

from django.db import connection

logger = logging.getLogger(__name__)


class _Ticket:
    """One request for a turn: granted by the turn taker, or given up by the waiter, never both."""

    __slots__ = ("_lock", "_ready", "state")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.state = "waiting"

    def grant(self) -> bool:
        """The flock is held for this ticket; False if its waiter gave up (the caller gives the flock back)."""
        with self._lock:
            if self.state != "waiting":
                return False
            self.state = "granted"
        self._ready.set()
        return True

    def wait(self, timeout: float) -> bool:
        if self._ready.wait(timeout):
            return True
        with self._lock:
            if self.state == "granted":
                return True
            self.state = "abandoned"
            return False


class Turns:
    """Exclusive turns on the flock of `path`, taken in a thread of their own so a wait can time out."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._tickets: queue.SimpleQueue[_Ticket] = queue.SimpleQueue()
        self._queued = 0  # tickets the turn taker has not settled: while any is, no one skips the queue
        self._queued_lock = threading.Lock()
        self._stuck = False  # a wait timed out and its ticket is not settled: the holder is stopped
        threading.Thread(target=self._take_turns, name="mcp-sqlite-turns", daemon=True).start()

    def _take_turns(self) -> None:
        while True:
            ticket = self._tickets.get()
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks until the process holding it gives it back
            if not ticket.grant():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            with self._queued_lock:
                self._queued -= 1
                self._stuck = False

    def acquire(self, wait: float) -> bool:
        """True once this process holds the turn; False if it did not come within `wait` seconds, or at once
        while an earlier wait's turn has not come (its holder is stopped: commits go ahead without turns, as
        SQLite alone would have them, instead of each waiting `wait` seconds)."""
        with self._queued_lock:
            if self._stuck:
                return False
            if not self._queued:  # no ticket in flight (an abandoned one still holds its place)
                try:  # the usual case, no other process writing: no thread hop
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
            self._queued += 1
        ticket = _Ticket()
        self._tickets.put(ticket)
        if ticket.wait(wait):
            return True
        with self._queued_lock:
            self._stuck = self._queued > 0  # unless the taker settled it meanwhile
        logger.warning("no turn at the SQLite write lock within %.0f s; committing without turns until it comes", wait)
        return False

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


_turns: dict[str, Turns | None] = {}  # None: its lock file could not be opened
_turns_lock = threading.Lock()


def _for_this_database() -> Turns | None:
    """The turns of the SQLite file the default connection writes to; None for PostgreSQL or an in-memory one."""
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        return None
    with _turns_lock:
        if name not in _turns:
            try:
                _turns[name] = Turns(f"{name}-writers")
            except OSError as exc:  # SQLite alone orders the writers then, as without turns
                logger.warning("no write turns for %s: %s", name, exc)
                _turns[name] = None
        return _turns[name]


@contextmanager
def turn(wait: float | None = None):
    """Hold this process's turn to write the SQLite file (nothing on PostgreSQL) for the block."""
    turns = _for_this_database()
    if turns is None:
        yield
        return
    wait = float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 20)) if wait is None else wait
    held = turns.acquire(wait)
    try:
        yield
    finally:
        if held:
            turns.release()
