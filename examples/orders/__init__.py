"""Orders into PostgreSQL: each order a row of ``orders``, stored once, acked after commit.

An order is UTF-8 JSON::

    {"order_id": "ord-3f2a9c1b7d0e-42", "customer": "c-1042", "currency": "EUR",
     "items": [{"sku": "tea-green-100g", "quantity": 2, "unit_price_cents": 650}],
     "placed_at": "2026-11-22T13:45:00.123Z"}

The table (``migrations/0001_orders.sql``) keeps ``order_id`` unique: an order
published twice (a publisher retrying after a lost answer) is a second message with the
same order, which the database refuses, so the sink keeps it in ``rejects``, and the
first one stands.
"""
