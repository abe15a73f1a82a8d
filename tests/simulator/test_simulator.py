"""The simulator's page and actions over the real webhook and stand-in (in-process here; in a real
browser against real processes in tests/browser/)."""

from __future__ import annotations

import itertools
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from flask.testing import FlaskClient

from bot.demo import seed
from bot.runtime import Runtime
from bot.settings import DEMO_CORP_ID, DEMO_SECRET
from bot.simulator.app import create_simulator_app
from bot.simulator.county import demo_county
from bot.simulator.feed import Entry, Feed, Revisions, _grown
from bot.simulator.markup import http_url, wecom_markdown
from bot.standin.line import BotLine
from bot.standin.platform import WeComPlatform
from bot.standin.server import StandinServer
from tests.conftest import run_jobs

JSON = {"Accept": "application/json"}
ZONE = ZoneInfo("Asia/Shanghai")


def simulator(line: BotLine) -> FlaskClient:
    """A test client of the simulator; its feed reads the stand-in afresh at every request."""
    ticks = itertools.count(step=10.0)
    county = demo_county("demo-leaders-robot")
    feed = Feed(line, clock=lambda: next(ticks))
    return create_simulator_app(feed, county, default_user="zhang_wei", zone=ZONE).test_client()


@pytest.fixture
def page(platform: WeComPlatform, standin: StandinServer) -> FlaskClient:
    """The simulator in front of the test webhook and the stand-in."""
    return simulator(BotLine(platform, standin.url.rstrip("/")))


@pytest.fixture
def county_seeded(runtime: Runtime) -> Runtime:
    """The demo county in the test database, as `ztc demo` loads it."""
    seed(runtime)
    return runtime


def feed(page: FlaskClient, since: int = 0, **view: str) -> dict[str, Any]:
    """GET /feed: the entries changed after `since`, per pane, and the revision now."""
    answer = page.get("/feed", query_string={"since": since, **view})
    assert answer.status_code == 200, answer.text
    assert answer.json is not None
    return answer.json


