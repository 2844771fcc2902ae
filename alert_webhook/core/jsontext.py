"""JSON text from outside, decoded without surprises: one function for every JSON body the tracker reads.

Python's decoder raises ``RecursionError`` (not a ``ValueError``) on deeply nested arrays, which would
become a 500, and it turns an escape such as ``"\\ud800"`` into a lone surrogate: half of a character,
which no database, page or e-mail can encode. Both are refused here as a ``ValueError``, the error every
caller already answers with a 400.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["decode"]

# A lone surrogate can only come from a \uD800–\uDFFF escape (UTF-8 text cannot hold one): only a text
# with such an escape is examined further.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def decode(text: str | bytes, *, surrogates: bool = False) -> Any:
    """The document of a JSON text; ``ValueError`` for invalid JSON, too deep a nesting, or a lone
    surrogate in any string (unless ``surrogates``: the caller checks each string it keeps, and names the
    field at fault)."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    if surrogates:
        return document
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holds a lone surrogate (half of a character)") from None
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None
    return document
