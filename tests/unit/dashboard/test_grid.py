from datetime import UTC, datetime

from common.messages.channels import Channel, ChannelMessage
from common.messages.receipts import Handled, Outcome, Receipt, Sender, Totals
from dashboard.grid import Delivery, Grid

CARTOON = ChannelMessage(Channel(22, "Cartoon"), 7, "2026-11-25T18:00:00.000Z", "pub").encode()[0]


def handled(sub: str, *outcomes: tuple[str, Outcome], totals: Totals | None = None) -> Receipt:
    """A handled receipt from replica ``sub`` (session "s1"); totals default to the
    outcomes it lists, as a replica's first receipt."""
    messages = tuple(Handled(mid, outcome, 1, "t") for mid, outcome in outcomes)
    if totals is None:
        rejected = sum(1 for _, o in outcomes if o == "rejected")
        totals = Totals(len(outcomes) - rejected, rejected)
    return Receipt("handled", Sender("host", sub, "s1"), totals, messages=messages)


ZERO = Totals(0, 0)


def announce(sub: str, kind: str, totals: Totals = ZERO, session: str = "s1") -> Receipt:
    return Receipt(kind, Sender("host", sub, session), totals, "t", 2.0)  # type: ignore[arg-type]


class Feed:
    """Hands the grid its inputs as the feeds do, each receipt with a Pub/Sub ID."""

    def __init__(self, history: int = 50) -> None:
        self.grid = Grid(history)
        self.grid.tick(100.0)
        self._receipt_ids = 0

    def publish(self, message_id: str, data: bytes = CARTOON) -> None:
        self.grid.published(Delivery(message_id, data))

    def receipt(self, receipt: Receipt, receipt_id: str | None = None) -> None:
        self._receipt_ids += 1
        self.grid.receipt(receipt, Delivery(receipt_id or f"r{self._receipt_ids}", b""))

    def cells(self, message_id: str) -> dict[str, str]:
        return self.grid.rows[message_id].handled


def test_a_message_then_each_replica_handling_it() -> None:
    feed = Feed()
    feed.receipt(announce("a-1", "joined"))
    feed.receipt(announce("b-2", "joined"))
    feed.publish("10")
    row = feed.grid.rows["10"]
    assert (row.channel, row.sequence, row.index, row.handled) == ("22 Cartoon", 7, 1, {})
    feed.receipt(handled("a-1", ("10", "acked")))
    feed.receipt(handled("b-2", ("10", "acked")))
    assert feed.cells("10") == {"a-1": "acked", "b-2": "acked"}
    assert feed.grid.counters_json() == {
        "published": 1,
        "shown": 1,
        "acked": 2,
        "rejected": 0,
        "dead_lettered": 0,
    }
    assert [(c.id, c.acked, c.status) for c in feed.grid.columns] == [
        ("a-1", 1, "joined"),
        ("b-2", 1, "joined"),
    ]


def test_a_receipt_may_come_before_the_message() -> None:
    feed = Feed()
    feed.receipt(handled("a-1", ("10", "acked")))
    assert "10" not in feed.grid.rows, "held until the message itself comes"
    feed.publish("10")
    assert feed.grid.rows["10"].channel == "22 Cartoon"
    assert feed.cells("10") == {"a-1": "acked"}
    assert (feed.grid.counters.published, feed.grid.counters.acked) == (1, 1)


def test_redeliveries_to_the_dashboard_are_not_counted_twice() -> None:
    feed = Feed()
    feed.publish("10")
    revision = feed.grid.revision
    feed.publish("10")
    assert (feed.grid.counters.published, feed.grid.revision) == (1, revision)
    receipt = handled("a-1", ("10", "acked"))
    feed.receipt(receipt, "r-1")
    feed.receipt(receipt, "r-1")  # the same receipt delivered twice
    feed.receipt(receipt, "r-2")  # or published twice: its totals say the same
    assert feed.grid.counters.acked == 1
    assert feed.grid.counters.deliveries == 2, "the rate counts what arrived"


def test_counters_are_the_replicas_own_totals_whenever_the_dashboard_started() -> None:
    feed = Feed()
    # A dashboard started late: the replica has handled 500 before; its receipts say so.
    feed.receipt(handled("a-1", ("501", "acked"), totals=Totals(501, 2)))
    feed.receipt(announce("a-1", "alive", Totals(501, 2)))
    # Receipts in any order: an older one raises nothing.
    feed.receipt(handled("a-1", ("499", "acked"), totals=Totals(499, 2)))
    feed.receipt(handled("a-1", ("502", "rejected"), totals=Totals(501, 3)))
    [column] = feed.grid.columns
    assert (column.acked, column.rejected) == (501, 3)
    assert (feed.grid.counters.acked, feed.grid.counters.rejected) == (501, 3)
    # The replica restarts in place (same subscription, a new session): counted on top.
    feed.receipt(announce("a-1", "joined", Totals(0, 0), session="s2"))
    feed.receipt(Receipt("handled", Sender("host", "a-1", "s2"), Totals(4, 0), messages=()))
    assert (column.acked, feed.grid.counters.acked) == (505, 505)


def test_receipts_from_before_totals_count_their_messages() -> None:
    feed = Feed()
    old = Receipt("handled", Sender("h", "a-1", ""), None, messages=(Handled("1", "acked", 1, ""),))
    feed.receipt(old)
    feed.receipt(old)
    assert feed.grid.counters.acked == 2


