"""The calculator's offerings, found by tools_app's autodiscovery like admin.py."""

from . import interactive, prompts, resources, tools  # noqa: F401  (importing them registers them)
