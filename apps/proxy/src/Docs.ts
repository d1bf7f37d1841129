/**
 * `/docs`: an interactive API reference, one self-contained HTML page (no
 * CDN, no build step): it reads `/openapi.json`, lists every operation with
 * its parameters and responses, and has a "try it" form per operation that
 * sends the request with the key typed in at the top and shows the answer.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"

const style = `
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;background:#f6f7fb}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:20px}header p{margin:0;color:#c6cbe0}
main{max-width:1040px;margin:0 auto;padding:20px}
.auth{display:flex;gap:8px;align-items:center;margin:0 0 18px;background:#fff;padding:12px 16px;border-radius:8px;border:1px solid #dde1ee}
.auth input{flex:1;font:13px ui-monospace,monospace;padding:6px 8px}
.op{background:#fff;border:1px solid #dde1ee;border-radius:8px;margin:0 0 14px}
.op>summary{cursor:pointer;padding:12px 16px;display:flex;flex-wrap:wrap;gap:6px 12px;align-items:center;list-style:none}
.method{font:700 12px ui-monospace,monospace;color:#fff;border-radius:4px;padding:3px 8px;min-width:52px;text-align:center}
.get{background:#2f7de1}.post{background:#1f9d55}
.path{font:14px ui-monospace,monospace;min-width:0;overflow-wrap:anywhere}.opid{margin-left:auto;color:#66708a;font:12px ui-monospace,monospace}
.body{padding:0 16px 16px;border-top:1px solid #eef0f6}
label{display:block;margin:8px 0 2px;font-size:13px;color:#444c63}label code{color:#1d2330}
.body input,.body select,.body textarea{width:100%;font:13px ui-monospace,monospace;padding:6px 8px}
textarea{min-height:110px}button{background:#1d2330;color:#fff;border:0;border-radius:6px;padding:8px 16px;margin-top:12px;cursor:pointer}
pre{background:#0f1420;color:#dfe6ff;padding:10px;border-radius:6px;overflow:auto;max-height:360px;font-size:12px;white-space:pre-wrap;word-break:break-all}
.status{font-weight:700}.ok{color:#1f9d55}.bad{color:#c53030}table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border:1px solid #e3e6f0;padding:3px 8px;text-align:left;overflow-wrap:anywhere}.muted{color:#66708a;font-size:13px}
@media (max-width:600px){header{padding:14px 16px}main{padding:10px}.op>summary{padding:10px 12px}.auth{flex-wrap:wrap}}
`

const script = `
"use strict";
const el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
};
const keyInput = document.getElementById("key");
keyInput.value = localStorage.getItem("cubeplane-proxy-key") || "";
keyInput.addEventListener("input", () => localStorage.setItem("cubeplane-proxy-key", keyInput.value));
const examples = {
  deployment_id: "123", environment_id: "456",
  body: JSON.stringify({ security_context: { tenant_id: "acme" }, expires_in: 3600 }, null, 2)
};
const shortName = (operationId) => String(operationId || "").split(".").pop();
const render = (spec) => {
  document.getElementById("title").textContent = spec.info.title + " (" + spec.info.version + ")";
  const list = document.getElementById("operations");
  list.textContent = "";
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      const op = item[method];
      if (op) list.append(operation(path, method, op));
    }
  }
  document.body.dataset.ready = "true";
};
const operation = (path, method, op) => {
  const name = shortName(op.operationId);
  const inputs = [];
  const fields = el("div");
  for (const p of op.parameters || []) {
    const id = name + "-" + p.in + "-" + p.name;
    const schema = p.schema || {};
    const values = schema.enum || (schema.$ref && schema.$ref.endsWith("/EnvironmentType") ? ["production", "staging", "development"] : null);
    const input = values
      ? el("select", { id }, el("option", { value: "" }, "(any)"), ...values.map((v) => el("option", { value: v }, v)))
      : el("input", { id, placeholder: p.in === "path" ? "required" : "optional" });
    if (p.in === "path" && examples[p.name]) input.value = examples[p.name];
    inputs.push({ p, input });
    fields.append(el("label", { for: id }, el("code", {}, p.name), " (" + p.in + (p.required ? ", required" : "") + ")" + (p.description ? " — " + p.description : "")), input);
  }
  let bodyInput = null;
  if (op.requestBody) {
    bodyInput = el("textarea", { id: name + "-body" });
    bodyInput.value = examples.body;
    fields.append(el("label", { for: name + "-body" }, "JSON body"), bodyInput);
  }
  const output = el("div", { class: "result" });
  const statuses = el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning")),
    ...Object.entries(op.responses || {}).map(([code, r]) => el("tr", {}, el("td", {}, code), el("td", {}, r.description || ""))));
  const send = async () => {
    let url = path;
    const query = new URLSearchParams();
    for (const { p, input } of inputs) {
      const value = input.value.trim();
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(value));
      else if (p.in === "query" && value !== "") query.set(p.name, value);
    }
    const qs = query.toString();
    if (qs) url += "?" + qs;
    const headers = {};
    if (keyInput.value.trim()) headers.Authorization = "Bearer " + keyInput.value.trim();
    const init = { method: method.toUpperCase(), headers };
    if (bodyInput) { headers["Content-Type"] = "application/json"; init.body = bodyInput.value; }
    output.textContent = "sending…";
    try {
      const response = await fetch(url, init);
      const text = await response.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* CSV or NDJSON: shown as is */ }
      if (shown.length > 100000) shown = shown.slice(0, 100000) + "\\n… (cut at 100 000 characters)";
      const picked = ["content-type", "x-request-id", "x-cache", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"]
        .filter((h) => response.headers.get(h) !== null).map((h) => h + ": " + response.headers.get(h)).join("\\n");
      output.textContent = "";
      output.append(
        el("p", {}, el("span", { class: "status " + (response.ok ? "ok" : "bad") }, String(response.status)), " " + method.toUpperCase() + " " + url),
        el("pre", { class: "headers" }, picked),
        el("pre", { class: "response" }, shown)
      );
    } catch (error) {
      output.textContent = "request failed: " + error;
    }
  };
  return el("details", { class: "op", "data-operation": name },
    el("summary", {}, el("span", { class: "method " + method }, method.toUpperCase()), el("span", { class: "path" }, path),
      el("span", {}, op.summary || ""), el("span", { class: "opid" }, name)),
    el("div", { class: "body" },
      el("p", {}, op.description || ""), statuses, fields,
      el("button", { type: "button", onclick: send, "data-send": name }, "Send request"), output));
};
fetch("/openapi.json").then((r) => r.json()).then(render).catch((error) => {
  document.getElementById("operations").textContent = "Could not load /openapi.json: " + error;
});
`

/** The `/docs` page. */
export const page = (): string =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cubeplane-proxy — API reference</title>
<style>${style}</style>
</head>
<body>
<header><h1 id="title">Control Plane API</h1><p>Served by cubeplane-proxy from <a href="/openapi.json" style="color:#9cc1ff">/openapi.json</a>. Every request needs a proxy key.</p></header>
<main>
<div class="auth"><label for="key" style="margin:0">Proxy key</label><input id="key" placeholder="Bearer key, e.g. one printed at startup" autocomplete="off" spellcheck="false"></div>
<div id="operations" class="muted">Loading /openapi.json…</div>
</main>
<script>${script}</script>
</body>
</html>
`

/**
 * The Content-Security-Policy of `/docs`: its one inline script by hash, its inline styles,
 * requests to this origin only (the page calls the proxy), nothing else.
 */
export const policy = (page: string): string => {
  const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) =>
    `'sha256-${createHash("sha256").update(match[1] ?? "", "utf8").digest("base64")}'`
  )
  return [
    "default-src 'none'",
    `script-src ${scripts.length === 0 ? "'none'" : scripts.join(" ")}`,
    "style-src 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join("; ")
}
