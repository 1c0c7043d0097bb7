"""Creating a campaign draft and changing its audience: checked input, template read from Meta."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns.audience import estimate, in_shop_spelling, marketing_cap
from core.campaigns.input_limits import nul_problems, text_limit_problems
from core.campaigns.launch import LifecycleError, TemplateNotFound, find_template
from core.campaigns.variant_drafts import (
    DEFAULT_METRIC,
    MAX_VARIANTS,
    MIN_VARIANTS,
    Experiment,
    VariantIn,
    draft_variants,
)
from core.experiments.send_time import MAX_WINDOW_HOURS, MIN_WINDOW_HOURS, per_customer_variants
from core.models import Campaign, Shop
from core.rules.campaign_states import CampaignStatus
from core.templates.components import legacy_body, normalise_components
from core.templates.definition import Template, derive_type
from core.templates.fit import fit_problems


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
    # Leave out United States numbers, which a marketing template does not reach (131049).
    exclude_us_numbers: bool = False

    def rule(self) -> dict:
        """The stored rule: the flag is kept only when set, so older rules read the same."""
        return self.model_dump(exclude={"exclude_us_numbers"} if not self.exclude_us_numbers else set())


# A test share under 5% says little; over half, the winner reaches fewer than the test did.
MIN_TEST_SHARE, MAX_TEST_SHARE = 5, 50
MIN_TEST_HOURS, MAX_TEST_HOURS = 1, 72

# A baseline above half the audience would cost the campaign more than it measures.
MAX_HOLDOUT_SHARE = 50


class Holdout(StrictModel):
    share: int = Field(ge=0, le=MAX_HOLDOUT_SHARE, strict=True)  # whole percent of the audience


class SendTime(StrictModel):
    mode: Literal["now", "per_customer"] = "now"
    # The hours after the launch within which each customer is sent at their own hour.
    window_hours: int = Field(default=24, ge=MIN_WINDOW_HOURS, le=MAX_WINDOW_HOURS, strict=True)


class TestThenSend(StrictModel):
    """Send the variants to a test share of the audience first, and after ``hours`` the winner
    to the rest (core/experiments/test_then_send.py)."""

    share: int = Field(ge=MIN_TEST_SHARE, le=MAX_TEST_SHARE, strict=True)  # whole percent
    hours: int = Field(ge=MIN_TEST_HOURS, le=MAX_TEST_HOURS, strict=True)


class NewCampaign(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    template: TemplateRef | None = None  # with variants, each names its own
    audience: Audience = Audience()
    holdout: Holdout | None = None
    variants: list[VariantIn] | None = Field(default=None, min_length=MIN_VARIANTS, max_length=MAX_VARIANTS)
    experiment: Experiment | None = None
    send_time: SendTime | None = None
    test_then_send: TestThenSend | None = None
    parameters: list = []  # the older body-only form
    components: list | None = None  # Meta's component shape (core/templates/components.py)


def parse(model: type[BaseModel], payload: object) -> BaseModel:
    """``payload`` checked against ``model``, with no NUL anywhere and every template text
    within Meta's limits (core/campaigns/input_limits.py). Raises DraftProblem naming each bad field."""
    if problems := nul_problems(payload) or text_limit_problems(payload):
        raise DraftProblem(problems)
    try:
        return model.model_validate(payload if payload is not None else {})
    except ValidationError as error:
        raise DraftProblem([_in_words(p) for p in error.errors()]) from None


# What a merchant reads for the fields the composer shows, instead of pydantic's wording.
_WORDS = {
    ("name", "missing"): "Give the campaign a name.",
    ("name", "string_too_short"): "Give the campaign a name.",
    ("name", "string_too_long"): "Keep the name under 200 characters.",
    ("template", "missing"): "Choose a template.",
    ("template", "model_type"): "Choose a template.",
    ("scheduled_at", "missing"): "Choose when to send it.",
    ("holdout.share", "less_than_equal"): f"Hold out at most {MAX_HOLDOUT_SHARE}% of the audience.",
    ("holdout.share", "greater_than_equal"): "The holdout is a percent from 0 to 50.",
    ("holdout.share", "int_type"): "The holdout is a whole percent, such as 10.",
    ("test_then_send.share", "less_than_equal"): f"Test on at most {MAX_TEST_SHARE}% of the audience.",
    ("test_then_send.share", "greater_than_equal"): f"Test on at least {MIN_TEST_SHARE}% of the audience.",
    ("test_then_send.hours", "less_than_equal"): f"The test runs at most {MAX_TEST_HOURS} hours.",
    ("test_then_send.hours", "greater_than_equal"): "The test runs at least one hour.",
    ("send_time.window_hours", "less_than_equal"): f"The window is at most {MAX_WINDOW_HOURS} hours.",
    ("send_time.window_hours", "greater_than_equal"): "The window is at least one hour.",
    (
        "scheduled_at",
        "timezone_aware",
    ): "Give the time with its time zone offset, e.g. 2026-12-01T09:00:00+01:00.",
}


