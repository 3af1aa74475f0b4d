import json

import pytest

from benchmarks import evaluate

pytestmark = pytest.mark.unit


def _idea(name, expected, acceptable=None):
    return {"name": name, "expected": expected, "acceptable": acceptable or [expected], "reason": "r", "request": {}}


def _result(verdict, score, borderline=False):
    return {"refused": False, "verdict": verdict, "score": score, "borderline": borderline,
            "probabilities": {"GO": 0.0, "PIVOT": 0.0, "KILL": 0.0}}


def _results(ideas, verdicts, seeds=None):
    out = {}
    for idea, (verdict, score) in zip(ideas, verdicts, strict=True):
        out[(idea["name"], "base")] = _result(verdict, score)
        for seed in evaluate.STABILITY_SEEDS:
            out[(idea["name"], f"seed {seed}")] = (seeds or {}).get((idea["name"], seed), _result(verdict, score))
    return out


IDEAS = [_idea("a", "GO"), _idea("b", "PIVOT", ["PIVOT", "KILL"]), _idea("c", "KILL"), _idea("d", "KILL")]


def test_report_prints_the_confusion_matrix_rates_and_recall():
    lines = []
    results = _results(IDEAS, [("GO", 80), ("KILL", 20), ("KILL", 10), ("KILL", 5)])
    assert evaluate.report(IDEAS, results, {}, out=lines.append) is False  # 3 of 4 exact is under 80 %
    text = "\n".join(lines)
    assert "exact 3/4 = 75.0%" in text and "acceptable 4/4 = 100.0%" in text
    assert "b: PIVOT -> KILL" in text and "acceptable" in text
    row = next(line for line in lines if line.strip().startswith("PIVOT") and "%" in line)
    assert row.split()[1:4] == ["0", "0", "1"]


def test_report_fails_on_low_exact_rate_a_broken_relation_or_an_unlabelled_flip():
    good = [("GO", 80), ("PIVOT", 60), ("KILL", 10), ("KILL", 5)]
    assert evaluate.report(IDEAS, _results(IDEAS, good), {}, out=lambda _: None) is True
    assert evaluate.report(IDEAS, _results(IDEAS, [("PIVOT", 60), ("PIVOT", 60), ("PIVOT", 60), ("KILL", 5)]),
                           {}, out=lambda _: None) is False
    broken = _results(IDEAS, good)
    broken[("a", "negative: CAC x3")] = _result("GO", 85)
    assert evaluate.report(IDEAS, broken, {"a|negative: CAC x3": ("negative: CAC x3", "not_better")},
                           out=lambda _: None) is False
    flipping = _results(IDEAS, good, seeds={("a", evaluate.STABILITY_SEEDS[0]): _result("PIVOT", 70)})
    assert evaluate.report(IDEAS, flipping, {}, out=lambda _: None) is False
    labelled = _results(IDEAS, good, seeds={("a", s): _result("GO" if s % 2 else "PIVOT", 75, borderline=True)
                                             for s in evaluate.STABILITY_SEEDS})
    labelled[("a", "base")] = _result("GO", 75, borderline=True)
    assert evaluate.report(IDEAS, labelled, {}, out=lambda _: None) is True


def test_load_set_reads_the_shipped_set_and_refuses_a_bad_label(tmp_path):
    ideas = evaluate.load_set(evaluate.DEFAULT_DIR)
    assert len(ideas) >= 40 and {i["expected"] for i in ideas} == {"GO", "PIVOT", "KILL"}
    assert all(i["expected"] in i["acceptable"] for i in ideas)
    (tmp_path / "x.json").write_text(json.dumps({"expected": "MAYBE", "request": {}}))
    with pytest.raises(SystemExit):
        evaluate.load_set(tmp_path)
