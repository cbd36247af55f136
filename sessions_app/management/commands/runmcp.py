"""`manage.py runmcp`: apply migrations, then serve the ASGI app in this process (or in N workers).

The server is uvicorn's HTTP protocol on uvloop (`sessions_app.management.uvicorn_server`), or daphne
with `--server daphne` (`sessions_app.management.server`); both apply the same timeouts, limits, write
flow control and drain. SIGTERM (or Ctrl-C) drains the node before it stops (see
`sessions_app.runtime.lifecycle`); a second signal stops it at once. `--workers N` runs N serving
processes on the port (`sessions_app.management.workers`).
"""

from __future__ import annotations

import argparse
import logging
import os

from channels.routing import get_default_application
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from sessions_app.management.listening import raise_open_files_limit
from sessions_app.management.workers import Supervisor

logger = logging.getLogger(__name__)
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SERVERS = ("uvicorn", "daphne")


class Command(BaseCommand):
    help = "Serve /mcp (and the rest of the site), after applying migrations."

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
        parser.add_argument(
            "--server",
            choices=SERVERS,
            default=None,
            help="HTTP server: uvicorn (httptools on uvloop) or daphne (default MCP_SERVER, uvicorn)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="serving processes on this port, each a node of its own (default MCP_WORKERS, 1; uvicorn only)",
        )
        parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # a worker of --workers

    def handle(self, *args, **options):
        if options["log_level"]:
            logging.getLogger().setLevel(options["log_level"])
        if options["json_response"]:
            settings.MCP_JSON_RESPONSE = True
        server = options["server"] or settings.MCP_SERVER
        if server not in SERVERS:
            raise CommandError(f"MCP_SERVER must be one of {', '.join(SERVERS)}, not {server!r}")
        workers = settings.MCP_WORKERS if options["workers"] is None else options["workers"]
        if workers < 1:
            raise CommandError(f"--workers must be at least 1, not {workers}")
        if workers > 1 and server != "uvicorn":
            raise CommandError("--workers needs the uvicorn server (each worker binds the port with SO_REUSEPORT)")
        before, after = raise_open_files_limit()
        logger.info("open files limit: %d (was %d)", after, before)
        if not options["skip_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        if workers > 1:
            self.supervise(workers, server, options)
        else:
            self.serve(server, options)

    def supervise(self, workers: int, server: str, options: dict) -> None:
        connections.close_all()  # the supervisor serves nothing: no connection stays open in it
        forwarded = ["--host", options["host"], "--port", str(options["port"]), "--server", server]
        forwarded += ["--skip-migrate", "--reuse-port"]
        forwarded += ["--json-response"] if options["json_response"] else []
        forwarded += ["--backlog", str(options["backlog"])] if options["backlog"] else []
        forwarded += ["--log-level", options["log_level"]] if options["log_level"] else []
        self.stdout.write(f"mcpsite: {workers} workers on {url(options)} (supervisor pid {os.getpid()})")
        self.stdout.flush()
        if Supervisor(workers, forwarded).run() != 0:
            raise CommandError("a worker could not start (see its error above)")

    def serve(self, server: str, options: dict) -> None:
        application = get_default_application()
        mode = "JSON" if settings.MCP_JSON_RESPONSE else "SSE"
        self.stdout.write(f"mcpsite serving MCP at {url(options)} ({mode} responses, {server}, pid {os.getpid()})")
        self.stdout.flush()
        host, port = options["host"], options["port"]
        backlog = options["backlog"] or settings.MCP_LISTEN_BACKLOG
        if server == "uvicorn":
            from sessions_app.management import uvicorn_server

            served = uvicorn_server.serve(application, host, port, backlog, reuse_port=options["reuse_port"])
        else:
            from sessions_app.management import server as daphne_server  # installs Twisted's reactor: only here

            served = daphne_server.serve(application, host, port, backlog)
        if not served:
            raise CommandError(f"could not listen on {host}:{port}")


def url(options: dict) -> str:
    host = options["host"]
    return f"http://{f'[{host}]' if ':' in host else host}:{options['port']}/mcp"
