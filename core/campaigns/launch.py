"""A campaign's lifecycle before dispatch: launch checks, launch, schedule, cancel.

DRAFT -> (SCHEDULED) -> PENDING (launched; dispatch runs) -> SENT / PARTIALLY_SENT / FAILED,
settled by MonitorCampaignJob. DRAFT and SCHEDULED campaigns can be cancelled.

The launch checks run at launch time, also for a scheduled campaign when its time comes,
because Meta may pause or recategorise a template at any moment and consent and credits change:
the template must be APPROVED in Meta's own list, at least one subscribed recipient must remain,
and the credits must cover the estimate. Each failed check gets its own sentence.

Meta is asked first, outside any transaction (ask_meta), and the answer is handed to the step
that locks and changes the campaign; that step refuses an answer about components the campaign
no longer has (a draft edited meanwhile).

Nothing is launched or scheduled for a shop that uninstalled the app, whatever path asks (the
API, the CLI, a scheduled time coming): the shop's row is read again once the campaign is
locked, and a scheduled campaign whose time comes after an uninstall is cancelled instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns.audience import estimate, marketing_cap
from core.campaigns.messaging_limit import over_limit_message, room
from core.crypto import decrypt_token
from core.models import Campaign, Shop, ShopAlert
from core.rules.alert_codes import AlertCode
from core.rules.campaign_states import CampaignStatus
from core.templates.components import campaign_components, text_problems
from core.templates.definition import APPROVED, Template, derive_type
from core.templates.fit import fit_problems
from core.whatsapp.graph_api import MetaUnavailable, list_templates

LAUNCHABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
CANCELLABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
MIN_SCHEDULE_AHEAD = timedelta(minutes=1)
MAX_SCHEDULE_AHEAD = timedelta(days=365)


class LifecycleError(ValueError):
    """The campaign is not in a state that allows this action; the message says why."""


class ScheduleRefused(ValueError):
    """The time asked for cannot be a send time; the message says why, in the merchant's words."""


class TemplateNotFound(LookupError):
    pass


@dataclass(frozen=True)
class CheckFailure:
    check: str  # whatsapp_account, template_approved, template_parameters, audience, credits
    message: str
    field: str | None = None  # the component at fault (components.header, components.button[0], ...)

    def as_dict(self) -> dict:
        return {"check": self.check, "message": self.message, **({"field": self.field} if self.field else {})}


@dataclass(frozen=True)
class MetaAnswer:
    """What Meta says of a campaign's template now, asked before any transaction opens, and
    which of the campaign's choices it answers for."""

    template: Template | None
    failures: list[CheckFailure]
    asked_about: tuple

    def answers_for(self, campaign: Campaign) -> bool:
        return self.asked_about == _template_choices(campaign)


@dataclass(frozen=True)
class CheckResult:
    failures: list[CheckFailure]
    template: Template | None
    audience: int


def find_template(shop: Shop, name: str, language: str) -> Template:
    """The template as Meta lists it now. Raises MetaUnavailable or TemplateNotFound."""
    if not (shop.meta_waba_id and shop.meta_access_token_ciphertext):
        raise MetaUnavailable("No WhatsApp Business account is connected: connect one in Settings.")
    token = decrypt_token(shop.meta_access_token_ciphertext)
    for template in list_templates(shop.meta_waba_id, token, name=name):
        if template.language == language:
            return template
    raise TemplateNotFound(
        f"The template '{name}' ({language}) does not exist in your WhatsApp Business account."
    )


def ask_meta(shop: Shop, campaign: Campaign) -> MetaAnswer:
    """The checks only Meta can answer (the number is connected, the template is approved and
    fits). Makes an HTTP call: call it with no transaction open."""
    asked_about = _template_choices(campaign)
    if not (shop.meta_phone_number_id and shop.meta_waba_id and shop.meta_access_token_ciphertext):
        failure = CheckFailure(
            "whatsapp_account", "Connect a WhatsApp Business phone number before launching."
        )
        return MetaAnswer(None, [failure], asked_about)
    template, problems = _template_checks(shop, campaign)
    return MetaAnswer(template, problems, asked_about)


def _template_choices(campaign: Campaign) -> tuple:
    return (
        campaign.template_name,
        campaign.template_language,
        campaign.template_components,
        campaign.template_parameters,
        campaign.variants,
    )


