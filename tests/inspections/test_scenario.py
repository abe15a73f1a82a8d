"""Acceptance: two departments register inspections of one enterprise through the encrypted webhook,
the heads approve with one tap, the bot offers 综合查一次, and both end up on one joint visit."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from bot.standin.platform import WeComPlatform
from handlers.inspections.models import Inspection
from tests.builders import pushed_cards, pushed_texts
from tests.conftest import run_jobs
from tests.inspections.conftest import FIRM


def latest_card(standin: Any, user: str, title: str) -> dict[str, Any]:
    """The newest card with `title` that `user` received."""
    return [c for c in pushed_cards(standin.messages(user)) if title in str(c["body"])][-1]


def tap(platform: WeComPlatform, user: str, card: dict[str, Any], button: int = 0) -> str:
    """`user` taps a button of a card he received; the bot's passive answer."""
    body = card["body"]["template_card"]
    delivery = platform.click(
        user,
        event_key=body["button_list"][button]["key"],
        task_id=body["task_id"],
        response_code=card["response_code"],
    )
    assert delivery.status == 200
    return delivery.reply or ""


def say(platform: WeComPlatform, user: str, text: str) -> str:
    """`user` types `text`; the bot's passive answer."""
    delivery = platform.send_text(user, text)
    assert delivery.status == 200
    return delivery.reply or ""


def test_two_registrations_end_in_one_approved_joint_visit(
    platform, runtime, standin, county, session_factory
):
    """Registered, decided at once, approved by the heads, offered and joined as one visit; each told once."""
    first = say(platform, "scjg_wang", "报备检查 鑫源食品 11月26日 市场监管 食品安全抽检")
    assert "J2611-0001" in first and "允许检查" in first
    second = say(platform, "yjj_sun", f"报备检查 {FIRM} 12月1日 消防 消防设施检查")
    assert "J2611-0002" in second and "不允许检查" in second and "每月1日至20日" in second
    third = say(platform, "yjj_sun", f"报备检查 {FIRM} 11月27日 消防 消防设施检查")
    assert "J2611-0003" in third and "允许检查" in third
    run_jobs(runtime)

    assert "已批准" in tap(platform, "scjg_li", latest_card(standin, "scjg_li", "待审批"))
    assert "已批准" in tap(platform, "yjj_zhao", latest_card(standin, "yjj_zhao", "待审批"))
    offer = latest_card(standin, "yjj_sun", "综合查一次")
    assert "2026-11-26" in str(offer["body"])
    assert "已同意联合检查" in tap(platform, "yjj_sun", offer)
    run_jobs(runtime)

    told = pushed_texts(standin.messages("zhang_wei"))
    assert [t[:8] for t in told] == ["【入企检查告知】", "【入企检查告知】", "【入企检查变更】"]  # each once
    assert "县应急管理局的消防检查（J2611-0003）改为 2026-11-26" in told[2]
    assert any("县应急管理局同意联合检查" in t for t in pushed_texts(standin.messages("scjg_wang")))
    blocked = [t for t in pushed_texts(standin.messages("leader_zhao")) if "被拦截" in t]
    assert len(blocked) == 1 and "J2611-0002" in blocked[0]
    with session_factory() as s:
        visits = {i.number: (i.status, i.planned_on, i.joint_key) for i in s.scalars(select(Inspection))}
    assert visits["J2611-0002"][0] == "blocked"
    joint = {n: v for n, v in visits.items() if v[0] == "approved"}
    assert {v[1] for v in joint.values()} == {date(2026, 11, 26)} and len({v[2] for v in joint.values()}) == 1
    assert [u["body"]["button"]["replace_name"] for u in standin.updates()] == [
        "已批准",
        "已批准",
        "已同意联合检查",
    ]
