"""The two reference endpoints the webhook benchmark measures ours against (issue 10 §1).

Served by gunicorn with sync workers, exactly as `ztc web` serves ours:

    gunicorn -w 2 -k sync 'bench.webhook_apps:durable()'   # decrypt + one insert + one enqueue + reply
    gunicorn -w 2 -k sync 'bench.webhook_apps:minimal()'   # decrypt + reply

Both verify the signature, decrypt, parse the XML and answer an encrypted passive text, with
wechatpy's WeChatCrypto (the library most Python WeCom bots use) and the same settings (token,
AES key, corp id) as ours; the durable one also inserts the message into one table and enqueues one
RQ job. Nothing else: no dedupe, no routing, no person lookup, no handler. Configured from the
environment (BENCH_DATABASE_URL, BENCH_REDIS_URL, WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID).
"""

from __future__ import annotations

import os
import time

import xmltodict
from flask import Flask, Response, request
from redis import Redis
from rq import Queue
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, insert
from wechatpy.enterprise.crypto import WeChatCrypto

CEILING_QUEUE = "bench-ceiling"
metadata = MetaData()
ceiling_inbound = Table(
    "bench_ceiling_inbound",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("msg_id", String(64), unique=True),
    Column("user_id", String(64)),
    Column("body", Text),
)


def noop(msg_id: str) -> str:
    """The ceiling's job (never run during the benchmark: no worker listens)."""
    return msg_id


def _crypto() -> WeChatCrypto:
    return WeChatCrypto(os.environ["WECOM_TOKEN"], os.environ["WECOM_AES_KEY"], os.environ["WECOM_CORP_ID"])


def _app(store: bool) -> Flask:
    crypto = _crypto()
    app = Flask(__name__)
    engine = queue = None
    if store:
        engine = create_engine(os.environ["BENCH_DATABASE_URL"])
        queue = Queue(CEILING_QUEUE, connection=Redis.from_url(os.environ["BENCH_REDIS_URL"]))

    @app.post("/wecom/callback")
    def callback() -> Response:
        args = request.args
        nonce, timestamp = args["nonce"], args["timestamp"]
        xml = crypto.decrypt_message(request.get_data(), args["msg_signature"], timestamp, nonce)
        message = xmltodict.parse(xml)["xml"]
        if engine is not None and queue is not None:
            with engine.begin() as conn:
                conn.execute(
                    insert(ceiling_inbound).values(
                        msg_id=message["MsgId"], user_id=message["FromUserName"], body=xml
                    )
                )
            queue.enqueue(noop, message["MsgId"])
        reply = (
            f"<xml><ToUserName><![CDATA[{message['FromUserName']}]]></ToUserName>"
            f"<FromUserName><![CDATA[{message['ToUserName']}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[收到]]></Content></xml>"
        )
        return Response(crypto.encrypt_message(reply, nonce, timestamp), mimetype="application/xml")

    return app


def durable() -> Flask:
    """The durable ceiling: decrypt, one insert, one enqueue, encrypted reply."""
    return _app(store=True)


def minimal() -> Flask:
    """The minimal endpoint: decrypt and encrypted reply."""
    return _app(store=False)
