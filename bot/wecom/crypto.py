"""WeCom / WeChat callback crypto (WXBizMsgCrypt), strict about every byte it is handed.

The platform signs ``sha1(sorted(token, timestamp, nonce, encrypt))`` and encrypts with
AES-256-CBC (IV = key[:16]) over ``16 random bytes + 4-byte big-endian length + message +
receiveid``, padded PKCS#7-style to a 32-byte block. wechatpy does the AES step; the framing is
done here because wechatpy's own unframing trusts the pad byte and the length field, and lets
``IndexError``/``struct.error``/``UnicodeDecodeError`` escape on hostile input.

Every malformed input raises :class:`CryptoError` and nothing else, so the view can answer 4xx
(never 5xx: a 5xx makes the platform retry).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import secrets
import struct

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from wechatpy.crypto.cryptography import WeChatCipher

MAX_BODY_BYTES = 1 << 20  # real callbacks are a few KB; refuse absurd bodies before parsing
MAX_ENCRYPT_CHARS = 1 << 20  # the base64 ciphertext, same reasoning
_PAD_BLOCK = 32  # WXBizMsgCrypt pads to 32 bytes, not AES's 16
_AES_BLOCK = 16
_RANDOM_LEN = 16
_HEADER_LEN = _RANDOM_LEN + 4  # random bytes + big-endian message length

# Everything the XML / JSON layers raise on hostile input. ParseError is a SyntaxError, and
# defusedxml's refusals (DTDForbidden, EntitiesForbidden, …) are ValueErrors.
_XML_ERRORS = (ParseError, DefusedXmlException, ValueError, LookupError, TypeError)
_JSON_ERRORS = (ValueError, RecursionError, TypeError)


class CryptoError(Exception):
    """A callback that fails verification or decryption; ``reason`` is short English."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _cdata(text: str) -> str:
    """Wrap text in CDATA, splitting any ``]]>`` so it cannot close the section early."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _require_text(value: object, name: str) -> str:
    """Query parameters arrive as str or not at all; anything else is a malformed request."""
    if not isinstance(value, str):
        raise CryptoError(f"missing {name}")
    return value


def _unpad(padded: bytes) -> bytes:
    """Strip PKCS#7 padding with a 32-byte block, checking every pad byte."""
    pad = padded[-1]
    if not 1 <= pad <= _PAD_BLOCK or pad > len(padded) or padded[-pad:] != bytes([pad]) * pad:
        raise CryptoError("bad padding")
    return padded[:-pad]


def _pad(data: bytes) -> bytes:
    """PKCS#7 padding to a 32-byte block (a full block when already aligned)."""
    pad = _PAD_BLOCK - len(data) % _PAD_BLOCK
    return data + bytes([pad]) * pad


def _b64decode(encrypt: str) -> bytes:
    """Strict base64: no whitespace, no junk characters, correct '=' padding."""
    if len(encrypt) > MAX_ENCRYPT_CHARS:
        raise CryptoError("too large")
    try:
        return base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII characters
        raise CryptoError("bad base64") from exc


