"""Unary Pull with leases held by the consumer: how every consumer here receives.

The fan-out replicas, the work queue, the sink and the dashboard pull this way rather
than through the client's StreamingPull because of the emulator's dead-stream behaviour
(docs/work-queue.md, "Why unary Pull"): a consumer that goes away must not strand the
subscription's messages, least of all a replica that resumes its subscription after a
crash. Like the client library's own streaming machinery, it is split by concern:

- ``puller``: threads that only pull, as many messages as there are free permits, and
  report a subscription gone or Pub/Sub unreachable;
- ``leaser``: the messages in hand, their leases renewed every third of the way, and
  their ack or nack (which frees their permits);
- ``loop``: the consumer's main thread: provision, step until SIGTERM, recover what
  Pub/Sub lost, drain.
"""
