"""政策 and 企业信息 through the router: the 明白卡, one policy's reasoning, the profile, who may see what."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.models import BindingStatus, Enterprise, EnterpriseMember, Role
from bot.replies import Text
from handlers.policies.catalog import publish
from handlers.policies.catalog_reading import read_catalog
from handlers.policies.chat import ASK_HEAD, CLOSING, LINE_BYTES, TEXT_BYTES, _card_text
from handlers.policies.matching import match
from handlers.policies.models import PolicyAnswer, ProfileValue
from handlers.policies.profile import set_value
from tests import builders
from tests.builders import Chat, pushed_cards
from tests.conftest import T0, run_jobs
from tests.policies.samples import DAY, HIGH_TECH, SMALL_FIRMS


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


def test_the_contacts_card_opens_the_full_card_on_the_web_with_every_reason(chat, runtime, standin):
    from bot import create_app

    chat.text("zhang_wei", "政策")
    run_jobs(runtime)
    (card,) = pushed_cards(standin.messages("zhang_wei"))
    url = card["body"]["template_card"]["card_action"]["url"]
    assert url.startswith("http://127.0.0.1:8400/h5/policies?t=")
    page = create_app(runtime=runtime).test_client().get(url.split("127.0.0.1:8400", 1)[1])
    assert page.status_code == 200 and "示范县鑫源电子有限公司" in page.text
    assert "高新技术企业认定奖励" in page.text and "营业收入须不低于2000万元" in page.text  # the reasoning


def test_an_officials_card_has_no_link_to_the_contacts_page(chat, runtime, standin):
    chat.text("gxj_wu", "政策 鑫源电子")
    run_jobs(runtime)
    (card,) = pushed_cards(standin.messages("gxj_wu"))
    assert "url" not in card["body"]["template_card"].get("card_action", {})


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


# --- one text message: the 明白卡 and the reasoning within TEXT_BYTES -------------------------------


CONTACT = "县工业和信息化局中小企业服务中心（政务服务中心三楼）0530-1234567"


def policy(
    code: str, title: str, conditions: list[dict[str, Any]], good: dict[str, Any], **fields: Any
) -> dict:
    """A generated policy (JSON is YAML): `good` qualifies, an empty profile does not."""
    bad = "not" if sum("attr" in c for c in conditions) > 1 else "near"
    return {
        "code": code, "title": title, "issuer": "县工业和信息化局", "doc_number": "县工信发〔2026〕9号",
        "level": "县", "valid_from": "2026-01-01", "benefit": "一次性奖励", "mode": "即申即享",
        "how_to": "在县政务服务网申报", "contact": CONTACT,
        "conditions": conditions,
        "examples": [{"name": "符合", "profile": good, "expect": "qualified"},
                     {"name": "一无所知", "profile": {}, "expect": bad}],
        **fields,
    }  # fmt: skip


def publish_generated(session_factory, *policies: dict[str, Any]) -> None:
    with session_factory() as s:
        publish(s, read_catalog(json.dumps(list(policies), ensure_ascii=False)), now=T0, source="gen.yaml")
        s.commit()


SMALL = {"attr": "size", "in": ["小型"]}  # the county's enterprise is 小型
UNKNOWN = {  # what it has not told: each makes a policy near, asking one question
    "employees": ({"attr": "employees", "min": 10}, 30),
    "tax_wan": ({"attr": "tax_wan", "min": 10}, 50),
    "rnd_wan": ({"attr": "rnd_wan", "min": 10}, 50),
    "export": ({"attr": "export", "is": True}, True),
    "investment_wan": ({"attr": "investment_wan", "min": 100}, 500),
    "established": ({"attr": "established", "years_at_least": 1}, "2020-01-01"),
}


def listed(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"· {prefix}")]


def test_a_card_too_long_for_one_message_is_cut_to_whole_lines_and_says_how_many_are_left_out(
    chat, session_factory
):
    qualified = [
        policy(
            f"Q-{n:02d}",
            f"稳岗补贴（第{n}批）",
            [SMALL],
            {"size": "小型"},
            amount_wan=20 - n,
            contact="县人社局",
        )
        for n in range(1, 10)
    ]
    qualified.append(policy("Q-00", "长" * 200, [SMALL], {"size": "小型"}, amount_wan=50))  # listed first
    long_title = "示范县中小企业数字化转型暨智能制造专项资金奖励" * 2
    near = [
        policy(f"N-{key}", f"{long_title}（{key}）", [SMALL, spec], {"size": "小型", key: value})
        for key, (spec, value) in UNKNOWN.items()
    ]
    publish_generated(session_factory, *qualified, *near)

    text = chat.text("zhang_wei", "政策")
    lines = text.splitlines()
    assert len(text.encode()) <= TEXT_BYTES < 2048
    assert lines[0] == "【示范县鑫源电子有限公司 · 惠企政策明白卡】" and lines[-1] == CLOSING
    assert lines[1] == "✅ 可享受（10项）：" and lines[2].startswith("· Q-00 长长")
    assert lines[2].endswith("…") and len(lines[2].encode()) <= LINE_BYTES  # one absurd title is cut
    assert len(listed(text, "Q-")) == 8 and lines[10] == "……另有2项未列出"  # the eight a card holds
    assert lines[11] == "🔶 差一个条件（7项）：" and lines[12].startswith("· XKJ-GQ-2026")  # and six
    shown_near = listed(text, "N-") + listed(text, "XKJ-")
    assert 1 < len(shown_near) < 5 and f"……另有{7 - len(shown_near)}项未列出" in lines  # cut to fit
    asks = lines[lines.index(ASK_HEAD) + 1 : -2]  # then the questions that fit (shorter lines)
    assert asks and all(q.startswith("· 贵企业") for q in asks)
    assert lines[-2] == f"……另有{7 - len(asks)}项待补充"  # one question for each near policy
    assert chat.text("gxj_wu", "政策 鑫源电子") == text  # the same card for its 包联部门

    with session_factory() as s:  # a hundred qualified: only whole lines, always the closing line
        firm = s.scalars(select(Enterprise)).one()
        results = match(s, firm.id, DAY)
        for policy_ in (r.policy for r in results):
            policy_.title = "长" * 200
            policy_.contact = "县" * 200
        many = _card_text(firm, results * 10)
    assert len(many.encode()) <= TEXT_BYTES and many.endswith(CLOSING)
    assert "✅ 可享受（100项）：" in many and "🔶 差一个条件（70项）：" in many
    shown = [line for line in many.splitlines() if line.startswith("· ") and "贵企业" not in line]
    left_qualified, left_near, _ = (int(n) for n in re.findall(r"^……另有(\d+)项", many, re.MULTILINE))
    assert shown and len(shown) + left_qualified + left_near == 170


def test_the_reasoning_keeps_every_condition_and_shares_what_is_left_between_benefit_and_how_to(
    chat, session_factory
):
    manual = [
        {"manual": f"近三年未发生重大安全生产、环境污染或产品质量事故（承诺事项第{n}项）"} for n in range(49)
    ]
    long = {
        "benefit": "按实际投入给予补助。" * 200,
        "how_to": "登录县政务服务网，" + "上传材料并等待审核。" * 180,
        "contact": "县工业和信息化局" * 25, "link": "https://example.gov.cn/" + "a" * 470,
    }  # fmt: skip
    publish_generated(
        session_factory,
        policy("R-MANY", "条件很多的政策", [SMALL, *manual], {"size": "小型"}, **long),
        policy("R-LONG", "待遇很长的政策", [SMALL], {"size": "小型"}, **{**long, "how_to": "当场办结"}),
    )

    many = chat.text("zhang_wei", "政策 R-MANY")
    lines = many.splitlines()
    assert len(many.encode()) <= TEXT_BYTES
    shown = [line for line in lines if re.match(r"\d+\. ", line)]
    assert shown[0].startswith("1. 企业规模须为小型") and len(shown) < 50
    assert f"……另有{50 - len(shown)}条条件未列出，请咨询办理部门" in lines
    benefit, how_to = (
        next(line for line in lines if line.startswith(w)) for w in ("待遇：", "办理：即申即享。")
    )
    assert benefit.endswith("…") and how_to.endswith("…")
    assert len(benefit.encode()) >= 140 and len(how_to.encode()) >= 140  # an excerpt of each
    assert lines[-1].startswith("咨询：县工业和信息化局") and lines[-1].endswith("…")

    one = chat.text("zhang_wei", "政策 R-LONG")
    lines = one.splitlines()
    assert not any(line.startswith("……另有") for line in lines)  # every condition shown
    assert "办理：即申即享。当场办结" in lines  # the short one whole …
    benefit = next(line for line in lines if line.startswith("待遇："))
    assert benefit.endswith("…")  # … the long one cut to what is left
    assert TEXT_BYTES - 10 <= len(one.encode()) <= TEXT_BYTES


# --- card keys, codes, who may see ------------------------------------------------------------------


def answer(replies: list[Any]) -> str:
    assert len(replies) == 1 and isinstance(replies[0], Text), replies
    return replies[0].content


def test_a_card_key_with_an_odd_enterprise_id_is_a_stale_card_not_an_error(chat, session_factory):
    with session_factory() as s:
        firm_id = s.scalars(select(Enterprise.id)).one()
    assert "高新技术企业认定奖励" in answer(chat.click("zhang_wei", f"policy:show:XKJ-GQ-2026:{firm_id}"))
    for raw in ("\u00b2", f"{firm_id}\u00b9", "\uff11", "9" * 10, "9" * 40, "", "-1", f" {firm_id}"):
        text = answer(chat.click("zhang_wei", f"policy:show:XKJ-GQ-2026:{raw}"))
        assert text.startswith("这张卡片已失效"), (raw, text)
    assert answer(chat.click("zhang_wei", f"policy:show::{firm_id}")).startswith("这张卡片已失效")
    assert "没有找到该企业" in answer(chat.click("zhang_wei", "policy:show:XKJ-GQ-2026:999999999"))


def test_a_policy_imported_with_a_lowercase_code_is_found_however_it_is_typed(
    chat, runtime, standin, session_factory
):
    publish_generated(
        session_factory,
        policy("xkj-gq-low", "小写编号的政策", [SMALL], {"size": "小型"}, amount_wan=99),
        policy("xkj-old", "已过期的政策", [SMALL], {"size": "小型"}, valid_to="2026-06-30"),
    )
    for typed in ("xkj-gq-low", "XKJ-GQ-LOW", "Xkj-Gq-Low", "ｘｋｊ－ｇｑ－ｌｏｗ"):
        assert "小写编号的政策" in chat.text("zhang_wei", f"政策 {typed}").splitlines()[0], typed
    assert "小写编号的政策" in chat.text("gxj_wu", "政策 鑫源电子 xkj-gq-low")
    assert "政策 XKJ-OLD 当前不在有效期内" in chat.text("zhang_wei", "政策 xkj-old")
    chat.say("zhang_wei", "政策")
    run_jobs(runtime)
    (card,) = pushed_cards(standin.messages("zhang_wei"))
    button = card["body"]["template_card"]["button_list"][0]
    assert button["text"] == "查看 xkj-gq-low"  # the largest amount first, as written
    assert "小写编号的政策" in answer(chat.click("zhang_wei", button["key"]))


def test_an_official_without_a_department_is_not_the_contact_of_an_enterprise_without_one(
    chat, session_factory
):
    with session_factory() as s:
        builders.person(s, "no_dept", Role.OFFICIAL, "无部门干部")
        builders.enterprise(s, "示范县无包联商贸有限公司")
        firm_id = s.scalars(select(Enterprise.id).where(Enterprise.name.contains("无包联"))).one()
        s.commit()
    refused = "只有「示范县无包联商贸有限公司」的联系人、包联部门干部和县领导"
    assert refused in chat.text("no_dept", "政策 无包联商贸")
    assert refused in chat.text("no_dept", "政策 无包联商贸 XKJ-GQ-2026")
    assert refused in chat.text("no_dept", "企业信息 无包联商贸")
    assert refused in chat.text("no_dept", "企业信息 无包联商贸 从业人数 120")
    assert refused in answer(chat.click("no_dept", f"policy:show:XKJ-GQ-2026:{firm_id}"))
    assert "暂未匹配到可直接享受的政策" in chat.text("leader_wang", "政策 无包联商贸")  # a leader still may
    with session_factory() as s:
        assert s.scalars(select(ProfileValue).where(ProfileValue.enterprise_id == firm_id)).all() == []
