// Campaigns: list, create and edit (alternates, timing, caps, quiet hours...), move
// through their states, and a detail view with live progress, the report as charts,
// and every send.

import { api, apiAll } from "../api.js";
import { barChart, differenceChart, heatMap, intervalChart } from "../charts.js";
import { instant, labelsText, localInput, number, parseJson, parseLabels } from "../forms.js";
import { clear, every, field, fmt, h, heading, input, localError, onSubmit, pagedTable, select, setView, showError, success, textarea } from "../ui.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const DAYPARTS = ["morning", "midday", "afternoon", "evening", "night"];
const DAYPART_NAMES = ["Morning 8–11", "Midday 11–14", "Afternoon 14–17", "Evening 17–20", "Night 20–23"];
const EDITABLE = ["draft", "scheduled", "paused"];
const LIVE = ["scheduled", "running"];
const NOTES = {
  draft: "Draft: nothing is planned or sent until you schedule it.",
  scheduled: "Scheduled: the orchestrator starts it at its start time (or at once without one). It can still be edited or paused.",
  running: "Running: sends go out at each user's chosen moment; a broadcast completes once every planned send is settled. Pause it to edit.",
  paused: "Paused: nothing is sent until you resume it; it can be edited meanwhile.",
  completed: "Completed: sends not made were dropped; opens, clicks and conversions still count toward the report.",
};
// Which actions each state allows (as the server's transitions do).
const ACTIONS = [
  { name: "schedule", label: "Schedule", from: ["draft"], done: "Scheduled." },
  { name: "pause", label: "Pause", from: ["scheduled", "running"], done: "Paused: nothing more is sent until you resume." },
  { name: "resume", label: "Resume", from: ["paused"], done: "Resumed." },
  { name: "complete", label: "End campaign", from: ["draft", "scheduled", "running", "paused"], danger: true,
    confirm: "End this campaign? Sends not made yet are dropped; this cannot be undone.", done: "Campaign ended." },
];

function statusBadge(status, id) {
  const cls = status === "running" ? "" : status === "completed" || status === "draft" ? "off" : status === "paused" ? "bad" : "";
  return h("span", { class: `badge ${cls}`, id }, status);
}

export async function render(params) {
  if (params[0] === "new") return edit(null);
  if (params[0] && params[1] === "edit") return edit(params[0]);
  if (params[0]) return detail(params[0]);
  setView(heading("Campaigns"),
    h("p", {}, "Push messages with alternates, sent through your provider at each user's best moment. ",
      h("a", { href: "#/campaigns/new", class: "button" }, "New campaign")),
    pagedTable(["Name", "Status", "Kind", "Channel", "Starts", "Updated"],
      (token) => api("GET", "/api/campaigns", { query: { limit: 25, with_total: true, next_token: token } }),
      (c) => h("tr", {}, h("td", {}, h("a", { href: `#/campaigns/${c.id}` }, c.name), c.dry_run ? [" ", h("span", { class: "badge off" }, "dry run")] : null),
        h("td", {}, statusBadge(c.status)), h("td", {}, c.kind === "triggered" && c.trigger ? `triggered by ${c.trigger.event}` : c.kind),
        h("td", {}, c.channel), h("td", {}, c.starts_at ? fmt.time(c.starts_at) : "when scheduled"), h("td", {}, fmt.time(c.updated_at))),
      { caption: "Campaigns", empty: "No campaigns yet." }));
}

// --- the form ---------------------------------------------------------------------------

const BLANK = {
  name: "", kind: "broadcast", channel: "push", provider_id: null, audience_id: null, timing: "optimize", starts_at: null, window_days: 7,
  trigger: null, caps: { per_day: null, per_week: null }, quiet_hours: null, rate_limit_per_second: null, holdout_percent: 10,
  attribution_window_hours: 72, dry_run: false,
  alternates: [{ name: "a", title: "", body: "", deep_link: null, data: {}, labels: {} }, { name: "b", title: "", body: "", deep_link: null, data: {}, labels: {} }],
};

