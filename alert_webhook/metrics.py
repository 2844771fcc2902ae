"""The tracker's own metrics, read from the database at each scrape.

Counting in the database rather than in process memory keeps the numbers right with several gunicorn
workers and across restarts: "opened" is the number of case rows, "received" the number of stored
notifications, and so on. Nothing here is written; a scrape is a handful of aggregate queries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import case as when
from sqlalchemy import func, literal, select

from .core.workflow import CaseSource, CaseState
from .extension import tracker_of
from .services import Tracker
from .spool import SET_ASIDE_KINDS, received_at_of
from .store.models import Case, CaseAssignment, Heartbeat, Notification, RejectionCount, User

# Working seconds: 5 min … one Mon–Thu day (7 h 15 min = 26,100 s) … five days.
WORKING_SECONDS_BUCKETS = (
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    26100.0,
    52200.0,
    104400.0,
    130500.0,
)
REJECTION_REASONS = ("unauthorized", "content_type", "too_large", "invalid_json", "invalid_payload")

bp = Blueprint("metrics", __name__)


class CaseCollector:
    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        now = self.tracker.now()
        with self.tracker.db.read() as session:
            by_state = dict(session.execute(select(Case.state, func.count()).group_by(Case.state)).all())
            cases = GaugeMetricFamily("batiknet_cases", "Cases by workflow state.", labels=["state"])
            for state in CaseState:
                cases.add_metric([state], by_state.get(state, 0))
            yield cases

            overdue = GaugeMetricFamily(
                "batiknet_cases_overdue",
                "Open cases past their deadline (target: end of working day 2, "
                "maximum: end of working day 5).",
                labels=["deadline"],
            )
            for name, column in (("target", Case.target_deadline), ("maximum", Case.maximum_deadline)):
                count = session.scalar(
                    select(func.count()).where(Case.state != CaseState.CLOSED, column < now)
                )
                overdue.add_metric([name], count or 0)
            yield overdue

            info = GaugeMetricFamily(
                "batiknet_case_open_info", "One series per open case.", labels=["case_id", "target", "state"]
            )
            for case_id, target, state in session.execute(
                select(Case.id, Case.target, Case.state).where(Case.state != CaseState.CLOSED)
            ):
                info.add_metric([str(case_id), target, state], 1)
            yield info

            opened = CounterMetricFamily(
                "batiknet_cases_opened", "Cases opened, by source.", labels=["source"]
            )
            by_source = dict(session.execute(select(Case.source, func.count()).group_by(Case.source)).all())
            for source in CaseSource:
                opened.add_metric([source], by_source.get(source, 0))
            yield opened
            yield CounterMetricFamily(
                "batiknet_cases_closed", "Cases closed.", by_state.get(CaseState.CLOSED, 0)
            )

            yield self._histogram(
                session,
                "batiknet_case_disposition_working_seconds",
                "Working seconds from receipt to disposition.",
                Case.disposition_working_seconds,
                None,
            )
            yield self._histogram(
                session,
                "batiknet_case_restore_working_seconds",
                "Working seconds from receipt to restore, by ISP.",
                Case.restore_working_seconds,
                Case.isp,
            )

            rows = (
                select(
                    func.coalesce(User.username, "none").label("technician"),
                    func.coalesce(Case.isp, "none").label("isp"),
                    when(
                        (Case.restored_at <= Case.target_deadline, literal("target")),
                        (Case.restored_at <= Case.maximum_deadline, literal("maximum")),
                        else_=literal("late"),
                    ).label("within"),
                )
                .select_from(Case)
                .outerjoin(CaseAssignment, CaseAssignment.case_id == Case.id)
                .outerjoin(User, User.id == CaseAssignment.user_id)
                .where(Case.restored_at.is_not(None))
                .subquery()
            )
            restored = CounterMetricFamily(
                "batiknet_cases_restored",
                "Cases restored, by technician, ISP and whether within the target or the maximum.",
                labels=["technician", "isp", "within"],
            )
            for name, isp, bucket, count in session.execute(
                select(rows.c.technician, rows.c.isp, rows.c.within, func.count()).group_by(
                    rows.c.technician, rows.c.isp, rows.c.within
                )
            ):
                restored.add_metric([name, isp, bucket], count)
            yield restored

            received = session.scalar(select(func.count(Notification.id))) or 0
            duplicates = (
                session.scalar(
                    select(func.count(Notification.id)).where(
                        Notification.effects == 0, Notification.apply_error.is_(None)
                    )
                )
                or 0
            )
            yield CounterMetricFamily(
                "batiknet_notifications_received", "Webhook notifications applied and stored raw.", received
            )
            yield CounterMetricFamily(
                "batiknet_notifications_deduplicated",
                "Applied notifications that changed nothing (repeats, HA copies).",
                duplicates,
            )
            set_aside = GaugeMetricFamily(
                "batiknet_notifications_set_aside",
                "Notifications that could not be applied, set aside for an admin (spool/rejected/), by "
                "why: unreadable, refused (by the database), failed.",
                labels=["kind"],
            )
            kinds = Counter(entry.kind for entry in self.tracker.spool.set_aside_entries())
            for kind in sorted({*SET_ASIDE_KINDS, *kinds}):
                set_aside.add_metric([kind], kinds[kind])
            yield set_aside
            queued = self.tracker.spool.names()
            yield GaugeMetricFamily(
                "batiknet_notifications_queued",
                "Notifications accepted and spooled, not yet applied (this server's spool).",
                len(queued),
            )
            yield GaugeMetricFamily(
                "batiknet_notifications_apply_lag_seconds",
                "How long the oldest spooled notification has waited (0: none waiting).",
                max(0.0, (now - received_at_of(queued[0])).total_seconds()) if queued else 0.0,
            )
            rejected = CounterMetricFamily(
                "batiknet_notifications_rejected", "Webhook requests refused.", labels=["reason"]
            )
            counts = dict(session.execute(select(RejectionCount.reason, RejectionCount.count)).all())
            for reason in sorted({*REJECTION_REASONS, *counts}):
                rejected.add_metric([reason], counts.get(reason, 0))
            yield rejected

            last = session.scalar(select(func.max(Heartbeat.last_at)))
            yield GaugeMetricFamily(
                "batiknet_alertmanager_last_heartbeat_timestamp_seconds",
                "When Alertmanager's Watchdog last reached the tracker (0: never).",
                last.timestamp() if last else 0.0,
            )

    @staticmethod
    def _histogram(session: Any, name: str, documentation: str, column: Any, label: Any) -> Metric:
        bucket_sums = [func.sum(when((column <= bound, 1), else_=0)) for bound in WORKING_SECONDS_BUCKETS]
        group = [label] if label is not None else []
        query = select(*group, *bucket_sums, func.count(column), func.coalesce(func.sum(column), 0.0))
        query = query.where(column.is_not(None))
        if label is not None:
            query = query.group_by(label)
        family = HistogramMetricFamily(name, documentation, labels=["isp"] if label is not None else None)
        for row in session.execute(query):
            labels, values = ([row[0] or "none"], row[1:]) if label is not None else ([], row)
            if values[-2] == 0 and label is not None:
                continue
            buckets = [
                (repr(bound), int(v or 0))
                for bound, v in zip(WORKING_SECONDS_BUCKETS, values[:-2], strict=True)
            ]
            buckets.append(("+Inf", int(values[-2])))
            family.add_metric(labels, buckets, float(values[-1]))
        return family


def register_metrics(app: Flask) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CaseCollector(tracker_of(app)))
    app.extensions["batiknet_registry"] = registry
    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics() -> Response:
    return Response(
        generate_latest(current_app.extensions["batiknet_registry"]), mimetype=CONTENT_TYPE_LATEST
    )
