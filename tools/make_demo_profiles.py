"""Regenerate the demo county's enterprise data for 政策匹配 (deterministic: same seed, same files).

    .venv/bin/python tools/make_demo_profiles.py            # writes the two files below
    .venv/bin/python tools/make_demo_profiles.py --check    # exit 1 if they differ from what it would write

Writes
  bot/demo/enterprises_more.csv  180 further demo enterprises (same header as enterprises.csv)
  bot/demo/profiles.csv          the profiles of all 200: the 20 of enterprises.csv (hand-written
                                 below, in that file's order), then the 180 generated ones

Profile cells left blank are *unknown* on purpose (about one value in ten), so that the 明白卡
shows near-misses and asks its questions. 资质 is 「无」 for an enterprise known to hold none of
the certifications; a blank 资质 means nobody has said. 研发投入 0 means "none", blank "unknown".

The generated enterprises are plausible, not real: codes carry a correct GB 11714 organisation-code
check and a correct GB 32100 check character; the 组织机构代码 part is numeric for enterprises
registered before the 2015 reform and 「MA…」 after it; 农民专业合作社 are 「93…」.
"""

# ruff: noqa: E501  (the data tables below read best one enterprise or industry to a line)

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.uscc import CHARSET, make_uscc, validate_uscc  # noqa: E402

DEMO = ROOT / "bot" / "demo"
SEED = 20261124
AS_OF = date(2026, 11, 24)  # the demo's "today": nobody is established after it
AREA = "371526"  # the demo county's 行政区划代码 (as in enterprises.csv)
HEADER_ENTERPRISES = ["统一社会信用代码", "企业名称", "包联部门", "所在乡镇"]
HEADER_PROFILES = [
    "统一社会信用代码", "行业代码", "规模", "资质", "所在乡镇", "成立日期",
    "从业人数", "营业收入(万元)", "纳税额(万元)", "研发投入(万元)", "出口",
]  # fmt: skip

# Certification labels, exactly as policies.yaml writes them.
HIGH_TECH = "高新技术企业"
SRDI = "专精特新中小企业"
LITTLE_GIANT = '专精特新"小巨人"'
TECH_SME = "科技型中小企业"
INNOVATIVE = "创新型中小企业"
TECH_CENTRE = "省级企业技术中心"
GAZELLE = "瞪羚企业"
CERT_ORDER = (HIGH_TECH, LITTLE_GIANT, SRDI, INNOVATIVE, TECH_SME, TECH_CENTRE, GAZELLE)

PARKS = ("经济开发区", "化工园区")
STREETS = ("城关镇", "东关街道", "西关街道")
TOWNS = ("清河镇", "柳林镇", "固河镇", "马庄镇", "石桥乡")

# 包联部门: only departments of kind 包联部门 or 兼 in departments.csv.
CONTACT_DEPARTMENTS = ("FGJ", "GXJ", "SWJ", "SCJGJ", "ZJJ", "KFQ")


# ---------------------------------------------------------------- the 20 existing enterprises

