// Progressive enhancement of the Audit Logs page: local times, the custom range, filters that apply at once.
"use strict";

(function () {
  document.documentElement.classList.add("js");

  const localFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });

  function pad(number) {
    return String(number).padStart(2, "0");
  }

  // "YYYY-MM-DDTHH:MM:SS" in the viewer's time zone, the value a datetime-local input expects.
  function toLocalInput(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  function showLocalTimes() {
    for (const element of document.querySelectorAll("time[datetime]")) {
      const date = new Date(element.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) continue;
      if (!element.title) element.title = element.textContent.trim();
      element.textContent = localFormat.format(date);
    }
  }

  function wireViewForm(form) {
    const period = form.querySelector("#period");
    const range = form.querySelector("#range");
    const submit = () => (form.requestSubmit ? form.requestSubmit() : form.submit());

    for (const input of form.querySelectorAll("input[data-utc-field]")) {
      const hidden = form.querySelector('input[type=hidden][name="' + input.dataset.utcField + '"]');
      const effective = input.dataset.effective ? new Date(input.dataset.effective) : null;
      if (effective && !Number.isNaN(effective.getTime())) input.value = toLocalInput(effective);
      input.addEventListener("change", () => {
        const date = input.value ? new Date(input.value) : null;
        hidden.value = date && !Number.isNaN(date.getTime()) ? date.toISOString() : "";
        period.value = "custom";
      });
    }

    if (period) {
      period.addEventListener("change", () => {
        if (period.value === "custom") {
          range.classList.remove("collapsed");
          const first = range.querySelector("input[data-utc-field]");
          if (first) first.focus();
          return;
        }
        for (const hidden of range.querySelectorAll("input[type=hidden]")) hidden.value = "";
        submit();
      });
    }

    for (const box of form.querySelectorAll(".filters input[type=checkbox]")) {
      box.addEventListener("change", submit);
    }
    for (const pane of form.querySelectorAll(".filters fieldset[data-facet]")) wirePaneFinder(form, pane, submit);
    const size = document.getElementById("size");
    if (size) size.addEventListener("change", submit);

    // Keep shared URLs short: leave out empty fields.
    form.addEventListener("submit", () => {
      for (const field of form.querySelectorAll("input[name], select[name]")) {
        if (field.value === "") field.disabled = true;
      }
    });
  }

  // Typing in a pane hides the values that do not hold the text; a pane showing only its most frequent
  // values also asks the API for the others that hold it, under the same filters.
  function wirePaneFinder(form, pane, submit) {
    const input = pane.querySelector("input.pane-find");
    const options = pane.querySelector(".options");
    if (!input || !options) return;
    const param = pane.dataset.facet;
    const facet = param === "type" ? "log_type" : param;
    let timer = null;
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); });
    input.addEventListener("input", () => {
      const text = input.value.trim().toLowerCase();
      for (const option of options.querySelectorAll("label.option")) {
        const value = option.querySelector(".value").textContent.toLowerCase();
        option.hidden = text !== "" && !value.includes(text);
      }
      clearTimeout(timer);
      if (text && pane.dataset.truncated === "true") timer = setTimeout(() => lookUp(text), 300);
    });

    async function lookUp(text) {
      const params = new URLSearchParams();
      for (const [name, value] of new FormData(form)) if (value !== "" && name !== "size") params.append(name, value);
      params.set("contains", text);
      const response = await fetch("/api/v1/audit-logs/facets?" + params.toString(),
                                   { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok || input.value.trim().toLowerCase() !== text) return;
      const counts = (await response.json())[facet] || {};
      const shown = new Set(Array.from(options.querySelectorAll(".value"), (element) => element.textContent));
      for (const [value, count] of Object.entries(counts)) {
        if (shown.has(value)) continue;
        const option = document.createElement("label");
        option.className = "option found";
        option.title = value + ": " + count.toLocaleString() + " events";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.name = param;
        box.value = value;
        box.addEventListener("change", submit);
        const shownValue = document.createElement("span");
        shownValue.className = "value";
        shownValue.textContent = value;
        const shownCount = document.createElement("span");
        shownCount.className = "count";
        shownCount.textContent = count.toLocaleString();
        option.append(box, shownValue, shownCount);
        options.append(option);
      }
    }
  }

  function wireAutosubmit() {
    for (const select of document.querySelectorAll("select.autosubmit")) {
      select.addEventListener("change", () => select.form.submit());
    }
  }

  function wireSearchShortcut() {
    const search = document.getElementById("q");
    if (!search) return;
    document.addEventListener("keydown", (event) => {
      const typing = event.target.closest && event.target.closest("input, select, textarea");
      if (event.key === "/" && !typing) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    showLocalTimes();
    const form = document.getElementById("view");
    if (form) wireViewForm(form);
    wireAutosubmit();
    wireSearchShortcut();
  });
})();
