"""The H5 pages' routes: links checked, forms checked once, the chat's services called."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, make_response, render_template, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from bot.clock import as_utc, local
from bot.db import session_scope
from bot.errors import DomainError, Invalid
from bot.h5 import forms
from bot.h5.access import acting, person_for, refusal
from bot.models import Enterprise, Person
from bot.runtime import Runtime
from bot.weblinks import Link, LinkRefused, Purpose, WebLinks
from handlers.complaints import closing
from handlers.complaints.closing import order_to_rate
from handlers.complaints.filing import file_in_context, receipt
from handlers.complaints.flow import act
from handlers.complaints.models import MAX_TEXT, RATINGS, URGENCIES
from handlers.complaints.queries import bound_enterprises
from handlers.complaints.register import MAX_COMMENT
from handlers.complaints.rules import rules_from
from handlers.policies.attributes import ATTRIBUTES, questions
from handlers.policies.corrections import FieldErrors, correct, profile_rows
from handlers.policies.matching import Result, match

bp = Blueprint("h5", __name__, url_prefix="/h5", template_folder="templates", static_folder="static")
PHOTO_DIR = "h5-photos"  # under ZTC_VAR_DIR


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["ztc.runtime"]
    return runtime


def _links() -> WebLinks:
    rt = _runtime()
    return WebLinks.from_settings(rt.settings, rt.clock)


@bp.before_request
def _allow_photos() -> None:
    """Uploads need more than a callback's ZTC_MAX_BODY_BYTES: three photos and the text fields."""
    request.max_content_length = forms.MAX_PHOTOS * _runtime().settings.web_photo_bytes + 256 * 1024


@bp.after_request
def _private(response: Response) -> Response:
    """The link is a secret in the address: never cached, never sent on as a Referer, never framed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    )
    return response


@bp.errorhandler(LinkRefused)
def _refused(exc: LinkRefused) -> tuple[str, int]:
    """A link or form that must not be honoured: a page saying why, and nothing changed."""
    return render_template("h5/refused.html", message=exc.message), exc.status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> tuple[str, int]:
    """More than three photos' worth: refused before it is read."""
    mb = forms.MAX_PHOTOS * _runtime().settings.web_photo_bytes // (1024 * 1024)
    return render_template(
        "h5/refused.html", message=f"上传的内容太大了（合计不能超过约{mb}MB），请压缩照片后重试。"
    ), 413


def _link(purpose: Purpose) -> Link:
    """The link of this request (query on GET, hidden field on POST), verified for this page."""
    token = request.form.get("t") if request.method == "POST" else request.args.get("t")
    return _links().read(token or "", purpose)


def _page(template: str, link: Link, status: int = 200, **values: Any) -> Response:
    """A form page with a fresh form token, and the browser's CSRF cookie set if it had none."""
    links = _links()
    browser, new = forms.browser_value(request)
    csrf = forms.new_form(links, link, browser)
    token = request.values.get("t", "")
    response = make_response(render_template(template, t=token, csrf=csrf, **values), status)
    if new:
        age = int(links.max_age.total_seconds())
        forms.set_browser_cookie(response, browser, age, secure=request.is_secure)
    return response


def _posted(link: Link) -> str:
    """The posted form's nonce, checked (CSRF) and claimed (once only)."""
    rt = _runtime()
    links = _links()
    form = forms.check_form(links, link, request)
    forms.claim_once(rt.redis, rt.settings.queue_prefix, form.nonce, int(links.max_age.total_seconds()))
    return form.nonce


# ---------------------------------------------------------------- 提交诉求


@bp.get("/file")
def file_form() -> Response:
    """The filing form: the contact's enterprises, the county's categories, urgency, text, photos."""
    link = _link(Purpose.FILE)
    return _page("h5/file.html", link, **_filing_choices(link))


