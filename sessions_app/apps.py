from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "MCP sessions"

    def ready(self) -> None:
        # Imported here, once the models are loaded: the runtime's modules import them.
        from asgiref.sync import async_to_sync

        from .metrics import ActiveSessions, register_collector
        from .runtime.lifecycle import end_session, handle_relay_messages
        from .signals import session_terminated

        register_collector("mcp_active_sessions", ActiveSessions())
        handle_relay_messages()

        def end_terminated_session(sender, session_id: str, **kwargs) -> None:
            async_to_sync(end_session)(session_id)

        # weak=False: the receiver is a local function, which a weak reference would lose at once.
        session_terminated.connect(end_terminated_session, weak=False, dispatch_uid="mcp-end-terminated-session")
