"""Which errors storing rows are a row's, and how a row's reads in ``rejects``. Pure.

The store (``store``) asks ``row_error`` of each error a write raises: a row's sends that
row to ``rejects`` with ``row_reason``; any other is the database's, and the sink holds
the batch and retries it (``sink``).
"""

from __future__ import annotations

import psycopg


def describe_error(exc: BaseException) -> str:
    """One line: the error's class and PostgreSQL's primary message."""
    text = str(exc).strip()
    primary = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
    return f"{type(exc).__name__}: {primary or (text.splitlines()[0] if text else '')}"


def row_error(exc: Exception) -> bool:
    """Whether ``exc``, raised storing rows, is about a row rather than the database.

    A row's: PostgreSQL refused a value or a constraint (SQLSTATE classes 22 and 23:
    ``DataError``, ``IntegrityError``), or the driver could not send a value, on the
    client side, with no SQLSTATE (``ProgrammingError`` "cannot adapt type 'set'", a
    ``DataError`` for a NUL in text, or Python's own ``TypeError``, ``ValueError`` and the
    like from dumping one: a ``Decimal`` inside a dict for jsonb, a lone surrogate).
    Not a row's: every other ``psycopg.Error``, from the connection (refused, lost, an
    administrator's shutdown, a timeout) or from the statement (a table, a column or a
    privilege that is missing, which no row of the batch can be stored without).
    """
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
        return True
    if isinstance(exc, psycopg.ProgrammingError):
        return exc.sqlstate is None  # the server's are the statement's (UndefinedTable)
    return not isinstance(exc, psycopg.Error)


def row_reason(exc: Exception) -> str:
    """Why a row went to ``rejects``, for its ``reason`` column and the log."""
    if isinstance(exc, psycopg.Error) and exc.sqlstate is not None:
        return f"refused by the database: {describe_error(exc)}"
    return f"cannot be sent to the database: {describe_error(exc)}"


def storable(text: str) -> str:
    """``text`` as a text column takes it: a NUL, which PostgreSQL's text cannot hold, and
    lone surrogates, which UTF-8 cannot encode (both may be in an error's text), escaped."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
