"""SNMP messages as bytes: the GET and GETBULK requests the walker sends, the answers it reads.

Plain functions over bytes, no sockets and no clock. Only the few BER forms SNMP uses are written or read:
definite lengths, the universal INTEGER, OCTET STRING, NULL, OBJECT IDENTIFIER and SEQUENCE, the SMIv2
application types and the varbind exceptions. A generic ASN.1 decoder (pyasn1, which pysnmp uses) spends
over 100 µs on each varbind of a response; reading these forms directly takes a few. pysnmp stays the
reference: the tests check this module against its encoder and decoder.

Values come back as Python values: ``int`` for INTEGER, Counter32, Gauge32, TimeTicks and Counter64,
``bytes`` for OCTET STRING, IpAddress and Opaque, a tuple of ints for an OBJECT IDENTIFIER, ``None`` for NULL
and a :class:`VarBindException` member for noSuchObject, noSuchInstance and endOfMibView.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "GET",
    "GETBULK",
    "REPORT",
    "RESPONSE",
    "MalformedMessage",
    "Pdu",
    "SecurityParameters",
    "V3Message",
    "VarBindException",
    "decode_encrypted_scoped_pdu",
    "decode_scoped_pdu",
    "decode_security_parameters",
    "decode_v2c_message",
    "decode_v3_message",
    "encode_pdu",
    "encode_scoped_pdu",
    "encode_security_parameters",
    "encode_v2c_message",
    "encode_v3_message",
    "encrypted_scoped_pdu",
    "message_version",
    "request_pdu",
]

Oid = tuple[int, ...]

INTEGER, OCTET_STRING, NULL, OBJECT_IDENTIFIER, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
GET, RESPONSE, GETBULK, REPORT = 0xA0, 0xA2, 0xA5, 0xA8
UNSIGNED_TYPES = frozenset((0x41, 0x42, 0x43, 0x46))  # Counter32, Gauge32, TimeTicks, Counter64
OCTET_TYPES = frozenset((OCTET_STRING, 0x40, 0x44))  # OCTET STRING, IpAddress, Opaque
V2C, V3 = 1, 3
USM = 3  # msgSecurityModel of the user-based security model (RFC 3414)


class VarBindException(enum.Enum):
    """What an agent puts in place of a value (RFC 3416, section 3)."""

    NO_SUCH_OBJECT = 0x80
    NO_SUCH_INSTANCE = 0x81
    END_OF_MIB_VIEW = 0x82


class MalformedMessage(ValueError):
    """The bytes are not an SNMP message of the expected form."""


@dataclass(frozen=True)
class Pdu:
    tag: int  # GET, GETBULK, RESPONSE or REPORT
    request_id: int
    error_status: int = 0  # non-repeaters in a GETBULK
    error_index: int = 0  # max-repetitions in a GETBULK
    varbinds: tuple[tuple[Oid, object], ...] = ()


@dataclass(frozen=True)
class SecurityParameters:
    """UsmSecurityParameters (RFC 3414, section 2.4)."""

    engine_id: bytes = b""
    engine_boots: int = 0
    engine_time: int = 0
    user_name: bytes = b""
    authentication: bytes = b""
    privacy: bytes = b""


@dataclass(frozen=True)
class V3Message:
    """An SNMPv3 message with its scoped PDU still in the bytes it came in (encrypted or not)."""

    message_id: int
    max_size: int
    flags: int  # 1 authenticated, 2 encrypted, 4 reportable
    security_parameters: bytes
    scoped_pdu: bytes  # a ScopedPDU, or the OCTET STRING holding it encrypted


# Writing


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes((size,))
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _integer(value: int) -> bytes:
    size = (value if value >= 0 else ~value).bit_length() // 8 + 1  # the fewest octets, as BER wants
    return _tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def _oid(oid: Oid) -> bytes:
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] > 39):
        raise ValueError(f"not an object identifier: {oid}")
    content = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        septets = [arc & 0x7F]
        arc >>= 7
        while arc:
            septets.append(0x80 | (arc & 0x7F))
            arc >>= 7
        content.extend(reversed(septets))
    return _tlv(OBJECT_IDENTIFIER, bytes(content))


def request_pdu(
    tag: int, request_id: int, oids: Sequence[Oid], non_repeaters: int = 0, repetitions: int = 0
) -> Pdu:
    """A GET or GETBULK request for ``oids`` (a GET takes no non-repeaters or repetitions)."""
    return Pdu(tag, request_id, non_repeaters, repetitions, tuple((oid, None) for oid in oids))


def encode_pdu(pdu: Pdu) -> bytes:
    """A request PDU; every varbind's value is NULL, as in GET and GETBULK."""
    varbinds = b"".join(_tlv(SEQUENCE, _oid(oid) + b"\x05\x00") for oid, _ in pdu.varbinds)
    fields = _integer(pdu.request_id) + _integer(pdu.error_status) + _integer(pdu.error_index)
    return _tlv(pdu.tag, fields + _tlv(SEQUENCE, varbinds))


