/*
 * app.js - the ajar chat page. Plain browser JavaScript, no libraries.
 *
 * It keeps the conversation (and the settings) in localStorage, lists the
 * model from GET /v1/models, and sends the whole conversation to
 * POST /v1/chat/completions with stream: true. The reply arrives as
 * server-sent events over fetch(): each `data: {...}` line carries a
 * chat.completion.chunk whose choices[0].delta.content is appended to the
 * assistant's bubble as it comes; `data: [DONE]` ends it. Stop aborts the
 * fetch (AbortController), which closes the connection, and the server
 * cancels the generation. Errors in OpenAI's shape {"error":{"message"}}
 * are shown as they are, with a hint for 401/403/413/429/503.
 *
 * Model output is only ever inserted as text (textContent / text nodes),
 * never as HTML.
 */
'use strict';

(function () {
  const STORE = 'ajar.chat.v1';          // settings and conversation
  const KEY_STORE = 'ajar.accessKey';    // the access key, alone
  const $ = (id) => document.getElementById(id);

  const el = {
    modelName: $('model-name'),
    newChat: $('new-chat'),
    settings: $('settings'),
    system: $('system'),
    temperature: $('temperature'),
    topP: $('top-p'),
    maxTokens: $('max-tokens'),
    seed: $('seed'),
    jsonMode: $('json-mode'),
    accessKey: $('access-key'),
    toggleKey: $('toggle-key'),
    messages: $('messages'),
    emptyHint: $('empty-hint'),
    error: $('error'),
    composer: $('composer'),
    prompt: $('prompt'),
    send: $('send'),
    stop: $('stop'),
    status: $('status'),
  };

  /** @type {{role: string, content: string}[]} */
  let history = [];
  let modelId = null;
  let controller = null; // AbortController of the request in flight

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

  function saveState() {
    const state = {
      settings: {
        system: el.system.value,
        temperature: el.temperature.value,
        top_p: el.topP.value,
        max_tokens: el.maxTokens.value,
        seed: el.seed.value,
        json: el.jsonMode.checked,
      },
      history: history,
    };
    storageSet(STORE, JSON.stringify(state));
  }

  function loadState() {
    let state = null;
    try { state = JSON.parse(storageGet(STORE) || 'null'); } catch (e) { state = null; }
    if (state && state.settings) {
      const s = state.settings;
      if (typeof s.system === 'string') el.system.value = s.system;
      if (typeof s.temperature === 'string') el.temperature.value = s.temperature;
      if (typeof s.top_p === 'string') el.topP.value = s.top_p;
      if (typeof s.max_tokens === 'string') el.maxTokens.value = s.max_tokens;
      if (typeof s.seed === 'string') el.seed.value = s.seed;
      el.jsonMode.checked = !!s.json;
    }
    if (state && Array.isArray(state.history)) {
      history = state.history.filter((m) => m && typeof m.role === 'string' && typeof m.content === 'string');
    }
    el.accessKey.value = storageGet(KEY_STORE) || '';
  }

  // ---- requests -----------------------------------------------------------

  function authHeaders(extra) {
    const h = Object.assign({}, extra || {});
    const key = el.accessKey.value.trim();
    if (key) h['Authorization'] = 'Bearer ' + key;
    return h;
  }

  /** The error a non-2xx response carries: OpenAI's shape, or its text. */
  async function responseError(res) {
    let text = '';
    try { text = await res.text(); } catch (e) { text = ''; }
    let message = '';
    try {
      const j = JSON.parse(text);
      if (j && j.error) message = typeof j.error === 'string' ? j.error : (j.error.message || '');
    } catch (e) { /* not JSON */ }
    if (!message) message = text.trim().slice(0, 500) || res.statusText || 'request failed';
    return { status: res.status, message: message, retryAfter: res.headers.get('Retry-After') };
  }

  function hintFor(err) {
    switch (err.status) {
      case 401: return 'Check the access key in Settings.';
      case 403: return 'This key is not allowed to do that; ask the operator for another tier.';
      case 413: return 'The request is too large: start a new chat or shorten the message.';
      case 429: return err.retryAfter ? 'Too many requests: try again in ' + err.retryAfter + ' s.'
                                      : 'Too many requests: wait a moment and try again.';
      case 503: return 'The server is busy: try again shortly.';
      default: return '';
    }
  }

  function showError(err) {
    el.error.replaceChildren();
    const title = document.createElement('strong');
    title.textContent = err.status ? 'Error ' + err.status + ': ' : 'Error: ';
    el.error.append(title, document.createTextNode(err.message));
    const hint = hintFor(err);
    if (hint) {
      const p = document.createElement('div');
      p.className = 'error-hint';
      p.textContent = hint;
      el.error.append(p);
    }
    el.error.hidden = false;
    if (err.status === 401 || err.status === 403) el.settings.open = true;
  }

  function hideError() {
    el.error.hidden = true;
    el.error.replaceChildren();
  }

  async function loadModels() {
    el.modelName.dataset.state = 'loading';
    el.modelName.textContent = 'loading\u2026';
    try {
      const res = await fetch('/v1/models', { headers: authHeaders() });
      if (!res.ok) {
        const err = await responseError(res);
        modelId = null;
        el.modelName.dataset.state = 'error';
        el.modelName.textContent = 'unavailable (' + err.status + ': ' + err.message + ')';
        return;
      }
      const j = await res.json();
      const ids = (j && Array.isArray(j.data) ? j.data : []).map((m) => m && m.id).filter(Boolean);
      modelId = ids.length ? ids[0] : null;
      el.modelName.dataset.state = ids.length ? 'ready' : 'error';
      el.modelName.textContent = ids.length ? ids.join(', ') : 'no model';
    } catch (e) {
      modelId = null;
      el.modelName.dataset.state = 'error';
      el.modelName.textContent = 'server unreachable';
    }
  }

  /** A number from an input, or undefined when it is empty. */
  function numberOf(input) {
    if (input.value.trim() === '') return undefined;
    const n = Number(input.value);
    return Number.isFinite(n) ? n : undefined;
  }

  function requestBody() {
    const messages = [];
    const system = el.system.value.trim();
    if (system) messages.push({ role: 'system', content: system });
    for (const m of history) messages.push({ role: m.role, content: m.content });
    const body = {
      messages: messages,
      stream: true,
      stream_options: { include_usage: true },
    };
    if (modelId) body.model = modelId;
    const t = numberOf(el.temperature), p = numberOf(el.topP);
    const n = numberOf(el.maxTokens), seed = numberOf(el.seed);
    if (t !== undefined) body.temperature = t;
    if (p !== undefined) body.top_p = p;
    if (n !== undefined) body.max_tokens = n;
    if (seed !== undefined) body.seed = seed;
    if (el.jsonMode.checked) body.response_format = { type: 'json_object' };
    return body;
  }

  /**
   * Server-sent events from a fetch body: calls onData(string) with the data
   * of each event (data: lines joined by "\n"), per the HTML spec's parsing
   * rules, as far as a JSON API needs them.
   */
  async function readEvents(body, onData) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    let data = [];
    const line = (l) => {
      if (l.endsWith('\r')) l = l.slice(0, -1);
      if (l === '') {
        if (data.length) onData(data.join('\n'));
        data = [];
        return;
      }
      if (l.startsWith(':')) return; // comment / keep-alive
      const colon = l.indexOf(':');
      const field = colon < 0 ? l : l.slice(0, colon);
      let value = colon < 0 ? '' : l.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        line(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
    buf += decoder.decode();
    if (buf) line(buf);
    line('');
  }

  // ---- rendering ----------------------------------------------------------

  function nearBottom() {
    const m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }
  function scrollDown() {
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function renderMessage(role, text) {
    el.emptyHint.hidden = true;
    const div = document.createElement('div');
    div.className = 'msg ' + role;
    const who = document.createElement('span');
    who.className = 'role';
    who.textContent = role === 'user' ? 'You' : role === 'assistant' ? 'Assistant' : role;
    const content = document.createElement('p');
    content.className = 'content';
    content.textContent = text;
    div.append(who, content);
    el.messages.append(div);
    scrollDown();
    return div;
  }

  function setMeta(div, text) {
    let meta = div.querySelector('.meta');
    if (!meta) {
      meta = document.createElement('span');
      meta.className = 'meta';
      div.append(meta);
    }
    meta.textContent = text;
  }

  function renderHistory() {
    el.messages.querySelectorAll('.msg').forEach((n) => n.remove());
    el.emptyHint.hidden = history.length > 0;
    for (const m of history) renderMessage(m.role, m.content);
  }

  function setBusy(busy) {
    el.send.disabled = busy;
    el.stop.disabled = !busy;
    el.composer.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  // ---- one turn -----------------------------------------------------------

  async function send(text) {
    hideError();
    history.push({ role: 'user', content: text });
    const userDiv = renderMessage('user', text);
    const div = renderMessage('assistant', '');
    const content = div.querySelector('.content');
    div.classList.add('streaming');
    div.dataset.state = 'waiting';
    el.prompt.value = '';
    setBusy(true);
    el.status.textContent = 'Waiting for the model\u2026';

    controller = new AbortController();
    const started = performance.now();
    let reply = '', finish = null, usage = null, firstAt = 0, failure = null, stopped = false;
    try {
      const res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: authHeaders({ 'Content-Type': 'application/json', 'Accept': 'text/event-stream' }),
        body: JSON.stringify(requestBody()),
        signal: controller.signal,
      });
      if (!res.ok) {
        failure = await responseError(res);
      } else {
        div.dataset.state = 'streaming';
        el.status.textContent = 'Generating\u2026';
        await readEvents(res.body, (data) => {
          if (data === '[DONE]') return;
          let chunk;
          try { chunk = JSON.parse(data); } catch (e) { return; }
          if (chunk.error) {
            failure = { status: 0, message: chunk.error.message || String(chunk.error) };
            return;
          }
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices && chunk.choices[0];
          if (!choice) return;
          const delta = choice.delta && choice.delta.content;
          if (delta) {
            if (!firstAt) firstAt = performance.now();
            const follow = nearBottom();
            reply += delta;
            content.append(delta);
            if (follow) scrollDown();
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        });
      }
    } catch (e) {
      if (e && e.name === 'AbortError') stopped = true;
      else failure = { status: 0, message: 'connection failed: ' + (e && e.message ? e.message : e) };
    }
    controller = null;
    setBusy(false);
    div.classList.remove('streaming');

    if (failure && !reply) {
      // Nothing came back: undo the turn and give the text back to edit.
      history.pop();
      userDiv.remove();
      div.remove();
      el.emptyHint.hidden = history.length > 0;
      el.prompt.value = text;
      el.status.textContent = '';
      showError(failure);
      saveState();
      return;
    }
    history.push({ role: 'assistant', content: reply });
    saveState();
    const secs = ((firstAt ? performance.now() - firstAt : 0) / 1000);
    const parts = [];
    if (usage && usage.completion_tokens) {
      parts.push(usage.completion_tokens + ' tokens');
      if (secs > 0 && usage.completion_tokens > 1)
        parts.push(((usage.completion_tokens - 1) / secs).toFixed(1) + ' tokens/s');
    }
    if (firstAt) parts.push('first token after ' + Math.round(firstAt - started) + ' ms');
    if (stopped) {
      div.dataset.state = 'stopped';
      parts.unshift('stopped');
      el.status.textContent = 'Stopped.';
    } else if (failure) {
      div.dataset.state = 'error';
      parts.unshift('interrupted');
      el.status.textContent = '';
      showError(failure);
    } else {
      div.dataset.state = 'done';
      if (finish === 'length') parts.unshift('cut at max tokens');
      el.status.textContent = '';
    }
    setMeta(div, parts.join(' \u00b7 '));
  }

  // ---- wiring -------------------------------------------------------------

  el.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (controller) return;
    const text = el.prompt.value.trim();
    if (!text) {
      el.prompt.focus();
      return;
    }
    send(text);
  });

  el.prompt.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      el.composer.requestSubmit();
    }
  });

  el.stop.addEventListener('click', () => {
    if (controller) controller.abort();
  });

  el.newChat.addEventListener('click', () => {
    if (controller) controller.abort();
    history = [];
    hideError();
    el.status.textContent = '';
    renderHistory();
    saveState();
    el.prompt.focus();
  });

  el.toggleKey.addEventListener('click', () => {
    const show = el.accessKey.type === 'password';
    el.accessKey.type = show ? 'text' : 'password';
    el.toggleKey.textContent = show ? 'Hide' : 'Show';
    el.toggleKey.setAttribute('aria-pressed', show ? 'true' : 'false');
  });

  el.accessKey.addEventListener('change', () => {
    storageSet(KEY_STORE, el.accessKey.value.trim());
    hideError();
    loadModels();
  });

  for (const input of [el.system, el.temperature, el.topP, el.maxTokens, el.seed, el.jsonMode])
    input.addEventListener('change', saveState);

  // Settings start open where there is room for them beside the chat.
  if (window.matchMedia && window.matchMedia('(min-width: 900px)').matches) el.settings.open = true;

  loadState();
  renderHistory();
  loadModels();
})();