def _filing_choices(link: Link) -> dict[str, Any]:
    """What the form offers; refused at once if the person may not file (not bound to an enterprise)."""
    rt = _runtime()
    with session_scope(rt.session_factory) as session:
        person = person_for(session, link)
        firms = [(e.id, e.name) for e in bound_enterprises(session, person)]
        name = person.name
    if not firms:
        raise LinkRefused(
            "您还没有绑定企业，不能提交诉求。请先在企业微信发送「绑定 统一社会信用代码 姓名」。", 403
        )
    categories = rules_from(rt.settings).categories
    return {"name": name, "firms": firms, "categories": categories, "urgencies": URGENCIES,
            "max_text": MAX_TEXT, "max_photos": forms.MAX_PHOTOS}  # fmt: skip


@bp.post("/file")
def file_submit() -> Response:
    """File the order through the chat's filing service; the page shows its number."""
    link = _link(Purpose.FILE)
    nonce = _posted(link)
    photos = forms.read_photos(request.files.getlist("photos"), _runtime().settings.web_photo_bytes)
    paths = forms.store_photos(photos, _photo_folder(), nonce)
    try:
        number = _file(link, nonce, paths)
    except DomainError as exc:
        for path in paths:
            path.unlink(missing_ok=True)
        if isinstance(exc, Invalid):  # a fixable mistake: the form again, with what was typed
            return _page("h5/file.html", link, 400, error=exc.message, **_filing_choices(link))
        raise refusal(exc) from exc
    return make_response(render_template("h5/filed.html", number=number))


def _file(link: Link, nonce: str, paths: list[Path]) -> str:
    """One transaction: the order filed as from chat, the receipt sent to the contact's chat too."""
    rt = _runtime()
    form = request.form
    with acting(rt, link, nonce) as ctx:
        firm = _chosen_firm(ctx.session, form.get("firm", ""))
        kept = [{"file": str(p.relative_to(rt.settings.var_dir))} for p in paths]
        filed = file_in_context(
            ctx, form.get("category", ""), form.get("urgency", "普通"), form.get("text", ""), firm, kept
        )
        person = ctx.require_person()
        for index, reply in enumerate(receipt(filed.order, person, ctx.now)):
            ctx.outbox.add(person.wecom_userid, reply, key=f"h5:{nonce}:receipt:{index}")
        return filed.order.number


def _chosen_firm(session: Session, raw: str) -> Enterprise | None:
    """The enterprise picked in the form (the service checks the person is bound to it)."""
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise Invalid("请选择企业。")
    return session.get(Enterprise, int(raw))


def _photo_folder() -> Path:
    return _runtime().settings.var_dir / PHOTO_DIR


# ---------------------------------------------------------------- 评价（签单）


@bp.get("/signoff")
def signoff_form() -> Response:
    """The order's result and the three ratings; refused if this person may not rate it now."""
    link = _link(Purpose.SIGNOFF)
    return _page("h5/signoff.html", link, **_order_view(link))


def _order_view(link: Link) -> dict[str, Any]:
    """The order as the form shows it, checked exactly as the chat's 评价 checks it."""
    rt = _runtime()
    try:
        with session_scope(rt.session_factory) as session:
            order = order_to_rate(session, person_for(session, link), link.order or "", None)
            return {"number": order.number, "category": order.category, "description": order.description,
                    "department": order.holding_department.name, "result": order.result or "",
                    "ratings": RATINGS, "max_comment": MAX_COMMENT}  # fmt: skip
    except DomainError as exc:
        raise refusal(exc) from exc


@bp.post("/signoff")
def signoff_submit() -> Response:
    """Rate the order through the chat's 签单 service: 满意/基本满意 close it, 不满意 sends it back."""
    link = _link(Purpose.SIGNOFF)
    nonce = _posted(link)
    rating, comment = request.form.get("rating", ""), request.form.get("comment", "")
    try:
        with acting(_runtime(), link, nonce) as ctx:
            order = act(ctx, closing.rate, link.order or "", rating, comment=comment).order
            number, department = order.number, order.holding_department.name
    except DomainError as exc:
        if isinstance(exc, Invalid):
            return _page("h5/signoff.html", link, 400, error=exc.message, **_order_view(link))
        raise refusal(exc) from exc
    return make_response(
        render_template("h5/signed.html", number=number, rating=rating, department=department)
    )


