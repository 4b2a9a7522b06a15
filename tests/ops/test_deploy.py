"""Deployment files: the compose file, the Dockerfiles and the index-template init step.

What can run here runs for real: the compose file is parsed and every file, volume and
service it names is checked; ``docker compose config`` validates it when a compose
client exists (skipped otherwise: this machine's docker client has no compose plugin);
Tor verifies the container torrc; and ``narcwatch index apply-templates`` — what the
``index-init`` service runs — applies the templates to a real OpenSearch-compatible
server (osmem, port 0).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
COMPOSE = OPS / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_compose_has_the_deployment_services(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert {"elasticsearch", "kibana", "tor", "index-init", "run", "serve", "redis", "worker"} <= set(services)
    assert services["run"]["command"] == ["run"]
    assert services["serve"]["command"][0] == "serve"
    assert services["index-init"]["command"][:2] == ["index", "apply-templates"]
    assert services["run"]["depends_on"]["index-init"]["condition"] == "service_completed_successfully"
    assert "scale" in services["redis"]["profiles"] and "scale" in services["worker"]["profiles"]


def test_compose_references_exist(compose: dict[str, Any]) -> None:
    services = _services(compose)
    declared_volumes = set(compose.get("volumes") or {})
    used_volumes: set[str] = set()
    for name, svc in services.items():
        build = svc.get("build")
        if build:
            context = (OPS / build["context"]).resolve()
            assert context.is_dir(), f"{name}: build context {context} missing"
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: Dockerfile missing"
        else:
            assert svc.get("image"), f"{name}: neither build nor image"
        for dep in svc.get("depends_on") or {}:
            assert dep in services, f"{name} depends on unknown service {dep}"
        for vol in svc.get("volumes") or []:
            source = vol.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (OPS / source).resolve().exists(), f"{name}: bind mount {source} missing"
            else:
                used_volumes.add(source)
        for env_file in svc.get("env_file") or []:
            path = env_file["path"] if isinstance(env_file, dict) else env_file
            required = env_file.get("required", True) if isinstance(env_file, dict) else True
            if required:
                assert (OPS / path).is_file(), f"{name}: env_file {path} missing"
            else:  # optional, but an example to copy from ships
                assert (OPS / f"{path}.example").is_file(), f"{name}: no example for {path}"
    assert used_volumes <= declared_volumes, f"undeclared volumes: {used_volumes - declared_volumes}"
    assert declared_volumes <= used_volumes, f"unused volumes: {declared_volumes - used_volumes}"


def test_compose_publishes_nothing_beyond_loopback(compose: dict[str, Any]) -> None:
    for name, svc in _services(compose).items():
        for port in svc.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    for name in ("elasticsearch", "tor", "redis"):
        assert not _services(compose)[name].get("ports"), f"{name} must stay on the compose network"


def test_compose_config_file_loads() -> None:
    from narcwatch.crawler.config import load_config

    cfg = load_config(OPS / "compose" / "narcwatch.yaml")
    assert cfg.store.backend == "elasticsearch" and cfg.store.url == "http://elasticsearch:9200"
    assert cfg.tor.socks_url == "socks5h://tor:9050"  # remote DNS through the tor service


def _has_compose() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    r = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
    return r.returncode == 0


def test_docker_compose_config_validates() -> None:
    if not _has_compose():
        pytest.skip("no `docker compose` client on this machine (the docker CLI here lacks the compose plugin)")
    r = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "--profile", "scale", "config", "--quiet"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


_COPY = re.compile(r"^COPY\s+(?!--from)(.+)$", re.MULTILINE)


@pytest.mark.parametrize("dockerfile,context", [(OPS / "Dockerfile", ROOT), (OPS / "tor" / "Dockerfile", OPS / "tor")],
                         ids=["narcwatch", "tor"])
def test_dockerfile_copies_existing_files_and_fetches_nothing(dockerfile: Path, context: Path) -> None:
    text = dockerfile.read_text(encoding="utf-8")
    assert re.search(r"^FROM debian:\S+-slim$", text, re.MULTILINE), "Debian slim base expected"
    for line in _COPY.findall(text):
        *sources, _dest = line.split()
        for src in sources:
            assert (context / src).exists(), f"{dockerfile.name}: COPY source {src} missing"
    lowered = "\n".join(line for line in text.lower().splitlines() if not line.lstrip().startswith("#"))
    for fetch in ("curl ", "wget ", "playwright install", "git clone", "add http"):
        assert fetch not in lowered, f"{dockerfile.name} fetches from the network: {fetch!r}"


def test_narcwatch_image_installs_every_package_folder() -> None:
    text = (OPS / "Dockerfile").read_text(encoding="utf-8")
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    for folder in ("crawler", "spiders", "extract", "index", "dashboards", "sandbox"):
        assert folder in setup
        assert re.search(rf"^COPY {folder} ", text, re.MULTILINE), f"{folder}/ not copied into the image"
    assert "chromium" in text and "python3" in text


def test_container_torrc_verifies(tmp_path: Path) -> None:
    tor = shutil.which("tor") or "/usr/sbin/tor"
    if not Path(tor).exists():
        pytest.skip("tor not installed (ops/bootstrap.sh installs it)")
    text = (OPS / "tor" / "torrc.docker").read_text(encoding="utf-8")
    local = tmp_path / "torrc"
    local.write_text("\n".join(f"DataDirectory {tmp_path / 'tor'}" if line.startswith("DataDirectory") else line
                               for line in text.splitlines()))
    (tmp_path / "tor").mkdir(mode=0o700)
    r = subprocess.run([tor, "--verify-config", "-f", str(local)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "IsolateSOCKSAuth" in text and "SocksPolicy reject *" in text


# -- index-init: templates applied through the CLI to a real OpenSearch-compatible server ------

@pytest.fixture(scope="module")
def osmem_url() -> Iterator[str]:
    try:
        from osmem_server import OsmemServer
    except ImportError:  # pragma: no cover - test extra not installed
        pytest.skip("osmem-server not installed (pip install -e '.[test]')")
    server = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    try:
        yield server.url
    finally:
        server.close()
        for stream in (server.process.stdout, server.process.stdin):
            if stream is not None and not stream.closed:
                stream.close()


def _cli(*args: str) -> Any:
    from narcwatch.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.server
def test_apply_templates_cli_creates_every_alias(osmem_url: str, tmp_path: Path) -> None:
    from narcwatch.index.search_engine import KINDS, SearchEngineStore

    prefix = f"nw{uuid.uuid4().hex[:8]}"
    args = ("--data-dir", str(tmp_path), "index", "apply-templates", "--backend", "opensearch", "--url", osmem_url,
            "--prefix", prefix)
    first = _cli(*args)
    assert first.exit_code == 0, first.output
    store = SearchEngineStore.connect("opensearch", osmem_url, prefix=prefix)
    try:
        for kind in KINDS:
            name, version = store._current(kind)
            assert name is not None, f"no index behind the {kind} alias"
            assert version == int(store.templates[kind]["version"])
        assert store.pending_migrations() == {}
    finally:
        store.close()
    again = _cli(*args)  # idempotent: the init service runs on every `compose up`
    assert again.exit_code == 0, again.output
    assert first.output == again.output


def test_apply_templates_needs_a_search_engine(tmp_path: Path) -> None:
    r = _cli("--data-dir", str(tmp_path), "index", "apply-templates")
    assert r.exit_code == 1
    assert "needs a search-engine store" in r.output


def test_apply_templates_reports_an_unreachable_cluster(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _cli("--data-dir", str(tmp_path), "index", "apply-templates", "--backend", "opensearch",
             "--url", f"http://127.0.0.1:{port}")
    assert r.exit_code == 1
    assert "cannot reach opensearch" in r.output


# -- the compose file against the Compose Specification's JSON schema -----------------------------
# check-jsonschema vendors the compose-spec schema (``vendor.compose-spec``): validated
# offline, with the same schema `docker compose config` applies before interpolation.

def _validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    import sys

    pytest.importorskip("check_jsonschema", reason="check-jsonschema (test extra) not installed")
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=120)


def test_compose_file_matches_the_compose_spec_schema() -> None:
    r = _validate_compose(COMPOSE)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("broken", [
    "services:\n  a:\n    image: x\n    depends_on: 5\n",  # wrong type
    "services:\n  a:\n    image: x\n    restart_policy: always\n",  # unknown key (a typo of deploy.restart_policy)
    "services:\n  a:\n    image: x\n    healthcheck:\n      test: 3\n",
])
def test_the_schema_check_rejects_a_broken_compose_file(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(broken, encoding="utf-8")
    assert _validate_compose(path).returncode != 0


def test_scale_out_workers_share_the_daemons_data_volume(compose: dict[str, Any]) -> None:
    services = _services(compose)
    run, worker = services["run"], services["worker"]
    data = "narcwatch-data:/var/lib/narcwatch/data"
    assert data in run["volumes"] and data in worker["volumes"]  # <data>/spools/ is where run ingests from
    assert run["environment"]["NARCWATCH_DATA_DIR"] == worker["environment"]["NARCWATCH_DATA_DIR"]
    assert "NARCWATCH_REDIS_URL" in run["environment"]
    script = " ".join(worker["command"])
    assert "--worker" in script and "narcwatch.ingest" not in script and "--data-dir" not in script
