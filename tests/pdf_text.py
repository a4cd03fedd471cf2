"""The text a PDF made by WeasyPrint shows, read without a PDF library (none is installed).

WeasyPrint writes each run of text as glyph ids (``[<0057>0<0052>0] TJ``) and gives each font a
ToUnicode map from glyph id to character. The glyphs of every text operator, in the order drawn,
mapped back to characters, are the PDF's text. Spaces are not kept (SVG text is placed glyph by
glyph): compare with ``squeezed``.
"""

from __future__ import annotations

import re
import zlib


def _streams(pdf: bytes) -> list[bytes]:
    inflated = []
    for found in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            inflated.append(zlib.decompress(found.group(1)))
        except zlib.error:
            continue  # a font or an image
    return inflated


def _to_unicode(streams: list[bytes]) -> dict[str, str]:
    glyphs: dict[str, str] = {}
    for stream in streams:
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
            for glyph, char in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                glyphs[glyph.decode().lower()] = bytes.fromhex(char.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.S):
            for low, high, char in re.findall(
                rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block
            ):
                first = ord(bytes.fromhex(char.decode()).decode("utf-16-be")[0])
                width = len(low)
                for offset in range(int(high, 16) - int(low, 16) + 1):
                    glyphs[f"{int(low, 16) + offset:0{width}x}"] = chr(first + offset)
    return glyphs


def pdf_text(pdf: bytes) -> str:
    """Every glyph the PDF draws, as characters, in drawing order (spaces between runs dropped)."""
    streams = _streams(pdf)
    glyphs = _to_unicode(streams)
    text = []
    for stream in streams:
        for operands in re.findall(rb"\[([^\]]*)\]\s*TJ|<([0-9a-fA-F]+)>\s*Tj", stream):
            for run in re.findall(rb"<([0-9a-fA-F]+)>", b"".join(operands)):
                hexa = run.decode().lower()
                text += [glyphs.get(hexa[i : i + 4], "?") for i in range(0, len(hexa), 4)]
    return "".join(text)


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)
