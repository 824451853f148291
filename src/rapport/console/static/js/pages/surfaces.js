import { api } from "../api.js";
import { labelsText, list, number, parseJson, parseLabels } from "../forms.js";
import { reportSection } from "../report.js";
import { clear, fmt, h, heading, field, input, localError, onSubmit, pagedTable, select, setView, showError, success, textarea } from "../ui.js";

const STATUSES = ["active", "paused", "archived"];

export async function render(params) {
  if (params[0] === "new") return create();
  if (params[0]) return detail(params[0]);
  setView(heading("Surfaces"),
    h("p", {}, "A surface is a place in your app whose content the agents personalize. ", h("a", { href: "#/surfaces/new", class: "button" }, "New surface")),
    pagedTable(["Name", "Status", "Variants", "Created"],
      (token) => api("GET", "/api/surfaces", { query: { limit: 25, with_total: true, next_token: token } }),
      (s) => h("tr", {}, h("td", {}, h("a", { href: `#/surfaces/${s.id}` }, s.name)), h("td", {}, h("span", { class: `badge ${s.status === "active" ? "" : "off"}` }, s.status)),
        h("td", {}, s.n_variants), h("td", {}, fmt.time(s.created_at))),
      { caption: "Surfaces", empty: "No surfaces yet." }));
}

async function audienceOptions() {
  const page = await api("GET", "/api/audiences", { query: { limit: 200 } });
  return [["", "everyone"], ...page.data.map((a) => [a.id, a.name])];
}

function settingsFields(surface, audiences) {
  const c = surface ? surface.control : { holdout_percent: 10, min_gap_days: 0, sticky_seconds: 86400 };
  const r = surface ? surface.reward : { events: [], attribution_window_hours: null };
  return [
    h("div", { class: "row" },
      field("Name", input("name", surface ? surface.name : "", { required: true })),
      field("Status", select("status", STATUSES, surface ? surface.status : "active")),
      field("Eligible audience", select("audience_id", audiences, surface ? surface.audience_id || "" : ""))),
    field("Description", input("description", surface ? surface.description : "")),
    h("fieldset", {}, h("legend", {}, "Control settings"),
      h("div", { class: "row" },
        field("Holdout %", input("control.holdout_percent", c.holdout_percent, { type: "number", step: "any", inputmode: "decimal" }), "Users who always get the default, to measure uplift."),
        field("Minimum gap (days)", input("control.min_gap_days", c.min_gap_days, { type: "number", step: "any", inputmode: "decimal" })),
        field("Sticky for (seconds)", input("control.sticky_seconds", c.sticky_seconds, { type: "number", inputmode: "numeric" })))),
    h("fieldset", {}, h("legend", {}, "Reward"),
      h("div", { class: "row" },
        field("Conversion events", input("reward.events", (r.events || []).join(", ")), "Names or globs, comma separated; conversion-category events always count."),
        field("Attribution window (hours)", input("reward.attribution_window_hours", r.attribution_window_hours ?? "", { type: "number", inputmode: "numeric" }), "Empty: the workspace's window."))),
  ];
}

function settingsBody(data, current) {
  const window = number(data, "reward.attribution_window_hours");
  return {
    name: String(data.get("name") || "").trim(),
    description: String(data.get("description") || ""),
    status: data.get("status"),
    audience_id: data.get("audience_id") || null,
    control: {
      holdout_percent: number(data, "control.holdout_percent"),
      min_gap_days: number(data, "control.min_gap_days"),
      sticky_seconds: number(data, "control.sticky_seconds"),
    },
    reward: { categories: current ? current.reward.categories : ["conversion"], events: list(data.get("reward.events")), attribution_window_hours: window ?? null },
  };
}

function variantFields(prefix, variant, index) {
  return [
    h("div", { class: "row" },
      field("Variant name", input(`${prefix}name`, variant ? variant.name : "", { required: true })),
      field("Labels", input(`${prefix}labels`, variant ? labelsText(variant.labels) : "", { placeholder: "offering=discount, tone=urgent" }), "dimension=label pairs, comma separated.")),
    field("Payload (JSON)", textarea(`${prefix}payload`, variant ? JSON.stringify(variant.payload, null, 2) : "{}", { rows: 3 })),
    index !== undefined ? h("label", {}, h("input", { type: "radio", name: "default_variant", value: String(index), checked: index === 0 }), " Default (shown to the holdout)") : null,
  ];
}

function variantBody(data, prefix) {
  return {
    name: String(data.get(`${prefix}name`) || "").trim(),
    labels: parseLabels(data.get(`${prefix}labels`), `${prefix}labels`),
    payload: parseJson(data.get(`${prefix}payload`), `${prefix}payload`),
  };
}

