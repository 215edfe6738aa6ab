"""The workers' side: deliver one event to the partner's webhook, with a timeout.

``deliver`` is the task function (``TASK_FUNCTION=examples.webhook.task:deliver``). It
POSTs the event as it came, with an ``Idempotency-Key`` (the event's ID) so that the
partner can drop a second delivery: the work queue delivers at least once. A 2xx answer
completes the task; anything else, or no answer within ``WEBHOOK_TIMEOUT_SECONDS``,
raises, and the work queue retries it. The timeout must be shorter than the task's
deadline (``TASK_DEADLINE_SECONDS``), so that a slow partner fails the attempt with a
reason rather than having its process killed.

Settings, read at import, which the worker does at start-up (a bad value stops it with
exit status 2): ``WEBHOOK_URL`` (required: http:// or https://) and
``WEBHOOK_TIMEOUT_SECONDS`` (default 10).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from common.config import ConfigError, read_float, read_str
from common.seams import Delivery

URL = read_str(os.environ, "WEBHOOK_URL")
if urlsplit(URL).scheme not in ("http", "https") or not urlsplit(URL).netloc:
    raise ConfigError(f"WEBHOOK_URL must be an http:// or https:// URL, got {URL!r:.200}")
TIMEOUT_SECONDS = read_float(os.environ, "WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1, maximum=300)


class DeliveryFailed(RuntimeError):
    """The partner did not accept the event; the work queue retries it."""


def event_id(data: bytes) -> str:
    """The event's ID; ``ValueError`` for a body that is not an event (retrying it would
    not help, but only an ack ends a message's retries: it is dead-lettered)."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("an event must be UTF-8 JSON") from None
    found = body.get("event_id") if isinstance(body, dict) else None
    if not isinstance(found, str) or not 0 < len(found) <= 200:
        raise ValueError("an event must have an event_id of 1 to 200 characters")
    return found


def deliver(message: Delivery) -> str:
    """POST the event; one line saying so, or ``DeliveryFailed``/``TimeoutError``."""
    identifier = event_id(message.data)
    request = urllib.request.Request(
        URL,
        data=message.data,
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": identifier},
    )
    started = time.monotonic()
    try:
        # The whole exchange, connect included, is bounded by the timeout (per socket
        # operation: a partner trickling bytes could stretch it; the deadline is the net).
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:  # an answer, but not a 2xx one
        raise DeliveryFailed(f"{identifier}: HTTP {exc.code} from the webhook") from None
    except TimeoutError:
        raise TimeoutError(f"{identifier}: no answer within {TIMEOUT_SECONDS:g}s") from None
    except urllib.error.URLError as exc:
        raise DeliveryFailed(f"{identifier}: {exc.reason}") from None
    return f"delivered {identifier}: HTTP {status} in {time.monotonic() - started:.2f}s"
