"""The one timestamp format every message and receipt carries."""

import re
from datetime import UTC, datetime, timedelta, timezone

from common.messages._json import utc_timestamp


def test_a_moment_is_written_in_utc_to_the_millisecond() -> None:
    moment = datetime(2026, 11, 25, 19, 0, 0, 123_999, tzinfo=timezone(timedelta(hours=1)))
    assert utc_timestamp(moment) == "2026-11-25T18:00:00.123Z"


def test_now_is_written_the_same_way() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    text = utc_timestamp()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text), text
    assert before <= datetime.fromisoformat(text) <= after