def test_rejections_and_dead_letters_are_counted_and_linked_to_their_row() -> None:
    feed = Feed()
    feed.publish("11", b"not json")
    assert feed.grid.rows["11"].channel == "not json"  # its body, for what is not a channel
    for attempt in range(1, 6):
        feed.receipt(handled("a-1", ("11", "rejected"), totals=Totals(0, attempt)))
    assert feed.cells("11") == {"a-1": "rejected"}
    letter = Delivery(
        "900",
        b"not json",
        {
            "CloudPubSubDeadLetterSourceSubscription": "a-1",
            "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        },
    )
    feed.grid.dead_lettered(letter)
    feed.grid.dead_lettered(letter)  # redelivered: counted once
    assert feed.cells("11") == {"a-1": "dead-lettered"}
    assert feed.grid.counters_json()["dead_lettered"] == 1
    assert feed.grid.counters.rejected == 5
    [shown] = feed.grid.letters.shown
    assert shown.to_json() == {
        "dead_letter_id": "900",
        "message_id": "11",
        "replica": "a-1",
        "attempts": 5,
    }
    # A late receipt of an earlier rejection does not undo the dead letter.
    feed.receipt(handled("a-1", ("11", "rejected"), totals=Totals(0, 4)))
    assert feed.cells("11") == {"a-1": "dead-lettered"}


def test_history_keeps_the_newest_messages() -> None:
    feed = Feed(history=3)
    for i in range(5):
        feed.publish(str(i))
        feed.grid.tick(100.0 + i)  # slowly: every message gets a row
    assert list(feed.grid.rows) == ["2", "3", "4"]
    assert feed.grid.counters.published == 5, "counters count everything, not just the window"


def test_at_a_high_rate_rows_are_a_sample_and_the_counters_say_so() -> None:
    feed = Feed(history=50)  # 10 new rows a second
    now = 100.0
    for second in range(3):
        for n in range(1000):
            feed.publish(f"{second}-{n}")
            if n % 100 == 99:
                now += 0.1
                feed.grid.tick(now)
    counters = feed.grid.counters
    assert counters.published == 3000
    # A burst of 10, then 10 a second.
    assert 35 <= counters.shown <= 40, counters
    # Receipts for messages without a row count, and make no row...
    feed.receipt(handled("a-1", ("0-550", "acked")))
    assert counters.acked == 1
    assert "0-550" not in feed.grid.rows
    # ... unless the message is rejected: the one worth seeing gets a row.
    feed.receipt(handled("a-1", ("0-551", "rejected"), totals=Totals(1, 1)))
    assert feed.grid.rows["0-551"].channel == "22 Cartoon"
    assert feed.cells("0-551") == {"a-1": "rejected"}


def test_revisions_mark_exactly_what_changed() -> None:
    feed = Feed()
    feed.publish("1")
    feed.publish("2")
    before = feed.grid.revision
    feed.receipt(handled("a-1", ("2", "acked")))
    changed = [r.message_id for r in feed.grid.rows.values() if r.revision > before]
    assert changed == ["2"]
    assert feed.grid.columns.changed_since(before)
    after = feed.grid.revision
    feed.receipt(handled("a-1", ("2", "acked")))  # a new receipt that changes nothing
    assert not [r for r in feed.grid.rows.values() if r.revision > after]
    assert not feed.grid.columns.changed_since(after)


def test_rates_follow_the_counts() -> None:
    feed = Feed()
    for second in range(1, 6):
        for n in range(20):
            feed.publish(f"{second}-{n}")
        acked = [(f"{second}-{n}", "acked") for n in range(20)]
        feed.receipt(handled("a-1", *acked, totals=Totals(20 * second, 0)))  # type: ignore[arg-type]
        feed.grid.tick(100.0 + second)
    assert feed.grid.rates.rates() == (20.0, 20.0)


def test_an_emulator_restarted_empty_hands_out_the_same_ids_for_new_messages() -> None:
    feed = Feed()
    before, after = (datetime(2026, 11, 30, 22, 0, s, tzinfo=UTC) for s in (1, 9))
    feed.grid.published(Delivery("1", CARTOON, {}, before))
    feed.grid.published(Delivery("1", CARTOON, {}, before))  # a redelivery: the same
    feed.grid.published(Delivery("1", b"not json", {}, after))  # a new message, same ID
    assert feed.grid.counters.published == 2
    assert [(r.message_id, r.channel) for r in feed.grid.rows.values()] == [("1", "not json")]
    receipt = handled("a-1", ("1", "acked"))
    feed.grid.receipt(receipt, Delivery("7", b"", {}, before))
    feed.grid.receipt(receipt, Delivery("7", b"", {}, after))  # receipt IDs are reused too
    assert feed.grid.counters.deliveries == 2


def test_a_row_shows_the_start_of_a_body_that_is_not_a_channel_message_escaped() -> None:
    feed = Feed()
    feed.publish("1", b'{"setting": "banner", "value": "hello", "version": 12345678}')
    feed.publish("2", b"line\nbreak \x1b[31m")
    feed.publish("3", b"")
    assert feed.grid.rows["1"].channel == '{"setting": "banner", "value": "hello", …'
    assert "\n" not in feed.grid.rows["2"].channel
    assert "\x1b" not in feed.grid.rows["2"].channel
    assert feed.grid.rows["3"].channel == "(empty)"
