"""The Meta stand-in answers like the Graph API, decides deterministically, and posts signed,
adversarial status webhooks; the app's Graph client reads every kind of answer right."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from core.whatsapp.graph_api import list_templates
from core.whatsapp.send import MessageSender, messages_url, send_request_body
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID, start_stand_in


def _send(to="+34612345678", template="weekly_offer", token=TOKEN, components=(), callback="1", url=None):
    body = send_request_body(to, template, "en", list(components), callback)
    return asyncio.run(_send_once(url or messages_url(PHONE_NUMBER_ID), token, body))


async def _send_once(url: str, token: str, body: dict):
    async with MessageSender(url, token, max_in_flight=1) as sender:
        return await sender.send(body)


def test_a_valid_template_send_is_accepted_with_a_wamid(meta):
    """A correct send answers Meta's success shape; the truth records it under its wamid."""
    result = _send(callback="42")
    assert result.kind == "accepted" and result.wamid.startswith("wamid.")
    assert result.message_status in ("accepted", "held_for_quality_assessment")
    assert result.wa_id == "34612345678"
    truth = meta.truth()["messages"][result.wamid]
    assert truth["callback"] == "42" and truth["to"] == "+34612345678" and truth["sent"] is True


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"token": "wrong"}, "190"),
        ({"template": "no_such_template"}, "132001"),
        ({"template": "rejected_promo"}, "132001"),
        ({"template": "paused_promo"}, "132015"),
        ({"template": "personal_offer"}, "132000"),
        ({"to": "612345678"}, "131009"),
    ],
)
def test_bad_sends_get_metas_error_codes(meta, kwargs, code):
    """Bad token, unknown or unapproved template, paused template, wrong parameter count and a
    number without its "+" are refused with the code Meta uses, title and details included."""
    result = _send(**kwargs)
    assert (result.kind, result.code) == ("error", code)
    assert result.title and result.details and not result.title.startswith("(#")


def test_parameters_matching_the_template_are_accepted(meta):
    """personal_offer has two body placeholders: two text parameters pass."""
    components = [
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "X"}]}
    ]
    assert _send(template="personal_offer", components=components).kind == "accepted"


def test_sends_above_the_cap_get_130429(meta):
    """With a cap of one send a second, the second send in the same second is refused."""
    meta.configure(cap=1)
    first, second = _send(to="+34612345678"), _send(to="+34612345679")
    assert first.kind == "accepted"
    assert (second.kind, second.code) == ("error", "130429")


def test_rules_answer_an_error_a_number_of_times_then_accept(meta):
    """A per-recipient rule answers its error for the first sends only."""
    meta.configure(rules=[{"to": "+34612345678", "error": 131056, "times": 1}])
    assert _send().code == "131056"
    assert _send().kind == "accepted"


def test_a_dropped_connection_after_acceptance_is_an_unknown_outcome(meta):
    """The stand-in accepts, then drops the connection: the client cannot know, and says so."""
    meta.configure(rules=[{"to": "+34612345678", "disconnect": True}])
    result = _send()
    assert result.kind == "unknown"
    assert len(meta.truth()["messages"]) == 1  # Meta did take it


def test_a_refused_connection_is_not_sent(meta):
    """Nothing listening: the request never left, so it is safe to send again."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert _send(url=f"http://127.0.0.1:{port}/x").kind == "not_sent"


def test_fates_are_deterministic_under_the_seed():
    """Two stand-ins with the same seed decide the same wamid and fate for the same recipients."""
    outcomes = []
    for _ in range(2):
        process, url = start_stand_in("--seed", "7")
        try:
            with requests.Session() as http:
                for n in range(30):
                    body = send_request_body(f"+3461234{n:04d}", "weekly_offer", "en", [], str(n))
                    http.post(
                        f"{url}/v25.0/{PHONE_NUMBER_ID}/messages", json=body, headers=_auth()
                    ).raise_for_status()
                outcomes.append(http.get(f"{url}/sim/truth").json()["messages"])
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert outcomes[0] == outcomes[1]
    assert len({m["outcome"] for m in outcomes[0].values()}) >= 3  # a real mix, not one fate


def _auth():
    return {"Authorization": f"Bearer {TOKEN}"}


def test_template_list_is_paged_like_metas(meta):
    """The app's client follows paging.next through every page of the template list."""
    templates = list_templates(WABA_ID, TOKEN)
    names = {t.name for t in templates}
    assert {"weekly_offer", "personal_offer", "order_update", "paused_promo"} <= names
    assert [t.status for t in list_templates(WABA_ID, TOKEN, name="paused_promo")] == ["PAUSED"]
    first_page = requests.get(
        f"{meta.url}/v25.0/{WABA_ID}/message_templates", params={"limit": 2}, headers=_auth()
    ).json()
    assert len(first_page["data"]) == 2 and "next" in first_page["paging"]


