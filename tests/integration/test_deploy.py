"""The production deployment files, checked without a Docker engine or a booted systemd.

docker-compose.yml is validated against the Compose specification's JSON schema (check-jsonschema ships
it) and then against what this stack needs: pinned images, healthchecks, declared volumes and secrets,
mounted paths that exist, nothing published that should stay private. If a Docker CLI with the compose
plugin is present, ``docker compose config`` renders it as well. The systemd units go through
``systemd-analyze verify``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from exporter.cli import parse_args
from tests.support import require, require_binary

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
UNITS_DIR = REPO / "deploy" / "systemd"
INSTALL_PREFIX = "/opt/batiknet"  # where docs/deploy.md clones the repository on a server
# A pinned tag names an exact release (v2.53.2, 3.11.10-slim-bookworm), never "latest" or a bare major.
PINNED_TAG = re.compile(r"^v?\d+\.\d+\.\d+([-.][\w.-]+)?$")
PUBLIC_PORTS = {"8088", "3000"}  # the case tracker and Grafana; everything else stays on loopback or private


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _without_defaults(text: str, dot_env: dict[str, str] | None = None) -> str:
    """``${NAME:-default}`` → ``default``; ``${NAME}`` → empty: the file as rendered with nothing set (but
    what ``dot_env`` sets, as Compose's ``.env``)."""
    return re.sub(
        r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}",
        lambda match: (dot_env or {}).get(match.group(1), match.group(2) or ""),
        text,
    )


def test_compose_file_follows_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_renders_the_file_when_the_cli_is_there(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    has_plugin = docker is not None and (
        subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0
    )
    if not has_plugin:
        pytest.skip("no docker compose plugin here; the schema test above covers the file")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],  # type: ignore[list-item]
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BATIKNET_CONFIG_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr


