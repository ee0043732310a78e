"""Members' words in HTML mail: text becomes paragraphs and links, and whatever HTML comes
through keeps only what the mail allow-list lets through."""

from __future__ import annotations

from markupsafe import Markup

from mailhub.memberhtml import clean, member_html
from mailhub.rendering import environment


def test_text_becomes_escaped_paragraphs_with_line_breaks() -> None:
    shown = member_html("One <b>bold</b> & more\nsecond line\n\n\n  \nNew paragraph")
    assert isinstance(shown, Markup)
    assert shown == (
        '<p dir="auto" style="margin:0 0 10px 0;">One &lt;b&gt;bold&lt;/b&gt; &amp; more<br>\n'
        "second line</p>\n"
        '<p dir="auto" style="margin:0 0 10px 0;">New paragraph</p>'
    )
    assert member_html("") == "" and member_html(None) == ""


def test_web_addresses_become_links_without_the_sentence_punctuation() -> None:
    shown = member_html("See https://example.org/a_(b)?x=1&y=2). Or (https://ilo.org/x).")
    assert '<a href="https://example.org/a_(b)?x=1&amp;y=2"' in shown
    assert ">https://example.org/a_(b)?x=1&amp;y=2</a>)." in shown
    assert '<a href="https://ilo.org/x"' in shown and "/x</a>)." in shown
    assert shown.count('rel="noopener nofollow"') == 2


def test_links_written_as_text_of_html_mail_keep_their_label_and_only_web_targets() -> None:
    shown = member_html("[the code](https://ilo.org/code) [bad](javascript:alert(1)) [rel](/x)")
    assert '<a href="https://ilo.org/code"' in shown and ">the code</a>" in shown
    assert "[bad](javascript:alert(1))" in shown and "[rel](/x)" in shown
    assert shown.count("<a ") == 1


def test_html_keeps_structure_and_loses_scripts_handlers_styles_images_and_bad_links() -> None:
    shown = clean(
        '<p style="position:fixed" onclick="x()">Hi <script>alert(1)</script>'
        '<img src="https://tracker.example/p.gif" onerror="alert(1)">'
        '<a href="javascript:alert(1)">js</a> <a href="/relative">rel</a> '
        '<a href="https://ok.example/" target="_blank">ok</a></p>'
        "<form><input name=q></form><iframe src=https://x.example></iframe>"
        "<textarea></textarea><style>p{color:red}</style><b>unclosed <<>> &bogus;"
    )
    for gone in ("script", "onclick", "onerror", "img", "javascript", "/relative", "form"):
        assert gone not in shown
    for gone in ("iframe", "textarea", "style>", "position", "target"):
        assert gone not in shown
    assert '<a href="https://ok.example/" style="' in shown
    assert "<b>unclosed &lt;&lt;&gt;&gt; &amp;bogus;</b>" in shown


def test_templates_get_the_filter() -> None:
    template = environment().from_string("{{ text | member_html }}")
    assert template.render(text="<script>x</script>") == (
        '<p dir="auto" style="margin:0 0 10px 0;">&lt;script&gt;x&lt;/script&gt;</p>'
    )
