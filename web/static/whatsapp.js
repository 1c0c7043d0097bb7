// The Settings page's WhatsApp section: connect (token form or Meta's Embedded Signup), check
// again, disconnect. Every call goes through our API with a session token (app.js).
(function () {
  "use strict";

  const section = document.querySelector("[data-whatsapp-section]");
  if (!section || !window.app) return;
  const result = section.querySelector("[data-wa-result]");

  function show(lines, tone) {
    result.replaceChildren(...lines.map(function (text) {
      const line = document.createElement("p");
      line.textContent = text;
      return line;
    }));
    result.dataset.tone = tone;
    result.hidden = false;
  }

  const FIELD_LABELS = {
    waba_id: "WhatsApp Business Account id",
    phone_number_id: "Phone number id",
    access_token: "Access token",
    code: "Facebook sign-in",
    state: "Facebook sign-in",
    messages_per_second: "Send rate",
  };

  function problems(status, answer) {
    if (answer && answer.errors && answer.errors.length) {
      return answer.errors.map(function (e) {
        const label = FIELD_LABELS[e.field] || e.field;
        return label ? label + ": " + e.message : e.message;
      });
    }
    return [(answer && answer.message) || "WhatsApp could not be connected (HTTP " + status + "). Try again."];
  }

  // Send one request; on success reload the page (it then shows the new state), otherwise
  // show what Meta or the app said, in place.
  async function call(path, method, payload, busyText) {
    show([busyText], "info");
    try {
      const init = { method: method };
      if (payload) {
        init.headers = { "Content-Type": "application/json" };
        init.body = JSON.stringify(payload);
      }
      const response = await window.app.apiFetch(path, init);
      if (response.ok) return window.app.go(location.href);
      show(problems(response.status, await response.json().catch(function () { return null; })), "critical");
    } catch (error) {
      show(["The request did not reach the app. Check the connection and try again."], "critical");
    }
  }

  const capForm = section.querySelector("form[data-wa-cap]");
  if (capForm) {
    capForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const value = capForm.elements.messages_per_second.value.trim();
      const payload = { messages_per_second: value === "" ? null : Number(value) };
      call("/api/whatsapp/send-cap", "PUT", payload, "Saving the send rate…");
    });
  }

  const form = section.querySelector("form[data-wa-connect]");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      call("/api/whatsapp", "PUT", data, "Checking with Meta…");
    });
  }

  section.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-wa-action]");
    if (!button) return;
    const action = button.dataset.waAction;
    if (action === "disconnect") call("/api/whatsapp", "DELETE", null, "Disconnecting…");
    if (action === "refresh") call("/api/whatsapp/refresh", "POST", null, "Checking with Meta…");
    if (action === "embedded-signup") embeddedSignup(button);
  });

  // ---- Meta's Embedded Signup ------------------------------------------------------------
  // FB.login with the configuration id and response_type "code" answers a code to exchange
  // on our server; the popup's session-info message (type WA_EMBEDDED_SIGNUP, event FINISH)
  // carries the WABA and phone number ids the merchant chose. Both are needed, and so is the
  // state our server issued to this shop's session when the signup started: the server takes
  // a code only with it (Meta's SDK carries no state of ours, so the page keeps it meanwhile).

  let signup = {};

  function sessionInfo(event) {
    if (!/(^|\.)facebook\.com$/.test(new URL(event.origin).hostname)) return;
    let data;
    try {
      data = typeof event.data === "string" ? JSON.parse(event.data) : event.data;
    } catch (error) {
      return;
    }
    if (!data || data.type !== "WA_EMBEDDED_SIGNUP") return;
    // FINISH: a Cloud API number; FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING: a number shared with
    // the WhatsApp Business app; FINISH_ONLY_WABA: an account without a number yet.
    if (["FINISH", "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING", "FINISH_ONLY_WABA"].includes(data.event)) {
      signup.waba_id = data.data.waba_id;
      signup.phone_number_id = data.data.phone_number_id;
      finishSignup();
    } else if (data.event === "CANCEL") {
      show(["Embedded Signup was closed at step " + ((data.data && data.data.current_step) || "?") + "."], "critical");
    } else if (data.event === "ERROR") {
      show(["Meta reported: " + ((data.data && data.data.error_message) || "an error")], "critical");
    }
  }

  function finishSignup() {
    if (!signup.code || !signup.waba_id || !signup.state) return; // wait for the other parts
    if (!signup.phone_number_id) {
      show(["Meta did not say which phone number was chosen. Add a number in WhatsApp Manager, then connect again."], "critical");
      return;
    }
    call("/api/whatsapp/embedded-signup", "POST", signup, "Connecting your WhatsApp number…");
    signup = {};
  }

  function loadSdk(button) {
    return new Promise(function (resolve, reject) {
      if (window.FB) return resolve(window.FB);
      window.fbAsyncInit = function () {
        window.FB.init({ appId: button.dataset.metaAppId, autoLogAppEvents: true, xfbml: false, version: button.dataset.graphVersion });
        resolve(window.FB);
      };
      const script = document.createElement("script");
      script.src = "https://connect.facebook.net/en_US/sdk.js";
      script.async = true;
      script.crossOrigin = "anonymous";
      script.onerror = function () { reject(new Error("sdk")); };
      document.head.appendChild(script);
    });
  }

  // A state for this signup, issued to this shop's session (single use, ten minutes).
  async function newState() {
    const response = await window.app.apiFetch("/api/whatsapp/embedded-signup/state", { method: "POST" });
    const answer = await response.json().catch(function () { return null; });
    if (!response.ok || !answer || !answer.state) throw new Error("state");
    return answer.state;
  }

  async function embeddedSignup(button) {
    let FB, state;
    try {
      // Both at once: the browser lets a popup open only shortly after the click.
      [FB, state] = await Promise.all([loadSdk(button), newState()]);
    } catch (error) {
      show(["Facebook's sign-in could not be started. Try again, or connect with a token below."], "critical");
      return;
    }
    signup = { state: state };
    window.addEventListener("message", sessionInfo);
    FB.login(function (response) {
      if (response.authResponse && response.authResponse.code) {
        signup.code = response.authResponse.code;
        finishSignup();
      } else {
        show(["Embedded Signup did not finish, so nothing was connected."], "critical");
      }
    }, {
      config_id: button.dataset.metaConfigId,
      response_type: "code",
      override_default_response_type: true,
      extras: { setup: {}, sessionInfoVersion: "3" },
    });
  }
})();

