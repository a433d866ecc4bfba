// Warble's behaviour that htmx cannot express. No inline scripts, no eval: the CSP forbids them.
"use strict";

// The stylesheet shows what needs scripts (counters, the Ctrl+Enter hint, floating messages)
// only under html.js: without JavaScript nothing frozen or useless is on the page.
document.documentElement.classList.add("js");

// Every htmx request carries the CSRF token the server put in <meta name="csrf-token">.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});

// ---------------------------------------------------------------------------------------------
// Character counters: <textarea data-counter="ID" data-max="N"> updates <output id="ID">.
// The count is the server's (app/text.py: clean(), then len() in code points), so the textarea
// has no maxlength: nothing is ever cut; over the limit the counter goes negative and the
// form's submit button is disabled, as on Mastodon.

// clean(): \r\n and \r become \n; C0 controls but tab and newline, DEL, C1 controls, lone
// surrogates and bidi controls go; then Python's strip() (its whitespace, not JavaScript's trim,
// which also drops U+FEFF); text with nothing visible counts as empty (text.INVISIBLE).
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const STRIP = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");
const BLANK = /^[\s\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f-\u1160\u17b4-\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\u{110bd}\u{110cd}\u{13430}-\u{1343f}\u{1bca0}-\u{1bca3}\u{1d173}-\u{1d17a}\u{e0000}-\u{e0fff}]*$/u;

function serverLength(text) {
  const cleaned = text.replace(/\r\n?/g, "\n").replace(CONTROL, "").replace(STRIP, "");
  return BLANK.test(cleaned) ? 0 : [...cleaned].length;
}

function updateCounter(field) {
  const output = document.getElementById(field.dataset.counter);
  if (!output) return;
  const left = Number(field.dataset.max) - serverLength(field.value);
  output.value = left;
  output.textContent = left;
  output.classList.toggle("low", left >= 0 && left < 20);
  output.classList.toggle("over", left < 0);
  const submit = field.form && field.form.querySelector('button[type="submit"]');
  if (submit) submit.disabled = left < 0;
}
document.addEventListener("input", (event) => {
  if (event.target.matches("textarea[data-counter]")) updateCounter(event.target);
});

// ---------------------------------------------------------------------------------------------
// Messages. #messages is fixed on screen (app.css, under html.js): a new message replaces the
// last one, Esc or its close button dismisses it, and it goes by itself after a while unless it
// is an error the reader must act on. A polite live region (#announcer) says what an in-place
// update did ("Following alice"): the server names it in HX-Trigger: {"warble:announce": ...}.
const DISMISS_AFTER_MS = 6000;
const messages = () => document.getElementById("messages");

function decorate(note) {
  if (note.querySelector(".flash-close")) return;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "flash-close";
  close.setAttribute("aria-label", "Dismiss this message");
  close.textContent = "×";
  note.append(close);
  if (!note.classList.contains("flash-error")) {
    setTimeout(() => note.remove(), DISMISS_AFTER_MS);
  }
}

function showMessage(text, kind = "error") {
  const box = messages();
  if (!box) return;
  const note = document.createElement("p");
  note.className = `flash flash-${kind}`;
  if (kind === "error") note.setAttribute("role", "alert");
  note.textContent = text;
  box.replaceChildren(note);
  decorate(note);
}

function dismissMessages() {
  const box = messages();
  if (!box || box.children.length === 0) return false;
  box.replaceChildren();
  return true;
}

document.addEventListener("click", (event) => {
  const close = event.target.closest(".flash-close");
  if (close) close.closest(".flash").remove();
});

let announcer = null;
function announce(text) {
  if (!announcer) {
    announcer = document.createElement("div");
    announcer.id = "announcer";
    announcer.className = "visually-hidden";
    announcer.setAttribute("role", "status");
    announcer.setAttribute("aria-live", "polite");
    document.body.append(announcer);
  }
  // Emptied first, filled a moment later: the same words twice are announced twice.
  announcer.textContent = "";
  setTimeout(() => { announcer.textContent = text; }, 50);
}
document.addEventListener("warble:announce", (event) => announce(event.detail.value));

