"""Licence plates per GA 36-2018: normalisation and validation (K1).

Ordinary plates: province abbreviation + issuing-office letter + 5 characters (letters without I and
O, digits; the last may be 挂/学/警/港/澳). New-energy plates have 8 characters: small cars carry D
(pure electric) or F (other new energy) in the third place followed by a letter or digit and 4 digits;
large cars carry 5 digits and then D/F last.
"""

from __future__ import annotations

import re
import unicodedata

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"  # letters without I and O
_ORDINARY = re.compile(rf"^[{PROVINCES}][{_L}][{_L}0-9]{{4}}[{_L}0-9挂学警港澳]$")
_NEV_SMALL = re.compile(rf"^[{PROVINCES}][{_L}][DF][{_L}0-9][0-9]{{4}}$")
_NEV_LARGE = re.compile(rf"^[{PROVINCES}][{_L}][0-9]{{5}}[DF]$")


def normalise(raw: str) -> str:
    """Upper case, full-width to half-width, separators (space, ·, -, •) removed."""
    s = unicodedata.normalize("NFKC", raw or "").upper()
    return "".join(ch for ch in s if ch not in " ·-•.\t")


def kind(plate: str) -> str | None:
    """'ordinary', 'new_energy' or None when ``plate`` (normalised) is not a valid GA 36 plate."""
    if len(plate) == 7 and _ORDINARY.match(plate):
        return "ordinary"
    if len(plate) == 8 and (_NEV_SMALL.match(plate) or _NEV_LARGE.match(plate)):
        return "new_energy"
    return None


def is_valid(plate: str) -> bool:
    return kind(plate) is not None
