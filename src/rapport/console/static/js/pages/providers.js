// Push providers: list, add one of each kind, edit settings, replace credentials (which
// are write-only: only their summary is ever shown), delete, and send a test message.

import { api } from "../api.js";
import { clear, field, fmt, h, heading, input, localError, onSubmit, pagedTable, select, setView, showError, success, textarea } from "../ui.js";

const KINDS = [
  ["fcm", "FCM (Firebase Cloud Messaging, HTTP v1)"],
  ["apns", "APNs (Apple, token authentication)"],
  ["webhook", "Webhook (signed HTTP POST)"],
  ["log", "Log (dry runs: nothing leaves the server)"],
];
const KIND_NAMES = Object.fromEntries(KINDS.map(([k, text]) => [k, text.split(" (")[0]]));
const RECIPIENTS = [["token", "Device token"], ["device_id", "Device id"], ["external_id", "External id (the user's latest device)"]];

export async function render(params) {
  if (params[0] === "new") return create();
  if (params[0]) return detail(params[0]);
  setView(heading("Push providers"),
    h("p", {}, "Campaigns send through the workspace's own provider. Credentials are encrypted at rest and never shown again. ",
      h("a", { href: "#/providers/new", class: "button" }, "Add a provider")),
    pagedTable(["Name", "Kind", "Credentials", "Updated"],
      (token) => api("GET", "/api/providers", { query: { limit: 25, with_total: true, next_token: token } }),
      (p) => h("tr", {}, h("td", {}, h("a", { href: `#/providers/${p.id}` }, p.name)), h("td", {}, KIND_NAMES[p.kind] || p.kind),
        h("td", {}, summaryText(p)), h("td", {}, fmt.time(p.updated_at))),
      { caption: "Push providers", empty: "No providers yet: add one to send campaigns (or use a log provider for dry runs)." }));
}

function summaryText(p) {
  const c = p.credentials || {};
  if (p.kind === "log") return "none needed";
  if (!c.set) return "not set";
  if (c.client_email) return `set · ${c.client_email}`;
  if (c.key_fingerprint) return `set · key ${c.key_fingerprint}`;
  if (c.headers) return c.headers.length ? `set · headers ${c.headers.join(", ")}` : "set";
  return "set";
}

// --- per-kind fields ------------------------------------------------------------------

/** A textarea for a key file, with a file picker that loads the file's text into it. */
function keyFile(name, label, hint, accept, uploadLabel) {
  const area = textarea(name, "", { rows: 6, spellcheck: "false", autocomplete: "off" });
  const picker = h("input", { type: "file", accept, "aria-label": uploadLabel });
  picker.addEventListener("change", async () => {
    const file = picker.files && picker.files[0];
    if (file) area.value = await file.text();
  });
  return h("div", {}, field(label, area, hint), h("div", { class: "field" }, h("span", { class: "hint" }, "…or upload the file:"), picker));
}

function settingsFields(kind, s = {}) {
  if (kind === "fcm") {
    return h("div", { class: "row" },
      field("Project id", input("settings.project_id", s.project_id || "", { autocomplete: "off" }), "Empty: the service account's project."),
      field("Endpoint", input("settings.endpoint", s.endpoint || "", { type: "url", placeholder: "https://fcm.googleapis.com" }), "Only for a self-hosted gateway."));
  }
  if (kind === "apns") {
    return [
      h("div", { class: "row" },
        field("Team id", input("settings.team_id", s.team_id || "", { autocomplete: "off", placeholder: "ABCDE12345" }), "10 characters, from your Apple developer account."),
        field("Key id", input("settings.key_id", s.key_id || "", { autocomplete: "off", placeholder: "KEY1234567" }), "The .p8 key's 10-character id."),
        field("Bundle id", input("settings.bundle_id", s.bundle_id || "", { autocomplete: "off", placeholder: "com.example.app" }))),
      h("div", { class: "row" },
        field("Environment", select("settings.environment", [["production", "production"], ["sandbox", "sandbox (development builds)"]], s.environment || "production")),
        field("Priority", select("settings.priority", [["10", "10 (immediate)"], ["5", "5 (power-saving)"]], String(s.priority ?? 10))),
        field("Endpoint", input("settings.endpoint", s.endpoint || "", { type: "url", placeholder: "https://api.push.apple.com" }), "Only for a self-hosted gateway.")),
    ];
  }
  if (kind === "webhook") {
    return field("URL", input("settings.url", s.url || "", { type: "url", placeholder: "https://push.example.com/rapport" }), "Each message is a signed JSON POST to this address.");
  }
  return field("Log level", select("settings.level", [["info", "info (a JSON log line per send)"], ["debug", "debug (silent unless RAPPORT_LOG_LEVEL=DEBUG)"]], s.level || "info"));
}

