// Data: browse, filter, create, edit and delete the rows of an instance's entities, through the
// instance's own API (/instances/{id}/api/v1/...), with its validation errors beside the fields.

import { api, enc } from "./api.js";
import { clearErrors, field, formError, h, replace, show, table } from "./dom.js";
import { confirmDialog, openDialog, toast } from "./main.js";
import { showErrors } from "./instances.js";

const PAGE = 20;

export async function dataView(main, id, entityName, params) {
  const schema = await api(`/ui/api/instances/${enc(id)}/schema`);
  const entity = schema.entities.find((e) => e.name === entityName) || schema.entities[0];
  if (!entity) {
    replace(main, h("h1", {}, `${id}: no entities`));
    return {};
  }
  const base = `/instances/${enc(id)}/api/v1/${enc(entity.collection)}`;
  const skip = Math.max(0, Number(params.get("skip") || 0));
  const filterField = params.get("field") || "";
  const filterValue = params.get("value") || "";
  const sort = params.get("sort") || "";
  const here = (changes) => {
    const q = new URLSearchParams({ skip: String(skip), field: filterField, value: filterValue, sort, ...changes });
    for (const [k, v] of [...q.entries()]) if (!v || (k === "skip" && v === "0")) q.delete(k);
    const qs = q.toString();
    return `#/instances/${enc(id)}/data/${enc(entity.name)}${qs ? `?${qs}` : ""}`;
  };

  const tabs = h("nav", { class: "tabs", "aria-label": "Entities" }, schema.entities.map((e) =>
    h("a", { href: `#/instances/${enc(id)}/data/${enc(e.name)}`, "aria-current": e.name === entity.name ? "page" : false }, e.name)));
  const fieldSel = h("select", { name: "field", "aria-label": "Filter on attribute" }, h("option", { value: "" }, "attribute…"),
    entity.attributes.filter((a) => a.type !== "json").map((a) => h("option", { value: a.name, selected: a.name === filterField }, a.name)));
  const valueIn = h("input", { name: "value", value: filterValue, placeholder: "equals…", "aria-label": "Filter value" });
  const sortSel = h("select", { name: "sort", "aria-label": "Sort by" }, h("option", { value: "" }, "default order"),
    entity.attributes.filter((a) => a.type !== "json").flatMap((a) => [
      h("option", { value: a.name, selected: sort === a.name }, `${a.name} ↑`),
      h("option", { value: `-${a.name}`, selected: sort === `-${a.name}` }, `${a.name} ↓`)]));
  const filters = h("form", { class: "filters", role: "search" }, fieldSel, valueIn, sortSel,
    h("button", { type: "submit" }, "Apply"), h("a", { class: "button", href: here({ field: "", value: "", sort: "", skip: "0" }) }, "Clear"));
  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = here({ field: fieldSel.value, value: fieldSel.value ? valueIn.value : "", sort: sortSel.value, skip: "0" });
  });
  const rowsBox = h("div", { "aria-live": "polite" });
  replace(main,
    h("div", { class: "page-head" },
      h("div", {}, h("p", { class: "crumbs" }, h("a", { href: "#/instances" }, "Instances"), " / ", h("a", { href: `#/instances/${enc(id)}` }, id), " / "),
        h("h1", {}, `${entity.name} data`)),
      h("button", { type: "button", class: "primary", onclick: () => rowDialog(entity, base, null, update) }, `New ${entity.name}`)),
    h("p", { class: "muted" }, "Through the instance's own API: ", h("code", {}, `${base.replace(/%2F/g, "/")}`),
      schema.source === "model" ? " (the instance is not answering: forms follow its PimModel)" : ""),
    tabs, filters, rowsBox);

  async function update() {
    const q = new URLSearchParams({ skip: String(skip), limit: String(PAGE) });
    if (filterField && filterValue !== "") q.set(filterField, filterValue);
    if (sort) q.set("sort", sort);
    let page;
    try {
      page = await api(`${base}?${q}`);
    } catch (err) {
      replace(rowsBox, h("p", { class: "form-error", role: "alert" }, err.message));
      return;
    }
    const cols = entity.attributes;
    replace(rowsBox,
      table([...cols.map((a) => a.name), h("span", { class: "sr-only" }, "Actions")], page.items.map((row) => h("tr", {},
        cols.map((a) => h("td", {}, show(row[a.name]))),
        h("td", { class: "row-actions" },
          h("button", { type: "button", onclick: () => rowDialog(entity, base, row, update), "aria-label": `Edit ${entity.name} ${row[entity.key]}` }, "Edit"),
          h("button", { type: "button", class: "danger", onclick: () => deleteRow(entity, base, row, update), "aria-label": `Delete ${entity.name} ${row[entity.key]}` }, "Delete")))),
      `${page.total} ${entity.name} row${page.total === 1 ? "" : "s"}`),
      h("nav", { class: "pager", "aria-label": "Pages" },
        skip > 0 ? h("a", { class: "button", href: here({ skip: String(Math.max(0, skip - PAGE)) }) }, "← Previous") : null,
        h("span", { class: "muted" }, page.total ? `${skip + 1}–${Math.min(skip + PAGE, page.total)} of ${page.total}` : "no rows"),
        skip + PAGE < page.total ? h("a", { class: "button", href: here({ skip: String(skip + PAGE) }) }, "Next →") : null));
  }
  await update();
  return { update: () => update() };
}

