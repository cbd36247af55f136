"""Django settings for mcpsite.

This is the one place that reads the environment; everything else reads
``django.conf.settings``. The defaults are the embedded mode: a SQLite file in
the project root, the in-memory channel layer and the local-memory cache, so a
fresh clone runs with no service at all.
"""

import os
import uuid
from pathlib import Path

import dj_database_url

from mcpsite.env import env_bool, env_int, env_list
from mcpsite.oauth import check_auth_settings, oauth2_provider_settings

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DJANGO_DEBUG", False)
# A development key is only acceptable when nothing else is configured; set
# DJANGO_SECRET_KEY in any deployment.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "mcpsite-development-key-change-me-in-production"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    # daphne first: its runserver replaces staticfiles' so runserver serves ASGI.
    "daphne",
    "mcpsite.admin.McpAdminConfig",  # django.contrib.admin with live figures on its index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "sessions_app",
    "tools_app",
    "tools_app.calculator",
    # More apps (dotted paths) whose mcp_tools.py modules add to what the server offers.
    *env_list("DJANGO_EXTRA_APPS", []),
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The admin's static files, served by the app itself (no collectstatic needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mcpsite.urls"
ASGI_APPLICATION = "mcpsite.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # ASGI: no persistent connections in general (Django's advice): every ORM
        # call in a stream goes through database_sync_to_async, which returns it.
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes on one file: WAL, immediate transactions and a busy
    # timeout, or writers fail at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # One persistent connection per thread: all consumer DB work runs on asgiref's
    # single thread-sensitive executor, so this is one connection per process, and
    # reconnecting (with the PRAGMAs above) on every call would dominate each write.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    # Live-server tests need a file, never an in-memory test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's pool (Django >= 5.1): connections are borrowed per ORM call and
    # returned, so open streams hold none and a node needs only a handful.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN", 1),
        "max_size": env_int("DB_POOL_MAX", 10),
        # Seconds to wait for a pooled connection before answering 503.
        "timeout": env_int("DB_POOL_TIMEOUT", 4),
    }
    # With the pool, Django passes `check=ConnectionPool.check_connection`: each connection is checked
    # as it is borrowed (one round trip) and a dead one replaced, so a PostgreSQL restart or
    # pg_terminate_backend does not fail the requests that borrow next.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and channel layer --------------------------------------------------
# Embedded: per-process memory. USE_REDIS: Redis shared by every node, so any
# node can serve any session and reach any stream.
USE_REDIS = env_bool("USE_REDIS", False)
REDIS_URL = os.environ.get("REDIS_URL") or "redis://localhost:6379/0"
if USE_REDIS:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mcpsite",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: lowest latency, no per-process capacity drops, resubscribes
            # after a Redis restart. At-most-once: the database is the truth.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "mcpsite"},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "mcpsite",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000, "expiry": 60},
        }
    }

# Other nodes exist to tell (cross-node delivery and control messages) only with a shared layer.
MCP_RELAY = USE_REDIS

