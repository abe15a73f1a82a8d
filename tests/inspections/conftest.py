"""A small county for the inspection tests: two enforcement departments with heads, a 包联部门, the 督查室."""

from __future__ import annotations

import pytest

from bot.models import BindingStatus, DepartmentKind, EnterpriseMember, Oversight, Role
from tests import builders
from tests.conftest import T0

FIRM = "示范县鑫源食品有限公司"


@pytest.fixture
def county(session_factory):
    """Two enforcement departments with heads, a 包联部门, the 督查室, a leader, two similar enterprises."""
    with session_factory() as s:
        scjgj = builders.department(s, "县市场监管局", "SCJGJ", kind=DepartmentKind.FUNCTIONAL.value)
        yjj = builders.department(s, "县应急管理局", "YJJ", kind=DepartmentKind.FUNCTIONAL.value)
        gxj = builders.department(s, "县工信局", "GXJ")
        dcs = builders.department(s, "县委督查室", "DCS", kind=DepartmentKind.OFFICE.value)
        builders.person(s, "scjg_li", Role.OFFICIAL, "李局长", department=scjgj, is_head=True)
        builders.person(s, "scjg_wang", Role.OFFICIAL, "王科员", department=scjgj)
        builders.person(s, "yjj_zhao", Role.OFFICIAL, "赵局长", department=yjj, is_head=True)
        builders.person(s, "yjj_sun", Role.OFFICIAL, "孙科员", department=yjj)
        builders.person(s, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj)
        builders.person(s, "dcs_he", Role.OFFICIAL, "何主任", department=dcs)
        leader = builders.person(s, "leader_zhao", Role.LEADER, "赵县长")
        s.add_all([Oversight(leader=leader, department=scjgj), Oversight(leader=leader, department=yjj)])
        boss = builders.person(s, "zhang_wei", Role.ENTERPRISE, "张伟")
        firm = builders.enterprise(s, FIRM, gxj)
        builders.enterprise(s, "示范县鑫源纸业有限公司", gxj)
        s.add(
            EnterpriseMember(
                person=boss, enterprise=firm, status=BindingStatus.CONFIRMED.value, requested_at=T0
            )
        )
        s.commit()
        return {"uscc": firm.uscc}
