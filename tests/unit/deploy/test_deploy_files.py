import configparser
import re
import runpy
import shlex
from pathlib import Path

import pytest
import yaml

from smvm.config import Settings
from smvm.queues import CALLBACKS_QUEUE, QUEUES
from workers.app import DEFERRED_LIST_SUFFIX, celery_config

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
WORKER_ROLES = {"pipeline": "smvm.pipeline", "simulation": "smvm.simulation", "callbacks": "smvm.callbacks",
                "maintenance": "smvm.maintenance"}
SOFT_SHUTDOWN = celery_config(Settings(env="test"))["worker_soft_shutdown_timeout"]


def _procfile() -> dict[str, list[str]]:
    roles = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            role, command = line.split(":", 1)
            roles[role.strip()] = shlex.split(command)
    return roles


PROCFILE = _procfile()


def _normalize(argv: list[str]) -> list[str]:
    """A command as a deploy file runs it, reduced to Procfile form: shell wrapper and binary paths removed."""
    if len(argv) == 3 and Path(argv[0]).name in {"sh", "bash"} and argv[1] == "-c":
        argv = shlex.split(argv[2].removeprefix("exec "))
    return [Path(argv[0]).name, *argv[1:]]


def _k8s_docs() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def _of_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in _k8s_docs() if doc["kind"] == kind}


def _role(doc: dict) -> str:
    return doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]


def _container(doc: dict) -> dict:
    [container] = doc["spec"]["template"]["spec"]["containers"]
    return container


def test_procfile_has_every_role_the_deploy_files_cover() -> None:
    assert set(PROCFILE) == {"release", "web", "pipeline", "simulation", "callbacks", "maintenance", "beat", "flower"}


