from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from sessions_app.admin import ReadOnlyAdmin

from .models import Calculation


@admin.register(Calculation)
class CalculationAdmin(ReadOnlyAdmin):
    list_display = ("expression", "operation", "result", "session_link", "created_at")
    list_filter = ("operation",)
    search_fields = ("=session__id", "expression")
    ordering = ("-created_at",)
    show_full_result_count = False
    fields = ("id", "session_link", "operation", "inputs", "result", "expression", "created_at")
    readonly_fields = fields

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "session__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="session")
    def session_link(self, obj):
        link = reverse("admin:sessions_app_mcpsession_change", args=[obj.session_id])
        return format_html('<a href="{}">{}</a>', link, obj.session_id)