function alternatesEditor(initial) {
  const box = h("div");
  const renumber = () => {
    [...box.children].forEach((set, i) => {
      set.querySelector("legend").textContent = `Alternate ${i + 1}`;
      for (const control of set.querySelectorAll("[data-key]")) control.name = `alternates.${i}.${control.dataset.key}`;
      set.querySelector("button.danger").hidden = box.children.length < 2;
    });
  };
  const keyed = (control, key) => { control.dataset.key = key; return control; };
  const add = (a) => {
    const remove = h("button", { type: "button", class: "danger" }, "Remove alternate");
    const set = h("fieldset", { class: "alternate" }, h("legend", {}),
      h("div", { class: "row" },
        field("Alternate name", keyed(input("", a.name, { required: true }), "name"), "Unique; an alternate keeps what the agents learnt while its name stays."),
        field("Labels", keyed(input("", labelsText(a.labels), { placeholder: "tone=urgent, offering=discount" }), "labels"), "dimension=label pairs, comma separated.")),
      field("Title", keyed(input("", a.title, { required: true }), "title")),
      field("Body", keyed(textarea("", a.body, { rows: 2 }), "body")),
      h("div", { class: "row" },
        field("Deep link", keyed(input("", a.deep_link || "", { placeholder: "myapp://offers/42" }), "deep_link")),
        field("Data (JSON object of strings)", keyed(input("", Object.keys(a.data || {}).length ? JSON.stringify(a.data) : "", { placeholder: '{"screen": "offers"}' }), "data"))),
      h("div", { class: "actions" }, remove));
    remove.addEventListener("click", () => { set.remove(); renumber(); box.querySelector("input").focus(); });
    box.append(set);
    renumber();
  };
  initial.forEach(add);
  const more = h("button", { type: "button", class: "secondary" }, "Add an alternate");
  more.addEventListener("click", () => { add({ name: `alt-${box.children.length + 1}`, title: "", body: "", data: {}, labels: {} }); box.lastElementChild.querySelector("input").focus(); });
  return { box, more, count: () => box.children.length };
}

function alternatesBody(data, count) {
  const items = [];
  for (let i = 0; i < count; i++) {
    const p = `alternates.${i}.`;
    items.push({
      name: String(data.get(`${p}name`) || "").trim(), title: String(data.get(`${p}title`) || "").trim(), body: String(data.get(`${p}body`) || ""),
      deep_link: String(data.get(`${p}deep_link`) || "").trim() || null,
      data: parseJson(data.get(`${p}data`), `${p}data`), labels: parseLabels(data.get(`${p}labels`), `${p}labels`),
    });
  }
  return items;
}

