"""Routers owned by features, and the dispatcher that picks a handler for an Inbound.

A feature module creates `router = Router("name")` and registers handlers on it:

    @router.command("帮助", "help", "?", public=True)
    def show_help(ctx: Context, args: str) -> HandlerResult:
        \"\"\"列出您可以使用的命令\"\"\"

The first docstring line is the help text. Handlers return Reply objects and raise domain
errors (bot.errors); they never see XML, Flask or RQ.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.audit import record
from bot.errors import NotAllowed
from bot.messages import Inbound, Kind
from bot.models import Person, Role
from bot.queues import Deferred
from bot.replies import Reply, Text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.clock import Clock
    from bot.conversation import Conversation
    from bot.outbox import OutboxWriter

HandlerResult = Reply | Sequence[Reply] | None
ALL_ROLES = frozenset(Role)
CANCEL_WORDS = frozenset({"取消", "退出", "cancel", "q"})
_SPACES = re.compile(r"[\s\u3000]+")


@dataclass
class Context:
    """Everything a handler may use: the person, the database session, the clock, the outbox."""

    session: Session
    clock: Clock
    inbound: Inbound
    person: Person | None
    outbox: OutboxWriter
    conversation: Conversation
    services: dict[str, Any] = field(default_factory=dict)  # feature services wired by the factory
    deferred: list[Deferred] = field(default_factory=list)  # jobs to schedule after commit

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def role(self) -> Role | None:
        return self.person.role_enum if self.person else None

    def require_person(self) -> Person:
        """The known sender, or a refusal telling an unknown user how to register."""
        if self.person is None:
            raise NotAllowed(WHO_ARE_YOU)
        return self.person

    def notify(self, recipient: Person | str, reply: Reply, *, key: str) -> None:
        """Queue a message to someone else, durably, in this transaction; `key` makes it once-only."""
        userid = recipient if isinstance(recipient, str) else recipient.wecom_userid
        self.outbox.add(userid, reply, key=key)

    def schedule(self, func: str, when: datetime, *args: Any, job_id: str) -> None:
        """Run job `func` at `when`, once per `job_id`, if and after this transaction commits."""
        self.deferred.append(Deferred(func, when, args, job_id))

    def audit(self, action: str, entity: str, entity_id: object = None, **data: Any) -> None:
        """Record a state change in the audit trail, in this transaction."""
        record(
            self.session,
            at=self.now,
            actor=self.person,
            actor_userid=self.inbound.user_id,
            channel=self.inbound.channel.value,
            action=action,
            entity=entity,
            entity_id=entity_id,
            data=data,
        )


WHO_ARE_YOU = (
    "您好！您还没有在政企直通车登记身份。\n"
    "· 企业人员：请发送「绑定 统一社会信用代码 您的姓名」，由包联部门确认后即可使用；\n"
    "· 政府工作人员：请联系管理员把您导入人员名单。"
)


@dataclass(frozen=True)
class Command:
    """A text command: its words, who may use it, and whether it is slow (answered by a worker)."""

    name: str
    aliases: tuple[str, ...]
    func: Callable[[Context, str], HandlerResult]
    roles: frozenset[Role]
    public: bool  # also for users not yet known (e.g. 绑定, 帮助)
    slow: bool
    anytime: bool  # answers even in the middle of a conversation (帮助, 我是谁), leaving it open
    usage: str
    router: str

    @property
    def summary(self) -> str:
        return (self.func.__doc__ or self.name).strip().splitlines()[0]


@dataclass(frozen=True)
class CardAction:
    """A card button handler, chosen by the prefix of the button's key."""

    prefix: str
    func: Callable[[Context, str], HandlerResult]
    roles: frozenset[Role]
    slow: bool


