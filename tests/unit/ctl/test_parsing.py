"""The operator command's pure parts: durations, its command line, what it prints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ctl.cli import parser
from ctl.durations import describe, parse_duration
from ctl.output import Result, emit, preview, table

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86_400), ("1h30m", 5400)],
)
def test_durations_as_an_operator_types_them(text: str, seconds: int) -> None:
    assert parse_duration(text, DAY) == timedelta(seconds=seconds)
    assert parse_duration(describe(timedelta(seconds=seconds)), DAY) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0", "0s", "5x", "m", "1h-5m", "-3s"])
def test_a_bad_duration_says_the_forms_it_takes(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(text, DAY)


@pytest.mark.parametrize("text", ["1d1s", "25h", "99999999999999999999999s", "9" * 400 + "s"])
def test_a_duration_past_the_longest_is_refused_naming_the_limit(text: str) -> None:
    with pytest.raises(ValueError, match=r"at most 1d$"):
        parse_duration(text, DAY)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["replay", "--since", "5x", "--all"], "--since"),
        (["replay", "--since", "32d", "--all"], "--since: '32d': a duration of at most 31d"),
        (["replay", "--since", "99999999d", "--all"], "--since"),
        (["replay", "--since", "5m"], "--replica ID | --all"),
        (["replay", "--since", "5m", "--snapshot", "s", "--all"], "not allowed with"),
        (["replay", "--all", "--replica", "r", "--since", "5m"], "not allowed with"),
        (["dead-letters", "republish", "--all", "--rate", "0"], "--rate"),
        (["replicas", "--listen", "-1"], "--listen"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_usage_exits_2_naming_what_is_wrong(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2
    assert named in capsys.readouterr().err


def test_the_command_line_reads_each_subcommand() -> None:
    args = parser().parse_args(["--json", "dead-letters", "republish", "7", "9", "--to", "t2"])
    assert (args.json, args.command, args.action, args.ids, args.to) == (
        True, "dead-letters", "republish", ["7", "9"], "t2"
    )  # fmt: skip
    args = parser().parse_args(["replay", "--since", "30m", "--replica", "r-1"])
    assert (args.since, args.replica, args.all) == (timedelta(minutes=30), "r-1", False)
    assert parser().parse_args(["snapshot", "create", "before"]).name == "before"


def test_tables_escape_what_pubsub_holds_and_previews_stay_on_one_line() -> None:
    text = table(("ID", "DATA"), [("1", "a\x1b[31mred"), ("22", None)])
    assert text.splitlines() == ["ID  DATA", "1   a\\x1b[31mred", "22  -"]
    assert preview(b"line\nbreak") == "line\\nbreak"
    assert preview(b"\xff\xfe") == "<2 bytes, not UTF-8>"
    assert preview(b"x" * 100, 10) == "x" * 9 + "…"


def test_json_for_scripts_text_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    result = Result({"ok": True}, "all good", 1)
    assert emit(result, as_json=True) == 1
    assert capsys.readouterr().out == '{\n  "ok": true\n}\n'
    emit(result, as_json=False)
    assert capsys.readouterr().out == "all good\n"
