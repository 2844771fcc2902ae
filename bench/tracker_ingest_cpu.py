"""Benchmark: CPU time per notification of the ingest path, in process (no HTTP server, no client).

The storm of ``tracker_storm.py`` (200 groups of 10 alerts, each notification followed by the HA peer's
copy) posted through Flask's test client to a fresh SQLite database, one at a time, the queue applied
after every ``--batch`` deliveries (as the server's applier gathers them). CPU time
(``time.process_time``) is what a shared machine's load disturbs least, so this is the figure to compare
changes of the ingest code by; ``--profile`` prints where the time goes (cProfile).

    .venv/bin/python bench/tracker_ingest_cpu.py [--batch 8] [--profile] [--messages]

``--messages`` configures e-mail and a Telegram chat and adds two heads with addresses, so that each new
case also queues its messages to people (the waiting notice and its reminder, each to two e-mail addresses
and the chat: six rows and two timeline lines; nothing is sent: the dispatcher is not run), to measure what
the outbox adds to applying. The report counts the rows queued.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select
from tracker_storm import GROUPS, notification

from alert_webhook import create_app
from alert_webhook.extension import tracker_of
from alert_webhook.services import accounts, notifications
from alert_webhook.store.migrate import upgrade
from alert_webhook.store.models import OutboxMessage

REPO = Path(__file__).resolve().parents[1]
TOKEN = "ingest-benchmark-token"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="print the 40 costliest functions")
    parser.add_argument(
        "--batch", type=int, default=8, help="deliveries between two applications of the queue (default 8)"
    )
    parser.add_argument("--messages", action="store_true", help="queue messages to two heads and a chat")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="batiknet-ingest-"))
    url = f"sqlite:///{directory / 'cases.db'}"
    upgrade(url)
    messages = {}
    if args.messages:
        (directory / "telegram_bot_token").write_text("123456789:benchmark")
        messages = {
            "BATIKNET_SMTP_HOST": "127.0.0.1",
            "BATIKNET_TELEGRAM_CHAT_IDS": "-1001000000000",
            "BATIKNET_TELEGRAM_BOT_TOKEN_FILE": str(directory / "telegram_bot_token"),
        }
    app = create_app(
        {
            "BATIKNET_DATABASE_URL": url,
            "BATIKNET_API_TOKEN": TOKEN,
            "BATIKNET_INVENTORY": str(REPO / "lab" / "inventory.yml"),
            "BATIKNET_SECRET_KEY": "ingest",
            "BATIKNET_PROMETHEUS_URL": None,
            "BATIKNET_SMTP_HOST": None,
            **messages,
        }
    )
    for head in ("kabid", "wakil") if args.messages else ():
        accounts.create_user(
            tracker_of(app), head, head, "head", "benchmark-password", f"{head}@kominfo.example"
        )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    bodies = [json.dumps(notification(g, peer)) for g in range(GROUPS) for peer in (0, 1)]
    profile = cProfile.Profile() if args.profile else None
    first, copy, applying = [], [], []
    if profile:
        profile.enable()
    for index, body in enumerate(bodies):
        started = time.process_time()
        answer = client.post("/api/v1/alerts", data=body, headers=headers)
        (first if index % 2 == 0 else copy).append(time.process_time() - started)
        if answer.status_code != 200:
            raise SystemExit(f"notification {index}: {answer.status_code} {answer.get_data(as_text=True)}")
        if index % args.batch == args.batch - 1:
            started = time.process_time()
            while notifications.apply_pending(tracker_of(app)):
                pass
            applying.append(time.process_time() - started)
    if profile:
        profile.disable()
    with tracker_of(app).db.read() as session:
        queued = session.scalar(select(func.count()).select_from(OutboxMessage))
    tracker_of(app).db.dispose()

    def ms(seconds: float) -> float:
        return round(seconds * 1000, 2)

    total = sum(first) + sum(copy) + sum(applying)
    report = {
        "cpu_ms_per_notification": {
            "received_new": ms(statistics.mean(first)),
            "received_ha_peer_copy": ms(statistics.mean(copy)),
            "applied_per_group_both_copies": ms(sum(applying) / len(first)),
            "mean_of_all": ms(total / len(bodies)),
        },
        "groups_per_applied_batch": args.batch // 2,
        "notifications_per_cpu_second": round(len(bodies) / total),
        "messages_queued": queued,
    }
    print(json.dumps(report, indent=2))
    if profile:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
