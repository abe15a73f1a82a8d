"""Who the simulator offers to play, and which groups it shows: the demo county of bot/demo/*.csv.

The simulator reads the same files `ztc demo` loads, not the database, so it needs nothing but
the two HTTP addresses (the bot's web process and the stand-in). A department with a 群机器人
key gets a made-up group chat; the key is tied to it on the stand-in, so the group shows both
the AI bot's answers and the notices the bot posts through that 群机器人 (the 重点项目 prompts).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# The picker's sections, in the order a newcomer meets them: people.csv's 角色 -> the heading.
ROLE_SECTIONS = (("企业", "企业联系人"), ("干部", "干部"), ("县领导", "县领导"), ("管理员", "管理员"))
DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"  # bot/demo, as bot.demo.DEMO_DIR
GROUP_PREFIX = "wrDemoGroupXian"  # made-up chat ids, as WeCom's start with "wr"


# What a newcomer might type first, by role (a person's own list wins): the page offers them as buttons.
EXAMPLES = {
    "企业": ("帮助", "我是谁", "诉求 用地 厂房扩建用地手续三个月未批", "我的诉求", "政策", "宁静日"),
    "干部": ("帮助", "待办", "我的项目", "检查列表", "督办"),
    "县领导": ("帮助", "待办", "日报", "排名", "我的项目"),
    "管理员": ("帮助", "待办", "周报", "排名"),
    "zhou_min": ("帮助", "我是谁", "绑定 93371526MA37GY375E 周敏"),  # not yet bound to her co-operative
}
STRANGER_EXAMPLES = ("帮助", "我是谁")


@dataclass(frozen=True)
class Person:
    """One demo person: WeCom userid, name, role, and what tells him apart (post, enterprise)."""

    userid: str
    name: str
    role: str
    note: str


@dataclass(frozen=True)
class Group:
    """One demo group chat: its chat id, its name, and the 群机器人 key whose sends show in it."""

    chatid: str
    name: str
    webhook_key: str | None = None


@dataclass(frozen=True)
class County:
    """The demo county's people and groups."""

    people: tuple[Person, ...]
    groups: tuple[Group, ...]

    def sections(self) -> list[tuple[str, list[Person]]]:
        """The people by role, each section under its heading."""
        return [(heading, [p for p in self.people if p.role == role]) for role, heading in ROLE_SECTIONS]

    def person(self, userid: str) -> Person | None:
        """The demo person with this userid (case-insensitive, as WeCom's), if any."""
        return next((p for p in self.people if p.userid.lower() == userid.lower()), None)

    def name_of(self, userid: str) -> str:
        """A person's name, or the userid itself for someone outside the demo county."""
        person = self.person(userid)
        return person.name if person else userid

    def examples(self, userid: str) -> tuple[str, ...]:
        """What this person might try first."""
        person = self.person(userid)
        if person is None:
            return STRANGER_EXAMPLES
        return EXAMPLES.get(person.userid) or EXAMPLES.get(person.role, STRANGER_EXAMPLES)

    def group(self, chatid: str) -> Group | None:
        """The demo group with this chat id, if any."""
        return next((g for g in self.groups if g.chatid == chatid), None)


def _rows(name: str, directory: Path) -> list[dict[str, str]]:
    with (directory / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def demo_county(leaders_webhook: str | None = None, directory: Path = DEMO_DIR) -> County:
    """The people of people.csv and a group per department 群机器人 (plus the leaders', if keyed)."""
    departments = {row["部门编码"]: row for row in _rows("departments.csv", directory)}
    companies = _companies(directory)
    people = []
    for row in _rows("people.csv", directory):
        department = departments.get(row["部门"], {}).get("部门名称") or row["部门"]
        place = companies.get(row["账号"], "未绑定企业") if row["角色"] == "企业" else department
        note = "，".join(part for part in (place, row["职务"]) if part)
        people.append(Person(row["账号"], row["姓名"], row["角色"], note))
    groups = [
        Group(f"{GROUP_PREFIX}{code}", f"{row['部门名称']}工作群", row["群机器人"])
        for code, row in departments.items()
        if row.get("群机器人")
    ]
    if leaders_webhook:
        groups.append(Group(f"{GROUP_PREFIX}Leaders", "县领导工作群", leaders_webhook))
    return County(tuple(people), tuple(groups))


def _companies(directory: Path) -> dict[str, str]:
    """Each demo contact's enterprise name (members.csv binds them at seeding)."""
    names = {row["统一社会信用代码"]: row["企业名称"] for row in _rows("enterprises.csv", directory)}
    return {row["账号"]: names.get(row["统一社会信用代码"], "") for row in _rows("members.csv", directory)}
