"""诉求 through the router with the WeCom stand-in: what each person types, reads and clicks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.replies import TemplateCard, Text
from handlers.complaints.models import OrderState, WorkOrder
from tests.builders import Chat, pushed_cards, pushed_texts
from tests.complaints.conftest import County
from tests.conftest import run_jobs


@pytest.fixture
def chat(runtime, standin, county: County) -> Chat:
    """A chat with the bot for the county's cast."""
    return Chat(runtime)


def file_one(chat: Chat, text: str = "诉求 厂区门前道路破损，货车进出困难") -> str:
    """The enterprise files an order; its number."""
    replies = chat.say("zhang_wei", text)
    assert "诉求已受理" in replies[0].content, replies
    return replies[0].content.split("单号 ")[1].split("。")[0]


def cards_for(standin: Any, user: str) -> list[dict[str, Any]]:
    """The template cards `user` received, oldest first."""
    return pushed_cards(standin.messages(user))


def button(card: dict[str, Any], text: str) -> str:
    """The key of the card's button labelled `text`."""
    buttons = card["body"]["template_card"]["button_list"]
    return next(b["key"] for b in buttons if b["text"] == text)


def order(session_factory, number: str) -> WorkOrder:
    """The order as stored now."""
    with session_factory() as s:
        row = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert row is not None
        s.expunge(row)
        return row


def test_one_line_filing_answers_with_a_number_and_dispatches_cards(chat, runtime, standin, session_factory):
    number = file_one(chat, "诉求 用地 紧急 厂房扩建用地手续三个月未批")
    assert number == "S2611-0001"
    run_jobs(runtime)
    receipt = cards_for(standin, "zhang_wei")
    assert len(receipt) == 1 and "S2611-0001" in str(receipt[0]["body"])
    for official in ("gxj_zhou", "gxj_wu"):  # the enterprise's 包联部门, each once
        (card,) = cards_for(standin, official)
        body = str(card["body"])
        assert "新诉求待接单" in body and "用地" in body and "紧急" in body and "2026-11-25 09:30" in body
        assert [b["text"] for b in card["body"]["template_card"]["button_list"]] == ["接单", "转办", "退回"]
    assert cards_for(standin, "zrzyj_ma") == []  # routing rules suggest, the 包联部门 holds
    stored = order(session_factory, number)
    assert (stored.category, stored.urgency, stored.state) == ("用地", "紧急", "dispatched")


def test_empty_oversized_and_duplicate_filings_are_answered(chat):
    assert "请选择诉求类别" in chat.text("zhang_wei", "诉求")  # nothing typed: the guided filing
    assert "已取消" in chat.text("zhang_wei", "取消")
    assert "请写明您的诉求内容" in chat.text("zhang_wei", "诉求 紧急")
    assert "太长" in chat.text("zhang_wei", "诉求 " + "长" * 1001)
    number = file_one(chat)
    again = chat.text("wang_fang", "投诉 厂区门前道路破损，货车进出困难")  # a colleague, same text
    assert "相同的诉求刚刚已提交" in again and number in again


def test_who_may_file(chat):
    assert "只有企业联系人可以提交诉求" in chat.text("gxj_wu", "诉求 路灯坏了")
    assert "还没有绑定企业" in chat.text("zhou_min", "诉求 路灯坏了")  # binding still pending
    assert "还没有在政企直通车登记" in chat.text("nobody", "诉求 路灯坏了")


def test_guided_filing_with_a_photo(chat, runtime, standin, session_factory):
    with standin.state.lock:
        standin.state.media["photo-1"] = {"type": "image", "filename": "road.jpg", "size": 10}
    assert "请选择诉求类别" in chat.text("zhang_wei", "诉求")
    assert "类别：水电气" in chat.text("zhang_wei", "6")
    assert "紧急程度" in chat.text("zhang_wei", "园区停电三天，冷库食品面临变质")
    assert "照片" in chat.text("zhang_wei", "紧急")
    assert "第1张" in chat.image("zhang_wei", "photo-1")[0].content
    replies = chat.say("zhang_wei", "提交")
    assert "诉求已受理，单号 S2611-0001" in replies[0].content
    stored = order(session_factory, "S2611-0001")
    assert (stored.category, stored.urgency) == ("水电气", "紧急")
    assert stored.photos[0]["media_id"] == "photo-1"
    run_jobs(runtime)
    kinds = [m["msgtype"] for m in standin.messages("gxj_wu")]
    assert kinds == ["template_card", "image"]
    assert "当前没有进行中的操作" in chat.text("zhang_wei", "取消")  # the conversation ended


