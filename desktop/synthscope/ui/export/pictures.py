"""Any panel or plot of the window as a picture: PNG (at twice the screen's size, sharp on slides) or
SVG (lines and text stay lines and text, for editing or printing large)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QWidget

from synthscope.session.json_io import failure_reason
from synthscope.ui import theme

PNG_SCALE = 2  # a panel 600 pixels wide becomes a 1200-pixel picture: crisp on a projector or slide
PICTURE_KINDS = {".png": "PNG picture", ".svg": "SVG drawing"}
PICTURE_FILTER = "PNG picture (*.png);;SVG drawing (*.svg)"


class PictureError(Exception):
    """A picture could not be written; the message says why in plain words."""


def picture_path(path: str, chosen_filter: str = "") -> Path:
    """`path` with the picture kind's ending: the one typed, else the one the dialog's filter chose."""
    result = Path(path)
    if result.suffix.lower() in PICTURE_KINDS:
        return result
    return result.with_name(result.name + (".svg" if "svg" in chosen_filter.lower() else ".png"))


def save_picture(widget: QWidget, path: str | Path, title: str = "") -> QSize:
    """Draw `widget` as it looks now into `path` (.png or .svg); returns the picture's size in pixels."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in PICTURE_KINDS:
        raise PictureError(f"{path.name}: a picture must end in .png or .svg.")
    size = widget.size()
    if size.isEmpty() or not widget.isVisible():
        raise PictureError("That panel is hidden just now: show it, then save its picture.")
    try:  # asked first: Qt's writers only warn on a folder that is not there
        path.open("wb").close()
    except OSError as exc:
        raise PictureError(f"{path} could not be written ({failure_reason(exc)}).") from exc
    if kind == ".png":
        image = QImage(size * PNG_SCALE, QImage.Format.Format_ARGB32)
        image.setDevicePixelRatio(PNG_SCALE)
        image.fill(QColor(theme.BACKGROUND))
        painter = QPainter(image)
        try:
            widget.render(painter, QPoint())
        finally:
            painter.end()
        if not image.save(str(path), "PNG"):
            raise PictureError(f"{path} could not be written: is there room on the disk?")
        return image.size()
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    generator.setTitle(title or "Synthscope")
    generator.setDescription("Drawn by Synthscope from the window as it looked.")
    painter = QPainter()
    if not painter.begin(generator):
        raise PictureError(f"{path} could not be written: is there room on the disk?")
    try:
        painter.fillRect(QRect(0, 0, size.width(), size.height()), QColor(theme.BACKGROUND))
        widget.render(painter, QPoint())
    finally:
        painter.end()
    return size
