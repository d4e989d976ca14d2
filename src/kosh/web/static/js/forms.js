// Forms: no double submit, CSRF header, JSON submit to the API with errors placed at the
// field, and a retry (same Idempotency-Key, so it cannot apply twice) on network failure.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

// The message catalogue (kosh.core.messages, put in the page by base.html): the browser's
// own checks say what the server would say, in the same words, numbers written the same.
const MESSAGES = (() => {
  try {
    return JSON.parse(document.querySelector('meta[name="kosh-messages"]')?.content ?? "{}");
  } catch {
    return {};
  }
})();
const numberFormat = new Intl.NumberFormat("en-US");
function say(key, limit) {
  const text = MESSAGES[key] ?? MESSAGES.invalid ?? "This value is not valid here.";
  return limit === undefined ? text : text.replace("{limit}", numberFormat.format(Number(limit)));
}

function fieldName(field) {
  return field.name || field.dataset.locationFor || "";
}

function validationText(field) {
  const v = field.validity;
  if (v.valueMissing) return say("required");
  if (v.patternMismatch) {
    if (field.dataset.msgPattern) return say(field.dataset.msgPattern);
    return field.dataset.type === "int" || field.inputMode === "numeric" ? say("whole_number") : say("format");
  }
  if (v.typeMismatch) return field.type === "email" ? say("email") : say("invalid");
  if (v.tooLong) return say("too_long", field.maxLength);
  if (v.tooShort) return say("too_short", field.minLength);
  if (v.rangeUnderflow) return say("at_least", field.min);
  if (v.rangeOverflow) return say("at_most", field.max);
  if (v.badInput || v.stepMismatch) return say(field.step === "any" ? "number" : "whole_number");
  return say("invalid");
}

// A field the browser refuses gets the catalogue's sentence: next to it when the form has
// a place for its errors (and the first such field gets the focus), else in the bubble.
document.addEventListener(
  "invalid",
  (event) => {
    const field = event.target;
    if (!(field instanceof HTMLElement) || !field.form) return;
    const text = validationText(field);
    const name = fieldName(field);
    const slot = name && field.form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) {
      event.preventDefault();
      slot.textContent = text;
      field.setAttribute("aria-invalid", "true");
      const first = field.form.querySelector(":invalid:not(fieldset)");
      if (first === field) field.focus();
    } else {
      field.setCustomValidity(text);
    }
  },
  true,
);

function clearFieldError(field) {
  if (!(field instanceof HTMLElement) || !field.form) return;
  field.setCustomValidity?.("");
  if (field.getAttribute("aria-invalid") === "true" && field.checkValidity?.()) {
    field.removeAttribute("aria-invalid");
    const name = fieldName(field);
    const slot = name && field.form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) slot.textContent = "";
  }
}
document.addEventListener("input", (event) => clearFieldError(event.target), true);
document.addEventListener("change", (event) => clearFieldError(event.target), true);
document.addEventListener("reset", (event) => {
  for (const field of event.target.elements ?? []) field.setCustomValidity?.("");
}, true);

function setBusy(form, busy) {
  form.dataset.busy = busy ? "true" : "";
  for (const button of form.querySelectorAll("button[type=submit], button:not([type])")) {
    if (busy) {
      button.dataset.label = button.dataset.label ?? button.textContent;
      button.textContent = button.dataset.busyText ?? "Working…";
      button.setAttribute("aria-busy", "true");
      button.disabled = true;
    } else {
      button.textContent = button.dataset.label ?? button.textContent;
      button.removeAttribute("aria-busy");
      button.disabled = false;
    }
  }
}

function guard(form) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.busy === "true") {
      event.preventDefault();
      return;
    }
    // Mark the form busy at once, so a second submit in the same instant is refused, but
    // disable the buttons only after the browser has built this submission (a disabled
    // submitter would drop its name/value from the form data).
    form.dataset.busy = "true";
    window.setTimeout(() => setBusy(form, true), 0);
  });
}

// A page restored from the back/forward cache must not keep its forms locked.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const form of document.querySelectorAll("form[data-guard]")) setBusy(form, false);
});

