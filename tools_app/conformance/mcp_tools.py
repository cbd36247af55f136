"""The conformance suite's fixtures, found by tools_app's autodiscovery like admin.py."""

# Importing them registers them (client_requests registers nothing until issue 11 fills it in).
from . import client_requests, prompts, resources, tools  # noqa: F401
