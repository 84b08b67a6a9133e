"""Stages 2 and 3: cluster the summaries (KMeans over their embeddings), name each cluster.

Each cluster is named by the LLM (at most about 5 words) by contrasting up to 25 of its
summaries with up to 25 from other clusters. A name is unusable when it is empty, markup, a
sentence or an echo; with ``check_names``, also when it is not grounded in its own cluster.
A name given to several clusters claims that they are one class: the clusters merge (as in
the paper) only when the name is grounded in each of them and does not cover every cluster
(a name for everything tells nothing apart: "HACKED", "Unknown"); otherwise, or with
``merge_names=False``, the name is rejected for all of them. Every rejected name is
replaced by its cluster's c-TF-IDF keywords.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np

from gst_integrations.core.errors import GSTError
from gst_integrations.core.labels.checks import (
    ctfidf_names,
    is_grounded,
    name_problem,
    normalize_name,
    words,
)
from gst_integrations.core.labels.context import RunContext, unit_rows
from gst_integrations.core.labels.prompts import NAME_PROMPT, STAGE_NAME, bullets, clean_answer


def cluster_and_name(
    run: RunContext, summaries: list[str | None]
) -> tuple[list[int | None], list[str]]:
    """(cluster of each text, or None; final name of each cluster, "" for a one-text one)."""
    counts = run.counts
    freq = Counter(s for s in summaries if s)
    if not freq:
        raise GSTError(
            f"summary stage: the LLM {run.llm_label!r} gave no usable summary for "
            f"{len(summaries)} texts (rejected: {dict(counts.rejections)}); check that it "
            "answers the summary prompt with text, or pass categories=[...]"
        )
    distinct = sorted(freq)  # sorted: the clustering must not depend on thread timing
    X, assign = _kmeans(run, distinct, np.asarray([freq[s] for s in distinct], float))
    # Renumber clusters 0..m-1 in order of first appearance (KMeans may leave some empty).
    used = sorted(set(assign.tolist()), key=assign.tolist().index)
    renumber = {old: new for new, old in enumerate(used)}
    cluster_by_summary = {s: renumber[int(c)] for s, c in zip(distinct, assign, strict=True)}
    members: list[list[str]] = [[] for _ in used]
    for s in distinct:
        members[cluster_by_summary[s]].append(s)
    too_small = [sum(freq[s] for s in own) < 2 for own in members]
    if all(too_small):
        raise GSTError(
            f"name stage: each of the {len(members)} clusters holds a single text; label "
            "more texts or lower n_clusters"
        )
    if any(too_small):
        counts.rejections["cluster:single_text"] += sum(too_small)
    answers = _ask_names(run, members, too_small, freq)
    names = [clean_answer(a, run.options.name_words) for a in answers]
    of_summary = np.array([cluster_by_summary[s] for s in distinct])
    problems = _name_problems(run, names, answers, members, too_small, X, of_summary)
    for why in (w for w, small in zip(problems, too_small, strict=True) if w and not small):
        counts.name_fallbacks += 1
        counts.rejections[f"name:{why}"] += 1
    fallback = ctfidf_names(
        [[s for s in own for _ in range(freq[s])] for own in members],
        extra_stop_words=words(run.instruction),
    )
    # A cluster of one text is no class (one document must not add a class); its texts
    # are still classified into the other names.
    final = [
        "" if too_small[c] else n if why is None else fallback[c]
        for c, (n, why) in enumerate(zip(names, problems, strict=True))
    ]
    cluster_of = [cluster_by_summary[s] if s else None for s in summaries]
    return cluster_of, final


def _kmeans(
    run: RunContext, distinct: list[str], weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(unit summary vectors, cluster ids), k = min(n_clusters, number of summaries)."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    X = run.embed(distinct)
    k = min(run.options.n_clusters, len(distinct))
    if k == 1:
        return X, np.zeros(len(distinct), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # duplicate vectors: fewer ks
        km = KMeans(n_clusters=k, n_init=10, random_state=run.options.seed)
        return X, km.fit_predict(X, sample_weight=weights)


def _ask_names(
    run: RunContext, members: list[list[str]], skip: list[bool], freq: Counter[str]
) -> list[str]:
    """The LLM's answer naming each cluster ("" for the skipped ones)."""
    opts = run.options
    prompts: dict[int, str] = {}
    for c, own in enumerate(members):
        if skip[c]:
            continue
        rng = np.random.default_rng([opts.seed, c])
        others = [s for d, group in enumerate(members) if d != c for s in group]
        prompts[c] = NAME_PROMPT.format(
            instruction=run.instruction,
            max_words=opts.name_words,
            members=bullets(_pick(own, freq, opts.names_per_cluster, rng)),
            others=bullets(_pick(others, freq, opts.names_per_cluster, rng)) or "(none)",
        )
    asked = run.asker.ask(STAGE_NAME, list(prompts.values()))
    answers = dict(zip(prompts, asked, strict=True))
    return [answers.get(c, "") for c in range(len(members))]


