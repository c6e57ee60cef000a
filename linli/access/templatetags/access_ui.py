"""Template helpers of the access screens: masked people, credential numbers, QR images (inline SVG, no CDN)."""

from __future__ import annotations

from django import template
from django.utils.safestring import mark_safe

from linli.core.pii import mask_name

from ..qr import qr_svg

register = template.Library()


@register.filter
def masked(name: str | None) -> str:
    """A person's or visitor's name as staff lists show it (王*明)."""
    return mask_name(name) if name else "—"


@register.filter
def cred_number(c) -> str:
    """What may be shown of a credential: the last 4 card digits, never a PIN or a template."""
    if c.secret_tail:
        return f"****{c.secret_tail}"
    if c.kind == "pin":
        return "******"
    if c.template_ref:
        return f"{c.template_ref[:4]}…"
    return "—"


@register.simple_tag
def qr_image(data: str, title: str = "", scale: int = 4):
    return mark_safe(qr_svg(data, title=title, scale=scale))
