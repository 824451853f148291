import { signIn } from "../api.js";
import { field, h, input, onSubmit, setView } from "../ui.js";

export function render({ onSignedIn }) {
  const form = h("form", { class: "panel", novalidate: true },
    field("Admin key", input("admin_key", "", { type: "password", autocomplete: "off", required: true, spellcheck: "false" }),
      "An admin key (ak_…) of the workspace: `rapport keys create --kind admin`."),
    field("Workspace (optional)", input("workspace", "", { autocomplete: "off" }),
      "Leave empty to use the key's workspace."),
    h("button", { type: "submit" }, "Sign in"));
  onSubmit(form, async (data) => {
    const key = String(data.get("admin_key") || "").trim();
    if (!key) throw { status: 422, message: "Enter an admin key", detail: [{ loc: ["body", "admin_key"], msg: "Enter an admin key" }] };
    await signIn(key, String(data.get("workspace") || "").trim());
    onSignedIn();
  });
  setView(h("div", { class: "signin" }, h("h1", { tabindex: "-1" }, "Sign in to the rapport console"), form));
  document.title = "Sign in · rapport console";
  form.querySelector("input").focus();
}
