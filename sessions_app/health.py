"""Is a dependency down? For /health, and to answer 503 instead of 500 when one is."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection

try:  # redis-py is installed with the distributed mode's dependencies
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover
    RedisError = ()  # type: ignore[assignment,misc]

try:
    from psycopg_pool import PoolTimeout
except ImportError:  # pragma: no cover
    PoolTimeout = ()  # type: ignore[assignment,misc]


def dependency_down(exc: BaseException) -> str | None:
    """'the database' or 'Redis' when `exc` says that dependency is unreachable, else None."""
    if isinstance(exc, DatabaseError | PoolTimeout):
        # Integrity and programming errors are our bugs, not an outage.
        name = type(exc).__name__
        if name in {"OperationalError", "InterfaceError", "PoolTimeout"}:
            return "the database"
        return None
    if isinstance(exc, RedisError) or (isinstance(exc, ConnectionError) and settings.USE_REDIS):
        return "Redis"
    return None


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False
    finally:
        connection.close_if_unusable_or_obsolete()


def redis_ok() -> bool:
    try:
        client = cache.client.get_client(write=True)  # django-redis
        return bool(client.ping())
    except Exception:
        return False
