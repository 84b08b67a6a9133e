"""Checks that keep a small LLM's bad answers out of the labels.

Measured on SmolLM2-135M-Instruct (docs/research/llm-labelling-smollm2.md): summaries often
echo the text ("<text>Was on various birth control pills…"), cluster names come back as
``GROUP`` or as whole sentences, and a junk or obedient model can answer with a word planted
in a document. These checks name what is wrong with an answer, so the labeller can retry,
fall back (c-TF-IDF keyword names) or drop it, and count each case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_WORD_RE = re.compile(r"[a-z0-9]+")
_PUNCT_RE = re.compile(r"[^\w\s]+", re.UNICODE)
#: Chat or prompt markup that a real summary or name never contains.
_TEMPLATE_RE = re.compile(r"<\|im_(?:start|end)\|>|</?text>|\b(?:GROUP|OTHER)\b:?")
_TEMPLATE_WORDS = frozenset({"group", "other", "name", "cluster", "category", "summary"})
_STOP = frozenset(
    "a an the and or but of to in on at for with by from is are was were be been it its this "
    "that these those as not no so very my me i you he she they we his her their our your "
    "what which who how do does did has have had will would can could should about into".split()
)


def normalize_name(name: str) -> str:
    """The key under which names merge: lower case, punctuation removed, spaces collapsed."""
    return " ".join(_PUNCT_RE.sub(" ", name.casefold()).split())


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text``."""
    return _WORD_RE.findall(text.casefold())


def _stem(word: str) -> str:
    """A crude stem: plural ``s`` dropped, then the first 5 letters ("satisfied" and
    "satisfaction" meet, and so do "cats" and "cat")."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:5]


def content_stems(text: str) -> set[str]:
    """Stems of the content words of ``text`` (no stop words, at least 3 letters)."""
    return {_stem(w) for w in words(text) if len(w) >= 3 and w not in _STOP}


def is_grounded(candidate: str, sources: Sequence[str], min_sources: int = 1) -> bool:
    """Whether a content word of ``candidate`` occurs in at least ``min_sources`` sources."""
    stems = content_stems(candidate)
    if not stems:
        return False
    source_stems = [content_stems(s) for s in sources]
    return any(sum(st in ss for ss in source_stems) >= min_sources for st in stems)


def _trigrams(ws: list[str]) -> set[tuple[str, ...]]:
    return {tuple(ws[i : i + 3]) for i in range(len(ws) - 2)}


def summary_problem(
    summary: str, text: str, *, prompt: str = "", instruction: str = ""
) -> str | None:
    """Why ``summary`` is not a usable summary of ``text``, or None when it is.

    ``empty``; ``template`` (prompt or chat markup); ``prefix`` (the opening words of the
    text); ``copy`` (80% of its word 3-grams occur verbatim in the text); ``prompt`` (80% copy
    the prompt's own wording); ``ungrounded`` (no content word of the text or the
    instruction: junk such as "asdf qwerty").
    """
    s = summary.strip()
    sw = words(s)
    if not sw:
        return "empty"
    if _TEMPLATE_RE.search(s):
        return "template"
    tw = words(text)
    if len(sw) >= 3 and tw[: len(sw)] == sw:
        return "prefix"
    grams = _trigrams(sw)
    if len(sw) >= 4 and len(grams & _trigrams(tw)) >= 0.8 * len(grams):
        return "copy"
    if prompt and len(grams) >= 4:
        pgrams = _trigrams(words(prompt.replace(text, " ")))
        if len(grams & pgrams) >= 0.8 * len(grams):
            return "prompt"
    if not is_grounded(s, [text, instruction] if instruction else [text]):
        return "ungrounded"
    return None


def name_problem(
    name: str,
    raw_answer: str,
    members: Sequence[str],
    *,
    max_words: int,
    taken: Sequence[str] = (),
    instruction: str = "",
    min_support: int = 2,
) -> str | None:
    """Why an LLM's cluster name is unusable, or None.

    ``empty``; ``template`` (``GROUP``, ``<text>``...); ``too_long`` (the answer's first line
    has more than twice ``max_words`` words: the model did not name anything); ``echo`` (the
    opening of a longer member summary, or of the instruction); ``duplicate`` (a name already
    taken); ``ungrounded`` (no content word in ``min_support`` member summaries, so one
    document cannot name its cluster; 0 turns this off for strong LLMs whose names abstract).
    """
    key = normalize_name(name)
    if not key:
        return "empty"
    if _TEMPLATE_RE.search(name) or key in _TEMPLATE_WORDS:
        return "template"
    first = next((ln for ln in str(raw_answer).splitlines() if ln.strip()), "")
    if len(first.split()) > 2 * max_words:
        return "too_long"
    if instruction and len(key.split()) >= 3 and normalize_name(instruction).startswith(key):
        return "echo"
    for member in members:
        mk = normalize_name(member)
        if len(mk.split()) > max_words and mk.startswith(key):
            return "echo"
    if key in {normalize_name(t) for t in taken}:
        return "duplicate"
    if min_support and members and not is_grounded(name, members, min(min_support, len(members))):
        return "ungrounded"
    return None


def ctfidf_names(
    docs_per_cluster: Sequence[Sequence[str]],
    *,
    n_words: int = 2,
    extra_stop_words: Sequence[str] = (),
    min_support: int = 2,
) -> list[str]:
    """Keyword names by class-based TF-IDF (BERTopic's c-TF-IDF) over each cluster's documents.

    Term counts per cluster are L1-normalised and weighted by ``log(1 + A / f_t)`` (A: mean
    words per cluster, f_t: the term's count over all clusters). A term must occur in
    ``min_support`` of the cluster's documents (fewer for a smaller cluster), so that one
    document cannot name its cluster; a stem used by an earlier name is skipped so that names
    differ. A cluster with no qualifying term is named ``cluster <i>``.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    stops = sorted(set(ENGLISH_STOP_WORDS) | {w.casefold() for w in extra_stop_words})
    fallback = [f"cluster {i + 1}" for i in range(len(docs_per_cluster))]
    cv = CountVectorizer(stop_words=stops, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
    try:
        cv.fit([" ".join(d) for d in docs_per_cluster])
    except ValueError:  # an empty vocabulary: nothing but stop words
        return fallback
    vocab = cv.get_feature_names_out()
    counts = np.zeros((len(docs_per_cluster), len(vocab)))
    support = np.zeros_like(counts)
    for i, docs in enumerate(docs_per_cluster):
        if docs:
            per_doc = cv.transform(list(docs)).toarray()
            counts[i] = per_doc.sum(axis=0)
            support[i] = (per_doc > 0).sum(axis=0)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    mean_words = counts.sum() / max(len(docs_per_cluster), 1)
    weights = tf * np.log(1.0 + mean_words / np.maximum(counts.sum(axis=0), 1.0))
    names: list[str] = []
    used: set[str] = set()
    for i, row in enumerate(weights):
        need = min(min_support, max(len(docs_per_cluster[i]), 1))
        order = [j for j in np.argsort(-row, kind="stable") if row[j] > 0 and support[i, j] >= need]
        picked: list[str] = []
        for j in order:
            stem = _stem(vocab[j])
            if stem not in used and stem not in {_stem(p) for p in picked}:
                picked.append(str(vocab[j]))
            if len(picked) == n_words:
                break
        if not picked:  # every qualifying term is taken: reuse the best one
            picked = [str(vocab[j]) for j in order[:n_words]]
        used.update(_stem(p) for p in picked)
        names.append(" ".join(picked) if picked else fallback[i])
    return names
