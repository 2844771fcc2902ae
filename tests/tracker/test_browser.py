"""The pages in a real browser: Debian's chromium driven by Playwright against the app served over HTTP on
a loopback port. Sign in, dispose as the head, check as the technician, switch language, a phone-sized
screen and the NOC wall screen. Every request the pages make must stay on the tracker's own origin (no CDN).
"""

from __future__ import annotations

import shutil
import threading
from datetime import date
from pathlib import Path

import pytest

from alert_webhook.extension import tracker_of
from alert_webhook.services import accounts, actor_of, casework, letters
from alert_webhook.services.letters import LetterInput
from tests.support import require

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the browser tests are about pages, the database matrix is covered elsewhere."""
    path = tmp_path / "cases.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def server(app):
    """The app on a real HTTP server on a loopback port, for the duration of the test."""
    from werkzeug.serving import make_server

    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser():
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # under BATIKNET_REQUIRE_LAB=1 a missing Playwright fails the run, never skips it
        sync_playwright = None
    require(sync_playwright is not None, "Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def people(make_user):
    return {
        "head": make_user("head", "kabid"),
        "tech": make_user("technician", "andi"),
        "viewer": make_user("viewer", "layar"),
    }


@pytest.fixture
def case_id(app, people) -> int:
    actor = actor_of(accounts.load_user(tracker_of(app), people["head"].id))
    return letters.open_letter_case(
        tracker_of(app),
        actor,
        LetterInput(
            opd="dindik",
            number="421/77/XI/2026",
            letter_date=date(2026, 11, 30),
            reporter="Pak Hadi",
            description="Seluruh komputer tidak bisa membuka internet",
        ),
    ).id


def new_page(browser, base_url, requests, **context_options):
    context = browser.new_context(base_url=base_url, **context_options)
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    return page


def sign_in(page, user):
    page.goto("/login")
    page.fill("#username", user.username)
    page.fill("#password", user.password)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/cases")


def sign_out(page):
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login")


def test_head_disposes_and_technician_checks_in_the_browser(browser, server, people, case_id, tmp_path):
    requests: list[str] = []
    page = new_page(browser, server, requests)
    sign_in(page, people["head"])
    page.click(f"#case-table a[href='/cases/{case_id}'] >> nth=0")
    assert page.inner_text("#case-state") == "Laporan diterima"
    page.check("#action-dispose label:has-text('Andi') input, #action-dispose input[type=checkbox]")
    page.click("#action-dispose button[type=submit]")
    page.wait_for_selector("text=Data telah disimpan.")
    assert page.inner_text("#case-state") == "Didisposisikan"
    assert "Andi" in page.inner_text("#case-technicians")
    sign_out(page)

    sign_in(page, people["tech"])
    page.goto(f"/cases/{case_id}")
    page.click("#action-start_checks button[type=submit]")
    assert page.inner_text("#case-state") == "Pemeriksaan"
    for check in ("physical", "monitoring", "dns", "connectivity"):
        page.check(f"#check-form-{check} input[value=ok]")
        page.fill(f"#check-form-{check} textarea", f"diperiksa: {check}")
        page.click(f"#check-form-{check} button[type=submit]")
        page.wait_for_selector(f"#check-{check} .result-ok")
    assert page.locator("#checklist .result-ok").count() == 4
    assert page.is_visible("#action-restore")

    # The English switch, remembered across pages.
    page.click("a.lang")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#case-state") == "Checking"
    assert "Checklist" in page.inner_text("#checklist h2")
    page.goto("/cases")
    assert page.inner_text("h1") == "Disruption cases"
    page.screenshot(path=str(tmp_path / "case-desktop.png"), full_page=True)
    assert all(url.startswith(server) for url in requests), [u for u in requests if not u.startswith(server)]


def test_phone_sized_screen_in_the_field(browser, server, people, case_id, tmp_path):
    requests: list[str] = []
    page = new_page(
        browser,
        server,
        requests,
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    sign_in(page, people["tech"])
    for path in ("/cases", f"/cases/{case_id}", "/letters/new"):
        page.goto(path)
        # Nothing wider than the phone: no sideways scrolling in the field.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    page.goto("/cases")
    # On a phone the case table turns into cards whose cells carry their column names.
    assert page.locator("#case-table thead").is_hidden()
    page.screenshot(path=str(tmp_path / "cases-phone.png"), full_page=True)
    page.goto(f"/cases/{case_id}")
    page.screenshot(path=str(tmp_path / "case-phone.png"), full_page=True)
    assert (tmp_path / "case-phone.png").stat().st_size > 10_000
    assert all(url.startswith(server) for url in requests)


def test_noc_wall_screen_for_the_viewer(browser, server, people, case_id, tmp_path):
    requests: list[str] = []
    page = new_page(browser, server, requests, viewport={"width": 1920, "height": 1080})
    page.goto("/login")
    page.fill("#username", people["viewer"].username)
    page.fill("#password", people["viewer"].password)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/noc")
    assert page.inner_text("#noc-open") == "1"
    assert "Dinas Pendidikan" in page.inner_text("main")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
    assert page.is_visible("#watchdog-banner")  # no heartbeat in this test: the wall says so
    page.screenshot(path=str(tmp_path / "noc-wall.png"))
    assert all(url.startswith(server) for url in requests)


def test_technician_restores_writes_the_report_and_gets_the_pdf(
    app, browser, server, people, case_id, tmp_path
):
    head = actor_of(accounts.load_user(tracker_of(app), people["head"].id))
    tech = actor_of(accounts.load_user(tracker_of(app), people["tech"].id))
    casework.dispose(tracker_of(app), head, case_id, [people["tech"].id])
    casework.start_checks(tracker_of(app), tech, case_id)
    for check in ("physical", "monitoring", "dns", "connectivity"):
        casework.record_check(tracker_of(app), tech, case_id, check, "ok")
    requests: list[str] = []
    page = new_page(browser, server, requests, viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in(page, people["tech"])
    page.goto(f"/cases/{case_id}")
    page.click("#action-restore button[type=submit]")
    assert page.inner_text("#case-state") == "Jaringan pulih"
    page.fill("#write_report-cause", "Kabel UTP ke switch lantai 2 tergigit tikus")
    page.fill("#write_report-actions", "Kabel diganti dan dirapikan")
    page.fill("#write_report-parts_replaced", "15 m kabel UTP Cat6")
    page.click("#action-write_report button[type=submit]")
    assert page.inner_text("#case-state") == "Laporan ditulis"
    page.click(f"a[href='/cases/{case_id}/report']")
    assert "LAPORAN PENYELESAIAN GANGGUAN JARINGAN" in page.inner_text("h1").upper()
    assert "Kabel UTP ke switch lantai 2 tergigit tikus" in page.inner_text("article")
    page.screenshot(path=str(tmp_path / "report-phone.png"), full_page=True)
    pdf = page.request.get(page.get_attribute("#report-pdf", "href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    assert all(url.startswith(server) for url in requests)
