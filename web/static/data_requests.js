// The Settings page's customer data requests: download one as a JSON file, mark one done.
// Every call goes through our API with a session token (app.js).
(function () {
  "use strict";

  const section = document.querySelector("[data-requests-section]");
  if (!section || !window.app) return;
  const result = section.querySelector("[data-request-result]");

  function fail(text) {
    result.textContent = text;
    result.hidden = false;
  }

  async function download(id, customer) {
    const response = await window.app.apiFetch("/api/data-requests/" + id);
    if (!response.ok) return fail("The data could not be downloaded (HTTP " + response.status + ").");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = "customer-" + customer + "-data.json";
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  async function done(id, row) {
    const response = await window.app.apiFetch("/api/data-requests/" + id + "/done", { method: "POST" });
    if (!response.ok) return fail("The request could not be marked done (HTTP " + response.status + ").");
    row.remove();
    // The last one done: say so, as the page does when it opens with none.
    const table = section.querySelector("[data-requests-table]");
    if (table && !table.querySelector("[data-request-id]")) {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.dataset.requestsEmpty = "";
      empty.textContent = "No open requests.";
      table.replaceWith(empty);
    }
  }

  section.addEventListener("click", function (event) {
    const button = event.target.closest("[data-request-action]");
    if (!button) return;
    const row = button.closest("[data-request-id]");
    const id = row.dataset.requestId;
    if (button.dataset.requestAction === "download") download(id, button.dataset.customer);
    else done(id, row);
  });
})();
