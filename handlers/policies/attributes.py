"""The enterprise profile's attributes: key, Chinese label, unit, and reading what people type.

Each attribute turns what an enterprise or an official typed (chat, a spreadsheet cell, a YAML value)
into one normalised JSON value — a number in its unit, an ISO date, a sorted list of labels, an
industry code like "C1310" — or refuses it with Invalid naming the attribute and the value. Nothing
here guesses: a blank is "not given", and a unit that cannot be read is refused, not assumed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from bot.clock import LOCAL_ZONE
from bot.errors import Invalid


class Kind(StrEnum):
    """What sort of value an attribute holds (it decides the parser and the operators allowed)."""

    INDUSTRY = "industry"  # a GB/T 4754-2017 code
    CHOICE = "choice"  # one of a few labels
    FLAG = "flag"  # 是 / 否
    SET = "set"  # a set of labels
    TEXT = "text"
    DATE = "date"
    COUNT = "count"  # a whole number ≥ 0
    AMOUNT = "amount"  # 万元, ≥ 0


# GB/T 4754-2017 国民经济行业分类: the 20 sections (门类) and the 97 divisions (大类) by section.
SECTIONS = {
    "A": "农、林、牧、渔业", "B": "采矿业", "C": "制造业", "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业", "F": "批发和零售业", "G": "交通运输、仓储和邮政业", "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业", "J": "金融业", "K": "房地产业", "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业", "N": "水利、环境和公共设施管理业", "O": "居民服务、修理和其他服务业",
    "P": "教育", "Q": "卫生和社会工作", "R": "文化、体育和娱乐业", "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}  # fmt: skip
_DIVISION_TABLE = {
    "A": "农业 林业 畜牧业 渔业 农、林、牧、渔专业及辅助性活动",
    "B": "煤炭开采和洗选业 石油和天然气开采业 黑色金属矿采选业 有色金属矿采选业 非金属矿采选业 "
    "开采专业及辅助性活动 其他采矿业",
    "C": "农副食品加工业 食品制造业 酒、饮料和精制茶制造业 烟草制品业 纺织业 纺织服装、服饰业 "
    "皮革、毛皮、羽毛及其制品和制鞋业 木材加工和木、竹、藤、棕、草制品业 家具制造业 造纸和纸制品业 "
    "印刷和记录媒介复制业 文教、工美、体育和娱乐用品制造业 石油、煤炭及其他燃料加工业 "
    "化学原料和化学制品制造业 医药制造业 化学纤维制造业 橡胶和塑料制品业 非金属矿物制品业 "
    "黑色金属冶炼和压延加工业 有色金属冶炼和压延加工业 金属制品业 通用设备制造业 专用设备制造业 汽车制造业 "
    "铁路、船舶、航空航天和其他运输设备制造业 电气机械和器材制造业 计算机、通信和其他电子设备制造业 "
    "仪器仪表制造业 其他制造业 废弃资源综合利用业 金属制品、机械和设备修理业",
    "D": "电力、热力生产和供应业 燃气生产和供应业 水的生产和供应业",
    "E": "房屋建筑业 土木工程建筑业 建筑安装业 建筑装饰、装修和其他建筑业",
    "F": "批发业 零售业",
    "G": "铁路运输业 道路运输业 水上运输业 航空运输业 管道运输业 多式联运和运输代理业 装卸搬运和仓储业 "
    "邮政业",
    "H": "住宿业 餐饮业",
    "I": "电信、广播电视和卫星传输服务 互联网和相关服务 软件和信息技术服务业",
    "J": "货币金融服务 资本市场服务 保险业 其他金融业",
    "K": "房地产业",
    "L": "租赁业 商务服务业",
    "M": "研究和试验发展 专业技术服务业 科技推广和应用服务业",
    "N": "水利管理业 生态保护和环境治理业 公共设施管理业 土地管理业",
    "O": "居民服务业 机动车、电子产品和日用产品修理业 其他服务业",
    "P": "教育",
    "Q": "卫生 社会工作",
    "R": "新闻和出版业 广播、电视、电影和录音制作业 文化艺术业 体育 娱乐业",
    "S": "中国共产党机关 国家机构 人民政协、民主党派 社会保障 群众团体、社会团体和其他成员组织 "
    "基层群众自治组织及其他组织",
    "T": "国际组织",
}
_NAMES = [(section, name) for section, names in _DIVISION_TABLE.items() for name in names.split()]
DIVISIONS = {f"{n:02d}": name for n, (_, name) in enumerate(_NAMES, start=1)}  # "13" → 农副食品加工业
SECTION_OF = {f"{n:02d}": section for n, (section, _) in enumerate(_NAMES, start=1)}  # "13" → "C"
_INDUSTRY_BY_NAME = {name: SECTION_OF[code] + code for code, name in DIVISIONS.items()} | {
    name: letter for letter, name in SECTIONS.items() if name not in DIVISIONS.values()
}
_INDUSTRY_CODE = re.compile(r"([A-T])?(\d{2,4})?")

SIZES = ("大型", "中型", "小型", "微型")
CERTIFICATIONS = {  # the label kept, and what people also call it
    "高新技术企业": ("高企", "国高", "国家高新技术企业", "国家级高新技术企业"),
    "专精特新中小企业": ("专精特新", "专精特新企业", "省级专精特新中小企业", "省级专精特新企业"),
    '专精特新"小巨人"': ("小巨人", "专精特新小巨人企业", "国家级专精特新小巨人", "国家级小巨人"),
    "科技型中小企业": ("科小", "科技型中小企业入库"),
    "创新型中小企业": ("创新型企业",),
    "省级企业技术中心": ("省企业技术中心",),
    "国家企业技术中心": ("国家级企业技术中心",),
    "瞪羚企业": ("瞪羚",),
    "技术先进型服务企业": ("技术先进型",),
    "制造业单项冠军": ("单项冠军", "制造业单项冠军企业"),
}
NONE_WORDS = ("无", "没有", "暂无", "none")
TRUE_WORDS = ("是", "有", "y", "yes", "true", "1", "√", "✓")
FALSE_WORDS = ("否", "无", "没有", "n", "no", "false", "0", "×")
_LIST_SEPARATORS = re.compile(r"[、,，;；/\s]+")
_QUOTES = re.compile(r"[\"'“”‘’「」『』《》]")

MAX_AMOUNT_WAN = 10_000_000  # 1000亿元: a bare number is in 万元, so a larger one was typed in 元
MAX_COUNT = 1_000_000
_AMOUNT_UNITS = {
    "": Decimal(1), "万": Decimal(1), "万元": Decimal(1), "W": Decimal(1),
    "亿": Decimal(10000), "亿元": Decimal(10000), "元": Decimal("0.0001"), "千元": Decimal("0.1"),
    "百万": Decimal(100), "百万元": Decimal(100), "千万": Decimal(1000), "千万元": Decimal(1000),
}  # fmt: skip
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)([^\d.]*)")
_DATE = re.compile(r"(\d{4})(?:[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{2})(\d{2}))")
EARLIEST = date(1900, 1, 1)

# 规模以上 (规上/限上) by the statistics bureau's revenue thresholds (万元), where revenue alone decides.
# Other sectors (construction, real estate, services) have other tests: set above_scale explicitly.
SCALE_THRESHOLDS = (
    (("B", "C", "D"), 2000, "工业"),
    (("F51",), 2000, "批发业"),
    (("F52",), 500, "零售业"),
    (("H",), 200, "住宿和餐饮业"),
)


@dataclass(frozen=True)
class Fact:
    """A profile value as known: the value, where it came from, when and by whom (or how it was derived)."""

    value: Any
    source: str  # 企业自报 / 干部核实 / 批量导入 / 企业名录 / 推算 / 示例
    given_at: datetime | None = None
    given_by: str | None = None  # a person's name
    derived_from: str | None = None  # 「按营业收入2500万元、所属行业C13 农副食品加工业推算：…」

    def provenance(self) -> str:
        """「企业自报，2026-11-02，填报人张伟」, or how it was derived (「按营业收入…推算」)."""
        if self.derived_from:
            return self.derived_from
        parts = [self.source]
        if self.given_at is not None:
            parts.append(self.given_at.astimezone(LOCAL_ZONE).date().isoformat())
        if self.given_by:
            parts.append(f"填报人{self.given_by}")
        return "，".join(parts)


class _Bad(Exception):
    """What is wrong with one value (the attribute's label is added by Attribute.parse)."""


@dataclass(frozen=True)
class Attribute:
    """One profile attribute: its key, label, kind, unit, the question to ask, and other header names."""

    key: str
    label: str
    kind: Kind
    question: str
    unit: str = ""
    aliases: tuple[str, ...] = ()

    def parse(self, raw: Any, today: date | None = None) -> Any:
        """The normalised JSON value of `raw`; Invalid names the attribute and the value.

        `today` refuses dates after it (an establishment date); None reads a condition's threshold.
        """
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise Invalid(f"{self.label}：没有填写")
        try:
            return _READERS[self.kind](raw, today)
        except _Bad as exc:
            raise Invalid(f"{self.label}：{exc}") from None

    def show(self, value: Any) -> str:
        """A stored value as people read it: 1800万元, 120人, C13 农副食品加工业, 是."""
        return _SHOW[self.kind](value) + (self.unit if self.kind in (Kind.AMOUNT, Kind.COUNT) else "")


# --- reading ---------------------------------------------------------------------------------------


def _text(raw: Any) -> str:
    """NFKC (full-width → ASCII), stripped."""
    return unicodedata.normalize("NFKC", str(raw)).strip()


def _industry(raw: Any, today: date | None) -> str:
    text = _text(raw).replace(" ", "")
    if text in _INDUSTRY_BY_NAME:
        return _INDUSTRY_BY_NAME[text]
    match = _INDUSTRY_CODE.fullmatch(text.upper())
    if match is None or not any(match.groups()):
        raise _Bad(
            f"「{raw}」不是行业代码：请填门类字母 A–T，或2至4位代码（如 C13、1310、C1310），"
            "或大类名称（如 农副食品加工业）；以0开头的代码请加门类字母（如 A01）"
        )
    letter, digits = match.groups()
    if digits is None:
        return str(letter)
    section = SECTION_OF.get(digits[:2])
    if section is None:
        raise _Bad(f"「{raw}」：国民经济行业分类没有{digits[:2]}大类（大类为01至97）")
    if letter and letter != section:
        raise _Bad(f"「{raw}」：{digits[:2]} {DIVISIONS[digits[:2]]}属于{section}门类，不是{letter}门类")
    if len(digits) > 2 and digits[2] == "0":
        raise _Bad(f"「{raw}」：中类代码的第3位不会是0，请核对")
    return section + digits


def _choice(raw: Any, today: date | None) -> str:
    text = _text(raw).removesuffix("企业")
    for size in SIZES:
        if text in (size, size[0]):
            return size
    raise _Bad(f"「{raw}」无法识别，可填：{'、'.join(SIZES)}")


def _flag(raw: Any, today: date | None) -> bool:
    if isinstance(raw, bool):
        return raw
    word = _text(raw).lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise _Bad(f"「{raw}」无法识别，请填「是」或「否」")


_CERT_WORDS = {_QUOTES.sub("", w): label for label, ws in CERTIFICATIONS.items() for w in (label, *ws)}


def _set(raw: Any, today: date | None) -> list[str]:
    items = raw if isinstance(raw, list | tuple | set | frozenset) else _LIST_SEPARATORS.split(_text(raw))
    words = [_QUOTES.sub("", _text(item)) for item in items]
    words = [w for w in words if w]
    if all(w.lower() in NONE_WORDS for w in words):
        return []  # 「无」: known to hold none (a blank would be "not given")
    unknown = [w for w in words if w not in _CERT_WORDS]
    if unknown:
        raise _Bad(
            f"{quoted(unknown)}不是可登记的认定，可填：{'、'.join(CERTIFICATIONS)}（多项用、分隔，没有填「无」）"
        )
    return sorted({_CERT_WORDS[w] for w in words}, key=list(CERTIFICATIONS).index)


def _region(raw: Any, today: date | None) -> str:
    text = _text(raw)
    if len(text) > 50:
        raise _Bad(f"「{text[:20]}…」太长：乡镇或园区名称不超过50个字")
    return text


def _date(raw: Any, today: date | None) -> str:
    day = read_day(raw)
    if day is None:
        raise _Bad(f"「{raw}」不是完整的日期，请按 2019-05-01 或 2019年5月1日 填写")
    if day < EARLIEST:
        raise _Bad(f"「{raw}」早于{EARLIEST.year}年，请核对")
    if today is not None and day > today:
        raise _Bad(f"「{raw}」晚于今天（{today.isoformat()}），不能是将来的日期")
    return day.isoformat()


def read_day(raw: Any) -> date | None:
    """A calendar day from a date or text (2019-05-01, 2019/5/1, 2019年5月1日, 20190501); None if not."""
    if isinstance(raw, datetime):
        return raw.astimezone(LOCAL_ZONE).date() if raw.tzinfo else raw.date()
    if isinstance(raw, date):
        return raw
    match = _DATE.fullmatch(_text(raw).replace(" ", ""))
    if match is None:
        return None
    year, month, day, month2, day2 = match.groups()
    try:
        return date(int(year), int(month or month2), int(day or day2))
    except ValueError:
        return None


def _count(raw: Any, today: date | None) -> int:
    number = _number(raw, "人")
    if number != number.to_integral_value():
        raise _Bad(f"「{raw}」应为整数")
    if number > MAX_COUNT:
        raise _Bad(f"「{raw}」过大，请核对")
    return int(number)


def _amount(raw: Any, today: date | None) -> int | float:
    number = _number(raw, None)
    if number > MAX_AMOUNT_WAN:
        raise _Bad(
            f"「{raw}」即{number_text(float(number / 10000))}亿元，过大：不带单位的数字按万元计，"
            "若是元请写明（如 18000000元 或 1800万）"
        )
    return _json_number(number)


def _number(raw: Any, count_unit: str | None) -> Decimal:
    """A non-negative number in the attribute's unit: 万元 for amounts (units converted), else 人 or none."""
    if isinstance(raw, bool):
        raise _Bad(f"「{raw}」不是数字")
    text = re.sub(r"^(¥|RMB|人民币)", "", _text(raw).replace(" ", "").replace("−", "-"), flags=re.I)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    if text.startswith(("-", "负")):
        raise _Bad(f"「{raw}」不能为负数")
    match = _NUMBER.fullmatch(text)
    if match is None:
        example = "1200、1200万、1.2亿（按万元计）" if count_unit is None else f"120 或 120{count_unit}"
        raise _Bad(f"「{raw}」不是数字，请用阿拉伯数字填写，如 {example}")
    digits, unit = match.groups()
    if count_unit is not None:
        if unit not in ("", count_unit):
            raise _Bad(f"「{raw}」的单位「{unit}」无法识别，请只填数字（单位：{count_unit}）")
        return Decimal(digits)
    factor = _AMOUNT_UNITS.get(unit.upper())
    if factor is None:
        raise _Bad(f"「{raw}」的单位「{unit}」写错了：金额按万元计，可写 1200、1200万、1.2亿 或 18000000元")
    return Decimal(digits) * factor


def _json_number(number: Decimal) -> int | float:
    """Whole numbers as int, others as float rounded to 元 (4 decimals of 万元)."""
    try:
        number = number.quantize(Decimal("0.0001"))
    except InvalidOperation:
        raise _Bad(f"「{number}」过大，请核对") from None
    return int(number) if number == number.to_integral_value() else float(number)


_READERS: dict[Kind, Callable[[Any, date | None], Any]] = {
    Kind.INDUSTRY: _industry,
    Kind.CHOICE: _choice,
    Kind.FLAG: _flag,
    Kind.SET: _set,
    Kind.TEXT: _region,
    Kind.DATE: _date,
    Kind.COUNT: _count,
    Kind.AMOUNT: _amount,
}


# --- showing ---------------------------------------------------------------------------------------


def industry_name(code: str) -> str:
    """「C13 农副食品加工业」, 「C1310，属农副食品加工业」 or 「C 制造业」."""
    if len(code) == 1:
        return f"{code} {SECTIONS.get(code, '')}"
    name = DIVISIONS.get(code[1:3], "")
    return f"{code} {name}" if len(code) == 3 else f"{code}，属{name}"


def number_text(value: float) -> str:
    """1800, 1.25 — no trailing zeros, no exponent."""
    text = f"{Decimal(str(value)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_SHOW: dict[Kind, Callable[[Any], str]] = {
    Kind.INDUSTRY: industry_name,
    Kind.CHOICE: str,
    Kind.FLAG: lambda v: "是" if v else "否",
    Kind.SET: lambda v: "、".join(v) if v else "无",
    Kind.TEXT: str,
    Kind.DATE: str,
    Kind.COUNT: number_text,
    Kind.AMOUNT: number_text,
}


