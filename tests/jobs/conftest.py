"""Fixtures of the job tests: the county of the work-order tests, for the 盯单 jobs."""

from tests.complaints.conftest import county  # noqa: F401 - a fixture, used by name
