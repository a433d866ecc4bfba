// Warble's behaviour that htmx cannot express. No inline scripts: the CSP forbids them.
"use strict";

// Every htmx request carries the CSRF token the server put in <meta name="csrf-token">.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});