# ---------------------------------------------------------------- 明白卡


@bp.get("/policies")
def policies() -> Response:
    """The full 明白卡, read-only: every policy in force with each condition's reasoning."""
    link = _link(Purpose.POLICIES)
    rt = _runtime()
    with session_scope(rt.session_factory) as session:
        bound = bound_enterprises(session, person_for(session, link))
        if not bound:
            raise LinkRefused("您还没有绑定企业。请先在企业微信发送「绑定 统一社会信用代码 姓名」。", 403)
        enterprise = bound[0]  # as the chat's 「政策」: the first; staff look up others by name
        day = local(as_utc(rt.clock.now())).date()
        cards = [_policy_view(r) for r in match(session, enterprise.id, day, everything=True)]
        name = enterprise.name
    return make_response(render_template("h5/policies.html", enterprise=name, cards=cards, day=day))


def _policy_view(result: Result) -> dict[str, Any]:
    p = result.policy
    head, *lines = result.explanation()
    return {"outcome": result.outcome.value, "label": result.outcome.label, "code": p.code, "title": p.title,
            "head": head, "lines": lines, "benefit": p.benefit, "amount": p.amount_wan, "mode": p.mode,
            "how_to": p.how_to, "deadline": p.deadline, "contact": p.contact, "link": p.link,
            "asks": questions(result.missing)}  # fmt: skip


# ---------------------------------------------------------------- 企业信息


@bp.get("/profile")
def profile_form() -> Response:
    """The contact's enterprise profile: each value with its source and date, each correctable."""
    link = _link(Purpose.PROFILE)
    return _page("h5/profile.html", link, **_profile_view(link))


def _profile_view(link: Link) -> dict[str, Any]:
    """The profile as 「企业信息」 shows it in chat, for the link's person's enterprise."""
    rt = _runtime()
    with session_scope(rt.session_factory) as session:
        enterprise = _own_enterprise(session, person_for(session, link))
        rows = profile_rows(session, enterprise, rt.clock.now())
        return {"enterprise": enterprise.name, "rows": rows, "errors": {}, "typed": {}}


def _own_enterprise(session: Session, person: Person) -> Enterprise:
    bound = bound_enterprises(session, person)
    if not bound:
        raise LinkRefused("您还没有绑定企业。请先在企业微信发送「绑定 统一社会信用代码 姓名」。", 403)
    return bound[0]  # as the chat's 「企业信息」: the first


@bp.post("/profile")
def profile_submit() -> Response:
    """Save the corrected values through the chat's own service (audited, re-matched); bad ones refused."""
    link = _link(Purpose.PROFILE)
    nonce = _posted(link)
    typed = {key: request.form.get(key, "") for key in ATTRIBUTES}
    try:
        with acting(_runtime(), link, nonce) as ctx:
            changed = correct(ctx, _own_enterprise(ctx.session, ctx.require_person()), typed)
    except FieldErrors as exc:  # nothing saved: the form again, as typed, each refusal by its field
        view = _profile_view(link) | {"errors": exc.errors, "typed": typed}
        error = f"有{len(exc.errors)}项填写有误，请按提示修改后重新保存（其他项目也未保存）。"
        return _page("h5/profile.html", link, 400, error=error, **view)
    except DomainError as exc:
        raise refusal(exc) from exc
    done = (
        f"已更新：{'、'.join(a.label for a in changed)}。政策匹配将按新信息重新计算，"
        "可在企业微信发送「政策」查看最新的明白卡。"
        if changed
        else "没有修改任何项目。"
    )
    return _page("h5/profile.html", link, done=done, **_profile_view(link))
