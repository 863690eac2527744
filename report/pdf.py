"""figures/solution.pdf from figures/solution.md, the deliverable the assignment asks for.

pandoc (the `pypandoc-binary` wheel) reads the Markdown with its `$…$` math and writes Typst; the
Typst compiler (the `typst` wheel) sets it as a PDF with the figures embedded, math set as math and
the text selectable. Both are maintained pip wheels that carry their own binaries, so the PDF is
built offline with no TeX installation and no system package, in well under a second.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from common.core.cli import UserError, write_atomic

# A4 with 2 cm margins; figures as wide as the text and never taller than most of a page.
PREAMBLE = """#set page(paper: "a4", margin: 2cm, numbering: "1")
#set text(size: 10pt)
#set par(justify: false)
#show image: it => align(center, box(width: 100%, height: auto, it))
#set image(width: 100%, height: auto, fit: "contain")
#show table: set text(size: 8.5pt)
"""


# Symbol names that this pandoc writes and this Typst spells otherwise (⊙ is `dot.o` in Typst 0.15).
TYPST_SYMBOLS = {"dot.circle": "dot.o"}


def markdown_to_typst(markdown: Path) -> str:
    """The Typst source of `markdown` (GitHub Markdown with `$…$` math), behind PREAMBLE."""
    import pypandoc

    body = pypandoc.convert_file(str(markdown), "typst", format="gfm+tex_math_dollars")
    for pandoc_name, typst_name in TYPST_SYMBOLS.items():
        body = body.replace(pandoc_name, typst_name)
    return PREAMBLE + body


def write_pdf(markdown: Path, pdf: Path) -> Path:
    """Convert `markdown` to `pdf` (written atomically); figures are read from markdown's folder."""
    import typst

    folder = Path(markdown).resolve().parent
    with tempfile.NamedTemporaryFile("w", suffix=".typ", dir=folder, prefix=".solution-",
                                     delete=False) as source:
        source.write(markdown_to_typst(markdown))
    try:
        data = typst.compile(source.name, root=str(folder))
    except RuntimeError as exc:  # typst's compile errors, e.g. a missing figure
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"typst could not set {markdown.name} as a PDF: {first}") from None
    finally:
        Path(source.name).unlink()
    write_atomic(pdf, data)
    return pdf
