"""Draw the app's PNG icons (a white tick on the accent blue, as icon.svg) without any image library.

Run ``python scripts/make_icons.py`` after changing the design; the PNGs are kept in git.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "apn" / "web" / "static" / "app"
BLUE = (0x00, 0x4B, 0x87)
WHITE = (0xFF, 0xFF, 0xFF)
#: The tick as in icon.svg, on a 512 grid: two segments and the stroke's half width.
TICK = ((128, 266), (212, 350), (384, 166))
HALF_WIDTH = 28


def _distance(px: float, py: float, a: tuple[int, int], b: tuple[int, int]) -> float:
    """Distance from a point to a line segment."""
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def pixel(x: int, y: int, size: int) -> tuple[int, int, int]:
    """The colour at a pixel: white within the tick's stroke (with a soft edge), blue elsewhere."""
    scale = 512 / size
    px, py = (x + 0.5) * scale, (y + 0.5) * scale
    d = min(_distance(px, py, TICK[0], TICK[1]), _distance(px, py, TICK[1], TICK[2]))
    cover = max(0.0, min(1.0, (HALF_WIDTH - d) / scale + 0.5))
    return tuple(round(b + (w - b) * cover) for b, w in zip(BLUE, WHITE, strict=True))  # type: ignore[return-value]


def png(size: int) -> bytes:
    """An RGB PNG of the icon at ``size`` × ``size`` pixels."""
    rows = bytearray()
    for y in range(size):
        rows.append(0)
        for x in range(size):
            rows.extend(pixel(x, y, size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
            + chunk(b"IEND", b""))


def main() -> int:
    """Write icon-192.png and icon-512.png."""
    for size in (192, 512):
        path = OUT / f"icon-{size}.png"
        path.write_bytes(png(size))
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
