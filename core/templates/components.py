"""A campaign's template components in Meta's own shape, checked before anything is stored.

A draft gives ``components`` as Meta's send API takes them (``header``, ``body``, ``button`` with
``sub_type`` and ``index``, each with Meta's parameter objects), with two additions of ours:

- wherever Meta takes a text parameter, ``{"field": "first_name", "fallback": "there"}`` fills it
  per recipient from the customer (an empty field falls back: Meta refuses an empty parameter);
- the parameter of a URL button may be ``{"track": "https://destination"}``: each message gets
  its own token in the button's dynamic suffix (core/campaigns/tracking.py).

``normalise_components`` answers the list in one canonical form (``type`` on every parameter,
``sub_type`` lower case, ``index`` a string "0" to "9") plus every problem, each naming the
component it concerns (``components.header``, ``components.body``, ``components.button[0]``).
Whether the components fit the template is fit.py's question.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from core.rules.template_text import refusal

CUSTOMER_FIELDS = ("first_name", "last_name", "name")
MEDIA_TYPES = ("image", "video", "document")
BUTTON_SUB_TYPES = ("url", "quick_reply", "copy_code", "catalog", "mpm")
MAX_TEXT = 1024  # Meta's limit on a body parameter's text
MAX_HEADER_TEXT = 60
MAX_URL_SUFFIX = 2000
MAX_PAYLOAD = 256
MAX_COUPON = 15  # Meta: a copy-code value has at most 15 characters
_TEXT_LIMITS = {"header": MAX_HEADER_TEXT, "body": MAX_TEXT, "button": MAX_URL_SUFFIX}


class Problems(list):
    """``[{"field", "message"}]``, the shape of a 422 answer."""

    def add(self, where: str, message: str) -> None:
        self.append({"field": where, "message": message})


def component_field(component: dict) -> str:
    """The name a problem with this component goes by."""
    kind = component.get("type")
    if kind == "button":
        return f"components.button[{component.get('index')}]"
    return f"components.{kind}"


def legacy_body(parameters: list) -> list[dict]:
    """The body-only ``parameters`` of older drafts as a body component."""
    return [{"type": "body", "parameters": list(parameters)}] if parameters else []


def normalise_components(raw: object) -> tuple[list[dict], Problems]:
    """The canonical components, and what is wrong with them (empty when nothing is)."""
    problems = Problems()
    if not isinstance(raw, list):
        problems.add("components", "components must be a list of header, body and button objects")
        return [], problems
    seen: set[str] = set()
    result = []
    for n, item in enumerate(raw):
        component = _component(item, f"components[{n}]", problems)
        if component is None:
            continue
        where = component_field(component)
        if where in seen:
            problems.add(where, "appears twice; give each component once")
            continue
        seen.add(where)
        result.append(component)
    return result, problems


def _component(item: object, where: str, problems: Problems) -> dict | None:
    if not isinstance(item, dict) or str(item.get("type", "")).lower() not in ("header", "body", "button"):
        problems.add(where, 'each component needs "type": "header", "body" or "button"')
        return None
    kind = str(item["type"]).lower()
    parameters = item.get("parameters", [])
    if not isinstance(parameters, list):
        problems.add(where, "parameters must be a list")
        return None
    if kind == "button":
        return _button(item, parameters, where, problems)
    extra = set(item) - {"type", "parameters"}
    if extra:
        problems.add(f"components.{kind}", f"unknown key(s): {', '.join(sorted(extra))}")
    checker = _header_parameter if kind == "header" else _body_parameter
    where = f"components.{kind}"
    found = [checker(p, f"{where}.parameters[{i}]", problems) for i, p in enumerate(parameters)]
    return {"type": kind, "parameters": [p for p in found if p is not None]}


def _button(item: dict, parameters: list, where: str, problems: Problems) -> dict | None:
    sub_type = str(item.get("sub_type", "")).lower()
    index = str(item.get("index", ""))
    if sub_type not in BUTTON_SUB_TYPES:
        problems.add(where, f"a button needs a sub_type among {', '.join(BUTTON_SUB_TYPES)}")
        return None
    if len(index) != 1 or not index.isdigit():
        problems.add(where, 'a button needs its position as "index", "0" to "9"')
        return None
    where = f"components.button[{index}]"
    if len(parameters) != 1:
        problems.add(where, f"a {sub_type} button takes exactly one parameter")
        return None
    parameter = _BUTTON_PARAMETERS[sub_type](parameters[0], f"{where}.parameters[0]", problems)
    if parameter is None:
        return None
    return {"type": "button", "sub_type": sub_type, "index": index, "parameters": [parameter]}


def _text_parameter(item: object, where: str, problems: Problems, limit: int) -> dict | None:
    """A literal ``{"type": "text", "text"}`` or a customer field, with an optional
    ``parameter_name`` (templates with named parameters)."""
    if not isinstance(item, dict):
        problems.add(where, "must be an object")
        return None
    named = {"parameter_name": item["parameter_name"]} if "parameter_name" in item else {}
    if named and (not isinstance(named["parameter_name"], str) or not named["parameter_name"]):
        problems.add(where, "parameter_name must be a non-empty string")
        return None
    rest = {k: v for k, v in item.items() if k not in ("type", "parameter_name")}
    if item.get("type", "text") != "text":
        problems.add(where, 'must be a text parameter ("type": "text")')
    elif set(rest) == {"text"} and isinstance(rest["text"], str) and rest["text"].strip():
        # Meta refuses line breaks, tabs, runs of spaces and overlong text in every message
        # alike (core/rules/template_text.py): refused here, naming the parameter.
        if why := refusal(rest["text"], limit):
            problems.add(where, why)
        return {"type": "text", "text": rest["text"], **named}
    elif rest.get("field") in CUSTOMER_FIELDS and set(rest) <= {"field", "fallback"}:
        fallback = rest.get("fallback", "")
        if not isinstance(fallback, str) or len(fallback) > limit:
            problems.add(where, "fallback must be a short text")
        elif why := refusal(fallback.strip(), limit):
            problems.add(where, f"fallback {why}")
        else:
            return {"type": "text", "field": rest["field"], "fallback": fallback.strip(), **named}
    else:
        problems.add(
            where, f"give a non-empty text, or a field among {', '.join(CUSTOMER_FIELDS)} with a fallback"
        )
    return None


def _body_parameter(item: object, where: str, problems: Problems) -> dict | None:
    return _text_parameter(item, where, problems, MAX_TEXT)


def _header_parameter(item: object, where: str, problems: Problems) -> dict | None:
    kind = item.get("type", "text") if isinstance(item, dict) else None
    if kind not in MEDIA_TYPES:
        return _text_parameter(item, where, problems, MAX_HEADER_TEXT)
    media = item.get(kind)
    link = media.get("link") if isinstance(media, dict) else None
    if set(item) != {"type", kind} or not isinstance(link, str):
        problems.add(where, f'a {kind} header is {{"type": "{kind}", "{kind}": {{"link": "https://..."}}}}')
        return None
    if not is_https_url(link):
        problems.add(where, f"The {kind} link must start with https://")
        return None
    if wrong := _wrong_media(kind, link):
        problems.add(where, wrong)
        return None
    extra = set(media) - {"link", "filename"} if kind == "document" else set(media) - {"link"}
    if extra:
        problems.add(where, f"unknown key(s) in {kind}: {', '.join(sorted(extra))}")
        return None
    return {"type": kind, kind: dict(media)}


# What a link's file extension says it is; a link without one (a CDN's) is taken as given.
_EXTENSIONS = {
    ".jpg": "image",
    ".jpeg": "image",
    ".png": "image",
    ".mp4": "video",
    ".3gp": "video",
    ".pdf": "document",
}
_ACCEPTS = {
    "image": "a JPEG or PNG image",
    "video": "an MP4 or 3GPP video",
    "document": "a PDF document",
}
_NAMES = {".pdf": "a PDF", ".mp4": "a video", ".3gp": "a video"}


def _wrong_media(kind: str, link: str) -> str | None:
    """Why the link cannot be this header (WhatsApp fetches it and refuses another type), or
    None. Read from the extension only: the file itself is WhatsApp's to fetch."""
    path = urlsplit(link).path.lower()
    extension = path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""
    found = _EXTENSIONS.get(extension)
    if found is None or found == kind:
        return None
    what = _NAMES.get(extension, "an image")
    return f"This link is {what}: {'an' if kind == 'image' else 'a'} {kind} header takes {_ACCEPTS[kind]}."


