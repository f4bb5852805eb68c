"""The app's icon, rendered from resources/icons/synthscope.svg for each platform's package.

Linux: PNGs for the hicolor theme at every size; Windows: an .ico; macOS: an .icns. The .ico and
.icns hold PNG images, which both formats accept (Windows Vista and macOS 10.7 onwards), so no
image library beyond Qt's SVG renderer is needed.

    python scripts/icons.py OUT_DIR      writes OUT_DIR/hicolor/…, OUT_DIR/synthscope.ico, .icns
"""
from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "synthscope.svg"
ICON_NAME = "synthscope"
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# The .icns element types that hold PNG data, by pixel size (Apple's icns format, "PNG" types).
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09",
              1024: b"ic10"}


def render_png(size: int, svg: Path = SVG) -> bytes:
    """The SVG drawn into a square transparent image of `size` pixels, as PNG bytes."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841 - fonts, painter
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"icons.py: {svg} is not an SVG image Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def write_hicolor(out: Path) -> list[Path]:
    """OUT/hicolor/NxN/apps/synthscope.png at every size, and the SVG as scalable/apps."""
    written = []
    for size in HICOLOR_SIZES:
        target = out / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render_png(size))
        written.append(target)
    scalable = out / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(SVG.read_bytes())
    return [*written, scalable]


def ico_bytes(sizes: tuple[int, ...] = ICO_SIZES) -> bytes:
    """A Windows icon: a directory of PNG images (a size of 256 is written as 0, as the format says)."""
    images = [render_png(size) for size in sizes]
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries = b""
    for size, png in zip(sizes, images):
        side = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        offset += len(png)
    return header + entries + b"".join(images)


def icns_bytes() -> bytes:
    """A macOS icon: 'icns', the total length, then one (type, length, PNG) element per size."""
    body = b"".join(kind + struct.pack(">I", 8 + len(png)) + png
                    for kind, png in ((kind, render_png(size)) for size, kind in ICNS_TYPES.items()))
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    written = write_hicolor(out)
    (out / f"{ICON_NAME}.ico").write_bytes(ico_bytes())
    (out / f"{ICON_NAME}.icns").write_bytes(icns_bytes())
    print(f"icons.py: {len(written)} hicolor icons, {ICON_NAME}.ico and {ICON_NAME}.icns in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