def run_launch_checks(
    session: Session, shop: Shop, campaign: Campaign, meta: MetaAnswer, spread: bool | None = None
) -> CheckResult:
    """Meta's answer and the checks of our own data (audience, credits, Meta's messaging limit),
    in the caller's transaction. ``spread``: the merchant's choice to send past the messaging
    limit in waves (None: the choice the campaign keeps)."""
    spread = campaign.spread_over_limit if spread is None else spread
    failures, template = list(meta.failures), meta.template
    cap_hours = marketing_cap(shop, campaign.template_category)
    audience = estimate(session, shop.id, campaign.audience, campaign.follow_up_of, cap_hours)
    if audience == 0:
        failures.append(
            CheckFailure(
                "audience",
                "No subscribed customer matches this audience: only customers who agreed to "
                "WhatsApp marketing can receive a campaign.",
            )
        )
    elif shop.credits < audience:
        failures.append(
            CheckFailure(
                "credits",
                f"The campaign needs {audience:,} credits (one per recipient) and the balance is "
                f"{shop.credits:,}. Buy credits in Settings (Credits) before launching.",
            )
        )
    space = room(session, shop) if audience else None
    if space is not None and audience > space.left and not spread:
        failures.append(CheckFailure("messaging_limit", over_limit_message(space, audience)))
    return CheckResult(failures, template, audience)


def _template_checks(shop: Shop, campaign: Campaign) -> tuple[Template | None, list[CheckFailure]]:
    """The campaign's template, then each other variant's (an A/B campaign's first variant is
    the campaign's own template): approved, sendable and fitting its components."""
    components = campaign_components(campaign.template_components, campaign.template_parameters)
    template, failures = _check_template(shop, campaign.template_name, campaign.template_language, components)
    for index, variant in enumerate(campaign.variants[1:], start=1):
        name, language = variant["template"]["name"], variant["template"]["language"]
        _, more = _check_template(shop, name, language, variant["components"], f"variants[{index}].")
        failures += more
    return template, failures


def _check_template(
    shop: Shop, name: str, language: str, components: list, prefix: str = ""
) -> tuple[Template | None, list[CheckFailure]]:
    try:
        template = find_template(shop, name, language)
    except MetaUnavailable as error:
        return None, [
            CheckFailure("template_approved", f"Could not confirm the template with WhatsApp: {error}")
        ]
    except TemplateNotFound as error:
        return None, [CheckFailure("template_approved", str(error))]
    failures = []
    if template.status != APPROVED:
        failures.append(CheckFailure("template_approved", _not_approved(template)))
    if derive_type(template.category, template.format) is None:
        failures.append(
            CheckFailure(
                "template_category", f"{template.category.title()} templates cannot be sent as campaigns."
            )
        )
    for problem in fit_problems(template, components) + text_problems(components):
        failures.append(CheckFailure("template_parameters", problem["message"], prefix + problem["field"]))
    return template, failures


def _not_approved(template: Template) -> str:
    label = f"The template '{template.name}' ({template.language})"
    if template.status in ("PENDING", "IN_APPEAL"):
        return f"{label} is still waiting for Meta's review; launch once it is approved."
    if template.status == "REJECTED":
        reason = f" ({template.rejected_reason})" if template.rejected_reason else ""
        return f"{label} was rejected by Meta{reason}: fix it in WhatsApp Manager and resubmit it."
    if template.status == "PAUSED":
        return f"{label} is paused by Meta for low quality; launch once it is active again."
    return f"{label} is {template.status or 'not approved'}; only approved templates can be sent."


def launch(
    session: Session,
    shop: Shop,
    campaign: Campaign,
    meta: MetaAnswer,
    now: datetime | None = None,
    spread: bool | None = None,
) -> CheckResult:
    """Run the launch checks with Meta's answer (ask_meta); when they pass, the campaign becomes
    PENDING (dispatch may start). ``spread``: send past Meta's messaging limit in waves (None:
    as the campaign was told before). The caller commits, then starts dispatch. Raises
    LifecycleError."""
    _require(campaign, LAUNCHABLE, "launched")
    result = run_launch_checks(session, shop, campaign, meta, spread)
    _lock(session, campaign, meta)
    if spread is not None:
        campaign.spread_over_limit = spread
    _require(campaign, LAUNCHABLE, "launched")  # a concurrent launch may have won
    _require_installed(session, shop, "launched")
    campaign.estimated_audience = result.audience
    if result.failures:
        return result
    _adopt_template(campaign, result.template)
    _plan_waves(session, shop, campaign, result.audience)
    campaign.status = CampaignStatus.PENDING
    campaign.launched_at = now or datetime.now(UTC)
    return result


