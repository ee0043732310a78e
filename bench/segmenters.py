"""Which segmenter for Thai and Chinese: pairs of characters (what search/text.py does)
against pythainlp's newmm (Thai) and jieba (Chinese), measured on real sentences.

Recall: every word a segmenter itself cuts out of any sentence (two characters or more) is
searched in every sentence, as the index would do it: a query matches when its tokens
stand in a row among the sentence's tokens. A sentence that holds the word (as a substring)
should be found. Dictionary segmenters cut the same word differently in different
contexts, so they miss some; pairs find a word wherever it stands (and never a sentence
without it: pairs in a row are the substring itself). Speed: characters segmented per
second. The dictionaries are optional: what is not installed is reported and skipped.

    python bench/segmenters.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from mailhub.search.text import query_tokens, token_texts

THAI = [
    "กระทรวงแรงงานเสนอให้ขึ้นค่าจ้างขั้นต่ำสำหรับแรงงานข้ามชาติในประเทศไทย",
    "สหภาพแรงงานเรียกร้องให้นายจ้างเจรจาต่อรองร่วมกันเรื่องสวัสดิการ",
    "คณะกรรมการค่าจ้างจะประชุมเพื่อพิจารณาอัตราค่าจ้างขั้นต่ำใหม่",
    "แรงงานนอกระบบยังเข้าไม่ถึงการคุ้มครองทางสังคมอย่างทั่วถึง",
    "กองทุนประกันสังคมขยายสิทธิประโยชน์ให้ผู้ประกันตนมาตรา",
    "การฝึกอบรมฝีมือแรงงานช่วยให้เยาวชนหางานทำได้ง่ายขึ้น",
    "นายจ้างต้องจัดให้มีความปลอดภัยในการทำงานตามกฎหมาย",
    "ไรเดอร์ส่งอาหารเรียกร้องสถานะลูกจ้างจากแพลตฟอร์ม",
    "การเจรจาไตรภาคีระหว่างรัฐบาลนายจ้างและลูกจ้างเป็นเรื่องสำคัญ",
    "แรงงานข้ามชาติจากเมียนมาทำงานในภาคประมงและก่อสร้าง",
]
CHINESE = [
    "人力资源和社会保障部发布了关于青年就业的新政策。",
    "最低工资标准将在明年上调百分之五。",
    "工会代表与雇主进行了集体谈判。",
    "平台劳动者的社会保险覆盖仍然不足。",
    "职业技能培训帮助农民工找到更好的工作。",
    "三方协商机制促进了劳动关系的和谐稳定。",
    "外来务工人员的工资拖欠问题得到解决。",
    "青年失业率在去年有所下降。",
    "劳动合同法保护了劳动者的合法权益。",
    "绿色就业是可持续发展的重要组成部分。",
]


def _in_a_row(query: list[str], tokens: list[str]) -> bool:
    n = len(query)
    return n > 0 and any(tokens[i : i + n] == query for i in range(len(tokens) - n + 1))


def measure(
    name: str,
    sentences: list[str],
    index_tokens: Callable[[str], list[str]],
    ask_tokens: Callable[[str], list[str]],
    words: set[str],
    rounds: int,
) -> None:
    indexed = [index_tokens(s) for s in sentences]
    expected = found = wrong = 0
    for word in sorted(words):
        asked = ask_tokens(word)
        for sentence, tokens in zip(sentences, indexed, strict=True):
            hit = _in_a_row(asked, tokens)
            if word in sentence:
                expected += 1
                found += hit
            elif hit:
                wrong += 1
    started = time.perf_counter()
    for _ in range(rounds):
        for sentence in sentences:
            index_tokens(sentence)
    chars = rounds * sum(map(len, sentences))
    speed = chars / (time.perf_counter() - started)
    print(
        f"  {name:22s} recall {found}/{expected} = {found / expected:6.1%}, "
        f"found without the word: {wrong}, {speed / 1000:8.0f}k chars/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    try:
        from pythainlp.tokenize import word_tokenize

        def newmm(text: str) -> list[str]:
            return [w for w in word_tokenize(text, engine="newmm") if w.strip()]

    except ImportError:
        newmm = None  # type: ignore[assignment]
    try:
        import jieba

        jieba.setLogLevel(60)

        def cut(text: str) -> list[str]:
            return [w for w in jieba.lcut(text) if w.strip() and w not in "。，"]

    except ImportError:
        cut = None  # type: ignore[assignment]
    for language, sentences, segmenter, label in (
        ("Thai", THAI, newmm, "pythainlp newmm"),
        ("Chinese", CHINESE, cut, "jieba"),
    ):
        print(f"{language}: {len(sentences)} sentences")
        if segmenter is None:
            print(f"  {label}: not installed; pairs only")
            words = {s[i : i + 3] for s in sentences for i in range(0, len(s) - 3, 5)}
        else:
            words = {w for s in sentences for w in segmenter(s) if len(w) >= 2}
            measure(label, sentences, segmenter, segmenter, words, rounds)
        measure("pairs (search/text.py)", sentences, token_texts, query_tokens, words, rounds)


if __name__ == "__main__":
    main()
