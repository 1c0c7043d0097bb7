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

  // A number the app has just registered on the Cloud API: its two-step verification PIN, shown
  // this once (the server keeps it encrypted and never answers it again). The page reloads only
  // when the merchant says they have kept it.
  function showPin(answer) {
    const intro = document.createElement("p");
    intro.textContent = "Your number " + (answer.display_phone_number || answer.phone_number_id) +
      " is now registered on WhatsApp. Its two-step verification PIN is:";
    const pin = document.createElement("p");
    pin.className = "wa-pin";
    pin.dataset.waPin = "";
    pin.textContent = answer.two_step_pin;
    const keep = document.createElement("p");
    keep.textContent = "Keep it somewhere safe: Meta asks for it to register the number again or to " +
      "move it to another provider, and this app will not show it again.";
    const done = document.createElement("button");
    done.type = "button";
    done.textContent = "I have kept the PIN";
    done.addEventListener("click", function () { window.app.go(location.href); });
    result.replaceChildren(intro, pin, keep, done);
    result.dataset.tone = "success";
    result.hidden = false;
  }

  // Send one request; on success reload the page (it then shows the new state), or first show
  // the PIN of a number just registered; otherwise show what Meta or the app said, in place.
  async function call(path, method, payload, busyText) {
    show([busyText], "info");
    try {
      const init = { method: method };
      if (payload) {
        init.headers = { "Content-Type": "application/json" };
        init.body = JSON.stringify(payload);
      }
      const response = await window.app.apiFetch(path, init);
      if (response.ok) {
        const answer = response.status === 204 ? null : await response.json().catch(function () { return null; });
        if (answer && answer.two_step_pin) return showPin(answer);
        return window.app.go(location.href);
      }
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

  // ---- Meta's Embedded Signup (v4) ----------------------------------------------------------
  // FB.login with the configuration id and response_type "code" answers a code to exchange on
  // our server. The version is the login configuration's: a configuration whose products are
  // chosen is v4, and v4 takes an empty extras object and always posts its session info (Meta,
  // developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/versions
  // and .../embedded-signup/version-4). The popup's message (type WA_EMBEDDED_SIGNUP) tells how
  // it ended (Meta, .../whatsapp/embedded-signup/implementation, session logging):
  // FINISH (a Cloud API number), FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING (a number shared with
  // the WhatsApp Business app), FINISH_ONLY_WABA (an account without a number), or CANCEL with
  // data.current_step (closed at that step) or data.error_message (Meta reported an error).
  // The code, the ids and the state our server issued to this shop's session when the signup
  // started all go to our server together (Meta's SDK carries no state of ours).

  let signup = {};

  // "PHONE_NUMBER_VERIFICATION" -> "phone number verification": Meta's step names, readable.
  function stepWords(step) {
    return String(step).toLowerCase().replace(/_/g, " ");
  }

  // What the merchant reads when the popup ends without a number to connect.
  function endWords(event, data) {
    if (event !== "CANCEL") { // FINISH_ONLY_WABA, or a finish that named no number
      return ["Your WhatsApp Business account was set up without a phone number, so nothing was connected yet.",
        "Add a number to it in WhatsApp Manager (or choose one in the sign-in), then Connect with Facebook again."];
    }
    if (data.error_message) {
      return ["Meta stopped the sign-in with an error: " + data.error_message +
        (data.error_id ? " (Meta's error " + data.error_id + ")" : "") + ".",
        "Nothing was connected. Try Connect with Facebook again; if it happens again, connect with a token below."];
    }
    if (data.current_step) {
      return ["You closed Facebook's sign-in at the step \u201c" + stepWords(data.current_step) + "\u201d, so nothing was connected.",
        "Connect with Facebook again when you are ready: the steps you finished are kept by Meta."];
    }
    return ["Facebook's sign-in was closed before it finished, so nothing was connected."];
  }

  function sessionInfo(event) {
    if (!/(^|\.)facebook\.com$/.test(new URL(event.origin).hostname)) return;
    let message;
    try {
      message = typeof event.data === "string" ? JSON.parse(event.data) : event.data;
    } catch (error) {
      return;
    }
    if (!message || message.type !== "WA_EMBEDDED_SIGNUP") return;
    const data = message.data || {};
    if ((message.event === "FINISH" || message.event === "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING") && data.phone_number_id) {
      signup.waba_id = data.waba_id;
      signup.phone_number_id = data.phone_number_id;
      signup.busy = message.event === "FINISH"
        ? "Connecting your WhatsApp number (Meta registers a new one; this takes a few seconds)…"
        : "Connecting the number you use in the WhatsApp Business app…";
      finishSignup();
    } else if (String(message.event).indexOf("FINISH") === 0 || message.event === "CANCEL") {
      signup.ended = true; // the login callback that follows must not replace these words
      window.removeEventListener("message", sessionInfo);
      show(endWords(message.event, data), "critical");
    }
  }

  function finishSignup() {
    if (!signup.code || !signup.phone_number_id || !signup.state) return; // wait for the other parts
    window.removeEventListener("message", sessionInfo);
    const busy = signup.busy;
    const body = { code: signup.code, waba_id: signup.waba_id, phone_number_id: signup.phone_number_id, state: signup.state };
    signup = {};
    call("/api/whatsapp/embedded-signup", "POST", body, busy);
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
      } else if (!signup.ended) {
        show(["Facebook's sign-in was closed before it finished, so nothing was connected."], "critical");
      }
    }, {
      config_id: button.dataset.metaConfigId,
      response_type: "code",
      override_default_response_type: true,
      extras: {}, // v4: the login configuration chooses the flow
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
    if (response && response.ok) {
      window.app.toast("Frequency cap saved");
      return window.app.go(location.href);
    }
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
      if (response.ok) {
        window.app.toast("Consent setting saved");
        return window.app.go(location.href);
      }
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