async function create() {
  const audiences = await audienceOptions();
  const variants = h("div");
  let count = 0;
  const addVariant = () => {
    const i = count++;
    variants.append(h("fieldset", {}, h("legend", {}, `Variant ${i + 1}`), variantFields(`variants.${i}.`, null, i)));
  };
  addVariant(); addVariant();
  const add = h("button", { type: "button", class: "secondary" }, "Add a variant");
  add.addEventListener("click", () => { addVariant(); variants.lastElementChild.querySelector("input").focus(); });
  const form = h("form", { class: "panel", novalidate: true }, settingsFields(null, audiences),
    h("h2", {}, "Variants"), variants, h("div", { class: "actions" }, add, h("button", { type: "submit" }, "Create surface")));
  onSubmit(form, async (data) => {
    const body = settingsBody(data, null);
    const chosen = Number(data.get("default_variant") || 0);
    body.variants = [];
    for (let i = 0; i < count; i++) body.variants.push({ ...variantBody(data, `variants.${i}.`), default: i === chosen });
    if (!body.name) throw localError("name", "Give the surface a name");
    const created = await api("POST", "/api/surfaces", { body });
    location.hash = `#/surfaces/${created.id}`;
    setTimeout(() => success(`Surface "${created.name}" created.`), 300);
  });
  setView(h("p", {}, h("a", { href: "#/surfaces" }, "← Surfaces")), heading("New surface"), form);
}

async function detail(id) {
  const [surface, audiences] = await Promise.all([api("GET", `/api/surfaces/${encodeURIComponent(id)}`), audienceOptions()]);
  const settings = h("form", { class: "panel", novalidate: true, "aria-labelledby": "s-settings" }, h("h2", { id: "s-settings" }, "Settings"),
    settingsFields(surface, audiences), h("div", { class: "actions" }, h("button", { type: "submit" }, "Save settings")));
  onSubmit(settings, async (data) => {
    const updated = await api("PATCH", `/api/surfaces/${id}`, { body: settingsBody(data, surface) });
    success(`Saved "${updated.name}".`);
  });
  const variantList = h("div");
  const drawVariants = (current) => {
    clear(variantList);
    for (const v of current.variants) {
      const form = h("form", { class: "panel", novalidate: true, "aria-label": `Variant ${v.name}` },
        h("h3", {}, v.name, " ", v.is_default ? h("span", { class: "badge" }, "default") : null, " ", h("code", { class: "muted" }, v.id)),
        variantFields("", v),
        h("div", { class: "actions" }, h("button", { type: "submit" }, "Save variant"),
          v.is_default ? null : h("button", { type: "button", class: "secondary", onclick: () => act(() => api("PATCH", `/api/surfaces/${id}/variants/${v.id}`, { body: { default: true } }), `"${v.name}" is now the default.`) }, "Make default"),
          v.is_default ? null : h("button", { type: "button", class: "danger", onclick: () => window.confirm(`Delete variant "${v.name}"?`) && act(() => api("DELETE", `/api/surfaces/${id}/variants/${v.id}`), `Variant "${v.name}" deleted.`) }, "Delete")));
      onSubmit(form, async (data) => {
        await api("PATCH", `/api/surfaces/${id}/variants/${v.id}`, { body: variantBody(data, "") });
        success(`Variant "${data.get("name")}" saved.`);
      });
      variantList.append(form);
    }
  };
  async function act(call, message) {
    try {
      await call();
      drawVariants(await api("GET", `/api/surfaces/${id}`));
      success(message);
    } catch (err) { showError(err); }
  }
  drawVariants(surface);
  const addForm = h("form", { class: "panel", novalidate: true, "aria-labelledby": "s-add" }, h("h3", { id: "s-add" }, "Add a variant"), variantFields("", null),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add variant")));
  onSubmit(addForm, async (data) => {
    const created = await api("POST", `/api/surfaces/${id}/variants`, { body: variantBody(data, "") });
    addForm.reset();
    drawVariants(await api("GET", `/api/surfaces/${id}`));
    success(`Variant "${created.name}" added.`);
  });
  const remove = h("button", { type: "button", class: "danger" }, "Delete surface");
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete surface "${surface.name}" and its variants? Reports keep past decisions.`)) return;
    try { await api("DELETE", `/api/surfaces/${id}`); location.hash = "#/surfaces"; } catch (err) { showError(err); }
  });
  const report = reportSection(`/api/surfaces/${id}/report`, `/api/surfaces/${id}/report/trend`, api);
  setView(h("p", {}, h("a", { href: "#/surfaces" }, "← Surfaces")), heading(surface.name),
    h("p", { class: "muted" }, "Surface id (for the Content API): ", h("code", {}, surface.id)),
    report, settings, h("section", { "aria-labelledby": "s-variants" }, h("h2", { id: "s-variants" }, "Variants"), variantList, addForm),
    h("div", { class: "actions" }, remove));
  await report.ready;
}
