"""Chinese segmentation (jieba, offline dictionary) and colloquial query expansion for L2 search.

Documents and queries are segmented the same way (``cut_for_search``: words plus their shorter
dictionary sub-words), so "居住证" also matches "居住". Queries drop filler words ("怎么", "要",
"什么") and are expanded with the colloquial → official table in ``synonyms.py``.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from functools import lru_cache

from .synonyms import PHRASES, STOPWORDS, WORDS

_WORD = re.compile(r"[\w]+", re.UNICODE)
_lock = threading.Lock()
_ready = False


def _jieba():
    global _ready
    with warnings.catch_warnings():  # jieba 0.42 has invalid escapes in regex literals (SyntaxWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import jieba

    if not _ready:
        with _lock:
            if not _ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                for word in _dictionary_words():
                    jieba.add_word(word, freq=20000)
                _ready = True
    return jieba


def _dictionary_words() -> set[str]:
    """Terms of the expansion table become dictionary words so they are never split apart."""
    words = set(WORDS) | {w for ws in WORDS.values() for w in ws}
    words |= {w for ws in PHRASES.values() for w in ws}
    return {w for w in words if len(w) > 1}


def tokens(text: str) -> list[str]:
    """Search-segmented words of ``text``: lower-cased, punctuation dropped, order kept."""
    if not text:
        return []
    out = []
    for w in _jieba().cut_for_search(text):
        w = w.strip().lower()
        if w and _WORD.fullmatch(w):
            out.append(w)
    return out


def index_text(text: str) -> str:
    """What is stored in a search column: the words joined by spaces."""
    return " ".join(tokens(text))


@lru_cache(maxsize=2048)
def query_terms(q: str) -> tuple[str, ...]:
    """Distinct query words after filler removal and colloquial expansion (at most 32)."""
    q = (q or "").strip()[:200]
    extra: list[str] = []
    for phrase, expansion in PHRASES.items():
        if phrase in q:
            extra.extend(expansion)
    words = [w for w in tokens(q) if w not in STOPWORDS]
    for w in list(words):
        extra.extend(WORDS.get(w, ()))
    seen: dict[str, None] = {}
    for w in words + [e.lower() for e in extra]:  # expansions are dictionary words: searched whole
        if w not in STOPWORDS and w not in seen:
            seen[w] = None
    return tuple(seen)[:32]
