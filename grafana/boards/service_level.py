"""The service level (uid ``batiknet-service-level``): cases opened and closed, the share completed within
the target and the maximum, restore time in working hours, by technician and by ISP, over the chosen
period."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from .builders import (
    big_number,
    graph,
    new_board,
    query,
    table_of,
)


def in_period(counter: str) -> str:
    """How much a case tracker counter grew during the chosen period: its value now minus its value at
    the start (0 for a series born within the period).

    The tracker counts these from its database, so they never reset; unlike increase(), this also counts
    the first case of a technician, ISP or outcome that had none before (a series that appears at 1)."""
    return f"({counter} - ({counter} offset $__range or {counter} * 0))"


# Cases closed, by whether their completion came within the target or the maximum (the tracker's one
# definition of on time, alert_webhook/core/service_level.py); the restoration time is reported beside.
COMPLETED = "batiknet_cases_completed_total"
RESTORE_BUCKETS = "batiknet_case_restore_working_seconds_bucket"


def service_level() -> dashboard.Dashboard:
    board = new_board(
        "batiknet-service-level",
        "Batik.Net — Tingkat layanan",
        "Kasus dibuka dan ditutup, porsi kasus yang penyelesaiannya dilaporkan dalam target (2 hari kerja) "
        "dan dalam batas maksimum (5 hari kerja), per teknisi dan per ISP, serta waktu pemulihan dalam jam "
        "kerja, untuk periode yang dipilih.",
        refresh="5m",
    )
    board.builder.time("now-30d", "now")
    for title, counter in (
        ("Kasus dibuka", "batiknet_cases_opened_total"),
        ("Kasus ditutup", "batiknet_cases_closed_total"),
    ):
        board.add(big_number(title, f"sum({in_period(counter)}) or vector(0)", [(None, "blue")]), 4, 5)
    all_completed = f"sum({in_period(COMPLETED)})"
    for title, within, colours in (
        ("Selesai dalam target", 'within="target"', [(None, "red"), (0.8, "orange"), (0.95, "green")]),
        ("Selesai dalam batas maksimum", 'within=~"target|maximum"', [(None, "red"), (1, "green")]),
    ):
        share = f"(sum({in_period(f'{COMPLETED}{{{within}}}')}) or vector(0)) / {all_completed}"
        board.add(big_number(title, share, colours, unit="percentunit"), 4, 5)
    restore_time = f"sum by (le) ({in_period(RESTORE_BUCKETS)})"
    for title, quantile, colours in (
        (
            "Waktu pulih (median, jam kerja)",
            0.5,
            [(None, "green"), (7 * 3600, "orange"), (4 * 7 * 3600, "red")],
        ),
        (
            "Waktu pulih (persentil 90, jam kerja)",
            0.9,
            [(None, "green"), (14 * 3600, "orange"), (5 * 7 * 3600, "red")],
        ),
    ):
        board.add(
            big_number(title, f"histogram_quantile({quantile}, {restore_time})", colours, unit="s"), 4, 5
        )
    board.add(
        graph(
            "Kasus dibuka dan ditutup",
            query(
                "sum by (source) (increase(batiknet_cases_opened_total[$__rate_interval]))",
                "dibuka ({{source}})",
                "A",
            ),
            query("sum(increase(batiknet_cases_closed_total[$__rate_interval]))", "ditutup", "B"),
            minimum=0,
        ),
        24,
        8,
    )
    board.add(
        table_of(
            "Kasus selesai per teknisi",
            f"sum by (technician, within) ({in_period(COMPLETED)})",
            {"technician": "Teknisi", "within": "Selesai", "Value": "Jumlah kasus"},
        ),
        12,
        8,
    )
    board.add(
        table_of(
            "Kasus selesai per ISP",
            f"sum by (isp, within) ({in_period(COMPLETED)})",
            {"isp": "ISP", "within": "Selesai", "Value": "Jumlah kasus"},
        ),
        12,
        8,
    )
    board.add(
        table_of(
            "Waktu pulih per ISP (median, jam kerja)",
            f"histogram_quantile(0.5, sum by (isp, le) ({in_period(RESTORE_BUCKETS)}))",
            {"isp": "ISP", "Value": "Median waktu pulih"},
            unit="s",
        ),
        24,
        6,
    )
    return board.builder
