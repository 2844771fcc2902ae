"""POST /api/v1/alerts against a real database (SQLite and PostgreSQL): exactly-once effects."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from alert_webhook.extension import tracker_of
from alert_webhook.services import notifications
from alert_webhook.store.db import Database
from alert_webhook.store.models import AlertEpisode, Case, Notification
from tests.tracker.conftest import API_TOKEN, metric_value, scrape

PAYLOADS = Path(__file__).with_name("payloads")
HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def deliver(client: Any, document: dict[str, Any] | str, headers: dict[str, str] | None = None) -> Any:
    """POST a notification, then apply the queue as the server's applier thread would."""
    document = payload(document) if isinstance(document, str) else document
    answer = client.post("/api/v1/alerts", json=document, headers=HEADERS if headers is None else headers)
    notifications.apply_pending(tracker_of(client.application))
    return answer


def changed_nothing(app: Any, answer: Any) -> bool:
    """Whether the notification of a webhook answer, once applied, had no effect on the cases."""
    with app.extensions["batiknet"].db.read() as session:
        name = answer.get_json()["id"]
        [row] = session.scalars(select(Notification).where(Notification.spool_name == name))
        assert row.apply_error is None
        return row.effects == 0


def cases(client: Any, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/cases", query_string=params, headers=HEADERS)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["cases"]


def counts(app: Any) -> tuple[int, int, int]:
    """(notifications stored or still spooled, cases, episodes)."""
    with app.extensions["batiknet"].db.read() as session:
        stored, cases_, episodes = (
            session.scalar(select(func.count()).select_from(t)) for t in (Notification, Case, AlertEpisode)
        )
    return stored + len(app.extensions["batiknet"].spool.names()), cases_, episodes


def post(client: Any, name: str) -> Any:
    """POST a notification without applying it."""
    answer = client.post("/api/v1/alerts", json=payload(name), headers=HEADERS)
    assert answer.status_code == 200, answer.get_json()
    return answer


def apply(app: Any, **batch: Any) -> list[notifications.AppliedNotification]:
    return notifications.apply_pending(tracker_of(app), **batch)


def test_firing_opens_one_case_with_its_clock(client: Any) -> None:
    answer = deliver(client, "firing")
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "queued"
    [case] = cases(client)
    assert case["state"] == "received"
    assert case["source"] == "alert"
    assert case["target"] == "setda"
    assert case["affected_targets"] == []
    assert case["received_at"] == "2026-11-30T03:00:00+00:00"  # the test clock: Monday 10:00 WIB
    assert case["target_deadline"] == "2026-12-01T08:45:00+00:00"  # Tuesday 15:45 WIB
    assert case["maximum_deadline"] == "2026-12-04T04:00:00+00:00"  # Friday 11:00 WIB
    assert case["overdue"] is False
    assert case["restored_at"] is None and case["closed_at"] is None
    assert case["flap_count"] == 0
    [episode] = case["episodes"]
    assert episode["fingerprint"] == "a1b2c3d4e5f60001"
    assert episode["starts_at"] == "2026-11-30T02:55:00.123456+00:00"
    assert episode["status"] == "firing"


def test_repeats_and_the_ha_peer_change_nothing(client: Any, app: Any) -> None:
    first = deliver(client, "firing")
    again = deliver(client, "firing")
    peer = deliver(client, "ha_peer_firing")
    assert not changed_nothing(app, first)
    assert changed_nothing(app, again) and changed_nothing(app, peer)
    assert len(cases(client)) == 1
    assert counts(app) == (3, 1, 1)  # every delivery stored raw, one case, one episode
    metrics = scrape(client)
    assert metric_value(metrics, "batiknet_notifications_received_total") == 3
    assert metric_value(metrics, "batiknet_notifications_deduplicated_total") == 2


def test_resolved_marks_network_restored_without_closing(client: Any, app: Any) -> None:
    deliver(client, "firing")
    deliver(client, "resolved")
    [case] = cases(client)
    assert case["network_restored_at"] == "2026-11-30T03:40:00+00:00"
    assert case["restored_at"] == "2026-11-30T03:40:00+00:00"
    assert case["state"] == "received"  # the SOP handling still has to happen
    assert case["closed_at"] is None
    assert case["episodes"][0]["status"] == "resolved"
    assert changed_nothing(app, deliver(client, "resolved"))


def test_resolved_before_firing_opens_nothing_and_the_late_firing_is_ignored(client: Any, app: Any) -> None:
    assert deliver(client, "resolved").status_code == 200
    assert cases(client) == []
    assert changed_nothing(app, deliver(client, "firing"))
    assert cases(client) == []
    assert counts(app)[1:] == (0, 1)  # no case; the episode is remembered as resolved


def test_firing_after_resolved_of_the_same_episode_does_not_reopen(client: Any, app: Any) -> None:
    deliver(client, "firing")
    deliver(client, "resolved")
    assert changed_nothing(app, deliver(client, "ha_peer_firing"))
    [case] = cases(client)
    assert case["flap_count"] == 0
    assert case["network_restored_at"] is not None


def test_a_new_episode_within_the_reopen_window_reopens_and_counts_a_flap(client: Any) -> None:
    deliver(client, "firing")
    deliver(client, "resolved")
    deliver(client, "flap_second_firing")
    [case] = cases(client)
    assert case["flap_count"] == 1
    assert case["network_restored_at"] is None and case["restored_at"] is None
    assert len(case["episodes"]) == 2
    deliver(client, "flap_second_resolved")
    [case] = cases(client)
    assert case["restored_at"] == "2026-11-30T04:20:00+00:00"
    timeline = client.get(f"/api/v1/cases/{case['id']}/timeline", headers=HEADERS).get_json()["events"]
    assert [e["kind"] for e in timeline].count("reopened") == 1


def test_a_new_episode_after_the_window_opens_a_linked_case(client: Any, clock: Any) -> None:
    deliver(client, "firing")
    deliver(client, "resolved")  # restored Monday 10:40 WIB
    later = payload("flap_second_firing")
    later["alerts"][0]["startsAt"] = "2026-12-01T06:00:00Z"  # Tuesday 13:00 WIB: > 7.25 working hours later
    clock.advance(days=1)
    deliver(client, later)
    newer, older = cases(client)
    assert newer["previous_case_id"] == older["id"]
    assert older["flap_count"] == 0 and newer["flap_count"] == 0
    assert newer["received_at"] == "2026-12-01T03:00:00+00:00"


def test_reopen_window_is_counted_in_working_time(client: Any) -> None:
    deliver(client, "firing")
    deliver(client, "resolved")  # Monday 10:40 WIB
    weekend = payload("flap_second_firing")
    # Tuesday 09:00 WIB: 5 h 05 min of working time later (Monday afternoon plus one hour on Tuesday).
    weekend["alerts"][0]["startsAt"] = "2026-12-01T02:00:00Z"
    deliver(client, weekend)
    [case] = cases(client)
    assert case["flap_count"] == 1


def test_closed_case_is_never_reopened(client: Any, make_user: Any, clock: Any) -> None:
    head, technician = make_user("head"), make_user("technician")
    deliver(client, "firing")
    clock.advance(hours=1)
    deliver(client, "resolved")
    [case] = cases(client)
    walk_to_closed(client, case["id"], head, technician)
    deliver(client, "flap_second_firing")
    newer, older = cases(client)
    assert older["state"] == "closed" and older["flap_count"] == 0
    assert newer["previous_case_id"] == older["id"]


def walk_to_closed(client: Any, case_id: int, head: Any, technician: Any) -> None:
    steps = [
        (head, "dispose", {"technician_ids": [technician.id]}),
        (technician, "start-checks", {}),
        *[
            (technician, "checks", {"check": c, "result": "ok"})
            for c in ("physical", "monitoring", "dns", "connectivity")
        ],
        (technician, "restore", {}),
        (technician, "report", {"cause": "listrik padam", "actions": "UPS diganti"}),
        (technician, "close", {"reported_to": "Operator Setda"}),
    ]
    for user, action, body in steps:
        answer = client.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers=user.headers)
        assert answer.status_code == 200, (action, answer.get_json())


