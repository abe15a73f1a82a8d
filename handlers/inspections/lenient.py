"""包容免罚清单: looking up the minor first-time violations that are not fined (`免罚 <关键词>`).

The list is public and small (hundreds of rows), so a search reads every item and matches in
Python: keywords and texts are compared NFKC-folded and case-folded, which SQL's lower() and LIKE
cannot do alike on SQLite and PostgreSQL (full-width letters, non-ASCII case). The list is
imported with `ztc import lenient` (handlers.inspections.lenient_import); an inspection's result
links items by 编号 through `get_item`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import Invalid, NotFound
from bot.replies import Text
from bot.routing import Context, HandlerResult, Router
from handlers.inspections.models import LenientItem

router = Router("inspections.lenient")

SHOWN = 5  # results per answer
TEXT_BYTES = 2048  # WeCom cuts a text message beyond this (bot/wecom/outbound.py)
_SEPARATORS = re.compile(r"[\s,;、，；]+")
_DIGITS = re.compile(r"(\d+)")
_SPACES = re.compile(r"\s+")


def normalise_code(raw: str) -> str:
    """A 编号 as stored: NFKC (full-width → ASCII), no surrounding spaces, upper case."""
    return unicodedata.normalize("NFKC", raw).strip().upper()


def get_item(session: Session, code: str) -> LenientItem:
    """The item with this 编号 (typed in any case or width); NotFound names the code."""
    wanted = normalise_code(code)
    if not wanted:
        raise Invalid("请写明包容免罚清单的编号，如 SCJG-001。")
    item = session.scalar(select(LenientItem).where(LenientItem.code == wanted))
    if item is None:
        raise NotFound(f"包容免罚清单中没有编号为「{code.strip()}」的条目。发送「免罚 关键词」可查询编号。")
    return item


def keywords(query: str) -> list[str]:
    """The distinct keywords of a query, folded; separated by spaces (also 、 and commas)."""
    return list(dict.fromkeys(w for w in _SEPARATORS.split(_fold(query)) if w))


def matches(session: Session, query: str) -> list[LenientItem]:
    """Every item in which each keyword appears in some field, the most relevant first.

    Searched: 违法行为, 领域, 法律依据, 免罚条件 and 编号. Ranked by how many keywords the 违法行为
    holds, then by 编号 (SCJG-2 before SCJG-10). No keyword at all: every item, by 编号.
    """
    words = keywords(query)
    ranked = []
    for item in session.scalars(select(LenientItem)):
        violation = _fold(item.violation)
        texts = (violation, _fold(item.field), _fold(item.basis), _fold(item.conditions), _fold(item.code))
        if all(any(word in text for text in texts) for word in words):
            hits = sum(word in violation for word in words)
            ranked.append((-hits, _code_order(item.code), item.id, item))
    ranked.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in ranked]


def search(session: Session, query: str, limit: int = SHOWN) -> list[LenientItem]:
    """The `limit` most relevant items for the query (see `matches`)."""
    return matches(session, query)[:limit]


def field_counts(session: Session) -> list[tuple[str, int, LenientItem]]:
    """Each 领域 with its number of items and its first item by 编号; the largest 领域 first."""
    items = sorted(session.scalars(select(LenientItem)), key=lambda i: (_code_order(i.code), i.id))
    counts = Counter(item.field for item in items)
    first: dict[str, LenientItem] = {}
    for item in items:
        first.setdefault(item.field, item)
    fields = sorted(first, key=lambda field: -counts[field])  # stable: ties keep the order of 编号
    return [(field, counts[field], first[field]) for field in fields]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _code_order(code: str) -> tuple[str | int, ...]:
    # re.split with a group alternates text and digits, so equal positions compare equal types.
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(code)))


# ---------------------------------------------------------------------------------------------
# Chat


@router.command("免罚", "免罚清单", "包容免罚", "包容免罚清单", usage="免罚 <关键词>")
def lookup(ctx: Context, args: str) -> HandlerResult:
    """查询包容免罚清单（首次轻微违法、及时改正可不予处罚的事项），如「免罚 营业执照」"""
    query = args.strip()
    if not query:
        return _overview(ctx.session)
    if len(keywords(query)) == 1:
        exact = ctx.session.scalar(select(LenientItem).where(LenientItem.code == normalise_code(query)))
        if exact is not None:
            return Text(_detail(exact))
    found = matches(ctx.session, query)
    if not found:
        return Text(_nothing(ctx.session, keywords(query)))
    if len(found) > SHOWN:
        header = f"包容免罚清单：共{len(found)}条，请加关键词缩小范围。以下是最相关的{SHOWN}条："
    else:
        header = f"包容免罚清单：找到{len(found)}条。"
    blocks = [_summary(item) for item in found[:SHOWN]]
    return _pack([header, *blocks, "发送「免罚 编号」查看该条全文。"])


def _overview(session: Session) -> Text:
    fields = field_counts(session)
    if not fields:
        return Text("包容免罚清单尚未导入。请联系管理员导入（ztc import lenient 文件）。")
    total = sum(n for _, n, _ in fields)
    lines = [f"包容免罚清单共{total}条，涉及{len(fields)}个领域："]
    lines += [f"· {field} {n}条，如 {item.code} {_cut(item.violation, 30)}" for field, n, item in fields]
    lines.append(f"发送「免罚 关键词」查询，如「免罚 {fields[0][0]}」；多个关键词用空格分开。")
    return Text("\n".join(lines))


def _nothing(session: Session, words: Sequence[str]) -> str:
    quoted = "".join(f"「{w}」" for w in words)
    if session.scalar(select(LenientItem.id).limit(1)) is None:
        return "包容免罚清单尚未导入。请联系管理员导入（ztc import lenient 文件）。"
    if len(words) > 1:
        return (
            f"包容免罚清单中没有同时包含{quoted}的条目。\n"
            "请减少关键词再试（如只用其中一个），发送「免罚」查看各领域。"
        )
    return f"包容免罚清单中没有包含{quoted}的条目。\n请换个更短或更常用的说法再试，发送「免罚」查看各领域。"


def _summary(item: LenientItem) -> str:
    """One result, each text cut short; `免罚 编号` shows it whole."""
    lines = [
        f"【{item.code}】{item.field}",
        f"违法行为：{_cut(item.violation, 80)}",
        f"免罚条件：{_cut(item.conditions, 80)}",
    ]
    if item.measure:
        lines.append(f"处理方式：{_cut(item.measure, 40)}")
    lines.append(f"法律依据：{_short_basis(item.basis)}")
    return "\n".join(lines)


def _detail(item: LenientItem) -> str:
    lines = [
        f"包容免罚清单 {item.code}（{item.field}）",
        f"违法行为：{_flat(item.violation)}",
        f"免罚条件：{_flat(item.conditions)}",
    ]
    if item.measure:
        lines.append(f"处理方式：{_flat(item.measure)}")
    lines.append(f"法律依据：{_flat(item.basis)}")
    return "\n".join(lines)


def _short_basis(basis: str) -> str:
    """The basis as documents abbreviate it: 《中华人民共和国广告法》 → 《广告法》, then cut."""
    return _cut(_flat(basis).replace("《中华人民共和国", "《"), 60)


def _flat(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _cut(text: str, chars: int) -> str:
    flat = _flat(text)
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def _pack(parts: list[str]) -> list[Text]:
    """The parts in as few texts as fit WeCom's limit, blank lines between; never one cut mid-part."""
    texts: list[str] = []
    for part in parts:
        joined = f"{texts[-1]}\n\n{part}" if texts else part
        if texts and len(joined.encode("utf-8")) <= TEXT_BYTES:
            texts[-1] = joined
        else:
            texts.append(part)
    return [Text(t) for t in texts]