def _plan_waves(session: Session, shop: Shop, campaign: Campaign, audience: int) -> None:
    """A campaign spread over Meta's messaging limit keeps, from its launch, the size of its
    first wave (the room left now) and of each later one (the whole limit)."""
    space = room(session, shop) if campaign.spread_over_limit else None
    if space is None or audience <= space.left:
        campaign.spread_first_wave = campaign.spread_wave_size = None
        return
    campaign.spread_first_wave, campaign.spread_wave_size = space.left, space.limit


def _adopt_template(campaign: Campaign, template: Template) -> None:
    """Meta can recategorise a template after it was picked: the type follows what is sent."""
    campaign.template_category = template.category
    campaign.template_format = template.format
    campaign.template_definition = template.components
    campaign.type = str(derive_type(template.category, template.format))


def schedule(
    session: Session,
    shop: Shop,
    campaign: Campaign,
    at: datetime,
    meta: MetaAnswer,
    spread: bool | None = None,
) -> CheckResult:
    """Run the launch checks now (they run again when the time comes) and schedule. A time
    that is not ahead (a minute to a year) raises ScheduleRefused: the request is wrong, the
    campaign's state is not (a 422, not a 409)."""
    _require(campaign, LAUNCHABLE, "scheduled")
    now = datetime.now(UTC)
    if at.tzinfo is None:
        raise ScheduleRefused("scheduled_at needs a time zone offset, e.g. 2026-12-01T09:00:00+01:00")
    if at < now + MIN_SCHEDULE_AHEAD:
        raise ScheduleRefused("This time has already passed: choose a time at least a minute from now.")
    if at > now + MAX_SCHEDULE_AHEAD:
        raise ScheduleRefused("Choose a time within a year from now.")
    result = run_launch_checks(session, shop, campaign, meta, spread)
    _lock(session, campaign, meta)
    if spread is not None:
        campaign.spread_over_limit = spread
    _require(campaign, LAUNCHABLE, "scheduled")
    _require_installed(session, shop, "scheduled")
    campaign.estimated_audience = result.audience
    if not result.failures:
        _adopt_template(campaign, result.template)
        campaign.status = CampaignStatus.SCHEDULED
        campaign.scheduled_at = at
    return result


def is_due(campaign: Campaign | None, expected_at: datetime | None) -> bool:
    """A scheduled campaign whose run planned for ``expected_at`` is still the one to make."""
    if campaign is None or campaign.status != CampaignStatus.SCHEDULED or campaign.scheduled_at is None:
        return False
    return expected_at is None or campaign.scheduled_at == expected_at  # else rescheduled since


def launch_when_due(
    session: Session, shop: Shop, campaign: Campaign, expected_at: datetime | None, meta: MetaAnswer
) -> bool:
    """The scheduled time has come. True when the campaign was launched. If the checks fail
    now, it goes back to DRAFT and the merchant is alerted, with each failed check."""
    if not is_due(campaign, expected_at):
        return False
    if uninstalled(session, shop):
        cancel(session, campaign)  # its shop uninstalled the app: it will never be sent
        return False
    result = launch(session, shop, campaign, meta)
    if not result.failures:
        return True
    campaign.status = CampaignStatus.DRAFT
    session.add(
        ShopAlert(
            shop_id=shop.id,
            campaign_id=campaign.id,
            code=AlertCode.LAUNCH_CHECKS_FAILED,
            title=f"Scheduled campaign '{campaign.name}' was not sent",
            details=" ".join(f.message for f in result.failures),
        )
    )
    return False


def cancel(session: Session, campaign: Campaign) -> None:
    _lock(session, campaign, None)
    _require(campaign, CANCELLABLE, "cancelled")
    campaign.status = CampaignStatus.CANCELLED


def _lock(session: Session, campaign: Campaign, meta: MetaAnswer | None) -> None:
    """Lock the campaign's row, and refuse Meta's answer if it was about other choices."""
    session.refresh(campaign, with_for_update=True)
    if meta is not None and not meta.answers_for(campaign):
        raise LifecycleError("The campaign's template or its values changed while it was checked; try again.")


def uninstalled(session: Session, shop: Shop) -> bool:
    """Whether the shop has uninstalled the app, as committed now (not as ``shop`` was read)."""
    return session.scalar(select(Shop.uninstalled_at).where(Shop.id == shop.id)) is not None


def _require_installed(session: Session, shop: Shop, action: str) -> None:
    if uninstalled(session, shop):
        raise LifecycleError(f"The app was uninstalled from this shop: no campaign can be {action}.")


def _require(campaign: Campaign, allowed: tuple, action: str) -> None:
    if campaign.status not in allowed:
        raise LifecycleError(
            f"A {campaign.status} campaign cannot be {action}; only "
            f"{' or '.join(s.value for s in allowed)} campaigns can."
        )
