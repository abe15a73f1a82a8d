"""A policy file: YAML read and checked field by field into PolicySpecs, every problem with its line.

A file is a list of policies (the fields of models.Policy, its conditions and its example
enterprises). Every problem is listed with its line, and nothing is read unless there are none;
running the examples and publishing is catalog's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bot.errors import Invalid
from handlers.policies.attributes import ATTRIBUTES, Attribute, Kind, find_attribute, read_day
from handlers.policies.condition_reading import Problem, Where, read_conditions
from handlers.policies.conditions import Condition, Outcome
from handlers.policies.models import PolicyMode

LEVELS = ("国家", "省", "市", "县")
MODES = tuple(m.value for m in PolicyMode)
EXPECT_WORDS = {"qualified": Outcome.QUALIFIED, "符合": Outcome.QUALIFIED, "near": Outcome.NEAR,
                "差一项": Outcome.NEAR, "not": Outcome.NOT, "不符合": Outcome.NOT}  # fmt: skip
CONTENT = ("title", "issuer", "doc_number", "level", "valid_from", "valid_to", "benefit", "amount_wan",
           "mode", "how_to", "deadline", "contact", "link", "conditions", "examples")  # fmt: skip
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_AMOUNT = Attribute("amount_wan", "金额", Kind.AMOUNT, "")


class CatalogRefused(Invalid):
    """A policy file (or its examples) with problems; nothing was written. `problems` lists them all."""

    def __init__(self, problems: Sequence[Problem], what: str = "政策文件有误") -> None:
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        lines = "\n".join(f"{i}. {p}" for i, p in enumerate(self.problems, 1))
        super().__init__(f"{what}，未导入任何政策（共{len(self.problems)}处）：\n{lines}")


@dataclass(frozen=True)
class Example:
    """An enterprise that must (or must not) match: a profile, a day of asking, the outcome expected."""

    name: str
    profile: dict[str, Any]
    day: date | None
    expect: Outcome
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        day = self.day.isoformat() if self.day else None
        return {"name": self.name, "profile": self.profile, "date": day, "expect": self.expect.value}


@dataclass(frozen=True)
class PolicySpec:
    """One policy as read and validated: the Policy columns, compiled conditions and examples."""

    fields: dict[str, Any]  # the CONTENT columns and code
    conditions: tuple[Condition, ...]
    examples: tuple[Example, ...]
    where: Where = field(default_factory=Where)

    @property
    def code(self) -> str:
        return str(self.fields["code"])

    def content(self) -> dict[str, Any]:
        """What decides whether a stored version is the same policy."""
        return {key: self.fields[key] for key in CONTENT}


# --- reading a file -----------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML without octal or base-60 integers: 0510 stays an industry code, not 328."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)


def read_catalog_file(path: Path) -> list[PolicySpec]:
    """The policies of a YAML file; CatalogRefused lists every problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"无法读取政策文件 {path.name}：{exc}") from exc
    return read_catalog(text)


def read_catalog(text: str) -> list[PolicySpec]:
    """The policies of YAML text (a list, or a mapping with `policies:`); all problems or none."""
    data, node = _load(text)
    problems: list[Problem] = _duplicate_keys(node)
    where = Where(node)
    if isinstance(data, Mapping) and "policies" in data:
        data, where = data["policies"], where.key("policies")
    if not isinstance(data, list) or not data:
        raise CatalogRefused([*problems, where.problem("应为政策的列表：每项以「- code: …」开头")])
    specs = [read_policy(item, where.item(i, ""), problems, i) for i, item in enumerate(data)]
    problems += _repeated_codes(specs)
    if problems:
        raise CatalogRefused(problems)
    return [s for s in specs if s is not None]


def _load(text: str) -> tuple[Any, yaml.Node | None]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or exc
        raise CatalogRefused([Problem(line, "YAML", f"格式有误，无法读取（{problem}）")]) from exc
    except ValueError as exc:  # a date like 2026-13-01
        raise CatalogRefused([Problem(None, "YAML", f"无法读取的值：{exc}")]) from exc
    finally:
        loader.dispose()


def _duplicate_keys(node: yaml.Node | None) -> list[Problem]:
    """A key given twice in one mapping (YAML would silently keep the last)."""
    problems, stack = [], [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen = set()
            for key, value in current.value:
                if key.value in seen:
                    problems.append(
                        Problem(key.start_mark.line + 1, f"键「{key.value}」", "重复出现，请只保留一个")
                    )
                seen.add(key.value)
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return problems


def read_policy(item: Any, where: Where, problems: list[Problem], index: int = 0) -> PolicySpec | None:
    """One policy's fields, conditions and examples, or None with its problems appended."""
    code = item.get("code") if isinstance(item, Mapping) else None
    named = Where(where.node, str(code) if isinstance(code, str) and code else f"第{index + 1}项政策")
    if not isinstance(item, Mapping):
        problems.append(named.problem("应为「字段: 值」的映射，以 code、title 等字段开头"))
        return None
    before = len(problems)
    unknown = [str(k) for k in item if k not in ("code", *CONTENT)]
    if unknown:
        problems.append(
            named.problem(
                f"未知的字段{''.join(f'「{k}」' for k in unknown)}（可用：code、{'、'.join(CONTENT)}）"
            )
        )
    fields = {key: _field(key, item, named, problems) for key in ("code", *CONTENT[:-2])}
    conditions = read_conditions(item.get("conditions"), named.key("conditions"), problems)
    fields["conditions"] = [c.spec for c in conditions]
    examples = _examples(item.get("examples"), named.key("examples"), problems)
    fields["examples"] = [e.to_json() for e in examples]
    problems += _dates_in_order(fields, named)
    return PolicySpec(fields, conditions, tuple(examples), named) if len(problems) == before else None


def _field(key: str, item: Mapping[str, Any], where: Where, problems: list[Problem]) -> Any:
    reader, required = _FIELDS[key]
    value = item.get(key)
    if value is None or value == "":
        if required:
            problems.append(where.key(key).problem(f"缺少 {key}（必填）"))
        return None
    try:
        return reader(value)
    except Invalid as exc:
        problems.append(where.key(key).problem(exc.message))
        return None


def _text(limit: int) -> Any:
    def read(value: Any) -> str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise Invalid(f"「{value}」应为文字")
        text = str(value).strip()
        if len(text) > limit:
            raise Invalid(f"不能超过{limit}个字（现有{len(text)}个）")
        return text

    return read


def _code(value: Any) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value.strip()):
        raise Invalid(f"「{value}」应为政策编码：字母、数字、- _ .，不超过32位，如 SD-GXQY-2026")
    return value.strip()