// ---------------------------------------------------------------------------------------------
// Failed requests are never silent. Warble's own error answers carry HX-Retarget: #messages
// and are swapped there. A request that never got an answer (network down, server gone), or
// an error page from something else on the way (a proxy's 502), is not swapped into the page:
// a message says what happened, the control works again (htmx re-enables hx-disabled-elt) and
// whatever was typed stays in its box.
const UNREACHABLE = "Could not reach Warble. Check your connection and try again.";

function failed(elt, text) {
  showMessage(text);
  const more = elt && elt.closest(".more");
  if (more) offerRetry(more.querySelector("a[hx-get]"));
}

document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  if (event.detail.isError && !xhr.getResponseHeader("HX-Retarget")) {
    event.detail.shouldSwap = false;
    failed(event.detail.elt, `Warble answered with an error (${xhr.status}). Try again in a moment.`);
  }
});
document.addEventListener("htmx:sendError", (event) => failed(event.detail.elt, UNREACHABLE));
document.addEventListener("htmx:timeout", (event) => failed(event.detail.elt, UNREACHABLE));

// A request that worked again takes away the message about the one that did not.
document.addEventListener("htmx:afterRequest", (event) => {
  if (!event.detail.successful) return;
  const box = messages();
  if (box && box.textContent.startsWith(UNREACHABLE)) box.replaceChildren();
});

document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "messages") {
    messages().querySelectorAll(".flash").forEach(decorate);
  }
});

// "Older posts" (or "More comments") that failed: it says so, and the next scroll or a click
// tries again. `revealed` fires once per element, so the retry is ours to start.
function offerRetry(link) {
  if (!link) return;
  link.dataset.label = link.dataset.label || link.textContent;
  link.textContent = "Loading failed. Scroll or press to try again";
  link.closest(".more").classList.add("failed");
  const events = ["wheel", "touchmove", "scroll"];
  const retry = () => {
    const box = link.getBoundingClientRect();
    if (box.top > innerHeight || box.bottom < 0) return;
    events.forEach((name) => window.removeEventListener(name, retry));
    if (!document.contains(link) || link.closest(".htmx-request")) return;
    link.textContent = link.dataset.label;
    link.closest(".more").classList.remove("failed");
    htmx.trigger(link, "click");
  };
  // Armed a moment later: the scroll that revealed the link must not retry at once.
  setTimeout(() => events.forEach((name) => window.addEventListener(name, retry, { passive: true })), 300);
}

// ---------------------------------------------------------------------------------------------
// After an in-place update, focus goes where the reader can carry on: the new Follow/Unfollow
// or Like/Unlike button (when the reader was on it: `f` leaves focus on the post), the edit
// box of a post opened for editing and the Edit link once it is saved or cancelled, the post
// or comment after a deleted one (or its list's heading).
// Tied to its request: another swap settling meanwhile (the 422 answer just before, a live
// count) neither takes it nor moves focus.
let refocus = null; // {xhr, find}: find() gives the element to focus once that swap settled
function refocusAfter(event, find) {
  refocus = { xhr: event.detail.xhr, find };
}

// The text box of a post being edited, focused with the caret at the end, ready to type on
// (left alone if the reader got there first: their caret stays where they put it).
function editBox(postId) {
  const box = document.querySelector(`#${postId} textarea`);
  if (box && document.activeElement !== box) {
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }
  return box;
}