function timeZones() {
  try { return Intl.supportedValuesOf("timeZone"); } catch { return ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Singapore"]; }
}

async function edit(id) {
  const [campaign, providers, audiences] = await Promise.all([
    id ? api("GET", `/api/campaigns/${encodeURIComponent(id)}`) : null, apiAll("/api/providers"), apiAll("/api/audiences")]);
  if (campaign && !EDITABLE.includes(campaign.status)) {
    setView(h("p", {}, h("a", { href: `#/campaigns/${campaign.id}` }, `← ${campaign.name}`)), heading(`Edit ${campaign.name}`),
      h("p", { class: "panel" }, `A ${campaign.status} campaign cannot be edited${campaign.status === "running" ? ": pause it first" : ""}.`));
    return;
  }
  const c = campaign || BLANK;
  const kind = select("kind", [["broadcast", "broadcast (everyone in the audience, over a window)"], ["triggered", "triggered (after an event)"]], c.kind, { disabled: Boolean(campaign) });
  const trigger = c.trigger || { event: "", delay_seconds: 3600, exit_event: "" };
  const triggerSet = h("fieldset", {}, h("legend", {}, "Trigger"),
    h("div", { class: "row" },
      field("Trigger event", input("trigger.event", trigger.event, { placeholder: "cart_abandoned" })),
      field("Delay (seconds)", input("trigger.delay_seconds", trigger.delay_seconds, { type: "number", min: 0, inputmode: "numeric" }), "3600 = an hour after the event."),
      field("Exit event", input("trigger.exit_event", trigger.exit_event || "", { placeholder: "checkout" }), "Not sent if this happens first.")));
  const showTrigger = () => { triggerSet.hidden = kind.value !== "triggered"; };
  kind.addEventListener("change", showTrigger);
  showTrigger();

  const quiet = c.quiet_hours || { start: "21:00", end: "08:00", default_timezone: "UTC" };
  const quietOn = h("input", { type: "checkbox", name: "quiet_hours.enabled", id: "quiet-on", checked: Boolean(c.quiet_hours) });
  const quietFields = [
    input("quiet_hours.start", quiet.start, { placeholder: "21:00", inputmode: "numeric", autocomplete: "off" }),
    input("quiet_hours.end", quiet.end, { placeholder: "08:00", inputmode: "numeric", autocomplete: "off" }),
    input("quiet_hours.default_timezone", quiet.default_timezone, { list: "time-zones", autocomplete: "off" }),
  ];
  const syncQuiet = () => quietFields.forEach((el) => { el.disabled = !quietOn.checked; });
  quietOn.addEventListener("change", syncQuiet);
  syncQuiet();

  const alternates = alternatesEditor(c.alternates);
  const form = h("form", { class: "panel", novalidate: true },
    h("div", { class: "row" },
      field("Name", input("name", c.name, { required: true })),
      field("Kind", kind, campaign ? "Fixed once created." : null),
      field("Channel", select("channel", ["push", "sms", "email", "webhook"], c.channel, { disabled: Boolean(campaign) }))),
    triggerSet,
    h("div", { class: "row" },
      field("Provider", select("provider_id", [["", "none (dry runs only)"], ...providers.map((p) => [p.id, `${p.name} (${p.kind})`])], c.provider_id || ""),
        providers.length ? null : "No providers yet: add one under Push providers."),
      field("Audience", select("audience_id", [["", "everyone"], ...audiences.map((a) => [a.id, a.name])], c.audience_id || ""))),
    h("h2", {}, "Alternates"),
    h("p", { class: "muted" }, "The content agent picks one per user and learns from opens, clicks and conversions."),
    alternates.box, h("div", { class: "actions" }, alternates.more),
    h("h2", {}, "When"),
    h("div", { class: "row" },
      field("Timing", select("timing", [["optimize", "optimize (each user's best slot in the window)"], ["immediate", "immediate (as soon as allowed)"]], c.timing)),
      field("Starts at", input("starts_at", localInput(c.starts_at), { type: "datetime-local" }), "Empty: when scheduled."),
      field("Window (days)", input("window_days", c.window_days, { type: "number", min: 1, max: 30, inputmode: "numeric" }), "A broadcast's sends spread over this many days.")),
    h("fieldset", {}, h("legend", {}, "Frequency caps (across every campaign)"),
      h("div", { class: "row" },
        field("Per day", input("caps.per_day", c.caps.per_day ?? "", { type: "number", min: 1, inputmode: "numeric" }), "Empty: no cap."),
        field("Per week", input("caps.per_week", c.caps.per_week ?? "", { type: "number", min: 1, inputmode: "numeric" }), "Empty: no cap."),
        field("Rate limit (sends per second)", input("rate_limit_per_second", c.rate_limit_per_second ?? "", { type: "number", step: "any", min: 0, inputmode: "decimal" }), "Empty: as fast as the provider allows."))),
    h("fieldset", {}, h("legend", {}, "Quiet hours (in each user's time zone)"),
      h("label", { class: "check" }, quietOn, " No messages during quiet hours"),
      h("div", { class: "row" },
        field("From", quietFields[0], "HH:MM, 24-hour clock."),
        field("Until", quietFields[1], "HH:MM"),
        field("Default time zone", quietFields[2], "For users whose time zone is unknown.")),
      h("datalist", { id: "time-zones" }, timeZones().map((z) => h("option", { value: z })))),
    h("h2", {}, "Measurement"),
    h("div", { class: "row" },
      field("Holdout %", input("holdout_percent", c.holdout_percent, { type: "number", step: "any", min: 0, max: 100, inputmode: "decimal" }), "A hashed share of users who get nothing, to measure uplift."),
      field("Attribution window (hours)", input("attribution_window_hours", c.attribution_window_hours, { type: "number", min: 1, inputmode: "numeric" }))),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "dry_run", id: "dry-run", checked: c.dry_run }), " Dry run: plan, time and record every send, but deliver nothing"),
    h("div", { class: "actions" }, h("button", { type: "submit" }, campaign ? "Save campaign" : "Create campaign")));

  onSubmit(form, async (data) => {
    const body = {
      name: String(data.get("name") || "").trim(),
      provider_id: data.get("provider_id") || null,
      audience_id: data.get("audience_id") || null,
      alternates: alternatesBody(data, alternates.count()),
      timing: data.get("timing"),
      starts_at: instant(data, "starts_at"),
      window_days: number(data, "window_days"),
      trigger: kind.value === "triggered" ? {
        event: String(data.get("trigger.event") || "").trim(),
        delay_seconds: number(data, "trigger.delay_seconds") ?? 0,
        exit_event: String(data.get("trigger.exit_event") || "").trim() || null,
      } : null,
      caps: { per_day: number(data, "caps.per_day") ?? null, per_week: number(data, "caps.per_week") ?? null },
      quiet_hours: quietOn.checked ? {
        start: String(data.get("quiet_hours.start") || "").trim(), end: String(data.get("quiet_hours.end") || "").trim(),
        default_timezone: String(data.get("quiet_hours.default_timezone") || "").trim() || "UTC",
      } : null,
      rate_limit_per_second: number(data, "rate_limit_per_second") ?? null,
      holdout_percent: number(data, "holdout_percent"),
      attribution_window_hours: number(data, "attribution_window_hours"),
      dry_run: data.get("dry_run") === "on",
    };
    if (!body.name) throw localError("name", "Give the campaign a name");
    if (kind.value === "triggered" && !body.trigger.event) throw localError("trigger.event", "Name the event that triggers the campaign");
    if (campaign) {
      await api("PATCH", `/api/campaigns/${campaign.id}`, { body });
      location.hash = `#/campaigns/${campaign.id}`;
      setTimeout(() => success(`Saved "${body.name}".`), 300);
    } else {
      body.kind = kind.value;
      body.channel = data.get("channel");
      const created = await api("POST", "/api/campaigns", { body });
      location.hash = `#/campaigns/${created.id}`;
      setTimeout(() => success(`Campaign "${created.name}" created as a draft: schedule it when ready.`), 300);
    }
  });
  const back = campaign ? h("a", { href: `#/campaigns/${campaign.id}` }, `← ${campaign.name}`) : h("a", { href: "#/campaigns" }, "← Campaigns");
  setView(h("p", {}, back), heading(campaign ? `Edit ${campaign.name}` : "New campaign"), form);
}

