import { api } from "../api.js";
import { labelsText, localInput, number, parseJson, parseLabels } from "../forms.js";
import { reportSection } from "../report.js";
import { fmt, h, heading, field, input, localError, onSubmit, pagedTable, select, setView, success, textarea } from "../ui.js";

const STATUSES = ["draft", "active", "paused", "archived"];
const SAMPLE = { Title: { value: "Hello", data_type: "string" } };

export async function render(params) {
  if (params[0] === "new") return edit(null);
  if (params[0]) return edit(params[0]);
  setView(heading("Experiences"),
    h("p", {}, "Keyed server-side content for the Experiences API. ", h("a", { href: "#/experiences/new", class: "button" }, "New experience")),
    pagedTable(["Key", "Name", "Status", "Allocation", "Variations", "Updated"],
      (token) => api("GET", "/api/experiences", { query: { limit: 25, with_total: true, next_token: token } }),
      (e) => h("tr", {}, h("td", {}, h("a", { href: `#/experiences/${encodeURIComponent(e.key)}` }, e.key)), h("td", {}, e.name),
        h("td", {}, h("span", { class: `badge ${e.status === "active" ? "" : "off"}` }, e.status)), h("td", {}, e.allocation),
        h("td", {}, e.variations ? e.variations.length : "—"), h("td", {}, fmt.time(e.updated_at))),
      { caption: "Experiences", empty: "No experiences yet." }));
}

async function edit(key) {
  const experience = key ? await api("GET", `/api/experiences/${encodeURIComponent(key)}`) : null;
  const audiences = await api("GET", "/api/audiences", { query: { limit: 200 } });
  const e = experience || { key: "", name: "", status: "draft", allocation: "fixed", holdout_percent: 0, sticky_seconds: 86400, audience_id: null, starts_at: null, ends_at: null,
    variations: [{ name: "control", payload: SAMPLE, weight: 1, labels: {} }, { name: "variant", payload: SAMPLE, weight: 1, labels: {} }] };
  const variations = h("div");
  let count = 0;
  const addVariation = (v) => {
    const i = count++;
    const p = `variations.${i}.`;
    variations.append(h("fieldset", {}, h("legend", {}, i === 0 ? "Variation 1 (control)" : `Variation ${i + 1}`),
      h("div", { class: "row" },
        field("Name", input(`${p}name`, v.name, { required: true })),
        field("Weight", input(`${p}weight`, v.weight, { type: "number", step: "any" }), "For fixed allocation."),
        field("Labels", input(`${p}labels`, labelsText(v.labels)), "For optimize allocation: dimension=label pairs.")),
      field("Payload (typed JSON)", textarea(`${p}payload`, JSON.stringify(v.payload, null, 2), { rows: 4 }), 'e.g. {"Title": {"value": "Hi", "data_type": "string"}}')));
  };
  e.variations.forEach(addVariation);
  const add = h("button", { type: "button", class: "secondary" }, "Add a variation");
  add.addEventListener("click", () => addVariation({ name: "", payload: SAMPLE, weight: 1, labels: {} }));
  const form = h("form", { class: "panel", novalidate: true },
    h("div", { class: "row" },
      field("Key", input("key", e.key, { required: true, readonly: Boolean(experience) }), experience ? "Keys cannot change." : "Letters, digits, _ . : -"),
      field("Name", input("name", e.name, { required: true })),
      field("Status", select("status", STATUSES, e.status))),
    h("div", { class: "row" },
      field("Allocation", select("allocation", [["fixed", "fixed (weighted split)"], ["optimize", "optimize (agents)"]], e.allocation)),
      field("Holdout %", input("holdout_percent", e.holdout_percent, { type: "number", step: "any" })),
      field("Sticky for (seconds)", input("sticky_seconds", e.sticky_seconds, { type: "number" })),
      field("Audience", select("audience_id", [["", "everyone"], ...audiences.data.map((a) => [a.id, a.name])], e.audience_id || ""))),
    h("div", { class: "row" },
      field("Starts at", input("starts_at", localInput(e.starts_at), { type: "datetime-local" })),
      field("Ends at", input("ends_at", localInput(e.ends_at), { type: "datetime-local" }))),
    h("h2", {}, "Variations"), variations,
    h("div", { class: "actions" }, add, h("button", { type: "submit" }, experience ? "Save experience" : "Create experience")));
  onSubmit(form, async (data) => {
    const when = (name) => { const raw = String(data.get(name) || ""); return raw ? new Date(raw).toISOString() : null; };
    const body = {
      name: String(data.get("name") || "").trim(), status: data.get("status"), allocation: data.get("allocation"),
      holdout_percent: number(data, "holdout_percent"), sticky_seconds: number(data, "sticky_seconds"),
      audience_id: data.get("audience_id") || null, starts_at: when("starts_at"), ends_at: when("ends_at"), variations: [],
    };
    for (let i = 0; i < count; i++) {
      const p = `variations.${i}.`;
      body.variations.push({ name: String(data.get(`${p}name`) || "").trim(), weight: number(data, `${p}weight`) ?? 1,
        labels: parseLabels(data.get(`${p}labels`), `${p}labels`), payload: parseJson(data.get(`${p}payload`), `${p}payload`) });
    }
    if (experience) {
      await api("PATCH", `/api/experiences/${encodeURIComponent(experience.key)}`, { body });
      success(`Saved "${body.name}".`);
    } else {
      body.key = String(data.get("key") || "").trim();
      if (!body.key) throw localError("key", "Give the experience a key");
      const created = await api("POST", "/api/experiences", { body });
      location.hash = `#/experiences/${encodeURIComponent(created.key)}`;
    }
  });
  const parts = [h("p", {}, h("a", { href: "#/experiences" }, "← Experiences")), heading(experience ? experience.name : "New experience")];
  if (experience) {
    const report = reportSection(`/api/experiences/${encodeURIComponent(key)}/report`, `/api/experiences/${encodeURIComponent(key)}/report/trend`, api);
    parts.push(report);
  }
  setView(...parts, form);

}
