"""Consumes a topic in one of three modes, chosen by SUBSCRIPTION_MODE (``config``):

- ``fanout/``: each replica owns a subscription and receives every message;
- ``workqueue/``: replicas compete for the tasks of one shared subscription;
- ``sink/``: replicas store every message of one shared subscription in PostgreSQL.

All three receive with ``common.receive``; the first two share ``dead_letter``.
"""
