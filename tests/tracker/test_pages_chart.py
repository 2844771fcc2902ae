"""The server-side chart layout and the quarterly evaluation: pure functions, no app needed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alert_webhook.core.chart import WIDTH, layout, sample_step, window_around
from alert_webhook.core.evaluation import CaseFacts, Technician, evaluate, quarter_bounds, quarter_of
from alert_webhook.core.service_level import Standing

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def test_bands_cover_samples_and_down_is_marked():
    up = [(T0.timestamp() + 60 * i, 0.0 if 3 <= i < 6 else 1.0) for i in range(10)]
    chart = layout(up, [], T0, T0 + timedelta(minutes=10))
    assert len(chart.bands) == 10
    assert [b.up for b in chart.bands] == [True] * 3 + [False] * 3 + [True] * 4
    assert chart.bands[0].x == 0
    assert chart.bands[-1].x + chart.bands[-1].width == pytest.approx(WIDTH)


def test_rtt_line_breaks_at_missing_samples_and_scales_to_its_maximum():
    rtt = [(T0.timestamp() + 60 * i, 0.002 * (i + 1)) for i in (0, 1, 2, 6, 7)]
    chart = layout([(T0.timestamp(), 1.0), (T0.timestamp() + 60, 1.0)], rtt, T0, T0 + timedelta(minutes=10))
    assert len(chart.rtt_runs) == 2
    assert chart.max_rtt_ms == 16.0
    highest = min(float(p.split(",")[1]) for run in chart.rtt_runs for p in run.split())
    assert highest == chart.plot_top


def test_markers_outside_the_window_are_dropped_and_empty_chart_is_empty():
    chart = layout(
        [],
        [],
        T0,
        T0 + timedelta(hours=1),
        markers=[(T0 + timedelta(minutes=30), "a"), (T0 - timedelta(hours=2), "b")],
    )
    assert [m.label for m in chart.markers] == ["a"]
    assert chart.markers[0].x == WIDTH / 2
    assert chart.empty


def test_window_spans_an_hour_before_to_half_an_hour_after_restoration():
    start, end = window_around(T0, T0 + timedelta(hours=2), now=T0 + timedelta(days=1))
    assert (start, end) == (T0 - timedelta(hours=1), T0 + timedelta(hours=2, minutes=30))
    # Still ongoing: up to now, never into the future.
    start, end = window_around(T0, None, now=T0 + timedelta(minutes=1))
    assert end == T0 + timedelta(minutes=1)
    # A receipt stamped ahead of this clock still gives a short window.
    start, end = window_around(T0 + timedelta(hours=2), None, now=T0)
    assert end - start == timedelta(minutes=5)


def test_step_is_read_off_the_samples():
    assert sample_step([(0, 1), (30, 1), (60, 1)], [(0, 0.1), (90, 0.1)]) == 30
    assert sample_step([], [(5, 0.1)]) == 15


def facts(case_id, technicians, standing, restored_after_hours=None, complaints=0, completed=True):
    restored = None if restored_after_hours is None else restored_after_hours * 3600
    return CaseFacts(case_id, technicians, Standing(standing), completed, restored, complaints)


ANI, BUDI, CITRA = Technician(1, "ani"), Technician(2, "budi"), Technician(3, "citra")


def test_evaluation_counts_shares_median_and_complaints_per_technician():
    cases = [
        facts(1, (ANI,), "within_target", 2),
        facts(2, (ANI, BUDI), "within_maximum", 48, complaints=1),
        facts(3, (ANI,), "past_maximum", 2),  # restored in two hours, completed too late
        facts(4, (BUDI,), "within_target", None, complaints=2, completed=False),  # open, not yet due
    ]
    scores = {s.technician: s for s in evaluate([ANI, BUDI, CITRA], cases)}
    ani, budi, citra = scores["ani"], scores["budi"], scores["citra"]
    assert (ani.cases, ani.restored, ani.completed, ani.within_target, ani.within_maximum) == (3, 3, 3, 1, 2)
    assert ani.median_restore_hours == 2
    assert ani.complaints == 1
    assert ani.target_share == pytest.approx(1 / 3)
    budi_counts = (budi.cases, budi.restored, budi.completed, budi.within_target, budi.within_maximum)
    assert budi_counts == (2, 1, 1, 1, 2)
    assert budi.complaints == 3
    assert budi.maximum_share == 1
    assert (citra.cases, citra.median_restore_hours, citra.target_share) == (0, None, None)


def test_evaluation_is_per_user_account_not_per_name():
    # Two technicians of the same name stay apart; a case keeps the name the account had then, but
    # it counts for the account, shown under today's name.
    ani_again = Technician(4, "ani")
    renamed = Technician(1, "Ani Rahayu")
    cases = [
        facts(1, (ANI,), "within_target"),
        facts(2, (ani_again,), "within_target"),
        facts(3, (ANI,), "past_maximum"),
    ]
    scores = evaluate([renamed, ani_again], cases)
    assert [(s.user_id, s.technician, s.cases) for s in scores] == [(1, "Ani Rahayu", 2), (4, "ani", 1)]


def test_quarters_in_local_time():
    wib = ZoneInfo("Asia/Jakarta")
    assert quarter_of(date(2026, 11, 30)) == (2026, 4)
    start, end = quarter_bounds(2026, 4, wib)
    assert start == datetime(2026, 10, 1, tzinfo=wib) and end == datetime(2027, 1, 1, tzinfo=wib)
    start, end = quarter_bounds(2026, 1, wib)
    assert end == datetime(2026, 4, 1, tzinfo=wib)
    with pytest.raises(ValueError):
        quarter_bounds(2026, 5, wib)
