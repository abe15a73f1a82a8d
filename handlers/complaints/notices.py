"""Who hears what after a transition: one message per person named by the service, once.

The service decides who must be told (Transition.notify); this module decides what each of them
reads. Officials get cards they can act on; the enterprise gets plain progress news.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.clock import fmt_local
from bot.models import Person, Role
from bot.outbox import OutboxWriter
from bot.replies import Image, Reply, TemplateCard, Text
from handlers.complaints.cards import dispatch_card, extension_card, returned_card, signoff_card, when
from handlers.complaints.models import Action, OrderEvent, WorkOrder
from handlers.complaints.register import Transition

Notice = Callable[[WorkOrder, OrderEvent, Person, datetime], list[Reply]]
SignoffLink = Callable[[Person, WorkOrder], str]  # the H5 sign-off page's link for this person and order


def announce(
    outbox: OutboxWriter, transition: Transition, now: datetime, signoff_link: SignoffLink | None = None
) -> None:
    """Queue the messages of a transition for everyone it names (idempotent per event and person)."""
    order, event = transition.order, transition.event
    notice = NOTICES.get(Action(event.action))
    if notice is None:
        return
    for person in transition.notify:
        for index, reply in enumerate(notice(order, event, person, now)):
            if signoff_link is not None and isinstance(reply, TemplateCard) and _asks_signoff(event, person):
                # Opening the card leads to the web page, where a comment is easier to write.
                reply = replace(reply, url=signoff_link(person, order))
            outbox.add(person.wecom_userid, reply, key=f"order:{order.id}:e{event.id}:{person.id}:{index}")


def _asks_signoff(event: OrderEvent, person: Person) -> bool:
    return event.action == Action.RESOLVE.value and _is_enterprise(person)


def _actor(event: OrderEvent) -> str:
    return event.actor.name if event.actor else "系统"


def _is_enterprise(person: Person) -> bool:
    return person.role_enum is Role.ENTERPRISE


def _with_photos(order: WorkOrder, card: Reply) -> list[Reply]:
    """The card, then the photos the enterprise sent with the order."""
    # Chat photos by media id (valid 3 days); web photos by their file, relative to ZTC_VAR_DIR,
    # uploaded by the outbox when the notice is sent (so a fresh media id each time).
    photos = [_photo(p) for p in order.photos]
    return [card, *(p for p in photos if p is not None)]


def _photo(photo: dict[str, str]) -> Image | None:
    if photo.get("media_id"):
        return Image(media_id=photo["media_id"])
    if photo.get("file"):
        return Image(path=photo["file"])
    return None


def _dispatched(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    return _with_photos(order, dispatch_card(order, person, now, heading="新诉求待接单"))


def _picked_up(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    return [
        Text(
            f"您的诉求 {order.number} 已由{order.holding_department.name}（{_actor(event)}）接单，"
            f"承诺于 {when(order.solve_due)} 前办结。"
        )
    ]


def _transferred(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    data = event.data
    if _is_enterprise(person):
        return [
            Text(
                f"您的诉求 {order.number} 已由{data.get('from_department')}"
                f"转至{data.get('to_department')}办理，办理时限不变。"
            )
        ]
    card = dispatch_card(order, person, now, heading=f"{data.get('from_department')}转办诉求待接单")
    return [*_with_photos(order, card), Text(f"诉求 {order.number} 转办理由：{data.get('reason', '')}")]


def _returned(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    reason = event.data.get("reason", "")
    note = event.data.get("note")
    return [returned_card(order, person, f"{reason}{'：' + note if note else ''}")]


def _return_decided(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    return _with_photos(order, dispatch_card(order, person, now, heading="协调后派单，请接单"))


def _extension_requested(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    return [extension_card(order, person, event.data.get("reason", ""))]


def _extension_decided(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    approved = Action(event.action) is Action.EXTEND_APPROVED
    until = event.data.get("until", "")
    until_text = fmt_local(datetime.fromisoformat(until)) if until else "—"
    if _is_enterprise(person):
        if not approved:
            return []  # a refused request changes nothing the enterprise was promised
        return [Text(f"您的诉求 {order.number} 经县领导批准延期，办结时限延至 {until_text}。")]
    verdict = "已批准" if approved else "未批准"
    return [Text(f"诉求 {order.number} 的延期申请（延至 {until_text}）{verdict}（{_actor(event)}）。")]


def _resolved(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    return [signoff_card(order, person)]


def _rated(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    comment = event.data.get("comment")
    return [
        Text(
            f"企业已评价诉求 {order.number}：{event.data.get('rating')}"
            f"{'，意见：' + comment if comment else ''}。诉求已销号。"
        )
    ]


def _reopened(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    card = dispatch_card(order, person, now, heading=f"企业不满意，诉求返工（第{order.rework_count}次）")
    return [*_with_photos(order, card)]


def _auto_closed(order: WorkOrder, event: OrderEvent, person: Person, now: datetime) -> list[Reply]:
    hours = event.data.get("after_hours", 0)
    if _is_enterprise(person):
        return [
            Text(
                f"您的诉求 {order.number} 办结后{hours:g}小时未评价，已自动销号。如仍有问题，请重新提交诉求。"
            )
        ]
    return [Text(f"诉求 {order.number} 企业未评价，已于办结{hours:g}小时后自动销号。")]


NOTICES: dict[Action, Notice] = {
    Action.DISPATCH: _dispatched,
    Action.PICKUP: _picked_up,
    Action.TRANSFER: _transferred,
    Action.RETURN: _returned,
    Action.RETURN_DECIDED: _return_decided,
    Action.EXTEND_REQUESTED: _extension_requested,
    Action.EXTEND_APPROVED: _extension_decided,
    Action.EXTEND_REJECTED: _extension_decided,
    Action.RESOLVE: _resolved,
    Action.RATE: _rated,
    Action.REOPEN: _reopened,
    Action.AUTO_CLOSE: _auto_closed,
}
