"""Publishing cost (`python -m benchmarks.bench_publish`): CPU per Celery publish with SMVM's broker transport and
with kombu's own, against a local Redis (`--redis-url`, default db 15, emptied before and after). Each measurement
runs in a fresh process, alternating between the two, three times each."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import redis

from smvm.config import Settings


def _cpu_per_publish(redis_url: str, *, stock_transport: bool, count: int) -> float:
    """Median CPU microseconds per ``deliver_webhook.apply_async`` (a task message plus its task-sent event)."""
    import workers.app as app_module

    settings = Settings(env="test", broker_url=redis_url, redis_url=redis_url)
    app = app_module.create_celery(settings)
    if stock_transport:
        app.conf.broker_transport = None
    from workers.callbacks import deliver_webhook

    for _ in range(100):  # connect and warm up
        deliver_webhook.apply_async((1,))
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(count):
            deliver_webhook.apply_async((1,))
        rounds.append((time.process_time() - start) / count * 1e6)
        redis.Redis.from_url(redis_url).flushdb()
    return round(statistics.median(rounds), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--count", type=int, default=1000, help="publishes per round (5 rounds)")
    parser.add_argument("--child", choices=("ours", "stock"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.redis_url.startswith(("redis://127.0.0.1", "redis://localhost")):
        parser.error("the benchmark only talks to a local Redis")
    if args.child:
        print(_cpu_per_publish(args.redis_url, stock_transport=args.child == "stock", count=args.count))
        return
    redis.Redis.from_url(args.redis_url).flushdb()
    figures: dict[str, list[float]] = {"ours": [], "stock": []}
    for _ in range(3):
        for kind in figures:
            child = subprocess.run([sys.executable, "-m", "benchmarks.bench_publish", "--child", kind, "--redis-url",
                                    args.redis_url, "--count", str(args.count)], capture_output=True, text=True,
                                   check=True)
            figures[kind].append(float(child.stdout.strip().splitlines()[-1]))
    ours, stock = (statistics.median(figures[kind]) for kind in ("ours", "stock"))
    print(f"CPU per publish (task message + task-sent event), median of 3 processes x 5 rounds x {args.count}: "
          f"{ours:.0f} us with workers.broker.Transport, {stock:.0f} us with kombu's Redis transport "
          f"({stock / ours:.2f}x); rounds: ours {figures['ours']}, stock {figures['stock']}")


if __name__ == "__main__":
    main()
