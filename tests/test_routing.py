"""The router on its own: matching, aliases, roles, help and unknown input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.messages import Channel, Inbound, Kind
from bot.models import Person, Role
from bot.replies import Text
from bot.routing import WHO_ARE_YOU, Dispatcher, Router, as_list, normalise

router = Router("test")


@router.command("诉求", "投诉", "complain", roles=(Role.ENTERPRISE,), usage="诉求 <内容>")
def file_request(ctx, args):
    """提交诉求"""
    return Text(f"filed:{args}")


@router.command("帮助", "help", "?", public=True, anytime=True)
def show_help(ctx, args):
    """列出命令"""
    return Text("help")


@router.card_action("order:take:", roles=(Role.OFFICIAL,))
def take(ctx, rest):
    """接单"""
    return Text(f"took:{rest}")


@router.card_action("order:", roles=(Role.OFFICIAL,))
def any_order(ctx, rest):
    """any"""
    return Text(f"order:{rest}")


@router.state("ask.name")
def ask_name(ctx, text):
    """step"""
    return Text(f"name:{text}")


dispatcher = Dispatcher([router])


def person(role: Role) -> Person:
    return Person(wecom_userid="u1", name="某人", role=role.value)


def text(content: str) -> Inbound:
    return Inbound(Channel.WECOM_APP, Kind.TEXT, "u1", "k", datetime(2026, 1, 1, tzinfo=UTC), text=content)


def click(key: str) -> Inbound:
    return Inbound(
        Channel.WECOM_APP, Kind.CARD_CLICK, "u1", "k", datetime(2026, 1, 1, tzinfo=UTC), event_key=key
    )


def run(inbound: Inbound, who: Person | None, state: str | None = None) -> str:
    replies = as_list(dispatcher.resolve(inbound, who, state).call(None))  # type: ignore[arg-type]
    assert len(replies) == 1 and isinstance(replies[0], Text)
    return replies[0].content


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("诉求 路灯坏了", "filed:路灯坏了"),
        ("投诉 路灯坏了", "filed:路灯坏了"),
        ("诉求路灯坏了", "filed:路灯坏了"),  # no space after a Chinese command
        ("诉求　路灯坏了", "filed:路灯坏了"),  # full-width space
        ("COMPLAIN 路灯", "filed:路灯"),
        ("  诉求   路灯  坏了 ", "filed:路灯 坏了"),
    ],
)
def test_commands_match_names_aliases_and_phone_typing(typed: str, expected: str) -> None:
    assert run(text(typed), person(Role.ENTERPRISE)) == expected


def test_full_width_question_mark_is_help() -> None:
    assert normalise("？") == "?"
    assert run(text("？"), None) == "help"


def test_role_is_checked_and_refusal_names_the_roles() -> None:
    reply = run(text("诉求 x"), person(Role.OFFICIAL))
    assert "仅限企业" in reply and "干部" in reply


def test_unknown_user_gets_the_who_are_you_path_except_for_public_commands() -> None:
    assert run(text("诉求 x"), None) == WHO_ARE_YOU
    assert run(text("帮助"), None) == "help"


def test_unknown_command_suggests_the_closest() -> None:
    reply = run(text("诉球 路灯"), person(Role.ENTERPRISE))
    assert "没有看懂「诉球」" in reply and "诉求 <内容>" in reply and "帮助" in reply


def test_card_action_longest_prefix_wins_and_role_is_the_clickers() -> None:
    assert run(click("order:take:42"), person(Role.OFFICIAL)) == "took:42"
    assert run(click("order:done:42"), person(Role.OFFICIAL)) == "order:done:42"
    assert "仅限干部" in run(click("order:take:42"), person(Role.ENTERPRISE))
    assert "失效" in run(click("nothing:1"), person(Role.OFFICIAL))


def test_conversation_state_takes_the_text_but_cancel_always_works() -> None:
    assert run(text("张三"), person(Role.ENTERPRISE), state="ask.name") == "name:张三"
    assert run(text("帮助"), person(Role.ENTERPRISE), state="ask.name") == "help"  # anytime: answered
    assert run(text("诉求 x"), person(Role.ENTERPRISE), state="ask.name") == "name:诉求 x"  # data
    route = dispatcher.resolve(text("取消"), person(Role.ENTERPRISE), "ask.name")
    assert route.name == "cancel"


def test_help_lists_only_what_the_role_may_use() -> None:
    official = dispatcher.help_text(Role.OFFICIAL)
    assert "诉求" not in official and "帮助" in official
    assert "诉求 <内容> — 提交诉求" in dispatcher.help_text(Role.ENTERPRISE)
    assert WHO_ARE_YOU in dispatcher.help_text(None)


def test_empty_and_unsupported_input_get_an_answer() -> None:
    assert "空的" in run(text("   "), person(Role.ENTERPRISE))
    voice = Inbound(Channel.WECOM_APP, Kind.UNSUPPORTED, "u1", "k", datetime(2026, 1, 1, tzinfo=UTC))
    assert "文字" in run(voice, person(Role.ENTERPRISE))


def test_a_word_registered_twice_is_refused_at_start_up() -> None:
    twice = Router("twice")
    twice.command("帮助")(show_help)
    with pytest.raises(ValueError, match="registered twice"):
        Dispatcher([router, twice])
