"""重点项目 in chat: 进展 (one line, step by step, or from the prompt card), 月汇报, 我的项目, 项目."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.clock import as_utc, local
from bot.errors import Conflict, Invalid, NotAllowed
from bot.models import Person, Role
from bot.replies import Reply, Text
from bot.routing import Context, HandlerResult, Router, as_list
from handlers.complaints.flow import clicked
from handlers.complaints.parsing import pick, split_first
from handlers.projects import reports
from handlers.projects.cycle import cycle_of, monday_of, month_of_week
from handlers.projects.models import COLOUR_MEANINGS, TRACKED_STAGES, Colour, Project
from handlers.projects.parsing import (
    COLOUR_HELP,
    format_wan,
    is_nothing,
    labelled_parts,
    parse_amount,
    parse_colour,
    parse_report_line,
)
from handlers.projects.registry import (
    find_project,
    project_leaders,
    projects_of,
    require_reporter,
    visible_projects,
)
from handlers.projects.rules import ProjectRules, rules_from

router = Router("projects")

STAFF = (Role.OFFICIAL, Role.LEADER, Role.ADMIN)
REPORT_USAGE = "进展 <项目> <颜色> 完成投资<金额> 形象进度:<内容> 问题:<内容>"
REPORT_EXAMPLE = "进展 XM001 黄 完成投资1200万 形象进度:主体封顶 问题:用地手续未办结"
MONTHLY_USAGE = "月汇报 <项目> 完成投资:<金额> 形象进度:<内容> 资金到位:<金额> 前期工作:… 问题:… 措施:…"
PICK_STEP = "proj.pick"
REPORT_STEP = "proj.report"
QUESTIONS = {
    "colour": f"请回复本周进度颜色：{COLOUR_HELP}",
    "invested": "本周完成投资多少？如 300万、1.2亿（不写单位按万元）；没有请回复 0",
    "progress": "形象进度是什么？（如：主体结构封顶、完成桩基60%）",
    "problems": "存在问题和需协调事项？没有请回复「无」",
}
ORDER = ("colour", "invested", "progress", "problems")


def _rules(ctx: Context) -> ProjectRules:
    return rules_from(ctx.services["settings"])


# ---- 进展 -----------------------------------------------------------------------------------


@router.command("进展", "报进展", "项目进展", roles=(Role.OFFICIAL,), usage=REPORT_USAGE)
def report(ctx: Context, args: str) -> HandlerResult:
    """报送重点项目本周进展（如「进展 XM001 黄 完成投资1200万 形象进度:主体封顶」），只发「进展」则逐项询问"""
    person = ctx.require_person()
    if not args.strip():
        return _choose_project(ctx, person)
    line = parse_report_line(args)
    project = find_project(ctx.session, line.project)
    require_reporter(project, person)
    answers: dict[str, Any] = {"problems": line.problems, "help": line.help_needed, "progress": line.progress}
    if line.colour:
        answers["colour"] = line.colour.value
    if line.invested_yuan is not None:
        answers["invested"] = line.invested_yuan
    if line.colour and line.invested_yuan is not None and line.progress:
        return _record(ctx, project, answers)  # a complete line: problems are optional
    if not line.problems_given:
        del answers["problems"]  # step by step, ask for them too (「问题:无」 counts as an answer)
    if not line.progress:
        del answers["progress"]
    return _ask_next(ctx, project, answers)


def _choose_project(ctx: Context, person: Person) -> HandlerResult:
    """「进展」 alone: the one project, or a numbered list (unreported first)."""
    mine = projects_of(ctx.session, person)
    if not mine:
        raise NotAllowed("您不在任何重点项目专班，无需报送进展。如有误请联系管理员。")
    if len(mine) == 1:
        return _ask_next(ctx, mine[0], {})
    week = monday_of(_today(ctx))
    missing = reports.missing_weekly(ctx.session, mine, week)
    ordered = missing + [p for p in mine if p not in missing]
    ctx.conversation.goto(PICK_STEP, codes=[p.code for p in ordered])
    listed = "\n".join(
        f"{i}. {p.code} {p.name}{'（本周未报）' if p in missing else ''}" for i, p in enumerate(ordered, 1)
    )
    return Text(f"报送哪个项目的进展？请回复序号：\n{listed}")


@router.state(PICK_STEP)
def pick_step(ctx: Context, text: str) -> HandlerResult:
    """Which of his projects the official is reporting."""
    codes = tuple(ctx.conversation.data["codes"])
    code = pick(text, codes, "项目")
    ctx.conversation.end()
    return _ask_next(ctx, find_project(ctx.session, code), {})


def _ask_next(ctx: Context, project: Project, answers: dict[str, Any]) -> HandlerResult:
    """Ask for the first part still missing, or record when all are in."""
    missing = [f for f in ORDER if f not in answers]
    if not missing:
        ctx.conversation.end()
        return _record(ctx, project, answers)
    ctx.conversation.goto(REPORT_STEP, project=project.code, answers=answers, asking=missing[0])
    return Text(f"{project.code} {project.name}\n{QUESTIONS[missing[0]]}\n（发送「取消」可退出）")


@router.state(REPORT_STEP)
def report_step(ctx: Context, text: str) -> HandlerResult:
    """One answer of the step-by-step report."""
    data = ctx.conversation.data
    answers = dict(data["answers"])
    answers[data["asking"]] = _read_answer(data["asking"], text)
    return _ask_next(ctx, find_project(ctx.session, data["project"]), answers)


def _read_answer(field: str, text: str) -> Any:
    """Check one typed answer; a wrong one is named and asked again."""
    value = text.strip()
    if field == "colour":
        return parse_colour(value).value
    if field == "invested":
        return parse_amount(value)
    if not value:
        raise Invalid(QUESTIONS[field])
    return "" if field == "problems" and is_nothing(value) else value


def _record(ctx: Context, project: Project, answers: dict[str, Any]) -> list[Reply]:
    """Store the report; answer with what was recorded and what the numbers say."""
    person = ctx.require_person()
    entry = reports.WeeklyEntry(
        colour=Colour(answers["colour"]),
        invested_yuan=int(answers["invested"]),
        progress=answers["progress"],
        problems=answers.get("problems", ""),
        help_needed=answers.get("help", ""),
    )
    week = date.fromisoformat(answers["week"]) if answers.get("week") else None  # a prompt card's
    done = reports.record_weekly(
        ctx.session, project, person, entry, now=ctx.now, rules=_rules(ctx),
        channel=ctx.inbound.channel.value, week=week,
    )  # fmt: skip
    if done.disagrees:
        _tell_leaders_of_disagreement(ctx, project, done)
    return [Text(_recorded_text(ctx, project, done))]


def _recorded_text(ctx: Context, project: Project, done: reports.Recorded) -> str:
    r = done.report
    year_total = reports.year_to_date(ctx.session, project, month_of_week(r.week).year)
    lines = [
        f"✅ 已记录 {project.code} {project.name} {done.cycle.label}进展"
        + ("（补报）" if r.week != monday_of(_today(ctx)) and done.late else ""),
        f"颜色：{colour_text(r.colour_enum)}｜本周完成投资：{format_wan(r.invested_yuan)}｜年度累计：{format_wan(year_total)}",
        f"形象进度：{r.progress}",
    ]
    lines += [f"存在问题：{r.problems}"] if r.problems else []
    lines += [f"需协调：{r.help_needed}"] if r.help_needed else []
    if done.objective:
        lines.append(f"按数据测算：{colour_text(done.objective.colour)}，{done.objective.reason}")
    if done.disagrees:
        lines.append("⚠️ 报送颜色好于测算颜色，已同时报包抓县领导。")
    if done.replaced:
        lines.append(f"（已替换本周 {_hhmm(done.replaced.reported_at)} 的报送，原记录保留。）")
    return "\n".join(lines)


def _tell_leaders_of_disagreement(ctx: Context, project: Project, done: reports.Recorded) -> None:
    r, objective = done.report, done.objective
    assert objective is not None  # disagrees implies a computed colour
    text = Text(
        f"【颜色不一致】{project.code} {project.name}（{project.department.name}）{done.cycle.label}"
        f"报送为{colour_text(r.colour_enum)}，按数据测算为{colour_text(objective.colour)}：{objective.reason}。"
        f"报送人：{r.reporter.name if r.reporter else '—'}。"
    )
    for leader in project_leaders(ctx.session, project):
        ctx.notify(leader, text, key=f"proj:disagree:{r.id}:{leader.id}")


def colour_text(colour: Colour) -> str:
    """「黄（滞后）」."""
    return f"{colour.label}（{COLOUR_MEANINGS[colour]}）"


def _hhmm(at: Any) -> str:
    moment = local(as_utc(at))
    return f"{moment.month}月{moment.day}日 {moment:%H:%M}"


def _today(ctx: Context) -> date:
    return local(as_utc(ctx.now)).date()


# ---- the weekly prompt card's colour buttons ----------------------------------------------


@router.card_action("proj:colour:", roles=(Role.OFFICIAL,))
def colour_by_card(ctx: Context, key: str) -> HandlerResult:
    """A colour tapped on the weekly prompt card: the rest is asked step by step."""
    return clicked(ctx, "已选择", lambda: as_list(_start_from_card(ctx, key)))


def _start_from_card(ctx: Context, key: str) -> HandlerResult:
    """Check the card's week (`<code>:<week>:<colour>`) is still open for reporting, then ask for the rest."""
    try:
        code, week_text, colour_value = key.split(":")
        week, colour = date.fromisoformat(week_text), Colour(colour_value)
    except ValueError as exc:  # an odd key is a card we no longer understand
        raise Conflict("这张卡片已失效，请发送「进展」重新报送。") from exc
    project = find_project(ctx.session, code)
    require_reporter(project, ctx.require_person())
    if week not in reports.open_weeks(project, ctx.now, _rules(ctx)):
        label = cycle_of(week, _rules(ctx)).label
        raise Conflict(f"这张卡片是{label}的，已过期；请发送「进展 {code}」报送本周进展。")
    return _ask_next(ctx, project, {"colour": colour.value, "week": week.isoformat()})