def _pick(summaries: list[str], freq: Counter[str], k: int, rng: np.random.Generator) -> list[str]:
    """Up to ``k`` summaries, drawn with probability proportional to their frequency."""
    if len(summaries) <= k:
        return sorted(summaries, key=lambda s: (-freq[s], s))
    p = np.asarray([freq[s] for s in summaries], dtype=float)
    idx = rng.choice(len(summaries), size=k, replace=False, p=p / p.sum())
    return [summaries[i] for i in sorted(idx)]


def _name_problems(
    run: RunContext,
    names: list[str],
    answers: list[str],
    members: list[list[str]],
    too_small: list[bool],
    X: np.ndarray,
    of_summary: np.ndarray,
) -> list[str | None]:
    """Why each cluster's LLM name is unusable (None: usable).

    With ``check_names``, a name must be grounded in its cluster: a content word shared with
    two member summaries, or an embedding nearer its own cluster's centroid than any
    differently named cluster's, even without its nearest member (so a strong LLM's abstract
    "Finance" for "stock prices" summaries passes, and a word planted by one document does
    not). Then repeated names are checked (see the module docstring).
    """
    opts = run.options
    problems = [
        name_problem(
            n, a, own, max_words=opts.name_words, instruction=run.instruction, min_support=0
        )
        for n, a, own in zip(names, answers, members, strict=True)
    ]
    if opts.check_names:
        near = _semantically_grounded(run, names, X, of_summary)
        for c, own in enumerate(members):
            lexical = is_grounded(names[c], own, min_sources=min(2, len(own)))
            if problems[c] is None and not lexical and not near[c]:
                problems[c] = "ungrounded"
    return _reject_repeats(names, problems, too_small, merge=opts.merge_names)


def _reject_repeats(
    names: list[str], problems: list[str | None], too_small: list[bool], *, merge: bool
) -> list[str | None]:
    """Marks ``duplicate`` every cluster of a name given to several clusters, unless they
    may merge: ``merge``, every one of them grounded, and at least one cluster (with a
    class) named otherwise."""
    keys = [normalize_name(n) for n in names]
    classes = [c for c in range(len(names)) if not too_small[c]]
    out = list(problems)
    for key in {keys[c] for c in classes if problems[c] in (None, "ungrounded")}:
        group = [c for c in classes if keys[c] == key and problems[c] in (None, "ungrounded")]
        if len(group) < 2:
            continue
        grounded = all(problems[c] is None for c in group)
        if merge and grounded and len(group) < len(classes):
            continue
        for c in group:
            out[c] = out[c] or "duplicate"
    return out


def _semantically_grounded(
    run: RunContext, names: list[str], X: np.ndarray, of_summary: np.ndarray
) -> list[bool]:
    """Whether each name's embedding is nearer its own cluster's centroid than the centroid
    of any cluster named otherwise.

    The own centroid leaves out the member summary nearest the name, so that one document
    (a summary saying "EXCELLENT") cannot ground a name planted from it. Clusters given the
    same name are each checked on their own: a repeated name must fit every one of them.
    """
    k = len(names)
    keys = [normalize_name(n) for n in names]
    N = run.embed([n or "-" for n in names])
    centroids = unit_rows(np.stack([X[of_summary == c].mean(axis=0) for c in range(k)]))
    grounded = []
    for c in range(k):
        own = X[of_summary == c]
        if len(own) >= 2:
            own = np.delete(own, int(np.argmax(own @ N[c])), axis=0)
        mine = float(unit_rows(own.mean(axis=0, keepdims=True))[0] @ N[c])
        others = [float(centroids[d] @ N[c]) for d in range(k) if keys[d] != keys[c]]
        grounded.append(mine > 1e-9 and all(mine > o for o in others))
    return grounded
