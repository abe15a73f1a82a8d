"""The register's figures against numbers worked out by hand for five orders."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.complaints import closing, service
from handlers.complaints.figures import Rate, department_figures
from tests.conftest import T0

H = timedelta(hours=1)
WEEK = T0 + 168 * H


@pytest.fixture
def week(session, county):
    """Five orders of one week (A–E); the comments give what each means for the figures."""
    c, s = county, session

    def file(text, at):
        return service.file_order(s, c.boss, text, "其他", "普通", T0 + at * H).order.number

    a = file("A", 0)  # 工信局: picked up, solved in time, 满意
    service.pick_up(s, c.gxj_wu, a, T0 + 2 * H)
    closing.resolve(s, c.gxj_wu, a, "done", T0 + 10 * H)
    closing.rate(s, c.boss, a, "满意", T0 + 11 * H)
    b = file("B", 1)  # 工信局: picked up late, solved in time, 不满意; 返工 picked up in time, solved late
    service.pick_up(s, c.gxj_wu, b, T0 + 30 * H)
    closing.resolve(s, c.gxj_wu, b, "done", T0 + 40 * H)
    closing.rate(s, c.boss, b, "不满意", T0 + 41 * H)
    service.pick_up(s, c.gxj_wu, b, T0 + 42 * H)
    closing.resolve(s, c.gxj_wu, b, "again", T0 + 70 * H)
    closing.rate(s, c.boss, b, "基本满意", T0 + 71 * H)
    c_ = file("C", 2)  # 工信局 转办 in time; 自然资源局 picks up in time, solves late, never rated
    service.transfer(s, c.gxj_wu, c_, c.zrzyj, "用地", T0 + 3 * H)
    service.pick_up(s, c.zrzyj_ma, c_, T0 + 20 * H)
    closing.resolve(s, c.zrzyj_ma, c_, "done", T0 + 50 * H)
    closing.auto_close(s, c_, T0 + 130 * H)
    d = file("D", 3)  # 工信局 退回 in time; sent to 自然资源局, which never picks it up
    service.send_back(s, c.gxj_wu, d, "非本部门职责", "", T0 + 4 * H)
    service.decide_return(s, c.yshj_li, d, c.zrzyj, T0 + 5 * H)
    file("E", 166)  # 工信局: still within its pickup time when the week ends
    s.commit()


def rates(figures):
    return {
        f.department: (f.response_rate, f.solve_rate, f.satisfaction_rate, f.return_rate, f.rework_rate)
        for f in figures
    }


def test_a_week_of_figures(session, county, week):
    assert rates(department_figures(session, T0, WEEK)) == {
        "县工信局": (Rate(4, 5), Rate(2, 3), Rate(2, 3), Rate(1, 6), Rate(1, 3)),
        "县自然资源局": (Rate(1, 2), Rate(0, 1), Rate(0, 0), Rate(0, 2), Rate(0, 1)),
    }


def test_a_cut_period_waits_for_running_clocks_and_recomputes_the_same(session, county, week):
    first_half_day = department_figures(session, T0, T0 + 12 * H)
    gxj = rates(first_half_day)["县工信局"]
    assert gxj[0] == Rate(3, 3)  # B's pickup clock was still running at the cut
    assert gxj[3] == Rate(1, 4)
    assert rates(department_figures(session, T0, T0 + 12 * H)) == rates(first_half_day)
    assert department_figures(session, WEEK, WEEK + 24 * H) == []


def test_rate_display():
    assert Rate(2, 3).percent == "66.7%" and Rate(0, 0).percent == "—" and Rate(0, 0).value is None
