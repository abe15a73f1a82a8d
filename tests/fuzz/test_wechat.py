"""The 公众号 callback (/wechat/callback) under arbitrary requests: a 4xx and nothing stored, never a 5xx.

As tests/fuzz/test_webhook.py does for the WeCom callbacks, with the 公众号's own signatures: a
plain ``signature`` on every request, and in safe mode ``msg_signature`` over the Encrypt field;
bodies in XML or JSON. A correctly signed body is stored only if it parses as a message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import example, given
from hypothesis import strategies as st

from bot import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from bot.wecom.crypto import CallbackCrypto
from bot.wecom.inbound import MalformedMessage
from bot.wecom.mp import body_fields, is_json, parse_mp_fields, plain_signature
from tests.fuzz.strategies import FUZZ, awkward_text, is_chinese
from tests.fuzz.test_webhook import HOSTILE_XML, Hook, _encodable, assert_refused_and_nothing_stored, bodies
from tests.wecom.test_crypto import MP_APPID, MP_KEY, MP_TOKEN
from tests.wecom.test_inbound import json_values, xml_documents

PATH = "/wechat/callback"
TS, NONCE = "1700000000", "n1"
PARAMS = ["signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature", "openid"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with the 公众号 of Tencent's Sample.py."""
    return settings.with_(wechat_app_id=MP_APPID, wechat_token=MP_TOKEN, wechat_aes_key=MP_KEY)


@pytest.fixture
def hook(runtime: Runtime, settings: Settings) -> Iterator[Hook]:
    with create_app(runtime=runtime).test_client() as client:
        yield Hook(client, runtime, settings)


def signed(**extra: str) -> dict[str, str]:
    """A query carrying a correct plain signature."""
    return {"signature": plain_signature(MP_TOKEN, TS, NONCE), "timestamp": TS, "nonce": NONCE, **extra}


def parses(plaintext: str) -> bool:
    """Whether the callback should take this plaintext as a message."""
    try:
        parse_mp_fields(body_fields(plaintext, is_json(plaintext)))
    except MalformedMessage:
        return False
    return True


# -- arbitrary requests -----------------------------------------------------------------------

query_values = awkward_text | st.sampled_from(["", TS, "0" * 40, "aes", "raw", "a" * 5000, "%zz", "+/="])
queries = st.dictionaries(st.sampled_from(PARAMS) | awkward_text, query_values, max_size=7)


@FUZZ
@given(query=queries, body=bodies)
def test_any_unsigned_post_is_refused_with_4xx_and_stores_nothing(
    hook: Hook, query: dict, body: bytes
) -> None:
    before = hook.stored()
    encoded = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='+/=')}" for k, v in query.items() if _encodable(k, v)
    )
    response = hook.client.post(f"{PATH}?{encoded}", data=body, content_type="text/xml")
    assert_refused_and_nothing_stored(response, hook, before)


@FUZZ
@given(query=queries)
def test_any_unsigned_url_check_is_refused_with_4xx(hook: Hook, query: dict) -> None:
    encoded = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items() if _encodable(k, v)
    )
    assert 400 <= hook.client.get(f"{PATH}?{encoded}").status_code < 500


# -- correctly signed, any body -----------------------------------------------------------------

mp_plaintexts = (
    st.text(max_size=512)
    | xml_documents
    | json_values.map(json.dumps)
    | st.sampled_from([body.decode() for body in HOSTILE_XML.values()])
    | st.builds(
        lambda user, content: (
            f"<xml><FromUserName>{user}</FromUserName><CreateTime>1764000000</CreateTime>"
            f"<MsgType>text</MsgType><Content>{content}</Content><MsgId>1</MsgId></xml>"
        ),
        st.text(alphabet="ab", min_size=55, max_size=70),  # around the 64-byte column with "wx:"
        st.sampled_from(["帮助", "", "诉求", "绑定"]),
    )
    | st.builds(
        lambda user, created, kind: json.dumps(
            {"FromUserName": user, "CreateTime": created, "MsgType": kind, "Content": "帮助", "MsgId": 7}
        ),
        st.text(max_size=70),
        st.one_of(st.integers(), st.text(max_size=12)),
        st.sampled_from(["text", "event", "image", "voice", ""]),
    )
)


@FUZZ
@given(plaintext=mp_plaintexts)
@example(plaintext=HOSTILE_XML["billion-laughs"].decode())
@example(
    plaintext="<xml><FromUserName>" + "o" * 62 + "</FromUserName><CreateTime>1764000000</CreateTime>"
    "<MsgType>text</MsgType><Content>帮助</Content><MsgId>1</MsgId></xml>"
)  # 62 + "wx:" is over the 64-byte user id column
def test_a_plain_mode_callback_is_stored_only_if_it_parses(hook: Hook, plaintext: str) -> None:
    before = hook.stored()
    body = plaintext.encode("utf-8", "surrogatepass")
    response = hook.client.post(PATH, query_string=signed(), data=body, content_type="text/plain")
    if not _utf8(plaintext) or not parses(plaintext):
        assert_refused_and_nothing_stored(response, hook, before)
        return
    assert response.status_code == 200
    assert hook.stored() in (before, before + 1)  # the same dedup key twice is a retry
    _assert_answer_is_chinese(response.get_data(as_text=True))


@FUZZ
@given(plaintext=mp_plaintexts)
def test_a_safe_mode_callback_is_stored_only_if_it_parses(hook: Hook, plaintext: str) -> None:
    if not _utf8(plaintext):
        return  # cannot be encrypted at all
    crypto = CallbackCrypto(MP_TOKEN, MP_KEY, MP_APPID)
    encrypt, signature = crypto.encrypt(plaintext, NONCE, TS)
    body = f"<xml><ToUserName>gh_x</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    before = hook.stored()
    query = signed(encrypt_type="aes", msg_signature=signature)
    response = hook.client.post(PATH, query_string=query, data=body.encode(), content_type="text/xml")
    if not parses(plaintext):
        assert_refused_and_nothing_stored(response, hook, before)
        return
    assert response.status_code == 200
    assert hook.stored() in (before, before + 1)
    if response.get_data():  # the encrypted passive answer (XML or JSON, as the message) opens
        _assert_answer_is_chinese(crypto.decrypt(*_envelope(response.get_data(as_text=True))))


def _envelope(answer: str) -> list[str]:
    """msg_signature, timestamp, nonce and Encrypt of an encrypted passive answer."""
    names = ("MsgSignature", "TimeStamp", "Nonce", "Encrypt")
    if answer.lstrip().startswith("{"):
        data = json.loads(answer)
        return [str(data[name]) for name in names]
    envelope = fromstring(answer, forbid_dtd=True)
    return [envelope.findtext(name) or "" for name in names]


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _assert_answer_is_chinese(answer: str) -> None:
    """An empty answer, or a passive text (XML or JSON) in Chinese."""
    if not answer:
        return
    if answer.lstrip().startswith("{"):
        content = json.loads(answer)["Content"]
    else:
        content = fromstring(answer, forbid_dtd=True).findtext("Content") or ""
    assert is_chinese(content), answer[:200]
