"""The WhatsApp Cloud API (Graph API) as the launch checks and the Settings page use it: the
endpoint addresses and the account's template list. Plain ``requests``; the access token goes in
the Authorization header and never into a log line or an exception message. Sending messages,
which dispatch does at up to a thousand a second, is core/whatsapp/send.py.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import requests

from core.settings import get_settings
from core.templates.definition import Template

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
MAX_TEMPLATE_PAGES = 20
TITLE_PREFIX = re.compile(r"^\(#\d+\)\s*")


class MetaUnavailable(RuntimeError):
    """Meta could not be asked (network) or refused the request; the message says which."""


def graph_url(*parts: str) -> str:
    settings = get_settings()
    return "/".join([settings.meta_graph_url, settings.meta_api_version, *parts])


def json_object(raw: bytes) -> dict | None:
    """A Graph API answer's JSON object, or None when the body is not one."""
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def list_templates(waba_id: str, token: str, name: str | None = None) -> list[Template]:
    """Every template of the WhatsApp Business Account (following Meta's paging), optionally
    only those of one name. Raises MetaUnavailable with a sentence a merchant can act on."""
    url: str | None = graph_url(waba_id, "message_templates")
    params: dict | None = {"limit": 100, **({"name": name} if name else {})}
    templates: list[Template] = []
    with requests.Session() as http:
        for _ in range(MAX_TEMPLATE_PAGES):
            if url is None:
                break
            payload = _get_page(http, url, params, token)
            templates += [Template.from_meta(item) for item in payload.get("data") or []]
            url, params = _next_page((payload.get("paging") or {}).get("next")), None
    return [t for t in templates if name is None or t.name == name]


def on_graph_host(url: str) -> bool:
    """Whether ``url`` is on the Graph API's own scheme, host and port (META_GRAPH_URL's), with
    no credentials in it: the only place a bearer token may go, a ``paging.next`` included."""
    graph = urlsplit(get_settings().meta_graph_url)
    target = urlsplit(url)
    return (target.scheme, target.netloc) == (graph.scheme, graph.netloc) and not target.username


def _next_page(url: object) -> str | None:
    """Meta's ``paging.next`` (it carries the cursor), only when it is on Graph's own host."""
    if not url:
        return None
    if not on_graph_host(str(url)):
        raise MetaUnavailable("WhatsApp's template list pointed its next page at another host.")
    return str(url)


def _get_page(http: requests.Session, url: str, params: dict | None, token: str) -> dict:
    try:
        response = http.get(
            url,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        )
    except requests.RequestException as error:
        raise MetaUnavailable(f"WhatsApp could not be reached ({type(error).__name__}).") from None
    payload = json_object(response.content)
    if not response.ok or payload is None:
        error = (payload or {}).get("error") or {}
        code = error.get("code")
        reason = TITLE_PREFIX.sub("", str(error.get("message") or f"HTTP {response.status_code}"))
        raise MetaUnavailable(f"WhatsApp refused to list the templates ({code or 'no code'}: {reason}).")
    return payload
