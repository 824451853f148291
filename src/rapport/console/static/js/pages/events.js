import { api } from "../api.js";
import { clear, clearAlerts, field, fmt, h, heading, input, onSubmit, select, setView, showError } from "../ui.js";

const CATEGORIES = ["", "conversion", "messaging", "intent", "discovery", "other"];
const SOURCES = ["", "aampe", "parcelvoy", "segment", "import"];

function row(e, fresh) {
  return h("tr", { class: fresh ? "new-row" : null, dataset: { eventId: e.event_id } },
    h("td", {}, fmt.time(e.occurred_at)),
    h("td", {}, h("strong", {}, e.name)),
    h("td", {}, h("span", { class: "badge" }, e.category)),
    h("td", {}, e.source),
    h("td", {}, e.profile_id ? h("a", { href: `#/profiles/${encodeURIComponent(e.profile_id)}` }, "profile") : "—"),
    h("td", {}, h("details", {}, h("summary", {}, "properties"), h("pre", {}, fmt.json(e.properties)))));
}

export async function render() {
  const filters = { name: "", category: "", source: "", profile_id: "" };
  const form = h("form", { class: "panel", "aria-label": "Filters" },
    h("div", { class: "row" },
      field("Event name", input("name", "", { autocomplete: "off" })),
      field("Category", select("category", CATEGORIES.map((c) => [c, c || "any"]), "")),
      field("Source", select("source", SOURCES.map((c) => [c, c || "any"]), "")),
      field("Profile id", input("profile_id", "", { autocomplete: "off" }))),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply filters")));
  const body = h("tbody");
  const live = h("button", { type: "button", class: "secondary", "aria-pressed": "true" }, "Pause live updates");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load older events");
  const state = h("p", { class: "muted", "aria-live": "polite" });
  setView(heading("Live events"), form,
    h("div", { class: "actions" }, live, state),
    h("div", { class: "table-wrap" }, h("table", {}, h("caption", { class: "visually-hidden" }, "Events, newest first"),
      h("thead", {}, h("tr", {}, ["Occurred", "Name", "Category", "Source", "Profile", "Details"].map((t) => h("th", { scope: "col" }, t)))), body)),
    h("div", { class: "actions" }, more));
  const seen = new Set();
  let token = null;
  let paused = false;

  const query = (extra) => ({ ...filters, limit: 50, ...extra });

  async function reload() {
    clear(body); seen.clear();
    const page = await api("GET", "/api/events", { query: query() });
    for (const e of page.data) { seen.add(e.event_id); body.append(row(e, false)); }
    token = page.next_token || null;
    more.hidden = !token;
    state.textContent = page.data.length ? `Showing ${body.children.length} events, newest first.` : "No events match yet; new ones appear here as they arrive.";
  }

  async function poll() {
    if (paused) return;
    try {
      const page = await api("GET", "/api/events", { query: query() });
      const fresh = page.data.filter((e) => !seen.has(e.event_id));
      for (const e of fresh.reverse()) { seen.add(e.event_id); body.prepend(row(e, true)); }
      if (fresh.length) state.textContent = `${fresh.length} new event${fresh.length > 1 ? "s" : ""}; showing ${body.children.length}.`;
    } catch (err) {
      showError(err);
    }
  }

  onSubmit(form, async (data) => {
    for (const key of Object.keys(filters)) filters[key] = String(data.get(key) || "").trim();
    await reload();
  });
  live.addEventListener("click", () => {
    paused = !paused;
    live.textContent = paused ? "Resume live updates" : "Pause live updates";
    live.setAttribute("aria-pressed", String(!paused));
  });
  more.addEventListener("click", async () => {
    try {
      clearAlerts();
      const page = await api("GET", "/api/events", { query: query({ next_token: token }) });
      for (const e of page.data) { if (!seen.has(e.event_id)) { seen.add(e.event_id); body.append(row(e, false)); } }
      token = page.next_token || null;
      more.hidden = !token;
    } catch (err) { showError(err); }
  });
  await reload();
  const timer = setInterval(() => {
    if (!document.body.contains(body)) { clearInterval(timer); return; }
    if (!document.hidden) poll();
  }, 2000);
}
