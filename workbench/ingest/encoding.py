"""The encoding of a text file: checked before reading, and the bytes decoded with it."""

from __future__ import annotations

import codecs

from workbench.errors import InputError
from workbench.ingest.book import Unreadable


def check_encoding(encoding: str) -> str:
    """The codec an --encoding names; InputError when it names none, or one that does not
    decode bytes to text (rot13, base64)."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    try:
        "".encode(codec)  # a codec of bytes to bytes refuses text (b"".decode lets it pass)
    except LookupError:
        raise InputError(f"{encoding!r} is not a text encoding") from None
    return codec


def decode_text(data: bytes, encoding: str) -> str:
    """Decode a text file; refuse binary and mis-encoded bytes in plain words."""
    codec = check_encoding(encoding)
    # NUL bytes mean binary, except in the wide encodings where they are half of most letters.
    if b"\x00" in data and not codec.startswith(("utf-16", "utf-32")):
        raise Unreadable("looks like a binary file, not text")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        raise Unreadable(
            f"is not valid {encoding} (byte 0x{data[e.start]:02x} at offset {e.start}); "
            f"pass its encoding, e.g. --encoding cp1252"
        ) from None