def test_grouped_alerts_make_one_case_and_resolve_only_when_all_do(client: Any) -> None:
    deliver(client, "grouped")
    [case] = cases(client)
    assert case["target"] == "setda"
    assert sorted(case["affected_targets"]) == ["bappeda", "dinkes"]
    assert len(case["episodes"]) == 3
    deliver(client, "grouped_partly_resolved")
    [case] = cases(client)
    assert case["restored_at"] is None
    assert sorted(e["status"] for e in case["episodes"]) == ["firing", "firing", "resolved"]
    assert [c["id"] for c in cases(client, target="dinkes")] == [case["id"]]


def test_truncated_notification_is_incomplete_and_never_resolves_unlisted_alerts(client: Any) -> None:
    deliver(client, "truncated")
    [case] = cases(client)
    assert case["incomplete"] is True
    assert len(case["episodes"]) == 2
    deliver(client, "truncated_partly_resolved")  # group still firing: the unlisted alert may still fire
    [case] = cases(client)
    assert all(e["status"] == "resolved" for e in case["episodes"])
    assert case["restored_at"] is None
    deliver(client, "truncated_resolved")  # the group as a whole resolved
    [case] = cases(client)
    assert case["restored_at"] == "2026-11-30T03:40:00+00:00"


def test_opd_behind_a_down_core_device_joins_its_case(client: Any) -> None:
    deliver(client, "core_down")
    deliver(client, "opd_behind_core")
    [case] = cases(client)
    assert case["target"] == "dist-sw1"
    assert case["affected_targets"] == ["bappeda"]
    deliver(client, "isp_path_opd")  # kec-barat hangs off isp-metro, not dist-sw1
    assert sorted(c["target"] for c in cases(client)) == ["dist-sw1", "kec-barat"]
    deliver(client, "core_resolved")
    core = next(c for c in cases(client) if c["target"] == "dist-sw1")
    assert core["restored_at"] is None  # bappeda's alert still fires


