"""A small reachability-and-RTT chart of one target, laid out for server-side SVG (no JS library).

Pure: sample series in, drawing geometry out. The template turns the geometry into ``<rect>``,
``<polyline>`` and ``<line>`` elements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

Sample = tuple[float, float]  # (unix seconds, value)

WIDTH = 600
HEIGHT = 160
PLOT_TOP = 8
PLOT_BOTTOM = 140  # below it: the time axis labels
BAND_HEIGHT = 14  # the up/down strip along the bottom of the plot
DEFAULT_STEP = 15.0  # seconds; the exporter's default probe interval


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    up: bool


@dataclass(frozen=True)
class Marker:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bands: tuple[Band, ...]
    rtt_runs: tuple[str, ...]  # SVG polyline points "x,y x,y ...", one per unbroken run of samples
    markers: tuple[Marker, ...]
    max_rtt_ms: float
    plot_top: int
    plot_bottom: int
    band_y: int
    band_height: int

    @property
    def empty(self) -> bool:
        return not self.bands and not self.rtt_runs


def layout(
    up: Sequence[Sample],
    rtt_seconds: Sequence[Sample],
    start: datetime,
    end: datetime,
    markers: Sequence[tuple[datetime, str]] = (),
) -> Chart:
    """Place the samples of ``[start, end]`` on a WIDTH × HEIGHT canvas.

    Each up sample covers one step after it (the query's resolution, read off the samples); a missing
    sample leaves a gap rather than guessing. RTT is drawn as a line scaled to its own maximum, broken
    where samples are missing (a host that does not answer has no RTT).
    """
    step = sample_step(up, rtt_seconds)
    t0, t1 = start.timestamp(), end.timestamp()
    span = max(t1 - t0, 1.0)

    def x_of(t: float) -> float:
        return round((min(max(t, t0), t1) - t0) / span * WIDTH, 1)

    bands = []
    for t, value in up:
        left, right = x_of(t), x_of(t + step)
        if right > left:
            bands.append(Band(x=left, width=round(right - left, 1), up=value >= 1))

    max_rtt = max((v for _, v in rtt_seconds), default=0.0)
    rtt_top, rtt_bottom = PLOT_TOP, PLOT_BOTTOM - BAND_HEIGHT - 4
    runs: list[list[str]] = []
    previous_t: float | None = None
    for t, value in rtt_seconds:
        if previous_t is None or t - previous_t > step * 1.5:
            runs.append([])
        y = rtt_bottom - (value / max_rtt * (rtt_bottom - rtt_top) if max_rtt > 0 else 0)
        runs[-1].append(f"{x_of(t)},{round(y, 1)}")
        previous_t = t
    rtt_runs = tuple(" ".join(run) for run in runs)

    return Chart(
        width=WIDTH,
        height=HEIGHT,
        bands=tuple(bands),
        rtt_runs=rtt_runs,
        markers=tuple(
            Marker(x=x_of(at.timestamp()), label=label) for at, label in markers if t0 <= at.timestamp() <= t1
        ),
        max_rtt_ms=round(max_rtt * 1000, 1),
        plot_top=PLOT_TOP,
        plot_bottom=PLOT_BOTTOM,
        band_y=PLOT_BOTTOM - BAND_HEIGHT,
        band_height=BAND_HEIGHT,
    )


def sample_step(*series: Sequence[Sample]) -> float:
    """A range query's resolution: the smallest spacing of its samples (the probe interval if unknown)."""
    gaps = [b[0] - a[0] for samples in series for a, b in pairwise(samples) if b[0] > a[0]]
    return min(gaps, default=DEFAULT_STEP)


def window_around(
    received_at: datetime, restored_at: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The time range to chart: an hour before the disruption to half an hour after its restoration, or
    up to now while it lasts (a receipt stamped ahead of this clock still gets a short window)."""
    start = received_at - timedelta(hours=1)
    end = min((restored_at or now) + timedelta(minutes=30), now)
    return start, max(end, start + timedelta(minutes=5))
