"""The profile page: what 「企业信息」 shows, corrected in a form, read by the chat's own parsers."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import unquote

import pytest
from rq.job import Job
from sqlalchemy import func, select

from bot import create_app
from bot.models import AuditEvent
from bot.weblinks import Purpose
from handlers.policies.attributes import ATTRIBUTES
from handlers.policies.models import ProfileValue
from handlers.policies.profile import set_value
from tests.builders import Chat
from tests.complaints.conftest import County
from tests.conftest import T0
from tests.h5.test_pages import form_of, link


@pytest.fixture
def client(runtime: Any, county: County) -> Any:
    return create_app(runtime=runtime).test_client()


@pytest.fixture
def profiled(runtime: Any, county: County) -> County:
    """The enterprise's contact has given its revenue and staff in chat."""
    with runtime.session_factory() as s:
        firm, boss = s.merge(county.firm), s.merge(county.boss)
        set_value(s, firm, "revenue_wan", "1800万", source="enterprise", by=boss, now=T0)
        set_value(s, firm, "industry", "C13", source="enterprise", by=boss, now=T0)
        s.commit()
    return county


def fields_of(page: str) -> dict[str, str]:
    """What the browser would post: the hidden fields and every text field as shown."""
    texts = re.findall(r'<input type="text" id="\w+" name="(\w+)" value="([^"]*)"', page)
    return form_of(page) | {name: unescape(value) for name, value in texts}


def values(session_factory: Any, attribute: str) -> list[Any]:
    with session_factory() as s:
        query = (
            select(ProfileValue.value).where(ProfileValue.attribute == attribute).order_by(ProfileValue.id)
        )
        return list(s.scalars(query))


def value_rows(session_factory: Any) -> int:
    with session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(ProfileValue)) or 0)


def test_the_page_shows_every_attribute_with_its_value_source_and_date(client, runtime, profiled):
    page = client.get(link(runtime, profiled.boss.id, Purpose.PROFILE))
    assert page.status_code == 200 and "示范县鑫源食品有限公司" in page.text
    for attribute in ATTRIBUTES.values():
        assert f'<label for="{attribute.key}">{attribute.label}</label>' in page.text
    assert "现为：1800万元（企业自报，2026-11-24，填报人张伟）" in page.text
    assert "现为：C13 农副食品加工业（企业自报" in page.text
    assert "现为：未登记。贵企业现有从业人数是多少？" in page.text  # not given: what to write
    fields = fields_of(page.text)
    assert fields["revenue_wan"] == "1800万元" and fields["industry"] == "C13" and fields["employees"] == ""


def test_a_valid_change_is_saved_audited_and_re_matched(client, runtime, profiled, session_factory):
    fields = fields_of(client.get(link(runtime, profiled.boss.id, Purpose.PROFILE)).text)
    before = value_rows(session_factory)
    saved = client.post("/h5/profile", data={**fields, "revenue_wan": "2500万", "employees": "120"})
    assert saved.status_code == 200 and "已更新：从业人数、营业收入" in saved.text
    assert "现为：2500万元（企业自报" in saved.text and "现为：120人（企业自报" in saved.text
    assert values(session_factory, "revenue_wan") == [1800, 2500]
    assert (
        value_rows(session_factory) == before + 2
    )  # the untouched fields (1800万元 → 2500万 aside) add nothing
    with session_factory() as s:
        audits = s.scalars(select(AuditEvent).where(AuditEvent.action == "profile.set")).all()
        assert sorted(a.data["attribute"] for a in audits) == ["employees", "revenue_wan"]
        assert {(a.channel, a.actor_id, a.data["source"]) for a in audits} == {
            ("web", profiled.boss.id, "enterprise")
        }
    job = f"policy-rematch-{profiled.firm.id}-{int(T0.timestamp())}"
    assert Job.exists(job, connection=runtime.redis)  # as the chat's change schedules it