def encode_v2c_message(community: bytes, pdu: bytes) -> bytes:
    return _tlv(SEQUENCE, _integer(V2C) + _tlv(OCTET_STRING, community) + pdu)


def encode_scoped_pdu(context_engine_id: bytes, context_name: bytes, pdu: bytes) -> bytes:
    return _tlv(SEQUENCE, _tlv(OCTET_STRING, context_engine_id) + _tlv(OCTET_STRING, context_name) + pdu)


def encode_security_parameters(parameters: SecurityParameters) -> bytes:
    return _tlv(
        SEQUENCE,
        _tlv(OCTET_STRING, parameters.engine_id)
        + _integer(parameters.engine_boots)
        + _integer(parameters.engine_time)
        + _tlv(OCTET_STRING, parameters.user_name)
        + _tlv(OCTET_STRING, parameters.authentication)
        + _tlv(OCTET_STRING, parameters.privacy),
    )


def encode_v3_message(message: V3Message) -> bytes:
    """``scoped_pdu`` goes in as it is: an encoded ScopedPDU, or one encrypted and wrapped by the caller
    in an OCTET STRING (see :func:`encrypted_scoped_pdu`)."""
    header = _tlv(
        SEQUENCE,
        _integer(message.message_id)
        + _integer(message.max_size)
        + _tlv(OCTET_STRING, bytes((message.flags,)))
        + _integer(USM),
    )
    return _tlv(
        SEQUENCE,
        _integer(V3) + header + _tlv(OCTET_STRING, message.security_parameters) + message.scoped_pdu,
    )


def encrypted_scoped_pdu(ciphertext: bytes) -> bytes:
    return _tlv(OCTET_STRING, ciphertext)


# Reading. Each reader takes the buffer and an offset and returns what it read and the offset after it.


def _header(data: bytes, offset: int, tag: int | None = None) -> tuple[int, int, int]:
    """The tag, the content's start and its end, of the TLV at ``offset``."""
    try:
        found = data[offset]
        size = data[offset + 1]
    except IndexError:
        raise MalformedMessage(f"truncated at byte {offset}") from None
    if tag is not None and found != tag:
        raise MalformedMessage(f"tag {found:#04x} at byte {offset}, expected {tag:#04x}")
    start = offset + 2
    if size & 0x80:
        count = size & 0x7F
        if count == 0 or count > 4:
            raise MalformedMessage(f"unsupported length form at byte {offset}")
        size = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + size
    if end > len(data):
        raise MalformedMessage(f"length at byte {offset} runs past the end")
    return found, start, end


def _read_integer(data: bytes, offset: int) -> tuple[int, int]:
    _, start, end = _header(data, offset, INTEGER)
    return int.from_bytes(data[start:end], "big", signed=True), end


def _read_octets(data: bytes, offset: int) -> tuple[bytes, int]:
    _, start, end = _header(data, offset, OCTET_STRING)
    return data[start:end], end