function formBody(form) {
  const body = {};
  for (const element of form.elements) {
    if (!element.name || element.disabled || element.type === "submit") continue;
    if (element.type === "checkbox" && element.hasAttribute("data-list")) {
      // several checkboxes of one name make a list of the checked values
      body[element.name] = body[element.name] ?? [];
      if (element.checked) body[element.name].push(element.value);
    } else if (element.type === "checkbox") {
      body[element.name] = element.checked;
    } else if (element.value === "" && !element.required) {
      continue;
    } else if (element.dataset.type === "int" || element.type === "number") {
      body[element.name] = /^-?\d+$/.test(element.value) ? Number(element.value) : element.value;
    } else if (element.dataset.type === "json") {
      try { body[element.name] = JSON.parse(element.value); } catch { body[element.name] = element.value; }
    } else {
      body[element.name] = element.value;
    }
  }
  return body;
}

function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const result = form.querySelector("[data-result]");
  if (result) { result.textContent = ""; result.classList.remove("error"); }
}

function showResult(form, message, isError) {
  const result = form.querySelector("[data-result]");
  if (!result) return;
  result.textContent = message;
  result.classList.toggle("error", Boolean(isError));
}

// After a submit the answer is what the person needs next: scanner forms (data-scan) bring
// their result to the top of the screen (it sits above the fields, so the field that takes
// the next scan is still in view); other forms scroll just enough to show it.
function revealResult(form) {
  const result = form.querySelector("[data-result]");
  if (!result || !result.textContent) return;
  result.scrollIntoView({ block: form.hasAttribute("data-scan") ? "start" : "nearest" });
}

function focusField(form, field) {
  if (!field) return;
  field.focus({ preventScroll: true });
  field.select?.();
}

function placeErrors(form, problem) {
  let placed = false;
  for (const error of problem.errors ?? []) {
    const loc = (error.loc ?? []).filter((part) => typeof part === "string");
    const name = loc[loc.length - 1];
    const slot = name && form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) {
      slot.textContent = error.msg;
      form.querySelector(`[name="${CSS.escape(name)}"]`)?.setAttribute("aria-invalid", "true");
      placed = true;
    }
  }
  showResult(form, problem.detail ?? say("refused"), true);
  focusField(form, form.querySelector("[aria-invalid=true]"));
  return placed;
}

// The session ended while the form was open: say so, with a login that comes back here.
function sessionExpired(form) {
  showResult(form, say("session_expired"), true);
  const result = form.querySelector("[data-result]");
  if (!result) return;
  const back = `${window.location.pathname}${window.location.search}`;
  const link = document.createElement("a");
  link.href = `/login?next=${encodeURIComponent(back)}`;
  link.textContent = say("log_in");
  link.className = "button";
  link.dataset.testid = "login-again";
  result.append(" ", link);
  revealResult(form);
}

function retryButton(form, submit) {
  const result = form.querySelector("[data-result]");
  if (!result) return;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Retry";
  button.dataset.testid = "retry";
  button.addEventListener("click", () => submit());
  result.append(" ", button);
}

function apiForm(form) {
  let idempotencyKey = null;
  const submit = async () => {
    if (form.dataset.busy === "true") return;
    clearErrors(form);
    setBusy(form, true);
    idempotencyKey = idempotencyKey ?? crypto.randomUUID();
    let response;
    try {
      response = await fetch(form.dataset.api, {
        method: form.dataset.method ?? "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "x-csrf-token": csrfToken(),
          "idempotency-key": idempotencyKey,
        },
        credentials: "same-origin",
        body: JSON.stringify(formBody(form)),
      });
    } catch {
      setBusy(form, false);
      showResult(form, say("network"), true);
      retryButton(form, submit);
      return;
    }
    setBusy(form, false);
    const payload = await response.json().catch(() => ({}));
    if (response.status === 401) {
      sessionExpired(form);
      return;
    }
    if (!response.ok) {
      if (response.status >= 500) retryButton(form, submit);
      else idempotencyKey = null;
      placeErrors(form, payload);
      form.dispatchEvent(new CustomEvent("kosh:error", { detail: payload }));
      revealResult(form);
      return;
    }
    idempotencyKey = null;
    form.dispatchEvent(new CustomEvent("kosh:success", { detail: payload, bubbles: true }));
    showResult(form, payload.message ?? form.dataset.success ?? "Done.", false);
    if (form.dataset.redirect) window.location.assign(form.dataset.redirect);
    else if (form.hasAttribute("data-reload")) window.setTimeout(() => window.location.reload(), 600);
    else if (form.hasAttribute("data-reset")) {
      form.reset();
      focusField(form, form.querySelector("[data-next-scan], [autofocus]"));
    }
    revealResult(form);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
}

for (const form of document.querySelectorAll("form[data-guard]")) guard(form);
for (const form of document.querySelectorAll("form[data-api]")) apiForm(form);
