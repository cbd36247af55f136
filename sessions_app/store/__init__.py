"""What is stored about sessions and streams, behind small async interfaces: no HTTP, no runtime."""
