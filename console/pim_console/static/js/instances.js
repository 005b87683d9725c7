// Instances: the list, one instance (readiness, replicas, health, charts), and the actions on it.

import { api, enc } from "./api.js";
import { lineChart } from "./chart.js";
import { ago, badge, clearErrors, field, formError, h, replace, setFieldError, statusBadge, table } from "./dom.js";
import { confirmDialog, openDialog, toast, updateKeepingFocus } from "./main.js";
import { eventsSection } from "./models.js";

// Instances being deleted from this page: their view stops fetching them (a fetch of a deleted
// instance would answer 404, and a live update can arrive before the DELETE's answer does).
const deleting = new Set();

export async function instancesView(main) {
  const list = h("div");
  replace(main, h("div", { class: "page-head" }, h("h1", {}, "Instances"),
    h("button", { type: "button", class: "primary", onclick: () => createInstanceDialog() }, "Create instance")), list);
  async function update() {
    const data = await api("/ui/api/instances");
    replace(list, table(["Instance", "Model", "Port", "Status", "Ready", "Replicas", "URL", "Up"], data.instances.map((i) => h("tr", {},
      h("td", {}, h("a", { href: `#/instances/${enc(i.id)}` }, i.id)),
      h("td", {}, h("a", { href: `#/models/${enc(i.model)}` }, i.model)),
      h("td", {}, String(i.port)),
      h("td", {}, statusBadge(i.status)),
      h("td", {}, readyText(i.kubernetes)),
      h("td", {}, `${i.kubernetes.readyReplicas}/${i.kubernetes.replicas}`),
      h("td", {}, i.kubernetes.url ? h("code", {}, i.kubernetes.url) : ""),
      h("td", {}, i.uptime)))));
  }
  await update();
  return { update };
}

function readyText(k) {
  return [badge(k.ready ? "Ready" : "Not ready", k.ready ? "ok" : "warn"), k.reason && !k.ready ? ` ${k.reason}` : ""];
}

