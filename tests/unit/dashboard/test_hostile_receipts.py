"""Forged receipts: anyone who may publish to the receipts topic can invent replicas.

20,000 valid ``alive`` receipts once made 20,000 columns and 9.5 MB frames. Here thousands
of valid receipts from invented replicas, with the longest IDs the format allows and
claiming to have handled every message shown, leave the view bounded in columns, in cells
per row and in frame bytes; and a real replica is back at its next announcement.
"""

from __future__ import annotations

import json

from common.messages.channels import Channel, ChannelMessage
from common.messages.receipts import MAX_ID_LENGTH, Handled, Receipt, Sender, Totals
from dashboard.columns import DEFAULT_LIMIT
from dashboard.frames import FrameCache
from dashboard.grid import Delivery, Grid

HISTORY = 50
FORGED = 5_000


def forged(n: int, message_ids: list[str]) -> Receipt:
    """A valid receipt from invented replica ``n``: the longest IDs, every message handled."""
    name = f"{n:06d}".ljust(MAX_ID_LENGTH, "x")
    sender = Sender(name, name, name)
    if n % 2:
        return Receipt("alive", sender, Totals(10**9, 0), "t", 3600.0)
    handled = tuple(Handled(mid, "acked", 1, "t") for mid in message_ids)
    return Receipt("handled", sender, Totals(len(handled), 0), messages=handled)


def test_thousands_of_invented_replicas_leave_the_view_bounded() -> None:
    grid = Grid(HISTORY)
    frames = FrameCache(grid)
    now = 100.0
    grid.tick(now)
    message_ids = [str(n) for n in range(HISTORY)]
    data = ChannelMessage(Channel(22, "Cartoon"), 1).encode()[0]
    for message_id in message_ids:
        now += 0.2  # the grid's row sampling lets 10 rows a second through
        grid.tick(now)
        grid.published(Delivery(message_id, data))
    assert len(grid.rows) == HISTORY
    real = Receipt("alive", Sender("host-1", "channel-host-1", "s1"), Totals(0, 0), "t", 2.0)
    grid.receipt(real, Delivery("real-0", b""))

    largest, sent = 0, 0
    for n in range(FORGED):
        grid.receipt(forged(n, message_ids), Delivery(f"forged-{n}", b""))
        if n % 100 == 99:  # ten ticks' worth of receipts between frames
            now += 0.1
            grid.tick(now)
            frames.new_tick()
            snapshot = frames.text(None)
            frame = frames.text(sent)
            sent = grid.revision
            largest = max(largest, len(snapshot), len(frame))
            assert len(grid.columns) <= DEFAULT_LIMIT
            assert all(len(row.handled) <= DEFAULT_LIMIT for row in grid.rows.values())

    print(f"{FORGED} forged receipts: largest snapshot or frame {largest:,} bytes")
    # 32 columns and 50 rows of 32 cells, every ID 255 characters: under 600 KB, where
    # uncapped the columns alone were 9.5 MB at 20,000 replicas.
    assert largest < 600_000
    body = json.loads(frames.text(None))
    assert len(body["replicas"]) == DEFAULT_LIMIT
    assert "channel-host-1" not in {column["id"] for column in body["replicas"]}, "flooded out"

    # The real replica announces again and is back, the quietest forgery making way.
    grid.receipt(real, Delivery("real-1", b""))
    assert "channel-host-1" in grid.columns
    assert len(grid.columns) == DEFAULT_LIMIT
