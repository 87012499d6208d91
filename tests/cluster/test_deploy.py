"""deploy/: the compose file, Prometheus config, Grafana provisioning and dashboard, and the Dockerfile are
consistent with each other and with the proxy (every metric the dashboard plots is one the proxy exports)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.runtime import build_runtime
from proxy.settings import Secret
from tests.conftest import proxy_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


def test_compose_runs_redis_three_clustered_proxies_prometheus_and_grafana() -> None:
    services = _load("compose.yaml")["services"]
    assert {"redis", "proxy1", "proxy2", "proxy3", "prometheus", "grafana"} <= set(services)
    for name in ("proxy1", "proxy2", "proxy3"):
        proxy = services[name]
        env = proxy["environment"]
        assert env["QC_REDIS_URL"].startswith("redis://redis:")
        assert proxy["build"]["dockerfile"] == "deploy/Dockerfile"
        assert proxy["depends_on"]["redis"]["condition"] == "service_healthy"
        assert (DEPLOY / ".." / proxy["build"]["context"].removeprefix("../")).resolve().is_dir()
    ports = [services[n]["ports"][0].split(":")[0] for n in ("proxy1", "proxy2", "proxy3")]
    assert len(set(ports)) == 3
    mounts = [v.split(":")[0] for s in services.values() for v in s.get("volumes", []) if v.startswith("./")]
    for mount in mounts:
        assert (DEPLOY / mount).exists(), mount


def test_prometheus_scrapes_every_proxy_of_the_compose_file() -> None:
    services = _load("compose.yaml")["services"]
    targets = {t for job in _load("prometheus.yml")["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]}
    assert targets == {f"{name}:8080" for name in services if name.startswith("proxy")}


def test_grafana_provisions_the_prometheus_datasource_the_dashboard_uses() -> None:
    (source,) = _load("grafana/provisioning/datasources/prometheus.yaml")["datasources"]
    dashboard = json.loads((DEPLOY / "grafana/dashboards/queuecast.json").read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24


def test_every_metric_on_the_dashboard_is_exported_by_a_clustered_proxy() -> None:
    rt = build_runtime(proxy_settings(redis_url=Secret("redis://127.0.0.1:1/0")))
    assert rt.cluster is not None
    rt.cluster.metrics.errors.labels("read")  # labelled families show once a child exists
    rt.metrics.component_restarts.labels("aggregator")
    exported = set(re.findall(r"^# TYPE (\w+) (\w+)", rt.metrics.render().decode(), re.M))
    names: set[str] = set()
    for name, kind in exported:
        names.add(name)
        if kind == "counter":
            names.add(name + "_total")
        if kind == "histogram":
            names.add(name + "_bucket")
    dashboard = json.loads((DEPLOY / "grafana/dashboards/queuecast.json").read_text())
    used = {m for p in dashboard["panels"] for t in p["targets"]
            for m in re.findall(r"\b(queuecast_\w+)", t["expr"])}
    assert used and used <= names, used - names


def test_dockerfile_runs_the_proxy_as_non_root_with_a_readyz_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M)
    assert 'ENTRYPOINT ["queuecast", "proxy"]' in text
    assert re.search(r"^HEALTHCHECK .*", text, re.M) and "/readyz" in text
    for copied in re.findall(r"^COPY (\S+)", text, re.M):
        assert (DEPLOY.parent / copied).exists(), copied


def test_docker_compose_accepts_the_file_when_docker_compose_is_installed() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker compose is not installed (the schema checks above still ran)")
    done = subprocess.run([docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