class Router:
    """One feature's commands, card actions, conversation states and events."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: list[Command] = []
        self.card_actions: list[CardAction] = []
        self.states: dict[str, Callable[[Context, str], HandlerResult]] = {}
        self.events: dict[str, Callable[[Context], HandlerResult]] = {}

    def command(
        self,
        name: str,
        *aliases: str,
        roles: Iterable[Role] = ALL_ROLES,
        public: bool = False,
        slow: bool = False,
        anytime: bool = False,
        usage: str = "",
    ) -> Callable[[Callable[[Context, str], HandlerResult]], Callable[[Context, str], HandlerResult]]:
        """Register a text command `name` (and aliases) for the given roles."""

        def register(
            func: Callable[[Context, str], HandlerResult],
        ) -> Callable[[Context, str], HandlerResult]:
            self.commands.append(
                Command(
                    name, aliases, func, frozenset(roles), public, slow, anytime, usage or name, self.name
                )
            )
            return func

        return register

    def card_action(
        self, prefix: str, *, roles: Iterable[Role] = ALL_ROLES, slow: bool = False
    ) -> Callable[[Callable[[Context, str], HandlerResult]], Callable[[Context, str], HandlerResult]]:
        """Register a handler for card buttons whose key starts with `prefix`."""

        def register(
            func: Callable[[Context, str], HandlerResult],
        ) -> Callable[[Context, str], HandlerResult]:
            self.card_actions.append(CardAction(prefix, func, frozenset(roles), slow))
            return func

        return register

    def state(
        self, name: str
    ) -> Callable[[Callable[[Context, str], HandlerResult]], Callable[[Context, str], HandlerResult]]:
        """Register the handler of a conversation step; it gets the user's next text."""

        def register(
            func: Callable[[Context, str], HandlerResult],
        ) -> Callable[[Context, str], HandlerResult]:
            self.states[name] = func
            return func

        return register

    def event(
        self, name: str
    ) -> Callable[[Callable[[Context], HandlerResult]], Callable[[Context], HandlerResult]]:
        """Register a handler for a platform event (enter_agent, subscribe …)."""

        def register(func: Callable[[Context], HandlerResult]) -> Callable[[Context], HandlerResult]:
            self.events[name] = func
            return func

        return register


@dataclass(frozen=True)
class Route:
    """What to run for one inbound: a bound call, whether it is slow, and its name for logs."""

    name: str
    call: Callable[[Context], HandlerResult]
    slow: bool = False


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), spaces collapsed: what users type on phones varies."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


class HasRole(Protocol):
    """What routing needs of a sender: a Person, or the intake's cached Sender."""

    @property
    def role_enum(self) -> Role: ...