document.addEventListener("htmx:beforeRequest", (event) => {
  const elt = event.detail.elt;
  if (elt.matches("form.follow-form") || (elt.matches("form.like-form") && elt.contains(document.activeElement))) {
    const id = elt.id;
    refocusAfter(event, () => document.querySelector(`#${CSS.escape(id)} button`));
  } else if (elt.matches("form.relation-form")) {
    // Block, Mute and their undos: a settings line's new button, or the profile's "…" menu
    // (its answer replaces the menu, closed), so the keyboard carries on where it was.
    const line = elt.closest("li.person");
    refocusAfter(event, line
      ? () => document.querySelector(`#${CSS.escape(line.id)} button`)
      : () => document.querySelector("#profile-menu > summary"));
  } else if (elt.matches("a.edit-link")) {
    const postId = elt.closest("article.post").id;
    refocusAfter(event, () => editBox(postId));
  } else if (elt.matches("form.edit-form, a.edit-cancel")) {
    const postId = elt.closest(".post-editing").id;
    // Saved or cancelled: the post's Edit link; refused (too long, empty): the box again.
    refocusAfter(event, () => document.querySelector(`#${postId} a.edit-link`) || editBox(postId));
  } else if (elt.matches("a.danger[hx-post]")) {
    const item = elt.closest("article.post, li.comment");
    if (!item) return;
    const sibling = item.matches("article.post") ? "article.post" : "li.comment";
    let next = item.nextElementSibling;
    while (next && !next.matches(sibling)) next = next.nextElementSibling;
    const heading = item.matches("article.post") ? "feed-title" : "comments-title";
    // Focus moves once the item is gone: an empty answer swaps in nothing, so no settle event.
    const focusAfter = (event) => {
      document.removeEventListener("htmx:afterRequest", focusAfter);
      if (!event.detail.successful) return;
      whenGone(item, () => focusOn(next && document.contains(next) ? next : document.getElementById(heading)));
    };
    document.addEventListener("htmx:afterRequest", focusAfter);
  } else if (elt.closest(MORE)) {
    loadingOlder = posts().length;
  }
});

function focusOn(target) {
  if (!target) return;
  if (!target.matches("button, a, input, textarea")) target.tabIndex = -1;
  target.focus();
  if (target.matches("article.post")) select(target);
}

function whenGone(element, then, tries = 60) {
  if (!document.contains(element)) then();
  else if (tries > 0) setTimeout(() => whenGone(element, then, tries - 1), 50);
}

// A failed request moves nothing: its message is shown, focus stays where it was.
document.addEventListener("htmx:afterRequest", (event) => {
  if (!event.detail.successful && refocus && refocus.xhr === event.detail.xhr) refocus = null;
});

document.addEventListener("htmx:afterSettle", (event) => {
  if (refocus && refocus.xhr === event.detail.xhr) {
    const target = refocus.find();
    refocus = null;
    focusOn(target);
  }
  if (loadingOlder !== null) {
    const now = posts().length;
    if (now > loadingOlder) {
      announce(`Loaded ${now - loadingOlder} older posts`);
      rememberWhereWeAre();
      if (wantNext) move(1);
    }
    loadingOlder = null;
    wantNext = false;
  }
  if (!document.querySelector(MORE)) wantNext = false;
});

// ---------------------------------------------------------------------------------------------
// Back and reload return to where the reader was: the address records the last post loaded
// (?until=<its cursor>: the server renders the timeline down to it) and, when a post is opened,
// which one (#post-<id>: scrolled into view on return).
let loadingOlder = null;

function addressWith(changes) {
  const url = new URL(window.location.href);
  if ("until" in changes) url.searchParams.set("until", changes.until);
  if ("hash" in changes) url.hash = changes.hash;
  return url;
}

function rememberWhereWeAre() {
  const last = Array.from(document.querySelectorAll("#feed article.post")).pop();
  if (!last || !document.getElementById("feed-title")) return;
  history.replaceState(history.state, "", addressWith({ until: last.dataset.cursor }));
}

function rememberOpened(post) {
  if (post && post.closest("#feed")) {
    history.replaceState(history.state, "", addressWith({ hash: post.id }));
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (link && !link.hasAttribute("hx-post")) rememberOpened(link.closest("article.post"));
}, true);

function returnToOpenedPost() {
  const match = /^#post-\d+$/.exec(window.location.hash);
  const post = match && document.querySelector(match[0]);
  if (!post) return;
  const box = post.getBoundingClientRect();
  if (box.top < headerBottom() || box.bottom > innerHeight) {
    post.scrollIntoView({ block: "center" });
  }
  select(post, { scroll: false });
}
window.addEventListener("pageshow", returnToOpenedPost);

// ---------------------------------------------------------------------------------------------
// Keyboard shortcuts. `?` lists them. None fires while typing, except Ctrl/Cmd+Enter and Escape.
const posts = () => Array.from(document.querySelectorAll("article.post"));
let current = null; // the post j/k last moved to
let wantNext = false; // j on the last post asked for older posts: move on when they arrive
// The link to older posts: a feed's, or search's "More results".
const MORE = "#feed-more, #search-more";

