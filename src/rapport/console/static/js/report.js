// A surface's or an experience's report: rates per variant with credible intervals and
// the uplift over the holdout over time.

import { intervalChart, lineChart } from "./charts.js";
import { clear, every, fmt, h, showError, table } from "./ui.js";

function rateRow(name, r) {
  return h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, fmt.num(r.assignments)), h("td", {}, fmt.num(r.exposed)),
    h("td", {}, fmt.num(r.clicked)), h("td", {}, fmt.num(r.conversions)),
    h("td", {}, `${fmt.pct(r.rate)} (${fmt.pct(r.low)} to ${fmt.pct(r.high)})`));
}

/** A section that loads `reportPath` and `trendPath`, with a refresh button. */
export function reportSection(reportPath, trendPath, api) {
  const body = h("div", { "aria-live": "polite" });
  const refresh = h("button", { type: "button", class: "secondary" }, "Refresh report");
  const section = h("section", { class: "panel", "aria-labelledby": "report-title" },
    h("h2", { id: "report-title" }, "Report"), h("div", { class: "actions" }, refresh), body);
  async function load() {
    try {
      const [report, trend] = await Promise.all([api("GET", reportPath), api("GET", trendPath, { query: { minutes: 1440, bucket_seconds: 3600 } })]);
      const p = report.personalized, k = report.holdout;
      const rows = [];
      for (const v of report.variants) {
        const label = v.name || v.variant_id.slice(0, 8);
        if (v.personalized.assignments) rows.push({ label: `${label} · personalized`, values: [{ ...v.personalized, mean: v.personalized.rate, cls: "s1" }] });
        if (v.holdout.assignments) rows.push({ label: `${label} · holdout`, values: [{ ...v.holdout, mean: v.holdout.rate, cls: "s2" }] });
      }
      const uplift = report.uplift
        ? `Uplift over the holdout: ${fmt.pct(report.uplift.difference, 2)} points (95% interval ${fmt.pct(report.uplift.low, 2)} to ${fmt.pct(report.uplift.high, 2)})` +
          (report.uplift.relative !== null ? `, ${fmt.pct(report.uplift.relative, 0)} relative.` : ".")
        : "Uplift appears once both personalized and holdout users have decisions.";
      const points = trend.points.filter((pt) => pt.uplift);
      clear(body).append(
        h("p", { id: "report-summary" }, `${fmt.num(p.assignments + k.assignments)} decisions: ${fmt.num(p.assignments)} personalized, ${fmt.num(k.assignments)} holdout; ${fmt.num(p.conversions + k.conversions)} conversions.`),
        table(["Arm", "Decisions", "Exposed", "Clicked", "Conversions", "Rate (95% interval)"], [rateRow("Personalized", p), rateRow("Holdout", k)], "Totals per arm"),
        h("p", {}, uplift),
        rows.length ? intervalChart({ title: "Conversion rate per variant, with 95% credible intervals", rows, seriesNames: null })
          : h("p", { class: "muted" }, "No decisions yet: fetch content for some users to see rates per variant."),
        points.length ? lineChart({
          title: "Uplift over the holdout over time (cumulative, percentage points, 95% band)",
          yFormat: (v) => fmt.pct(v, 1),
          xFormat: fmt.clock,
          series: [{ name: "Uplift", points: points.map((pt) => ({ x: pt.end, y: pt.uplift.difference, low: pt.uplift.low, high: pt.uplift.high })) }],
        }) : h("p", { class: "muted" }, "The uplift trend appears once both arms have decisions in the last 24 hours."),
      );
    } catch (err) {
      showError(err);
    }
  }
  refresh.addEventListener("click", load);
  section.ready = load();
  every(body, 10_000, load);
  return section;
}
