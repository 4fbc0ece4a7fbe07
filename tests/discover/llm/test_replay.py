"""Recording and replay: transcript format, exact replay, misses, failures, the factory and the CLI server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from discover.cli import main
from discover.llm.accounting import Budget, Price
from discover.llm.base import BudgetExhausted, ChatRequest, ChatResult, LLMError
from discover.llm.factory import make_llm
from discover.llm.offline.model import OfflineLLM
from discover.llm.openai_client import OpenAILLM
from discover.llm.recording import RecordingLLM
from discover.llm.replay import ReplayLLM, ReplayMiss, TranscriptError, read_transcript, transcript_totals

PARENT = "```python\ndef schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: d[j])\n```\n"


def req(i: int, n: int = 2, text: str = "Improve the rule.") -> ChatRequest:
    return ChatRequest("m", ({"role": "user", "content": f"{PARENT}{text} Attempt {i}."},), n=n, seed=i)


class Counting:
    """A backend whose answers change on every call, like a real model's; failures on demand."""

    def __init__(self, fail: dict[int, LLMError] | None = None) -> None:
        self.calls = 0
        self.fail = fail or {}
        self.lock = threading.Lock()

    def complete(self, request: ChatRequest) -> ChatResult:
        with self.lock:
            self.calls += 1
            k = self.calls
        if k in self.fail:
            raise self.fail[k]
        texts = tuple(f"answer {k}.{i} \ud800 ✓" for i in range(request.n))  # a lone surrogate, too
        return ChatResult(texts, request.model, 10 * k, 3 * k, 0.01 * k, 0.001 * k, request.key(0), {"k": k})


def record(tmp_path: Path, backend, requests) -> Path:
    path = tmp_path / "run" / "transcript.jsonl"
    llm = RecordingLLM(backend, path)
    for r in requests:
        try:
            llm.complete(r)
        except LLMError:
            pass
    llm.close()
    return path


