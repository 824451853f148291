import { api } from "../api.js";
import { intervalChart } from "../charts.js";
import { clear, field, fmt, h, heading, input, onSubmit, pagedTable, select, setView, showError, success, table } from "../ui.js";

const KINDS = [["", "any kind"], "external_id", "anonymous_id", "email", "phone"];

export async function render(params) {
  if (params[0]) return detail(params[0]);
  const results = h("div");
  const form = h("form", { class: "panel", "aria-label": "Search profiles" },
    h("div", { class: "row" },
      field("Identity", input("identity", "", { autocomplete: "off" }), "Any identity value: user id, anonymous id, email, phone."),
      field("Identity kind", select("kind", KINDS, "")),
      field("Property", input("property", "", { autocomplete: "off" }), "A property name, e.g. plan."),
      field("Value", input("value", "", { autocomplete: "off" }), "5, true or text.")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Search"), h("button", { type: "reset", class: "secondary" }, "Clear")));
  setView(heading("Profiles"), form, h("section", { "aria-label": "Results" }, results));

  async function search(query) {
    const list = pagedTable(["Profile", "External id", "Events", "Last seen", "Properties"],
      (token) => api("GET", "/api/profiles", { query: { ...query, limit: 25, with_total: true, next_token: token } }),
      (p) => h("tr", {},
        h("td", {}, h("a", { href: `#/profiles/${encodeURIComponent(p.id)}` }, p.id.slice(0, 13) + "…")),
        h("td", {}, p.external_id || "—"), h("td", {}, fmt.num(p.event_count)), h("td", {}, fmt.time(p.last_seen)),
        h("td", {}, h("code", {}, truncate(JSON.stringify(p.properties), 80)))),
      { caption: "Profiles", empty: "No profile matches." });
    clear(results).append(list);
    await list.ready;
  }
  onSubmit(form, async (data) => {
    const query = {};
    for (const key of ["identity", "kind", "property", "value"]) query[key] = String(data.get(key) || "").trim();
    await search(query);
  });
  form.addEventListener("reset", () => setTimeout(() => search({}), 0));
  await search({});
}

function truncate(text, n) { return text.length > n ? `${text.slice(0, n - 1)}…` : text; }

function props(object) {
  const entries = Object.entries(object || {});
  if (!entries.length) return h("p", { class: "muted" }, "None.");
  return h("dl", { class: "props" }, entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]));
}

async function detail(id) {
  const [profile, agent] = await Promise.all([
    api("GET", `/api/profiles/${encodeURIComponent(id)}`),
    api("GET", `/api/profiles/${encodeURIComponent(id)}/agent`),
  ]);
  const c = profile.computed;
  const erase = h("button", { type: "button", class: "danger" }, "Erase this person");
  erase.addEventListener("click", async () => {
    if (!window.confirm("Erase this person's events, identities, devices and learning, and suppress their identities? This cannot be undone.")) return;
    try {
      await api("DELETE", `/api/profiles/${encodeURIComponent(id)}`);
      location.hash = "#/profiles";
      success("The person was erased.");
    } catch (err) { showError(err); }
  });
  const prefs = agent.dimensions.length
    ? agent.dimensions.map((d) => intervalChart({
      title: `Preference by ${d.dimension === "_variant" ? "variant" : d.dimension}: chance of converting, with 95% interval`,
      rows: d.labels.map((l) => ({ label: l.label, mean: l.mean, low: l.low, high: l.high, marker: l.population_mean })),
      markerName: "population mean",
    }))
    : [h("p", { class: "muted" }, "No labelled variants yet: the agent has nothing to prefer.")];
  setView(
    h("p", {}, h("a", { href: "#/profiles" }, "← Profiles")),
    heading(`Profile ${profile.id}`),
    h("div", { class: "grid-2" },
      h("section", { class: "panel", "aria-labelledby": "p-ids" }, h("h2", { id: "p-ids" }, "Identities"),
        table(["Kind", "Value"], profile.identities.map((i) => h("tr", {}, h("td", {}, i.kind), h("td", {}, i.value))), "Identities")),
      h("section", { class: "panel", "aria-labelledby": "p-computed" }, h("h2", { id: "p-computed" }, "Activity"),
        props({ "First seen": fmt.time(c.first_seen), "Last seen": fmt.time(c.last_seen), Events: fmt.num(c.event_count),
          Timezone: c.timezone || "—", Locale: c.locale || "—",
          "By category": Object.entries(c.counts_by_category).map(([k, v]) => `${k} ${v}`).join(", ") || "—" }))),
    h("section", { class: "panel", "aria-labelledby": "p-props" }, h("h2", { id: "p-props" }, "Properties"), props(profile.properties)),
    h("section", { class: "panel", "aria-labelledby": "p-agent" }, h("h2", { id: "p-agent" }, "Why this user gets this variant"),
      h("p", { class: "muted" }, `The agent's current preferences per dimension (policy ${agent.policy_version}): each dot is the estimated chance of converting, the whiskers its 95% interval; it starts at the population and moves with the user's own evidence.`),
      prefs,
      h("h3", {}, "Recent decisions"),
      table(["When", "Surface", "Variant", "Policy", "Converted"], agent.recent_assignments.map((a) => h("tr", {},
        h("td", {}, fmt.time(a.created_at)), h("td", {}, h("a", { href: `#/surfaces/${a.surface_id}` }, a.surface_id.slice(0, 13) + "…")),
        h("td", {}, h("code", {}, a.variant_id.slice(0, 13))), h("td", {}, a.policy), h("td", {}, a.converted ? "yes" : "no"))), "Recent decisions")),
    h("section", { class: "panel", "aria-labelledby": "p-devices" }, h("h2", { id: "p-devices" }, "Devices"),
      profile.devices.length ? table(["Device", "OS", "Model", "App", "Push token"], profile.devices.map((d) => h("tr", {},
        h("td", {}, d.device_id), h("td", {}, [d.os, d.os_version].filter(Boolean).join(" ") || "—"), h("td", {}, d.model || "—"),
        h("td", {}, [d.app_version, d.app_build].filter(Boolean).join(" / ") || "—"),
        h("td", {}, d.token ? (d.token_retired ? "retired" : "active") : "none"))), "Devices") : h("p", { class: "muted" }, "No devices.")),
    h("section", { class: "panel", "aria-labelledby": "p-events" }, h("h2", { id: "p-events" }, "Event timeline"),
      pagedTable(["Occurred", "Name", "Category", "Source", "Properties"],
        (token) => api("GET", `/api/profiles/${encodeURIComponent(id)}/events`, { query: { limit: 25, next_token: token } }),
        (e) => h("tr", {}, h("td", {}, fmt.time(e.occurred_at)), h("td", {}, e.name), h("td", {}, e.category), h("td", {}, e.source),
          h("td", {}, h("code", {}, truncate(JSON.stringify(e.properties), 80)))),
        { caption: "Events of this profile", empty: "No events." })),
    h("div", { class: "actions" }, erase));
}
