// Forms with data-go-to="/things/{id}": after a successful API answer, open the page of
// what was created (the answer's id fills {id}).

for (const form of document.querySelectorAll("form[data-go-to]")) {
  form.addEventListener("kosh:success", (event) => {
    const id = event.detail?.id;
    if (id !== undefined) window.location.assign(form.dataset.goTo.replace("{id}", encodeURIComponent(id)));
  });
}
