"""Reading a YAML file that a person wrote, as plain data, within fixed bounds.

The inventory (and the web configuration of the exporter) are edited by hand and reloaded into running
services, so one careless or hostile file must never crash, hang or exhaust a program. :func:`load_yaml_file`
returns plain data (dicts, lists, strings, numbers, booleans, None) or raises :class:`YAMLFileError`, one
line naming the file and, where it has one, the place. It refuses:

- anything but a regular file (a FIFO would block the reader), and files over ``MAX_BYTES``;
- bytes that are not UTF-8;
- nesting deeper than ``MAX_DEPTH``, and more than ``MAX_VALUES`` values, counted with every alias
  expanded (an alias bomb of one kilobyte otherwise expands to hundreds of millions), and aliases to
  a value that contains them;
- duplicate keys (YAML says a mapping's keys are unique; PyYAML keeps the last silently), and the
  merge key ``<<`` (YAML 1.1 only; it makes duplicates legitimate and copies pairs exponentially);
- integers outside 64 bits (Python's int() refuses some of them with a ValueError), numbers that are
  not finite, and dates and explicit tags (``!!binary``, ``!!set``, ``!custom``): no field takes them;
- strings with a lone surrogate (not encodable: it would stop the exposition of metrics) or a control
  character (newline and tab included, and the Unicode line separators and bidirectional overrides):
  every string is one line of text that displays as what it is.

Aliases stay allowed within those bounds: they are how a file shares one value (SNMP credentials, probe
settings) between entries.

The scanning and parsing (characters to events) run in libyaml, in C, which PyYAML's wheels carry; the
composing (events to nodes, where the bounds are counted) and the construction (nodes to plain data, where
the values are checked) run in PyYAML's Python classes with the overrides below. A file libyaml refuses
is read again by PyYAML's own parser, in Python, which words the refusal as it always has; a PyYAML built
without libyaml parses every file that way, some four times slower, refusing the same files.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser, ParserError
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver
from yaml.scanner import Scanner, ScannerError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "YAMLFileError", "load_yaml_file"]

MAX_BYTES = 2 * 1024 * 1024  # about 7,500 targets at 275 bytes each
MAX_DEPTH = 32  # the inventory nests 6 deep
MAX_VALUES = 200_000  # about 8,500 targets at 23 values each; PyYAML needs some 600 bytes per value
INT64 = range(-(2**63), 2**64)  # signed and unsigned 64-bit
LONGEST_INTEGER = 70  # characters: 0b and 64 binary digits, with room for signs and underscores
# C0 and C1 controls, the Unicode line and paragraph separators, the bidirectional embeddings, overrides
# and isolates (they make a name display as another), and the surrogates.
FORBIDDEN_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
CORE_TAG = "tag:yaml.org,2002:"


class YAMLFileError(ValueError):
    """The file cannot be used as plain YAML data; ``str()`` is one line for an operator."""


def load_yaml_file(path: str | os.PathLike[str]) -> Any:
    """The file's single document as plain data, or :class:`YAMLFileError` saying why not."""
    path = Path(path)
    text = _decode(path.name, _read(path))
    try:
        if LIBYAML_LOADER is not None:
            try:
                return _load(LIBYAML_LOADER, text, path.name)
            except (ReaderError, ScannerError, ParserError):
                # Not YAML to libyaml: PyYAML's parser reads it again to say why, as it always has.
                # libyaml words its refusals otherwise, and meets a lone surrogate escape, or nesting
                # past its own bound of 1,000 levels, before the checks below can name them.
                pass
        return _load(_PythonLoader, text, path.name)
    except yaml.MarkedYAMLError as error:
        raise YAMLFileError(f"{path.name}: not valid YAML: {_marked(error)}") from None
    except yaml.YAMLError as error:  # the reader's: a character YAML does not allow in a file
        raise YAMLFileError(f"{path.name}: not valid YAML: {' '.join(str(error).split())}") from None


