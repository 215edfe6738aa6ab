"""The wire formats, pure: each module has a message's encoder and decoder side by side.

- ``channels``: the fan-out demo's TV-channel messages;
- ``tasks``: the work queue's tasks;
- ``readings``: the durable sink's sensor readings;
- ``receipts``: what fan-out replicas report to the live view.

Every decoder raises its own ``ValueError`` subclass, saying what is wrong, for any body
at all: a consumer rejects such a message the way its mode rejects (dead letter, the
``rejects`` table, an ignored receipt) and carries on.
"""

# Every body is UTF-8 JSON, and every message says so in its attributes.
CONTENT_TYPE = "application/json"
