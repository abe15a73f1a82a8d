"""Shared strategies: what people type (Chinese, full width, near-miss numbers, dates, amounts) and worse."""

from __future__ import annotations

import re
import string

from hypothesis import settings
from hypothesis import strategies as st

from tests.fuzz.conftest import profile_name

FUZZ = settings(settings.get_profile(profile_name()))

_CJK = re.compile(r"[\u4e00-\u9fff]")


def is_chinese(text: str) -> bool:
    """Whether a reply speaks Chinese: at least one CJK ideograph."""
    return bool(_CJK.search(text))


# Characters that have broken parsers elsewhere: digits int() reads or refuses (Arabic-Indic,
# Ethiopic, superscript), full-width forms, the ideographic space, zero-width and control
# characters, a lone surrogate, NUL, and the punctuation people type between fields.
AWKWARD = [
    "١",
    "٣",
    "፩",
    "²",
    "①",
    "𝟙",
    "０",
    "９",
    "Ｓ",
    "ａ",
    "\u3000",
    "\u200b",
    "\u2005",
    "\ufeff",
    "\t",
    "\n",
    "\r",
    "\x00",
    "\x1b",
    "\ud800",
    "：",
    ":",
    "，",
    "、",
    "-",
    "－",
    "—",
    "~",
    "至",
    "/",
    ".",
    "。",
    "年",
    "月",
    "日",
    "号",
    "点",
    "时",
    "分",
    "<",
    "&",
    "]]>",
    "'",
    '"',
    "%s",
    "{0}",
    "\\",
    "😀",
]

# Words and values the features read, so random lines reach past the first check.
DOMAIN_WORDS = [
    # numbers of orders, cards, inspections, bindings, pushes; projects; USCCs
    "S2611-0001",
    "s2611-1",
    "S26110001",
    "Ｓ２６１１－０００１",
    "S9999-999999",
    "D2611-0001",
    "J2611-0001",
    "B1",
    "P1",
    "XM2026-001",
    "xm2026-002",
    "9137152648130862X4",
    "91371526MA3M4PW49G",
    "91371526MA3M4PW49H",
    # dates, periods and spans
    "2026-11-28",
    "2026-11-28 18:00",
    "2026/2/29",
    "2026-13-01",
    "0001-01-01",
    "9999-12-31",
    "11月28日",
    "2月30日",
    "12月3日10点",
    "明天",
    "后天",
    "周三",
    "下周一",
    "本周日",
    "星期八",
    "3天",
    "48小时",
    "999天",
    "0.5h",
    "3个工作日",
    "999个工作日",
    "本月",
    "上月",
    "本季",
    "上季",
    "今年",
    "去年",
    "2026",
    "2026年",
    # amounts and colours
    "1200万",
    "1.2亿",
    "500000元",
    "1,200",
    "1200完",
    "万万",
    "99999999999999亿",
    "-5万",
    "绿",
    "白",
    "黄",
    "红",
    "蓝",
    "green",
    "颜色:",
    # labels of the one-line reports
    "完成投资",
    "投资",
    "形象进度:",
    "问题:",
    "需协调:",
    "资金到位:",
    "问题:无",
    # categories, urgency, reasons, ratings, departments, keywords
    "用地",
    "审批",
    "紧急",
    "其他",
    "非本部门职责",
    "1",
    "5",
    "满意",
    "不满意",
    "县工信局",
    "GXJ",
    "原部门",
    "营业收入",
    "从业人数",
    "资质",
    "行业",
    "C3911",
    "市场监管",
    "鑫源食品",
    "免罚",
    "食品",
]

awkward_text = st.text(
    alphabet=st.characters(codec="utf-8")
    | st.sampled_from([c for c in AWKWARD if len(c) == 1])
    | st.sampled_from(string.digits),
    max_size=24,
)
"""Short text of any characters, often the awkward ones."""

token = st.sampled_from(DOMAIN_WORDS) | st.sampled_from(AWKWARD) | awkward_text
"""One word a person might type after a command."""

separator = st.sampled_from([" ", " ", " ", "", "\u3000", "  ", "，", ":", "\n"])

typed_args = st.lists(st.tuples(separator, token), max_size=6).map(
    lambda parts: "".join(sep + word for sep, word in parts)
)
"""What follows a command word: a few words joined by the separators people use."""