def _load(loader_class: Callable[[str, str], _BoundedLoader], text: str, name: str) -> Any:
    loader = loader_class(text, name)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _read(path: Path) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise YAMLFileError(f"{path}: cannot read: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise YAMLFileError(f"{path.name}: not a regular file")
        try:
            data = stream.read(MAX_BYTES + 1)
        except OSError as error:
            raise YAMLFileError(f"{path}: cannot read: {error.strerror}") from None
    if len(data) > MAX_BYTES:
        raise YAMLFileError(f"{path.name}: larger than {MAX_BYTES // 1024 // 1024} MiB")
    return data


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        raise YAMLFileError(
            f"{name}: not UTF-8: byte 0x{data[error.start]:02x} at line {line}, "
            f"column {error.start - line_start + 1}"
        ) from None


def _place(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"


def _marked(error: yaml.MarkedYAMLError) -> str:
    context = f"{error.context}: " if error.context else ""
    return f"{_place(error.problem_mark or error.context_mark)}: {context}{error.problem}"


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(CORE_TAG) if tag.startswith(CORE_TAG) else tag


class _BoundedLoader(Composer, SafeConstructor, Resolver):
    """PyYAML's safe loader, bounded while it composes, constructing only plain data; the events it
    composes come from the parser a subclass adds (libyaml's or PyYAML's own)."""

    yaml_constructors: dict[str | None, Any] = {}  # noqa: RUF012  (PyYAML's own class-level registry)

    def __init__(self, name: str) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.name = name
        self.depth = 0
        self.composed = 0  # distinct values so far: bounds memory while a long list is still open
        self.expanded: dict[int, int] = {}  # id(node) -> values under it, aliases expanded, once complete

    def refuse(self, node_or_mark: Node | yaml.Mark, problem: str) -> YAMLFileError:
        mark = node_or_mark.start_mark if isinstance(node_or_mark, Node) else node_or_mark
        return YAMLFileError(f"{self.name}: {_place(mark)}: {problem}")

    # --- composing: the node graph, aliases shared, never expanded -------------------------------------

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self.expanded:
                raise self.refuse(
                    event.start_mark, f"alias *{event.anchor} refers to a value that contains it"
                )
            return node
        if self.depth >= MAX_DEPTH:
            raise self.refuse(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        self.composed += 1
        if self.composed > MAX_VALUES:
            raise self.refuse(event.start_mark, f"more than {MAX_VALUES} values")
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        self.expanded[id(node)] = size = 1 + sum(self.expanded[id(child)] for child in _children(node))
        if size > MAX_VALUES:
            raise self.refuse(node, f"more than {MAX_VALUES} values with its aliases expanded")
        return node

    # --- constructing: plain data only ---------------------------------------------------------------

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):  # an explicit !!map tag on something else
            raise self.refuse(node, f"a {node.id} is not a mapping")
        mapping: dict[Any, Any] = {}
        first_seen: dict[Any, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == CORE_TAG + "merge":
                raise self.refuse(
                    key_node, "the merge key << is not accepted: repeat the fields, or alias a whole value"
                )
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key_node, ScalarNode) or isinstance(key, dict | list):  # `!!map :` too
                raise self.refuse(key_node, "a key must be a plain value, not a list or a mapping")
            if key in first_seen:
                raise self.refuse(key_node, f"duplicate key {key!r} (first at {_place(first_seen[key])})")
            first_seen[key] = key_node.start_mark
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_checked_bool(self, node: ScalarNode) -> bool:
        if self.construct_scalar(node).lower() not in self.bool_values:  # an explicit !!bool tag
            raise self.refuse(node, f"{node.value!r} is not a boolean")
        return self.construct_yaml_bool(node)

    def construct_bounded_int(self, node: ScalarNode) -> int:
        if len(node.value) > LONGEST_INTEGER:
            raise self.refuse(node, "integer out of range (more than 64 bits)")
        try:
            number = self.construct_yaml_int(node)
        except (ValueError, IndexError):  # an explicit !!int tag on something else, or on nothing
            raise self.refuse(node, f"{node.value!r} is not an integer") from None
        if number not in INT64:
            raise self.refuse(node, "integer out of range (more than 64 bits)")
        return number

    def construct_finite_float(self, node: ScalarNode) -> float:
        try:
            number = self.construct_yaml_float(node)
        except (ValueError, IndexError):  # an explicit !!float tag on something else, or on nothing
            raise self.refuse(node, f"{node.value!r} is not a number") from None
        if not math.isfinite(number):
            raise self.refuse(node, f"{node.value!r} is not a finite number")
        return number

    def construct_printable_str(self, node: ScalarNode) -> str:
        text = self.construct_yaml_str(node)
        forbidden = FORBIDDEN_CHARACTER.search(text)
        if forbidden:
            character = ord(forbidden.group())
            kind = "a lone surrogate" if 0xD800 <= character <= 0xDFFF else "a control character"
            raise self.refuse(
                node, f"text contains {kind} U+{character:04X}: only one line of printable text is accepted"
            )
        return text

    def construct_refused(self, node: Node) -> None:
        if node.tag == CORE_TAG + "timestamp":
            raise self.refuse(node, f"{node.value!r} would be read as a date: quote it if it is text")
        raise self.refuse(
            node,
            f"tag {_short_tag(node.tag)} is not accepted (plain strings, numbers, booleans, null, "
            "lists and mappings only)",
        )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    return []


for _tag, _constructor in (
    ("null", SafeConstructor.construct_yaml_null),
    ("bool", _BoundedLoader.construct_checked_bool),
    ("int", _BoundedLoader.construct_bounded_int),
    ("float", _BoundedLoader.construct_finite_float),
    ("str", _BoundedLoader.construct_printable_str),
    ("seq", SafeConstructor.construct_yaml_seq),
    ("map", SafeConstructor.construct_yaml_map),
):
    _BoundedLoader.add_constructor(CORE_TAG + _tag, _constructor)
_BoundedLoader.add_constructor(None, _BoundedLoader.construct_refused)


class _PythonLoader(_BoundedLoader, Reader, Scanner, Parser):
    """The bounded loader on PyYAML's own reader, scanner and parser, in Python."""

    def __init__(self, text: str, name: str) -> None:
        Reader.__init__(self, text)  # refuses the characters YAML does not allow in a file
        Scanner.__init__(self)
        Parser.__init__(self)
        super().__init__(name)

    def scan_flow_scalar_non_spaces(self, double: bool, start_mark: yaml.Mark) -> list[str]:
        try:
            return super().scan_flow_scalar_non_spaces(double, start_mark)
        except ValueError:  # PyYAML's chr() of an escape such as \U00110000, past the last code point
            raise ScannerError(
                "while scanning a double-quoted scalar",
                start_mark,
                "found an escape beyond U+10FFFF, the last Unicode character",
                self.get_mark(),
            ) from None


try:  # libyaml, which PyYAML's wheels carry
    from yaml._yaml import CParser
except ImportError:  # a PyYAML built without libyaml
    LIBYAML_LOADER: Callable[[str, str], _BoundedLoader] | None = None
else:

    class _LibyamlLoader(_BoundedLoader, CParser):
        """The bounded loader on libyaml's scanner and parser (PyYAML's CParser, whose events carry the
        same marks as PyYAML's own)."""

        def __init__(self, text: str, name: str) -> None:
            CParser.__init__(self, text)
            super().__init__(name)

    LIBYAML_LOADER = _LibyamlLoader