// --- the detail view ----------------------------------------------------------------------

function card(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value", id }, value));
}

function duration(seconds) {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${+(seconds / 3600).toFixed(1)} h`;
  return `${+(seconds / 86400).toFixed(1)} days`;
}

function settingsList(c, providerName, audienceName) {
  const rows = [
    ["Kind", c.kind === "triggered" && c.trigger
      ? `triggered by ${c.trigger.event}, ${duration(c.trigger.delay_seconds)} later${c.trigger.exit_event ? ` unless ${c.trigger.exit_event} happens first` : ""}`
      : `broadcast over ${c.window_days} day${c.window_days === 1 ? "" : "s"}`],
    ["Channel", c.channel], ["Provider", c.provider_id ? h("a", { href: `#/providers/${c.provider_id}` }, providerName || c.provider_id) : "none"],
    ["Audience", audienceName || (c.audience_id ? c.audience_id : "everyone")], ["Timing", c.timing],
    ["Starts", c.starts_at ? fmt.time(c.starts_at) : "when scheduled"],
    ["Caps", [c.caps.per_day ? `${c.caps.per_day} a day` : null, c.caps.per_week ? `${c.caps.per_week} a week` : null].filter(Boolean).join(", ") || "none"],
    ["Quiet hours", c.quiet_hours ? `${c.quiet_hours.start}–${c.quiet_hours.end} (default zone ${c.quiet_hours.default_timezone})` : "none"],
    ["Rate limit", c.rate_limit_per_second ? `${c.rate_limit_per_second} per second` : "none"],
    ["Holdout", `${c.holdout_percent} %`], ["Attribution", `${c.attribution_window_hours} h`], ["Dry run", c.dry_run ? "yes: nothing is delivered" : "no"],
    ["Alternates", c.alternates.map((a) => a.name).join(", ")],
  ];
  return h("dl", { class: "props wide" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function progressView(c, r) {
  const p = r.progress;
  const settled = p.planned - p.pending;
  const waiting = c.status === "running" && c.kind === "broadcast" && !p.audience_planned;
  return [
    h("p", { class: "status-note" }, waiting ? `Planning the audience: ${fmt.num(p.planned)} sends planned so far.`
      : p.planned ? `${fmt.num(settled)} of ${fmt.num(p.planned)} planned sends settled (${fmt.pct(settled / p.planned, 0)}).`
      : c.status === "draft" ? "Nothing planned yet: schedule the campaign to start." : "Nothing planned yet."),
    h("progress", { max: Math.max(1, p.planned), value: settled, "aria-label": "Settled sends" }),
    h("div", { class: "cards" },
      card("Planned", fmt.num(p.planned), "progress-planned"), card("Pending", fmt.num(p.pending), "progress-pending"),
      card("Sent", fmt.num(p.sent), "progress-sent"), card("Failed", fmt.num(p.failed), "progress-failed"),
      card("Skipped", fmt.num(p.skipped), "progress-skipped"), card("Held out", fmt.num(p.held_out), "progress-held-out"),
      card("Exited", fmt.num(p.exited), "progress-exited")),
  ];
}

function outcomeRow(name, o) {
  return h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, fmt.num(o.sent)), h("td", {}, fmt.num(o.delivered)), h("td", {}, fmt.num(o.opened)),
    h("td", {}, fmt.num(o.clicked)), h("td", {}, fmt.num(o.converted)),
    h("td", {}, o.conversion_interval ? `${fmt.pct(o.conversion_rate)} (${fmt.pct(o.conversion_interval.low)} to ${fmt.pct(o.conversion_interval.high)})` : "—"));
}

