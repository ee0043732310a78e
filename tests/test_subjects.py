"""Subject normalisation: the key by which replies with lost headers find their thread."""

from __future__ import annotations

import pytest

from mailhub.threads.subjects import is_reply_subject, normalise_subject


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Budget plan",
        "RE: Budget plan",
        "re:Budget plan",
        "Fwd: Budget plan",
        "Fw: Budget plan",
        "FW: Budget plan",
        "AW: Budget plan",
        "WG: Budget plan",
        "SV: Budget plan",
        "VS: Budget plan",
        "Antw: Budget plan",
        "Rif: Budget plan",
        "R: Budget plan",
        "TR: Budget plan",
        "Réf : Budget plan",
        "RV: Budget plan",
        "Odp: Budget plan",
        "Отв: Budget plan",
        "ΑΠ: Budget plan",
        "回复: Budget plan",
        "答复：Budget plan",
        "转发: Budget plan",
        "Re[2]: Budget plan",
        "Re(2): Budget plan",
        "Re: Re[2]: Budget plan",
        "Re：Budget plan",
        "AW: WG: RE: Re: FW: Budget plan",
        "Fwd: Budget plan (fwd)",
        "  Re:   Budget \t plan  ",
        "BUDGET PLAN",
    ],
)
def test_prefixes_are_stripped_and_case_folded(subject: str) -> None:
    assert normalise_subject(subject) == "budget plan"


@pytest.mark.parametrize(
    "subject",
    [
        "[IRNet] Budget plan",
        "Re: [IRNet] Budget plan",
        "[IRNet] Re: [IRNet] AW: Budget plan",
        "AW: [irnet] RE: budget plan",
        "Budget plan [IRNet]",
    ],
)
def test_list_tags_are_stripped(subject: str) -> None:
    assert normalise_subject(subject, list_tags=["IRNet"]) == "budget plan"


def test_list_tag_given_with_brackets_is_stripped() -> None:
    assert normalise_subject("Re: [Youth-Jobs] Agenda", list_tags=["[Youth-Jobs]"]) == "agenda"


def test_any_leading_tag_is_stripped_without_a_list_tag() -> None:
    assert normalise_subject("[Skills] [PATCH] Re: Agenda") == "agenda"


def test_other_tags_stay_when_not_leading() -> None:
    assert normalise_subject("Agenda [draft]") == "agenda [draft]"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Regional meeting", "regional meeting"),
        ("Re: Regional meeting", "regional meeting"),
        ("Review of wages", "review of wages"),
        ("Fwding rules", "fwding rules"),
        ("Awards 2024", "awards 2024"),
        ("Trade unions: a survey", "trade unions: a survey"),
        ("R&D funding", "r&d funding"),
    ],
)
def test_prefix_letters_inside_words_are_kept(subject: str, expected: str) -> None:
    assert normalise_subject(subject) == expected


def test_full_width_forms_and_composed_accents_compare_equal() -> None:
    assert normalise_subject("ＲＥ：Ｃafé") == normalise_subject("Re: CAFE\u0301")


def test_empty_or_missing_subject_gives_empty_key() -> None:
    assert normalise_subject(None) == ""
    assert normalise_subject("") == ""
    assert normalise_subject("Re: Re: ") == ""


@pytest.mark.parametrize(
    "subject",
    ["Re: Agenda", "AW: Agenda", "[IRNet] Re: Agenda", "回复：议程", "Re[3]: x", "Agenda (fwd)"],
)
def test_reply_subjects_are_recognised(subject: str) -> None:
    assert is_reply_subject(subject)


@pytest.mark.parametrize("subject", ["Agenda", "Regional meeting", "[IRNet] Agenda", "", None])
def test_plain_subjects_are_not_replies(subject: str | None) -> None:
    assert not is_reply_subject(subject)
