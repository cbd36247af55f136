"""runmcp's default HTTP server: uvicorn's httptools protocol on a uvloop event loop, with runmcp's rules.

Chosen on evidence (docs/performance.md): the same application answers a third more pings per second
than under daphne, whose Twisted HTTP layer is pure Python. The connection's rules (timeouts, size
limits, write flow) are `uvicorn_protocol.McpHttpProtocol`'s, the same as runmcp's daphne server
applies (`runmcp --server daphne`). Here: the listener, and the drain on SIGTERM/SIGINT. New SYNs are
dropped, the queued connections accepted, the listener closed; idle keep-alive connections close,
busy ones after their response (`Connection: close`); every request already on a connection is
served, then `node.drain()` runs. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket

from django.conf import settings
from uvicorn.config import Config
from uvicorn.server import ServerState

from ..runtime.lifecycle import node
from .listening import LISTENER_SETTLE_SECONDS, refuse_new_connections
from .uvicorn_protocol import McpHttpProtocol

logger = logging.getLogger(__name__)

NO_TIMEOUT = 10**9


class UvicornServer:
    """Listens on one address, serves `application`, and drains on SIGTERM/SIGINT (a second signal stops)."""

    def __init__(
        self, application, *, host: str, port: int, backlog: int, proxy_headers: bool, reuse_port: bool = False
    ) -> None:
        self.host, self.port, self.backlog = host, port, backlog
        self.reuse_port = reuse_port  # runmcp --workers: each worker binds the port, the kernel spreads connections
        self.header_timeout = settings.MCP_HEADER_TIMEOUT
        self.body_timeout = settings.MCP_BODY_TIMEOUT
        self.max_body_bytes = settings.MCP_MAX_BODY_BYTES
        self.config = Config(
            app=application,
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,  # the access log is the application's (edge/accesslog.py)
            # Behind a proxy, the client's address (rate limits, logs) is in X-Forwarded-For.
            proxy_headers=proxy_headers,
            forwarded_allow_ips="*",
            server_header=False,
            headers=[("server", "mcpsite")],
            timeout_keep_alive=settings.MCP_IDLE_TIMEOUT or NO_TIMEOUT,
        )
        self.config.load()
        self.state = ServerState()
        self.state.default_headers = list(self.config.encoded_headers)
        self.draining = False
        self.listen_failed = False
        self._server: asyncio.Server | None = None
        self._socket: socket.socket | None = None
        self._stopped: asyncio.Event | None = None
        self._accepting: set[asyncio.Task] = set()

    def run(self) -> None:
        import uvloop  # only this server needs it

        uvloop.run(self._serve())

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        try:
            self._socket = self._listen()
        except OSError as exc:
            logger.error("could not listen on %s:%s: %s", self.host, self.port, exc)
            self.listen_failed = True
            return
        self._server = await loop.create_server(self._protocol, sock=self._socket, backlog=self.backlog)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal)
        await self._stopped.wait()
        await self._stop_connections()

    def _protocol(self) -> McpHttpProtocol:
        return McpHttpProtocol(self.config, self.state, {}, owner=self)

    def _listen(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.host.strip("[]"), self.port))
        sock.listen(self.backlog)
        sock.setblocking(False)
        return sock

    def open_connections(self) -> int:
        return len(self.state.connections)

    def _on_signal(self) -> None:
        loop = asyncio.get_running_loop()
        if self.draining:
            logger.warning("second signal: stopping now")
            self._stopped.set()
            return
        self.draining = True
        logger.info("signal received: draining")
        refuse_new_connections(self._socket)  # new SYNs are dropped; handshakes under way complete
        loop.call_later(LISTENER_SETTLE_SECONDS, self._close_listener)

    def _close_listener(self) -> None:
        accepted = self._accept_queued()
        self._server.close()  # the balancer's next connect goes elsewhere
        for protocol in list(self.state.connections):
            protocol.drain()  # idle keep-alive connections close, busy ones after their response
        logger.info("stopped listening (%d queued connections accepted); serving what reached us", accepted)
        task = asyncio.get_running_loop().create_task(node.drain(connections_open=self.open_connections))
        task.add_done_callback(lambda _: self._stopped.set())

    def _accept_queued(self) -> int:
        """Accept every connection still queued on the listener (bounded), so none is reset by its close."""
        loop = asyncio.get_running_loop()
        accepted = 0
        for _ in range(1000):
            try:
                conn, _address = self._socket.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            conn.setblocking(False)
            task = loop.create_task(loop.connect_accepted_socket(self._protocol, conn))
            self._accepting.add(task)
            task.add_done_callback(self._accepting.discard)
            accepted += 1
        return accepted

    async def _stop_connections(self) -> None:
        """Close what is left and let the requests' tasks end (bounded)."""
        if self._server is not None:
            self._server.close()
        for protocol in list(self.state.connections):
            protocol.transport.abort()
        tasks = [task for task in self.state.tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)


def serve(application, host: str, port: int, backlog: int, *, reuse_port: bool = False) -> bool:
    """Serve until drained (SIGTERM/SIGINT; a second signal stops at once); False if it could not listen."""
    server = UvicornServer(
        application,
        host=host,
        port=port,
        backlog=backlog,
        proxy_headers=settings.MCP_PROXY_HEADERS,
        reuse_port=reuse_port,
    )
    server.run()
    return not server.listen_failed
