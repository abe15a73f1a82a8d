"""Digests on demand: 日报, 周报, 排名; and the digest card's buttons (批示 / 查看 a project)."""

from __future__ import annotations

import hashlib
from datetime import date

from bot.clock import as_utc, local
from bot.errors import Invalid, NotAllowed
from bot.models import Role
from bot.replies import Reply, Text
from bot.routing import Context, HandlerResult, Router
from handlers.digests.composing import app_messages, places
from handlers.digests.delivery import chart_file, make_digest, scope_for
from handlers.digests.figures import compute
from handlers.digests.model import Period, Scope, month_period, quarter_period, week_period
from handlers.digests.timing import daily_period
from handlers.projects.chat import detail_text, project_detail
from handlers.projects.models import Project
from handlers.projects.registry import find_project
from handlers.projects.rules import rules_from
from handlers.projects.supervision_chat import instruct

router = Router("digests")

STAFF = (Role.OFFICIAL, Role.LEADER, Role.ADMIN)
INSTRUCT_STEP = "digest.instruct"
RANKING_WORDS = ("本月", "上月", "本季", "上季")


def _today(ctx: Context) -> date:
    return local(as_utc(ctx.now)).date()


def _scope(ctx: Context) -> Scope:
    scope = scope_for(ctx.session, ctx.require_person(), ctx.services["settings"])
    if scope is None:
        raise NotAllowed("日报、周报和排名仅限政府工作人员查看。")
    return scope


def _digest_replies(ctx: Context, period: Period) -> list[Reply]:
    """The digest of the asker's scope for `period`, as the scheduled push would send it."""
    settings = ctx.services["settings"]
    digest = make_digest(ctx.session, _scope(ctx), period, ctx.now, settings)
    role = ctx.require_person().role_enum
    return app_messages(digest, chart_file(digest, settings), _task_id(ctx), role=role)


def _task_id(ctx: Context) -> str:
    """The card's task_id, unique per message asking: a hash of the message's dedup key.

    Not the msg id itself: WeCom's are base64 (「CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw==」) and a task_id
    may hold only [0-9A-Za-z_-@].
    """
    hashed = hashlib.sha1(ctx.inbound.dedup_key.encode()).hexdigest()[:24]  # noqa: S324 - a name, not security
    return f"digest-ask-{hashed}"


@router.command("日报", roles=STAFF, slow=True)
def daily(ctx: Context, args: str) -> HandlerResult:
    """今天的日报（上一个工作日以来）：诉求、重点项目、入企检查、免申即享，需要您处理的排在最前"""
    return _digest_replies(ctx, daily_period(_today(ctx)))


@router.command("周报", roles=STAFF, slow=True)
def weekly(ctx: Context, args: str) -> HandlerResult:
    """上周的周报（发送「周报 本周」看本周至今）"""
    this_week = week_period(_today(ctx))
    return _digest_replies(ctx, this_week if args.strip() == "本周" else this_week.previous())


@router.command("排名", "红黑榜", roles=STAFF, slow=True, usage="排名 [本月|上月|本季|上季]")
def ranking(ctx: Context, args: str) -> HandlerResult:
    """各部门诉求办理排名（红黑榜）：响应率、解决率、满意率，默认本月"""
    period = _ranking_period(args.strip() or "本月", _today(ctx))
    settings = ctx.services["settings"]
    digest = compute(ctx.session, _scope(ctx), period, now=ctx.now, rules=rules_from(settings))
    ranked = digest.orders.departments
    if not ranked:
        return Text(f"{period.label}{digest.scope.label}没有诉求办理记录。")
    lines = [f"诉求办理排名 · {digest.scope.label} · {period.label}（综合=响应率、解决率、满意率的平均）"]
    for place, dept in zip(places([d.score for d in ranked]), ranked, strict=True):  # ties share a place
        rates = " ".join(f"{name}{dept.rates[name].percent}" for name in ("响应率", "解决率", "满意率"))
        score = "—" if dept.score is None else f"{dept.score:.0%}"
        lines.append(f"{place}. {dept.name} 综合{score}｜{rates}｜超时{dept.late}")
    return Text("\n".join(lines))


def _ranking_period(word: str, today: date) -> Period:
    """本月, 上月, 本季, 上季 → the period; anything else is named."""
    if word == "本月":
        return month_period(today)
    if word == "上月":
        return month_period(today).previous()
    if word == "本季":
        return quarter_period(today)
    if word == "上季":
        return quarter_period(today).previous()
    raise Invalid(f"「{word}」不是排名的期间，请写：{'、'.join(RANKING_WORDS)}。")


# ---- the digest card's buttons --------------------------------------------------------------


@router.card_action("digest:project:", roles=STAFF)
def view_project(ctx: Context, key: str) -> HandlerResult:
    """查看 on the digest card: the project's detail, to whoever's digest covers it (else as 「项目」)."""
    scope = scope_for(ctx.session, ctx.require_person(), ctx.services["settings"])
    project = find_project(ctx.session, key)
    if scope is not None and _covers(scope, project):
        return Text(detail_text(ctx, project))
    return project_detail(ctx, key)  # visible to him otherwise (his task force), or refused


def _covers(scope: Scope, project: Project) -> bool:
    """Whether a digest of `scope` lists the project: any in the county's; its departments' and projects."""
    if scope.county:
        return True
    if scope.department_ids is not None and project.department_id in scope.department_ids:
        return True
    return scope.project_ids is not None and project.id in scope.project_ids


@router.card_action("digest:instruct:", roles=(Role.LEADER,))
def instruct_project(ctx: Context, key: str) -> HandlerResult:
    """批示 on the digest card: asks what to instruct and by when, then issues a 批示卡 to its department."""
    project = find_project(ctx.session, key)
    ctx.conversation.goto(INSTRUCT_STEP, project=project.code, department=project.department.code)
    return Text(
        f"对 {project.code} {project.name} 作出批示，交{project.department.name}办理。\n"
        "请回复批示内容和期限，如「协调解决用地指标，12月5日前报结果 12月5日」（发送「取消」退出）"
    )


@router.state(INSTRUCT_STEP)
def instruct_step(ctx: Context, text: str) -> HandlerResult:
    """The 批示's words and deadline: a 批示卡 linked to the project, as 「交办」 would make it."""
    data = ctx.conversation.data
    result = instruct(ctx, f"{data['department']} {data['project']} {text.strip()}")
    ctx.conversation.end()
    return result
