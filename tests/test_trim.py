"""Reply trimming, on the shared reply corpora and on hand-written cases per client and language.

Fixture comparisons normalise whitespace the same way as bench/trim_accuracy.py: LF line
endings, no trailing whitespace on any line, no blank lines at either end.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from mailhub.inbound.trim import TrimmedReply, trim_reply

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
DISCOURSE = CORPORA / "email_reply_trimmer"
GITHUB = CORPORA / "email_reply_parser"
needs_corpora = pytest.mark.needs(CORPORA.is_dir(), f"shared reply corpora not found at {CORPORA}")

# Fixtures whose expected reply we knowingly do not produce, each with a one-line reason.
# Empty: every fixture currently matches. An entry here must still differ (checked below).
KNOWN_DIFFERENCES: set[str] = set()

TARGET_ACCURACY = 0.95


def normalise(text: str) -> str:
    """LF endings, trailing whitespace removed per line, no blank lines at either end."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def _names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.txt")) if folder.is_dir() else []


def _github_expectations() -> dict[str, dict]:
    path = GITHUB / "expected.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _discourse_matches(name: str) -> bool:
    body = (DISCOURSE / "emails" / f"{name}.txt").read_text(encoding="utf-8")
    expected = (DISCOURSE / "trimmed" / f"{name}.txt").read_text(encoding="utf-8")
    return normalise(trim_reply(body).text) == normalise(expected)


def _github_matches(name: str, spec: dict) -> bool:
    """Whether the visible reply meets GitHub's expectation on it (True if it has none)."""
    body = (GITHUB / "emails" / name).read_text(encoding="utf-8")
    got = trim_reply(body).text
    if "reply_equals" in spec:
        return normalise(got) == normalise(spec["reply_equals"])
    if "reply_starts_with" in spec:
        return got.startswith(spec["reply_starts_with"])
    if "reply_contains" in spec:
        return spec["reply_contains"] in got
    if spec.get("single_fragment"):
        return normalise(got) == normalise(body)
    return True


def _github_reply_cases() -> list[str]:
    keys = ("reply_equals", "reply_starts_with", "reply_contains", "single_fragment")
    return [name for name, spec in _github_expectations().items() if any(k in spec for k in keys)]


# ---------------------------------------------------------------- corpus fixtures


@needs_corpora
@pytest.mark.parametrize("name", _names(DISCOURSE / "emails"))
def test_discourse_fixture(name: str) -> None:
    if name in KNOWN_DIFFERENCES:
        assert not _discourse_matches(name), f"{name} now matches: drop it from KNOWN_DIFFERENCES"
        return
    body = (DISCOURSE / "emails" / f"{name}.txt").read_text(encoding="utf-8")
    expected = (DISCOURSE / "trimmed" / f"{name}.txt").read_text(encoding="utf-8")
    assert normalise(trim_reply(body).text) == normalise(expected)


@needs_corpora
@pytest.mark.parametrize("name", _github_reply_cases())
def test_github_fixture(name: str) -> None:
    if name in KNOWN_DIFFERENCES:
        spec = _github_expectations()[name]
        assert not _github_matches(name, spec), f"{name} now matches: drop it"
        return
    spec = _github_expectations()[name]
    body = (GITHUB / "emails" / name).read_text(encoding="utf-8")
    got = trim_reply(body).text
    if "reply_equals" in spec:
        assert normalise(got) == normalise(spec["reply_equals"])
    elif "reply_starts_with" in spec:
        assert got.startswith(spec["reply_starts_with"]), got
    elif "reply_contains" in spec:
        assert spec["reply_contains"] in got, got
    else:
        assert normalise(got) == normalise(body)


@needs_corpora
@pytest.mark.parametrize(
    "name",
    [n for n, s in _github_expectations().items() if "hidden_signature_starts_with" in s],
)
def test_github_signature(name: str) -> None:
    spec = _github_expectations()[name]
    body = (GITHUB / "emails" / name).read_text(encoding="utf-8")
    assert trim_reply(body).signature.startswith(spec["hidden_signature_starts_with"])


