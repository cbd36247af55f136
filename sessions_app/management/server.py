"""runmcp's daphne server (`runmcp --server daphne`): with a listen backlog, request timeouts and a graceful drain.

What daphne (and Twisted's `HTTPChannel` under it) lacks, added here:
- **Backlog.** Twisted listens with a backlog of 50; `endpoint()` asks for MCP_LISTEN_BACKLOG.
- **Timeouts.** A request's line and headers must arrive within MCP_HEADER_TIMEOUT seconds of its
  first byte, and its body within MCP_BODY_TIMEOUT seconds of its headers (else 408, and the
  connection closes); a keep-alive connection with no request is closed after MCP_IDLE_TIMEOUT
  seconds. Twisted's own idle timer restarts with every byte, so a client sending one byte every few
  seconds held a connection forever. While a response is open (an SSE stream) nothing times out.
- **Drain.** `close_listeners()` stops new connections first: new SYNs are dropped (Linux), the
  handshakes under way complete, every queued connection is accepted, then the socket closes, so no
  connection that reached the node is reset. `McpHTTPFactory.drain()` then closes idle keep-alive
  connections (between requests only) and marks the others to close after their response
  (`Connection: close`); every request already on a connection is served.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import daphne.server  # noqa: F401 first: installs Twisted's asyncio reactor, as daphne's runserver does
from daphne.http_protocol import HTTPFactory
from daphne.server import Server
from django.conf import settings
from twisted.internet import main, reactor
from twisted.python import failure
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol

from ..runtime.lifecycle import node
from ..runtime.throttle import LogEvery
from ..transport.body_limit import BodyLimitedRequest
from ..transport.flow import WRITE_FLOW, TwistedWriteFlow
from .listening import LISTENER_SETTLE_SECONDS, REQUEST_TIMEOUT, refuse_new_connections

logger = logging.getLogger(__name__)
slow_clients = LogEvery(logger)


def endpoint(host: str, port: int, backlog: int) -> str:
    """Twisted's endpoint description (daphne's builder has no backlog)."""
    interface = host.strip("[]").replace(":", r"\:")
    return f"tcp:port={int(port)}:interface={interface}:backlog={int(backlog)}"


class McpHTTPChannel(HTTPChannel):
    """One HTTP/1.x connection, with request deadlines and the drain's rules."""

    _deadline = None  # the pending IDelayedCall that ends a request too slow to arrive

    def connectionMade(self):
        super().connectionMade()
        self.factory.channels.add(self)

    def connectionLost(self, reason):
        self._disarm()
        self.factory.channels.discard(self)
        super().connectionLost(reason)

    def dataReceived(self, data):
        if data and not self._handlingRequest and self._deadline is None:
            self._arm(self.factory.header_timeout, "headers")  # the first byte of a request
        super().dataReceived(data)

    def allHeadersReceived(self):
        super().allHeadersReceived()
        if self.factory.draining:
            self._close_after_response()
        self._disarm()
        if self.length != 0:
            self._arm(self.factory.body_timeout, "body")

    def allContentReceived(self):
        self._disarm()
        super().allContentReceived()

    def drain(self) -> None:
        """Close now if idle (no request, no byte of one); otherwise after the response to come."""
        if self.requests or self._handlingRequest or self._buffer:
            self._close_after_response()
        else:
            self.loseConnection()

    def _close_after_response(self) -> None:
        self.persistent = False
        for request in self.requests:
            if not request.startedWriting:
                request.responseHeaders.setRawHeaders(b"connection", [b"close"])

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        if seconds and seconds > 0:
            self._deadline = self.callLater(seconds, self._too_slow, seconds, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def _too_slow(self, seconds: float, what: str) -> None:
        self._deadline = None
        if self._handlingRequest:
            return
        slow_clients(logging.WARNING, "closed a connection whose request %s took over %ss to arrive", what, seconds)
        self.transport.write(REQUEST_TIMEOUT)
        self.timeoutConnection()  # close, and abort if the client does not let it close


class McpHTTPFactory(HTTPFactory):
    def __init__(self, server):
        super().__init__(server)
        self.timeOut = settings.MCP_IDLE_TIMEOUT or None  # Twisted's idle timer: only between requests
        self.max_body_bytes = settings.MCP_MAX_BODY_BYTES  # read by BodyLimitedRequest
        self.header_timeout = settings.MCP_HEADER_TIMEOUT
        self.body_timeout = settings.MCP_BODY_TIMEOUT
        self.channels: set[McpHTTPChannel] = set()
        self.draining = False

    def protocol(self):
        return _GenericHTTPChannelProtocol(McpHTTPChannel())

    def buildProtocol(self, addr):  # noqa: N802 (Twisted's name)
        protocol = super().buildProtocol(addr)
        if protocol is not None:  # daphne sets its WebRequest here: ours also refuses oversized bodies
            protocol.requestFactory = BodyLimitedRequest
        return protocol

    def drain(self) -> None:
        self.draining = True
        for channel in list(self.channels):
            channel.drain()


class McpServer(Server):
    """daphne's server with our HTTP factory, remembering its listening ports (to close them on drain)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ports: list = []
        self.listen_failed = False
        self._http_factory: McpHTTPFactory | None = None

    # daphne's run() builds its own HTTPFactory and assigns it here: ours takes its place.
    @property
    def http_factory(self) -> McpHTTPFactory | None:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, _daphnes) -> None:
        self._http_factory = McpHTTPFactory(self)

    def create_application(self, protocol, scope):
        # Flow control for SSE writes (daphne has none of its own): see sessions_app.transport.flow.
        if scope.get("type") == "http":
            scope.setdefault("extensions", {})[WRITE_FLOW] = TwistedWriteFlow(protocol)
        return super().create_application(protocol, scope)

    def listen_success(self, port):
        self.ports.append(port)
        super().listen_success(port)

    def listen_error(self, failure):
        self.listen_failed = True
        super().listen_error(failure)

    def refuse_new_connections(self) -> None:
        """Drop new SYNs on every listening socket (Linux); connections being made still complete."""
        for port in self.ports:
            refuse_new_connections(port.socket)

    def close_listeners(self) -> int:
        """Accept every queued connection, then close the listening sockets now; how many were accepted."""
        accepted = 0
        for port in self.ports:
            port.disconnecting = True
            port.stopReading()
            for _ in range(1000):  # accept() until the queue is empty (bounded)
                before = port.sessionno
                port.doRead()
                if port.sessionno == before:
                    break
                accepted += port.sessionno - before
            port.connectionLost(failure.Failure(main.CONNECTION_DONE))
        self.ports = []
        return accepted

    def drain_connections(self) -> None:
        if self._http_factory is not None:
            self._http_factory.drain()

    def open_connections(self) -> int:
        return len(self._http_factory.channels) if self._http_factory is not None else 0


def serve(application, host: str, port: int, backlog: int) -> bool:
    """Serve until drained (SIGTERM/SIGINT; a second signal stops at once); False if it could not listen."""
    server = McpServer(
        application=application,
        endpoints=[endpoint(host, port, backlog)],
        # Keep open streams alive: no HTTP timeout; SSE keep-alives handle idle proxies. Header, body
        # and idle timeouts are McpServer's (MCP_HEADER_TIMEOUT, MCP_BODY_TIMEOUT, MCP_IDLE_TIMEOUT).
        http_timeout=None,
        application_close_timeout=10,
        server_name="mcpsite",
        signal_handlers=False,  # ours drain first
        # Behind a proxy, the client's address (rate limits, logs) is in X-Forwarded-For.
        proxy_forwarded_address_header="X-Forwarded-For" if settings.MCP_PROXY_HEADERS else None,
        proxy_forwarded_port_header="X-Forwarded-Port" if settings.MCP_PROXY_HEADERS else None,
        proxy_forwarded_proto_header="X-Forwarded-Proto" if settings.MCP_PROXY_HEADERS else None,
    )
    state = {"draining": False}

    def start_drain() -> None:
        if state["draining"]:
            logger.warning("second signal: stopping now")
            reactor.stop()
            return
        state["draining"] = True
        logger.info("signal received: draining")
        server.refuse_new_connections()  # new SYNs are dropped; handshakes under way complete
        reactor.callLater(LISTENER_SETTLE_SECONDS, close_listeners)

    def close_listeners() -> None:
        accepted = server.close_listeners()  # the balancer's next connect goes elsewhere
        server.drain_connections()  # idle keep-alive connections close, busy ones after their response
        logger.info("stopped listening (%d queued connections accepted); serving what reached us", accepted)
        task = asyncio.get_event_loop().create_task(node.drain(connections_open=server.open_connections))
        task.add_done_callback(lambda _: reactor.stop())

    def on_signal(signum, frame):
        reactor.callFromThread(start_drain)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.run()
    return not server.listen_failed