# USCC → (行业, 规模, 资质, 所在乡镇, 成立日期, 从业人数, 营业收入, 纳税额, 研发投入, 出口); None = blank.
Existing = tuple[
    str,
    str | None,
    tuple[str, ...] | None,
    str,
    str,
    int | None,
    float | None,
    float | None,
    float | None,
    bool | None,
]
EXISTING: dict[str, Existing] = {
    "9137152648130862X4": ("C1431", "中型", (HIGH_TECH, SRDI, INNOVATIVE), "经济开发区", "2008-05-12", 380, 32000, 960, 1050, True),  # 鑫源食品
    "91371526516713861N": ("C1712", "中型", (TECH_CENTRE,), "城关镇", "2003-09-18", 650, 45000, 1100, 380, True),  # 恒通纺织
    "913715263881078585": ("C3484", "小型", (HIGH_TECH, LITTLE_GIANT, SRDI, INNOVATIVE), "经济开发区", "2006-03-20", 260, 18000, 520, 760, True),  # 华泰机械
    "91371526MA3DCTY48P": ("A0511", "中型", (INNOVATIVE, TECH_SME), "清河镇", "2017-04-11", 45, 1800, 12, 95, False),  # 金禾农业科技
    "91371526937700444H": ("C3021", "小型", (), "柳林镇", "2005-07-01", 120, 6800, 310, 0, None),  # 宏达建材
    "91371526MA3PPCQ935": ("C2761", "小型", (HIGH_TECH, TECH_SME, GAZELLE), "经济开发区", "2018-08-08", 150, 9500, None, 860, True),  # 瑞丰生物
    "91371526MA3NUQCUX7": ("N7721", None, (TECH_SME,), "经济开发区", "2018-03-15", 60, 2600, 130, 180, False),  # 绿源环保
    "91371526MA3X6YTJ87": ("C2231", "小型", (), "东关街道", "2020-05-20", 85, 2300, 70, None, False),  # 新兴包装
    "91371526615645331F": ("C2614", "中型", (HIGH_TECH, TECH_CENTRE), "化工园区", "2004-11-02", 420, 68000, 2600, 2200, True),  # 永盛化工
    "91371526MA325MJ026": ("G5431", "小型", (), "城关镇", "2016-06-06", 140, 5200, 180, 0, False),  # 天成物流
    "91371526MA3M4PW49G": ("C3670", "中型", (HIGH_TECH, SRDI, INNOVATIVE), "经济开发区", "2019-02-18", 310, 26000, 640, 980, True),  # 鼎盛汽车零部件
    "91371526MA32J1J797": ("C3584", "小型", (TECH_SME, INNOVATIVE), "东关街道", "2016-11-30", 70, 3100, 150, 260, None),  # 康宁医疗器械
    "91371526MA358R3C16": ("C3982", "小型", (HIGH_TECH, SRDI, INNOVATIVE, TECH_SME), "经济开发区", "2017-09-09", 230, 15000, 380, 820, True),  # 亿佳电子
    "91371526654208345B": ("C2221", "中型", None, "清河镇", "2002-04-16", 520, 38000, 900, 300, False),  # 同心纸业
    "913715269193632611": ("C1312", "小型", (), "固河镇", "2009-10-10", 48, 4200, 40, 0, False),  # 福满家面粉
    "93371526MA37GY375E": ("A0112", "小型", (), "固河镇", "2016-03-08", 12, 260, 0, 0, False),  # 润禾种植合作社
    "91371526MA3T06X21E": ("C1771", "小型", (), "城关镇", "2021-01-15", 90, 3500, 95, 60, True),  # 锦绣家纺
    "91371526MA3Q98U59X": ("C2651", "小型", (HIGH_TECH, TECH_SME, GAZELLE), "化工园区", "2020-09-01", 180, 21000, 760, 1100, False),  # 中科新材料
    "91371526084194550G": ("D4412", "小型", (), "经济开发区", "2013-12-20", 210, 52000, 2100, None, False),  # 德润热电
    "91371526MA3KMREF60": ("E4710", "中型", (), "东关街道", "2018-07-07", 160, None, 360, 0, False),  # 安泰建设
}  # fmt: skip


# ---------------------------------------------------------------- the 180 generated ones


@dataclass(frozen=True)
class Kind:
    """An industry the demo county has, and what its enterprises typically look like."""

    code: str  # GB/T 4754-2017 小类
    suffixes: tuple[str, ...]  # the name after 示范县 + 字号
    count: int  # how many of the 180
    employees: tuple[int, int]
    revenue_per_head: tuple[float, float]  # 万元 a year per employee
    tax_rate: tuple[float, float]  # taxes paid / revenue
    tech: int  # 0 none … 3 high: drives R&D and certifications
    export: float  # probability of exporting
    regions: tuple[str, ...]
    departments: tuple[str, ...]
    cooperative: bool = False
    since: int = 1996  # the earliest plausible year of establishment (photovoltaics, software …)


INDUSTRY_PARK = (
    "经济开发区",
    "经济开发区",
    "经济开发区",
    "城关镇",
    "东关街道",
    "西关街道",
    "清河镇",
    "柳林镇",
)
ANYWHERE = ("经济开发区", "城关镇", "东关街道", "西关街道", "清河镇", "柳林镇", "固河镇", "马庄镇", "石桥乡")
CHEMICAL = ("化工园区", "化工园区", "化工园区", "经济开发区")
COUNTRY = TOWNS
TOWN_AND_COUNTRY = (*TOWNS, "城关镇")
URBAN = ("城关镇", "东关街道", "西关街道", "城关镇", "经济开发区")
DEV_ZONE = ("经济开发区", "经济开发区", "经济开发区", "东关街道")