@needs_corpora
@pytest.mark.parametrize(
    "name", [n for n, s in _github_expectations().items() if "max_seconds" in s]
)
def test_github_time_limit(name: str) -> None:
    spec = _github_expectations()[name]
    body = (GITHUB / "emails" / name).read_text(encoding="utf-8")
    started = time.perf_counter()
    trim_reply(body)
    assert time.perf_counter() - started < spec["max_seconds"]


@needs_corpora
@pytest.mark.parametrize("name", _names(DISCOURSE / "emails"))
def test_discourse_fixture_loses_nothing(name: str) -> None:
    """Every non-blank line of the input ends up in text, quoted or signature."""
    body = (DISCOURSE / "emails" / f"{name}.txt").read_text(encoding="utf-8")
    result = trim_reply(body)
    parts = "\n".join((result.text, result.quoted, result.signature)).split("\n")
    kept = [line for line in parts if line.strip()]
    original = [line for line in normalise(body).split("\n") if line.strip()]
    assert sorted(kept) == sorted(original)


@needs_corpora
def test_accuracy_on_reply_corpora(capsys: pytest.CaptureFixture[str]) -> None:
    discourse = _names(DISCOURSE / "emails")
    github = _github_reply_cases()
    expectations = _github_expectations()
    passed_discourse = sum(_discourse_matches(name) for name in discourse)
    passed_github = sum(_github_matches(name, expectations[name]) for name in github)
    total = len(discourse) + len(github)
    accuracy = (passed_discourse + passed_github) / total
    with capsys.disabled():
        print(
            f"\nreply trimming accuracy: {accuracy:.1%} "
            f"(discourse {passed_discourse}/{len(discourse)}, github {passed_github}/{len(github)})"
        )
    assert accuracy >= TARGET_ACCURACY


# ---------------------------------------------------------------- hand-written cases

ANSWER = "Thanks, that fixed it.\n\nSee you at the meetup."


def _text(body: str) -> str:
    return normalise(trim_reply(body).text)


def test_result_type_and_empty_input() -> None:
    assert trim_reply("") == TrimmedReply("", "", "")
    assert trim_reply(" \n\n\t\n") == TrimmedReply("", "", "")


def test_plain_reply_is_untouched() -> None:
    result = trim_reply(ANSWER + "\n")
    assert result == TrimmedReply(ANSWER, "", "")


def test_windows_line_endings() -> None:
    body = "Thanks!\r\n\r\nOn Mon, Mar 4, 2024 at 10:00 AM Ann <ann@example.org> wrote:\r\n> hi\r\n"
    assert trim_reply(body).text == "Thanks!"


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, Mar 4, 2024 at 10:00 AM Ann Lee <ann@example.org> wrote:",
        "On Mon, Mar 4, 2024 at 10:00 AM Ann Lee <ann@example.org>\nwrote:",
        "On Mon, Mar 4, 2024 at 10:00 AM Ann Lee via Practice List <\nlist@example.org> wrote:",
        "On Mon, 4 Mar 2024 at 10:00,\nAnn Lee <ann@example.org>\nwrote:",
        "On 4 Mar 2024, at 10:00, Ann Lee <ann@example.org> wrote:",  # Apple Mail
        "On Mar 4, 2024, at 10:00 AM, Ann Lee wrote:",  # Apple Mail, no address
        "On 04/03/2024 10:00, Ann Lee wrote:",  # Thunderbird
        "Ann Lee <ann@example.org> wrote:",
        "Ann Lee wrote:",
        "2024-03-04 10:00 GMT+01:00 Ann Lee <ann@example.org>:",
        "---- On Mon, 04 Mar 2024 10:00:00 +0100 Ann Lee <ann@example.org> wrote ----",
    ],
)
def test_top_posted_reply_above_english_attribution(attribution: str) -> None:
    body = f"{ANSWER}\n\n{attribution}\n\n> Does the new release fix the import?\n>\n> Ann\n"
    result = trim_reply(body)
    assert normalise(result.text) == ANSWER
    assert "Does the new release" in result.quoted


