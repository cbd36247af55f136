"""The questions tools asked clients (elicitation, sampling, roots): a session's inline and their own list."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from ..models import ClientRequest
from .base import ReadOnlyAdmin, pretty, session_link


class ClientRequestInline(admin.TabularInline):
    """The questions the session's tools asked its client, pending or settled."""

    model = ClientRequest
    verbose_name = "question to the client"
    verbose_name_plural = "questions to the client (elicitation, sampling, roots)"
    fields = ("request_id", "method", "status", "asked", "answer", "node", "answered_on", "created_at", "closed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-id",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="question")
    def asked(self, obj):
        return format_html("<pre>{}</pre>", pretty(obj.params))

    @admin.display(description="answer")
    def answer(self, obj):
        return format_html("<pre>{}</pre>", pretty(obj.response)) if obj.response is not None else "-"


@admin.register(ClientRequest)
class ClientRequestAdmin(ReadOnlyAdmin):
    """Every question a tool asked a client, across sessions: what is still pending, and where."""

    list_display = ("request_id", "session_link", "method", "status", "node", "answered_on", "created_at")
    list_filter = ("status", "method")
    search_fields = ("=session__id", "=request_id")
    ordering = ("-id",)
    list_per_page = 100
    show_full_result_count = False
    fields = (
        "request_id",
        "session_link",
        "stream",
        "related_request",
        "method",
        "status",
        "params_pretty",
        "response_pretty",
        "node",
        "answered_on",
        "created_at",
        "closed_at",
    )
    readonly_fields = fields

    @admin.display(description="session")
    def session_link(self, obj):
        return session_link(obj.session_id)

    @admin.display(description="question")
    def params_pretty(self, obj):
        return format_html("<pre>{}</pre>", pretty(obj.params))

    @admin.display(description="answer")
    def response_pretty(self, obj):
        return format_html("<pre>{}</pre>", pretty(obj.response))