def _in_words(problem: dict) -> dict:
    field = ".".join(map(str, problem["loc"])) or "body"
    message = _WORDS.get((field, problem["type"])) or _WORDS.get((field.split(".")[0], problem["type"]))
    return {"field": field, "message": message or problem["msg"]}


def create_draft(session: Session, shop: Shop, request: NewCampaign) -> Campaign:
    """A DRAFT campaign whose type follows its template. Raises DraftProblem, or
    MetaUnavailable when Meta cannot be asked about the template."""
    campaign = Campaign(shop_id=shop.id, status=str(CampaignStatus.DRAFT))
    _fill(session, shop, campaign, request)
    session.add(campaign)
    session.flush()
    return campaign


def update_draft(session: Session, shop: Shop, campaign: Campaign, request: NewCampaign) -> Campaign:
    """Replace a draft's name, template, audience and components, with the checks of a new
    draft. Raises LifecycleError for a campaign that is no longer a draft, DraftProblem or
    MetaUnavailable."""
    session.refresh(campaign, with_for_update=True)
    if campaign.status != CampaignStatus.DRAFT:
        raise LifecycleError(f"A {campaign.status} campaign cannot be edited; only drafts can.")
    _fill(session, shop, campaign, request)
    session.flush()
    return campaign


def _fill(session: Session, shop: Shop, campaign: Campaign, request: NewCampaign) -> None:
    # Meta first: the create route holds no transaction.
    template, components, variants = _variants(shop, request) if request.variants else _single(shop, request)
    taken = select(Campaign.id).where(Campaign.shop_id == shop.id, Campaign.name == request.name)
    if campaign.id is not None:
        taken = taken.where(Campaign.id != campaign.id)
    if session.scalar(taken):
        raise DraftProblem([{"field": "name", "message": "another campaign of this shop has this name"}])
    rule = in_shop_spelling(session, shop.id, request.audience.rule())
    campaign.name = request.name
    campaign.type = str(derive_type(template.category, template.format))
    campaign.template_name, campaign.template_language = template.name, template.language
    campaign.template_category, campaign.template_format = template.category, template.format
    campaign.template_components, campaign.template_definition = components, template.components
    campaign.template_parameters = []
    campaign.holdout_share = request.holdout.share if request.holdout else 0
    campaign.variants = variants
    metric = request.experiment.metric if request.experiment else DEFAULT_METRIC
    campaign.experiment_metric = metric if variants else None
    campaign.test_then_send = request.test_then_send.model_dump() if request.test_then_send else None
    send_time = request.send_time or SendTime()
    campaign.send_time_mode = send_time.mode
    timed = per_customer_variants(send_time.mode, variants) != []
    campaign.send_time_window_hours = send_time.window_hours if timed else None
    cap_hours = marketing_cap(shop, template.category)
    campaign.audience, campaign.estimated_audience = (
        rule,
        estimate(session, shop.id, rule, cap_hours=cap_hours),
    )


def _single(shop: Shop, request: NewCampaign) -> tuple[Template, list[dict], list]:
    """A campaign of one template: the template, its components, no variants."""
    if request.template is None:
        raise DraftProblem([{"field": "template", "message": _WORDS[("template", "missing")]}])
    if request.experiment is not None:
        raise DraftProblem([{"field": "experiment", "message": "An experiment needs two or more variants."}])
    if request.test_then_send is not None:
        message = "Test then send needs two or more variants."
        raise DraftProblem([{"field": "test_then_send", "message": message}])
    components, problems = draft_components(request)
    if problems:
        raise DraftProblem(problems)
    template = _sendable_template(shop, request)
    if fit := fit_problems(template, components):
        raise DraftProblem(legacy_names(request, fit))
    return template, components, []


def _variants(shop: Shop, request: NewCampaign) -> tuple[Template, list[dict], list]:
    """An A/B campaign: the first variant's template and components are the campaign's own."""
    if request.components is not None or request.parameters:
        raise DraftProblem([{"field": "components", "message": "Give the components in each variant."}])
    holdout = request.holdout.share if request.holdout else 0
    checked, problems = draft_variants(shop, request.variants, holdout)
    if problems:
        raise DraftProblem(problems)
    first = checked.stored[0]["template"]
    named = request.template and (request.template.name, request.template.language)
    if named and named != (first["name"], first["language"]):
        message = "With variants, the template is the first variant's."
        raise DraftProblem([{"field": "template", "message": message}])
    return checked.template, checked.components, checked.stored


def _sendable_template(shop: Shop, request: NewCampaign) -> Template:
    try:
        template = find_template(shop, request.template.name, request.template.language)
    except TemplateNotFound as error:
        raise DraftProblem([{"field": "template", "message": str(error)}]) from None
    if derive_type(template.category, template.format) is None:
        message = f"{template.category.title()} templates cannot be sent as campaigns."
        raise DraftProblem([{"field": "template", "message": message}])
    return template


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
        campaign.audience = in_shop_spelling(session, campaign.shop_id, audience.rule())
    cap_hours = marketing_cap(session.get(Shop, campaign.shop_id), campaign.template_category)
    campaign.estimated_audience = estimate(
        session, campaign.shop_id, campaign.audience, campaign.follow_up_of, cap_hours
    )
    return campaign.estimated_audience
