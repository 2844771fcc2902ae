"""Times people enter, on SQLite and PostgreSQL: refused when impossible (nothing written), and a letter
received before the alert that opened its case moving the case's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import select

from tests.tracker import test_cases_api
from tests.tracker.test_alerts_api import HEADERS, cases, deliver
from tests.tracker.test_cases_api import LETTER, PDF, act

staff = test_cases_api.staff  # the fixture: head, technicians, viewer

CHECKS = ("physical", "monitoring", "dns", "connectivity")


def case_of(client: Any, case_id: int) -> dict[str, Any]:
    return client.get(f"/api/v1/cases/{case_id}", headers=HEADERS).get_json()


def letter(client: Any, user: Any, **change: Any) -> Any:
    return client.post("/api/v1/cases", json={**LETTER, **change}, headers=user.headers)


def checked(client: Any, staff: dict, connectivity: str = "ok") -> int:
    """An alert case (Monday 10:00 WIB) disposed to the technician with its four checks recorded."""
    deliver(client, "firing")
    case_id = cases(client)[0]["id"]
    act(client, staff["head"], case_id, "dispose", technician_ids=[staff["tech"].id])
    act(client, staff["tech"], case_id, "start-checks")
    for check in CHECKS:
        result = connectivity if check == "connectivity" else "ok"
        assert act(client, staff["tech"], case_id, "checks", check=check, result=result).status_code == 200
    return case_id


# --- impossible times are refused, naming the field; nothing is written ---------------------------------


@pytest.mark.parametrize(
    ("received_at", "code"),
    [
        ("2056-11-30T10:00:00+07:00", "time_in_future"),  # decades ahead
        ("2026-11-30T10:06:00+07:00", "time_in_future"),  # beyond the 5 minutes of clock skew
        ("9999-12-31T23:59:59+00:00", "time_too_late"),  # the calendar's edge
        ("0001-01-01T00:00:00+00:00", "time_too_early"),
        ("1999-12-31T23:59:59+00:00", "time_too_early"),
    ],
)
def test_a_letter_received_at_an_impossible_time_is_refused(
    client: Any, staff: dict, received_at: str, code: str
) -> None:
    answer = letter(client, staff["tech"], received_at=received_at)
    assert answer.status_code == 400
    body = answer.get_json()
    assert (body["field"], body["code"]) == ("received_at", code)
    assert body["error"].startswith("received_at ")
    assert cases(client) == []


def test_a_few_minutes_of_clock_skew_are_allowed(client: Any, staff: dict) -> None:
    answer = letter(client, staff["tech"], received_at="2026-11-30T10:04:00+07:00", letter_date="2026-11-30")
    assert answer.status_code == 201, answer.get_json()


def test_the_clock_skew_is_a_setting(app_config: dict, request: pytest.FixtureRequest) -> None:
    app_config["BATIKNET_CLOCK_SKEW_SECONDS"] = "0"  # before the app is made
    tech, client = request.getfixturevalue("make_user")("technician"), request.getfixturevalue("client")
    answer = letter(client, tech, received_at="2026-11-30T10:01:00+07:00", letter_date="2026-11-30")
    assert answer.status_code == 400 and answer.get_json()["code"] == "time_in_future"
    assert "at most 0 minutes" in answer.get_json()["error"]


@pytest.mark.parametrize(
    ("letter_date", "code"), [("2026-12-01", "letter_after_receipt"), ("1999-12-31", "time_too_early")]
)
def test_a_letter_dated_after_its_receipt_is_refused(
    client: Any, staff: dict, letter_date: str, code: str
) -> None:
    answer = letter(client, staff["tech"], letter_date=letter_date)
    assert answer.status_code == 400
    assert (answer.get_json()["field"], answer.get_json()["code"]) == ("letter_date", code)
    assert cases(client) == []


def test_the_multipart_letter_form_keeps_the_same_rule(client: Any, staff: dict) -> None:
    form = {**LETTER, "received_at": "2056-11-30T10:00:00+07:00", "file": (BytesIO(PDF), "surat.pdf")}
    answer = client.post(
        "/api/v1/letters", data=form, headers=staff["tech"].headers, content_type="multipart/form-data"
    )
    assert answer.status_code == 400 and answer.get_json()["field"] == "received_at"
    assert cases(client) == []


@pytest.mark.parametrize(
    ("restored_at", "code"),
    [
        ("2026-11-30T09:59:00+07:00", "time_before_receipt"),  # the case came in at 10:00
        ("2026-11-29T12:00:00+07:00", "time_before_receipt"),
        ("2026-11-30T12:00:00+07:00", "time_in_future"),  # now is 10:00
        ("2076-11-30T12:00:00+07:00", "time_in_future"),
        ("9999-12-31T00:00:00+00:00", "time_too_late"),
    ],
)
def test_an_impossible_restore_time_is_refused_and_nothing_changes(
    client: Any, staff: dict, restored_at: str, code: str
) -> None:
    case_id = checked(client, staff)
    answer = act(client, staff["tech"], case_id, "restore", restored_at=restored_at)
    assert answer.status_code == 400
    assert (answer.get_json()["field"], answer.get_json()["code"]) == ("restored_at", code)
    case = case_of(client, case_id)
    assert case["state"] == "checking" and case["restored_at"] is None
    assert "restore" not in [event["kind"] for event in case["timeline"]]


def test_a_restore_time_between_receipt_and_now_is_taken(client: Any, clock: Any, staff: dict) -> None:
    case_id = checked(client, staff)
    clock.advance(hours=2)
    answer = act(client, staff["tech"], case_id, "restore", restored_at="2026-11-30T10:00:00+07:00")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["restored_at"] == "2026-11-30T03:00:00+00:00"


@pytest.mark.parametrize(
    ("times", "field", "code"),
    [
        ({"called_at": "2026-11-30T09:00:00+07:00"}, "called_at", "time_before_receipt"),
        ({"called_at": "2026-11-30T11:00:00+07:00"}, "called_at", "time_in_future"),
        ({"estimate_at": "2028-12-01T10:00:00+07:00"}, "estimate_at", "estimate_too_far"),
        ({"estimate_at": "2026-11-30T09:59:00+07:00"}, "estimate_at", "estimate_before_call"),
        (
            {"called_at": "2026-11-30T10:00:00+07:00", "estimate_at": "2026-11-30T09:30:00+07:00"},
            "estimate_at",
            "estimate_before_call",
        ),
    ],
)
def test_impossible_isp_times_are_refused(
    client: Any, staff: dict, times: dict, field: str, code: str
) -> None:
    case_id = checked(client, staff, connectivity="fault")
    answer = act(client, staff["tech"], case_id, "escalate-isp", ticket_number="TLK-1", **times)
    assert answer.status_code == 400
    assert (answer.get_json()["field"], answer.get_json()["code"]) == (field, code)
    case = case_of(client, case_id)
    assert case["state"] == "checking" and case["isp_contacts"] == []


def test_an_isp_estimate_may_lie_ahead(client: Any, staff: dict) -> None:
    case_id = checked(client, staff, connectivity="fault")
    answer = act(
        client,
        staff["tech"],
        case_id,
        "escalate-isp",
        ticket_number="TLK-1",
        called_at="2026-11-30T10:00:00+07:00",
        estimate_at="2026-12-02T14:00:00+07:00",
    )
    assert answer.status_code == 200, answer.get_json()


# --- the clock starts at the earliest receipt, letter or alert ------------------------------------------


def test_a_letter_received_before_the_alert_moves_the_clock(client: Any, staff: dict) -> None:
    deliver(client, "firing")  # setda, Monday 30 November 10:00 WIB
    [alert_case] = cases(client)
    assert alert_case["target_deadline"] == "2026-12-01T08:45:00+00:00"  # Tuesday 15:45 WIB
    joined = letter(
        client, staff["tech"], received_at="2026-11-27T09:00:00+07:00", letter_date="2026-11-27"
    ).get_json()
    assert joined["id"] == alert_case["id"]
    assert joined["received_at"] == "2026-11-27T02:00:00+00:00"  # Friday 09:00 WIB: day 1
    assert joined["target_deadline"] == "2026-11-30T08:45:00+00:00"  # Monday 15:45 WIB
    assert joined["maximum_deadline"] == "2026-12-03T08:45:00+00:00"  # Thursday 15:45 WIB
    assert joined["working_seconds_elapsed"] == 2 * 3600 + 2 * 3600  # Friday 09–11, Monday 08–10
    [moved] = [event for event in joined["timeline"] if event["kind"] == "receipt_moved"]
    assert moved["data"]["from"] == "2026-11-30T03:00:00+00:00"
    assert moved["data"]["to"] == "2026-11-27T02:00:00+00:00"
    assert moved["data"]["letter_number"] == LETTER["letter_number"]
    assert moved["actor"] == staff["tech"].username


def test_a_letter_received_after_the_alert_leaves_the_clock(client: Any, clock: Any, staff: dict) -> None:
    deliver(client, "firing")
    [alert_case] = cases(client)
    clock.advance(hours=1)
    joined = letter(client, staff["tech"], letter_date="2026-11-30").get_json()
    assert joined["received_at"] == alert_case["received_at"]
    assert joined["target_deadline"] == alert_case["target_deadline"]
    assert "receipt_moved" not in [event["kind"] for event in joined["timeline"]]


def test_moving_the_clock_remeasures_what_ran_from_receipt(
    client: Any, clock: Any, staff: dict, tracker: Any
) -> None:
    case_id = checked(client, staff)
    clock.advance(hours=1)
    act(client, staff["tech"], case_id, "restore")  # Monday 11:00 WIB
    letter(client, staff["head"], received_at="2026-11-30T08:00:00+07:00", letter_date="2026-11-30")
    from alert_webhook.store.models import Case

    with tracker.db.read() as session:
        case = session.get(Case, case_id)
        assert case.received_at == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
        assert case.restore_working_seconds == 3 * 3600
        assert case.disposition_working_seconds == 2 * 3600


# --- the ISP waiting time counts from when the ISP was called ---------------------------------------------


def test_the_isp_wait_counts_from_the_call_to_the_recovery(client: Any, clock: Any, staff: dict) -> None:
    case_id = checked(client, staff, connectivity="fault")
    clock.advance(minutes=40)  # 10:40: the technician logs a call made at 10:10
    answer = act(
        client,
        staff["tech"],
        case_id,
        "escalate-isp",
        ticket_number="TLK-9",
        called_at="2026-11-30T10:10:00+07:00",
    )
    assert answer.get_json()["isp_wait_seconds"] == 30 * 60
    clock.set(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))  # 14:00: the recovery is recorded as of 11:10
    restored = act(
        client, staff["tech"], case_id, "restore", restored_at="2026-11-30T11:10:00+07:00"
    ).get_json()
    wait = restored["service_level"]["isp_wait"]
    assert wait == {"clock_seconds": 3600.0, "working_seconds": 3600.0}
    assert restored["isp_wait_seconds"] == 3600.0


# --- the definition of on time, once more in SQL, agrees with itself ------------------------------------


def test_the_standing_in_sql_is_the_definitions(tracker: Any) -> None:
    """``standing_sql`` (list filter, metrics) answers what ``core.service_level.standing`` answers, at and
    around each deadline, for closed cases (measured at completion) and open ones (measured at now)."""
    from alert_webhook.core.service_level import standing
    from alert_webhook.services.cases import standing_sql
    from alert_webhook.store.models import Case

    now = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
    second = timedelta(seconds=1)
    target, maximum = now - timedelta(days=3), now + timedelta(days=1)
    moments = [target - second, target, target + second, maximum - second, maximum, maximum + second]
    shapes = [(closed, target, maximum) for closed in moments]  # closed cases, deadlines fixed
    # Open cases: deadlines placed so that now falls just before, on and after each of them.
    shapes += [(None, now + d, now + d + timedelta(days=3)) for d in (second, timedelta(0), -second)]
    shapes += [(None, now - timedelta(days=3), now + d) for d in (second, timedelta(0), -second)]
    with tracker.db.write() as session:
        rows = [
            Case(
                source="letter",
                target="setda",
                title=f"case {n}",
                state="received" if closed is None else "closed",
                received_at=target_at - timedelta(days=2),
                target_deadline=target_at,
                maximum_deadline=maximum_at,
                closed_at=closed,
                flap_count=0,
                incomplete=False,
                check_round=1,
            )
            for n, (closed, target_at, maximum_at) in enumerate(shapes)
        ]
        session.add_all(rows)
    with tracker.db.read() as session:
        answered = dict(session.execute(select(Case.id, standing_sql(now))).all())
        expected = {
            case.id: standing(case.closed_at or now, case.target_deadline, case.maximum_deadline)
            for case in session.scalars(select(Case))
        }
    assert answered == expected
    assert set(expected.values()) == {"within_target", "within_maximum", "past_maximum"}
