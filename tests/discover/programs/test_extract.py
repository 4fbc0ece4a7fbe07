"""Reading code out of LLM replies: one table row per reply shape real models send.

Every accepted reply is executed on a small instance and must return the order its code
computes (EDD unless stated), so a wrong block choice or a broken repair cannot pass.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import pytest

from discover.programs.extract import Extracted, extract_code

P = np.array([3, 1, 2, 4], dtype=np.int64)
D = np.array([6, 2, 9, 1], dtype=np.int64)
EDD = [3, 1, 0, 2]
SPT = [1, 2, 0, 3]
EDD_BODY = "    return sorted(range(len(p)), key=lambda j: d[j])\n"
EDD_FN = "def schedule(p, d):\n" + EDD_BODY
SPT_FN = "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: p[j])\n"


@dataclass(frozen=True)
class Case:
    id: str
    reply: str
    order: list[int] | None = None  # expected result of the extracted entry; None: rejected
    reason: str = ""  # substring of the rejection reason
    desc: str | None = None  # expected description (None: not checked)
    note: str = ""  # substring expected among the repair notes
    entry: str = "schedule"


def py(code: str, lang: str = "python") -> str:
    """Return code in a fenced block."""
    return f"```{lang}\n{code}```"


def edd_as(name: str) -> str:
    return EDD_FN.replace("schedule", name)


CALLER = "\ndef run(p, d):\n    return schedule_v1(p, d)\n"
USAGE = "order = schedule(p, d)\n"
HELPER = "def _due(j, d):\n    return d[j]\n"
USES_HELPER = "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: _due(j, d))\n"
EXAMPLE = "import numpy as np\n\n" + HELPER + "\nprint(schedule(np.array([2, 1]), np.array([3, 4])))\n"
DOC_FN = 'def schedule(p, d):\n    """Earliest due date first.\n\n    Ties by index."""\n' + EDD_BODY
CR = "\r"
NBSP = "\u00a0"
OK = [
    Case("plain", f"I sort by due date.\n\n{py(EDD_FN)}\nThat is EDD.", EDD, desc="I sort by due date."),
    Case("py-fence", f"EDD.\n{py(EDD_FN, 'py')}", EDD),
    Case("bare-fence", py(EDD_FN, ""), EDD),
    Case("tilde-fence", f"~~~python\n{EDD_FN}~~~\n", EDD),
    Case("python3-fence-long", f"````python3\n{EDD_FN}````", EDD),
    Case("no-fence", EDD_FN, EDD),
    Case("no-fence-prose", f"Here is EDD, it is simple.\n\n{EDD_FN}\nIt sorts by d.\n", EDD,
         desc="Here is EDD, it is simple."),
    Case("windows-newlines", f"Sort by due date.\n{py(EDD_FN)}\n".replace("\n", "\r\n"), EDD),
    Case("old-mac-newlines", py(EDD_FN).replace("\n", CR), EDD),
    Case("tabs", py("def schedule(p, d):\n\tjobs = list(range(len(p)))\n\tif jobs:\n"
                    "\t\treturn sorted(jobs, key=lambda j: d[j])\n\treturn jobs\n"),
         EDD, note="expanded tabs"),
    Case("tabs-mixed-with-4-spaces", py("def schedule(p, d):\n    jobs = list(range(len(p)))\n"
                                        "\treturn sorted(jobs, key=lambda j: d[j])\n"), EDD),
    Case("think-with-decoy-code", f"<think>\nMaybe SPT?\n{py(SPT_FN)}\nNo.\n</think>\nUse EDD.\n{py(EDD_FN)}",
         EDD, desc="Use EDD."),
    Case("stray-close-think", f"I consider SPT\n{py(SPT_FN)}\n</think>\n\nFinal: EDD.\n{py(EDD_FN)}",
         EDD, desc="Final: EDD."),
    Case("thinking-tag", f"<thinking>plan</thinking>EDD it is.\n{py(EDD_FN)}", EDD, desc="EDD it is."),
    Case("usage-block-then-code", f"Use:\n{py(USAGE)}\nCode:\n{py(EDD_FN)}", EDD),
    Case("two-versions-last-wins", f"First try:\n{py(SPT_FN)}\nBetter:\n{py(EDD_FN)}", EDD),
    Case("renamed-v2", py(edd_as("schedule_v2")), EDD, note="renamed schedule_v2"),
    Case("renamed-improved", py(edd_as("schedule_improved")), EDD),
    Case("renamed-priority", py(edd_as("priority")), EDD, note="renamed priority"),
    Case("assignment-v2", py("def assignment_v2(processing_times, due_dates):\n    return sorted("
                             "range(len(processing_times)), key=lambda j: due_dates[j])\n"),
         EDD, entry="assignment"),
    Case("rename-updates-callers", py(edd_as("schedule_v1") + CALLER), EDD),
    Case("body-continuation", EDD_BODY, EDD, note="wrapped a bare function body"),
    Case("body-continuation-prose", f"    n = len(p)\n{EDD_BODY}This is EDD.\n", EDD),
    Case("body-continuation-fenced", py(f"    jobs = list(range(len(p)))\n{EDD_BODY}"), EDD),
    Case("body-continuation-params", "    return sorted(range(len(pt)), key=lambda j: dd[j])\n", EDD),
    Case("missing-numpy", py("def schedule(p, d):\n    return np.argsort(d, kind='stable')\n"), EDD,
         note="import numpy as np"),
    Case("missing-math", py("def schedule(p, d):\n    key = [d[j] if math.isfinite(d[j]) else 0 for j in "
                            "range(len(p))]\n    return sorted(range(len(p)), key=key.__getitem__)\n"), EDD,
         note="import math"),
    Case("missing-numpy-after-future", py("from __future__ import annotations\n\ndef schedule(p, d):\n"
                                          "    return list(np.argsort(d, kind='stable'))\n"), EDD),
    Case("unclosed-fence-garbage", f"```python\n{EDD_FN}\nHope this helps! Bye :)\n", EDD, note="cut 1"),
    Case("garbage-in-fence", py(f"{EDD_FN}\nOutput: [3, 1, 0, 2] for the example\n"), EDD),
    Case("main-block-syntax-error", py(f"{EDD_FN}\nif __name__ == '__main__':\n    print(schedule([1], [2])"),
         EDD, note="cut 2"),
    Case("indented-block", "1. The code:\n\n    ```python\n    def schedule(p, d):\n"
         "        return sorted(range(len(p)), key=lambda j: d[j])\n    ```\n", EDD),
    Case("helper-in-other-block", f"Helper:\n{py(HELPER)}\nMain:\n{py(USES_HELPER)}", EDD, note="took _due"),
    Case("helper-beside-example-code", f"{py(USES_HELPER)}\nTry:\n{py(EXAMPLE)}", EDD, note="took _due"),
    Case("closing-fence-on-code-line", f"EDD.\n```python\n{EDD_FN.rstrip()}```\nThat was it.", EDD),
    Case("docstring-description", f"Sure! Here's the code:\n{py(DOC_FN)}", EDD,
         desc="Earliest due date first."),
    Case("markdown-description", f"**Idea:** sort jobs by `d`. It is EDD.\n{py(EDD_FN)}", EDD,
         desc="Idea: sort jobs by d."),
    Case("nbsp-indent", py(EDD_FN.replace("    ", NBSP * 4)), EDD),
    Case("bom", f"\ufeffEDD.\n{py(EDD_FN)}", EDD, desc="EDD."),
    Case("json-and-python", f'{py(chr(123) + "}" + chr(10), "json")}\n{py(EDD_FN)}', EDD),
    Case("default-extra-param", py("def schedule(p, d, k=2.0):\n" + EDD_BODY), EDD),
    Case("spt-when-only-spt", f"SPT.\n{py(SPT_FN)}", SPT),
]

REJECTED = [
    Case("empty", "   \n", reason="empty reply"),
    Case("prose-only", "I would combine MDD with a slack term and then run a local search.",
         reason="prose only", desc="I would combine MDD with a slack term and then run a local search."),
    Case("think-only", f"<think>\n{py(EDD_FN)}\n</think>\n", reason="only a <think>"),
    Case("unclosed-think", f"Plan: <think>let me write\n{py(EDD_FN)}", reason="prose only"),
    Case("syntax-error-mid-function", py("def schedule(p, d):\n    order = sorted(range(len(p)), key=d.get"
                                         "\n    x = 1\n    return order\n"), reason="syntax error at line 2"),
    Case("missing-colon", py("def schedule(p, d)\n" + EDD_BODY), reason="expected ':'"),
    Case("truncated", "```python\ndef schedule(p, d):\n    order = sorted(range(len(p)),\n",
         reason="never closed"),
    Case("missing-function", py(edd_as("solve")),
         reason="no function named `schedule` in the reply (functions found: solve)"),
    Case("one-param", py("def schedule(p):\n    return list(range(len(p)))\n"), reason="two positional"),
    Case("three-params", py("def schedule(p, d, k):\n" + EDD_BODY), reason="two positional"),
    Case("kw-only-required", py("def schedule(p, d, *, k):\n" + EDD_BODY), reason="two positional"),
    Case("stub", py('def schedule(p, d):\n    """TODO."""\n    pass\n'), reason="empty body"),
    Case("no-return", py("def schedule(p, d):\n    order = sorted(range(len(p)))\n"),
         reason="never returns a value"),
    Case("return-only-in-nested", py("def schedule(p, d):\n    def f():\n        return [0]\n    f()"),
         reason="never returns"),
    Case("json-only", py('{"order": [1, 0]}\n', "json"), reason="no python code block (blocks found: json)"),
    Case("async-entry", py("async def schedule(p, d):\n" + EDD_BODY), reason="plain top-level"),
]


@pytest.mark.parametrize("case", OK, ids=[c.id for c in OK])
def test_accepted_replies_run(case: Case) -> None:
    got = extract_code(case.reply, case.entry, params=("pt", "dd") if "params" in case.id else ("p", "d"))
    assert got.reason is None, got.reason
    assert got.code is not None and got.ok
    tree = ast.parse(got.code)
    assert case.entry in [s.name for s in tree.body if isinstance(s, ast.FunctionDef)]
    namespace: dict = {}
    exec(compile(got.code, "<candidate>", "exec"), namespace)
    assert [int(j) for j in namespace[case.entry](P.copy(), D.copy())] == case.order
    if case.desc is not None:
        assert got.description == case.desc
    if case.note:
        assert any(case.note in n for n in got.notes), got.notes


@pytest.mark.parametrize("case", REJECTED, ids=[c.id for c in REJECTED])
def test_rejected_replies_say_why(case: Case) -> None:
    got = extract_code(case.reply, case.entry)
    assert got.code is None and not got.ok
    assert case.reason in (got.reason or ""), got.reason
    if case.desc is not None:
        assert got.description == case.desc


def test_table_is_large_enough() -> None:
    assert len(OK) + len(REJECTED) >= 30


def test_result_is_a_frozen_value() -> None:
    got = extract_code(f"```python\n{EDD_FN}```")
    assert isinstance(got, Extracted)
    with pytest.raises(AttributeError):
        got.code = "x"  # type: ignore[misc]


def test_untouched_code_is_returned_verbatim() -> None:
    code = "import math\n\n\ndef schedule(p, d):\n    # why: keep\n    return [j for j in range(len(p))]\n"
    assert extract_code(f"Done.\n```python\n{code}```").code == code


def test_syntax_error_reason_quotes_the_line() -> None:
    got = extract_code("```python\ndef schedule(p, d):\n    return [j for j in range(len(p)) if]\n```")
    assert got.reason is not None and "line 2" in got.reason and "return [j for j" in got.reason


def test_description_is_one_clipped_line() -> None:
    got = extract_code("A " + "very " * 80 + "long idea.\n" + f"```python\n{EDD_FN}```")
    assert "\n" not in got.description and len(got.description) <= 200 and got.description.endswith("…")