function inputFor(a, value) {
  const common = { name: a.name, required: a.required };
  const v = value === undefined || value === null ? "" : value;
  switch (a.input) {
    case "textarea": return h("textarea", { ...common, rows: 3, value: String(v) });
    case "integer": return h("input", { ...common, type: "number", step: 1, value: String(v) });
    case "number": return h("input", { ...common, type: "number", step: "any", value: String(v) });
    case "decimal": return h("input", { ...common, inputmode: "decimal", value: String(v) });
    case "boolean": return h("select", common, h("option", { value: "" }, "(not set)"),
      h("option", { value: "true", selected: v === true }, "true"), h("option", { value: "false", selected: v === false }, "false"));
    case "enum": return h("select", common, h("option", { value: "" }, "(not set)"), (a.enum || []).map((e) => h("option", { value: e, selected: e === v }, e)));
    case "date": return h("input", { ...common, type: "date", value: String(v) });
    case "time": return h("input", { ...common, type: "time", step: 1, value: String(v) });
    case "datetime": return h("input", { ...common, type: "datetime-local", step: 1, value: String(v).replace(/Z$/, "").slice(0, 19) });
    case "json": return h("textarea", { ...common, rows: 3, spellcheck: false, value: v === "" ? "" : JSON.stringify(v, null, 1) });
    case "reference": return h("input", { ...common, value: String(v), placeholder: `key of a ${a.reference}` });
    default: return h("input", { ...common, maxlength: a.maxLength || undefined, value: String(v) });
  }
}

// The JSON value of an input, or undefined for "not given"; a bad JSON text is an error beside it.
function valueOf(a, el) {
  const raw = el.value;
  if (raw === "") return undefined;
  switch (a.input) {
    case "integer": return Number.isSafeInteger(Number(raw)) ? Number(raw) : raw;
    case "number": return Number(raw);
    case "boolean": return raw === "true";
    case "reference": return /^-?\d+$/.test(raw) ? Number(raw) : raw;
    case "json": return JSON.parse(raw);
    default: return raw;
  }
}

function rowDialog(entity, base, row, done) {
  const editing = row !== null;
  openDialog(editing ? `Edit ${entity.name} ${row[entity.key]}` : `New ${entity.name}`, (close) => {
    const editable = entity.attributes.filter((a) => !a.readOnly && !(editing && a.key));
    const inputs = editable.map((a) => [a, inputFor(a, editing ? row[a.name] : undefined)]);
    const form = h("form", { class: "stack", novalidate: true },
      inputs.map(([a, el]) => field(`${a.name}${a.required ? " *" : ""}`, el, [a.type, a.reference ? `→ ${a.reference}` : "", a.description].filter(Boolean).join(" · "))),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Cancel"), h("button", { type: "submit", class: "primary" }, editing ? "Save" : "Create")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const body = {};
      for (const [a, el] of inputs) {
        let value;
        try { value = valueOf(a, el); } catch (err) { showErrors(form, { detail: [{ loc: ["body", a.name], msg: `not JSON: ${err.message}` }] }); return; }
        if (editing) {
          const before = row[a.name] === undefined ? null : row[a.name];
          const after = value === undefined ? null : value;
          if (JSON.stringify(before) !== JSON.stringify(after) && String(before) !== String(after)) body[a.name] = after;
        } else if (value !== undefined) body[a.name] = value;
      }
      if (editing && !Object.keys(body).length) { close(); return; }
      try {
        await api(editing ? `${base}/${enc(row[entity.key])}` : base, { method: editing ? "PATCH" : "POST", body });
        close();
        toast(editing ? `${entity.name} saved` : `${entity.name} created`, "ok");
        await done();
      } catch (err) {
        showErrors(form, err);
        if (!form.querySelector(".invalid") && !form.querySelector(".form-error:not([hidden])")) formError(form, err.message);
      }
    });
    return form;
  });
}

function deleteRow(entity, base, row, done) {
  confirmDialog(`Delete ${entity.name}`, `Delete ${entity.name} ${row[entity.key]}?`, async () => {
    await api(`${base}/${enc(row[entity.key])}`, { method: "DELETE" });
    toast(`${entity.name} ${row[entity.key]} deleted`, "ok");
    await done();
  });
}