function headerBottom() {
  const header = document.querySelector(".site-header");
  return header ? header.getBoundingClientRect().bottom : 0;
}

// The sticky header covers the top of the window: a selected post is scrolled to just below it.
function scrollIntoClearView(post) {
  const gap = 8;
  const box = post.getBoundingClientRect();
  const top = headerBottom() + gap;
  if (box.top < top || box.height > innerHeight - top) window.scrollBy(0, box.top - top);
  else if (box.bottom > innerHeight - gap) window.scrollBy(0, box.bottom - innerHeight + gap);
}

function select(post, { scroll = true } = {}) {
  if (!post) return;
  if (current) current.classList.remove("is-focused");
  current = post;
  post.classList.add("is-focused");
  post.tabIndex = -1;
  post.focus({ preventScroll: true });
  if (scroll) scrollIntoClearView(post);
}

function loadOlder() {
  const more = document.querySelector(MORE);
  if (!more) return false;
  wantNext = true;
  const link = more.querySelector("a[hx-get]");
  if (!more.classList.contains("htmx-request") && link) {
    link.textContent = link.dataset.label || link.textContent;
    htmx.trigger(link, "click");
  }
  return true;
}

function move(step) {
  const list = posts();
  if (list.length === 0) return;
  const at = list.indexOf(current);
  if (step > 0 && at === list.length - 1 && loadOlder()) return;
  const next = at === -1 ? (step > 0 ? 0 : list.length - 1) : at + step;
  select(list[Math.max(0, Math.min(list.length - 1, next))]);
}

function selected() {
  return current && document.contains(current) ? current : null;
}

function isTyping(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

function homeUrl() {
  const brand = document.querySelector(".site-header .brand");
  return brand ? brand.getAttribute("href") : "/";
}

function compose() {
  const box = document.getElementById("composer-body");
  if (box) box.focus();
  else if (document.querySelector(".site-header .who")) window.location.href = homeUrl() + "#composer-body";
}

// `/` puts the cursor in the search box, what was typed there selected (as on Mastodon).
function focusSearch() {
  const box = document.getElementById("search-q");
  if (!box) return;
  box.focus();
  box.select();
}

// The search box searches as you type (its hx-trigger: input, and the `search` event that
// Chromium fires on Enter and on its clear button). Enter would also submit the form and load
// the page the results are already on: with htmx there, the form's own submission is only
// turned into that `search` event (fired here for browsers that have no such event).
// A #tag is searched for as a prefix while typing; Enter opens the tag's page, as the form
// does without JavaScript: the box's `search` event is kept from htmx, the form goes.
const isTagQuery = (value) => /^#[^\s#]+$/u.test(value.trim());

document.addEventListener("search", (event) => {
  if (event.target.id === "search-q" && isTagQuery(event.target.value)) event.stopPropagation();
}, true);

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches(".nav-search") || !window.htmx) return;
  if (isTagQuery(form.querySelector("#search-q").value)) return;
  event.preventDefault();
  const box = form.querySelector("#search-q");
  if (!("onsearch" in box)) htmx.trigger(box, "search");
});