class CallbackCrypto:
    """Sign, verify, encrypt and decrypt callbacks for one token / key / receiveid."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        """Configuration errors are ValueErrors: they are ours, not the caller's input."""
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("EncodingAESKey is not base64") from exc
        if len(key) != 32:
            raise ValueError("EncodingAESKey must be 43 characters (32 bytes once decoded)")
        self._token = token
        self._receive_id = receive_id.encode("utf-8")
        self._cipher = WeChatCipher(key, key[:16])

    # -- signatures -------------------------------------------------------------------------

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """The msg_signature the platform computes: sha1 over the four strings, sorted."""
        parts = [self._token, _require_text(timestamp, "timestamp"), _require_text(nonce, "nonce")]
        parts.append(_require_text(encrypt, "encrypt"))
        try:
            data = "".join(sorted(parts)).encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates cannot be what the platform signed
            raise CryptoError("bad signature") from exc
        return hashlib.sha1(data).hexdigest()  # noqa: S324 - SHA-1 is fixed by the platform's protocol

    def check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        """Raise CryptoError("bad signature") unless msg_signature matches, in constant time."""
        expected = self.signature(timestamp, nonce, encrypt).encode("ascii")
        given = _require_text(msg_signature, "msg_signature").encode("utf-8", "replace")
        # No timestamp freshness check: every official sample vector is years old. Replays within
        # the dedup window are caught by the dedup key; older ones are not (a max-age check would go here).
        if not hmac.compare_digest(expected, given):
            raise CryptoError("bad signature")

    # -- decryption -------------------------------------------------------------------------

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Answer the GET URL check: verify, decrypt and return the plain echostr."""
        return self.decrypt(msg_signature, timestamp, nonce, echostr)

    def decrypt(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        """Verify the signature, then decrypt one Encrypt value to text."""
        # The signature is checked first, so nobody without the token can use the padding and
        # framing checks below as a decryption oracle.
        self.check_signature(msg_signature, timestamp, nonce, encrypt)
        return self._open(encrypt)

    def decrypt_xml_body(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Decrypt a POSTed ``<xml><Encrypt>…</Encrypt></xml>`` callback body."""
        return self.decrypt(msg_signature, timestamp, nonce, self._xml_encrypt(body))

    def decrypt_json_body(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Decrypt a POSTed ``{"encrypt": "…"}`` body (智能机器人 callback)."""
        return self.decrypt(msg_signature, timestamp, nonce, self._json_encrypt(body))

    def _xml_encrypt(self, body: bytes) -> str:
        """The Encrypt field of an XML body; DTDs (XXE, billion laughs) are refused outright."""
        if not isinstance(body, bytes | str) or len(body) > MAX_BODY_BYTES:
            raise CryptoError("malformed xml")
        try:
            root = fromstring(body, forbid_dtd=True)
        except _XML_ERRORS as exc:
            raise CryptoError("malformed xml") from exc
        node = root.find("Encrypt") if root.tag == "xml" else None
        if node is None or not node.text:
            raise CryptoError("missing Encrypt")
        return node.text

    def _json_encrypt(self, body: bytes) -> str:
        """The encrypt field of a JSON body."""
        if not isinstance(body, bytes | str) or len(body) > MAX_BODY_BYTES:
            raise CryptoError("malformed json")
        try:
            data = json.loads(body)
        except _JSON_ERRORS as exc:
            raise CryptoError("malformed json") from exc
        encrypt = data.get("encrypt") if isinstance(data, dict) else None
        if not isinstance(encrypt, str) or not encrypt:
            raise CryptoError("missing encrypt")
        return encrypt

    def _open(self, encrypt: str) -> str:
        """base64 → AES-CBC → unpad → unframe, each step strict."""
        ciphertext = _b64decode(encrypt)
        if not ciphertext or len(ciphertext) % _AES_BLOCK:
            raise CryptoError("bad length")
        return self._unframe(_unpad(self._cipher.decrypt(ciphertext)))

    def _unframe(self, plain: bytes) -> str:
        """Split random + length + message + receiveid; check the length and the receiveid."""
        if len(plain) < _HEADER_LEN:
            raise CryptoError("bad length")
        (length,) = struct.unpack(">I", plain[_RANDOM_LEN:_HEADER_LEN])
        end = _HEADER_LEN + length
        if end > len(plain):
            raise CryptoError("bad length")
        if not hmac.compare_digest(plain[end:], self._receive_id):
            raise CryptoError("wrong receiveid")
        try:
            return plain[_HEADER_LEN:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CryptoError("bad utf-8") from exc

    # -- encryption -------------------------------------------------------------------------

    def encrypt(self, plaintext: str, nonce: str, timestamp: str) -> tuple[str, str]:
        """Encrypt plaintext; return (base64 Encrypt value, its msg_signature)."""
        encrypted = self._seal(plaintext)
        return encrypted, self.signature(timestamp, nonce, encrypted)

    def _seal(self, plaintext: str) -> str:
        """Frame, pad and AES-encrypt one message with 16 fresh random bytes."""
        try:
            message = _require_text(plaintext, "plaintext").encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CryptoError("bad plaintext") from exc
        framed = secrets.token_bytes(_RANDOM_LEN) + struct.pack(">I", len(message))
        framed += message + self._receive_id
        return base64.b64encode(self._cipher.encrypt(_pad(framed))).decode("ascii")

    def encrypt_xml_reply(self, plaintext_xml: str, nonce: str, timestamp: str) -> str:
        """The encrypted passive-reply envelope for an XML callback."""
        encrypted, signature = self.encrypt(plaintext_xml, nonce, timestamp)
        return (
            f"<xml><Encrypt>{_cdata(encrypted)}</Encrypt>"
            f"<MsgSignature>{_cdata(signature)}</MsgSignature>"
            f"<TimeStamp>{html.escape(timestamp, quote=False)}</TimeStamp>"
            f"<Nonce>{_cdata(nonce)}</Nonce></xml>"
        )

    def encrypt_json_reply(self, plaintext_json: str, nonce: str, timestamp: str) -> str:
        """The encrypted passive-reply envelope for the 智能机器人 JSON callback."""
        encrypted, signature = self.encrypt(plaintext_json, nonce, timestamp)
        # timestamp stays a string, as in Tencent's WXBizJsonMsgCrypt reference template.
        envelope = {"encrypt": encrypted, "msgsignature": signature, "timestamp": timestamp, "nonce": nonce}
        return json.dumps(envelope)

    # -- acting as the platform (tests, local stand-in) -------------------------------------

    def build_callback_body(
        self, plaintext_xml: str, nonce: str, timestamp: str, to_user: str, agent_id: str | int
    ) -> tuple[bytes, dict[str, str]]:
        """What WeCom POSTs for an app callback: the XML body and the query parameters."""
        encrypted, signature = self.encrypt(plaintext_xml, nonce, timestamp)
        body = (
            f"<xml><ToUserName>{_cdata(to_user)}</ToUserName>"
            f"<AgentID>{_cdata(str(agent_id))}</AgentID>"
            f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
        )
        return body.encode("utf-8"), {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}

    def build_json_callback_body(
        self, plaintext_json: str, nonce: str, timestamp: str
    ) -> tuple[bytes, dict[str, str]]:
        """What WeCom POSTs for a 智能机器人 callback: the JSON body and the query parameters."""
        encrypted, signature = self.encrypt(plaintext_json, nonce, timestamp)
        body = json.dumps({"encrypt": encrypted}).encode("utf-8")
        return body, {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}
