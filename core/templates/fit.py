"""Do a campaign's components fit its template, as Meta lists the template?

Meta refuses a send whose parameters do not match the template (132000 and friends), for every
recipient alike. So draft creation and the launch checks compare the components with the
template's own (``GET /{waba}/message_templates``): the header's format and placeholder, the
body's placeholders (positional ``{{1}}`` or named ``{{first_name}}``), and which buttons take a
parameter. A URL button takes one only when its URL ends in a placeholder; a copy-code button
always; a multi-product button its sections; quick replies and catalog buttons may take one.
Each problem names the component it concerns, as a 422 answer does.
"""

from __future__ import annotations

from core.settings import get_settings
from core.templates.components import MEDIA_TYPES, Problems, component_field
from core.templates.definition import Template, placeholders_of

# The template button types whose send component we build, and whether it must be given.
BUTTON_SUB_TYPES = {
    "QUICK_REPLY": "quick_reply",
    "COPY_CODE": "copy_code",
    "CATALOG": "catalog",
    "MPM": "mpm",
}
REQUIRED = {"copy_code", "mpm"}
TRACKED_PATH = "/r/{{1}}"


def fit_problems(template: Template, components: list[dict]) -> Problems:
    """Every way ``components`` (normalised) miss or exceed what the template takes."""
    problems = Problems()
    given = {component_field(c): c for c in components}
    _header_fit(template, given.pop("components.header", None), problems)
    _text_fit(
        template, "components.body", template.body_placeholders, given.pop("components.body", None), problems
    )
    for index, button in enumerate(template.buttons[:10]):
        _button_fit(button, str(index), given.pop(f"components.button[{index}]", None), problems)
    for where in given:
        problems.add(where, f"the template '{template.name}' has no such parameter; remove it")
    return problems


def _header_fit(template: Template, given: dict | None, problems: Problems) -> None:
    kind = template.header_format
    where = "components.header"
    if kind in ("LOCATION", "PRODUCT"):
        problems.add(where, f"templates with a {kind.lower()} header cannot be sent as campaigns yet")
    elif kind is not None and kind.lower() in MEDIA_TYPES:
        _media_fit(kind.lower(), given, problems)
    else:
        _text_fit(template, where, template.header_placeholders, given, problems)


def _media_fit(kind: str, given: dict | None, problems: Problems) -> None:
    parameters = given["parameters"] if given else []
    if len(parameters) != 1 or parameters[0]["type"] != kind:
        problems.add(
            "components.header",
            f'the template\'s header is a {kind}: give its link, {{"type": "{kind}", '
            f'"{kind}": {{"link": "https://..."}}}}',
        )


def _text_fit(template: Template, where: str, placeholders: list[str], given: dict | None, problems) -> None:
    parameters = given["parameters"] if given else []
    if any(p["type"] != "text" for p in parameters):
        problems.add(where, "takes text parameters only")
        return
    named = template.parameter_format == "NAMED" or any(not p.isdigit() for p in placeholders)
    if named:
        names = [p.get("parameter_name") for p in parameters]
        if sorted(names, key=str) != sorted(placeholders):
            problems.add(
                where,
                f"the template names its parameters {_listed(placeholders)}; "
                f"the campaign gives {_listed(names)} (each with parameter_name)",
            )
    elif len(parameters) != len(placeholders):
        problems.add(
            where,
            f"the template has {len(placeholders)} parameter(s) here; the campaign gives {len(parameters)}",
        )


def _listed(names: list) -> str:
    return ", ".join(f"{{{{{n}}}}}" for n in names) if names else "none"


def _button_fit(button: dict, index: str, given: dict | None, problems: Problems) -> None:
    where = f"components.button[{index}]"
    kind = str(button.get("type", "")).upper()
    if kind == "URL":
        return _url_fit(button, given, problems, where)
    sub_type = BUTTON_SUB_TYPES.get(kind)
    if given is None:
        if sub_type in REQUIRED:
            problems.add(
                where, f"the template's button {index} is a {kind.lower()} button: give its parameter"
            )
    elif sub_type is None:
        problems.add(where, f"the template's button {index} ({kind.lower()}) takes no parameter; remove it")
    elif given["sub_type"] != sub_type:
        problems.add(where, f"the template's button {index} is a {sub_type} button, not {given['sub_type']}")


def _url_fit(button: dict, given: dict | None, problems: Problems, where: str) -> None:
    url = str(button.get("url") or "")
    if not placeholders_of(url):
        if given is not None:
            problems.add(where, "the template's link is fixed (no {{1}} in its URL); remove this parameter")
        return
    if given is None or given["sub_type"] != "url":
        problems.add(where, f"the template's link is {url}: give the text that replaces {{{{1}}}}")
        return
    if "track" in given["parameters"][0] and not is_tracking_url(url):
        problems.add(
            where,
            f"a tracked link needs a template button whose URL is {tracking_base()}{TRACKED_PATH}; "
            f"this one is {url}",
        )


def tracking_base() -> str:
    """Where tracked links point: the app's public URL (SHOPIFY_APP_URL)."""
    return (get_settings().shopify_app_url or "{SHOPIFY_APP_URL}").rstrip("/")


def is_tracking_url(url: str) -> bool:
    """True for a button URL of the form ``{SHOPIFY_APP_URL}/r/{{1}}``. Without SHOPIFY_APP_URL
    (development) any host is taken, as long as the path is ours."""
    app_url = get_settings().shopify_app_url
    if app_url:
        return url == app_url.rstrip("/") + TRACKED_PATH
    return url.startswith(("https://", "http://")) and url.endswith(TRACKED_PATH)


def trackable_buttons(components: list) -> list[int]:
    """The URL buttons that can carry a tracked link: those whose URL is
    ``{SHOPIFY_APP_URL}/r/{{1}}`` (core/campaigns/tracking.py); a tracked link on any other
    button is refused (_url_fit)."""
    part = next((c for c in components if str(c.get("type")).upper() == "BUTTONS"), {})
    buttons = part.get("buttons") or []
    return [
        n
        for n, button in enumerate(buttons)
        if str(button.get("type")).upper() == "URL" and is_tracking_url(str(button.get("url") or ""))
    ]
