// Models: the list (with the library to load from) and one model's entities, diagram and instances.

import { api, enc } from "./api.js";
import { entityDiagram } from "./diagram.js";
import { ago, badge, clearErrors, field, formError, h, replace, show, statusBadge, table } from "./dom.js";
import { confirmDialog, openDialog, toast } from "./main.js";
import { createInstanceDialog } from "./instances.js";

function validBadge(valid) {
  if (valid === true) return badge("valid", "ok");
  if (valid === false) return badge("invalid", "bad");
  return badge("pending", "warn");
}

export async function modelsView(main) {
  const list = h("section", { "aria-labelledby": "loaded-h" });
  const lib = h("section", { "aria-labelledby": "library-h" });
  replace(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Models"),
      h("button", { type: "button", class: "primary", onclick: () => loadDialog() }, "Load model")),
    list, lib);
  async function update() {
    const data = await api("/ui/api/models");
    replace(list, h("h2", { id: "loaded-h" }, "Loaded"), table(
      ["Model", "Valid", "Version", "Entities", "Instances", "Loaded"],
      data.models.map((m) => h("tr", {},
        h("td", {}, h("a", { href: `#/models/${enc(m.name)}` }, m.name)),
        h("td", {}, validBadge(m.kubernetes.valid)),
        h("td", {}, m.version),
        h("td", {}, String(m.entities.length)),
        h("td", {}, m.kubernetes.instances.length ? m.kubernetes.instances.map((i, n) => [n ? ", " : "", h("a", { href: `#/instances/${enc(i)}` }, i)]) : h("span", { class: "muted" }, "none")),
        h("td", {}, ago(m.loaded_at))))));
    replace(lib, h("h2", { id: "library-h" }, "Library"), table(
      ["Model", "File", "Format", ""],
      data.library.map((f) => h("tr", {},
        h("td", {}, f.name), h("td", {}, h("code", {}, f.file)), h("td", {}, f.format),
        h("td", {}, f.loaded ? badge("loaded", "muted")
          : h("button", { type: "button", onclick: () => loadFromLibrary(f.name), "aria-label": `Load ${f.name}` }, "Load"))))));
  }
  await update();
  return { update };
}

async function loadFromLibrary(name) {
  try {
    await api("/models/load", { method: "POST", body: { model_name: name } });
    toast(`Model ${name} loaded`, "ok");
  } catch (err) {
    toast(`Loading ${name} failed: ${err.message}`, "bad");
  }
}

function loadDialog() {
  openDialog("Load a model", (close) => {
    const name = h("input", { name: "model_name", required: true, autocomplete: "off", placeholder: "user_management" });
    const format = h("select", { name: "format" }, ["yaml", "markdown", "json"].map((f) => h("option", { value: f }, f)));
    const source = h("textarea", { name: "source", rows: 12, spellcheck: false, placeholder: "domain: library\nentities:\n  - name: Book\n    attributes:\n      title: string" });
    const file = h("input", { type: "file", accept: ".yaml,.yml,.md,.markdown,.json", "aria-label": "Read the model from a file" });
    file.addEventListener("change", async () => {
      const f = file.files[0];
      if (!f) return;
      source.value = await f.text();
      if (!name.value) name.value = f.name.replace(/\.[^.]+$/, "");
      format.value = /\.(md|markdown)$/i.test(f.name) ? "markdown" : /\.json$/i.test(f.name) ? "json" : "yaml";
    });
    const form = h("form", { class: "stack", novalidate: true },
      h("p", { class: "hint" }, "Leave the text empty to load the model of that name from the library."),
      field("Model name", name), field("Format", format), field("From a file", file), field("Model text", source),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Cancel"), h("button", { type: "submit", class: "primary" }, "Load")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      if (!name.value.trim()) return formError(form, "model_name: give the model a name");
      const body = { model_name: name.value.trim() };
      if (source.value.trim()) Object.assign(body, { source: source.value, format: format.value });
      try {
        await api("/models/load", { method: "POST", body });
        close();
        toast(`Model ${body.model_name} loaded`, "ok");
        location.hash = `#/models/${enc(body.model_name)}`;
      } catch (err) {
        formError(form, err.message);
      }
    });
    return form;
  });
}

