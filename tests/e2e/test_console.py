"""pim-console on the local cluster with real pods: v2's documented commands, then the web UI.

The chart installs the operator and the console (auth none: reached through `kubectl port-forward`,
as a user would). The original documentation's quick start and both example scenarios run as the
curl commands it prints, with only `localhost:PORT` pointed at the forwarded ports, and every answer
is checked. Then Debian's Chromium (headless) walks every page and every action of the UI, failing
on any console error, and saves a screenshot of each page (PIM_SCREENSHOTS=DIR, default build/).

The tests run in order on one install: each scenario starts from what the one before left, as a user
following the documentation would.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import act, attribute, chromium, console_errors, find, press, quit_chromium, shot, type_into
from tests.support.console import PortForward, run_documented
from tests.support.helm import CHART, Helm, set_args
from tests.support.operator_incluster import image_values
from tests.support.pim import pim_model
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
NODE_LABEL = ("pim.dev/node", "local")
# A name of this run's own: a run killed before its uninstall leaves cluster-wide RBAC of its release behind.
RELEASE = f"pim-console-{secrets.token_hex(3)}"
CONSOLE = f"{RELEASE}-pim-operator-console"
V2_PORTS = (8000, 8001, 8002, 8003, 8004, 8005)
SHOTS = Path(os.environ.get("PIM_SCREENSHOTS") or REPO / "build" / "screenshots")
NOTES = """domain: notes
version: 1.0.0
description: Short notes, to try the console with
entities:
  - name: Note
    description: One note
    attributes:
      title: {type: string, max_length: 80}
      body: {type: text, required: false}
      pinned: {type: boolean, default: false}
"""

BROKEN = "domain: broken\nentities:\n- name: Thing\n  attributes: {owner: {type: reference, reference: Nobody}}\n"

# The original documentation's commands, verbatim (PIM Engine v2.0, "Quick Start" and "Example Scenarios").
QUICK_START_LOAD = """curl -X POST http://localhost:8000/models/load \\
  -H "Content-Type: application/json" \\
  -d '{"model_name": "user_management"}'"""
QUICK_START_CREATE = """curl -X POST http://localhost:8000/instances \\
  -H "Content-Type: application/json" \\
  -d '{
    "model_name": "user_management",
    "instance_id": "user_prod",
    "port": 8001
  }'"""
QUICK_START_ACCESS = """# Check instance health
curl http://localhost:8001/health

# View API documentation (the documentation opens it in a browser)
curl http://localhost:8001/docs

# Use the API
curl http://localhost:8001/api/v1/users"""
SCENARIO_1 = """# Load model
curl -X POST http://localhost:8000/models/load \\
  -d '{"model_name": "order_management"}'

# Create production instance
curl -X POST http://localhost:8000/instances \\
  -d '{"model_name": "order_management", "instance_id": "orders_prod", "port": 8001}'

# Create development instance
curl -X POST http://localhost:8000/instances \\
  -d '{"model_name": "order_management", "instance_id": "orders_dev", "port": 8002}'"""
SCENARIO_2 = """# Create multiple instances for load balancing
for i in {1..3}; do
  curl -X POST http://localhost:8000/instances \\
    -d "{\\"model_name\\": \\"user_management\\", \\"instance_id\\": \\"user_lb_$i\\"}"
done"""


@dataclass
class Installed:
    cluster: Any
    namespace: str  # the release's
    watched: str  # the console's models and instances
    forward: PortForward

    @property
    def ports(self) -> dict[int, int]:
        return self.forward.local

    def url(self, port: int = 8000) -> str:
        return f"http://127.0.0.1:{self.ports[port]}"

    def run(self, commands: str) -> list[Any]:
        self.forward.ensure()
        return run_documented(commands, self.ports)


