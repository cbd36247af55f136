"""ASGI middleware and HTTP helpers for /mcp.

Django middleware does not run for consumers, so what guards /mcp is ASGI middleware. Each
middleware here is self-contained: configured by constructor arguments (no settings read at
request time), touching no ORM, and writing nothing into the scope. `mcpsite/asgi.py` builds
the stack from settings and hands in the cache and metric callables.
"""
