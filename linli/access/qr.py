"""QR images for passes, rendered on the server as inline SVG with segno (pure Python, no CDN, no JS)."""

from __future__ import annotations

import segno


def qr_svg(data: str, *, title: str = "", scale: int = 4) -> str:
    """An accessible inline <svg> (role img, with a title) of ``data`` at error-correction level M."""
    svg = segno.make(data, error="m", micro=False).svg_inline(scale=scale, border=2, title=title or None, dark="#111", light="#fff", svgclass="qr")
    return svg.replace("<svg ", "<svg role=\"img\" ", 1)
