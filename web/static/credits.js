// The Settings page's credits: "Buy credits" asks our API for a Shopify purchase of the pack
// and sends the merchant to Shopify's approval page, top-level (inside the admin App Bridge
// takes `open(url, "_top")` to the whole window, as Shopify's billing pages cannot be framed).
// Shopify brings the merchant back with `credit_purchase=returned`: the page then asks our API
// to read the purchase from Shopify, so approved credits show at once, without waiting for
// Shopify's webhook; a later visit with a purchase still waiting asks again.
(function () {
  "use strict";

  const section = document.querySelector("[data-credits-section]");
  if (!section || !window.app) return;
  const result = section.querySelector("[data-credits-result]");
  const balance = section.querySelector("[data-credit-balance]");

  function say(text) {
    result.textContent = text;
    result.hidden = false;
  }

  function problem(answer, status) {
    if (answer && answer.errors) return answer.errors.map(function (e) { return e.message; }).join(" ");
    if (answer && answer.message) return answer.message;
    return "Shopify could not be asked (HTTP " + status + "). Try again in a moment.";
  }

  async function buy(button) {
    button.disabled = true;
    say("Asking Shopify for the charge…");
    try {
      const response = await window.app.apiFetch("/api/credits/purchase", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ pack: button.dataset.buyPack }),
      });
      const answer = await response.json().catch(function () { return null; });
      if (!response.ok || !answer || !answer.confirmation_url) {
        say(problem(answer, response.status));
        button.disabled = false;
        return;
      }
      window.open(answer.confirmation_url, "_top");
    } catch (error) {
      say("Shopify could not be asked. Reload the page and try again.");
      button.disabled = false;
    }
  }

  // `returned`: the merchant is back from Shopify's page and expects an answer either way.
  // Otherwise (a purchase still waiting on a later visit) only news is worth saying.
  async function confirmPurchases(returned) {
    if (returned) say("Checking your purchase with Shopify…");
    const response = await window.app.apiFetch("/api/credits/purchases/confirm", { method: "POST" });
    const answer = await response.json().catch(function () { return null; });
    if (!response.ok || !answer) return returned ? say(problem(answer, response.status)) : null;
    balance.textContent = Number(answer.balance).toLocaleString();
    if (answer.credited > 0) say(Number(answer.credited).toLocaleString() + " credits added.");
    else if (returned) say("No new credits: a declined charge adds none, and a pending one is added as soon as Shopify confirms it.");
  }

  section.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-buy-pack]");
    if (button) buy(button);
  });

  const returned = new URLSearchParams(location.search).get("credit_purchase") === "returned";
  if (returned || section.hasAttribute("data-credits-waiting")) confirmPurchases(returned);
})();
