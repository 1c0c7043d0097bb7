"""What dispatch does with each of Meta's refusal codes: retry with backoff, fail, or halt."""

from __future__ import annotations

import pytest

from core.dispatch.send_policy import MAX_BACKOFF_S, Verdict, decide


@pytest.mark.parametrize("code", ["130429", "131056", "1", "2", "4", "80007", "131016", "133004", "131000"])
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
    """130429, 4 and 80007 are limits of the number, app or account: every send waits a little."""
    assert all(decide(code, 1).number_pause_s > 0 for code in ("130429", "4", "80007"))


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
