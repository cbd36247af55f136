"""Protocol revisions, header names, version negotiation and log levels."""

# Stateful (initialize + Mcp-Session-Id) revisions served on /mcp, oldest first.
STATEFUL_VERSIONS: tuple[str, ...] = ("2025-03-26", "2025-06-18", "2025-11-25")
LATEST_STATEFUL_VERSION = STATEFUL_VERSIONS[-1]

SESSION_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"
LAST_EVENT_ID_HEADER = "last-event-id"

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_SSE = "text/event-stream"

# Revisions from which each stream opens with a priming event (id + empty data).
PRIMING_VERSIONS = frozenset({"2025-11-25"})
# Only 2025-03-26 allows JSON-RPC batches.
BATCH_VERSIONS = frozenset({"2025-03-26"})
# The `_meta` key that marks a request of the stateless (2026-07-28) era.
STATELESS_META_VERSION = "io.modelcontextprotocol/protocolVersion"

LOG_LEVELS: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def negotiate_version(requested: str) -> str:
    """Echo the client's revision if we serve it, else offer our latest."""
    return requested if requested in STATEFUL_VERSIONS else LATEST_STATEFUL_VERSION


def log_level_allows(minimum: str | None, level: str) -> bool:
    """True when a message at `level` passes the session's `minimum` (None = everything)."""
    if minimum is None:
        return True
    return LOG_LEVELS.index(level) >= LOG_LEVELS.index(minimum)


# The stateless revisions (per-request `_meta` envelope, no session), served on /mcp beside the stateful ones.
MODERN_VERSIONS: tuple[str, ...] = ("2026-07-28",)
# Every revision that opens with initialize (served or not): a header naming one of these is legacy.
HANDSHAKE_VERSIONS = frozenset({"2024-11-05", *STATEFUL_VERSIONS})