def _url_parameter(item: object, where: str, problems: Problems) -> dict | None:
    if isinstance(item, dict) and "track" in item:
        destination = item["track"]
        if set(item) - {"type", "track"} or not isinstance(destination, str) or not is_https_url(destination):
            problems.add(where, 'a tracked link is {"track": "https://destination"} (an https URL)')
            return None
        return {"type": "text", "track": destination}
    return _text_parameter(item, where, problems, MAX_URL_SUFFIX)


def _payload_parameter(item: object, where: str, problems: Problems) -> dict | None:
    return _one_string_parameter(item, where, problems, "payload", "a quick reply", MAX_PAYLOAD)


def _coupon_parameter(item: object, where: str, problems: Problems) -> dict | None:
    return _one_string_parameter(item, where, problems, "coupon_code", "a copy-code button", MAX_COUPON)


def _one_string_parameter(
    item: object, where: str, problems: Problems, kind: str, button: str, longest: int
) -> dict | None:
    """A button parameter of exactly ``{"type": kind, kind: "<non-blank text>"}``."""
    value = item.get(kind) if isinstance(item, dict) else None
    if item != {"type": kind, kind: value} or not isinstance(value, str) or not value.strip():
        problems.add(where, f'{button} takes {{"type": "{kind}", "{kind}": "..."}}')
        return None
    if len(value) > longest:
        problems.add(where, f"the {kind} has at most {longest} characters")
        return None
    return dict(item)


