"""Group chats through real processes: an @-mention of the 智能机器人 goes into `ztc web`'s
/wecom/aibot, the real `ztc worker` posts the rest of the answer to the response_url that
`ztc standin` issued, and cards still reach the person's 1:1 app chat."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from bot.standin.platform import WeComPlatform
from tests.e2e.conftest import E2E, wait_until

pytestmark = pytest.mark.e2e

GROUP = "wrDemoGroupXianGXJ"
DELIVERY_TIMEOUT = 15.0
SETTLE = 1.0


def group_platform(e2e: E2E) -> WeComPlatform:
    """WeCom posting AI-bot callbacks to the web process, response_urls from the stand-in process."""
    s = e2e.settings
    return WeComPlatform(
        f"{e2e.web_url}/wecom/callback", s.wecom_corp_id, s.wecom_token, s.wecom_aes_key, s.wecom_agent_id,
        aibot_token=s.aibot_token, aibot_aes_key=s.aibot_aes_key, standin_url=e2e.standin.url,
    )  # fmt: skip


def group_chat(e2e: E2E, chatid: str) -> list[dict[str, Any]]:
    """What the group received, as the stand-in process recorded it."""
    response = requests.get(f"{e2e.standin.url}/_standin/chats", params={"chatid": chatid}, timeout=5)
    return list(response.json()["chats"])


def test_a_work_order_filed_in_a_group_is_answered_there_and_its_card_arrives_1to1(e2e: E2E) -> None:
    platform = group_platform(e2e)
    started = time.monotonic()
    delivery = platform.group_say("zhang_wei", GROUP, "诉求 用地 厂房扩建用地手续三个月未批")
    assert time.monotonic() - started < 3.0
    assert delivery.status == 200 and delivery.reply is not None, delivery.body[:300]
    assert delivery.reply["msgtype"] == "stream" and delivery.reply["stream"]["finish"] is True
    assert re.search(r"S\d{4}-\d{4}", delivery.text or ""), delivery.text

    chat = wait_until(lambda: group_chat(e2e, GROUP), "the answer in the group", timeout=DELIVERY_TIMEOUT,
                      check=e2e.check)  # fmt: skip
    cards = wait_until(
        lambda: [m for m in e2e.standin.messages("zhang_wei") if m["msgtype"] == "template_card"],
        "the status card in zhang_wei's app chat", timeout=DELIVERY_TIMEOUT, check=e2e.check,
    )  # fmt: skip
    time.sleep(SETTLE)
    assert [e["via"] for e in group_chat(e2e, GROUP)] == ["response_url"]  # one post: the url takes one
    assert "卡片已发到您与「政企直通车」应用的单聊" in chat[0]["content"]
    assert len(cards) == 1
