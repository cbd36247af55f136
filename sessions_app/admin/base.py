"""What every read-only admin of mcpsite's rows shares: the read-only base, a capped count, links, JSON."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html


def pretty(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) if value is not None else ""


def count_of(model, field: str):
    rows = model.objects.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def session_link(session_id: str) -> str:
    """A link to the session's admin page (for any admin of rows that belong to a session)."""
    link = reverse("admin:sessions_app_mcpsession_change", args=[session_id])
    return format_html('<a href="{}">{}</a>', link, session_id)


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows: a page of a table with millions of rows opens without a full count."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self):
        return self.object_list[: self.COUNT_CAP + 1].count()


class ReadOnlyAdmin(admin.ModelAdmin):
    paginator = CappedCountPaginator

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