# --- the registry ----------------------------------------------------------------------------------


def _amount_attr(key: str, label: str, question: str, *aliases: str) -> Attribute:
    headers = (label, f"{label}(万元)", *aliases, *(f"{a}(万元)" for a in aliases))
    return Attribute(key, label, Kind.AMOUNT, question, "万元", headers)


ATTRIBUTES: dict[str, Attribute] = {
    a.key: a
    for a in (
        Attribute(
            "industry", "所属行业", Kind.INDUSTRY,
            "贵企业所属行业是什么？请填行业代码（如 C13、C3911）或行业大类名称（如 农副食品加工业）",
            aliases=("行业", "行业代码", "国民经济行业", "国民经济行业分类", "行业分类"),
        ),
        Attribute(
            "size", "企业规模", Kind.CHOICE, "贵企业是大型、中型、小型还是微型企业？", aliases=("规模",)
        ),
        Attribute(
            "above_scale", "规上企业", Kind.FLAG, "贵企业是规模以上（规上/限上）企业吗？（是/否）",
            aliases=("规上", "是否规上", "是否规上企业", "规模以上", "规模以上企业"),
        ),
        Attribute(
            "certifications", "资质认定", Kind.SET,
            f"贵企业获得了哪些认定？可填：{'、'.join(CERTIFICATIONS)}（多项用、分隔，没有请填「无」）",
            aliases=("认定", "资质", "企业资质", "企业认定", "荣誉资质"),
        ),
        Attribute(
            "region", "所在区域", Kind.TEXT, "贵企业位于哪个乡镇或园区？",
            aliases=("乡镇/园区", "所在乡镇", "所在园区", "所在乡镇/园区", "区域", "园区"),
        ),
        Attribute(
            "established", "成立日期", Kind.DATE, "贵企业的成立日期是哪天？（如 2019-05-01）",
            aliases=("成立时间", "注册日期", "成立于"),
        ),
        Attribute(
            "employees", "从业人数", Kind.COUNT, "贵企业现有从业人数是多少？", "人",
            aliases=("职工人数", "员工人数", "从业人员", "从业人员数", "从业人数(人)"),
        ),
        _amount_attr(
            "revenue_wan", "营业收入", "贵企业上一年度营业收入是多少？（万元，如 1800 或 1.8亿）",
            "营收", "年营业收入", "主营业务收入", "revenue",
        ),
        _amount_attr(
            "tax_wan", "纳税额", "贵企业上一年度纳税总额是多少？（万元）", "纳税总额", "税收", "tax"
        ),
        _amount_attr(
            "rnd_wan", "研发投入", "贵企业上一年度研发费用是多少？（万元）",
            "研发费用", "R&D", "研发经费", "rnd",
        ),
        Attribute(
            "export", "出口业务", Kind.FLAG, "贵企业有出口业务吗？（是/否）",
            aliases=("是否出口", "有无出口", "出口"),
        ),
        _amount_attr(
            "investment_wan", "项目投资额", "贵企业在建或拟建项目的计划总投资是多少？（万元）",
            "投资额", "计划总投资", "总投资", "investment",
        ),
    )
}  # fmt: skip
_BY_NAME = {name: a for a in ATTRIBUTES.values() for name in (a.key, a.label)}


