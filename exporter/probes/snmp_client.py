"""SNMP requests over UDP for the walker: v2c, and v3 with the user-based security model (RFC 3414).

One socket per address family serves every device; an answer finds its request by request id (v2c) or
message id (v3), and only when it comes from the address the request went to. Messages are written and read
by :mod:`exporter.probes.snmp_codec`. For v3, pysnmp's USM services do the cryptography: turning passwords
into localized keys, the HMAC of a message and its AES or DES encryption. This module keeps what each
agent's engine told us (its id, boots and time) and the keys localized to it, and reads the agent's reports:
an unknown engine id or a stale time is learned and the request sent once more; a wrong user, digest or
privacy password is an ``auth_error``.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import random
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pyasn1.type.univ import OctetString
from pysnmp.error import PySnmpError
from pysnmp.proto.error import StatusInformation
from pysnmp.proto.secmod.rfc3414.service import SnmpUSMSecurityModel

from exporter.probes import snmp_codec as codec

__all__ = ["AUTH_PROTOCOLS", "PRIV_PROTOCOLS", "SNMPAuth", "SNMPClient", "SNMPFailure"]

Oid = tuple[int, ...]
VarBinds = list[tuple[Oid, object]]

# usmHMAC*AuthProtocol and usm*PrivProtocol identities (RFC 3414, RFC 3826, RFC 7860, and the AES-192/256
# key extension of draft-blumenthal-aes-usm that Cisco, MikroTik and net-snmp use).
AUTH_PROTOCOLS: dict[str, Oid] = {
    "MD5": (1, 3, 6, 1, 6, 3, 10, 1, 1, 2),
    "SHA": (1, 3, 6, 1, 6, 3, 10, 1, 1, 3),
    "SHA224": (1, 3, 6, 1, 6, 3, 10, 1, 1, 4),
    "SHA256": (1, 3, 6, 1, 6, 3, 10, 1, 1, 5),
    "SHA384": (1, 3, 6, 1, 6, 3, 10, 1, 1, 6),
    "SHA512": (1, 3, 6, 1, 6, 3, 10, 1, 1, 7),
}
PRIV_PROTOCOLS: dict[str, Oid] = {
    "DES": (1, 3, 6, 1, 6, 3, 10, 1, 2, 2),
    "AES": (1, 3, 6, 1, 6, 3, 10, 1, 2, 4),
    "AES192": (1, 3, 6, 1, 4, 1, 9, 12, 6, 1, 1),
    "AES256": (1, 3, 6, 1, 4, 1, 9, 12, 6, 1, 2),
}
AUTH_SERVICES = SnmpUSMSecurityModel.AUTH_SERVICES
PRIV_SERVICES = SnmpUSMSecurityModel.PRIV_SERVICES

# usmStats counters an agent reports a refused v3 request with (RFC 3414, section 5).
USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)
UNSUPPORTED_SECURITY_LEVEL = (*USM_STATS, 1, 0)
NOT_IN_TIME_WINDOW = (*USM_STATS, 2, 0)
UNKNOWN_USER_NAME = (*USM_STATS, 3, 0)
UNKNOWN_ENGINE_ID = (*USM_STATS, 4, 0)
WRONG_DIGEST = (*USM_STATS, 5, 0)
DECRYPTION_ERROR = (*USM_STATS, 6, 0)
AUTH_REPORTS = {
    UNSUPPORTED_SECURITY_LEVEL: "the agent does not allow this user's security level",
    UNKNOWN_USER_NAME: "the agent knows no such user",
    WRONG_DIGEST: "the agent rejected the authentication digest (wrong password or protocol)",
    DECRYPTION_ERROR: "the agent could not decrypt the request (wrong privacy password or protocol)",
}
RESYNC_REPORTS = (NOT_IN_TIME_WINDOW, UNKNOWN_ENGINE_ID)

AUTHENTICATED, ENCRYPTED, REPORTABLE = 0x01, 0x02, 0x04
MAX_MESSAGE_SIZE = 65507  # the largest UDP payload over IPv4
MAX_REQUEST_ID = 2**31 - 1


@dataclass(frozen=True)
class SNMPAuth:
    """Resolved credentials of one device (secrets read from their references)."""

    version: str  # "2c" or "3"
    port: int = 161
    community: str | None = None
    username: str | None = None
    auth_protocol: str | None = None
    auth_password: str | None = None
    priv_protocol: str | None = None
    priv_password: str | None = None

    @property
    def flags(self) -> int:
        """msgFlags of a v3 request with these credentials."""
        return (
            REPORTABLE
            | (AUTHENTICATED if self.auth_protocol else 0)
            | (ENCRYPTED if self.auth_protocol and self.priv_protocol else 0)
        )


class SNMPFailure(Exception):
    """A request that got no usable answer; ``reason`` is ``timeout``, ``auth_error`` or ``error``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass
