"""绑定 through the router: request, approver's card, confirmation, and every refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import AuditEvent, BindingStatus, EnterpriseMember, Role
from tests import builders
from tests.builders import Chat, pushed_cards, pushed_texts
from tests.conftest import run_jobs


@pytest.fixture
def county(runtime, session_factory):
    """One 包联部门 with two officials, another department, an admin and an enterprise."""
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        other = builders.department(s, "县商务局", "SWJ")
        builders.person(s, "gxj_zhou", Role.OFFICIAL, "周海涛", department=gxj, is_head=True)
        builders.person(s, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj)
        builders.person(s, "swj_zheng", Role.OFFICIAL, "郑立新", department=other)
        builders.person(s, "admin", Role.ADMIN, "孙丽")
        ent = builders.enterprise(s, "示范县鑫源食品有限公司", gxj)
        s.commit()
        return {"uscc": ent.uscc}


def test_unknown_user_binds_and_contact_department_confirms_by_card(runtime, standin, county):
    chat = Chat(runtime)
    answer = chat.text("new_boss", f"绑定 {county['uscc']} 刘总")
    assert "已提交绑定申请" in answer and "县工信局" in answer
    run_jobs(runtime)
    cards = pushed_cards(standin.messages())
    assert sorted(c["touser"] for c in cards) == ["gxj_wu", "gxj_zhou"]  # only the 包联部门
    card = next(c for c in cards if c["touser"] == "gxj_zhou")
    assert "刘总" in str(card["body"]) and "示范县鑫源食品有限公司" in str(card["body"])

    ok_key = card["body"]["template_card"]["button_list"][0]["key"]
    replies = chat.click("gxj_zhou", ok_key, response_code=card["response_code"])
    assert "已同意绑定申请" in replies[0].content
    run_jobs(runtime)
    assert any("申请已通过" in t for t in pushed_texts(standin.messages("new_boss")))
    assert [u["body"]["response_code"] for u in standin.updates()] == [card["response_code"]]

    # The other official's card is now stale: a click is refused and changes nothing.
    wu_card = next(c for c in cards if c["touser"] == "gxj_wu")
    stale = chat.click("gxj_wu", ok_key, response_code=wu_card["response_code"])
    assert "已被处理" in stale[0].content
    run_jobs(runtime)
    retired = [u for u in standin.updates() if u["body"]["response_code"] == wu_card["response_code"]]
    assert [u["body"]["button"] for u in retired] == [{"replace_name": "已处理"}]
    assert "企业：示范县鑫源食品有限公司（已确认）" in chat.text("new_boss", "我是谁")


def test_officials_of_other_departments_cannot_confirm(runtime, standin, county, session_factory):
    chat = Chat(runtime)
    chat.text("new_boss", f"绑定 {county['uscc']}")
    with session_factory() as s:
        member_id = s.scalar(select(EnterpriseMember.id))
    assert "只有该企业的包联部门" in chat.text("swj_zheng", f"同意绑定 B{member_id}")
    assert "仅限干部、管理员" in chat.text("new_boss", f"同意绑定 B{member_id}")
    assert "已同意" in chat.text("admin", f"同意绑定 B{member_id}")
    with session_factory() as s:
        assert s.scalar(select(EnterpriseMember.status)) == BindingStatus.CONFIRMED.value
        actions = [a for (a,) in s.execute(select(AuditEvent.action).order_by(AuditEvent.id))]
    assert actions == ["person.self_register", "binding.request", "binding.confirm"]


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("绑定 91371526MA3C8X2Y4", "应为18位"),
        ("绑定 9137152IMA3C8X2Y4K", "不是合法字符"),
        ("绑定 91371526MA0000001A", "校验位"),
    ],
)
def test_bad_codes_are_named_in_the_reply(runtime, county, typed, expected):
    assert expected in Chat(runtime).text("new_boss", typed)


def test_unregistered_enterprise_and_repeated_requests(runtime, county):
    from bot.uscc import make_uscc

    chat = Chat(runtime)
    assert "没有找到统一社会信用代码" in chat.text("new_boss", f"绑定 {make_uscc('91371526MA9999999')}")
    chat.text("new_boss", f"绑定 {county['uscc']}")
    assert "正在等待确认" in chat.text("new_boss", f"绑定 {county['uscc']}")
    assert "仅限企业使用" in chat.text("gxj_zhou", f"绑定 {county['uscc']}")


def test_pending_list_shows_only_the_approvers_requests(runtime, county):
    chat = Chat(runtime)
    chat.text("new_boss", f"绑定 {county['uscc']} 刘总")
    assert "刘总" in chat.text("gxj_wu", "绑定申请")
    assert "没有等待确认" in chat.text("swj_zheng", "绑定申请")


def test_guided_binding_asks_step_by_step_and_a_typo_is_asked_again(runtime, county, session_factory):
    chat = Chat(runtime)
    assert "请发送企业的统一社会信用代码" in chat.text("new_boss", "绑定")
    typo = chat.text("new_boss", county["uscc"][:-1] + "0")
    assert "校验位" in typo and "取消" in typo  # still at step 1, and told how to leave
    assert "请发送您的姓名" in chat.text("new_boss", county["uscc"])
    assert "可用命令" in chat.text("new_boss", "帮助")  # help mid-conversation is help, not a name
    assert "已提交绑定申请" in chat.text("new_boss", "刘总")
    with session_factory() as s:
        assert s.scalar(select(EnterpriseMember.status)) == BindingStatus.PENDING.value
    assert "没有看懂" in chat.text("new_boss", "刘总")  # the conversation has ended


def test_cancel_ends_a_guided_binding(runtime, county, session_factory):
    chat = Chat(runtime)
    chat.text("new_boss", "绑定")
    assert chat.text("new_boss", "取消") == "已取消当前操作。"
    assert "没有看懂" in chat.text("new_boss", county["uscc"])
    with session_factory() as s:
        assert s.scalar(select(EnterpriseMember.id)) is None


def test_a_refusal_the_user_cannot_fix_ends_the_conversation(runtime, county):
    chat = Chat(runtime)
    chat.text("new_boss", "绑定")
    chat.text("new_boss", county["uscc"])
    chat.text("new_boss", "取消")
    chat.text("new_boss", f"绑定 {county['uscc']} 刘总")  # filed directly meanwhile
    chat.text("new_boss", "绑定")
    chat.text("new_boss", county["uscc"])
    assert "正在等待确认" in chat.text("new_boss", "刘总")  # Conflict at the last step…
    assert "没有看懂" in chat.text("new_boss", "刘总")  # …ends the conversation: no trap
