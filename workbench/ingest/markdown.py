"""Reading Markdown: CommonMark blocks (markdown-it-py); `#` and underlined headings are sections.

Emphasis stays as written; code blocks, HTML blocks, rules and YAML front matter are left out.
"""

from __future__ import annotations

import re

from workbench.ingest.book import Book, Builder, ReadOptions, Section
from workbench.ingest.gutenberg import gutenberg_body
from workbench.ingest.lines import collapse_spaces, is_verse, join_lines, normalize_text, wrap_width

# YAML front matter: `---` on the first line, `key: value` lines with no blank one among them,
# then `---` or `...`. A book that opens with a `---` scene break is not taken for it.
_FRONT_MATTER = re.compile(
    r"\A---[^\S\n]*\n[A-Za-z_][\w -]*:[^\n]*\n(?:[^\n]*\S[^\n]*\n)*?(?:---|\.\.\.)[^\S\n]*(?:\n|\Z)"
)


def read_markdown(text: str, options: ReadOptions) -> Book:
    """Read Markdown: CommonMark blocks; headings are sections, emphasis is kept as written."""
    from markdown_it import MarkdownIt  # imported here: only ingest of .md pays for it

    text = _FRONT_MATTER.sub("", normalize_text(text), count=1)
    lines = text.split("\n")
    boilerplate = 0
    if not options.keep_boilerplate:
        lines, boilerplate = gutenberg_body(lines)
    width = wrap_width(lines)
    # Indented code blocks are off: books indent verse and quotations, not code.
    parser = MarkdownIt("commonmark").disable("code")
    tokens = parser.parse("\n".join(lines))
    out = Builder()
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            title = collapse_spaces(tokens[i + 1].content.replace("\n", " "))
            out.heading(Section(title, int(token.tag[1])))
        elif token.type == "paragraph_open":
            raw = tokens[i + 1].content.split("\n")
            # A line ending in two spaces or a backslash is a hard line break in Markdown.
            hard = [line.endswith("  ") or line.endswith("\\") for line in raw]
            block = [line[:-1] if line.endswith("\\") else line for line in raw]
            verse_lines = is_verse(block, width)
            verse = verse_lines or any(hard[:-1])
            keep = [options.keep_line_breaks or verse_lines or h for h in hard]
            paragraph = join_lines(block, keep, keep_spacing=options.keep_spacing)
            out.paragraph(paragraph, verse=verse)
        # fences, HTML blocks and rules (`* * *`, `---`) are not prose: left out
    return Book("md", options.encoding, out.paragraphs, out.sections, boilerplate)
