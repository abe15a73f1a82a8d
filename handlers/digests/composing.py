"""A Digest as a leader reads it on a phone: what needs him first, then the figures, then the chart.

The app message is WeCom markdown (at most 4096 bytes; lists are cut with 「等N项」 rather than the
message); a card under it carries one tap for each of the most pressing risks: 督办 a late order,
批示 a red project, 查看 a project.
"""

from __future__ import annotations

from bot.clock import fmt_local
from bot.replies import Button, GroupImage, GroupText, Image, Markdown, Reply, TemplateCard
from handlers.complaints.figures import Rate
from handlers.digests.model import (
    RATE_NAMES,
    Digest,
    InspectionLine,
    PeriodKind,
    ProjectLine,
)

MARKDOWN_BYTES = 4000  # WeCom's limit is 4096; leave room for the cut marker
LISTED = 5  # items per list before 「等N项」
HIGHER_IS_BETTER = frozenset({"响应率", "解决率", "满意率"})
MAX_BUTTONS = 4


def title(digest: Digest) -> str:
    """「【日报】全县 · 11月23日」."""
    kind = {PeriodKind.DAY: "日报", PeriodKind.WEEK: "周报"}.get(digest.period.kind, "汇总")
    return f"【{kind}】{digest.scope.label} · {digest.period.label}"


def risks(digest: Digest) -> list[str]:
    """What needs the leader's action, most pressing first."""
    lines = [
        f"超时诉求 {n}（{dept}，{fmt_local(since)}起）" for n, _, dept, _, since in digest.orders.late_orders
    ]
    lines += [f"红色项目 {p.code} {p.name}（{p.department}）{p.note}" for p in digest.projects.red]
    lines += [f"督办卡逾期 {p.note}（{p.code} {p.name}）" for p in digest.projects.cards_overdue]
    lines += [f"督办卡待签发 {p.note}（{p.code} {p.name}）" for p in digest.projects.cards_draft]
    lines += [f"颜色不一致 {p.code} {p.name}：{p.note}" for p in digest.projects.disagreements]
    lines += [f"拦截检查 {i.number} {i.enterprise}（{i.department}）" for i in digest.inspections.blocked]
    return lines


def digest_markdown(digest: Digest) -> str:
    """The whole digest as WeCom markdown, cut to fit one message."""
    parts = [f"**{title(digest)}**", _risk_section(digest), _orders(digest), _projects(digest)]
    parts += [_inspections(digest), _policies(digest)]
    return _fit("\n\n".join(p for p in parts if p))


def _risk_section(digest: Digest) -> str:
    found = risks(digest)
    if not found:
        return '<font color="info">需要您处理：暂无</font>'
    return f'<font color="warning">**需要您处理（{len(found)}项）**</font>\n' + _listed(found)


def _orders(digest: Digest) -> str:
    o = digest.orders
    head = f"**诉求** 新增{o.new} · 在办{o.open} · 超时{o.late}"
    late = sorted((d for d in o.departments if d.late), key=lambda d: -d.late)
    if late:
        head += "\n超时：" + "、".join(f"{d.name}{d.late}件（最久 {d.oldest}）" for d in late[:LISTED])
    rates = "\n".join(
        f"> {name} {_rate_change(name, o.rates[name], o.rates_before[name])}" for name in RATE_NAMES
    )
    ranked = [(d.name, d.score) for d in o.departments if d.score is not None]
    board, each = "", min(3, len(ranked) // 2)  # the two lists never share a department
    if each:
        best = "、".join(f"{name}{score:.0%}" for name, score in ranked[:each])
        worst = "、".join(f"{name}{score:.0%}" for name, score in reversed(ranked[-each:]))
        board = f"\n红榜：{best}\n黑榜：{worst}"
    return f"{head}\n{rates}{board}"


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


def _listed(lines: list[str]) -> str:
    shown = [f"{n}. {line}" for n, line in enumerate(lines[:LISTED], 1)]
    return "\n".join(shown) + (f"\n……等{len(lines)}项" if len(lines) > LISTED else "")


def _fit(text: str) -> str:
    """Cut at a line boundary so the message stays within WeCom's markdown limit."""
    if len(text.encode()) <= MARKDOWN_BYTES:
        return text
    kept: list[str] = []
    for line in text.split("\n"):
        if len("\n".join([*kept, line, "……（已截断，发送「日报」「周报」查看）"]).encode()) > MARKDOWN_BYTES:
            break
        kept.append(line)
    return "\n".join([*kept, "……（已截断，发送「日报」「周报」查看）"])


def risk_card(digest: Digest, task_id: str) -> TemplateCard | None:
    """One tap per pressing risk: 督办 a late order, 批示 or 查看 a red project."""
    buttons: list[Button] = []
    for number, _, _, version, _ in digest.orders.late_orders[:2]:
        buttons.append(Button(f"督办 {number}", f"order:urge:{number}:{version}", style=3))
    for project in digest.projects.red[:2]:
        buttons.append(Button(f"批示 {project.code}", f"digest:instruct:{project.code}", style=1))
    for project in (digest.projects.yellow + digest.projects.unreported)[: MAX_BUTTONS - len(buttons)]:
        buttons.append(Button(f"查看 {project.code}", f"digest:project:{project.code}", style=2))
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


def app_messages(digest: Digest, chart: str | None, task_id: str) -> list[Reply]:
    """A leader's 1:1 digest: the markdown, the chart (if one could be drawn), the card of risks."""
    replies: list[Reply] = [Markdown(digest_markdown(digest))]
    if chart:
        replies.append(Image(path=chart))
    card = risk_card(digest, task_id)
    return replies + ([card] if card else [])


def group_messages(digest: Digest, webhook_key: str, chart: str | None) -> list[Reply]:
    """The county digest in the leaders' group (markdown cut to 4096 bytes, then the chart)."""
    replies: list[Reply] = [GroupText(webhook_key, digest_markdown(digest), markdown=True)]
    return replies + ([GroupImage(webhook_key, chart)] if chart else [])
