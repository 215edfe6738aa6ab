"""The wire formats, pure: each module has a message's encoder and decoder side by side.

- ``channels``: the fan-out demo's TV-channel messages;
- ``tasks``: the work queue's tasks;
- ``readings``: the durable sink's sensor readings;
- ``receipts``: what fan-out replicas report to the live view;
- ``dead_letters``: what Pub/Sub adds to a dead letter (no encoder: Pub/Sub writes it).

Every decoder raises its own ``ValueError`` subclass, saying what is wrong, for any body
at all: a consumer rejects such a message the way its mode rejects (dead letter, the
``rejects`` table, an ignored receipt) and carries on.
"""

from common.messages._json import utc_second, utc_timestamp

__all__ = ["CONTENT_TYPE", "utc_second", "utc_timestamp"]

# Every body is UTF-8 JSON, and every message says so in its attributes.
CONTENT_TYPE = "application/json"
