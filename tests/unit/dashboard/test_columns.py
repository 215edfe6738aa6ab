from common.messages.receipts import Receipt, Sender, Totals
from dashboard.columns import MAX_EVERY_SECONDS, MAX_GONE, SILENT_AFTER, SLACK_SECONDS, Columns

ZERO = Totals(0, 0)


def receipt(sub: str, kind: str, session: str = "s1", totals: Totals = ZERO) -> Receipt:
    return Receipt(kind, Sender("host", sub, session), totals, "t", 2.0)  # type: ignore[arg-type]


def statuses(columns: Columns) -> dict[str, str]:
    return {column.id: column.status for column in columns}


def test_a_replica_not_heard_from_for_three_announcements_is_silent_until_heard_again() -> None:
    columns = Columns()
    columns.apply(receipt("a-1", "joined"), now=0.0, revision=1)
    # Every 2 s: silent after 3 missed (6 s) and a second's slack for delivery.
    assert not columns.expire(6.9, revision=2)
    assert columns.expire(7.1, revision=2)
    assert statuses(columns) == {"a-1": "silent"}
    assert columns.listening() == 0
    assert not columns.expire(8.0, revision=3), "once is enough"
    columns.apply(receipt("a-1", "alive"), now=8.0, revision=3)
    assert statuses(columns) == {"a-1": "joined"}


def test_a_replica_that_leaves_stays_left_until_a_new_session_joins() -> None:
    columns = Columns()
    columns.apply(receipt("a-1", "joined"), now=0.0, revision=1)
    columns.apply(receipt("a-1", "left", totals=Totals(3, 0)), now=1.0, revision=2)
    assert statuses(columns) == {"a-1": "left"}
    # A handled receipt of that session delivered after its "left": counted, still left.
    added = columns.apply(receipt("a-1", "handled", totals=Totals(3, 0)), now=1.1, revision=3)
    assert (added, statuses(columns)) == (ZERO, {"a-1": "left"})
    assert not columns.expire(100.0, revision=4), "a left replica does not turn silent"
    # Restarted in place: same subscription, a new session.
    columns.apply(receipt("a-1", "joined", session="s2"), now=101.0, revision=5)
    assert statuses(columns) == {"a-1": "joined"}
    # A late "left" of the earlier session says nothing about this one.
    columns.apply(receipt("a-1", "left", session="s1"), now=101.5, revision=6)
    assert statuses(columns) == {"a-1": "joined"}


def test_columns_of_replicas_gone_are_pruned_beyond_a_few_oldest_first() -> None:
    columns = Columns()
    for i in range(MAX_GONE + 5):
        columns.apply(receipt(f"r-{i}", "joined"), now=float(i), revision=2 * i + 1)
        columns.apply(receipt(f"r-{i}", "left"), now=float(i), revision=2 * i + 2)
    columns.apply(receipt("live-1", "joined"), now=50.0, revision=100)
    ids = [column.id for column in columns]
    assert len(ids) == MAX_GONE + 1
    assert ids[0] == "r-5", "the oldest departures go first"
    assert statuses(columns)["live-1"] == "joined"
    assert columns.set_revision == 100


def test_changes_are_stamped_with_their_revision() -> None:
    columns = Columns()
    columns.apply(receipt("a-1", "joined"), now=0.0, revision=1)
    assert columns.changed_since(0)
    assert not columns.changed_since(1)
    columns.apply(receipt("a-1", "alive"), now=1.0, revision=2)
    assert not columns.changed_since(1), "an announcement that changes nothing"
    columns.apply(receipt("a-1", "alive", totals=Totals(1, 0)), now=1.0, revision=3)
    assert columns.changed_since(2)


def test_columns_are_capped_the_least_recently_heard_going_first() -> None:
    columns = Columns(limit=3)
    for i, sub in enumerate(["a", "b", "c"]):
        columns.apply(receipt(sub, "joined"), now=float(i), revision=i + 1)
    columns.apply(receipt("a", "alive"), now=10.0, revision=4)  # a heard again: b is quietest
    columns.apply(receipt("d", "joined"), now=11.0, revision=5)
    assert [column.id for column in columns] == ["a", "c", "d"]
    assert columns.set_revision == 5
    assert "b" not in columns
    # An evicted replica is back at its next announcement, evicting the next quietest.
    columns.apply(receipt("b", "alive"), now=12.0, revision=6)
    assert sorted(column.id for column in columns) == ["a", "b", "d"]


def test_a_receipt_cannot_keep_a_column_joined_for_hours() -> None:
    columns = Columns()
    forged = Receipt("alive", Sender("host", "x-1", "s1"), ZERO, "t", 3600.0)
    columns.apply(forged, now=0.0, revision=1)
    silent_at = SILENT_AFTER * MAX_EVERY_SECONDS + SLACK_SECONDS
    assert not columns.expire(silent_at - 0.1, revision=2)
    assert columns.expire(silent_at + 0.1, revision=3)
    assert statuses(columns) == {"x-1": "silent"}
