import { api } from "../api.js";
import { clear, fmt, h, heading, field, input, onSubmit, pagedTable, select, setView, showError } from "../ui.js";

const KINDS = [["ingest", "ingest (server-side ingestion, Segment write key)"], ["public", "public (client ingestion, safe in apps)"],
  ["surfaces", "surfaces (Content API)"], ["personalize", "personalize (Experiences API secret)"], ["admin", "admin (Management API, console)"]];

function secretBox(title, created) {
  const code = h("p", { class: "secret", id: "new-secret" }, created.key);
  const copy = h("button", { type: "button", class: "secondary" }, "Copy");
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(created.key); copy.textContent = "Copied"; } catch { copy.textContent = "Select and copy it by hand"; }
  });
  return h("div", { class: "alert success", tabindex: "-1" }, h("strong", {}, title),
    h("p", {}, `This is the only time the secret of "${created.name}" (${created.kind}) is shown. Store it now.`), code, copy);
}

export async function render() {
  const shown = h("div", { "aria-live": "polite" });
  const listBox = h("div");
  const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": "k-new" }, h("h2", { id: "k-new" }, "Create a key"),
    h("div", { class: "row" }, field("Kind", select("kind", KINDS, "ingest")), field("Name", input("name", "", { placeholder: "backend" }))),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create key")));
  const reveal = (title, created) => {
    clear(shown).append(secretBox(title, created));
    shown.firstChild.focus();
  };
  const drawList = () => {
    clear(listBox).append(pagedTable(["Name", "Kind", "Key prefix", "Status", "Created", "Last used", "Actions"],
      (token) => api("GET", "/api/api-keys", { query: { limit: 25, with_total: true, next_token: token } }),
      (k) => {
        const actions = [];
        if (k.status === "active") {
          const rotate = h("button", { type: "button", class: "secondary" }, "Rotate");
          rotate.addEventListener("click", async () => {
            if (!window.confirm(`Rotate "${k.name}"? Its current secret stops working at once.`)) return;
            try { reveal("Key rotated", await api("POST", `/api/api-keys/${k.id}/rotate`)); drawList(); } catch (err) { showError(err); }
          });
          const revoke = h("button", { type: "button", class: "danger" }, "Revoke");
          revoke.addEventListener("click", async () => {
            if (!window.confirm(`Revoke "${k.name}" for good?`)) return;
            try { await api("DELETE", `/api/api-keys/${k.id}`); drawList(); } catch (err) { showError(err); }
          });
          actions.push(rotate, " ", revoke);
        }
        return h("tr", {}, h("td", {}, k.name), h("td", {}, k.kind), h("td", {}, h("code", {}, k.prefix)),
          h("td", {}, h("span", { class: `badge ${k.status === "active" ? "" : "bad"}` }, k.status)), h("td", {}, fmt.time(k.created_at)),
          h("td", {}, fmt.time(k.last_used_at)), h("td", {}, actions));
      }, { caption: "API keys" }));
  };
  onSubmit(form, async (data) => {
    const created = await api("POST", "/api/api-keys", { body: { kind: data.get("kind"), name: String(data.get("name") || "").trim() || "unnamed" } });
    form.reset();
    reveal("Key created", created);
    drawList();
  });
  setView(heading("API keys"), shown, form, h("section", { "aria-labelledby": "k-list" }, h("h2", { id: "k-list" }, "Keys"), listBox));
  drawList();
}