# --- Static files, i18n ------------------------------------------------------
STATIC_URL = "static/"
# whitenoise serves the admin's files straight from the apps (finders): no collectstatic is needed.
# DJANGO_STATIC_ROOT names a directory for `collectstatic`, if a deployment wants one.
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- MCP ---------------------------------------------------------------------
MCP_JSON_RESPONSE = env_bool("MCP_JSON_RESPONSE", False)
MCP_SESSION_TTL = env_int("MCP_SESSION_TTL", 1800)
MCP_MAX_SESSIONS = env_int("MCP_MAX_SESSIONS", 0)  # 0 = no cap
# Seconds an expired or terminated session is kept (for operators) before the purge removes it.
MCP_SESSION_RETENTION = env_int("MCP_SESSION_RETENTION", 86400)
# Seconds stream events are kept for replay.
MCP_EVENT_RETENTION = env_int("MCP_EVENT_RETENTION", 86400)
# Seconds between automatic purges (one node per interval does it); 0 = only `manage.py purge_mcp`.
MCP_PURGE_INTERVAL = env_int("MCP_PURGE_INTERVAL", 300)
MCP_MAX_BODY_BYTES = 4 * 1024 * 1024
# --- bounds on the work of one POST (issue 9) ---
# Notifications one POST's requests may send on its stream (a 2025-03-26 batch shares the
# budget); the request that would exceed it fails with -32004. Default 20,000; 0 = no cap.
MCP_MAX_STREAM_EVENTS = env_int("MCP_MAX_STREAM_EVENTS", 20_000)
# The `retry:` hint (milliseconds) written with each stream's priming event.
MCP_SSE_RETRY_MS = env_int("MCP_SSE_RETRY_MS", 1000)
# How long a tool waits for the client's answer to elicitation/create, sampling/createMessage or
# roots/list (stateful era) before the call fails; a tool may set its own (input_timeout=).
MCP_INPUT_TIMEOUT = env_int("MCP_INPUT_TIMEOUT", 300)
# How long a 2026-07-28 requestState stays valid: the client's retry must come within it.
MCP_REQUEST_STATE_MAX_AGE = env_int("MCP_REQUEST_STATE_MAX_AGE", 900)
# Seconds between SSE keep-alive comments; each tick also re-reads missed events.
MCP_KEEPALIVE_SECONDS = env_int("MCP_KEEPALIVE_SECONDS", 15)
# Origins browsers may call /mcp from (CORS): exact "scheme://host[:port]" values, or "*".
CORS_ORIGIN = env_list("CORS_ORIGIN", ["*"])
# Origins allowed besides localhost ones (exact "scheme://host[:port]", or "*"); CORS_ORIGIN's
# exact entries are allowed too.
MCP_ALLOWED_ORIGINS = env_list("MCP_ALLOWED_ORIGINS", []) + [o for o in CORS_ORIGIN if o != "*"]
# Trust X-Forwarded-For/-Port/-Proto (set it only behind a proxy that sets them; runmcp).
MCP_PROXY_HEADERS = env_bool("MCP_PROXY_HEADERS", False)
# Requests to /mcp per client address and per session in each window (0 = no limit).
RATE_LIMIT_MAX = env_int("RATE_LIMIT_MAX", 1000)
RATE_LIMIT_WINDOW = env_int("RATE_LIMIT_WINDOW", 900)
SAMPLE_TOOL_NAME = os.environ.get("SAMPLE_TOOL_NAME", "")
MCP_SERVER_NAME = "mcpsite"
MCP_SERVER_VERSION = "0.1.0"
# Seconds between a node's heartbeats, and how stale one may get before the
# node's running requests are declared lost to clients resuming elsewhere.
MCP_HEARTBEAT_SECONDS = env_int("MCP_HEARTBEAT_SECONDS", 2)
MCP_NODE_LEASE_SECONDS = env_int("MCP_NODE_LEASE_SECONDS", 8)
# SIGTERM: how long running requests may take to finish before the node stops.
MCP_DRAIN_SECONDS = env_int("MCP_DRAIN_SECONDS", 20)

# Back-pressure (sessions_app/transport/flow.py): a stream whose client leaves its transport buffer full
# (64 KiB unsent) stops being written and catches up from the database once it drains. A client that
# reads nothing for this many seconds has its connection dropped (it resumes with Last-Event-ID).
MCP_STREAM_STALL_SECONDS = env_int("MCP_STREAM_STALL_SECONDS", 120)

# Identifies this process in stream ownership and cross-node messages.
# Always unique per process start: a restarted process is a new node, so clients
# resuming its old requests learn they were lost. MCP_NODE_ID adds a readable prefix.
MCP_NODE_ID = f"{os.environ.get('MCP_NODE_ID') or 'node'}-{uuid.uuid4().hex[:12]}"

