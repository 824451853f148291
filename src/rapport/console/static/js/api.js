// The console's only way to the server: the Management API (with the session cookie,
// which the server accepts in place of a bearer token) and the console's session routes.

export const session = { workspace: null, csrf: null, apiVersion: null, expiresAt: null };

export class ApiError extends Error {
  constructor(status, body) {
    const error = body && body.error;
    const detail = body && Array.isArray(body.detail) ? body.detail : null;
    const message = error ? error.message
      : detail ? detail.map((d) => d.msg).join("; ")
      : `The server answered ${status}`;
    super(message);
    this.status = status;
    this.code = error ? error.code : detail ? "validation_error" : `http_${status}`;
    this.detail = detail || [];
    this.extra = error || {};
  }
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

async function send(method, url, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (UNSAFE.has(method) && session.csrf) init.headers["X-CSRF-Token"] = session.csrf;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { error: { code: "network", message: "The server cannot be reached. Check that rapport is running." } });
  }
  if (response.status === 204 || response.status === 304) return null;
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && url.startsWith("/api/")) {
      window.dispatchEvent(new CustomEvent("rapport:session-ended", { detail: error }));
    }
    throw error;
  }
  return data;
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** A Management API call: `api("GET", "/api/surfaces", {query})`. */
export function api(method, path, { query, body } = {}) {
  return send(method, withQuery(path, query), body, {
    "Rapport-Workspace": session.workspace || "",
    "Api-Version": session.apiVersion || "",
  });
}

function remember(info) {
  session.workspace = info.workspace;
  session.csrf = info.csrf_token;
  session.apiVersion = info.api_version;
  session.expiresAt = info.expires_at;
  return info;
}

export async function loadSession() {
  try {
    return remember(await send("GET", "/console/auth/session"));
  } catch (err) {
    if (err.status === 401) return null;
    throw err;
  }
}

export async function signIn(adminKey, workspace) {
  const { csrf_token: token } = await send("GET", "/console/auth/sign-in");
  const info = await send("POST", "/console/auth/sign-in",
    { admin_key: adminKey, workspace: workspace || null }, { "X-CSRF-Token": token });
  return remember(info);
}

export async function signOut() {
  await send("POST", "/console/auth/sign-out");
  session.workspace = session.csrf = session.apiVersion = session.expiresAt = null;
}

/** Every item of a paged list (following next_token), up to `max`: for pickers. */
export async function apiAll(path, { max = 1000, query = {} } = {}) {
  const items = [];
  let token = null;
  do {
    const page = await api("GET", path, { query: { ...query, limit: 200, next_token: token } });
    items.push(...page.data);
    token = page.next_token || null;
  } while (token && items.length < max);
  return items;
}
