"""The member's own page on the real server, on SQLite and PostgreSQL: each form posts,
and what it changed is read back from the store (delivery, digest format, themes, event
reminders, profile, leaving). Bad input changes nothing and says why; a form without the
session's CSRF token is refused; nobody reaches another person's choices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from portal_client import Client, seeded_portal, sign_in
from portal_seed import AMINA, YEN_MEMBER, World
from sqlmodel import select
from test_portal_moderate import csrf_of

from mailhub.context import Context
from mailhub.members import find_person
from mailhub.models import Community, Membership, Person


@pytest.fixture
def site(ctx: Context) -> Iterator[tuple[Context, World, str]]:
    with seeded_portal(ctx) as site:
        yield site


def stored(ctx: Context, email: str, slug: str) -> tuple[Person, Membership]:
    with ctx.session() as session:
        person = find_person(session, email)
        assert person is not None
        membership = session.exec(
            select(Membership)
            .join(Community)
            .where(Membership.person_id == person.id, Community.slug == slug)
        ).one()
        return person, membership


def test_a_member_changes_what_they_receive_and_their_profile(
    site: tuple[Context, World, str],
) -> None:
    ctx, _, base = site
    member = sign_in(ctx, base, AMINA)
    status, _, page = member.get("/me")
    assert status == 200 and "IRNet" in page and "Labour Congress of Thailand" in page
    csrf = csrf_of(page)
    fields = [
        ("csrf", csrf),
        ("delivery", "digest"),
        ("digest_format", "rfc1153"),
        ("only_my_themes", "yes"),
        ("themes", "skills"),
        ("themes", "green-jobs"),
    ]  # event_reminders unticked
    status, headers, _ = member.post("/me/irnet/settings", fields)
    assert status == 303 and headers["location"] == "/me?saved=irnet#irnet"
    _, membership = stored(ctx, AMINA, "irnet")
    assert membership.delivery == "digest" and membership.digest_format == "rfc1153"
    assert membership.only_my_themes and sorted(membership.themes) == ["green-jobs", "skills"]
    assert membership.event_reminders is False
    page = member.get("/me?saved=irnet")[2]
    assert "Your choices for IRNet are saved" in page
    assert 'value="rfc1153" checked' in page and 'value="digest" checked' in page
    # The formats are named as the help mail names them: MIME is text and HTML.
    assert "Text and HTML" in page and "attachment" not in page

    # "Only my themes" with no theme ticked narrows nothing, and the page says so.
    mine_only = [("csrf", csrf), ("delivery", "digest"), ("digest_format", "rfc1153"),
                 ("only_my_themes", "yes")]  # fmt: skip
    assert member.post("/me/irnet/settings", mine_only)[0] == 303
    assert "ticked none, so your digests have every post" in member.get("/me")[2]

    back = [("csrf", csrf), ("delivery", "none"), ("digest_format", "mime"),
            ("only_my_themes", "no"), ("event_reminders", "on")]  # fmt: skip
    assert member.post("/me/irnet/settings", back)[0] == 303
    _, membership = stored(ctx, AMINA, "irnet")
    assert (membership.delivery, membership.themes) == ("none", [])
    assert membership.only_my_themes is False
    assert membership.event_reminders is True

    profile = {"csrf": csrf, "name": " Amina  R. ", "organisation": "LCT",
               "affiliation": "government", "country": "vn"}  # fmt: skip
    assert member.post("/me/profile", profile)[0] == 303
    person, _ = stored(ctx, AMINA, "irnet")
    assert (person.name, person.organisation, person.affiliation, person.country) == (
        "Amina R.",
        "LCT",
        "government",
        "VN",
    )


def test_bad_input_changes_nothing_and_says_why(site: tuple[Context, World, str]) -> None:
    ctx, _, base = site
    member = sign_in(ctx, base, AMINA)
    csrf = csrf_of(member.get("/me")[2])
    status, _, page = member.post("/me/profile", {"csrf": csrf, "name": "Changed", "country": "ZZ"})
    assert status == 400 and "Nothing was changed" in page and "country" in page
    assert stored(ctx, AMINA, "irnet")[0].name == "Amina Rahman"
    fields = [("csrf", csrf), ("delivery", "each"), ("digest_format", "pdf"),
              ("themes", "skills")]  # fmt: skip
    status, _, page = member.post("/me/irnet/settings", fields)
    assert status == 400 and "format" in page
    fields = [("csrf", csrf), ("delivery", "digest"), ("digest_format", "mime"),
              ("themes", "no-such-theme")]  # fmt: skip
    status, _, page = member.post("/me/irnet/settings", fields)
    assert status == 400 and "no-such-theme" in page
    _, membership = stored(ctx, AMINA, "irnet")
    assert membership.delivery == "each" and membership.themes == []


def test_forms_without_the_sessions_token_are_refused(site: tuple[Context, World, str]) -> None:
    ctx, _, base = site
    member = sign_in(ctx, base, AMINA)
    other = sign_in(ctx, base, YEN_MEMBER)
    foreign = csrf_of(other.get("/me")[2])
    for form in ({}, {"csrf": "forged"}, {"csrf": foreign}):
        for path in ("/me/irnet/settings", "/me/irnet/leave", "/me/profile"):
            status, _, page = member.post(path, {**form, "delivery": "none", "name": "X"})
            assert status == 403 and "was not accepted" in page, (path, form)
    person, membership = stored(ctx, AMINA, "irnet")
    assert (person.name, membership.delivery, membership.status) == (
        "Amina Rahman",
        "each",
        "active",
    )


def test_leaving_and_who_reaches_the_page(site: tuple[Context, World, str]) -> None:
    ctx, _, base = site
    anonymous = Client(base)
    status, headers, _ = anonymous.get("/me")
    assert status == 303 and headers["location"] == "/signin?next=/me"
    assert anonymous.post("/me/yen/leave", {"csrf": ""})[0] == 403
    outsider = sign_in(ctx, base, AMINA)
    csrf = csrf_of(outsider.get("/me")[2])
    assert outsider.post("/me/yen/leave", {"csrf": csrf})[0] == 404  # not a member of yen
    assert outsider.post("/me/nowhere/settings", {"csrf": csrf})[0] == 404
    assert "Youth Employment" not in outsider.get("/me")[2]

    member = sign_in(ctx, base, YEN_MEMBER)
    assert member.get("/c/yen/")[0] == 200
    csrf = csrf_of(member.get("/me")[2])
    status, headers, _ = member.post("/me/yen/leave", {"csrf": csrf})
    assert status == 303
    assert stored(ctx, YEN_MEMBER, "yen")[1].status == "unsubscribed"
    after = member.get(headers["location"])[2]
    assert "You have left Youth Employment Network" in after
    # The way back names the address to write to, not "the -request address".
    assert 'href="mailto:yen-request@lists.example.org?subject=subscribe"' in after
    assert member.get("/c/yen/")[0] == 404  # a members-only community is closed to them now
    assert member.post("/me/yen/leave", {"csrf": csrf})[0] == 404
    assert stored(ctx, YEN_MEMBER, "quiet")[1].status == "active"  # other memberships stay

    # Amina leaves her only community: the page offers no profile form that would 404.
    csrf = csrf_of(outsider.get("/me")[2])
    assert outsider.post("/me/irnet/leave", {"csrf": csrf})[0] == 303
    page = outsider.get("/me")[2]
    assert "You are no longer a member" in page
    assert 'action="/me/profile"' not in page and "while you are a member" in page