KINDS = (
    # 农副食品、食品、饮料
    Kind("C1312", ("面粉有限公司", "粮油有限公司"), 3, (15, 120), (36, 90), (0.005, 0.015), 0, 0.0, TOWN_AND_COUNTRY, ("SWJ", "GXJ")),
    Kind("C1331", ("油脂有限公司",), 2, (20, 100), (48, 120), (0.006, 0.02), 0, 0.05, TOWN_AND_COUNTRY, ("GXJ",)),
    Kind("C1352", ("禽业有限公司", "食品有限公司"), 2, (80, 700), (18, 48), (0.008, 0.02), 1, 0.3, TOWNS, ("GXJ", "SCJGJ")),
    Kind("C1353", ("肉制品有限公司",), 2, (40, 300), (24, 54), (0.01, 0.025), 1, 0.1, TOWN_AND_COUNTRY, ("SCJGJ", "GXJ")),
    Kind("C1371", ("果蔬食品有限公司", "脱水蔬菜有限公司"), 3, (30, 300), (12, 36), (0.01, 0.025), 1, 0.6, TOWN_AND_COUNTRY, ("SWJ", "GXJ")),
    Kind("C1392", ("豆制品有限公司",), 2, (8, 60), (9, 24), (0.01, 0.02), 0, 0.0, URBAN, ("SCJGJ",)),
    Kind("C1431", ("食品有限公司", "面业有限公司"), 2, (20, 400), (18, 54), (0.015, 0.03), 1, 0.25, INDUSTRY_PARK, ("GXJ", "SCJGJ")),
    Kind("C1432", ("速冻食品有限公司",), 2, (40, 400), (24, 54), (0.015, 0.03), 1, 0.4, INDUSTRY_PARK, ("GXJ", "KFQ")),
    Kind("C1495", ("生物科技有限公司",), 2, (30, 200), (30, 90), (0.02, 0.04), 3, 0.4, DEV_ZONE, ("KFQ",)),
    Kind("C1512", ("酒业有限公司",), 2, (20, 200), (18, 48), (0.08, 0.15), 0, 0.0, TOWN_AND_COUNTRY, ("GXJ",)),
    Kind("C1529", ("饮品有限公司",), 1, (20, 150), (24, 60), (0.02, 0.04), 1, 0.0, INDUSTRY_PARK, ("GXJ", "SCJGJ")),
    # 纺织、服装、木材、家具、造纸
    Kind("C1711", ("棉业有限公司", "纺织有限公司"), 3, (50, 800), (15, 36), (0.01, 0.02), 1, 0.3, ANYWHERE, ("GXJ", "SWJ")),
    Kind("C1712", ("纺织有限公司", "织造有限公司"), 3, (40, 500), (15, 36), (0.01, 0.02), 1, 0.35, ANYWHERE, ("GXJ", "SWJ")),
    Kind("C1771", ("家纺有限公司",), 3, (20, 300), (12, 30), (0.015, 0.03), 1, 0.5, URBAN, ("SWJ",)),
    Kind("C1819", ("服饰有限公司", "制衣有限公司"), 3, (30, 500), (6, 18), (0.01, 0.025), 0, 0.6, ANYWHERE, ("SWJ", "GXJ")),
    Kind("C2021", ("木业有限公司",), 2, (20, 200), (18, 48), (0.01, 0.025), 0, 0.2, TOWNS, ("GXJ",)),
    Kind("C2110", ("家具有限公司",), 2, (20, 200), (12, 30), (0.015, 0.03), 1, 0.2, INDUSTRY_PARK, ("GXJ",)),
    Kind("C2221", ("纸业有限公司",), 2, (60, 400), (30, 72), (0.015, 0.03), 1, 0.0, TOWNS, ("GXJ",)),
    Kind("C2231", ("包装有限公司", "纸制品有限公司"), 3, (15, 150), (12, 30), (0.015, 0.03), 1, 0.1, INDUSTRY_PARK, ("GXJ", "KFQ")),
    # 化工、医药、塑料
    Kind("C2614", ("化工有限公司",), 4, (50, 500), (60, 180), (0.025, 0.05), 2, 0.3, CHEMICAL, ("KFQ",)),
    Kind("C2625", ("生物肥业有限公司",), 2, (15, 150), (24, 60), (0.005, 0.015), 2, 0.0, (*CHEMICAL, *TOWNS), ("KFQ", "FGJ")),
    Kind("C2641", ("涂料有限公司",), 2, (30, 200), (36, 90), (0.02, 0.04), 2, 0.1, CHEMICAL, ("KFQ",)),
    Kind("C2661", ("精细化工有限公司",), 3, (30, 300), (48, 120), (0.025, 0.05), 3, 0.4, CHEMICAL, ("KFQ",)),
    Kind("C2651", ("新材料科技有限公司",), 2, (40, 300), (60, 150), (0.02, 0.04), 3, 0.2, CHEMICAL, ("KFQ",), since=2003),
    Kind("C2740", ("药业有限公司",), 2, (60, 500), (30, 72), (0.03, 0.06), 3, 0.1, PARKS, ("KFQ", "SCJGJ")),
    Kind("C2750", ("动物药业有限公司",), 2, (30, 200), (24, 60), (0.02, 0.04), 2, 0.1, PARKS, ("KFQ",)),
    Kind("C2922", ("塑业有限公司",), 2, (20, 200), (24, 54), (0.015, 0.03), 1, 0.2, (*CHEMICAL, *INDUSTRY_PARK), ("KFQ", "GXJ")),
    Kind("C2926", ("塑料包装有限公司",), 2, (15, 120), (18, 42), (0.015, 0.03), 1, 0.1, INDUSTRY_PARK, ("GXJ",)),
    # 建材、金属制品
    Kind("C3021", ("建材有限公司", "管桩有限公司"), 2, (20, 200), (24, 60), (0.03, 0.05), 0, 0.0, TOWNS, ("ZJJ",)),
    Kind("C3031", ("新型建材有限公司",), 2, (15, 120), (12, 36), (0.03, 0.05), 1, 0.0, TOWNS, ("ZJJ", "GXJ")),
    Kind("C3033", ("防水材料有限公司",), 2, (20, 150), (30, 72), (0.02, 0.04), 1, 0.0, INDUSTRY_PARK, ("ZJJ",)),
    Kind("C3311", ("钢结构有限公司",), 2, (30, 300), (30, 72), (0.015, 0.03), 1, 0.1, INDUSTRY_PARK, ("ZJJ", "GXJ")),
    Kind("C3391", ("铸造有限公司",), 2, (40, 400), (18, 48), (0.015, 0.03), 1, 0.3, TOWNS, ("GXJ",)),
    Kind("C3399", ("五金制品有限公司",), 2, (10, 100), (12, 36), (0.015, 0.03), 0, 0.4, ANYWHERE, ("GXJ", "SWJ")),
    # 通用、专用设备、汽车
    Kind("C3441", ("泵业有限公司",), 2, (40, 300), (24, 60), (0.02, 0.04), 2, 0.3, INDUSTRY_PARK, ("GXJ", "KFQ")),
    Kind("C3443", ("阀门有限公司",), 2, (30, 250), (24, 60), (0.02, 0.04), 2, 0.4, INDUSTRY_PARK, ("GXJ", "KFQ")),
    Kind("C3451", ("轴承有限公司",), 3, (30, 600), (18, 54), (0.015, 0.035), 2, 0.45, ANYWHERE, ("GXJ", "KFQ")),
    Kind("C3484", ("精密机械有限公司", "机械有限公司"), 4, (20, 400), (24, 60), (0.02, 0.04), 2, 0.35, INDUSTRY_PARK, ("KFQ", "GXJ")),
    Kind("C3531", ("食品机械有限公司",), 2, (20, 200), (24, 60), (0.02, 0.04), 2, 0.3, INDUSTRY_PARK, ("KFQ", "GXJ")),
    Kind("C3572", ("农业机械有限公司", "农机装备有限公司"), 3, (30, 500), (24, 60), (0.015, 0.035), 2, 0.3, INDUSTRY_PARK, ("KFQ", "GXJ")),
    Kind("C3584", ("医疗器械有限公司",), 2, (20, 200), (18, 54), (0.03, 0.05), 3, 0.2, INDUSTRY_PARK, ("SCJGJ", "KFQ")),
    Kind("C3660", ("专用汽车有限公司",), 2, (80, 600), (36, 90), (0.015, 0.03), 2, 0.3, DEV_ZONE, ("KFQ",)),
    Kind("C3670", ("汽车零部件有限公司", "汽车配件有限公司"), 4, (40, 800), (30, 72), (0.015, 0.035), 2, 0.4, INDUSTRY_PARK, ("KFQ", "GXJ")),
    # 电气、电子、仪器、再生资源
    Kind("C3825", ("光伏科技有限公司",), 2, (50, 400), (48, 120), (0.015, 0.03), 3, 0.5, DEV_ZONE, ("KFQ",), since=2009),
    Kind("C3831", ("电缆有限公司",), 3, (30, 300), (60, 150), (0.01, 0.025), 2, 0.1, INDUSTRY_PARK, ("GXJ", "KFQ")),
    Kind("C3841", ("新能源科技有限公司",), 2, (50, 500), (48, 120), (0.015, 0.03), 3, 0.4, DEV_ZONE, ("KFQ",), since=2010),
    Kind("C3872", ("照明电器有限公司",), 2, (20, 200), (18, 42), (0.015, 0.03), 1, 0.5, INDUSTRY_PARK, ("GXJ", "SWJ")),
    Kind("C3976", ("光电科技有限公司",), 2, (30, 300), (30, 90), (0.02, 0.04), 3, 0.4, DEV_ZONE, ("KFQ",), since=2008),
    Kind("C3982", ("电子科技有限公司",), 3, (30, 400), (24, 72), (0.02, 0.04), 3, 0.5, DEV_ZONE, ("KFQ",)),
    Kind("C3983", ("传感技术有限公司", "智能传感有限公司"), 2, (20, 200), (24, 72), (0.02, 0.04), 3, 0.3, DEV_ZONE, ("KFQ",), since=2005),
    Kind("C4012", ("仪器仪表有限公司",), 2, (20, 150), (24, 60), (0.02, 0.04), 3, 0.2, INDUSTRY_PARK, ("KFQ", "GXJ")),
    Kind("C4220", ("再生资源有限公司",), 2, (15, 100), (24, 72), (0.01, 0.02), 1, 0.0, TOWNS, ("FGJ",)),
    # 能源、建筑、商贸、物流、服务
    Kind("D4416", ("光伏发电有限公司",), 2, (5, 25), (100, 300), (0.03, 0.06), 0, 0.0, TOWNS, ("FGJ",), since=2013),
    Kind("D4430", ("热力有限公司",), 1, (50, 200), (30, 72), (0.02, 0.04), 0, 0.0, URBAN, ("FGJ", "ZJJ")),
    Kind("E4710", ("建设工程有限公司", "建筑工程有限公司"), 3, (30, 400), (24, 60), (0.02, 0.04), 0, 0.0, URBAN, ("ZJJ",)),
    Kind("E5011", ("装饰工程有限公司",), 3, (10, 80), (12, 36), (0.02, 0.04), 0, 0.0, URBAN, ("ZJJ",)),
    Kind("F5111", ("粮食购销有限公司",), 2, (5, 40), (150, 400), (0.003, 0.01), 0, 0.0, TOWNS, ("SWJ",)),
    Kind("F5212", ("商贸有限公司", "超市有限公司"), 3, (10, 150), (12, 36), (0.01, 0.02), 0, 0.0, URBAN, ("SWJ", "SCJGJ")),
    Kind("F5261", ("汽车销售服务有限公司",), 2, (15, 80), (100, 300), (0.005, 0.015), 0, 0.0, URBAN, ("SWJ",)),
    Kind("G5431", ("物流有限公司", "运输有限公司"), 4, (10, 300), (12, 36), (0.02, 0.04), 0, 0.0, (*URBAN, *TOWNS), ("SWJ",)),
    Kind("G5432", ("冷链物流有限公司",), 2, (15, 150), (18, 48), (0.02, 0.04), 0, 0.0, (*URBAN, "经济开发区"), ("SWJ",)),
    Kind("G5920", ("仓储有限公司",), 2, (10, 80), (12, 30), (0.02, 0.04), 0, 0.0, (*URBAN, "经济开发区"), ("SWJ",)),
    Kind("G5821", ("供应链管理有限公司",), 2, (8, 60), (50, 200), (0.01, 0.02), 0, 0.0, URBAN, ("SWJ",), since=2012),
    Kind("H6110", ("酒店管理有限公司",), 2, (30, 150), (5, 12), (0.03, 0.06), 0, 0.0, URBAN, ("SWJ", "SCJGJ")),
    Kind("I6513", ("软件科技有限公司", "信息技术有限公司"), 3, (8, 120), (12, 36), (0.02, 0.05), 3, 0.0, (*URBAN, "经济开发区"), ("KFQ", "GXJ"), since=2005),
    Kind("I6531", ("智能科技有限公司",), 2, (10, 100), (18, 48), (0.02, 0.05), 3, 0.0, (*URBAN, "经济开发区"), ("KFQ", "GXJ"), since=2008),
    Kind("M7511", ("农业科技有限公司",), 3, (8, 60), (9, 30), (0.005, 0.02), 2, 0.0, TOWNS, ("FGJ",)),
    Kind("N7721", ("水务环保有限公司",), 2, (15, 100), (18, 48), (0.02, 0.04), 2, 0.0, (*URBAN, "经济开发区", "化工园区"), ("FGJ",), since=2005),
    Kind("N7723", ("环境科技有限公司",), 2, (15, 120), (18, 48), (0.02, 0.04), 2, 0.0, (*PARKS, *TOWNS), ("FGJ",), since=2008),
    # 农业：农民专业合作社与农业企业
    Kind("A0112", ("种植专业合作社", "粮食种植专业合作社"), 5, (5, 30), (5, 25), (0.0, 0.0), 0, 0.0, COUNTRY, ("FGJ",), cooperative=True),
    Kind("A0141", ("蔬菜种植专业合作社",), 4, (6, 40), (8, 30), (0.0, 0.0), 0, 0.0, COUNTRY, ("FGJ",), cooperative=True),
    Kind("A0142", ("食用菌专业合作社",), 2, (8, 50), (10, 30), (0.0, 0.0), 0, 0.0, COUNTRY, ("FGJ",), cooperative=True),
    Kind("A0151", ("果品专业合作社",), 2, (5, 30), (8, 25), (0.0, 0.0), 0, 0.1, COUNTRY, ("FGJ",), cooperative=True),
    Kind("A0313", ("牧业有限公司",), 2, (20, 150), (30, 100), (0.0, 0.002), 1, 0.0, COUNTRY, ("FGJ",)),
    Kind("A0321", ("养殖有限公司",), 2, (10, 80), (30, 80), (0.0, 0.002), 0, 0.0, COUNTRY, ("FGJ",)),
    Kind("A0511", ("种业有限公司",), 2, (15, 80), (30, 80), (0.0, 0.005), 2, 0.0, COUNTRY, ("FGJ",)),
)  # fmt: skip