def test_a_wrong_choice_in_the_guided_filing_is_asked_again(chat):
    chat.text("zhang_wei", "诉求")
    answer = chat.text("zhang_wei", "99")
    assert "请回复诉求类别的序号或名称" in answer and "1. 审批" in answer


def test_pickup_by_card_and_the_other_officials_stale_card(chat, runtime, standin, session_factory):
    number = file_one(chat)
    run_jobs(runtime)
    (wu_card,) = cards_for(standin, "gxj_wu")
    (zhou_card,) = cards_for(standin, "gxj_zhou")
    replies = chat.click("gxj_wu", button(wu_card, "接单"), response_code=wu_card["response_code"])
    assert "已接单" in replies[0].content and "2026-11-25 09:30" in replies[0].content
    stale = chat.click("gxj_zhou", button(zhou_card, "接单"), response_code=zhou_card["response_code"])
    assert "已过期" in stale[0].content or "已被他人处理" in stale[0].content
    run_jobs(runtime)
    labels = {u["body"]["response_code"]: u["body"]["button"]["replace_name"] for u in standin.updates()}
    assert labels == {wu_card["response_code"]: "已接单", zhou_card["response_code"]: "已处理"}
    assert any("已由县工信局（吴晓燕）接单" in t for t in pushed_texts(standin.messages("zhang_wei")))
    assert order(session_factory, number).state == OrderState.PICKED_UP.value
    assert "诉求 S2611-0001 当前状态为「办理中」，不能接单" in chat.text("gxj_zhou", f"接单 {number}")


def test_transfer_by_card_asks_for_the_department_and_keeps_the_clock(
    chat, runtime, standin, session_factory
):
    number = file_one(chat, "诉求 用地 厂房扩建用地手续三个月未批")
    run_jobs(runtime)
    (card,) = cards_for(standin, "gxj_wu")
    ask = chat.click("gxj_wu", button(card, "转办"), response_code=card["response_code"])
    assert "一般由县自然资源局办理" in ask[0].content
    assert "没有找到部门" in chat.text("gxj_wu", "县水利局 不归我们")
    done = chat.text("gxj_wu", "自然资源局 用地审批归口")
    assert "已将诉求 S2611-0001 转办至县自然资源局" in done
    run_jobs(runtime)
    (ma_card,) = cards_for(standin, "zrzyj_ma")
    assert "县工信局转办诉求待接单" in str(ma_card["body"]) and "2026-11-25 09:30" in str(ma_card["body"])
    assert any("用地审批归口" in t for t in pushed_texts(standin.messages("zrzyj_ma")))
    assert any("转至县自然资源局办理" in t for t in pushed_texts(standin.messages("zhang_wei")))
    stored = order(session_factory, number)
    assert stored.holding_department_id != county_gxj_id(session_factory)
    # The old holder's card is stale now; the new holder acts.
    stale = chat.click("gxj_zhou", button(cards_for(standin, "gxj_zhou")[0], "接单"))
    assert "只有该部门干部或县领导可以操作" in stale[0].content
    assert "已接单" in chat.text("zrzyj_ma", f"接单 {number.lower()}")


def county_gxj_id(session_factory) -> int:
    from bot.models import Department

    with session_factory() as s:
        return s.scalar(select(Department.id).where(Department.code == "GXJ"))


