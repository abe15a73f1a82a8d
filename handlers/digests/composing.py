"""A Digest as a leader reads it on a phone: what needs him first, then the figures, then the chart.

The app message is WeCom markdown, at most 2048 bytes (the leaders' group's 群机器人 takes 4096):
lists are cut with 「等N项」 rather than the message, and a digest too long for one message goes
in two (需要您处理 and 诉求; then 重点项目, 入企检查 and 免申即享), each cut — if it must be — at a
line, so never inside a <font> tag, with a visible 「……」 notice. A card under it carries one tap
for each of the most pressing risks: a leader 督办s a late order and 批示s a red project; anyone
查看s a project (督办 and 批示 are a leader's: another recipient would only be refused).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.clock import fmt_local
from bot.models import Role
from bot.replies import Button, GroupImage, GroupText, Image, Markdown, Reply, TemplateCard
from bot.wecom.outbound import APP_MARKDOWN_BYTES, GROUP_MARKDOWN_BYTES
from handlers.complaints.figures import Rate
from handlers.digests.model import (
    RATE_NAMES,
    Digest,
    InspectionLine,
    PeriodKind,
    ProjectLine,
)

LISTED = 5  # items per list before 「等N项」
LINE_CHARS = 80  # a listed risk longer than this (a long 问题 note) is clipped with 「…」
BOARD = 3  # departments on the 红榜 and on the 黑榜 (more when they tie)
CUT_NOTICE = "……（篇幅所限，以下从略；明细请发送「导出」）"
HIGHER_IS_BETTER = frozenset({"响应率", "解决率", "满意率"})
MAX_BUTTONS = 4
SCORE_DIGITS = 9  # scores equal to this many decimals tie (a mean of rates: float noise aside)


def title(digest: Digest) -> str:
    """「【日报】全县 · 11月23日」."""
    kind = {PeriodKind.DAY: "日报", PeriodKind.WEEK: "周报"}.get(digest.period.kind, "汇总")
    return f"【{kind}】{digest.scope.label} · {digest.period.label}"


def risks(digest: Digest) -> list[str]:
    """What needs the leader's action, most pressing first (the late orders: the oldest ten)."""
    lines = [
        f"超时诉求 {n}（{dept}，{fmt_local(since)}起）" for n, _, dept, _, since in digest.orders.late_orders
    ]
    lines += [f"红色项目 {p.code} {p.name}（{p.department}）{p.note}" for p in digest.projects.red]
    lines += [f"督办卡逾期 {p.note}（{p.code} {p.name}）" for p in digest.projects.cards_overdue]
    lines += [f"督办卡待签发 {p.note}（{p.code} {p.name}）" for p in digest.projects.cards_draft]
    lines += [f"颜色不一致 {p.code} {p.name}：{p.note}" for p in digest.projects.disagreements]
    lines += [f"拦截检查 {i.number} {i.enterprise}（{i.department}）" for i in digest.inspections.blocked]
    return [_clip(line) for line in lines]


def risk_count(digest: Digest) -> int:
    """How many risks there are: every late order (risks() lists only the oldest), and the rest."""
    orders = digest.orders
    return len(risks(digest)) - len(orders.late_orders) + max(orders.late, len(orders.late_orders))


def markdown_messages(digest: Digest, limit: int = APP_MARKDOWN_BYTES) -> list[str]:
    """The digest as WeCom markdown: one message when it fits `limit` bytes, else two, each cut to fit.

    The first holds what needs the leader and 诉求, the second 重点项目, 入企检查 and 免申即享.
    """
    head = title(digest)
    first = [_risk_section(digest), _orders(digest)]
    second = [_projects(digest), _inspections(digest), _policies(digest)]
    whole = _joined([f"**{head}**", *first, *second])
    if _nbytes(whole) <= limit:
        return [whole]
    return [
        _fit(_joined([f"**{head}（1/2）**", *first]), limit),
        _fit(_joined([f"**{head}（2/2）**", *second]), limit),
    ]


def _joined(parts: list[str]) -> str:
    return "\n\n".join(p for p in parts if p)


def _risk_section(digest: Digest) -> str:
    total = risk_count(digest)
    if not total:
        return '<font color="info">需要您处理：暂无</font>'
    return f'<font color="warning">**需要您处理（{total}项）**</font>\n' + _listed(risks(digest), total)