# 字号 (trade names): two characters, combined without repeats; those of enterprises.csv are excluded.
FIRST = "金鑫华恒宏永瑞鼎隆泰顺盛嘉丰润东信诚和佳宇博创安康兴联正明海天汇广聚"
SECOND = "源达泰丰盛隆昌通宇辉晟利发祥德兴邦润科远诚信和力"
TAKEN = {"鑫源", "恒通", "华泰", "金禾", "宏达", "瑞丰", "绿源", "新兴", "永盛", "天成", "鼎盛", "康宁",
         "亿佳", "同心", "福满家", "润禾", "锦绣", "中科", "德润", "安泰"}  # fmt: skip

# R&D spend as a share of revenue, by Kind.tech.
RND_SHARE = ((0.0, 0.0), (0.0, 0.02), (0.01, 0.05), (0.03, 0.09))

# Per column: the chance a generated value is left blank (unknown). About 10% overall. 所在乡镇 is
# never blank: it is also in enterprises_more.csv, and the two files must agree.
BLANK = {
    "行业代码": 0.03, "规模": 0.09, "资质": 0.09, "所在乡镇": 0.0, "成立日期": 0.06,
    "从业人数": 0.09, "营业收入(万元)": 0.13, "纳税额(万元)": 0.16, "研发投入(万元)": 0.18, "出口": 0.17,
}  # fmt: skip


