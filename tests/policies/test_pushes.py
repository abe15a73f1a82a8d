"""免申即享 through the worker: exactly the qualifying enterprises are pushed, once per policy version."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import BindingStatus, Department, EnterpriseMember, Role
from handlers.policies.catalog import publish
from handlers.policies.catalog_reading import read_catalog
from handlers.policies.models import PolicyPush
from handlers.policies.profile import set_value
from jobs import policies as policy_jobs
from tests import builders
from tests.builders import Chat, pushed_cards, pushed_texts
from tests.conftest import T0, run_jobs
from tests.policies.samples import HIGH_TECH, SMALL_FIRMS

PROFILES = {  # (contact, enterprise): the values the county imported
    ("boss_a", "示范县甲电子有限公司"): {
        "certifications": "高新技术企业",
        "industry": "C3911",
        "revenue_wan": "2500万",
    },
    ("boss_b", "示范县乙电子有限公司"): {
        "certifications": "高新技术企业",
        "industry": "C3911",
    },  # revenue unknown
    ("boss_c", "示范县丙商贸有限公司"): {"industry": "F5123", "revenue_wan": "9000万"},
}


@pytest.fixture
def county(session_factory):
    """Three enterprises of one 包联部门, each with a contact; the catalog published."""
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj)
        for (userid, name), values in PROFILES.items():
            boss = builders.person(s, userid, Role.ENTERPRISE, userid)
            firm = builders.enterprise(s, name, gxj)
            s.add(
                EnterpriseMember(
                    person=boss, enterprise=firm, status=BindingStatus.CONFIRMED.value, requested_at=T0
                )
            )
            for attribute, raw in values.items():
                set_value(s, firm, attribute, raw, source="import", by=None, now=T0)
        publish(s, read_catalog(HIGH_TECH + SMALL_FIRMS), now=T0, actor=None, source="test.yaml")
        s.commit()


def push_cards(standin, user):
    return [c for c in pushed_cards(standin.messages(user)) if "免申即享" in str(c["body"])]


def test_publishing_pushes_exactly_the_qualifying_enterprises_once(runtime, standin, county, session_factory):
    assert policy_jobs.push() == 1
    assert policy_jobs.push() == 0  # a retried or repeated job pushes nothing again
    run_jobs(runtime)
    (card,) = push_cards(standin, "boss_a")
    assert "高新技术企业认定奖励" in str(card["body"]) and "20万元" in str(card["body"])
    assert (
        card["body"]["template_card"]["main_title"]["title"] == "免申即享：您企业初步符合条件"
    )  # one manual check
    assert push_cards(standin, "boss_b") == [] and push_cards(standin, "boss_c") == []
    with session_factory() as s:
        (push,) = s.scalars(select(PolicyPush)).all()
        assert push.inputs["revenue_wan"]["value"] == 2500  # the audit keeps what the match read


def test_the_enterprise_confirms_and_the_department_delivers(runtime, standin, county, session_factory):
    policy_jobs.push()
    run_jobs(runtime)
    (card,) = push_cards(standin, "boss_a")
    keys = [b["key"] for b in card["body"]["template_card"]["button_list"]]
    chat = Chat(runtime)
    assert "只有该企业的联系人" in chat.click("boss_b", keys[0])[0].content
    assert (
        "包联部门将为您办理兑现"
        in chat.click("boss_a", keys[0], response_code=card["response_code"])[0].content
    )
    assert "已处理" in chat.click("boss_a", keys[1])[0].content
    run_jobs(runtime)
    with session_factory() as s:
        number = f"P{s.scalar(select(PolicyPush.id))}"  # ids are not reset between tests on PostgreSQL
    (ask,) = pushed_texts(standin.messages("gxj_wu"))
    assert "待兑现" in ask and f"兑现 {number}" in ask
    assert "仅限" in chat.text("boss_a", f"兑现 {number}")
    assert "已登记兑现" in chat.text("gxj_wu", f"兑现 {number}")
    assert "不能登记兑现" in chat.text("gxj_wu", f"兑现 {number}")
    run_jobs(runtime)
    assert any("已兑现" in t for t in pushed_texts(standin.messages("boss_a")))
    with session_factory() as s:
        assert s.scalar(select(PolicyPush.status)) == "delivered"


def test_a_profile_change_in_chat_is_re_matched(runtime, standin, county):
    policy_jobs.push()
    chat = Chat(runtime)
    assert "已更新" in chat.text("boss_b", "企业信息 营业收入 3000万")
    run_jobs(runtime)  # the re-match job the change scheduled
    assert len(push_cards(standin, "boss_b")) == 1
    chat.text("boss_b", "企业信息 营业收入 3100万")
    run_jobs(runtime)
    assert len(push_cards(standin, "boss_b")) == 1  # the same policy version is never pushed twice


def test_a_new_version_is_pushed_again(runtime, standin, county, session_factory):
    policy_jobs.push()
    with session_factory() as s:
        publish(
            s,
            read_catalog(HIGH_TECH.replace("amount_wan: 20", "amount_wan: 30")),
            now=T0,
            actor=None,
            source="v2",
        )
        s.commit()
    assert policy_jobs.push() == 1
    run_jobs(runtime)
    assert ["30万元" in str(c["body"]) for c in push_cards(standin, "boss_a")] == [False, True]


def test_an_enterprise_without_a_contact_is_pushed_when_one_is_confirmed(
    runtime, standin, county, session_factory
):
    with session_factory() as s:
        gxj = s.scalar(select(Department).where(Department.code == "GXJ"))
        firm = builders.enterprise(s, "示范县丁电子有限公司", gxj)
        for attribute, raw in PROFILES[("boss_a", "示范县甲电子有限公司")].items():
            set_value(s, firm, attribute, raw, source="import", by=None, now=T0)
        s.commit()
        uscc = firm.uscc
    assert policy_jobs.push() == 1  # boss_a's firm only: nobody to tell at 丁 yet, so no push is used up
    chat = Chat(runtime)
    chat.text("newcomer", f"绑定 {uscc} 刘总")
    with session_factory() as s:
        member_id = s.scalar(select(EnterpriseMember.id).where(EnterpriseMember.status == "pending"))
    assert "已同意" in chat.text("gxj_wu", f"同意绑定 B{member_id}")
    run_jobs(runtime)  # the re-match the confirmation scheduled
    assert len(push_cards(standin, "newcomer")) == 1


def test_a_benefit_taken_up_is_not_pushed_again_for_a_new_version(runtime, standin, county, session_factory):
    policy_jobs.push()
    run_jobs(runtime)
    (card,) = push_cards(standin, "boss_a")
    Chat(runtime).click("boss_a", card["body"]["template_card"]["button_list"][0]["key"])
    with session_factory() as s:
        publish(
            s,
            read_catalog(HIGH_TECH.replace("0530-1234567", "0530-7654321")),
            now=T0,
            actor=None,
            source="v2",
        )
        s.commit()
    assert policy_jobs.push() == 0  # confirmed already: a new phone number is no new benefit


def test_an_outdated_push_can_no_longer_be_confirmed(runtime, standin, county, session_factory):
    policy_jobs.push()
    run_jobs(runtime)
    (card,) = push_cards(standin, "boss_a")
    with session_factory() as s:
        publish(
            s,
            read_catalog(HIGH_TECH.replace("amount_wan: 20", "amount_wan: 30")),
            now=T0,
            actor=None,
            source="v2",
        )
        s.commit()
    answer = Chat(runtime).click("boss_a", card["body"]["template_card"]["button_list"][0]["key"])
    assert "已更新，请以最新推送为准" in answer[0].content
