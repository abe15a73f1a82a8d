"""Hypothesis profiles of the fuzz suite, and the demo county its router and webhook properties talk to.

`ci` (the default) is bounded and reproducible: derandomized, so CI explores the same inputs on
every run and a failure repeats; the whole package stays well under 90 s per backend.
`HYPOTHESIS_PROFILE=deep .venv/bin/pytest tests/fuzz` explores about seventeen times as much, with fresh
random inputs each run and the example database on, so a failure found locally is replayed first
next time.

The profiles are registered here but applied only through `tests.fuzz.strategies.FUZZ`, so the
rest of the suite keeps its own hypothesis settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from bot import create_app
from bot.demo import seed
from bot.runtime import Runtime
from tests.builders import Chat
from tests.conftest import run_jobs

PROFILE_ENV = "HYPOTHESIS_PROFILE"
# A property's fixtures (the database, the county) are set up once and shared by its examples:
# that is intended, state carried from one example to the next is part of what is fuzzed.
_SHARED_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,  # timings on a shared 2-core CI machine vary; the suite's own timeout bounds it
    derandomize=True,
    database=None,  # derandomized runs gain nothing from stored examples
    print_blob=True,
    suppress_health_check=_SHARED_FIXTURES,
)
settings.register_profile(
    "deep",
    max_examples=2500,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=_SHARED_FIXTURES,
)


def profile_name() -> str:
    """The profile the fuzz suite runs under: HYPOTHESIS_PROFILE if it names one of ours, else ci."""
    name = os.environ.get(PROFILE_ENV, "ci")
    return name if name in ("ci", "deep") else "ci"


# Something for the numbers people type to find: S2611-0001 (picked up), S2611-0002 (waiting),
# J2611-0001 (an inspection registered), D2611-0001 (a 批示卡), and a weekly report of XM2026-001.
ACTIVITY = [
    ("zhang_wei", "诉求 用地 厂房扩建用地手续三个月未批"),
    ("gxj_zhou", "接单 S2611-0001"),
    ("zhang_wei", "诉求 水电气 园区道路路灯不亮"),
    ("scjgj_lin", "报备检查 鑫源食品 12月22日 市场监管 食品安全抽检"),
    ("leader_zhao", "交办 县工信局 牵头研究园区用地问题 12月4日"),
    ("gxj_wu", "进展 XM2026-001 黄 完成投资1200万 形象进度:主体封顶 问题:用地手续未办结"),
]


@pytest.fixture
def county(runtime: Runtime) -> Runtime:
    """The demo county (16 departments, 32 people, 20 enterprises, projects, rules) on the test runtime,
    with a few orders, an inspection, a 批示卡 and a weekly report in it."""
    seed(runtime)
    chat = Chat(runtime)
    for user, text in ACTIVITY:
        assert chat.say(user, text), (user, text)
    run_jobs(runtime)
    return runtime


@pytest.fixture
def client(county: Runtime) -> Iterator[FlaskClient]:
    """The Flask app of the county's runtime, through Werkzeug's test client (no sockets)."""
    app = create_app(runtime=county)
    with app.test_client() as test_client:
        yield test_client
