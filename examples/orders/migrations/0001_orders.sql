-- The orders table: applied once, by the first sink to start, after the sink's own
-- migrations (SINK_MIGRATIONS=examples/orders/migrations; tracked in
-- user_schema_migrations).

CREATE TABLE orders (
    -- The sink's key: a redelivered message adds nothing (ON CONFLICT DO NOTHING).
    message_id   text PRIMARY KEY,
    -- The business key: the same order in a second message is refused, and kept in
    -- the sink's rejects table.
    order_id     text NOT NULL UNIQUE,
    customer     text NOT NULL,
    currency     char(3) NOT NULL,
    total_cents  bigint NOT NULL CHECK (total_cents > 0),
    items        jsonb NOT NULL,
    placed_at    timestamptz NOT NULL,
    publish_time timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now()
);

-- "A customer's orders, newest first."
CREATE INDEX orders_customer_time ON orders (customer, placed_at DESC);
