"""The helpers as the model sees them: listed in the system prompt from their source, run in the sandbox."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator import helpers as H
from evaluator.helpers_reference import adjacent_swap_pass_py, insertion_pass_py
from evaluator.instances import generate
from evaluator.kernels import tardiness_of_set
from evaluator.sandbox import policy

DESCENT = """
from evaluator.helpers import adjacent_swap_pass, insertion_pass, mdd_order, total_tardiness

def schedule(p, d):
    order = mdd_order(p, d)
    best = total_tardiness(p, d, order)
    while True:
        order, _ = insertion_pass(p, d, order)
        order, value = adjacent_swap_pass(p, d, order)
        if value == best:
            return order
        best = value
"""


def _system(monkeypatch=None, numba=False):
    from discover import prompts

    if monkeypatch is not None:
        allowed = policy.ALLOWED_MODULES | {"numba"} if numba else policy.ALLOWED_MODULES - {"numba"}
        monkeypatch.setattr(policy, "ALLOWED_MODULES", allowed)
    prompts.allowed_imports.cache_clear()
    try:
        parent = prompts.Parent(1, "def schedule(p, d): pass", 1.0)
        return prompts.load_templates().messages("e1", [parent])[0]
    finally:
        prompts.allowed_imports.cache_clear()


def test_the_system_prompt_lists_every_helper_from_its_source():
    text = _system()["content"]
    assert H.describe() in text and "$" not in text
    for fn in H.HELPERS:
        assert f"- {H.signature(fn)}\n  {H.summary(fn)}\n" in text
    listed = text.split("only these modules:\n", 1)[1].split(".\n", 1)[0]
    shown = {m.removesuffix(" (as np)") for m in listed.split(", ")}
    assert shown == set(policy.ALLOWED_MODULES)


@pytest.mark.parametrize("numba", [False, True])
def test_numba_is_explained_exactly_when_the_policy_allows_it(monkeypatch, numba):
    text = _system(monkeypatch, numba)["content"]
    imports = text.split("only these modules:\n", 1)[1].split(".\n")[0]
    assert ("@njit" in text) == numba == ("numba" in imports)
    if numba:
        for rule in ("lists of mixed types", "dicts of arbitrary keys", "lambdas or key= functions in sorted",
                     "np.random.seed", "no cache=True"):
            assert rule in " ".join(text.split())
    assert "\n\n\n" not in text and "\n\nYour program is scored" in text


def test_a_descent_built_from_the_helpers_runs_in_the_sandbox():
    """A confined worker cannot compile: the helpers it calls must have been warmed before confinement."""
    from evaluator.sandbox import Sandbox

    iset = generate(30, 4, seed=7)
    with Sandbox(workers=1, timeout_s=60) as box:
        r = box.evaluate(DESCENT, iset)
    assert r.status == "ok", r.error
    want = []
    for k in range(iset.count):
        p, d = iset.get(k)
        order, best = H.mdd_order(p, d).tolist(), H.total_tardiness(p, d, H.mdd_order(p, d))
        while True:
            order, _ = insertion_pass_py(p, d, order)
            order, value = adjacent_swap_pass_py(p, d, order)
            if value == best:
                break
            best = value
        want.append(best)
    assert r.tardiness.tolist() == want
    mdd = tardiness_of_set(iset, np.concatenate([H.mdd_order(*iset.get(k)) for k in range(iset.count)]))
    assert (r.tardiness <= mdd).all() and (r.tardiness < mdd).any()
