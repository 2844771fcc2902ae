"""The case tracker's pages: list and filters, the case page and its action forms, letters, the Watchdog
banner, the chart from Prometheus, complaints, the quarterly evaluation and the NOC screen.

Pages are driven through the test client with CSRF on, as a browser would: every form carries the token
of the session. Changes go through the services, so these tests check what a person sees and can do.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from alert_webhook import i18n
from alert_webhook.extension import tracker_of
from alert_webhook.services import (
    Invalid,
    Refused,
    accounts,
    actor_of,
    cases,
    casework,
    letters,
    notifications,
)
from alert_webhook.services.letters import LetterInput
from alert_webhook.web import formatting as pages

PAYLOADS = Path(__file__).parent / "payloads"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
FLASH = re.compile(r'<p class="flash[^"]*" role="status">([^<]*)</p>')


def token(client) -> str:
    return CSRF.search(client.get("/cases").get_data(as_text=True)).group(1)


def submit(client, path: str, data: dict, **kwargs):
    return client.post(path, data={**data, "csrf_token": token(client)}, **kwargs)


def flashes(answer) -> list[str]:
    import html

    return [html.unescape(m) for m in FLASH.findall(answer.get_data(as_text=True))]


def letter_case(app, user, opd="setda", number="005/1/XI/2026") -> int:
    actor = actor_of(accounts.load_user(tracker_of(app), user.id))
    case = letters.open_letter_case(
        tracker_of(app),
        actor,
        LetterInput(
            opd=opd,
            number=number,
            letter_date=date(2026, 11, 30),
            reporter="Ibu Sari",
            description="Internet di kantor mati sejak pagi",
        ),
    )
    return case.id


def case_state(app, case_id) -> str:
    return cases.get_case(tracker_of(app), case_id).state


@pytest.fixture
def staff(make_user):
    return {
        "head": make_user("head", "kabid"),
        "tech": make_user("technician", "andi"),
        "tech2": make_user("technician", "budi"),
        "viewer": make_user("viewer", "noc"),
    }


# --- the case list ----------------------------------------------------------------------------------


def test_case_list_shows_deadlines_and_filters(app, client, login, staff, clock):
    first = letter_case(app, staff["head"], "setda")
    second = letter_case(app, staff["head"], "kec-barat", "006/2")
    login(staff["head"])
    submit(client, f"/cases/{first}/actions/dispose", {"dispose-technician_ids": str(staff["tech"].id)})

    page = client.get("/cases").get_data(as_text=True)
    assert f'href="/cases/{first}"' in page and f'href="/cases/{second}"' in page
    assert "Sekretariat Daerah" in page and "Kecamatan Pekalongan Barat" in page
    # Received Monday 10:00 WIB: target end of Tuesday, maximum end of Friday (11:00).
    assert "1 Des 2026 15.45 WIB" in page and "4 Des 2026 11.00 WIB" in page

    def listed(query):
        text = client.get("/cases?" + query).get_data(as_text=True)
        return {int(i) for i in re.findall(r'<td data-label="No.">\s*<a href="/cases/(\d+)"', text)}

    assert listed("state=dispositioned") == {first}
    assert listed("state=received") == {second}
    assert listed("state=open") == {first, second}
    assert listed("opd=kec-barat") == {second}
    assert listed(f"technician={staff['tech'].id}") == {first}
    assert listed(f"technician={staff['tech2'].id}") == set()
    assert listed("overdue=1") == set()
    clock.advance(days=2)  # Wednesday 10:00: past the target (end of Tuesday), not the maximum
    login(staff["head"])  # a session lasts 12 hours from sign-in
    assert listed("overdue=1") == {first, second}
    assert "melewati target" in client.get("/cases").get_data(as_text=True)
    clock.advance(days=5)
    login(staff["head"])
    assert "MELEWATI BATAS MAKSIMUM" in client.get("/cases").get_data(as_text=True)


def test_case_list_is_paginated(app, client, login, staff, monkeypatch):
    from alert_webhook.web import cases as case_list

    monkeypatch.setattr(case_list, "PAGE_SIZE", 2)
    ids = [letter_case(app, staff["head"], opd) for opd in ("setda", "setwan", "bappeda")]
    login(staff["viewer"])
    first = client.get("/cases").get_data(as_text=True)
    assert f'href="/cases/{ids[2]}"' in first and f'href="/cases/{ids[1]}"' in first
    assert f'href="/cases/{ids[0]}"' not in first
    assert 'rel="next" href="/cases?page=2"' in first
    second = client.get("/cases?page=2").get_data(as_text=True)
    assert f'href="/cases/{ids[0]}"' in second and 'rel="prev"' in second and 'rel="next"' not in second


def test_a_page_knows_whether_more_follow_without_counting(app, staff):
    for opd in ("setda", "setwan"):
        letter_case(app, staff["head"], opd)
    full = cases.list_cases(tracker_of(app), limit=2)
    assert len(full.items) == 2 and not full.has_next and full.total is None
    first = cases.list_cases(tracker_of(app), limit=1)
    assert len(first.items) == 1 and first.has_next
    assert not cases.list_cases(tracker_of(app), limit=1, offset=1).has_next
    assert cases.list_cases(tracker_of(app), limit=1, count_total=True).total == 2


# --- the case page and its workflow -------------------------------------------------------------------


def test_viewer_sees_the_case_but_no_action_forms(app, client, login, staff):
    case_id = letter_case(app, staff["head"])
    login(staff["viewer"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Riwayat" in page and "Daftar pemeriksaan" in page and "Surat pemberitahuan" in page
    assert "005/1/XI/2026" in page and "Ibu Sari" in page
    assert "Jl. Mataram No. 1" in page and "Operator Setda, +62 285 555 0001" in page  # from the inventory
    assert '<form method="post" action="/cases/' not in page
    assert "Tidak ada langkah SOP yang dapat Anda lakukan" in page
    # Posting anyway is refused by the workflow, with its reason.
    answer = submit(
        client, f"/cases/{case_id}/actions/dispose", {"dispose-technician_ids": str(staff["tech"].id)}
    )
    assert answer.status_code in (403, 409)
    assert (
        "Ditolak: Pengguna dengan peran Pemantau hanya dapat melihat data dan tidak dapat melakukan "
        "langkah “Disposisi”." in flashes(answer)
    )
    assert case_state(app, case_id) == "received"


def test_only_the_head_is_offered_the_disposition(app, client, login, staff):
    case_id = letter_case(app, staff["head"])
    login(staff["tech"])
    assert 'id="action-dispose"' not in client.get(f"/cases/{case_id}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token(client)})
    login(staff["head"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="action-dispose"' in page and "Andi" in page and "Budi" in page


def test_the_whole_sop_through_the_pages(app, client, login, staff, clock):
    case_id = letter_case(app, staff["head"])
    login(staff["head"])
    answer = submit(
        client,
        f"/cases/{case_id}/actions/dispose",
        {"dispose-technician_ids": str(staff["tech"].id), "dispose-note": "Segera cek"},
    )
    assert answer.status_code == 302, flashes(client.get(f"/cases/{case_id}"))
    assert case_state(app, case_id) == "dispositioned"
    client.post("/logout", data={"csrf_token": token(client)})

    login(staff["tech"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="action-start_checks"' in page and 'id="action-dispose"' not in page
    # A refused transition says why: restoring before checking.
    answer = submit(client, f"/cases/{case_id}/actions/start_checks", {})
    assert case_state(app, case_id) == "checking"
    answer = submit(client, f"/cases/{case_id}/actions/restore", {})
    assert answer.status_code == 409
    assert (
        "Ditolak: Pemeriksaan belum lengkap: hasil Pemeriksaan fisik perangkat aktif jaringan utama, "
        "Pengamatan jaringan pada sistem pemantauan, Pemeriksaan server DNS, "
        "Pemeriksaan konektivitas pada pengguna jaringan dan server belum dicatat." in flashes(answer)
    )
    # The checklist: four forms, evidence pre-filled (here: Prometheus is not configured, and it says so).
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    for check in ("physical", "monitoring", "dns", "connectivity"):
        assert f'id="check-form-{check}"' in page
    assert "Kesalahan: Prometheus belum dikonfigurasi (BATIKNET_PROMETHEUS_URL)." in page
    for check, result in (("physical", "ok"), ("monitoring", "fault"), ("dns", "ok"), ("connectivity", "ok")):
        answer = submit(
            client,
            f"/cases/{case_id}/checks/{check}",
            {f"check-{check}-result": result, f"check-{check}-note": f"cek {check}"},
        )
        assert answer.status_code == 302
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert page.count('class="result-ok"') == 3 and page.count('class="result-fault"') == 1
    assert "cek physical" in page

    clock.advance(hours=1)
    assert submit(client, f"/cases/{case_id}/actions/restore", {"restore-restored_at": ""}).status_code == 302
    assert case_state(app, case_id) == "restored"
    # A report without its cause is refused by the form, and nothing changes.
    answer = submit(client, f"/cases/{case_id}/actions/write_report", {"write_report-actions": "x"})
    assert answer.status_code == 400 and "Wajib diisi." in answer.get_data(as_text=True)
    answer = submit(
        client,
        f"/cases/{case_id}/actions/write_report",
        {
            "write_report-cause": "Konektor patch cord rusak",
            "write_report-actions": "Patch cord diganti",
            "write_report-parts_replaced": "1 patch cord UTP",
            "write_report-isp_part": "",
        },
    )
    assert answer.status_code == 302 and case_state(app, case_id) == "report_written"
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'href="/cases/{case_id}/report"' in page and f'href="/cases/{case_id}/report.pdf"' in page
    answer = submit(client, f"/cases/{case_id}/actions/close", {"close-reported_to": "Ibu Sari (Setda)"})
    assert answer.status_code == 302 and case_state(app, case_id) == "closed"
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    timeline = page[page.index('id="timeline"') :]
    for label in (
        "Kasus ditutup",
        "Laporan penyelesaian ditulis",
        "Jaringan dinyatakan pulih",
        "Hasil pemeriksaan dicatat",
        "Pemeriksaan dimulai",
        "Disposisi",
        "Surat dicatat",
        "Kasus dibuka",
    ):
        assert label in timeline
    assert "Segera cek" in timeline and "oleh Kabid" in timeline and "oleh Andi" in timeline


def test_isp_escalation_and_recheck(app, client, login, staff):
    case_id = letter_case(app, staff["head"])
    head = actor_of(accounts.load_user(tracker_of(app), staff["head"].id))
    casework.dispose(tracker_of(app), head, case_id, [staff["tech"].id])
    login(staff["tech"])
    submit(client, f"/cases/{case_id}/actions/start_checks", {})
    for check, result in (
        ("physical", "ok"),
        ("monitoring", "fault"),
        ("dns", "ok"),
        ("connectivity", "fault"),
    ):
        submit(client, f"/cases/{case_id}/checks/{check}", {f"check-{check}-result": result})
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="action-escalate_isp"' in page and "PT Telkom Indonesia" in page
    answer = submit(
        client,
        f"/cases/{case_id}/actions/escalate_isp",
        {
            "escalate_isp-isp": "isp-telkom",
            "escalate_isp-ticket_number": "TLK-778899",
            "escalate_isp-called_at": "2026-11-30T10:05",
            "escalate_isp-estimate_at": "2026-11-30T14:00",
        },
    )
    assert answer.status_code == 302, flashes(client.get(f"/cases/{case_id}"))
    answer = submit(
        client,
        f"/cases/{case_id}/actions/record_recheck",
        {"record_recheck-connected": "no", "record_recheck-note": "masih putus"},
    )
    assert answer.status_code == 302 and case_state(app, case_id) == "isp_escalated"
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    isp_log = page[page.index('id="isp-log"') : page.index('id="letters"')]
    assert "TLK-778899" in isp_log
    assert "30 November 2026 pukul 10.05 WIB" in isp_log and "30 November 2026 pukul 14.00 WIB" in isp_log
    assert "+62 21 5550 0101" in isp_log and "Belum terhubung" in isp_log and "masih putus" in isp_log
    submit(client, f"/cases/{case_id}/actions/record_recheck", {"record_recheck-connected": "yes"})
    assert case_state(app, case_id) == "restored"


# --- letters -------------------------------------------------------------------------------------------


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def letter_form(**overrides):
    data = {
        "number": "045/DINKES/XI/2026",
        "letter_date": "2026-11-30",
        "opd": "dinkes",
        "reporter": "dr. Rina",
        "description": "Jaringan puskesmas putus",
        "received_at": "",
    }
    data.update(overrides)
    return data


def test_letter_form_opens_a_case_with_its_scan(app, client, login, staff):
    import io

    login(staff["tech"])
    page = client.get("/letters/new").get_data(as_text=True)
    assert "Nomor surat" in page and 'enctype="multipart/form-data"' in page
    answer = submit(
        client, "/letters/new", {**letter_form(), "scan": (io.BytesIO(PDF), "surat.pdf", "application/pdf")}
    )
    assert answer.status_code == 302
    case_id = int(answer.location.rsplit("/", 1)[1])
    page = client.get(answer.location).get_data(as_text=True)
    assert "045/DINKES/XI/2026" in page and "dr. Rina" in page and "30 November 2026" in page
    letter_id = int(re.search(r'href="/letters/(\d+)/scan"', page).group(1))
    scan = client.get(f"/letters/{letter_id}/scan")
    assert scan.data == PDF and scan.mimetype == "application/pdf"
    assert scan.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    # A second letter of the same OPD joins the open case.
    answer = submit(client, "/letters/new", letter_form(number="046/DINKES/XI/2026"))
    assert answer.location == f"/cases/{case_id}"
    assert f"Surat digabungkan ke kasus #{case_id} yang masih terbuka." in flashes(
        client.get(answer.location)
    )


def test_letter_form_errors_are_in_the_page_language(app, client, login, staff):
    login(staff["tech"])
    answer = submit(client, "/letters/new", letter_form(letter_date="2026-13-45", opd="nowhere", reporter=""))
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Tanggal tidak sah." in page and "Pilihan tidak sah." in page and "Wajib diisi." in page
    answer = submit(client, "/letters/new?lang=en", letter_form(letter_date="2026-13-45"))
    assert "Not a valid date." in answer.get_data(as_text=True)


def test_letter_scan_type_and_size_are_checked(app_config):
    import io

    from alert_webhook import create_app

    app = create_app({**app_config, "BATIKNET_MAX_LETTER_BYTES": 1024})
    try:
        client = app.test_client()
        accounts.create_user(tracker_of(app), "andi", "Andi", "technician", "pw-andi-secret")
        page = client.get("/login").get_data(as_text=True)
        client.post(
            "/login",
            data={"username": "andi", "password": "pw-andi-secret", "csrf_token": CSRF.search(page).group(1)},
        )
        fake = submit(
            client,
            "/letters/new",
            {**letter_form(), "scan": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "surat.pdf", "application/pdf")},
        )
        assert fake.status_code == 400
        assert "Berkas harus berformat PDF, JPEG, atau PNG." in fake.get_data(as_text=True)
        big = submit(
            client,
            "/letters/new",
            {**letter_form(), "scan": (io.BytesIO(PDF + b" " * 2000), "surat.pdf", "application/pdf")},
        )
        assert big.status_code == 400
        assert "Ukuran berkas terlalu besar" in big.get_data(as_text=True)
        # Beyond the request limit the server refuses before reading, with the same message.
        huge = submit(
            client,
            "/letters/new",
            {**letter_form(), "scan": (io.BytesIO(PDF + b" " * (2 << 20)), "surat.pdf", "application/pdf")},
        )
        assert huge.status_code == 413 and "Ukuran berkas terlalu besar" in huge.get_data(as_text=True)
        # A rejected letter stores nothing.
        assert cases.list_cases(tracker_of(app), count_total=True).total == 0
    finally:
        app.extensions["batiknet"].db.dispose()


# --- the Watchdog banner ------------------------------------------------------------------------------


def test_watchdog_banner_when_alertmanager_goes_silent(app, client, login, staff, clock, shared_headers):
    login(staff["viewer"])
    page = client.get("/cases").get_data(as_text=True)
    assert (
        'id="watchdog-banner"' in page and "sinyal Watchdog dari Alertmanager belum pernah diterima" in page
    )
    answer = client.post("/api/v1/heartbeat", headers=shared_headers, json={"receiver": "watchdog"})
    assert answer.status_code < 300, answer.get_data(as_text=True)
    for path in ("/cases", "/noc"):
        assert 'id="watchdog-banner"' not in client.get(path).get_data(as_text=True)
    clock.advance(minutes=11)
    page = client.get("/noc").get_data(as_text=True)
    assert 'id="watchdog-banner"' in page and "tidak diterima sejak 30 November 2026 pukul 10.00 WIB" in page


# --- linked alerts and the chart ----------------------------------------------------------------------


class FakePrometheus(BaseHTTPRequestHandler):
    """Answers query_range with a target that went down for five minutes; records the queries."""

    queries: ClassVar[list[str]] = []
    query_strings: ClassVar[list[str]] = []

    def do_GET(self):
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        FakePrometheus.queries.append(params.get("query", ""))
        FakePrometheus.query_strings.append(url.query)
        if url.path == "/api/v1/query":  # an instant query: setda is down and its alert fires
            query, at = params["query"], float(params["time"])
            result = []
            if query.startswith(("batiknet_target_up", "ALERTS")):
                labels = {"target": "setda", "alertname": "BatiknetOPDUnreachable"}
                result = [{"metric": labels, "value": [at, "0" if "up" in query[:20] else "1"]}]
            return self.answer({"resultType": "vector", "result": result})
        start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
        points, t = [], start
        while t <= end:
            points.append(t)
            t += step
        middle = (start + end) / 2
        if "batiknet_target_up" in params["query"]:
            values = [[p, "0" if middle <= p < middle + 300 else "1"] for p in points]
        else:
            values = [[p, "0.004"] for p in points if not middle <= p < middle + 300]
        self.answer({"resultType": "matrix", "result": [{"metric": {"target": "setda"}, "values": values}]})

    def answer(self, data):
        body = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_prometheus():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def alert_case(client, shared_headers) -> int:
    payload = json.loads((PAYLOADS / "firing.json").read_text())
    assert client.post("/api/v1/alerts", headers=shared_headers, json=payload).status_code == 200
    [applied] = notifications.apply_pending(tracker_of(client.application))
    return applied.case_ids[0]


def make_app(app_config, **overrides):
    from alert_webhook import create_app

    return create_app({**app_config, **overrides})


def test_linked_alerts_link_to_prometheus_and_grafana_and_the_chart_is_drawn(
    app_config, fake_prometheus, shared_headers
):
    app = make_app(
        app_config,
        BATIKNET_PROMETHEUS_URL=fake_prometheus,
        BATIKNET_GRAFANA_URL="http://grafana.example:3000",
    )
    try:
        client = app.test_client()
        accounts.create_user(tracker_of(app), "noc", "NOC", "viewer", "pw-noc-secret")
        case_id = alert_case(client, shared_headers)
        page = client.get("/login").get_data(as_text=True)
        client.post(
            "/login",
            data={"username": "noc", "password": "pw-noc-secret", "csrf_token": CSRF.search(page).group(1)},
        )
        page = client.get(f"/cases/{case_id}").get_data(as_text=True)
        alerts = page[page.index('id="alerts"') :]
        assert "BatiknetOPDUnreachable" in alerts
        assert 'href="http://prometheus.example:9090/graph?g0.expr=batiknet_target_up+%3D%3D+0"' in alerts
        assert 'href="http://grafana.example:3000/d/batiknet-opd?var-opd=setda&amp;from=' in alerts
        chart = page[page.index('id="chart"') : page.index('id="alerts"')]
        assert '<svg class="chart"' in chart
        assert 'class="down"' in chart and 'class="up"' in chart and '<polyline class="rtt"' in chart
        assert any('batiknet_target_up{target="setda"}' in q for q in FakePrometheus.queries)
    finally:
        app.extensions["batiknet"].db.dispose()


def test_checks_are_prefilled_from_prometheus_and_the_timeline_tells_the_details(
    app_config, fake_prometheus, shared_headers
):
    app = make_app(app_config, BATIKNET_PROMETHEUS_URL=fake_prometheus)
    try:
        client = app.test_client()
        head = accounts.create_user(tracker_of(app), "kabid", "Kabid", "head", "pw-kabid-secret")
        tech = accounts.create_user(tracker_of(app), "andi", "Andi", "technician", "pw-andi-secret")
        case_id = alert_case(client, shared_headers)
        casework.dispose(tracker_of(app), actor_of(head), case_id, [tech.id])
        casework.start_checks(tracker_of(app), actor_of(tech), case_id)
        page = client.get("/login").get_data(as_text=True)
        client.post(
            "/login",
            data={"username": "andi", "password": "pw-andi-secret", "csrf_token": CSRF.search(page).group(1)},
        )
        page = client.get(f"/cases/{case_id}").get_data(as_text=True)
        connectivity = page[page.index('id="check-connectivity"') :]
        assert re.search(r'<input checked[^>]*value="fault"', connectivity[: connectivity.index("</form>")])
        assert "Putus: setda" in connectivity and "Alarm aktif: BatiknetOPDUnreachable" in page
        assert "Hasil yang disarankan: Gangguan" in connectivity
        assert "Waktu pengambilan data: 30 November 2026 pukul 10.00 WIB" in connectivity
        physical = page[page.index('id="check-physical"') : page.index('id="check-monitoring"')]
        assert "<input checked" not in physical  # nothing to suggest: the technician goes and looks
        submit(client, f"/cases/{case_id}/checks/connectivity", {"check-connectivity-result": "fault"})
        submit(client, f"/cases/{case_id}/checks/physical", {"check-physical-result": "ok"})
        timeline = client.get(f"/cases/{case_id}").get_data(as_text=True).split('id="timeline"')[1]
        assert (
            "Hasil pemeriksaan dicatat</strong>: Pemeriksaan konektivitas pada pengguna jaringan dan server: "
            "Gangguan" in timeline
        )
        assert (
            "Hasil pemeriksaan dicatat</strong>: Pemeriksaan fisik perangkat aktif jaringan utama: Baik"
            in timeline
        )
        assert "Disposisi</strong>: Andi" in timeline
    finally:
        app.extensions["batiknet"].db.dispose()


def test_case_page_survives_prometheus_being_unreachable(app_config, shared_headers):
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = make_app(app_config, BATIKNET_PROMETHEUS_URL=f"http://127.0.0.1:{port}")
    try:
        client = app.test_client()
        accounts.create_user(tracker_of(app), "noc", "NOC", "viewer", "pw-noc-secret")
        case_id = alert_case(client, shared_headers)
        page = client.get("/login").get_data(as_text=True)
        client.post(
            "/login",
            data={"username": "noc", "password": "pw-noc-secret", "csrf_token": CSRF.search(page).group(1)},
        )
        answer = client.get(f"/cases/{case_id}")
        assert answer.status_code == 200
        page = answer.get_data(as_text=True)
        assert 'id="chart-unavailable"' in page and "Data Prometheus tidak tersedia" in page
    finally:
        app.extensions["batiknet"].db.dispose()


# --- complaints (SOP 6) --------------------------------------------------------------------------------


def test_complaint_is_recorded_answered_escalated_and_resolved_with_times(app, client, login, staff, clock):
    case_id = letter_case(app, staff["head"])
    login(staff["head"])
    answer = submit(
        client,
        "/complaints",
        {
            "new-complainant": "Pak Joko",
            "new-contact": "0812 0000 0000",
            "new-channel": "direct",
            "new-case_id": str(case_id),
            "new-description": "Perbaikan terlalu lama",
        },
    )
    assert answer.status_code == 302
    page = client.get("/complaints").get_data(as_text=True)
    complaint_id = int(re.search(r'id="complaint-(\d+)"', page).group(1))
    assert "Pak Joko" in page and "Langsung (tatap muka)" in page and f'href="/cases/{case_id}"' in page
    clock.advance(hours=1)
    answer = submit(
        client,
        f"/complaints/{complaint_id}/respond",
        {
            f"c{complaint_id}-respond-response": "Teknisi sedang di lokasi",
            f"c{complaint_id}-respond-solved": "no",
        },
    )
    assert answer.status_code == 302
    clock.advance(hours=2)
    submit(
        client,
        f"/complaints/{complaint_id}/escalate",
        {f"c{complaint_id}-escalate-official_name": "Sekretaris Dinas"},
    )
    clock.advance(hours=1)
    submit(
        client,
        f"/complaints/{complaint_id}/resolve",
        {f"c{complaint_id}-resolve-resolution": "Dijelaskan; jaringan sudah pulih"},
    )
    page = client.get("/complaints").get_data(as_text=True)
    assert "Selesai" in page and "oleh Sekretaris Dinas (pejabat)" in page
    assert "1 jam (1 jam kerja) setelah diterima" in page  # responded after one working hour
    # Escalated at 13:00: three hours, less the lunch break in working hours; resolved at 14:00.
    assert "3 jam (2,5 jam kerja) setelah diterima" in page
    assert "4 jam (3,5 jam kerja) setelah diterima" in page
    # A step out of order is refused with the reason.
    answer = submit(
        client, f"/complaints/{complaint_id}/escalate", {f"c{complaint_id}-escalate-official_name": "x"}
    )
    assert answer.status_code == 409
    assert "Ditolak: Pengaduan ini sudah berstatus “Selesai”." in flashes(answer)


# --- the quarterly evaluation (SOP 14) and the NOC screen ---------------------------------------------


def test_quarterly_evaluation_per_technician(app, client, login, staff, clock):
    case_id = letter_case(app, staff["head"])
    head = actor_of(accounts.load_user(tracker_of(app), staff["head"].id))
    tech = actor_of(accounts.load_user(tracker_of(app), staff["tech"].id))
    casework.dispose(tracker_of(app), head, case_id, [staff["tech"].id])
    casework.start_checks(tracker_of(app), tech, case_id)
    for check in ("physical", "monitoring", "dns", "connectivity"):
        casework.record_check(tracker_of(app), tech, case_id, check, "ok")
    clock.advance(hours=3)
    casework.restore(tracker_of(app), tech, case_id)
    login(staff["head"])
    page = client.get("/evaluation").get_data(as_text=True)
    assert "Triwulan IV Tahun 2026" in page and "1 Oktober 2026" in page and "31 Desember 2026" in page
    rows = dict(
        re.findall(
            r'<td data-label="Teknisi">([^<]+)</td>\s*<td data-label="Kasus yang ditangani">(\d+)</td>', page
        )
    )
    assert rows == {"Andi": "1", "Budi": "0"}
    andi = page[page.index(">Andi<") : page.index(">Budi<")]
    assert "1 (100%)" in andi and ">2,5<" in andi  # 10:00 → 13:00 less the lunch break
    assert "Tidak ada kasus" in client.get("/evaluation?year=2026&quarter=1").get_data(as_text=True)
    assert client.get("/evaluation?year=2026&quarter=7").status_code == 404


def test_quarterly_evaluation_follows_the_account_not_the_name(app, client, login, staff, make_user):
    from alert_webhook.store.models import User

    namesake = make_user("technician", "andi2")
    head = actor_of(accounts.load_user(tracker_of(app), staff["head"].id))
    tracker = tracker_of(app)
    casework.dispose(tracker, head, letter_case(app, staff["head"], "setda", "001/A"), [staff["tech"].id])
    casework.dispose(tracker, head, letter_case(app, staff["head"], "kec-barat", "002/B"), [namesake.id])

    def rename(user_id: int, name: str) -> None:
        with app.extensions["batiknet"].db.write() as session:
            session.get(User, user_id).display_name = name

    def rows() -> list[tuple[str, str]]:
        page = client.get("/evaluation").get_data(as_text=True)
        return re.findall(
            r'<td data-label="Teknisi">([^<]+)</td>\s*<td data-label="Kasus yang ditangani">(\d+)</td>', page
        )

    login(staff["head"])
    rename(namesake.id, "Andi")  # two technicians called Andi: two records
    assert rows() == [("Andi", "1"), ("Andi", "1"), ("Budi", "0")]
    rename(staff["tech"].id, "Andi Saputra")  # renamed: the same record, under the new name
    assert rows() == [("Andi", "1"), ("Andi Saputra", "1"), ("Budi", "0")]


def test_noc_screen_lists_open_cases_and_refreshes(app, client, login, staff):
    open_case = letter_case(app, staff["head"], "setda")
    login(staff["viewer"])
    page = client.get("/noc").get_data(as_text=True)
    assert 'data-refresh-seconds="30"' in page and "/static/noc.js" in page and 'class="noc"' in page
    assert f'href="/cases/{open_case}"' in page and re.search(r'id="noc-open">1<', page)


def test_noc_screen_all_clear(client, login, staff):
    login(staff["viewer"])
    assert "Tidak ada kasus gangguan yang terbuka." in client.get("/noc").get_data(as_text=True)


# --- language ------------------------------------------------------------------------------------------


def test_language_switch_by_query_and_cookie(app, client, login, staff):
    case_id = letter_case(app, staff["head"])
    login(staff["head"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Riwayat" in page and 'href="/cases/1?lang=en"'.replace("1", str(case_id)) in page
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page and "Timeline" in page and "Checklist" in page and "Riwayat" not in page
    # The choice sticks (cookie) until switched back.
    assert "Disruption cases" in client.get("/cases").get_data(as_text=True)
    assert "Daftar kasus gangguan" in client.get("/cases?lang=id").get_data(as_text=True)
    assert "Daftar kasus gangguan" in client.get("/cases").get_data(as_text=True)


@pytest.mark.parametrize(
    ("state", "role", "assigned", "action", "data", "indonesian"),
    [
        (
            "received",
            "head",
            False,
            "restore",
            {},
            "Langkah “Tandai pulih” tidak dapat dilakukan pada kasus berstatus “Laporan diterima”; "
            "langkah ini hanya dapat dilakukan pada status Pemeriksaan, Koordinasi dengan ISP.",
        ),
        (
            "received",
            "viewer",
            False,
            "dispose",
            {"technician_ids": [1]},
            "Pengguna dengan peran Pemantau hanya dapat melihat data dan tidak dapat melakukan langkah "
            "“Disposisi”.",
        ),
        (
            "received",
            "technician",
            True,
            "dispose",
            {"technician_ids": [1]},
            "Langkah “Disposisi” hanya boleh dilakukan oleh Kepala Bidang atau admin.",
        ),
        (
            "dispositioned",
            "technician",
            False,
            "start_checks",
            {},
            "andi tidak ditugaskan untuk menangani kasus ini.",
        ),
        (
            "checking",
            "technician",
            True,
            "escalate_isp",
            {"ticket_number": "T1"},
            "Pemeriksaan belum lengkap: hasil Pemeriksaan server DNS belum dicatat.",
        ),
        (
            "checking",
            "technician",
            True,
            "restore",
            {},
            "Hasil pemeriksaan konektivitas masih “Gangguan”: lakukan koordinasi dengan ISP atau periksa "
            "kembali.",
        ),
    ],
)
def test_workflow_refusals_read_in_indonesian(app, state, role, assigned, action, data, indonesian):
    """Each refusal the pages can meet, produced by the real workflow, has its Indonesian wording."""
    from alert_webhook.core import workflow

    checks = {"physical": "ok", "monitoring": "ok", "connectivity": "fault"}
    if action == "restore" and state == "checking":
        checks["dns"] = "ok"
    snapshot = workflow.CaseSnapshot(
        state=state, assignee_ids=frozenset({7} if assigned else ()), round_checks=checks
    )
    decision = workflow.decide(snapshot, action, workflow.Actor(7 if assigned else 8, "andi", role), data)
    assert not decision.allowed
    with app.test_request_context("/cases"):
        i18n.use_language("id")
        refused = Refused(decision.refusal)
        assert pages.refusal_text(refused) == indonesian
        i18n.use_language("en")
        english = pages.refusal_text(refused)
        assert english not in (indonesian, str(decision.refusal)) and "{" not in english


def test_an_error_without_a_refusal_code_is_shown_as_it_is(app):
    with app.test_request_context("/cases"):
        error = Invalid("something new went wrong", "note")
        assert pages.refusal_text(error) == "something new went wrong"


def test_grafana_links_pick_the_dashboard_of_the_target_kind(app_config):
    from datetime import UTC, datetime
    from types import SimpleNamespace

    app = make_app(app_config, BATIKNET_GRAFANA_URL="http://grafana.example:3000/")
    try:

        def episode(target, ends_at=None):
            starts_at = datetime(2026, 11, 30, 3, tzinfo=UTC)
            return SimpleNamespace(target=target, starts_at=starts_at, ends_at=ends_at)

        with app.app_context():
            core = pages.grafana_url(episode("core-router"))
            assert core.startswith("http://grafana.example:3000/d/batiknet-core?var-device=core-router&from=")
            assert core.endswith("&to=now")
            isp = pages.grafana_url(episode("isp-telkom", ends_at=datetime(2026, 11, 30, 4, tzinfo=UTC)))
            start, end = 1_796_007_600_000, 1_796_011_200_000  # 03:00 and 04:00 UTC in milliseconds
            assert (
                isp
                == f"http://grafana.example:3000/d/batiknet-noc?from={start - 3_600_000}&to={end + 1_800_000}"
            )
            assert pages.grafana_url(episode(None)) is None
    finally:
        app.extensions["batiknet"].db.dispose()
