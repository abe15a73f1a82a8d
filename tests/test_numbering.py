"""Numbers as people type them: any case, full width, without the letter or the dash."""

from __future__ import annotations

import pytest

from bot.errors import Invalid
from bot.numbering import canonical_number


@pytest.mark.parametrize(
    "typed", ["S2611-0042", "s2611-42", "S26110042", "2611-42", "Ｓ２６１１－００４２", " S2611_42 "]
)
def test_loose_forms_become_the_stored_number(typed):
    assert canonical_number(typed, "S", "诉求单号", "单号形如 S2611-0042") == "S2611-0042"


@pytest.mark.parametrize("typed", ["D2611-0042", "abc", "", "S26-1"])
def test_another_letter_or_garbage_is_refused_with_the_example(typed):
    with pytest.raises(Invalid, match="不是诉求单号，单号形如 S2611-0042"):
        canonical_number(typed, "S", "诉求单号", "单号形如 S2611-0042")
