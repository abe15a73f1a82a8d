"""The WeCom callbacks: verify → decrypt → parse → intake → encrypted passive reply.

Two of them: the self-built app's XML callback (/wecom/callback, 1:1 chats) and the 智能机器人's
JSON callback (/wecom/aibot, group chats where the AI bot is @-mentioned). A thin adapter: it
knows HTTP and hands a transport-free Inbound to the intake. Every bad request is answered 4xx
with no side effect (a 5xx would make WeCom retry garbage).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, request

from bot.intake import Intake
from bot.messages import Inbound
from bot.replies import Reply
from bot.runtime import Runtime
from bot.wecom.crypto import CallbackCrypto, CryptoError
from bot.wecom.inbound import MalformedMessage, parse_aibot_message, parse_app_message
from bot.wecom.outbound import render_aibot_passive, render_passive_reply

log = logging.getLogger(__name__)

bp = Blueprint("wecom", __name__)

REFUSED_SIGNATURE = {"bad signature", "wrong receiveid"}


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["ztc.runtime"]
    return runtime


def _crypto() -> CallbackCrypto:
    crypto: CallbackCrypto = current_app.extensions["ztc.crypto"]
    return crypto


def _aibot_crypto() -> CallbackCrypto | None:
    """The AI bot's crypto (receiveid ""), or None when the county has no AI bot."""
    crypto: CallbackCrypto | None = current_app.extensions.get("ztc.aibot_crypto")
    return crypto


def _query() -> dict[str, str]:
    # Flask turns a raw '+' into a space; echostr is base64 and may carry '+'.
    raw = request.query_string.replace(b"+", b"%2B").decode("ascii", "replace")
    return dict(parse_qsl(raw))


def _refuse(status: int, reason: str) -> Response:
    log.info("callback refused (%s): %s", status, reason)
    return Response(reason, status=status, mimetype="text/plain")


@bp.get("/wecom/callback")
def verify_url() -> Response:
    """URL verification: answer the decrypted echostr as plain text."""
    return _verify(_crypto())


def _verify(crypto: CallbackCrypto) -> Response:
    """Check the GET's signature and answer the decrypted echostr (no quotes, no newline)."""
    q = _query()
    if not all(q.get(k) for k in ("msg_signature", "timestamp", "nonce", "echostr")):
        return _refuse(400, "missing parameters")
    try:
        echo = crypto.verify_url(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
    except CryptoError as exc:
        return _refuse(403 if exc.reason in REFUSED_SIGNATURE else 400, exc.reason)
    return Response(echo, mimetype="text/plain")


@bp.post("/wecom/callback")
def receive() -> Response:
    """A message or event: store it, answer within WeCom's 5 seconds."""
    q = _query()
    refusal = _check_post(q)
    if refusal is not None:
        return refusal
    body = request.get_data(cache=False)
    try:
        xml = _crypto().decrypt_xml_body(body, q["msg_signature"], q["timestamp"], q["nonce"])
        inbound = parse_app_message(xml)
    except CryptoError as exc:
        return _refuse(403 if exc.reason in REFUSED_SIGNATURE else 400, exc.reason)
    except MalformedMessage as exc:
        return _refuse(400, exc.reason)
    received = Intake(_runtime()).receive(inbound)
    return _passive(received.replies, inbound.user_id, q["nonce"])


def _check_post(q: dict[str, str]) -> Response | None:
    """The refusal for a POST without its parameters or with a missing or oversized body, if any."""
    if not all(q.get(k) for k in ("msg_signature", "timestamp", "nonce")):
        return _refuse(400, "missing parameters")
    limit = _runtime().settings.max_body_bytes
    # Checked before the body is read: a huge body is refused without buffering or parsing it.
    if request.content_length is None or request.content_length > limit:
        return _refuse(413 if request.content_length else 411, "body too large or without length")
    return None


def _passive(replies: list, to_user: str, nonce: str) -> Response:
    """The first reply, encrypted, or an empty 200 (which also stops WeCom's retries)."""
    rt = _runtime()
    if not replies:
        return Response("", mimetype="text/plain")
    now = int(rt.clock.now().timestamp())
    xml = render_passive_reply(replies[0], to_user, rt.settings.wecom_corp_id, now)
    if xml is None:
        return Response("", mimetype="text/plain")
    envelope = _crypto().encrypt_xml_reply(xml, nonce or secrets.token_hex(8), str(now))
    return Response(envelope, mimetype="application/xml")


# -- the 智能机器人 (AI bot) callback: JSON, receiveid "" -------------------------------------


@bp.get("/wecom/aibot")
def verify_aibot_url() -> Response:
    """URL verification of the AI bot's API mode: answer the decrypted echostr as plain text."""
    crypto = _aibot_crypto()
    if crypto is None:
        return _refuse(404, "no AI bot configured")
    return _verify(crypto)


@bp.post("/wecom/aibot")
def receive_aibot() -> Response:
    """A group @-mention (or AI-bot event): store it, answer with a finished stream within 5 seconds."""
    crypto = _aibot_crypto()
    if crypto is None:
        return _refuse(404, "no AI bot configured")
    q = _query()
    refusal = _check_post(q)
    if refusal is not None:
        return refusal
    body = request.get_data(cache=False)
    try:
        plaintext = crypto.decrypt_json_body(body, q["msg_signature"], q["timestamp"], q["nonce"])
        inbound = parse_aibot_message(plaintext, _runtime().clock.now())
    except CryptoError as exc:
        return _refuse(403 if exc.reason in REFUSED_SIGNATURE else 400, exc.reason)
    except MalformedMessage as exc:
        return _refuse(400, exc.reason)
    received = Intake(_runtime()).receive(inbound)
    return _aibot_passive(crypto, received.replies, inbound, q["nonce"])


def _aibot_passive(crypto: CallbackCrypto, replies: list[Reply], inbound: Inbound, nonce: str) -> Response:
    """The first reply as an encrypted JSON envelope, or an empty 200 (the rest went to the outbox)."""
    welcome = inbound.event == "enter_chat"  # the only event that takes a (text) passive reply
    plaintext = render_aibot_passive(replies[0], stream_id(inbound), welcome=welcome) if replies else None
    if plaintext is None:
        return Response("", mimetype="text/plain")
    now = str(int(_runtime().clock.now().timestamp()))
    envelope = crypto.encrypt_json_reply(plaintext, nonce or secrets.token_hex(8), now)
    return Response(envelope, mimetype="application/json")


def stream_id(inbound: Inbound) -> str:
    """The stream id of a message's answer: unique per message, the same when WeCom retries it."""
    # Derived from the dedup key, so a retry answered from the stored reply repeats the same stream.
    return hashlib.sha256(inbound.dedup_key.encode("utf-8")).hexdigest()[:32]
