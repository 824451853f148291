import { api } from "../api.js";
import { lineChart } from "../charts.js";
import { clear, every, fmt, h, heading, pagedTable, setView, showError } from "../ui.js";

function card(label, value, extra) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), extra ? h("div", { class: "muted" }, extra) : null);
}

export async function render() {
  const cards = h("div", { class: "cards", "aria-live": "polite" });
  const minute = h("div", { class: "grid-2" });
  const trend = h("div");
  const refreshed = h("p", { class: "muted" });
  const errorsBox = h("div");
  setView(heading("Overview"), refreshed, cards,
    h("section", { class: "panel", "aria-labelledby": "ov-minute" }, h("h2", { id: "ov-minute" }, "Last hour, per minute"), minute),
    h("section", { class: "panel", "aria-labelledby": "ov-trend" }, h("h2", { id: "ov-trend" }, "Conversion rate of decisions, last 24 hours"), trend),
    h("section", { class: "panel", "aria-labelledby": "ov-errors" }, h("h2", { id: "ov-errors" }, "Recent ingestion errors"),
      h("p", { class: "muted" }, "Rejected requests of authenticated senders, as seen by the server process answering you."), errorsBox));

  async function load() {
    try {
      const [summary, hour, day] = await Promise.all([
        api("GET", "/api/stats/summary"),
        api("GET", "/api/stats/activity", { query: { minutes: 60, bucket_seconds: 60 } }),
        api("GET", "/api/stats/activity", { query: { minutes: 1440, bucket_seconds: 3600 } }),
      ]);
      const errors = summary.ingestion_errors_last_hour;
      const totalErrors = Object.values(errors).reduce((a, b) => a + b, 0);
      const events = hour.buckets.reduce((n, b) => n + b.events, 0);
      const decisions = hour.buckets.reduce((n, b) => n + b.decisions, 0);
      clear(cards).append(
        card("Profiles", fmt.num(summary.profiles)),
        card("Events, last hour", fmt.num(events), `${(events / 60).toFixed(1)} per minute`),
        card("Decisions, last hour", fmt.num(decisions), `${(decisions / 60).toFixed(1)} per minute`),
        card("Processing lag", fmt.seconds(summary.processing.lag_seconds), `${fmt.num(summary.processing.backlog)} waiting`),
        card("Ingestion errors, last hour", fmt.num(totalErrors),
          Object.entries(errors).map(([d, n]) => `${d} ${n}`).join(" · ")),
      );
      clear(minute).append(
        lineChart({ title: "Events per minute (by event time)", bars: true, series: [{ name: "Events", points: hour.buckets.map((b) => ({ x: b.start, y: b.events })) }] }),
        lineChart({ title: "Decisions per minute", bars: true, series: [{ name: "Decisions", points: hour.buckets.map((b) => ({ x: b.start, y: b.decisions })) }] }),
      );
      clear(trend).append(lineChart({
        title: "Share of each hour's decisions that converted",
        yFormat: (v) => fmt.pct(v, 0), minY: 0,
        series: [{ name: "Conversion rate", points: day.buckets.map((b) => ({ x: b.start, y: b.conversion_rate })) }],
      }));
      refreshed.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every 15 s.`;
    } catch (err) {
      showError(err);
    }
  }

  clear(errorsBox).append(pagedTable(["When", "Dialect", "Path", "Status", "Message"],
    (token) => api("GET", "/api/ingestion-errors", { query: { limit: 20, next_token: token } }),
    (e) => h("tr", {}, h("td", {}, fmt.time(e.at)), h("td", {}, e.dialect), h("td", {}, h("code", {}, e.path)),
      h("td", {}, `${e.status} ${e.code}`), h("td", {}, e.message)),
    { caption: "Recent ingestion errors", empty: "No rejected ingestion requests recently." }));
  await load();
  every(cards, 15_000, load);
}
