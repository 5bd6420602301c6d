"""Finds English sentences left in text meant to be Chinese.

A word is a run of two or more Latin letters, lower-case or capitalised ("forward",
"Run"). Identifiers and maths are not words: names of the graph (node ids, tokens of
labels, op names, given by the caller), tokens with digits or underscores, all-capitals
(MSE, RM, JSON), mixed case (PyTorch, dY), single letters, d + a name (dloss, dk1), and the
short list ALLOWED below. English is two words in a row with only spaces or punctuation
between them: "Run forward", "chain rule", or one word standing alone with no Chinese
around it ("scalar" as a label). One foreign word in a Chinese sentence (a function name,
a product) is how Chinese courses write, and passes.
"""

from __future__ import annotations

import re

# Words (not identifiers of the graph) a Chinese ML course writes in Latin letters. Kept
# small on purpose: every entry is a word that could hide an untranslated sentence.
ALLOWED = frozenset(
    {
        "stepgrad",  # the product
        "English",  # the language's own name, on the button that switches to it
        "Adam",  # an optimizer's name
        "ms",  # milliseconds, as charts write them
        "numpy",  # libraries and tools
        "Graphviz",
        "scikit",  # (scikit-learn)
        "logits",  # the technical term, as Chinese courses write it
        "keepdims",  # an op attribute, written as in code
        "one",  # "one-hot", written so in Chinese courses ("hot" is below)
        "hot",
        "logistic",  # "logistic 函数"
    }
)

TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_']*")
WORD = re.compile(r"[A-Z]?[a-z]+(?:'[a-z]+)?\Z")
# between two words of one English phrase: spaces and punctuation only (no CJK, digits, maths)
GAP = re.compile(r"[\s,.;:!?\"'()\u2018\u2019\u201c\u201d\u2026\u2014\u2013-]*\Z")


def is_word(token: str, names: frozenset[str] | set[str]) -> bool:
    if len(token) < 2 or not WORD.match(token):
        return False
    if token in names or token in ALLOWED or token.lower() in ALLOWED:
        return False
    # dloss, dk1: derivative names
    return not (token.startswith("d") and token[1:] in names)


# a label cut short on a node ("mse(y, sigmo…") ends in a piece of a name, not a word
CUT = re.compile(r"[A-Za-z0-9_]+\u2026")


def english_runs(text: str, names: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Every run of two or more English words in `text` (empty when there is none)."""
    text = CUT.sub("\u2026", text)
    tokens = [(m.start(), m.end(), m.group()) for m in TOKEN.finditer(text)]
    runs: list[str] = []
    start = None
    for i, (begin, end, token) in enumerate(tokens):
        word = is_word(token, names)
        if word and start is not None and GAP.match(text[tokens[i - 1][1] : begin]):
            continue  # the run goes on
        if start is not None and start < i - 1:
            runs.append(text[tokens[start][0] : tokens[i - 1][1]])
        start = i if word else None
    if start is not None and start < len(tokens) - 1:
        runs.append(text[tokens[start][0] : tokens[-1][1]])
    return runs


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def lone_word(text: str, names: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The English word of a text that is that word alone, with no Chinese around it (a
    label "scalar", a tooltip "graph"), or None."""
    if CJK.search(text):
        return None
    text = CUT.sub("\u2026", text)
    words = [t for t in TOKEN.findall(text) if is_word(t, names)]
    return words[0] if len(words) == 1 else None


def names_of(*texts: str) -> set[str]:
    """The Latin tokens of some identifiers or labels (node ids, labels, op names)."""
    out: set[str] = set()
    for text in texts:
        out.update(TOKEN.findall(text or ""))
    return out
