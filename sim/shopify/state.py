"""The stand-in's memory: shops and their customers, tokens, and each shop's GraphQL bucket."""

from __future__ import annotations

import bisect
import copy
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlparse

import jwt
import phonenumbers
from graphql import GraphQLError, execute, get_operation_ast, parse

from sim.shopify import customers as shapes
from sim.shopify.billing import Purchases
from sim.shopify.bulk import BulkExports
from sim.shopify.config import SimConfig
from sim.shopify.graphql_api import SCHEMA, query_cost
from sim.shopify.orders import ShopOrders
from sim.shopify.schema import validation_errors
from sim.shopify.webhooks import WebhookSender

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class OAuthError(Exception):
    """A refused token request, answered as Shopify does: HTTP 400 (or 401) with ``error``."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class Unauthorized(Exception):
    """An Admin API call without a valid access token: HTTP 401."""


@dataclass
class ShopRecord:
    domain: str
    customers: dict[int, dict]
    level: float  # points left in the bucket
    refilled: float = field(default_factory=time.monotonic)
    installed: bool = True
    ordered: list[int] | None = None  # the customer ids in order, until the set changes

    def order(self) -> list[int]:
        if self.ordered is None or len(self.ordered) != len(self.customers):
            self.ordered = sorted(self.customers)
        return self.ordered


@dataclass
class Grant:
    shop: str
    expires_at: float | None  # monotonic; None never expires


class ShopifyState:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.initial = copy.deepcopy(config)
        self.lock = threading.Lock()
        self.sender = WebhookSender(self)
        self.bulk = BulkExports(self)
        self.orders = ShopOrders()
        self.purchases = Purchases(self)
        self.reset()

    def reset(self, config: bool = False) -> None:
        """Forget shops, tokens and counts; with ``config``, restore the start-up configuration."""
        with self.lock:
            if config:
                self.config = copy.deepcopy(self.initial)
            self.shops: dict[str, ShopRecord] = {}
            self.access: dict[str, Grant] = {}
            self.refresh: dict[str, Grant] = {}
            self.stats: Counter = Counter()
            self.seeded = shapes.seed_document_customers(self.config.seed_document)
        self.bulk.reset()
        self.orders.reset()
        self.purchases.reset()

    # ---- shops and customers -----------------------------------------------------------------

    def shop(self, domain: str) -> ShopRecord:
        """The shop, created with its deterministic customers on first mention (lock held)."""
        record = self.shops.get(domain)
        if record is None:
            found = self.seeded.get(domain)
            customers = copy.deepcopy(found) if found is not None else None
            if customers is None:
                customers = shapes.generate(domain, self.config.seed, self.config.customers)
            record = ShopRecord(domain, customers, float(self.config.bucket))
            self.shops[domain] = record
        return record

    def put_customers(self, domain: str, entries: list[dict]) -> list[dict]:
        with self.lock:
            record = self.shop(domain)
            record.customers = {c["id"]: c for c in (shapes.from_seed(e, n) for n, e in enumerate(entries))}
            record.ordered = None
            return list(record.customers.values())

    def upsert_customer(self, domain: str, changes: dict) -> dict:
        """Create or change one customer (seed format); its ``updated_at`` moves to now."""
        with self.lock:
            record = self.shop(domain)
            customer_id = int(changes["shopify_id"])
            current = record.customers.get(customer_id) or shapes.from_seed({"shopify_id": customer_id}, 0)
            fresh = shapes.from_seed({**self._as_seed(current), **changes}, 0)
            fresh["created_at"] = current["created_at"]
            fresh["updated_at"] = shapes.now_iso()
            for channel in ("sms", "whatsapp"):
                if (
                    fresh[channel]
                    and current.get(channel)
                    and fresh[channel]["state"] == current[channel]["state"]
                ):
                    fresh[channel] = current[channel]  # unchanged consent keeps its time
                elif fresh[channel]:
                    fresh[channel]["updated_at"] = fresh["updated_at"]
            if customer_id not in record.customers:
                record.ordered = None
            record.customers[customer_id] = fresh
            return fresh

    @staticmethod
    def _as_seed(customer: dict) -> dict:
        return {
            "shopify_id": customer["id"],
            "first_name": customer["first_name"],
            "last_name": customer["last_name"],
            "email": customer["email"],
            "phone": customer["phone"],
            "country_code": customer["country"],
            "tags": customer["tags"],
            "consent": (customer["whatsapp"] or {}).get("state", "NOT_SUBSCRIBED"),
            "sms_consent": (customer["sms"] or {}).get("state", "NOT_SUBSCRIBED"),
        }

    def list_customers(self, domain: str) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(c) for _, c in sorted(self.shop(domain).customers.items())]

    def customers_page(
        self, domain: str, first: int, after_id: int | None, updated: tuple[str, str] | None = None
    ) -> tuple[list[dict], bool]:
        """A page by id after ``after_id``, of the customers matching the ``updated_at`` term."""
        with self.lock:
            record = self.shop(domain)
            customers, order = record.customers, record.order()
            ids = order[bisect.bisect_right(order, after_id) if after_id is not None else 0 :]
            if updated is not None:
                ids = [i for i in ids if _matches(customers[i]["updated_at"], updated)]
            page = [shapes.graphql_node(customers[i]) for i in ids[:first]]
            return page, len(ids) > first

    def count_customers(self, domain: str, updated: tuple[str, str] | None = None) -> int:
        with self.lock:
            customers = self.shop(domain).customers.values()
            return sum(1 for c in customers if updated is None or _matches(c["updated_at"], updated))

    def customer_node(self, domain: str, customer_gid: str) -> dict | None:
        with self.lock:
            customer = self.shop(domain).customers.get(_customer_id(customer_gid))
            return shapes.graphql_node(customer) if customer else None

    def shop_node(self, domain: str) -> dict:
        return {
            "id": f"gid://shopify/Shop/{shapes.first_id(domain)}",
            "name": domain.split(".")[0].capitalize(),
            "myshopifyDomain": domain,
            "ianaTimezone": "Europe/Madrid",
            "currencyCode": "EUR",
            "plan": {
                "displayName": "Development" if domain in self.config.development_stores else "Basic",
                "publicDisplayName": "Development" if domain in self.config.development_stores else "Basic",
                "partnerDevelopment": domain in self.config.development_stores,
                "shopifyPlus": False,
            },
        }

    def update_customer(self, domain: str, changes: dict) -> dict:
        """``customerUpdate``: Shopify answers HTTP 200 either way; problems are userErrors."""
        with self.lock:
            record = self.shop(domain)
            customer = record.customers.get(_customer_id(changes.get("id") or ""))
            if customer is None:
                return _user_errors(["id"], "Customer does not exist")
            reset = False
            if "phone" in changes:
                phone, problem = _shopify_phone(changes["phone"], customer["country"])
                if problem:
                    return _user_errors(["phone"], problem)
                taken = any(c["phone"] == phone for i, c in record.customers.items() if i != customer["id"])
                if phone is not None and taken:
                    return _user_errors(["phone"], "Phone has already been taken")
                reset = self.config.phone_change_resets_consent and phone != customer["phone"]
                if reset:  # see SimConfig.phone_change_resets_consent
                    customer["sms"] = customer["whatsapp"] = None
                customer["phone"] = phone
            for key, name in (("firstName", "first_name"), ("lastName", "last_name"), ("tags", "tags")):
                if key in changes:
                    customer[name] = changes[key]
            customer["updated_at"] = shapes.now_iso()
            self.stats["customer_updates"] += 1
            updated = copy.deepcopy(customer)
        self.sender.send_later(domain, "customers/update", shapes.rest_body(updated, self._version()))
        if reset:  # Shopify tells apps of a consent change by its own topics
            sms, whatsapp = (
                "customers_marketing_consent/update",
                "customers_whats_app_marketing_consent/update",
            )
            self.sender.send_later(domain, sms, shapes.sms_consent_body(updated))
            self.sender.send_later(domain, whatsapp, shapes.whatsapp_consent_body(updated))
        return {"customer": shapes.graphql_node(updated), "userErrors": []}

    def update_whatsapp_consent(self, domain: str, changes: dict) -> dict:
        """``customerWhatsAppMarketingConsentUpdate``: the customer must have a phone number;
        NEVER_SUBSCRIBED and REDACTED are read-only states."""
        consent = changes.get("whatsAppMarketingConsent") or {}
        with self.lock:
            customer = self.shop(domain).customers.get(_customer_id(changes.get("customerId") or ""))
            if customer is None:
                return _consent_errors(["input", "customerId"], "Customer not found", "INVALID")
            if not customer["phone"]:
                return _consent_errors(
                    ["input", "customerId"], "Customer must have a phone number", "MISSING_ARGUMENT"
                )
            if consent.get("state") in ("NEVER_SUBSCRIBED", "REDACTED"):
                message = f"State {consent['state']} can't be set"
                return _consent_errors(["input", "whatsAppMarketingConsent", "state"], message, "INVALID")
            now = shapes.now_iso()
            customer["whatsapp"] = {"state": consent["state"], "updated_at": consent.get("updatedAt") or now}
            customer["updated_at"] = now
            self.stats["whatsapp_consent_updates"] += 1
            updated = copy.deepcopy(customer)
        topic = "customers_whats_app_marketing_consent/update"
        self.sender.send_later(domain, topic, shapes.whatsapp_consent_body(updated))
        return {"customerPhoneNumber": shapes.phone_node(updated), "userErrors": []}

    def _version(self) -> str:
        return self.config.webhook_api_version

    # ---- OAuth ------------------------------------------------------------------------------

    def token_request(self, params: dict) -> dict:
        if (
            params.get("client_id") != self.config.api_key
            or params.get("client_secret") != self.config.api_secret
        ):
            raise OAuthError("invalid_client", "Client authentication failed", 401)
        grant = params.get("grant_type")
        if grant == TOKEN_EXCHANGE:
            return self._exchange(params)
        if grant == "refresh_token":
            return self._refresh(str(params.get("refresh_token") or ""))
        raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _exchange(self, params: dict) -> dict:
        if params.get("subject_token_type") != ID_TOKEN:
            raise OAuthError("invalid_request", "subject_token_type must be an id_token")
        if params.get("requested_token_type") != OFFLINE_TOKEN:
            raise OAuthError("invalid_request", "the stand-in issues offline access tokens only")
        domain = self._verified_shop(str(params.get("subject_token") or ""))
        expiring = str(params.get("expiring", "0")) == "1"
        with self.lock:
            self.shop(domain).installed = True
            self.stats["exchanges"] += 1
            return self._issue(domain, expiring)

    def _verified_shop(self, id_token: str) -> str:
        try:
            claims = jwt.decode(
                id_token,
                self.config.api_secret,
                algorithms=["HS256"],
                audience=self.config.api_key,
                leeway=10,
                options={"require": ["exp", "dest", "iss"]},
            )
        except jwt.PyJWTError as error:
            raise OAuthError("invalid_subject_token", f"the id token is invalid: {error}") from None
        shop = urlparse(str(claims["dest"])).hostname or ""
        if not shop.endswith(".myshopify.com") or urlparse(str(claims["iss"])).hostname != shop:
            raise OAuthError("invalid_subject_token", "the id token names no shop")
        return shop

    def _refresh(self, refresh_token: str) -> dict:
        with self.lock:
            grant = self.refresh.pop(refresh_token, None)  # rotated: usable once
            if grant is None or _expired(grant):
                raise OAuthError("invalid_grant", "the refresh token is invalid, used or expired")
            self.stats["refreshes"] += 1
            return self._issue(grant.shop, expiring=True)

    def _issue(self, domain: str, expiring: bool) -> dict:
        access = "shpat_" + secrets.token_hex(16)
        answer = {"access_token": access, "scope": self.config.scopes}
        if not expiring:
            self.access[access] = Grant(domain, None)
            return answer
        refresh = "shprt_" + secrets.token_hex(16)
        ttl, refresh_ttl = self.config.access_token_ttl_s, self.config.refresh_token_ttl_s
        self.access[access] = Grant(domain, time.monotonic() + ttl)
        self.refresh[refresh] = Grant(domain, time.monotonic() + refresh_ttl)
        return answer | {"expires_in": ttl, "refresh_token": refresh, "refresh_token_expires_in": refresh_ttl}

    def expire_tokens(self, domain: str) -> int:
        """Make every access token of the shop expired now (tests of the 401 path)."""
        with self.lock:
            grants = [g for g in self.access.values() if g.shop == domain]
            for grant in grants:
                grant.expires_at = time.monotonic() - 1
            return len(grants)

    def uninstall(self, domain: str) -> None:
        with self.lock:
            self.shop(domain).installed = False
            for tokens in (self.access, self.refresh):
                for token in [t for t, g in tokens.items() if g.shop == domain]:
                    del tokens[token]

    # ---- GraphQL ----------------------------------------------------------------------------

    def shop_for_token(self, token: str | None) -> str:
        with self.lock:
            grant = self.access.get(token or "")
            if grant is None or _expired(grant):
                self.stats["unauthorized"] += 1
                raise Unauthorized(INVALID_TOKEN)
            return grant.shop

    def next_fault(self) -> dict | None:
        with self.lock:
            if self.config.faults:
                self.stats["faults"] += 1
                return self.config.faults.pop(0)
            return None

    def graphql(self, domain: str, query: str, variables: dict | None, base_url: str = "") -> dict:
        """Price, throttle and run one request; the answer is HTTP 200 in every case."""
        try:
            document = parse(query)
        except GraphQLError as error:
            return {"errors": [error.formatted | {"extensions": {"code": "parseError"}}]}
        problems = validation_errors(SCHEMA, document)
        operation = get_operation_ast(document)
        if problems or operation is None:
            return {"errors": problems or [{"message": "No operation given", "locations": []}]}
        cost = query_cost(document, operation, variables or {})
        with self.lock:
            status = self._take(domain, cost)
        if status.get("error"):
            return {"errors": [status["error"]], "extensions": {"cost": status["cost"]}}
        result = execute(
            SCHEMA,
            document,
            variable_values=variables,
            context_value={"state": self, "shop": domain, "base_url": base_url},
        )
        answer: dict = {"data": result.data, "extensions": {"cost": status["cost"]}}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        return answer

    def _take(self, domain: str, cost: int) -> dict:
        """Refill the leaky bucket, then take ``cost`` from it or refuse (lock held)."""
        record, config = self.shop(domain), self.config
        now = time.monotonic()
        record.level = min(float(config.bucket), record.level + (now - record.refilled) * config.restore_rate)
        record.refilled = now
        self.stats["graphql"] += 1
        error = None
        if cost > config.max_query_cost:
            limit = config.max_query_cost
            message = f"Query cost is {cost}, which exceeds the single query max cost limit ({limit})."
            error = {"message": message, "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost}}
        elif cost > record.level:
            self.stats["throttled"] += 1
            error = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
        else:
            record.level -= cost
        throttle = {
            "maximumAvailable": float(config.bucket),
            "currentlyAvailable": int(record.level),
            "restoreRate": float(config.restore_rate),
        }
        actual = None if error else cost
        return {
            "error": error,
            "cost": {"requestedQueryCost": cost, "actualQueryCost": actual, "throttleStatus": throttle},
        }


def _expired(grant: Grant) -> bool:
    return grant.expires_at is not None and time.monotonic() >= grant.expires_at


def _customer_id(customer_gid: str) -> int:
    tail = str(customer_gid).rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _matches(updated_at: str, term: tuple[str, str]) -> bool:
    """Shopify's ``updated_at`` comparison (ISO times of one format compare as strings once
    both are in UTC)."""
    comparator, value = term
    moment, bound = _utc(updated_at), _utc(value)
    return {
        ">": moment > bound,
        ">=": moment >= bound,
        "<": moment < bound,
        "<=": moment <= bound,
        "=": moment == bound,
    }[comparator]


def _utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _consent_errors(field: list[str], message: str, code: str) -> dict:
    return {"customerPhoneNumber": None, "userErrors": [{"field": field, "message": message, "code": code}]}


def _user_errors(field: list[str], message: str) -> dict:
    return {"customer": None, "userErrors": [{"field": field, "message": message}]}


def _shopify_phone(raw: str | None, country: str | None) -> tuple[str | None, str | None]:
    """Shopify reads a phone in the customer's address country when it has no calling code,
    keeps it in E.164, and refuses what is not dialable. ``None`` removes the phone."""
    if raw is None or not str(raw).strip():
        return None, None
    try:
        number = phonenumbers.parse(str(raw), country)
    except phonenumbers.NumberParseException:
        return None, "Phone is invalid"
    if not phonenumbers.is_valid_number(number):
        return None, "Phone is invalid"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def shop_body(domain: str) -> dict:
    """The Shop object ``app/uninstalled`` carries."""
    return {
        "id": shapes.first_id(domain),
        "name": domain.split(".")[0].capitalize(),
        "email": f"owner@{domain}",
        "domain": domain,
        "myshopify_domain": domain,
        "country_code": "ES",
        "currency": "EUR",
        "iana_timezone": "Europe/Madrid",
        "plan_name": "basic",
    }


def webhook_payload(state: ShopifyState, domain: str, topic: str, customer_id: int | None) -> dict:
    """The body Shopify would send for ``topic`` about the shop (and customer, when one is named)."""
    shop_fields = {"shop_id": shapes.first_id(domain), "shop_domain": domain}
    if topic in ("app/uninstalled", "shop/update"):
        return shop_body(domain)
    if topic == "shop/redact":
        return shop_fields
    if topic == "customers/delete":
        return shapes.delete_body(int(customer_id))
    customer = next((c for c in state.list_customers(domain) if c["id"] == customer_id), None)
    if customer is None:
        customer = shapes.from_seed({"shopify_id": customer_id or 0}, 0)
    if topic in ("customers/create", "customers/update"):
        return shapes.rest_body(customer, state.config.webhook_api_version)
    if topic == "customers_marketing_consent/update":
        return shapes.sms_consent_body(customer)
    if topic == "customers_whats_app_marketing_consent/update":
        return shapes.whatsapp_consent_body(customer)
    person = {"id": customer["id"], "email": customer["email"], "phone": customer["phone"]}
    if topic == "customers/redact":
        return shop_fields | {"customer": person, "orders_to_redact": []}
    if topic == "customers/data_request":
        return shop_fields | {
            "orders_requested": [],
            "customer": person,
            "data_request": {"id": 9_000 + customer["id"] % 1000},
        }
    raise ValueError(f"no built-in body for topic {topic!r}: give a payload")
