// A choice offered only once KOSH has refused a form for that reason: an element marked
// data-offer-on="<problem code> ..." appears when its form (the one it sits in, or the one
// named by data-offer-for) is answered with one of those codes, shows the server's sentence
// in [data-offer-detail] and takes the focus; a later success hides it again.

for (const offer of document.querySelectorAll("[data-offer-on]")) {
  const form = offer.dataset.offerFor
    ? document.getElementById(offer.dataset.offerFor)
    : offer.closest("form");
  if (!form) continue;
  const codes = offer.dataset.offerOn.split(/\s+/);
  form.addEventListener("kosh:error", (event) => {
    const problem = event.detail ?? {};
    if (!codes.includes(problem.code)) return;
    const text = offer.querySelector("[data-offer-detail]");
    if (text) text.textContent = problem.detail ?? "";
    offer.hidden = false;
    offer.querySelector("input:not([type=hidden]), button")?.focus();
  });
  form.addEventListener("kosh:success", () => {
    offer.hidden = true;
  });
}
