"""Country codes as members, resources and reports carry them (ISO 3166-1 alpha-2).

Apart from the members' module so that the command line checks a `--country` without
importing the store's models.
"""

from __future__ import annotations

import pycountry

from mailhub.errors import InvalidInput

EXAMPLE = "TH"


def check_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased; empty means unknown."""
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidInput(
            f"country {value!r}: expected an ISO 3166-1 alpha-2 code such as '{EXAMPLE}'"
        )
    return code
