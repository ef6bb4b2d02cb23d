/*
 * admin.js - the ajar admin console (/admin). Plain browser JavaScript, no
 * libraries.
 *
 * The admin key is typed into a field and kept in sessionStorage (this tab
 * only, gone when it closes), and sent as `Authorization: Bearer KEY` to the
 * admin API:
 *
 *   GET  /admin/access?status=...          access requests; approve / deny
 *   GET  /admin/keys, POST /admin/keys      keys; create, revoke, rotate
 *   GET  /admin/usage?days=7                requests and tokens per key and day
 *   GET  /admin/audit?limit=N               the newest audit rows
 *   GET  /admin/audit/verify                the chain's verdict
 *
 * The tiers offered (approve as, create with) come from the public
 * GET /v1/transparency (safeguards.tiers). Every string the server sends is
 * inserted as text (textContent / text nodes), never as HTML. Errors in
 * OpenAI's shape {"error":{"message"}} go to the error banner.
 */
'use strict';

(function () {
  const KEY_STORE = 'ajar.adminKey';   // sessionStorage: the admin key
  const USAGE_DAYS = 7;
  const $ = (id) => document.getElementById(id);

  const el = {
    loginForm: $('login-form'),
    adminKey: $('admin-key'),
    logout: $('logout'),
    error: $('error'),
    console: $('console'),
    refresh: $('refresh'),
    refreshed: $('refreshed'),
    requestsTitle: $('requests-title'),
    requestsCount: $('requests-count'),
    requestsBody: $('requests-body'),
    requestsEmpty: $('requests-empty'),
    keysCount: $('keys-count'),
    keysBody: $('keys-body'),
    keysEmpty: $('keys-empty'),
    createForm: $('create-key-form'),
    newTier: $('new-key-tier'),
    newOwner: $('new-key-owner'),
    newDays: $('new-key-days'),
    newBox: $('new-key-box'),
    newId: $('new-key-id'),
    newTierShown: $('new-key-tier-shown'),
    newValue: $('new-key-value'),
    copyNew: $('copy-new-key'),
    dismissNew: $('dismiss-new-key'),
    usageBody: $('usage-body'),
    usageEmpty: $('usage-empty'),
    auditCount: $('audit-count'),
    auditBody: $('audit-body'),
    auditEmpty: $('audit-empty'),
    auditLimit: $('audit-limit'),
    refreshAudit: $('refresh-audit'),
    chain: $('chain-status'),
  };

  /** Tier names of the policy (the built-in admin tier included, last). */
  let tiers = [];
  /** The keys of the last listing, by id (for the usage table's owner/tier). */
  let keysById = new Map();
  let requestFilter = 'pending';

  // ---- storage ------------------------------------------------------------

  function sessionGet(key) {
    try { return sessionStorage.getItem(key); } catch (e) { return null; }
  }
  function sessionSet(key, value) {
    try {
      if (value === null || value === '') sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, value);
    } catch (e) { /* storage off: the key lives in the field only */ }
  }

  // ---- small helpers ------------------------------------------------------

  /**
   * A new element. attrs: text (textContent), class, dataset, on* (event
   * listeners), anything else an attribute (true = present, null/false/
   * undefined = absent). Children are nodes or strings; strings become text
   * nodes, so nothing here ever parses HTML.
   */
  function h(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') n.textContent = String(v);
      else if (k === 'class') n.className = v;
      else if (k === 'dataset') Object.assign(n.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) n.append(c);
    return n;
  }

  function pad2(n) { return String(n).padStart(2, '0'); }

  /** "YYYY-MM-DD HH:MM:SS" in UTC for a Date. */
  function utc(d) {
    return d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate()) + ' ' +
      pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes()) + ':' + pad2(d.getUTCSeconds());
  }

  /** A <time> for Unix seconds; a dash for 0 / null. */
  function timeCell(seconds, none) {
    if (!seconds) return h('span', { class: 'empty', text: none || '\u2014' });
    const d = new Date(Number(seconds) * 1000);
    return h('time', { datetime: d.toISOString(), title: d.toLocaleString(), text: utc(d) });
  }

  function str(v) { return v === null || v === undefined ? '' : String(v); }

  function num(v) {
    const n = Number(v);
    return Number.isFinite(n) ? n.toLocaleString('en-US') : '';
  }

  function badge(status) {
    return h('span', { class: 'badge', dataset: { status: str(status) }, text: str(status) });
  }

  /** A cell: td with attributes and children (strings as text). */
  function td(attrs, ...children) { return h('td', attrs, ...children); }

  /** Makes tbody hold rows, and shows the empty note when there are none. */
  function fill(tbody, rows, emptyNote) {
    tbody.replaceChildren(...rows);
    if (emptyNote) emptyNote.hidden = rows.length > 0;
  }

  // ---- requests to the server ----------------------------------------------

  class ApiError extends Error {
    constructor(status, message, code) {
      super(message);
      this.status = status;
      this.code = code || null;
    }
  }

  function adminKey() { return el.adminKey.value.trim(); }

  /** The JSON answer of method path (body: an object to send), or an ApiError. */
  async function api(method, path, body) {
    const headers = { 'Accept': 'application/json' };
    const key = adminKey();
    if (key) headers['Authorization'] = 'Bearer ' + key;
    const init = { method: method, headers: headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'server unreachable (' + (e && e.message ? e.message : e) + ')');
    }
    let text = '';
    try { text = await res.text(); } catch (e) { text = ''; }
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!res.ok) {
      let message = '', code = null;
      if (json && json.error) {
        message = typeof json.error === 'string' ? json.error : str(json.error.message);
        code = json.error.code || null;
      }
      if (!message) message = text.trim().slice(0, 300) || res.statusText || 'request failed';
      throw new ApiError(res.status, message, code);
    }
    return json;
  }

  // ---- the error banner -----------------------------------------------------

  function showError(err, doing) {
    const status = err && err.status;
    const message = err && err.message ? err.message : String(err);
    el.error.replaceChildren();
    const title = h('strong');
    if (status === 401) title.textContent = 'admin key refused';
    else if (status) title.textContent = 'Error ' + status;
    else title.textContent = 'Error';
    el.error.append(title, ': ');
    if (doing) el.error.append(doing + ': ');
    el.error.append(message);
    if (status === 401 || status === 403)
      el.error.append(h('div', { class: 'error-hint', text: 'Check the admin key above: it must be a key of the admin tier that is neither revoked nor expired.' }));
    el.error.dataset.status = str(status);
    el.error.hidden = false;
  }

  function hideError() {
    el.error.hidden = true;
    el.error.replaceChildren();
    delete el.error.dataset.status;
  }

  // ---- tiers ------------------------------------------------------------------

  async function loadTiers() {
    try {
      const res = await fetch('/v1/transparency', { cache: 'no-store' });
      if (!res.ok) return;
      const rec = await res.json();
      const list = rec && rec.safeguards && Array.isArray(rec.safeguards.tiers) ? rec.safeguards.tiers : [];
      tiers = list.map((t) => t && t.name).filter((n) => typeof n === 'string' && n);
    } catch (e) {
      tiers = [];
    }
    const keep = el.newTier.value;
    el.newTier.replaceChildren(...tiers.map((t) => h('option', { value: t, text: t })));
    if (keep && tiers.includes(keep)) el.newTier.value = keep;
  }

  /** The tiers an access request may be granted: every one but admin. */
  function grantableTiers() { return tiers.filter((t) => t !== 'admin'); }

  // ---- access requests --------------------------------------------------------

  function decisionCell(r) {
    const parts = [badge(r.status)];
    if (r.status === 'approved') {
      parts.push(' as ', h('strong', { text: str(r.granted_tier || r.tier) }));
      if (r.key_id) parts.push(h('div', { class: 'help' }, 'key ', h('span', { class: 'mono', text: str(r.key_id) })));
      else parts.push(h('div', { class: 'help', text: 'key not retrieved yet' }));
    }
    if (r.reason) parts.push(h('div', { class: 'wrap', dataset: { testid: 'request-reason' }, text: str(r.reason) }));
    if (r.decided) parts.push(h('div', { class: 'help' }, timeCell(r.decided), r.decided_by ? ' by ' + str(r.decided_by) : ''));
    return td({ class: 'actions-cell' }, parts);
  }

  function actionsCell(r) {
    const who = str(r.name) || str(r.email) || str(r.id);
    const tierSelect = h('select', { 'aria-label': 'Tier to grant to ' + who, dataset: { testid: 'approve-tier' } },
      h('option', { value: '', text: 'as asked (' + str(r.tier) + ')' }),
      grantableTiers().map((t) => h('option', { value: t, text: t })));
    const approve = h('button', { type: 'button', class: 'small', dataset: { testid: 'approve' }, text: 'Approve' });
    const deny = h('button', { type: 'button', class: 'danger small', dataset: { testid: 'deny' }, text: 'Deny' });
    const reason = h('input', { type: 'text', maxlength: '120', required: true, 'aria-label': 'Reason for denying ' + who,
                                placeholder: 'reason (the applicant sees it)', dataset: { testid: 'deny-reason' } });
    const confirmDeny = h('button', { type: 'submit', class: 'danger small', dataset: { testid: 'confirm-deny' }, text: 'Deny request' });
    const cancel = h('button', { type: 'button', class: 'secondary small', text: 'Cancel' });
    const denyForm = h('form', { class: 'inline-form', hidden: true }, reason, confirmDeny, cancel);

    approve.addEventListener('click', async () => {
      approve.disabled = deny.disabled = true;
      const body = tierSelect.value ? { tier: tierSelect.value } : {};
      try {
        const done = await api('POST', '/admin/access/' + encodeURIComponent(r.id) + '/approve', body);
        hideError();
        setStatus('Approved ' + who + ' (' + str(done && done.id) + ') as ' + str(done && (done.granted_tier || done.tier)) +
                  '; the applicant gets the key by checking the request\u2019s status.');
        await Promise.allSettled([loadRequests(), loadAudit()]);
      } catch (e) {
        approve.disabled = deny.disabled = false;
        showError(e, 'approving ' + r.id);
      }
    });
    deny.addEventListener('click', () => {
      denyForm.hidden = false;
      deny.disabled = true;
      reason.focus();
    });
    cancel.addEventListener('click', () => {
      denyForm.hidden = true;
      deny.disabled = false;
      deny.focus();
    });
    denyForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const why = reason.value.trim();
      if (!why) { reason.focus(); return; }
      confirmDeny.disabled = approve.disabled = true;
      try {
        await api('POST', '/admin/access/' + encodeURIComponent(r.id) + '/deny', { reason: why });
        hideError();
        setStatus('Denied ' + who + ' (' + r.id + ').');
        await Promise.allSettled([loadRequests(), loadAudit()]);
      } catch (e) {
        confirmDeny.disabled = approve.disabled = false;
        showError(e, 'denying ' + r.id);
      }
    });
    return td({ class: 'actions-cell' },
      h('div', { class: 'inline-form' }, tierSelect, approve, deny), denyForm);
  }

  function requestRow(r) {
    return h('tr', { dataset: { testid: 'request-row', id: str(r.id), status: str(r.status) } },
      td({}, str(r.name), h('div', { class: 'help mono', text: str(r.id) })),
      td({ class: 'wrap' }, str(r.email)),
      td({ class: 'wrap' }, str(r.affiliation)),
      td({ class: 'wrap' }, str(r.intended_use)),
      td({ class: 'nowrap', dataset: { testid: 'request-tier' } }, str(r.tier)),
      td({ class: 'nowrap' }, timeCell(r.created)),
      r.status === 'pending' ? actionsCell(r) : decisionCell(r));
  }

  /** A line beside the Refresh button saying what the last action did. */
  function setStatus(text) {
    el.refreshed.textContent = text;
  }

  async function loadRequests() {
    const j = await api('GET', '/admin/access?status=' + encodeURIComponent(requestFilter));
    const list = (j && Array.isArray(j.data) ? j.data : []).slice();
    list.sort((a, b) => (Number(b.created) || 0) - (Number(a.created) || 0));
    fill(el.requestsBody, list.map(requestRow), el.requestsEmpty);
    el.requestsEmpty.textContent = requestFilter === 'all' ? 'No requests.' : 'No ' + requestFilter + ' requests.';
    el.requestsCount.textContent = String(list.length);
  }

  const filter = $('requests-filter');
  /** Takes the filter's choice (also as a reload restored it) into the title. */
  function applyFilter() {
    requestFilter = filter.value || 'pending';
    el.requestsTitle.textContent = requestFilter === 'all' ? 'All access requests'
      : requestFilter[0].toUpperCase() + requestFilter.slice(1) + ' access requests';
  }
  applyFilter();
  filter.addEventListener('change', async () => {
    applyFilter();
    try { await loadRequests(); hideError(); } catch (e) { showError(e, 'listing access requests'); }
  });

  // ---- keys -----------------------------------------------------------------

  function showNewKey(k, note) {
    el.newId.textContent = str(k.id);
    el.newTierShown.textContent = str(k.tier) + (note ? ', ' + note : '');
    el.newValue.textContent = str(k.key);
    el.newBox.hidden = false;
    el.copyNew.textContent = 'Copy';
    el.dismissNew.focus();
  }

  function keyRow(k) {
    const active = k.status === 'active';
    const cells = [
      td({ class: 'mono nowrap' }, str(k.id)),
      td({ class: 'nowrap' }, str(k.tier)),
      td({ class: 'wrap' }, str(k.owner) || h('span', { class: 'empty', text: '\u2014' }),
         k.access_id ? h('div', { class: 'help' }, 'via ', h('span', { class: 'mono', text: str(k.access_id) })) : null),
      td({ class: 'nowrap' }, timeCell(k.created)),
      td({ class: 'nowrap' }, timeCell(k.expires, 'never')),
      td({ class: 'nowrap', dataset: { testid: 'key-status' } }, badge(k.status),
         k.revoked ? h('div', { class: 'help' }, timeCell(k.revoked)) : null),
    ];
    const actions = td({ class: 'actions-cell' });
    if (active) {
      const revoke = h('button', { type: 'button', class: 'danger small', dataset: { testid: 'revoke' }, text: 'Revoke',
                                   'aria-label': 'Revoke key ' + k.id });
      const rotate = h('button', { type: 'button', class: 'secondary small', dataset: { testid: 'rotate' }, text: 'Rotate',
                                   'aria-label': 'Rotate key ' + k.id });
      const row = h('div', { class: 'inline-form' }, revoke, rotate);
      const confirmBox = h('div', { class: 'inline-form', hidden: true, role: 'group', 'aria-label': 'Confirm' });
      let action = null;
      const question = h('span');
      const yes = h('button', { type: 'button', class: 'danger small', dataset: { testid: 'confirm-key-action' } });
      const no = h('button', { type: 'button', class: 'secondary small', text: 'Cancel' });
      confirmBox.append(question, yes, no);
      const ask = (what) => {
        action = what;
        question.textContent = what === 'revoke' ? 'Revoke ' + k.id + '? Its next request is refused.'
                                                 : 'Rotate ' + k.id + '? It is revoked and a new key made.';
        yes.textContent = what === 'revoke' ? 'Confirm revoke' : 'Confirm rotate';
        yes.dataset.testid = what === 'revoke' ? 'confirm-revoke' : 'confirm-rotate';
        confirmBox.hidden = false;
        row.hidden = true;
        yes.focus();
      };
      revoke.addEventListener('click', () => ask('revoke'));
      rotate.addEventListener('click', () => ask('rotate'));
      no.addEventListener('click', () => {
        confirmBox.hidden = true;
        row.hidden = false;
        (action === 'revoke' ? revoke : rotate).focus();
      });
      yes.addEventListener('click', async () => {
        yes.disabled = no.disabled = true;
        const path = '/admin/keys/' + encodeURIComponent(k.id) + '/' + action;
        try {
          const done = await api('POST', path);
          hideError();
          if (action === 'rotate' && done && done.key) showNewKey(done, 'replaces ' + str(done.replaces || k.id));
          else setStatus('Revoked ' + k.id + '.');
          await Promise.allSettled([loadKeys(), loadAudit()]);
        } catch (e) {
          yes.disabled = no.disabled = false;
          showError(e, (action === 'revoke' ? 'revoking ' : 'rotating ') + k.id);
        }
      });
      actions.append(row, confirmBox);
    }
    cells.push(actions);
    return h('tr', { class: active ? '' : 'inactive', dataset: { testid: 'key-row', id: str(k.id), status: str(k.status) } }, cells);
  }

  async function loadKeys() {
    const j = await api('GET', '/admin/keys');
    const list = (j && Array.isArray(j.data) ? j.data : []).slice();
    // Active first, then newest first.
    const rank = (k) => (k.status === 'active' ? 0 : 1);
    list.sort((a, b) => rank(a) - rank(b) || (Number(b.created) || 0) - (Number(a.created) || 0) ||
                        str(a.id).localeCompare(str(b.id)));
    keysById = new Map(list.map((k) => [k.id, k]));
    fill(el.keysBody, list.map(keyRow), el.keysEmpty);
    const active = list.filter((k) => k.status === 'active').length;
    el.keysCount.textContent = active + ' active of ' + list.length;
  }

  el.createForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { tier: el.newTier.value };
    const owner = el.newOwner.value.trim();
    if (owner) body.owner = owner;
    const days = el.newDays.value.trim();
    if (days) body.expires_in_days = Number(days);
    const button = $('create-key');
    button.disabled = true;
    try {
      const k = await api('POST', '/admin/keys', body);
      hideError();
      showNewKey(k, '');
      el.newOwner.value = '';
      el.newDays.value = '';
      await Promise.allSettled([loadKeys(), loadAudit()]);
    } catch (e) {
      showError(e, 'creating a key');
    }
    button.disabled = false;
  });

  el.dismissNew.addEventListener('click', () => {
    el.newBox.hidden = true;
    el.newValue.textContent = '';
    el.newId.textContent = '';
    $('create-key').focus();
  });

  /** Copies text; true if it worked (clipboard API, else a selection copy). */
  async function copyText(text, node) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      try {
        const range = document.createRange();
        range.selectNodeContents(node);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        return document.execCommand('copy');
      } catch (e2) {
        return false;
      }
    }
  }

  el.copyNew.addEventListener('click', async () => {
    const ok = await copyText(el.newValue.textContent, el.newValue);
    el.copyNew.textContent = ok ? 'Copied' : 'Select and copy by hand';
  });

  // ---- usage --------------------------------------------------------------------

  async function loadUsage() {
    const j = await api('GET', '/admin/usage?days=' + USAGE_DAYS);
    const byKey = new Map();
    for (const u of (j && Array.isArray(j.data) ? j.data : [])) {
      const id = str(u.key_id);
      const t = byKey.get(id) || { id: id, days: new Set(), requests: 0, tokens_in: 0, tokens_out: 0 };
      t.days.add(str(u.date));
      t.requests += Number(u.requests) || 0;
      t.tokens_in += Number(u.tokens_in) || 0;
      t.tokens_out += Number(u.tokens_out) || 0;
      byKey.set(id, t);
    }
    const totals = [...byKey.values()].sort((a, b) => b.requests - a.requests || a.id.localeCompare(b.id));
    fill(el.usageBody, totals.map((t) => {
      const k = keysById.get(t.id);
      return h('tr', { dataset: { testid: 'usage-row', id: t.id } },
        td({ class: 'mono nowrap' }, t.id),
        td({ class: 'nowrap' }, k ? str(k.tier) : ''),
        td({ class: 'wrap' }, k ? str(k.owner) : ''),
        td({ class: 'num', title: [...t.days].sort().join(', ') }, String(t.days.size)),
        td({ class: 'num', dataset: { testid: 'usage-requests' } }, num(t.requests)),
        td({ class: 'num' }, num(t.tokens_in)),
        td({ class: 'num' }, num(t.tokens_out)));
    }), el.usageEmpty);
  }

  // ---- audit ----------------------------------------------------------------------

  function latency(us) {
    const n = Number(us);
    if (!Number.isFinite(n) || n <= 0) return '';
    return n >= 1e6 ? (n / 1e6).toFixed(2) + ' s' : n >= 1000 ? (n / 1000).toFixed(1) + ' ms' : n + ' \u00b5s';
  }

  function auditRow(r) {
    const ts = Number(r.ts_us);
    const when = Number.isFinite(ts) && ts > 0
      ? h('time', { datetime: new Date(ts / 1000).toISOString(), text: utc(new Date(ts / 1000)) })
      : '';
    const tin = Number(r.tokens_in) || 0, tout = Number(r.tokens_out) || 0;
    return h('tr', { dataset: { testid: 'audit-row', seq: str(r.seq), outcome: str(r.outcome) } },
      td({ class: 'num' }, str(r.seq)),
      td({ class: 'nowrap' }, when),
      td({}, str(r.kind)),
      td({ class: 'mono nowrap' }, str(r.key_id)),
      td({}, str(r.tier)),
      td({ class: 'nowrap' }, str(r.endpoint)),
      td({ class: 'num' }, r.status ? str(r.status) : ''),
      td({}, r.outcome ? badge(r.outcome) : ''),
      td({ class: 'wrap' }, str(r.reason)),
      td({ class: 'num nowrap' }, tin || tout ? num(tin) + ' / ' + num(tout) : ''),
      td({ class: 'num nowrap' }, latency(r.latency_us)));
  }

  function showChain(v) {
    if (v && v.ok === true) {
      el.chain.dataset.state = 'ok';
      el.chain.textContent = 'chain verified: ' + num(v.rows) + ' rows';
    } else if (v && v.ok === false) {
      el.chain.dataset.state = 'broken';
      el.chain.textContent = 'chain BROKEN at row ' + str(v.bad_seq) + ': ' + str(v.reason || 'unknown reason');
    } else {
      el.chain.dataset.state = 'unknown';
      el.chain.textContent = 'chain not checked';
    }
  }

  /**
   * The newest rows, then the chain's verdict, one after the other: the
   * verdict then covers every row listed.
   */
  async function loadAudit() {
    const limit = el.auditLimit.value || '50';
    let failure = null;
    try {
      const j = await api('GET', '/admin/audit?limit=' + encodeURIComponent(limit));
      const list = (j && Array.isArray(j.data) ? j.data : []).slice();
      list.sort((a, b) => (Number(b.seq) || 0) - (Number(a.seq) || 0));
      fill(el.auditBody, list.map(auditRow), el.auditEmpty);
      el.auditCount.textContent = 'newest ' + list.length;
    } catch (e) {
      failure = e;
    }
    try {
      showChain(await api('GET', '/admin/audit/verify'));
    } catch (e) {
      el.chain.dataset.state = 'unknown';
      el.chain.textContent = 'chain not checked: ' + str(e && e.message);
      failure = failure || e;
    }
    if (failure) throw failure;
  }

  el.refreshAudit.addEventListener('click', async () => {
    try { await loadAudit(); hideError(); } catch (e) { showError(e, 'reading the audit log'); }
  });
  el.auditLimit.addEventListener('change', () => el.refreshAudit.click());

  // ---- the whole console ----------------------------------------------------------

  /** Loads every section; throws the first failure after all have run. */
  async function refreshAll() {
    const results = await Promise.allSettled([
      loadRequests(),
      loadKeys().then(loadUsage),
    ]);
    // Every request appends an audit row: the audit section comes last,
    // so the rows it lists and the chain it verifies include the console's
    // own reads.
    results.push(...await Promise.allSettled([loadAudit()]));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    el.refreshed.textContent = 'Updated ' + utc(new Date()) + ' UTC';
  }

  async function openConsole() {
    el.refresh.disabled = true;
    try {
      await refreshAll();
      hideError();
      el.console.hidden = false;
      el.logout.hidden = false;
    } catch (e) {
      showError(e);
      if (e && (e.status === 401 || e.status === 403)) {
        // A refused key is not kept, and nothing of the console stays shown.
        sessionSet(KEY_STORE, null);
        el.console.hidden = true;
        el.logout.hidden = true;
      } else {
        el.console.hidden = false;
      }
    }
    el.refresh.disabled = false;
  }

  el.loginForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = adminKey();
    if (!key) { el.adminKey.focus(); return; }
    sessionSet(KEY_STORE, key);
    openConsole();
  });

  el.logout.addEventListener('click', () => {
    sessionSet(KEY_STORE, null);
    el.adminKey.value = '';
    el.console.hidden = true;
    el.logout.hidden = true;
    el.newBox.hidden = true;
    el.newValue.textContent = '';
    hideError();
    el.adminKey.focus();
  });

  el.refresh.addEventListener('click', () => openConsole());

  (async function start() {
    await loadTiers();
    const saved = sessionGet(KEY_STORE);
    if (saved) {
      el.adminKey.value = saved;
      await openConsole();
    } else {
      el.adminKey.focus();
    }
    document.body.dataset.ready = 'true';
  })();
})();
