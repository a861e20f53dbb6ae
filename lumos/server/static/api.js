// Shared helpers of the lumos page: the API client (token from the start-up URL), element building with
// textContent only (user text never becomes markup), heat colours.

const params = new URLSearchParams(window.location.search);
if (params.get("token")) sessionStorage.setItem("lumos-token", params.get("token"));
const token = sessionStorage.getItem("lumos-token") || "";

export async function api(path, { method = "GET", body = null, form = null } = {}) {
  const headers = { "X-Lumos-Token": token };
  let payload = null;
  if (form) payload = form;
  else if (body !== null) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  // Relative URL: the page works behind a proxy prefix (--base-url) and through an SSH tunnel.
  const response = await fetch("api/" + path, { method, headers, body: payload });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

// An element with text (never HTML) and attributes; children appended.
export function el(tag, { text = null, cls = null, attrs = {} } = {}, ...children) {
  const node = document.createElement(tag);
  if (text !== null && text !== undefined) node.textContent = String(text);
  if (cls) node.className = cls;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const child of children) if (child) node.append(child);
  return node;
}

export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

// Positive attributions red, negative blue, opacity by |value| / scale (set through the CSSOM, which the
// Content-Security-Policy allows; inline style attributes are not used).
export function heat(value, scale) {
  const a = scale > 0 ? Math.min(1, Math.abs(value) / scale) : 0;
  return value >= 0 ? `rgba(220, 38, 38, ${(0.85 * a).toFixed(3)})` : `rgba(37, 99, 235, ${(0.85 * a).toFixed(3)})`;
}

export function fmt(x, digits = 3) {
  if (x === null || x === undefined) return "–";
  if (Math.abs(x) >= 1000 || (Math.abs(x) > 0 && Math.abs(x) < 0.001)) return Number(x).toExponential(2);
  return Number(x).toFixed(digits);
}

export function status(text, error = false) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.classList.toggle("error", error);
}

// Follow a background job until it ends: its progress streamed as Server-Sent Events (EventSource cannot send
// headers, so the token goes in the query); onProgress(job) on each event. Polling is only the fallback for a
// stream that breaks before the job ends.
export function watchJob(id, onProgress) {
  const path = `jobs/${encodeURIComponent(id)}`;
  return new Promise((resolve, reject) => {
    const source = new EventSource(`api/${path}/events?token=${encodeURIComponent(token)}`);
    source.addEventListener("job", (event) => {
      const job = JSON.parse(event.data);
      onProgress(job);
      if (job.state !== "running") { source.close(); resolve(job); }
    });
    source.onerror = () => { source.close(); pollJob(path, onProgress).then(resolve, reject); };
  });
}

async function pollJob(path, onProgress) {
  for (;;) {
    const job = await api(path);
    onProgress(job);
    if (job.state !== "running") return job;
    await new Promise((r) => setTimeout(r, 400));
  }
}