def test_return_goes_to_coordinators_who_assign_it(chat, runtime, standin):
    number = file_one(chat)
    run_jobs(runtime)
    (card,) = cards_for(standin, "gxj_wu")
    assert "请选择退回理由" in chat.click("gxj_wu", button(card, "退回"))[0].content
    assert "已退回诉求 S2611-0001（非本部门职责）" in chat.text("gxj_wu", "1 应由住建局办理")
    run_jobs(runtime)
    for coordinator in ("yshj_li", "admin"):
        (returned,) = cards_for(standin, coordinator)
        assert "诉求被退回" in str(returned["body"]) and "应由住建局办理" in str(returned["body"])
    assert "只有营商环境部门" in chat.text("gxj_zhou", f"分派 {number} 县自然资源局")
    assert "已将诉求 S2611-0001 分派至县自然资源局" in chat.text("yshj_li", f"分派 {number} 县自然资源局")
    run_jobs(runtime)
    assert "协调后派单" in str(cards_for(standin, "zrzyj_ma")[0]["body"])


def test_resolve_then_unhappy_reopens_then_satisfied_closes(chat, runtime, standin, session_factory):
    number = file_one(chat)
    assert "尚未接单，请先接单再办结" in chat.text("gxj_wu", f"办结 {number} 已修复")
    chat.text("gxj_wu", f"接单 {number}")
    assert "请写明办理结果" in chat.text("gxj_wu", f"办结 {number}")
    assert "已办结" in chat.text("gxj_wu", f"办结 {number} 已协调交通局修补路面")
    run_jobs(runtime)
    (signoff,) = [c for c in cards_for(standin, "zhang_wei") if "请评价" in str(c["body"])]
    assert "已协调交通局修补路面" in str(signoff["body"])
    assert "只有「示范县鑫源食品有限公司」已绑定的联系人" in chat.text("li_na", f"评价 {number} 满意")

    ask = chat.click("zhang_wei", button(signoff, "不满意"), response_code=signoff["response_code"])
    assert "请简要说明原因" in ask[0].content
    replies = chat.say("zhang_wei", "路面只修了一半")
    assert "已退回县工信局重新办理" in replies[0].content
    run_jobs(runtime)
    assert [u["body"]["button"] for u in standin.updates()] == [{"replace_name": "已评价：不满意"}]
    rework = [c for c in cards_for(standin, "gxj_wu") if "返工" in str(c["body"])]
    assert len(rework) == 1 and "第1次" in str(rework[0]["body"])
    stored = order(session_factory, number)
    assert (stored.state, stored.rework_count) == ("dispatched", 1)

    chat.text("gxj_wu", f"接单 {number}")
    chat.text("gxj_wu", f"办结 {number} 已全部修复")
    run_jobs(runtime)
    second = [c for c in cards_for(standin, "zhang_wei") if "请评价" in str(c["body"])][-1]
    # The first sign-off card is stale: its 满意 must not close the new round.
    assert "已过期" in chat.click("zhang_wei", button(signoff, "满意"))[0].content
    thanks = chat.click("zhang_wei", button(second, "满意"), response_code=second["response_code"])
    assert "感谢您的评价（满意）" in thanks[0].content
    run_jobs(runtime)
    assert any("企业已评价诉求 S2611-0001：满意" in t for t in pushed_texts(standin.messages("gxj_wu")))
    assert order(session_factory, number).state == "closed"


def test_extension_needs_a_leader(chat, runtime, standin, session_factory):
    number = file_one(chat)
    chat.text("gxj_wu", f"接单 {number}")
    assert "没有看懂延期时间" in chat.text("gxj_wu", f"延期 {number} 下周 等批复")
    assert "等待县领导审批" in chat.text("gxj_wu", f"延期 {number} 3天 等待省厅批复")
    run_jobs(runtime)
    (card,) = cards_for(standin, "leader_wang")
    assert "等待省厅批复" in str(card["body"])
    assert "仅限县领导" in chat.text("gxj_zhou", f"批准延期 {number}")
    replies = chat.click("leader_wang", button(card, "批准"), response_code=card["response_code"])
    assert "已批准" in replies[0].content
    run_jobs(runtime)
    assert any(
        "经县领导批准延期，办结时限延至 2026-11-27 09:30" in t
        for t in pushed_texts(standin.messages("zhang_wei"))
    )
    assert order(session_factory, number).extended_until is not None


