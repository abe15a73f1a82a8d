"""The 公众号 callback (/wechat/callback): verify → (decrypt) → parse → intake → passive reply.

The same shape as the WeCom app's callback (bot/webhook.py) and the same Intake: only the
signatures, the body formats and the reply envelope differ (bot/wecom/mp.py). Plain mode is
signed by ``signature``; safe and compatible modes (``encrypt_type=aes``) by ``msg_signature``
over the Encrypt field, and are answered encrypted. Every bad request is a 4xx, never a 5xx.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, current_app, request

from bot.intake import Intake
from bot.replies import Reply
from bot.runtime import Runtime
from bot.webhook import REFUSED_SIGNATURE, _query, _refuse
from bot.wecom.crypto import CallbackCrypto, CryptoError
from bot.wecom.inbound import MalformedMessage
from bot.wecom.mp import (
    body_fields,
    is_json,
    json_envelope,
    parse_mp_fields,
    plain_signature_ok,
    render_mp_passive,
)

bp = Blueprint("wechat", __name__)


def _runtime() -> Runtime | None:
    """The runtime, or None when no 公众号 is configured (the endpoint then answers 404)."""
    runtime: Runtime = current_app.extensions["ztc.runtime"]
    return runtime if runtime.settings.wechat_enabled else None


def _mp_crypto() -> CallbackCrypto | None:
    """The 公众号's crypto (receiveid = AppID), or None in plain-only mode (no WECHAT_AES_KEY)."""
    crypto: CallbackCrypto | None = current_app.extensions.get("ztc.wechat_crypto")
    return crypto


@bp.get("/wechat/callback")
def verify_wechat_url() -> Response:
    """服务器配置 check: a plain signature over token, timestamp, nonce; echostr echoed verbatim."""
    rt = _runtime()
    if rt is None:
        return _refuse(404, "no WeChat official account configured")
    q = _query()
    if not all(q.get(k) for k in ("signature", "timestamp", "nonce", "echostr")):
        return _refuse(400, "missing parameters")
    if not plain_signature_ok(rt.settings.wechat_token, q["signature"], q["timestamp"], q["nonce"]):
        return _refuse(403, "bad signature")
    return Response(q["echostr"], mimetype="text/plain")


@bp.post("/wechat/callback")
def receive_wechat() -> Response:
    """A follower's message or event: store it, answer within WeChat's 5 seconds."""
    rt = _runtime()
    if rt is None:
        return _refuse(404, "no WeChat official account configured")
    q = _query()
    refusal = _check_wechat_post(rt, q)
    if refusal is not None:
        return refusal
    encrypted = q.get("encrypt_type", "raw").lower() == "aes"
    try:
        body = request.get_data(cache=False).decode("utf-8")
        as_json = is_json(body, request.content_type)
        fields = body_fields(body, as_json)
        if encrypted:
            fields, as_json = _decrypted_fields(q, fields)
        inbound = parse_mp_fields(fields)
    except UnicodeDecodeError:
        return _refuse(400, "body is not utf-8")
    except CryptoError as exc:
        return _refuse(403 if exc.reason in REFUSED_SIGNATURE else 400, exc.reason)
    except MalformedMessage as exc:
        return _refuse(400, exc.reason)
    received = Intake(rt).receive(inbound)
    own_id = fields.get("ToUserName", "")  # the 公众号's original id (gh_…): the reply's sender
    return _wechat_passive(rt, received.replies, inbound.user_id, own_id, q["nonce"], encrypted, as_json)


def _check_wechat_post(rt: Runtime, q: dict[str, str]) -> Response | None:
    """The refusal for a POST with missing or bad signatures, or a missing or oversized body."""
    if not all(q.get(k) for k in ("signature", "timestamp", "nonce")):
        return _refuse(400, "missing parameters")
    limit = rt.settings.max_body_bytes
    # Checked before the body is read: a huge body is refused without buffering or parsing it.
    if request.content_length is None or request.content_length > limit:
        return _refuse(413 if request.content_length else 411, "body too large or without length")
    if q.get("encrypt_type", "raw").lower() == "aes":
        if _mp_crypto() is None:
            return _refuse(400, "encrypted callback but no WECHAT_AES_KEY")
        if not q.get("msg_signature"):
            return _refuse(400, "missing parameters")
    # Every mode carries the plain signature; safe mode is checked again over Encrypt below.
    if not plain_signature_ok(rt.settings.wechat_token, q["signature"], q["timestamp"], q["nonce"]):
        return _refuse(403, "bad signature")
    return None


def _decrypted_fields(q: dict[str, str], outer: dict[str, str]) -> tuple[dict[str, str], bool]:
    """Safe / compatible mode: the fields inside Encrypt (plaintext beside it is ignored), their format."""
    crypto = _mp_crypto()
    assert crypto is not None
    encrypt = outer.get("Encrypt")
    if not encrypt:
        raise CryptoError("missing Encrypt")
    plaintext = crypto.decrypt(q["msg_signature"], q["timestamp"], q["nonce"], encrypt)
    as_json = is_json(plaintext)
    return body_fields(plaintext, as_json), as_json


def _wechat_passive(
    rt: Runtime, replies: list[Reply], to_user: str, own_id: str, nonce: str, encrypted: bool, as_json: bool
) -> Response:
    """The first reply (encrypted in safe mode), or an empty 200, which also stops WeChat's retries."""
    now = int(rt.clock.now().timestamp())
    plaintext = render_mp_passive(replies[0], to_user, own_id, now, as_json) if replies else None
    if plaintext is None:
        return Response("", mimetype="text/plain")
    mimetype = "application/json" if as_json else "application/xml"
    if not encrypted:
        return Response(plaintext, mimetype=mimetype)
    crypto = _mp_crypto()
    assert crypto is not None
    nonce = nonce or secrets.token_hex(8)
    if as_json:
        encrypt, signature = crypto.encrypt(plaintext, nonce, str(now))
        return Response(json_envelope(encrypt, signature, str(now), nonce), mimetype=mimetype)
    return Response(crypto.encrypt_xml_reply(plaintext, nonce, str(now)), mimetype=mimetype)
