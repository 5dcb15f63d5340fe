// Pinchwork pages: live figures and copy buttons. Every page works without it.
"use strict";

function refreshFigures(list) {
  fetch(list.dataset.src, { headers: { Accept: "application/json" }, cache: "no-store" })
    .then((r) => (r.ok ? r.json() : null))
    .then((figures) => {
      if (!figures) return;
      for (const dd of list.querySelectorAll("[data-figure]")) {
        const value = figures[dd.dataset.figure];
        if (value !== undefined) dd.textContent = String(value);
      }
    })
    .catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("figures");
  if (list) setInterval(() => refreshFigures(list), 3000);

  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source || !navigator.clipboard) return;
      navigator.clipboard.writeText(source.textContent).then(() => {
        button.textContent = "Copied";
        setTimeout(() => (button.textContent = "Copy"), 1500);
      });
    });
  }
});
