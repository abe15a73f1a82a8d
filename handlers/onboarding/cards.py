"""Card layouts for binding requests."""

from __future__ import annotations

from bot.clock import fmt_local
from bot.models import EnterpriseMember, Person
from bot.replies import Button, TemplateCard


def approval_card(member: EnterpriseMember, approver: Person) -> TemplateCard:
    """The card an approver gets: who asks to speak for which enterprise, with 同意 / 拒绝."""
    enterprise = member.enterprise
    return TemplateCard(
        card_type="button_interaction",
        task_id=f"bind-{member.id}-{approver.id}-{int(member.requested_at.timestamp())}",
        title="企业绑定申请",
        desc=f"编号 B{member.id}",
        fields=(
            ("企业", enterprise.name),
            ("信用代码", enterprise.uscc),
            ("申请人", f"{member.person.name}（{member.person.wecom_userid}）"),
            ("申请时间", fmt_local(member.requested_at)),
        ),
        buttons=(
            Button("同意", f"bind:ok:{member.id}", style=1),
            Button("拒绝", f"bind:no:{member.id}", style=3),
        ),
        replace_text="已处理",
    )
