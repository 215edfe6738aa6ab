"""The durable sink: every message stored in PostgreSQL, acked only after the commit."""