export async function createInstanceDialog(modelName) {
  let models = [];
  try { models = (await api("/models")).models.filter((m) => m.kubernetes.valid !== false); } catch (err) { toast(err.message, "bad"); return; }
  openDialog("Create an instance", (close) => {
    const model = h("select", { name: "model_name", required: true }, models.map((m) => h("option", { value: m.name, selected: m.name === modelName }, m.name)));
    const id = h("input", { name: "instance_id", autocomplete: "off", placeholder: "orders_prod" });
    const port = h("input", { name: "port", type: "number", min: 1024, max: 65535, placeholder: "first free from 8001" });
    const storage = h("select", { name: "storage" },
      h("option", { value: "" }, "Persistent, kept after a stop (default)"), h("option", { value: "Ephemeral" }, "Ephemeral (lost with the pod)"));
    const replicas = h("input", { name: "replicas", type: "number", min: 0, max: 100, placeholder: "1" });
    const form = h("form", { class: "stack", novalidate: true },
      field("Model", model), field("Instance id", id, "Any id the v2 API accepts (user_prod); empty: generated"),
      field("Port", port), field("Storage", storage), field("Replicas", replicas, "More than one needs ephemeral storage"),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Cancel"), h("button", { type: "submit", class: "primary" }, "Create")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const body = { model_name: model.value };
      if (id.value.trim()) body.instance_id = id.value.trim();
      if (port.value) body.port = Number(port.value);
      const config = {};
      if (storage.value) config.storage = { type: storage.value };
      if (replicas.value) config.replicas = Number(replicas.value);
      if (Object.keys(config).length) body.config = config;
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      try {
        const made = await api("/instances?wait=false", { method: "POST", body });
        close();
        toast(`Instance ${made.id} created on port ${made.port}`, "ok");
        location.hash = `#/instances/${enc(made.id)}`;
      } catch (err) {
        submit.disabled = false;
        showErrors(form, err, { port: /port/i, instance_id: /instance id|instance_id|Instance '/i, replicas: /replicas/i, storage: /storage/i });
      }
    });
    return form;
  });
}

// Put a server message beside the field it is about (FastAPI's loc, or words in a message).
export function showErrors(form, err, patterns = {}) {
  if (Array.isArray(err.detail)) {
    let placed = false;
    for (const d of err.detail) {
      const name = (d.loc || []).filter((x) => x !== "body" && x !== "config")[0];
      if (name !== undefined && setFieldError(form, String(name), d.msg)) placed = true;
      else formError(form, `${(d.loc || []).join(".")}: ${d.msg}`);
    }
    if (placed) return;
  }
  const text = err.message;
  for (const [name, re] of Object.entries(patterns)) if (re.test(text) && setFieldError(form, name, text)) return;
  formError(form, text);
}

export async function instanceView(main, id) {
  const head = h("div", { class: "page-head" });
  const summary = h("div", { class: "stack" });
  const charts = h("section", { "aria-labelledby": "charts-h" });
  const body = h("div", { class: "stack" });
  replace(main, head, summary, charts, body);
  let last = null;
  async function update() {
    if (deleting.has(id)) return;
    const i = await api(`/ui/api/instances/${enc(id)}`);
    last = i;
    const k = i.kubernetes;
    const suspended = !!i.spec.suspend;
    replace(head,
      h("div", {}, h("p", { class: "crumbs" }, h("a", { href: "#/instances" }, "Instances"), " / "), h("h1", {}, i.id)),
      h("div", { class: "actions" },
        h("a", { class: "button", href: `#/instances/${enc(i.id)}/data` }, "Browse data"),
        h("button", { type: "button", onclick: () => scaleDialog(i) }, "Scale"),
        h("button", { type: "button", onclick: () => suspend(i, !suspended) }, suspended ? "Resume" : "Suspend"),
        h("button", { type: "button", class: "danger", onclick: () => deleteDialog(i) }, "Delete")));
    const ready = i.conditions.find((c) => c.type === "Ready") || {};
    replace(summary,
      h("div", { class: `alert ${k.ready ? "ok" : i.status === "stopped" ? "muted" : "warn"}` },
        statusBadge(i.status), " ", h("strong", {}, k.ready ? "Ready" : `Not ready: ${ready.reason || "waiting for the operator"}`),
        ready.message ? h("span", {}, ` — ${ready.message}`) : null),
      h("dl", { class: "facts" },
        fact("Model", h("a", { href: `#/models/${enc(i.model)}` }, i.model)), fact("Port", String(i.port)),
        fact("Replicas", `${k.readyReplicas} ready of ${k.replicas}${i.spec.replicas != null ? ` (wants ${i.spec.replicas})` : ""}`),
        fact("URL", k.url ? h("code", {}, k.url) : "–"), fact("Through the console", h("a", { href: `${i.proxyPath}/openapi.json` }, h("code", {}, `${i.proxyPath}/…`))),
        fact("PimInstance", h("code", {}, k.name)), fact("Database", i.database), fact("Created", ago(i.created_at)), fact("Up", i.uptime)));
    replace(body,
      h("section", {}, h("h2", {}, "Replicas"), table(["Pod", "Node", "Phase", "Ready", "Health", "Restarts"], i.replicas.map((r) => h("tr", {},
        h("td", {}, h("code", {}, r.pod)), h("td", {}, r.node || ""), h("td", {}, r.phase || ""),
        h("td", {}, badge(r.ready ? "ready" : "not ready", r.ready ? "ok" : "warn")),
        h("td", {}, badge(r.healthy ? "healthy" : "unhealthy", r.healthy ? "ok" : "bad"), " ", h("span", { class: "muted" }, r.message)),
        h("td", {}, String(r.restarts))))),
        i.health.status ? h("p", { class: "muted" }, `Operator's last probe: ${i.health.status}${i.health.message ? ` — ${i.health.message}` : ""}`) : null),
      h("section", {}, h("h2", {}, "Conditions"), table(["Type", "Status", "Reason", "Message", "Since"], i.conditions.map((c) => h("tr", {},
        h("td", {}, c.type), h("td", {}, badge(c.status, conditionTone(c))), h("td", {}, c.reason || ""), h("td", {}, c.message || ""), h("td", {}, ago(c.lastTransitionTime)))))),
      eventsSection(i.events));
    await updateCharts();
  }
  async function updateCharts() {
    const m = await api(`/ui/api/instances/${enc(id)}/metrics?minutes=30`);
    // A young instance: show the time it has lived (a minute at least), not 30 empty minutes.
    if (m.points.length) m.start = Math.max(m.start, Math.min(m.points[0].at - 30, m.end - 60));
    const src = m.source === "prometheus" ? "Prometheus" : "the status history this console keeps (the operator's summaries, as they change)";
    replace(charts, h("h2", { id: "charts-h" }, "Traffic (up to the last 30 minutes)"),
      h("p", { class: "muted" }, `From ${src}.`, m.warning ? ` ${m.warning}` : "", m.points.length ? "" : " No data yet: it appears when the instance serves requests."),
      h("div", { class: "charts" },
        lineChart({ title: "Request rate", unit: "req/s", points: m.points, start: m.start, end: m.end, series: [{ key: "requestRate", label: "requests" }] }),
        lineChart({ title: "Error rate (5xx)", unit: "req/s", points: m.points, start: m.start, end: m.end, series: [{ key: "errorRate", label: "errors" }] }),
        lineChart({ title: "Latency", unit: "ms", points: m.points, start: m.start, end: m.end, series: [
          { key: "latencyP50Ms", label: "p50" }, { key: "latencyP95Ms", label: "p95" }, { key: "latencyP99Ms", label: "p99" }] })));
  }
  await update();
  const timer = setInterval(() => { if (last) updateKeepingFocus().catch(() => {}); }, 10000); // replica health is probed, not watched
  return { update, dispose: () => clearInterval(timer) };
}

function conditionTone(c) {
  const goodWhenFalse = ["Degraded", "Progressing"];
  const good = goodWhenFalse.includes(c.type) ? c.status === "False" : c.status === "True";
  return c.status === "Unknown" ? "warn" : good ? "ok" : "bad";
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

async function suspend(i, on) {
  try {
    await api(`/instances/${enc(i.id)}`, { method: "PATCH", body: { suspend: on } });
    toast(`${i.id} ${on ? "suspended" : "resumed"}`, "ok");
  } catch (err) {
    toast(err.message, "bad");
  }
}

function scaleDialog(i) {
  openDialog(`Scale ${i.id}`, (close) => {
    const replicas = h("input", { name: "replicas", type: "number", min: 0, max: 100, required: true, value: i.spec.replicas ?? 1 });
    const form = h("form", { class: "stack", novalidate: true }, field("Replicas", replicas, i.spec.storage?.type === "Persistent" ? "Persistent storage allows 0 or 1" : ""),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Cancel"), h("button", { type: "submit", class: "primary" }, "Scale")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      try {
        await api(`/instances/${enc(i.id)}`, { method: "PATCH", body: { replicas: Number(replicas.value) } });
        close();
        toast(`${i.id} scaled to ${replicas.value}`, "ok");
      } catch (err) {
        showErrors(form, err, { replicas: /replicas|storage/i });
      }
    });
    return form;
  });
}

function deleteDialog(i) {
  const hard = h("input", { type: "checkbox", name: "hard" });
  const keeps = i.spec.storage?.type === "Persistent" && i.spec.storage?.reclaimPolicy !== "Delete";
  confirmDialog("Delete instance",
    keeps ? `Stop ${i.id}? Its data stays on its volume: creating ${i.id} again finds it.` : `Delete ${i.id}? Its data is not on a retained volume and will be lost.`,
    async () => {
      deleting.add(i.id);
      try {
        await api(`/instances/${enc(i.id)}${hard.checked || !keeps ? "?hard=true" : ""}`, { method: "DELETE" });
      } catch (err) {
        deleting.delete(i.id); // refused: the view stays live
        throw err;
      }
      toast(`Instance ${i.id} deleted`, "ok");
      // The view is disposed on the hash change (main.js listens first); an instance created again
      // under this id later is fetched as any other.
      window.addEventListener("hashchange", () => deleting.delete(i.id), { once: true });
      location.hash = "#/instances";
    },
    { extra: keeps ? h("label", { class: "check" }, hard, " Also delete its data") : null });
}