@pytest.mark.parametrize(
    "attribution",
    [
        "Am Mo., 4. März 2024 um 10:00 Uhr schrieb Max Muster <max@example.de>:",
        "Max Muster <max@example.de> schrieb am Mo., 4. März 2024 um 10:00:",
        "Le lun. 4 mars 2024 à 10:00, Jean Dupont <jean@example.fr> a écrit :",
        "Le 4 mars 2024 à 10:00, Jean Dupont <jean@example.fr> a\u00a0écrit\u00a0:",
        "El lun, 4 mar 2024 a las 10:00, Juan Pérez (<juan@example.es>) escribió:",
        "Den 4. mar. 2024 kl. 10.00 skrev Jens Jensen <jens@example.dk>:",
        "man. 4. mar. 2024 kl. 10:00 skrev Ola Nordmann <ola@example.no>:",
        "4 mars 2024 kl. 10:00 skrev Sven Svensson <sven@example.se>:",
        "Op ma 4 mrt 2024 om 10:00 schreef Jan Jansen <jan@example.nl>:",
        "Op 4 mrt. 2024 om 10:00 heeft Jan Jansen <jan@example.nl> het volgende geschreven:",
        "Il giorno lun 4 mar 2024 alle ore 10:00 Mario Rossi <mario@example.it> ha scritto:",
        "Em seg., 4 de mar. de 2024 às 10:00, João Silva <joao@example.pt> escreveu:",
        "pon., 4 mar 2024 o 10:00 Jan Kowalski <jan@example.pl> napisał(a):",
        "4 марта 2024 г., в 10:00, Иван Петров <ivan@example.ru> написал:",
        "пн, 4 мар. 2024 г. в 10:00, Иван Петров <ivan@example.ru>:",
        "ma 4. maalisk. 2024 klo 10.00 Matti Meikäläinen (matti@example.fi) kirjoitti:",
        "在 2024年3月4日 10:00，张伟 <zhang@example.cn> 写道：",
        "2024年3月4日(月) 10:00 山田太郎 <taro@example.jp>:",
        "Max Muster <max@example.de> hat am 04.03.2024 10:00 geschrieben:",
        "Quoting Ann Lee <ann@example.org>:",
        "Zitat von Max Muster <max@example.de>:",
    ],
)
def test_top_posted_reply_above_localised_attribution(attribution: str) -> None:
    body = f"{ANSWER}\n\n{attribution}\n\n> Quoted question from the list.\n> Second line.\n"
    result = trim_reply(body)
    assert normalise(result.text) == ANSWER
    assert "Quoted question" in result.quoted


OUTLOOK_HEADERS = {
    "en": ("From: Ann Lee", "Sent: Monday, March 4, 2024 10:00 AM", "To: List", "Subject: Hi"),
    "en-bold": ("*From:* Ann Lee", "*Sent:* Monday", "*To:* List", "*Subject:* Hi"),
    "de": ("Von: Max Muster", "Gesendet: Montag, 4. März 2024 10:00", "An: Liste", "Betreff: Hi"),
    "fr": ("De : Jean Dupont", "Envoyé : lundi 4 mars 2024 10:00", "À : Liste", "Objet : Salut"),
    "es": ("De: Juan Pérez", "Enviado: lunes, 4 de marzo de 2024", "Para: Lista", "Asunto: Hola"),
    "da": ("Fra: Jens Jensen", "Sendt: 4. marts 2024 10:00", "Til: Liste", "Emne: Hej"),
    "no": ("Fra: Ola Nordmann", "Sendt: mandag 4. mars 2024", "Til: Liste", "Emne: Hei"),
    "nl": ("Van: Jan Jansen", "Verzonden: maandag 4 maart 2024", "Aan: Lijst", "Onderwerp: Hoi"),
    "it": ("Da: Mario Rossi", "Inviato: lunedì 4 marzo 2024", "A: Lista", "Oggetto: Ciao"),
    "pt": ("De: João Silva", "Enviado: segunda-feira, 4 de março", "Para: Lista", "Assunto: Olá"),
    "sv": ("Från: Sven Svensson", "Skickat: den 4 mars 2024", "Till: Lista", "Ämne: Hej"),
    "pl": ("Od: Jan Kowalski", "Wysłano: 4 marca 2024", "Do: Lista", "Temat: Cześć"),
}


