// Shop-floor master-data forms: fields marked data-nest="<name>" data-key="<key>" (and
// data-row="<n>" for lists) have no name of their own; just before forms.js reads the form
// (capture phase), they are gathered into the hidden JSON input named <name>: an object
// {key: value} or, with rows, a list of objects (rows with no value at all are left out).
document.addEventListener(
  "submit",
  (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    for (const hidden of form.querySelectorAll("input[type=hidden][data-type=json][name]")) {
      const fields = form.querySelectorAll(`[data-nest="${CSS.escape(hidden.name)}"]`);
      if (!fields.length) continue;
      const rows = new Map();
      let object = {};
      let listed = false;
      for (const field of fields) {
        if (field.value === "") continue;
        const value = field.dataset.num !== undefined && /^-?\d+(\.\d+)?$/.test(field.value)
          ? (field.dataset.num === "decimal" ? field.value : Number(field.value))
          : field.value;
        if (field.dataset.row !== undefined) {
          listed = true;
          const row = rows.get(field.dataset.row) ?? {};
          row[field.dataset.key] = value;
          rows.set(field.dataset.row, row);
        } else {
          object[field.dataset.key] = value;
        }
      }
      hidden.value = JSON.stringify(listed ? [...rows.values()] : object);
    }
  },
  true,
);
