// The console's shell: session, hash routes, live updates (server-sent events), toasts, dialogs.

import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { modelsView, modelView } from "./models.js";
import { instancesView, instanceView } from "./instances.js";
import { dataView } from "./data.js";

const main = document.getElementById("main");
const live = document.getElementById("live");
export const session = { auth: "none", user: null, namespace: "" };
let current = null; // { update(), dispose?() }
let refreshTimer = null;
let events = null;

export function toast(message, tone = "info") {
  const box = document.getElementById("toasts");
  const el = h("div", { class: `toast ${tone}` }, message);
  box.append(el);
  setTimeout(() => el.remove(), tone === "bad" ? 8000 : 4000);
}

// A modal dialog: build(dialogEl, close) fills it; Escape and the close button close it.
export function openDialog(title, build) {
  const dialog = document.getElementById("dialog");
  const opener = document.activeElement;
  const close = () => dialog.close();
  replace(
    dialog,
    h("div", { class: "dialog-head" },
      h("h2", { id: "dialog-title" }, title),
      h("button", { type: "button", class: "icon", "aria-label": "Close", onclick: close }, "×")),
    build(close),
  );
  dialog.addEventListener("close", () => opener && opener.focus && opener.focus(), { once: true });
  dialog.showModal();
  const first = dialog.querySelector("input:not([type=hidden]),select,textarea,button:not(.icon)");
  if (first) first.focus();
  return dialog;
}

export function confirmDialog(title, message, action, { danger = true, extra } = {}) {
  return openDialog(title, (close) => {
    const form = h("form", { method: "dialog", class: "stack" },
      h("p", {}, message),
      extra || null,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: close }, "Cancel"),
        h("button", { type: "submit", class: danger ? "danger" : "primary" }, title)));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await action(form);
        close();
      } catch (err) {
        button.disabled = false;
        const p = form.querySelector(".form-error") || h("p", { class: "form-error", role: "alert" });
        p.textContent = err.message;
        form.prepend(p);
      }
    });
    return form;
  });
}

function route() {
  const hash = location.hash.replace(/^#\/?/, "") || "models";
  const [pathPart, query = ""] = hash.split("?");
  const parts = pathPart.split("/").map((p) => decodeURIComponent(p));
  const params = new URLSearchParams(query);
  document.querySelectorAll("[data-nav]").forEach((a) => {
    if (a.dataset.nav === parts[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (parts[0] === "models" && parts[1]) return () => modelView(main, parts[1]);
  if (parts[0] === "instances" && parts[1] && parts[2] === "data") return () => dataView(main, parts[1], parts[3], params);
  if (parts[0] === "instances" && parts[1]) return () => instanceView(main, parts[1]);
  if (parts[0] === "instances") return () => instancesView(main);
  return () => modelsView(main);
}

async function render() {
  if (current && current.dispose) current.dispose();
  current = null;
  try {
    current = await route()();
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      document.title = `${heading.textContent} · pim-console`;
      if (document.activeElement === document.body || !main.contains(document.activeElement)) heading.focus({ preventScroll: true });
    }
  } catch (err) {
    if (err.status === 401) return;
    replace(main, h("h1", {}, "Something went wrong"), h("p", { class: "form-error", role: "alert" }, err.message));
  }
}

// What identifies a focused control across a re-render: its tag, name, label and target.
function signature(el) {
  return [el.tagName, el.getAttribute("name"), el.getAttribute("aria-label") || el.textContent.trim(), el.getAttribute("href")].join("|");
}

// Re-render from fresh data, keeping the keyboard focus where it was (on the control of the same name).
export async function updateKeepingFocus() {
  if (!current || !current.update) return;
  const active = document.activeElement;
  const sig = active && main.contains(active) && active !== main ? signature(active) : null;
  await current.update();
  if (sig && !main.contains(active)) {
    const again = [...main.querySelectorAll(active.tagName)].find((el) => signature(el) === sig);
    if (again) again.focus({ preventScroll: true });
  }
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    try { await updateKeepingFocus(); } catch (err) { if (err.status !== 401) live.textContent = `update failed: ${err.message}`; }
  }, 250);
}

function connect() {
  if (events) events.close();
  events = new EventSource("/ui/events");
  events.addEventListener("hello", () => { live.textContent = "live"; live.className = "live on"; refreshSoon(); });
  events.onmessage = () => refreshSoon();
  events.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
}

function loginView(reason) {
  if (events) events.close();
  live.textContent = "signed out";
  const input = h("textarea", { id: "token", name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: false });
  const form = h("form", { class: "card stack narrow" },
    h("h1", {}, "Sign in"),
    h("p", {}, "This console checks your Kubernetes identity. Paste a bearer token (for example from ",
      h("code", {}, "kubectl create token NAME"), "); your own RBAC on PimModels and PimInstances decides what you may do."),
    reason ? h("p", { class: "form-error", role: "alert" }, reason) : null,
    h("label", { for: "token" }, "Token"), input,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/ui/api/login", { method: "POST", body: { token: input.value.trim() } });
      await start();
    } catch (err) {
      loginView(err.message);
    }
  });
  replace(main, form);
  input.focus();
}

async function start() {
  let info;
  try {
    info = await api("/ui/api/session");
  } catch (err) {
    if (err.status === 401 || err.status === 403) return loginView(err.status === 403 ? err.message : "");
    replace(main, h("h1", {}, "The console is not reachable"), h("p", { class: "form-error" }, err.message));
    return;
  }
  Object.assign(session, info);
  document.getElementById("namespace").textContent = `namespace ${info.namespace}`;
  const who = document.getElementById("who");
  replace(who);
  if (info.auth === "kubernetes") {
    who.append(info.user || "", " ", h("button", { type: "button", class: "link", onclick: async () => {
      await api("/ui/api/logout", { method: "POST" });
      loginView("");
    } }, "Sign out"));
  }
  connect();
  await render();
}

window.addEventListener("hashchange", render);
window.addEventListener("pim:unauthorized", (ev) => loginView(ev.detail));
start();
