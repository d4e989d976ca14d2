// The phone's menu: a disclosure button (aria-expanded) that shows and hides the main
// navigation. Without this module the navigation simply stays open; on wide screens the
// button is hidden by CSS and the navigation always shows.

const header = document.querySelector("[data-shell]");
const button = header?.querySelector("[data-menu-toggle]");
const menu = header?.querySelector("[data-menu]");

function setOpen(open) {
  button.setAttribute("aria-expanded", String(open));
  header.dataset.menu = open ? "open" : "closed";
}

if (header && button && menu) {
  setOpen(false);
  button.addEventListener("click", () => {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  header.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || button.getAttribute("aria-expanded") !== "true") return;
    if (window.getComputedStyle(button).display === "none") return;
    setOpen(false);
    button.focus();
  });
}

// List pages focus their search box on wide screens only: on a phone, focus would pop the
// keyboard over the list a clerk came to read.
const wide = window.matchMedia("(min-width: 720px)");
if (wide.matches) document.querySelector("[data-autofocus-wide]")?.focus();

// A table too wide for the screen scrolls sideways in its `.table-wrap`: keyboard users
// must be able to reach and scroll it, so while it overflows it is a focusable, named region.
function regionName(wrap) {
  const caption = wrap.querySelector("caption")?.textContent?.trim();
  if (caption) return caption;
  let before = wrap.previousElementSibling;
  while (before && !/^H[1-6]$/.test(before.tagName)) before = before.previousElementSibling;
  return before?.textContent?.trim() || document.querySelector("h1")?.textContent?.trim() || "Table";
}

function markScrollable(wrap) {
  if (wrap.scrollWidth > wrap.clientWidth + 1) {
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", `${regionName(wrap)} (scrolls sideways)`);
  } else if (wrap.hasAttribute("role")) {
    wrap.removeAttribute("tabindex");
    wrap.removeAttribute("role");
    wrap.removeAttribute("aria-label");
  }
}

const wraps = document.querySelectorAll(".table-wrap");
if (wraps.length && "ResizeObserver" in window) {
  const observer = new ResizeObserver((entries) => entries.forEach((e) => markScrollable(e.target)));
  wraps.forEach((wrap) => observer.observe(wrap));
}
