"""The H5 pages in chromium: a contact opens the filing link from chat, files with a photo and sees
the number; after 办结 she opens the sign-off link and signs the order off. The app of the test
runtime is served over HTTP in a thread (no other process is needed for these pages)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from bot.weblinks import Purpose, WebLinks
from handlers.complaints import closing, service
from handlers.complaints.models import OrderState, WorkOrder
from handlers.policies.models import ProfileValue
from tests.complaints.conftest import County, county  # noqa: F401 - the county fixture
from tests.conftest import T0, serve


def submit(browser: WebDriver) -> None:
    """Send the page's form and wait for the answer to replace the page."""
    button = browser.find_element(By.CSS_SELECTOR, "button[type=submit]")
    button.click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(button), "waiting for the answer")


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5f3c1d40000000049454e44ae426082"
)


@pytest.fixture
def site(runtime: Any, county: County) -> Iterator[str]:  # noqa: F811
    yield from serve(runtime)


def link_at(site: str, runtime: Any, person_id: int, purpose: Purpose, order: str | None = None) -> str:
    url = WebLinks.from_settings(runtime.settings, runtime.clock).url(person_id, purpose, order)
    return site + url.split("127.0.0.1:8400", 1)[1]


def test_a_contact_files_with_a_photo_then_signs_off_in_the_browser(
    browser: WebDriver,
    screenshot: Callable[[str], Path],
    site: str,
    runtime: Any,
    county: County,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    browser.set_window_size(420, 900)  # a phone's width
    browser.get(link_at(site, runtime, county.boss.id, Purpose.FILE))
    assert browser.find_element(By.TAG_NAME, "h1").text == "提交诉求"
    screenshot("file-form")
    Select(browser.find_element(By.ID, "category")).select_by_visible_text("用地")
    browser.find_element(By.ID, "text").send_keys("厂房扩建用地手续三个月未批")
    photo = tmp_path / "site.png"
    photo.write_bytes(PNG)
    browser.find_element(By.ID, "photos").send_keys(str(photo))
    screenshot("file-filled")
    submit(browser)
    number = browser.find_element(By.ID, "number").text
    assert re.fullmatch(r"S2611-\d{4}", number)
    screenshot("filed")

    with runtime.session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert order is not None and len(order.photos) == 1 and order.category == "用地"
        holder = s.merge(county.gxj_wu)  # the enterprise's 包联部门 picks every order up first
        service.pick_up(s, holder, number, T0)
        closing.resolve(s, holder, number, "已协调自然资源局加快审批", T0)
        s.commit()

    browser.get(link_at(site, runtime, county.boss.id, Purpose.SIGNOFF, number))
    assert "已协调自然资源局加快审批" in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.CSS_SELECTOR, "input[name=rating][value='满意']").click()
    browser.find_element(By.ID, "comment").send_keys("办得很快")
    screenshot("signoff-form")
    submit(browser)
    assert "已销号" in browser.find_element(By.CSS_SELECTOR, ".done").text
    screenshot("signed")
    with runtime.session_factory() as s:
        closed = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert closed is not None and closed.state == OrderState.CLOSED.value and closed.rating == "满意"


def test_a_contact_corrects_the_enterprise_profile_in_the_browser(
    browser: WebDriver,
    screenshot: Callable[[str], Path],
    site: str,
    runtime: Any,
    county: County,  # noqa: F811 - the fixture imported above
) -> None:
    browser.set_window_size(420, 900)
    browser.get(link_at(site, runtime, county.boss.id, Purpose.PROFILE))
    assert browser.find_element(By.TAG_NAME, "h1").text == "企业信息"
    field = browser.find_element(By.ID, "employees")
    field.send_keys("120")
    browser.find_element(By.ID, "revenue_wan").send_keys("abc")
    submit(browser)
    refusal = browser.find_element(By.ID, "err-revenue_wan")
    assert "营业收入：「abc」不是数字" in refusal.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", refusal)
    screenshot("profile-refused")
    browser.find_element(By.ID, "revenue_wan").clear()
    browser.find_element(By.ID, "revenue_wan").send_keys("1800万")
    submit(browser)
    assert "已更新：从业人数、营业收入" in browser.find_element(By.ID, "saved").text
    assert "现为：120人（企业自报" in browser.find_element(By.ID, "now-employees").text
    screenshot("profile-saved")
    with runtime.session_factory() as s:
        rows = s.scalars(select(ProfileValue).where(ProfileValue.enterprise_id == county.firm.id)).all()
        assert sorted((r.attribute, r.value) for r in rows) == [("employees", 120), ("revenue_wan", 1800)]
