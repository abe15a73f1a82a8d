"""Reading what officials type about projects: colours, amounts in 万/亿/元, a one-line 进展 report."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.errors import Invalid
from handlers.projects.models import COLOUR_LABELS, COLOUR_MEANINGS, Colour

COLOUR_WORDS = {
    Colour.GREEN: ("绿", "绿色", "green", "g"),
    Colour.WHITE: ("白", "白色", "white", "w"),
    Colour.YELLOW: ("黄", "黄色", "yellow", "y"),
    Colour.RED: ("红", "红色", "red", "r"),
}
_COLOUR_OF = {word: colour for colour, words in COLOUR_WORDS.items() for word in words}
COLOUR_HELP = "、".join(f"{COLOUR_LABELS[c]}（{COLOUR_MEANINGS[c]}）" for c in Colour)

UNITS = {"万": 10_000, "万元": 10_000, "w": 10_000, "亿": 100_000_000, "亿元": 100_000_000, "元": 1}
LOOKALIKE_UNITS = {
    "完": "万",
    "玩": "万",
    "晚": "万",
    "萬": "万",
    "忆": "亿",
    "乙": "亿",
    "圆": "元",
    "园": "元",
}
MAX_YUAN = 10**13  # 10万亿: more than any county project; a bigger number is a typo
_AMOUNT = re.compile(r"^([0-9][0-9,]*(?:\.[0-9]+)?)\s*(\D*)$")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def parse_colour(word: str) -> Colour:
    """「黄」「黄色」「yellow」 → Colour.YELLOW; any other word is refused by name."""
    key = _norm(word).lower()
    if key in _COLOUR_OF:
        return _COLOUR_OF[key]
    hint = "本县用绿白黄红四色（不用红黄蓝），请按实际进度选择。" if "蓝" in key or key == "blue" else ""
    raise Invalid(f"「{word}」不是进度颜色，请用：{COLOUR_HELP}。{hint}")


def parse_amount(text: str) -> int:
    """「1200万」「1.2亿」「500000元」「1,200」(万 by default) → whole 元; typos are named."""
    raw = _norm(text).replace("，", ",")
    match = _AMOUNT.match(raw.replace(" ", ""))
    if not match:
        raise Invalid(f"「{text}」不是金额，请写数字加单位，如 1200万、1.2亿、500000元（不写单位按万元）。")
    number, unit = match.group(1).replace(",", ""), match.group(2).lower()
    if unit and unit not in UNITS:
        meant = LOOKALIKE_UNITS.get(unit[0])
        guess = f"，是不是想写「{number}{meant}」" if meant else ""
        raise Invalid(f"「{text}」的单位「{match.group(2)}」无法识别{guess}？可用单位：万、亿、元。")
    try:
        yuan = Decimal(number) * UNITS[unit or "万"]
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise Invalid(f"「{text}」不是金额。") from exc
    if yuan > MAX_YUAN:
        raise Invalid(f"「{text}」超过10万亿元，请检查单位是否写错。")
    return int(yuan.to_integral_value())


def format_wan(yuan: int) -> str:
    """Whole 元 as people read them: 1.2亿, 1200万, 35.5万, 800元."""
    if yuan >= 100_000_000:
        return f"{_trim(yuan / 100_000_000)}亿"
    if yuan >= 10_000 or yuan == 0:
        return f"{_trim(yuan / 10_000)}万"
    return f"{yuan}元"


def _trim(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class ReportLine:
    """A weekly report as typed: any part may be missing (the conversation asks for it)."""

    project: str
    colour: Colour | None = None
    invested_yuan: int | None = None
    progress: str = ""
    problems: str = ""
    help_needed: str = ""


LABELS = {
    "invested": ("完成投资", "本期投资", "本周投资", "本周完成投资", "投资"),
    "progress": ("形象进度", "进度", "进展情况"),
    "problems": ("存在问题", "问题", "困难"),
    "help_needed": ("需协调事项", "协调事项", "需协调", "需要协调", "需帮助", "需要帮助", "建议"),
    "colour": ("颜色",),
}
_LABEL_OF = {word: field for field, words in LABELS.items() for word in words}
_LABEL = re.compile("(" + "|".join(sorted(_LABEL_OF, key=len, reverse=True)) + r")\s*[:：]?\s*")


def parse_report_line(args: str) -> ReportLine:
    """「XM001 黄 完成投资1200万 形象进度:主体封顶 问题:用地手续未办结」 → its parts.

    The first word names the project; a colour word may follow; labelled parts may come in any
    order. Unlabelled text after the colour is taken as 形象进度.
    """
    text = _norm(args)
    project, _, rest = text.partition(" ")
    parts: dict[str, str] = {}
    matches = list(_LABEL.finditer(rest))
    head = rest[: matches[0].start()] if matches else rest
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(rest)
        field = _LABEL_OF[match.group(1)]
        if field in parts:
            raise Invalid(f"「{match.group(1)}」写了两次，请只写一次。")
        parts[field] = rest[match.end() : end].strip(" ，,;；。")
    invested, _, after_amount = parts.pop("invested", "").partition(" ")
    colour, leftover = _leading_colour(head.strip(), parts.pop("colour", None))
    leftover = f"{leftover} {after_amount.strip()}".strip()
    if leftover and "progress" not in parts:
        parts["progress"] = leftover
    elif leftover:
        raise Invalid(f"没有看懂「{leftover}」，请在前面写明「形象进度:」「问题:」或「需协调:」。")
    return ReportLine(
        project=project,
        colour=colour,
        invested_yuan=parse_amount(invested) if invested else None,
        progress=parts.get("progress", ""),
        problems=parts.get("problems", ""),
        help_needed=parts.get("help_needed", ""),
    )


def _leading_colour(head: str, labelled: str | None) -> tuple[Colour | None, str]:
    """The colour word that opens the unlabelled part (or a 颜色: part), and what is left."""
    if labelled is not None:
        return parse_colour(labelled), head
    if not head:
        return None, ""
    first, _, rest = head.partition(" ")
    if first.lower() in _COLOUR_OF:
        return _COLOUR_OF[first.lower()], rest.strip()
    if _looks_like_colour(first):
        return parse_colour(first), rest.strip()  # refused by name: 「蓝」不是进度颜色
    return None, head


def _looks_like_colour(word: str) -> bool:
    """One Chinese character, a word ending in 色, or a short English word: meant as a colour."""
    return bool(re.fullmatch(r"[\u4e00-\u9fff]|[\u4e00-\u9fff]{1,3}色|[A-Za-z]{3,8}", word))
