"""One OPD (uid ``batiknet-opd``, variable ``opd``): status, availability over 1, 7 and 30 days,
reachability history, round-trip time, packet loss and its open cases."""

from __future__ import annotations

from grafana_foundation_sdk.builders import (
    dashboard,
    statetimeline,
)
from grafana_foundation_sdk.models.common import (
    VisibilityMode,
)
from grafana_foundation_sdk.models.dashboard import (
    VariableRefresh,
    VariableSort,
)

from .builders import (
    DATASOURCE,
    OPD,
    STATUS_MAPPING,
    big_number,
    graph,
    new_board,
    query,
    status_code,
    status_grid,
    table_of,
)


def opd_detail() -> dashboard.Dashboard:
    board = new_board(
        "batiknet-opd",
        "Batik.Net — Detail OPD",
        "Satu OPD: keterjangkauan, waktu tempuh dan kehilangan paket, ketersediaan 1/7/30 hari, kasusnya.",
    )
    board.builder.with_variable(
        dashboard.QueryVariable("opd")
        .label("OPD")
        .datasource(DATASOURCE)
        .query({"query": f"query_result(batiknet_target_info{{{OPD}}})", "refId": "opd"})
        # show the OPD's name, use its id: label order in the result is alphabetical (name before target)
        .regex('/name="(?<text>[^"]+)".*target="(?<value>[^"]+)"/')
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
    )
    this_opd = 'target="$opd"'
    board.add(status_grid("Status sekarang", status_code(f"{OPD}, {this_opd}"), STATUS_MAPPING), 6, 5)
    for window, title in (("1d", "1 hari"), ("7d", "7 hari"), ("30d", "30 hari")):
        board.add(
            big_number(
                f"Ketersediaan {title}",
                f"target:batiknet_availability:ratio_{window}{{{this_opd}}}",
                [(None, "red"), (0.95, "orange"), (0.99, "green")],
                unit="percentunit",
            ),
            6,
            5,
        )
    board.add(
        lambda: (
            statetimeline.Panel()
            .title("Riwayat keterjangkauan")
            .with_target(query(status_code(f"{OPD}, {this_opd}"), "{{name}}"))
            .mappings(STATUS_MAPPING)
            .show_value(VisibilityMode.NEVER)
            .merge_values(True)
        ),
        24,
        5,
    )
    rtt = f"sum by (le) (rate(batiknet_icmp_rtt_seconds_bucket{{{this_opd}}}[$__rate_interval]))"
    board.add(
        graph(
            "Waktu tempuh ping (RTT)",
            query(f"histogram_quantile(0.5, {rtt})", "median", "A"),
            query(f"histogram_quantile(0.9, {rtt})", "persentil 90", "B"),
            query(f"histogram_quantile(0.99, {rtt})", "persentil 99", "C"),
            unit="s",
            minimum=0,
        ),
        12,
        8,
    )
    board.add(
        graph(
            "Paket hilang",
            query(
                f"1 - sum(rate(batiknet_icmp_responses_total{{{this_opd}}}[$__rate_interval]))"
                f" / sum(rate(batiknet_icmp_requests_total{{{this_opd}}}[$__rate_interval]))",
                "hilang",
            ),
            unit="percentunit",
            minimum=0,
        ),
        12,
        8,
    )
    board.add(
        table_of(
            "Kasus terbuka OPD ini",
            f"batiknet_case_open_info{{{this_opd}}}",
            {"case_id": "No. kasus", "state": "Status kasus", "target": "Target"},
        ),
        24,
        5,
    )
    return board.builder
