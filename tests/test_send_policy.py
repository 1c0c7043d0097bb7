"""What dispatch does with each of Meta's refusal codes: retry with backoff, fail, or halt."""

from __future__ import annotations

import pytest
from jsonschema.exceptions import ValidationError

from core.dispatch.send_policy import MAX_BACKOFF_S, Verdict, decide
from core.rules.failure_codes import describe
from core.rules.meta_halts import Scope, counted, scope
from tests.meta_openapi import validate_meta_schema


@pytest.mark.parametrize(
    "code",
    ["130429", "131056", "1", "2", "4", "80007", "131016", "133004", "131000", "17", "32", "613", "80008"],
)
def test_transient_codes_are_retried_with_a_growing_backoff(code):
    """Rate limits and outages: retried, each wait longer than the one before (up to a cap)."""
    first, second = decide(code, 1), decide(code, 2)
    assert first.verdict == second.verdict == Verdict.RETRY
    assert 0 < first.delay_s < second.delay_s <= MAX_BACKOFF_S


def test_the_pair_rate_limit_backs_off_by_powers_of_four_for_that_recipient_only():
    """131056: Meta's 4^X seconds, and the number goes on sending to everyone else."""
    assert [decide("131056", n).delay_s for n in (1, 2, 3)] == [4, 16, 64]
    assert decide("131056", 1).number_pause_s == 0


def test_number_wide_limits_pause_the_number():
    """130429, 4 and 80007 are limits of the number, app or account: every send waits a little.
    So are the Graph API's throttling codes 17, 32, 613 and 80008 (Meta's rate-limiting page:
    calls fail until enough time has passed), which failed each message before."""
    codes = ("130429", "4", "80007", "17", "32", "613", "80008")
    assert all(decide(code, 1).number_pause_s > 0 for code in codes)


def test_retries_are_bounded():
    """An unknown error (131000) is tried a few times, then the message fails."""
    assert decide("131000", 2).verdict == Verdict.RETRY
    assert decide("131000", 3).verdict == Verdict.FAIL
    assert decide("130429", 8).verdict == Verdict.FAIL


@pytest.mark.parametrize(
    "code",
    [
        *("0", "3", "10", "190", "200", "230", "299", "133010"),
        *("131048", "131042", "368", "131031", "131045"),
        # Meta's error-code page (reference/whatsapp.md 3.4): the number deleted, a display
        # name not approved, marketing templates off on Cloud API, a limit for misclassified
        # templates. Every send from the number fails alike; these failed one by one before.
        *("33", "131037", "131063", "131064"),
        *("132000", "132001", "132005", "132012", "132015", "132016", "131008"),
    ],
)
def test_account_and_template_codes_halt_the_campaign(code):
    """Every further send would fail the same way and hurt the number's quality: halt."""
    assert decide(code, 1).verdict == Verdict.HALT


@pytest.mark.parametrize("code", ["131026", "131049", "131050", "130472", "131021", "300", "999999"])
def test_recipient_codes_fail_the_message_only(code):
    """Not on WhatsApp, frequency-capped, opted out, in an experiment, unknown: that message fails."""
    assert decide(code, 1).verdict == Verdict.FAIL


@pytest.mark.parametrize("code", ["131053", "100"])
def test_header_media_and_invalid_parameter_fail_one_answer_and_halt_only_by_count(code):
    """131053 (header media) and 100 (invalid parameter) usually hit every message, but one can
    be a stray (a media fetch that failed once, one recipient's value): one answer fails its
    message; the count of the campaign's last failures halts (core/dispatch/counted_halt.py)."""
    assert decide(code, 1).verdict == Verdict.FAIL
    assert counted(code) and scope(code) == Scope.TEMPLATE


def test_media_a_customer_sent_is_not_the_campaigns_concern():
    """131052: Meta could not download media *the user sent*; nothing about our template."""
    assert decide("131052", 1).verdict == Verdict.FAIL and scope("131052") == Scope.RECIPIENT


REGISTRATION = "WhatsAppBusinessPhoneNumberRegistrationRequest"


def test_the_133010_remedy_says_registration_is_an_api_call():
    """Meta: a number is registered with POST /{phone-number-id}/register and its PIN, not in
    WhatsApp Manager."""
    remedy = describe("133010").remedy
    assert "/register" in remedy and "PIN" in remedy and "not offer this in WhatsApp Manager" in remedy
    # Meta's OpenAPI description: POST /{Phone-Number-ID}/register takes the six-digit PIN the
    # remedy names (WhatsAppBusinessPhoneNumberRegistrationRequest: pin ^[0-9]{6}$, required).
    assert "six-digit" in remedy
    validate_meta_schema({"messaging_product": "whatsapp", "pin": "123456"}, REGISTRATION)
    with pytest.raises(ValidationError):
        validate_meta_schema({"messaging_product": "whatsapp", "pin": "1234"}, REGISTRATION)
    with pytest.raises(ValidationError):
        validate_meta_schema({"messaging_product": "whatsapp"}, REGISTRATION)


@pytest.mark.parametrize(
    "code", ["17", "32", "613", "80008", "100", "131052", "131053", "131063", "131064", "131037", "33"]
)
def test_every_reviewed_code_has_its_own_title(code):
    """No reviewed code falls back to "WhatsApp error N" on the merchant's pages."""
    assert describe(code).title != f"WhatsApp error {code}" and describe(code).category != "unknown"
