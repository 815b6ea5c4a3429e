// Settings -> Audit Logs -> Configuration: copy buttons, the live layout preview and the progress of "Run now".
"use strict";

(function () {
  const POLL_MS = 1000;
  const PREVIEW_DELAY_MS = 150;

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }

  function wireCopyButtons() {
    for (const button of document.querySelectorAll("button[data-copy]")) {
      button.addEventListener("click", () => {
        const source = document.getElementById(button.dataset.copy);
        copyText(source.textContent).then(() => {
          button.textContent = "Copied";
          button.classList.add("copied");
          setTimeout(() => { button.textContent = "Copy"; button.classList.remove("copied"); }, 2000);
        }, () => { button.textContent = "Select and copy"; });
      });
    }
  }

  // The preview and each field's problem come from the server, which applies the same rules as saving.
  function wirePreview(form) {
    const touched = new Set();
    let timer = null;
    let latest = 0;
    const names = ["bucket", "prefix", "region", "frequency_hours", "role_arn"];

    function refresh() {
      const query = new URLSearchParams();
      for (const name of names) query.set(name, form.elements[name].value);
      const ticket = ++latest;
      fetch(form.dataset.previewUrl + "?" + query.toString(), {credentials: "same-origin"})
        .then((response) => (response.ok ? response.json() : null))
        .then((answer) => {
          if (!answer || ticket !== latest) return;
          document.getElementById("layout-preview").textContent = answer.layout;
          const policy = document.getElementById("permissions-policy");
          if (policy) policy.textContent = JSON.stringify(answer.permissions_policy, null, 2);
          const read = document.getElementById("read-policy");
          if (read && answer.read_policy) read.textContent = JSON.stringify(answer.read_policy, null, 2);
          for (const name of names) {
            const slot = form.querySelector('[data-error-for="' + name + '"]');
            const message = touched.has(name) ? (answer.errors[name] || "") : slot.textContent;
            slot.textContent = message;
            form.elements[name].setAttribute("aria-invalid", message ? "true" : "false");
          }
        })
        .catch(() => {});
    }

    for (const name of names) {
      const field = form.elements[name];
      const changed = () => {
        touched.add(name);
        clearTimeout(timer);
        timer = setTimeout(refresh, PREVIEW_DELAY_MS);
      };
      field.addEventListener("input", changed);
      field.addEventListener("change", changed);
    }
  }

  function watchRun(status) {
    fetch(status.dataset.statusUrl, {credentials: "same-origin"})
      .then((response) => (response.ok ? response.json() : null))
      .then((run) => {
        if (!run) return;
        if (run.state === "queued" || run.state === "running") {
          status.firstChild.textContent = run.state === "running" ? "Running… " : "Queued… ";
          setTimeout(() => watchRun(status), POLL_MS);
        } else {
          window.location.reload();  // the page then shows the outcome, and the health column includes it
        }
      })
      .catch(() => setTimeout(() => watchRun(status), POLL_MS));
  }

  document.addEventListener("DOMContentLoaded", () => {
    wireCopyButtons();
    const form = document.getElementById("export-form");
    if (form) wirePreview(form);
    for (const status of document.querySelectorAll(".run-status[data-state=queued], .run-status[data-state=running]")) {
      watchRun(status);
    }
  });
})();