def test_every_deploy_yaml_parses() -> None:
    paths = [*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")]
    assert len(paths) >= 8
    for path in paths:
        assert list(yaml.safe_load_all(path.read_text())), path


# -- docker-compose -------------------------------------------------------------------------------------------


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_runs_every_procfile_role_with_its_exact_command() -> None:
    services = _compose()["services"]
    for role, argv in PROCFILE.items():
        # Compose doubles $ to keep it literal for the shell.
        command = [part.replace("$$", "$") for part in services[role]["command"]]
        assert _normalize(command) == argv, role


def test_compose_redis_persists_and_never_evicts_and_postgres_is_there() -> None:
    services = _compose()["services"]
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    assert redis_cmd[redis_cmd.index("--maxmemory-policy") + 1] == "noeviction"
    assert services["postgres"]["image"].startswith("postgres")


def test_compose_workers_outlive_the_soft_shutdown_and_probe_their_own_heartbeat() -> None:
    services = _compose()["services"]
    for role in WORKER_ROLES:
        grace = int(services[role]["stop_grace_period"].removesuffix("s"))
        assert grace > SOFT_SHUTDOWN, role
        test = services[role]["healthcheck"]["test"]
        assert test[test.index("--liveness") + 1].endswith(f"/{role}.alive"), role
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


# -- Dockerfile ----------------------------------------------------------------------------------------------


def test_dockerfile_defaults_to_the_web_command_and_drops_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    [cmd] = re.findall(r"^CMD (\[.*\])$", text, re.M)
    assert _normalize(yaml.safe_load(cmd)) == PROCFILE["web"]
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in {"root", "0"}


# -- Kubernetes ----------------------------------------------------------------------------------------------


def test_k8s_runs_every_procfile_role_with_its_exact_command() -> None:
    seen = {}
    for doc in _k8s_docs():
        if doc["kind"] in {"Deployment", "Job"}:
            container = _container(doc)
            seen[_role(doc)] = _normalize(container["command"] + container.get("args", []))
    assert seen == PROCFILE


def test_k8s_one_deployment_per_queue_autoscaled_on_that_queue_length() -> None:
    deployments = _of_kind("Deployment")
    scaled = {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in _of_kind("ScaledObject").values()}
    for role, queue in WORKER_ROLES.items():
        deployment = deployments[f"smvm-{role}"]
        argv = _container(deployment)["command"]
        assert argv[argv.index("--queues") + 1] == queue
        triggers = scaled[deployment["metadata"]["name"]]["spec"]["triggers"]
        assert all(t["type"] == "redis" and int(t["metadata"]["listLength"]) > 0 for t in triggers)
        # Every Redis list the queue's messages wait in: routine updates wait in a second one.
        lists = {queue} | ({queue + DEFERRED_LIST_SUFFIX} if queue == CALLBACKS_QUEUE else set())
        assert {t["metadata"]["listName"] for t in triggers} == lists
    assert set(WORKER_ROLES.values()) == set(QUEUES)


def test_k8s_beat_is_a_single_replica_recreated_never_rolled() -> None:
    beat = _of_kind("Deployment")["smvm-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "smvm-beat" not in {doc["spec"]["scaleTargetRef"]["name"] for doc in _of_kind("ScaledObject").values()}
    assert "smvm-beat" not in {doc["spec"]["scaleTargetRef"]["name"] for doc in _of_kind("HorizontalPodAutoscaler").values()}


def test_k8s_every_scaled_deployment_has_a_disruption_budget_selecting_it() -> None:
    budgets = [doc["spec"]["selector"]["matchLabels"] for doc in _of_kind("PodDisruptionBudget").values()]
    for name, deployment in _of_kind("Deployment").items():
        if name == "smvm-beat":
            continue  # single replica by design; a budget would block node drains (see beat.yaml)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(selector.items() <= labels.items() for selector in budgets), name


def test_k8s_termination_grace_exceeds_the_soft_shutdown() -> None:
    deployments = _of_kind("Deployment")
    for role in WORKER_ROLES:
        assert deployments[f"smvm-{role}"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > SOFT_SHUTDOWN
    assert deployments["smvm-web"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 30  # gunicorn graceful


def test_k8s_probes_are_wired_to_health_endpoints_and_heartbeat_files() -> None:
    deployments = _of_kind("Deployment")
    web = _container(deployments["smvm-web"])
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    probe_dir = _of_kind("ConfigMap")["smvm-config"]["data"]["SMVM_PROBE_DIR"]
    for role in [*WORKER_ROLES, "beat"]:
        container = _container(deployments[f"smvm-{role}"])
        argv = container["command"]
        hostname = argv[argv.index("--hostname") + 1] if "--hostname" in argv else "beat@"
        name = hostname.split("@")[0]
        liveness = container["livenessProbe"]["exec"]["command"]
        assert liveness[:5] == ["python", "-m", "workers.probes", "check", "--liveness"]
        assert liveness[5] == f"{probe_dir}/{name}.alive", role
        assert float(liveness[liveness.index("--max-age") + 1]) >= 3 * 10  # several missed heartbeats
        if role != "beat":
            readiness = container["readinessProbe"]["exec"]["command"]
            assert readiness[readiness.index("--readiness") + 1] == f"{probe_dir}/{name}.ready", role


# -- systemd -------------------------------------------------------------------------------------------------


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string(path.read_text())
    return parser


def _systemd_argv(exec_start: str) -> list[str]:
    # systemd doubles % (specifiers) and $ (variables) to keep them literal.
    return _normalize([part.replace("%%", "%").replace("$$", "$") for part in shlex.split(exec_start)])


def test_systemd_runs_every_procfile_role_with_its_exact_command() -> None:
    for role, argv in PROCFILE.items():
        unit = _unit(DEPLOY / "systemd" / f"smvm-{role}.service")
        assert _systemd_argv(unit["Service"]["ExecStart"]) == argv, role


def test_systemd_workers_stop_after_the_soft_shutdown_and_the_target_wants_every_unit() -> None:
    for role in WORKER_ROLES:
        service = _unit(DEPLOY / "systemd" / f"smvm-{role}.service")["Service"]
        assert int(service["TimeoutStopSec"]) > SOFT_SHUTDOWN
        assert service["KillSignal"] == "SIGTERM"
    wants = set(_unit(DEPLOY / "systemd" / "smvm.target")["Unit"]["Wants"].split())
    assert wants == {f"smvm-{role}.service" for role in PROCFILE}


# -- Prometheus ----------------------------------------------------------------------------------------------


def _rules() -> dict[str, dict]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


@pytest.mark.parametrize(
    ("alert", "fragments", "duration"),
    [
        ("SmvmValidationFailureRateHigh", ["> 0.05", 'outcome=~"failed|incomplete"'], None),
        ("SmvmApiLatencyP95High", ["histogram_quantile(0.95", "smvm_http_request_duration_seconds_bucket", "> 30"], None),
        ("SmvmApiErrorRateHigh", ['status=~"5.."', "> 0.01"], None),
        ("SmvmDeadLettersPresent", ["smvm_webhook_dead_letters", "> 0"], "15m"),
        ("SmvmCallbacksHeld", ["smvm_webhook_held_oldest_age_seconds", "> 3600"], "15m"),
        ("SmvmResultsSyncStale", ["smvm_sync_last_success_timestamp_seconds", "26 * 3600"], None),
        ("SmvmQueueStalled", ["smvm_queue_depth", "smvm_queue_last_started_timestamp_seconds", "< 300"], "5m"),
    ],
)
def test_alerts_carry_the_seed_thresholds(alert: str, fragments: list[str], duration: str | None) -> None:
    rule = _rules()[alert]
    for fragment in fragments:
        assert fragment in rule["expr"], fragment
    if duration:
        assert rule["for"] == duration
    assert rule["annotations"]["runbook"].startswith("docs/operations.md#")


def test_alerts_only_use_series_the_service_exports() -> None:
    exported = set(re.findall(r'"(smvm_[a-z_]+)"', (ROOT / "smvm" / "metrics.py").read_text()))
    exported |= {"smvm_http_request_duration_seconds", "smvm_http_requests"}
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    text = "\n".join(rule["expr"] for group in groups for rule in group["rules"])
    for name in set(re.findall(r"\b(smvm_[a-z_]+)", text)):
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert base in exported, name


def test_prometheus_scrapes_the_api_and_flower_and_loads_the_alerts() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["smvm-api"]["metrics_path"] == "/metrics"
    assert jobs["smvm-flower"]["metrics_path"] == "/metrics"


def test_gunicorn_keepalive_comes_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.delenv("SMVM_WEB_KEEPALIVE", raising=False)  # a developer's sourced .env must not decide the default
    assert runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["keepalive"] == 5
    monkeypatch.setenv("SMVM_WEB_KEEPALIVE", "75")
    assert runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["keepalive"] == 75


def test_kubernetes_web_keeps_connections_longer_than_a_load_balancer_idles() -> None:
    web = next(doc for doc in yaml.safe_load_all((DEPLOY / "k8s" / "web.yaml").read_text())
               if doc and doc["kind"] == "Deployment")
    env = {item["name"]: item.get("value") for item in web["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert int(env["SMVM_WEB_KEEPALIVE"]) > 60


def test_promtool_accepts_the_alert_rules() -> None:
    import os
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool is not installed (apt-get install prometheus)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    result = subprocess.run([promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
