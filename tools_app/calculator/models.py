"""The calculator's history: one row per calculation (per session, or none for stateless requests)."""

import uuid

from django.conf import settings
from django.db import models

from sessions_app.models import McpSession

from .arithmetic import plain


class Calculation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # None: made by a stateless (2026-07-28) request, which has no session.
    session = models.ForeignKey(
        McpSession, on_delete=models.CASCADE, related_name="calculations", null=True, blank=True
    )
    operation = models.CharField(max_length=32, db_index=True)
    inputs = models.JSONField(default=list)
    result = models.FloatField()
    expression = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    # Who computed it (MCP_AUTH other than none); None when /mcp is open.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="calculations"
    )

    class Meta:
        # Kept in the tools_app label it was created in: its table, migrations and admin URL stay.
        app_label = "tools_app"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["session", "created_at"], name="calculation_history")]
        # advanced_calculate needs it when MCP_AUTH is on (tools_app.calculator.tools).
        permissions = [
            ("use_advanced", "Can use the advanced calculator (factorial, powers, logarithms, trigonometry)")
        ]

    def __str__(self) -> str:
        return self.expression

    def as_json(self) -> dict:
        return {
            "id": str(self.id),
            "sessionId": self.session_id,
            "timestamp": self.created_at.isoformat(),
            "operation": self.operation,
            "inputs": self.inputs,
            "result": plain(self.result),
            "expression": self.expression,
        }
