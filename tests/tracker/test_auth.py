"""Sign-in, roles, CSRF and cookie hardening of the pages."""

from __future__ import annotations

import re

import pytest

from alert_webhook.extension import tracker_of
from alert_webhook.services import accounts

PAGES = [
    "/",
    "/cases",
    "/cases/1",
    "/noc",
    "/letters/new",
    "/complaints",
    "/evaluation",
    "/evaluation/report",
    "/cases/1/report",
    "/cases/1/report.pdf",
]
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path="/cases") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_signed_in_user(client, path):
    answer = client.get(path)
    assert answer.status_code == 302
    assert answer.location.startswith("/login?next=")


def test_login_page_is_public_and_in_indonesian_first(client):
    answer = client.get("/login")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert '<html lang="id">' in page and "Nama pengguna" in page and "Kata sandi" in page


def test_wrong_password_is_refused_with_a_message(client, make_user, login):
    user = make_user("technician")
    user = type(user)(user.id, user.username, "not-the-password", user.role, user.token)
    answer = login(user)
    assert answer.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in answer.get_data(as_text=True)
    assert client.get("/cases").status_code == 302


def test_login_then_logout(client, make_user, login):
    user = make_user("head")
    answer = login(user)
    assert answer.status_code == 302 and answer.location == "/cases"
    assert client.get("/cases").status_code == 200
    answer = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert answer.status_code == 302 and answer.location == "/login"
    assert client.get("/cases").status_code == 302


def test_next_is_followed_but_only_on_this_site(client, make_user):
    user = make_user("technician")
    for target, expected in (
        ("/noc", "/noc"),
        ("//evil.example/x", "/cases"),
        ("https://evil.example/", "/cases"),
        ("/\\evil.example/", "/cases"),
    ):
        client.get("/login")
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        answer = client.post(
            "/login?next=" + target,
            data={"username": user.username, "password": user.password, "csrf_token": token},
        )
        assert answer.location == expected, target
        client.post("/logout", data={"csrf_token": csrf_token(client)})


def test_inactive_user_cannot_sign_in(app, client, make_user, login):
    user = make_user("technician")
    accounts.set_active(tracker_of(app), user.username, False)
    assert login(user).status_code == 401


def test_forms_without_csrf_token_are_refused(client, make_user, login):
    user = make_user("head")
    # The login form itself is protected.
    answer = client.post("/login", data={"username": user.username, "password": user.password})
    assert answer.status_code == 400
    login(user)
    answer = client.post("/logout")
    assert answer.status_code == 400
    assert "Formulir sudah kedaluwarsa" in answer.get_data(as_text=True)
    assert client.get("/cases").status_code == 200  # still signed in


def test_json_api_is_exempt_from_csrf_and_uses_bearer_tokens(client, make_user):
    user = make_user("technician")
    answer = client.post(
        "/api/v1/cases",
        headers=user.headers,
        json={
            "opd": "setda",
            "letter_number": "005/12/2026",
            "letter_date": "2026-11-30",
            "reporter": "Ibu Sari",
            "description": "Internet mati",
        },
    )
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)
    # Without a token the API answers 401 JSON, never the login page.
    answer = client.get("/api/v1/cases")
    assert answer.status_code == 401 and answer.is_json


def test_session_cookie_is_hardened_and_headers_are_set(client, make_user, login):
    answer = login(make_user("head"))
    cookie = next(h for h in answer.headers.getlist("Set-Cookie") if h.startswith("batiknet_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # a session ends after 12 hours, not only when the browser closes
    page = client.get("/cases")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("viewer", "/complaints", 403),
        ("viewer", "/evaluation", 403),
        ("viewer", "/letters/new", 403),
        ("viewer", "/noc", 200),
        ("technician", "/complaints", 403),
        ("technician", "/evaluation", 403),
        ("technician", "/letters/new", 200),
        ("head", "/complaints", 200),
        ("head", "/evaluation", 200),
        ("head", "/evaluation/report", 200),
        ("admin", "/complaints", 200),
        ("admin", "/evaluation", 200),
    ],
)
def test_pages_reserved_to_roles(client, make_user, login, role, path, status):
    login(make_user(role))
    answer = client.get(path)
    assert answer.status_code == status
    if status == 403:
        assert "Anda tidak berwenang" in answer.get_data(as_text=True)


def test_viewer_lands_on_the_noc_screen(client, make_user, login):
    assert login(make_user("viewer")).location == "/noc"
    assert client.get("/").location == "/noc"


def test_roles_required_rejects_unknown_roles():
    from alert_webhook.web.auth import roles_required

    with pytest.raises(ValueError):
        roles_required("superuser")


def test_secure_cookies_when_served_over_https(app_config):
    from alert_webhook import create_app

    app = create_app({**app_config, "BATIKNET_SECURE_COOKIES": True})
    try:
        assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    finally:
        app.extensions["batiknet"].db.dispose()


