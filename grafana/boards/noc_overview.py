"""The NOC wall screen (uid ``batiknet-noc``): every OPD's status, the disruptions under way with their
cases, the core devices, the ISP uplinks, DNS and the open cases."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from .builders import (
    CORE_DEVICE,
    ISP,
    OPD,
    STATUS_MAPPING,
    UP_MAPPING,
    big_number,
    graph,
    new_board,
    query,
    status_code,
    status_grid,
    table_of,
)


def opds_in_status(status: str) -> str:
    """How many OPDs are in a status: 0, not an empty panel, when there are none."""
    return (
        f'sum(max by (target) (batiknet_target_status{{status="{status}"}})'
        f" and on (target) batiknet_target_info{{{OPD}}}) or vector(0)"
    )


def noc_overview() -> dashboard.Dashboard:
    board = new_board(
        "batiknet-noc",
        "Batik.Net — Ikhtisar NOC",
        "Layar dinding NOC: status setiap OPD, gangguan yang sedang berlangsung beserta kasusnya, perangkat "
        "inti, DNS, uplink ISP dan kasus terbuka.",
        refresh="15s",
    )
    board.row("Status OPD")
    board.add(big_number("OPD hidup", opds_in_status("up"), [(None, "green")]), 6, 5)
    board.add(big_number("OPD putus", opds_in_status("down"), [(None, "green"), (1, "red")]), 6, 5)
    board.add(
        big_number("OPD tak terjangkau", opds_in_status("unreachable"), [(None, "green"), (1, "orange")]),
        6,
        5,
    )
    board.add(
        big_number(
            "Kasus terbuka",
            'sum(batiknet_cases{state!="closed"}) or vector(0)',
            [(None, "green"), (1, "yellow")],
        ),
        3,
        5,
    )
    board.add(
        big_number(
            "Kasus terlambat",
            'sum(batiknet_cases_overdue{deadline="target"}) or vector(0)',
            [(None, "green"), (1, "red")],
        ),
        3,
        5,
    )
    board.add(status_grid("Status semua OPD", status_code(OPD), STATUS_MAPPING), 24, 10)

    board.row("Gangguan yang sedang berlangsung")
    # Each firing alert with the moment it became active (ALERTS_FOR_STATE) and its open case; a disruption
    # the tracker has no case for yet shows "belum ada".
    firing = (
        'max by (alertname, severity, target, name) (ALERTS_FOR_STATE{alertname!="Watchdog"})'
        ' and on (alertname, target) ALERTS{alertstate="firing"}'
    )
    open_case = (
        "topk by (target) (1, max by (target, case_id, state) (batiknet_case_open_info))"
        ' or on (target) label_replace(label_replace(max by (target) (ALERTS{alertstate="firing"}),'
        ' "case_id", "belum ada", "", ""), "state", "-", "", "")'
    )
    board.add(
        table_of(
            "Gangguan saat ini",
            f"1000 * (({firing}) * on (target) group_left (case_id, state) ({open_case}))",
            {
                "alertname": "Peringatan",
                "severity": "Tingkat",
                "target": "Target",
                "name": "Nama",
                "Value": "Sejak",
                "case_id": "No. kasus",
                "state": "Status kasus",
            },
            unit="dateTimeAsLocal",
        ),
        24,
        9,
    )

    board.row("Perangkat inti, DNS dan uplink ISP")
    board.add(status_grid("Perangkat inti", status_code(CORE_DEVICE), STATUS_MAPPING), 8, 6)
    board.add(status_grid("Uplink ISP", status_code(ISP), STATUS_MAPPING), 8, 6)
    board.add(status_grid("Server DNS", "min by (server) (batiknet_dns_up)", UP_MAPPING, "{{server}}"), 8, 6)
    board.add(
        big_number(
            "Port aktif tanpa link",
            "count(batiknet_interface_up == 0 and on (device, interface) batiknet_interface_admin_up == 1)"
            " or vector(0)",
            [(None, "green"), (1, "orange")],
        ),
        4,
        7,
    )
    board.add(
        graph(
            "Trafik perangkat inti",
            query(
                "sum by (device) (rate(batiknet_interface_receive_bytes_total[$__rate_interval])) * 8",
                "{{device}} masuk",
                "A",
            ),
            query(
                "sum by (device) (rate(batiknet_interface_transmit_bytes_total[$__rate_interval])) * 8",
                "{{device}} keluar",
                "B",
            ),
            unit="bps",
        ),
        10,
        7,
    )
    board.add(
        graph(
            "Waktu jawab DNS (persentil 90)",
            query(
                "histogram_quantile(0.9, sum by (server, le)"
                " (rate(batiknet_dns_lookup_seconds_bucket[$__rate_interval])))",
                "{{server}}",
            ),
            unit="s",
        ),
        10,
        7,
    )

    board.row("Kasus")
    board.add(
        status_grid(
            "Kasus terbuka per status",
            'sum by (state) (batiknet_cases{state!="closed"})',
            [],
            "{{state}}",
        ),
        16,
        5,
    )
    board.add(
        status_grid(
            "Kasus terlambat",
            "sum by (deadline) (batiknet_cases_overdue)",
            [],
            "lewat {{deadline}}",
        ),
        8,
        5,
    )
    return board.builder
