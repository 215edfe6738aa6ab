"""The operator command, ``python -m ctl``: one tool for the recovery recipes of
docs/operations.md, on the emulator and on Google Cloud alike.

- ``replicas``, ``leftovers``: the replicas Pub/Sub knows of (``replicas``, with what
  they say: ``listening``);
- ``dead-letters list|show|republish``: the dead letters (``dead_letters``,
  ``holding``, ``republish``);
- ``replay``, ``snapshot create``: seek replicas back (``replay``);
- ``doctor``: everything in place (``doctor``, ``permissions``, ``clock``).

``cli`` is the command line, ``output`` what is printed and the exit statuses, ``config``
the settings (the services' own).
"""
