"""YAML front matter, written safely without a YAML library.

A card's metadata is a few keys of known shapes: strings, numbers, lists of strings and the
`configs` list of mappings. Every string is written double-quoted with YAML's escapes, so no
value (a file name with a colon, a title starting with `-` or `{`, a line break, a character YAML
may not hold raw) can change the structure; `yaml.safe_load` and the Hub read back exactly what
was written. PyYAML stays an optional dependency (the browse extra): this is all of YAML we
need, and the tests hold it against PyYAML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# What YAML 1.1 and 1.2 both let stand raw inside a double-quoted scalar: printable characters
# other than the quote and the backslash. The rest is escaped.
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\0": "\\0",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}

Value = str | int | float | bool | None | Sequence["Value"] | Mapping[str, "Value"]


def _printable(char: str) -> bool:
    code = ord(char)
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    )


def quoted(text: str) -> str:
    """`text` as a YAML double-quoted scalar."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _printable(char):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def _scalar(value: str | int | float | bool | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return quoted(value)


def _lines(value: Value, indent: str) -> list[str]:
    """A mapping's or list's lines at `indent` (what goes after a key that ends its line)."""
    if isinstance(value, Mapping):
        lines = []
        for key, item in value.items():
            if isinstance(item, Mapping | list | tuple):
                lines.append(f"{indent}{key}:")
                lines.extend(_lines(item, indent + "  " if isinstance(item, Mapping) else indent))
            else:
                lines.append(f"{indent}{key}: {_scalar(item)}")  # type: ignore[arg-type]
        return lines
    assert isinstance(value, list | tuple)
    lines = []
    for item in value:
        if isinstance(item, Mapping):
            inner = _lines(item, indent + "  ")
            lines.append(f"{indent}- {inner[0].lstrip()}")
            lines.extend(inner[1:])
        else:
            lines.append(f"{indent}- {_scalar(item)}")
    return lines


def front_matter(metadata: Mapping[str, Value], comment: str = "") -> str:
    """The block a card starts with: `---`, an optional comment line, the keys, `---`. Keys
    are our own names (plain words); values are quoted."""
    head = ["---", *([f"# {comment}"] if comment else [])]
    return "\n".join([*head, *_lines(metadata, ""), "---"]) + "\n"
