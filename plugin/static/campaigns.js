// The composer shows the preview of the template that is picked (without script: all of them).
document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("template");
  const previews = document.querySelectorAll("[data-template]");
  if (!select || previews.length === 0) return;
  const show = () => previews.forEach((p) => { p.hidden = p.dataset.template !== select.value; });
  select.addEventListener("change", show);
  show();
});

// The segment's live count: the rules as query parameters, the answer's sentence on the page.
document.addEventListener("DOMContentLoaded", () => {
  const count = document.querySelector("[data-segment-count]");
  const area = document.querySelector("[data-segment]");
  if (!count || !area) return;
  let timer = null;
  const refresh = () => {
    const params = new URLSearchParams();
    area.querySelectorAll("input, select").forEach((field) => {
      if (field.name) params.append(field.name, field.value);
    });
    fetch(`${count.dataset.url}?${params}`, { headers: { Accept: "application/json" } })
      .then((answer) => answer.json())
      .then((figures) => { count.textContent = figures.text || ""; })
      .catch(() => { count.textContent = ""; });
  };
  area.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 300); });
  refresh();
});
