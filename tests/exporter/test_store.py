from exporter.probes.dns import DNSResult
from exporter.store import DNS_BUCKETS, RTT_BUCKETS, Histogram, dns_totals, icmp_totals

from .fakes import echo, inventory


def test_rtt_buckets_run_from_half_a_millisecond_to_four_seconds():
    assert RTT_BUCKETS[0] == 0.0005
    assert RTT_BUCKETS[-1] == 4.0
    assert list(RTT_BUCKETS) == sorted(RTT_BUCKETS)
    assert list(DNS_BUCKETS) == sorted(DNS_BUCKETS)


def test_histogram_buckets_are_cumulative_and_inclusive():
    histogram = Histogram((0.001, 0.01)).observe([0.0005, 0.001, 0.005, 0.5])
    assert histogram.cumulative() == [("0.001", 2), ("0.01", 3), ("+Inf", 4)]
    assert histogram.total == 0.0005 + 0.001 + 0.005 + 0.5


def test_icmp_totals_accumulate_over_rounds_and_keep_the_latest_round():
    inv = inventory()
    first = icmp_totals({}, [echo(inv, "setda", 0.001, 0.002, 0.003)])
    second = icmp_totals(first, [echo(inv, "setda", 0.004)])
    totals = second["setda"]
    assert (totals.requests, totals.responses) == (6, 4)
    assert totals.latest.rtts == (0.004,)
    assert totals.rtt.cumulative()[-1] == ("+Inf", 4)
    assert first["setda"].requests == 3  # copy on write: the old mapping is untouched


def test_dns_totals_count_failures_by_reason_from_zero():
    results = [
        DNSResult("dns1", "a.example", None, 0.002),
        DNSResult("dns1", "b.example", "wrong_answer", 0.003),
        DNSResult("dns1", "c.example", "timeout", None),
    ]
    totals = dns_totals({}, results)["dns1"]
    assert totals.failures == {
        "timeout": 1,
        "refused": 0,
        "servfail": 0,
        "nxdomain": 0,
        "wrong_answer": 1,
        "network": 0,
    }
    assert totals.up == {"a.example": True, "b.example": False, "c.example": False}
    assert totals.lookup.cumulative()[-1] == ("+Inf", 2)  # a timeout has no lookup time