def _action_parameter(item: object, where: str, problems: Problems) -> dict | None:
    """Catalog and multi-product buttons: ``{"type": "action", "action": {...}}`` with the
    thumbnail's product retailer id (and, for multi-product, the sections)."""
    item = item if isinstance(item, dict) else {}
    action = item.get("action")
    thumbnail = action.get("thumbnail_product_retailer_id") if isinstance(action, dict) else None
    if set(item) != {"type", "action"} or item["type"] != "action" or not isinstance(thumbnail, str):
        problems.add(where, 'takes {"type": "action", "action": {"thumbnail_product_retailer_id": "..."}}')
        return None
    if set(action) - {"thumbnail_product_retailer_id", "sections"}:
        problems.add(where, "action takes thumbnail_product_retailer_id and sections only")
        return None
    return {"type": "action", "action": dict(action)}


def _multi_product_parameter(item: object, where: str, problems: Problems) -> dict | None:
    parameter = _action_parameter(item, where, problems)
    sections = parameter["action"].get("sections") if parameter else None
    if parameter is not None and not _sections_ok(sections):
        problems.add(where, "a multi-product button needs 1 to 10 sections, each a title and product_items")
        return None
    return parameter


def _sections_ok(sections: object) -> bool:
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        return False
    for section in sections:
        if not isinstance(section, dict):
            return False
        items = section.get("product_items")
        if not isinstance(section.get("title"), str) or not isinstance(items, list) or not items:
            return False
        if not all(isinstance(i, dict) and isinstance(i.get("product_retailer_id"), str) for i in items):
            return False
    return True


def _catalog_parameter(item: object, where: str, problems: Problems) -> dict | None:
    parameter = _action_parameter(item, where, problems)
    if parameter is not None and "sections" in parameter["action"]:
        problems.add(where, "a catalog button takes a thumbnail only (sections are for multi-product)")
        return None
    return parameter


_BUTTON_PARAMETERS = {
    "url": _url_parameter,
    "quick_reply": _payload_parameter,
    "copy_code": _coupon_parameter,
    "catalog": _catalog_parameter,
    "mpm": _multi_product_parameter,
}


def is_https_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.netloc) and len(value) <= 2000 and " " not in value


def text_problems(components: list[dict]) -> Problems:
    """The text parameters of stored ``components`` that Meta would refuse, each named by its
    parameter: a launch checks again what a draft saved before this rule may still hold."""
    problems = Problems()
    for component in components:
        limit = _TEXT_LIMITS.get(component.get("type"), MAX_TEXT)
        for n, parameter in enumerate(component.get("parameters", [])):
            for key in ("text", "fallback"):
                value = parameter.get(key) if isinstance(parameter, dict) else None
                if isinstance(value, str) and (why := refusal(value, limit)):
                    label = "" if key == "text" else "fallback "
                    problems.add(f"{component_field(component)}.parameters[{n}]", label + why)
    return problems


def campaign_components(template_components: list, template_parameters: list) -> list[dict]:
    """What a stored campaign sends: its components, or for a campaign made with the older
    body-only parameters, those as a body component (normalised the same way)."""
    if template_components:
        return template_components
    components, _problems = normalise_components(legacy_body(template_parameters or []))
    return components
