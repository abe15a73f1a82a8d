"""The local chat simulator (`ztc simulator`, started by `ztc demo`): the bot in a browser page.

A newcomer picks a person of the demo county, chats with the bot, presses card buttons, speaks in
a group and sees what the bot pushed to anyone. Every action goes through the real encrypted
callbacks (BotLine, shared with the terminal chat) and every answer is read back from the WeCom
stand-in, so what the page shows is what WeCom would have shown. It serves on 127.0.0.1 only.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from bot.settings import Settings
from bot.simulator.app import create_simulator_app
from bot.simulator.county import County, demo_county
from bot.simulator.feed import Feed
from bot.standin.line import BotLine

HOST = "127.0.0.1"  # never another interface: anyone who reaches the page can speak as anyone
DEFAULT_PORT = 8402


def build_simulator(
    settings: Settings,
    *,
    web_url: str,
    standin_url: str,
    user: str = "zhang_wei",
    county: County | None = None,
) -> Flask:
    """The simulator app for the bot at `web_url` and the stand-in at `standin_url`."""
    line = BotLine.connect(settings, web_url=web_url, standin_url=standin_url)
    county = county or demo_county(settings.digest_group_webhook)
    feed = Feed(line, on_connect=lambda: _bind_groups(line, county))
    media = (settings.var_dir / "digests", settings.var_dir / "exports")  # where the bot writes uploads
    return create_simulator_app(feed, county, default_user=user, zone=ZoneInfo(settings.tz), media_dirs=media)


def _bind_groups(line: BotLine, county: County) -> None:
    """Tie each demo group's 群机器人 key to its chat, so the group shows the notices posted there."""
    for group in county.groups:
        if group.webhook_key:
            line.bind_group(group.webhook_key, group.chatid)


def simulator_server(app: Flask, port: int = DEFAULT_PORT) -> BaseWSGIServer:
    """A threaded server for `app` on 127.0.0.1:`port` (0: a free port), not yet serving."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll, once a second
    return make_server(HOST, port, app, threaded=True)


def simulator_url(port: int) -> str:
    """The address to open in a browser."""
    return f"http://{HOST}:{port}/"


def run_simulator(settings: Settings, *, port: int, web_url: str, standin_url: str, user: str) -> None:
    """Serve the simulator in the foreground until interrupted."""
    app = build_simulator(settings, web_url=web_url, standin_url=standin_url, user=user)
    server = simulator_server(app, port)
    print(f"在浏览器打开 {simulator_url(server.server_port)} 体验（本地模拟器，Ctrl+C 退出）", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
