"""A draft's A/B variants, as the composer and the API give them: 2 to 4, each an approved
template of Meta's with its own components and a whole-percent share of the audience, the
shares and the holdout adding up to 100 (core/experiments/ splits the audience by them).

Variants compete on one metric, so they must be alike in what they cost and who may get
them: one template category for all. The first variant's template is the campaign's own (its
type, category and the launch checks that look at one template follow it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.campaigns.launch import TemplateNotFound, find_template
from core.models import Shop
from core.templates.components import normalise_components
from core.templates.definition import Template, derive_type
from core.templates.fit import fit_problems

MIN_VARIANTS, MAX_VARIANTS = 2, 4
DEFAULT_METRIC = "read_rate"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class VariantTemplate(_Strict):
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=16)


class VariantSendTime(_Strict):
    mode: Literal["now", "per_customer"]


class VariantIn(_Strict):
    name: str = Field(min_length=1, max_length=100)
    template: VariantTemplate
    components: list = []
    share: int = Field(ge=1, le=99, strict=True)  # whole percent of the audience
    # Overrides the campaign's send time for this variant: a fixed time against each
    # customer's own hour is an A/B test of its own.
    send_time: VariantSendTime | None = None


class Experiment(_Strict):
    metric: Literal["read_rate", "click_rate", "orders_per_recipient", "revenue_per_recipient"]


@dataclass(frozen=True)
class DraftVariants:
    """The checked variants as stored (``campaigns.variants``), and the first one's template
    and components, which are the campaign's own."""

    stored: list[dict]
    template: Template
    components: list[dict]


def draft_variants(
    shop: Shop, variants: list[VariantIn], holdout_share: int
) -> tuple[DraftVariants | None, list[dict]]:
    """Check each variant with Meta (approved template, fitting components) and the set as a
    whole; answer the variants to store, or the problems, each naming its field. Asks Meta:
    call it with no transaction open."""
    problems = _set_problems(variants, holdout_share)
    stored, first = [], None
    for index, variant in enumerate(variants):
        field = f"variants[{index}]"
        components, shape = normalise_components(variant.components)
        problems += [{**p, "field": f"{field}.{p['field']}"} for p in shape]
        template, found = _template(shop, variant.template, field)
        problems += found
        if template is None or shape:
            continue
        problems += [{**p, "field": f"{field}.{p['field']}"} for p in fit_problems(template, components)]
        first = first or (template, components)
        stored.append(_stored(index + 1, variant, template, components))
    categories = {v["template"]["category"].upper() for v in stored}
    if len(categories) > 1:
        message = "All variants need templates of one category (marketing or utility)."
        problems.append({"field": "variants", "message": message})
    if problems or first is None:
        return None, problems
    return DraftVariants(stored, *first), []


def _set_problems(variants: list[VariantIn], holdout_share: int) -> list[dict]:
    problems = []
    total = sum(v.share for v in variants) + holdout_share
    if total != 100:
        problems.append(
            {
                "field": "variants",
                "message": f"The shares and the holdout add up to {total}%; they must add up to 100%.",
            }
        )
    names = [v.name.casefold() for v in variants]
    if len(set(names)) != len(names):
        problems.append({"field": "variants", "message": "Give each variant its own name."})
    return problems


def _template(shop: Shop, ref: VariantTemplate, field: str) -> tuple[Template | None, list[dict]]:
    try:
        template = find_template(shop, ref.name, ref.language)
    except TemplateNotFound as error:
        return None, [{"field": f"{field}.template", "message": str(error)}]
    if derive_type(template.category, template.format) is None:
        message = f"{template.category.title()} templates cannot be sent as campaigns."
        return None, [{"field": f"{field}.template", "message": message}]
    return template, []


def _stored(number: int, variant: VariantIn, template: Template, components: list[dict]) -> dict:
    return {
        "id": number,
        "name": variant.name,
        "share": variant.share,
        "template": {
            "name": template.name,
            "language": template.language,
            "category": template.category,
            "format": template.format,
        },
        "components": components,
        "definition": template.components,
        "send_time": variant.send_time.mode if variant.send_time else None,
    }
