"""A community's target mix: how many people of each affiliation it plans to have, as the
networks write it ("20 government officials, 20 trade union officials ..."). Stored and
shown as one line, ``government=20 workers=20 employers=20``, in the order of affiliations;
config.toml may give it as a table. Shares are each number over their sum."""

from __future__ import annotations

from collections.abc import Mapping

from mailhub.choices import Affiliation

AFFILIATIONS = tuple(a.value for a in Affiliation)
EXAMPLE = "government=20 workers=20 employers=20 staff=25"


def parse(value: str | Mapping[str, object] | None) -> dict[str, int]:
    """Affiliation -> planned people; ValueError naming what is wrong."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        items = value.replace(",", " ").replace(";", " ").split()
        if any("=" not in item for item in items):
            raise ValueError(f"write it as affiliation=people, e.g. {EXAMPLE!r}")
        pairs = [(k.strip(), v.strip()) for k, v in (item.split("=", 1) for item in items)]
    found: dict[str, int] = {}
    for key, number in pairs:
        if key not in AFFILIATIONS:
            raise ValueError(f"{key!r} is not one of {', '.join(AFFILIATIONS)}")
        if not number.isdigit():
            raise ValueError(f"{key}={number!r}: give a whole number of people")
        found[key] = int(number)
    if found and not sum(found.values()):
        raise ValueError("the numbers add up to 0")
    return {a: found[a] for a in AFFILIATIONS if a in found}


def canonical(value: str | Mapping[str, object] | None) -> str:
    """The one-line form stored and compared: affiliations in their order, zeros kept."""
    return " ".join(f"{key}={number}" for key, number in parse(value).items())


def shares(mix: Mapping[str, int]) -> dict[str, float]:
    total = sum(mix.values())
    return {key: number / total for key, number in mix.items()} if total else {}
