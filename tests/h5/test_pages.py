"""The H5 pages through Flask's test client: what a contact sees, and every bad input refused unchanged."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import create_app
from bot.weblinks import Purpose, WebLinks
from handlers.complaints import closing, service
from handlers.complaints.models import OrderState, WorkOrder
from tests.complaints.conftest import County
from tests.conftest import T0, run_jobs

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64


@pytest.fixture
def client(runtime: Any, county: County) -> Any:
    return create_app(runtime=runtime).test_client()


def link(runtime: Any, person_id: int, purpose: Purpose, order: str | None = None) -> str:
    """The path and query of a link, as the chat would send it."""
    url = WebLinks.from_settings(runtime.settings, runtime.clock).url(person_id, purpose, order)
    return url.split("127.0.0.1:8400", 1)[1]


def form_of(page: str) -> dict[str, str]:
    """The hidden fields of the page's form."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


def orders(session_factory: Any) -> int:
    with session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(WorkOrder)) or 0)


def open_form(client: Any, path: str) -> dict[str, str]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return form_of(page.text)


def file(client: Any, fields: dict[str, str], photos: list[tuple[bytes, str]] = (), **extra: str) -> Any:
    data: dict[str, Any] = {
        **fields,
        "category": "用地",
        "urgency": "紧急",
        "text": "厂房扩建用地手续三个月未批",
    }
    data.update(extra)
    data["photos"] = [(io.BytesIO(content), name) for content, name in photos]
    return client.post("/h5/file", data=data, content_type="multipart/form-data")


def test_a_contact_files_with_photos_and_gets_the_chats_number_and_notices(
    client, runtime, county, standin, session_factory
):
    page = client.get(link(runtime, county.boss.id, Purpose.FILE))
    assert page.status_code == 200
    assert (
        'lang="zh-CN"' in page.text and 'name="viewport"' in page.text and '<label for="text">' in page.text
    )
    assert "示范县鑫源食品有限公司" in page.text and page.headers["Referrer-Policy"] == "no-referrer"
    done = file(client, form_of(page.text), [(PNG, "a.png"), (JPEG, "b.jpg")])
    assert done.status_code == 200 and "S2611-0001" in done.text
    with session_factory() as s:
        order = s.scalar(select(WorkOrder))
        assert order.state == OrderState.DISPATCHED.value and order.category == "用地"
        assert [p["file"] for p in order.photos] == [
            "h5-photos/" + p.split("/")[-1] for p in (x["file"] for x in order.photos)
        ]
        assert (
            all((runtime.settings.var_dir / p["file"]).is_file() for p in order.photos)
            and len(order.photos) == 2
        )
    run_jobs(runtime)
    assert any("新诉求待接单" in str(m) for m in standin.messages("gxj_wu"))  # as from chat
    assert any("诉求已受理，单号 S2611-0001" in str(m) for m in standin.messages("zhang_wei"))


def test_the_same_form_submitted_twice_files_once(client, runtime, county, session_factory):
    fields = open_form(client, link(runtime, county.boss.id, Purpose.FILE))
    assert file(client, fields).status_code == 200
    again = file(client, fields, text="另一件事：路灯坏了")
    assert again.status_code == 409 and "已经提交过" in again.text
    assert orders(session_factory) == 1


@pytest.mark.parametrize(
    ("photos", "status", "words"),
    [
        ([(b"GIF89a" + b"\0" * 50, "x.png")], 415, "只能上传 JPEG 或 PNG"),
        ([(b"%PDF-1.4", "x.jpg")], 415, "不是照片"),
        ([(PNG, "1.png"), (PNG, "2.png"), (PNG, "3.png"), (PNG, "4.png")], 400, "最多上传3张"),
        ([(JPEG + b"\0" * (20 * 1024), "big.jpg")], 413, "超过"),  # the limit is 10 KB here
    ],
)
def test_bad_photos_are_refused_and_nothing_is_filed(
    client, runtime, county, session_factory, photos, status, words
):
    # A small limit keeps the test's bodies in memory (werkzeug's test client leaks its temp files).
    runtime.settings = runtime.settings.with_(web_photo_bytes=10 * 1024)
    fields = open_form(client, link(runtime, county.boss.id, Purpose.FILE))
    refused = file(client, fields, photos)
    assert refused.status_code == status and words in refused.text
    assert orders(session_factory) == 0
    assert not list((runtime.settings.var_dir / "h5-photos").glob("*"))


def test_a_body_larger_than_three_photos_is_refused_before_reading(client, runtime, county, session_factory):
    open_form(client, link(runtime, county.boss.id, Purpose.FILE))
    # Past 3 × 5 MB + the fields: werkzeug refuses it by its Content-Length, before reading it.
    body = b"--x\r\n" + b"0" * (16 * 1024 * 1024)
    refused = client.post("/h5/file", data=body, content_type="multipart/form-data; boundary=x")
    assert refused.status_code == 413 and "太大" in refused.text
    assert orders(session_factory) == 0


def test_a_post_without_csrf_token_or_cookie_is_refused(client, runtime, county, session_factory):
    fields = open_form(client, link(runtime, county.boss.id, Purpose.FILE))
    assert file(client, {"t": fields["t"]}).status_code == 403
    client.delete_cookie("ztc_h5_csrf", path="/h5")
    refused = file(client, fields)
    assert refused.status_code == 403 and "安全校验" in refused.text
    assert orders(session_factory) == 0


