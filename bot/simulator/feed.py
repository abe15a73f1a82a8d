"""What the simulator's panes show, and which of it a page has not seen yet.

A pane is a list of entries in time order: what the evaluator typed and the bot's passive answers
(the Transcript: only the simulator knows them), merged with what the stand-in recorded (messages
the bot sent through the WeCom API, with each card as its last update left it; group answers).
The page polls once a second with the revision it last saw and gets the entries added or changed
since, rendered by the same template macro as the page itself.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.standin.line import BotLine, StandinUnavailable, current_card

LOG_LIMIT = 200  # the pushed-messages panel shows the latest ones
SNAPSHOT_SECONDS = 0.3  # polls of several tabs within this share one read of the stand-in


@dataclass(frozen=True)
class Entry:
    """One line of a pane: typed, answered, a note, or a message the bot sent (`message`)."""

    id: str
    at: float  # epoch seconds: the order within a pane
    kind: str  # said | answer | note | error (the simulator's own) · pushed | later (the stand-in's)
    who: str = ""  # who typed (said), or the recipient (pushed)
    text: str = ""
    message: dict[str, Any] | None = None
    card: dict[str, Any] | None = None  # a pushed template card as its recipient sees it now
    replaced: str | None = None  # the label an update put in place of the card's buttons


def app_place(userid: str) -> str:
    """The transcript key of one person's 1:1 chat with the app."""
    return f"app:{userid.lower()}"


def group_place(chatid: str) -> str:
    """The transcript key of one group chat."""
    return f"group:{chatid}"


class Transcript:
    """What was typed in the simulator and answered passively, per chat (kept in memory)."""

    def __init__(self) -> None:
        self._entries: list[tuple[str, Entry]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, place: str, kind: str, who: str, text: str) -> Entry:
        """Record one line of chat `place` (see app_place, group_place)."""
        with self._lock:
            entry = Entry(f"t{next(self._ids)}", time.time(), kind, who, text)
            self._entries.append((place, entry))
        return entry

    def of(self, place: str) -> list[Entry]:
        """The lines of one chat, oldest first."""
        with self._lock:
            return [entry for at, entry in self._entries if at == place]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@dataclass(frozen=True)
class Snapshot:
    """One read of the stand-in: every message sent, card update, group answer and upload."""

    pushed: list[dict[str, Any]]
    updates: list[dict[str, Any]]
    chats: list[dict[str, Any]]
    media: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, line: BotLine, previous: Snapshot | None = None) -> Snapshot:
        """Read the stand-in (raises StandinUnavailable): of the two logs that grow, only what is new."""
        pushed = _grown(previous.pushed if previous else [], line.pushed)
        chats = _grown(previous.chats if previous else [], line.group_chat)
        media = previous.media if previous else {}
        if any(media_id not in media for media_id in _media_ids(pushed)):  # uploads only change with a send
            media = line.media()
        return cls(pushed, line.card_updates(), chats, media)

    def pushed_entry(self, message: dict[str, Any]) -> Entry:
        """A sent message as an entry; a card as its last update left it."""
        card, replaced = (None, None)
        if message.get("msgtype") == "template_card":
            card, replaced = current_card(message, self.updates)
        return Entry(f"m{message['seq']}", _epoch(message["at"]), "pushed", message["touser"],
                     message=message, card=card, replaced=replaced)  # fmt: skip

    def later_entry(self, chat: dict[str, Any]) -> Entry:
        """A group's later answer (response_url) or 群机器人 notice as an entry."""
        return Entry(f"g{chat['seq']}", _epoch(chat["at"]), "later", chat.get("userid", ""), message=chat)

    def app_chat(self, userid: str) -> list[Entry]:
        """What the bot sent to one person's 1:1 chat."""
        return [self.pushed_entry(m) for m in self.pushed if m["touser"].lower() == userid.lower()]

    def group_chat(self, chatid: str) -> list[Entry]:
        """What one group received through its response_urls and its 群机器人."""
        return [self.later_entry(c) for c in self.chats if c["chatid"] == chatid]

    def log(self, userid: str | None) -> list[Entry]:
        """The latest messages the bot sent, to one person or (None) to anyone and any group."""
        if userid:
            return self.app_chat(userid)[-LOG_LIMIT:]
        entries = [self.pushed_entry(m) for m in self.pushed] + [self.later_entry(c) for c in self.chats]
        return sorted(entries, key=lambda e: e.at)[-LOG_LIMIT:]


