"""Probes: each turns one probe of the network into a plain result object (no metrics, no clock)."""