def _choice(options: tuple[str, ...], suffix: str = "") -> Any:
    def read(value: Any) -> str:
        text = str(value).strip().removesuffix(suffix) if suffix else str(value).strip()
        if text not in options:
            raise Invalid(f"「{value}」应为{'、'.join(options)}之一")
        return text

    return read


def _day(value: Any) -> str:
    day = read_day(value)
    if day is None:
        raise Invalid(f"「{value}」应为日期，如 2026-01-01")
    return day.isoformat()


def _link(value: Any) -> str:
    text = _text(500)(value)
    if not text.startswith(("http://", "https://")):
        raise Invalid(f"「{text}」应为以 http:// 或 https:// 开头的网址")
    return text


_FIELDS: dict[str, tuple[Any, bool]] = {
    "code": (_code, True),
    "title": (_text(200), True),
    "issuer": (_text(100), True),
    "doc_number": (_text(100), True),
    "level": (_choice(LEVELS, "级"), True),
    "valid_from": (_day, True),
    "valid_to": (_day, False),
    "benefit": (_text(2000), True),
    "amount_wan": (_AMOUNT.parse, False),
    "mode": (_choice(MODES), True),
    "how_to": (_text(2000), True),
    "deadline": (_day, False),
    "contact": (_text(200), True),
    "link": (_link, False),
}


def _dates_in_order(fields: dict[str, Any], where: Where) -> list[Problem]:
    start = fields.get("valid_from")
    found = []
    for key in ("valid_to", "deadline"):
        if start and fields.get(key) and fields[key] < start:
            found.append(where.key(key).problem(f"{fields[key]}早于 valid_from（{start}）"))
    return found


def _examples(data: Any, where: Where, problems: list[Problem]) -> list[Example]:
    if not isinstance(data, list) or not data:
        problems.append(
            where.problem("缺少示例企业：至少一个应符合（expect: qualified）、一个不应符合（near 或 not）")
        )
        return []
    found = [_example(item, where.item(i, f"第{i + 1}个"), problems) for i, item in enumerate(data)]
    examples = [e for e in found if e is not None]
    expected = {e.expect == Outcome.QUALIFIED for e in examples}
    if len(examples) == len(found) and expected != {True, False}:
        problems.append(
            where.problem("至少要有一个应符合（expect: qualified）和一个不应符合（near 或 not）的示例企业")
        )
    return examples


def _example(item: Any, where: Where, problems: list[Problem]) -> Example | None:
    if not isinstance(item, Mapping):
        problems.append(where.problem("应为 {name: …, profile: {…}, expect: qualified|near|not}"))
        return None
    before = len(problems)
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(where.key("name").problem("缺少示例企业的名称（name）"))
    unknown = [str(k) for k in item if k not in ("name", "profile", "date", "expect")]
    if unknown:
        problems.append(
            where.problem(
                f"未知的键{''.join(f'「{k}」' for k in unknown)}（可用：name、profile、date、expect）"
            )
        )
    expect = EXPECT_WORDS.get(str(item.get("expect")).strip().lower())
    if expect is None:
        problems.append(where.key("expect").problem(f"「{item.get('expect')}」应为 qualified、near 或 not"))
    day = read_day(item["date"]) if item.get("date") is not None else None
    if item.get("date") is not None and day is None:
        problems.append(where.key("date").problem(f"「{item['date']}」应为日期，如 2026-06-01"))
    profile = _example_profile(item.get("profile"), where.key("profile"), day, problems)
    if len(problems) > before or expect is None or profile is None:
        return None
    return Example(str(name).strip(), profile, day, expect, where.line)


def _example_profile(
    data: Any, where: Where, day: date | None, problems: list[Problem]
) -> dict[str, Any] | None:
    if data is None:
        return {}  # an enterprise about which nothing is known
    if not isinstance(data, Mapping):
        problems.append(where.problem("应为「企业信息项: 值」的映射，如 {revenue_wan: 2500万, size: 小型}"))
        return None
    profile = {}
    for key, raw in data.items():
        found = find_attribute(key)
        if found is None:
            problems.append(
                where.key(str(key)).problem(f"未知的企业信息项「{key}」（可用：{'、'.join(ATTRIBUTES)}）")
            )
        elif raw is not None:  # left empty: not known
            try:
                profile[found.key] = found.parse(raw, day)
            except Invalid as exc:
                problems.append(where.key(str(key)).problem(exc.message))
    return profile


def _repeated_codes(specs: list[PolicySpec | None]) -> list[Problem]:
    seen: dict[str, int | None] = {}
    found = []
    for spec in (s for s in specs if s is not None):
        if spec.code in seen:
            found.append(spec.where.key("code").problem(f"与第{seen[spec.code]}行的政策编码重复"))
        seen.setdefault(spec.code, spec.where.line)
    return found
