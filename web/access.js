/*
 * access.js - the access-request form (/access). Plain browser JavaScript,
 * no libraries.
 *
 * It shows the license and acceptable-use texts of GET /v1/transparency and
 * offers the policy's tiers (safeguards.tiers, all but the built-in admin).
 * Submitting sends POST /v1/access/requests with accept_license: true and
 * the SHA-256 of the license text shown, so a text that changed meanwhile
 * is refused rather than accepted unread. The answer's id and status token
 * are shown and kept in localStorage ('ajar.accessRequest'), so the
 * applicant can come back; "Check status" asks GET /v1/access/requests/{id}
 * with the token as a bearer token. The first answer after approval carries
 * the key, once: it is shown with a copy button and can be handed to the
 * chat page (localStorage 'ajar.accessKey', the key alone, as web/app.js
 * reads it).
 *
 * Every string the server sends is inserted as text, never as HTML.
 */
'use strict';

(function () {
  const REQUEST_STORE = 'ajar.accessRequest'; // {"id", "token"}
  const CHAT_KEY_STORE = 'ajar.accessKey';    // web/app.js KEY_STORE: the key string alone
  const $ = (id) => document.getElementById(id);

  const el = {
    error: $('error'),
    request: $('request'),
    requestId: $('request-id'),
    requestToken: $('request-token'),
    requestTier: $('request-tier'),
    requestStatus: $('request-status'),
    requestDetail: $('request-detail'),
    checkStatus: $('check-status'),
    checkNote: $('check-note'),
    newRequest: $('new-request'),
    forget: $('forget-request'),
    keyBox: $('key-box'),
    keyNotice: $('key-notice'),
    issuedKey: $('issued-key'),
    copyKey: $('copy-key'),
    useKey: $('use-key'),
    useKeyNote: $('use-key-note'),
    form: $('request-form'),
    licenseName: $('license-name'),
    licenseText: $('license-text'),
    licenseSha: $('license-sha256'),
    aupText: $('aup-text'),
    name: $('name'),
    email: $('email'),
    affiliation: $('affiliation'),
    intendedUse: $('intended-use'),
    tier: $('tier'),
    tierHelp: $('tier-help'),
    accept: $('accept-license'),
    submit: $('submit-request'),
  };

  /** Inputs by the request field they carry (also the server's error param). */
  const fields = {
    name: el.name,
    email: el.email,
    affiliation: el.affiliation,
    intended_use: el.intendedUse,
    tier: el.tier,
    accept_license: el.accept,
    license_sha256: el.accept,
  };

  let licenseSha256 = null;
  let tierInfo = new Map();    // name -> the tier's public record
  let autoRules = [];          // safeguards.access_requests.auto_approve
  let current = null;          // {id, token} of the request shown

  // ---- storage ------------------------------------------------------------

  function storageGet(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }
  function storageSet(key, value) {
    try {
      if (value === null || value === '') localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch (e) { /* private mode or full: the page still works */ }
  }

  function savedRequest() {
    try {
      const r = JSON.parse(storageGet(REQUEST_STORE) || 'null');
      if (r && typeof r.id === 'string' && typeof r.token === 'string' && r.id && r.token) return r;
    } catch (e) { /* not ours */ }
    return null;
  }

  // ---- helpers --------------------------------------------------------------

  function str(v) { return v === null || v === undefined ? '' : String(v); }

  /** The error of a non-2xx response: OpenAI's shape, or its text. */
  async function responseError(res) {
    let text = '';
    try { text = await res.text(); } catch (e) { text = ''; }
    let message = '', param = null, code = null;
    try {
      const j = JSON.parse(text);
      if (j && j.error) {
        message = typeof j.error === 'string' ? j.error : str(j.error.message);
        param = j.error.param || null;
        code = j.error.code || null;
      }
    } catch (e) { /* not JSON */ }
    if (!message) message = text.trim().slice(0, 300) || res.statusText || 'request failed';
    return { status: res.status, message: message, param: param, code: code };
  }

  function showError(err, doing) {
    el.error.replaceChildren();
    const title = document.createElement('strong');
    title.textContent = err.status ? 'Error ' + err.status + ': ' : 'Error: ';
    el.error.append(title);
    if (doing) el.error.append(doing + ': ');
    el.error.append(err.message);
    el.error.hidden = false;
  }

  function hideError() {
    el.error.hidden = true;
    el.error.replaceChildren();
  }

  function utcText(seconds) {
    if (!seconds) return '';
    return new Date(Number(seconds) * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  // ---- the policy -----------------------------------------------------------

  /** How a request for tier is decided, from the policy's auto-approval rules. */
  function reviewOf(tier) {
    const rules = autoRules.filter((r) => r && r.tier === tier);
    if (rules.some((r) => r.any_email)) return 'granted at once';
    const domains = rules.flatMap((r) => (Array.isArray(r.email_domains) ? r.email_domains : []));
    if (domains.length) return 'granted at once for email addresses at ' + domains.join(', ') + '; reviewed by the operator otherwise';
    return 'reviewed by the operator';
  }

  function describeTier() {
    const t = tierInfo.get(el.tier.value);
    if (!t) { el.tierHelp.textContent = ''; return; }
    const caps = Array.isArray(t.capabilities) ? t.capabilities.join(', ') : '';
    const parts = [];
    if (caps) parts.push('may use: ' + caps);
    if (t.max_tokens) parts.push('up to ' + t.max_tokens + ' tokens a reply');
    const rl = t.rate_limits || {};
    if (rl.requests_per_minute) parts.push(rl.requests_per_minute + ' requests a minute');
    if (rl.tokens_per_day) parts.push(Number(rl.tokens_per_day).toLocaleString('en-US') + ' tokens a day');
    parts.push(reviewOf(t.name));
    el.tierHelp.textContent = t.name + ': ' + parts.join('; ') + '.';
  }

  async function loadPolicy() {
    let rec;
    try {
      const res = await fetch('/v1/transparency', { cache: 'no-store' });
      if (!res.ok) {
        showError(await responseError(res), 'reading the license');
        el.licenseName.dataset.state = 'error';
        el.licenseName.textContent = 'unavailable';
        return;
      }
      rec = await res.json();
    } catch (e) {
      showError({ status: 0, message: 'server unreachable' }, 'reading the license');
      el.licenseName.dataset.state = 'error';
      el.licenseName.textContent = 'unavailable';
      return;
    }
    const lic = (rec && rec.license) || {};
    el.licenseName.textContent = str(lic.name) || 'license';
    el.licenseName.dataset.state = 'ready';
    el.licenseText.textContent = str(lic.text);
    el.licenseSha.textContent = str(lic.sha256);
    licenseSha256 = typeof lic.sha256 === 'string' && lic.sha256 ? lic.sha256 : null;
    el.aupText.textContent = str(rec && rec.acceptable_use) || 'none given';

    const sg = (rec && rec.safeguards) || {};
    const access = sg.access_requests || {};
    autoRules = Array.isArray(access.auto_approve) ? access.auto_approve : [];
    const tiers = (Array.isArray(sg.tiers) ? sg.tiers : [])
      .filter((t) => t && typeof t.name === 'string' && t.name !== 'admin' &&
                     !(Array.isArray(t.capabilities) && t.capabilities.includes('admin')));
    tierInfo = new Map(tiers.map((t) => [t.name, t]));
    el.tier.replaceChildren(...tiers.map((t) => {
      const o = document.createElement('option');
      o.value = t.name;
      o.textContent = t.name;
      o.defaultSelected = t.name === access.default_tier; // what form.reset() returns to
      return o;
    }));
    if (access.default_tier && tierInfo.has(access.default_tier)) el.tier.value = access.default_tier;
    describeTier();

    const required = Array.isArray(access.required_fields) ? access.required_fields : [];
    for (const [name, input] of Object.entries(fields)) {
      if (input === el.accept || input === el.tier) continue;
      input.required = required.includes(name);
      const label = document.querySelector('label[for="' + input.id + '"]');
      if (label) label.dataset.required = input.required ? 'true' : 'false';
    }
    el.submit.disabled = false;
  }

  // ---- the request ------------------------------------------------------------

  function showRequest(r, info) {
    current = { id: r.id, token: r.token };
    el.request.hidden = false;
    el.requestId.textContent = r.id;
    el.requestToken.textContent = r.token;
    if (info) showStatus(info);
  }

  function showStatus(info) {
    const status = str(info.status) || 'unknown';
    el.requestStatus.textContent = status;
    el.requestStatus.dataset.status = status;
    el.requestTier.textContent = str(info.tier);
    let detail = '';
    if (status === 'pending') detail = 'waiting for the operator (sent ' + utcText(info.created) + ')';
    else if (status === 'approved') {
      detail = 'as ' + str(info.granted_tier || info.tier);
      if (info.reason) detail += ' (' + str(info.reason) + ')';
      if (!info.key && info.key_id) detail += '; key ' + str(info.key_id) + ' was issued';
    } else if (status === 'denied') detail = 'reason: ' + (str(info.reason) || 'none given');
    el.requestDetail.textContent = detail;
  }

  function showKey(key, notice) {
    el.issuedKey.textContent = key;
    el.keyNotice.textContent = notice || 'shown once: store it now';
    el.keyBox.hidden = false;
    el.useKeyNote.hidden = true;
    el.copyKey.textContent = 'Copy';
    el.copyKey.focus();
  }

  async function checkStatus() {
    if (!current) return;
    el.checkStatus.disabled = true;
    el.checkNote.textContent = 'Checking\u2026';
    try {
      const res = await fetch('/v1/access/requests/' + encodeURIComponent(current.id), {
        headers: { 'Authorization': 'Bearer ' + current.token, 'Accept': 'application/json' },
        cache: 'no-store',
      });
      if (!res.ok) {
        const err = await responseError(res);
        el.checkNote.textContent = '';
        showError(err, 'checking the request');
        return;
      }
      const info = await res.json();
      hideError();
      showStatus(info);
      if (typeof info.key === 'string' && info.key) {
        showKey(info.key, info.key_notice);
        el.checkNote.textContent = 'Approved: your key is below.';
      } else if (info.status === 'approved' && info.key_id) {
        el.checkNote.textContent = 'Checked ' + utcText(Date.now() / 1000) +
          '. The key was handed out already; if you lost it, ask the operator for a new one.';
      } else {
        el.checkNote.textContent = 'Checked ' + utcText(Date.now() / 1000) + '.';
      }
    } catch (e) {
      el.checkNote.textContent = '';
      showError({ status: 0, message: 'server unreachable' }, 'checking the request');
    } finally {
      el.checkStatus.disabled = false;
    }
  }

  el.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    hideError();
    // The browser's own checks first (required fields, email shape, the box).
    if (!el.form.checkValidity()) {
      el.form.reportValidity();
      const bad = el.form.querySelector(':invalid');
      if (bad) bad.focus();
      return;
    }
    const body = {
      name: el.name.value.trim(),
      email: el.email.value.trim(),
      affiliation: el.affiliation.value.trim(),
      intended_use: el.intendedUse.value.trim(),
      tier: el.tier.value,
      accept_license: el.accept.checked,
    };
    if (licenseSha256) body.license_sha256 = licenseSha256;
    el.submit.disabled = true;
    try {
      const res = await fetch('/v1/access/requests', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) {
        const err = await responseError(res);
        showError(err, 'sending the request');
        const input = err.param && fields[err.param];
        if (input) input.focus();
        return;
      }
      const info = await res.json();
      const saved = { id: str(info.id), token: str(info.token) };
      storageSet(REQUEST_STORE, JSON.stringify(saved));
      el.keyBox.hidden = true;
      el.issuedKey.textContent = '';
      showRequest(saved, info);
      el.form.hidden = true;
      el.form.reset();
      if (el.tier.options.length) describeTier();
      if (info.status === 'approved') {
        // Granted at once: pick the key up while the applicant is here.
        await checkStatus();
      } else {
        el.checkNote.textContent = 'Sent. Come back later and press Check status.';
        el.checkStatus.focus();
      }
    } catch (e) {
      showError({ status: 0, message: 'server unreachable' }, 'sending the request');
    } finally {
      el.submit.disabled = false;
    }
  });

  el.tier.addEventListener('change', describeTier);
  el.checkStatus.addEventListener('click', checkStatus);

  el.newRequest.addEventListener('click', () => {
    el.form.hidden = false;
    el.name.focus();
  });

  el.forget.addEventListener('click', () => {
    storageSet(REQUEST_STORE, null);
    current = null;
    el.request.hidden = true;
    el.keyBox.hidden = true;
    el.issuedKey.textContent = '';
    el.checkNote.textContent = '';
    el.form.hidden = false;
    el.name.focus();
  });

  el.copyKey.addEventListener('click', async () => {
    const key = el.issuedKey.textContent;
    let ok = false;
    try {
      await navigator.clipboard.writeText(key);
      ok = true;
    } catch (e) {
      try {
        const range = document.createRange();
        range.selectNodeContents(el.issuedKey);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        ok = document.execCommand('copy');
      } catch (e2) { ok = false; }
    }
    el.copyKey.textContent = ok ? 'Copied' : 'Select and copy by hand';
  });

  el.useKey.addEventListener('click', () => {
    const key = el.issuedKey.textContent.trim();
    if (!key) return;
    storageSet(CHAT_KEY_STORE, key);
    el.useKeyNote.hidden = false;
  });

  // ---- start ----------------------------------------------------------------------

  (async function start() {
    const saved = savedRequest();
    if (saved) {
      // Shown as it was left; the status is asked only on "Check status",
      // since the first answer after approval is the key's only showing.
      showRequest(saved, null);
      el.requestStatus.textContent = 'not checked yet';
      el.requestStatus.dataset.status = 'unknown';
      el.form.hidden = true;
    }
    await loadPolicy();
    document.body.dataset.ready = 'true';
  })();
})();
