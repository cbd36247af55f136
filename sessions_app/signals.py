"""Signals of the sessions app, so that storage and the admin never call up into the runtime."""

from django.dispatch import Signal

# Sent (sender=McpSession, session_id=...) after a session is terminated from sync code, e.g. by an
# operator. The runtime's receiver (connected in SessionsAppConfig.ready) closes its streams and
# cancels its requests on every node.
session_terminated = Signal()