// The Settings page's consent section: the SMS-consent toggle saves at once, then the page
// reloads to show the new reach; the frequency cap saves with its button.
(function () {
  "use strict";

  const toggle = document.querySelector("[data-consent-toggle]");
  if (!toggle || !window.app) return;
  const result = document.querySelector("[data-consent-result]");

  const capForm = document.querySelector("form[data-frequency-cap]");
  capForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    const value = capForm.elements.marketing_cap_hours.value.trim();
    const response = await window.app.apiFetch("/api/settings/consent", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ marketing_cap_hours: value === "" ? null : Number(value) }),
    }).catch(function () { return null; });
    if (response && response.ok) return window.app.go(location.href);
    const answer = response ? await response.json().catch(function () { return null; }) : null;
    result.textContent = (answer && answer.message) || "The frequency cap could not be saved.";
    result.hidden = false;
  });

  toggle.addEventListener("change", async function () {
    toggle.disabled = true;
    try {
      const response = await window.app.apiFetch("/api/settings/consent", {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sms_consent_counts: toggle.checked }),
      });
      if (response.ok) return window.app.go(location.href);
      const answer = await response.json().catch(function () { return null; });
      result.textContent = (answer && answer.message) || "The setting could not be saved (HTTP " + response.status + ").";
    } catch (error) {
      result.textContent = "The setting could not be saved: the app could not be reached.";
    }
    result.hidden = false;
    toggle.checked = !toggle.checked;
    toggle.disabled = false;
  });
})();
