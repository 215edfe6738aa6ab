"""The sink's migrations: numbered .sql files, found and ordered. Pure but for reading them.

A migration is ``NNNN_what_it_does.sql`` in a folder; the number is its version in the
folder's tracking table. They apply in number order, each once. Two folders: the
project's own (``subscriber/sink/migrations``: ``readings`` and ``rejects``), tracked in
``schema_migrations``, then the user's (SINK_MIGRATIONS, for the tables of their row
mapper), tracked in ``user_schema_migrations``, so that each numbers from 1 on its own
and a migration the project adds later never collides with one of theirs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PROJECT_TABLE = "schema_migrations"
USER_TABLE = "user_schema_migrations"
_NAME = re.compile(r"(?P<version>\d{4})_(?P<title>[a-z0-9_]+)\.sql")


class MigrationError(ValueError):
    """The migrations folder is not a clean sequence; a deployment must not guess."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def ordered(names: list[str]) -> list[tuple[int, str]]:
    """(version, file name) in apply order; every .sql name must be well formed and every
    version used once, counting up from 1 with no gap (a gap is a file lost in a merge)."""
    found: dict[int, str] = {}
    for name in names:
        if not name.endswith(".sql"):
            continue
        match = _NAME.fullmatch(name)
        if match is None:
            raise MigrationError(f"migration {name!r} is not named NNNN_what_it_does.sql")
        version = int(match["version"])
        if version in found:
            raise MigrationError(
                f"migrations {found[version]!r} and {name!r} share version {version}"
            )
        found[version] = name
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must count up from 1 with no gap: {versions}")
    return [(version, found[version]) for version in versions]


def load(directory: Path = MIGRATIONS) -> list[Migration]:
    return [
        Migration(version, name, (directory / name).read_text(encoding="utf-8"))
        for version, name in ordered([path.name for path in directory.iterdir()])
    ]


@dataclass(frozen=True)
class MigrationSet:
    """The migrations of one folder, and the table that lists which are applied."""

    table: str
    migrations: tuple[Migration, ...]
    # Where they come from, for the log line: "project", or the folder.
    origin: str


def project_migrations() -> MigrationSet:
    return MigrationSet(PROJECT_TABLE, tuple(load()), "project")


def user_migrations(folder: str) -> MigrationSet:
    """The numbered .sql files in ``folder`` (relative to the working directory, /app in
    the images); ``MigrationError`` if it is not a folder or not a clean sequence."""
    directory = Path(folder)
    if not directory.is_dir():
        raise MigrationError(f"{folder} is not a folder")
    try:
        migrations = tuple(load(directory))
    except (OSError, UnicodeDecodeError) as exc:
        raise MigrationError(f"{folder} cannot be read: {exc}") from None
    if not migrations:
        raise MigrationError(f"{folder} holds no NNNN_what_it_does.sql migration")
    return MigrationSet(USER_TABLE, migrations, folder)