@pytest.mark.parametrize(
    ("mutate", "status", "field", "reason"),
    [
        (lambda d: d.pop("alerts"), 400, "alerts", "invalid_payload"),
        (lambda d: d.update(version="3"), 400, "version", "invalid_payload"),
        (lambda d: d["alerts"][0].update(startsAt="yesterday"), 400, "alerts[0].startsAt", "invalid_payload"),
        (
            lambda d: d["alerts"][0]["labels"].pop("alertname"),
            400,
            "alerts[0].labels.alertname",
            "invalid_payload",
        ),
        (lambda d: d["alerts"][0].update(status="pending"), 400, "alerts[0].status", "invalid_payload"),
        (lambda d: d.update(truncatedAlerts=-1), 400, "truncatedAlerts", "invalid_payload"),
        # PostgreSQL's text cannot hold a NUL: stored, it would hold up the whole spool.
        (
            lambda d: d["alerts"][0]["labels"].update(target="setda\x00"),
            400,
            "alerts[0].labels.target",
            "invalid_payload",
        ),
        (lambda d: d.update(receiver="web\x00hook"), 400, "receiver", "invalid_payload"),
        (
            lambda d: d["alerts"][0].update(endsAt=None, status="resolved"),
            400,
            "alerts[0].endsAt",
            "invalid_payload",
        ),
    ],
)
def test_invalid_payload_names_the_field_and_stores_nothing(
    client: Any, app: Any, mutate: Any, status: int, field: str, reason: str
) -> None:
    document = copy.deepcopy(payload("firing"))
    mutate(document)
    answer = deliver(client, document)
    assert answer.status_code == status
    assert answer.get_json()["field"] == field
    assert counts(app) == (0, 0, 0)
    metrics = scrape(client)
    assert metric_value(metrics, "batiknet_notifications_rejected_total", reason=reason) == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "unauthorized"),
        ({"Authorization": "Bearer wrong"}, "unauthorized"),
        ({"Authorization": f"Basic {API_TOKEN}"}, "unauthorized"),
    ],
)
def test_without_the_token_401_and_nothing_stored(client: Any, app: Any, headers: dict, reason: str) -> None:
    answer = deliver(client, "firing", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert counts(app) == (0, 0, 0)


def test_a_personal_token_cannot_post_alerts(client: Any, app: Any, make_user: Any) -> None:
    admin = make_user("admin")
    assert deliver(client, "firing", headers=admin.headers).status_code == 401
    assert counts(app) == (0, 0, 0)


def test_wrong_content_type_415_bad_json_400(client: Any, app: Any) -> None:
    body = json.dumps(payload("firing"))
    answer = client.post("/api/v1/alerts", data=body, content_type="text/plain", headers=HEADERS)
    assert answer.status_code == 415
    answer = client.post("/api/v1/alerts", data="{not json", content_type="application/json", headers=HEADERS)
    assert answer.status_code == 400 and answer.get_json()["field"] == "(body)"
    assert counts(app) == (0, 0, 0)
    metrics = scrape(client)
    assert metric_value(metrics, "batiknet_notifications_rejected_total", reason="content_type") == 1
    assert metric_value(metrics, "batiknet_notifications_rejected_total", reason="invalid_json") == 1


def test_oversized_notification_413(app_config: dict, database_url: str) -> None:
    from alert_webhook import create_app

    app = create_app({**app_config, "BATIKNET_MAX_NOTIFICATION_BYTES": 2000})
    client = app.test_client()
    document = payload("grouped")  # about 3 kB
    answer = client.post("/api/v1/alerts", json=document, headers=HEADERS)
    assert answer.status_code == 413
    assert counts(app) == (0, 0, 0)
    app.extensions["batiknet"].db.dispose()


def test_503_when_the_notification_cannot_be_stored(client: Any, app: Any) -> None:
    spool = app.extensions["batiknet"].spool.directory
    spool.rmdir()
    spool.write_text("")  # a file where the spool directory should be: nothing can be written there
    answer = client.post("/api/v1/alerts", json=payload("firing"), headers=HEADERS)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    spool.unlink()
    spool.mkdir()
    assert counts(app) == (0, 0, 0)
    assert deliver(client, "firing").status_code == 200  # Alertmanager's retry succeeds
    assert counts(app) == (1, 1, 1)


def test_while_the_database_refuses_writes_notifications_wait_in_the_spool(
    client: Any, app: Any, database_url: str
) -> None:
    tracker = app.extensions["batiknet"]
    tracker.db.dispose()
    if database_url.startswith("sqlite"):
        read_only = f"sqlite:///file:{database_url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    else:
        read_only = database_url + "?options=-c%20default_transaction_read_only%3Don"
    tracker.db = Database.connect(read_only)
    assert post(client, "firing").status_code == 200
    with pytest.raises(DBAPIError):
        notifications.apply_pending(tracker)
    assert len(tracker.spool.names()) == 1
    tracker.db.dispose()
    tracker.db = Database.connect(database_url)
    [applied] = apply(app)
    assert applied.effects > 0 and len(cases(client)) == 1
    assert tracker.spool.names() == []


def test_a_delivery_is_answered_once_spooled_and_applied_after(client: Any, app: Any, clock: Any) -> None:
    post(client, "firing")
    assert cases(client) == []
    clock.advance(seconds=30)
    metrics = scrape(client)
    assert metric_value(metrics, "batiknet_notifications_queued") == 1
    assert metric_value(metrics, "batiknet_notifications_apply_lag_seconds") == 30
    assert metric_value(metrics, "batiknet_notifications_received_total") == 0
    [applied] = apply(app)
    [case] = cases(client)
    assert applied.case_ids == (case["id"],)
    assert case["received_at"] == "2026-11-30T03:00:00+00:00"  # when it was received, not applied
    metrics = scrape(client)
    assert metric_value(metrics, "batiknet_notifications_queued") == 0
    assert metric_value(metrics, "batiknet_notifications_apply_lag_seconds") == 0
    assert metric_value(metrics, "batiknet_notifications_received_total") == 1


def test_a_batch_applies_in_the_order_received_exactly_once(client: Any, app: Any) -> None:
    for name in ("firing", "ha_peer_firing", "resolved", "firing"):
        post(client, name)
    applied = apply(app, budget_seconds=60)  # one transaction, however slow the machine
    assert [a.effects > 0 for a in applied] == [True, False, True, False]
    [case] = cases(client)
    assert case["restored_at"] == "2026-11-30T03:40:00+00:00" and case["flap_count"] == 0
    assert apply(app) == []
    assert counts(app) == (4, 1, 1)


def test_queued_notifications_survive_a_restart(app_config: dict[str, Any], client: Any, app: Any) -> None:
    from alert_webhook import create_app

    post(client, "core_down")
    app.extensions["batiknet"].db.dispose()
    restarted = create_app(app_config)
    try:
        [applied] = apply(restarted)
        assert applied.effects > 0
        assert counts(restarted) == (1, 1, 1)
    finally:
        restarted.extensions["batiknet"].db.dispose()


def test_a_file_left_behind_after_its_commit_is_not_applied_twice(client: Any, app: Any) -> None:
    spool = app.extensions["batiknet"].spool
    name = post(client, "firing").get_json()["id"]
    left_behind = (spool.directory / f"{name}.json").read_text()
    apply(app)
    (spool.directory / f"{name}.json").write_text(left_behind)  # a stop between the commit and the unlink
    [again] = apply(app)
    assert again.spool_name == name and again.effects == 0
    assert counts(app) == (1, 1, 1) and spool.names() == []


def test_heartbeat_and_silence(client: Any, clock: Any) -> None:
    assert client.get("/healthz").get_json()["alertmanager_silent"] is True
    answer = client.post(
        "/api/v1/heartbeat", json={"receiver": "watchdog", "status": "firing", "alerts": []}, headers=HEADERS
    )
    assert answer.status_code == 200
    metrics = scrape(client)
    assert (
        metric_value(metrics, "batiknet_alertmanager_last_heartbeat_timestamp_seconds") == clock().timestamp()
    )
    assert client.get("/healthz").get_json() == {"status": "ok", "alertmanager_silent": False}
    clock.advance(minutes=11)
    assert client.get("/healthz").get_json()["alertmanager_silent"] is True
    assert client.post("/api/v1/heartbeat", json={}).status_code == 401
