"""The calculations in the admin, and on each session's page (through McpSessionAdmin.add_inline)."""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from sessions_app.admin import McpSessionAdmin
from sessions_app.admin.base import ReadOnlyAdmin, session_link

from .models import Calculation

RECENT = 50


class RecentCalculations(BaseInlineFormSet):
    def get_queryset(self):
        return super().get_queryset().order_by("-created_at")[:RECENT]


class CalculationInline(admin.TabularInline):
    model = Calculation
    formset = RecentCalculations
    verbose_name_plural = f"calculations (last {RECENT})"
    fields = ("created_at", "expression", "id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


McpSessionAdmin.add_inline(CalculationInline)


@admin.register(Calculation)
class CalculationAdmin(ReadOnlyAdmin):
    list_display = ("expression", "operation", "result", "session_link", "user", "created_at")
    list_filter = ("operation", ("user", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("=session__id", "expression")
    ordering = ("-created_at",)
    show_full_result_count = False
    fields = ("id", "session_link", "user", "operation", "inputs", "result", "expression", "created_at")
    readonly_fields = fields

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "session__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="session")
    def session_link(self, obj):
        return session_link(obj.session_id)
