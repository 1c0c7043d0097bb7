"""Tracked URL buttons: per-message tokens, the redirect, unique clicks, unknown tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.campaigns.tracking import tracked_suffix
from core.counts.recount import recount
from core.models import Campaign, Click
from core.settings import get_settings
from tests.tokens import bearer
from web import create_app


def tracked_button(destination: str, index: str = "0") -> list[dict]:
    """A campaign's components with a tracked URL button, as drafts store them."""
    return [
        {
            "type": "button",
            "sub_type": "url",
            "index": index,
            "parameters": [{"type": "text", "track": destination}],
        }
    ]


def _link(make, name: str = "Winter sale", destination: str = "https://shop.example/winter?ref=wa"):
    shop = make.shop()
    campaign = make.campaign(shop, name=name, template_components=tracked_button(destination))
    message = make.message(campaign, make.customer(shop), wamid="wamid.T1", status="read")
    make.recount(campaign)
    return shop, campaign, message, tracked_suffix(shop.id, message.id, "0", destination)


def _clicked(make, campaign) -> int:
    with Session(make.engine) as session:
        return session.scalar(select(Campaign.clicked_count).where(Campaign.id == campaign.id))


def test_opening_a_tracked_link_redirects_with_utm_and_counts_one_click(client, make):
    """The redirect goes to the destination with UTM parameters naming the campaign, keeps the
    merchant's own query, and counts the message once however often it is opened."""
    _shop, campaign, _message, token = _link(make)
    first = client.get(f"/r/{token}")
    assert first.status_code == 302
    location = urlsplit(first.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "shop.example", "/winter")
    assert parse_qs(location.query) == {
        "ref": ["wa"],
        "utm_source": ["whatsapp"],
        "utm_medium": ["message"],
        "utm_campaign": ["Winter sale"],
    }
    assert first.headers["Cache-Control"] == "no-store"
    assert client.get(f"/r/{token}").status_code == 302
    assert _clicked(make, campaign) == 1
    with Session(make.engine) as session, session.begin():
        opens = session.scalar(select(func.count()).select_from(Click).where(Click.kind == "url_button"))
        assert opens == 2  # every open kept for the timeline
        assert recount(session, campaign.shop_id, [campaign.id]) == []  # the counter is exact


def test_each_message_gets_its_own_token_and_a_resend_keeps_it(make):
    """Two messages get different unguessable tokens; a retried send of the same message
    carries the same token."""
    import base64

    shop, campaign, message, token = _link(make)
    other = make.message(campaign, make.customer(shop), wamid="wamid.T2")
    assert tracked_suffix(shop.id, message.id, "0", "https://shop.example/winter") == token
    assert tracked_suffix(shop.id, other.id, "0", "https://shop.example/winter") != token
    assert len(base64.urlsafe_b64decode(token)) >= 16 + 16  # a 128-bit tag over the sealed key


def test_unknown_and_malformed_tokens_answer_404(client, make):
    """A forged or altered token, another message's or shop's ids under a mac (old format), a
    button without a destination, a deleted message and garbage all answer 404 and count nothing."""
    shop, campaign, message, token = _link(make)
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    secret = get_settings().flask_secret_key
    shop_hex, message_hex, index, mac = _legacy_token(shop.id, message.id, "0", secret).split(".")
    forged = [
        flipped,
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        token[:43],
        f"{shop_hex}.{message_hex}.{index}.{mac[::-1]}",
        f"{shop_hex}.{int(message_hex, 16) + 1:x}.{index}.{mac}",
        f"{int(shop_hex, 16) + 1:x}.{message_hex}.{index}.{mac}",
        tracked_suffix(shop.id, message.id, "1", "https://elsewhere.example"),  # no such tracked button
        tracked_suffix(shop.id, 10**9, "0", "https://shop.example"),  # no such message
        tracked_suffix(shop.id + 1, message.id, "0", "https://shop.example"),  # another shop
        "nothing",
        "1.1.0.short",
        "=" * 44,
    ]
    for bad in forged:
        assert client.get(f"/r/{bad}").status_code == 404, bad
    assert _clicked(make, campaign) == 0


