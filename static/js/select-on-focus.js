// Read-only boxes holding a link or a snippet select their text when focused, ready to
// copy. A file rather than an onfocus attribute: the Content-Security-Policy allows no
// inline script.
document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-on-focus]")) {
    event.target.select();
  }
});
