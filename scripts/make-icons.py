#!/usr/bin/env python3
"""Draws the app icons in public/icons (committed; rerun only to change the design).

Needs Pillow (`pip install pillow`). The mark is the tenge sign: two bars and a stem, white on
the brand green. The maskable icon keeps the mark inside the central 80 % safe zone.
"""
from pathlib import Path
from PIL import Image, ImageDraw

GREEN = (11, 110, 79, 255)
WHITE = (255, 255, 255, 255)
OUT = Path(__file__).resolve().parent.parent / "public" / "icons"


def tenge(draw, size, scale):
    """The tenge sign centred in a square of `size`, its width `scale` of the square."""
    w = size * scale
    x0 = (size - w) / 2
    bar = w * 0.16
    top = (size - w * 1.1) / 2
    draw.rectangle([x0, top, x0 + w, top + bar], fill=WHITE)
    y2 = top + bar * 1.9
    draw.rectangle([x0, y2, x0 + w, y2 + bar], fill=WHITE)
    stem = w * 0.18
    sx = (size - stem) / 2
    draw.rectangle([sx, y2, sx + stem, top + w * 1.1], fill=WHITE)


def icon(size, maskable):
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if maskable:
        draw.rectangle([0, 0, size, size], fill=GREEN)
        tenge(draw, size, 0.42)
    else:
        draw.rounded_rectangle([0, 0, size - 1, size - 1], radius=size * 0.2, fill=GREEN)
        tenge(draw, size, 0.56)
    return img


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    icon(192, False).save(OUT / "icon-192.png", optimize=True)
    icon(512, False).save(OUT / "icon-512.png", optimize=True)
    icon(512, True).save(OUT / "maskable-512.png", optimize=True)
