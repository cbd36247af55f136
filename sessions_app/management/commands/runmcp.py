"""`manage.py runmcp`: apply migrations, then serve the ASGI app with daphne in this process."""

from __future__ import annotations

import logging
import os

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Command(BaseCommand):
    help = "Serve /mcp (and the rest of the site) with daphne, after applying migrations."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
        parser.add_argument("--log-level", default=None, choices=LEVELS, type=str.upper, help="default LOG_LEVEL or INFO")
        parser.add_argument(
            "--json-response", action="store_true", help="answer POSTs with application/json instead of SSE"
        )

    def handle(self, *args, host: str, port: int, log_level: str | None, json_response: bool, **options):
        from django.conf import settings

        if log_level:
            logging.getLogger().setLevel(log_level)
        if json_response:
            settings.MCP_JSON_RESPONSE = True
        call_command("migrate", interactive=False, verbosity=0)

        # daphne installs Twisted's asyncio reactor when daphne.server is imported.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from mcpsite.asgi import application

        mode = "JSON" if settings.MCP_JSON_RESPONSE else "SSE"
        url_host = f"[{host}]" if ":" in host else host
        self.stdout.write(f"mcpsite serving MCP at http://{url_host}:{port}/mcp ({mode} responses, pid {os.getpid()})")
        self.stdout.flush()
        class McpServer(Server):
            listen_failed = False

            def listen_error(self, failure):
                McpServer.listen_failed = True
                super().listen_error(failure)

        McpServer(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            # Keep open streams alive: no HTTP timeout; SSE keep-alives handle idle proxies.
            http_timeout=None,
            application_close_timeout=10,
            server_name="mcpsite",
        ).run()
        if McpServer.listen_failed:
            raise CommandError(f"could not listen on {host}:{port}")
