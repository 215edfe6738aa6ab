from subscriber.dead_letter import rejection_fate


def test_rejection_fate() -> None:
    assert rejection_fate(None, 5) == "nacked"
    assert rejection_fate(2, 5) == "nacked on attempt 2 of 5"
    assert rejection_fate(7, 7).endswith("Pub/Sub now dead-letters it")
