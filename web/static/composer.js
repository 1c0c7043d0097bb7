// The campaign composer (templates/composer.html): one field per parameter of the chosen
// template, a live preview and estimate, and save / schedule / launch through the JSON API,
// whose refusals are shown next to the field each names (components.header, name, ...).
(function () {
  "use strict";

  const form = document.querySelector("[data-composer]");
  if (!form) return;
  const app = window.campaignApp;
  const templates = JSON.parse(form.querySelector("[data-templates]").textContent);
  const draft = JSON.parse(form.querySelector("[data-draft]").textContent);
  const select = form.querySelector("#c-template");
  const slot = form.querySelector("[data-parameters]");
  const FIELDS = [["", "Text"], ["first_name", "Customer's first name"], ["last_name", "Customer's last name"], ["name", "Customer's full name"]];
  const MEDIA = ["IMAGE", "VIDEO", "DOCUMENT"];
  let campaignId = draft ? draft.id : null;

  // ---- The template as Meta lists it -------------------------------------------------------
  function part(template, type) {
    return (template.components || []).find(function (c) { return (c.type || "").toUpperCase() === type; });
  }
  function placeholders(text) {
    const found = [];
    (text || "").replace(/\{\{\s*([^}\s]+)\s*\}\}/g, function (_m, name) { if (!found.includes(name)) found.push(name); });
    return found;
  }
  function chosen() { return select.value === "" ? null : templates[Number(select.value)]; }

  // ---- Building the fields -------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) { node.setAttribute(k, v); });
    (children || []).forEach(function (c) { node.append(c); });
    return node;
  }
  let seq = 0;
  function labelled(label, input) {
    input.id = "p-" + (++seq);
    return el("div", { class: "field" }, [el("label", { for: input.id }, [label]), input]);
  }
  function group(field, title, children) {
    return el("fieldset", { class: "component", "data-component": field }, [el("legend", {}, [title]), ...children,
      el("p", { class: "field-error", "data-error-for": field, hidden: "" })]);
  }
  // A text parameter: a literal, or a customer field with a fallback (Meta refuses empty text).
  function textParameter(label, name, given) {
    const mode = el("select", { "data-mode": "" }, FIELDS.map(function ([v, t]) { return el("option", { value: v }, [t]); }));
    const value = el("input", { "data-value": "" });
    mode.value = (given && given.field) || "";
    value.value = given ? (given.field ? given.fallback || "" : given.text || "") : "";
    const row = el("div", { class: "parameter", "data-parameter": name || "" }, [labelled(label, mode), labelled("Text, or the fallback for an empty field", value)]);
    return row;
  }
  function readText(row) {
    const mode = row.querySelector("[data-mode]").value, value = row.querySelector("[data-value]").value;
    const parameter = mode ? { type: "text", field: mode, fallback: value } : { type: "text", text: value };
    if (row.dataset.parameter) parameter.parameter_name = row.dataset.parameter;
    return parameter;
  }
  // The editor being built: the main template's (the draft's components) or an A/B variant's.
  let editing = null;
  function given(field) {
    const components = (editing ? editing.old : draft && draft.components) || [];
    return components.find(function (c) { return (c.type === "button" ? "components.button[" + c.index + "]" : "components." + c.type) === field; });
  }
  function textGroup(field, title, names, named) {
    const old = given(field), rows = names.map(function (name, n) {
      const before = old && old.parameters[n];
      return textParameter(named ? "{{" + name + "}}" : "{{" + (n + 1) + "}}", named ? name : "", before);
    });
    return rows.length ? group(field, title, rows) : null;
  }
  function inputGroup(field, title, label, key, value) {
    const input = el("input", { "data-key": key });
    input.value = value || "";
    return group(field, title, [labelled(label, input)]);
  }

  function buttonGroup(button, index) {
    const field = "components.button[" + index + "]", type = (button.type || "").toUpperCase(), old = given(field);
    const first = old && old.parameters[0];
    if (type === "URL" && placeholders(button.url).length) {
      const row = textParameter("Link suffix for " + button.url, "", first && !first.track ? first : null);
      // Only a button whose URL is {SHOPIFY_APP_URL}/r/{{1}} can carry a tracked link; a draft
      // that already asks for one elsewhere keeps its choice, and the save says why it cannot.
      if (((editing ? editing.template : chosen()).trackable_buttons || []).includes(index) || (first && first.track)) {
        row.querySelector("[data-mode]").append(el("option", { value: "track" }, ["Tracked link to a destination"]));
      }
      if (first && first.track) { row.querySelector("[data-mode]").value = "track"; row.querySelector("[data-value]").value = first.track; }
      const node = group(field, "Button " + (index + 1) + ": " + (button.text || "link"), [row]);
      node.dataset.sub = "url";
      return node;
    }
    const kinds = { COPY_CODE: ["copy_code", "coupon_code", "Coupon code (up to 15 characters)"], QUICK_REPLY: ["quick_reply", "payload", "Payload returned on tap (optional)"],
      CATALOG: ["catalog", "thumbnail", "Thumbnail product SKU (optional)"], MPM: ["mpm", "thumbnail", "Thumbnail product SKU"] };
    const kind = kinds[type];
    if (!kind) return null;
    const value = first ? (first.payload || first.coupon_code || (first.action && first.action.thumbnail_product_retailer_id)) : "";
    const node = inputGroup(field, "Button " + (index + 1) + ": " + (button.text || type.toLowerCase()), kind[2], kind[1], value);
    node.dataset.sub = kind[0];
    return node;
  }

  function build() {
    const template = chosen();
    slot.replaceChildren();
    form.querySelector("[data-no-parameters]").hidden = !!template;
    if (!template) return;
    fields(template, slot, null);
    refresh();
  }
  // One field group per parameter of ``template`` into ``target``; ``old``: the components to
  // fill them from (null: the draft's).
  function fields(template, target, old) {
    editing = old ? { template: template, old: old } : null;
    const named = template.parameter_format === "NAMED", header = part(template, "HEADER"), body = part(template, "BODY");
    const format = header ? (header.format || "TEXT").toUpperCase() : null;
    const groups = [];
    if (MEDIA.includes(format)) {
      const old = given("components.header"), kind = format.toLowerCase();
      const link = old && old.parameters[0] && old.parameters[0][kind] ? old.parameters[0][kind].link : "";
      const node = inputGroup("components.header", "Header " + kind, "Link to the " + kind + " (https, hosted by you)", "link", link);
      node.dataset.media = kind;
      groups.push(node);
    } else if (format === "TEXT") {
      groups.push(textGroup("components.header", "Header", placeholders(header.text), named));
    }
    groups.push(textGroup("components.body", "Body", placeholders(body && body.text), named));
    ((part(template, "BUTTONS") || {}).buttons || []).forEach(function (b, i) { groups.push(buttonGroup(b, i)); });
    groups.filter(Boolean).forEach(function (g) { target.append(g); });
    editing = null;
  }

  // ---- Reading the fields into Meta's component shape -----------------------------------------
  function components(target) {
    return Array.from((target || slot).querySelectorAll("[data-component]")).map(function (node) {
      const field = node.dataset.component;
      if (field === "components.header" && node.dataset.media) {
        const kind = node.dataset.media, link = node.querySelector("[data-key]").value.trim();
        return link ? { type: "header", parameters: [{ type: kind, [kind]: { link: link } }] } : null;
      }
      if (!field.startsWith("components.button")) {
        return { type: field.split(".")[1], parameters: Array.from(node.querySelectorAll("[data-parameter]")).map(readText) };
      }
      return button(node, field.match(/\[(\d)\]/)[1]);
    }).filter(Boolean);
  }
  function button(node, index) {
    const sub = node.dataset.sub, base = { type: "button", sub_type: sub, index: index };
    if (sub === "url") {
      const row = node.querySelector("[data-parameter]"), mode = row.querySelector("[data-mode]").value;
      const value = row.querySelector("[data-value]").value.trim();
      if (!value && !mode) return null;
      return Object.assign(base, { parameters: [mode === "track" ? { track: value } : readText(row)] });
    }
    const value = node.querySelector("[data-key]").value.trim();
    if (!value) return null;
    const parameter = { copy_code: { type: "coupon_code", coupon_code: value }, quick_reply: { type: "payload", payload: value } }[sub]
      || { type: "action", action: { thumbnail_product_retailer_id: value } };
    return Object.assign(base, { parameters: [parameter] });
  }
  function tags(name) {
    return form.elements[name].value.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
  }
  function audience() {
    const rule = { include_tags: tags("include_tags"), exclude_tags: tags("exclude_tags") };
    if (form.elements.exclude_us_numbers.checked) rule.exclude_us_numbers = true;
    return rule;
  }
  function request() {
    const template = chosen(), ref = template ? { name: template.name, language: template.language } : null;
    const body = { name: form.elements.name.value.trim(), template: ref, audience: audience(), holdout: holdout(), send_time: sendTime() };
    if (!abOn()) return Object.assign(body, { components: components() });
    const first = { name: form.elements.variant_a_name.value.trim(), template: ref, components: components(), share: Number(form.elements.variant_a_share.value) };
    return Object.assign(body, { variants: [first].concat(variantNodes().map(readVariant)), experiment: { metric: form.elements.experiment_metric.value }, test_then_send: testThenSend() });
  }
  function testThenSend() {
    if (!form.elements.test_then_send.checked) return null;
    return { share: Number(form.elements.test_share.value), hours: Number(form.elements.test_hours.value) };
  }
  function sendTime() {
    const mode = form.elements.send_time_mode.value;
    return mode === "per_customer" ? { mode: mode, window_hours: Number(form.elements.send_time_window.value) } : { mode: "now" };
  }
  function holdout() {
    const share = form.elements.holdout_share.value.trim();
    return share === "" || share === "0" ? null : { share: Number(share) };
  }

  // ---- Refusals next to their fields ------------------------------------------------------------
  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (node) { node.hidden = true; node.textContent = ""; });
  }
  const CHECKS = { audience: "audience", credits: "audience", template_approved: "template", template_category: "template" };
  function slotFor(error) {
    const field = (error.field || CHECKS[error.check] || "general").replace(/^(variants\[\d\]).*$/, "$1").replace(/\.parameters\[\d+\]$/, "").replace(/^(\w+)\..*$/, function (m, head) { return head === "components" ? m : head; });
    return form.querySelector('[data-error-for="' + CSS.escape(field) + '"]') || form.querySelector('[data-error-for="general"]');
  }
  function showErrors(errors) {
    errors.forEach(function (error) {
      const target = slotFor(error);
      target.textContent = (target.textContent ? target.textContent + " " : "") + error.message;
      target.hidden = false;
    });
  }

  // ---- Checks before saving, in the same words as the API's ----------------------------------
  const EXTENSIONS = { ".jpg": "image", ".jpeg": "image", ".png": "image", ".mp4": "video", ".3gp": "video", ".pdf": "document" };
  const ACCEPTS = { image: "a JPEG or PNG image", video: "an MP4 or 3GPP video", document: "a PDF document" };
  const NAMES = { ".pdf": "a PDF", ".mp4": "a video", ".3gp": "a video" };
  function mediaProblem(kind, link) {
    if (!/^https:\/\/[^\s/]+/.test(link)) return "The " + kind + " link must start with https://";
    let path = "";
    try { path = new URL(link).pathname.toLowerCase(); } catch (error) { return "The " + kind + " link must start with https://"; }
    const last = path.split("/").pop(), extension = last.includes(".") ? last.slice(last.lastIndexOf(".")) : "";
    const found = EXTENSIONS[extension];
    if (!found || found === kind) return null;
    return "This link is " + (NAMES[extension] || "an image") + ": " + (kind === "image" ? "an " : "a ") + kind + " header takes " + ACCEPTS[kind] + ".";
  }
  function localProblems() {
    const problems = [];
    if (!form.elements.name.value.trim()) problems.push({ field: "name", message: "Give the campaign a name." });
    if (!chosen()) problems.push({ field: "template", message: "Choose a template." });
    const share = form.elements.holdout_share.value.trim();
    if (share !== "" && !(/^\d+$/.test(share) && Number(share) <= 50)) {
      problems.push({ field: "holdout", message: "The holdout is a whole percent from 0 to 50." });
    }
    slot.querySelectorAll("[data-media]").forEach(function (node) {
      const link = node.querySelector("[data-key]").value.trim();
      const wrong = link ? mediaProblem(node.dataset.media, link) : null;
      if (wrong) problems.push({ field: "components.header", message: wrong });
    });
    slot.querySelectorAll('[data-sub="url"]').forEach(function (node) {
      const mode = node.querySelector("[data-mode]").value, value = node.querySelector("[data-value]").value.trim();
      if (mode === "track" && !/^https:\/\/[^\s/]+/.test(value)) {
        problems.push({ field: node.dataset.component, message: "The tracked link's destination must start with https://" });
      }
    });
    return problems;
  }

  // ---- Live preview and estimate ------------------------------------------------------------------
  let timer = null;
  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(function () { preview(); estimate(); sendTimes(); }, 300);
  }
  async function preview() {
    const template = chosen(), target = form.querySelector("[data-live-preview] .bubble");
    if (!template) return;
    const response = await app.apiFetch(form.dataset.previewUrl, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ definition: template.components || [], components: components(), audience: audience() }) });
    if (!response.ok) return;
    renderPreview(target, (await response.json()).preview);
  }
  function renderPreview(target, p) {
    const nodes = [];
    if (p.header && p.header.kind === "image" && p.header.link) nodes.push(el("img", { class: "preview-media", src: p.header.link, alt: "Header image" }));
    else if (p.header && p.header.kind === "text") nodes.push(el("p", { class: "preview-header" }, [el("strong", {}, [p.header.text])]));
    else if (p.header) nodes.push(el("p", { class: "preview-header subdued" }, [p.header.kind + ": " + (p.header.link || "no link yet")]));
    nodes.push(el("p", { class: "preview-body", "data-preview-body": "" }, [p.body]));
    if (p.footer) nodes.push(el("p", { class: "preview-footer subdued" }, [p.footer]));
    if (p.buttons.length) nodes.push(el("ul", { class: "preview-buttons" }, p.buttons.map(function (b) { return el("li", {}, [b.text + (b.url ? " → " + b.url : "")]); })));
    target.replaceChildren(...nodes);
  }
  // Counting a large shop's audience takes a moment: the line says so meanwhile, and only the
  // answer to the latest question is shown (an older one arriving late is dropped).
  let estimateAsked = 0;
  async function estimate() {
    const template = chosen(), out = form.querySelector("[data-estimate]"), asked = ++estimateAsked;
    out.setAttribute("aria-busy", "true");
    out.replaceChildren(el("span", { class: "subdued", "data-estimate-loading": "" }, ["Counting the recipients…"]));
    const response = await app.apiFetch(form.dataset.estimateUrl, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ audience: audience(), category: template ? template.category : null }) }).catch(function () { return null; });
    if (asked !== estimateAsked) return;
    out.removeAttribute("aria-busy");
    if (!response || !response.ok) {
      out.replaceChildren("The recipients could not be counted just now; the launch confirmation counts them again.");
      return;
    }
    const answer = await response.json();
    // The page's locale picks singular or plural (Intl.PluralRules, the same CLDR rules as Babel).
    const count = answer.estimated_audience, lang = document.documentElement.lang || "en";
    const one = new Intl.PluralRules(lang).select(count) === "one";
    variantEstimates(count, lang);
    out.replaceChildren(el("strong", { "data-estimate-count": "" }, [count.toLocaleString(lang)]), one ? " subscribed recipient." : " subscribed recipients.",
      ...answer.warnings.map(function (w) { return el("span", { class: "warning", "data-us-warning": "" }, [" " + w]); }));
  }

  // ---- A/B variants: the template above is version A; B, C, D each choose theirs -------------------
  const variantList = form.querySelector("[data-variant-list]"), LETTERS = "ABCD";
  function abOn() { return form.elements.ab.checked; }
  // About how many each version reaches: the audience times its share (the split is random).
  function variantEstimates(audienceSize, lang) {
    const out = form.querySelector("[data-variant-estimates]");
    if (!abOn()) { out.replaceChildren(); return; }
    const shares = [[form.elements.variant_a_name.value || "A", Number(form.elements.variant_a_share.value) || 0]].concat(
      variantNodes().map(function (node) { return [node.querySelector("[data-variant-name]").value, Number(node.querySelector("[data-variant-share]").value) || 0]; }));
    out.replaceChildren(...shares.map(function ([name, share]) {
      const reach = Math.round(audienceSize * share / 100);
      return el("li", { "data-variant-estimate": "" }, [name + ": about " + reach.toLocaleString(lang) + (reach === 1 ? " recipient" : " recipients")]);
    }));
  }
  function variantNodes() { return Array.from(variantList.querySelectorAll("[data-variant]")); }
  function templateSelect(label) {
    const choice = el("select", { "data-variant-template": "" }, [el("option", { value: "" }, ["Choose a template"])].concat(
      templates.map(function (t, i) { return el("option", { value: String(i) }, [t.name + " (" + t.language + ") · " + (t.category || "").toLowerCase()]); })));
    return [labelled(label, choice), choice];
  }
  function addVariant(given) {
    const n = variantNodes().length + 1, letter = LETTERS[n], index = n;
    const name = el("input", { "data-variant-name": "", maxlength: "100" }), share = el("input", { "data-variant-share": "", type: "number", min: "1", max: "99", step: "1" });
    name.value = given ? given.name : letter;
    share.value = given ? String(given.share) : "";
    const [templateField, choice] = templateSelect("Template of version " + letter);
    const when = el("select", { "data-variant-send-time": "" }, [["", "As the campaign"], ["now", "All at once"], ["per_customer", "At each customer's usual hour"]].map(function ([v, t]) { return el("option", { value: v }, [t]); }));
    when.value = (given && given.send_time) || "";
    const parameters = el("div", { "data-variant-parameters": "" });
    const remove = el("button", { type: "button", "data-remove-variant": "" }, ["Remove version " + letter]);
    const node = el("fieldset", { class: "variant", "data-variant": String(index) }, [el("legend", {}, ["Version " + letter]),
      labelled("Version " + letter + " is called", name), templateField, labelled("Share of the audience for " + letter + " (%)", share),
      labelled("When version " + letter + " is sent", when), parameters, remove,
      el("p", { class: "field-error", "data-error-for": "variants[" + index + "]", hidden: "" })]);
    choice.addEventListener("change", function () { rebuildVariant(node, null); });
    remove.addEventListener("click", function () { node.remove(); });
    variantList.append(node);
    if (given) {
      const found = templates.findIndex(function (t) { return t.name === given.template.name && t.language === given.template.language; });
      if (found >= 0) choice.value = String(found);
      rebuildVariant(node, given.components || []);
    }
    form.querySelector("[data-add-variant]").hidden = variantNodes().length >= 3;
  }
  function rebuildVariant(node, old) {
    const choice = node.querySelector("[data-variant-template]"), target = node.querySelector("[data-variant-parameters]");
    target.replaceChildren();
    if (choice.value !== "") fields(templates[Number(choice.value)], target, old || []);
  }
  function readVariant(node) {
    const choice = node.querySelector("[data-variant-template]"), template = choice.value === "" ? null : templates[Number(choice.value)];
    const when = node.querySelector("[data-variant-send-time]").value;
    const variant = { name: node.querySelector("[data-variant-name]").value.trim(), template: template ? { name: template.name, language: template.language } : null,
      components: components(node.querySelector("[data-variant-parameters]")), share: Number(node.querySelector("[data-variant-share]").value) };
    return when ? Object.assign(variant, { send_time: { mode: when } }) : variant;
  }
  form.elements.ab.addEventListener("change", function () {
    form.querySelector("[data-ab-panel]").hidden = !abOn();
    if (abOn() && !variantNodes().length) addVariant(null);
  });
  form.querySelector("[data-add-variant]").addEventListener("click", function () { addVariant(null); });

  // ---- Send time per customer: how many go at each hour ----------------------------------------------
  async function sendTimes() {
    const perCustomer = form.elements.send_time_mode.value === "per_customer";
    form.querySelector("[data-send-window]").hidden = !perCustomer;
    if (!perCustomer) return;
    const template = chosen(), out = form.querySelector("[data-send-times]");
    const response = await app.apiFetch(form.dataset.sendTimesUrl, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ audience: audience(), category: template ? template.category : null, window_hours: Number(form.elements.send_time_window.value) || 24 }) });
    if (!response.ok) return;
    const answer = await response.json();
    const hour = new Intl.DateTimeFormat(undefined, { timeZone: answer.zone, weekday: "short", hour: "2-digit", minute: "2-digit" });
    out.replaceChildren(el("ul", { class: "send-times" }, answer.hours.map(function (h) {
      return el("li", { "data-send-hour": h.at }, [hour.format(new Date(h.at)) + ": " + h.recipients]);
    })));
  }
  form.elements.send_time_mode.addEventListener("change", sendTimes);

  // ---- Save, schedule, launch ---------------------------------------------------------------------
  async function send(url, method, body) {
    const response = await app.apiFetch(url, { method: method, headers: { "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
    const answer = await response.json().catch(function () { return {}; });
    return { ok: response.ok, answer: answer };
  }
  async function save() {
    const body = request(), problems = localProblems();
    if (problems.length) return { ok: false, local: true, answer: { errors: problems } };
    const url = campaignId ? form.dataset.campaignUrl + "/" + campaignId : form.dataset.createUrl;
    const saved = await send(url, campaignId ? "PUT" : "POST", body);
    if (saved.ok) campaignId = saved.answer.id;
    return saved;
  }
  function campaignUrl(tail) { return form.dataset.campaignUrl + "/" + campaignId + tail; }
  async function act(action) {
    clearErrors();
    const status = form.querySelector("[data-composer-status]");
    const when = form.elements.scheduled_at.value;
    if (action === "schedule" && !when) {
      showErrors([{ field: "scheduled_at", message: "Choose when to send it." }]);
      status.textContent = "Nothing was saved; fix what is marked.";
      return;
    }
    let result = await save(), saved = result.ok;
    if (saved && action === "launch") {
      // The merchant sees what the launch will do (recipients, US numbers, cost, credits) first.
      const confirmed = await window.app.confirmLaunch({ summary: campaignUrl("/launch-summary"), estimate: campaignUrl("/estimate") });
      if (!confirmed) {
        status.textContent = "Saved as a draft and not launched: launch it when you are ready.";
        return;
      }
      result = await send(campaignUrl("/launch"), "POST");
    }
    // The field's wall-clock time is read in the shop's time zone by the server (scheduled_local).
    if (saved && action === "schedule") result = await send(campaignUrl("/schedule"), "POST", { scheduled_local: when });
    if (result.ok) return app.go(form.dataset.pageUrl.replace("/campaigns/0", "/campaigns/" + campaignId));
    const answer = result.answer;
    showErrors(answer.errors || [{ field: "general", message: answer.message || "The campaign could not be saved." }]);
    const verb = action === "launch" ? "launched" : "scheduled";
    status.textContent = saved && action !== "draft"
      ? "Saved as a draft, not " + verb + ": fix what is marked and try again. The draft is in your campaigns list."
      : "Nothing was saved; fix what is marked.";
    status.dataset.tone = "warning";
  }
  // "Leave them out" in the launch confirmation: the audience's own checkbox follows.
  document.addEventListener("campaign:us-left-out", function () { form.elements.exclude_us_numbers.checked = true; });

  form.addEventListener("click", function (event) {
    const button = event.target.closest("[data-composer-action]");
    if (!button) return;
    form.querySelectorAll("[data-composer-action]").forEach(function (b) { b.disabled = true; });
    act(button.dataset.composerAction).finally(function () {
      form.querySelectorAll("[data-composer-action]").forEach(function (b) { b.disabled = false; });
    });
  });
  select.addEventListener("change", build);
  form.addEventListener("input", function (event) { if (event.target !== select) refresh(); });

  // Pick from the shop's tags: a click adds the tag to its field (once, whatever its capitals).
  form.addEventListener("click", function (event) {
    const button = event.target.closest("[data-add-tag]");
    if (!button) return;
    const field = form.elements[button.closest("[data-tag-picker]").dataset.tagPicker];
    const chosen = tags(field.name);
    if (!chosen.some(function (t) { return t.toLowerCase() === button.dataset.addTag.toLowerCase(); })) {
      field.value = chosen.concat([button.dataset.addTag]).join(", ");
      field.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });
  if (draft) {
    const index = templates.findIndex(function (t) { return t.name === draft.template.name && t.language === draft.template.language; });
    if (index >= 0) select.value = String(index);
  }
  build();
  estimate();
  if (draft && draft.variants && draft.variants.length) {
    form.elements.ab.checked = true;
    form.querySelector("[data-ab-panel]").hidden = false;
    form.elements.variant_a_name.value = draft.variants[0].name;
    form.elements.variant_a_share.value = String(draft.variants[0].share);
    draft.variants.slice(1).forEach(addVariant);
  }
  sendTimes();
})();
