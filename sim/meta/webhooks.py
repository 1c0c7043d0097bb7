"""Posting status webhooks to the app as Meta does: signed, late, shuffled, duplicated, batched.

Events wait in a heap until their posting time; poster threads take what is due, a random
number at a time, and post them as one body (sometimes split over several entries and
changes, as Meta batches). A body the app does not answer with exactly 200 is posted again
later with a growing delay, as Meta retries for days.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time

import requests

from sim.meta.fates import status_object

MAX_POST_ATTEMPTS = 30


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookPoster:
    def __init__(self, state) -> None:
        self.state = state  # MetaState: config, accounts
        self.heap: list = []
        self.order = itertools.count()
        self.cond = threading.Condition()
        self.in_flight = 0
        self.stats = {"bodies": 0, "statuses": 0, "retries": 0, "dropped": 0}
        self.threads: list[threading.Thread] = []
        self.stopping = False

    def start(self, posters: int) -> None:
        for n in range(posters):
            thread = threading.Thread(target=self._run, args=(n,), name=f"webhook-poster-{n}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()

    def schedule(self, phone_number_id: str, status, due: float, attempt: int = 0) -> None:
        """Post ``status`` (a status object, or a (fate, event) pair turned into one when it is
        posted, which keeps a million waiting events small) at ``due`` (monotonic time)."""
        with self.cond:
            heapq.heappush(self.heap, (due, next(self.order), phone_number_id, status, attempt))
            self.cond.notify()

    def schedule_many(self, phone_number_id: str, statuses: list, due: float) -> None:
        """Post all of ``statuses`` from ``due`` on, in the order given."""
        with self.cond:
            self.heap.extend((due, next(self.order), phone_number_id, status, 0) for status in statuses)
            heapq.heapify(self.heap)
            self.cond.notify_all()

    def clear(self) -> None:
        """Drop every event not posted yet (bodies being posted still go out)."""
        with self.cond:
            self.heap.clear()

    def pending(self) -> int:
        with self.cond:
            return len(self.heap) + self.in_flight

    def _run(self, n: int) -> None:
        rng = random.Random(self.state.config.seed * 1000 + n)
        http = requests.Session()
        while True:
            batch = self._take_due(rng)
            if batch is None:
                return
            try:
                self._post(http, rng, batch)
            finally:
                with self.cond:
                    self.in_flight -= len(batch)
                    self.cond.notify_all()

    def _take_due(self, rng: random.Random) -> list | None:
        with self.cond:
            while True:
                if self.stopping:
                    return None
                now = time.monotonic()
                if self.heap and self.heap[0][0] <= now:
                    size = rng.randint(1, max(1, self.state.config.adversity.max_batch))
                    batch = []
                    while self.heap and self.heap[0][0] <= now and len(batch) < size:
                        batch.append(heapq.heappop(self.heap))
                    self.in_flight += len(batch)
                    return batch
                timeout = self.heap[0][0] - now if self.heap else None
                self.cond.wait(timeout)

    def _post(self, http: requests.Session, rng: random.Random, batch: list) -> None:
        config = self.state.config
        body = json.dumps(self._envelope(rng, batch), separators=(",", ":")).encode()
        try:
            response = http.post(
                config.webhook_url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": sign(config.app_secret, body),
                },
                timeout=30,
            )
            ok = response.status_code == 200
        except requests.RequestException:
            ok = False
        if ok:
            self._count(bodies=1, statuses=len(batch))
            return
        for _due, _order, phone_number_id, status, attempt in batch:
            if attempt + 1 >= MAX_POST_ATTEMPTS:
                self._count(dropped=1)
                continue
            self._count(retries=1)
            self.schedule(
                phone_number_id, status, time.monotonic() + min(0.25 * 2**attempt, 30.0), attempt + 1
            )

    def _count(self, **increments: int) -> None:
        with self.cond:
            for key, value in increments.items():
                self.stats[key] += value

    def _envelope(self, rng: random.Random, batch: list) -> dict:
        """Group the statuses by phone number (one entry per account, as Meta does), and now
        and then split a group across several entries or changes: parsers that read only
        ``[0]`` lose statuses here."""
        by_number: dict[str, list] = {}
        for _due, _order, phone_number_id, status, _attempt in batch:
            by_number.setdefault(phone_number_id, []).append(
                status if isinstance(status, dict) else status_object(*status)
            )
        entries = []
        for phone_number_id, statuses in by_number.items():
            account = self.state.config.accounts.get(phone_number_id, {})
            groups = [statuses]
            if len(statuses) > 1 and rng.random() < self.state.config.adversity.multi_entry:
                cut = rng.randint(1, len(statuses) - 1)
                groups = [statuses[:cut], statuses[cut:]]
            changes = [_change(phone_number_id, account, group) for group in groups]
            if len(changes) > 1 and rng.random() < 0.5:
                entries += [{"id": account.get("waba_id", ""), "changes": [change]} for change in changes]
            else:
                entries.append({"id": account.get("waba_id", ""), "changes": changes})
        return {"object": "whatsapp_business_account", "entry": entries}


def _change(phone_number_id: str, account: dict, statuses: list) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": account.get("display", ""),
            "phone_number_id": phone_number_id,
        },
    }
    if contacts := _contacts(statuses):
        value["contacts"] = contacts
    value["statuses"] = statuses
    return {"field": "messages", "value": value}


def _contacts(statuses: list) -> list:
    """Since the business-scoped user ids of 2026, a status body names its recipients in
    ``contacts[]`` (profile, wa_id when known, user_id), on sent, delivered and read, never on
    failed (reference/whatsapp.md 1.4)."""
    contacts, seen = [], set()
    for status in statuses:
        who = (status.get("recipient_id"), status.get("recipient_user_id"))
        if status.get("status") == "failed" or who in seen or who == (None, None):
            continue
        seen.add(who)
        contact: dict = {"profile": {"name": "Customer"}}
        if who[0]:
            contact["wa_id"] = who[0]
        if who[1]:
            contact["user_id"] = who[1]
        contacts.append(contact)
    return contacts
