"""Assigned technicians get an e-mail, delivered to a real SMTP sink on loopback (aiosmtpd)."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.tracker.test_alerts_api import HEADERS, cases, deliver


class Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_sink: tuple[Sink, int]) -> dict[str, Any]:
    return {
        **app_config,
        "BATIKNET_SMTP_HOST": "127.0.0.1",
        "BATIKNET_SMTP_PORT": smtp_sink[1],
        "BATIKNET_SMTP_FROM": "noc@kominfo.example",
        "BATIKNET_PUBLIC_URL": "http://cases.example",
    }


def test_disposition_mails_the_assigned_technicians(client: Any, make_user: Any, smtp_sink: Any) -> None:
    sink, _port = smtp_sink
    head = make_user("head")
    budi = make_user("technician", username="budi", email="budi@kominfo.example")
    sari = make_user("technician", username="sari", email="sari@kominfo.example")
    deliver(client, "firing")
    case_id = cases(client)[0]["id"]
    answer = client.post(
        f"/api/v1/cases/{case_id}/dispose", json={"technicians": ["budi", "sari"]}, headers=head.headers
    )
    assert answer.status_code == 200
    [(recipients, message)] = sink.messages
    assert sorted(recipients) == ["budi@kominfo.example", "sari@kominfo.example"]
    assert message["From"] == "noc@kominfo.example"
    assert f"#{case_id}" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert f"http://cases.example/cases/{case_id}" in body
    assert "Sekretariat Daerah" in body
    events = client.get(f"/api/v1/cases/{case_id}/timeline", headers=HEADERS).get_json()["events"]
    assert events[-1]["kind"] == "email_sent"
    assert sorted(events[-1]["data"]["to"]) == ["budi@kominfo.example", "sari@kominfo.example"]
    # Adding a technician mails only the one added.
    tono = make_user("technician", username="tono", email="tono@kominfo.example")
    client.post(
        f"/api/v1/cases/{case_id}/assign", json={"technician_ids": [tono.id, budi.id]}, headers=head.headers
    )
    assert sink.messages[-1][0] == ["tono@kominfo.example"]
    assert sari.username == "sari"


def test_unreachable_smtp_is_logged_and_the_disposition_stands(
    client: Any, app: Any, make_user: Any, smtp_sink: Any
) -> None:
    head, tech = make_user("head"), make_user("technician", email="t@kominfo.example")
    notifier = app.extensions["batiknet"].notifier
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    app.extensions["batiknet"].notifier = dataclasses.replace(notifier, port=closed_port)
    deliver(client, "firing")
    case_id = cases(client)[0]["id"]
    answer = client.post(
        f"/api/v1/cases/{case_id}/dispose", json={"technician_ids": [tech.id]}, headers=head.headers
    )
    assert answer.status_code == 200
    events = client.get(f"/api/v1/cases/{case_id}/timeline", headers=HEADERS).get_json()["events"]
    assert [e["kind"] for e in events][-2:] == ["dispose", "email_failed"]
