"""Unary Pull with leases held by the consumer: what the work queue and the sink share.

Both pull this way rather than through the client's StreamingPull because of the
emulator's dead-stream behaviour (docs/work-queue.md, "Why unary Pull"): a consumer that
goes away must not strand the subscription's messages. Like the client library's own
streaming machinery, it is split by concern:

- ``puller``: a thread that only pulls, as many messages as there are free permits;
- ``leaser``: the messages in hand, their leases renewed every third of the way, and
  their ack or nack (which frees their permits);
- ``loop``: the consumer's main thread until SIGTERM or a final error, then its drain.
"""