export async function modelView(main, name) {
  const head = h("div", { class: "page-head" });
  const body = h("div", { class: "stack" });
  replace(main, head, body);
  async function update() {
    const m = await api(`/ui/api/models/${enc(name)}`);
    replace(head,
      h("div", {}, h("p", { class: "crumbs" }, h("a", { href: "#/models" }, "Models"), " / "), h("h1", {}, m.name)),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", disabled: m.kubernetes.valid === false, onclick: () => createInstanceDialog(m.name) }, "Create instance"),
        h("button", { type: "button", class: "danger", onclick: () => unloadDialog(m) }, "Unload")));
    const facts = h("dl", { class: "facts" },
      fact("Valid", validBadge(m.kubernetes.valid)), fact("Version", m.version), fact("PimModel", h("code", {}, m.kubernetes.name)),
      fact("Source", h("code", {}, m.source_file)), fact("Format", m.format), fact("Loaded", ago(m.loaded_at)),
      fact("Digest", h("code", { title: m.kubernetes.digest || "" }, (m.kubernetes.digest || "–").replace("sha256:", "").slice(0, 12))));
    const parts = [facts];
    if (m.description) parts.push(h("p", {}, m.description));
    if (m.kubernetes.valid === false || m.loadError) {
      parts.push(h("div", { class: "alert bad", role: "alert" }, h("strong", {}, "The model does not load: "), m.kubernetes.valid === false ? m.kubernetes.message : m.loadError));
    }
    if (m.view) {
      parts.push(h("section", { "aria-labelledby": "diagram-h" }, h("h2", { id: "diagram-h" }, "Entities and references"),
        h("div", { class: "scroll" }, entityDiagram(m.view)),
        m.view.references.length ? h("ul", { class: "refs" }, m.view.references.map((r) => h("li", {}, `${r.from}.${r.attribute} → ${r.to}`))) : null));
      for (const e of m.view.entities) parts.push(entityCard(e));
      if (m.view.services.length) {
        parts.push(h("section", {}, h("h2", {}, "Services"), h("ul", {}, m.view.services.map((s) => h("li", {}, h("strong", {}, s.name), s.methods.length ? `: ${s.methods.join(", ")}` : "")))));
      }
    }
    parts.push(h("section", {}, h("h2", {}, "Instances"), table(["Instance", "Status", "Port", "Ready"], m.instanceDetails.map((i) => h("tr", {},
      h("td", {}, h("a", { href: `#/instances/${enc(i.id)}` }, i.id)), h("td", {}, statusBadge(i.status)), h("td", {}, String(i.port)),
      h("td", {}, `${i.kubernetes.readyReplicas}/${i.kubernetes.replicas}`))))));
    parts.push(eventsSection(m.events));
    replace(body, parts);
  }
  await update();
  return { update };
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

function entityCard(e) {
  return h("section", { class: "card", "aria-labelledby": `entity-${e.name}` },
    h("h3", { id: `entity-${e.name}` }, e.name, " ", h("code", { class: "muted" }, `/api/v1/${e.collection}`)),
    e.description ? h("p", { class: "muted" }, e.description) : null,
    table(["Attribute", "Type", "Required", "Unique", "Default", "Notes"], e.attributes.map((a) => h("tr", {},
      h("td", {}, a.key ? h("strong", {}, a.name) : a.name), h("td", {}, a.type), h("td", {}, a.required ? "yes" : ""), h("td", {}, a.unique ? "yes" : ""),
      h("td", {}, show(a.default)),
      h("td", {}, [a.key ? "key" : "", a.readOnly ? "set by the server" : "", a.enum ? `one of ${a.enum.join(", ")}` : "",
        a.reference ? `→ ${a.reference}` : "", a.maxLength ? `≤ ${a.maxLength} chars` : ""].filter(Boolean).join("; "))))));
}

export function eventsSection(events) {
  return h("section", {}, h("h2", {}, "Events"), table(["Type", "Reason", "Message", "Count", "Last"], events.map((e) => h("tr", {},
    h("td", {}, badge(e.type, e.type === "Warning" ? "warn" : "muted")), h("td", {}, e.reason), h("td", {}, e.message), h("td", {}, String(e.count)), h("td", {}, ago(e.last))))));
}

function unloadDialog(m) {
  const hard = h("input", { type: "checkbox", name: "hard" });
  confirmDialog("Unload model",
    m.kubernetes.instances.length
      ? `Unloading ${m.name} stops its instances (${m.kubernetes.instances.join(", ")}). Data on retained volumes is kept unless you also delete it.`
      : `Unload ${m.name}? No instance uses it.`,
    async () => {
      await api(`/models/${enc(m.name)}${hard.checked ? "?hard=true" : ""}`, { method: "DELETE" });
      toast(`Model ${m.name} unloaded`, "ok");
      location.hash = "#/models";
    },
    { extra: h("label", { class: "check" }, hard, " Also delete the instances' data") });
}
