// A waiting or running task's admin page: asks GET /preview/{id} (status, progress, preview)
// every data-poll-ms and shows what it says; once the task is final, reloads the page once
// (which then shows its outputs and no live panel, so the polling ends).
"use strict";

(function () {
  const panel = document.getElementById("task-live");
  if (!panel) {
    return;
  }
  const FINAL = ["done", "error", "cancelled"];
  const every = Number(panel.dataset.pollMs) || 1000;
  const status = document.getElementById("task-live-status");
  const bar = document.getElementById("task-live-progress");
  const percent = document.getElementById("task-live-percent");
  const preview = document.getElementById("task-live-preview");

  function show(task) {
    panel.dataset.status = task.status;
    status.textContent = task.status;
    bar.value = task.progress;
    percent.textContent = Math.round(task.progress * 100) + "%";
    if (task.preview) {
      preview.src = task.preview;
      preview.hidden = false;
    }
  }

  async function poll() {
    try {
      // The browser revalidates with the ETag it holds, so an unchanged task costs a 304.
      const answer = await fetch(panel.dataset.pollUrl, { credentials: "omit", cache: "no-cache" });
      if (answer.status === 404) {
        status.textContent = "gone";
        return;
      }
      if (answer.ok) {
        show(await answer.json());
      }
    } catch (error) {
      // The router is restarting or the network blinked: ask again at the next tick.
    }
    if (FINAL.includes(panel.dataset.status)) {
      window.location.reload();
      return;
    }
    window.setTimeout(poll, every);
  }

  window.setTimeout(poll, every);
})();
