"""Property-based fuzz of the inventory loader (hypothesis, bounded to seconds): whatever the bytes, it
returns an inventory or raises its own one-line error; and the YAML it accepts never exceeds its bounds,
so no input can make a program that loads it crash, hang or run out of memory."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import event, given

from batiknet.inventory import Inventory, InventoryError, load_inventory
from batiknet.yamlfile import MAX_DEPTH, MAX_VALUES, YAMLFileError, load_yaml_file
from tests.fuzzing import FUZZ, inventory_files

pytestmark = pytest.mark.usefixtures("yaml_parser")  # the same guarantees with either YAML parser


def expanded_size(value: object, limit: int) -> tuple[int, int]:
    """Values and depth of loaded data with shared parts counted each time, stopping past ``limit``."""
    count, deepest, pending = 0, 0, [(value, 1)]
    while pending and count <= limit:
        item, depth = pending.pop()
        count, deepest = count + 1, max(deepest, depth)
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            pending.extend((child, depth + 1) for child in children)
    return count, deepest


@FUZZ
@given(content=inventory_files())
def test_the_loader_returns_an_inventory_or_its_own_one_line_error(tmp_path, content):
    path = tmp_path / "inventory.yml"
    path.write_bytes(content)
    try:
        inventory = load_inventory(path)
    except InventoryError as error:  # any other exception fails the test
        message = str(error)
        event("refused")
        assert message.startswith(f"{path.name}: ") or message.startswith(f"{path}: ")
        assert "\n" not in message and len(message) < 600, message
        return
    event("accepted")
    assert isinstance(inventory, Inventory)
    assert any(True for _ in inventory.targets())
    for target in inventory.targets():
        target.name.encode("utf-8")  # every accepted name can be exposed
        assert not {unicodedata.category(c) for c in target.name} & {"Cc", "Cs", "Zl", "Zp"}, target.name


@FUZZ
@given(content=inventory_files())
def test_accepted_yaml_stays_within_the_bounds(tmp_path, content):
    path = tmp_path / "any.yml"
    path.write_bytes(content)
    try:
        data = load_yaml_file(path)
    except YAMLFileError:
        return
    values, depth = expanded_size(data, MAX_VALUES)
    # the document's values, counted with aliases expanded (dict keys count as values, as in the loader)
    assert values <= MAX_VALUES
    assert depth <= MAX_DEPTH
