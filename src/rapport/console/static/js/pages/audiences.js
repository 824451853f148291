import { api } from "../api.js";
import { clear, fmt, h, heading, field, input, localError, onSubmit, pagedTable, select, setView, showError, success } from "../ui.js";

const OPS = ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists", "matches"];
const GROUPS = [["all", "all of"], ["any", "any of"], ["none", "none of"]];
const PATHS = ["profile.plan", "profile.country", "computed.event_count", "computed.first_seen", "computed.last_seen",
  "computed.timezone", "computed.locale", "computed.count.purchase", "computed.category.conversion", "session.utm_medium",
  "time.day_of_week", "time.hour", "geo.country", "geo.city", "device.type", "device.os", "device.browser"];

export async function render(params) {
  if (params[0] === "new") return edit(null);
  if (params[0]) return edit(params[0]);
  setView(heading("Audiences"),
    h("p", {}, "Audiences are rule trees (data, never code) that decide who is eligible. ", h("a", { href: "#/audiences/new", class: "button" }, "New audience")),
    pagedTable(["Name", "Description", "Updated"],
      (token) => api("GET", "/api/audiences", { query: { limit: 25, with_total: true, next_token: token } }),
      (a) => h("tr", {}, h("td", {}, h("a", { href: `#/audiences/${a.id}` }, a.name)), h("td", {}, a.description || "—"), h("td", {}, fmt.time(a.updated_at))),
      { caption: "Audiences", empty: "No audiences yet." }));
}

// --- the rule tree <-> editable nodes --------------------------------------------------

function fromRule(rule) {
  if (rule.all) return { kind: "group", op: "all", children: rule.all.map(fromRule) };
  if (rule.any) return { kind: "group", op: "any", children: rule.any.map(fromRule) };
  if (rule.not) {
    const inner = rule.not.any ? rule.not.any.map(fromRule) : [fromRule(rule.not)];
    return { kind: "group", op: "none", children: inner };
  }
  if (rule.event !== undefined) return { kind: "event", event: rule.event, min_count: rule.min_count ?? "", max_count: rule.max_count ?? "", within_days: rule.within_days ?? "" };
  return { kind: "attribute", attribute: rule.attribute || "", op: rule.op || "eq", value: rule.value === undefined ? "" : typeof rule.value === "string" ? rule.value : JSON.stringify(rule.value) };
}

function parseValue(op, text) {
  if (op === "exists") return text !== "false";
  if (op === "in" || op === "not_in") return String(text).split(",").map((p) => p.trim()).filter(Boolean).map(scalar);
  if (op === "matches" || op === "contains") return String(text);
  return scalar(String(text).trim());
}

function scalar(text) {
  if (text === "") return "";
  try { const v = JSON.parse(text); if (typeof v !== "object" || v === null) return v; } catch { /* text */ }
  return text;
}

function toRule(node) {
  if (node.kind === "group") {
    const children = node.children.map(toRule);
    if (node.op === "none") return { not: { any: children } };
    return { [node.op]: children };
  }
  if (node.kind === "event") {
    const rule = { event: node.event };
    for (const key of ["min_count", "max_count", "within_days"]) if (node[key] !== "" && node[key] !== null) rule[key] = Number(node[key]);
    return rule;
  }
  return { attribute: node.attribute, op: node.op, value: parseValue(node.op, node.value) };
}

function childPath(group, path, i) {
  if (group.op === "none") return `${path}.not.any.${i}`;
  return `${path}.${group.op}.${i}`;
}

