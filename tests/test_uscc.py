"""统一社会信用代码: real published codes, every kind of refusal, and properties over any input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import Invalid
from bot.uscc import CHARSET, make_uscc, mask_uscc, uscc_check_char, validate_uscc

# Codes printed on these companies' public business licences. Each also passes the independent
# GB 11714 check of its embedded 组织机构代码 (characters 9-17), see test_real_codes_org_code_check.
REAL_CODES = {
    "914403001922038216": "华为技术有限公司",
    "9144030071526726XG": "腾讯科技（深圳）有限公司",
    "91330100799655058B": "阿里巴巴（中国）有限公司",
    "91110108551385082Q": "小米科技有限责任公司",
    "91110000802100433B": "百度在线网络技术（北京）有限公司",
}


def reference_check_char(first17: str) -> str:
    """A second, independent implementation of GB 32100-2015's check character (weights 3^i mod 31)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return alphabet[-total % 31]


def gb11714_check(org8: str) -> str:
    """The check character of a 9-character 组织机构代码 (GB 11714), independent of GB 32100."""
    values = [int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in org8]
    c = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert validate_uscc(code) == code
    assert uscc_check_char(code[:17]) == code[17] == reference_check_char(code[:17])


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_org_code_check(code: str) -> None:
    # A second checksum inside the same code: confirms the sample codes were copied correctly.
    assert gb11714_check(code[8:16]) == code[16]


def test_normalises_case_whitespace_and_full_width() -> None:
    assert validate_uscc("  9144030071526726xg\n") == "9144030071526726XG"
    assert validate_uscc("９１４４０３００７１５２６７２６ＸＧ") == "9144030071526726XG"
    assert validate_uscc("\u30009144 0300 7152 6726 ｘｇ\t") == "9144030071526726XG"


@pytest.mark.parametrize("raw", ["", "   ", "\u3000"])
def test_empty_is_refused(raw: str) -> None:
    with pytest.raises(Invalid, match="请填写统一社会信用代码"):
        validate_uscc(raw)


def test_too_short_says_how_many() -> None:
    with pytest.raises(Invalid) as exc:
        validate_uscc("9144030071526726X")
    assert exc.value.message == "统一社会信用代码应为18位，您输入了17位：9144030071526726X"


def test_too_long_says_how_many() -> None:
    with pytest.raises(Invalid, match="应为18位，您输入了19位"):
        validate_uscc("9144030071526726XG1")


def test_very_long_input_is_not_echoed_whole() -> None:
    with pytest.raises(Invalid) as exc:
        validate_uscc("9" * 500)
    assert "500位" in exc.value.message
    assert len(exc.value.message) < 80


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_excluded_letters_are_named_with_position(letter: str) -> None:
    code = "9144" + letter + "30071526726XG"
    with pytest.raises(Invalid) as exc:
        validate_uscc(code)
    assert exc.value.message == f"统一社会信用代码第5位「{letter}」不是合法字符（不使用 I、O、Z、S、V）"


@pytest.mark.parametrize(
    ("code", "position", "char"), [("91440300-1526726XG", 9, "-"), ("9144030071526726X中", 18, "中")]
)
def test_other_bad_characters_are_named(code: str, position: int, char: str) -> None:
    with pytest.raises(Invalid, match=f"第{position}位「{char}」不是合法字符（只能是数字和大写英文字母"):
        validate_uscc(code)


def test_first_bad_character_is_reported() -> None:
    with pytest.raises(Invalid, match="第3位「O」"):
        validate_uscc("91O4I30071526726XG")


def test_wrong_check_character_says_what_it_should_be() -> None:
    with pytest.raises(Invalid) as exc:
        validate_uscc("9144030071526726XA")
    assert exc.value.message == "统一社会信用代码校验位不符：9144030071526726XA的最后一位应为「G」，请核对"


def test_every_single_character_typo_is_caught() -> None:
    # Weights are all non-zero mod 31 (a prime), so changing any one character changes the sum.
    code = "91330100799655058B"
    for i in range(18):
        for char in CHARSET:
            if char != code[i]:
                with pytest.raises(Invalid):
                    validate_uscc(code[:i] + char + code[i + 1 :])


def test_check_char_can_be_zero() -> None:
    # c = 31 − (Σ mod 31) gives 31 when the sum is a multiple of 31; that is written "0".
    assert uscc_check_char("0" * 17) == "0"
    assert validate_uscc("0" * 18) == "0" * 18


def test_make_uscc_appends_the_check_char() -> None:
    assert make_uscc("91440300192203821") == "914403001922038216"
    assert make_uscc("91440300715267 26x") == "9144030071526726XG"


@pytest.mark.parametrize("bad", ["123", "9144030071526726XGG", "9144I3007152672GX"])
def test_check_char_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_char(bad)


def test_mask_keeps_first_four_and_last_two() -> None:
    assert mask_uscc("9144030071526726XG") == "9144************XG"
    assert len(mask_uscc("9144030071526726XG")) == 18
    assert mask_uscc("12345") == "*****"


code17 = st.text(alphabet=CHARSET, min_size=17, max_size=17)


@given(code17)
def test_generated_codes_validate_and_match_reference(first17: str) -> None:
    code = make_uscc(first17)
    assert code[17] == reference_check_char(first17)
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


@given(st.text())
def test_any_string_is_valid_or_invalid(raw: str) -> None:
    try:
        code = validate_uscc(raw)
    except Invalid as exc:
        assert exc.message.startswith(("统一社会信用代码", "请填写"))
    else:
        assert len(code) == 18
        assert all(c in CHARSET for c in code)
        assert validate_uscc(code) == code


@given(st.text(alphabet=CHARSET + "IOZSV-中 ０１ａ", min_size=16, max_size=20))
def test_near_codes_are_valid_or_invalid(raw: str) -> None:
    # Text close to a code reaches the charset and check-character branches, not only the length one.
    with contextlib.suppress(Invalid):
        validate_uscc(raw)
