"""WhatsApp message templates as Meta lists them, and what a campaign derives from them.

A campaign has no type setting of its own: the type follows from the template (MARKETING in a
standard format is promotional, UTILITY is informational, MARKETING in a product format is a
catalog campaign). The template's body placeholders ``{{1}}``, ``{{2}}``... are filled per
customer from the campaign's parameters, each a literal text or a customer field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.campaigns import CampaignType

APPROVED = "APPROVED"
# Product formats (Galantis' names; "CATALOG" is how our seed documents spell the whole catalog).
CATALOG_FORMATS = frozenset({"SINGLE_PRODUCT_MESSAGE", "MULTI_PRODUCT_MESSAGE", "WHOLE_CATALOG", "CATALOG"})
_BUTTON_FORMATS = {
    "CATALOG": "WHOLE_CATALOG",
    "MPM": "MULTI_PRODUCT_MESSAGE",
    "SPM": "SINGLE_PRODUCT_MESSAGE",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")
CUSTOMER_FIELDS = ("first_name", "last_name", "name")


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    status: str
    category: str
    components: list = field(default_factory=list, compare=False)
    rejected_reason: str | None = None

    @classmethod
    def from_meta(cls, item: dict) -> Template:
        return cls(
            name=str(item.get("name", "")),
            language=str(item.get("language", "")),
            status=str(item.get("status", "")).upper(),
            category=str(item.get("category", "")).upper(),
            components=list(item.get("components") or []),
            rejected_reason=item.get("rejected_reason"),
        )

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
        for component in self.components:
            if str(component.get("type", "")).upper() == "BODY":
                return list(dict.fromkeys(_PLACEHOLDER.findall(component.get("text") or "")))
        return []


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


def parameter_problems(parameters: object) -> list[str]:
    """What is wrong with a campaign's parameter list (empty when it is well formed).
    Each item is ``{"text": "..."}`` or ``{"field": "first_name", "fallback": "..."}``."""
    if not isinstance(parameters, list):
        return ["parameters must be a list"]
    problems = []
    for n, item in enumerate(parameters, start=1):
        where = f"parameters[{n - 1}] (fills {{{{{n}}}}})"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object")
        elif "text" in item:
            if not isinstance(item["text"], str) or not item["text"].strip() or set(item) != {"text"}:
                problems.append(f"{where}: text must be a non-empty string, alone")
        elif item.get("field") in CUSTOMER_FIELDS:
            fallback = item.get("fallback", "")
            if not isinstance(fallback, str) or set(item) - {"field", "fallback"}:
                problems.append(f"{where}: only field and a text fallback are allowed")
        else:
            problems.append(f"{where}: give a text, or a field among {', '.join(CUSTOMER_FIELDS)}")
    return problems


def placeholder_problem(template: Template, parameters: list) -> str | None:
    """A clear sentence when the campaign's parameters do not fit the template's body."""
    placeholders = template.body_placeholders
    if any(not p.isdigit() for p in placeholders):
        return f"The template '{template.name}' uses named parameters; the app fills numbered ones only."
    if len(placeholders) != len(parameters):
        return (
            f"The template '{template.name}' has {len(placeholders)} body parameter(s) but the "
            f"campaign fills {len(parameters)}."
        )
    return None


def render_parameters(parameters: list, first_name: str, last_name: str) -> list[str]:
    """The body parameter values for one customer. Meta refuses an empty parameter, so an
    empty customer field falls back to the campaign's fallback text, then to a neutral word."""
    values = {"first_name": first_name, "last_name": last_name, "name": f"{first_name} {last_name}".strip()}
    rendered = []
    for item in parameters:
        if "text" in item:
            rendered.append(item["text"])
        else:
            rendered.append(values[item["field"]].strip() or item.get("fallback", "").strip() or "there")
    return rendered


def body_components(values: list[str]) -> list[dict]:
    """The ``template.components`` of a send request for these body values."""
    if not values:
        return []
    return [{"type": "body", "parameters": [{"type": "text", "text": value} for value in values]}]
