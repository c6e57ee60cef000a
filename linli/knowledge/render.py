"""Safe HTML for article bodies: the small Markdown subset the articles use (paragraphs, **bold**,
"- " and "1. " lists). Text is escaped first, so an article can never inject markup."""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_UL = re.compile(r"^[-*]\s+(.*)$")
_OL = re.compile(r"^\d+[.、]\s*(.*)$")


def _inline(text: str) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", escape(text))


def to_html(body: str) -> SafeString:
    out: list[str] = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        para: list[str] = []
        list_tag = None
        for ln in lines:
            m_ul, m_ol = _UL.match(ln), _OL.match(ln)
            tag = "ul" if m_ul else "ol" if m_ol else None
            if tag != list_tag:
                if para:
                    out.append("<p>" + "<br>".join(para) + "</p>")
                    para = []
                if list_tag:
                    out.append(f"</{list_tag}>")
                if tag:
                    out.append(f"<{tag}>")
                list_tag = tag
            if tag:
                out.append(f"<li>{_inline((m_ul or m_ol).group(1))}</li>")
            else:
                para.append(_inline(ln))
        if para:
            out.append("<p>" + "<br>".join(para) + "</p>")
        if list_tag:
            out.append(f"</{list_tag}>")
    return mark_safe("\n".join(out))  # noqa: S308  (every piece of text was escaped above)
