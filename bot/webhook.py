"""The WeCom callback: verify → decrypt → parse → intake → encrypted passive reply.

A thin adapter: it knows HTTP and hands a transport-free Inbound to the intake. Every bad
request is answered 4xx with no side effect (a 5xx would make WeCom retry garbage).
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, request

from bot.intake import Intake
from bot.runtime import Runtime
from bot.wecom.crypto import CallbackCrypto, CryptoError
from bot.wecom.inbound import MalformedMessage, parse_app_message
from bot.wecom.outbound import render_passive_reply

log = logging.getLogger(__name__)

bp = Blueprint("wecom", __name__)

REFUSED_SIGNATURE = {"bad signature", "wrong receiveid"}


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["ztc.runtime"]
    return runtime


def _crypto() -> CallbackCrypto:
    crypto: CallbackCrypto = current_app.extensions["ztc.crypto"]
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
    q = _query()
    if not all(q.get(k) for k in ("msg_signature", "timestamp", "nonce", "echostr")):
        return _refuse(400, "missing parameters")
    try:
        echo = _crypto().verify_url(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
    except CryptoError as exc:
        return _refuse(403 if exc.reason in REFUSED_SIGNATURE else 400, exc.reason)
    return Response(echo, mimetype="text/plain")


@bp.post("/wecom/callback")
def receive() -> Response:
    """A message or event: store it, answer within WeCom's 5 seconds."""
    q = _query()
    if not all(q.get(k) for k in ("msg_signature", "timestamp", "nonce")):
        return _refuse(400, "missing parameters")
    limit = _runtime().settings.max_body_bytes
    if request.content_length is None or request.content_length > limit:
        return _refuse(413 if request.content_length else 411, "body too large or without length")
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