def _decode_oid(data: bytes, start: int, end: int) -> Oid:
    if start == end:
        raise MalformedMessage(f"empty object identifier at byte {start}")
    arcs = []
    arc = 0
    for octet in data[start:end]:
        arc = (arc << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(arc)
            arc = 0
    if data[end - 1] & 0x80:
        raise MalformedMessage(f"object identifier ends inside an arc at byte {end}")
    first = arcs[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return (*head, *arcs[1:])


def _decode_value(tag: int, data: bytes, start: int, end: int) -> object:
    if tag in UNSIGNED_TYPES:
        return int.from_bytes(data[start:end], "big")
    if tag == INTEGER:
        return int.from_bytes(data[start:end], "big", signed=True)
    if tag in OCTET_TYPES:
        return data[start:end]
    if tag == OBJECT_IDENTIFIER:
        return _decode_oid(data, start, end)
    if tag == NULL:
        return None
    try:
        return VarBindException(tag)
    except ValueError:
        raise MalformedMessage(f"unknown value type {tag:#04x} at byte {start}") from None


def _read_pdu(data: bytes, offset: int) -> Pdu:
    tag, start, end = _header(data, offset)
    if tag not in (RESPONSE, REPORT, GET, GETBULK):
        raise MalformedMessage(f"not a PDU: tag {tag:#04x}")
    request_id, offset = _read_integer(data, start)
    error_status, offset = _read_integer(data, offset)
    error_index, offset = _read_integer(data, offset)
    _, offset, varbinds_end = _header(data, offset, SEQUENCE)
    if varbinds_end > end:
        raise MalformedMessage("varbind list runs past its PDU")
    varbinds = []
    while offset < varbinds_end:
        _, offset, varbind_end = _header(data, offset, SEQUENCE)
        _, name_start, name_end = _header(data, offset, OBJECT_IDENTIFIER)
        value_tag, value_start, value_end = _header(data, name_end)
        if value_end != varbind_end:
            raise MalformedMessage(f"varbind at byte {offset} is not a name and a value")
        varbinds.append(
            (_decode_oid(data, name_start, name_end), _decode_value(value_tag, data, value_start, value_end))
        )
        offset = varbind_end
    return Pdu(tag, request_id, error_status, error_index, tuple(varbinds))


def decode_v2c_message(data: bytes) -> tuple[bytes, Pdu]:
    """The community and the PDU of an SNMPv2c message."""
    _, offset, _ = _header(data, 0, SEQUENCE)
    version, offset = _read_integer(data, offset)
    if version != V2C:
        raise MalformedMessage(f"SNMP version field {version}, expected {V2C} (v2c)")
    community, offset = _read_octets(data, offset)
    return community, _read_pdu(data, offset)


def decode_v3_message(data: bytes) -> V3Message:
    _, offset, _ = _header(data, 0, SEQUENCE)
    version, offset = _read_integer(data, offset)
    if version != V3:
        raise MalformedMessage(f"SNMP version field {version}, expected {V3}")
    _, offset, header_end = _header(data, offset, SEQUENCE)
    message_id, offset = _read_integer(data, offset)
    max_size, offset = _read_integer(data, offset)
    flags, offset = _read_octets(data, offset)
    security_model, offset = _read_integer(data, offset)
    if len(flags) != 1 or security_model != USM or offset != header_end:
        raise MalformedMessage("message header is not one of the user-based security model")
    security_parameters, offset = _read_octets(data, offset)
    return V3Message(message_id, max_size, flags[0], security_parameters, data[offset:])


def decode_security_parameters(data: bytes) -> SecurityParameters:
    _, offset, _ = _header(data, 0, SEQUENCE)
    engine_id, offset = _read_octets(data, offset)
    boots, offset = _read_integer(data, offset)
    engine_time, offset = _read_integer(data, offset)
    user, offset = _read_octets(data, offset)
    authentication, offset = _read_octets(data, offset)
    privacy, offset = _read_octets(data, offset)
    return SecurityParameters(engine_id, boots, engine_time, user, authentication, privacy)


def decode_encrypted_scoped_pdu(data: bytes) -> bytes:
    """The ciphertext in the OCTET STRING of an encrypted scoped PDU."""
    return _read_octets(data, 0)[0]


def decode_scoped_pdu(data: bytes) -> tuple[bytes, bytes, Pdu]:
    """The context engine id, the context name and the PDU of a plaintext ScopedPDU.

    A decrypted DES scoped PDU carries padding after its end; the outer length says where it ends.
    """
    _, offset, _ = _header(data, 0, SEQUENCE)
    context_engine_id, offset = _read_octets(data, offset)
    context_name, offset = _read_octets(data, offset)
    return context_engine_id, context_name, _read_pdu(data, offset)


def message_version(data: bytes) -> int:
    """The version field of any SNMP message: 0 (v1), 1 (v2c) or 3."""
    _, offset, _ = _header(data, 0, SEQUENCE)
    return _read_integer(data, offset)[0]
