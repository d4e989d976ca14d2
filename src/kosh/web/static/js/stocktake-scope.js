// The new-stocktake form: the zone typed in `[data-scope-zone]` becomes the JSON `scope`
// the API expects, in the form's hidden `[data-scope]` field.
for (const zone of document.querySelectorAll("input[data-scope-zone]")) {
  const scope = zone.form?.querySelector("input[data-scope]");
  if (!scope) continue;
  const update = () => {
    const value = zone.value.trim();
    scope.value = JSON.stringify(value ? { zone: value } : {});
  };
  zone.addEventListener("input", update);
  update();
}