@pytest.fixture(scope="module")
def installed(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if not cluster.get("nodes", "-l", "=".join(NODE_LABEL))["items"]:
        pytest.fail(f"no node labelled {'='.join(NODE_LABEL)}: run with PIM_CLUSTER_NODE=1", pytrace=False)
    work = tmp_path_factory.mktemp("console-e2e")
    helm = Helm(cluster.kubeconfig, work)
    restricted = {"pod-security.kubernetes.io/enforce": "restricted"}
    ns = cluster.namespace("pim-console", labels=restricted)
    # e2e-helm-*: the suite's own host operator leaves these namespaces to the one installed here.
    watched = cluster.namespace("e2e-helm-console", labels=restricted)
    values = {
        **image_values(),
        "rbac.scope": "namespaced",
        "watchNamespaces": [watched],
        "nodeSelector": dict([NODE_LABEL]),
        "probeInterval": 3,
        "resyncInterval": 30,
        "logFormat": "plain",
        "console.library.models": {"notes.yaml": NOTES},
        "console.createTimeout": 240,
    }
    helm("install", RELEASE, str(CHART), "-n", ns, "--wait=watcher", "--timeout", "240s", *set_args(values))
    kubectl = [shutil.which("kubectl") or "kubectl", f"--kubeconfig={cluster.kubeconfig}"]
    forward = PortForward(kubectl, f"deploy/{CONSOLE}", ns, V2_PORTS, work / "port-forward.log").start()
    inst = Installed(cluster, ns, watched, forward)
    try:
        yield inst
    finally:
        forward.stop()
        if os.environ.get("PIM_KEEP_LOGS"):
            print(cluster.kubectl("logs", "-n", ns, f"deploy/{CONSOLE}", "--tail=200", check=False).stdout)
        helm("uninstall", RELEASE, "-n", ns, "--wait=watcher", check=False)


def pim_instance(inst: Installed, name: str) -> dict[str, Any]:
    return inst.cluster.get("piminstance", name, "-n", inst.watched)


# --- the original documentation's commands ---


def test_quick_start(installed: Installed) -> None:
    (load,) = installed.run(QUICK_START_LOAD)
    assert load.status == 200, load.body
    model = load.json()
    assert model["name"] == "user_management"
    assert "User" in model["entities"]
    assert model["source_file"] == "user_management.yaml"

    started = time.monotonic()
    (create,) = installed.run(QUICK_START_CREATE)
    took = time.monotonic() - started
    assert create.status == 200, create.body  # v2 answered once the instance served
    made = create.json()
    assert (made["id"], made["model"], made["port"], made["status"]) == (
        "user_prod",
        "user_management",
        8001,
        "running",
    )
    obj = pim_instance(installed, "user-prod")
    assert obj["metadata"]["annotations"]["pim.dev/instance-id"] == "user_prod"
    assert obj["spec"]["storage"] == {"type": "Persistent", "size": "1Gi", "reclaimPolicy": "Retain"}
    print(f"POST /instances answered running after {took:.1f}s")

    health, docs, users = installed.run(QUICK_START_ACCESS)
    assert (health.status, health.json()) == (200, {"status": "ok"})
    assert docs.status == 200
    assert "<html" in docs.body.lower()
    assert users.status == 200, users.body
    assert users.json()["items"] == []
    assert users.json()["total"] == 0

    # The instance is really there: a user written on its port is read back through the console.
    created = httpx.post(
        f"{installed.url(8001)}/api/v1/users", json={"email": "ada@example.com", "displayName": "Ada"}, timeout=30
    )
    assert created.status_code == 201, created.text
    via_console = httpx.get(f"{installed.url()}/instances/user_prod/api/v1/users", timeout=30).json()
    assert [u["email"] for u in via_console["items"]] == ["ada@example.com"]
    checked = httpx.get(f"{installed.url()}/instances/user_prod/health", timeout=30).json()
    assert (checked["healthy"], checked["status"], checked["port"]) == (True, "running", 8001)
    assert [r["healthy"] for r in checked["replicas"]] == [True]
    listed = httpx.get(f"{installed.url()}/instances?model=user_management", timeout=30).json()
    assert (listed["total"], listed["instances"][0]["id"]) == (1, "user_prod")


def test_a_taken_port_is_refused_and_a_stopped_instance_keeps_its_data(installed: Installed) -> None:
    clash = httpx.post(
        f"{installed.url()}/instances", json={"model_name": "user_management", "instance_id": "x", "port": 8001}
    )
    assert (clash.status_code, clash.json()) == (409, {"detail": "port 8001 is already used by instance 'user_prod'"})

    stop = httpx.delete(f"{installed.url()}/instances/user_prod", timeout=120)
    assert stop.status_code == 200
    assert stop.json() == {"message": "Instance 'user_prod' stopped successfully", "data_kept": True}
    assert httpx.get(f"{installed.url()}/instances/user_prod", timeout=30).status_code == 404
    # As in v2, the database outlives the stop: the same id finds its data again.
    again = httpx.post(
        f"{installed.url()}/instances",
        json={"model_name": "user_management", "instance_id": "user_prod", "port": 8001},
        timeout=300,
    )
    assert again.status_code == 200, again.text
    users = httpx.get(f"{installed.url(8001)}/api/v1/users", timeout=30).json()
    assert [u["email"] for u in users["items"]] == ["ada@example.com"]
    # Stopped for good, so that scenario 1 can have port 8001 as the documentation says.
    assert httpx.delete(f"{installed.url()}/instances/user_prod", timeout=120).status_code == 200


def test_scenario_development_and_production(installed: Installed) -> None:
    load, prod, dev = installed.run(SCENARIO_1)
    assert load.status == 200, load.body
    assert load.json()["entities"] == ["Product", "Customer", "Order", "OrderItem"]
    for answer, (iid, port) in zip((prod, dev), (("orders_prod", 8001), ("orders_dev", 8002)), strict=True):
        assert answer.status == 200, answer.body
        body = answer.json()
        assert (body["id"], body["model"], body["port"], body["status"]) == (iid, "order_management", port, "running")
    # Two isolated instances: a product written to production is not in development.
    product = {"sku": "SKU-1", "name": "Lamp", "price": "19.90", "stock": 3}
    assert httpx.post(f"{installed.url(8001)}/api/v1/products", json=product, timeout=30).status_code == 201
    prod_rows = httpx.get(f"{installed.url(8001)}/api/v1/products", timeout=30).json()
    dev_rows = httpx.get(f"{installed.url(8002)}/api/v1/products", timeout=30).json()
    assert ([p["sku"] for p in prod_rows["items"]], dev_rows["total"]) == (["SKU-1"], 0)
    assert prod_rows["items"][0]["price"] == "19.90"  # exact decimals survive the relay


def test_scenario_load_balancing(installed: Installed) -> None:
    answers = installed.run(SCENARIO_2)
    assert [a.status for a in answers] == [200, 200, 200], [a.body for a in answers]
    made = [a.json() for a in answers]
    assert [m["id"] for m in made] == ["user_lb_1", "user_lb_2", "user_lb_3"]
    ports = [m["port"] for m in made]
    assert ports == [8003, 8004, 8005]  # the first free ones: 8001 and 8002 hold orders_prod and orders_dev
    assert {m["status"] for m in made} == {"running"}
    for port in ports:
        assert httpx.get(f"{installed.url(port)}/health", timeout=30).json() == {"status": "ok"}
    listed = httpx.get(f"{installed.url()}/instances", timeout=30).json()
    assert sorted(i["id"] for i in listed["instances"]) == [
        "orders_dev",
        "orders_prod",
        "user_lb_1",
        "user_lb_2",
        "user_lb_3",
    ]


# --- the web UI, in a real browser ---


@pytest.fixture(scope="module")
def browser(installed: Installed) -> Iterator[Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver = chromium()
    try:
        yield driver
    finally:
        quit_chromium(driver)


def visit(driver: Any, inst: Installed, fragment: str, heading: str) -> None:
    driver.get(f"{inst.url()}/#{fragment}")
    find(driver, "main h1", heading)
    find(driver, "#live.on")  # the live-update stream is connected


PAGES = [
    ("models", "/models", "Models", None),
    ("model", "/models/order_management", "order_management", "svg.diagram"),
    ("instances", "/instances", "Instances", "td"),
    ("instance", "/instances/orders_prod", "orders_prod", ".chart"),
    ("data", "/instances/orders_prod/data/Product", "Product data", "tbody td"),
]


def test_every_page_loads_without_console_errors(installed: Installed, browser: Any) -> None:
    # Some traffic for the charts: the operator summarizes it into status every few seconds.
    for _ in range(40):
        httpx.get(f"{installed.url(8001)}/api/v1/products", timeout=30)
    httpx.get(f"{installed.url(8001)}/api/v1/products/999999", timeout=30)
    # A model someone applied with kubectl that does not load: its page says why, in the loader's words.
    broken = pim_model(installed.watched, "broken", BROKEN)
    installed.cluster.kubectl("apply", "-n", installed.watched, "-f", "-", input=json.dumps(broken))
    visit(browser, installed, "/models/broken", "broken")
    assert "does not load" in find(browser, "main .alert.bad", "Nobody", timeout=60)
    find(browser, "main .badge", "invalid", exact=True, timeout=60)  # the operator's verdict, live
    assert console_errors(browser) == []
    shot(browser, SHOTS / "model-invalid.png")
    for name, fragment, heading, content in PAGES:
        visit(browser, installed, fragment, heading)
        if content:
            find(browser, content)
        if name == "data":
            find(browser, "tbody td", "SKU-1")
        if name == "instance":
            find(browser, ".legend strong", "req/s", timeout=90)
        assert console_errors(browser) == [], name
        shot(browser, SHOTS / f"{name}.png")
    # A phone: Chromium's own device emulation (a headless window cannot be made that narrow).
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
    )
    try:
        for name, fragment, heading in (
            ("phone-instances", "/instances", "Instances"),
            ("phone-instance", "/instances/orders_prod", "orders_prod"),
        ):
            visit(browser, installed, fragment, heading)
            find(browser, "main table")
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 390, f"{name}: the page is {width}px wide on a 390px screen"
            assert console_errors(browser) == [], name
            shot(browser, SHOTS / f"{name}.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_ui_actions_end_to_end(installed: Installed, browser: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    inst, ns = installed, installed.watched
    # Load a model from the library.
    visit(browser, inst, "/models", "Models")
    press(browser, "Load notes")
    find(browser, "main td a", "notes")
    wait_for(
        lambda: (
            inst.cluster.get("pimmodel", "notes", "-n", ns)["metadata"]["annotations"]["pim.dev/model-name"] == "notes"
        ),
        30,
        "PimModel notes",
    )
    wait_for(
        lambda: find(browser, "main tbody tr", "notes ").split()[:2] == ["notes", "valid"],
        60,
        "model notes marked valid by the operator, shown live",
    )

    # Create an instance from the model's page, with the keyboard only.
    visit(browser, inst, "/models/notes", "notes")
    press(browser, "Create instance")
    type_into(browser, "dialog[open]", "instance_id", "notes_ui" + Keys.ENTER)
    find(browser, "main h1", "notes_ui")
    assert pim_instance(inst, "notes-ui")["metadata"]["annotations"]["pim.dev/instance-id"] == "notes_ui"
    find(browser, "main .alert strong", "Ready", timeout=240, exact=True)  # live: no reload
    find(browser, "main td .badge", "healthy", timeout=60, exact=True)
    shot(browser, SHOTS / "instance-created.png")

    # Data: a refused row shows the instance's own validation error beside the field.
    press(browser, "Browse data")
    find(browser, "main h1", "Note data")
    press(browser, "New Note")
    type_into(browser, "dialog[open]", "body", "no title yet")
    press(browser, "Create", within="dialog[open]")
    title_error = 'dialog[open] .field[data-field="title"] .field-error'
    # The engine's words (a shown element's text can lag behind it being shown).
    assert wait_for(lambda: find(browser, title_error).strip() or None, 30, "the error beside title")
    assert attribute(browser, "dialog[open] [name=title]", "aria-invalid") == "true"
    shot(browser, SHOTS / "validation.png")
    type_into(browser, "dialog[open]", "title", "Buy milk")
    press(browser, "Create", within="dialog[open]")
    find(browser, "main tbody td", "Buy milk")
    rows = httpx.get(f"{inst.url()}/instances/notes_ui/api/v1/notes", timeout=30).json()
    assert [(r["title"], r["body"]) for r in rows["items"]] == [("Buy milk", "no title yet")]
    # Edit it.
    press(browser, "Edit Note 1")
    type_into(browser, "dialog[open]", "title", "Buy oat milk", clear=True)
    press(browser, "Save", within="dialog[open]")
    find(browser, "main tbody td", "Buy oat milk")
    # A second row, then filter to one.
    press(browser, "New Note")
    type_into(browser, "dialog[open]", "title", "Call Bob")
    press(browser, "Create", within="dialog[open]")
    find(browser, "main caption", "2 Note rows")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    field = "form.filters select[name=field]"
    act(browser, "filter on title", lambda d: Select(d.find_element(By.CSS_SELECTOR, field)).select_by_value("title"))
    type_into(browser, "form.filters", "value", "Call Bob", clear=True)
    press(browser, "Apply")
    find(browser, "main caption", "1 Note row")
    # Delete it.
    press(browser, "Delete Note 2")
    press(browser, "Delete Note", within="dialog[open]")
    find(browser, "main caption", "0 Note rows")
    assert httpx.get(f"{inst.url()}/instances/notes_ui/api/v1/notes", timeout=30).json()["total"] == 1

    # Scale: the CRD refuses two replicas of a SQLite instance, and says so beside the field.
    visit(browser, inst, "/instances/notes_ui", "notes_ui")
    press(browser, "Scale")
    type_into(browser, "dialog[open]", "replicas", "2", clear=True)
    press(browser, "Scale", within="dialog[open]")
    refusal = "spec.replicas > 1 needs spec.database.type PostgreSQL"
    assert refusal in find(browser, 'dialog[open] .field[data-field="replicas"] .field-error', refusal)
    type_into(browser, "dialog[open]", "replicas", "0", clear=True)
    press(browser, "Scale", within="dialog[open]")
    find(browser, "main .alert .badge", "stopped", timeout=60)
    assert pim_instance(inst, "notes-ui")["spec"]["replicas"] == 0
    press(browser, "Scale")
    type_into(browser, "dialog[open]", "replicas", "1", clear=True)
    press(browser, "Scale", within="dialog[open]")
    find(browser, "main .alert strong", "Ready", timeout=240, exact=True)

    # Suspend and resume.
    press(browser, "Suspend")
    find(browser, "main .alert .badge", "stopped", timeout=60)
    assert pim_instance(inst, "notes-ui")["spec"]["suspend"] is True
    press(browser, "Resume")
    find(browser, "main .alert strong", "Ready", timeout=240, exact=True)
    # The data survived all of it (persistent storage).
    assert httpx.get(f"{inst.url()}/instances/notes_ui/api/v1/notes", timeout=30).json()["total"] == 1

    # Delete the instance.
    press(browser, "Delete")
    press(browser, "Delete instance", within="dialog[open]")
    find(browser, "main h1", "Instances", timeout=120)
    wait_for(
        lambda: inst.cluster.kubectl("get", "piminstance", "notes-ui", "-n", ns, check=False).returncode != 0,
        60,
        "PimInstance notes-ui to be gone",
    )
    # The expected refusals (422 from the engine and from the CRD) are the only errors logged.
    assert console_errors(browser, allowed=("status of 422",)) == []


@pytest.mark.local_node_only
def test_charts_come_from_prometheus_when_configured(
    installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A real Prometheus scrapes the instances; a console pointed at it charts its series.

    The Prometheus runs on the host and scrapes pod IPs, which only the embedded node routes.
    """
    import subprocess

    import yaml
    from test_prometheus import prometheus_binary  # the upstream build the Prometheus e2e test uses

    from tests.support.console import ConsoleProcess
    from tests.support.net import free_port

    work = tmp_path_factory.mktemp("console-prometheus")
    # The instance's pods as static targets, labelled the way the usual pod discovery labels them.
    pods = installed.cluster.get("pods", "-n", installed.watched, "-l", "app.kubernetes.io/instance=orders-prod")
    targets = [
        {
            "targets": [f"{p['status']['podIP']}:8001"],
            "labels": {"namespace": installed.watched, "pod": p["metadata"]["name"]},
        }
        for p in pods["items"]
        if p["status"].get("podIP")
    ]
    assert targets, "orders_prod has no running pod"
    config = {"global": {"scrape_interval": "2s"}, "scrape_configs": [{"job_name": "pim", "static_configs": targets}]}
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (work / "prometheus.log").open("wb")
    flags = [f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}"]
    cmd = [prometheus_binary(), *flags, f"--web.listen-address=127.0.0.1:{port}"]
    prom = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    console = ConsoleProcess(
        installed.cluster.kubeconfig, installed.watched, work, "--prometheus-url", f"http://127.0.0.1:{port}"
    )

    def prometheus_ready() -> bool:
        assert prom.poll() is None, f"prometheus exited: {(work / 'prometheus.log').read_text()[-2000:]}"
        return httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=5).status_code == 200

    try:
        wait_for(prometheus_ready, 60, "Prometheus to be ready")
        console.start()

        def charted() -> list[dict[str, Any]] | None:
            for _ in range(20):
                httpx.get(f"{installed.url(8001)}/api/v1/products", timeout=30)
            m = httpx.get(f"{console.url}/ui/api/instances/orders_prod/metrics?minutes=5", timeout=30).json()
            assert m["source"] == "prometheus", m.get("warning")
            points = [p for p in m["points"] if (p.get("requestRate") or 0) > 0 and p.get("latencyP50Ms") is not None]
            return points or None

        points = wait_for(charted, 120, "request rate and latency of orders_prod from Prometheus")
        assert all(p["latencyP50Ms"] <= p["latencyP99Ms"] for p in points if p.get("latencyP99Ms") is not None)
    finally:
        console.stop()
        prom.terminate()
        prom.wait(timeout=30)
        log.close()
