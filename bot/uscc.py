"""统一社会信用代码 (USCC, GB 32100-2015): normalise, validate, generate and mask.

An enterprise is identified by its 18-character code. The 18th character is a check character
over the first 17, so a mistyped code is refused here with a message that says what is wrong.
"""

from __future__ import annotations

import re
import string
from operator import mul

from bot.errors import Invalid

# The code's alphabet; a character's value is its index. I, O, Z, S and V are never used.
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18
_VALUES = {char: value for value, char in enumerate(CHARSET)}
_WELL_FORMED = re.compile(f"[{CHARSET}]{{{LENGTH}}}")

# Full-width digits and Latin letters (０-９, Ａ-Ｚ, ａ-ｚ) → ASCII: Chinese input methods type them.
_ASCII = string.digits + string.ascii_letters
_HALF_WIDTH = str.maketrans("".join(chr(ord(c) + 0xFEE0) for c in _ASCII), _ASCII)


def normalise(raw: str) -> str:
    """Drop all whitespace (codes are often copied as "9137 1526 …"), go half-width, upper-case."""
    return "".join(raw.split()).translate(_HALF_WIDTH).upper()


def uscc_check_char(first17: str) -> str:
    """The check character for the first 17 characters (which must be in CHARSET)."""
    if len(first17) != LENGTH - 1:
        raise ValueError(f"need 17 characters, got {len(first17)}")
    try:
        total = sum(map(mul, map(_VALUES.__getitem__, first17), WEIGHTS))  # (bulk imports check thousands)
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the USCC charset") from None
    return CHARSET[(31 - total % 31) % 31]


def make_uscc(first17: str) -> str:
    """A complete code: the 17 characters given plus their check character (for demo data)."""
    first17 = normalise(first17)
    return first17 + uscc_check_char(first17)


def validate_uscc(raw: str) -> str:
    """The normalised code, or Invalid with a Chinese message naming the first problem."""
    code = normalise(raw)
    if _WELL_FORMED.fullmatch(code) and code[-1] == uscc_check_char(code[:-1]):
        return code  # the usual case, at once; the checks below name what is wrong otherwise
    if not code:
        raise Invalid("请填写统一社会信用代码（18位）")
    if len(code) != LENGTH:
        shown = code if len(code) <= 30 else code[:30] + "…"
        raise Invalid(f"统一社会信用代码应为18位，您输入了{len(code)}位：{shown}")
    for position, char in enumerate(code, start=1):
        if char not in _VALUES:
            raise Invalid(f"统一社会信用代码第{position}位「{char}」不是合法字符{_charset_hint(char)}")
    expected = uscc_check_char(code[:-1])
    if code[-1] != expected:
        raise Invalid(f"统一社会信用代码校验位不符：{code}的最后一位应为「{expected}」，请核对")
    return code


def _charset_hint(char: str) -> str:
    """Why a character is refused: the five excluded letters, or not a digit/letter at all."""
    if char in "IOZSV":
        return "（不使用 I、O、Z、S、V）"
    return "（只能是数字和大写英文字母，不使用 I、O、Z、S、V）"


def mask_uscc(code: str) -> str:
    """The code for logs: the first 4 and last 2 characters kept, the rest starred (same length)."""
    if len(code) <= 6:
        return "*" * len(code)
    return code[:4] + "*" * (len(code) - 6) + code[-2:]
