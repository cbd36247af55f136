"""`runmcp --workers N`: N serving processes on one port, each a node of its own, and a supervisor.

One Python process serves on one core. A node with N workers is N `runmcp` processes that each bind
the port with SO_REUSEPORT, so the kernel spreads new connections evenly over them; each is a full
node (its own node id, lease and drain), so everything that holds between nodes holds between
workers: a session, a stream resume or an answer to a server-to-client request may reach any of them.
Without Redis, live delivery between them waits for the next keep-alive tick (docs/architecture.md,
"Known limits"), as between any two processes on one SQLite file.

The supervisor applies migrations once, starts the workers, passes SIGTERM/SIGINT on to them (each
drains; a second signal stops them at once), starts a worker again if it dies while not draining,
and exits once every worker has stopped. A worker that stops itself with an error soon after its start
(the port is taken, say) is not started again: the supervisor stops the others and exits with 1.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
# A worker that stops itself with an error (it could not listen, bad settings) sooner than this after its
# start would fail again: the supervisor stops instead of starting it over and over.
START_FAILURE_SECONDS = 60.0
# A dead worker is started again after this pause (a worker crashing in a loop must not spin the supervisor).
RESTART_PAUSE_SECONDS = 1.0


class Supervisor:
    def __init__(self, count: int, worker_args: list[str]) -> None:
        self.count = count
        self.worker_args = worker_args
        self.workers: dict[int, tuple[subprocess.Popen, float]] = {}
        self.stopping = 0  # signals received

    def run(self) -> int:
        """Supervise until every worker has stopped; the exit status (1 if a worker could not start)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for index in range(self.count):
            self._start(index)
        status = 0
        while self.workers:
            for index, (process, started) in list(self.workers.items()):
                code = process.poll()
                if code is None:
                    continue
                del self.workers[index]
                if self.stopping:
                    continue
                if code > 0 and time.monotonic() - started < START_FAILURE_SECONDS:
                    logger.error("worker %d (pid %d) could not start (exit %d); stopping", index, process.pid, code)
                    status = 1
                    self._on_signal(signal.SIGTERM, None)
                    continue
                logger.error("worker %d (pid %d) exited with %s; starting it again", index, process.pid, code)
                time.sleep(RESTART_PAUSE_SECONDS)
                self._start(index)
            time.sleep(0.1)
        return status

    def _start(self, index: int) -> None:
        prefix = os.environ.get("MCP_NODE_ID") or "node"
        env = {**os.environ, "MCP_NODE_ID": f"{prefix}-w{index}"}
        # A session of its own: a terminal's Ctrl-C reaches the supervisor only, which passes it on once.
        command = [sys.executable, sys.argv[0], "runmcp", *self.worker_args]
        process = subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=drain_when_orphaned)
        self.workers[index] = (process, time.monotonic())
        logger.info("worker %d started (pid %d)", index, process.pid)

    def _on_signal(self, signum, frame) -> None:
        self.stopping += 1
        what = "draining" if self.stopping == 1 else "stopping now"
        logger.info("signal %d: %s %d workers", signum, what, len(self.workers))
        for process, _ in self.workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM if self.stopping == 1 else signal.SIGINT)


def drain_when_orphaned() -> None:
    """In the worker, before it runs: SIGTERM it (it drains) if the supervisor dies (Linux; elsewhere nothing)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
