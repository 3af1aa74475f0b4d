"""Submit N runs to a running stack over HTTP at a steady rate, receive its callbacks, and measure two baselines.

    make up                                        # in another terminal; .env must allow http callbacks to 127.0.0.1:
                                                   # SMVM_CALLBACK_ALLOW_HTTP=true SMVM_CALLBACK_ALLOWED_HOSTS=127.0.0.1
    python -m loadtest.run --runs 1000 --rate 20   # prints JSON; copy the figures to docs/benchmarks.md

1 vs 2 simulation worker processes: `--simulation-workers 2` measures the stack as `make up` runs it (one simulation
process), then starts a second simulation process (the Procfile's command with another --hostname, same .env) and measures
again; `simulation_scaling` is the ratio of the two runs-per-minute figures. Use enough runs to saturate the first
(`--runs 200 --rate 5`). Only 127.0.0.1 is contacted; runs, rate and total time are bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import honcho.environ
import redis
import requests
import requests.adapters

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MAX_RUNS = 5000
MAX_SECONDS = 3600


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float | None]:
    return {f"p{int(q * 100)}_ms": (None if (v := percentile(values, q)) is None else round(v * 1000, 2))
            for q in (0.5, 0.95, 0.99)}


class Receiver:
    """A real HTTP callback receiver on 127.0.0.1: records every delivery, its webhook-id and the time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {}
                with receiver.lock:
                    receiver.deliveries.append({"at": time.time(), "path": self.path, "webhook_id": self.headers.get("webhook-id"),
                                                "payload": payload})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def decision_ready(self) -> dict[str, float]:
        with self.lock:
            found = {}
            for delivery in self.deliveries:
                payload = delivery["payload"]
                if payload.get("status") == "DECISION_READY":
                    found.setdefault(payload.get("run_id") or payload.get("validation_id"), delivery["at"])
            return found

    def callback_lag(self) -> dict[str, dict[str, float | None]]:
        """Seconds from each update's event (its payload ``timestamp``) to its arrival here: DECISION_READY apart
        from the progress updates it is published ahead of."""
        lags: dict[str, list[float]] = {"decision_ready": [], "other_updates": []}
        with self.lock:
            for delivery in self.deliveries:
                payload = delivery["payload"]
                if delivery["path"].endswith("/validation/update") and payload.get("timestamp"):
                    at = dt.datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00")).timestamp()
                    kind = "decision_ready" if payload.get("status") == "DECISION_READY" else "other_updates"
                    lags[kind].append(delivery["at"] - at)
        return {kind: summary(values) for kind, values in lags.items()}

    def duplicates(self) -> int:
        with self.lock:
            ids = [d["webhook_id"] for d in self.deliveries if d["webhook_id"]]
        return len(ids) - len(set(ids))


def steady(count: int, rate: float, fn) -> list:
    """Call ``fn(i)`` ``count`` times at ``rate`` per second (open loop), from a thread pool."""
    results: list = [None] * count
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=min(64, max(4, int(rate)))) as pool:
        futures = []
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(lambda i=i: results.__setitem__(i, fn(i))))
        for future in futures:
            future.result()
    return results


