"""政企直通车: the platform package. `create_app` wires the web process; nothing runs at import."""

from __future__ import annotations

import uuid

from flask import Flask, Response

from bot.logs import request_id
from bot.runtime import Runtime
from bot.settings import Settings


def _new_request_id() -> None:
    """Every log line of one request carries the same short id (rid=…)."""
    request_id.set(uuid.uuid4().hex[:12])


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """The Flask app: the WeCom callbacks, health checks and metrics, over an explicitly wired runtime."""
    from bot import metrics
    from bot.h5 import bp as h5_bp  # the H5 pages call the features' services
    from bot.health import readiness
    from bot.webhook import bp as wecom_bp
    from bot.wechat_webhook import bp as wechat_bp
    from bot.wecom.crypto import CallbackCrypto  # keep `import bot` light
    from handlers.complaints.overdue import overdue_counts  # the app mounts features, not the reverse

    if runtime is None:
        runtime = Runtime.build(settings or Settings.from_env())
    s = runtime.settings
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = s.max_body_bytes
    app.extensions["ztc.runtime"] = runtime
    app.extensions["ztc.crypto"] = CallbackCrypto(s.wecom_token, s.wecom_aes_key, s.wecom_corp_id)
    if s.aibot_enabled:
        # The 智能机器人 callback is signed with its own token and key; its receiveid is "".
        app.extensions["ztc.aibot_crypto"] = CallbackCrypto(s.aibot_token, s.aibot_aes_key, "")
    if s.wechat_enabled and s.wechat_aes_key:
        # The 公众号's safe / compatible mode: its own token and key, receiveid = its AppID.
        app.extensions["ztc.wechat_crypto"] = CallbackCrypto(
            s.wechat_token, s.wechat_aes_key, s.wechat_app_id
        )
    app.register_blueprint(wecom_bp)
    app.register_blueprint(h5_bp)
    app.register_blueprint(wechat_bp)  # answers 404 unless WECHAT_APP_ID is set
    app.before_request(_new_request_id)
    metrics.install(app, runtime, overdue=overdue_counts)  # callback hooks and GET /metrics

    @app.get("/healthz")
    def healthz() -> Response:
        """The process is up (no dependency checks: that is /readyz's job)."""
        return Response("ok", mimetype="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        """The database (SELECT 1) and Redis (PING) answer in time: 200, else 503 naming which failed."""
        return readiness(runtime)

    return app
