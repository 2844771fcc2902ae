"""``make demo``: the whole stack on this machine, watching the simulated Batik.Net, until Ctrl-C.

Holding the lab lock the whole time, it brings the lab up, prepares the case tracker's database and demo
users (random passwords, printed once), starts the exporter, the case tracker, Prometheus and Alertmanager
on loopback with configurations rendered from the committed ones (:mod:`lab.stackrun`), prints the URLs,
logins and API token, and waits. Ctrl-C or SIGTERM stops every process it started, by PID, and takes the
lab down. It installs nothing (``make demo`` runs ``make install`` first) and needs root (namespaces, ICMP).

Try a cut from another terminal, as root: ``batiknet-lab cut dinkes``, then ``batiknet-lab restore dinkes``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from lab.network import Lab, LabError, check_root, exclusive_lock
from lab.stackrun import REPO, Ports, Stack, StackError, Timing

RUNS_DIR = REPO / "run" / "demo"
LAB_LOCK_TIMEOUT = 600.0
DEMO_MAIL_DOMAIN = "batiknet.example"  # reserved name: their mail only ever reaches the local sink
# Scrapes every 5 s and quick notification groups, so that a cut shows within the committed `for:` plus a
# few seconds; the rules themselves run as committed.
DEMO_TIMING = Timing(scrape_interval="5s", evaluation_interval="5s", group_wait="2s", group_interval="10s")


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    full_name: str


DEMO_USERS = (
    DemoUser("admin", "admin", "Administrator"),
    DemoUser("kepala", "head", "Kepala Bidang Infrastruktur dan Statistik"),
    DemoUser("teknisi1", "technician", "Teknisi Satu"),
    DemoUser("teknisi2", "technician", "Teknisi Dua"),
    DemoUser("teknisi3", "technician", "Teknisi Tiga"),
    DemoUser("teknisi4", "technician", "Teknisi Empat"),
)


class Stop(Exception):
    """SIGTERM arrived: leave the wait and clean up like after Ctrl-C."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        check_root()
    except LabError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    token = os.environ.get("BATIKNET_API_TOKEN") or secrets.token_urlsafe(32)
    ports = Ports.free() if args.free_ports else Ports.defaults()
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        if args.caller_holds_lab_lock:
            return _run(args.run_dir, token, ports)
        with exclusive_lock(timeout=LAB_LOCK_TIMEOUT):
            return _run(args.run_dir, token, ports)
    except (KeyboardInterrupt, Stop):
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=RUNS_DIR / time.strftime("%Y%m%d-%H%M%S"),
        help="configs, data, logs and mail of this run (default: a new directory under run/demo/)",
    )
    parser.add_argument(
        "--free-ports", action="store_true", help="any free loopback ports instead of the documented ones"
    )
    parser.add_argument(
        "--caller-holds-lab-lock",
        action="store_true",
        help="the caller already holds /run/batiknet-lab.lock for this run (the test suite does)",
    )
    return parser


def _run(run_dir: Path, token: str, ports: Ports) -> int:
    lab = Lab()
    stack = Stack(run_dir, api_token=token, ports=ports, timing=DEMO_TIMING)
    try:
        print("demo: bringing the lab up ...", flush=True)
        lab.down()  # leftovers of a crashed run; we hold the lock, so nobody else is using the lab
        lab.up()
        print("demo: starting the stack ...", flush=True)
        stack.start()
        passwords = _create_users(stack)
        _print_banner(stack, passwords, token)
        while True:
            signal.pause()  # until Ctrl-C (KeyboardInterrupt) or SIGTERM (Stop)
    except (LabError, StackError) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    finally:
        # Signals during the cleanup would cut it short; the cleanup itself is bounded.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("demo: stopping the stack and taking the lab down ...", flush=True)
        stack.stop()
        for warning in lab.down():
            print(f"demo: warning: {warning}", file=sys.stderr)
        print("demo: stopped.", flush=True)
    return 0


def _create_users(stack: Stack) -> dict[str, str]:
    """Demo users with fresh random passwords; returns username → password."""
    passwords = {}
    password_file = stack.secrets_dir / "demo-user-password"
    try:
        for user in DEMO_USERS:
            password = secrets.token_urlsafe(12)
            password_file.write_text(password, encoding="utf-8")
            password_file.chmod(0o600)
            stack.cases_command(
                "users",
                "add",
                user.username,
                f"--role={user.role}",
                f"--name={user.full_name}",
                f"--email={user.username}@{DEMO_MAIL_DOMAIN}",
                f"--password-file={password_file}",
            )
            passwords[user.username] = password
    finally:
        password_file.unlink(missing_ok=True)
    return passwords


def _print_banner(stack: Stack, passwords: dict[str, str], token: str) -> None:
    width = max(len(name) for name in passwords)
    logins = "\n".join(f"    {name:<{width}}  {password}" for name, password in passwords.items())
    lab_cli = Path(sys.executable).parent / "batiknet-lab"
    print(
        f"""
Batik.Net NOC demo is running over the simulated network (lab/inventory.yml).

  Case tracker   {stack.url("cases")}/
  Prometheus     {stack.url("prometheus")}/
  Alertmanager   {stack.url("alertmanager")}/
  Exporter       {stack.url("exporter")}/metrics
  Mail sink      {stack.mail_dir}/ (e-mail Alertmanager sends)
  Logs           {stack.logs_dir}/

  Logins (case tracker; generated for this run):
{logins}

  API token (Authorization: Bearer ...): {token}
  Metrics token (the case tracker's /metrics, for Prometheus): {stack.metrics_token}

Try a disruption from another terminal, as root:
    {lab_cli} cut dinkes      # about a minute later: a case for Dinas Kesehatan
    {lab_cli} restore dinkes  # about two minutes later: the case is marked network restored
    {lab_cli} cut dist-sw1    # one critical alert for the switch, none for the OPDs behind it

Press Ctrl-C to stop everything and take the lab down.
""",
        flush=True,
    )


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop


if __name__ == "__main__":
    sys.exit(main())
