"""Which errors storing rows are a row's (the row goes to rejects) and which the
database's (the batch is held and retried); the real driver's errors are raised in
tests/integration/test_seams_hold_sink.py."""

from decimal import Decimal

import psycopg
import pytest
from psycopg import errors

from subscriber.sink.errors import row_error, row_reason, storable


@pytest.mark.parametrize(
    "error",
    [
        errors.lookup("22003")("integer out of range"),  # NumericValueOutOfRange
        errors.lookup("22P05")("unsupported Unicode escape sequence"),
        errors.lookup("23514")("new row violates check constraint"),  # CheckViolation
        errors.lookup("23505")("duplicate key value"),  # UniqueViolation
        psycopg.ProgrammingError("cannot adapt type 'set' using placeholder '%s'"),
        psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        TypeError(f"Object of type {Decimal.__name__} is not JSON serializable"),
        UnicodeEncodeError("utf-8", "\udc80", 0, 1, "surrogates not allowed"),
        OverflowError("date value out of range"),
    ],
    ids=type,
)
def test_a_value_that_cannot_be_stored_is_the_rows(error: Exception) -> None:
    assert row_error(error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection refused"),
        errors.lookup("57P01")("terminating connection due to administrator command"),
        errors.lookup("57014")("canceling statement due to statement timeout"),
        errors.lookup("42P01")('relation "orders" does not exist'),  # UndefinedTable
        errors.lookup("42703")('column "total" does not exist'),  # UndefinedColumn
        errors.lookup("42501")("permission denied for table orders"),
        errors.lookup("40P01")("deadlock detected"),
        psycopg.InterfaceError("the connection is closed"),
    ],
    ids=type,
)
def test_the_connection_and_the_statement_are_not_a_rows(error: Exception) -> None:
    assert not row_error(error)


def test_a_reason_says_who_refused() -> None:
    server = errors.lookup("22003")("integer out of range")
    client = psycopg.ProgrammingError("cannot adapt type 'set'")
    assert row_reason(server) == (
        "refused by the database: NumericValueOutOfRange: integer out of range"
    )
    assert row_reason(client) == (
        "cannot be sent to the database: ProgrammingError: cannot adapt type 'set'"
    )
    assert row_reason(TypeError("not JSON serializable")) == (
        "cannot be sent to the database: TypeError: not JSON serializable"
    )


def test_text_a_text_column_cannot_hold_is_escaped() -> None:
    assert storable("plain") == "plain"
    assert storable("a\x00b \udc80") == "a\\x00b \\udc80"
