"""`manage.py purge_mcp`: remove dead sessions, old stream events and stale node records now."""

from django.core.management.base import BaseCommand, CommandError

from sessions_app.store.purge import purge


class Command(BaseCommand):
    help = "Remove sessions dead for MCP_SESSION_RETENTION, events older than MCP_EVENT_RETENTION, stale nodes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--retention",
            type=float,
            default=None,
            help="seconds a session must have been expired or terminated (default MCP_SESSION_RETENTION)",
        )

    def handle(self, *args, retention, **options):
        if retention is not None and retention < 0:
            raise CommandError("--retention must not be negative")
        result = purge(session_retention=retention)
        self.stdout.write(f"Purged {result}.")
