# syntax=docker/dockerfile:1
#
# mcpsite image: the locked dependencies in /app/.venv plus the source, run as a non-root user.
# Both stages use the same base image so the venv's interpreter symlinks stay valid
# (.python-version pins 3.11).
#
#   docker build -t mcpsite .
#
# The default command expects an already-migrated database (DATABASE_URL); docker-compose.yml
# runs `manage.py migrate` once in its `migrate` service before any app replica starts.

# --- builder: resolve nothing, install exactly what uv.lock says ------------------------------
FROM python:3.11-slim AS builder

# uv version that wrote uv.lock (lock format revision 5); a newer uv also reads it.
ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

WORKDIR /app
# Only the dependency manifests: this layer is rebuilt when they change, not on every source edit.
# The project itself is not a package ([tool.uv] package = false), so the source is not needed here.
COPY pyproject.toml uv.lock .python-version ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

# --- runtime: the venv and the source, nothing else ------------------------------------------
FROM python:3.11-slim AS runtime

RUN groupadd --system --gid 10001 mcpsite \
 && useradd --system --uid 10001 --gid mcpsite --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin mcpsite

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
# Code stays root-owned (read-only for the app user); .dockerignore keeps tests, docs, bench,
# the local venv and any SQLite files out.
COPY . /app
# The app user may create files in /app itself (not change the code), so the embedded SQLite
# default still works in a single container when DATABASE_URL is not set.
RUN chown mcpsite:mcpsite /app

USER 10001:10001

EXPOSE 8000

# No curl in slim images: probe /health with the standard library. /health answers 503 when the
# database is unreachable, which urlopen raises as an error (non-zero exit).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]

# docker stop / compose send SIGTERM; the server drains on it (see docs/deployment.md). Exec form
# keeps python as PID 1 so it receives the signal itself.
STOPSIGNAL SIGTERM
CMD ["python", "manage.py", "runmcp", "--host", "0.0.0.0", "--port", "8000", "--skip-migrate"]