def _orders(digest: Digest) -> str:
    o = digest.orders
    head = f"**诉求** 新增{o.new} · 在办{o.open} · 超时{o.late}"
    late = sorted((d for d in o.departments if d.late), key=lambda d: -d.late)
    if late:
        head += "\n超时：" + "、".join(f"{d.name}{d.late}件（最久 {d.oldest}）" for d in late[:LISTED])
    if o.returned:  # sent back by a department, waiting for the coordinators: no department's lateness
        head += f"\n待协调（退回）{o.returned}件" + (
            f"，其中超时未协调{o.returned_late}件" if o.returned_late else ""
        )
    rates = "\n".join(
        f"> {name} {_rate_change(name, o.rates[name], o.rates_before[name])}" for name in RATE_NAMES
    )
    ranked = [(d.name, d.score) for d in o.departments if d.score is not None]
    red, black = boards([score for _, score in ranked], min(BOARD, len(ranked) // 2))
    board = f"\n红榜：{_board(ranked[:red])}" if red else ""
    board += f"\n黑榜：{_board(ranked[len(ranked) - black :][::-1])}" if black else ""
    return f"{head}\n{rates}{board}"


def _board(entries: list[tuple[str, float]]) -> str:
    """「县工信局100%、县商务局100%、县财政局100% 等4个」."""
    shown = "、".join(f"{name}{score:.0%}" for name, score in entries[:BOARD])
    return shown + (f" 等{len(entries)}个" if len(entries) > BOARD else "")


def _tie(score: float | None) -> float | None:
    return None if score is None else round(score, SCORE_DIGITS)


def places(scores: Sequence[float | None]) -> list[int]:
    """The place of each score of a ranking (best first, no score last): equal ones share it (1, 1, 3)."""
    out: list[int] = []
    for index, score in enumerate(scores):
        tied = index > 0 and _tie(score) == _tie(scores[index - 1])
        out.append(out[-1] if tied else index + 1)
    return out


def boards(scores: Sequence[float], each: int) -> tuple[int, int]:
    """How many of a ranking's scores (best first) are on the 红榜, and how many last on the 黑榜.

    红: the best `each` and whoever ties with the last of them. 黑: of those strictly below every
    红 score, the worst `each` and whoever ties with the best of them; nobody when nobody is below.
    So a department is never on both, and of two equal scores neither is red or black alone.
    """
    if each <= 0 or not scores:
        return 0, 0
    keys = [round(s, SCORE_DIGITS) for s in scores]
    red = sum(1 for k in keys if k >= keys[min(each, len(keys)) - 1])
    below = keys[red:]
    if not below:
        return red, 0
    edge = below[-min(each, len(below))]
    return red, sum(1 for k in below if k <= edge)


def _rate_change(name: str, now: Rate, before: Rate) -> str:
    """「85.0%（17/20）↑ 上期 80.0%」; the arrow is green when the change is good."""
    text = f"{now.percent}（{now.numerator}/{now.denominator}）"
    if now.value is None or before.value is None or now.value == before.value:
        return text + (f" 上期 {before.percent}" if before.value is not None else "")
    better = (now.value > before.value) == (name in HIGHER_IS_BETTER)
    colour = "info" if better else "warning"
    arrow = "↑" if now.value > before.value else "↓"
    return f'{text} <font color="{colour}">{arrow}</font> 上期 {before.percent}'


def _projects(digest: Digest) -> str:
    p = digest.projects
    counts = " ".join(f"{c}{p.colours.get(c, 0)}({_delta(p.colours.get(c, 0), p.colours_before.get(c, 0))})"
                      for c in ("绿", "白", "黄", "红", "未报"))  # fmt: skip
    lines = [f"**重点项目** {p.week_label}：{counts}"]
    lines += [f"黄色：{_names(p.yellow)}"] if p.yellow else []
    lines += [f"未报：{_names(p.unreported)}"] if p.unreported else []
    lines.append(f"督办卡：在办{p.cards_open} · 逾期{len(p.cards_overdue)} · 待签发{len(p.cards_draft)}")
    return "\n".join(lines)


def _delta(now: int, before: int) -> str:
    return f"{now - before:+d}" if now != before else "持平"


def _names(projects: list[ProjectLine]) -> str:
    shown = "、".join(f"{p.code} {p.name}" for p in projects[:LISTED])
    return shown + (f" 等{len(projects)}个" if len(projects) > LISTED else "")


def _inspections(digest: Digest) -> str:
    i = digest.inspections
    lines = [
        f"**入企检查** 报备{i.registered} · 拦截{len(i.blocked)} · 豁免{len(i.exempted)} · 联合{i.joint}"
    ]
    lines += [f"豁免：{_inspection_names(i.exempted)}"] if i.exempted else []
    return "\n".join(lines)


def _inspection_names(items: list[InspectionLine]) -> str:
    shown = "；".join(f"{i.enterprise}（{i.note}）" for i in items[:LISTED])
    return shown + (f" 等{len(items)}项" if len(items) > LISTED else "")


def _policies(digest: Digest) -> str:
    p = digest.policies
    return f"**免申即享** 推送{p.pushed} · 确认{p.confirmed} · 兑现{p.delivered}"


def _listed(lines: list[str], total: int | None = None) -> str:
    """The first LISTED lines numbered, then 「……等N项」 when there are more (`total`: all there are)."""
    total = len(lines) if total is None else total
    shown = [f"{n}. {line}" for n, line in enumerate(lines[:LISTED], 1)]
    return "\n".join(shown) + (f"\n……等{total}项" if total > len(shown) else "")


def _clip(line: str) -> str:
    return line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…"


def _nbytes(text: str) -> int:
    return len(text.encode())


def _fit(text: str, limit: int) -> str:
    """Cut at a line boundary (every tag opens and closes on one line) to stay within `limit` bytes."""
    if _nbytes(text) <= limit:
        return text
    room = limit - _nbytes("\n" + CUT_NOTICE)
    kept: list[str] = []
    used = -1  # no line break before the first line
    for line in text.split("\n"):
        used += 1 + _nbytes(line)
        if used > room:
            break
        kept.append(line)
    while kept and not kept[-1]:
        kept.pop()  # the blank line between two sections
    return "\n".join([*kept, CUT_NOTICE])


def risk_card(digest: Digest, task_id: str, *, role: Role = Role.LEADER) -> TemplateCard | None:
    """One tap per pressing risk: a leader 督办s a late order and 批示s a red project; anyone 查看s one."""
    buttons: list[Button] = []
    viewed = digest.projects.yellow + digest.projects.unreported
    if role is Role.LEADER:
        for number, _, _, version, _ in digest.orders.late_orders[:2]:
            buttons.append(Button(f"督办 {number}", f"order:urge:{number}:{version}", style=3))
        for project in digest.projects.red[:2]:
            buttons.append(Button(f"批示 {project.code}", f"digest:instruct:{project.code}", style=1))
    else:  # 督办 and 批示 would refuse him: he looks at the red projects instead
        viewed = digest.projects.red + viewed
    codes = list(dict.fromkeys(p.code for p in viewed))  # a project once, however it is listed
    for code in codes[: max(0, MAX_BUTTONS - len(buttons))]:
        buttons.append(Button(f"查看 {code}", f"digest:project:{code}", style=2))
    if not buttons:
        return None
    return TemplateCard(
        card_type="button_interaction",
        task_id=task_id,
        title="需要您处理",
        desc=title(digest),
        buttons=tuple(buttons[:MAX_BUTTONS]),
        replace_text="已处理",
    )


def app_messages(digest: Digest, chart: str | None, task_id: str, *, role: Role = Role.LEADER) -> list[Reply]:
    """A 1:1 digest: the markdown (one or two messages), the chart (if one could be drawn), the card.

    `role` is the recipient's: only a leader's card has 督办 and 批示.
    """
    replies: list[Reply] = [Markdown(text) for text in markdown_messages(digest, APP_MARKDOWN_BYTES)]
    if chart:
        replies.append(Image(path=chart))
    card = risk_card(digest, task_id, role=role)
    return replies + ([card] if card else [])


def group_messages(digest: Digest, webhook_key: str, chart: str | None) -> list[Reply]:
    """The county digest in the leaders' group (markdown of at most 4096 bytes a message, then the chart)."""
    texts = markdown_messages(digest, GROUP_MARKDOWN_BYTES)
    replies: list[Reply] = [GroupText(webhook_key, text, markdown=True) for text in texts]
    return replies + ([GroupImage(webhook_key, chart)] if chart else [])
