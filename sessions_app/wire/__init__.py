"""The protocol as data: revisions, JSON-RPC messages and errors, SSE framing, event ids.

Nothing here imports Django or does I/O, so every layer above may use it.
"""
