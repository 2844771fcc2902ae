"""The Prometheus text format (0.0.4) for the exporter's own collector, about three times faster.

prometheus_client's ``generate_latest`` validates and escapes every label *name* of every sample, which
is most of its time; at 2,000 targets (about 50,000 samples, mostly RTT histogram buckets) that is
around half a second per rendering. The exporter's label names are fixed and valid, so this writer
escapes only what can vary: HELP text and label values. ``tests/exporter/test_exposition.py`` checks
that its output is byte for byte what ``generate_latest`` gives for the same collector.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString

__all__ = ["render"]

EXPOSED_TYPES = {"counter": "counter", "gauge": "gauge", "histogram": "histogram"}


def _escape_value(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def render(families: Iterable[Metric]) -> bytes:
    output: list[str] = []
    append = output.append
    formatted: dict[float, str] = {}  # histogram counts repeat a lot: format each value once

    def number(value: float) -> str:
        text = formatted.get(value)
        if text is None:
            text = formatted[value] = floatToGoString(value)
        return text

    for family in families:
        kind = EXPOSED_TYPES[family.type]  # the collector makes only these three
        name = family.name + "_total" if kind == "counter" else family.name
        help_text = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
        for sample in family.samples:
            if sample.labels:
                labels = ",".join(f'{k}="{_escape_value(v)}"' for k, v in sorted(sample.labels.items()))
                append(f"{sample.name}{{{labels}}} {number(sample.value)}\n")
            else:
                append(f"{sample.name} {number(sample.value)}\n")
    return "".join(output).encode()