class _Receiver(BaseHTTPRequestHandler):
    bodies: list

    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        self.bodies.append((raw, self.headers["X-Hub-Signature-256"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    bodies: list = []
    handler = type("Receiver", (_Receiver,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/meta", bodies
    server.shutdown()


def test_status_webhooks_are_signed_batched_duplicated_and_complete(meta, receiver):
    """Every planned status reaches the app in signed bodies (several statuses per body, some
    twice, split across entries), and read-without-delivered and failed-then-delivered occur."""
    url, bodies = receiver
    meta.configure(
        webhook_url=url,
        delivery={"read_without_delivered": 0.2, "failed_then_delivered": 0.2},
        adversity={
            "duplicates": 0.3,
            "max_batch": 8,
            "post_delay_s": [0, 0.3],
            "multi_entry": 0.5,
            "time_scale": 1e6,
        },
    )
    for n in range(60):
        assert _send(to=f"+3461234{n:04d}", callback=str(n)).kind == "accepted"
    meta.wait_until_posted()
    truth = meta.truth()["messages"]
    posted = []
    for raw, signature in bodies:
        secret = b"dev-only-meta-app-secret-not-for-production"
        assert signature == "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
        body = json.loads(raw)
        for entry in body["entry"]:
            for change in entry["changes"]:
                assert change["value"]["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
                posted += change["value"]["statuses"]
    planned = sum(len(m["events"]) for m in truth.values())
    assert len({(s["id"], s["status"]) for s in posted}) == len(
        {(w, e) for w, m in truth.items() for e in m["events"]}
    )
    assert len(posted) > planned  # duplicates
    assert max(len(json.loads(raw)["entry"][0]["changes"][0]["value"]["statuses"]) for raw, _ in bodies) > 1
    outcomes = {m["outcome"] for m in truth.values()}
    assert {"read_without_delivered", "failed_then_delivered"} <= outcomes
    failed = [s for s in posted if s["status"] == "failed"]
    assert failed and all(s["errors"][0]["code"] in (131026, 131049, 131050, 130472, 132015) for s in failed)
    assert all(s["biz_opaque_callback_data"] == truth[s["id"]]["callback"] for s in posted)


def test_a_replay_posts_exactly_the_asked_number_of_statuses(meta, receiver):
    """For messages the app holds, the stand-in posts every planned status plus duplicates up
    to the exact total, shuffled, in bodies of up to max_batch statuses."""
    url, bodies = receiver
    meta.configure(webhook_url=url, adversity={"max_batch": 40})
    messages = [[f"wamid.replay{n}", str(n), f"+3461234{n:04d}"] for n in range(50)]
    replay = {"phone_number_id": PHONE_NUMBER_ID, "messages": messages, "events": 200}
    answer = meta.http.post(f"{meta.url}/sim/replay", json=replay).json()
    assert answer["total"] == 200 and answer["unique"] + answer["duplicates"] == 200
    meta.wait_until_posted()
    posted = [
        s
        for raw, _ in bodies
        for entry in json.loads(raw)["entry"]
        for change in entry["changes"]
        for s in change["value"]["statuses"]
    ]
    assert len(posted) == 200 and len({(s["id"], s["status"]) for s in posted}) == answer["unique"]
    truth = meta.http.get(f"{meta.url}/sim/truth", params={"compact": "1"}).json()["messages"]
    assert set(truth) == {m[0] for m in messages} and all(len(v) == 5 for v in truth.values())
