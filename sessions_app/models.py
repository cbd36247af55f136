"""What the MCP transport keeps: sessions and the events of their SSE streams.

Nothing about a session lives only in one process, so any node can serve any
request and a restart loses nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from .wire.event_ids import format_event_id

# The kinds that end a POST stream (StreamEvent.Kind.RESPONSE and CANCELLED).
STREAM_END_KINDS = ("response", "cancelled")

IDLE_SECONDS = 300  # no activity for this long: "idle" (and "expired" past MCP_SESSION_TTL)


def now() -> datetime:
    return datetime.now(UTC)


class McpSessionQuerySet(models.QuerySet):
    """What "live", "dead" and each status mean, defined once."""

    def live(self) -> McpSessionQuerySet:
        """Not terminated, and active within MCP_SESSION_TTL."""
        cutoff = now() - timedelta(seconds=settings.MCP_SESSION_TTL)
        return self.filter(terminated_at__isnull=True, last_activity_at__gte=cutoff)

    def ended(self) -> McpSessionQuerySet:
        """Terminated or expired: requests with their id get 404."""
        cutoff = now() - timedelta(seconds=settings.MCP_SESSION_TTL)
        return self.filter(Q(terminated_at__isnull=False) | Q(last_activity_at__lt=cutoff))

    def dead(self, retention: float) -> McpSessionQuerySet:
        """Ended more than `retention` seconds ago: the purge removes these."""
        at = now()
        expired_before = at - timedelta(seconds=settings.MCP_SESSION_TTL + retention)
        return self.filter(
            Q(last_activity_at__lt=expired_before) | Q(terminated_at__lt=at - timedelta(seconds=retention))
        )

    def with_status(self, status: str) -> McpSessionQuerySet:
        """Sessions whose `McpSession.status` is `status` (any other value: all of them)."""
        at = now()
        ttl_cutoff = at - timedelta(seconds=settings.MCP_SESSION_TTL)
        idle_cutoff = at - timedelta(seconds=IDLE_SECONDS)
        open_ = Q(terminated_at__isnull=True)
        return {
            "terminated": self.filter(terminated_at__isnull=False),
            "expired": self.filter(open_, last_activity_at__lt=ttl_cutoff),
            "idle": self.filter(open_, last_activity_at__gte=ttl_cutoff, last_activity_at__lt=idle_cutoff),
            "active": self.filter(open_, last_activity_at__gte=idle_cutoff),
        }.get(status, self)


class McpSession(models.Model):
    """One stateful (2025-era) MCP session, created by `initialize`."""

    id = models.CharField(max_length=64, primary_key=True)
    protocol_version = models.CharField(max_length=32)
    client_name = models.CharField(max_length=200, blank=True)
    client_version = models.CharField(max_length=100, blank=True)
    client_info = models.JSONField(default=dict, blank=True)
    client_capabilities = models.JSONField(default=dict, blank=True)
    # Minimum level of notifications/message sent to the client; null = all.
    log_level = models.CharField(max_length=16, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_activity_at = models.DateTimeField(db_index=True)
    terminated_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The one standalone GET stream (store/get_slots.py): the connection holding it, its node, and
    # until when; claimed by a conditional UPDATE, refreshed by its keep-alive, released when it ends.
    get_stream_holder = models.CharField(max_length=100, null=True, blank=True)
    get_stream_node = models.CharField(max_length=64, null=True, blank=True)
    get_stream_expires_at = models.DateTimeField(null=True, blank=True)
    # Who opened the session (MCP_AUTH other than none): its Django user, and the token's principal, which
    # every later request of the session must present again (another principal gets 404).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="mcp_sessions"
    )
    principal = models.CharField(max_length=255, blank=True, default="")

    objects = McpSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "MCP session"

    def __str__(self) -> str:
        return f"{self.id} ({self.client_name or 'unknown client'})"

    def status(self, at: datetime | None = None) -> str:
        """active, idle, expired or terminated (the operators' word for it; see with_status)."""
        if self.terminated_at is not None:
            return "terminated"
        idle_for = ((at or now()) - self.last_activity_at).total_seconds()
        if idle_for > settings.MCP_SESSION_TTL:
            return "expired"
        return "idle" if idle_for > IDLE_SECONDS else "active"


class StreamEvent(models.Model):
    """One SSE event, stored before it is written so any node can replay it.

    `stream` names the SSE stream inside its session: ``g`` for the session's
    standalone GET stream, ``r<hex>`` for the stream of one POST. The public
    event id is ``<stream>-<pk>``: unique within the session, ordered within
    its stream, and it says which stream to resume.
    """

    class Kind(models.TextChoices):
        PRIMING = "priming", "priming"  # id + empty data: a resume point
        NOTIFICATION = "notification", "notification"
        RESPONSE = "response", "response"  # ends a POST stream
        BATCH_RESPONSE = "batch_response", "response in a batch"  # a response the stream goes on after
        CANCELLED = "cancelled", "cancelled"  # ends a POST stream with nothing to send
        REQUEST = "request", "server-to-client request"  # elicitation/create, sampling/createMessage, roots/list

    # In the order of the one_end_per_stream index's condition: SQLite uses a partial index only for
    # a query whose WHERE repeats the index's condition term for term, so every query that asks "has
    # this stream ended?" filters on this tuple, never on a set (whose order changes per process).
    TERMINAL_KINDS = STREAM_END_KINDS

    id = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(McpSession, on_delete=models.CASCADE, related_name="events")
    stream = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    message = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["session", "stream", "id"], name="streamevent_replay")]
        constraints = [
            # A stream ends once: a late answer from a node declared dead loses to the stored
            # "Request lost" (or the other way round), never both.
            models.UniqueConstraint(
                fields=["session", "stream"],
                condition=models.Q(kind__in=list(STREAM_END_KINDS)),
                name="one_end_per_stream",
            )
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.event_id

    @property
    def event_id(self) -> str:
        return format_event_id(self.stream, self.pk)


class ResourceSubscription(models.Model):
    """A session's resources/subscribe: it gets notifications/resources/updated for the URI."""

    session = models.ForeignKey(McpSession, on_delete=models.CASCADE, related_name="subscriptions")
    uri = models.CharField(max_length=2048)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "uri"], name="one_subscription_per_uri")]
        indexes = [models.Index(fields=["uri"], name="subscription_by_uri")]

    def __str__(self) -> str:
        return f"{self.session_id} → {self.uri}"