@pytest.mark.parametrize("separator", ["", "________________________________\n", " ----\n"])
@pytest.mark.parametrize("language", sorted(OUTLOOK_HEADERS))
def test_outlook_header_block(language: str, separator: str) -> None:
    headers = "\n".join(OUTLOOK_HEADERS[language])
    body = f"{ANSWER}\n\n{separator}{headers}\n\nThe original message.\n\nAnn\n"
    result = trim_reply(body)
    assert normalise(result.text) == ANSWER
    assert "The original message." in result.quoted


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Ursprüngliche Nachricht-----",
        "-----Message d'origine-----",
        "-----Mensaje original-----",
        "-----Oprindelig meddelelse-----",
        "-----Oorspronkelijk bericht-----",
        "-----Messaggio originale-----",
        "-----Mensagem original-----",
        "-------- Original Message --------",
        "---------- Forwarded message ---------",
        "-------- Forwarded Message --------",  # Thunderbird
        "Begin forwarded message:",  # Apple Mail
        "Anfang der weitergeleiteten Nachricht:",
        "Début du message réexpédié :",
    ],
)
def test_original_message_separator(separator: str) -> None:
    body = f"{ANSWER}\n\n{separator}\nFrom: Ann\nDate: today\nSubject: Hi\nTo: x\n\nOld text.\n"
    assert _text(body) == ANSWER


def test_forward_without_comment_keeps_the_forwarded_text() -> None:
    body = (
        "-------- Forwarded Message --------\nSubject: Agenda\nDate: Mon, 4 Mar 2024\n"
        "From: Ann <ann@example.org>\nTo: list@example.org\n\nThe agenda for Friday.\n"
    )
    result = trim_reply(body)
    assert result.text == "The agenda for Friday."
    assert result.quoted.startswith("-------- Forwarded Message")


def test_bottom_posted_reply_keeps_the_answer() -> None:
    body = (
        "On Mon, Mar 4, 2024 at 10:00 AM Ann Lee <ann@example.org> wrote:\n\n"
        "> Does the new release fix the import?\n>\n\n" + ANSWER + "\n"
    )
    result = trim_reply(body)
    assert normalise(result.text) == ANSWER
    assert "Does the new release" in result.quoted


def test_bottom_post_with_mobile_signature() -> None:
    body = "On 4 Mar 2024, Ann <a@example.org> wrote:\n> Q?\n\nA.\n\nSent from my iPhone\n"
    result = trim_reply(body)
    assert (result.text, result.signature) == ("A.", "Sent from my iPhone")


def test_localised_bottom_post_keeps_the_answer() -> None:
    body = "Le 4 mars 2024 à 10:00, Jean <jean@example.fr> a écrit :\n> Question ?\n\nRéponse.\n"
    assert _text(body) == "Réponse."


def test_interleaved_reply_keeps_quotes_and_answers() -> None:
    body = (
        "Hi Ann,\n\nOn Mon, Mar 4, 2024 at 10:00 AM Ann <ann@example.org> wrote:\n"
        "> First question?\n\nFirst answer.\n\n> Second question?\n\nSecond answer.\n\n"
        "> Trailing quote.\n"
    )
    assert _text(body) == (
        "Hi Ann,\n\n> First question?\n\nFirst answer.\n\n> Second question?\n\nSecond answer."
    )


def test_context_quote_at_the_top_is_kept() -> None:
    body = "> The meeting moves to Friday.\n\nFriday works for me.\n"
    assert _text(body) == "> The meeting moves to Friday.\n\nFriday works for me."


def test_trailing_quote_without_attribution_is_removed() -> None:
    result = trim_reply("Agreed.\n\n> We should vote on it.\n> Ann\n")
    assert result.text == "Agreed."
    assert result.quoted == "> We should vote on it.\n> Ann"


def test_message_that_is_only_a_quote_is_kept_whole() -> None:
    body = "> Only a quoted line.\n"
    assert trim_reply(body) == TrimmedReply("> Only a quoted line.", "", "", whole=True)
    # ... and marked whole, so that commands read from it find no words of the sender's.
    assert trim_reply(body).own_words == ""
    assert trim_reply("approve\n\n> Only a quoted line.\n").own_words == "approve"


