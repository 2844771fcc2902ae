"""``batiknet-lab``: build, break and mend the simulated Batik.Net (a thin wrapper over lab.network.Lab)."""

from __future__ import annotations

import argparse
import json
import sys

from batiknet.inventory import InventoryError

from .network import DEFAULT_INVENTORY, DEFAULT_RUN_DIR, Lab, LabError, LabStatus, check_root
from .plan import PlanError


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        check_root()
        lab = Lab(args.inventory, args.run_dir)
        return _COMMANDS[args.command](lab, args)
    except (LabError, InventoryError, PlanError) as error:
        print(f"batiknet-lab: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batiknet-lab", description=__doc__)
    parser.add_argument("--inventory", default=str(DEFAULT_INVENTORY), help="inventory file (%(default)s)")
    parser.add_argument("--run-dir", default=str(DEFAULT_RUN_DIR), help="state, configs, logs (%(default)s)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("up", help="build the lab and wait until every target answers")
    commands.add_parser("down", help="remove everything the lab made (idempotent)")
    status = commands.add_parser("status", help="namespaces, links, processes, reachability")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    for name, help_text in (
        ("cut", "cut the target's link to its upstream (everything behind it goes too)"),
        ("restore", "mend a cut link"),
        ("dns-fail", "stop a DNS server answering"),
        ("dns-restore", "let a failed DNS server answer again"),
        ("dns-wrong", "serve a wrong address for the checked names"),
        ("dns-right", "serve the right addresses again"),
        ("snmp-fail", "stop a device's snmpd (it still answers ping)"),
        ("snmp-restore", "start a failed snmpd again"),
        ("reboot", "restart a device's snmpd: sysUpTime starts from zero"),
    ):
        commands.add_parser(name, help=help_text).add_argument("target")
    for name, help_text in (
        ("if-down", "set an interface of a device down"),
        ("if-up", "set an interface of a device up"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("device")
        sub.add_argument("ifname")
    return parser


def _up(lab: Lab, args: argparse.Namespace) -> int:
    lab.up()
    print(f"lab up: {len(lab.plan.nodes)} namespaces, every target answers; state in {lab.run_dir}")
    return 0


def _down(lab: Lab, args: argparse.Namespace) -> int:
    warnings = lab.down()
    for warning in warnings:
        print(f"batiknet-lab: warning: {warning}", file=sys.stderr)
    print("lab down" if not warnings else "lab down, with leftovers (see warnings)")
    return 1 if warnings else 0


def _status(lab: Lab, args: argparse.Namespace) -> int:
    status = lab.status()
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
    else:
        print(_render(status, lab))
    return 0 if status.up else 3


def _render(status: LabStatus, lab: Lab) -> str:
    if not any(status.namespaces.values()):
        return "lab is down"
    lines = [f"lab is {'up' if status.up else 'partly up'}"]
    sides = {link.target: link for link in status.links}
    for node in lab.plan.nodes:
        link = sides[node.target_id]
        reach = {True: "reachable", False: "UNREACHABLE"}.get(status.reachable.get(node.target_id), "?")
        lines.append(
            f"  {node.target_id:<14} {node.address:<15} {node.kind:<7} link {link.target_side}/"
            f"{link.upstream_side:<16} {reach}"
        )
    for process in status.processes:
        lines.append(
            f"  {process.program} for {process.target}: pid {process.pid} "
            f"{'running' if process.alive else 'DEAD'}"
        )
    for label, values in (
        ("cut", status.cut),
        ("dns failed", status.dns_failed),
        ("dns wrong", status.dns_wrong),
        ("snmp failed", status.snmp_failed),
    ):
        if values:
            lines.append(f"  {label}: {', '.join(values)}")
    for device, names in status.interfaces_down.items():
        lines.append(f"  interfaces down on {device}: {', '.join(names)}")
    return "\n".join(lines)


def _simple(method: str):
    def run(lab: Lab, args: argparse.Namespace) -> int:
        getattr(lab, method)(args.target)
        print(f"{args.command} {args.target}: done")
        return 0

    return run


def _interface(method: str):
    def run(lab: Lab, args: argparse.Namespace) -> int:
        getattr(lab, method)(args.device, args.ifname)
        print(f"{args.command} {args.device} {args.ifname}: done")
        return 0

    return run


_COMMANDS = {
    "up": _up,
    "down": _down,
    "status": _status,
    "cut": _simple("cut"),
    "restore": _simple("restore"),
    "dns-fail": _simple("dns_fail"),
    "dns-restore": _simple("dns_restore"),
    "dns-wrong": _simple("dns_wrong"),
    "dns-right": _simple("dns_right"),
    "snmp-fail": _simple("snmp_fail"),
    "snmp-restore": _simple("snmp_restore"),
    "reboot": _simple("reboot"),
    "if-down": _interface("interface_down"),
    "if-up": _interface("interface_up"),
}


if __name__ == "__main__":
    sys.exit(main())
