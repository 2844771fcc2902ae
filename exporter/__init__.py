"""batiknet-exporter: ICMP, DNS and SNMP probing of the whole Batik.Net, topology-aware."""

__version__ = "0.1.0"
