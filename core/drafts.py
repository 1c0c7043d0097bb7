"""Creating a campaign draft and changing its audience: checked input, template read from Meta."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audience import estimate
from core.campaigns import CampaignStatus
from core.components import legacy_body, normalise_components
from core.input_limits import nul_problems, text_limit_problems
from core.launch import LifecycleError, TemplateNotFound, find_template
from core.models import Campaign, Shop
from core.template_fit import fit_problems
from core.templates import derive_type


class DraftProblem(ValueError):
    """The request cannot make a draft; ``errors`` name each bad field."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TemplateRef(StrictModel):
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=16)


# Shopify's limit on one tag; a rule naming more tags than this is not a merchant's.
Tag = Annotated[str, Field(max_length=255)]
MAX_TAGS = 250


class Audience(StrictModel):
    include_tags: list[Tag] = Field(default=[], max_length=MAX_TAGS)
    exclude_tags: list[Tag] = Field(default=[], max_length=MAX_TAGS)


class NewCampaign(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    template: TemplateRef
    audience: Audience = Audience()
    parameters: list = []  # the older body-only form
    components: list | None = None  # Meta's component shape (core/components.py)


def parse(model: type[BaseModel], payload: object) -> BaseModel:
    """``payload`` checked against ``model``, with no NUL anywhere and every template text
    within Meta's limits (core/input_limits.py). Raises DraftProblem naming each bad field."""
    if problems := nul_problems(payload) or text_limit_problems(payload):
        raise DraftProblem(problems)
    try:
        return model.model_validate(payload if payload is not None else {})
    except ValidationError as error:
        raise DraftProblem(
            [{"field": ".".join(map(str, p["loc"])) or "body", "message": p["msg"]} for p in error.errors()]
        ) from None


def create_draft(session: Session, shop: Shop, request: NewCampaign) -> Campaign:
    """A DRAFT campaign whose type follows its template. Raises DraftProblem, or
    MetaUnavailable when Meta cannot be asked about the template."""
    components, problems = draft_components(request)
    if problems:
        raise DraftProblem(problems)
    try:  # Meta first, before this session opens a transaction (the caller released its own)
        template = find_template(shop, request.template.name, request.template.language)
    except TemplateNotFound as error:
        raise DraftProblem([{"field": "template", "message": str(error)}]) from None
    if session.scalar(select(Campaign.id).where(Campaign.shop_id == shop.id, Campaign.name == request.name)):
        raise DraftProblem([{"field": "name", "message": "another campaign of this shop has this name"}])
    kind = derive_type(template.category, template.format)
    if kind is None:
        raise DraftProblem(
            [
                {
                    "field": "template",
                    "message": f"{template.category.title()} templates cannot be sent as campaigns.",
                }
            ]
        )
    if fit := fit_problems(template, components):
        raise DraftProblem(legacy_names(request, fit))
    rule = request.audience.model_dump()
    campaign = Campaign(
        shop_id=shop.id,
        name=request.name,
        type=str(kind),
        status=str(CampaignStatus.DRAFT),
        template_name=template.name,
        template_language=template.language,
        template_category=template.category,
        template_format=template.format,
        template_components=components,
        audience=rule,
        estimated_audience=estimate(session, shop.id, rule),
    )
    session.add(campaign)
    session.flush()
    return campaign


def draft_components(request: NewCampaign) -> tuple[list[dict], list[dict]]:
    """The draft's components (from ``components``, or the older body-only ``parameters``) and
    what is wrong with their shape."""
    if request.components is not None and request.parameters:
        return [], [{"field": "parameters", "message": "give components or parameters, not both"}]
    if request.components is not None:
        return normalise_components(request.components)
    components, problems = normalise_components(legacy_body(request.parameters))
    return components, legacy_names(request, problems)


def legacy_names(request: NewCampaign, problems: list[dict]) -> list[dict]:
    """A draft given body-only ``parameters`` hears of them under that name."""
    if request.components is not None:
        return problems
    return [
        {"field": "parameters", "message": f"{p['field'].removeprefix('components.body.')}: {p['message']}"}
        if p["field"].startswith("components.body")
        else p
        for p in problems
    ]


def re_estimate(session: Session, campaign: Campaign, audience: Audience | None) -> int:
    """Store a new audience rule (when given) and its reach estimate. Once launched, a
    campaign's estimate is the one it launched with. Raises LifecycleError."""
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise LifecycleError(
            f"A {campaign.status} campaign keeps the audience and estimate it launched with."
        )
    if audience is not None:
        campaign.audience = audience.model_dump()
    campaign.estimated_audience = estimate(session, campaign.shop_id, campaign.audience)
    return campaign.estimated_audience
