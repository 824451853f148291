import { api } from "../api.js";
import { number } from "../forms.js";
import { clear, h, heading, field, input, onSubmit, select, setView, success } from "../ui.js";

const CATEGORIES = ["conversion", "messaging", "intent", "discovery", "other"];

export async function render() {
  const [workspace, categories] = await Promise.all([api("GET", "/api/workspace"), api("GET", "/api/event-categories")]);
  const s = workspace.settings;
  const general = h("form", { class: "panel", novalidate: true, "aria-labelledby": "st-general" }, h("h2", { id: "st-general" }, "Workspace"),
    h("div", { class: "row" },
      field("Name", input("name", workspace.name)),
      field("Region", input("region", workspace.region, { readonly: true }), "Fixed: moving a workspace is a data migration."),
      field("Default timezone", input("settings.default_timezone", s.default_timezone))),
    h("div", { class: "row" },
      field("Attribution window (hours)", input("settings.attribution_window_hours", s.attribution_window_hours, { type: "number" })),
      field("Retention (days)", input("settings.retention_days", s.retention_days, { type: "number" })),
      field("Email and phone", select("settings.pii_policy", [["store", "store as sent"], ["hash", "store hashed"], ["drop", "drop"]], s.pii_policy))),
    h("div", { class: "row" },
      h("label", {}, h("input", { type: "checkbox", name: "settings.resolve_by_email", checked: s.resolve_by_email }), " Resolve profiles by email"),
      h("label", {}, h("input", { type: "checkbox", name: "settings.resolve_by_phone", checked: s.resolve_by_phone }), " Resolve profiles by phone")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save settings")));
  onSubmit(general, async (data) => {
    await api("PATCH", "/api/workspace", { body: { name: String(data.get("name") || "").trim(), settings: {
      default_timezone: String(data.get("settings.default_timezone") || "").trim(),
      attribution_window_hours: number(data, "settings.attribution_window_hours"),
      retention_days: number(data, "settings.retention_days"),
      pii_policy: data.get("settings.pii_policy"),
      resolve_by_email: data.get("settings.resolve_by_email") === "on",
      resolve_by_phone: data.get("settings.resolve_by_phone") === "on",
    } } });
    success("Workspace settings saved.");
  });

  const rows = h("tbody");
  let count = 0;
  const addRow = (rule) => {
    const i = count++;
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Remove rule ${i + 1}` }, "Remove");
    const tr = h("tr", {},
      h("td", {}, input(`rules.${i}.pattern`, rule.pattern, { "aria-label": `Rule ${i + 1} event name or glob` })),
      h("td", {}, select(`rules.${i}.category`, CATEGORIES, rule.category, { "aria-label": `Rule ${i + 1} category` })),
      h("td", {}, input(`rules.${i}.reward`, rule.reward, { type: "number", step: "any", "aria-label": `Rule ${i + 1} reward` })),
      h("td", {}, remove));
    remove.addEventListener("click", () => tr.remove());
    rows.append(tr);
  };
  categories.rules.forEach(addRow);
  const add = h("button", { type: "button", class: "secondary" }, "Add a rule");
  add.addEventListener("click", () => { addRow({ pattern: "", category: "conversion", reward: 1 }); rows.lastElementChild.querySelector("input").focus(); });
  const categoryForm = h("form", { class: "panel", novalidate: true, "aria-labelledby": "st-cat" }, h("h2", { id: "st-cat" }, "Event categories"),
    h("p", { class: "muted" }, "Event names (exact, or a glob with *) and their category; exact names win over globs, then the first glob. Conversions are what the agents learn from."),
    h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Event name or glob", "Category", "Reward", ""].map((t) => h("th", { scope: "col" }, t)))), rows)),
    h("div", { class: "actions" }, add, h("button", { type: "submit" }, "Save categories")));
  onSubmit(categoryForm, async () => {
    const body = { rules: [] };
    // Names keep their original index so a 422 location finds its field.
    const renamed = [];
    for (const tr of rows.children) {
      const [pattern, category, reward] = tr.querySelectorAll("input, select");
      const i = body.rules.length;
      renamed.push([pattern, `rules.${i}.pattern`], [category, `rules.${i}.category`], [reward, `rules.${i}.reward`]);
      body.rules.push({ pattern: pattern.value.trim(), category: category.value, reward: reward.value === "" ? 0 : Number(reward.value) });
    }
    for (const [el, name] of renamed) el.name = name;
    const saved = await api("PUT", "/api/event-categories", { body });
    clear(rows); count = 0; saved.rules.forEach(addRow);
    success(`Saved ${saved.rules.length} category rules.`);
  });
  setView(heading("Settings"), general, categoryForm);
}
