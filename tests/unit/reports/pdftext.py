"""Reading the text a PDF report shows, for tests: fpdf2 deflates each page's content stream."""

import re
import zlib

_STREAM = re.compile(rb"/Length (\d+)[^>]*>>\s*stream\r?\n", flags=re.DOTALL)


def content_streams(pdf: bytes) -> list[str]:
    """Every deflated stream, inflated. Streams are cut by their /Length: a compressed stream may itself end in a
    byte that a regular expression for "stream ... endstream" would take for the line break."""
    found = []
    for match in _STREAM.finditer(pdf):
        data = pdf[match.end():match.end() + int(match.group(1))]
        try:
            found.append(zlib.decompress(data).decode("latin-1"))
        except zlib.error:  # fonts and images are streams too
            continue
    return found


def text_lines(pdf: bytes) -> list[str]:
    """The strings of the text-showing operators, in page order, with PDF escapes undone."""
    raw = re.findall(r"\(((?:\\.|[^\\)])*)\) Tj", "\n".join(content_streams(pdf)))
    return [re.sub(r"\\(.)", r"\1", line) for line in raw]