function reasonsChart(title, counts, cls) {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([label, value]) => ({ label, value, cls }));
  return rows.length ? barChart({ title, rows, valueName: "Sends" }) : null;
}

function reportView(c, r) {
  const names = Object.fromEntries(c.alternates.map((a) => [a.id, a.name]));
  const alternateName = (id) => names[id] || (id ? `removed ${id.slice(0, 8)}` : "unknown");
  const perAlternate = Object.entries(r.by_alternate);
  const intervals = perAlternate.filter(([, o]) => o.conversion_interval)
    .map(([id, o]) => ({ label: alternateName(id), mean: o.conversion_rate, low: o.conversion_interval.low, high: o.conversion_interval.high }));
  const slots = r.by_slot;
  const slotted = Object.keys(slots).filter((k) => k !== "unslotted");
  const heat = slotted.length ? heatMap({
    title: "Sends per send-time slot (user-local day and day-part); darker is more",
    rowLabels: DAY_NAMES, colLabels: DAYPART_NAMES,
    cell: (row, col) => {
      const o = slots[`${DAYS[row]}-${DAYPARTS[col]}`];
      if (!o) return null;
      return { value: o.sent, title: `${fmt.num(o.sent)} sent, ${fmt.num(o.opened)} opened, ${fmt.num(o.converted)} converted${o.conversion_rate !== null ? ` (${fmt.pct(o.conversion_rate)})` : ""}` };
    },
  }) : null;
  const u = r.uplift;
  const uplift = u.difference !== null
    ? [h("p", { id: "campaign-uplift" }, `Uplift over the holdout: ${fmt.pct(u.difference, 2)} points (95% interval ${fmt.pct(u.low, 2)} to ${fmt.pct(u.high, 2)})` +
        (u.relative !== null ? `, ${fmt.pct(u.relative, 0)} relative.` : ".")),
      differenceChart({ title: "Conversion rate of users sent to minus the holdout's, percentage points, 95% interval", value: u.difference, low: u.low, high: u.high })]
    : h("p", { id: "campaign-uplift", class: "muted" }, `Uplift appears once both sent users (${fmt.num(u.treated_users)}) and the holdout (${fmt.num(u.holdout_users)}) exist.`);
  return [
    h("div", { class: "table-wrap" }, h("table", {}, h("caption", { class: "visually-hidden" }, "Outcomes overall and per alternate"),
      h("thead", {}, h("tr", {}, ["", "Sent", "Delivered", "Opened", "Clicked", "Converted", "Conversion (95% interval)"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", { id: "report-outcomes" }, outcomeRow("All sends", r.total), perAlternate.map(([id, o]) => outcomeRow(alternateName(id), o))))),
    h("h3", {}, "Conversion rate per alternate"),
    intervals.length ? intervalChart({ title: "Conversion rate per alternate, with 95% credible intervals", rows: intervals })
      : h("p", { class: "muted" }, "Rates appear once messages are sent."),
    h("h3", {}, "Send-time slots"),
    heat || h("p", { class: "muted" }, "No sends in waking-hour slots yet."),
    slots.unslotted ? h("p", { class: "muted" }, `${fmt.num(slots.unslotted.sent)} sent outside the waking-hour slots (e.g. immediate sends at night).`) : null,
    h("h3", {}, "Failures and skips"),
    reasonsChart("Failed sends by reason", r.failed_by_reason, "s2") || h("p", { class: "muted" }, "No failed sends."),
    reasonsChart("Skipped sends by reason", r.skipped_by_reason, "s1") || h("p", { class: "muted" }, "No skipped sends."),
    h("h3", {}, "Uplift"),
    uplift,
  ];
}

function sendsTable(c) {
  const names = Object.fromEntries(c.alternates.map((a) => [a.id, a.name]));
  const engagement = (s) => [["delivered", s.delivered_at], ["opened", s.opened_at], ["clicked", s.clicked_at], ["converted", s.converted_at]]
    .filter(([, at]) => at).map(([name]) => name).join(", ") || "—";
  return pagedTable(["Profile", "Status", "Reason", "Alternate", "Slot", "Scheduled", "Sent", "Attempts", "Engagement"],
    (token) => api("GET", `/api/campaigns/${c.id}/sends`, { query: { limit: 50, next_token: token } }),
    (s) => h("tr", {}, h("td", {}, h("a", { href: `#/profiles/${encodeURIComponent(s.profile_id)}`, title: s.profile_id, "aria-label": `Profile ${s.profile_id}` }, `…${s.profile_id.slice(-8)}`)),
      h("td", {}, h("span", { class: `badge ${s.status === "failed" ? "bad" : s.status === "sent" ? "" : "off"}` }, s.holdout ? "held out" : s.status)),
      h("td", {}, s.reason || "—"), h("td", {}, s.alternate_id ? names[s.alternate_id] || s.alternate_id.slice(0, 8) : "—"), h("td", {}, s.slot || "—"),
      h("td", {}, fmt.time(s.scheduled_at)), h("td", {}, fmt.time(s.sent_at)), h("td", {}, fmt.num(s.attempts)), h("td", {}, engagement(s))),
    { caption: "Sends", empty: "No sends yet." });
}

async function detail(id) {
  let campaign = await api("GET", `/api/campaigns/${encodeURIComponent(id)}`);
  const [provider, audience] = await Promise.all([
    campaign.provider_id ? api("GET", `/api/providers/${campaign.provider_id}`).catch(() => null) : null,
    campaign.audience_id ? api("GET", `/api/audiences/${campaign.audience_id}`).catch(() => null) : null]);
  const title = heading(campaign.name);
  const state = h("div", { "aria-live": "polite" });
  const actions = h("div", { class: "actions" });
  const settings = h("div");
  const progress = h("div");
  const report = h("div");
  const sends = h("div");
  const refreshed = h("p", { class: "muted" });
  let lastStatus = null;

  function drawState() {
    const c = campaign;
    clear(state).append(h("p", {}, "Status: ", statusBadge(c.status, "campaign-status"), c.dry_run ? [" ", h("span", { class: "badge off" }, "dry run")] : null),
      h("p", { class: "status-note" }, NOTES[c.status]));
    clear(actions);
    for (const a of ACTIONS.filter((x) => x.from.includes(c.status))) {
      actions.append(h("button", { type: "button", class: a.danger ? "danger" : "", onclick: () => act(a) }, a.label));
    }
    if (EDITABLE.includes(c.status)) actions.append(h("a", { href: `#/campaigns/${c.id}/edit`, class: "button secondary" }, "Edit"));
    if (!LIVE.includes(c.status)) actions.append(h("button", { type: "button", class: "danger", onclick: remove }, "Delete"));
    clear(settings).append(settingsList(c, provider && provider.name, audience && audience.name));
  }

  async function load() {
    try {
      const [fresh, r] = await Promise.all([api("GET", `/api/campaigns/${id}`), api("GET", `/api/campaigns/${id}/report`)]);
      campaign = fresh;
      if (campaign.status !== lastStatus) {
        drawState();
        if (lastStatus !== null) clear(sends).append(sendsTable(campaign));
        lastStatus = campaign.status;
      }
      clear(progress).append(...progressView(campaign, r));
      clear(report).append(...reportView(campaign, r).flat().filter(Boolean));
      refreshed.textContent = `Updated ${new Date().toLocaleTimeString()}${LIVE.includes(campaign.status) ? "; refreshes every 2 s while the campaign is live" : ""}.`;
    } catch (err) {
      showError(err);
    }
  }

  async function act(a) {
    if (a.confirm && !window.confirm(a.confirm)) return;
    try {
      campaign = await api("POST", `/api/campaigns/${id}/${a.name}`);
      await load();
      success(a.done);
    } catch (err) { showError(err); }
  }

  async function remove() {
    if (!window.confirm(`Delete campaign "${campaign.name}" and its sends?`)) return;
    try { await api("DELETE", `/api/campaigns/${id}`); location.hash = "#/campaigns"; } catch (err) { showError(err); }
  }

  const refreshSends = h("button", { type: "button", class: "secondary" }, "Refresh sends");
  refreshSends.addEventListener("click", () => clear(sends).append(sendsTable(campaign)));
  setView(h("p", {}, h("a", { href: "#/campaigns" }, "← Campaigns")), title, state, actions,
    h("section", { class: "panel", "aria-labelledby": "c-progress" }, h("h2", { id: "c-progress" }, "Progress"), refreshed, progress),
    h("section", { class: "panel", "aria-labelledby": "c-report" }, h("h2", { id: "c-report" }, "Report"), report),
    h("section", { class: "panel", "aria-labelledby": "c-sends" }, h("h2", { id: "c-sends" }, "Sends"), h("div", { class: "actions" }, refreshSends), sends),
    h("section", { class: "panel", "aria-labelledby": "c-settings" }, h("h2", { id: "c-settings" }, "Settings"), settings));
  await load();
  const table = sendsTable(campaign);
  clear(sends).append(table);
  await table.ready;
  every(progress, 2000, () => { if (LIVE.includes(campaign.status)) load(); });
}
