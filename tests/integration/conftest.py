"""Fixtures of the integration tests: the real stack over the lab (see tests/stack.py)."""

from tests.stack import stack  # noqa: F401  (a pytest fixture, registered by being imported here)
