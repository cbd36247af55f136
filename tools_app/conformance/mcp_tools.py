"""The conformance suite's fixtures, found by tools_app's autodiscovery like admin.py."""

# Importing them registers them.
from . import client_requests, prompts, resources, tools  # noqa: F401
