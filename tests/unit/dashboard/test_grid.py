from common.messages.channels import Channel, ChannelMessage
from common.messages.receipts import Outcome, Receipt
from dashboard.grid import MAX_LEFT_REPLICAS, Grid

CARTOON = ChannelMessage(Channel(22, "Cartoon"), 7, "2026-11-25T18:00:00.000Z", "pub").encode()[0]


def handled(message_id: str, sub: str, outcome: Outcome = "acked") -> Receipt:
    return Receipt("handled", sub.split("-", maxsplit=1)[0], sub, "t", message_id, outcome, 1)


def joined(sub: str) -> Receipt:
    return Receipt("joined", sub.split("-", maxsplit=1)[0], sub, "t")


def left(sub: str) -> Receipt:
    return Receipt("left", sub.split("-", maxsplit=1)[0], sub, "t")


def test_a_message_then_each_replica_handling_it() -> None:
    grid = Grid(history=50)
    grid.receipt(joined("a-1"), "t")
    grid.receipt(joined("b-2"), "t")
    (event,) = grid.published("10", CARTOON, "t")
    assert event["type"] == "message"
    assert event["message"]["channel"] == "22 Cartoon"
    assert event["message"]["sequence"] == 7
    assert event["message"]["handled"] == {}
    grid.receipt(handled("10", "a-1"), "t")
    events = grid.receipt(handled("10", "b-2"), "t")
    assert [e["type"] for e in events] == ["replica", "message"]
    assert events[1]["message"]["handled"] == {"a-1": "acked", "b-2": "acked"}
    assert events[1]["counters"] == {"published": 1, "acked": 2, "rejected": 0, "dead_lettered": 0}
    snapshot = grid.snapshot()
    assert [(r["id"], r["acked"], r["status"]) for r in snapshot["replicas"]] == [
        ("a-1", 1, "joined"),
        ("b-2", 1, "joined"),
    ]


def test_a_receipt_may_come_before_the_message() -> None:
    grid = Grid(history=50)
    events = grid.receipt(handled("10", "a-1"), "t")
    # The replica joined before the dashboard did: its first receipt introduces it.
    assert [e["type"] for e in events] == ["replica", "replica", "message"]
    assert events[-1]["message"]["channel"] is None
    (event,) = grid.published("10", CARTOON, "t")
    assert event["message"]["channel"] == "22 Cartoon"
    assert event["message"]["handled"] == {"a-1": "acked"}
    assert grid.counters.published == 1


def test_redelivery_to_the_dashboard_is_not_counted_twice() -> None:
    grid = Grid(history=50)
    grid.published("10", CARTOON, "t")
    assert grid.published("10", CARTOON, "t") == []
    assert grid.counters.published == 1


def test_rejections_and_dead_letters_are_counted() -> None:
    grid = Grid(history=50)
    (event,) = grid.published("11", b"not json", "t")
    assert event["message"]["channel"] == "(not a channel message)"
    for _ in range(5):
        grid.receipt(handled("11", "a-1", "rejected"), "t")
    (event,) = grid.dead_lettered()
    assert event == {
        "type": "counters",
        "counters": {"published": 1, "acked": 0, "rejected": 5, "dead_lettered": 1},
    }
    assert grid.snapshot()["messages"][0]["handled"] == {"a-1": "rejected"}


def test_a_replica_that_leaves_keeps_its_column_greyed_and_takes_no_more() -> None:
    grid = Grid(history=50)
    grid.receipt(joined("a-1"), "t")
    (event,) = grid.receipt(left("a-1"), "t")
    assert event["replica"]["status"] == "left"
    assert grid.receipt(left("a-1"), "t") == [], "a repeated left changes nothing"
    assert grid.receipt(handled("12", "a-1"), "t") == []
    assert grid.counters.acked == 0


def test_left_replicas_are_pruned_beyond_a_few() -> None:
    grid = Grid(history=50)
    for i in range(MAX_LEFT_REPLICAS + 5):
        grid.receipt(joined(f"r-{i}"), "t")
        grid.receipt(left(f"r-{i}"), "t")
    grid.receipt(joined("live-1"), "t")
    replicas = grid.snapshot()["replicas"]
    assert len(replicas) == MAX_LEFT_REPLICAS + 1
    assert replicas[0]["id"] == "r-5", "the oldest departures go first"
    assert replicas[-1]["status"] == "joined"


def test_history_keeps_the_newest_messages() -> None:
    grid = Grid(history=3)
    for i in range(5):
        grid.published(str(i), CARTOON, "t")
    assert [m["message_id"] for m in grid.snapshot()["messages"]] == ["2", "3", "4"]
    assert grid.counters.published == 5, "counters count everything, not just the window"
