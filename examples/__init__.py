"""Examples of your own code in the stack: one small, realistic one per mode.

Each is a package with one module per side, so that each image imports only its own
side (the publisher's image has no ``subscriber`` package, and the other way round):

- ``config_broadcast``: fan-out. ``source.setting_updates`` publishes the value of a
  setting; ``handler.remember_setting`` keeps the latest value of each in every replica.
- ``webhook``: work queue. ``source.webhook_events`` publishes events;
  ``task.deliver`` POSTs each to a partner's webhook with a timeout; ``receiver`` is
  a stand-in for the partner, for the compose override.
- ``orders``: sink. ``source.random_order`` publishes orders; ``mapper.order_row``
  makes each a row of ``orders``, the table ``migrations/`` creates.

``examples/compose.yml`` runs them all; ``examples/Dockerfile`` adds this package to the
project's images. docs/make-it-yours.md walks through it.
"""
