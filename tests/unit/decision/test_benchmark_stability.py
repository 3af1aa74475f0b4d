import collections
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.ideas import evaluate_idea, load_ideas

pytestmark = pytest.mark.unit

SEEDS = range(20)


def _verdicts(body):
    # 2,048 scrambled-Sobol paths in 4 replicates: small, but RQMC at this size pins P(NPV>0) to about ±1 pp.
    out = []
    for seed in SEEDS:
        dec = evaluate_idea(body, seed=seed, paths=2048, chunk_size=512)["decision"]
        out.append((dec["recommendation"], dec["borderline"]))
    return out


@pytest.fixture(scope="module")
def sweep():
    ideas = load_ideas()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda item: _verdicts(item[1]), ideas))
    return dict(zip([name for name, _ in ideas], results, strict=True))


def test_benchmark_set_covers_go_kill_and_borderline(sweep):
    assert len(sweep) >= 20
    firsts = collections.Counter(v[0][0] for v in sweep.values())
    assert firsts["GO"] >= 3 and firsts["KILL"] >= 3 and firsts["PIVOT"] >= 3
    assert any(any(b for _, b in v) for v in sweep.values())


def test_verdicts_are_stable_across_20_seeds(sweep):
    stable = [name for name, v in sweep.items() if len({rec for rec, _ in v}) == 1]
    assert len(stable) / len(sweep) >= 0.95
    for name, v in sweep.items():
        counts = collections.Counter(rec for rec, _ in v)
        mode = counts.most_common(1)[0][0]
        # Every run that disagrees with the idea's usual verdict must have said it was borderline.
        assert all(borderline for rec, borderline in v if rec != mode), name


def test_expected_verdicts_by_file_name(sweep):
    for name, v in sweep.items():
        mode = collections.Counter(rec for rec, _ in v).most_common(1)[0][0]
        if name.startswith("go_"):
            assert mode == "GO", name
        elif name.startswith("kill_"):
            assert mode == "KILL", name
        else:
            assert mode in ("PIVOT", "KILL"), name
