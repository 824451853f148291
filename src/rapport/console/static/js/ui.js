// Small DOM helpers: elements are built with properties and text nodes, never from
// HTML strings, so nothing the API returns can inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (key === "checked" || key === "selected" || key === "disabled" || key === "hidden" || key === "required") el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

export function setView(...children) {
  const view = clear(document.getElementById("view"));
  append(view, children);
  return view;
}

let uid = 0;
export const nextId = (prefix = "f") => `${prefix}-${++uid}`;

/** A labelled form control; `name` is the API field path (e.g. "control.holdout_percent"). */
export function field(label, control, hint) {
  const id = control.id || nextId();
  control.id = id;
  const hintEl = hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

export function input(name, value = "", attrs = {}) {
  return h("input", { name, value: value ?? "", ...attrs });
}

export function select(name, options, value, attrs = {}) {
  return h("select", { name, ...attrs },
    options.map((opt) => {
      const [v, text] = Array.isArray(opt) ? opt : [opt, opt];
      return h("option", { value: v, selected: String(v) === String(value ?? "") }, text);
    }));
}

export function textarea(name, value = "", attrs = {}) {
  const el = h("textarea", { name, ...attrs });
  el.value = value;
  return el;
}

// --- messages -------------------------------------------------------------------

const alerts = () => document.getElementById("alerts");

export function clearAlerts() {
  clear(alerts());
  document.querySelectorAll("[aria-invalid='true']").forEach((el) => el.removeAttribute("aria-invalid"));
  document.querySelectorAll(".field-error").forEach((el) => el.remove());
}

export function announce(message) {
  const status = document.getElementById("status");
  status.textContent = "";
  setTimeout(() => { status.textContent = message; }, 30);
}

export function success(message) {
  clearAlerts();
  alerts().append(h("div", { class: "alert success" }, message));
  announce(message);
}

function locName(loc) {
  const parts = [...loc];
  if (parts[0] === "body" || parts[0] === "query") parts.shift();
  return parts.join(".");
}

/** Show an API (or local) error in the alert region; 422 locations mark their fields. */
export function showError(err, form) {
  clearAlerts();
  const box = h("div", { class: "alert error" });
  const title = err.status ? `${err.message}` : String(err.message || err);
  box.append(h("strong", {}, err.status === 422 ? "Please correct the highlighted fields." : title));
  if (err.code && err.status && err.status !== 422) box.append(h("span", { class: "muted" }, ` (${err.status} ${err.code})`));
  if (err.detail && err.detail.length) {
    const list = h("ul");
    for (const d of err.detail) {
      const name = locName(d.loc || []);
      list.append(h("li", {}, name ? `${name}: ${d.msg}` : d.msg));
      const control = form && name ? findControl(form, name) : null;
      if (control) {
        control.setAttribute("aria-invalid", "true");
        const msg = h("span", { class: "field-error", id: nextId("err") }, d.msg);
        control.insertAdjacentElement("afterend", msg);
        const described = control.getAttribute("aria-describedby");
        control.setAttribute("aria-describedby", described ? `${described} ${msg.id}` : msg.id);
      }
    }
    box.append(list);
  }
  alerts().append(box);
  const first = form && form.querySelector("[aria-invalid='true']");
  if (first) first.focus();
}

function findControl(form, name) {
  // The exact field, else the closest parent path that has one (e.g. "variants.0").
  let path = name;
  while (path) {
    const found = form.querySelector(`[name="${CSS.escape(path)}"]`);
    if (found) return found;
    const cut = path.lastIndexOf(".");
    path = cut > 0 ? path.slice(0, cut) : "";
  }
  return null;
}

/** Run `action` for a form submission, showing errors; the button is busy meanwhile. */
export function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      clearAlerts();
      await action(new FormData(form));
    } catch (err) {
      showError(err, form);
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

export function localError(field, message) {
  return { status: 422, message, detail: [{ loc: ["body", ...field.split(".")], msg: message }] };
}

// --- formatting --------------------------------------------------------------------

export const fmt = {
  time(value) { return value ? new Date(value).toLocaleString() : "—"; },
  clock(value) { return value ? new Date(value).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : ""; },
  pct(value, digits = 1) { return value === null || value === undefined ? "—" : `${(value * 100).toFixed(digits)} %`; },
  num(value) { return value === null || value === undefined ? "—" : Number(value).toLocaleString(); },
  json(value) { return JSON.stringify(value, null, 2); },
  seconds(value) { return value < 1 ? `${Math.round(value * 1000)} ms` : value < 120 ? `${value.toFixed(1)} s` : `${Math.round(value / 60)} min`; },
};

export function table(headers, rows, caption) {
  return h("div", { class: "table-wrap" },
    h("table", {},
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
}

/**
 * A paged list: `load(next_token)` returns an API page; `row(item)` a <tr>. "Load more"
 * follows next_token until the last page.
 */
export function pagedTable(headers, load, row, { caption, empty = "Nothing here yet." } = {}) {
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const note = h("p", { class: "muted", hidden: true }, empty);
  const count = h("p", { class: "muted" });
  let token = null;
  let shown = 0;
  async function next() {
    more.disabled = true;
    try {
      const page = await load(token);
      for (const item of page.data) body.append(row(item));
      shown += page.data.length;
      token = page.next_token || null;
      more.hidden = !token;
      note.hidden = shown > 0;
      count.textContent = page.total !== undefined && page.total !== null ? `${fmt.num(page.total)} in all` : "";
    } catch (err) {
      showError(err);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", next);
  const el = h("div", {},
    h("div", { class: "table-wrap" }, h("table", {},
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))), body)),
    note, h("div", { class: "actions" }, more, count));
  el.ready = next();
  return el;
}

export function link(href, text) { return h("a", { href }, text); }

export function heading(text) { return h("h1", { tabindex: "-1" }, text); }

/** Repeats `fn` every `ms` while the element stays in the page. */
export function every(el, ms, fn) {
  const timer = setInterval(() => {
    if (!document.body.contains(el)) { clearInterval(timer); return; }
    if (!document.hidden) fn();
  }, ms);
}
