"""Digits drawn with strokes on a 400x400 canvas, the way a person draws them with a mouse."""

import math

from PIL import Image, ImageDraw

CANVAS = 400


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 40) -> list[tuple]:
    return [
        (
            cx + rx * math.cos(math.radians(start + (end - start) * i / n)),
            cy + ry * math.sin(math.radians(start + (end - start) * i / n)),
        )
        for i in range(n + 1)
    ]


# One list of strokes per digit, each stroke a polyline on the 400x400 canvas.
STROKES = {
    0: [_arc(200, 200, 70, 110, 0, 360)],
    1: [[(210, 80), (200, 320)]],
    2: [_arc(200, 150, 70, 60, 200, 360) + [(130, 320)], [(130, 320), (280, 320)]],
    3: [_arc(200, 140, 60, 50, 200, 450), _arc(200, 250, 70, 60, 270, 500)],
    4: [[(230, 80), (130, 240), (270, 240)], [(230, 80), (230, 330)]],
    5: [[(260, 90), (160, 90), (150, 190)], _arc(200, 250, 70, 65, 220, 500)],
    6: [_arc(200, 250, 60, 60, 0, 360), [(255, 95), (145, 240)]],
    7: [[(130, 90), (270, 90), (170, 330)]],
    8: [_arc(200, 140, 50, 55, 0, 360), _arc(200, 260, 65, 65, 0, 360)],
    9: [_arc(200, 150, 60, 60, 0, 360), [(258, 150), (245, 330)]],
}


def draw_digit(
    digit: int, width: int = 10, offset: tuple[int, int] = (0, 0), scale: float = 1.0, mode: str = "RGBA"
) -> Image.Image:
    """Black strokes on a transparent (RGBA) or white (L, RGB) canvas, moved by `offset`, scaled about the center."""
    background = (0, 0, 0, 0) if mode == "RGBA" else "white"
    canvas = Image.new(mode, (CANVAS, CANVAS), background)
    pen = ImageDraw.Draw(canvas)
    ink = (0, 0, 0, 255) if mode == "RGBA" else "black"
    for stroke in STROKES[digit]:
        points = [
            (CANVAS / 2 + (x - CANVAS / 2) * scale + offset[0], CANVAS / 2 + (y - CANVAS / 2) * scale + offset[1])
            for x, y in stroke
        ]
        pen.line(points, fill=ink, width=width, joint="curve")
    return canvas
