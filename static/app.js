// Warble's behaviour that htmx cannot express. No inline scripts, no eval: the CSP forbids them.
"use strict";

// Every htmx request carries the CSRF token the server put in <meta name="csrf-token">.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});

// Character counters: <textarea data-counter="ID" maxlength="N"> updates <output id="ID">.
function updateCounter(field) {
  const output = document.getElementById(field.dataset.counter);
  if (!output) return;
  const left = field.maxLength - field.value.length;
  output.value = left;
  output.textContent = left;
  output.classList.toggle("low", left < 20);
}
document.addEventListener("input", (event) => {
  if (event.target.matches("textarea[data-counter]")) updateCounter(event.target);
});

// A form that posted successfully through htmx is emptied and ready for the next one.
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (!event.detail.successful || !form.matches("form[data-reset-on-success]")) return;
  form.reset();
  const field = form.querySelector("textarea");
  if (field) {
    updateCounter(field);
    field.focus();
  }
});

// Keyboard shortcuts. `?` lists them. None fires while typing, except Ctrl/Cmd+Enter and Escape.
const posts = () => Array.from(document.querySelectorAll("article.post"));
let current = null; // the post j/k last moved to

function select(post) {
  if (!post) return;
  if (current) current.classList.remove("is-focused");
  current = post;
  post.classList.add("is-focused");
  post.tabIndex = -1;
  post.focus({ preventScroll: true });
  post.scrollIntoView({ block: "nearest" });
}

function move(step) {
  const list = posts();
  if (list.length === 0) return;
  const at = list.indexOf(current);
  const next = at === -1 ? (step > 0 ? 0 : list.length - 1) : at + step;
  select(list[Math.max(0, Math.min(list.length - 1, next))]);
}

function selected() {
  return current && document.contains(current) ? current : null;
}

function isTyping(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target.matches("textarea[data-submit-shortcut]") && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    target.form.requestSubmit();
    return;
  }
  if (event.key === "Escape" && isTyping(target)) {
    target.blur();
    return;
  }
  if (isTyping(target) || event.ctrlKey || event.metaKey || event.altKey) return;

  const post = selected();
  const actions = {
    n: () => document.getElementById("composer-body")?.focus(),
    j: () => move(1),
    k: () => move(-1),
    o: () => post && (window.location.href = post.dataset.permalink),
    c: () => {
      const box = document.getElementById("comment-body");
      if (box && (!post || document.getElementById("comment-form"))) box.focus();
      else if (post) window.location.href = post.dataset.permalink + "#comment-form";
    },
    "?": () => document.getElementById("shortcuts")?.showModal(),
  };
  if (event.key === "Enter" && post && target === post) actions.o();
  else if (actions[event.key]) actions[event.key]();
  else return;
  event.preventDefault();
});

// Arriving from `c` on a timeline: put the cursor in the comment box.
if (window.location.hash === "#comment-form") {
  document.addEventListener("DOMContentLoaded", () => document.getElementById("comment-body")?.focus());
}

// A post removed or a page of posts swapped in: forget a selection that left the page.
document.addEventListener("htmx:afterSwap", () => {
  if (current && !document.contains(current)) current = null;
});

// Live timeline (app/blueprints/live.py): the stream announces posts by the people you follow
// as `new-post` {"id": N}; a banner counts them without moving what you read, and activating
// it (click, Enter, or `.`) inserts them above the first post, newest first, each once.
const newPosts = new Set();

function newPostsBanner() {
  const banner = document.getElementById("new-posts");
  if (!banner) return;
  for (const id of newPosts) if (document.getElementById("post-" + id)) newPosts.delete(id);
  banner.hidden = newPosts.size === 0;
  banner.textContent = newPosts.size === 1 ? "1 new post" : `${newPosts.size} new posts`;
}

async function showNewPosts() {
  const feed = document.getElementById("feed");
  if (!feed || !feed.dataset.since || newPosts.size === 0) return;
  const response = await fetch("/?since=" + encodeURIComponent(feed.dataset.since), {
    headers: { "HX-Request": "true" },
    credentials: "same-origin",
  });
  if (!response.ok) return;
  const html = document.createElement("template");
  html.innerHTML = await response.text();
  const fresh = Array.from(html.content.querySelectorAll("article.post"))
    .filter((post) => !document.getElementById(post.id));
  const first = feed.querySelector("article.post");
  for (const post of fresh) {
    feed.insertBefore(post, first);
    htmx.process(post);
  }
  feed.dataset.since = response.headers.get("Warble-Since") || feed.dataset.since;
  feed.querySelector(".empty")?.remove();
  newPosts.clear();
  newPostsBanner();
}

// Each (re)opened EventSource gets the listener once: htmx-ext-sse makes a new one after an
// error, the browser reuses it (with Last-Event-ID) after a dropped connection.
document.addEventListener("htmx:sseOpen", (event) => {
  const source = event.detail.source;
  if (source.warbleListening) return;
  source.warbleListening = true;
  source.addEventListener("new-post", (message) => {
    newPosts.add(JSON.parse(message.data).id);
    newPostsBanner();
  });
});
document.addEventListener("click", (event) => {
  if (event.target.closest("#new-posts")) showNewPosts();
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "." || isTyping(event.target) || event.ctrlKey || event.metaKey) return;
  if (newPosts.size === 0) return;
  event.preventDefault();
  showNewPosts();
});
