"""What every Batik.Net dashboard is built from: the layout that numbers and places panels, the panel
builders (big numbers, status grids, graphs, tables), and the PromQL and value mappings several
dashboards share. The conventions they keep are in ``grafana/generate.py``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import (
    common,
    dashboard,
    prometheus,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    BigValueTextMode,
    LegendDisplayMode,
    LegendPlacement,
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
)

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
