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
from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server  # installs Twisted's asyncio reactor, as daphne's own runserver does
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from twisted.internet import reactor

from sessions_app.runtime.lifecycle import node
from sessions_app.transport.flow import WRITE_FLOW, WriteFlow

logger = logging.getLogger(__name__)
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class McpServer(Server):
    """daphne's server, remembering its listening ports (to stop listening on drain), with write flow control."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ports: list = []
        self.listen_failed = False

    def create_application(self, protocol, scope):
        # Flow control for SSE writes (daphne has none of its own): see sessions_app.transport.flow.
        if scope.get("type") == "http":
            scope.setdefault("extensions", {})[WRITE_FLOW] = WriteFlow(protocol)
        return super().create_application(protocol, scope)

    def listen_success(self, port):
        self.ports.append(port)
        super().listen_success(port)

    def listen_error(self, failure):
        self.listen_failed = True
        super().listen_error(failure)


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

    def handle(
        self, *args, host: str, port: int, log_level: str | None, json_response: bool, skip_migrate: bool, **options
    ):
        if log_level:
            logging.getLogger().setLevel(log_level)
        if json_response:
            settings.MCP_JSON_RESPONSE = True
        if not skip_migrate:
            call_command("migrate", interactive=False, verbosity=0)

        application = get_default_application()

        mode = "JSON" if settings.MCP_JSON_RESPONSE else "SSE"
        url_host = f"[{host}]" if ":" in host else host
        self.stdout.write(f"mcpsite serving MCP at http://{url_host}:{port}/mcp ({mode} responses, pid {os.getpid()})")
        self.stdout.flush()
        server = McpServer(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            # Keep open streams alive: no HTTP timeout; SSE keep-alives handle idle proxies.
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
            for listening in server.ports:
                listening.stopListening()  # the load balancer's next connect goes elsewhere
            task = asyncio.get_event_loop().create_task(node.drain())
            task.add_done_callback(lambda _: reactor.stop())

        def on_signal(signum, frame):
            reactor.callFromThread(start_drain)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        server.run()
        if server.listen_failed:
            raise CommandError(f"could not listen on {host}:{port}")