def test_the_redirect_works_without_redis(service_urls, make):
    """With Redis unreachable the redirect still answers (it touches only the database)."""
    _shop, campaign, _message, token = _link(make)
    app = create_app({"APP_ENV": "test", "TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert app.test_client().get(f"/r/{token}").status_code == 302
    assert _clicked(make, campaign) == 1


def _settled_read_campaign(make, shop, name: str, **fields):
    campaign = make.campaign(shop, name=name, status="SENT", **fields)
    for n in range(25):
        now = datetime.now(UTC)
        make.message(
            campaign,
            make.customer(shop),
            wamid=f"wamid.{name}.{n}",
            status="read",
            delivered_at=now,
            read_at=now,
        )
    make.recount(campaign)
    return campaign


def test_no_false_click_signal_without_a_trackable_button(client, make):
    """A settled campaign with many reads and no clicks raises the click signal only when its
    draft has a tracked button; without one, click-through is "not tracked" (null)."""
    shop = make.shop()
    plain = _settled_read_campaign(make, shop, "plain")
    tracked = _settled_read_campaign(
        make,
        shop,
        "tracked",
        template_components=tracked_button("https://x.example"),
    )
    answers = {c.name: client.get(f"/api/campaigns/{c.id}", headers=bearer()).json for c in (plain, tracked)}
    assert answers["plain"]["click_tracking"] == "not_tracked"
    assert answers["plain"]["rates"]["click_through_rate"] is None
    assert "LOW_CLICK_THROUGH_RATE" not in {s["code"] for s in answers["plain"]["signals"]}
    assert answers["tracked"]["click_tracking"] == "tracked"
    assert answers["tracked"]["rates"]["click_through_rate"] == 0.0
    assert "LOW_CLICK_THROUGH_RATE" in {s["code"] for s in answers["tracked"]["signals"]}


def _legacy_token(shop_id: int, message_id: int, index: str, secret: str) -> str:
    """A link in the format sent before tokens became opaque: the ids in hex under an HMAC."""
    import base64
    import hashlib
    import hmac

    digest = hmac.new(
        secret.encode(), f"click:{shop_id}:{message_id}:{index}".encode(), hashlib.sha256
    ).digest()
    mac = base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")
    return f"{shop_id:x}.{message_id:x}.{index}.{mac}"


def _opens(make, message) -> int:
    with Session(make.engine) as session:
        return session.scalar(select(func.count()).select_from(Click).where(Click.message_id == message.id))


def test_a_token_does_not_name_the_message(client, make):
    """A new token carries no message id a customer could read or change: not in decimal, hex
    or packed bytes; it still opens its link."""
    import base64

    shop = make.shop()
    campaign = make.campaign(shop, template_components=tracked_button("https://shop.example/"))
    message = make.message(campaign, make.customer(shop), id=0x5EED5EED, wamid="wamid.X", status="read")
    token = tracked_suffix(shop.id, message.id, "0", "https://shop.example/")
    assert "5eed5eed" not in token.lower() and str(message.id) not in token
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert message.id.to_bytes(8, "big").lstrip(b"\0") not in raw
    assert client.get(f"/r/{token}").status_code == 302
    assert _opens(make, message) == 1


def test_links_already_sent_in_the_old_format_still_work(client, make):
    """A link sent before tokens became opaque still redirects and counts; a forged one does not."""
    shop, campaign, message, _token = _link(make)
    old = _legacy_token(shop.id, message.id, "0", get_settings().flask_secret_key)
    assert client.get(f"/r/{old}").status_code == 302
    assert _clicked(make, campaign) == 1
    forged = _legacy_token(shop.id, message.id, "0", "not-our-secret")
    assert client.get(f"/r/{forged}").status_code == 404


def test_links_signed_with_the_previous_secret_still_work(service_urls, make):
    """After FLASK_SECRET_KEY is rotated (the old one in FLASK_SECRET_KEY_PREVIOUS), links sent
    under the old secret, in either format, still redirect; new links use the new secret."""
    shop, campaign, message, _token = _link(make)
    before = create_app({"APP_ENV": "test", "TESTING": True, "FLASK_SECRET_KEY": "secret-of-last-year"})
    with before.app_context():
        sent = tracked_suffix(shop.id, message.id, "0", "https://shop.example/winter?ref=wa")
    old_format = _legacy_token(shop.id, message.id, "0", "secret-of-last-year")
    rotated = create_app(
        {
            "APP_ENV": "test",
            "TESTING": True,
            "FLASK_SECRET_KEY": "secret-of-this-year",
            "FLASK_SECRET_KEY_PREVIOUS": "secret-of-last-year",
        }
    )
    client = rotated.test_client()
    assert client.get(f"/r/{sent}").status_code == 302
    assert client.get(f"/r/{old_format}").status_code == 302
    with rotated.app_context():
        assert tracked_suffix(shop.id, message.id, "0", "https://shop.example/winter?ref=wa") != sent
    retired = create_app({"APP_ENV": "test", "TESTING": True, "FLASK_SECRET_KEY": "secret-of-this-year"})
    assert retired.test_client().get(f"/r/{sent}").status_code == 404  # no previous secret: retired


def test_opens_counted_per_minute_are_capped(client, make):
    """Opening one link many times in a minute always redirects, but only the first few opens
    are kept, so no one can flood the timeline; a minute later opens count again."""
    from core.campaigns.tracking import OPENS_KEPT_PER_MINUTE, open_link

    _shop, campaign, message, token = _link(make)
    for _ in range(OPENS_KEPT_PER_MINUTE * 3):
        assert client.get(f"/r/{token}").status_code == 302
    assert _opens(make, message) == OPENS_KEPT_PER_MINUTE
    assert _clicked(make, campaign) == 1
    with Session(make.engine) as session, session.begin():
        later = datetime.now(UTC) + timedelta(seconds=61)
        assert open_link(session, token, at=later) is not None
    assert _opens(make, message) == OPENS_KEPT_PER_MINUTE + 1