def test_admin_manages_accounts_through_the_users_page(app, client, make_user, login):
    admin = make_user("admin", "root")
    login(admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Tambah pengguna" in page and 'href="/admin/users"' in page

    def post(path, data):
        return client.post(path, data={**data, "csrf_token": csrf_token(client, "/admin/users")})

    new = {"new-username": "sari", "new-display_name": "Sari Wulandari", "new-role": "technician",
           "new-email": "", "new-password": "rahasia-sari-1"}  # fmt: skip
    assert post("/admin/users", new).status_code == 302
    answer = post("/admin/users", new)
    assert answer.status_code == 400 and "Nama pengguna sari sudah terdaftar." in answer.get_data(
        as_text=True
    )
    answer = post("/admin/users", {**new, "new-username": "dewi", "new-password": "pendek"})
    assert "Kata sandi harus terdiri atas paling sedikit 8 karakter." in answer.get_data(as_text=True)
    sari = next(u for u in accounts.list_users(tracker_of(app)) if u.username == "sari")
    assert sari.role == "technician" and sari.display_name == "Sari Wulandari"
    answer = post("/admin/users/sari/password", {f"pw-{sari.id}-password": "kata-sandi-baru"})
    assert answer.status_code == 302
    assert post("/admin/users/sari/active", {"active": "0"}).status_code == 302
    # The admin cannot lock themselves out.
    assert post("/admin/users/root/active", {"active": "0"}).status_code == 409
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    page = client.get("/login").get_data(as_text=True)
    form = {"username": "sari", "password": "kata-sandi-baru", "csrf_token": CSRF.search(page).group(1)}
    assert client.post("/login", data=form).status_code == 401  # deactivated


def test_only_the_admin_sees_the_users_page(client, make_user, login):
    login(make_user("head"))
    assert client.get("/admin/users").status_code == 403
    assert 'href="/admin/users"' not in client.get("/cases").get_data(as_text=True)


# --- brute-force protection of the login page ----------------------------------------------------------


def attempt(client, username, password, address="192.0.2.10", headers=None):
    """One POST of the login form from ``address`` (the TCP peer as the server sees it)."""
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    form = {
        "username": username,
        "password": password,
        "csrf_token": CSRF.search(page.get_data(as_text=True))[1],
    }
    return client.post("/login", data=form, environ_base={"REMOTE_ADDR": address}, headers=headers or {})


def test_an_account_is_locked_for_a_while_after_five_failures(client, make_user, clock):
    user = make_user("technician", "budi")
    for _ in range(accounts.LOGIN_FAILURES_PER_ACCOUNT):
        assert attempt(client, "budi", "tebakan-salah").status_code == 401
    locked = attempt(client, "budi", user.password)  # even the right password, unchecked
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "900"
    assert "Terlalu banyak upaya masuk yang gagal. Silakan coba lagi setelah 15 menit." in locked.get_data(
        as_text=True
    )
    client.get("/login?lang=en")
    clock.advance(minutes=10)
    english = attempt(client, "budi", user.password).get_data(as_text=True)
    assert "Too many failed sign-in attempts. Try again in 5 minutes." in english
    clock.advance(minutes=4)
    english = attempt(client, "budi", user.password).get_data(as_text=True)
    assert "Too many failed sign-in attempts. Try again in 1 minute." in english
    clock.advance(minutes=1)
    assert attempt(client, "budi", user.password).status_code == 302  # the window has passed
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    # A success clears the account's failures: four more do not lock it.
    for _ in range(accounts.LOGIN_FAILURES_PER_ACCOUNT - 1):
        assert attempt(client, "budi", "tebakan-salah").status_code == 401
    assert attempt(client, "budi", user.password).status_code == 302


def test_an_address_is_limited_across_accounts_and_workers(app, app_config, client, make_user):
    from alert_webhook import create_app

    sari = make_user("technician", "sari")
    # A second application on the same database, as a second gunicorn worker would be.
    other_worker = create_app(app_config)
    try:
        second = other_worker.test_client()
        for i in range(accounts.LOGIN_FAILURES_PER_ADDRESS):
            worker = client if i % 2 else second
            assert attempt(worker, f"tamu{i}", "tebakan", address="198.51.100.7").status_code == 401
        assert attempt(client, "sari", sari.password, address="198.51.100.7").status_code == 429
        assert attempt(second, "sari", sari.password, address="198.51.100.7").status_code == 429
        assert attempt(client, "sari", sari.password, address="198.51.100.8").status_code == 302
    finally:
        other_worker.extensions["batiknet"].db.dispose()


def test_behind_a_trusted_proxy_the_forwarded_address_counts(app_config):
    from alert_webhook import create_app

    app = create_app({**app_config, "BATIKNET_TRUSTED_PROXIES": 1})
    try:
        client = app.test_client()
        for i in range(accounts.LOGIN_FAILURES_PER_ADDRESS):
            forwarded = {"X-Forwarded-For": "203.0.113.5"}
            assert attempt(client, f"tamu{i}", "x", address="127.0.0.1", headers=forwarded).status_code == 401
        refused = attempt(
            client, "tamu", "x", address="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.5"}
        )
        assert refused.status_code == 429
        other = attempt(client, "tamu", "x", address="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.6"})
        assert other.status_code == 401  # the proxy's own address is not what counts
    finally:
        app.extensions["batiknet"].db.dispose()


@pytest.mark.real_password_hashing
def test_passwords_are_kept_as_scrypt_hashes_and_unknown_users_cost_the_same(app, tracker, make_user) -> None:
    """What deployments get (the other tests hash cheaply, see conftest): scrypt, and the same hashing work
    for an unknown username as for a known one, so usernames cannot be probed by timing."""
    from sqlalchemy import select

    from alert_webhook.services import accounts
    from alert_webhook.store.models import User

    user = make_user("technician", username="sekar")
    with tracker.db.read() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "sekar"))
    assert stored.startswith("scrypt:")
    assert accounts.authenticate(tracker, "sekar", user.password).username == "sekar"
    assert accounts.authenticate(tracker, "nobody-here", user.password) is None
    assert accounts._dummy_hash().startswith("scrypt:")
