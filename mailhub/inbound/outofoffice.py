"""Out-of-office and automatic-reply subjects, in the languages of our members and beyond.

Many vacation replies carry no RFC 3834 header at all (Outlook's "Automatic reply" rules on
older Exchange, webmail "vacation" settings, replies typed by a secretary's rule), so their
subject is the only sign; a real Latvian one from the bounce_email test data says only
"Arpus biroja atrasanas automatiska atbilde: <subject>". Phrases come from mail clients'
localised subject prefixes (Outlook, Gmail, Yahoo, Thunderbird's vacation add-ons) for
English, French, Spanish, Portuguese, German, Dutch, Italian, Nordic, Polish, Finnish,
Russian, Latvian, Thai, Vietnamese, Bahasa (Indonesia and Malaysia), Chinese, Japanese,
Korean and Hindi. Latin-script phrases count at the start of the subject (after Re:, Fwd:
and list tags), so "Policy on vacation leave" stays a post; ordinary words ("absent",
"away") only as the whole subject or before a colon, so that "Absence of data on youth
employment" does too. Phrases in other scripts are specific enough to count anywhere.
"""

from __future__ import annotations

import re

# Latin-script phrases, matched at a word boundary.
_STRONG_LATIN = (
    r"out of (the )?office|automatic reply|auto(matic)?[- ]?reply|autoreply|auto[- ]?response|"
    r"vacation reply|on vacation|away from (the )?office|"
    r"abwesenheitsnotiz|automatische antwort|"
    r"r[ée]ponse automatique|absent du bureau|message d'absence|"
    r"respuesta autom[áa]tica|fuera de (la )?oficina|"
    r"risposta automatica|automatisch antwoord|resposta autom[áa]tica|fora do escrit[óo]rio|"
    r"odpowied[źz] automatyczna|automaattinen vastaus|"
    r"autom[āa]tisk[āa] atbilde|[āa]rpus biroja|"
    r"tr[ảa] l[ờo]i t[ựu] [đd][ộo]ng|v[ắa]ng m[ặa]t|"
    r"balasan (otomatis|automatik)|di luar (kantor|pejabat)|sedang cuti"
)
# Other scripts: no word boundary, since Thai vowel signs and CJK are not \w-delimited.
_STRONG_OTHER = (
    "автоответ|автоматический ответ|"
    "ตอบกลับอัตโนมัติ|ไม่อยู่ที่สำนักงาน|"
    "自动回复|自动答复|自動回覆|自動答覆|自動回信|自動応答|自動返信|不在办公室|不在辦公室|"
    "不在のお知らせ|不在通知|休暇のお知らせ|"
    "자동 회신|자동회신|자동 응답|자동응답|부재중|부재 중|"
    "स्वचालित उत्तर|स्वतः उत्तर|कार्यालय से बाहर"
)
_WEAK = r"absence|absent|abwesend|afwezig|fravær|frånvaro|autosvar|ausente|vacation|away|cuti"
_PREFIXES = r"^((re|aw|sv|antw|rif|r|wg|fw|fwd|tr)\s*:\s*|\[[^\]]*\]\s*)*"
_SUBJECT = re.compile(
    rf"{_PREFIXES}(({_STRONG_LATIN})\b|({_WEAK})\s*(:|-|$|\())|{_STRONG_OTHER}",
    re.IGNORECASE,
)


def is_vacation_subject(subject: str) -> bool:
    """An automatic reply by its subject alone."""
    return bool(_SUBJECT.search(subject.strip()))
