"""Real token counts: the texts an export writes, counted by the tokenizer of the model to be tuned.

`--tokenizer PATH` names a Hugging Face `tokenizer.json` (or the folder that holds one, as a model
downloaded from the Hub has), read with the `tokenizers` library. Texts are counted as they are,
without the special tokens a chat template adds around them and without the truncation or
padding a tokenizer.json may carry, in batches so that the library's Rust code does the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import SettingError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TOKENIZER_FILE = "tokenizer.json"


class TokenCounter:
    """A tokenizer that counts tokens, and the name the statistics and the card give it."""

    def __init__(self, tokenizer: Tokenizer, name: str) -> None:
        self._tokenizer = tokenizer
        self.name = name

    @classmethod
    def load(cls, given: str) -> TokenCounter:
        """The tokenizer at `given`: a tokenizer.json, or a folder holding one. SettingError
        with one line for a path that is missing or not a tokenizer."""
        path = Path(given).expanduser()
        if path.is_dir():
            if not (path / TOKENIZER_FILE).is_file():
                raise SettingError(
                    "{tokenizer} {path} is a folder without a " + TOKENIZER_FILE, path=given
                )
            path = path / TOKENIZER_FILE
        elif not path.is_file():
            raise SettingError("{tokenizer} {path}: no such file", path=given)
        from tokenizers import Tokenizer  # loaded only when asked for

        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as e:  # the library raises plain Exception for any file it cannot read
            problem = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise SettingError(
                "{tokenizer} {path} is not a tokenizer the tokenizers library reads ({problem})",
                path=given,
                problem=problem,
            ) from None
        # A model's tokenizer.json may cut or pad every text to a length (all-MiniLM-L6-v2's
        # pads and truncates to 128): a count wants neither.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        # A model's folder name says which tokenizer it is: SmolLM2-135M/tokenizer.json.
        name = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
        return cls(tokenizer, name)

    def count(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text, special tokens left out."""
        # encode_batch_fast (tokenizers 0.21+) skips the character offsets a count has no use
        # for: a quarter faster.
        encode = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)
        return [len(encoding.ids) for encoding in encode(list(texts), add_special_tokens=False)]
