"""``batiknet-cases``: serve the tracker, migrate its database, manage its users.

    batiknet-cases serve --listen 127.0.0.1:8088 [--workers N]
    batiknet-cases db upgrade
    batiknet-cases users add USERNAME --role technician [--name "..."] [--email E] [--password-file F]
    batiknet-cases users reset-password USERNAME [--password-file F]
    batiknet-cases users token USERNAME          (prints a new personal API token, once)
    batiknet-cases users list
    batiknet-cases spool rejected [list]         (the notifications set aside, and why)
    batiknet-cases spool rejected retry NAME...|--all     (back in the queue)
    batiknet-cases spool rejected discard NAME...         (deleted for good)

Configuration comes from the ``BATIKNET_*`` environment variables. There is no default password: a
password is read from a file or asked for twice on the terminal.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from . import create_app
from .applier import start_applier, stop_applier
from .core.workflow import USER_ROLES
from .extension import tracker_of
from .settings import SettingsError

# How long the HTTP workers may finish the requests under way when the server stops (gunicorn's
# graceful_timeout); the applier's drain comes after it, so a stop takes at most this plus
# BATIKNET_SPOOL_DRAIN_SECONDS and a few seconds (the stop timeouts in deploy/ allow for that).
GRACEFUL_TIMEOUT_SECONDS = 10


class TrackerServer(BaseApplication):
    """gunicorn serving the Flask application, configured from our own options only."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def _read_password(args: argparse.Namespace) -> str:
    if args.password_file:
        return Path(args.password_file).read_text(encoding="utf-8").strip()
    if not sys.stdin.isatty():
        raise SystemExit("no terminal to ask the password on: use --password-file")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise SystemExit("the passwords differ")
    return first


def _app() -> Any:
    """The application, or an exit naming the setting that is wrong."""
    try:
        return create_app()
    except SettingsError as error:
        raise SystemExit(f"batiknet-cases: {error}") from None


def _serve(args: argparse.Namespace) -> int:
    # The tracker's own messages (the applier's starts, stops and leftovers) beside gunicorn's, on stderr.
    logging.basicConfig(
        level=logging.INFO,
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S %z",
    )
    app = _app()
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"--listen {args.listen!r}: expected HOST:PORT")
    start_applier(app)  # the process that applies the queued notifications (alert_webhook.applier)
    TrackerServer(
        app,
        {
            "bind": args.listen,
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread",
            "timeout": 60,
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            "accesslog": "-" if args.access_log else None,
            "errorlog": "-",
            "proc_name": "batiknet-cases",
            # Forked workers each open their own database connections (the pool is empty at fork).
            "preload_app": True,
            # gunicorn's control socket sits at one path per account ($HOME/.gunicorn or
            # $XDG_RUNTIME_DIR), so a second server of the same user took it over; the server is run
            # by signals (systemd, compose), and needs none.
            "control_socket_disable": True,
            # After the workers have ended: the applier applies what they accepted (within
            # BATIKNET_SPOOL_DRAIN_SECONDS), then ends, and the log says what is left.
            "on_exit": lambda _server: stop_applier(app),
        },
    ).run()
    return 0


def _db(args: argparse.Namespace) -> int:
    from .store.migrate import upgrade

    url = tracker_of(_app()).database_url
    upgrade(url)
    print(f"database at revision head: {_redacted(url)}")
    return 0


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _users(args: argparse.Namespace) -> int:
    from .services import ServiceError, accounts

    tracker = tracker_of(_app())
    try:
        if args.users_command == "add":
            user = accounts.create_user(
                tracker,
                args.username,
                args.name or args.username,
                args.role,
                _read_password(args),
                args.email,
            )
            print(f"added {user.username} ({user.role})")
        elif args.users_command == "reset-password":
            accounts.set_password(tracker, args.username, _read_password(args))
            print(f"password of {args.username} changed; every session of theirs has ended")
        elif args.users_command == "token":
            print(accounts.issue_api_token(tracker, args.username))
        elif args.users_command == "list":
            for user in accounts.list_users(tracker):
                state = "active" if user.active else "disabled"
                print(f"{user.username}\t{user.role}\t{state}\t{user.display_name}\t{user.email or ''}")
    except ServiceError as error:
        print(f"batiknet-cases: {error.message}", file=sys.stderr)
        return 1
    return 0


def _spool(args: argparse.Namespace) -> int:
    """The notifications the applier set aside (``spool/rejected/``): list, retry, discard."""
    from .services import set_aside

    tracker = tracker_of(_app())
    entries = set_aside.entries(tracker)
    if args.action == "list":
        for entry in entries:
            received = entry.received_at.isoformat() if entry.received_at else "?"
            print(f"{entry.name}\t{received}\t{entry.kind}\t{entry.attempts}\t{entry.error}")
        print(f"{len(entries)} notification(s) set aside in {tracker.spool.rejected}", file=sys.stderr)
        return 0
    names = [entry.name for entry in entries] if args.all else args.names
    if not names:
        raise SystemExit(f"batiknet-cases: spool rejected {args.action}: name the notifications (or --all)")
    act = set_aside.retry if args.action == "retry" else set_aside.discard
    by = f"{getpass.getuser()} (command line)"
    missing = [name for name in names if not act(tracker, name, by)]
    for name in missing:
        print(f"batiknet-cases: no set-aside notification {name!r}", file=sys.stderr)
    done = "put back in the queue" if args.action == "retry" else "discarded"
    print(f"{len(names) - len(missing)} notification(s) {done}")
    return 1 if missing else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="batiknet-cases", description="The Batik.Net case tracker.")
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the tracker with gunicorn")
    serve.add_argument("--listen", default="127.0.0.1:8088", help="HOST:PORT (default %(default)s)")
    serve.add_argument("--workers", type=int, default=int(os.environ.get("BATIKNET_WORKERS", "2")))
    serve.add_argument("--threads", type=int, default=4)
    serve.add_argument("--access-log", action="store_true", help="log every request to stdout")
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply the migrations up to the newest").set_defaults(handler=_db)

    users = commands.add_parser("users", help="user accounts")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    add = user_commands.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[str(role) for role in USER_ROLES])
    add.add_argument("--name", help="display name")
    add.add_argument("--email")
    add.add_argument("--password-file", help="read the password from this file (else: ask)")
    reset = user_commands.add_parser("reset-password", help="set a new password")
    reset.add_argument("username")
    reset.add_argument("--password-file")
    token = user_commands.add_parser("token", help="issue a new personal API token (printed once)")
    token.add_argument("username")
    user_commands.add_parser("list", help="list the users")
    for sub in (add, reset, token):
        sub.set_defaults(handler=_users)
    user_commands.choices["list"].set_defaults(handler=_users)

    spool = commands.add_parser("spool", help="webhook notifications waiting or set aside")
    spool_commands = spool.add_subparsers(dest="spool_command", required=True)
    rejected = spool_commands.add_parser(
        "rejected", help="the notifications that could not be applied, set aside in spool/rejected/"
    )
    rejected.add_argument("action", nargs="?", choices=("list", "retry", "discard"), default="list")
    rejected.add_argument("names", nargs="*", help="spool names, as listed")
    rejected.add_argument("--all", action="store_true", help="every notification set aside")
    rejected.set_defaults(handler=_spool)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
