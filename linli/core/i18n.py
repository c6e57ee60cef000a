"""Bilingual messages: every user-facing error carries Chinese and English text."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation


@dataclass(frozen=True)
class Msg:
    zh: str
    en: str

    def text(self, **kwargs: object) -> str:
        lang = (translation.get_language() or "zh-hans").lower()
        raw = self.en if lang.startswith("en") else self.zh
        return raw.format(**kwargs) if kwargs else raw

    def __str__(self) -> str:
        return self.text()
