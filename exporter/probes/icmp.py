"""ICMP echo to many targets at once: one socket per address family, one receive loop.

Why not icmplib's own ``async_multiping``: it opens one raw socket per target, so every reply is copied to
every socket, buffers overflow and replies are lost, and the RTT it reports is the time the event loop
got round to the reply. Here one socket sends every echo of a round, paced like ``fping -i``; a single
reader matches replies by ICMP id and sequence; the receive time is the kernel's (``SO_TIMESTAMPNS``),
so a busy event loop does not inflate the RTT. icmplib still builds and parses the packets and opens the
sockets (datagram "ping" sockets where ``net.ipv4.ping_group_range`` allows, raw sockets otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import random
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import ICMPLibError

__all__ = ["EchoResult", "ICMPEngine", "ICMPUnavailable", "RoundResult"]

# Linux socket option numbers the socket module does not export.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
TIMESPEC = struct.Struct("@qq")
RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024
PAYLOAD = bytes(range(56))  # the size ping and fping send
MAX_READS_PER_WAKEUP = 2048  # let other tasks run between bursts of replies
SEQUENCE_SPACE = 65536


class ICMPUnavailable(RuntimeError):
    """Neither a datagram nor a raw ICMP socket can be opened."""


@dataclass(frozen=True)
class EchoResult:
    """The outcome of one round of echoes to one target."""

    target: str
    address: str
    sent: int
    rtts: tuple[float, ...]  # seconds, one per answered echo, in arrival order

    @property
    def received(self) -> int:
        return len(self.rtts)

    @property
    def up(self) -> bool:
        return bool(self.rtts)


@dataclass(frozen=True)
class RoundResult:
    results: tuple[EchoResult, ...]
    duration: float  # seconds from the first send to the end of the round
    receive_lag: float  # worst delay between the kernel receiving a reply and this process reading it


@dataclass
class _Round:
    """Book-keeping of one round in flight; replies land here from the reader."""

    rtts: list[list[float]]
    timeout_ns: int
    outstanding: int
    done: asyncio.Event
    receive_lag_ns: int = 0


@dataclass(frozen=True)
class _Pending:
    round: _Round
    index: int
    address: str
    sent_ns: int


class _Family:
    """One ICMP socket (IPv4 or IPv6) registered with the event loop."""

    def __init__(self, icmp_socket: ICMPv4Socket | ICMPv6Socket) -> None:
        self.icmp = icmp_socket
        self.sock: socket.socket = icmp_socket.sock
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        if icmp_socket.is_privileged:
            self.ident = random.randrange(1, 0x10000)
        else:
            # A ping socket's identifier is its local "port"; the kernel rewrites it and demultiplexes by it.
            self.sock.bind(("::" if self.sock.family == socket.AF_INET6 else "0.0.0.0", 0))
            self.ident = self.sock.getsockname()[1]

    @property
    def privileged(self) -> bool:
        return self.icmp.is_privileged


class ICMPEngine:
    """Sends rounds of echoes and collects the replies; several rounds may run at once.

    ``rate`` caps echoes per second over all rounds (fping's ``-i 0.1`` is 10,000 a second);
    ``mode`` is ``auto`` (datagram sockets when allowed, else raw), ``datagram`` or ``raw``.
    """

    def __init__(self, rate: float = 10_000.0, mode: str = "auto") -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if mode not in ("auto", "datagram", "raw"):
            raise ValueError(f"mode {mode!r} is not auto, datagram or raw")
        self.rate = rate
        self.mode = mode
        self._families: dict[int, _Family] = {}
        self._pending: dict[int, _Pending] = {}
        self._next_sequence = random.randrange(SEQUENCE_SPACE)
        self._next_send_ns = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- sockets -----------------------------------------------------------------------------------

    def open(self) -> str:
        """Open the IPv4 socket now, so a missing permission is reported at start. Returns the mode used."""
        return "raw" if self._family(4).privileged else "datagram"

    def _family(self, version: int) -> _Family:
        family = self._families.get(version)
        if family is not None:
            return family
        socket_class = ICMPv4Socket if version == 4 else ICMPv6Socket
        attempts = {"auto": (False, True), "datagram": (False,), "raw": (True,)}[self.mode]
        errors = []
        for privileged in attempts:
            try:
                family = _Family(socket_class(privileged=privileged))
                break
            except (ICMPLibError, OSError) as error:
                errors.append(f"{'raw' if privileged else 'datagram'}: {error}")
        else:
            raise ICMPUnavailable(
                f"cannot open an ICMPv{version} socket ({'; '.join(errors)}); allow datagram ICMP with "
                f"sysctl net.ipv4.ping_group_range='0 {2**31 - 1}' or run with CAP_NET_RAW (root)"
            )
        self._families[version] = family
        if self._loop is not None:
            self._loop.add_reader(family.sock.fileno(), self._read, family)
        return family

    def _attach(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        for family in self._families.values():
            loop.add_reader(family.sock.fileno(), self._read, family)

    def close(self) -> None:
        for family in self._families.values():
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(family.sock.fileno())
            family.icmp.close()
        self._families.clear()
        self._loop = None

    # --- one round ---------------------------------------------------------------------------------

    async def round(
        self,
        targets: Sequence[tuple[str, str]],
        count: int = 3,
        timeout: float = 1.0,
        spacing: float = 0.1,
    ) -> RoundResult:
        """Send ``count`` echoes to every ``(target id, address)``; echo k goes to every target before
        echo k+1 goes to any, and echoes to one target are at least ``spacing`` seconds apart.

        The round ends when every echo is answered or, for the last echo sent, ``timeout`` has passed.
        """
        self._attach()
        versions = [ipaddress.ip_address(address).version for _, address in targets]
        families = {v: self._family(v) for v in set(versions)}
        state = _Round(
            rtts=[[] for _ in targets],
            timeout_ns=int(timeout * 1e9),
            outstanding=0,
            done=asyncio.Event(),
        )
        sent = [0] * len(targets)
        own_sequences: list[int] = []
        started_ns = time.monotonic_ns()
        try:
            for sweep in range(count):
                sweep_started_ns = time.monotonic_ns()
                for index, (_, address) in enumerate(targets):
                    await self._pace()
                    sequence = self._allocate_sequence()
                    family = families[versions[index]]
                    packet = family.icmp._create_packet(family.ident, sequence, PAYLOAD)
                    sent_ns = time.monotonic_ns()
                    self._pending[sequence] = _Pending(state, index, address, sent_ns)
                    own_sequences.append(sequence)
                    state.outstanding += 1
                    sent[index] += 1
                    if not await self._send(family, packet, address):
                        del self._pending[sequence]
                        state.outstanding -= 1
                if sweep + 1 < count:
                    wait = spacing - (time.monotonic_ns() - sweep_started_ns) / 1e9
                    if wait > 0:
                        await asyncio.sleep(wait)
            if state.outstanding:
                # An earlier sweep, all answered, set it: the last sweep's replies are still to come.
                state.done.clear()
                # Not asyncio.wait_for: before Python 3.12 it returns instead of raising when the round
                # is cancelled in the tick its last reply arrives, and the exporter would not stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await state.done.wait()
        finally:
            for sequence in own_sequences:
                pending = self._pending.get(sequence)
                if pending is not None and pending.round is state:
                    del self._pending[sequence]
        duration = (time.monotonic_ns() - started_ns) / 1e9
        results = tuple(
            EchoResult(target=target, address=address, sent=sent[i], rtts=tuple(state.rtts[i]))
            for i, (target, address) in enumerate(targets)
        )
        return RoundResult(results=results, duration=duration, receive_lag=state.receive_lag_ns / 1e9)

    async def _pace(self) -> None:
        """Hold sends to ``rate`` per second; a late sender may burst for at most 10 ms to catch up."""
        now = time.monotonic_ns()
        self._next_send_ns = max(self._next_send_ns, now - 10_000_000)
        ahead = self._next_send_ns - now
        if ahead > 1_000_000:  # asyncio sleeps are only good to about a millisecond: send in small bursts
            await asyncio.sleep(ahead / 1e9)
        self._next_send_ns += int(1e9 / self.rate)

    def _allocate_sequence(self) -> int:
        for _ in range(SEQUENCE_SPACE):
            sequence = self._next_sequence
            self._next_sequence = (sequence + 1) % SEQUENCE_SPACE
            if sequence not in self._pending:
                return sequence
        raise RuntimeError("more than 65,536 echoes in flight")

    async def _send(self, family: _Family, packet: bytes, address: str) -> bool:
        """Send one echo; False when the kernel refuses it (no route, blackhole): it counts as lost."""
        for _ in range(100):
            try:
                family.sock.sendto(packet, (address, 0))
                return True
            except (BlockingIOError, InterruptedError):
                await asyncio.sleep(0.001)
            except OSError as error:
                if error.errno == errno.ENOBUFS:
                    await asyncio.sleep(0.001)
                    continue
                return False
        return False

    # --- the reader --------------------------------------------------------------------------------

    def _read(self, family: _Family) -> None:
        # CLOCK_REALTIME (the kernel stamp) to CLOCK_MONOTONIC (the send stamp): the offset is read at
        # every wake-up, so a clock step can only touch replies read in the same instant.
        offset_ns = time.time_ns() - time.monotonic_ns()
        sock = family.sock
        for _ in range(MAX_READS_PER_WAKEUP):
            try:
                packet, ancillary, _flags, source = sock.recvmsg(2048, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error queued on the socket; the echo simply counts as lost
            read_ns = time.monotonic_ns()
            reply = family.icmp._parse_reply(packet, source[0], 0)
            if reply is None or reply.type != family.icmp._ICMP_ECHO_REPLY:
                continue
            if reply.id != family.ident:
                continue  # another program's echo, seen because raw sockets get every ICMP packet
            pending = self._pending.get(reply.sequence)
            if pending is None or pending.address != source[0].split("%", 1)[0]:
                continue
            received_ns = read_ns
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
                    seconds, nanoseconds = TIMESPEC.unpack_from(data)
                    received_ns = seconds * 1_000_000_000 + nanoseconds - offset_ns
            rtt_ns = received_ns - pending.sent_ns
            if rtt_ns < 0:  # the realtime clock stepped under us: fall back to the read time
                rtt_ns = read_ns - pending.sent_ns
            del self._pending[reply.sequence]
            state = pending.round
            state.outstanding -= 1
            state.receive_lag_ns = max(state.receive_lag_ns, read_ns - received_ns)
            if rtt_ns <= state.timeout_ns:
                state.rtts[pending.index].append(rtt_ns / 1e9)
            if state.outstanding == 0:
                state.done.set()
