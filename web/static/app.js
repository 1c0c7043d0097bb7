// The app's own script: session tokens, navigation inside the app, live numbers, lazy sections.
// Everything here enhances server-rendered HTML; without it the pages still read in full.
(function () {
  "use strict";

  const body = document.body;
  const shop = body.dataset.shop;
  const SETTLED = ["SENT", "PARTIALLY_SENT", "FAILED", "CANCELLED"];
  let loadedToken = new URLSearchParams(location.search).get("id_token");

  // ---- Session tokens --------------------------------------------------------------------
  // Inside the Shopify admin, App Bridge signs a fresh token on demand. Outside it (tests, a
  // page opened with a token in its URL) the token the page was loaded with serves until it
  // expires; under `make run` the app itself mints one (its explicit opt-in, direct loopback only).

  function secondsLeft(token) {
    try {
      const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      return claims.exp - Date.now() / 1000;
    } catch (error) {
      return -1;
    }
  }

  async function sessionToken() {
    if (window.shopify && typeof window.shopify.idToken === "function") {
      return window.shopify.idToken();
    }
    if (loadedToken && secondsLeft(loadedToken) > 5) return loadedToken;
    if (body.dataset.devTokens === "1") {
      const response = await fetch("/dev/session-token?shop=" + encodeURIComponent(shop), { cache: "no-store" });
      if (response.ok) return (await response.json()).token;
    }
    sessionEnded();
    throw new Error("no session token");
  }

  function sessionEnded() {
    const note = document.querySelector("[data-session-expired]");
    if (note) note.hidden = false;
  }

  function withToken(url, token) {
    const target = new URL(url, location.href);
    target.searchParams.set("id_token", token);
    return target.toString();
  }

  // An API call with a fresh token; a 401 carrying Shopify's retry header is retried once
  // with a new token (the one in hand had just expired).
  async function apiFetch(path, init) {
    for (let attempt = 0; ; attempt++) {
      const headers = new Headers((init && init.headers) || {});
      headers.set("Authorization", "Bearer " + (await sessionToken()));
      const response = await fetch(path, Object.assign({}, init, { headers: headers, cache: "no-store" }));
      const retry = response.headers.get("X-Shopify-Retry-Invalid-Session-Request");
      if (response.status !== 401 || !retry || attempt > 0) return response;
      loadedToken = null;
    }
  }

  // ---- Navigation inside the app ---------------------------------------------------------
  // Document requests prove the shop with ?id_token=, as the admin's first load does: links
  // and forms inside the app get a fresh one at the moment they are followed.

  async function go(url) {
    try {
      location.assign(withToken(url, await sessionToken()));
    } catch (error) {
      /* the session note is showing */
    }
  }

  function adminUrl(shopifyUrl) {
    // Outside the admin there is no App Bridge to resolve shopify://admin/...: open the same
    // page of this shop's admin directly.
    const path = shopifyUrl.replace(/^shopify:\/\/admin\//, "");
    return "https://admin.shopify.com/store/" + shop.replace(/\.myshopify\.com$/, "") + "/" + path;
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    // s-button with an href (a page header's primary action) navigates like a link.
    const link = event.target.closest("a[data-app-link], s-button[data-app-link][href]");
    if (link) {
      event.preventDefault();
      go(link.getAttribute("href"));
      return;
    }
    const admin = event.target.closest('a[href^="shopify://admin/"]');
    if (admin && !window.shopify) {
      event.preventDefault();
      // A link that opens beside (target _blank) keeps the fix list where it is.
      window.open(adminUrl(admin.getAttribute("href")), admin.target === "_blank" ? "_blank" : "_top");
    }
  });

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-app-form]");
    if (!form) return;
    event.preventDefault();
    const url = new URL(form.getAttribute("action"), location.href);
    for (const [key, value] of new FormData(form)) {
      if (value !== "") url.searchParams.append(key, value);
    }
    go(url.toString());
  });

  // ---- Toasts for done actions -------------------------------------------------------------
  // Inside the admin, App Bridge's shopify.toast shows the message in the admin's frame, where it
  // outlives the page's own reload. Without App Bridge (make run's plain browser) the message
  // waits in sessionStorage and the next page shows it in its status line for a few seconds.
  const TOAST_KEY = "app.toast";

  function toast(message) {
    if (!message) return;
    if (window.shopify && window.shopify.toast && typeof window.shopify.toast.show === "function") {
      window.shopify.toast.show(message);
      return;
    }
    try { sessionStorage.setItem(TOAST_KEY, message); } catch (error) { /* private mode: no toast */ }
  }

  (function showWaitingToast() {
    let message = null;
    try {
      message = sessionStorage.getItem(TOAST_KEY);
      sessionStorage.removeItem(TOAST_KEY);
    } catch (error) { return; }
    const line = document.querySelector("[data-toast]");
    if (!message || !line) return;
    line.textContent = message;
    line.hidden = false;
    setTimeout(function () { line.hidden = true; }, 5000);
  })();

  // ---- Settings forms sent as JSON (Settings: attribution window, rate card) -------------
  // Each named field becomes a key: numbers stay numbers, a data-json textarea is parsed (empty
  // is null). On success the page reloads with the stored values; on 422 each problem is listed.

  function jsonBody(form) {
    const body = {};
    form.querySelectorAll("[name]").forEach(function (field) {
      if (field.type === "number") body[field.name] = field.value === "" ? null : Number(field.value);
      else if (field.dataset.json !== undefined) body[field.name] = field.value.trim() ? JSON.parse(field.value) : null;
      else body[field.name] = field.value;
    });
    form.querySelectorAll("[data-rate-card]").forEach(function (card) {
      body[card.dataset.rateCard] = rateCard(card);
    });
    return body;
  }

  // ---- Own rates, one row per market (Settings) -----------------------------------------
  // The rows become {"currency", "rates": {"ES": {"marketing": "0.05"}, "*": {...}}}, amounts
  // as typed (the API says which is not a number); blank amounts and empty rows are left out.
  // A problem the merchant can see before sending (no country, a country twice) is said here.

  class RateProblem extends Error {}

  function rateCard(card) {
    const rates = {};
    card.querySelectorAll("[data-market]").forEach(function (row) {
      const amounts = {};
      row.querySelectorAll("[data-rate]").forEach(function (input) {
        if (input.value.trim()) amounts[input.dataset.rate] = input.value.trim();
      });
      if (!Object.keys(amounts).length) return;
      const select = row.querySelector("[data-rate-country]");
      const code = select ? select.value : "*";
      if (!code) throw new RateProblem("Choose the country of each row with rates.");
      if (rates[code]) throw new RateProblem(select.selectedOptions[0].text + " has two rows: keep one.");
      rates[code] = amounts;
    });
    if (!Object.keys(rates).length) {
      throw new RateProblem("Give at least one rate, or use Meta's rates.");
    }
    return { currency: card.querySelector("[data-rate-currency]").value.trim().toUpperCase(), rates: rates };
  }

  function nameMarket(row) {
    const select = row.querySelector("[data-rate-country]");
    if (!select) return;
    const name = select.value ? select.selectedOptions[0].text.replace(/ \(..\)$/, "") : "new market";
    row.querySelectorAll("[data-rate]").forEach(function (input) {
      input.setAttribute("aria-label", input.dataset.rate[0].toUpperCase() + input.dataset.rate.slice(1) + ", " + name);
    });
    row.querySelector("[data-remove-market]").setAttribute("aria-label", "Remove " + name);
  }

  // The save bar's Discard resets the form (a reset event): the rows come back as stored, the
  // added ones gone and the removed ones back, not only the values of the rows still there.
  document.querySelectorAll("[data-market-rows]").forEach(function (rows) {
    const stored = rows.innerHTML;
    rows.closest("form").addEventListener("reset", function () { rows.innerHTML = stored; });
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-rate-country]")) nameMarket(event.target.closest("[data-market]"));
  });

  document.addEventListener("click", function (event) {
    const add = event.target.closest("[data-add-market]");
    const remove = event.target.closest("[data-remove-market]");
    if (add) {
      const form = add.form;
      const template = form.querySelector("[data-market-template]");
      const row = template.content.firstElementChild.cloneNode(true);
      form.querySelector("[data-market-rows]").append(row);
      row.querySelector("[data-rate-country]").focus();
      form.dispatchEvent(new Event("change", { bubbles: true }));  // the save bar sees the change
    } else if (remove) {
      const form = remove.form;
      remove.closest("[data-market]").remove();
      form.querySelector("[data-add-market]").focus();  // the removed button took the focus with it
      form.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  document.addEventListener("submit", async function (event) {
    const form = event.target.closest("form[data-api-json]");
    if (!form) return;
    event.preventDefault();
    const result = form.querySelector("[data-api-action-result]");
    let problems;
    try {
      const response = await apiFetch(form.dataset.apiJson, {
        method: form.dataset.method || "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(jsonBody(form)),
      });
      if (response.ok) {
        toast(form.dataset.done || "Saved");
        return go(location.href);
      }
      const answer = await response.json();
      problems = answer.errors ? answer.errors.map(function (e) { return e.message; }) : [answer.message];
    } catch (error) {
      problems = [error instanceof RateProblem ? error.message
        : error instanceof SyntaxError ? "That is not valid JSON." : "Not saved: try again."];
    }
    result.replaceChildren(...problems.map(function (text) {
      const item = document.createElement("p");
      item.textContent = text;
      return item;
    }));
    result.hidden = false;
  });

  // ---- Dates in the shop's format beside the date pickers -----------------------------------
  // A native date picker writes dates the browser's way (11/20/2026 or 20/11/2026); the pages
  // write them the shop's locale's way (Babel's medium date). Each picker says its date that
  // way too, so one date never reads two ways on one page.

  function echoDate(input) {
    let echo = input.parentElement.querySelector("[data-date-echo]");
    if (!echo) {
      echo = document.createElement("span");
      echo.className = "subdued date-echo";
      echo.dataset.dateEcho = "";
      echo.setAttribute("aria-live", "polite");
      input.after(echo);
    }
    // The value is a wall-clock date (and time) of the shop: read and written as UTC, never shifted.
    const withTime = input.type === "datetime-local";
    const day = input.value ? new Date(input.value + (withTime ? ":00Z" : "T00:00:00Z")) : null;
    const style = withTime ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" };
    echo.textContent = day && !isNaN(day)
      ? new Intl.DateTimeFormat(document.documentElement.lang || "en", Object.assign({ timeZone: "UTC" }, style)).format(day)
      : "";
  }

  document.querySelectorAll('input[type="date"], input[type="datetime-local"]').forEach(function (input) {
    echoDate(input);
    input.addEventListener("input", function () { echoDate(input); });
  });

  // ---- Sections loaded after the first paint ---------------------------------------------

  async function fetchPage(url) {
    const response = await fetch(withToken(url, await sessionToken()), { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.text();
  }

  async function loadLazy(section) {
    try {
      section.innerHTML = await fetchPage(section.dataset.lazySrc);
    } catch (error) {
      const placeholder = section.querySelector("[data-lazy-placeholder]");
      if (placeholder) placeholder.textContent = "This section could not be loaded. Reload the page to try again.";
    }
    section.removeAttribute("aria-busy");
  }

  document.querySelectorAll("[data-lazy-src]").forEach(loadLazy);

  // ---- Live numbers while a campaign sends -----------------------------------------------
  // Poll the campaign's JSON with its ETag (an empty 304 while nothing changed, at most every
  // poll interval, paused while the tab is hidden); on a change, fetch the page once and swap
  // the regions whose HTML differs, so every number keeps the server's locale formatting.

  async function refreshRegions() {
    const html = await fetchPage(location.href);
    const fresh = new DOMParser().parseFromString(html, "text/html");
    document.querySelectorAll("[data-live-region]").forEach(function (region) {
      const next = fresh.getElementById(region.id);
      if (next && next.innerHTML !== region.innerHTML) region.innerHTML = next.innerHTML;
    });
  }

  function announce(text) {
    const status = document.querySelector("[data-live-status]");
    if (status) status.textContent = text;
  }

  function startLive(main) {
    const api = main.dataset.liveApi;
    const every = Math.max(Number(main.dataset.pollMs) || 5000, 200);
    let etag = main.dataset.etag || null;

    async function tick() {
      if (!document.hidden) {
        try {
          const response = await apiFetch(api, { headers: etag ? { "If-None-Match": etag } : {} });
          if (response.status === 200) {
            etag = response.headers.get("ETag");
            const campaign = await response.json();
            await refreshRegions();
            // The time as the pages write times: the shop's locale and time zone, not the browser's.
            const zone = document.querySelector('meta[name="shop-time-zone"]');
            const time = new Intl.DateTimeFormat(document.documentElement.lang || "en",
              { timeStyle: "short", timeZone: zone ? zone.content : undefined }).format(new Date());
            // A campaign settles; a page following a job (the phone fixes) has none pending.
            if (SETTLED.includes(campaign.status) || campaign.pending === 0) {
              announce(campaign.pending === 0
                ? "Done: every number has Shopify's answer (" + time + ")."
                : "Final numbers: the campaign has settled (" + time + ").");
              document.querySelectorAll("[data-lazy-src]").forEach(loadLazy);
              return; // settled: nothing will change any more
            }
            // "Live" only while messages are still being handed to WhatsApp; after that only a
            // late delivery report changes anything (core/reports/status.py).
            const line = campaign.status_line;
            announce(line && !line.moving ? line.label + " (updated " + time + ")." : "Live: updated at " + time + ".");
          }
        } catch (error) {
          if (!loadedToken && !window.shopify && body.dataset.devTokens !== "1") return;
        }
      }
      setTimeout(tick, every);
    }
    setTimeout(tick, every);
  }

  // ---- One-click phone fix -----------------------------------------------------------------
  // The failed-messages page offers the corrected number of a phone saved without its country
  // code; the button writes it to Shopify through our API and shows the answer in place.

  function showFixResult(slot, text, tone) {
    const result = slot.querySelector("[data-fix-result]");
    result.textContent = text;
    result.dataset.tone = tone;
    result.setAttribute("role", tone === "critical" ? "alert" : "status");
  }

  function fixApplied(customerId, customer) {
    document.querySelectorAll('[data-fix-slot][data-shopify-customer-id="' + customerId + '"]').forEach(function (slot) {
      const button = slot.querySelector("[data-fix-apply]");
      if (button) button.remove();
      showFixResult(slot, "Fixed in Shopify: " + customer.phone, "success");
      const phone = slot.closest("tr") && slot.closest("tr").querySelector(".phone");
      if (phone) phone.textContent = customer.phone;
    });
  }

  function fixMessage(status, answer) {
    if (status === 422 && answer && answer.errors && answer.errors.length) {
      return "Shopify did not accept it: " + answer.errors.map(function (e) { return e.message; }).join("; ");
    }
    return (answer && answer.message) || "The number could not be saved (HTTP " + status + "). Try again.";
  }

  async function applyFix(button) {
    const slot = button.closest("[data-fix-slot]");
    const customerId = slot.dataset.shopifyCustomerId;
    button.disabled = true;
    showFixResult(slot, "Saving in Shopify…", "info");
    try {
      const response = await apiFetch("/api/customers/" + encodeURIComponent(customerId) + "/fix-phone", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ phone: slot.dataset.suggestedPhone }),
      });
      const answer = await response.json().catch(function () { return null; });
      if (response.ok) {
        fixApplied(customerId, answer);
        return;
      }
      showFixResult(slot, fixMessage(response.status, answer), "critical");
    } catch (error) {
      showFixResult(slot, "The number could not be saved. Check the connection and try again.", "critical");
    }
    button.disabled = false;
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-fix-apply]");
    if (button && !button.disabled) applyFix(button);
  });

  // What page-specific scripts (static/whatsapp.js, ...) build on.
  window.app = { apiFetch: apiFetch, go: go };

  const live = document.querySelector("main[data-live-api]");
  if (live) startLive(live);

  // Other scripts of the app (static/composer.js) call the API the same way.
  window.campaignApp = { apiFetch: apiFetch, go: go };

  // ---- Confirmations ------------------------------------------------------------------------
  // A button with data-opens-modal="<id>" opens that Polaris <s-modal> instead of acting; the
  // modal's own button acts. Without polaris.js (its CDN unreachable) the same element shows
  // as a plain dialog (app.css), so nothing acts without its confirmation either way.

  function openModal(modal) {
    if (typeof modal.showOverlay === "function") return modal.showOverlay();
    modal.setAttribute("role", "dialog");
    modal.setAttribute("aria-modal", "true");
    modal.setAttribute("aria-label", modal.getAttribute("heading") || "Confirm");
    modal.setAttribute("data-open", "");
    const first = modal.querySelector("button:not([hidden]):not([disabled])");
    if (first) first.focus();
  }

  function closeModal(modal) {
    if (typeof modal.hideOverlay === "function") modal.hideOverlay();
    modal.removeAttribute("data-open");
  }

  document.addEventListener("click", function (event) {
    const opener = event.target.closest("[data-opens-modal]");
    if (opener) {
      const modal = document.getElementById(opener.dataset.opensModal);
      if (modal) openModal(modal);
      return;
    }
    // "Not now", or the confirmed action itself: the dialog goes, the action's answer shows on the page.
    const closer = event.target.closest("[data-closes-modal], s-modal > [slot='primary-action']");
    if (closer) closeModal(closer.closest("s-modal"));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("s-modal[data-open]").forEach(closeModal);
  });

  // ---- Campaign actions (launch, unschedule, cancel, delete, duplicate, fix all) ------------
  // Call the API (data-method, POST by default); on success go to data-then (its
  // "/campaigns/0/" becomes the answer's campaign) or reload the page (it then follows the
  // campaign live); on 422 list each failed check where data-result points (else beside the
  // button). A button inside a confirmation closes it as it acts.

  // Each problem is a sentence, or an API error {check, message}: too few credits links to
  // the credits section of Settings (creditsUrl), where more can be bought.
  function showProblems(result, problems, creditsUrl) {
    result.replaceChildren(...problems.map(function (problem) {
      const item = document.createElement("p");
      item.textContent = typeof problem === "string" ? problem : problem.message;
      if (problem && problem.check === "credits" && creditsUrl) {
        const link = document.createElement("a");
        link.href = creditsUrl;
        link.dataset.appLink = "";
        link.textContent = "Buy credits";
        item.append(" ", link);
      }
      return item;
    }));
    result.hidden = false;
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-api-action]");
    if (!button) return;
    const result = button.dataset.result ? document.querySelector(button.dataset.result)
      : button.parentElement.querySelector("[data-api-action-result]");
    const modal = button.closest("s-modal");
    if (modal) closeModal(modal);
    button.disabled = true;
    try {
      const response = await apiFetch(button.dataset.apiAction, { method: button.dataset.method || "POST" });
      if (response.ok) {
        toast(button.dataset.done);
        const answer = response.status === 204 ? {} : await response.json().catch(function () { return {}; });
        const next = button.dataset.then;
        return go(next ? next.replace("/campaigns/0/", "/campaigns/" + answer.id + "/").replace(/\/campaigns\/0(\?|$)/, "/campaigns/" + answer.id + "$1") : location.href);
      }
      const answer = await response.json();
      showProblems(result, answer.errors || [answer.message], button.dataset.creditsUrl);
    } catch (error) {
      result.textContent = button.dataset.actionFailure || "That did not work. Reload the page and try again.";
      result.hidden = false;
    }
    button.disabled = false;
  });

  // ---- Tables as cards on a phone --------------------------------------------------------
  // Under 640 px app.css lays each row out as a card; every cell then shows its column's
  // heading before its value (data-label), read once from the table's own header row.
  function labelCells(root) {
    root.querySelectorAll("table.data, table[data-cards]").forEach(function (table) {
      const headings = Array.from(table.querySelectorAll("thead th")).map(function (th) {
        return th.textContent.trim();
      });
      if (!headings.length) return;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.from(row.children).forEach(function (cell, n) {
          if (!cell.hasAttribute("data-label") && headings[n]) cell.setAttribute("data-label", headings[n]);
        });
      });
    });
  }
  labelCells(document);
  // Lazy sections and live numbers bring rows after load; they get their labels as they come.
  new MutationObserver(function (changes) {
    if (changes.some(function (c) { return c.addedNodes.length; })) labelCells(document);
  }).observe(document.body, { childList: true, subtree: true });

  window.app.toast = toast;
  window.app.openModal = openModal;
  window.app.closeModal = closeModal;
  window.app.showProblems = showProblems;
})();
