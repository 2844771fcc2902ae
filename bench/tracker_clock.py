"""Benchmark: the working-time clock over spans from a day to 2,000 years (CPU time per call).

The clock measures working time between two instants (``core.clock.working_seconds_between``); every case
summary asks it once or more. Its cost must not grow with the span: a case received in year 1 once made
every list that showed it take seconds (issue 11, item 4). Each span is measured cold (a new calendar,
whose holiday source has not yet loaded those years) and warm (the same calendar again), as CPU time of
this process, which other load on the machine disturbs least.

    .venv/bin/python bench/tracker_clock.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alert_webhook.core.clock import WorkingCalendar, working_seconds_between

END = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # a Monday, 10:00 WIB
SPANS = {
    "1 day": datetime(2026, 11, 29, 3, 0, tzinfo=UTC),
    "1 year": datetime(2025, 11, 30, 3, 0, tzinfo=UTC),
    "30 years": datetime(1996, 11, 30, 3, 0, tzinfo=UTC),
    "2,000 years": datetime(26, 11, 30, 3, 0, tzinfo=UTC),
}


def cpu_ms(call, repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - started) * 1000 / repeat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="warm calls per span (default 20)")
    args = parser.parse_args()
    results = {}
    for name, start in SPANS.items():
        calendar = WorkingCalendar()
        cold = cpu_ms(lambda c=calendar, s=start: working_seconds_between(c, s, END), 1)
        warm = cpu_ms(lambda c=calendar, s=start: working_seconds_between(c, s, END), args.repeat)
        results[name] = {"cold_ms": round(cold, 3), "warm_ms": round(warm, 3)}
    print(json.dumps({"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
                      "cpu_ms_per_call": results}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