def _media_ids(messages: list[dict[str, Any]]) -> set[str]:
    """The uploads that sent messages name (files, images …)."""
    payloads = ((m.get("body") or {}).get(m.get("msgtype") or "") for m in messages)
    return {p["media_id"] for p in payloads if isinstance(p, dict) and p.get("media_id")}


def _grown(known: list[dict[str, Any]], read: Callable[..., list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """`known` and what the stand-in logged after it; everything anew if it restarted meanwhile.

    The read starts at the last record known, which must come back unchanged: a restarted (or
    reset) stand-in numbers its records from 1 again, and then the whole log is read afresh.
    """
    if not known:
        return read()
    last = known[-1]
    newer = read(since=last["seq"] - 1)
    if not newer or (newer[0]["seq"], newer[0]["at"]) != (last["seq"], last["at"]):
        return read()
    return known + newer[1:]


def in_order(*parts: list[Entry]) -> list[Entry]:
    """Entries of several sources as one pane, oldest first (ties: own lines first)."""
    return sorted(itertools.chain(*parts), key=lambda e: (e.at, e.kind not in ("said", "note")))


@dataclass
class Revisions:
    """Which entry of which pane changed when: a counter bumped for every new or changed entry.

    An entry is rendered only when a page needs it (new or changed since the page's revision), so
    a poll that brings nothing renders nothing; `fingerprint` says what its HTML depends on.
    """

    rev: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)  # hold it across the panes of one page
    _known: dict[tuple[str, str], tuple[Hashable, int]] = field(default_factory=dict)

    def changed(
        self, pane: str, entries: list[tuple[Entry, Hashable]], render: Callable[[Entry], str], since: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The entries of `pane` new or changed after revision `since`, rendered; the revision now."""
        out = []
        with self.lock:
            for entry, fingerprint in entries:
                key = (pane, entry.id)
                seen = self._known.get(key)
                if seen is None or seen[0] != fingerprint:
                    self.rev += 1
                    seen = self._known[key] = (fingerprint, self.rev)
                if seen[1] > since:
                    out.append({"id": entry.id, "at": entry.at, "html": render(entry)})
            return out, self.rev


@dataclass
class Feed:
    """The simulator's state: the line to the bot, the transcript, and a briefly cached stand-in read."""

    line: BotLine
    transcript: Transcript = field(default_factory=Transcript)
    revisions: Revisions = field(default_factory=Revisions)
    clock: Callable[[], float] = time.monotonic
    on_connect: Callable[[], None] = lambda: None  # run when the stand-in answers (again)
    _cached: tuple[float, Snapshot] | None = None
    _connected: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self, *, fresh: bool = False) -> Snapshot:
        """The stand-in's record, read at most every SNAPSHOT_SECONDS unless `fresh`."""
        with self._lock:
            now = self.clock()
            if fresh or self._cached is None or now - self._cached[0] > SNAPSHOT_SECONDS:
                self._cached = (now, self._read())
            return self._cached[1]

    def _read(self) -> Snapshot:
        """Read the stand-in; the first read after it was away first runs on_connect (a restarted
        stand-in has forgotten which 群机器人 key belongs to which group)."""
        try:
            if not self._connected:
                self.on_connect()
            snapshot = Snapshot.read(self.line, self._cached[1] if self._cached else None)
        except StandinUnavailable:
            self._connected = False
            raise
        self._connected = True
        return snapshot

    def app_pane(self, snapshot: Snapshot, userid: str) -> list[Entry]:
        """One person's 1:1 chat with the app: typed, answered and pushed, in order."""
        return in_order(self.transcript.of(app_place(userid)), snapshot.app_chat(userid))

    def group_pane(self, snapshot: Snapshot, chatid: str) -> list[Entry]:
        """One group: the @-mentions typed, the passive answers and what came later, in order."""
        return in_order(self.transcript.of(group_place(chatid)), snapshot.group_chat(chatid))