class Dispatcher:
    """Picks the handler for an Inbound from all mounted routers, and checks the sender's role."""

    def __init__(self, routers: Sequence[Router]) -> None:
        self.routers = list(routers)
        self._words: dict[str, Command] = {}
        self._states: dict[str, Callable[[Context, str], HandlerResult]] = {}
        self._events: dict[str, Callable[[Context], HandlerResult]] = {}
        self._actions: list[CardAction] = []
        for router in self.routers:
            self._mount(router)
        self._actions.sort(key=lambda a: len(a.prefix), reverse=True)
        self._by_length = sorted(self._words, key=len, reverse=True)

    def _mount(self, router: Router) -> None:
        for cmd in router.commands:
            for word in (cmd.name, *cmd.aliases):
                key = normalise(word).lower()
                if key in self._words:
                    raise ValueError(f"command word {word!r} registered twice")
                self._words[key] = cmd
        self._states.update(router.states)
        self._events.update(router.events)
        self._actions.extend(router.card_actions)

    @property
    def commands(self) -> list[Command]:
        """Every distinct command, in mount order (for help)."""
        seen: dict[str, Command] = {}
        for cmd in self._words.values():
            seen.setdefault(cmd.name, cmd)
        return list(seen.values())

    def resolve(self, inbound: Inbound, person: HasRole | None, state: str | None) -> Route:
        """The route for this inbound; refusals and help are routes too, never exceptions."""
        if inbound.kind is Kind.TEXT:
            return self._resolve_text(normalise(inbound.text), person, state)
        if inbound.kind is Kind.CARD_CLICK:
            return self._resolve_click(inbound.event_key or "", person)
        if inbound.kind is Kind.EVENT:
            handler = self._events.get(inbound.event or "")
            return Route(f"event:{inbound.event}", handler) if handler else _silent(inbound.event or "")
        if inbound.kind is Kind.IMAGE and state in self._states:
            return Route(f"state:{state}", _with_arg(self._states[state], ""))
        return _reply_route(
            "unsupported", Text("暂时只能处理文字消息和卡片按钮，请发送文字。发送「帮助」查看可用命令。")
        )

    def _resolve_text(self, text: str, person: HasRole | None, state: str | None) -> Route:
        if not text:
            return _reply_route("empty", Text("您发送的内容是空的。发送「帮助」查看可用命令。"))
        if text.lower() in CANCEL_WORDS:
            return Route("cancel", _cancel)
        found = self.match(text)
        step = self._states.get(state) if state else None
        # In a conversation the text is the step's answer, except a bare anytime command (帮助).
        if step and not (found and found[0].anytime and not found[1]):
            return Route(f"state:{state}", _with_arg(step, text))
        if found is None:
            return _reply_route("unknown", Text(self.unknown_text(text)))
        cmd, args = found
        refusal = self._refusal(cmd.roles, cmd.public, person)
        if refusal:
            return _reply_route(f"refused:{cmd.name}", Text(refusal))
        return Route(f"cmd:{cmd.name}", _with_arg(cmd.func, args), cmd.slow)

    def _resolve_click(self, key: str, person: HasRole | None) -> Route:
        for action in self._actions:
            if key.startswith(action.prefix):
                refusal = self._refusal(action.roles, False, person)
                if refusal:
                    return _reply_route(f"refused:{action.prefix}", Text(refusal))
                call = _with_arg(action.func, key[len(action.prefix) :])
                return Route(f"card:{action.prefix}", call, action.slow)
        return _reply_route("card:unknown", Text("这张卡片已失效，请发送「帮助」查看可用命令。"))

    @staticmethod
    def _refusal(roles: frozenset[Role], public: bool, person: HasRole | None) -> str | None:
        if person is None:
            return None if public else WHO_ARE_YOU
        if person.role_enum in roles:
            return None
        allowed = "、".join(r.label for r in Role if r in roles)
        return f"抱歉，此操作仅限{allowed}使用（您的身份：{person.role_enum.label}）。"

    def match(self, text: str) -> tuple[Command, str] | None:
        """The command a text starts with, and the rest of the text as its arguments."""
        head, _, rest = text.partition(" ")
        cmd = self._words.get(head.lower())
        if cmd:
            return cmd, rest.strip()
        # Chinese commands are often typed without a space: 「诉求路灯坏了」.
        for word in self._by_length:
            if _is_cjk(word[0]) and text.startswith(word):
                return self._words[word], text[len(word) :].strip()
        return None

    def unknown_text(self, text: str) -> str:
        """A friendly answer to something unknown, suggesting the closest command."""
        head = text.split(" ", 1)[0][:20]
        close = difflib.get_close_matches(head.lower(), list(self._words), n=1, cutoff=0.5)
        hint = f"您是不是想用「{self._words[close[0]].usage}」？\n" if close else ""
        return f"没有看懂「{head}」。\n{hint}发送「帮助」查看全部命令，发送「取消」结束当前操作。"

    def help_text(self, role: Role | None) -> str:
        """The help for one role (or for an unknown user), from the handlers' docstrings."""
        lines = ["政企直通车 · 可用命令"]
        for cmd in self.commands:
            if (role is None and cmd.public) or (role is not None and role in cmd.roles):
                lines.append(f"· {cmd.usage} — {cmd.summary}")
        lines.append("· 取消 — 结束当前操作")
        if role is None:
            lines.append("")
            lines.append(WHO_ARE_YOU)
        return "\n".join(lines)


def _with_arg(func: Callable[[Context, str], HandlerResult], arg: str) -> Callable[[Context], HandlerResult]:
    return lambda ctx: func(ctx, arg)


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _cancel(ctx: Context) -> HandlerResult:
    had = ctx.conversation.state is not None
    ctx.conversation.end()
    return Text("已取消当前操作。" if had else "当前没有进行中的操作。发送「帮助」查看可用命令。")


def _reply_route(name: str, reply: Reply) -> Route:
    return Route(name, lambda _ctx: reply)


def _silent(event: str) -> Route:
    # Events nobody handles (e.g. view, location reports) need no answer.
    return Route(f"event:{event}:ignored", lambda _ctx: None)


def as_list(result: HandlerResult) -> list[Reply]:
    """A handler's result as a list of replies."""
    if result is None:
        return []
    if isinstance(result, Sequence) and not isinstance(result, str):
        return list(result)
    return [result]