class _Engine:
    """What an agent's SNMP engine told us about itself, and the keys localized to its id."""

    engine_id: bytes
    boots: int
    time: int
    learned_at: float  # time.monotonic() when ``time`` was current
    auth_key: OctetString | None
    priv_key: OctetString | None

    def now(self) -> int:
        return self.time + int(time.monotonic() - self.learned_at)

    def learn(self, parameters: codec.SecurityParameters) -> None:
        self.boots, self.time, self.learned_at = (
            parameters.engine_boots,
            parameters.engine_time,
            time.monotonic(),
        )


@functools.lru_cache(maxsize=256)
def _master_keys(auth: SNMPAuth) -> tuple[OctetString | None, OctetString | None]:
    """The passwords hashed into master keys (a megabyte of hashing each, so done once per password)."""
    if not auth.auth_protocol:
        return None, None
    protocol = AUTH_PROTOCOLS[auth.auth_protocol]
    auth_key = AUTH_SERVICES[protocol].hash_passphrase(OctetString(auth.auth_password.encode()))
    if not auth.priv_protocol:
        return auth_key, None
    priv_key = PRIV_SERVICES[PRIV_PROTOCOLS[auth.priv_protocol]].hash_passphrase(
        protocol, OctetString(auth.priv_password.encode())
    )
    return auth_key, priv_key


def _localized_keys(auth: SNMPAuth, engine_id: bytes) -> tuple[OctetString | None, OctetString | None]:
    master_auth, master_priv = _master_keys(auth)
    if master_auth is None:
        return None, None
    protocol = AUTH_PROTOCOLS[auth.auth_protocol]
    auth_key = AUTH_SERVICES[protocol].localize_key(master_auth, OctetString(engine_id))
    if master_priv is None:
        return auth_key, None
    priv_key = PRIV_SERVICES[PRIV_PROTOCOLS[auth.priv_protocol]].localize_key(
        protocol, master_priv, OctetString(engine_id)
    )
    return auth_key, OctetString(priv_key)


def _reported(pdu: codec.Pdu) -> Oid:
    """The usmStats counter a report PDU names (empty for any other PDU)."""
    return pdu.varbinds[0][0] if pdu.tag == codec.REPORT and pdu.varbinds else ()


class _Endpoint(asyncio.DatagramProtocol):
    """Hands each datagram to the request waiting for it."""

    def __init__(self, client: SNMPClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, address: tuple) -> None:
        self.client._received(data, address[0])