# --- MCP: authorization (docs/auth.md) ------------------------------------------
# none (open, for localhost) | oauth (built-in server) | jwt (external JWKS) | introspection (RFC 7662).
MCP_AUTH = (os.environ.get("MCP_AUTH") or "none").strip().lower()
# The resource identifier (RFC 8707; empty: /mcp at each request's origin), the authorization server (empty:
# this origin), the audience of external tokens (empty: the resource), scopes every token needs (else 403).
MCP_RESOURCE_URL, MCP_AUTH_ISSUER, MCP_AUTH_AUDIENCE = (
    os.environ.get(name, "").strip() for name in ("MCP_RESOURCE_URL", "MCP_AUTH_ISSUER", "MCP_AUTH_AUDIENCE")
)
MCP_AUTH_SCOPES = env_list("MCP_AUTH_SCOPES", ["mcp"])
# jwt: JWKS, algorithms; introspection: endpoint, client credentials; the claim naming the user; /metrics too.
MCP_AUTH_JWKS_URL = os.environ.get("MCP_AUTH_JWKS_URL", "").strip()
MCP_AUTH_JWT_ALGORITHMS = env_list("MCP_AUTH_JWT_ALGORITHMS", ["RS256", "ES256", "PS256", "EdDSA"])
MCP_AUTH_INTROSPECTION_URL, MCP_AUTH_CLIENT_ID, MCP_AUTH_CLIENT_SECRET = (
    os.environ.get(n, "").strip()
    for n in ("MCP_AUTH_INTROSPECTION_URL", "MCP_AUTH_CLIENT_ID", "MCP_AUTH_CLIENT_SECRET")
)
MCP_AUTH_USERNAME_CLAIM = os.environ.get("MCP_AUTH_USERNAME_CLAIM", "sub").strip()
MCP_AUTH_PROTECT_METRICS = env_bool("MCP_AUTH_PROTECT_METRICS", False)
check_auth_settings(MCP_AUTH, MCP_AUTH_ISSUER, MCP_AUTH_JWKS_URL, MCP_AUTH_INTROSPECTION_URL)
if MCP_AUTH == "oauth":  # the built-in server, its tables and admin pages only when used (a faster fresh start)
    INSTALLED_APPS.insert(INSTALLED_APPS.index("sessions_app"), "oauth2_provider")

LOGIN_URL = "/accounts/login/"  # the built-in server's login page (mcpsite/oauth.py has its fixed configuration)
OAUTH2_PROVIDER = oauth2_provider_settings(
    MCP_AUTH, MCP_AUTH_ISSUER, env_int("MCP_AUTH_TOKEN_SECONDS", 3600), env_int("MCP_AUTH_REFRESH_SECONDS", 2592000)
)

# --- MCP: conformance fixtures ------------------------------------------------
# The official conformance suite's fixture tools, resources and prompts (tools_app.conformance),
# for running the suite against this server. Off by default: they are test offerings, not features.
MCP_CONFORMANCE_FIXTURES = env_bool("MCP_CONFORMANCE_FIXTURES", False)
if MCP_CONFORMANCE_FIXTURES:
    INSTALLED_APPS.append("tools_app.conformance")

# --- MCP: connections (runmcp's HTTP server) ----------------------------------
# runmcp's HTTP server: "uvicorn" (uvicorn's httptools protocol on uvloop, measured fastest; see
# docs/performance.md) or "daphne". Both apply the settings below; `runmcp --server` overrides.
MCP_SERVER = os.environ.get("MCP_SERVER", "uvicorn")
# Serving processes per node (`runmcp --workers`): each binds the port with SO_REUSEPORT and is a node
# of its own. One Python process serves on one core; give a node as many workers as it has cores.
MCP_WORKERS = env_int("MCP_WORKERS", 1)
# Listen backlog: connections the kernel queues before the node accepts them. A restarted node
# gets every SSE client back within the `retry:` hint; 50 (daphne's) resets such bursts.
MCP_LISTEN_BACKLOG = env_int("MCP_LISTEN_BACKLOG", 1024)
# Seconds a connection may take to send a request's line and headers, counted from its first byte
# (slow senders, e.g. one header byte every few seconds, are cut off: 408, then closed).
MCP_HEADER_TIMEOUT = env_int("MCP_HEADER_TIMEOUT", 10)
# Seconds a connection may take to send a request's body once its headers are in.
MCP_BODY_TIMEOUT = env_int("MCP_BODY_TIMEOUT", 30)
# Seconds a keep-alive connection may stay open with no request (an open response is not idle).
# Keep it above a proxy's keep-alive timeout towards the nodes, so the proxy closes first.
MCP_IDLE_TIMEOUT = env_int("MCP_IDLE_TIMEOUT", 75)
# Open GET streams (standalone and resumed) per node; beyond it a GET gets 503 with Retry-After.
# 0 = derived from the open-files limit: the soft limit (raised to the hard one by runmcp) minus
# MCP_FD_HEADROOM descriptors kept for /health, POSTs, the database and Redis.
MCP_MAX_STREAMS = env_int("MCP_MAX_STREAMS", 0)
MCP_FD_HEADROOM = env_int("MCP_FD_HEADROOM", 256)

# --- Logging -----------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
        "daphne": {"level": "WARNING"},
    },
}
