"""``batiknet-exporter``: flags, structured logging, signals, and the one event loop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
import time
from pathlib import Path

from aiohttp import web

from exporter import __version__
from exporter.config import ConfigError, ExporterSettings
from exporter.http import make_app
from exporter.probes.icmp import ICMPUnavailable
from exporter.service import ExporterService, create

__all__ = ["LogfmtFormatter", "main", "parse_args"]

log = logging.getLogger("batiknet.exporter")
STANDARD_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class LogfmtFormatter(logging.Formatter):
    """One line per event: ``ts=... level=... msg="..." key=value ...`` (the extras of the call)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        fields.update({k: v for k, v in vars(record).items() if k not in STANDARD_RECORD_FIELDS})
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return " ".join(f"{key}={_quote(value)}" for key, value in fields.items())


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="batiknet-exporter", description=__doc__)
    parser.add_argument(
        "--config.file", dest="config_file", required=True, type=Path, help="the inventory file (YAML)"
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default="127.0.0.1:9817",
        help="HOST:PORT to serve on (default 127.0.0.1:9817, loopback only; :9817 for all interfaces)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        type=Path,
        default=None,
        help="TLS and basic authentication, in Prometheus exporter-toolkit's format (docs/exporter.md)",
    )
    parser.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="serve POST /-/reload (SIGHUP reloads either way)",
    )
    parser.add_argument(
        "--config.max-target-drop",
        dest="max_target_drop",
        type=float,
        default=0.5,
        help="refuse a reload that removes more than this share of the running targets, unless asked "
        "with /-/reload?allow_target_drop=true (default 0.5; 1 never refuses)",
    )
    parser.add_argument(
        "--log.level", dest="log_level", default="info", choices=("debug", "info", "warn", "error")
    )
    parser.add_argument(
        "--probe.concurrency",
        dest="concurrency",
        type=int,
        default=64,
        help="DNS lookups and SNMP walks in flight at once (default 64)",
    )
    parser.add_argument(
        "--icmp.rate",
        dest="icmp_rate",
        type=float,
        default=10_000.0,
        help="ICMP echoes per second over all targets (default 10000, like fping -i 0.1)",
    )
    parser.add_argument(
        "--icmp.mode",
        dest="icmp_mode",
        default="auto",
        choices=("auto", "datagram", "raw"),
        help="ICMP sockets: datagram (unprivileged), raw (root), or auto (default)",
    )
    parser.add_argument(
        "--web.probe-unlisted",
        dest="probe_unlisted",
        action="store_true",
        help="let /probe?module=icmp ping addresses that are not in the inventory",
    )
    parser.add_argument("--version", action="version", version=f"batiknet-exporter {__version__}")
    return parser.parse_args(argv)


def split_listen_address(text: str) -> tuple[str | None, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or None
    return host, int(port)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel({"warn": logging.WARNING}.get(level, level.upper()))


def listening_context(service: ExporterService) -> ssl.SSLContext | None:
    """The TLS context to listen with, if any: each handshake then takes the certificate of the latest
    (re)load, so a renewed certificate needs a reload, not a restart (as exporter-toolkit re-reads it)."""
    context = service.config.web.ssl_context
    if context is not None:

        def latest(connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
            connection.context = service.config.web.ssl_context

        context.sni_callback = latest  # called on every handshake, with or without a server name
    return context


async def serve(args: argparse.Namespace, settings: ExporterSettings) -> int:
    try:
        service = create(args.config_file, settings)
        icmp = service.open_icmp()
    except (ConfigError, ICMPUnavailable) as error:
        log.error("cannot start", extra={"error": str(error), "kind": type(error).__name__})
        return 1
    await service.start(icmp)
    runner = web.AppRunner(make_app(service), access_log=None)
    await runner.setup()
    host, port = split_listen_address(args.listen_address)
    try:
        await web.TCPSite(runner, host, port, ssl_context=listening_context(service)).start()
    except OSError as error:
        log.error("cannot listen", extra={"address": args.listen_address, "error": str(error)})
        await service.stop()
        await runner.cleanup()
        return 1
    web_config = service.config.web
    log.info(
        "listening",
        extra={
            "address": args.listen_address,
            "tls": web_config.tls is not None,
            "basic_auth": bool(web_config.users),
            "lifecycle": settings.enable_lifecycle,
            "version": __version__,
        },
    )
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(service.reload()))
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop_signal, stopping.set)
    await stopping.wait()
    log.info("stopping")
    await runner.cleanup()
    await service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)
    settings = ExporterSettings(
        concurrency=args.concurrency,
        icmp_rate=args.icmp_rate,
        icmp_mode=args.icmp_mode,
        probe_unlisted=args.probe_unlisted,
        enable_lifecycle=args.enable_lifecycle,
        max_target_drop=args.max_target_drop,
        web_config_file=args.web_config_file,
    )
    try:
        settings.validate()
        split_listen_address(args.listen_address)
    except (ConfigError, ValueError) as error:
        log.error("bad flag", extra={"error": str(error)})
        return 2
    return asyncio.run(serve(args, settings))


if __name__ == "__main__":
    sys.exit(main())