class SNMPClient:
    """GET and GETBULK requests to any number of agents at once."""

    def __init__(self) -> None:
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._pending: dict[int, tuple[str, asyncio.Future]] = {}
        self._last_id = random.randrange(1, MAX_REQUEST_ID)
        self._engines: dict[tuple[str, int, SNMPAuth], _Engine] = {}

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()

    def next_id(self) -> int:
        """A request id (and v3 message id), 1 to 2³¹-1, the next after the last and wrapping round."""
        self._last_id = self._last_id % MAX_REQUEST_ID + 1
        return self._last_id

    def forget(self, keep_addresses: Sequence[str]) -> None:
        """Drop the engines of agents no longer probed."""
        kept = set(keep_addresses)
        for key in [key for key in self._engines if key[0] not in kept]:
            del self._engines[key]

    async def get_bulk(
        self,
        address: str,
        auth: SNMPAuth,
        oids: Sequence[Oid],
        non_repeaters: int,
        repetitions: int,
        timeout: float,
        retries: int,
        context: bytes = b"",
    ) -> VarBinds:
        """One GETBULK; the varbinds of the response, or :class:`SNMPFailure`. ``context`` is the v3
        contextName (an agent's VLAN or VRF view); v2c has none (Cisco puts it in the community)."""
        exchange = _Exchange(self, address, auth, timeout, retries)
        if auth.version == "2c":
            pdu = await exchange.v2c(codec.GETBULK, oids, non_repeaters, repetitions)
        else:
            pdu = await exchange.v3(codec.GETBULK, oids, non_repeaters, repetitions, context)
        if pdu.error_status:
            raise SNMPFailure(
                "error", f"the agent answered error-status {pdu.error_status} at {pdu.error_index}"
            )
        return list(pdu.varbinds)

    async def _send(self, address: str, port: int, key: int, message: bytes, timeout: float, retries: int):
        """Send ``message`` up to ``retries + 1`` times; the answer with id ``key`` from ``address``."""
        loop = asyncio.get_running_loop()
        ip = ipaddress.ip_address(address)
        address = str(ip)  # the form the socket gives an answer's source in
        family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
        transport = self._transports.get(family)
        if transport is None or transport.is_closing():
            transport, _ = await loop.create_datagram_endpoint(lambda: _Endpoint(self), family=family)
            self._transports[family] = transport
        for _ in range(retries + 1):
            future = loop.create_future()
            self._pending[key] = (address, future)
            transport.sendto(message, (address, port))
            try:
                async with asyncio.timeout(timeout):
                    return await future
            except TimeoutError:
                continue
            finally:
                self._pending.pop(key, None)
        raise SNMPFailure("timeout", f"no answer from {address}:{port} after {retries + 1} × {timeout:g} s")

    def _received(self, data: bytes, source: str) -> None:
        try:
            if codec.message_version(data) == codec.V3:
                message: codec.V3Message | codec.Pdu = codec.decode_v3_message(data)
                key = message.message_id
            else:
                message = codec.decode_v2c_message(data)[1]
                key = message.request_id
        except codec.MalformedMessage:
            return  # not an answer to anything we sent: dropped, as an agent drops what it cannot parse
        waiting = self._pending.get(key)
        if waiting is not None and waiting[0] == source and not waiting[1].done():
            waiting[1].set_result((data, message))


