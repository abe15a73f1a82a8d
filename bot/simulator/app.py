"""The simulator's Flask app: the page, the three actions (say, click, say in a group) and the feed.

Every action goes through BotLine, i.e. the real encrypted callbacks; the page works without
JavaScript (forms post and come back), and with it the forms are sent in the background and the
panes are refreshed from /feed every second.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    abort,
    current_app,
    get_template_attribute,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from bot.simulator.county import County
from bot.simulator.feed import Entry, Feed, Snapshot, app_place, group_place
from bot.simulator.markup import clock_time, file_size, http_url, wecom_markdown
from bot.standin.line import Answer, StandinUnavailable, card_buttons

USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # WeCom userids: letters, digits and _ . @ -
MAX_TEXT = 2000  # characters of one typed message (WeCom's own limit is 2048 bytes)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
PANES = ("chat", "group", "log")


def create_simulator_app(
    feed: Feed, county: County, *, default_user: str, zone: ZoneInfo, media_dirs: tuple[Path, ...] = ()
) -> Flask:
    """The simulator for `county`, acting through `feed`'s line to the bot.

    `media_dirs` are where the bot writes the files it uploads (charts, XLSX exports): the stand-in
    keeps only their names, so the page shows and offers the file itself when it finds it there.
    """
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # readable Chinese in /feed
    app.extensions["simulator"] = (feed, county, default_user)
    app.extensions["simulator.media"] = media_dirs
    app.jinja_env.filters.update(
        markdown=lambda text: wecom_markdown(text, county.name_of),
        clock=lambda epoch: clock_time(epoch, zone),
        size=file_size,
        http_url=http_url,
    )
    app.jinja_env.globals.update(view_url=_view_url, bot_name=feed.line.bot_name)
    app.before_request(_refuse_foreign_requests)
    app.register_error_handler(HTTPException, _refusal)
    _add_routes(app)
    return app


def _refusal(error: HTTPException) -> Response | HTTPException:
    """A refusal as JSON for the page's script (it shows the reason), as a page otherwise."""
    if request.accept_mimetypes.best != "application/json":
        return error
    return _json({"ok": False, "error": error.description}, error.code or 400)


def _refuse_foreign_requests() -> None:
    """Only this machine's pages may use the simulator: a local Host, and no post from another site.

    The Host check stops DNS rebinding (a site whose name resolves to 127.0.0.1); the Origin check
    stops another site's page from posting forms here in the evaluator's browser.
    """
    if (request.host.rsplit(":", 1)[0] or "") not in LOCAL_HOSTS:
        abort(400, "只接受本机访问")
    origin = request.headers.get("Origin")
    if request.method == "POST" and origin and urlsplit(origin).netloc != request.host:
        abort(403, "只接受本页面提交的表单")


def _state() -> tuple[Feed, County, str]:
    """The app's feed, county and the person a page opens as by default."""
    feed, county, default_user = current_app.extensions["simulator"]
    return feed, county, default_user


def _view_args(source: Any) -> dict[str, str]:
    """Who is played, which group and which log filter: from the query or the form, checked."""
    _, county, default_user = _state()
    user = (source.get("as") or default_user).strip()
    if not USERID.match(user):
        abort(400, "账号只能包含字母、数字和 _ . @ -")
    group = source.get("group") or (county.groups[0].chatid if county.groups else "")
    if county.groups and county.group(group) is None:
        abort(400, "没有这个群")
    log = (source.get("log") or "").strip()
    if log and not USERID.match(log):
        abort(400, "账号只能包含字母、数字和 _ . @ -")
    return {"as": user, "group": group, "log": log}


def _view_url(view: dict[str, str], *, as_user: str) -> str:
    """The page as another person, the same group and log filter."""
    values: dict[str, Any] = {**view, "as": as_user}
    return url_for("index", **values)


