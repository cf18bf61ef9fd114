// Once a respondent picks an answer to a question marked as unanswered, its mark goes;
// once no mark is left, so does the banner above the form. Without JavaScript the page
// stays as the server sent it, and the server checks the answers again anyway.
document.addEventListener("change", (event) => {
  const scale = event.target.closest("fieldset.scale");
  const error = scale && scale.querySelector(".scale-error");
  if (!error) {
    return;
  }
  error.remove();
  for (const option of scale.querySelectorAll("[aria-invalid]")) {
    option.removeAttribute("aria-invalid");
    option.removeAttribute("aria-describedby");
  }
  const banner = document.querySelector("[data-answer-errors]");
  if (banner && !document.querySelector("form [aria-invalid='true'], form .is-invalid")) {
    banner.hidden = true;
  }
});