def test_transcript_lines_hold_the_whole_exchange(tmp_path) -> None:
    path = record(tmp_path, OfflineLLM(), [req(1), req(2, n=3)])
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    fields = "v time request_hash sample_hashes model messages params status completions usage latency_s meta"
    assert set(first) >= set(fields.split())
    assert first["time"].endswith("Z") and first["status"] == "ok"
    assert first["params"] == {"n": 2, "temperature": 1.0, "max_tokens": 2048, "seed": 1}
    assert first["messages"] == list(req(1).messages) and first["request_hash"] == req(1).key(0)
    usage = first["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert len(json.loads(lines[1])["completions"]) == 3


def test_replay_serves_recorded_occurrences_in_order_then_misses(tmp_path) -> None:
    path = record(tmp_path, Counting(), [req(1), req(1), req(2)])
    replay = ReplayLLM(path)
    a, b = replay.complete(req(1)), replay.complete(req(1))
    assert a.completions[0].startswith("answer 1.") and b.completions[0].startswith("answer 2.")
    assert a.completions[0].endswith("\ud800 ✓")  # even a lone surrogate survives the round trip
    assert (b.prompt_tokens, b.completion_tokens, b.latency_s, b.cost_usd) == (20, 6, 0.02, 0.002)
    assert b.meta["k"] == 2 and b.meta["replay_line"] == 2
    with pytest.raises(ReplayMiss, match=f"request {req(1).key(0)} .* was recorded 2 time"):
        replay.complete(req(1))


def test_a_strict_miss_names_the_hash_and_the_nearest_prompt(tmp_path) -> None:
    path = record(tmp_path, OfflineLLM(), [req(1), req(2), req(3, text="Something else entirely.")])
    replay = ReplayLLM(path)
    other_seed = ChatRequest("m", req(2).messages, n=2, seed=7)
    with pytest.raises(ReplayMiss) as miss:
        replay.complete(other_seed)
    text = str(miss.value)
    assert other_seed.key(0) in text and f"line 2, hash {req(2).key(0)}" in text
    assert "same messages; seed 2 recorded, 7 asked" in text
    edited = ChatRequest("m", ({"role": "user", "content": PARENT + "Improve the rule. Attempt 3!"},), n=2)
    with pytest.raises(ReplayMiss, match=r"nearest recorded prompt: line \d.*first difference at character"):
        replay.complete(edited)


def test_lenient_replay_falls_through_to_the_fallback(tmp_path) -> None:
    path = record(tmp_path, Counting(), [req(1)])
    replay = ReplayLLM(path, strict=False, fallback=OfflineLLM())
    assert replay.complete(req(1)).completions[0].startswith("answer 1.")
    assert replay.complete(req(5)).completions == OfflineLLM().complete(req(5)).completions
    with pytest.raises(ValueError, match="lenient mode needs a fallback"):
        ReplayLLM(path, strict=False)


def test_recorded_failures_replay_as_the_same_failures(tmp_path) -> None:
    fails = {1: LLMError("openai: gave up after 5 attempts: HTTP 500"), 3: BudgetExhausted("budget spent")}
    path = record(tmp_path, Counting(fails), [req(1), req(2), req(3)])
    assert [r["status"] for r in read_transcript(path)] == ["error", "ok", "budget"]
    replay = ReplayLLM(path)
    with pytest.raises(LLMError, match="gave up after 5 attempts") as failed:
        replay.complete(req(1))
    assert not isinstance(failed.value, BudgetExhausted)
    assert replay.complete(req(2)).completions[0].startswith("answer 2.")
    with pytest.raises(BudgetExhausted, match="budget spent"):
        replay.complete(req(3))
    totals = transcript_totals(path)
    assert (totals.calls, totals.failed, totals.refused, totals.prompt_tokens) == (1, 1, 1, 20)


def test_a_torn_last_line_is_skipped_and_other_damage_is_named(tmp_path) -> None:
    path = record(tmp_path, OfflineLLM(), [req(1), req(2)])
    good = path.read_text(encoding="utf-8")
    path.write_text(good + good.splitlines()[0][:50], encoding="utf-8")  # killed mid-write
    assert len(read_transcript(path)) == 2
    lines = good.splitlines()
    path.write_text(lines[0] + "\n{oops\n" + lines[1] + "\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"transcript.jsonl, line 2: not valid JSON"):
        read_transcript(path)
    edited = json.loads(lines[1])
    edited["messages"][0]["content"] += " (edited)"
    path.write_text(lines[0] + "\n" + json.dumps(edited) + "\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match="line 2: request_hash does not match"):
        read_transcript(path)
    short = json.loads(lines[0])
    short["completions"] = short["completions"][:1]
    path.write_text(json.dumps(short) + "\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match="line 1: field 'completions' must hold 2 strings"):
        read_transcript(path)
    with pytest.raises(TranscriptError, match="cannot read"):
        read_transcript(tmp_path / "missing.jsonl")


def test_recording_is_thread_safe_and_appends_across_sessions(tmp_path) -> None:
    path = tmp_path / "transcript.jsonl"
    llm = RecordingLLM(OfflineLLM(), path)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(llm.complete, [req(i, n=1) for i in range(120)]))
    llm.close()
    with RecordingLLM(OfflineLLM(), path) as resumed:
        resumed.complete(req(500, n=1))
    records = read_transcript(path)
    assert len(records) == 121
    assert {r["request_hash"] for r in records} == {req(i, n=1).key(0) for i in [*range(120), 500]}
    assert transcript_totals(path).completion_tokens == sum(r.completion_tokens for r in results) + sum(
        r["usage"]["completion_tokens"] for r in records[-1:])


def test_factory_builds_each_kind_and_names_bad_settings(tmp_path, monkeypatch) -> None:
    path = tmp_path / "t.jsonl"
    recorded = make_llm("offline", seed=4, record=path)
    first = recorded.complete(req(1))
    recorded.close()
    assert first.completions == OfflineLLM(seed=4).complete(req(1)).completions
    assert make_llm("replay", transcript=path).complete(req(1)).completions == first.completions
    lenient = make_llm("replay", transcript=path, fallback="offline", fallback_settings={"seed": 4})
    assert lenient.complete(req(2)).completions == OfflineLLM(seed=4).complete(req(2)).completions
    monkeypatch.setenv("SOME_KEY", "sk-x")
    llm = make_llm("openai", base_url="http://127.0.0.1:9/v1", api_key_env="SOME_KEY",
                   prices={"gpt-x": {"input": 1.5, "output": 6}}, budget={"max_calls": 2})
    assert isinstance(llm, OpenAILLM)
    assert llm.settings.prices == {"gpt-x": Price(1.5, 6.0)} and llm.settings.budget == Budget(max_calls=2)
    llm.close()
    with pytest.raises(ValueError, match="unknown LLM kind 'gpt'"):
        make_llm("gpt")
    with pytest.raises(ValueError, match=r"offline LLM: unknown setting 'temperature' \(allowed: seed, "):
        make_llm("offline", temperature=0.5)
    with pytest.raises(ValueError, match="replay LLM: setting 'transcript'"):
        make_llm("replay")
    with pytest.raises(ValueError, match="max_retries = -1 is out of range"):
        make_llm("openai", api_key_env="", max_retries=-1)
    with pytest.raises(ValueError, match="budget: max_calls must be ≥ 0"):
        make_llm("openai", api_key_env="", budget={"max_calls": -1})


def test_cli_mock_server_replays_a_transcript_until_ctrl_c(tmp_path) -> None:
    path = record(tmp_path, OfflineLLM(seed=2), [req(1)])
    cmd = [sys.executable, "-c", "from discover.cli import main; main()",
           "mock-server", "--port", "0", "--quiet", "--transcript", str(path)]
    # Ctrl-C must reach the server even when this test runs with SIGINT ignored (a background job).
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    try:
        assert proc.stdout.readline().startswith("serving the transcript")
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=10)
        answer = client.chat.completions.create(model="m", messages=list(req(1).messages), n=2, seed=1,
                                                temperature=1.0, max_tokens=2048)
        expected = OfflineLLM(seed=2).complete(req(1)).completions
        assert tuple(c.message.content for c in answer.choices) == expected
        with pytest.raises(openai.BadRequestError, match="replay miss"):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "new"}])
        client.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0 and "stopped" in out, err


def test_cli_mock_server_refuses_a_bad_transcript_in_one_line(tmp_path, monkeypatch, capsys) -> None:
    missing = str(tmp_path / "nope.jsonl")
    monkeypatch.setattr(sys, "argv", ["discover", "mock-server", "--transcript", missing])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("error: --transcript:") and "nope.jsonl" in err and len(err.splitlines()) == 1
