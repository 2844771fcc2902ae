"""The running exporter: configuration, probing engines, scheduler, metrics, and reload."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from exporter.collector import BatiknetCollector
from exporter.config import (
    ConfigError,
    ExporterConfig,
    ExporterSettings,
    UnexpectedLoadError,
    check_reload,
    load_config,
)
from exporter.exposition import render
from exporter.probes.icmp import ICMPEngine
from exporter.probes.snmp import SNMPWalker
from exporter.scheduler import Probes, Scheduler
from exporter.store import Store

__all__ = ["ExporterService", "MetricsCache", "ReloadOutcome"]

log = logging.getLogger("batiknet.exporter")


class MetricsCache:
    """The ``/metrics`` text, rendered off the event loop at most once a second and only after a change.

    Rendering 2,000 targets takes Python a few hundred milliseconds; doing it once per change of the results
    (not once per scrape) keeps scrapes fast, lets several Prometheus servers share one rendering, and
    keeps the probing loop free. A scrape sees results at most ``RENDER_EVERY`` seconds older than the
    store's.
    """

    RENDER_EVERY = 1.0

    def __init__(self, collector: BatiknetCollector, store: Store) -> None:
        self.collector = collector
        self.store = store
        self._version = -1
        self._body: bytes | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            version = self.store.version
            if version != self._version:
                loop = asyncio.get_running_loop()
                self._body = await loop.run_in_executor(None, self._render)
                self._version = version

    def _render(self) -> bytes:
        return render(self.collector.collect())

    async def body(self) -> bytes:
        if self._body is None:
            await self.refresh()
        assert self._body is not None
        return self._body

    async def keep_fresh(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a bug in rendering must not freeze /metrics for good
                log.exception("rendering /metrics failed")
                # Nor may the last good page stand in for the current state: the next scrape renders
                # again, and fails (500) while rendering fails, so Prometheus sees the exporter down.
                self._body = None
            await asyncio.sleep(self.RENDER_EVERY)


@dataclass(frozen=True)
class ReloadOutcome:
    error: ConfigError | None  # None: the new configuration runs
    message: str  # one line for the operator


class ExporterService:
    def __init__(self, config_path: Path, settings: ExporterSettings, config: ExporterConfig) -> None:
        self.config_path = config_path
        self.settings = settings
        self.config = config
        self.store = Store(config.inventory)
        self.metrics = MetricsCache(BatiknetCollector(self.store), self.store)
        self.probes: Probes | None = None
        self.scheduler: Scheduler | None = None
        self._prerender: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()

    def open_icmp(self) -> ICMPEngine:
        """Open the ICMP sockets now, so a missing permission stops the program at start."""
        engine = ICMPEngine(rate=self.settings.icmp_rate, mode=self.settings.icmp_mode)
        mode = engine.open()
        log.info("icmp socket open", extra={"mode": mode})
        return engine

    async def start(self, icmp: ICMPEngine) -> None:
        self.probes = Probes(
            icmp=icmp, snmp=SNMPWalker(), semaphore=asyncio.Semaphore(self.settings.concurrency)
        )
        self.scheduler = Scheduler(self.config, self.store, self.probes)
        self.scheduler.start()
        self._prerender = asyncio.create_task(self.metrics.keep_fresh())
        log.info("probing started", extra={"targets": self.config.target_count})

    async def stop(self) -> None:
        if self._prerender is not None:
            self._prerender.cancel()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.probes is not None:
            self.probes.icmp.close()
            self.probes.snmp.close()

    async def reload(self, allow_target_drop: bool = False) -> ReloadOutcome:
        """Load the configuration file again; on any failure keep running the old one and say why.

        A new inventory that would remove more than ``settings.max_target_drop`` of the running targets
        is a failure too, unless ``allow_target_drop``; so is a change of the listener's TLS settings.
        """
        async with self._reload_lock:
            loop = asyncio.get_running_loop()
            try:
                config = await loop.run_in_executor(None, load_config, self.config_path, self.settings)
                check_reload(self.config, config, allow_target_drop)
            except Exception as error:  # whatever it is, a bug included, the running configuration stays
                failure = _as_config_error(error)
                self.store.record_reload(False, time.time())
                log.error(
                    "reload failed, keeping the running configuration",
                    extra={"error": str(failure), "kind": type(failure).__name__},
                    exc_info=failure is not error,
                )
                return ReloadOutcome(failure, f"reload failed, the running configuration stays: {failure}")
            self.config = config
            if self.scheduler is not None:
                await self.scheduler.reconfigure(config)
            else:
                self.store.use_inventory(config.inventory)
            self.store.record_reload(True, time.time())
            log.info("configuration reloaded", extra={"targets": config.target_count})
            return ReloadOutcome(None, f"reloaded: {config.target_count} targets")


def _as_config_error(error: Exception) -> ConfigError:
    if isinstance(error, ConfigError):
        return error
    text = " ".join(str(error).split())
    return UnexpectedLoadError(f"{type(error).__name__}: {text} (unexpected: a bug in batiknet-exporter)")


def create(config_path: Path, settings: ExporterSettings) -> ExporterService:
    return ExporterService(config_path, settings, load_config(config_path, settings))
