"""How monitoring windows and the demo's bootstrap are sized to the data (pure parts)."""

from __future__ import annotations

from datetime import date, timedelta

from pipelines.demo import bootstrap_days_for
from pipelines.monitor import grow_window, window_days

END = date(2026, 3, 10)


def counts(per_day: int, days: int = 30) -> dict[date, int]:
    return {END - timedelta(days=i): per_day for i in range(days)}


def test_a_day_with_enough_rows_is_its_own_window() -> None:
    window, note = grow_window(counts(1000), END, min_rows=200, max_days=14)
    assert window == (END, END), "1000 rows a day: one-day windows, as before"
    assert note is None, "nothing to say"


def test_a_small_day_grows_back_until_the_window_holds_enough_rows() -> None:
    window, note = grow_window(counts(40), END, min_rows=200, max_days=14)
    assert window == (END - timedelta(days=4), END), "5 days of 40 rows reach 200"
    assert note is not None, "the output says the window was grown"
    assert "5 days" in note, note
    assert "200 predictions" in note, note


def test_growth_stops_at_the_cap_and_says_the_evidence_is_weak() -> None:
    window, note = grow_window(counts(5), END, min_rows=200, max_days=14)
    assert window == (END - timedelta(days=13), END), "never longer than max_days"
    assert note is not None, "a window still too small is reported"
    assert "70 predictions" in note, note
    assert "weak evidence" in note, note


def test_days_without_predictions_count_as_empty() -> None:
    sparse = {END: 150, END - timedelta(days=3): 100}
    window, _ = grow_window(sparse, END, min_rows=200, max_days=14)
    assert window == (END - timedelta(days=3), END), "gaps are crossed, not counted"


def test_window_days_follow_the_daily_volume() -> None:
    assert window_days(1000, 200) == 1, "card-fraud volume: daily windows"
    assert window_days(60, 200) == 4, "60 rows a day: 4-day windows"
    assert window_days(0, 200) == 1, "no volume known: one day"


def test_bootstrap_leaves_room_for_late_labels() -> None:
    assert bootstrap_days_for(60) == 21, "a third of a 60-day run"
    assert bootstrap_days_for(44, label_delay_days=10, holdout_days=5) == 15, "delay + holdout"
    assert bootstrap_days_for(40, label_delay_days=30, holdout_days=5) == 35, (
        "a long label delay pushes the bootstrap so that a holdout has matured labels"
    )
    assert bootstrap_days_for(20) == 14, "at least two weeks"