def size_of(code: str, employees: int, revenue: float) -> str:
    """规模 by 《统计上大中小微型企业划分办法（2017）》: a band needs both lower limits, else the one below."""
    section, division = code[0], code[:3]
    bands: tuple[tuple[str, int, float], ...]  # (规模, 从业人数下限, 营业收入下限)
    if section in "BCD":
        bands = (("大型", 1000, 40000), ("中型", 300, 2000), ("小型", 20, 300))
    elif section == "E":
        bands = (("大型", 0, 80000), ("中型", 0, 6000), ("小型", 0, 300))
    elif division == "F51":
        bands = (("大型", 200, 40000), ("中型", 20, 5000), ("小型", 5, 1000))
    elif division == "F52":
        bands = (("大型", 300, 20000), ("中型", 50, 500), ("小型", 10, 100))
    elif division == "G59":
        bands = (("大型", 200, 30000), ("中型", 100, 1000), ("小型", 20, 100))
    elif section == "G":
        bands = (("大型", 1000, 30000), ("中型", 300, 3000), ("小型", 20, 200))
    elif section == "H":
        bands = (("大型", 300, 10000), ("中型", 100, 2000), ("小型", 10, 100))
    elif division == "I65":
        bands = (("大型", 300, 10000), ("中型", 100, 1000), ("小型", 10, 50))
    elif section == "A":
        bands = (("大型", 0, 20000), ("中型", 0, 500), ("小型", 0, 50))
    else:
        bands = (("大型", 300, 0), ("中型", 100, 0), ("小型", 10, 0))
    for label, min_employees, min_revenue in bands:
        if employees >= min_employees and revenue >= min_revenue:
            return label
    return "微型"