def test_queries_show_each_person_only_what_is_theirs(chat):
    number = file_one(chat)
    mine = chat.text("zhang_wei", "我的诉求")
    assert number in mine and "待接单" in mine
    assert "还没有提交过诉求" in chat.text("li_na", "我的诉求")
    assert "没有找到单号为 S2611-0001" in chat.text("li_na", f"诉求 {number}")
    assert "没有找到单号为 S2611-0001" in chat.text("zrzyj_ma", f"诉求 {number}")
    history = chat.text("gxj_wu", f"诉求 {number}")
    assert "提交诉求" in history and "派单" in history and "张伟" in history
    assert number in chat.text("gxj_zhou", "待办")
    assert "目前没有待办" in chat.text("zrzyj_ma", "待办")
    assert number in chat.text("leader_wang", "待办")
    assert "没有找到单号为 S2611-0099" in chat.text("gxj_wu", "接单 S2611-0099")
    assert "不是诉求单号" in chat.text("gxj_wu", "接单 abc")


def test_help_lists_the_commands_of_each_role(chat):
    enterprise = chat.text("zhang_wei", "帮助")
    assert "诉求" in enterprise and "我的诉求" in enterprise and "接单" not in enterprise
    official = chat.text("gxj_wu", "帮助")
    assert "待办" in official and "接单" in official and "我的诉求" not in official


def test_replies_are_text_first_then_a_card(chat):
    replies = chat.say("zhang_wei", "诉求 路灯坏了")
    assert isinstance(replies[0], Text) and not any(isinstance(r, TemplateCard) for r in replies)


def test_unhappy_on_a_stale_card_is_refused_before_asking_why(chat, runtime, standin):
    number = file_one(chat)
    chat.text("gxj_wu", f"接单 {number}")
    chat.text("gxj_wu", f"办结 {number} 已修复")
    run_jobs(runtime)
    (signoff,) = [c for c in cards_for(standin, "zhang_wei") if "请评价" in str(c["body"])]
    assert (
        "只有「示范县鑫源食品有限公司」已绑定的联系人"
        in chat.click("li_na", button(signoff, "不满意"))[0].content
    )
    chat.text("zhang_wei", f"评价 {number} 满意")
    stale = chat.click("zhang_wei", button(signoff, "不满意"), response_code=signoff["response_code"])
    assert "这张卡片已过期" in stale[0].content
    assert "当前没有进行中的操作" in chat.text("zhang_wei", "取消")  # no question was left open


def test_transfer_to_a_department_with_nobody_is_refused(chat, session_factory):
    from tests import builders

    with session_factory() as s:
        builders.department(s, "县水利局", "SLJ")
        s.commit()
    number = file_one(chat)
    assert "暂无在册干部" in chat.text("gxj_wu", f"转办 {number} 县水利局 水源问题")


def test_two_photos_sent_together_both_count(chat, runtime, standin, session_factory, monkeypatch):
    import threading
    import time as real_time

    from bot.conversation import ConversationStore

    with standin.state.lock:
        standin.state.media.update(
            {m: {"type": "image", "filename": f"{m}.jpg", "size": 1} for m in ("p1", "p2")}
        )
    for answer in ("诉求", "6", "园区停电三天，冷库食品面临变质", "紧急"):
        chat.text("zhang_wei", answer)
    slow_load = ConversationStore.load

    def load_slowly(self, user_id):  # widens the window between reading and saving the step
        conversation = slow_load(self, user_id)
        real_time.sleep(0.2)
        return conversation

    monkeypatch.setattr(ConversationStore, "load", load_slowly)
    threads = [threading.Thread(target=chat.image, args=("zhang_wei", m)) for m in ("p1", "p2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    assert "诉求已受理" in chat.say("zhang_wei", "提交")[0].content
    assert sorted(p["media_id"] for p in order(session_factory, "S2611-0001").photos) == ["p1", "p2"]
