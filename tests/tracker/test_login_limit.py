"""The sign-in limit holds under parallel guessing: the real server (several gunicorn workers, each with
threads) on SQLite and PostgreSQL, wrong passwords sent all at once. Never more passwords are checked than
the limit allows; the rest are refused unchecked (429)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from alert_webhook.services.accounts import LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS
from tests.tracker.conftest import CSRF_FIELD
from tests.tracker.test_cli import Server, env, run  # noqa: F401  (env: a fixture)

WORKERS = 4  # × 4 threads each: 16 requests in the server at once


def login_form(base: str, username: str) -> tuple[requests.Session, dict[str, str]]:
    """A browser that opened the login page: its cookie and the form it will send."""
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=30).text
    match = CSRF_FIELD.search(page)
    token = match.group(1) or match.group(2)
    return browser, {"username": username, "password": "tebakan-yang-salah", "csrf_token": token}


def all_at_once(base: str, usernames: list[str]) -> Counter[int | str]:
    """POST the login form for each username from its own browser, released together; the statuses (or
    what went wrong instead of an answer)."""
    forms = [login_form(base, username) for username in usernames]
    start = threading.Barrier(len(forms))
    statuses: list[int | str] = []

    def guess(browser: requests.Session, form: dict[str, str]) -> None:
        start.wait()
        try:
            answer = browser.post(f"{base}/login", data=form, allow_redirects=False, timeout=120)
            statuses.append(answer.status_code)
        except requests.RequestException as error:
            statuses.append(repr(error))

    threads = [threading.Thread(target=guess, args=pair) for pair in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses)


def checked(database_url: str, usernames: set[str]) -> int:
    """Passwords checked for these accounts: each check is claimed as a failure row first, and a wrong
    password leaves it there (counted in the database, so an answer lost on the way counts too)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT username FROM login_failures")).scalars()
            return sum(1 for username in rows if username in usernames)
    finally:
        engine.dispose()


def test_parallel_guesses_get_no_more_checks_than_the_limit(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    password = tmp_path / "password"
    password.write_text("kata-sandi-budi-yang-benar")
    added = run(env, "users", "add", "budi", "--role", "technician", "--password-file", str(password))
    assert added.returncode == 0, added.stderr
    guests = [f"tamu{i}" for i in range(24)]
    with Server(env, workers=WORKERS) as server:
        # 16 wrong passwords for one account at once: 5 are checked (401), 11 refused unchecked (429).
        for_budi = all_at_once(server.base, ["budi"] * 16)
        # 24 wrong guesses for 24 accounts from the same address: the address has 20, 5 of them used above.
        for_guests = all_at_once(server.base, guests)
    database = env["BATIKNET_DATABASE_URL"]
    assert checked(database, {"budi"}) == LOGIN_FAILURES_PER_ACCOUNT, server.output
    assert checked(database, set(guests)) == LOGIN_FAILURES_PER_ADDRESS - LOGIN_FAILURES_PER_ACCOUNT
    left = LOGIN_FAILURES_PER_ADDRESS - LOGIN_FAILURES_PER_ACCOUNT
    assert for_budi == {401: LOGIN_FAILURES_PER_ACCOUNT, 429: 16 - LOGIN_FAILURES_PER_ACCOUNT}, server.output
    assert for_guests == {401: left, 429: 24 - left}, server.output
