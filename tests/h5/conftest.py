"""The H5 tests use the work-order tests' county (a 包联部门, officials, two enterprises, contacts)."""

from tests.complaints.conftest import county  # noqa: F401 - the county fixture
