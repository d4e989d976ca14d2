// Scanners type a code and press Enter. In a form marked `data-scan`, Enter moves to the
// next empty required field while the form is incomplete, and submits once it is complete.

const EDITABLE = "input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=checkbox]):not([type=radio]), select, textarea";

function fieldsOf(form) {
  return [...form.querySelectorAll(EDITABLE)].filter(
    (el) => !el.disabled && !el.readOnly && el.getClientRects().length > 0,
  );
}

function isEmpty(el) {
  return el.value.trim() === "";
}

function onEnter(form, event) {
  if (event.key !== "Enter" || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
  const field = event.target;
  if (!(field instanceof HTMLInputElement) || !field.matches(EDITABLE)) return;
  const fields = fieldsOf(form);
  const missing = fields.filter((el) => el.required && isEmpty(el));
  if (missing.length === 0) return; // complete: let Enter submit the form
  event.preventDefault();
  const here = fields.indexOf(field);
  const next = missing.find((el) => fields.indexOf(el) > here) ?? missing[0];
  next.focus();
  if (next instanceof HTMLInputElement) next.select();
}

for (const form of document.querySelectorAll("form[data-scan]")) {
  form.addEventListener("keydown", (event) => onEnter(form, event));
}
