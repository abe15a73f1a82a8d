"""A newcomer's walk through the simulator in chromium: a 诉求 from filing to 销号, as the
enterprise and the official in turn, by typing and pressing card buttons; and an @-mention in a
group. Everything goes through `ztc simulator` into the real processes (tests/e2e's fixtures)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

pytestmark = pytest.mark.e2e

DELIVERY_TIMEOUT = 25.0  # callback, worker, stand-in, then the page's once-a-second poll
NUMBER = re.compile(r"S\d{4}-\d{4}")


def pane_text(browser: WebDriver, pane: str) -> str:
    """What a pane shows (chat, group or log), as a reader sees it."""
    return browser.find_element(By.ID, f"{pane}-entries").text


def wait_for(browser: WebDriver, what: str, found: Callable[[WebDriver], object]) -> object:
    """Wait until `found` gives something truthy, saying `what` on a timeout."""
    return WebDriverWait(browser, DELIVERY_TIMEOUT, poll_frequency=0.2).until(found, f"waiting for {what}")


def wait_for_text(browser: WebDriver, pane: str, pattern: str) -> re.Match[str]:
    """Wait until a pane shows text matching `pattern`; the match."""
    match = wait_for(
        browser, f"{pattern!r} in the {pane} pane", lambda b: re.search(pattern, pane_text(b, pane))
    )
    assert isinstance(match, re.Match)
    return match


def type_in(browser: WebDriver, field: str, text: str) -> None:
    """Type a line in a composer and press Enter (what sends it)."""
    box = browser.find_element(By.ID, field)
    box.clear()
    box.send_keys(text, Keys.ENTER)


def become(browser: WebDriver, userid: str) -> None:
    """Pick a person in the picker, as a newcomer does (a link per person, grouped by role)."""
    browser.find_element(By.CSS_SELECTOR, f'nav a[href*="as={userid}&"]').click()
    wait_for(
        browser,
        f"the page as {userid}",
        lambda b: f"（{userid}）" in b.find_element(By.TAG_NAME, "summary").text,
    )


def card_button(browser: WebDriver, title: str, label: str) -> WebElement:
    """Wait for a card titled `title` in the 1:1 chat with a button `label` to press; the button."""
    path = (f"//ol[@id='chat-entries']//article[.//h3[contains(., '{title}')]]"
            f"//button[normalize-space()='{label}' and not(@disabled)]")  # fmt: skip

    def found(b: WebDriver) -> WebElement | None:
        buttons = b.find_elements(By.XPATH, path)
        return buttons[-1] if buttons else None

    button = wait_for(browser, f"a card 「{title}」 with 「{label}」", found)
    assert isinstance(button, WebElement)
    return button


def relabelled(browser: WebDriver, label: str) -> None:
    """Wait until a card of the 1:1 chat shows `label` in place of its buttons."""
    path = f"//ol[@id='chat-entries']//article//button[@disabled and normalize-space()='{label}']"
    wait_for(browser, f"a card relabelled 「{label}」", lambda b: b.find_elements(By.XPATH, path))


def test_a_request_from_filing_to_closing(
    browser: WebDriver, simulator_url: str, screenshot: Callable[[str], Path]
) -> None:
    browser.get(simulator_url + "?as=zhang_wei")
    assert "张伟" in browser.find_element(By.ID, "chat-heading").text
    people = browser.find_element(By.TAG_NAME, "nav").text
    for heading in ("企业联系人", "干部", "县领导", "管理员"):
        assert heading in people
    assert "周海涛" in people and "王建国" in people and "孙丽" in people

    # The enterprise files a request: the number at once (passive reply), then the status card.
    type_in(browser, "chat-text", "诉求 用地 厂房扩建用地手续三个月未批")
    number = wait_for_text(browser, "chat", r"诉求已受理，单号 (S\d{4}-\d{4})").group(1)
    card_title = wait_for_text(browser, "chat", r"诉求已受理\n单号").group(0)
    assert card_title
    # The panel of what the bot pushed shows the dispatch card landing at the official.
    wait_for_text(browser, "log", r"发给 周海涛（gxj_zhou）.*\n(.*\n)*?.*新诉求待接单")
    screenshot("filed")

    # The 包联部门's official sees the dispatch card and presses 接单: the card is relabelled.
    become(browser, "gxj_zhou")
    card_button(browser, "新诉求待接单", "接单").click()
    wait_for_text(browser, "chat", rf"已接单：诉求 {number}")
    relabelled(browser, "已接单")
    screenshot("picked-up")

    type_in(browser, "chat-text", f"办结 {number} 已协调")
    wait_for_text(browser, "chat", rf"诉求 {number} 已办结，已请企业签单评价")
    screenshot("resolved")

    # Back as the enterprise: the sign-off card; 满意 closes the order.
    become(browser, "zhang_wei")
    card_button(browser, "诉求已办结，请评价", "满意").click()
    wait_for_text(browser, "chat", rf"感谢您的评价（满意）！诉求 {number} 已销号")
    relabelled(browser, "已评价：满意")
    screenshot("closed")

    type_in(browser, "chat-text", f"诉求 {number}")
    wait_for_text(browser, "chat", r"已销号")


def test_an_at_mention_in_a_group_is_answered_there(
    browser: WebDriver, simulator_url: str, screenshot: Callable[[str], Path]
) -> None:
    browser.get(simulator_url + "?as=zhang_wei")
    groups = Select(browser.find_element(By.ID, "group-select"))
    groups.select_by_visible_text("县工信局工作群")  # the page follows the choice (a GET form)
    wait_for(
        browser, "the 工信局 group", lambda b: "县工信局工作群" in b.find_element(By.ID, "group-heading").text
    )

    type_in(browser, "group-text", "诉求 水电气 厂区电压不稳影响生产")
    wait_for_text(browser, "group", r"@政企直通车 诉求 水电气 厂区电压不稳影响生产")
    wait_for_text(browser, "group", r"被动回复.*\n(.*\n)*?.*S\d{4}-\d{4}")  # the stream answered at once
    # What cannot be shown in a group comes later through the response_url …
    wait_for_text(browser, "group", r"稍后回复.*\n(.*\n)*?.*卡片已发到您与「政企直通车」应用的单聊")
    # … and the card itself arrives in the 1:1 chat.
    wait_for_text(browser, "chat", r"诉求已受理\n单号")
    screenshot("group")


def test_the_page_fits_a_phone(
    browser: WebDriver, simulator_url: str, screenshot: Callable[[str], Path]
) -> None:
    size = browser.get_window_size()
    browser.set_window_size(390, 844)
    try:
        browser.get(simulator_url + "?as=gxj_zhou")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide on a 390px phone"
        # The list of people folds away on a phone once someone is chosen; the chat is in view.
        assert browser.find_element(By.ID, "people-details").get_attribute("open") is None
        assert browser.find_element(By.ID, "chat-text").is_displayed()
        screenshot("phone")
    finally:
        browser.set_window_size(size["width"], size["height"])
