"""The deployment artefacts in deploy/ are consistent with the code they run.

No container engine runs here, so these tests check what can be checked without one: files
parse, the commands they start are real `hooks` sub-commands, probes hit real routes, and every
environment variable they set is a real setting that parses to the expected value.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from ruamel.yaml import YAML

from hooks.service.app import create_app
from hooks.service.cli import build_parser
from hooks.service.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
K8S = DEPLOY / "k8s"
YAML_SAFE = YAML(typ="safe", pure=True)
SETTING_ENV_NAMES = {f"HOOKS_{name.upper()}" for name in Settings.model_fields}


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in YAML_SAFE.load_all(path.read_text()) if doc is not None]


def k8s_object(kind: str) -> dict[str, Any]:
    found = [doc for path in K8S.glob("*.yaml") for doc in load_all(path) if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def hooks_container() -> dict[str, Any]:
    containers = k8s_object("Deployment")["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "hooks")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = YAML_SAFE.load((DEPLOY / "compose.yaml").read_text())
    return data


def replicas() -> dict[str, dict[str, Any]]:
    services = compose()["services"]
    return {name: svc for name, svc in services.items() if name.startswith("hooks-")}


def dockerfile() -> str:
    """The Dockerfile with continuation lines joined, one instruction per line."""
    return re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())


def dockerfile_json_list(instruction: str) -> list[str]:
    text = dockerfile()
    match = re.search(rf"^{instruction}\s+(\[.*\])\s*$", text, re.MULTILINE)
    assert match, f"no exec-form {instruction} in the Dockerfile"
    value: list[str] = json.loads(match.group(1))  # exec form is a JSON array
    return value


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {k.strip(): v.strip() for k, v in (p for p in pairs if len(p) == 2) if k[:1] != "#"}


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((DEPLOY / "hooks.service").read_text())
    return parser


# -- files parse -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_every_yaml_file_parses(path: Path) -> None:
    assert load_all(path)


def test_kubernetes_manifests_include_deployment_service_configmap_secret_and_pdb() -> None:
    kinds = {doc["kind"] for path in K8S.glob("*.yaml") for doc in load_all(path)}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} <= kinds


def test_kustomization_lists_every_manifest() -> None:
    listed = set(YAML_SAFE.load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


# -- Dockerfile ------------------------------------------------------------------------------


def test_dockerfile_uses_slim_python_311_and_a_non_root_user() -> None:
    text = dockerfile()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    user = re.search(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert user and user.group(1).split(":")[0] not in ("root", "0")


def test_dockerfile_command_is_a_real_serve_invocation_on_8080() -> None:
    assert dockerfile_json_list("ENTRYPOINT") == ["hooks"]
    args = build_parser().parse_args(dockerfile_json_list("CMD"))
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8080)
    assert re.search(r"^EXPOSE 8080$", dockerfile(), re.MULTILINE)


def test_hooks_serve_help_exits_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--help"])
    assert exited.value.code == 0
    assert "--port" in capsys.readouterr().out


def test_dockerfile_healthcheck_probes_healthz_without_curl() -> None:
    check = dockerfile_json_list("HEALTHCHECK.*CMD")
    assert check[:2] == ["python", "-c"]
    assert "urllib.request" in check[2] and "127.0.0.1:8080/healthz" in check[2]


async def test_probe_paths_used_in_deploy_files_answer_on_the_app(settings: Settings) -> None:
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        for path in ("/healthz", "/readyz"):
            response = await client.get(path)
            assert response.status in (200, 503), path  # routed: 503 is a real readiness answer
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()


# -- Kubernetes --------------------------------------------------------------------------------


def test_deployment_runs_two_replicas_of_the_serve_command() -> None:
    deployment = k8s_object("Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = build_parser().parse_args(hooks_container()["args"])
    assert (args.command, args.port) == ("serve", 8080)


def test_deployment_probes_hit_readyz_and_healthz_on_the_container_port() -> None:
    container = hooks_container()
    port = container["ports"][0]
    assert port["containerPort"] == 8080
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        http = container[probe]["httpGet"]
        assert http["path"] == path
        assert http["port"] in (port["name"], port["containerPort"])


def test_deployment_runs_as_non_root_with_resources() -> None:
    pod = k8s_object("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert hooks_container()["resources"]["requests"]


def test_deployment_mounts_the_rules_configmap_where_hooks_rules_dir_points() -> None:
    container = hooks_container()
    env = {e["name"]: e["value"] for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "rules")
    volumes = k8s_object("Deployment")["spec"]["template"]["spec"]["volumes"]
    volume = next(v for v in volumes if v["name"] == "rules")
    assert env["HOOKS_RULES_DIR"] == mount["mountPath"] == "/app/rules"
    assert volume["configMap"]["name"] == k8s_object("ConfigMap")["metadata"]["name"]


def test_deployment_takes_the_secrets_from_the_secret() -> None:
    refs = [e["secretRef"]["name"] for e in hooks_container()["envFrom"] if "secretRef" in e]
    secret = k8s_object("Secret")
    assert refs == [secret["metadata"]["name"]]
    assert {
        "HOOKS_WEBHOOK_SECRET",
        "HOOKS_GITLAB_TOKEN",
        "HOOKS_ADMIN_TOKEN",
        "HOOKS_DATABASE_URL",
    } <= set(secret["stringData"])


def test_service_targets_the_deployment_pods_on_the_named_port() -> None:
    service = k8s_object("Service")
    pod_labels = k8s_object("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == hooks_container()["ports"][0]["name"]


def test_termination_grace_covers_the_service_shutdown_grace() -> None:
    pod = k8s_object("Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in hooks_container()["env"]}
    assert pod["terminationGracePeriodSeconds"] > float(env["HOOKS_SHUTDOWN_GRACE_S"])


# -- environment variables are real settings --------------------------------------------------


def all_deploy_env_names() -> set[str]:
    names = {e["name"] for e in hooks_container()["env"]}
    names |= set(k8s_object("Secret")["stringData"])
    for svc in compose()["services"].values():
        names |= {n for n in svc.get("environment", {}) if n.startswith("HOOKS_")}
    names |= set(env_file(DEPLOY / "env.example"))
    for line in unit()["Service"].get("Environment", "").splitlines():
        names |= {pair.split("=", 1)[0] for pair in shlex.split(line)}
    names |= set(re.findall(r"\b(HOOKS_[A-Z_]+)=", dockerfile()))
    return names


def test_every_hooks_variable_in_deploy_files_is_a_setting() -> None:
    names = all_deploy_env_names()
    assert "HOOKS_DATABASE_URL" in names
    assert names - SETTING_ENV_NAMES == set()


def test_settings_from_the_kubernetes_secret_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {e["name"]: e["value"] for e in hooks_container()["env"]}
    values |= k8s_object("Secret")["stringData"]
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("postgresql://")
    assert settings.rules_dir == Path("/app/rules")
    assert settings.shutdown_grace_s == 10.0
    assert settings.webhook_secrets == [b"<webhook-secret>"]
    assert settings.admin_token is not None


def test_settings_from_compose_environment_and_env_file(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    replica = next(iter(replicas().values()))
    for name, value in replica["environment"].items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=DEPLOY / "env.example")
    assert settings.database_url == "postgresql://hooks:hooks@postgres:5432/hooks"
    assert settings.rules_dir == Path("/app/rules")
    assert settings.log_format == "json"
    assert settings.gitlab_token is None  # left blank in the example: dry-run until filled in
    assert settings.effective_dry_run


# -- compose ---------------------------------------------------------------------------------


def test_compose_has_healthy_postgres_two_replicas_and_a_proxy() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "healthcheck" in services["postgres"]
    assert len(replicas()) == 2
    assert "proxy" in services


def test_compose_replicas_share_one_postgresql_database() -> None:
    urls = {svc["environment"]["HOOKS_DATABASE_URL"] for svc in replicas().values()}
    assert len(urls) == 1
    assert urls.pop().startswith("postgresql://")
    for svc in replicas().values():
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_replicas_run_the_serve_command_from_the_image() -> None:
    for svc in replicas().values():
        assert "command" not in svc  # the Dockerfile's CMD, checked above
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"


def test_proxy_balances_webhook_across_both_replicas() -> None:
    config = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream\s+(\w+)\s*\{(.*?)\}", config, re.DOTALL)
    assert upstream
    servers = set(re.findall(r"server\s+([\w-]+):8080", upstream.group(2)))
    assert servers == set(replicas())
    location = re.search(r"location\s+/webhook\s*\{(.*?)\}", config, re.DOTALL)
    assert location and f"proxy_pass http://{upstream.group(1)};" in location.group(1)


def test_proxy_config_is_mounted_into_the_proxy() -> None:
    mounts = compose()["services"]["proxy"]["volumes"]
    assert any(m.startswith("./nginx.conf:") for m in mounts)


# -- systemd -----------------------------------------------------------------------------------


def test_systemd_unit_starts_the_serve_command() -> None:
    service = unit()["Service"]
    exec_start = shlex.split(service["ExecStart"])
    assert Path(exec_start[0]).name == "hooks"
    args = build_parser().parse_args(exec_start[1:])
    assert args.command == "serve"


def test_systemd_unit_restarts_on_failure_and_stops_gracefully() -> None:
    service = unit()["Service"]
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["EnvironmentFile"]
    assert service.get("DynamicUser") == "yes" or service.get("User")
    assert float(service["TimeoutStopSec"]) > Settings.model_fields["shutdown_grace_s"].default
