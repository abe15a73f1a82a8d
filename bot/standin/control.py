"""The stand-in's own additions to WeCom: injected faults, and inspection and control under /_standin/."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, jsonify, request

from bot.standin.state import ERRMSG, StandinState


def _apply_fault(fault: Any) -> Any:
    """The response an injected fault stands for; a sleep delays the real answer (not the lock)."""
    if fault is None:
        return None
    if isinstance(fault, dict) and "sleep" in fault:
        time.sleep(float(fault["sleep"]))
        return None
    if isinstance(fault, dict) and "http" in fault:
        return Response("<html>standin fault</html>", status=int(fault["http"]), mimetype="text/html")
    code = int(fault["errcode"]) if isinstance(fault, dict) else int(fault)
    errmsg = fault.get("errmsg") if isinstance(fault, dict) else None
    return jsonify(errcode=code, errmsg=errmsg or ERRMSG.get(code, "injected fault"))


def _add_control_routes(app: Flask, state: StandinState) -> None:
    """The stand-in's own endpoints: fault injection and inspection under /_standin/."""

    @app.get("/_standin/messages")
    def messages() -> Any:
        touser = (request.args.get("touser") or "").lower()
        since = int(request.args.get("since") or 0)
        with state.lock:
            found = [
                m
                for m in state.messages
                if m["seq"] > since and (not touser or m["touser"].lower() == touser)
            ]
        return jsonify(messages=found)

    @app.get("/_standin/suppressed")
    def suppressed() -> Any:
        with state.lock:
            return jsonify(suppressed=list(state.suppressed))

    @app.get("/_standin/groups")
    def groups() -> Any:
        key = request.args.get("key")
        with state.lock:
            return jsonify(groups=[g for g in state.groups if not key or g["key"] == key])

    @app.get("/_standin/updates")
    def updates() -> Any:
        with state.lock:
            return jsonify(updates=list(state.updates))

    @app.get("/_standin/media")
    def media() -> Any:
        with state.lock:
            return jsonify(media=dict(state.media))

    @app.get("/_standin/calls")
    def calls() -> Any:
        touser = request.args.get("touser", "").lower()
        with state.lock:
            if touser:  # the attempts naming this recipient, faulted ones included
                return jsonify(calls={path: n for (path, to), n in state.calls_to.items() if to == touser})
            return jsonify(calls=dict(state.calls))

    @app.post("/_standin/faults")
    def faults() -> Any:
        data = request.get_json(force=True, silent=True) or {}
        path, errors = str(data.get("path", "")).strip("/"), data.get("errors")
        if not path or not isinstance(errors, list):
            return jsonify(error='expected {"path": "...", "errors": [...]}'), 400
        with state.lock:
            state.add_faults(path, errors, str(data.get("touser") or ""))
        return jsonify(ok=True)

    @app.post("/_standin/users")
    def users() -> Any:
        data = request.get_json(force=True, silent=True) or {}
        listed = data.get("users")
        with state.lock:
            state.known_users = frozenset(str(u).lower() for u in listed) if listed is not None else None
        return jsonify(ok=True)

    @app.post("/_standin/expire_tokens")
    def expire_tokens() -> Any:
        with state.lock:
            state.expire_tokens()
        return jsonify(ok=True)

    @app.post("/_standin/reset")
    def reset() -> Any:
        with state.lock:
            state.reset()
        return jsonify(ok=True)
