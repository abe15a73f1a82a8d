"""What people type, fuzzed: every parser gives a value or its own Chinese refusal naming the input.

Covers the command-level readers of each feature: 统一社会信用代码, canonical numbers (诉求单号,
督办卡编号), amounts in 万/亿/元 and the 进展 one-line report with its colours, the profile values of
企业信息, and every date a handler reads (延期, 报备检查, 交办 期限, 导出 periods, 排名 periods,
台账 years). Where a format has a writer, what it writes reads back the same (round trips).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from bot.clock import LOCAL_ZONE, as_utc, local
from bot.errors import Invalid
from bot.numbering import canonical_number
from bot.uscc import CHARSET, make_uscc, mask_uscc, validate_uscc
from handlers.complaints.models import URGENCIES
from handlers.complaints.parsing import parse_filing, parse_until, pick
from handlers.complaints.rules import CATEGORIES
from handlers.digests.chat import RANKING_WORDS, _ranking_period
from handlers.digests.export_chat import KINDS, PERIOD_WORDS, parse_request
from handlers.digests.exports import MAX_DAYS
from handlers.inspections.dates import MAX_AHEAD, parse_day
from handlers.onboarding.service import parse_member_id
from handlers.policies.attributes import ATTRIBUTES
from handlers.policies.pushes import parse_push_id
from handlers.projects.ledger_chat import parse_year
from handlers.projects.models import Colour
from handlers.projects.parsing import (
    COLOUR_WORDS,
    MAX_YUAN,
    format_wan,
    is_nothing,
    parse_amount,
    parse_colour,
    parse_report_line,
)
from handlers.projects.supervision import parse_deadline
from tests.fuzz.strategies import FUZZ, awkward_text, is_chinese, token, typed_args

NOW = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # Tuesday 09:30 in Beijing, as tests/conftest.py's T0
TODAY = local(NOW).date()
todays = st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31))
nows = todays.map(
    lambda d: as_utc(datetime.combine(d, datetime.min.time(), tzinfo=LOCAL_ZONE)) + timedelta(hours=9)
)
lines = typed_args | awkward_text | token


def refusal(call, *args) -> Invalid | None:
    """The Invalid a parser raised (checked to be a Chinese message), or None when it parsed."""
    try:
        call(*args)
    except Invalid as exc:
        assert exc.message.strip() and is_chinese(exc.message), exc.message
        return exc
    return None


def shown(text: str) -> str:
    """The input as refusals quote it: NFKC (full width → ASCII), outer blanks dropped."""
    return unicodedata.normalize("NFKC", text).strip()


# -- 统一社会信用代码 --------------------------------------------------------------------------

first17s = st.text(alphabet=CHARSET, min_size=17, max_size=17)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


@FUZZ
@given(first17=first17s, style=st.sampled_from(["lower", "full", "spaced", "plain"]))
def test_a_made_code_reads_back_however_it_is_typed(first17: str, style: str) -> None:
    code = make_uscc(first17)
    typed = {
        "lower": code.lower(),
        "full": full_width(code),
        "spaced": " ".join(code[i : i + 4] for i in range(0, 18, 4)),
        "plain": code,
    }[style]
    assert validate_uscc(typed) == code
    assert len(mask_uscc(code)) == 18 and code[4:16] not in mask_uscc(code)


@FUZZ
@given(raw=lines)
def test_a_refused_code_names_what_is_wrong(raw: str) -> None:
    exc = refusal(validate_uscc, raw)
    if exc is not None:
        assert "统一社会信用代码" in exc.message
        assert len(exc.message) < 200  # never the whole of a pasted essay


# -- canonical numbers (诉求单号, 督办卡编号) ----------------------------------------------------

CANONICAL = re.compile(r"[A-Z][0-9]{4}-[0-9]{4,6}", re.ASCII)


@FUZZ
@given(typed=lines | st.sampled_from(["S١٢٣٤-1", "S2611-١", "s٢٦١١٠٠٠١"]), letter=st.sampled_from("SD"))
@example(typed="S١٢٣٤-1", letter="S")  # Arabic-Indic digits once came back as 「S١٢٣٤-0001」
def test_numbers_become_canonical_or_are_refused_by_name(typed: str, letter: str) -> None:
    try:
        number = canonical_number(typed, letter, "编号", "编号形如 S2611-0001")
    except Invalid as exc:
        assert is_chinese(exc.message)
        assert f"「{typed.strip() or '（空）'}」" in exc.message
        return
    assert CANONICAL.fullmatch(number) and number[0] == letter
    assert canonical_number(number, letter, "编号", "例") == number  # idempotent


@FUZZ
@given(
    yymm=st.integers(0, 9999),
    seq=st.integers(0, 999_999),
    letter=st.sampled_from(["S", "s", "Ｓ", ""]),
    dash=st.sampled_from(["-", "_", "", "－", " - "]),
    pad=st.booleans(),
)
def test_a_number_reads_back_in_every_typed_form(
    yymm: int, seq: int, letter: str, dash: str, pad: bool
) -> None:
    typed = f"{letter}{yymm:04d}{dash}{seq:04d}" if pad else f"{letter}{yymm:04d}{dash}{seq}"
    assert canonical_number(typed, "S", "诉求单号", "例") == f"S{yymm:04d}-{seq:04d}"


# -- amounts and colours ------------------------------------------------------------------------


@FUZZ
@given(
    text=lines
    | st.from_regex(r"[0-9,]{1,16}(\.[0-9]{0,6})?\s?(万|亿|元|万元|亿元|w|W|完|萬|乙|刀)?", fullmatch=True)
)
def test_an_amount_is_whole_yuan_in_range_or_refused_by_name(text: str) -> None:
    try:
        yuan = parse_amount(text)
    except Invalid as exc:
        assert is_chinese(exc.message) and f"「{text}」" in exc.message
        return
    assert isinstance(yuan, int) and 0 <= yuan <= MAX_YUAN


@FUZZ
@given(yuan=st.integers(0, MAX_YUAN))
def test_a_formatted_amount_reads_back(yuan: int) -> None:
    written = format_wan(yuan)
    read = parse_amount(written)
    # format_wan keeps two decimals of its unit: 1.23亿 is exact to 100万, 35.57万 to 100元.
    tolerance = 500_000 if written.endswith("亿") else 50 if written.endswith("万") else 0
    assert abs(read - yuan) <= tolerance, (yuan, written, read)


@FUZZ
@given(wan=st.integers(0, 10**9), unit=st.sampled_from(["万", "万元", "", "w"]), commas=st.booleans())
def test_whole_wan_are_exact(wan: int, unit: str, commas: bool) -> None:
    number = f"{wan:,}" if commas else str(wan)
    assert parse_amount(f"{number}{unit}") == wan * 10_000


@FUZZ
@given(word=lines)
def test_a_colour_is_one_of_four_or_refused_by_name(word: str) -> None:
    exc = refusal(parse_colour, word)
    if exc is not None:
        assert f"「{word}」不是进度颜色" in exc.message


@FUZZ
@given(colour=st.sampled_from(list(Colour)), data=st.data())
def test_every_colour_word_reads_in_any_case_and_width(colour: Colour, data: st.DataObject) -> None:
    word = data.draw(st.sampled_from(COLOUR_WORDS[colour]))
    typed = data.draw(st.sampled_from([word, word.upper(), full_width(word), f" {word}\u3000"]))
    assert parse_colour(typed) is colour


# -- the one-line 进展 report -------------------------------------------------------------------

_LABEL_WORDS = re.compile(r"投资|进度|进展|问题|困难|协调|帮助|建议|颜色")
values = st.text(
    alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=12
).filter(lambda v: not _LABEL_WORDS.search(v) and not is_nothing(v))  # 「无」「暂无」 mean nothing


@FUZZ
@given(args=typed_args | awkward_text)
@example(args="XM2026-001 颜色:")
@example(args="XM2026-001 黄 完成投资1200万 完成投资5万")
def test_a_report_line_parses_or_is_refused_in_chinese(args: str) -> None:
    try:
        line = parse_report_line(args)
    except Invalid as exc:
        assert is_chinese(exc.message)
        return
    assert line.invested_yuan is None or 0 <= line.invested_yuan <= MAX_YUAN


@FUZZ
@given(
    project=st.from_regex(r"XM20[0-9]{2}-[0-9]{3}", fullmatch=True),
    colour=st.sampled_from(list(Colour)),
    wan=st.integers(0, 100_000),
    progress=values,
    problems=values | st.just("无"),
    help_needed=st.none() | values,
    order=st.permutations(["invested", "progress", "problems", "help"]),
)
def test_a_written_report_line_reads_back(
    project: str,
    colour: Colour,
    wan: int,
    progress: str,
    problems: str,
    help_needed: str | None,
    order: list[str],
) -> None:
    parts = {
        "invested": f"完成投资{wan}万",
        "progress": f"形象进度:{progress}",
        "problems": f"问题:{problems}",
        "help": f"需协调:{help_needed}" if help_needed else "",
    }
    args = " ".join([project, COLOUR_WORDS[colour][0], *(parts[name] for name in order if parts[name])])
    line = parse_report_line(args)
    assert (line.project, line.colour, line.invested_yuan) == (project, colour, wan * 10_000)
    assert line.progress == progress
    assert line.problems == ("" if problems == "无" else problems) and line.problems_given
    assert line.help_needed == (help_needed or "")


# -- 企业信息 values (营业收入 1800万, 从业人数 120, 成立日期 …) -------------------------------------


@FUZZ
@given(key=st.sampled_from(sorted(ATTRIBUTES)), raw=lines)
def test_a_profile_value_parses_or_is_refused_naming_the_item(key: str, raw: str) -> None:
    attribute = ATTRIBUTES[key]
    exc = refusal(attribute.parse, raw, TODAY)
    if exc is not None:
        assert exc.message.startswith(attribute.label)
    else:
        assert attribute.show(attribute.parse(raw, TODAY))


# -- 诉求 one-line filing, numbered choices, ids ---------------------------------------------------


@FUZZ
@given(args=typed_args)
def test_a_filing_always_has_a_known_category_and_urgency(args: str) -> None:
    filing = parse_filing(args, CATEGORIES)
    assert filing.category in CATEGORIES and filing.urgency in URGENCIES
    assert filing.text == filing.text.strip()


@FUZZ
@given(text=lines | st.sampled_from(["፩", "𐩀", "²", "0", "10"]))
@example(text="፩")  # isdigit() but int() refuses it
def test_a_numbered_choice_is_one_of_them_or_lists_them(text: str) -> None:
    choices = ("普通", "紧急")
    exc = refusal(pick, text, choices, "紧急程度")
    if exc is not None:
        assert "1. 普通" in exc.message and "2. 紧急" in exc.message


@FUZZ
@given(text=lines)
def test_binding_and_push_ids_are_small_numbers_or_refused(text: str) -> None:
    for parse, name in ((parse_member_id, "绑定申请编号"), (parse_push_id, "推送编号")):
        try:
            number = parse(text)
        except Invalid as exc:
            assert name in exc.message and f"「{text.strip() or '（空）'}」" in exc.message
        else:
            assert 0 <= number < 10**9


# -- 延期: a moment (2026-11-28 18:00, 11月28日, 3天, 48小时) ----------------------------------------


@FUZZ
@given(text=lines, now=nows)
@example(text="0001-01-01 00:00 年份太早", now=NOW)  # once an OverflowError converting to UTC
@example(text="2月29日", now=as_utc(datetime(2027, 12, 1, 9, tzinfo=LOCAL_ZONE)))
def test_an_extension_time_is_a_moment_or_refused_in_chinese(text: str, now: datetime) -> None:
    try:
        until, rest = parse_until(text, now)
    except Invalid as exc:
        assert is_chinese(exc.message) and ("延期时间" in exc.message or "「" in exc.message)
        return
    assert until.tzinfo is not None and until.utcoffset() == timedelta(0)
    assert rest == rest.strip()


@FUZZ
@given(
    moment=st.datetimes(min_value=datetime(2026, 11, 25), max_value=datetime(2099, 12, 31)).map(
        lambda m: m.replace(second=0, microsecond=0, tzinfo=LOCAL_ZONE)
    ),
    reason=st.sampled_from(["", "等待省厅批复", "理由 写了 几个词"]),
    style=st.sampled_from(["iso", "T", "slash", "chinese"]),
)
def test_a_written_moment_reads_back(moment: datetime, reason: str, style: str) -> None:
    written = {
        "iso": f"{moment:%Y-%m-%d %H:%M}",
        "T": f"{moment:%Y-%m-%dT%H:%M}",
        "slash": f"{moment.year}/{moment.month}/{moment.day} {moment.hour}:{moment:%M}",
        "chinese": f"{moment.year}年{moment.month}月{moment.day}日{moment.hour}:{moment:%M}",
    }[style]
    assert parse_until(f"{written} {reason}", NOW) == (as_utc(moment), reason.strip())


@FUZZ
@given(days=st.integers(1, 364), now=nows)  # 365 days on is the same month and day as today
@example(days=97, now=as_utc(datetime(2027, 11, 24, 9, tzinfo=LOCAL_ZONE)))  # 2月29日 of 2028
def test_a_year_less_day_ahead_is_read_as_that_day_at_six(days: int, now: datetime) -> None:
    day = local(now).date() + timedelta(days=days)
    until, _ = parse_until(f"{day.month}月{day.day}日", now)
    assert local(until) == datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_ZONE).replace(hour=18)


@FUZZ
@given(amount=st.integers(1, 999), unit=st.sampled_from(["天", "日", "小时", "个小时", "h"]))
def test_a_span_reads_as_that_long_from_now(amount: int, unit: str) -> None:
    until, rest = parse_until(f"{amount}{unit} 等待批复", NOW)
    assert until - NOW == (timedelta(days=amount) if unit in "天日" else timedelta(hours=amount))
    assert rest == "等待批复"


# -- 报备检查 day, 交办 期限 ----------------------------------------------------------------------


@FUZZ
@given(text=lines, today=todays)
@example(text="2月29日", today=date(2027, 12, 1))  # the 2月29日 of 2028, not 「那一年没有」
def test_an_inspection_day_is_in_the_window_or_refused_in_chinese(text: str, today: date) -> None:
    try:
        day = parse_day(text, today)
    except Invalid as exc:
        assert is_chinese(exc.message)
        if "没有看懂" in exc.message:
            assert re.sub(r"\s+", "", shown(text)) in exc.message
        return
    assert today <= day <= today + MAX_AHEAD


@FUZZ
@given(
    today=todays,
    ahead=st.integers(0, 366),
    style=st.sampled_from(["iso", "slash", "dot", "chinese", "short"]),
)
def test_a_written_day_reads_back(today: date, ahead: int, style: str) -> None:
    day = today + timedelta(days=ahead)
    if style == "short":
        assume(ahead <= 181)  # further on, its month and day this year lie within ROLL_OVER: refused as past
    written = {
        "iso": f"{day:%Y-%m-%d}",
        "slash": f"{day.year}/{day.month}/{day.day}",
        "dot": f"{day.year}.{day.month}.{day.day}",
        "chinese": f"{day.year}年{day.month}月{day.day}日",
        "short": f"{day.month}月{day.day}日",
    }[style]
    assert parse_day(written, today) == day


@FUZZ
@given(today=todays, offset=st.integers(0, 13), prefix=st.sampled_from(["周", "星期", "礼拜"]))
def test_weekday_words_name_a_day_of_this_or_next_week(today: date, offset: int, prefix: str) -> None:
    target = today + timedelta(days=offset)
    name = "一二三四五六日"[target.weekday()]
    next_monday = today + timedelta(days=7 - today.weekday())
    if offset < 7:  # 「周三」: the nearest Wednesday on or after today
        assert parse_day(f"{prefix}{name}", today) == target
    if next_monday <= target < next_monday + timedelta(days=7):  # 「下周三」: next calendar week's
        assert parse_day(f"下{prefix}{name}", today) == target


@FUZZ
@given(text=lines, now=nows)
def test_a_deadline_is_a_day_within_a_year_or_refused_as_a_deadline(text: str, now: datetime) -> None:
    assume("检查" not in text)
    try:
        due = parse_deadline(text, now)
    except Invalid as exc:
        assert is_chinese(exc.message) and "检查" not in exc.message  # it speaks of the 期限
        return
    today = local(now).date()
    assert today <= due <= today + timedelta(days=366)


# -- 导出 periods, 排名 periods, 台账 years ------------------------------------------------------


@FUZZ
@given(
    kind=st.sampled_from(sorted(KINDS)) | token,
    period=st.lists(st.sampled_from(PERIOD_WORDS) | token, max_size=3).map(" ".join),
    today=todays,
)
@example(kind="诉求", period="0001-01-01 0001-01-02", today=TODAY)  # once an OverflowError on the span
@example(kind="诉求", period="9999-12-31", today=TODAY)
def test_an_export_period_is_a_span_of_at_most_a_year_or_refused(kind: str, period: str, today: date) -> None:
    try:
        _kind, span = parse_request(f"{kind} {period}", today)
    except Invalid as exc:
        assert is_chinese(exc.message)
        return
    assert span.start <= span.end and span.days <= MAX_DAYS
    assert span.start_at < span.end_at  # the instants the registers query with exist
    assert span.label


@FUZZ
@given(word=st.sampled_from(RANKING_WORDS) | token, today=todays)
def test_a_ranking_period_is_a_month_or_quarter_or_refused_by_name(word: str, today: date) -> None:
    try:
        period = _ranking_period(word, today)
    except Invalid as exc:
        assert f"「{word}」不是排名的期间" in exc.message
        return
    assert period.start < period.end and period.start_at < period.end_at


@FUZZ
@given(text=lines | st.from_regex(r"[0-9]{4,6}\s?年?度?", fullmatch=True), today=todays)
@example(text="1999", today=TODAY)
def test_a_ledger_year_is_a_sane_year_or_refused_by_name(text: str, today: date) -> None:
    try:
        year = parse_year(text, today)
    except Invalid as exc:
        assert f"「{text}」不是年度" in exc.message
        return
    assert year >= 2000  # a year not begun yet is refused by the ledger itself


@pytest.mark.parametrize("word", ["蓝", "blue", "紫色"])
def test_colours_outside_the_four_are_refused_by_name(word: str) -> None:
    assert refusal(parse_colour, word) is not None
