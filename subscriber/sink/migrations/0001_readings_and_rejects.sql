-- The sink's tables. Applied once, in a transaction, by the first sink to start.

-- One row per sensor reading, keyed by its Pub/Sub message ID: a redelivered message
-- meets this key and adds nothing (INSERT ... ON CONFLICT (message_id) DO NOTHING).
CREATE TABLE readings (
    message_id   text PRIMARY KEY,
    device       text NOT NULL,
    metric       text NOT NULL,
    value        double precision NOT NULL,
    unit         text NOT NULL,
    -- When the sensor measured (from the message body).
    measured_at  timestamptz NOT NULL,
    -- The message body as sent, and its attributes, for what the columns do not hold.
    payload      jsonb NOT NULL,
    attributes   jsonb NOT NULL,
    -- When Pub/Sub accepted the message, when the sink pulled it, when it was stored:
    -- the gaps between them show a backlog or a database outage.
    publish_time timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now()
);

-- "The kitchen's temperature over the last day": one device's metric by time.
CREATE INDEX readings_device_metric_time ON readings (device, metric, measured_at DESC);
-- "CO2 everywhere this week": one metric across devices by time.
CREATE INDEX readings_metric_time ON readings (metric, measured_at DESC);
-- "Everything since ...": by time alone; BRIN fits a table filled in time order.
CREATE INDEX readings_time ON readings USING brin (measured_at);

-- Messages that are not readings, kept rather than retried forever or dropped: the
-- reason, and the body as bytes (it may not be text at all).
CREATE TABLE rejects (
    message_id   text PRIMARY KEY,
    reason       text NOT NULL,
    data         bytea NOT NULL,
    -- NULL only when PostgreSQL refused the attributes as JSON (a NUL character).
    attributes   jsonb,
    publish_time timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX rejects_received_at ON rejects (received_at);
