"""The message as a customer sees it: the template's text with one recipient's values filled in.

Built from the template's own components (as Meta listed them) and the campaign's components,
rendered for one recipient exactly as dispatch renders them (core/templates/render.py), so the
preview shows what would be sent: the header image or text, the body, the footer and the
buttons (a dynamic URL with its suffix).
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns.audience import recipients_query
from core.models import Campaign, Customer, Message
from core.templates.components import campaign_components
from core.templates.render import Recipient, send_components

_PLACEHOLDER = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")
TRACKED_EXAMPLE = "(tracked link)"


def preview(definition: list, components: list, recipient: Recipient) -> dict:
    """``{"header": {"kind", "text" | "link"} | None, "body", "footer", "buttons": [{"type",
    "text", "url"}]}`` for one recipient."""
    sent = {_key(c): c for c in send_components(components, recipient, lambda index, url: TRACKED_EXAMPLE)}
    parts = {str(c.get("type", "")).upper(): c for c in definition if isinstance(c, dict)}
    return {
        "header": _header(parts.get("HEADER"), sent.get("header")),
        "body": _fill((parts.get("BODY") or {}).get("text"), sent.get("body")),
        "footer": (parts.get("FOOTER") or {}).get("text"),
        "buttons": _buttons(parts.get("BUTTONS"), sent),
    }


def _key(component: dict) -> str:
    return f"button[{component['index']}]" if component["type"] == "button" else component["type"]


def _fill(text: object, component: dict | None) -> str:
    """The text with each placeholder replaced by its value (by position or by name); a
    placeholder without a value stays visible, so a gap shows."""
    if not isinstance(text, str):
        return ""
    parameters = (component or {}).get("parameters") or []
    by_name = {p.get("parameter_name"): p.get("text") for p in parameters if p.get("parameter_name")}
    by_position = {str(n): p.get("text") for n, p in enumerate(parameters, start=1)}

    def value(match: re.Match) -> str:
        name = match.group(1)
        found = by_name.get(name) if by_name else by_position.get(name)
        return found if isinstance(found, str) else match.group(0)

    return _PLACEHOLDER.sub(value, text)


def _header(definition: dict | None, component: dict | None) -> dict | None:
    if definition is None:
        return None
    kind = str(definition.get("format") or "TEXT").lower()
    if kind == "text":
        return {"kind": "text", "text": _fill(definition.get("text"), component)}
    parameter = ((component or {}).get("parameters") or [{}])[0]
    return {"kind": kind, "link": (parameter.get(kind) or {}).get("link")}


def _buttons(definition: dict | None, sent: dict) -> list[dict]:
    buttons = []
    for index, button in enumerate((definition or {}).get("buttons") or []):
        kind = str(button.get("type", "")).upper()
        label = button.get("text") or {
            "CATALOG": "View catalog",
            "MPM": "View items",
            "COPY_CODE": "Copy code",
        }.get(kind, "")
        item = {"type": kind, "text": label, "url": None}
        if kind == "URL":
            item["url"] = _fill(button.get("url"), sent.get(f"button[{index}]"))
        buttons.append(item)
    return buttons


def first_recipient(session: Session, campaign: Campaign) -> Recipient:
    """The customer of the campaign's first message, or (before launch) the first recipient of
    its audience; a blank recipient (fallbacks show) when there is none."""
    first = session.scalar(
        select(Customer)
        .join(Message, (Message.shop_id == Customer.shop_id) & (Message.customer_id == Customer.id))
        .where(Message.shop_id == campaign.shop_id, Message.campaign_id == campaign.id)
        .order_by(Message.id)
        .limit(1)
    )
    if first is None:
        return audience_first_recipient(session, campaign.shop_id, campaign.audience or {})
    return Recipient(first.first_name or "", first.last_name or "")


def audience_first_recipient(session: Session, shop_id: int, rule: dict) -> Recipient:
    """The first recipient an audience rule would reach (blank when nobody matches)."""
    first = session.scalar(recipients_query(shop_id, rule).limit(1))
    return Recipient(first.first_name or "", first.last_name or "") if first else Recipient()


def campaign_preview(session: Session, campaign: Campaign) -> dict | None:
    """The campaign's message as its first recipient sees it; None for a campaign made before
    templates were kept with it."""
    if not campaign.template_definition:
        return None
    components = campaign_components(campaign.template_components, campaign.template_parameters)
    return preview(campaign.template_definition, components, first_recipient(session, campaign))
