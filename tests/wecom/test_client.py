"""WeComClient against the stand-in over real HTTP, with the token cached in a real Redis."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from bot.replies import Button, CardUpdate, File, GroupText, TemplateCard, Text
from bot.settings import DEMO_CORP_ID, DEMO_SECRET
from bot.standin.server import StandinServer
from bot.wecom.client import (
    Permanent,
    RateLimited,
    TokenInvalid,
    Transient,
    WeComClient,
    redact,
    token_ttl,
)
from bot.wecom.outbound import render_app_message, render_card_update, render_group_message

CORP_ID = DEMO_CORP_ID  # the shared stand-in (tests/conftest.py) is this corp
SECRET = DEMO_SECRET

CARD = TemplateCard(
    card_type="button_interaction",
    title="诉求待受理",
    task_id="t-1",
    buttons=(Button("受理", "complaint:accept:1"),),
)


@pytest.fixture
def rdb(redis_conn: redis.Redis) -> redis.Redis:
    """The test run's real Redis (the machine's, or the embedded server), emptied."""
    return redis_conn


@pytest.fixture
def make_client(standin: StandinServer, rdb: redis.Redis) -> Iterator[Callable[..., WeComClient]]:
    """A factory of clients for one fresh agent id, so concurrent runs never share a token key."""
    agent_id = int(uuid.uuid4().int % 1_000_000_000)
    made: list[WeComClient] = []

    def make(**overrides: object) -> WeComClient:
        options: dict[str, object] = {
            "corp_id": CORP_ID,
            "secret": SECRET,
            "agent_id": agent_id,
            "api_base": standin.base_url,
            "redis": rdb,
            "timeout": (1, 2),
        }
        options.update(overrides)
        client = WeComClient(**options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        rdb.delete(client.token_key, client.token_key + ":lock")


def send_text(client: WeComClient, content: str = "您好", touser: str = "zhangsan") -> object:
    """Send a text message through the client."""
    return client.send_message(render_app_message(Text(content), touser, client.agent_id))


# ---------------------------------------------------------------- token cache


def test_token_is_fetched_once_and_shared_by_two_clients(
    make_client: Callable[..., WeComClient], standin: StandinServer, rdb: redis.Redis
) -> None:
    first, second = make_client(), make_client()
    send_text(first, "一")
    send_text(second, "二")
    assert standin.calls("gettoken") == 1
    assert len(standin.messages()) == 2
    assert 6800 < rdb.ttl(first.token_key) <= 6900  # 7200 s less a 300 s margin
    assert first.token_key == f"ztc:wecom:token:{CORP_ID}:{first.agent_id}"


def test_concurrent_refreshes_fetch_one_token(
    make_client: Callable[..., WeComClient], standin: StandinServer
) -> None:
    clients = [make_client() for _ in range(12)]
    tokens: list[str] = []
    barrier = threading.Barrier(len(clients))

    def fetch(client: WeComClient) -> None:
        barrier.wait()
        tokens.append(client.access_token())

    threads = [threading.Thread(target=fetch, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(tokens) == len(clients) and len(set(tokens)) == 1
    assert standin.calls("gettoken") == 1


def test_expired_token_is_refreshed_once_and_the_call_succeeds(
    make_client: Callable[..., WeComClient], standin: StandinServer
) -> None:
    client = make_client()
    send_text(client, "一")
    standin.inject("message/send", [42001])
    result = send_text(client, "二")
    assert result.msgid  # type: ignore[attr-defined]
    assert standin.calls("gettoken") == 2
    assert [m["body"]["text"]["content"] for m in standin.messages()] == ["一", "二"]


def test_revoked_token_is_replaced(make_client: Callable[..., WeComClient], standin: StandinServer) -> None:
    client = make_client()
    old = client.access_token()
    with standin.state.lock:
        standin.state.expire_tokens()  # the platform answers 42001 to the cached token now
    send_text(client)
    assert client.access_token() != old
    assert len(standin.messages()) == 1


def test_token_refused_twice_raises_token_invalid(
    make_client: Callable[..., WeComClient], standin: StandinServer
) -> None:
    client = make_client()
    standin.inject("message/send", [42001, 40014])
    with pytest.raises(TokenInvalid) as info:
        send_text(client)
    assert info.value.errcode == 40014
    assert standin.calls("gettoken") == 2  # the first fetch and exactly one refresh
    assert standin.messages() == []


def test_bad_secret_is_token_invalid_without_retry(
    make_client: Callable[..., WeComClient], standin: StandinServer
) -> None:
    client = make_client(secret="wrong-secret")
    with pytest.raises(TokenInvalid) as info:
        send_text(client)
    assert info.value.errcode == 40001
    assert standin.calls("gettoken") == 1


def test_token_ttl_margin() -> None:
    assert token_ttl(7200) == 6900
    assert token_ttl(400) == 200
    assert token_ttl(1) == 1


# ---------------------------------------------------------------- error classes


@pytest.mark.parametrize(
    ("fault", "error", "errcode"),
    [
        (45009, RateLimited, 45009),
        (45033, RateLimited, 45033),
        ({"http": 502}, Transient, None),
        (-1, Transient, -1),
        (60020, Permanent, 60020),
        (40058, Permanent, 40058),
    ],
)
def test_errors_are_classified(
    make_client: Callable[..., WeComClient],
    standin: StandinServer,
    fault: object,
    error: type[Exception],
    errcode: int | None,
) -> None:
    client = make_client()
    standin.inject("message/send", [fault])
    with pytest.raises(error) as info:
        send_text(client)
    assert info.value.errcode == errcode  # type: ignore[attr-defined]


def test_timeout_is_transient_and_duplicate_check_absorbs_the_retry(
    make_client: Callable[..., WeComClient], standin: StandinServer
) -> None:
    client = make_client(timeout=(1, 0.3))
    client.access_token()
    standin.inject("message/send", [{"sleep": 0.6}])
    with pytest.raises(Transient, match="Timeout"):
        send_text(client, "超时的那条")
    _wait_for(lambda: len(standin.messages()) == 1)  # the platform did deliver it, late
    send_text(client, "超时的那条")  # the job's retry
    assert len(standin.messages()) == 1
    assert len(standin.suppressed()) == 1


def test_unreachable_api_is_transient_and_leaks_no_secret(
    make_client: Callable[..., WeComClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(api_base="http://127.0.0.1:9/cgi-bin/")  # discard port: refused
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Transient) as info:
        send_text(client)
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert SECRET not in caplog.text


def test_token_never_appears_in_logs_or_errors(
    make_client: Callable[..., WeComClient], standin: StandinServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    caplog.set_level(logging.DEBUG)
    token = client.access_token()
    standin.inject("message/send", [42001, 42001])
    with pytest.raises(TokenInvalid) as info:
        send_text(client)
    assert token not in caplog.text and SECRET not in caplog.text
    assert token not in str(info.value)


def test_redact_masks_query_secrets() -> None:
    text = "GET /cgi-bin/gettoken?corpid=ww1&corpsecret=S3CR3T and /send?access_token=TOK&x=1 key=K"
    assert (
        redact(text)
        == "GET /cgi-bin/gettoken?corpid=ww1&corpsecret=*** and /send?access_token=***&x=1 key=***"
    )


# ---------------------------------------------------------------- sending


def test_invalid_users_are_parsed_lowercased(
    make_client: Callable[..., WeComClient], standin: StandinServer
) -> None:
    client = make_client()
    standin.set_users(["zhangsan", "lisi"])
    result = send_text(client, touser="ZhangSan|WangWu|lisi|zhaoliu")
    assert result.invalid_users == ["wangwu", "zhaoliu"]  # type: ignore[attr-defined]
    assert {m["touser"] for m in standin.messages()} == {"ZhangSan", "lisi"}


def test_all_recipients_invalid_is_permanent(
    make_client: Callable[..., WeComClient], standin: StandinServer
) -> None:
    client = make_client()
    standin.set_users(["zhangsan"])
    with pytest.raises(Permanent) as info:
        send_text(client, touser="nobody")
    assert info.value.errcode == 81013


def test_duplicate_check_suppresses_a_second_identical_send(
    make_client: Callable[..., WeComClient], standin: StandinServer
) -> None:
    client = make_client()
    first = send_text(client, "同一条")
    second = send_text(client, "同一条")
    assert first.msgid == second.msgid  # type: ignore[attr-defined]
    assert len(standin.messages()) == 1
    assert len(standin.suppressed()) == 1
    send_text(client, "另一条")
    assert len(standin.messages()) == 2


def test_card_update_works_once(make_client: Callable[..., WeComClient], standin: StandinServer) -> None:
    client = make_client()
    sent = client.send_message(render_app_message(CARD, "zhangsan", client.agent_id))
    assert sent.response_code
    click_code = standin.messages("zhangsan")[0]["response_code"]  # what the click callback carries
    body = render_card_update(CardUpdate(click_code, replace_name="已受理"), client.agent_id, ["zhangsan"])
    client.update_template_card(body)
    with pytest.raises(Permanent, match="response_code used"):
        client.update_template_card(body)
    assert len(standin.updates()) == 1


def test_upload_then_send_file(
    make_client: Callable[..., WeComClient], standin: StandinServer, tmp_path: Path
) -> None:
    client = make_client()
    export = tmp_path / "诉求台账.xlsx"
    export.write_bytes(b"PK\x03\x04" + b"0" * 100)
    media_id = client.upload_media(export, "file")
    client.send_message(render_app_message(File(media_id=media_id), "zhangsan", client.agent_id))
    assert standin.state.media[media_id] == {"type": "file", "filename": "诉求台账.xlsx", "length": 104}
    assert standin.messages()[0]["msgtype"] == "file"
    with pytest.raises(ValueError, match="media_type"):
        client.upload_media(export, "pdf")


def test_group_webhook_needs_no_token_and_is_rate_limited(
    make_client: Callable[..., WeComClient], standin: StandinServer
) -> None:
    client = make_client()
    for i in range(20):
        client.send_group("robot-key", render_group_message(GroupText("robot-key", f"第{i}条")))
    with pytest.raises(RateLimited):
        client.send_group("robot-key", render_group_message(GroupText("robot-key", "第21条")))
    assert standin.calls("gettoken") == 0
    assert len(standin.groups("robot-key")) == 20


def test_group_media_upload(
    make_client: Callable[..., WeComClient], standin: StandinServer, tmp_path: Path
) -> None:
    client = make_client()
    report = tmp_path / "report.xlsx"
    report.write_bytes(b"data")
    media_id = client.upload_group_media("robot-key", report)
    assert standin.state.media[media_id]["filename"] == "report.xlsx"


def _wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
