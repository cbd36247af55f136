"""Is a dependency down? Tells an outage (answer 503, retry later) from a bug (500), and probes for /health."""

from __future__ import annotations

from django.core.cache import cache as django_cache
from django.db import DatabaseError, connection
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError

from .cache import cache

# Errors that mean "the database did not answer"; integrity and programming errors are our bugs.
_DATABASE_OUTAGES = frozenset({"OperationalError", "InterfaceError", "PoolTimeout"})


def dependency_down(exc: BaseException) -> str | None:
    """'the database' or 'Redis' when `exc` says that dependency is unreachable, else None."""
    if isinstance(exc, DatabaseError | PoolTimeout):
        return "the database" if type(exc).__name__ in _DATABASE_OUTAGES else None
    if isinstance(exc, RedisError) or (isinstance(exc, ConnectionError) and cache.remote):
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
        client = django_cache.client.get_client(write=True)  # django-redis
        return bool(client.ping())
    except Exception:
        return False
