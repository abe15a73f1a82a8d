"""Reading what officials type about projects: colours, amounts in 万/亿/元, a one-line 进展 report."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
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
    problems_given: bool = False  # 「问题:无」 was typed: nothing to ask, though problems is empty


NOTHING = ("无", "没有", "暂无", "无问题", "none", "-", "0")  # 「问题:无」: nothing to report

LABELS = {
    "invested": ("完成投资", "本期投资", "本周投资", "本周完成投资", "投资"),
    "progress": ("形象进度", "进度", "进展情况"),
    "problems": ("存在问题", "问题", "困难"),
    "help_needed": ("需协调事项", "协调事项", "需协调", "需要协调", "需帮助", "需要帮助", "建议"),
    "colour": ("颜色",),
}
# Common words that begin many a sentence: a label only with a colon after them (「问题:」, not 「问题较多」)
COLON_LABELS = ("进度", "投资", "问题", "困难", "建议")
AMOUNT_LABELS = ("投资",)  # … or, for 投资, followed by an amount: 「投资 1.2亿」「投资0」
_AMOUNT_START = re.compile(r"\s*[0-9]")


@dataclass(frozen=True)
class Labelled:
    """A label found in a line: the word as typed, the field it names, and its value."""

    word: str
    field: str
    value: str


def labelled_parts(
    text: str,
    labels: Mapping[str, tuple[str, ...]],
    *,
    colon_needed: Collection[str] | bool = (),
    or_amount: Collection[str] = (),
) -> tuple[str, list[Labelled]]:
    """「黄 完成投资1200万 问题:融资困难」 → the text before the first label, and each labelled part.

    A label counts only at the start of `text` or after a space; a word in `colon_needed` (True: every
    label) only when a 「:」 follows it, or, for a word in `or_amount`, an amount. Anything else, and
    every label-like word inside a value (「问题:进度滞后」), is plain text.
    """
    field_of = {word: field for field, words in labels.items() for word in words}
    words = "|".join(re.escape(w) for w in sorted(field_of, key=len, reverse=True))
    found = []
    for match in re.finditer(rf"(?:^|(?<=\s))({words})(\s*[:：])?", text):
        word, colon = match.group(1), match.group(2)
        needs = colon_needed if isinstance(colon_needed, bool) else word in colon_needed
        after_amount = word in or_amount and _AMOUNT_START.match(text, match.end(1)) is not None
        if colon or not needs or after_amount:
            found.append(match)
    parts = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        value = text[match.end() : end].strip(" ，,;；。")
        parts.append(Labelled(match.group(1), field_of[match.group(1)], value))
    return text[: found[0].start()] if found else text, parts


def is_nothing(value: str) -> bool:
    """「无」「没有」「暂无」…: the official has nothing to say there (stored as empty)."""
    return value.strip().lower() in NOTHING


def parse_report_line(args: str) -> ReportLine:
    """「XM001 黄 完成投资1200万 形象进度:主体封顶 问题:用地手续未办结」 → its parts.

    The first word names the project; a colour word may follow; labelled parts may come in any
    order. Unlabelled text after the colour is taken as 形象进度. 「问题:无」 and the like are empty.
    """
    text = _norm(args)
    project, _, rest = text.partition(" ")
    head, labelled = labelled_parts(rest, LABELS, colon_needed=COLON_LABELS, or_amount=AMOUNT_LABELS)
    parts: dict[str, str] = {}
    for part in labelled:
        if part.field in parts:
            raise Invalid(f"「{part.word}」写了两次，请只写一次。")
        parts[part.field] = part.value
    invested, _, after_amount = parts.pop("invested", "").partition(" ")
    colour, leftover = _leading_colour(head.strip(), parts.pop("colour", None))
    leftover = f"{leftover} {after_amount.strip()}".strip()
    if leftover and "progress" not in parts:
        parts["progress"] = leftover
    elif leftover:
        raise Invalid(f"没有看懂「{leftover}」，请在前面写明「形象进度:」「问题:」或「需协调:」。")
    problems, help_needed = parts.get("problems", ""), parts.get("help_needed", "")
    return ReportLine(
        project=project,
        colour=colour,
        invested_yuan=parse_amount(invested) if invested else None,
        progress=parts.get("progress", ""),
        problems="" if is_nothing(problems) else problems,
        help_needed="" if is_nothing(help_needed) else help_needed,
        problems_given="problems" in parts,
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
