import json
import random
from datetime import UTC, datetime

import pytest

from common.messages.channels import (
    CATALOG,
    Channel,
    ChannelMessage,
    InvalidMessage,
    decode,
    random_message,
)


def test_catalog_has_the_known_channels_once_each() -> None:
    by_number = {channel.number: channel.name for channel in CATALOG}
    assert by_number[22] == "Cartoon"
    assert by_number[23] == "YoYo TV"
    assert by_number[52] == "News"
    assert len(by_number) == len(CATALOG)


def test_encode_then_decode_round_trips() -> None:
    message = ChannelMessage(Channel(23, "YoYo TV"), 7, "2026-11-22T13:45:00.123Z", "host-1")
    data, attributes = message.encode()
    assert decode(data) == message
    assert json.loads(data)["channel_name"] == "YoYo TV"
    assert attributes == {
        "content_type": "application/json",
        "schema_version": "1",
        "channel_number": "23",
        "publisher": "host-1",
    }


def test_random_message_is_from_the_catalog_and_stamped_in_utc() -> None:
    now = datetime(2026, 11, 22, 13, 45, 0, 123456, tzinfo=UTC)
    message = random_message(random.Random(1), sequence=3, publisher="pub", now=now)
    assert message.channel in CATALOG
    assert message.sequence == 3
    assert message.sent_at == "2026-11-22T13:45:00.123Z"
    seen = {
        random_message(random.Random(seed), sequence=1, publisher="p").channel
        for seed in range(200)
    }
    assert seen == set(CATALOG)


def test_decode_ignores_unknown_fields_and_needs_only_the_channel() -> None:
    data = b'{"channel_number": 52, "channel_name": "News", "colour": "red"}'
    assert decode(data) == ChannelMessage(Channel(52, "News"))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"hello", "not JSON"),
        (b"", "not JSON"),
        (b"[22]", "JSON list, not an object"),
        (b'"22 Cartoon"', "JSON str"),
        (
            b'{"channel_name": "Cartoon"}',
            "channel_number must be an integer from 1 to 9007199254740991, got None",
        ),
        (b'{"channel_number": "22", "channel_name": "Cartoon"}', "channel_number"),
        (b'{"channel_number": true, "channel_name": "Cartoon"}', "channel_number"),
        (b'{"channel_number": 0, "channel_name": "Cartoon"}', "channel_number"),
        (b'{"channel_number": 22.5, "channel_name": "Cartoon"}', "channel_number"),
        (b'{"channel_number": 22}', "channel_name"),
        (b'{"channel_number": 22, "channel_name": "  "}', "channel_name"),
        (b'{"channel_number": 22, "channel_name": "' + b"x" * 101 + b'"}', "channel_name"),
        (b'{"channel_number": 22, "channel_name": "C", "sequence": "7"}', "sequence"),
        (b'{"channel_number": 22, "channel_name": "C", "sent_at": 5}', "sent_at"),
        (b'{"channel_number": 22, "channel_name": "C", "publisher": []}', "publisher"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"channel_number": ' + b"1" * 4301 + b"}", "an integer of more than 4,300 digits$"),
        (b'{"channel_name": "a\x01"}', r"\(Invalid control character at position 19\)$"),
    ],
)
def test_decode_rejects_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason.replace("[", r"\[")):
        decode(data)
