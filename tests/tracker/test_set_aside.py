"""One notification never stops case creation (issue 11 item 1), on SQLite and PostgreSQL.

The webhook refuses up front what the database cannot store, every length read from the models; what
still cannot be applied — an unreadable spool file, a value the database refuses, a bug — is set aside
(``spool/rejected/`` with its reason), counted, listed for the admins (page and command line), and never
holds up the notifications behind it. The database's passing trouble is not a reason to set aside.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from sqlalchemy import String
from sqlalchemy.exc import DataError, OperationalError

from alert_webhook import cli
from alert_webhook.core import ingest
from alert_webhook.extension import tracker_of
from alert_webhook.services import notifications
from alert_webhook.store.models import Base
from tests.tracker.conftest import metric_value, scrape
from tests.tracker.test_alerts_api import HEADERS, cases, counts, payload, post

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def mutated(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(payload("firing"))
    change(document)
    return document


def spool_file(app: Any, name: str, data: bytes) -> str:
    """A file put in the spool as an older version, another program or a damaged disk left it."""
    (tracker_of(app).spool.directory / f"{name}.json").write_bytes(data)
    return name


def apply(app: Any) -> list[notifications.AppliedNotification]:
    """One round of the applier, in one transaction however slow the machine."""
    return notifications.apply_pending(tracker_of(app), budget_seconds=60)


# --- the webhook refuses what the database cannot store ---------------------------------------------------


def _labels(**labels: str) -> Any:
    return lambda d: d["alerts"][0]["labels"].update(labels)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_labels(target="x" * 65), "alerts[0].labels.target"),  # cases.target, alert_episodes.target
        (lambda d: d.update(receiver="r" * 201), "receiver"),  # notifications.receiver
        (_labels(alertname="a" * 201), "alerts[0].labels.alertname"),  # alert_episodes.alertname
        (lambda d: d["groupLabels"].update(target="x" * 65), "groupLabels.target"),
        (lambda d: d["commonLabels"].update(target="x" * 65), "commonLabels.target"),
        (lambda d: d["groupLabels"].update(site="s" * 600), "groupLabels"),  # cases.group_key, its key
        (lambda d: d["commonAnnotations"].update(summary="mati\x00"), "commonAnnotations.summary"),
        (lambda d: d["alerts"][0]["annotations"].update(summary="\ud800"), "alerts[0].annotations.summary"),
        (_labels(**{"\udfff": "x"}), "alerts[0].labels.\\udfff"),
        (lambda d: d["alerts"][0].update(startsAt="9999-12-31T23:59:59-10:00"), "alerts[0].startsAt"),
        (lambda d: d["alerts"][0].update(startsAt="0001-01-01T00:00:00+10:00"), "alerts[0].startsAt"),
        (lambda d: d["alerts"][0].update(startsAt="9999-12-31T23:59:59Z"), "alerts[0].startsAt"),
        (lambda d: d.update(truncatedAlerts=2**31), "truncatedAlerts"),  # notifications.truncated_alerts
    ],
)
def test_what_the_database_cannot_store_is_refused_naming_the_field(
    client: Any, app: Any, change: Any, field: str
) -> None:
    text = json.dumps(mutated(change))  # escapes a lone surrogate as \ud800, as a client would
    answer = client.post("/api/v1/alerts", data=text, content_type="application/json", headers=HEADERS)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == field
    assert counts(app) == (0, 0, 0)
    assert (
        metric_value(scrape(client), "batiknet_notifications_rejected_total", reason="invalid_payload") == 1
    )


def test_the_longest_values_the_columns_hold_are_accepted_and_applied(client: Any, app: Any) -> None:
    document = mutated(_labels(target="t" * 64, alertname="a" * 200))
    document["receiver"] = "r" * 200
    document["groupLabels"] = {"target": "t" * 64}
    document["commonLabels"] = {}
    document["truncatedAlerts"] = 2**31 - 1
    assert client.post("/api/v1/alerts", json=document, headers=HEADERS).status_code == 200
    [applied] = apply(app)
    assert applied.error is None and applied.effects > 0
    assert [c["target"] for c in cases(client)] == ["t" * 64]


# Columns a notification never fills from its own text: the tracker's own values, or words the payload
# parser allows only from a fixed list (status: firing or resolved).
SET_BY_THE_TRACKER = {
    "notifications": {"body_sha256", "content_sha256", "spool_name", "status"},
    "cases": {"source", "state", "isp", "title"},  # title: cut to fit, it is a summary
    "case_events": {"actor_name", "kind", "from_state", "to_state"},
    "alert_episodes": {"status"},
    "case_targets": set(),
}
# Where the webhook's check names each column a notification's text reaches (the parametrised refusals
# above prove each check).
CHECKED_AT_THE_WEBHOOK = {
    "notifications": {"receiver"},
    "cases": {"group_key", "active_key", "target"},
    "case_targets": {"target"},
    "alert_episodes": {"fingerprint", "alertname", "target"},
    "case_events": set(),
}


def test_every_bounded_column_a_notification_writes_is_checked_or_set_by_the_tracker() -> None:
    """A new String(n) column in a table the applier writes fails here until the webhook checks it."""
    for table, set_by_tracker in SET_BY_THE_TRACKER.items():
        bounded = {
            column.name
            for column in Base.metadata.tables[table].columns
            if isinstance(column.type, String) and column.type.length
        }
        assert bounded == set_by_tracker | CHECKED_AT_THE_WEBHOOK[table], table


# --- what cannot be applied is set aside, never at the head of the queue for good -----------------------


UNREADABLE = {
    "not UTF-8": b'{"version": "4", "receiver": "\xff\xfe"}',
    "not JSON": b"{not json",
    "not a notification": b'{"version": "5", "alerts": []}',  # a newer version's file
    "too long for its columns": json.dumps(mutated(_labels(target="x" * 65))).encode(),
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
    "a lone surrogate": json.dumps(mutated(_labels(site="\ud800"))).encode(),
}


@pytest.mark.parametrize("problem", sorted(UNREADABLE))
def test_an_unreadable_spool_file_is_set_aside_at_once_and_the_next_is_applied(
    client: Any, app: Any, problem: str
) -> None:
    spool = tracker_of(app).spool
    name = spool_file(app, "00000000000000001-000000000-0123456789abcdef", UNREADABLE[problem])
    behind = post(client, "firing").get_json()["id"]
    done = apply(app)
    assert [d.spool_name for d in done] == [name, behind]
    assert done[0].error and done[0].notification_id is None
    assert len(cases(client)) == 1 and spool.names() == []
    [entry] = spool.set_aside_entries()
    assert (entry.name, entry.kind, entry.attempts) == (name, "unreadable", 1)
    assert spool.set_aside_path(name).read_bytes() == UNREADABLE[problem]  # kept as it came
    exposition = scrape(client)
    assert metric_value(exposition, "batiknet_notifications_set_aside", kind="unreadable") == 1
    assert metric_value(exposition, "batiknet_notifications_queued") == 0


def test_a_file_the_spool_did_not_name_is_set_aside(client: Any, app: Any) -> None:
    spool_file(app, "copied-by-hand", json.dumps(payload("firing")).encode())
    [aside] = apply(app)
    assert aside.spool_name == "copied-by-hand" and "not a file of the spool" in (aside.error or "")
    [entry] = tracker_of(app).spool.set_aside_entries()
    assert entry.received_at is None and entry.kind == "unreadable"


def test_a_bug_is_tried_a_few_times_then_set_aside(client: Any, app: Any, monkeypatch: Any) -> None:
    plan = ingest.plan_notification

    def fails_for_the_core(notification: Any, *args: Any) -> Any:
        if notification.group_labels.get("target") == "dist-sw1":
            raise ValueError("a rule nobody foresaw")
        return plan(notification, *args)

    monkeypatch.setattr(ingest, "plan_notification", fails_for_the_core)
    post(client, "firing")
    failing = post(client, "core_down").get_json()["id"]
    post(client, "opd_behind_core")
    [first] = apply(app)  # the one before it is applied; it waits for another round
    assert first.error is None and [c["target"] for c in cases(client)] == ["setda"]
    for _ in range(notifications.ATTEMPTS - 2):
        assert apply(app) == []
    aside, behind = apply(app)
    assert (aside.spool_name, aside.error) == (failing, "ValueError: a rule nobody foresaw")
    assert behind.error is None and behind.effects > 0
    [entry] = tracker_of(app).spool.set_aside_entries()
    assert (entry.kind, entry.attempts) == ("failed", notifications.ATTEMPTS)
    assert metric_value(scrape(client), "batiknet_notifications_set_aside", kind="failed") == 1

    monkeypatch.setattr(ingest, "plan_notification", plan)  # fixed: the admin puts it back
    assert tracker_of(app).spool.retry(failing)
    [retried] = apply(app)
    assert retried.spool_name == failing and retried.effects > 0
    assert sorted(c["target"] for c in cases(client)) == ["bappeda", "dist-sw1", "setda"]


def test_the_databases_passing_trouble_keeps_everything_in_order(
    client: Any, app: Any, monkeypatch: Any
) -> None:
    original = ingest.plan_notification

    def locked(*args: Any) -> Any:
        raise OperationalError("INSERT ...", {}, Exception("database is locked"))

    monkeypatch.setattr(ingest, "plan_notification", locked)
    names = [post(client, name).get_json()["id"] for name in ("firing", "core_down")]
    for _ in range(notifications.ATTEMPTS + 2):
        with pytest.raises(OperationalError):
            apply(app)
    spool = tracker_of(app).spool
    assert spool.names() == names and spool.set_aside_entries() == []
    monkeypatch.setattr(ingest, "plan_notification", original)
    assert [a.spool_name for a in apply(app)] == names


def test_a_value_the_database_refuses_is_set_aside_at_once(client: Any, app: Any, monkeypatch: Any) -> None:
    """A DataError (PostgreSQL's class 22: too long, out of range, a NUL) is the notification's own."""
    original = ingest.plan_notification

    def refused(notification: Any, *args: Any) -> Any:
        if notification.group_labels.get("target") == "dist-sw1":
            raise DataError("INSERT ...", {}, Exception("value too long for type character varying(64)"))
        return original(notification, *args)

    monkeypatch.setattr(ingest, "plan_notification", refused)
    refused_name = post(client, "core_down").get_json()["id"]
    post(client, "firing")
    aside, applied = apply(app)
    assert aside.spool_name == refused_name and "value too long" in (aside.error or "")
    assert applied.effects > 0
    [entry] = tracker_of(app).spool.set_aside_entries()
    assert entry.kind == "refused"


def test_a_file_from_before_the_checks_never_holds_up_the_queue(
    client: Any, app: Any, monkeypatch: Any, database_url: str
) -> None:
    """A 65-character target spooled before the webhook checked lengths: read with today's parser it is
    unreadable; applied by yesterday's (no length checks), PostgreSQL refuses it and SQLite keeps it.
    Either way nothing stays queued."""
    from alert_webhook.core.alertmanager import parse_notification
    from alert_webhook.core.jsontext import decode

    monkeypatch.setattr(
        notifications, "read_notification", lambda text: parse_notification(decode(text, surrogates=True))
    )
    spool_file(app, "00000000000000001-000000000-0123456789abcdef", UNREADABLE["too long for its columns"])
    post(client, "core_down")
    done = apply(app)
    assert tracker_of(app).spool.names() == []
    targets = sorted(c["target"] for c in cases(client))
    if database_url.startswith("postgresql"):
        assert done[0].error and "StringDataRightTruncation" in done[0].error
        assert [e.kind for e in tracker_of(app).spool.set_aside_entries()] == ["refused"]
        assert targets == ["dist-sw1"]
    else:
        assert all(d.error is None for d in done) and len(targets) == 2


# --- the admins see it and decide ------------------------------------------------------------------------


def _set_aside_one(client: Any, app: Any) -> str:
    name = spool_file(app, "00000000000000001-000000000-0123456789abcdef", b"{not json")
    apply(app)
    return name


def test_the_admins_page_lists_them_and_retries_or_discards(
    client: Any, app: Any, make_user: Any, login: Any
) -> None:
    name = _set_aside_one(client, app)
    login(make_user("head"))
    assert client.get("/admin/notifications").status_code == 403
    client.post("/logout", data={"csrf_token": CSRF.search(client.get("/cases").get_data(as_text=True))[1]})
    login(make_user("admin"))
    page = client.get("/admin/notifications?lang=en")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and name in text and "Unreadable" in text and "{not json" in text
    assert "JSONDecodeError" in text
    token = CSRF.search(text)[1]
    assert client.post(f"/admin/notifications/{name}/discard").status_code == 400  # no CSRF token
    answer = client.post(f"/admin/notifications/{name}/retry", data={"csrf_token": token})
    assert answer.status_code == 302
    spool = tracker_of(app).spool
    assert spool.names() == [name] and spool.set_aside_entries() == []
    apply(app)  # still not JSON: set aside again
    answer = client.post(f"/admin/notifications/{name}/discard", data={"csrf_token": token})
    assert answer.status_code == 302 and spool.set_aside_entries() == [] and spool.names() == []
    assert client.post(f"/admin/notifications/{name}/discard", data={"csrf_token": token}).status_code == 404
    empty = client.get("/admin/notifications?lang=id").get_data(as_text=True)
    assert "Tidak ada notifikasi yang disisihkan." in empty


def test_the_command_line_lists_retries_and_discards(
    client: Any, app: Any, app_config: dict[str, Any], monkeypatch: Any, capsys: Any
) -> None:
    for variable in ("BATIKNET_DATABASE_URL", "BATIKNET_INSTANCE_PATH", "BATIKNET_API_TOKEN"):
        monkeypatch.setenv(variable, str(app_config[variable]))
    name = _set_aside_one(client, app)
    assert cli.main(["spool", "rejected"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith(f"{name}\t1970-01-01T00:00:00.000001+00:00\tunreadable\t1\tJSONDecodeError")
    assert "1 notification(s) set aside" in out.err
    assert cli.main(["spool", "rejected", "retry", "--all"]) == 0
    assert tracker_of(app).spool.names() == [name]
    apply(app)
    assert cli.main(["spool", "rejected", "discard", "no-such-name", "../../secret_key"]) == 1
    assert cli.main(["spool", "rejected", "discard", name]) == 0
    assert tracker_of(app).spool.set_aside_entries() == []
    assert (tracker_of(app).spool.directory.parent / "secret_key").exists()