class _Exchange:
    """One request to one agent, with the v3 engine discovery and time synchronization it may need."""

    def __init__(self, client: SNMPClient, address: str, auth: SNMPAuth, timeout: float, retries: int):
        self.client = client
        self.address = address
        self.auth = auth
        self.timeout = timeout
        self.retries = retries

    async def v2c(self, tag: int, oids: Sequence[Oid], non_repeaters: int, repetitions: int) -> codec.Pdu:
        request_id = self.client.next_id()
        pdu = codec.encode_pdu(codec.request_pdu(tag, request_id, oids, non_repeaters, repetitions))
        message = codec.encode_v2c_message(self.auth.community.encode(), pdu)
        _, pdu = await self.client._send(
            self.address, self.auth.port, request_id, message, self.timeout, self.retries
        )
        return pdu

    async def v3(
        self, tag: int, oids: Sequence[Oid], non_repeaters: int, repetitions: int, context: bytes
    ) -> codec.Pdu:
        key = (self.address, self.auth.port, self.auth)
        engine = self.client._engines.get(key)
        if engine is None:
            engine = self.client._engines[key] = await self._discover()
        try:
            pdu = await self._v3_request(engine, tag, oids, non_repeaters, repetitions, context)
        except SNMPFailure as failure:
            if failure.reason == "timeout" and self.auth.flags & ENCRYPTED:
                # An agent that cannot decrypt a request just drops it (RFC 3826 ciphertext decrypts to
                # something, only not to a PDU), so a wrong privacy key looks exactly like a lost answer.
                raise SNMPFailure(
                    "timeout", f"{failure}; the agent answered discovery, so check the privacy password"
                ) from failure
            raise
        if _reported(pdu) in RESYNC_REPORTS:  # the agent rebooted or was replaced: learn it, try again
            if _reported(pdu) == UNKNOWN_ENGINE_ID:
                engine = self.client._engines[key] = await self._discover()
            pdu = await self._v3_request(engine, tag, oids, non_repeaters, repetitions, context)
        if pdu.tag == codec.RESPONSE:
            return pdu
        reported = _reported(pdu)
        if reported in AUTH_REPORTS:
            raise SNMPFailure("auth_error", AUTH_REPORTS[reported])
        raise SNMPFailure("error", f"the agent reported {'.'.join(map(str, reported)) or 'nothing'}")

    async def _discover(self) -> _Engine:
        """Ask the agent's engine id, boots and time with an unauthenticated, empty GET (RFC 3414, 4)."""
        request_id = self.client.next_id()
        scoped = codec.encode_scoped_pdu(
            b"", b"", codec.encode_pdu(codec.request_pdu(codec.GET, request_id, ()))
        )
        message = codec.encode_v3_message(
            codec.V3Message(
                request_id,
                MAX_MESSAGE_SIZE,
                REPORTABLE,
                codec.encode_security_parameters(codec.SecurityParameters()),
                scoped,
            )
        )
        _, answer = await self.client._send(
            self.address, self.auth.port, request_id, message, self.timeout, self.retries
        )
        parameters = codec.decode_security_parameters(answer.security_parameters)
        if not parameters.engine_id:
            raise SNMPFailure("error", "the agent did not tell its engine id")
        auth_key, priv_key = _localized_keys(self.auth, parameters.engine_id)
        return _Engine(
            parameters.engine_id,
            parameters.engine_boots,
            parameters.engine_time,
            time.monotonic(),
            auth_key,
            priv_key,
        )

    async def _v3_request(
        self,
        engine: _Engine,
        tag: int,
        oids: Sequence[Oid],
        non_repeaters: int,
        repetitions: int,
        context: bytes,
    ) -> codec.Pdu:
        auth = self.auth
        request_id = self.client.next_id()
        boots, engine_time = engine.boots, engine.now()
        scoped = codec.encode_scoped_pdu(
            engine.engine_id,
            context,
            codec.encode_pdu(codec.request_pdu(tag, request_id, oids, non_repeaters, repetitions)),
        )
        salt = b""
        try:
            if auth.flags & ENCRYPTED:
                service = PRIV_SERVICES[PRIV_PROTOCOLS[auth.priv_protocol]]
                ciphertext, salt_octets = service.encrypt_data(
                    engine.priv_key, (boots, engine_time, None), scoped
                )
                scoped, salt = codec.encrypted_scoped_pdu(bytes(ciphertext)), bytes(salt_octets)
            auth_service = AUTH_SERVICES[AUTH_PROTOCOLS[auth.auth_protocol]] if auth.auth_protocol else None
            parameters = codec.SecurityParameters(
                engine.engine_id,
                boots,
                engine_time,
                auth.username.encode(),
                bytes(auth_service.digest_length) if auth_service else b"",
                salt,
            )
            message = codec.encode_v3_message(
                codec.V3Message(
                    request_id,
                    MAX_MESSAGE_SIZE,
                    auth.flags,
                    codec.encode_security_parameters(parameters),
                    scoped,
                )
            )
            if auth_service:
                message = auth_service.authenticate_outgoing_message(engine.auth_key, message)
        except (PySnmpError, StatusInformation) as error:
            raise SNMPFailure("error", f"cannot secure the request: {error}") from error
        whole, answer = await self.client._send(
            self.address, self.auth.port, request_id, message, self.timeout, self.retries
        )
        return self._open(engine, whole, answer)

    def _open(self, engine: _Engine, whole: bytes, answer: codec.V3Message) -> codec.Pdu:
        """Check and decrypt an answer; an unauthenticated one is believed only as a report."""
        auth = self.auth
        parameters = codec.decode_security_parameters(answer.security_parameters)
        scoped = answer.scoped_pdu
        try:
            if answer.flags & AUTHENTICATED and auth.auth_protocol:
                AUTH_SERVICES[AUTH_PROTOCOLS[auth.auth_protocol]].authenticate_incoming_message(
                    engine.auth_key, OctetString(parameters.authentication), whole
                )
                engine.learn(parameters)
            if answer.flags & ENCRYPTED and auth.priv_protocol:
                service = PRIV_SERVICES[PRIV_PROTOCOLS[auth.priv_protocol]]
                scoped = service.decrypt_data(
                    engine.priv_key,
                    (parameters.engine_boots, parameters.engine_time, OctetString(parameters.privacy)),
                    OctetString(codec.decode_encrypted_scoped_pdu(scoped)),
                )
        except (PySnmpError, StatusInformation) as error:
            raise SNMPFailure("auth_error", f"the answer failed its security check: {error}") from error
        try:
            _, _, pdu = codec.decode_scoped_pdu(bytes(scoped))
        except codec.MalformedMessage as error:
            raise SNMPFailure("auth_error", f"the answer did not decrypt to a scoped PDU: {error}") from error
        if pdu.tag == codec.REPORT:
            return pdu  # believed unauthenticated too: it only ever makes the request fail or be resent
        if auth.flags & AUTHENTICATED and not answer.flags & AUTHENTICATED:
            raise SNMPFailure(
                "auth_error", "the agent answered an authenticated request without authentication"
            )
        return pdu
