// Form pieces shared by surfaces and experiences: labels, JSON payloads, numbers.

import { localError } from "./ui.js";

/** "offering=discount, tone=urgent" -> {offering: "discount", tone: "urgent"}. */
export function parseLabels(text, name) {
  const labels = {};
  for (const part of String(text || "").split(",").map((p) => p.trim()).filter(Boolean)) {
    const [dimension, ...rest] = part.split("=");
    const label = rest.join("=").trim();
    if (!dimension.trim() || !label) throw localError(name, `Write labels as dimension=label, separated by commas ("${part}" is not)`);
    labels[dimension.trim()] = label;
  }
  return labels;
}

export function labelsText(labels) {
  return Object.entries(labels || {}).map(([d, l]) => `${d}=${l}`).join(", ");
}

export function parseJson(text, name, fallback = {}) {
  const raw = String(text || "").trim();
  if (!raw) return fallback;
  try {
    const value = JSON.parse(raw);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value;
  } catch {
    throw localError(name, "Write a JSON object, e.g. {\"title\": \"Hello\"}");
  }
}

export function number(data, name) {
  const raw = String(data.get(name) ?? "").trim();
  if (raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw localError(name, "Enter a number");
  return value;
}

export function list(text) {
  return String(text || "").split(",").map((p) => p.trim()).filter(Boolean);
}

/** A timestamp as a datetime-local input's value, in the browser's time zone. */
export function localInput(value) {
  if (!value) return "";
  const d = new Date(value);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local input's value as an ISO instant, or null when empty. */
export function instant(data, name) {
  const raw = String(data.get(name) || "");
  return raw ? new Date(raw).toISOString() : null;
}
