// A form that creates a record (`<form data-api=... data-open-created="/purchase-orders/">`)
// opens the new record's page once the API answers with its id.

for (const form of document.querySelectorAll("form[data-open-created]")) {
  form.addEventListener("kosh:success", (event) => {
    const id = event.detail?.id;
    if (Number.isInteger(id)) window.location.assign(`${form.dataset.openCreated}${id}`);
  });
}