def org_code_check(first8: str) -> str:
    """GB 11714's check character of a 组织机构代码 (characters 9-17 of a USCC)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(char, 36) * weight for char, weight in zip(first8, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def make_code(rng: random.Random, established: date, cooperative: bool, taken: set[str]) -> str:
    """A valid USCC: 91 (企业) or 93 (农民专业合作社), the county, and an org code of the right era."""
    while True:
        if established >= date(2015, 10, 1):
            body = "MA3" + "".join(rng.choice(CHARSET) for _ in range(5))
        else:
            body = f"{rng.randrange(10_000_000, 99_999_999):08d}"
        prefix = "93" if cooperative else "91"
        code = make_uscc(prefix + AREA + body + org_code_check(body))
        if code not in taken:
            taken.add(code)
            return code


def random_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def established_date(rng: random.Random, kind: Kind) -> date:
    """Older industries lean pre-2015 (numeric org codes); co-ops and tech firms lean recent."""
    old_share = 0.1 if kind.cooperative else (0.25 if kind.tech >= 3 else 0.4)
    if kind.since < 2015 and rng.random() < old_share:
        return random_date(rng, date(kind.since, 1, 1), date(2015, 9, 30))
    if rng.random() < 0.12:  # a few very young ones: 成立不超过3年 policies, 成立满1年 checks
        return random_date(rng, date(2024, 1, 1), date(2026, 8, 31))
    return random_date(rng, date(2015, 11, 1), date(2023, 12, 31))


def round_money(value: float) -> float:
    """万元 as a person would write it: whole above 100, one decimal below."""
    return float(round(value)) if value >= 100 else round(value, 1)


def certifications(rng: random.Random, kind: Kind, established: date, employees: int, revenue: float,
                   rnd: float, size: str) -> list[str]:  # fmt: skip
    """Plausible certifications: each with roughly its real preconditions, none of them certain."""
    held: list[str] = []
    share = rnd / revenue if revenue else 0.0
    age = (AS_OF - established).days / 365.25
    tech_sme = (
        kind.tech >= 1 and rnd > 0 and employees <= 500 and revenue <= 20000
        and rng.random() < (0.0, 0.15, 0.45, 0.75)[kind.tech]
    )  # fmt: skip
    needed = 0.05 if revenue <= 5000 else (0.04 if revenue <= 20000 else 0.03)
    high_tech = kind.tech >= 2 and age >= 1 and share >= needed and rng.random() < 0.75
    innovative = (tech_sme or high_tech) and size != "大型" and rng.random() < 0.55
    srdi = innovative and revenue >= 1000 and kind.tech >= 2 and rng.random() < 0.5
    giant = srdi and revenue >= 10000 and rng.random() < 0.35
    centre = age >= 3 and revenue >= 5000 and rnd >= 300 and rng.random() < 0.35
    gazelle = kind.tech >= 2 and 2 <= age <= 10 and revenue >= 2000 and rng.random() < 0.2
    for label, flag in ((HIGH_TECH, high_tech), (LITTLE_GIANT, giant), (SRDI, srdi), (INNOVATIVE, innovative),
                        (TECH_SME, tech_sme), (TECH_CENTRE, centre), (GAZELLE, gazelle)):  # fmt: skip
        if flag:
            held.append(label)
    return held


def generate(rng: random.Random) -> tuple[list[list[str]], list[list[str]]]:
    """The 180 further enterprises: (enterprises rows, profile rows)."""
    assert sum(kind.count for kind in KINDS) == 180, sum(kind.count for kind in KINDS)
    names = [a + b for a in FIRST for b in SECOND if a != b and a + b not in TAKEN]
    rng.shuffle(names)
    kinds = [kind for kind in KINDS for _ in range(kind.count)]
    rng.shuffle(kinds)
    existing = (DEMO / "enterprises.csv").read_text(encoding="utf-8")
    taken = {line.split(",")[0] for line in existing.splitlines()[1:]}
    enterprises, profiles = [], []
    for kind, trade_name in zip(kinds, names, strict=False):
        established = established_date(rng, kind)
        age = (AS_OF - established).days / 365.25
        low, high = kind.employees
        employees = int(low + (high - low) * rng.random() ** 2.4)  # most are small
        if age < 3:
            employees = max(low // 2 + 3, int(employees * (0.3 + 0.2 * age)))
        ramp = 0.4 if age < 2 else (0.7 if age < 4 else 1.0)  # young firms are still growing
        revenue = employees * rng.uniform(*kind.revenue_per_head) * ramp
        revenue = round_money(revenue)
        tax = round_money(revenue * rng.uniform(*kind.tax_rate)) if not kind.cooperative else 0.0
        share = rng.uniform(*RND_SHARE[kind.tech])
        if kind.tech == 0 and rng.random() < 0.15:
            share = rng.uniform(0.002, 0.008)  # a little process R&D
        rnd = round_money(revenue * share)
        size = size_of(kind.code, employees, revenue)
        held = certifications(rng, kind, established, employees, revenue, rnd, size)
        export = rng.random() < kind.export
        region = rng.choice(kind.regions)
        department = rng.choice(kind.departments)
        if region in PARKS and department not in ("KFQ", "FGJ", "SCJGJ"):
            department = "KFQ" if rng.random() < 0.6 else department
        elif region not in PARKS and department == "KFQ":
            department = "GXJ"  # 开发区管委会 serves the parks only
        assert department in CONTACT_DEPARTMENTS, department
        code = make_code(rng, established, kind.cooperative, taken)
        suffix = rng.choice(kind.suffixes)
        enterprises.append([code, f"示范县{trade_name}{suffix}", department, region])
        values = {
            "行业代码": kind.code, "规模": size, "资质": "、".join(held) or "无", "所在乡镇": region,
            "成立日期": established.isoformat(), "从业人数": str(employees),
            "营业收入(万元)": fmt(revenue), "纳税额(万元)": fmt(tax), "研发投入(万元)": fmt(rnd),
            "出口": "是" if export else "否",
        }  # fmt: skip
        for column, chance in BLANK.items():
            if rng.random() < chance:
                values[column] = ""
        profiles.append([code, *(values[column] for column in HEADER_PROFILES[1:])])
    return enterprises, profiles


def fmt(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def existing_profiles() -> list[list[str]]:
    """The hand-written profiles, in the order of enterprises.csv."""
    with (DEMO / "enterprises.csv").open(encoding="utf-8") as handle:
        codes = [row["统一社会信用代码"] for row in csv.DictReader(handle)]
    assert set(codes) == set(EXISTING), "enterprises.csv and EXISTING disagree"
    rows = []
    for code in codes:
        industry, size, held, region, established, employees, revenue, tax, rnd, export = EXISTING[code]
        certs = "" if held is None else ("、".join(held) or "无")
        exported = "" if export is None else ("是" if export else "否")
        numbers = [fmt(value) for value in (employees, revenue, tax, rnd)]
        rows.append(
            [
                code,
                str(industry or ""),
                str(size or ""),
                certs,
                str(region or ""),
                str(established or ""),
                *numbers,
                exported,
            ]
        )
    return rows


def render(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def build() -> dict[Path, str]:
    rng = random.Random(SEED)  # noqa: S311  (demo data, not secrets)
    enterprises, generated = generate(rng)
    profiles = existing_profiles() + generated
    for row in profiles:
        validate_uscc(row[0])
    assert len({row[0] for row in profiles}) == 200
    return {
        DEMO / "enterprises_more.csv": render(HEADER_ENTERPRISES, enterprises),
        DEMO / "profiles.csv": render(HEADER_PROFILES, profiles),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the files on disk")
    args = parser.parse_args()
    stale = []
    for path, text in build().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)} ({text.count(chr(10)) - 1} rows)")
    if stale:
        print("out of date (run tools/make_demo_profiles.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
