"""The tracker's own metrics, read from the database at each scrape.

Counting in the database rather than in process memory keeps the numbers right with several gunicorn
workers and across restarts: "opened" is the number of case rows, "received" the number of stored
notifications, and so on. Nothing here is written; a scrape is a handful of aggregate queries.

``/metrics`` answers only ``Authorization: Bearer $BATIKNET_METRICS_TOKEN`` (Prometheus:
``authorization.credentials_file`` in prometheus.yml), else 401: its series name the technicians and the
targets of open cases. That token reads nothing else, and no other credential reads the metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import case as when
from sqlalchemy import func, select

from .api.access import bearer, same_secret
from .core.outbox import Channel, MessageState
from .core.service_level import Standing
from .core.workflow import CaseSource, CaseState
from .extension import tracker_of
from .services import Tracker
from .services.cases import standing_sql
from .spool import SET_ASIDE_KINDS, received_at_of
from .store.models import Case, CaseAssignment, Heartbeat, Notification, OutboxMessage, RejectionCount, User

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
# The ``within`` label of completed cases: a standing (core/service_level.py) in the metric's short words.
WITHIN = {Standing.WITHIN_TARGET: "target", Standing.WITHIN_MAXIMUM: "maximum", Standing.PAST_MAXIMUM: "late"}

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
            standing = standing_sql(now)
            open_by_standing = dict(
                session.execute(
                    select(standing, func.count()).where(Case.state != CaseState.CLOSED).group_by(standing)
                ).all()
            )
            past_maximum = open_by_standing.get(Standing.PAST_MAXIMUM, 0)
            overdue.add_metric(["target"], open_by_standing.get(Standing.WITHIN_MAXIMUM, 0) + past_maximum)
            overdue.add_metric(["maximum"], past_maximum)
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

            yield self._by_technician(
                session,
                "batiknet_cases_restored",
                "Cases whose network was restored, by technician and ISP.",
                Case.restored_at.is_not(None),
            )
            yield self._by_technician(
                session,
                "batiknet_cases_completed",
                "Cases completed (closed), by technician, ISP and whether within the target (end of working "
                "day 2), the maximum (end of working day 5) or late, measured at the completion.",
                Case.closed_at.is_not(None),
                within=standing,
            )

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
    def _by_technician(
        session: Any, name: str, documentation: str, condition: Any, within: Any = None
    ) -> Metric:
        """A counter of the cases meeting ``condition`` per assigned technician and ISP, and per standing
        when ``within`` is given (its values named target, maximum, late)."""
        columns = [
            func.coalesce(User.username, "none").label("technician"),
            func.coalesce(Case.isp, "none").label("isp"),
        ]
        if within is not None:
            columns.append(within.label("within"))
        rows = (
            select(*columns)
            .select_from(Case)
            .outerjoin(CaseAssignment, CaseAssignment.case_id == Case.id)
            .outerjoin(User, User.id == CaseAssignment.user_id)
            .where(condition)
            .subquery()
        )
        labels = [column.name for column in columns]
        family = CounterMetricFamily(name, documentation, labels=labels)
        grouped = [rows.c[label] for label in labels]
        for *values, count in session.execute(select(*grouped, func.count()).group_by(*grouped)):
            if within is not None:
                values[-1] = WITHIN[values[-1]]
            family.add_metric(values, count)
        return family

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


class OutboxCollector:
    """Messages to people (the outbox, core/outbox.py) per channel: what went out, what failed, what waits."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        now = self.tracker.now()
        waiting = OutboxMessage.state.in_((MessageState.PENDING, MessageState.SENDING))
        families = (
            (CounterMetricFamily, "batiknet_outbox_sent", "Messages to people delivered.",
             func.count(), OutboxMessage.state == MessageState.SENT),
            (CounterMetricFamily, "batiknet_outbox_failures", "Attempts to deliver a message that failed.",
             func.coalesce(func.sum(OutboxMessage.failures), 0), None),
            (CounterMetricFamily, "batiknet_outbox_given_up",
             "Messages given up: every attempt failed, or the refusal was final.",
             func.count(), OutboxMessage.state == MessageState.GIVEN_UP),
            (GaugeMetricFamily, "batiknet_outbox_due", "Messages due and not yet delivered.",
             func.count(), waiting & (OutboxMessage.due_at <= now)),
            (GaugeMetricFamily, "batiknet_outbox_retrying",
             "Messages waiting for another attempt after a failed one.",
             func.count(), waiting & (OutboxMessage.failures > 0)),
        )  # fmt: skip
        with self.tracker.db.read() as session:
            for family_type, name, documentation, value, condition in families:
                query = select(OutboxMessage.channel, value).group_by(OutboxMessage.channel)
                if condition is not None:
                    query = query.where(condition)
                counts = dict(session.execute(query).all())
                family = family_type(name, documentation, labels=["channel"])
                for channel in Channel:
                    family.add_metric([channel], counts.get(channel, 0))
                yield family


def register_metrics(app: Flask) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CaseCollector(tracker_of(app)))
    registry.register(OutboxCollector(tracker_of(app)))
    app.extensions["batiknet_registry"] = registry
    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics() -> Response:
    if not same_secret(bearer(), tracker_of(current_app).settings.metrics_token):
        return Response(
            "a valid bearer token is required (BATIKNET_METRICS_TOKEN)\n",
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    return Response(
        generate_latest(current_app.extensions["batiknet_registry"]), mimetype=CONTENT_TYPE_LATEST
    )
