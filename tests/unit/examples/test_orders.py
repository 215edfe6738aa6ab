"""The orders example: an order as a row, anything else a reason for rejects."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from common.seams import Incoming
from examples.orders.mapper import order_row
from examples.orders.source import CATALOG, order, random_order

NOW = datetime(2026, 11, 22, 13, 45, tzinfo=UTC)


def incoming(data: bytes) -> Incoming:
    return Incoming("m-1", data, {}, NOW, NOW)


def test_an_order_becomes_a_row_with_its_total() -> None:
    items: list[dict[str, object]] = [
        {"sku": "tea-green-100g", "quantity": 2, "unit_price_cents": 650},
        {"sku": "kettle", "quantity": 1, "unit_price_cents": 3990},
    ]
    row = order_row(incoming(order("ord-1", "c-1042", items)))
    assert row.table == "orders"
    assert row.values["order_id"] == "ord-1"
    assert row.values["total_cents"] == 2 * 650 + 3990
    assert row.values["items"] == items
    assert row.values["placed_at"].tzinfo is not None
    assert row.values["publish_time"] == NOW
    assert row.description == "order=ord-1 total=52.90 EUR"


def good() -> dict[str, object]:
    body: dict[str, object] = json.loads(
        order("ord-1", "c-1", [{"sku": "a", "quantity": 1, "unit_price_cents": 1}])
    )
    return body


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"order_id": "bad id!"}, "order_id must be"),
        ({"currency": "euro"}, "currency must be a three-letter code"),
        ({"items": []}, "items must be a list of 1 to 100"),
        ({"items": [{"sku": "a", "quantity": 0, "unit_price_cents": 1}]}, "quantity must be"),
        ({"items": [{"sku": "a", "quantity": 1, "unit_price_cents": 1.5}]}, "unit_price_cents"),
        ({"items": ["a"]}, "each item must be an object"),
        ({"placed_at": "2026-11-22T13:45:00"}, "placed_at must be an ISO 8601 time with its"),
        ({"placed_at": "yesterday"}, "placed_at must be"),
        ({"customer": None}, "customer must be"),
    ],
)
def test_what_is_not_an_order_raises_with_the_reason(
    change: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        order_row(incoming(json.dumps({**good(), **change}).encode()))


@pytest.mark.parametrize("data", [b"\xff", b"[]", b"null"])
def test_what_is_not_json_or_an_object_raises(data: bytes) -> None:
    with pytest.raises(ValueError, match="an order must be"):
        order_row(incoming(data))


def test_the_source_makes_orders_the_mapper_stores() -> None:
    rng = random.Random(5)
    for sequence in range(1, 20):
        message = random_order(rng, sequence, "pub-1")
        row = order_row(incoming(message.data))
        assert row.values["order_id"] == f"ord-pub-1-{sequence}"
        assert all(item["sku"] in CATALOG for item in row.values["items"])
