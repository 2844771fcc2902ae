"""The SNMP codec against pysnmp's own (pyasn1) encoder and decoder, on generated messages."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c
from pysnmp.proto.mpmod.rfc3412 import ScopedPDU, SNMPv3Message
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

from exporter.probes import snmp_codec as codec
from exporter.probes.snmp_codec import VarBindException

oids = st.tuples(st.integers(0, 1), st.integers(0, 39)).flatmap(
    lambda head: st.lists(st.integers(0, 2**32 - 1), max_size=20).map(lambda tail: (*head, *tail))
) | st.lists(st.integers(0, 2**32 - 1), max_size=20).map(lambda tail: (2, 999, *tail))

# (pysnmp value, what the codec reads back) for every value type an agent may send.
values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(lambda v: (rfc1902.Integer32(v), v)),
    st.binary(max_size=300).map(lambda v: (rfc1902.OctetString(v), v)),
    oids.map(lambda v: (rfc1902.ObjectName(v), v)),
    st.binary(min_size=4, max_size=4).map(lambda v: (rfc1902.IpAddress(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (rfc1902.Counter32(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (rfc1902.Gauge32(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (rfc1902.TimeTicks(v), v)),
    st.integers(0, 2**64 - 1).map(lambda v: (rfc1902.Counter64(v), v)),
    st.binary(max_size=20).map(lambda v: (rfc1902.Opaque(v), v)),
    st.just((rfc1902.Null(""), None)),
    st.just((rfc1905.NoSuchObject(""), VarBindException.NO_SUCH_OBJECT)),
    st.just((rfc1905.NoSuchInstance(""), VarBindException.NO_SUCH_INSTANCE)),
    st.just((rfc1905.EndOfMibView(""), VarBindException.END_OF_MIB_VIEW)),
)
request_ids = st.integers(-(2**31), 2**31 - 1)


def pysnmp_response(request_id: int, varbinds, community: bytes = b"public") -> bytes:
    pdu = v2c.ResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_varbinds(pdu, [(rfc1902.ObjectName(name), value) for name, (value, _) in varbinds])
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, community)
    v2c.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


@given(request_ids, st.lists(st.tuples(oids, values), max_size=40), st.binary(max_size=40))
def test_a_pysnmp_response_reads_back_exactly(request_id, varbinds, community):
    read_community, pdu = codec.decode_v2c_message(pysnmp_response(request_id, varbinds, community))
    assert read_community == community
    assert pdu.tag == codec.RESPONSE and pdu.request_id == request_id
    assert pdu.varbinds == tuple((name, expected) for name, (_, expected) in varbinds)


@example(128, [(1, 3)], 0, 32768, b"")  # integers on the edge of one more octet
@example(2**31 - 1, [(1, 3)], 0, 255, b"")
@given(
    request_ids.filter(lambda i: i > 0),  # what the client sends
    st.lists(oids, min_size=1, max_size=30),
    st.integers(0, 5),
    st.integers(0, 2**31 - 1),
    st.binary(max_size=40),
)
def test_a_getbulk_request_is_what_pysnmp_reads(request_id, names, non_repeaters, repetitions, community):
    pdu = codec.request_pdu(codec.GETBULK, request_id, names, non_repeaters, repetitions)
    ours = codec.encode_v2c_message(community, codec.encode_pdu(pdu))
    message, rest = decoder.decode(ours, asn1Spec=v2c.Message())
    assert rest == b""
    assert bytes(v2c.apiMessage.get_community(message)) == community
    read = v2c.apiMessage.get_pdu(message)
    assert read.isSameTypeWith(v2c.GetBulkRequestPDU())
    assert int(v2c.apiBulkPDU.get_request_id(read)) == request_id
    assert int(v2c.apiBulkPDU.get_non_repeaters(read)) == non_repeaters
    assert int(v2c.apiBulkPDU.get_max_repetitions(read)) == repetitions
    assert [(tuple(name), value) for name, value in v2c.apiBulkPDU.get_varbinds(read)] == [
        (name, rfc1902.Null("")) for name in names
    ]
    assert ours == encoder.encode(message)  # byte for byte what pysnmp writes


security_parameters = st.builds(
    codec.SecurityParameters,
    st.binary(max_size=32),
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**31 - 1),
    st.binary(max_size=32),
    st.binary(max_size=48),
    st.binary(max_size=8),
)


@given(request_ids.filter(lambda i: i >= 0), st.integers(0, 7), security_parameters, oids)
def test_a_v3_message_is_what_pysnmp_reads(message_id, flags, parameters, name):
    scoped = codec.encode_scoped_pdu(
        b"engine", b"", codec.encode_pdu(codec.request_pdu(codec.GET, message_id, [name]))
    )
    whole = codec.encode_v3_message(
        codec.V3Message(message_id, 65507, flags, codec.encode_security_parameters(parameters), scoped)
    )
    message, rest = decoder.decode(whole, asn1Spec=SNMPv3Message())
    assert rest == b""
    header = message["msgGlobalData"]
    assert (int(header["msgID"]), int(header["msgMaxSize"])) == (message_id, 65507)
    assert bytes(header["msgFlags"]) == bytes((flags,)) and int(header["msgSecurityModel"]) == 3
    usm, _ = decoder.decode(bytes(message["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
    assert [bytes(usm[0]), int(usm[1]), int(usm[2]), bytes(usm[3]), bytes(usm[4]), bytes(usm[5])] == [
        parameters.engine_id,
        parameters.engine_boots,
        parameters.engine_time,
        parameters.user_name,
        parameters.authentication,
        parameters.privacy,
    ]
    assert bytes(message["msgData"]["plaintext"]["contextEngineId"]) == b"engine"
    # and back through our own reader
    read = codec.decode_v3_message(whole)
    assert codec.decode_security_parameters(read.security_parameters) == parameters
    assert codec.decode_scoped_pdu(read.scoped_pdu)[2].varbinds == ((name, None),)


@given(
    st.binary(max_size=16),
    st.binary(max_size=16),
    request_ids,
    st.lists(st.tuples(oids, values), max_size=10),
)
def test_a_pysnmp_scoped_pdu_reads_back(engine_id, context, request_id, varbinds):
    pdu = v2c.ReportPDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_varbinds(pdu, [(rfc1902.ObjectName(name), value) for name, (value, _) in varbinds])
    scoped = ScopedPDU()
    scoped.setComponentByPosition(0, engine_id)
    scoped.setComponentByPosition(1, context)
    scoped.setComponentByPosition(2)
    scoped.getComponentByPosition(2).setComponentByType(pdu.tagSet, pdu)
    read_engine, read_context, read = codec.decode_scoped_pdu(encoder.encode(scoped) + b"\x00" * 7)
    assert (read_engine, read_context, read.tag, read.request_id) == (
        engine_id,
        context,
        codec.REPORT,
        request_id,
    )
    assert read.varbinds == tuple((name, expected) for name, (_, expected) in varbinds)


@given(st.data())
def test_damaged_messages_fail_only_as_malformed(data):
    whole = pysnmp_response(7, data.draw(st.lists(st.tuples(oids, values), min_size=1, max_size=5)))
    cut = data.draw(st.integers(0, len(whole) - 1))
    damaged = bytearray(whole[:cut] if data.draw(st.booleans()) else whole)
    for _ in range(data.draw(st.integers(0, 3)) if damaged else 0):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(codec.MalformedMessage):  # any other exception fails the test
        codec.decode_v2c_message(bytes(damaged))


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30", b"\x30\x85\x00\x00\x00\x00\x01", b"\x04\x00", b"\x30\x03\x02\x01\x03"],
    ids=["empty", "tag only", "five-byte length", "not a sequence", "v3 to the v2c reader"],
)
def test_malformed_messages_say_so(data):
    with pytest.raises(codec.MalformedMessage):
        codec.decode_v2c_message(data)


@pytest.mark.parametrize(
    ("value", "octets"),
    [(-1, "ff"), (-128, "80"), (-129, "ff7f"), (-32768, "8000"), (127, "7f"), (128, "0080")],
)
def test_integers_take_the_fewest_octets(value, octets):
    """X.690 8.3.2 (pyasn1 writes -128 as ff80; agents read either)."""
    size = len(octets) // 2
    encoded = codec.encode_pdu(codec.request_pdu(codec.GET, value, []))  # tag, length, then request-id
    assert encoded[2 : 4 + size] == bytes((0x02, size)) + bytes.fromhex(octets)


def test_lengths_of_every_form_are_written_as_pysnmp_does():
    for size in (0, 127, 128, 255, 256, 65535, 70000):
        value = univ.OctetString(b"x" * size)
        message = codec.encode_v2c_message(b"x" * size, codec.encode_pdu(codec.request_pdu(codec.GET, 1, [])))
        assert encoder.encode(value) in message
