"""WhatsApp message templates as Meta lists them, and what a campaign derives from them.

A campaign has no type setting of its own: the type follows from the template (MARKETING in a
standard format is promotional, UTILITY is informational, MARKETING in a product format is a
catalog campaign). What fills the template's placeholders is the campaign's components
(core/templates/components.py), checked against the template by core/templates/fit.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.rules.campaign_states import CampaignType

APPROVED = "APPROVED"
# Product formats (Galantis' names; "CATALOG" is how our seed documents spell the whole catalog).
CATALOG_FORMATS = frozenset({"SINGLE_PRODUCT_MESSAGE", "MULTI_PRODUCT_MESSAGE", "WHOLE_CATALOG", "CATALOG"})
_BUTTON_FORMATS = {
    "CATALOG": "WHOLE_CATALOG",
    "MPM": "MULTI_PRODUCT_MESSAGE",
    "SPM": "SINGLE_PRODUCT_MESSAGE",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    status: str
    category: str
    components: list = field(default_factory=list, compare=False)
    rejected_reason: str | None = None
    parameter_format: str = "POSITIONAL"  # or "NAMED": {{first_name}} instead of {{1}}

    @classmethod
    def from_meta(cls, item: dict) -> Template:
        return cls(
            name=str(item.get("name", "")),
            language=str(item.get("language", "")),
            status=str(item.get("status", "")).upper(),
            category=str(item.get("category", "")).upper(),
            components=list(item.get("components") or []),
            rejected_reason=item.get("rejected_reason"),
            parameter_format=str(item.get("parameter_format") or "POSITIONAL").upper(),
        )

    def component(self, kind: str) -> dict | None:
        """The template's component of this type (``HEADER``, ``BODY``, ``BUTTONS``), if any."""
        for component in self.components:
            if str(component.get("type", "")).upper() == kind:
                return component
        return None

    @property
    def header_format(self) -> str | None:
        """TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION or PRODUCT; None without a header."""
        header = self.component("HEADER")
        return str(header.get("format") or "TEXT").upper() if header else None

    @property
    def header_placeholders(self) -> list[str]:
        header = self.component("HEADER")
        return placeholders_of(header.get("text")) if self.header_format == "TEXT" else []

    @property
    def buttons(self) -> list[dict]:
        """The template's buttons, in order: a send addresses each by its position."""
        buttons = (self.component("BUTTONS") or {}).get("buttons")
        return [b for b in buttons if isinstance(b, dict)] if isinstance(buttons, list) else []

    @property
    def format(self) -> str | None:
        """The product format, or None for a standard (text, media, card) template."""
        for component in self.components:
            kind = str(component.get("type", "")).upper()
            if kind == "HEADER" and str(component.get("format", "")).upper() == "PRODUCT":
                return "SINGLE_PRODUCT_MESSAGE"
            if kind == "BUTTONS":
                for button in component.get("buttons") or []:
                    found = _BUTTON_FORMATS.get(str(button.get("type", "")).upper())
                    if found:
                        return found
        return None

    @property
    def body_placeholders(self) -> list[str]:
        """The distinct placeholders of the body, in order of first appearance."""
        return placeholders_of((self.component("BODY") or {}).get("text"))


def placeholders_of(text: object) -> list[str]:
    """The distinct placeholders of a template text, in order of first appearance."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(text if isinstance(text, str) else "")))


def derive_type(category: str, template_format: str | None) -> CampaignType | None:
    """The campaign type a template implies; None when the template cannot run a campaign
    (authentication templates are one-time codes, not broadcasts)."""
    category = category.upper()
    if category == "MARKETING":
        if template_format and template_format.upper() in CATALOG_FORMATS:
            return CampaignType.CATALOG
        return CampaignType.PROMOTIONAL
    if category == "UTILITY":
        return CampaignType.INFORMATIONAL
    return None