def attribute_named(name: str) -> Attribute:
    """The attribute by key or Chinese label; Invalid lists them when unknown."""
    found = _BY_NAME.get(_text(name))
    if found is None:
        raise Invalid(f"未知的企业信息项「{name}」（可用：{names_text()}）")
    return found


def find_attribute(name: Any) -> Attribute | None:
    """The attribute by key or Chinese label, or None."""
    return _BY_NAME.get(_text(name)) if isinstance(name, str) else None


def names_text() -> str:
    """「industry（所属行业）、size（企业规模）…」 for messages."""
    return "、".join(f"{a.key}（{a.label}）" for a in ATTRIBUTES.values())


def questions(keys: Iterable[str]) -> list[str]:
    """The questions to ask for these attributes, in registry order, each once."""
    wanted = set(keys)
    return [a.question for a in ATTRIBUTES.values() if a.key in wanted]


def quoted(values: Iterable[Any]) -> str:
    """「a」「b」: each value in corner brackets."""
    return "".join(f"「{v}」" for v in values)


# --- derived values --------------------------------------------------------------------------------


def scale_threshold(industry: str | None) -> tuple[int, str] | None:
    """The revenue (万元) that makes an enterprise of this industry 规上, and the sector's name; or None."""
    if not industry:
        return None
    for prefixes, threshold, sector in SCALE_THRESHOLDS:
        if industry.startswith(prefixes):
            return threshold, sector
    return None


def derived_above_scale(values: Mapping[str, Any]) -> bool | None:
    """规上 from revenue and industry when the thresholds decide it; None when they cannot (never a guess)."""
    found = scale_threshold(values.get("industry"))
    revenue = values.get("revenue_wan")
    if found is None or revenue is None:
        return None
    return bool(revenue >= found[0])


def with_derived(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values plus above_scale derived from revenue when it was not given explicitly."""
    result = dict(values)
    if result.get("above_scale") is None:
        derived = derived_above_scale(result)
        if derived is not None:
            result["above_scale"] = derived
    return result
