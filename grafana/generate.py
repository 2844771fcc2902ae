"""The Batik.Net Grafana dashboards, kept as code.

Run ``.venv/bin/python grafana/generate.py`` after a change and commit the JSON it writes to
``grafana/dashboards/``; a test regenerates them and fails on any difference (drift), and another runs
every expression below against a real Prometheus scraping the lab.

Conventions every dashboard follows (checked by tests/rules/test_dashboards.py):
- a stable ``uid`` per dashboard and stable panel ids (assigned in order of appearance);
- a ``datasource`` variable whose default is the provisioned datasource (uid ``batiknet-prometheus``);
  every panel queries ``${datasource}``;
- every range selector is ``[$__rate_interval]`` (rates and increases in time series); figures for the
  whole chosen period are differences over ``offset $__range`` (see :func:`in_period`);
- titles and labels in Bahasa Indonesia: the NOC wall screen and the technicians read them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grafana_foundation_sdk.builders import (
    common,
    dashboard,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    BigValueTextMode,
    LegendDisplayMode,
    LegendPlacement,
    VisibilityMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    DataTransformerConfig,
    GridPos,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE_UID = "batiknet-prometheus"  # provisioning/datasources/prometheus.yml pins the same uid
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
GRID_WIDTH = 24

# --- PromQL shared by several panels ----------------------------------------------------------------------

OPD = 'kind="opd"'
CORE_DEVICE = 'kind=~"router|switch"'
ISP = 'kind="isp"'

# Status of each target as one number (0 up, 1 unreachable behind a dead device, 2 down by itself), with its
# name for the legend. One series per target of the given kind, so a grid shows every one of them.
STATUS_MAPPING: list[ValueMapping] = [
    ValueMap(
        options={
            "0": ValueMappingResult(text="Hidup", color="green", index=0),
            "1": ValueMappingResult(text="Tak terjangkau", color="orange", index=1),
            "2": ValueMappingResult(text="Putus", color="red", index=2),
        }
    )
]
UP_MAPPING: list[ValueMapping] = [
    ValueMap(
        options={
            "0": ValueMappingResult(text="Putus", color="red", index=0),
            "1": ValueMappingResult(text="Hidup", color="green", index=1),
        }
    )
]


def status_code(selector: str) -> str:
    return (
        '(2 * max by (target) (batiknet_target_status{status="down"})'
        ' + max by (target) (batiknet_target_status{status="unreachable"}))'
        f" * on (target) group_left (name) max by (target, name) (batiknet_target_info{{{selector}}})"
    )


def opds_in_status(status: str) -> str:
    """How many OPDs are in a status: 0, not an empty panel, when there are none."""
    return (
        f'sum(max by (target) (batiknet_target_status{{status="{status}"}})'
        f" and on (target) batiknet_target_info{{{OPD}}}) or vector(0)"
    )


# --- layout ------------------------------------------------------------------------------------------------


@dataclass
class Layout:
    """Places panels left to right, wrapping to a new row, and numbers them in order (stable ids)."""

    x: int = 0
    y: int = 0
    row_height: int = 0
    next_id: int = 1

    def place(self, width: int, height: int) -> tuple[int, GridPos]:
        if self.x + width > GRID_WIDTH:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        position = GridPos(h=height, w=width, x=self.x, y=self.y)
        self.x += width
        self.row_height = max(self.row_height, height)
        panel_id, self.next_id = self.next_id, self.next_id + 1
        return panel_id, position

    def new_row(self) -> None:
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0


@dataclass
class Board:
    """One dashboard being built."""

    builder: dashboard.Dashboard
    layout: Layout = field(default_factory=Layout)

    def add(self, panel: Callable[[], object], width: int, height: int) -> None:
        panel_id, position = self.layout.place(width, height)
        self.builder.with_panel(panel().id(panel_id).grid_pos(position).datasource(DATASOURCE))  # type: ignore[attr-defined]

    def row(self, title: str) -> None:
        self.layout.new_row()
        panel_id, position = self.layout.place(GRID_WIDTH, 1)
        self.builder.with_row(dashboard.Row(title).id(panel_id).grid_pos(position))
        self.layout.new_row()


def new_board(uid: str, title: str, description: str, refresh: str = "30s") -> Board:
    builder = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["batiknet"])
        .editable()
        .refresh(refresh)
        .time("now-6h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dashboard.DatasourceVariable("datasource")
            .label("Sumber data")
            .type("prometheus")
            .current(VariableOption(text="Prometheus Batik.Net", value=DATASOURCE_UID))
        )
    )
    return Board(builder)


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> prometheus.Dataquery:
    built = prometheus.Dataquery().expr(expr).ref_id(ref)
    if legend:
        built = built.legend_format(legend)
    return built.instant() if instant else built.range()


def table_query(expr: str, ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).ref_id(ref).instant().format("table")


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


def big_number(title: str, expr: str, colour_steps: list[tuple[float | None, str]], unit: str = "none"):
    """A single large number readable from across the room."""
    return lambda: (
        stat.Panel()
        .title(title)
        .with_target(query(expr, instant=True))
        .unit(unit)
        .decimals(0 if unit == "none" else 1)
        .thresholds(thresholds(*colour_steps))
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.NONE)
        .text_mode(BigValueTextMode.VALUE)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
    )


def status_grid(title: str, expr: str, mappings: list[ValueMapping], legend: str = "{{name}}"):
    """One coloured tile per series, named by ``legend``."""
    return lambda: (
        stat.Panel()
        .title(title)
        .with_target(query(expr, legend=legend, instant=True))
        .mappings(mappings)
        .thresholds(thresholds((None, "green")))
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.NONE)
        .text_mode(BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
    )


def graph(title: str, *queries: prometheus.Dataquery, unit: str = "none", minimum: float | None = None):
    def build() -> timeseries.Panel:
        panel = timeseries.Panel().title(title).unit(unit).fill_opacity(10).line_width(2)
        for item in queries:
            panel = panel.with_target(item)
        if minimum is not None:
            panel = panel.min(minimum)
        return panel.legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
        )

    return build


def table_of(title: str, expr: str, columns: dict[str, str], unit: str = "none"):
    """An instant table showing only ``columns`` (label -> heading), in that order, plus the value."""
    organize = DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": {"Time": True},
            "indexByName": {name: index for index, name in enumerate(columns)},
            "renameByName": columns,
        },
    )
    keep = DataTransformerConfig(id_val="filterFieldsByName", options={"include": {"names": [*columns]}})
    return lambda: (
        table.Panel()
        .title(title)
        .with_target(table_query(expr))
        .unit(unit)
        .with_transformation(keep)
        .with_transformation(organize)
        .show_header(True)
    )


# --- the dashboards ----------------------------------------------------------------------------------------


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


DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "noc-overview.json": noc_overview,
    "opd-detail.json": opd_detail,
    "core-devices.json": core_devices,
    "service-level.json": service_level,
}


def render(build: Callable[[], dashboard.Dashboard]) -> str:
    """The dashboard as the JSON text that is committed (stable key order, trailing newline)."""
    return JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode(build().build()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=DASHBOARDS_DIR)
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        (args.output_dir / name).write_text(render(build), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
