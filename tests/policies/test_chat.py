"""政策 and 企业信息 through the router: the 明白卡, one policy's reasoning, the profile, who may see what."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import BindingStatus, EnterpriseMember, Role
from handlers.policies.catalog import publish
from handlers.policies.catalog_reading import read_catalog
from handlers.policies.models import PolicyAnswer, ProfileValue
from handlers.policies.profile import set_value
from tests import builders
from tests.builders import Chat, pushed_cards
from tests.conftest import T0, run_jobs
from tests.policies.samples import HIGH_TECH, SMALL_FIRMS


@pytest.fixture
def county(session_factory):
    """An enterprise with a contact and a 包联部门 official, another official, a leader, two policies."""
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        swj = builders.department(s, "县商务局", "SWJ")
        builders.person(s, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj)
        builders.person(s, "swj_zheng", Role.OFFICIAL, "郑立新", department=swj)
        builders.person(s, "leader_wang", Role.LEADER, "王县长")
        boss = builders.person(s, "zhang_wei", Role.ENTERPRISE, "张伟")
        firm = builders.enterprise(s, "示范县鑫源电子有限公司", gxj)
        s.add(
            EnterpriseMember(
                person=boss, enterprise=firm, status=BindingStatus.CONFIRMED.value, requested_at=T0
            )
        )
        for attribute, raw in (("certifications", "高新技术企业"), ("industry", "C3911"), ("size", "小型")):
            set_value(s, firm, attribute, raw, source="import", by=None, now=T0)
        publish(s, read_catalog(HIGH_TECH + SMALL_FIRMS), now=T0, actor=None, source="test.yaml")
        s.commit()


@pytest.fixture
def chat(runtime, standin, county) -> Chat:
    return Chat(runtime)


def test_the_card_lists_near_misses_and_asks_only_the_missing_questions(
    chat, runtime, standin, session_factory
):
    text = chat.text("zhang_wei", "明白卡")
    assert "暂未匹配到可直接享受的政策" in text and "差一个条件（1项）" in text
    assert "XKJ-GQ-2026 高新技术企业认定奖励：营业收入须不低于2000万元（第四条）（待补充）" in text
    assert "贵企业上一年度营业收入是多少" in text  # the one question that settles it …
    assert "从业人数" not in text  # … and not those of a policy two conditions away
    run_jobs(runtime)
    (card,) = pushed_cards(standin.messages("zhang_wei"))
    body = card["body"]["template_card"]
    assert body["main_title"]["title"] == "惠企政策明白卡"
    assert body["sub_title_text"] == "可享受0项（可确定金额合计约0万元），另有1项差一个条件。"
    assert [b["text"] for b in body["button_list"]] == ["查看 XKJ-GQ-2026"]
    reasoning = chat.click("zhang_wei", body["button_list"][0]["key"])
    assert "高新技术企业认定奖励（县科技局 县科发〔2026〕3号，第1版）" in reasoning[0].content
    with session_factory() as s:
        (answer,) = s.scalars(select(PolicyAnswer)).all()
        assert [r["outcome"] for r in answer.results] == ["near"]  # recorded with versions and inputs
        assert all(r["version"] == 1 and "inputs" in r for r in answer.results)


def test_one_policy_is_explained_condition_by_condition_with_sources(chat):
    text = chat.text("zhang_wei", "政策 XKJ-GQ-2026")
    assert "高新技术企业认定奖励" in text
    assert "批量导入" in text and "未登记（请补充）" in text and "需人工核实" in text
    assert "请补充：" in text


def test_a_value_given_in_chat_changes_the_answer(chat, session_factory):
    assert "不是企业信息项目" in chat.text("zhang_wei", "企业信息 利润 100万")
    assert "单位" in chat.text("zhang_wei", "企业信息 营业收入 25万万")
    assert "已更新示范县鑫源电子有限公司的营业收入：2500万元" in chat.text(
        "zhang_wei", "企业信息 营业收入 2500万"
    )
    text = chat.text("zhang_wei", "政策 XKJ-GQ-2026")
    assert "【符合】" in text or "符合" in text.splitlines()[0]
    assert "企业自报" in text
    with session_factory() as s:
        assert s.scalar(select(ProfileValue.source).order_by(ProfileValue.id.desc())) == "enterprise"
    assert "营业收入：2500万元（企业自报" in chat.text("zhang_wei", "企业信息")


def test_who_may_see_an_enterprises_card(chat):
    assert "高新技术企业认定奖励" in chat.text("gxj_wu", "政策 鑫源电子 XKJ-GQ-2026")  # its 包联部门
    assert "高新技术企业认定奖励" in chat.text("leader_wang", "政策 鑫源电子 XKJ-GQ-2026")
    assert "只有「示范县鑫源电子有限公司」的联系人" in chat.text("swj_zheng", "政策 鑫源电子 XKJ-GQ-2026")
    assert "没有找到企业" in chat.text("gxj_wu", "政策 宏达机械")
    assert "没有编号为 NOPE-1 的政策" in chat.text("zhang_wei", "政策 NOPE-1")
    assert "已更新" in chat.text("gxj_wu", "企业信息 鑫源电子 从业人数 120")
    assert "从业人数：120人（干部核实" in chat.text("gxj_wu", "企业信息 鑫源电子")


def test_the_guided_fill_in_asks_what_settles_a_near_miss_first(chat, session_factory):
    first = chat.text("zhang_wei", "完善信息")
    assert "待补充" in first and "营业收入" in first.splitlines()[-1]  # it decides XKJ-GQ-2026
    assert "单位" in chat.text("zhang_wei", "2500万万")  # a bad value is asked again
    chat.text("zhang_wei", "2500万")
    chat.text("zhang_wei", "跳过")
    assert "谢谢，企业信息已更新" in chat.text("zhang_wei", "完成")
    with session_factory() as s:
        sources = [v.source for v in s.scalars(select(ProfileValue).order_by(ProfileValue.id))]
    assert sources[-1] == "enterprise" and len(sources) == 4  # three imported, one given in chat
    assert "【符合】" in chat.text("zhang_wei", "政策 XKJ-GQ-2026").splitlines()[0]


def test_publishing_through_the_worker_pushes_the_qualifying_enterprise(chat, runtime, standin):
    from bot.demo import queue_policy_pushes

    chat.text("zhang_wei", "企业信息 营业收入 2500万")  # now qualifies for the 免申即享 policy
    queue_policy_pushes(runtime)
    run_jobs(runtime)
    cards = [c for c in pushed_cards(standin.messages("zhang_wei")) if "免申即享" in str(c["body"])]
    assert len(cards) == 1 and "高新技术企业认定奖励" in str(cards[0]["body"])