def pooled_session(size: int = 64) -> requests.Session:
    """A session with a connection per sending thread: requests' default pool keeps 10, so at high rates it would
    open and drop a TCP connection per request and measure connection set-up, on both sides, instead of the API."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=size)
    session.mount("http://", adapter)
    return session


def timed_post(session: requests.Session, url: str, body: dict) -> tuple[float, int, float, dict]:
    sent = time.time()
    t0 = time.perf_counter()
    response = session.post(url, json=body, timeout=30)
    return time.perf_counter() - t0, response.status_code, sent, (response.json() if response.status_code == 202 else {})


def measure_stack(args: argparse.Namespace, label: str) -> dict:
    receiver = Receiver()
    example = json.loads((ROOT / "examples" / "idea.json").read_text())
    session = pooled_session()
    if args.token:
        session.headers["Authorization"] = f"Bearer {args.token}"
    url = f"{args.base_url}/api/v1/validation/runs"

    def submit(i: int):
        body = json.loads(json.dumps(example))
        body["project_id"] = f"LOAD-{label}-{i % 50}"
        body.setdefault("metadata", {})["callback_url"] = receiver.url
        return timed_post(session, url, body)

    started = time.time()
    posts = steady(args.runs, args.rate, submit)
    accepted = {p[3]["run_id"]: p[2] for p in posts if p[1] == 202}
    deadline = started + args.timeout
    while time.time() < deadline and len(set(receiver.decision_ready()) & set(accepted)) < len(accepted):
        time.sleep(1)
    ready = receiver.decision_ready()
    done = [ready[run_id] for run_id in accepted if run_id in ready]
    elapsed = (max(done) - started) if done else None
    return {
        "runs": args.runs, "rate_per_s": args.rate, "accepted": len(accepted),
        "post_latency": summary([p[0] for p in posts]),
        "post_errors": sum(1 for p in posts if p[1] != 202),
        "runs_per_minute": round(len(done) / elapsed * 60, 1) if elapsed else None,
        "post_to_decision_ready": summary([ready[r] - t for r, t in accepted.items() if r in ready]),
        "lost_runs": len(accepted) - len(done),
        "duplicate_deliveries": receiver.duplicates(),
        "callback_lag": receiver.callback_lag(),
    }


def start_extra_simulation_workers(count: int) -> list[subprocess.Popen]:
    """``count`` more processes on the simulation queue: the Procfile's command, each with its own node name."""
    argv = shlex.split(honcho.environ.parse_procfile((ROOT / "Procfile").read_text()).processes["simulation"])
    # The settings `make up` gave its processes: .env, else .env.example.
    dotenv = ROOT / ".env" if (ROOT / ".env").exists() else ROOT / ".env.example"
    env = {**os.environ, **honcho.environ.parse(dotenv.read_text()), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    workers = []
    for index in range(count):
        command = list(argv)
        command[command.index("--hostname") + 1] = f"simulation-extra{index + 1}@%h"
        workers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(5)  # connected and consuming; a late start only lowers the second figure
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()  # Celery's soft shutdown: the stage in hand finishes or is redelivered
    for worker in workers:
        worker.wait(90)


def measure_bare_endpoint(args: argparse.Namespace) -> dict:
    """Same gunicorn settings file, an app that only LPUSHes the body."""
    port = _free_port()
    env = dict(os.environ, SMVM_BIND=f"127.0.0.1:{port}", LOADTEST_REDIS_URL=args.baseline_redis_url,
               PROMETHEUS_MULTIPROC_DIR=str(ROOT / "var" / "loadtest-prom"))
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "loadtest.bare_app:application"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/push", post=True)
        session = pooled_session()
        body = json.loads((ROOT / "examples" / "idea.json").read_text())
        posts = steady(args.runs, args.rate, lambda i: timed_post(session, f"http://127.0.0.1:{port}/push", body))
        return {"post_latency": summary([p[0] for p in posts]), "errors": sum(1 for p in posts if p[1] != 202)}
    finally:
        proc.terminate()
        proc.wait(30)
        redis.Redis.from_url(args.baseline_redis_url).delete("loadtest.bare")


def measure_bare_chain(args: argparse.Namespace) -> dict:
    """A chain of seven no-op tasks, one worker process, light load: the floor under POST -> DECISION_READY."""
    from celery import chain

    from loadtest.bare_chain import app, noop

    env = dict(os.environ, LOADTEST_REDIS_URL=args.baseline_redis_url)
    worker = subprocess.Popen([str(BIN / "celery"), "-A", "loadtest.bare_chain", "worker", "--concurrency", "1",
                               "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(args.baseline_redis_url)
    client.delete("loadtest.chain.done")
    try:
        app.conf.broker_url = args.baseline_redis_url
        time.sleep(3)
        sent = {}
        for _ in range(args.chains):
            token = uuid.uuid4().hex
            sent[token] = time.time()
            chain(*[noop.si(token, step) for step in range(7)]).apply_async()
            time.sleep(0.05)
        deadline = time.time() + 120
        while time.time() < deadline and client.hlen("loadtest.chain.done") < len(sent):
            time.sleep(0.2)
        done = {k.decode(): float(v) for k, v in client.hgetall("loadtest.chain.done").items()}
        return {"chains": len(sent), "completed": len(done),
                "latency": summary([done[t] - s for t, s in sent.items() if t in done])}
    finally:
        worker.terminate()
        worker.wait(60)
        client.delete("loadtest.chain.done")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, post: bool = False, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            (requests.post if post else requests.get)(url, timeout=1, data=b"{}")
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still booting its workers
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.run", description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="POSTs per second (steady, open loop)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for every DECISION_READY")
    parser.add_argument("--chains", type=int, default=50, help="bare Celery chains for the baseline")
    parser.add_argument("--label", default="sim1", help="tag for this configuration (e.g. sim1, sim2)")
    parser.add_argument("--baseline-redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--skip-stack", action="store_true", help="measure the baselines only")
    parser.add_argument("--skip-baselines", action="store_true", help="measure the stack only")
    parser.add_argument("--simulation-workers", type=int, default=1, choices=(1, 2, 3, 4),
                        help="also measure with this many simulation processes (extra ones started here) and report the ratio")
    parser.add_argument("--token", default=os.environ.get("LOADTEST_TOKEN"),
                        help="bearer token with runs:write (make up prints one); default $LOADTEST_TOKEN")
    args = parser.parse_args(argv)
    if not args.base_url.startswith(("http://127.0.0.1", "http://localhost")):
        parser.error("the load test only talks to 127.0.0.1")
    args.runs = min(args.runs, MAX_RUNS)
    args.timeout = min(args.timeout, MAX_SECONDS)
    report = {"label": args.label, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                "python": platform.python_version()}}
    if not args.skip_baselines:
        report["bare_endpoint"] = measure_bare_endpoint(args)
        report["bare_chain"] = measure_bare_chain(args)
    if not args.skip_stack:
        report["stack"] = measure_stack(args, args.label)
        if args.simulation_workers > 1:
            extra = start_extra_simulation_workers(args.simulation_workers - 1)
            try:
                scaled = measure_stack(args, f"{args.label}-sim{args.simulation_workers}")
                report[f"stack_{args.simulation_workers}_simulation_workers"] = scaled
            finally:
                stop_workers(extra)
            one, more = report["stack"]["runs_per_minute"], scaled["runs_per_minute"]
            report["simulation_scaling"] = round(more / one, 2) if one and more else None
    if not (args.skip_stack or args.skip_baselines):
        bare_p99 = report["bare_endpoint"]["post_latency"]["p99_ms"]
        stack_p99 = report["stack"]["post_latency"]["p99_ms"]
        chain_p50 = report["bare_chain"]["latency"]["p50_ms"]
        ready_p50 = report["stack"]["post_to_decision_ready"]["p50_ms"]
        report["ratios"] = {
            "post_p99_vs_bare_endpoint": round(stack_p99 / bare_p99, 2) if bare_p99 and stack_p99 else None,
            "decision_ready_p50_vs_bare_chain": round(ready_p50 / chain_p50, 2) if chain_p50 and ready_p50 else None,
        }
    print(json.dumps(report, indent=2))
    lost = sum(value.get("lost_runs", 0) for key, value in report.items() if key.startswith("stack"))
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