# ---- 月汇报 ---------------------------------------------------------------------------------

MONTHLY_LABELS = {
    "invested": ("完成投资", "本月完成投资", "投资"),
    "progress": ("形象进度", "进度"),
    "funds": ("资金到位", "到位资金"),
    "preliminary": ("前期工作", "前期"),
    "problems": ("存在问题", "问题"),
    "measures": ("措施", "下步措施", "解决措施"),
}


@router.command("月汇报", "月报送", roles=(Role.OFFICIAL,), usage=MONTHLY_USAGE)
def monthly(ctx: Context, args: str) -> HandlerResult:
    """报送重点项目月汇报（每月20日前），如「月汇报 XM001 完成投资:3000万 形象进度:主体封顶」"""
    token, rest = split_first(args)
    if not token:
        return Text(f"用法：{MONTHLY_USAGE}\n每月{_rules(ctx).monthly_due_day}日前报送当月情况。")
    project = find_project(ctx.session, token)
    parts = _labelled(rest, MONTHLY_LABELS)
    missing = [
        name for name, key in (("完成投资", "invested"), ("形象进度", "progress")) if not parts.get(key)
    ]
    if missing:
        raise Invalid(f"月汇报缺少「{'」「'.join(missing)}」。用法：{MONTHLY_USAGE}")
    entry = reports.MonthlyEntry(
        invested_yuan=parse_amount(parts["invested"]),
        progress=parts["progress"],
        preliminary=parts.get("preliminary", ""),
        funds_in_place_yuan=parse_amount(parts["funds"]) if parts.get("funds") else 0,
        problems=parts.get("problems", ""),
        measures=parts.get("measures", ""),
    )
    report_row, replaced = reports.record_monthly(
        ctx.session, project, ctx.require_person(), entry, now=ctx.now, channel=ctx.inbound.channel.value
    )
    due = _rules(ctx).monthly_due_day
    late = _today(ctx).day > due
    return Text(
        f"✅ 已记录 {project.code} {project.name} {report_row.month.month}月汇报"
        f"{f'（已过{due}日，记为逾期报送）' if late else ''}\n"
        f"本月完成投资：{format_wan(entry.invested_yuan)}｜资金到位：{format_wan(entry.funds_in_place_yuan)}\n"
        f"形象进度：{entry.progress}"
        + (f"\n（已替换本月 {_hhmm(replaced.reported_at)} 的报送，原记录保留。）" if replaced else "")
    )


