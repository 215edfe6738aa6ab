"""The publisher's side: orders from a shop, at random."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from common.seams import Outgoing

# sku -> unit price in cents.
CATALOG = {"tea-green-100g": 650, "tea-black-250g": 1190, "mug-white": 1450, "kettle": 3990}


def order(order_id: str, customer: str, items: list[dict[str, object]]) -> bytes:
    """An order's body, placed now, in euros."""
    placed_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {"order_id": order_id, "customer": customer, "currency": "EUR", "items": items}
    return json.dumps({**body, "placed_at": placed_at}).encode()


def random_order(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing:
    """``PUBLISHER_SOURCE=examples.orders.source:random_order``."""
    skus = rng.sample(sorted(CATALOG), rng.randint(1, 3))
    items: list[dict[str, object]] = [
        {"sku": sku, "quantity": rng.randint(1, 4), "unit_price_cents": CATALOG[sku]}
        for sku in skus
    ]
    order_id = f"ord-{publisher_id}-{sequence}"
    data = order(order_id, f"c-{rng.randrange(1000, 2000)}", items)
    attributes = {"content_type": "application/json", "publisher": publisher_id}
    return Outgoing(data, attributes, f"order={order_id} items={len(items)}", sequence)
