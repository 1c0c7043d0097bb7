"""The Meta stand-in (``python -m sim.meta``) as a test fixture: one real server process per
test session, reset to its start-up state before each test that uses it."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from core.crypto import encrypt_token
from core.settings import load_settings
from tests.stand_ins import start_process, wait_until_no_pending_webhooks

# The stand-in's demo account: the shop's phone number id, WhatsApp Business Account and token.
PHONE_NUMBER_ID, WABA_ID, TOKEN = "1234567890", "5550001", "demo-meta-access-token"


class MetaStandIn:
    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()

    def reset(self) -> None:
        self.http.post(f"{self.url}/sim/reset", json={"config": True}, timeout=10).raise_for_status()

    def configure(self, **changes) -> dict:
        response = self.http.put(f"{self.url}/sim/config", json=changes, timeout=10)
        response.raise_for_status()
        return response.json()

    def truth(self) -> dict:
        return self.http.get(f"{self.url}/sim/truth", timeout=30).json()

    def stats(self) -> dict:
        return self.http.get(f"{self.url}/sim/stats", timeout=10).json()

    def rate(self) -> dict:
        return self.http.get(f"{self.url}/sim/rate", timeout=30).json()

    def sends(self) -> list[dict]:
        """Every accepted send's recipient and wall-clock arrival time, in arrival order."""
        return self.http.get(f"{self.url}/sim/sends", timeout=30).json()["sends"]

    def subscriptions(self) -> dict:
        """The apps subscribed to each WABA now, and every unsubscription the stand-in was asked."""
        return self.http.get(f"{self.url}/sim/subscriptions", timeout=10).json()

    def wait_until_posted(self, timeout_s: float = 60) -> None:
        """Until every scheduled webhook has been posted (the stand-in's own queue is empty)."""
        wait_until_no_pending_webhooks(self.stats, timeout_s)


def start_stand_in(*args: str) -> tuple[subprocess.Popen, str]:
    return start_process("sim.meta", "Meta", *args)


@pytest.fixture(scope="session")
def _meta_process(service_urls):
    process, url = start_stand_in()
    # The test shops' numbers, and the stand-in, run at Meta's top tier.
    os.environ.update(META_GRAPH_URL=url, META_MESSAGES_PER_SECOND="1000")
    yield url
    process.terminate()
    process.wait(timeout=10)
    for name in ("META_GRAPH_URL", "META_MESSAGES_PER_SECOND"):
        os.environ.pop(name, None)


@pytest.fixture
def meta(_meta_process, app) -> MetaStandIn:
    """The stand-in, reset, with the cap of the test shops' numbers (1,000 a second);
    META_GRAPH_URL points at it, in the environment and in the test's app (which may have been
    built before the stand-in started)."""
    app.config["SETTINGS"] = load_settings()
    stand_in = MetaStandIn(_meta_process)
    stand_in.reset()
    stand_in.configure(cap=1000)
    return stand_in


def demo_connection() -> dict:
    """A shop's columns for a connection to the stand-in's demo WhatsApp account."""
    return {
        "meta_phone_number_id": PHONE_NUMBER_ID,
        "meta_waba_id": WABA_ID,
        "meta_access_token_ciphertext": encrypt_token(TOKEN),
    }


def whatsapp_shop(make, domain: str = "demo.myshopify.com", **fields):
    """A shop connected to the stand-in's demo WhatsApp account."""
    fields.setdefault("credits", 100_000)
    fields.setdefault("messages_per_second", 1000)
    return make.shop(domain, **demo_connection(), **fields)
