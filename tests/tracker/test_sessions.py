"""Sessions end when they should: signing out, a new password and deactivation end every session of that
person, on every device; a session lasts 12 hours from sign-in whatever is done meanwhile. On SQLite and
PostgreSQL (the tracker checks the session against the user's row on every request)."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from alert_webhook.services import accounts
from tests.tracker.conftest import CSRF_FIELD

COOKIE = "batiknet_session"


def csrf_token(client: Any, path: str = "/cases") -> str:
    match = CSRF_FIELD.search(client.get(path).get_data(as_text=True))
    return match.group(1) or match.group(2)


def sign_out(client: Any) -> Any:
    return client.post("/logout", data={"csrf_token": csrf_token(client)})


def signed_in(client: Any) -> bool:
    answer = client.get("/cases")
    assert answer.status_code in (200, 302), answer.status_code
    return answer.status_code == 200


def session_cookie(client: Any) -> str:
    return client.get_cookie(COOKIE).value


def device_with(app: Any, cookie: str) -> Any:
    """Another browser holding a copy of ``cookie`` (saved before, or stolen)."""
    other = app.test_client()
    other.set_cookie(COOKIE, cookie)
    return other


def test_a_cookie_saved_before_signing_out_no_longer_works(app, client, make_user, login):
    login(make_user("technician"))
    saved = session_cookie(client)
    assert signed_in(device_with(app, saved))
    assert sign_out(client).location == "/login"
    copy = device_with(app, saved)
    answer = copy.get("/cases")
    assert answer.status_code == 302 and answer.location.startswith("/login?next=")
    assert "Silakan masuk" in copy.get(answer.location).get_data(as_text=True)
    # Nor does the copy reach the API, which also accepts the pages' cookie for reading.
    assert copy.get("/api/v1/cases").status_code == 401


def test_signing_out_on_one_device_ends_the_others(app, client, make_user, login):
    andi = make_user("technician", "andi")
    login(andi)
    phone = app.test_client()
    phone.post(
        "/login",
        data={"username": "andi", "password": andi.password, "csrf_token": csrf_token(phone, "/login")},
    )
    assert signed_in(phone) and signed_in(client)
    sign_out(client)
    assert not signed_in(phone)
    # Signing in again starts a new session; the other people are not touched.
    assert login(andi).status_code == 302 and signed_in(client)


def test_signing_out_ends_only_the_sessions_of_that_person(app, client, make_user, login):
    login(make_user("technician", "andi"))
    budi = make_user("technician", "budi")
    other = app.test_client()
    other.post(
        "/login",
        data={"username": "budi", "password": budi.password, "csrf_token": csrf_token(other, "/login")},
    )
    sign_out(client)
    assert signed_in(other)


def test_an_admin_resetting_the_password_ends_the_technicians_sessions(app, client, make_user, login):
    andi = make_user("technician", "andi")
    login(andi)
    admin = app.test_client()
    root = make_user("admin", "root")
    admin.post(
        "/login",
        data={"username": "root", "password": root.password, "csrf_token": csrf_token(admin, "/login")},
    )
    form = {f"pw-{andi.id}-password": "kata-sandi-baru-andi", "csrf_token": csrf_token(admin, "/admin/users")}
    assert admin.post("/admin/users/andi/password", data=form).status_code == 302
    assert not signed_in(client)
    assert signed_in(admin), "the admin's own session goes on"
    # The personal API token is not a session: a new password leaves it working (docs/tracker.md).
    assert client.get("/api/v1/cases", headers=andi.headers).status_code == 200


def test_a_password_set_on_the_server_ends_the_sessions(tracker, client, make_user, login):
    andi = make_user("technician", "andi")
    login(andi)
    accounts.set_password(tracker, "andi", "kata-sandi-dari-server")  # batiknet-cases users reset-password
    assert not signed_in(client)


def test_deactivating_ends_sessions_and_token_and_reactivating_revives_neither(
    tracker, client, make_user, login
):
    andi = make_user("technician", "andi")
    login(andi)
    saved = session_cookie(client)
    accounts.set_active(tracker, "andi", False)
    assert not signed_in(client)
    assert client.get("/api/v1/cases", headers=andi.headers).status_code == 401
    accounts.set_active(tracker, "andi", True)
    client.set_cookie(COOKIE, saved)
    assert not signed_in(client)
    assert client.get("/api/v1/cases", headers=andi.headers).status_code == 401
    assert login(andi).status_code == 302 and signed_in(client)


def expires(answer: Any) -> Any:
    cookie = next(h for h in answer.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}="))
    return parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))


def test_a_session_lasts_twelve_hours_from_sign_in_whatever_is_done_meanwhile(
    client, clock, make_user, login
):
    signed_at = clock()
    answer = login(make_user("head"))
    assert expires(answer) == signed_at + timedelta(hours=12)
    first = client.get("/cases")  # the first page puts its forms' CSRF token into the session
    assert expires(first) == signed_at + timedelta(hours=12)
    for hours in (1, 6, 11.9):
        clock.set(signed_at + timedelta(hours=hours))
        page = client.get("/cases")
        assert page.status_code == 200
        # The cookie is not sent again with a fresh lifetime at every request.
        assert not [h for h in page.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    # A response that does change the session (a message to show) keeps the end where it was.
    refused = client.post("/logout")  # no CSRF token: refused, with a message in the session
    assert refused.status_code == 400 and expires(refused) == signed_at + timedelta(hours=12)
    clock.set(signed_at + timedelta(hours=12))
    answer = client.get("/cases")
    assert answer.status_code == 302 and answer.location.startswith("/login")


def test_a_phone_changing_networks_stays_signed_in(client, make_user, login):
    """The session is not bound to the client's address: a phone moves between Wi-Fi and mobile data."""
    login(make_user("technician"))
    assert client.get("/cases", environ_base={"REMOTE_ADDR": "198.51.100.20"}).status_code == 200
    assert client.get("/cases", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200


def change_password(client: Any, current: str, new: str, again: str | None = None) -> Any:
    form = {
        "current_password": current,
        "new_password": new,
        "new_password_again": new if again is None else again,
        "csrf_token": csrf_token(client, "/account/password"),
    }
    return client.post("/account/password", data=form)


def test_changing_ones_own_password_ends_the_other_sessions_and_keeps_this_one(app, client, make_user, login):
    andi = make_user("technician", "andi")
    login(andi)
    phone = device_with(app, session_cookie(client))  # the same session, copied
    other = app.test_client()
    form = {"username": "andi", "password": andi.password, "csrf_token": csrf_token(other, "/login")}
    other.post("/login", data=form)
    assert signed_in(other) and signed_in(phone)
    page = client.get("/account/password").get_data(as_text=True)
    assert "Ganti kata sandi" in page and "Kata sandi saat ini" in page

    answer = change_password(client, "salah-sekali", "kata-sandi-baru-andi")
    assert answer.status_code == 400 and "Kata sandi saat ini salah." in answer.get_data(as_text=True)
    answer = change_password(client, andi.password, "kata-sandi-baru-andi", "kata-sandi-lain-andi")
    assert answer.status_code == 400 and "Kedua isian kata sandi baru tidak sama." in answer.get_data(
        as_text=True
    )
    answer = change_password(client, andi.password, "pendek")
    assert answer.status_code == 400 and "paling sedikit 8 karakter" in answer.get_data(as_text=True)
    assert signed_in(other), "a refused change ends nothing"

    answer = change_password(client, andi.password, "kata-sandi-baru-andi")
    assert answer.status_code == 302 and answer.location == "/cases"
    assert "Kata sandi telah diganti." in client.get("/cases").get_data(as_text=True)
    assert signed_in(client), "the device that changed it goes on, with a new session"
    assert not signed_in(other) and not signed_in(phone), "every other session has ended"
    new = type(andi)(andi.id, "andi", "kata-sandi-baru-andi", andi.role, andi.token)
    assert login(andi).status_code == 401 and login(new).status_code == 302


def test_the_current_password_is_guessed_no_faster_than_at_sign_in(client, make_user, login):
    """A session left open on a shared computer must not become a way to guess the password."""
    andi = make_user("technician", "andi")
    login(andi)
    for _ in range(accounts.LOGIN_FAILURES_PER_ACCOUNT):
        assert change_password(client, "tebakan-salah", "kata-sandi-baru-andi").status_code == 400
    refused = change_password(client, andi.password, "kata-sandi-baru-andi")
    assert refused.status_code == 429 and "Terlalu banyak upaya masuk" in refused.get_data(as_text=True)


def test_the_password_page_needs_a_signed_in_person(client):
    answer = client.get("/account/password")
    assert answer.status_code == 302 and answer.location.startswith("/login?next=")