def test_every_image_is_pinned_to_a_release(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"service {name} names no image"
        repository, _, tag = image.rpartition(":")
        assert repository and PINNED_TAG.match(tag), f"service {name}: image {image!r} is not pinned"
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert PINNED_TAG.match(base.rpartition(":")[2]), f"Dockerfile base image {base!r} is not pinned"


def test_every_long_running_service_has_a_healthcheck_and_a_restart_policy(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if service.get("restart") == "no":
            # A one-shot job (the migration): other services wait for it to complete instead.
            dependants = [
                other
                for other, spec in compose["services"].items()
                if spec.get("depends_on", {}).get(name, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert dependants, f"one-shot service {name} is awaited by no one"
            continue
        assert service.get("restart") in ("always", "unless-stopped"), f"service {name}: restart policy"
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"service {name} has no healthcheck"


def test_named_volumes_and_secrets_are_declared(compose: dict[str, Any]) -> None:
    declared_volumes = set(compose.get("volumes", {}))
    declared_secrets = compose.get("secrets", {})
    used_volumes = set()
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = _without_defaults(mount).split(":")[0]
            if not source.startswith(("/", ".")):
                used_volumes.add(source)
        for secret in service.get("secrets", []):
            secret_name = secret if isinstance(secret, str) else secret["source"]
            assert secret_name in declared_secrets, f"service {name}: secret {secret_name} is not declared"
    assert used_volumes == declared_volumes
    for name, secret in declared_secrets.items():
        path = PurePosixPath(secret["file"])
        assert path.parent == PurePosixPath("deploy/secrets"), f"secret {name} lives outside deploy/secrets"
        assert name in (REPO / "deploy" / "secrets" / "README.md").read_text(), f"secret {name} undocumented"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/secrets/batiknet_api_token"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, "secret files in deploy/secrets must be ignored by git"


def test_mounted_repository_paths_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source, _target, *mode = _without_defaults(mount).split(":")
            if source.startswith("./"):
                assert (REPO / source).exists(), (
                    f"service {name} mounts {source}, which is not in the repository"
                )
                assert mode == ["ro"], f"service {name} mounts repository path {source} writable"


def test_repository_files_named_on_command_lines_exist(compose: dict[str, Any]) -> None:
    """Every absolute path on a command line that lies under a read-only mount of a repository path (such
    as ``--config.file=/etc/prometheus/prometheus.yml``) resolves to a file in the repository."""
    checked = 0
    for name, service in compose["services"].items():
        mounts = [_without_defaults(mount).split(":")[:2] for mount in service.get("volumes", [])]
        repository_mounts = [
            (source, PurePosixPath(target)) for source, target in mounts if source.startswith("./")
        ]
        for argument in service.get("command", []):
            for path in map(PurePosixPath, re.findall(r"(?<![\w.])/[\w./-]+", argument)):
                for source, target in repository_mounts:
                    if path == target or path.is_relative_to(target):
                        in_repository = REPO / source / path.relative_to(target)
                        assert in_repository.exists(), f"service {name}: {path} is not in the repository"
                        checked += 1
    assert checked >= 3, "prometheus.yml, alertmanager.yml and the render script are named on command lines"


def test_only_the_pages_are_published(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            published = _without_defaults(port)
            host_part, _, container_port = published.rpartition(":")
            if container_port in PUBLIC_PORTS:
                continue
            assert host_part.startswith("127.0.0.1:"), f"service {name} publishes {port} beyond loopback"
    assert "ports" not in compose["services"]["exporter"]


def test_exporter_gets_raw_icmp_and_nothing_else(compose: dict[str, Any]) -> None:
    exporter = compose["services"]["exporter"]
    assert exporter["cap_drop"] == ["ALL"]
    assert exporter["cap_add"] == ["NET_RAW"]
    assert exporter["read_only"] is True
    assert any(mount.endswith(":/etc/batiknet:ro") for mount in exporter["volumes"])


def _exporter_flags_of_the_unit() -> list[str]:
    unit = (UNITS_DIR / "batiknet-exporter.service").read_text(encoding="utf-8")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    return shlex.split(exec_start)[1:]


def test_the_exporter_is_started_with_flags_it_knows_and_no_open_lifecycle(compose: dict[str, Any]) -> None:
    """Both deployments reload with SIGHUP (ExecReload, docker compose kill -s HUP), so neither enables
    the HTTP lifecycle endpoint; the unit listens on loopback, the container on its private network."""
    unit_flags = parse_args(_exporter_flags_of_the_unit())
    assert unit_flags.listen_address == "127.0.0.1:9817"
    assert not unit_flags.enable_lifecycle
    command = compose["services"]["exporter"]["command"]
    assert command[0] == "batiknet-exporter"
    compose_flags = parse_args(command[1:])
    assert compose_flags.listen_address == "0.0.0.0:9817"  # reached by Prometheus' container only
    assert not compose_flags.enable_lifecycle
    assert "ExecReload=/bin/kill -HUP $MAINPID" in (UNITS_DIR / "batiknet-exporter.service").read_text()


def test_the_python_image_runs_as_a_user() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), "the image's last USER must not be root"
    for source in re.findall(r"^COPY\s+(\S+)\s", dockerfile, re.MULTILINE):
        assert (REPO / source).exists(), f"Dockerfile copies {source}, which is not in the repository"


def test_entrypoint_turns_secret_files_into_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    metrics_file = tmp_path / "metrics"
    metrics_file.write_text("metrics-token\n")
    result = subprocess.run(
        [
            str(REPO / "deploy" / "docker-entrypoint.sh"),
            "sh",
            "-c",
            'echo "$BATIKNET_API_TOKEN|${BATIKNET_API_TOKEN_FILE:-}|$BATIKNET_METRICS_TOKEN"',
        ],
        env={
            "PATH": os.environ["PATH"],
            "BATIKNET_API_TOKEN_FILE": str(token_file),
            "BATIKNET_METRICS_TOKEN_FILE": str(metrics_file),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "s3cret-token||metrics-token\n"


def test_prometheus_gets_the_secrets_its_configuration_reads(compose: dict[str, Any]) -> None:
    """prometheus.yml reads the case tracker's metrics token from /run/secrets/: the Compose service
    mounts that secret, the tracker gets the same one, and the systemd drop-in binds the directory."""
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    files = {
        PurePosixPath(job["authorization"]["credentials_file"])
        for job in config["scrape_configs"]
        if "authorization" in job
    }
    assert files == {PurePosixPath("/run/secrets/batiknet_metrics_token")}
    services = compose["services"]
    assert {path.name for path in files} <= set(services["prometheus"]["secrets"])
    assert "batiknet_metrics_token" in services["cases"]["secrets"]
    assert (
        services["cases"]["environment"]["BATIKNET_METRICS_TOKEN_FILE"]
        == "/run/secrets/batiknet_metrics_token"
    )
    drop_in = (UNITS_DIR / "prometheus.service.d" / "batiknet.conf").read_text(encoding="utf-8")
    assert "BindReadOnlyPaths=/etc/batiknet/prometheus-secrets:/run/secrets" in drop_in


@pytest.mark.system
def test_alertmanager_configuration_renders_with_the_telegram_token(tmp_path: Path) -> None:
    amtool = require_binary("amtool")
    token_file = tmp_path / "telegram_bot_token"
    token_file.write_text("123456789:AAExample-token_value\n")
    output = tmp_path / "alertmanager.yml"
    script = REPO / "deploy" / "render-alertmanager-config.sh"
    source = REPO / "alertmanager" / "alertmanager.yml"
    subprocess.run([str(script), str(source), str(token_file), str(output)], check=True)
    rendered = yaml.safe_load(output.read_text())
    tokens = {
        telegram["bot_token"]
        for receiver in rendered["receivers"]
        for telegram in receiver.get("telegram_configs", [])
    }
    assert tokens == {"123456789:AAExample-token_value"}
    assert output.stat().st_mode & 0o077 == 0, "the rendered file holds a secret: owner only"
    # Checked by amtool; the credentials files it names exist only on a server, so they are pointed here.
    for secret in ("batiknet_api_token", "smtp_password"):
        (tmp_path / secret).write_text("x\n")
    output.write_text(output.read_text().replace("/run/secrets/", f"{tmp_path}/"))
    check = subprocess.run([amtool, "check-config", str(output)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_render_refuses_what_is_not_a_telegram_token(tmp_path: Path) -> None:
    token_file = tmp_path / "telegram_bot_token"
    token_file.write_text("123|rm -rf /\n")
    script = REPO / "deploy" / "render-alertmanager-config.sh"
    source = REPO / "alertmanager" / "alertmanager.yml"
    result = subprocess.run(
        [str(script), str(source), str(token_file), str(tmp_path / "out.yml")],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1
    assert not (tmp_path / "out.yml").exists()


def _units_for_verification(tmp_path: Path) -> Path:
    """Copies of the units and drop-ins with the install prefix pointing at this checkout (whose .venv
    holds the console scripts), so that verify can check that every command exists."""
    target = tmp_path / "units"
    prefix = str(REPO)
    for source in UNITS_DIR.rglob("*"):
        if source.is_file():
            copy = target / source.relative_to(UNITS_DIR)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(
                source.read_text(encoding="utf-8").replace(INSTALL_PREFIX, prefix), encoding="utf-8"
            )
    for packaged in ("prometheus.service", "prometheus-alertmanager.service"):
        shutil.copy(Path("/lib/systemd/system") / packaged, target / packaged)
    return target


@pytest.mark.system
def test_systemd_units_verify(tmp_path: Path) -> None:
    systemd_analyze = require_binary("systemd-analyze")
    for packaged in ("prometheus.service", "prometheus-alertmanager.service"):
        require((Path("/lib/systemd/system") / packaged).exists(), f"Debian's {packaged} (make install)")
    units = _units_for_verification(tmp_path)
    result = subprocess.run(
        [systemd_analyze, "verify", *(str(path) for path in sorted(units.glob("*.service")))],
        capture_output=True,
        text=True,
        check=False,
    )
    # verify only warns about unknown keys; any line about our files is a defect.
    ours = [line for line in (result.stdout + result.stderr).splitlines() if str(units) in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


def test_units_run_the_documented_commands() -> None:
    exporter = (UNITS_DIR / "batiknet-exporter.service").read_text(encoding="utf-8")
    assert "AmbientCapabilities=CAP_NET_RAW" in exporter
    assert "CapabilityBoundingSet=CAP_NET_RAW" in exporter
    assert (
        f"ExecStart={INSTALL_PREFIX}/.venv/bin/batiknet-exporter --config.file /etc/batiknet/inventory.yml"
        in exporter
    )
    cases = (UNITS_DIR / "batiknet-cases.service").read_text(encoding="utf-8")
    assert f"ExecStartPre={INSTALL_PREFIX}/.venv/bin/batiknet-cases db upgrade" in cases
    assert f"ExecStart={INSTALL_PREFIX}/.venv/bin/batiknet-cases serve --listen" in cases
    for drop_in, config in (
        ("prometheus.service.d/batiknet.conf", "prometheus/prometheus.yml"),
        ("prometheus-alertmanager.service.d/batiknet.conf", "alertmanager/alertmanager.yml"),
    ):
        text = (UNITS_DIR / drop_in).read_text(encoding="utf-8")
        assert f"{INSTALL_PREFIX}/{config}" in text
        assert (REPO / config).is_file()


def _seconds(duration: str) -> float:
    """A systemd or Compose duration of whole seconds or minutes ("45s", "1m")."""
    value, unit = re.fullmatch(r"(\d+)(s|m)", duration.strip()).groups()
    return int(value) * (60 if unit == "m" else 1)


def test_the_stop_timeouts_allow_the_tracker_to_apply_what_it_accepted(compose: dict[str, Any]) -> None:
    """A graceful stop takes gunicorn's graceful timeout, then the spool's drain time, then the margin
    before the applier is killed: systemd and Docker must not kill the tracker sooner, and systemd must
    signal the master alone (it stops the applier after its workers)."""
    from alert_webhook.applier import KILL_MARGIN_SECONDS
    from alert_webhook.cli import GRACEFUL_TIMEOUT_SECONDS
    from alert_webhook.settings import Settings

    drain = Settings.model_fields["spool_drain_seconds"].default
    needed = GRACEFUL_TIMEOUT_SECONDS + drain + KILL_MARGIN_SECONDS
    unit = (UNITS_DIR / "batiknet-cases.service").read_text(encoding="utf-8")
    [timeout] = re.findall(r"^TimeoutStopSec=(.+)$", unit, re.MULTILINE)
    assert _seconds(timeout) > needed
    assert re.search(r"^KillMode=mixed$", unit, re.MULTILINE)
    assert _seconds(compose["services"]["cases"]["stop_grace_period"]) > needed


# In the tracker's environment but not its settings: read by the unit or by requests (the proxy).
NOT_TRACKER_SETTINGS = {"BATIKNET_LISTEN", "HTTPS_PROXY"}


def test_the_trackers_variables_are_settings_it_knows(compose: dict[str, Any]) -> None:
    """The tracker leaves a ``BATIKNET_`` variable it does not know alone (the exporter's share the prefix):
    a misspelt one in the compose file or the example would silently do nothing."""
    from alert_webhook.settings import PREFIX, Settings

    entrypoint = (REPO / "deploy" / "docker-entrypoint.sh").read_text(encoding="utf-8")
    [read_from_files] = re.findall(r"^for name in ([A-Z_ ]+); do$", entrypoint, re.MULTILINE)
    known = {PREFIX + name.upper() for name in Settings.model_fields} | NOT_TRACKER_SETTINGS
    known |= {f"{name}_FILE" for name in read_from_files.split()}
    example = (REPO / "deploy" / "batiknet.env.example").read_text(encoding="utf-8")
    assert set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", example, re.MULTILINE)) - known == set()
    assert set(compose["services"]["cases"]["environment"]) - known == set()


@pytest.mark.parametrize(
    "dot_env",
    [{}, {"BATIKNET_SMTP_HOST": "mail.batiknet.example", "BATIKNET_SMTP_USER": "noc@batiknet.example"}],
    ids=["nothing set", "smtp with a user"],
)
def test_the_compose_environment_starts_the_tracker(
    compose: dict[str, Any], tmp_path: Path, dot_env: dict[str, str]
) -> None:
    """The tracker's environment as Compose renders it (from ``.env``, defaults elsewhere) passes the
    settings' checks through the image's entrypoint: e.g. SMTP authentication is refused without TLS, so
    the default must be STARTTLS."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in compose["services"]["cases"]["secrets"]:
        (secrets / name).write_text(f"{name}-value\n")
    environment = {}
    for name, value in compose["services"]["cases"]["environment"].items():
        environment[name] = _without_defaults(str(value), dot_env).replace("/run/secrets/", f"{secrets}/")
    result = subprocess.run(
        [
            str(REPO / "deploy" / "docker-entrypoint.sh"),
            sys.executable,
            "-c",
            "from alert_webhook.settings import load_settings; load_settings()",
        ],
        env={"PATH": os.environ["PATH"], **environment},
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
