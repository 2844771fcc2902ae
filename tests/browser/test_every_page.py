"""Every page the tracker has, as every role sees it, on a 360×740 phone and on the 1920×1080 NOC screen.

Each page must fit its screen (no sideways scrolling, nothing sticking out), break no word across lines,
give tap targets of a usable size, pass axe-core with no serious or critical finding (contrast
included) and load nothing from elsewhere. A screenshot of each is written to test-output/screenshots/.
The cases behind the pages stand at every step of the SOP: waiting for disposition, in the checks, in
coordination with the ISP, closed with its report; with letters, alerts and complaints.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.screen import (
    SCREENS,
    accessibility_faults,
    layout_faults,
    only_own_origin,
    open_page,
    shoot,
)
from tests.browser.tracker import PEOPLE, Tracker, wait_until

pytestmark = pytest.mark.browser

ROLES = {"admin": "admin", "head": "head", "technician": "andi", "viewer": "viewer"}
EVERYONE = tuple(ROLES)
STAFF = ("admin", "head", "technician")
HEAD = ("admin", "head")

# name, path (with the case numbers of the ``cases`` fixture), who may open it.
PAGES = [
    ("cases", "/cases", EVERYONE),
    ("case-received", "/cases/{received}", EVERYONE),
    ("case-checking", "/cases/{checking}", EVERYONE),
    ("case-isp", "/cases/{isp}", EVERYONE),
    ("case-closed", "/cases/{closed}", EVERYONE),
    ("report", "/cases/{closed}/report", EVERYONE),
    ("letter", "/letters/new", STAFF),
    ("complaints", "/complaints", HEAD),
    ("evaluation", "/evaluation", HEAD),
    ("evaluation-report", "/evaluation/report", HEAD),
    ("noc", "/noc", EVERYONE),
    ("users", "/admin/users", ("admin",)),
    ("account", "/account/password", EVERYONE),
    ("not-found", "/cases/999999", EVERYONE),
]
VISITS = [
    pytest.param(role, name, path, allowed, id=f"{role}-{name}")
    for name, path, allowed in PAGES
    for role in EVERYONE
]


@pytest.fixture(scope="module")
def cases(tracker: Tracker) -> dict[str, int]:
    """Four cases at four steps of the SOP, two letters, an alert and two complaints."""
    tracker.heartbeat()  # monitoring is alive: no warning banner on these pages
    received = tracker.letter(
        "dindik", "421/77/XI/2026", "Pak Hadi", "Seluruh komputer di ruang guru tidak bisa membuka internet"
    )["id"]

    tracker.alert("setda", "Sekretariat Daerah")
    checking = wait_until(lambda: tracker.open_cases_of("setda"), "the alert's case")[0]["id"]
    tracker.letter("setda", "005/12/XI/2026", "Ibu Sari", "Jaringan Sekretariat Daerah terputus sejak pagi")
    tracker.act(checking, "dispose", technicians=["andi", "budi"], note="Segera cek ruang server lantai 2")
    tracker.act(checking, "start-checks")
    tracker.act(checking, "checks", check="physical", result="ok", note="Switch dan kabel baik")
    tracker.act(checking, "checks", check="monitoring", result="fault", note="Ping ke setda putus")

    isp = tracker.letter("kec-utara", "045/KU/XI/2026", "Pak Bambang", "Internet kecamatan mati total")["id"]
    tracker.act(isp, "dispose", technicians=["andi"])
    tracker.act(isp, "start-checks")
    results = {"physical": "ok", "monitoring": "fault", "dns": "ok", "connectivity": "fault"}
    for check, result in results.items():
        tracker.act(isp, "checks", check=check, result=result)
    tracker.act(isp, "escalate-isp", ticket_number="TLK-20261130-0042", contact="NOC Telkom, 147",
                note="Gangguan kabel optik di jalur Pekalongan Utara")  # fmt: skip
    tracker.act(isp, "rechecks", connected=False, note="Masih putus")

    closed = tracker.letter("dinkes", "440/9/XI/2026", "dr. Rina", "Aplikasi SIMPUS tidak bisa diakses")["id"]
    tracker.act(closed, "dispose", technicians=["citra"])
    tracker.act(closed, "start-checks")
    for check in ("physical", "monitoring", "dns", "connectivity"):
        tracker.act(closed, "checks", check=check, result="ok")
    tracker.act(closed, "restore", note="Konektor RJ45 di patch panel diganti")
    tracker.act(closed, "report", cause="Konektor RJ45 di patch panel lantai 1 berkarat",
                actions="Konektor diganti dan diuji", parts_replaced="2 konektor RJ45")  # fmt: skip
    tracker.act(closed, "close", reported_to="dr. Rina, Dinas Kesehatan")

    tracker.api("POST", "complaints", complainant="Pak Joko (Dinas Kesehatan)", channel="telephone",
                description="Petugas belum datang padahal sudah dua jam", case_id=closed)  # fmt: skip
    escalated = tracker.api("POST", "complaints", complainant="Ibu Wati", channel="direct",
                            description="Laporan penyelesaian belum kami terima")["id"]  # fmt: skip
    tracker.api("POST", f"complaints/{escalated}/respond", response="Laporan sedang disusun", solved=False)
    tracker.api("POST", f"complaints/{escalated}/escalate", official_name="Sekretaris Dinas")
    return {"received": received, "checking": checking, "isp": isp, "closed": closed}


@pytest.fixture(scope="module")
def signed_in(chromium: Any, tracker: Tracker) -> Any:
    """One signed-in page per role, screen and language, opened on first use and kept for the module."""
    pages: dict[tuple[str, str, str], Any] = {}

    def page_of(role: str, screen: str, language: str = "id") -> Any:
        if (role, screen, language) not in pages:
            page = open_page(chromium, tracker, screen, PEOPLE[ROLES[role]])
            page.goto(f"/cases?lang={language}")  # the choice is kept in a cookie
            pages[role, screen, language] = page
        return pages[role, screen, language]

    yield page_of
    for page in pages.values():
        page.context.close()


def assert_fit_for_people(page: Any, screen: str, tracker: Tracker) -> None:
    faults = layout_faults(page, screen) + accessibility_faults(page)
    faults += [f"loaded from elsewhere: {url}" for url in only_own_origin(page, tracker)]
    assert not faults, "\n".join(faults)


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize(("role", "name", "path", "allowed"), VISITS)
def test_page_fits_the_screen_and_passes_axe(
    role: str,
    name: str,
    path: str,
    allowed: tuple[str, ...],
    screen: str,
    cases,
    signed_in,
    tracker,
    screenshots,
) -> None:
    page = signed_in(role, screen)
    answer = page.goto(path.format(**cases))
    expected = 404 if name == "not-found" else 200 if role in allowed else 403
    assert answer.status == expected
    assert page.locator("h1").count() == 1 and page.locator("h1").is_visible()
    shoot(page, screenshots, f"{screen}-{role}-{name}")
    assert_fit_for_people(page, screen, tracker)


@pytest.mark.parametrize(("name", "path", "allowed"), PAGES, ids=[name for name, _, _ in PAGES])
def test_page_in_english_fits_the_phone(name, path, allowed, cases, signed_in, tracker, screenshots) -> None:
    """The English texts are of other lengths; the head (or the administrator, for the users) reads them."""
    role = "head" if "head" in allowed else "admin"
    page = signed_in(role, "phone", "en")
    page.goto(path.format(**cases))
    assert page.get_attribute("html", "lang") == "en"
    shoot(page, screenshots, f"phone-{role}-{name}-en")
    assert_fit_for_people(page, "phone", tracker)


@pytest.mark.parametrize("screen", SCREENS)
def test_sign_in_page(screen: str, chromium: Any, tracker: Tracker, screenshots) -> None:
    page = open_page(chromium, tracker, screen)
    page.goto("/login")
    shoot(page, screenshots, f"{screen}-anonymous-login")
    assert_fit_for_people(page, screen, tracker)
    page.context.close()