def _add_routes(app: Flask) -> None:
    """The page, its feed, the three actions and the uploaded files."""
    app.add_url_rule("/", "index", _index)
    app.add_url_rule("/feed", "feed", _feed)
    app.add_url_rule("/say", "say", _say, methods=["POST"])
    app.add_url_rule("/click", "click", _click, methods=["POST"])
    app.add_url_rule("/group/say", "group_say", _group_say, methods=["POST"])
    app.add_url_rule("/media/<media_id>", "media", _media)


# ---------------------------------------------------------------- the page and the feed


def _index() -> str:
    """The whole page, every pane rendered, with the revision the feed continues from."""
    feed, county, _ = _state()
    view = _view_args(request.args)
    try:
        panes, rev = _panes(feed, county, view, since=-1, fresh=True)
        unavailable = ""
    except StandinUnavailable as exc:
        panes, rev, unavailable = {pane: [] for pane in PANES}, feed.revisions.rev, str(exc)
    return render_template(
        "index.html", county=county, view=view, panes=panes, rev=rev, unavailable=unavailable,
        me=county.person(view["as"]), group=county.group(view["group"]),
    )  # fmt: skip


def _feed() -> Response:
    """The entries added or changed after the revisions the page last saw, as HTML per entry."""
    feed, county, _ = _state()
    view = _view_args(request.args)
    since = request.args.get("since", "0")
    if not since.lstrip("-").isdigit():
        abort(400, "since 应为整数")
    try:
        panes, rev = _panes(feed, county, view, since=int(since))
    except StandinUnavailable:
        return _json({"error": "本地企业微信替身没有响应（ztc standin 是否在运行？）"}, 503)
    return _json({"rev": rev, **panes})


def _panes(
    feed: Feed, county: County, view: dict[str, str], *, since: int, fresh: bool = False
) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """Each pane's entries changed after revision `since`, rendered; the revision they bring the page to."""
    snapshot = feed.snapshot(fresh=fresh)
    entries = {
        "chat": feed.app_pane(snapshot, view["as"]),
        "group": feed.group_pane(snapshot, view["group"]),
        "log": snapshot.log(view["log"] or None),
    }
    macro = get_template_attribute("_entries.html", "entry")
    media = {e.id: _media_of(snapshot, e) for listed in entries.values() for e in listed if e.message}
    page = f"{view['as'].lower()}|{view['group']}|{view['log'].lower()}"  # an entry's HTML names all three
    out, rev = {}, 0
    with feed.revisions.lock:  # all three panes at one revision, or a change in between would be lost
        for pane, listed in entries.items():
            render = partial(_render, macro, pane, view, county, media)
            fingerprints = [(e, _fingerprint(e, media.get(e.id, {}))) for e in listed]
            out[pane], rev = feed.revisions.changed(f"{pane}:{page}", fingerprints, render, since)
    return out, rev


def _render(
    macro: Any, pane: str, view: dict[str, str], county: County, media: dict[str, Any], entry: Entry
) -> str:
    """One entry's HTML (the template's `entry` macro)."""
    return str(macro(entry, pane, view, county, media.get(entry.id, {})))


def _fingerprint(entry: Entry, media: dict[str, Any]) -> Hashable:
    """What an entry's HTML depends on besides its id: a card's updates, whether its file is here."""
    card = json.dumps(entry.card, sort_keys=True, ensure_ascii=False) if entry.card else None
    return (entry.replaced, card, media.get("url"))


def _media_of(snapshot: Snapshot, entry: Entry) -> dict[str, Any]:
    """The upload behind a file or image message (name, size, and a url when the file is here)."""
    message = entry.message or {}
    payload = (message.get("body") or {}).get(message.get("msgtype") or "") or {}
    media_id = payload.get("media_id") if isinstance(payload, dict) else None
    upload = dict(snapshot.media.get(media_id or "", {}))
    if upload and _local_file(upload.get("filename", "")):
        upload["url"] = url_for("media", media_id=media_id)
    return upload


