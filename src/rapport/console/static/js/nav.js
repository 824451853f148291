// The console's sections, one module per page. A new section is one line here and one
// module under pages/ exporting `render(params)`.
export const SECTIONS = [
  { id: "overview", title: "Overview", load: () => import("./pages/overview.js") },
  { id: "events", title: "Live events", load: () => import("./pages/events.js") },
  { id: "profiles", title: "Profiles", load: () => import("./pages/profiles.js") },
  { id: "surfaces", title: "Surfaces", load: () => import("./pages/surfaces.js") },
  { id: "experiences", title: "Experiences", load: () => import("./pages/experiences.js") },
  { id: "audiences", title: "Audiences", load: () => import("./pages/audiences.js") },
  { id: "campaigns", title: "Campaigns", load: () => import("./pages/campaigns.js") },
  { id: "providers", title: "Push providers", load: () => import("./pages/providers.js") },
  { id: "keys", title: "API keys", load: () => import("./pages/keys.js") },
  { id: "settings", title: "Settings", load: () => import("./pages/settings.js") },
];