class ClientRequest(models.Model):
    """A request this server sent to a client (elicitation, sampling, roots), and its answer.

    Stored before the request is written, so the client's answer may arrive at any
    node: that node records it here (pending -> answered, once) and tells the node
    whose tool waits. The row is also what the admin shows of a session's questions.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        ANSWERED = "answered", "answered"
        CANCELLED = "cancelled", "cancelled"  # the tool's call was cancelled, or the session ended
        TIMED_OUT = "timed_out", "timed out"
        LOST = "lost", "lost"  # the node running the tool died while it waited

    session = models.ForeignKey(McpSession, on_delete=models.CASCADE, related_name="client_requests")
    request_id = models.CharField(max_length=64)  # the JSON-RPC id this server minted (a string)
    stream = models.CharField(max_length=32, blank=True)  # the stream that carried it ("" if none)
    related_request = models.JSONField(null=True, blank=True)  # the client's request that asked (tools/call id)
    method = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    response = models.JSONField(null=True, blank=True)  # the client's JSON-RPC response: result or error
    node = models.CharField(max_length=64)  # the node whose tool waits
    answered_on = models.CharField(max_length=64, blank=True)  # the node the answer reached
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "request_id"], name="one_client_request_per_id")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.method} {self.request_id} ({self.status})"


class RequestClaim(models.Model):
    """A request id in use in a session, on whichever node runs it: one request per id, cluster-wide.

    Taken before the request starts, released when its response is ready. A claim of a
    node whose heartbeat lapsed is free again.
    """

    # No index of its own: one_claim_per_request_id leads with the session. With a second index on the
    # session alone, PostgreSQL found a claim by the session and walked every dead claim of a busy one.
    session = models.ForeignKey(McpSession, on_delete=models.CASCADE, related_name="claims", db_index=False)
    request_key = models.CharField(max_length=64)  # sha256 of the id as JSON (1 and "1" differ)
    node = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "request_key"], name="one_claim_per_request_id")]

    def __str__(self) -> str:
        return f"{self.session_id} {self.request_key[:12]} on {self.node}"


class NodeHeartbeat(models.Model):
    """A serving process, alive while its heartbeat is fresh.

    A request stream records the node running it; a client resuming that
    stream elsewhere waits while the node's heartbeat is fresh and is told the
    request was lost once it is not (a killed node stops beating).
    """

    node_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(db_index=True)
    draining = models.BooleanField(default=False)
    # What the node holds now, refreshed with each beat (for operators): {session id: [stream, ...]}.
    streams = models.JSONField(default=dict, blank=True)
    running = models.IntegerField(default=0)
    # Stateless (2026-07-28) requests this node served since it started: {"method": {...}, "client": {...}}.
    stateless_requests = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-last_seen"]

    @property
    def alive(self) -> bool:
        return self.last_seen >= now() - timedelta(seconds=settings.MCP_NODE_LEASE_SECONDS)

    def __str__(self) -> str:
        return f"{self.node_id} ({self.hostname}:{self.pid})"
