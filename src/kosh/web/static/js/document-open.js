// A form marked `data-open-document` that created a document opens it (the API answers
// the new document with its id).
document.addEventListener("kosh:success", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-open-document")) return;
  const id = event.detail?.id;
  if (Number.isInteger(id)) window.location.assign(`/documents/${id}`);
});
