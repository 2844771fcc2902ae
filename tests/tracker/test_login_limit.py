"""The sign-in limit holds under parallel guessing: the real server (several gunicorn workers, each with
threads) on SQLite and PostgreSQL, wrong passwords sent all at once. Never more passwords are checked than
the limit allows; the rest are refused unchecked (429)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import requests

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


def test_parallel_guesses_get_no_more_checks_than_the_limit(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    password = tmp_path / "password"
    password.write_text("kata-sandi-budi-yang-benar")
    added = run(env, "users", "add", "budi", "--role", "technician", "--password-file", str(password))
    assert added.returncode == 0, added.stderr
    with Server(env, workers=WORKERS) as server:
        # 16 wrong passwords for one account at once: 5 are checked (401), 11 refused unchecked.
        statuses = all_at_once(server.base, ["budi"] * 16)
        assert statuses == {401: LOGIN_FAILURES_PER_ACCOUNT, 429: 16 - LOGIN_FAILURES_PER_ACCOUNT}
        # 24 wrong guesses for 24 accounts from the same address: the address has 20, 5 of them used above.
        left = LOGIN_FAILURES_PER_ADDRESS - LOGIN_FAILURES_PER_ACCOUNT
        statuses = all_at_once(server.base, [f"tamu{i}" for i in range(24)])
        assert statuses == {401: left, 429: 24 - left}
