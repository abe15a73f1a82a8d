"""Callback crypto as properties: every envelope we write opens again; any other key, id, signature fails.

tests/wecom/test_crypto.py holds the platform's published vectors and throws hostile bodies and
ciphertexts at the decryption (nothing but CryptoError, ever); these add the round trips over
arbitrary values and the refusals over arbitrary wrong credentials.
"""

from __future__ import annotations

import base64
import json

from defusedxml.ElementTree import fromstring
from hypothesis import given
from hypothesis import strategies as st

from bot.wecom.crypto import CallbackCrypto, CryptoError
from tests.fuzz.strategies import FUZZ

TOKEN, KEY, CORP = "ztcFuzzToken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "ww0000000000demo0"
CRYPTO = CallbackCrypto(TOKEN, KEY, CORP)

texts = st.text(max_size=300)  # no lone surrogates: they cannot be what anyone sent
# Query parameters travel into the reply envelope's XML: anything XML can carry (WeCom's are digits).
params = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"], exclude_characters="\ufffe\uffff"),
    max_size=40,
) | st.sampled_from(["]]>", "<![CDATA[", "&amp;", "<x>", "1700000000", ""])
aes_keys = st.binary(min_size=32, max_size=32).map(lambda raw: base64.b64encode(raw).decode()[:43])


def reason_of(call, *args) -> str | None:
    try:
        call(*args)
    except CryptoError as exc:
        return exc.reason
    return None


@FUZZ
@given(plaintext=texts, nonce=params, timestamp=params)
def test_what_we_encrypt_decrypts_back(plaintext: str, nonce: str, timestamp: str) -> None:
    encrypted, signature = CRYPTO.encrypt(plaintext, nonce, timestamp)
    assert CRYPTO.decrypt(signature, timestamp, nonce, encrypted) == plaintext


@FUZZ
@given(plaintext=texts, nonce=params, timestamp=params)
def test_a_passive_xml_reply_opens_with_its_own_fields(plaintext: str, nonce: str, timestamp: str) -> None:
    envelope = CRYPTO.encrypt_xml_reply(plaintext, nonce, timestamp)
    root = fromstring(envelope, forbid_dtd=True)
    assert root.findtext("Nonce") == nonce and (root.findtext("TimeStamp") or "") == timestamp
    signature = root.findtext("MsgSignature") or ""
    assert CRYPTO.decrypt_xml_body(envelope.encode(), signature, timestamp, nonce) == plaintext


@FUZZ
@given(plaintext=texts, nonce=params, timestamp=params)
def test_a_passive_json_reply_opens_with_its_own_fields(plaintext: str, nonce: str, timestamp: str) -> None:
    aibot = CallbackCrypto(TOKEN, KEY, "")
    envelope = json.loads(aibot.encrypt_json_reply(plaintext, nonce, timestamp))
    assert (envelope["nonce"], envelope["timestamp"]) == (nonce, timestamp)
    assert aibot.decrypt(envelope["msgsignature"], timestamp, nonce, envelope["encrypt"]) == plaintext


@FUZZ
@given(plaintext=texts, to_user=params, agent_id=st.integers(0, 2**31) | params)
def test_a_callback_the_platform_would_post_opens(plaintext: str, to_user: str, agent_id: int | str) -> None:
    body, query = CRYPTO.build_callback_body(plaintext, "n", "1700000000", to_user, agent_id)
    assert CRYPTO.decrypt_xml_body(body, **query) == plaintext


@FUZZ
@given(signature=st.text(max_size=60) | st.text(alphabet="0123456789abcdefABCDEF", min_size=40, max_size=40))
def test_any_other_signature_is_refused(signature: str) -> None:
    encrypted, right = CRYPTO.encrypt("<xml/>", "n", "1")
    if signature == right:
        return
    assert reason_of(CRYPTO.decrypt, signature, "1", "n", encrypted) == "bad signature"


@FUZZ
@given(receive_id=st.text(max_size=30))
def test_a_message_for_any_other_receiver_is_refused(receive_id: str) -> None:
    if receive_id == CORP:
        return
    sender = CallbackCrypto(TOKEN, KEY, receive_id)
    encrypted, signature = sender.encrypt("<xml/>", "n", "1")
    assert reason_of(CRYPTO.decrypt, signature, "1", "n", encrypted) == "wrong receiveid"


@FUZZ
@given(key=aes_keys)
def test_a_message_sealed_with_any_other_key_is_refused(key: str) -> None:
    if key == KEY:
        return
    encrypted, signature = CallbackCrypto(TOKEN, key, CORP).encrypt("<xml>诉求</xml>", "n", "1")
    assert reason_of(CRYPTO.decrypt, signature, "1", "n", encrypted) is not None


@FUZZ
@given(cut=st.integers(min_value=0), junk=st.sampled_from(["", "A", "AAAA", "====", "\n", "x-_y"]))
def test_a_truncated_or_padded_ciphertext_is_refused(cut: int, junk: str) -> None:
    encrypted, _ = CRYPTO.encrypt("<xml><Content>诉求</Content></xml>", "n", "1")
    mangled = encrypted[: cut % len(encrypted)] + junk
    signature = CRYPTO.signature("1", "n", mangled)  # correctly signed: the decryption itself must refuse
    assert reason_of(CRYPTO.decrypt, signature, "1", "n", mangled) is not None
