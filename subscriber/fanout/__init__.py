"""Fan-out: each replica owns a subscription, so every replica receives every message."""
