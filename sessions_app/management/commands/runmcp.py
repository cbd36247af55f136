"""`manage.py runmcp`: apply migrations, then serve the ASGI app with daphne in this process.

SIGTERM (or Ctrl-C) drains the node before it stops (see
`sessions_app.runtime.lifecycle`); a second signal stops it at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from channels.routing import get_default_application
from daphne.server import Server  # noqa: F401 installs Twisted's asyncio reactor, as daphne's runserver does
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from twisted.internet import reactor

from sessions_app.management.server import McpServer, endpoint, raise_open_files_limit
from sessions_app.runtime.lifecycle import node

logger = logging.getLogger(__name__)
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Between dropping new SYNs and closing the listening socket: time for handshakes under way to complete.
LISTENER_SETTLE_SECONDS = 0.2


class Command(BaseCommand):
    help = "Serve /mcp (and the rest of the site) with daphne, after applying migrations."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
        parser.add_argument(
            "--log-level", default=None, choices=LEVELS, type=str.upper, help="default LOG_LEVEL or INFO"
        )
        parser.add_argument(
            "--json-response", action="store_true", help="answer POSTs with application/json instead of SSE"
        )
        parser.add_argument(
            "--skip-migrate", action="store_true", help="do not apply migrations (a deploy step runs them once)"
        )
        parser.add_argument(
            "--backlog", type=int, default=None, help="listen backlog (default MCP_LISTEN_BACKLOG, 1024)"
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        log_level: str | None,
        json_response: bool,
        skip_migrate: bool,
        backlog: int | None,
        **options,
    ):
        if log_level:
            logging.getLogger().setLevel(log_level)
        if json_response:
            settings.MCP_JSON_RESPONSE = True
        before, after = raise_open_files_limit()
        logger.info("open files limit: %d (was %d)", after, before)
        if not skip_migrate:
            call_command("migrate", interactive=False, verbosity=0)

        application = get_default_application()

        mode = "JSON" if settings.MCP_JSON_RESPONSE else "SSE"
        url_host = f"[{host}]" if ":" in host else host
        self.stdout.write(f"mcpsite serving MCP at http://{url_host}:{port}/mcp ({mode} responses, pid {os.getpid()})")
        self.stdout.flush()
        server = McpServer(
            application=application,
            endpoints=[endpoint(host, port, backlog or settings.MCP_LISTEN_BACKLOG)],
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
        if server.listen_failed:
            raise CommandError(f"could not listen on {host}:{port}")
