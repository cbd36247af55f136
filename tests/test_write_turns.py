"""Turns at SQLite's write lock across processes (store.write_turns): a turn held by another process is waited for
and taken as soon as it is given back; a turn that does not come in time is given up, not waited for forever."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

from sessions_app.store.write_turns import Turns

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def holder(path, seconds: float) -> subprocess.Popen:
    """Another process that takes the turn and holds it for `seconds` (then exits, which gives it back)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_free_turn_is_taken_at_once_and_given_back(tmp_path):
    turns = Turns(str(tmp_path / "db-writers"))
    assert turns.acquire(wait=1)
    other = os.open(tmp_path / "db-writers", os.O_RDWR)
    try:  # another open file (another process) cannot take it meanwhile
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        raise AssertionError("the turn was not exclusive")
    except BlockingIOError:
        pass
    turns.release()
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(other)


def test_a_turn_held_elsewhere_is_taken_as_soon_as_it_is_given_back(tmp_path):
    turns = Turns(str(tmp_path / "db-writers"))
    process = holder(tmp_path / "db-writers", 0.5)
    started = time.monotonic()
    assert turns.acquire(wait=10)
    waited = time.monotonic() - started
    assert 0.3 < waited < 5, waited  # waited for the holder, woken when it let go (not at the 10 s limit)
    turns.release()
    process.wait(timeout=10)


def test_a_turn_that_does_not_come_in_time_is_given_up_and_later_ones_still_work(tmp_path):
    turns = Turns(str(tmp_path / "db-writers"))
    process = holder(tmp_path / "db-writers", 1.5)
    started = time.monotonic()
    assert turns.acquire(wait=0.3) is False
    assert time.monotonic() - started < 1.2
    # While that turn has not come (the holder may be stopped), later commits do not wait for it again.
    started = time.monotonic()
    assert turns.acquire(wait=10) is False
    assert time.monotonic() - started < 0.2
    time.sleep(1.5)  # the holder lets go; the abandoned ticket is settled
    # The abandoned ticket keeps its place: once the holder lets go it is taken and given straight back,
    # and the next turn is this process's.
    assert turns.acquire(wait=10)
    turns.release()
    process.wait(timeout=10)
    other = os.open(tmp_path / "db-writers", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nothing left held
    os.close(other)


def test_a_lock_file_that_cannot_be_opened_leaves_commits_to_sqlite_alone(tmp_path, caplog):
    from django.db import connection

    from sessions_app.store import write_turns

    name = str(tmp_path / "missing-directory" / "db.sqlite3")
    saved = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = name
    try:
        for _ in range(2):
            with write_turns.turn(wait=1):
                pass  # no exception: the commit goes ahead
    finally:
        connection.settings_dict["NAME"] = saved
        write_turns._turns.pop(name, None)
    assert sum("no write turns for" in record.getMessage() for record in caplog.records) == 1  # logged once
