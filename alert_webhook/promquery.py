"""A thin client of Prometheus' HTTP API (instant and range queries); the queries themselves are built in
:mod:`alert_webhook.services.evidence`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

__all__ = ["PrometheusClient", "PrometheusError"]


class PrometheusError(RuntimeError):
    pass


@dataclass
class PrometheusClient:
    base_url: str
    timeout: float = 5.0

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            response = requests.get(self.base_url.rstrip("/") + path, params=params, timeout=self.timeout)
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise PrometheusError(f"Prometheus at {self.base_url} cannot be queried: {error}") from error
        if document.get("status") != "success":
            raise PrometheusError(
                f"Prometheus refused the query: {document.get('error', response.status_code)}"
            )
        return document["data"]["result"]

    def query(self, expression: str, at: datetime) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", {"query": expression, "time": at.timestamp()})

    def query_range(
        self, expression: str, start: datetime, end: datetime, step: float
    ) -> list[dict[str, Any]]:
        params = {"query": expression, "start": start.timestamp(), "end": end.timestamp(), "step": step}
        return self._get("/api/v1/query_range", params)
