// The composer shows the preview of the template that is picked (without script: all of them).
document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("template");
  const previews = document.querySelectorAll("[data-template]");
  if (!select || previews.length === 0) return;
  const show = () => previews.forEach((p) => { p.hidden = p.dataset.template !== select.value; });
  select.addEventListener("change", show);
  show();
});
