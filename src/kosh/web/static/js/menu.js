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
