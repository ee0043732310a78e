"""Search finds real sentences in the members' languages, with the same answers on SQLite
and PostgreSQL: accents optional where people drop them (Vietnamese, French, Spanish), and
Thai, Chinese, Japanese and Korean words found inside sentences written without spaces."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.models import Post, Thread
from mailhub.search import index
from mailhub.search.query import parse
from mailhub.search.results import search

SENTENCES = {
    "en": "Collective bargaining in the garment sector improved wages for young workers.",
    "fr": "La négociation collective a amélioré les salaires des jeunes travailleurs.",
    "es": "El diálogo social tripartito fortalece la protección de los trabajadores migrantes.",
    "id": "Pemerintah Indonesia menaikkan upah minimum provinsi untuk pekerja muda.",
    "vi": "Bộ Lao động Việt Nam đề xuất tăng lương tối thiểu vùng cho người lao động.",
    "th": "กระทรวงแรงงานเสนอให้ขึ้นค่าจ้างขั้นต่ำสำหรับแรงงานข้ามชาติในประเทศไทย",
    "zh": "人力资源和社会保障部发布了关于青年就业的新政策。",
    "ja": "厚生労働省は若者の雇用を促進するための新しい指針を発表した。",
    "ko": "고용노동부는 청년 일자리 창출을 위한 새로운 정책을 발표했습니다.",
}

EXPECTED = [
    ("bargaining", {"en"}),
    ("BARGAINING", {"en"}),
    ('"collective bargaining"', {"en"}),
    ('"bargaining collective"', set()),
    ("négociation", {"fr"}),
    ("negociation", {"fr"}),
    ("dialogo social", {"es"}),
    ("protección", {"es"}),
    ("upah minimum", {"id"}),
    ("minimum", {"id"}),
    ("lương tối thiểu", {"vi"}),
    ("luong toi thieu", {"vi"}),
    ('"Viet Nam"', {"vi"}),
    ("ค่าจ้างขั้นต่ำ", {"th"}),
    ("แรงงานข้ามชาติ", {"th"}),
    ("ประกันสังคม", set()),
    ("青年就业", {"zh"}),
    ("就业", {"zh"}),
    ("政策", {"zh"}),
    ("雇用", {"ja"}),
    ("若者", {"ja"}),
    ("일자리", {"ko"}),
    ("청년", {"ko"}),
    ("collective", {"en", "fr"}),
    ("collective -bargaining", {"fr"}),
    ("bargaining OR négociation", {"en", "fr"}),
    ("travail*", {"fr"}),
    ("trabajador*", {"es"}),
]


@pytest.fixture
def indexed(ctx: Context) -> dict[int, str]:
    """A post per language in irnet (readable by anyone), indexed; post id -> language."""
    now = ctx.now() - timedelta(days=1)
    languages: dict[int, str] = {}
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        irnet.archive = "public"
        for n, (language, sentence) in enumerate(SENTENCES.items()):
            thread = Thread(
                community_id=irnet.id or 0,
                subject=f"Note {language}",
                created_at=now,
                last_activity_at=now,
            )
            session.add(thread)
            session.flush()
            post = Post(
                community_id=irnet.id or 0,
                thread_id=thread.id,
                message_id=f"<{language}@example.org>",
                subject=f"Note {n}",
                status="approved",
                body_text=sentence,
                received_at=now,
            )
            session.add(post)
            session.flush()
            languages[post.id or 0] = language
    index.reindex(ctx)
    return languages


def found(ctx: Context, text: str) -> set[str]:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        results = search(session, parse(text), [irnet])
    return {hit.path.rsplit("p", 1)[-1] for hit in results.hits}


def test_each_language_is_found(ctx: Context, indexed: dict[int, str]) -> None:
    answers = {text: {indexed[int(h)] for h in found(ctx, text)} for text, _ in EXPECTED}
    assert answers == dict(EXPECTED)


def test_snippets_mark_the_words_found(ctx: Context, indexed: dict[int, str]) -> None:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        hits = search(session, parse("luong toi thieu"), [irnet]).hits
        thai = search(session, parse("ค่าจ้าง"), [irnet]).hits
    marked = [piece for piece, hit in hits[0].snippet if hit]
    assert marked == ["lương", "tối", "thiểu"]
    assert [piece for piece, hit in thai[0].snippet if hit] == ["ค่าจ้าง"]