def _local_file(filename: str) -> Path | None:
    """The file the bot uploaded under this name, in one of the media directories."""
    if not filename or Path(filename).name != filename or filename.startswith("."):
        return None  # a bare name only: nothing outside the directories can be named
    found = (folder / filename for folder in current_app.extensions["simulator.media"])
    return next((path for path in found if path.is_file()), None)


def _media(media_id: str) -> Response:
    """An uploaded chart or workbook, as the recipient would open it."""
    feed, _, _ = _state()
    try:
        upload = feed.snapshot().media.get(media_id)
    except StandinUnavailable:
        abort(503, "本地企业微信替身没有响应")
    path = _local_file((upload or {}).get("filename", ""))
    if upload is None or path is None:
        abort(404, "没有这个文件")
    return send_file(path, as_attachment=upload["type"] != "image", download_name=path.name)


# ---------------------------------------------------------------- actions


def _say() -> Response:
    """Type a message in the 1:1 chat with the app."""
    feed, _, _ = _state()
    view = _view_args(request.form)
    text = _typed()
    if text:
        feed.transcript.add(app_place(view["as"]), "said", view["as"], text)
        _record(feed, app_place(view["as"]), feed.line.say(view["as"], text))
    return _done(view, "chat", None if text else "请输入要发送的内容。")


def _click() -> Response:
    """Press a button of a card the person received."""
    feed, _, _ = _state()
    view = _view_args(request.form)
    message = _own_card(feed, view["as"], request.form.get("seq", ""))
    key = request.form.get("key", "")
    button = next((b for b in card_buttons(message or {}) if b["key"] == key), None)
    if message is None or button is None:
        return _done(view, "chat", "这张卡片上没有这个按钮。")
    feed.transcript.add(app_place(view["as"]), "note", view["as"], f"点击了「{button['text']}」")
    _record(feed, app_place(view["as"]), feed.line.click(view["as"], message, key))
    return _done(view, "chat", None)


def _own_card(feed: Feed, userid: str, seq: str) -> dict[str, Any] | None:
    """The card with stand-in seq `seq` if it was sent to `userid` (a click is only on one's own card)."""
    if not seq.isdigit():
        return None
    try:
        pushed = feed.snapshot(fresh=True).pushed
    except StandinUnavailable:
        return None
    return next((m for m in pushed if m["seq"] == int(seq) and m["touser"].lower() == userid.lower()), None)


def _group_say() -> Response:
    """@-mention the AI bot in the group shown."""
    feed, _, _ = _state()
    view = _view_args(request.form)
    text = _typed()
    if text:
        place = group_place(view["group"])
        feed.transcript.add(place, "said", view["as"], f"@{feed.line.bot_name} {text}")
        _record(feed, place, feed.line.say_in_group(view["as"], view["group"], text))
    return _done(view, "group", None if text else "请输入要发送的内容。")


def _typed() -> str:
    """The line typed, or the example button pressed."""
    text = (request.form.get("quick") or request.form.get("text") or "").strip()
    if len(text) > MAX_TEXT:
        abort(400, f"一条消息最多 {MAX_TEXT} 个字")
    return text


def _record(feed: Feed, place: str, answer: Answer) -> None:
    """Put the bot's passive answer (or why there is none) in the transcript."""
    if answer.error:
        feed.transcript.add(place, "error", "", answer.error)
    elif answer.text:
        feed.transcript.add(place, "answer", "", answer.text)


def _done(view: dict[str, str], pane: str, error: str | None) -> Response:
    """JSON for the page's script; for a plain form post, back to the page (303, so reload is safe)."""
    if request.accept_mimetypes.best == "application/json":
        return _json({"ok": error is None, "error": error}, 200 if error is None else 400)
    values: dict[str, Any] = {**view, "_anchor": pane}
    return redirect(url_for("index", **values), 303)


def _json(data: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
