"""Run the WeCom stand-in on 127.0.0.1 in a background thread (tests) or in the foreground (demo)."""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bot.settings import DEMO_CORP_ID, DEMO_SECRET
from bot.standin.aibot import RESPONSE_URL_SECONDS, chat_entries, response_path
from bot.standin.api import StandinState, create_standin_app, standin_state


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry (fake) tokens and would flood the test output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the per-request log line."""


class StandinServer:
    """The stand-in on a free local port in a daemon thread; a context manager."""

    def __init__(
        self,
        *,
        corp_id: str = DEMO_CORP_ID,
        secret: str = DEMO_SECRET,
        token_ttl: int = 7200,
        agent_id: int | None = None,
        known_users: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app = create_standin_app(
            corp_id=corp_id, secret=secret, token_ttl=token_ttl, agent_id=agent_id, known_users=known_users
        )
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> StandinServer:
        """Bind the port and serve in a daemon thread."""
        self._server = make_server(
            self._host, self._port, self.app, threaded=True, request_handler=_QuietHandler
        )
        # A short poll interval makes stop() quick (the default is half a second).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="wecom-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The bound port (a free one when 0 was asked for)."""
        if self._server is None:
            raise RuntimeError("StandinServer is not started")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """The root URL, e.g. http://127.0.0.1:5123/ (the /_standin/ endpoints live here)."""
        return f"http://{self._host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """What WECOM_API_BASE should be: the root plus cgi-bin/."""
        return self.url + "cgi-bin/"

    # ------------------------------------------------------------ inspection and control (in-process)

    @property
    def state(self) -> StandinState:
        """The fake corp's in-memory state."""
        return standin_state(self.app)

    def messages(self, touser: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Messages delivered (one entry per recipient), optionally for one user, after seq `since`."""
        with self.state.lock:
            return [
                m
                for m in self.state.messages
                if m["seq"] > since and (touser is None or m["touser"].lower() == touser.lower())
            ]

    def suppressed(self) -> list[dict[str, Any]]:
        """Sends accepted but not delivered again (WeCom's duplicate check)."""
        with self.state.lock:
            return list(self.state.suppressed)

    def groups(self, key: str | None = None) -> list[dict[str, Any]]:
        """群机器人 messages accepted, optionally for one webhook key."""
        with self.state.lock:
            return [g for g in self.state.groups if key is None or g["key"] == key]

    def updates(self) -> list[dict[str, Any]]:
        """Card updates accepted."""
        with self.state.lock:
            return list(self.state.updates)

    def issue_response_url(self, chatid: str, userid: str, msgid: str) -> str:
        """A fresh AI-bot response_url for one message, as WeCom puts in the callback."""
        with self.state.lock:
            code = self.state.new_aibot_code(chatid, userid, msgid)
        return self.url + response_path(code)

    def group_chat(self, chatid: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """What a chat received: AI-bot answers (response_url) and 群机器人 sends of bound keys."""
        with self.state.lock:
            return chat_entries(self.state, chatid, since)

    def bind_group(self, webhook_key: str, chatid: str) -> None:
        """Show the 群机器人 sends of `webhook_key` in the log of chat `chatid`."""
        with self.state.lock:
            self.state.webhook_chats[webhook_key] = chatid

    def expire_response_urls(self) -> None:
        """Age every issued response_url past its hour (as if the answer came too late)."""
        with self.state.lock:
            for entry in self.state.aibot_codes.values():
                entry["at"] -= RESPONSE_URL_SECONDS + 1

    def calls(self, path: str) -> int:
        """How many requests reached `path` (e.g. "gettoken")."""
        with self.state.lock:
            return self.state.calls[path]

    def inject(self, path: str, errors: list[Any], touser: str = "") -> None:
        """Make the next calls to `path` (naming `touser`, if given) fail in turn.

        Errors are errcodes, {"http": 502} or {"sleep": 2}.
        """
        with self.state.lock:
            self.state.add_faults(path, errors, touser)

    def set_users(self, users: Iterable[str] | None) -> None:
        """Only these userids are valid (None: any userid is)."""
        with self.state.lock:
            self.state.known_users = frozenset(u.lower() for u in users) if users is not None else None

    def reset(self) -> None:
        """Forget everything the fake corp recorded or issued."""
        with self.state.lock:
            self.state.reset()


def main(argv: list[str] | None = None) -> None:
    """Serve the stand-in in the foreground (`python -m bot.standin.server --port 8990`)."""
    parser = argparse.ArgumentParser(description="Local WeCom API stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8990)
    parser.add_argument("--corp-id", default=os.environ.get("WECOM_CORP_ID", DEMO_CORP_ID))
    parser.add_argument("--agent-id", type=int, default=None)
    args = parser.parse_args(argv)
    # The secret comes from the environment only: a command line is visible to every local user.
    secret = os.environ.get("WECOM_SECRET", DEMO_SECRET)
    server = StandinServer(
        corp_id=args.corp_id, secret=secret, agent_id=args.agent_id, host=args.host, port=args.port
    ).start()
    print(f"WeCom stand-in at {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
