import json

from common.messages.channels import Channel, ChannelMessage
from common.messages.receipts import Handled, Receipt, Sender, Totals
from dashboard.frames import HEARTBEAT_SECONDS, FrameCache, due, frame, snapshot
from dashboard.grid import Delivery, Grid
from dashboard.rates import RateMeter

CARTOON = ChannelMessage(Channel(22, "Cartoon"), 7).encode()[0]


def acked(sub: str, message_ids: list[str], total: int) -> Receipt:
    messages = tuple(Handled(mid, "acked", 1, "t") for mid in message_ids)
    return Receipt("handled", Sender("h", sub, "s"), Totals(total, 0), messages=messages)


def busy_grid() -> Grid:
    grid = Grid(history=50)
    grid.tick(0.0)
    for n in range(5):
        grid.published(Delivery(str(n), CARTOON))
    grid.receipt(acked("a-1", ["0", "1", "2", "3", "4"], 5), Delivery("r1", b""))
    grid.tick(0.1)
    return grid


def test_the_snapshot_is_versioned_and_whole() -> None:
    body = snapshot(busy_grid())
    assert (body["type"], body["version"], body["history"]) == ("snapshot", 2, 50)
    assert body["rows_per_second"] == 10
    assert [m["message_id"] for m in body["messages"]] == ["0", "1", "2", "3", "4"]
    assert body["messages"][0] == {
        "message_id": "0",
        "index": 1,
        "channel": "22 Cartoon",
        "sequence": 7,
        "handled": {"a-1": "acked"},
    }
    assert body["replicas"] == [
        {"id": "a-1", "host": "h", "status": "joined", "acked": 5, "rejected": 0}
    ]
    assert body["counters"] == {
        "published": 5,
        "shown": 5,
        "acked": 5,
        "rejected": 0,
        "dead_lettered": 0,
    }
    assert set(body["rates"]) == {"messages", "deliveries"}
    assert body["dead_letters"] == []


def test_a_frame_holds_each_changed_row_once_however_many_changes() -> None:
    grid = busy_grid()
    sent = grid.revision
    for n in range(3):  # three receipts about row 4 from three replicas between two ticks
        grid.receipt(acked(f"r-{n}", ["4"], 1), Delivery(f"x{n}", b""))
    grid.published(Delivery("5", CARTOON))
    body = frame(grid, sent)
    assert (body["type"], body["version"]) == ("frame", 2)
    assert [m["message_id"] for m in body["messages"]] == ["4", "5"]
    assert body["messages"][0]["handled"] == dict.fromkeys(["a-1", "r-0", "r-1", "r-2"], "acked")
    assert [r["id"] for r in body["replicas"]] == ["a-1", "r-0", "r-1", "r-2"], "all, in order"
    assert body["counters"]["acked"] == 8
    assert "dead_letters" not in body


def test_a_client_that_missed_frames_gets_one_that_brings_it_up_to_date() -> None:
    grid = Grid(history=50)
    grid.tick(0.0)
    first = grid.revision
    for n in range(10_000):
        grid.published(Delivery(str(n), CARTOON))
        if n % 1000 == 999:
            grid.tick(n / 1000)
    body = frame(grid, first)
    # Never more than the grid holds, however far behind the client is.
    assert len(body["messages"]) <= 50
    assert body["counters"]["published"] == 10_000
    assert frame(grid, grid.revision)["messages"] == []
    assert "replicas" not in frame(grid, grid.revision)


def test_a_frame_is_owed_on_a_change_or_once_a_second() -> None:
    assert due(None, 0, 0.0), "a new client: its snapshot"
    assert due(5, 6, 0.0)
    assert not due(6, 6, HEARTBEAT_SECONDS / 2)
    assert due(6, 6, HEARTBEAT_SECONDS)


def test_each_frame_is_encoded_once_a_tick_for_all_clients_level_with_each_other() -> None:
    grid = busy_grid()
    cache = FrameCache(grid)
    text = cache.text(3)
    assert cache.text(3) is text
    assert json.loads(cache.text(None))["type"] == "snapshot"
    grid.published(Delivery("new", CARTOON))
    cache.new_tick()
    assert "new" in cache.text(3)


def test_rates_are_over_the_last_five_seconds() -> None:
    meter = RateMeter()
    assert meter.rates() == (0.0, 0.0)
    for second in range(11):
        meter.sample(float(second), messages=100 * second, deliveries=300 * second)
    assert meter.rates() == (100.0, 300.0)
    for second in range(11, 17):  # publishing stops
        meter.sample(float(second), messages=1000, deliveries=3000)
    assert meter.rates() == (0.0, 0.0)