def _labelled(text: str, labels: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """「完成投资:3000万 形象进度:主体封顶」 → {"invested": "3000万", "progress": "主体封顶"}.

    A label needs its 「:」 and counts only at the start or after a space: 「问题:进度滞后」 is one part.
    """
    head, found = labelled_parts(text, labels, colon_needed=True)
    if head.strip():
        raise Invalid(f"没有看懂「{head.strip()}」，每一项请写成「名称:内容」。")
    parts: dict[str, str] = {}
    for part in found:
        if part.field in parts:
            raise Invalid(f"「{part.word}」写了两次，请只写一次。")
        parts[part.field] = part.value
    return parts


# ---- looking at projects --------------------------------------------------------------------


@router.command("我的项目", "项目列表", roles=STAFF)
def my_projects(ctx: Context, args: str) -> HandlerResult:
    """列出您负责或包抓的重点项目及本周进展是否已报"""
    person = ctx.require_person()
    mine = visible_projects(ctx.session, person)
    if not mine:
        return Text("您名下没有重点项目。")
    week = monday_of(_today(ctx))
    lines = [f"重点项目（{len(mine)}个）· {cycle_of(week, _rules(ctx)).label}："]
    lines += [_project_line(ctx, p, week) for p in mine[:30]]
    lines += [f"……另有{len(mine) - 30}个，请发送「台账」导出全部"] if len(mine) > 30 else []
    lines.append("查看详情：项目 <编号>；报送进展：进展 <编号>")
    return Text("\n".join(lines))


def _project_line(ctx: Context, project: Project, week: date) -> str:
    current = reports.current_weekly(ctx.session, project, week)
    if current is not None:
        status = colour_text(current.colour_enum)
    else:
        status = "本周未报" if project.stage_enum in TRACKED_STAGES else "无需周报"
    return f"· {project.code} {project.name}【{project.stage_enum.label}】{status}"


@router.command("项目", "项目详情", roles=STAFF, usage="项目 <编号>，或 项目 红 / 项目 黄")
def project_detail(ctx: Context, args: str) -> HandlerResult:
    """查看一个重点项目（「项目 XM001」），或列出本周报红/黄的项目（「项目 红」）"""
    person = ctx.require_person()
    token = args.strip()
    if not token:
        return my_projects(ctx, "")
    colour = _colour_word(token)
    if colour is not None:
        return _by_colour(ctx, person, colour)
    project = find_project(ctx.session, token)
    if project not in visible_projects(ctx.session, person):
        raise NotAllowed(f"项目 {project.code} 不在您负责或包抓的范围内。")
    return Text(detail_text(ctx, project))


def _colour_word(token: str) -> Colour | None:
    try:
        return parse_colour(token) if len(token) <= 6 else None
    except Invalid:
        return None


def _by_colour(ctx: Context, person: Person, colour: Colour) -> Text:
    """The visible projects whose latest report in force has this colour."""
    week = monday_of(_today(ctx))
    listed = []
    for project in visible_projects(ctx.session, person):
        latest = reports.current_weekly(ctx.session, project, week) or next(
            iter(reports.recent_weekly(ctx.session, project, week, 1)), None
        )
        if latest is not None and latest.colour_enum is colour:
            listed.append(
                f"· {project.code} {project.name}（{project.department.name}）{latest.problems or ''}"
            )
    if not listed:
        return Text(f"您范围内没有最近报{colour_text(colour)}的项目。")
    return Text(f"最近报{colour_text(colour)}的项目（{len(listed)}个）：\n" + "\n".join(listed))


def detail_text(ctx: Context, project: Project) -> str:
    """A project at a glance: who, the plan and what is done, the next nodes, the last six weeks."""
    week = monday_of(_today(ctx))
    history = reports.recent_weekly(ctx.session, project, week + timedelta(days=7), 6)
    leads = "、".join(p.name for p in project.leads) or "—"
    lines = [
        f"{project.code} {project.name}【{project.stage_enum.label}】",
        f"责任单位：{project.department.name}｜包抓县领导：{project.leader.name if project.leader else '—'}",
        f"责任人：{leads}｜业主：{project.enterprise.name if project.enterprise else '—'}",
        f"总投资：{format_wan(project.total_investment_yuan)}｜{project.plan_year}年计划：{format_wan(project.annual_plan_yuan)}"
        f"｜已完成：{format_wan(reports.year_to_date(ctx.session, project, project.plan_year))}",
    ]
    upcoming = [m for m in project.milestones if m.month >= _today(ctx).replace(day=1)][:3]
    lines += [f"节点：{m.month.year}年{m.month.month}月 {m.task}" for m in upcoming]
    lines += ["近期进展："] if history else ["近期进展：暂无报送"]
    lines += [
        f"  {cycle_of(r.week, _rules(ctx)).label} {colour_text(r.colour_enum)} {r.progress}" for r in history
    ]
    return "\n".join(lines)
