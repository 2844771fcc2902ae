"""The core routers and switches (uid ``batiknet-core``, variable ``device``): status, SNMP, uptime, CPU,
ports, traffic, errors, memory and port utilisation."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import (
    VariableRefresh,
    VariableSort,
)

from .builders import (
    CORE_DEVICE,
    DATASOURCE,
    STATUS_MAPPING,
    UP_MAPPING,
    big_number,
    graph,
    new_board,
    query,
    status_code,
    status_grid,
)


def core_devices() -> dashboard.Dashboard:
    board = new_board(
        "batiknet-core",
        "Batik.Net — Perangkat inti",
        "Router dan switch inti: status port, trafik, pemakaian port, error, waktu hidup, CPU dan memori.",
    )
    board.builder.with_variable(
        dashboard.QueryVariable("device")
        .label("Perangkat")
        .datasource(DATASOURCE)
        .query({"query": "label_values(batiknet_snmp_up, device)", "refId": "device"})
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
    )
    this_device = 'device="$device"'
    board.add(status_grid("Status", status_code(f'{CORE_DEVICE}, target="$device"'), STATUS_MAPPING), 6, 5)
    board.add(status_grid("SNMP", f"batiknet_snmp_up{{{this_device}}}", UP_MAPPING, "SNMP"), 6, 5)
    board.add(
        big_number(
            "Waktu hidup", f"batiknet_device_uptime_seconds{{{this_device}}}", [(None, "green")], unit="s"
        ),
        6,
        5,
    )
    board.add(
        big_number(
            "CPU",
            f"batiknet_device_cpu_usage_ratio{{{this_device}}}",
            [(None, "green"), (0.7, "orange"), (0.9, "red")],
            unit="percentunit",
        ),
        6,
        5,
    )
    board.add(
        status_grid(
            "Status port",
            f"batiknet_interface_up{{{this_device}}} and on (device, interface)"
            f" batiknet_interface_admin_up{{{this_device}}} == 1",
            UP_MAPPING,
            "{{interface}}",
        ),
        24,
        5,
    )
    board.add(
        graph(
            "Trafik masuk",
            query(
                f"rate(batiknet_interface_receive_bytes_total{{{this_device}}}[$__rate_interval]) * 8",
                "{{interface}}",
            ),
            unit="bps",
            minimum=0,
        ),
        12,
        8,
    )
    board.add(
        graph(
            "Trafik keluar",
            query(
                f"rate(batiknet_interface_transmit_bytes_total{{{this_device}}}[$__rate_interval]) * 8",
                "{{interface}}",
            ),
            unit="bps",
            minimum=0,
        ),
        12,
        8,
    )
    board.add(
        graph(
            "Error port",
            query(
                f"sum by (interface, direction)"
                f" (rate(batiknet_interface_errors_total{{{this_device}}}[$__rate_interval]))",
                "{{interface}} {{direction}}",
            ),
            unit="pps",
            minimum=0,
        ),
        12,
        8,
    )
    board.add(
        graph(
            "CPU dan memori",
            query(f"batiknet_device_cpu_usage_ratio{{{this_device}}}", "CPU", "A"),
            query(f"batiknet_device_memory_usage_ratio{{{this_device}}}", "memori", "B"),
            unit="percentunit",
            minimum=0,
        ),
        12,
        8,
    )
    # Ports whose speed the device does not say have no utilisation (prometheus/rules/recording.yml).
    board.add(
        graph(
            "Pemakaian port",
            query(
                f"interface:batiknet_interface_receive_utilisation:ratio5m{{{this_device}}}",
                "{{interface}} masuk",
                "A",
            ),
            query(
                f"interface:batiknet_interface_transmit_utilisation:ratio5m{{{this_device}}}",
                "{{interface}} keluar",
                "B",
            ),
            unit="percentunit",
            minimum=0,
        ),
        12,
        8,
    )
    return board.builder
