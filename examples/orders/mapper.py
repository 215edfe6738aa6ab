"""The sink's side: an order as a row of ``orders``.

``order_row`` is the row mapper (``SINK_ROW_MAPPER=examples.orders.mapper:order_row``,
with ``SINK_MIGRATIONS=examples/orders/migrations``). It checks the order and works out
its total; a body that is not an order raises ``ValueError`` saying why, and the sink
keeps it in ``rejects``. No I/O: the sink writes the row, in its batch's transaction.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from common.seams import Incoming, Row

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_ITEMS = 100
MAX_QUANTITY = 10_000
MAX_PRICE_CENTS = 100_000_000


def _identifier(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{field} must be 1 to 100 letters, digits and _ . : -")
    return value


def _whole(item: dict[str, Any], field: str, maximum: int) -> int:
    value = item.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= maximum:
        raise ValueError(f"an item's {field} must be a whole number from 1 to {maximum}")
    return value


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("items")
    if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
        raise ValueError(f"items must be a list of 1 to {MAX_ITEMS} items")
    checked = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("each item must be an object")
        checked.append(
            {
                "sku": _identifier(item, "sku"),
                "quantity": _whole(item, "quantity", MAX_QUANTITY),
                "unit_price_cents": _whole(item, "unit_price_cents", MAX_PRICE_CENTS),
            }
        )
    return checked


def _placed_at(body: dict[str, Any]) -> datetime:
    raw = body.get("placed_at")
    try:
        placed_at = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        placed_at = None
    if placed_at is None or placed_at.tzinfo is None:
        raise ValueError("placed_at must be an ISO 8601 time with its offset (or Z)")
    return placed_at


def order_row(message: Incoming) -> Row:
    try:
        body = json.loads(message.data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("an order must be UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise ValueError("an order must be a JSON object")
    order_id = _identifier(body, "order_id")
    currency = body.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise ValueError("currency must be a three-letter code such as EUR")
    items = _items(body)
    total = sum(item["quantity"] * item["unit_price_cents"] for item in items)
    values = {
        "order_id": order_id,
        "customer": _identifier(body, "customer"),
        "currency": currency,
        "total_cents": total,
        "items": items,
        "placed_at": _placed_at(body),
        "publish_time": message.publish_time,
    }
    return Row("orders", values, f"order={order_id} total={total / 100:.2f} {currency}")