def test_an_untouched_form_saves_nothing(client, runtime, profiled, session_factory):
    fields = fields_of(client.get(link(runtime, profiled.boss.id, Purpose.PROFILE)).text)
    before = value_rows(session_factory)
    saved = client.post("/h5/profile", data=fields)
    assert saved.status_code == 200 and "没有修改任何项目" in saved.text
    assert value_rows(session_factory) == before


@pytest.mark.parametrize(
    ("key", "typed", "chat"),
    [
        ("revenue_wan", "abc", "企业信息 营业收入 abc"),
        ("revenue_wan", "25万万", "企业信息 营业收入 25万万"),
        ("employees", "-3", "企业信息 从业人数 -3"),
        ("employees", "12.5", "企业信息 从业人数 12.5"),
        ("industry", "C99", "企业信息 所属行业 C99"),
        ("size", "超大", "企业信息 企业规模 超大"),
        ("above_scale", "也许", "企业信息 规上企业 也许"),
        ("certifications", "五星企业", "企业信息 资质认定 五星企业"),
        ("established", "2099-01-01", "企业信息 成立日期 2099-01-01"),
    ],
)
def test_a_bad_value_is_refused_with_the_chats_words_and_nothing_is_saved(
    client, runtime, profiled, session_factory, key, typed, chat
):
    refusal = Chat(runtime).text("zhang_wei", chat)  # what the chat answers to the same value
    before = value_rows(session_factory)
    fields = fields_of(client.get(link(runtime, profiled.boss.id, Purpose.PROFILE)).text)
    refused = client.post("/h5/profile", data={**fields, "tax_wan": "50", key: typed})
    assert refused.status_code == 400
    assert f'<p class="error" id="err-{key}">{refusal}</p>' in unescape(refused.text)
    assert f'value="{typed}"' in unescape(refused.text)  # what was typed stays in the field
    assert value_rows(session_factory) == before  # the valid 纳税额 beside it was not saved either


def test_another_persons_link_or_form_is_refused(client, runtime, profiled, session_factory):
    official = client.get(link(runtime, profiled.gxj_wu.id, Purpose.PROFILE))
    assert official.status_code == 403 and "企业联系人" in official.text
    mine = fields_of(client.get(link(runtime, profiled.boss.id, Purpose.PROFILE)).text)
    theirs = unquote(link(runtime, profiled.stranger.id, Purpose.PROFILE).split("t=", 1)[1])
    before = value_rows(session_factory)
    stolen = client.post("/h5/profile", data={**mine, "t": theirs, "revenue_wan": "9999"})
    assert stolen.status_code == 403
    strangers = client.get(link(runtime, profiled.stranger.id, Purpose.PROFILE))
    assert strangers.status_code == 200 and "1800万元" not in strangers.text  # only their own enterprise
    wrong_page = client.get(link(runtime, profiled.boss.id, Purpose.POLICIES).replace("policies", "profile"))
    assert wrong_page.status_code == 403
    assert value_rows(session_factory) == before


def test_the_same_form_saved_twice_saves_once(client, runtime, profiled, session_factory):
    fields = fields_of(client.get(link(runtime, profiled.boss.id, Purpose.PROFILE)).text)
    assert client.post("/h5/profile", data={**fields, "employees": "120"}).status_code == 200
    again = client.post("/h5/profile", data={**fields, "employees": "130"})
    assert again.status_code == 409 and values(session_factory, "employees") == [120]


def test_the_chats_profile_answer_offers_the_page(client, runtime, profiled):
    answer = Chat(runtime).text("zhang_wei", "企业信息")
    assert "营业收入：1800万元（企业自报" in answer
    url = re.search(r"在网页上查看和修改：(\S+)", answer)
    assert url is not None
    page = client.get(url.group(1).split("http://127.0.0.1:8400", 1)[1])
    assert page.status_code == 200 and "现为：1800万元" in page.text
    assert "在网页上" not in Chat(runtime).text("gxj_wu", "企业信息 鑫源食品")  # staff: no contact's link
