"""The migrations' order and naming rules."""

import pytest

from subscriber.sink.schema import MigrationError, load, ordered


def test_migrations_apply_in_number_order() -> None:
    names = ["0002_b.sql", "README", "0010_j.sql", "0001_a.sql"] + [
        f"{n:04d}_m.sql" for n in range(3, 10)
    ]
    assert [version for version, _ in ordered(names)] == list(range(1, 11))
    assert ordered(names)[-1] == (10, "0010_j.sql")


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (["0001_a.sql", "0001_b.sql"], "share version 1"),
        (["0001_a.sql", "0003_c.sql"], "no gap"),
        (["0002_b.sql"], "no gap"),
        (["1_a.sql"], "NNNN_what_it_does.sql"),
        (["0001_Add Table.sql"], "NNNN_what_it_does.sql"),
    ],
)
def test_a_broken_sequence_of_migrations_is_refused(names: list[str], problem: str) -> None:
    with pytest.raises(MigrationError, match=problem):
        ordered(names)


def test_the_shipped_migrations_load() -> None:
    migrations = load()
    assert migrations[0].version == 1
    assert "CREATE TABLE readings" in migrations[0].sql
    assert "CREATE TABLE rejects" in migrations[0].sql