def test_expired_forged_and_foreign_links_are_refused(client, runtime, county, session_factory):
    path = link(runtime, county.boss.id, Purpose.FILE)
    forged = client.get(path[:-3] + "abc")
    assert forged.status_code == 403 and "链接无效" in forged.text
    wrong_page = client.get(link(runtime, county.boss.id, Purpose.POLICIES).replace("policies", "file"))
    assert wrong_page.status_code == 403
    official = client.get(link(runtime, county.gxj_wu.id, Purpose.FILE))
    assert official.status_code == 403 and "企业联系人" in official.text
    fields = open_form(client, path)
    runtime.clock.advance(hours=24, seconds=1)
    expired = file(client, fields)
    assert expired.status_code == 410 and "过期" in expired.text
    assert client.get(path).status_code == 410
    assert orders(session_factory) == 0


def test_an_unfixable_mistake_shows_the_form_again_with_the_reason(client, runtime, county, session_factory):
    fields = open_form(client, link(runtime, county.boss.id, Purpose.FILE))
    again = file(client, fields, text="   ")
    assert again.status_code == 400 and "请写明您的诉求内容" in again.text and 'name="csrf"' in again.text
    assert orders(session_factory) == 0


def resolved_order(runtime: Any, county: County) -> str:
    """An order filed by the enterprise and 办结 by its 包联部门: awaiting the sign-off."""
    with runtime.session_factory() as s:
        boss, wu = s.merge(county.boss), s.merge(county.gxj_wu)
        number = service.file_order(s, boss, "厂区门前道路破损", "其他", "普通", T0).order.number
        service.pick_up(s, wu, number, T0)
        closing.resolve(s, wu, number, "已修复路面", T0)
        s.commit()
    return number


def test_a_contact_signs_off_with_a_comment_and_a_second_time_is_refused(
    client, runtime, county, session_factory
):
    number = resolved_order(runtime, county)
    path = link(runtime, county.boss.id, Purpose.SIGNOFF, number)
    page = client.get(path)
    assert page.status_code == 200 and "已修复路面" in page.text and "基本满意" in page.text
    fields = form_of(page.text)
    done = client.post("/h5/signoff", data={**fields, "rating": "满意", "comment": "很及时"})
    assert done.status_code == 200 and f'诉求 <strong id="number">{number}</strong> 已销号' in done.text
    with session_factory() as s:
        order = s.scalar(select(WorkOrder))
        assert order.state == OrderState.CLOSED.value and order.rating == "满意"
    assert client.post("/h5/signoff", data={**fields, "rating": "不满意"}).status_code == 409
    signed = client.get(path)
    assert signed.status_code == 409
    with session_factory() as s:
        assert s.scalar(select(WorkOrder)).state == OrderState.CLOSED.value


def test_unhappy_sends_the_order_back_for_rework(client, runtime, county, session_factory):
    number = resolved_order(runtime, county)
    fields = open_form(client, link(runtime, county.boss.id, Purpose.SIGNOFF, number))
    done = client.post("/h5/signoff", data={**fields, "rating": "不满意", "comment": "还是坑洼"})
    assert done.status_code == 200 and "退回县工信局重新办理" in done.text
    with session_factory() as s:
        order = s.scalar(select(WorkOrder))
        assert order.state == OrderState.DISPATCHED.value and order.rework_count == 1


def test_the_resolved_card_in_chat_opens_the_sign_off_page(client, runtime, county, standin):
    from tests.builders import Chat, pushed_cards

    with runtime.session_factory() as s:
        boss = s.merge(county.boss)
        number = service.file_order(s, boss, "厂区门前道路破损", "其他", "普通", T0).order.number
        s.commit()
    chat = Chat(runtime)
    chat.text("gxj_wu", f"接单 {number}")
    chat.text("gxj_wu", f"办结 {number} 已修复路面")
    run_jobs(runtime)
    card = next(c for c in pushed_cards(standin.messages("zhang_wei")) if "请评价" in str(c["body"]))
    url = card["body"]["template_card"]["card_action"]["url"]
    page = client.get(url.split("127.0.0.1:8400", 1)[1])
    assert page.status_code == 200 and number in page.text and "已修复路面" in page.text


def test_another_enterprises_contact_cannot_sign_off(client, runtime, county, session_factory):
    number = resolved_order(runtime, county)
    page = client.get(link(runtime, county.stranger.id, Purpose.SIGNOFF, number))
    assert page.status_code == 403 and "示范县鑫源食品有限公司" in page.text
    mine = open_form(client, link(runtime, county.boss.id, Purpose.SIGNOFF, number))
    stolen_form = {**mine, "t": link(runtime, county.stranger.id, Purpose.SIGNOFF, number).split("t=")[1]}
    from urllib.parse import unquote

    stolen_form["t"] = unquote(stolen_form["t"])
    assert client.post("/h5/signoff", data={**stolen_form, "rating": "满意"}).status_code == 403
    with session_factory() as s:
        assert s.scalar(select(WorkOrder)).state == OrderState.RESOLVED.value


def test_the_policies_page_shows_every_policy_read_only(client, runtime, county):
    page = client.get(link(runtime, county.boss.id, Purpose.POLICIES))
    assert page.status_code == 200 and "惠企政策明白卡" in page.text and "可享受" in page.text
    assert "<form" not in page.text


def test_the_chat_offers_the_filing_link_and_it_opens_the_form(client, runtime, county, standin):
    from tests.builders import Chat, pushed_texts

    Chat(runtime).say("zhang_wei", "诉求")
    run_jobs(runtime)
    offer = next(t for t in pushed_texts(standin.messages("zhang_wei")) if "网页" in t)
    assert "也可以在网页上填写" in offer
    page = client.get(offer.split("http://127.0.0.1:8400", 1)[1])
    assert page.status_code == 200 and "提交诉求" in page.text
