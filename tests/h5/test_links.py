"""The H5 links as a service: signed for one person and purpose, expiring by the runtime's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.settings import Settings
from bot.weblinks import Link, LinkRefused, Purpose, WebLinks
from tests.conftest import T0

SECRET = "a-test-secret-of-some-length"


def links(clock: FixedClock, secret: str = SECRET) -> WebLinks:
    return WebLinks(secret, clock, timedelta(hours=24), "https://ztc.example.gov.cn/")


def test_a_link_carries_its_person_purpose_and_order_and_points_at_its_page():
    clock = FixedClock(T0)
    url = links(clock).url(7, Purpose.SIGNOFF, "S2611-0001")
    assert url.startswith("https://ztc.example.gov.cn/h5/signoff?t=")
    token = url.split("t=", 1)[1]
    assert links(clock).read(token, Purpose.SIGNOFF) == Link(7, Purpose.SIGNOFF, "S2611-0001")


def test_a_link_works_for_24_hours_and_then_says_it_expired():
    clock = FixedClock(T0)
    token = links(clock).token(7, Purpose.FILE)
    clock.advance(hours=24)
    assert links(clock).read(token, Purpose.FILE).person_id == 7
    clock.advance(seconds=1)
    with pytest.raises(LinkRefused) as refused:
        links(clock).read(token, Purpose.FILE)
    assert refused.value.status == 410 and "过期" in refused.value.message


def test_a_tampered_or_foreign_link_is_refused_as_invalid():
    clock = FixedClock(T0)
    token = links(clock).token(7, Purpose.FILE)
    other = links(clock).token(8, Purpose.FILE)
    spliced = token.split(".")[0] + "." + ".".join(other.split(".")[1:])  # person 7's data, 8's signature
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), spliced, "", "x" * 2000):
        with pytest.raises(LinkRefused) as refused:
            links(clock).read(bad, Purpose.FILE)
        assert refused.value.status == 403 and "无效" in refused.value.message
    with pytest.raises(LinkRefused):
        links(clock, secret="another-county-secret-key").read(token, Purpose.FILE)


def test_a_link_opens_only_the_page_it_was_made_for():
    clock = FixedClock(T0)
    token = links(clock).token(7, Purpose.POLICIES)
    with pytest.raises(LinkRefused) as refused:
        links(clock).read(token, Purpose.SIGNOFF)
    assert refused.value.status == 403


def test_a_form_token_is_good_only_for_its_own_link():
    clock = FixedClock(T0)
    mine, theirs = Link(7, Purpose.FILE), Link(8, Purpose.FILE)
    form = links(clock).form_token(mine, "nonce-1", "browser-1")
    assert links(clock).read_form(form, mine).nonce == "nonce-1"
    with pytest.raises(LinkRefused):
        links(clock).read_form(form, theirs)
    with pytest.raises(LinkRefused):  # a link token is not a form token (another salt)
        links(clock).read_form(links(clock).token(7, Purpose.FILE), mine)


def test_the_link_key_is_derived_from_the_app_secret_unless_set():
    derived = Settings.from_env({})
    assert derived.web_signing_key not in (derived.wecom_secret, "")
    assert Settings.from_env({"WECOM_SECRET": "another"}).web_signing_key != derived.web_signing_key
    assert Settings.from_env({"ZTC_WEB_SECRET": SECRET}).web_signing_key == SECRET
    assert Settings.from_env({"ZTC_PUBLIC_URL": "https://a.example/"}).public_url == "https://a.example"
