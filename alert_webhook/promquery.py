"""A thin client of Prometheus' HTTP API (instant and range queries), and the one way a value goes into a
query: :func:`quote` (and :func:`any_of`, which uses it). The queries themselves are built in
:mod:`alert_webhook.services.evidence`.

A value in a query may come from outside: a case's target is an alert's label, which whoever can make
Prometheus or Alertmanager carry a label chooses. So no value is ever pasted into a query; each is
written as a PromQL string literal that means exactly that value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

__all__ = ["PrometheusClient", "PrometheusError", "any_of", "quote"]


def quote(value: str) -> str:
    """``value`` as a PromQL string literal (double-quoted) that means exactly ``value``.

    PromQL reads a string as Go does: a backslash starts an escape, a double quote ends the string and a
    raw newline is an error. Its lexer also refuses U+FFFD, which it cannot tell from broken UTF-8, and a
    character Unicode does not have (a lone surrogate, which JSON can carry) has no escape it accepts
    (the query is then refused, and the caller reports Prometheus' error). So backslash and quote are
    escaped with a backslash, and newline, U+FFFD and every character that is not printable (controls,
    separators, formatting and unassigned code points) as ``\\uXXXX``/``\\UXXXXXXXX``; the rest is
    written as it is.
    """
    written = []
    for character in value:
        if character in ('"', "\\"):
            written.append("\\" + character)
        elif character == "\n":
            written.append("\\n")
        elif character == "\ufffd" or not character.isprintable():
            code = ord(character)
            written.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            written.append(character)
    return '"' + "".join(written) + '"'


def any_of(values: Iterable[str]) -> str:
    """For ``=~``: a PromQL string literal of a regular expression matching exactly one of ``values``.

    ``re.escape`` puts a backslash before every character a regular expression gives a meaning to, and
    only before ASCII characters that are not letters or digits; Prometheus' RE2 reads such a pair as the
    character itself. Prometheus anchors the expression at both ends.
    """
    return quote("|".join(re.escape(value) for value in values) or "^$")


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
