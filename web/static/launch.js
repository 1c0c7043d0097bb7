// The confirmation before a launch (templates/_launch_confirm.html): what launching will do,
// read from GET /api/campaigns/<id>/launch-summary, with a one-click "leave them out" for the
// US numbers a marketing template will not reach. The campaign page's Launch now and the
// composer's both go through window.app.confirmLaunch.
(function () {
  "use strict";

  const modal = document.querySelector("[data-launch-modal]");
  if (!modal || !window.app) return;
  const app = window.app;
  const lang = document.documentElement.lang || "en";
  const go = modal.querySelector("[data-launch-go]");
  let pending = null; // { urls, resolve, summary }

  function field(name) { return modal.querySelector('[data-summary-field="' + name + '"]'); }
  function number(n) { return new Intl.NumberFormat(lang).format(n); }
  // Singular or plural by the page locale's rule (Intl.PluralRules: the CLDR rules Babel uses).
  function plural(n, one) { return number(n) + " " + one + (new Intl.PluralRules(lang).select(n) === "one" ? "" : "s"); }
  function money(m) {
    try {
      return new Intl.NumberFormat(lang, { style: "currency", currency: m.currency }).format(Number(m.amount));
    } catch (error) {
      return m.amount + " " + m.currency;
    }
  }

  function show(s) {
    field("recipients").textContent = plural(s.recipients, "subscribed recipient")
      + (s.held_out ? "; " + plural(s.held_out, "more customer") + " held out at random, sent nothing" : "");
    field("cost").textContent = "About " + money(s.estimated_cost) + ", charged by Meta for each message delivered"
      + (s.unpriced_recipients ? " (" + plural(s.unpriced_recipients, "recipient") + " in countries your rates do not price)" : "") + ".";
    field("credits").textContent = s.credits_after >= 0
      ? number(s.credits_needed) + " of your " + number(s.credits) + " (one per recipient): " + number(s.credits_after) + " left after it."
      : number(s.credits_needed) + " needed and you have " + number(s.credits) + ": top up " + number(-s.credits_after) + " before launching.";
    modal.querySelector("[data-summary-us]").hidden = !s.us_recipients;
    field("us").textContent = plural(s.us_recipients, "recipient") + " with United States (+1) numbers.";
    go.textContent = "Launch to " + plural(s.recipients, "recipient");
    go.disabled = s.recipients === 0;
    modal.querySelector("[data-summary-loading]").hidden = true;
    modal.querySelector("[data-summary]").hidden = false;
  }

  function problem(text) {
    const slot = modal.querySelector("[data-summary-problem]");
    slot.textContent = text;
    slot.hidden = !text;
  }

  async function load() {
    problem("");
    go.disabled = true;
    try {
      const response = await app.apiFetch(pending.urls.summary);
      if (!response.ok) throw new Error("HTTP " + response.status);
      pending.summary = await response.json();
      show(pending.summary);
    } catch (error) {
      problem("What this launch would do could not be read. Close this and try again.");
    }
  }

  function settle(answer) {
    if (!pending) return;
    const done = pending.resolve;
    pending = null;
    app.closeModal(modal);
    done(answer);
  }

  // Resolves true when the merchant confirms, false when they do not.
  app.confirmLaunch = function (urls) {
    if (pending) pending.resolve(false);
    return new Promise(function (resolve) {
      pending = { urls: urls, resolve: resolve };
      modal.querySelector("[data-summary-loading]").hidden = false;
      modal.querySelector("[data-summary]").hidden = true;
      app.openModal(modal);
      load();
    });
  };

  modal.addEventListener("click", async function (event) {
    if (event.target.closest("[data-launch-go]")) return settle(true);
    if (event.target.closest("[data-launch-cancel]")) return settle(false);
    const leaveOut = event.target.closest("[data-leave-out-us]");
    if (!leaveOut || !pending || !pending.summary) return;
    leaveOut.disabled = true;
    const audience = Object.assign({}, pending.summary.audience, { exclude_us_numbers: true });
    const response = await app.apiFetch(pending.urls.estimate, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ audience: audience }),
    });
    leaveOut.disabled = false;
    if (!response.ok) return problem("The US numbers could not be left out. Try again.");
    document.dispatchEvent(new CustomEvent("campaign:us-left-out"));
    load();
  });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") settle(false); });

  // The campaign page's Launch now: confirm, then launch; a refused launch lists its checks.
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-launch-confirm]");
    if (!button) return;
    const result = document.querySelector(button.dataset.result);
    const confirmed = await app.confirmLaunch({ summary: button.dataset.summaryUrl, estimate: button.dataset.estimateUrl });
    if (!confirmed) return;
    button.disabled = true;
    try {
      const response = await app.apiFetch(button.dataset.launchUrl, { method: "POST" });
      if (response.ok) return app.go(location.href);
      const answer = await response.json();
      app.showProblems(result, answer.errors || [answer.message], button.dataset.creditsUrl);
    } catch (error) {
      app.showProblems(result, ["The campaign could not be launched. Reload the page and try again."]);
    }
    button.disabled = false;
  });
})();
