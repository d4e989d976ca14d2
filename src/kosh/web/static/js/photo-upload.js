// Photo upload (quality tickets): `<form data-upload="/api/v1/ticket-attachments/ID">` sends
// the chosen file as multipart with the CSRF header, shows the answer in [data-result] and
// reloads the page on success. The server sniffs the type; nothing here trusts the file.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

for (const form of document.querySelectorAll("form[data-upload]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = form.querySelector("[data-result]");
    const button = form.querySelector("button[type=submit]");
    const file = form.querySelector("input[type=file]")?.files?.[0];
    if (!file) {
      if (result) result.textContent = "Choose a photo first.";
      return;
    }
    const body = new FormData();
    body.append("file", file, file.name);
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.dataset.upload, {
        method: "POST",
        headers: { accept: "application/json", "x-csrf-token": csrfToken() },
        credentials: "same-origin",
        body,
      });
      const payload = await response.json().catch(() => ({}));
      if (!response.ok) {
        if (result) result.textContent = payload.detail ?? "The photo was refused.";
        return;
      }
      if (result) result.textContent = "Photo attached.";
      window.setTimeout(() => window.location.reload(), 400);
    } catch {
      if (result) result.textContent = "Network problem: the photo was not sent.";
    } finally {
      if (button) button.disabled = false;
    }
  });
}
