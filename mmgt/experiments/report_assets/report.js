"use strict";
// Sort the metrics table by a clicked column: numbers by data-v (rows without one last), names by text.
function sortBy(th) {
  const table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  table.querySelectorAll("th").forEach(h => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const key = row => {
    const cell = row.cells[col];
    return col === 0 ? cell.textContent : (cell.dataset.v === undefined ? null : parseFloat(cell.dataset.v));
  };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === null || y === null) return (x === null) - (y === null);
    const order = typeof x === "string" ? x.localeCompare(y) : x - y;
    return ascending ? order : -order;
  });
  rows.forEach(r => body.appendChild(r));
}

// One clip: the speech drives the clock; every video follows it (play, pause, scrub, drift correction).
function syncClip(section) {
  const speech = section.querySelector("audio"), videos = Array.from(section.querySelectorAll("video"));
  const button = section.querySelector("button.play"), slider = section.querySelector("input.scrub");
  const clock = section.querySelector(".time");
  const follow = () => videos.forEach(v => { if (Math.abs(v.currentTime - speech.currentTime) > 0.08) v.currentTime = speech.currentTime; });
  const show = () => { slider.value = speech.currentTime; clock.textContent = speech.currentTime.toFixed(2) + " s"; };
  button.addEventListener("click", () => {
    if (speech.paused) { follow(); speech.play(); videos.forEach(v => v.play()); button.textContent = "pause"; }
    else { speech.pause(); videos.forEach(v => v.pause()); follow(); button.textContent = "play"; }
  });
  slider.addEventListener("input", () => { speech.currentTime = parseFloat(slider.value); follow(); show(); });
  speech.addEventListener("timeupdate", () => { follow(); show(); });
  speech.addEventListener("ended", () => { videos.forEach(v => v.pause()); button.textContent = "play"; });
  const toggle = section.querySelector("input.views");
  if (toggle) toggle.addEventListener("change", () => section.classList.toggle("views", toggle.checked));
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => sortBy(th)));
  document.querySelectorAll("section.clip").forEach(syncClip);
});