def texts(entries: list[dict[str, Any]]) -> str:
    """The entries' HTML reduced to their words."""
    return " ".join(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", e["html"])) for e in entries)


def say(page: FlaskClient, user: str, text: str, path: str = "/say", **extra: str) -> dict[str, Any]:
    answer = page.post(path, data={"as": user, "text": text, **extra}, headers=JSON)
    assert answer.json is not None
    return answer.json


# ---------------------------------------------------------------- the page


def test_the_picker_offers_the_demo_county_by_role_with_names(page):
    html = page.get("/?as=gxj_zhou").text
    headings = re.findall(r'<h2 id="role-\d">(.+?)</h2>', html)
    assert headings == ["企业联系人", "干部", "县领导", "管理员"]
    assert "张伟" in html and "周海涛" in html and "王建国" in html and "孙丽" in html
    assert re.search(r'aria-current="page">\s*<span class="name">周海涛</span>', html)
    assert "县工信局工作群" in html and "县领导工作群" in html  # a group per 群机器人, and the leaders'
    assert '<label for="chat-text">' in html and '<label for="group-text">' in html
    assert "/static/simulator.js" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # everything served here, nothing from a CDN


def test_the_demo_county_has_its_people_and_groups():
    county = demo_county()
    assert [(heading, len(people)) for heading, people in county.sections()] == [
        ("企业联系人", 8), ("干部", 20), ("县领导", 3), ("管理员", 1),
    ]  # fmt: skip
    zhou_min = county.person("ZHOU_MIN")
    assert zhou_min is not None and zhou_min.note == "未绑定企业，理事长"
    assert county.person("zrzyj_feng").note == "县自然资源局，局长"  # type: ignore[union-attr]
    assert [g.name for g in county.groups][:2] == ["县发改局工作群", "县工信局工作群"]
    assert "绑定 93371526MA37GY375E 周敏" in county.examples("zhou_min")


# ---------------------------------------------------------------- chatting through the real callbacks


def test_a_request_is_filed_picked_up_on_its_card_and_the_card_changes(page, county_seeded):
    assert say(page, "zhang_wei", "诉求 用地 厂房扩建用地手续三个月未批") == {"ok": True, "error": None}
    first = feed(page, **{"as": "zhang_wei"})
    chat = texts(first["chat"])
    assert "张伟（zhang_wei） " in chat and "诉求已受理，单号 S2611-0001" in chat
    run_jobs(county_seeded)  # the worker sends the cards
    later = feed(page, first["rev"], **{"as": "zhang_wei"})
    assert [e["id"] for e in later["chat"]] == [e["id"] for e in later["chat"] if e["id"].startswith("m")]
    assert "诉求已受理" in texts(later["chat"]) and "查看进度" in texts(later["chat"])
    assert "发给 周海涛（gxj_zhou）" in texts(later["log"])  # the dispatch card, seen from anywhere

    official = page.get("/?as=gxj_zhou").text
    [(seq, key)] = re.findall(
        r'name="seq" value="(\d+)">\s*<button type="submit" name="key" value="([^"]+)"', official
    )
    before = feed(page, **{"as": "gxj_zhou"})
    answer = page.post("/click", data={"as": "gxj_zhou", "seq": seq, "key": key}, headers=JSON)
    assert answer.json == {"ok": True, "error": None}
    run_jobs(county_seeded)  # the card update goes out through the outbox
    after = feed(page, before["rev"], **{"as": "gxj_zhou"})
    chat = texts(after["chat"])
    assert "周海涛点击了「接单」" in chat and "已接单：诉求 S2611-0001" in chat
    [card] = [e for e in after["chat"] if e["id"] == f"m{seq}"]  # the same card, re-rendered
    assert re.search(r"<button type=\"button\" disabled>已接单</button>", card["html"])
    assert 'name="key"' not in card["html"]


def test_nothing_is_sent_again_to_a_page_that_has_it(page, county_seeded):
    say(page, "zhang_wei", "我是谁")
    first = feed(page, **{"as": "zhang_wei"})
    assert "示范县鑫源食品有限公司" in texts(first["chat"])
    again = feed(page, first["rev"], **{"as": "zhang_wei"})
    assert again["chat"] == again["group"] == again["log"] == []


def test_an_example_button_sends_its_text(page, county_seeded):
    answer = page.post("/say", data={"as": "leader_wang", "text": "", "quick": "我是谁"}, headers=JSON)
    assert answer.json == {"ok": True, "error": None}
    assert "王建国" in texts(feed(page, **{"as": "leader_wang"})["chat"])


def test_an_at_mention_in_a_group_is_answered_in_that_group(page, county_seeded):
    group = "wrDemoGroupXianGXJ"
    assert say(page, "gxj_zhou", "我是谁", "/group/say", group=group)["ok"]
    shown = feed(page, **{"as": "gxj_zhou", "group": group})
    assert "@政企直通车 我是谁" in texts(shown["group"]) and "周海涛" in texts(shown["group"])
    assert "@政企直通车" not in texts(feed(page, **{"as": "gxj_zhou"})["group"])  # not in another group


def test_a_plain_form_post_comes_back_to_the_page(page, county_seeded):
    answer = page.post("/say", data={"as": "zhang_wei", "group": "wrDemoGroupXianGXJ", "text": "帮助"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/?as=zhang_wei&group=wrDemoGroupXianGXJ&log=#chat")


def send_file_as_the_bot(standin: StandinServer, touser: str, filename: str, data: bytes) -> None:
    """Upload a file and send it to `touser` through the stand-in's API, as the outbox does."""
    secret = {"corpid": DEMO_CORP_ID, "corpsecret": DEMO_SECRET}
    token = requests.get(f"{standin.base_url}gettoken", params=secret, timeout=5).json()["access_token"]
    upload = requests.post(f"{standin.base_url}media/upload", params={"access_token": token, "type": "file"},
                           files={"media": (filename, data)}, timeout=5).json()  # fmt: skip
    body = {"touser": touser, "agentid": 1000002, "msgtype": "file", "file": {"media_id": upload["media_id"]}}
    assert requests.post(f"{standin.base_url}message/send", params={"access_token": token}, json=body,
                         timeout=5).json()["errcode"] == 0  # fmt: skip


def test_a_file_the_bot_sent_can_be_opened_when_it_is_on_this_machine(platform, standin, tmp_path):
    (tmp_path / "台账.xlsx").write_bytes(b"PK-workbook")
    send_file_as_the_bot(standin, "leader_wang", "台账.xlsx", b"PK-workbook")
    send_file_as_the_bot(standin, "leader_wang", "elsewhere.xlsx", b"PK-other")
    feed_ = Feed(BotLine(platform, standin.url.rstrip("/")), clock=itertools.count(step=10.0).__next__)
    page = create_simulator_app(feed_, demo_county(), default_user="leader_wang", zone=ZONE,
                                media_dirs=(tmp_path,)).test_client()  # fmt: skip
    html = page.get("/?as=leader_wang").text
    [link] = set(
        re.findall(r'文件：<a href="(/media/[^"]+)" download>台账.xlsx</a>（11 字节）', html)
    )  # chat and log
    assert "文件：elsewhere.xlsx（8 字节）" in html  # not here: named, not offered
    with page.get(link) as opened:  # closing the response closes the file it streams
        assert opened.status_code == 200 and opened.data == b"PK-workbook"
        assert "attachment" in opened.headers["Content-Disposition"]
    assert page.get("/media/standin-media-nosuch").status_code == 404


# ---------------------------------------------------------------- refusals


def test_what_cannot_be_sent_is_refused_with_a_reason(page):
    assert say(page, "zhang_wei", "   ") == {"ok": False, "error": "请输入要发送的内容。"}
    refused = page.post("/say", data={"as": "zhang wei", "text": "帮助"}, headers=JSON)
    assert refused.status_code == 400 and refused.json == {
        "ok": False,
        "error": "账号只能包含字母、数字和 _ . @ -",
    }
    assert page.post("/say", data={"as": "zhang_wei", "text": "长" * 2001}, headers=JSON).status_code == 400
    assert (
        page.post("/group/say", data={"as": "zhang_wei", "group": "wrNoSuch", "text": "帮助"}).status_code
        == 400
    )
    assert page.get("/feed?since=abc").status_code == 400


def test_a_card_can_only_be_pressed_by_its_recipient(page, county_seeded, standin):
    say(page, "zhang_wei", "诉求 用地 厂房扩建用地手续三个月未批")
    run_jobs(county_seeded)
    [card] = [m for m in standin.messages("gxj_zhou") if m["msgtype"] == "template_card"]
    key = card["body"]["template_card"]["button_list"][0]["key"]
    answer = page.post("/click", data={"as": "zhang_wei", "seq": card["seq"], "key": key}, headers=JSON)
    assert answer.json == {"ok": False, "error": "这张卡片上没有这个按钮。"}
    forged = page.post(
        "/click", data={"as": "gxj_zhou", "seq": card["seq"], "key": "order:take:X"}, headers=JSON
    )
    assert forged.json == {"ok": False, "error": "这张卡片上没有这个按钮。"}


def test_only_this_machine_may_use_it(page):
    assert page.get("/", headers={"Host": "evil.example:8402"}).status_code == 400
    posted = page.post("/say", data={"as": "zhang_wei", "text": "帮助"},
                       headers={"Origin": "https://evil.example", **JSON})  # fmt: skip
    assert posted.status_code == 403
    assert page.get("/", headers={"Host": "localhost:8402"}).status_code == 200


def test_a_missing_standin_is_named_not_a_crash(platform):
    page = simulator(BotLine(platform, "http://127.0.0.1:9"))  # nothing listens on the discard port
    assert "本地企业微信替身没有响应" in page.get("/").text
    answer = page.get("/feed?since=0")
    assert answer.status_code == 503 and "替身没有响应" in answer.json["error"]


# ---------------------------------------------------------------- pieces


def test_markdown_is_rendered_without_letting_markup_in():
    html = str(wecom_markdown('**已受理** <script>alert(1)</script> [进度](https://x.example/a?b=1&c=2) '
                              '[坏](javascript:alert(1)) <font color="warning">逾期</font> <@gxj_zhou>',
                              {"gxj_zhou": "周海涛"}.get))  # fmt: skip
    assert "<strong>已受理</strong>" in html and "<script>" not in html and "&lt;script&gt;" in html
    assert (
        '<a href="https://x.example/a?b=1&amp;c=2" rel="noopener noreferrer" target="_blank">进度</a>' in html
    )
    assert "javascript:" in html and 'href="javascript' not in html
    assert '<span class="font-warning">逾期</span>' in html and '<span class="mention">@周海涛</span>' in html
    assert http_url("javascript:alert(1)") == "#" and http_url("http://127.0.0.1/x") == "http://127.0.0.1/x"


def test_revisions_bring_only_what_is_new_or_changed_and_render_only_that():
    revisions, rendered = Revisions(), []

    def render(entry: Entry) -> str:
        rendered.append(entry.id)
        return f"<li>{entry.id}</li>"

    one, two = Entry("m1", 1.0, "pushed"), Entry("m2", 2.0, "pushed")
    first, rev = revisions.changed("chat:a", [(one, None)], render, 0)
    assert [e["id"] for e in first] == ["m1"]
    again, rev2 = revisions.changed("chat:a", [(one, None), (two, None)], render, rev)
    assert [e["id"] for e in again] == ["m2"]
    changed, rev3 = revisions.changed("chat:a", [(one, "已接单"), (two, None)], render, rev2)
    assert [e["id"] for e in changed] == ["m1"] and rendered == ["m1", "m2", "m1"]
    assert revisions.changed("chat:a", [(one, "已接单"), (two, None)], render, rev3) == ([], rev3)
    assert rendered == ["m1", "m2", "m1"]  # nothing new: nothing rendered


def test_the_standin_log_is_read_incrementally_and_afresh_after_a_restart():
    log = [{"seq": 1, "at": "a"}, {"seq": 2, "at": "b"}]
    asked: list[int] = []

    def read(since: int = 0) -> list[dict[str, Any]]:
        asked.append(since)
        return [r for r in log if r["seq"] > since]

    known = _grown([], read)
    log.append({"seq": 3, "at": "c"})
    known = _grown(known, read)
    assert [r["seq"] for r in known] == [1, 2, 3] and asked == [0, 1]  # from the last one known on
    log[:] = [{"seq": 1, "at": "x"}, {"seq": 2, "at": "y"}, {"seq": 3, "at": "z"}]  # restarted: seq anew
    assert [r["at"] for r in _grown(known, read)] == ["x", "y", "z"]
