"""Sessions ending as people expect, in the browser, each device a browser context of its own (own cookies):
signing out on one device signs out the others; an admin's new password for a technician ends the session
on the technician's phone; a person's own new password ends the other devices' sessions but not the one
used. The ended device's next page is the sign-in page, which leads back to the page it asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.screen import flash, layout_faults, open_page, shoot
from tests.browser.tracker import PEOPLE, Person, Tracker

pytestmark = pytest.mark.browser

SIGN_IN_AGAIN = "Silakan masuk untuk membuka halaman ini."


@pytest.fixture
def device(chromium: Any, tracker: Tracker) -> Iterator[Callable[..., Any]]:
    """``device("andi", "phone")``: a page signed in as that person in a browser context of its own."""
    pages: list[Any] = []

    def open_as(who: str, screen: str, person: Person | None = None) -> Any:
        page = open_page(chromium, tracker, screen, person or PEOPLE[who])
        pages.append(page)
        return page

    yield open_as
    for page in pages:
        page.context.close()


def follow(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


def asks_to_sign_in_again(page: Any, path: str) -> None:
    """``page`` opens ``path`` and is shown the sign-in page, which will lead back to ``path``."""
    page.goto(path)
    assert "/login?next=" in page.url, page.url
    assert SIGN_IN_AGAIN in flash(page)
    assert page.is_visible("#username") and page.is_visible("#password")


def sign_in_here(page: Any, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    follow(page, "button[type=submit].primary")


def test_signing_out_on_the_phone_signs_out_the_desk(tracker, device, screenshots):
    case_id = tracker.letter("dindik", "421/90/XI/2026", "Pak Hadi", "Internet di ruang guru mati")["id"]
    desk = device("andi", "wall")
    phone = device("andi", "phone")
    desk.goto(f"/cases/{case_id}")
    phone.goto("/cases")

    phone.click("details.menu > summary")
    follow(phone, "details.menu button:text-is('Keluar')")
    assert phone.url.endswith("/login")
    assert flash(phone) == "Anda telah keluar dari semua perangkat."
    assert not layout_faults(phone, "phone")

    # The desk, still showing the case, is asked to sign in at its next page; then it is back on the case.
    asks_to_sign_in_again(desk, f"/cases/{case_id}")
    shoot(desk, screenshots, "journey-access-desk-signed-out")
    sign_in_here(desk, "andi", PEOPLE["andi"].password)
    assert desk.url.endswith(f"/cases/{case_id}")


def test_an_admin_resetting_a_password_ends_the_technicians_phone_session(tracker, device, screenshots):
    phone = device("budi", "phone")
    phone.goto("/cases")
    assert phone.url.endswith("/cases")

    admin = device("admin", "wall")
    admin.goto("/admin/users")
    row = admin.locator("#user-budi")
    row.locator("input[type=password]").fill("sandi-baru-budi-2026")
    with admin.expect_navigation():
        row.locator("button:text-is('Ganti kata sandi')").click()
    assert "Kata sandi pengguna budi telah diganti dan semua sesinya telah diakhiri." in flash(admin)
    shoot(admin, screenshots, "journey-access-admin-reset")

    asks_to_sign_in_again(phone, "/cases")
    assert not layout_faults(phone, "phone")
    sign_in_here(phone, "budi", PEOPLE["budi"].password)  # the old password no longer opens anything
    assert "Nama pengguna atau kata sandi salah." in flash(phone)
    sign_in_here(phone, "budi", "sandi-baru-budi-2026")
    assert phone.url.endswith("/cases")
    # The admin's own session goes on.
    admin.goto("/admin/users")
    assert admin.url.endswith("/admin/users")


def test_a_new_password_of_ones_own_ends_the_other_devices_only(tracker, device, screenshots):
    phone = device("dewi", "phone")
    desk = device("dewi", "wall")
    phone.goto("/cases")

    desk.goto("/cases")
    follow(desk, "nav.nav-wide a:text-is('Ganti kata sandi')")
    desk.fill("#current_password", PEOPLE["dewi"].password)
    desk.fill("#new_password", "sandi-baru-dewi-2026")
    desk.fill("#new_password_again", "sandi-baru-dewi-2026")
    shoot(desk, screenshots, "journey-access-own-password")
    follow(desk, "#own-password button[type=submit]")
    assert desk.url.endswith("/cases")
    assert flash(desk) == "Kata sandi telah diganti. Sesi Anda di perangkat lain telah diakhiri."
    desk.goto("/noc")
    assert desk.url.endswith("/noc"), "the device that changed it stays signed in"

    asks_to_sign_in_again(phone, "/cases")
    sign_in_here(phone, "dewi", "sandi-baru-dewi-2026")
    assert phone.url.endswith("/cases")
