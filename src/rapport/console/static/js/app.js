// Start-up, navigation (hash routes: #/section/param...) and the session lifecycle.

import { loadSession, session, signOut } from "./api.js";
import { SECTIONS } from "./nav.js";
import { clear, clearAlerts, h, setView, showError } from "./ui.js";

const navList = document.getElementById("nav-list");
const nav = document.getElementById("nav");
const toggle = document.getElementById("nav-toggle");
const signOutButton = document.getElementById("sign-out");
const workspaceName = document.getElementById("workspace-name");
let signedIn = false;

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return { section: parts[0] || "overview", params: parts.slice(1) };
}

function chrome(on) {
  signedIn = on;
  nav.hidden = !on;
  toggle.hidden = !on;
  signOutButton.hidden = !on;
  workspaceName.textContent = on ? `Workspace: ${session.workspace}` : "";
  clear(navList);
  if (!on) return;
  for (const section of SECTIONS) {
    navList.append(h("li", {}, h("a", { href: `#/${section.id}`, dataset: { section: section.id } }, section.title)));
  }
}

function markCurrent(id) {
  for (const a of navList.querySelectorAll("a")) {
    if (a.dataset.section === id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function route() {
  const { section, params } = parseHash();
  clearAlerts();
  if (!signedIn || section === "sign-in") {
    if (signedIn && section === "sign-in") { location.hash = "#/overview"; return; }
    const page = await import("./pages/signin.js");
    page.render({ onSignedIn: () => { chrome(true); location.hash = "#/overview"; route(); } });
    return;
  }
  const found = SECTIONS.find((s) => s.id === section);
  if (!found) {
    setView(h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, "There is no such page. Pick a section from the menu."));
    return;
  }
  markCurrent(found.id);
  document.title = `${found.title} · rapport console`;
  if (window.matchMedia("(max-width: 760px)").matches) collapse(true);
  setView(h("p", {}, "Loading…"));
  try {
    const page = await found.load();
    await page.render(params);
  } catch (err) {
    showError(err);
  }
  const title = document.querySelector("#view h1");
  if (title) title.focus({ preventScroll: false });
}

function collapse(yes) {
  nav.classList.toggle("collapsed", yes);
  toggle.setAttribute("aria-expanded", String(!yes));
}

toggle.addEventListener("click", () => collapse(!nav.classList.contains("collapsed")));

signOutButton.addEventListener("click", async () => {
  try {
    await signOut();
  } catch (err) {
    showError(err);
    return;
  }
  chrome(false);
  location.hash = "#/sign-in";
  route();
});

window.addEventListener("rapport:session-ended", () => {
  if (!signedIn) return;
  chrome(false);
  location.hash = "#/sign-in";
  route().then(() => showError({ message: "Your session ended: sign in again.", status: 401, code: "session_ended" }));
});

window.addEventListener("hashchange", route);

// Keep the session (and its access token) fresh while the console is open.
setInterval(async () => {
  if (!signedIn || document.hidden) return;
  const info = await loadSession().catch(() => null);
  if (!info) window.dispatchEvent(new CustomEvent("rapport:session-ended"));
}, 60_000);

(async () => {
  let info = null;
  try {
    info = await loadSession();
  } catch (err) {
    showError(err);
  }
  chrome(Boolean(info));
  if (window.matchMedia("(max-width: 760px)").matches) collapse(true);
  await route();
})();
