"""How every consumer here receives: unary Pull, in the shape of the client library's
``SubscriberClient.subscribe``.

    future = subscribe(client, subscription, callback, flow_control=FlowControl(...))
    ...                     # callback(message) on pull threads; message.ack() / .nack()
    future.cancel()         # the ordered shutdown (``manager``)
    future.result(timeout)  # wait for it; raises what ended receiving, if anything did

Unary Pull rather than the library's StreamingPull, because of the emulator's dead-stream
behaviour (docs/work-queue.md, "Why unary Pull"): a consumer that goes away must not
strand the subscription's messages, least of all a replica resuming its subscription.
One concern per module, as the library's ``_protocol/``:

- ``manager``: starts and stops the threads below in a fixed order; recovers a lost
  subscription through the caller's ``recover``;
- ``puller``: pull threads; an idle pull ended by its deadline is an empty answer;
- ``leaser``: the lease thread: renew before expiry, with jitter; let go past the cap;
- ``acker``: acks, nacks and lease changes, batched on a thread of their own;
- ``flow``: room by messages and by bytes;
- ``message``: what the callback gets; ``rpc``: the calls to Pub/Sub;
- ``counts``: running totals per batch, and the hook metrics give (``Observer``).

Consumers import from this package only.
"""

from common.receive.counts import Counts, Observer, Receiving
from common.receive.flow import FlowControl
from common.receive.manager import Callback, ReceiveFuture, Recover, subscribe
from common.receive.message import Received

__all__ = [
    "Callback",
    "Counts",
    "FlowControl",
    "Observer",
    "ReceiveFuture",
    "Received",
    "Receiving",
    "Recover",
    "subscribe",
]
