"""The MCP runtime behind /mcp: methods, requests in flight, live delivery across nodes, the node's life."""
