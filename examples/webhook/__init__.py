"""Webhook delivery: each event POSTed to a partner's endpoint, once it answers 2xx.

An event is UTF-8 JSON: ``{"event_id": "evt-3f2a9c1b7d0e-42", "type": "invoice.paid",
"amount_cents": 1299, "created_at": "2026-11-22T13:45:00.123Z"}``. The work queue gives
each to one worker, which retries it (any worker, after the backoff) until the partner
accepts it, and dead-letters it after the last attempt.
"""
