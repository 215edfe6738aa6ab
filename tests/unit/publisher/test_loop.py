from publisher.loop import next_due


def test_next_due_keeps_a_steady_rhythm() -> None:
    assert next_due(10.0, 5.0, now=10.2) == 15.0


def test_next_due_skips_missed_slots_instead_of_bursting() -> None:
    # The loop was paused for 22 s: publish once now, then every 5 s from now.
    assert next_due(10.0, 5.0, now=32.0) == 37.0


def test_next_due_makes_up_for_jitter_at_high_rates() -> None:
    # 1,000 msgs/s, the loop woke 2.5 ms late: the missed slots are due at once.
    assert next_due(10.0, 0.001, now=10.0025) == 10.001
