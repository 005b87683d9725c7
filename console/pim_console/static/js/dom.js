// Tiny DOM helpers: h() builds elements, text is always set as text (never parsed as HTML).

const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.setAttribute("class", value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value" && !svg) el.value = String(value);
    else if (!svg && key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${Math.round(s)}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function num(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function show(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function badge(text, tone) {
  return h("span", { class: `badge ${tone || ""}` }, text);
}

export function statusBadge(status) {
  const tones = { running: "ok", starting: "warn", stopped: "muted", stopping: "muted", unhealthy: "bad", error: "bad" };
  return badge(status, tones[status] || "");
}

export function table(headers, rows, caption) {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "none"))),
    ),
  );
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const err = h("p", { class: "field-error", id: `${id}-err`, role: "alert", hidden: true });
  input.setAttribute("aria-describedby", `${id}-err`);
  return h("div", { class: "field", dataset: { field: input.name || "" } }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint" }, hint) : null, err);
}

export function setFieldError(form, name, message) {
  const box = form.querySelector(`.field[data-field="${CSS.escape(name)}"] .field-error`);
  if (!box) return false;
  box.textContent = message;
  box.hidden = false;
  box.closest(".field").classList.add("invalid");
  box.closest(".field").querySelector("input,select,textarea")?.setAttribute("aria-invalid", "true");
  return true;
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((e) => { e.hidden = true; e.textContent = ""; });
  form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  const top = form.querySelector(".form-error");
  if (top) { top.hidden = true; top.textContent = ""; }
}

export function formError(form, message) {
  let top = form.querySelector(".form-error");
  if (!top) { top = h("p", { class: "form-error", role: "alert" }); form.prepend(top); }
  top.textContent = message;
  top.hidden = false;
}