def test_message_that_is_only_a_quoted_attribution_is_kept_whole() -> None:
    body = "On Mon, Mar 4, 2024 at 10:00 AM Ann <ann@example.org> wrote:\n> Old text.\n"
    assert trim_reply(body).text == normalise(body)


def test_message_of_bare_attributions_has_no_text() -> None:
    body = "> On Mon, 4 Mar 2024 Ann <a@example.org> wrote:\n>\n>> On Sun, 3 Mar 2024 B wrote:\n"
    result = trim_reply(body)
    assert result.text == ""
    assert result.quoted


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nAnn Lee\nPractice lead",
        "--\nAnn Lee\nhttps://example.org",
        "__\nAnn Lee",
        "______________________\nAnn Lee | Example Org",
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy, please excuse typos.",
        "Sent from Outlook for Android",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Envoyé de mon iPhone",
        "Envoyé depuis mon iPad",
        "Von meinem iPhone gesendet",
        "Enviado desde mi iPhone",
        "Enviado do meu iPhone",
        "Inviato da iPhone",
        "Verzonden vanaf mijn iPhone",
        "Sendt fra min iPhone",
        "Skickat från min iPhone",
        "Wysłane z mojego iPhone'a",
        "Отправлено с iPhone",
        "发自我的iPhone",
        "iPhoneから送信",
    ],
)
def test_signature_is_set_aside(signature: str) -> None:
    result = trim_reply(f"{ANSWER}\n\n{signature}\n")
    assert normalise(result.text) == ANSWER
    assert result.signature == signature


def test_signature_between_reply_and_quote() -> None:
    body = (
        f"{ANSWER}\n\n-- \nAnn Lee\n\nOn Mon, Mar 4, 2024 at 10:00 AM Bob <bob@example.org> wrote:"
        "\n> Old text.\n"
    )
    result = trim_reply(body)
    assert (normalise(result.text), result.signature) == (ANSWER, "-- \nAnn Lee")
    assert result.quoted.startswith("On Mon")


def test_sentence_about_sending_is_not_a_signature() -> None:
    body = "Here it is.\n\nSent from my desk, which is much easier than from my phone.\n"
    assert _text(body) == normalise(body)


def test_closing_dash_name_is_a_signature() -> None:
    result = trim_reply("Thanks for the hint.\n\n-Ann\n")
    assert (result.text, result.signature) == ("Thanks for the hint.", "-Ann")


def test_closing_name_without_dash_stays() -> None:
    assert _text("Thanks for the hint.\n\nBest,\nAnn\n") == "Thanks for the hint.\n\nBest,\nAnn"


@pytest.mark.parametrize(
    "marker",
    [
        "## Please reply above this line ##",
        "--- Reply above this line ---",
        "— Reply above this line —",
        "—— Please type your reply above this line ——",
        "–– Reply ABOVE THIS LINE to post ––",
        "-- Bitte antworten Sie oberhalb dieser Zeile --",
        "-- Répondez au-dessus de cette ligne --",
    ],
)
def test_reply_above_this_line_marker(marker: str) -> None:
    body = f"{ANSWER}\n\n{marker}\n\nAnn posted in Practice:\n\nOriginal post text.\n"
    result = trim_reply(body)
    assert normalise(result.text) == ANSWER
    assert result.quoted.startswith(marker)


def test_text_after_a_table_is_kept() -> None:
    body = (
        "Numbers for March:\n\n| Site | Members |\n|------|---------|\n| Oslo | 12 |\n\n"
        "Name     Posts\n-------  -----\nAnn      3\n\n"
        "+------+\n| cell |\n+------+\n\n"
        "And my conclusion after the tables.\n\n"
        "On Mon, Mar 4, 2024 at 10:00 AM Bob <bob@example.org> wrote:\n> Old.\n"
    )
    assert _text(body) == normalise(body.split("\n\nOn Mon")[0])