function openPost(post, hash = "") {
  rememberOpened(post);
  window.location.href = post.dataset.permalink + hash;
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target.matches("textarea[data-submit-shortcut]") && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    const submit = target.form.querySelector('button[type="submit"]');
    if (!submit || !submit.disabled) target.form.requestSubmit(); // disabled: over the limit
    return;
  }
  // Esc in a post being edited cancels the edit (the Cancel link: in place, or back to the post).
  const editing = target.closest("form[data-edit-form]");
  if (event.key === "Escape" && editing) {
    event.preventDefault();
    editing.querySelector("a.edit-cancel")?.click();
    return;
  }
  if (event.key === "Escape" && isTyping(target)) {
    target.blur();
    return;
  }
  if (isTyping(target) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "Escape") {
    if (!document.querySelector("dialog[open]") && dismissMessages()) event.preventDefault();
    return;
  }

  const post = selected();
  const actions = {
    n: compose,
    j: () => move(1),
    k: () => move(-1),
    o: () => post && openPost(post),
    c: () => {
      const box = document.getElementById("comment-body");
      if (box && (!post || document.getElementById("comment-form"))) box.focus();
      // The address names the text box itself: arriving at a fragment focuses its target
      // when it can be focused (and blurs anything a script focused before).
      else if (post) openPost(post, "#comment-body");
    },
    f: () => {
      // Like or unlike the selected post (on a post's own page, that post): its own button,
      // so the request, the swap and the announcement are those of a click (a request under
      // way has disabled the button).
      const target = post || document.querySelector("article.post-standalone");
      const button = target && target.querySelector("form.like-form button");
      if (button && !button.disabled) button.click();
    },
    "?": () => document.getElementById("shortcuts")?.showModal(),
    "/": focusSearch,
  };
  if (event.key === "Enter" && post && target === post) actions.o();
  else if (actions[event.key]) actions[event.key]();
  else return;
  event.preventDefault();
});

// ---------------------------------------------------------------------------------------------
// On every page load and every swapped fragment: counters, folded posts, invalid fields.

// A post folded by the server ("Show more") that fits the reader's screen is unfolded; the
// link unfolds in place (without JavaScript it opens the post).
function unfoldShortPosts(root) {
  root.querySelectorAll(".post-body.long").forEach((body) => {
    if (body.scrollHeight <= body.clientHeight + 1) unfold(body);
  });
}
function unfold(body) {
  body.classList.remove("long");
  body.parentElement.querySelector(".show-more")?.remove();
}
document.addEventListener("click", (event) => {
  const more = event.target.closest("a.show-more");
  if (!more) return;
  const body = document.getElementById(more.getAttribute("aria-controls"));
  if (!body) return;
  event.preventDefault();
  unfold(body);
  body.tabIndex = -1;
  body.focus();
});

htmx.onLoad((root) => {
  root.querySelectorAll("textarea[data-counter]").forEach(updateCounter);
  unfoldShortPosts(root);
});

document.addEventListener("DOMContentLoaded", () => {
  messages()?.querySelectorAll(".flash").forEach(decorate);
  // A form sent back with errors: the cursor goes to the first field to fix.
  const invalid = document.querySelector("main form [aria-invalid='true']");
  if (invalid) invalid.focus();
});

// A field's error goes as soon as the field is changed: the message no longer describes it.
document.addEventListener("input", (event) => {
  const field = event.target;
  if (field.getAttribute("aria-invalid") !== "true") return;
  field.removeAttribute("aria-invalid");
  field.closest(".field-invalid")?.classList.remove("field-invalid");
  const message = document.getElementById(field.getAttribute("aria-describedby"));
  if (message && message.classList.contains("field-error")) message.remove();
  field.removeAttribute("aria-describedby");
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
  // The first post on an empty timeline: "Nothing here yet" is no longer true.
  if (form.id === "composer") document.getElementById("feed-empty")?.remove();
});

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

// ---------------------------------------------------------------------------------------------
// Relative times ("3 min ago") move on by themselves, from each <time datetime>, no requests.
// The words and cut-offs are app/text.py's timeago().
const RELATIVE = /^(just now|\d+ min ago|\d+ h ago|\d+ d ago)$/;
function timeago(when, now) {
  const minutes = Math.floor((now - when) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ago`;
  if (minutes < 7 * 24 * 60) return `${Math.floor(minutes / (24 * 60))} d ago`;
  const options = { month: "short", day: "numeric", timeZone: "UTC" };
  if (when.getUTCFullYear() !== new Date(now).getUTCFullYear()) options.year = "numeric";
  return when.toLocaleDateString("en-US", options);
}
function refreshTimes() {
  const now = Date.now();
  document.querySelectorAll("time[datetime]").forEach((time) => {
    if (!RELATIVE.test(time.textContent.trim())) return;
    const text = timeago(new Date(time.getAttribute("datetime")), now);
    if (time.textContent !== text) time.textContent = text;
  });
}
setInterval(refreshTimes, 60_000);
