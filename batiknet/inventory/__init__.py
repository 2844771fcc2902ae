"""The Batik.Net inventory: the single source of truth about the network.

One YAML file describes the OPDs (government offices), the core devices, the DNS servers and the ISP
uplinks, and how they hang together (each entry names its ``upstream``). The exporter, the case tracker
and the lab all read it through :func:`load_inventory`, which validates everything before any program
starts: every error names the file, the entry and the field. The file is read by
:func:`batiknet.yamlfile.load_yaml_file`, which refuses what is not plain data within fixed bounds (alias
bombs, deep nesting, duplicate keys, integers beyond 64 bits, control characters ...), so a careless or
hostile file is one clean :class:`InventoryError` in every program, never a crash or a hang.

The package: :mod:`~batiknet.inventory.model` (the frozen dataclasses and the words an inventory may
use), :mod:`~batiknet.inventory.parse` (a document to the model, with its error messages) and, here,
the loading of a file. Import the names from ``batiknet.inventory``.
"""

from __future__ import annotations

import os
from pathlib import Path

from batiknet.inventory.model import (
    OPD,
    SNMP_PROFILES,
    Contact,
    Device,
    DNSCheck,
    DNSServer,
    InterfaceSelection,
    Inventory,
    ISPUplink,
    ProbeSettings,
    SecretRef,
    SecretUnavailable,
    SNMPCredentials,
    Target,
)
from batiknet.inventory.parse import InventoryError, parse_duration, parse_inventory
from batiknet.yamlfile import YAMLFileError, load_yaml_file

__all__ = [
    "OPD",
    "SNMP_PROFILES",
    "Contact",
    "DNSCheck",
    "DNSServer",
    "Device",
    "ISPUplink",
    "InterfaceSelection",
    "Inventory",
    "InventoryError",
    "ProbeSettings",
    "SNMPCredentials",
    "SecretRef",
    "SecretUnavailable",
    "Target",
    "load_inventory",
    "parse_duration",
    "parse_inventory",
]


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read and validate an inventory file; raise :class:`InventoryError` naming file, entry and field."""
    path = Path(path)
    try:
        document = load_yaml_file(path)
    except YAMLFileError as error:
        raise InventoryError(str(error)) from None
    return parse_inventory(document, path)
