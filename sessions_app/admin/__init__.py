"""Operators' view of sessions, their stream events, the questions tools asked clients, and the serving
nodes (read-only, plus two actions)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from ..models import McpSession, NodeHeartbeat, StreamEvent
from ..store import operator
from .base import ReadOnlyAdmin, count_of, pretty, session_link
from .questions import ClientRequestInline

RECENT_EVENTS = 50


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("idle", "idle"), ("expired", "expired"), ("terminated", "terminated")]

    def queryset(self, request, queryset):
        return queryset.with_status(self.value()) if self.value() else queryset


@admin.register(McpSession)
class McpSessionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "protocol_version",
        "client",
        "owner",
        "created_at",
        "last_activity_at",
        "open_streams",
        "event_count",
    )
    list_filter = (StatusFilter, "protocol_version", ("owner", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("owner",)
    search_fields = ("=id", "client_name", "client_version", "owner__username", "principal")
    ordering = ("-created_at",)
    list_per_page = 50
    show_full_result_count = False
    actions = ("terminate_sessions", "purge_dead_sessions")
    fields = (
        "id",
        "status",
        "protocol_version",
        "client_name",
        "client_version",
        "client_info_pretty",
        "capabilities_pretty",
        "owner",
        "principal",
        "log_level",
        "created_at",
        "last_activity_at",
        "terminated_at",
        "open_streams",
        "recent_events",
    )
    readonly_fields = fields
    inlines: list = [ClientRequestInline]

    @classmethod
    def add_inline(cls, inline) -> None:
        """Extension point: another app shows its rows of a session on the session's page."""
        if inline not in cls.inlines:
            cls.inlines = [*cls.inlines, inline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(event_count=count_of(StreamEvent, "session"))

    def changelist_view(self, request, extra_context=None):
        self._streams = operator.open_streams_by_session()  # one read of the live nodes per page
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._streams = operator.open_streams_by_session()
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="status")
    def status(self, obj):
        return obj.status()

    @admin.display(description="client")
    def client(self, obj):
        return f"{obj.client_name} {obj.client_version}".strip() or "-"

    @admin.display(description="open streams (node)")
    def open_streams(self, obj):
        held = getattr(self, "_streams", {}).get(obj.id, [])
        return ", ".join(f"{stream} @ {node}" for stream, node in held) or "-"

    @admin.display(description="events")
    def event_count(self, obj):
        link = reverse("admin:sessions_app_streamevent_changelist") + f"?session__id__exact={obj.id}"
        return format_html('<a href="{}">{}</a>', link, obj.event_count)

    @admin.display(description="client info")
    def client_info_pretty(self, obj):
        return format_html("<pre>{}</pre>", pretty(obj.client_info))

    @admin.display(description="client capabilities")
    def capabilities_pretty(self, obj):
        return format_html("<pre>{}</pre>", pretty(obj.client_capabilities))

    @admin.display(description=f"recent stream events (last {RECENT_EVENTS})")
    def recent_events(self, obj):
        rows = list(obj.events.order_by("-id")[:RECENT_EVENTS])
        if not rows:
            return "-"
        # A question's row says whether it is still pending or how it was settled.
        asked = [e.message.get("id") for e in rows if e.kind == StreamEvent.Kind.REQUEST and e.message]
        settled = dict(obj.client_requests.filter(request_id__in=asked).values_list("request_id", "status"))

        def kind(event):
            if event.kind != StreamEvent.Kind.REQUEST or not event.message:
                return event.kind
            return f"{event.kind} ({settled.get(event.message.get('id'), 'unknown')})"

        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            ((e.event_id, kind(e), e.created_at.isoformat(timespec="seconds"), pretty(e.message)) for e in rows),
        )
        return format_html(
            "<table><tr><th>event id</th><th>kind</th><th>time</th><th>message</th></tr>{}</table>", body
        )

    def has_terminate_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    @admin.action(description="Terminate selected sessions (close their streams everywhere)", permissions=["terminate"])
    def terminate_sessions(self, request, queryset):
        ended = operator.terminate_sessions(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Terminated {ended} session(s).", messages.SUCCESS)

    @admin.action(
        description="Purge the expired or terminated among selected, with their events", permissions=["terminate"]
    )
    def purge_dead_sessions(self, request, queryset):
        sessions, events = operator.purge_dead(queryset)
        self.message_user(request, f"Purged {sessions} session(s) and {events} stream event(s); live ones kept.")


@admin.register(StreamEvent)
class StreamEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "session_link", "stream", "kind", "method", "created_at")
    list_filter = ("kind",)
    search_fields = ("=session__id", "=stream")
    ordering = ("-id",)
    list_per_page = 100
    show_full_result_count = False  # no count of the whole table on every page
    fields = ("event_id", "session_link", "stream", "kind", "created_at", "message_pretty")
    readonly_fields = fields

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in {"session__id__exact", "stream", "stream__exact"} or super().lookup_allowed(
            lookup, value, request
        )

    @admin.display(description="session")
    def session_link(self, obj):
        return session_link(obj.session_id)

    @admin.display(description="method")
    def method(self, obj):
        message = obj.message or {}
        if "method" in message:
            return message["method"]
        if "result" in message or "error" in message:
            return "error" if "error" in message else "result"
        return "-"

    @admin.display(description="message")
    def message_pretty(self, obj):
        return format_html("<pre>{}</pre>", pretty(obj.message))


@admin.register(NodeHeartbeat)
class NodeHeartbeatAdmin(ReadOnlyAdmin):
    list_display = (
        "node_id",
        "alive",
        "hostname",
        "pid",
        "started_at",
        "last_seen",
        "draining",
        "stream_count",
        "running",
        "stateless_count",
    )
    ordering = ("-last_seen",)

    @admin.display(boolean=True, description="alive")
    def alive(self, obj):
        return obj.alive

    @admin.display(description="stateless requests")
    def stateless_count(self, obj):
        return sum(((obj.stateless_requests or {}).get("method") or {}).values())

    @admin.display(description="open streams")
    def stream_count(self, obj):
        return sum(len(streams) for streams in (obj.streams or {}).values())
