// Ship one line: the quantity typed next to a line becomes the `lines` body of the ship
// request ([{line_id, qty}]), which forms.js sends as JSON (data-type="json").

for (const form of document.querySelectorAll("form[data-ship-line]")) {
  const lineId = Number(form.dataset.shipLine);
  const qty = form.querySelector("[data-ship-qty]");
  const lines = form.querySelector('input[name="lines"]');
  if (!qty || !lines) continue;
  const sync = () => {
    const value = /^\d+$/.test(qty.value) ? Number(qty.value) : qty.value;
    lines.value = JSON.stringify([{ line_id: lineId, qty: value }]);
  };
  qty.addEventListener("input", sync);
  sync();
}