function credentialFields(kind) {
  if (kind === "fcm") {
    return keyFile("credentials.service_account", "Service-account JSON", "The key file from the Firebase console (Project settings → Service accounts).", ".json,application/json", "Upload the key file");
  }
  if (kind === "apns") {
    return keyFile("credentials.private_key", "Private key (.p8)", "The text of the .p8 file, from -----BEGIN PRIVATE KEY----- to the end.", ".p8,.pem,text/plain", "Upload the .p8 file");
  }
  if (kind === "webhook") {
    return [
      field("Signing secret", input("credentials.signing_secret", "", { type: "password", autocomplete: "new-password", spellcheck: "false" }), "At least 16 characters; calls carry Rapport-Signature: t=…,v1=HMAC-SHA256."),
      field("Extra headers", textarea("credentials.headers", "", { rows: 2, placeholder: "Authorization: Bearer …" }), "One per line, Name: value (e.g. your gateway's Authorization). Kept encrypted."),
    ];
  }
  return h("p", { class: "muted" }, "A log provider needs no credentials.");
}

function optional(data, name) {
  const raw = String(data.get(name) ?? "").trim();
  return raw === "" ? null : raw;
}

function settingsBody(kind, data) {
  if (kind === "fcm") return { project_id: optional(data, "settings.project_id"), endpoint: optional(data, "settings.endpoint") };
  if (kind === "apns") {
    return {
      team_id: String(data.get("settings.team_id") || "").trim(), key_id: String(data.get("settings.key_id") || "").trim(),
      bundle_id: String(data.get("settings.bundle_id") || "").trim(), environment: data.get("settings.environment"),
      priority: Number(data.get("settings.priority")), endpoint: optional(data, "settings.endpoint"),
    };
  }
  if (kind === "webhook") return { url: String(data.get("settings.url") || "").trim() };
  return { level: data.get("settings.level") };
}

function parseHeaders(text) {
  const headers = {};
  for (const line of String(text || "").split("\n").map((l) => l.trim()).filter(Boolean)) {
    const cut = line.indexOf(":");
    if (cut < 1) throw localError("credentials.headers", `Write each header as Name: value ("${line}" is not)`);
    headers[line.slice(0, cut).trim()] = line.slice(cut + 1).trim();
  }
  return headers;
}

function credentialsBody(kind, data) {
  if (kind === "fcm") return { service_account: String(data.get("credentials.service_account") || "").trim() };
  if (kind === "apns") return { private_key: String(data.get("credentials.private_key") || "").trim() };
  if (kind === "webhook") return { signing_secret: String(data.get("credentials.signing_secret") || ""), headers: parseHeaders(data.get("credentials.headers")) };
  return {};
}

// --- pages ----------------------------------------------------------------------------

function create() {
  const kindSelect = select("kind", KINDS, "fcm");
  const perKind = h("div");
  const draw = () => {
    const kind = kindSelect.value;
    clear(perKind).append(h("fieldset", {}, h("legend", {}, "Settings"), settingsFields(kind)));
    if (kind !== "log") {
      perKind.append(h("fieldset", {}, h("legend", {}, "Credentials"),
        h("p", { class: "hint" }, "Checked when saved, encrypted at rest, never shown again."), credentialFields(kind)));
    }
  };
  kindSelect.addEventListener("change", draw);
  draw();
  const form = h("form", { class: "panel", novalidate: true },
    h("div", { class: "row" }, field("Kind", kindSelect), field("Name", input("name", "", { required: true, placeholder: "Android app" }))),
    perKind, h("div", { class: "actions" }, h("button", { type: "submit" }, "Add provider")));
  onSubmit(form, async (data) => {
    const kind = kindSelect.value;
    const body = { kind, name: String(data.get("name") || "").trim(), settings: settingsBody(kind, data), credentials: credentialsBody(kind, data) };
    if (!body.name) throw localError("name", "Give the provider a name");
    const created = await api("POST", "/api/providers", { body });
    location.hash = `#/providers/${created.id}`;
    setTimeout(() => success(`Provider "${created.name}" added.`), 300);
  });
  setView(h("p", {}, h("a", { href: "#/providers" }, "← Push providers")), heading("Add a provider"), form);
}

