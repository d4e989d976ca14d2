// `<button data-print>` prints the page (the print stylesheet keeps only the label).
for (const button of document.querySelectorAll("button[data-print]")) {
  button.addEventListener("click", () => window.print());
}