function builder(root, changed) {
  const box = h("div", { class: "rule-builder" });
  const redraw = () => { clear(box).append(groupEl(root, "rule", null)); changed(); };

  function groupEl(group, path, parent) {
    const opSelect = select(`${path}.__op`, GROUPS, group.op, { "aria-label": "Combine conditions with" });
    opSelect.addEventListener("change", () => { group.op = opSelect.value; redraw(); });
    const items = group.children.map((child, i) => (child.kind === "group"
      ? groupEl(child, childPath(group, path, i), group)
      : condEl(child, childPath(group, path, i), group)));
    const addAttr = h("button", { type: "button", class: "secondary" }, "+ Attribute condition");
    addAttr.addEventListener("click", () => { group.children.push({ kind: "attribute", attribute: "", op: "eq", value: "" }); redraw(); });
    const addEvent = h("button", { type: "button", class: "secondary" }, "+ Event condition");
    addEvent.addEventListener("click", () => { group.children.push({ kind: "event", event: "", min_count: 1, max_count: "", within_days: 30 }); redraw(); });
    const addGroup = h("button", { type: "button", class: "secondary" }, "+ Group");
    addGroup.addEventListener("click", () => { group.children.push({ kind: "group", op: "any", children: [] }); redraw(); });
    const remove = parent ? h("button", { type: "button", class: "danger" }, "Remove group") : null;
    if (remove) remove.addEventListener("click", () => { parent.children.splice(parent.children.indexOf(group), 1); redraw(); });
    return h("div", { class: "rule-group", role: "group", "aria-label": "Condition group" },
      h("div", { class: "actions" }, h("span", {}, "Match "), opSelect, h("span", {}, " these conditions:")),
      items, h("div", { class: "actions" }, addAttr, addEvent, addGroup, remove));
  }

  function bind(control, node, key) {
    control.addEventListener("input", () => { node[key] = control.value; changed(); });
    control.addEventListener("change", () => { node[key] = control.value; changed(); });
    return control;
  }

  function condEl(node, path, parent) {
    const remove = h("button", { type: "button", class: "danger", "aria-label": "Remove condition" }, "Remove");
    remove.addEventListener("click", () => { parent.children.splice(parent.children.indexOf(node), 1); redraw(); });
    if (node.kind === "event") {
      return h("div", { class: "rule-cond" },
        field("Event name or glob", bind(input(`${path}.event`, node.event, { required: true }), node, "event")),
        field("At least", bind(input(`${path}.min_count`, node.min_count, { type: "number", min: 0 }), node, "min_count")),
        field("At most", bind(input(`${path}.max_count`, node.max_count, { type: "number", min: 0 }), node, "max_count")),
        field("Within days", bind(input(`${path}.within_days`, node.within_days, { type: "number", min: 0 }), node, "within_days")),
        remove);
    }
    return h("div", { class: "rule-cond" },
      field("Attribute", bind(input(`${path}.attribute`, node.attribute, { list: "rule-paths", required: true, placeholder: "profile.plan" }), node, "attribute")),
      field("Operator", bind(select(`${path}.op`, OPS, node.op), node, "op")),
      field("Value", bind(input(`${path}.value`, node.value, { placeholder: "pro · 5 · true · a, b" }), node, "value")),
      remove);
  }

  box.redraw = redraw;
  return box;
}

async function edit(id) {
  const audience = id ? await api("GET", `/api/audiences/${encodeURIComponent(id)}`) : null;
  const root = audience ? fromRule(audience.rule) : { kind: "group", op: "all", children: [{ kind: "attribute", attribute: "", op: "eq", value: "" }] };
  const tree = root.kind === "group" ? root : { kind: "group", op: "all", children: [root] };
  const preview = h("p", { class: "panel", "aria-live": "polite", id: "audience-size" }, "Size: —");
  const json = h("pre", { "aria-label": "The rule as JSON" });
  let timer = null;
  let generation = 0;
  const changed = () => {
    json.textContent = JSON.stringify(toRule(tree), null, 2);
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++generation;
      preview.textContent = "Size: counting…";
      try {
        const size = await api("POST", "/api/audiences/preview", { body: { rule: toRule(tree) } });
        if (mine === generation) preview.textContent = `Size: ${fmt.num(size.matched)} of ${fmt.num(size.profiles)} profiles match.`;
      } catch (err) {
        if (mine !== generation) return;
        preview.textContent = err.status === 422
          ? `Size: the rule is not complete yet (${err.detail.map((d) => `${d.loc.slice(2).join(".")}: ${d.msg}`).join("; ")}).`
          : `Size unavailable: ${err.message}`;
      }
    }, 400);
  };
  const rules = builder(tree, changed);
  const form = h("form", { class: "panel", novalidate: true },
    h("div", { class: "row" },
      field("Name", input("name", audience ? audience.name : "", { required: true })),
      field("Description", input("description", audience ? audience.description : ""))),
    h("h2", {}, "Rule"), rules,
    h("datalist", { id: "rule-paths" }, PATHS.map((p) => h("option", { value: p }))),
    preview,
    h("details", {}, h("summary", {}, "The rule as JSON"), json),
    h("div", { class: "actions" }, h("button", { type: "submit" }, audience ? "Save audience" : "Create audience")));
  rules.redraw();
  onSubmit(form, async (data) => {
    const body = { name: String(data.get("name") || "").trim(), description: String(data.get("description") || ""), rule: toRule(tree) };
    if (!body.name) throw localError("name", "Give the audience a name");
    if (audience) {
      await api("PATCH", `/api/audiences/${audience.id}`, { body });
      success(`Saved "${body.name}".`);
    } else {
      const created = await api("POST", "/api/audiences", { body });
      location.hash = `#/audiences/${created.id}`;
    }
  });
  const parts = [h("p", {}, h("a", { href: "#/audiences" }, "← Audiences")), heading(audience ? audience.name : "New audience"), form];
  if (audience) {
    const remove = h("button", { type: "button", class: "danger" }, "Delete audience");
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Delete audience "${audience.name}"?`)) return;
      try { await api("DELETE", `/api/audiences/${audience.id}`); location.hash = "#/audiences"; } catch (err) { showError(err); }
    });
    parts.push(h("div", { class: "actions" }, remove));
  }
  setView(...parts);
}