def test_long_text_after_a_rule_is_kept() -> None:
    tail = "\n".join(f"Point {n} of the second part." for n in range(12))
    body = f"First part.\n\n---\n\n{tail}\n"
    assert _text(body) == normalise(body)


def test_heading_underline_is_not_a_delimiter() -> None:
    body = "Agenda\n======\n\nItem one.\n\nSummary\n-------\n\nAll good.\n"
    assert _text(body) == normalise(body)


def test_delimiters_inside_code_are_kept() -> None:
    body = "Config:\n\n```\n--\n####\n___\n```\n\nDone.\n"
    assert _text(body) == normalise(body)


def test_dashes_inside_a_line_are_not_a_signature() -> None:
    body = "Fix it -- this is not a signature.\n\nBye\n"
    assert _text(body) == normalise(body)


def test_sentence_starting_with_on_is_not_an_attribution() -> None:
    body = "On your server, run:\n\n    make check\n\nIt should pass.\n"
    assert _text(body) == normalise(body)


def test_sentence_mentioning_wrote_is_kept() -> None:
    body = "Here is what I wrote:\n\nThe deadline is Friday.\n"
    assert _text(body) == normalise(body)


def test_nothing_is_lost_between_the_parts() -> None:
    body = (
        f"{ANSWER}\n\nSent from my iPhone\n\n"
        "On Mon, Mar 4, 2024 at 10:00 AM Ann <ann@example.org> wrote:\n> Old text.\n"
    )
    result = trim_reply(body)
    assert result.signature == "Sent from my iPhone"
    assert result.quoted.startswith("On Mon") and result.quoted.endswith("> Old text.")


def test_nothing_above_the_reply_marker_gives_no_text() -> None:
    body = "## Please reply above this line ##\n\nAnn posted in Practice:\n\nOriginal post.\n"
    result = trim_reply(body)
    assert result.text == ""
    assert result.quoted == normalise(body)


def test_unclosed_code_fence_does_not_hide_the_quote() -> None:
    body = (
        "Try this:\n\n```\nmake check\n\n"
        "On Mon, Mar 4, 2024 at 10:00 AM Ann <ann@example.org> wrote:\n> Old text.\n"
    )
    assert _text(body) == "Try this:\n\n```\nmake check"


def test_signature_keeps_its_blank_lines() -> None:
    result = trim_reply("See you.\n\nSent from my iPhone\n\nVon meinem iPad gesendet\n")
    assert result.signature == "Sent from my iPhone\n\nVon meinem iPad gesendet"


def test_closing_sentence_about_sending_stays() -> None:
    body = "The invoice is attached.\n\nSent on Monday to the whole team.\n"
    assert _text(body) == normalise(body)


def test_prefilter_words_are_found_whatever_their_case() -> None:
    """The plain-word pre-filters never skip a line the case-insensitive patterns would match.

    For each letter of those words, every character that re.IGNORECASE takes for it must
    fold to the same letter as the word does.
    """
    from mailhub.inbound import trim

    words = [
        *trim._ATTRIBUTION_HINTS,
        *trim._WROTE_HINTS,
        *trim._ABOVE_PHRASES,
        *trim._FORWARD_PHRASES,
    ]
    letters = sorted(set("".join(words)) - set(" "))
    every_char = "".join(map(chr, range(0x110000)))
    for letter in letters:
        for found in re.finditer(re.escape(letter), every_char, re.IGNORECASE):
            assert trim._fold(found.group()) == trim._fold(letter), (letter, found.group())


@pytest.mark.parametrize(
    "body",
    [
        "Thanks.\n\nON MON, MAR 4, 2024 AT 10:00 AM ANN <ANN@EXAMPLE.ORG> WROTE:\n> old\n",
        "Thanks.\n\nİyi günler.\n\n4 Mar 2024 Pzt 10:00 tarihinde Ayşe yazdı:\n> eski\n",
        "Thanks.\n\n----- ORİGİNAL MESSAGE -----\nold text\n",
        "Thanks.\n\n## PLEASE REPLY ABOVE THİS LINE ##\nold text\n",
    ],
)
def test_case_and_turkish_letters_do_not_hide_markers(body: str) -> None:
    assert "old" not in _text(body) and "eski" not in _text(body)