function summaryList(p) {
  const c = p.credentials || {};
  const rows = [["Kind", KIND_NAMES[p.kind] || p.kind], ["Id", h("code", {}, p.id)], ["Credentials", p.kind === "log" ? "none needed" : c.set ? "set (write-only)" : "not set"]];
  if (c.client_email) rows.push(["Service account", c.client_email]);
  if (c.private_key_id) rows.push(["Key id", h("code", {}, c.private_key_id)]);
  if (c.token_uri) rows.push(["Token URI", c.token_uri]);
  if (c.key_fingerprint) rows.push(["Key fingerprint", h("code", {}, c.key_fingerprint)]);
  if (c.headers) rows.push(["Extra headers", c.headers.length ? c.headers.join(", ") : "none"]);
  rows.push(["Updated", fmt.time(p.updated_at)]);
  return h("dl", { class: "props", id: "provider-summary" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function resultBox(r) {
  const rows = [["Outcome", h("span", { class: `badge ${r.ok ? "" : "bad"}` }, r.outcome)], ["Code", r.code || "—"]];
  if (r.detail) rows.push(["Detail", r.detail]);
  if (r.retry_after !== null && r.retry_after !== undefined) rows.push(["Retry after", `${r.retry_after} s`]);
  rows.push(["Token retired", r.token_retired ? "yes: the provider said the token is dead, so rapport stopped using it" : "no"],
    ["Provider message id", r.provider_message_id ? h("code", {}, r.provider_message_id) : "—"],
    ["Device", r.device_id || "—"], ["Send id", h("code", {}, r.send_id)]);
  return h("div", { class: `result ${r.ok ? "ok" : "bad"}`, id: "test-result" },
    h("h3", {}, r.ok ? "The provider accepted the message" : "The provider did not accept the message"),
    h("dl", { class: "props" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}

async function detail(id) {
  const provider = await api("GET", `/api/providers/${encodeURIComponent(id)}`);
  const summary = h("div", { "aria-live": "polite" }, summaryList(provider));
  const title = heading(provider.name);

  const settings = h("form", { class: "panel", novalidate: true, "aria-labelledby": "p-settings" }, h("h2", { id: "p-settings" }, "Name and settings"),
    field("Name", input("name", provider.name, { required: true })), settingsFields(provider.kind, provider.settings),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save settings")));
  onSubmit(settings, async (data) => {
    const updated = await api("PATCH", `/api/providers/${id}`, { body: { name: String(data.get("name") || "").trim(), settings: settingsBody(provider.kind, data) } });
    title.textContent = updated.name;
    clear(summary).append(summaryList(updated));
    success(`Saved "${updated.name}".`);
  });

  let replace = null;
  if (provider.kind !== "log") {
    replace = h("form", { class: "panel", novalidate: true, "aria-labelledby": "p-creds" }, h("h2", { id: "p-creds" }, "Replace credentials"),
      h("p", { class: "muted" }, "The saved credentials are never shown. New ones replace them whole, once they check out."),
      credentialFields(provider.kind), h("div", { class: "actions" }, h("button", { type: "submit" }, "Replace credentials")));
    onSubmit(replace, async (data) => {
      const updated = await api("PATCH", `/api/providers/${id}`, { body: { credentials: credentialsBody(provider.kind, data) } });
      replace.reset();
      clear(summary).append(summaryList(updated));
      success("Credentials replaced.");
    });
  }

  const recipientKind = select("recipient", RECIPIENTS, "token");
  const recipient = input("token", "", { autocomplete: "off", spellcheck: "false", required: true });
  recipientKind.addEventListener("change", () => { recipient.name = recipientKind.value; });
  const result = h("div", { "aria-live": "polite" });
  const test = h("form", { class: "panel", novalidate: true, "aria-labelledby": "p-test" }, h("h2", { id: "p-test" }, "Send a test"),
    h("p", { class: "muted" }, "One message to one device, through this provider; an invalid token is retired, as in campaigns."),
    h("div", { class: "row" }, field("Send to", recipientKind), field("Recipient", recipient)),
    h("div", { class: "row" }, field("Title", input("title", "Test message")), field("Body", input("body", "Sent from rapport")),
      field("Deep link", input("deep_link", "", { placeholder: "myapp://home" }))),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Send test")), result);
  onSubmit(test, async (data) => {
    const to = String(data.get(recipientKind.value) || "").trim();
    if (!to) throw localError(recipientKind.value, "Say where the test goes");
    clear(result).append(h("p", { class: "muted" }, "Sending…"));
    let answer;
    try {
      answer = await api("POST", `/api/providers/${id}/test`, { body: {
        [recipientKind.value]: to, title: String(data.get("title") || ""), body: String(data.get("body") || ""), deep_link: optional(data, "deep_link"),
      } });
    } catch (err) {
      clear(result);
      throw err;
    }
    clear(result).append(resultBox(answer));
  });

  const remove = h("button", { type: "button", class: "danger" }, "Delete provider");
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete provider "${provider.name}"? Campaigns using it cannot send until given another.`)) return;
    try { await api("DELETE", `/api/providers/${id}`); location.hash = "#/providers"; } catch (err) { showError(err); }
  });
  setView(h("p", {}, h("a", { href: "#/providers" }, "← Push providers")), title,
    h("section", { class: "panel", "aria-label": "Summary" }, summary), test, settings, replace, h("div", { class: "actions" }, remove));
}
