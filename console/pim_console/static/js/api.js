// JSON over fetch; an error answer becomes an ApiError with the server's detail.

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : describe(detail));
    this.status = status;
    this.detail = detail;
  }
}

export function describe(detail) {
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
  if (detail && typeof detail === "object") return JSON.stringify(detail);
  return String(detail);
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin", signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data && data.detail !== undefined ? data.detail : data || resp.statusText);
    if (resp.status === 401) window.dispatchEvent(new CustomEvent("pim:unauthorized", { detail: err.message }));
    throw err;
  }
  return data;
}

export const enc = encodeURIComponent;
