"""SNMP strings made fit for a Prometheus label, and names made unique within a device.

Agents send DisplayStrings as they please: Windows pads ifDescr with a NUL, some firmware sends Latin-1 or
GB2312, some leave control characters in. A label (and from it an alert text, a case title, a PostgreSQL
column) never carries NUL, a control character or invalid UTF-8.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

__all__ = ["label_text", "unique_names"]

Index = tuple[int, ...]
Key = TypeVar("Key", bound=Hashable)

CONTROL = "\x00-\x1f\x7f-\x9f"  # C0, DEL and C1
PADDING = re.compile(f"^[\\s{CONTROL}]+|[\\s{CONTROL}]+$")
INNER_CONTROL = re.compile(f"[{CONTROL}]")
REPLACEMENT = "\ufffd"  # what invalid UTF-8 decodes to as well: one sign for "unreadable here"


@functools.lru_cache(maxsize=65536)  # the same names come back every walk
def label_text(value: object) -> str:
    """An OCTET STRING (or anything) as label text: UTF-8 decoded, padding and surrounding white space
    removed, every byte that is not valid UTF-8 and every control character left inside replaced by U+FFFD."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return INNER_CONTROL.sub(REPLACEMENT, PADDING.sub("", text))


def unique_names(names: Mapping[Key, str], index: Callable[[Key], Index]) -> dict[Key, str]:
    """Row names with ``#index`` appended to each name more than one row has, so that every series of the
    device is distinct; the suffix is the row's own index, so a name stays the same from walk to walk."""
    seen = Counter(names.values())
    return {
        key: f"{name}#{'.'.join(map(str, index(key)))}" if seen[name] > 1 else name
        for key, name in names.items()
    }
