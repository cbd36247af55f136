"""HTTP for /mcp: the Channels consumer, the stateful Streamable HTTP leg, and the SSE writer."""
