from subscriber.config import load
from subscriber.fanout.config import FanoutConfig


def test_receipts_topic_defaults_and_can_be_turned_off() -> None:
    base = {"PUBSUB_EMULATOR_HOST": "localhost:8085"}
    assert FanoutConfig.from_env(base).receipts_topic_id == "channel-receipts"
    named = FanoutConfig.from_env({**base, "RECEIPTS_TOPIC": "seen"})
    assert named.receipts_topic_id == "seen"
    assert FanoutConfig.from_env({**base, "RECEIPTS": "off"}).receipts_topic_id is None
    shared = load({**base, "SUBSCRIPTION_MODE": "shared"})
    assert not hasattr(shared, "receipts_topic_id"), "work queue workers send no receipts"
