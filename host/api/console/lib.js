// What every page of the console shares: the session, API calls, the job
// event stream, element building and formatting. No framework: the pages
// are small, and plain DOM calls keep the console free of a build step.

/** The signed-in token and role, kept for this tab only (sessionStorage). */
export const session = {
  get token() { return sessionStorage.getItem('kino.token'); },
  get role() { return sessionStorage.getItem('kino.role'); },
  get name() { return sessionStorage.getItem('kino.name') || ''; },
  set(token, role, name) {
    sessionStorage.setItem('kino.token', token);
    sessionStorage.setItem('kino.role', role);
    sessionStorage.setItem('kino.name', name || '');
  },
  clear() { sessionStorage.clear(); },
};

/** An API answer that was not 2xx: its status and the API's own message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function failure(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) message = body.error;
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(res.status, message);
}

/**
 * Calls the API with the session's bearer token. The token travels only in
 * the Authorization header, never in a cookie, so another site cannot make
 * the browser send it (the console's CSRF defence).
 */
export async function api(path, { method = 'GET', json, body, headers = {}, raw = false, signal, token } = {}) {
  const all = { Authorization: `Bearer ${token || session.token}`, ...headers };
  if (json !== undefined) {
    all['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  const res = await fetch(path, { method, headers: all, body, signal, cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  if (raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  return type.includes('json') ? res.json() : res.text();
}

/**
 * Uploads `file` as the body of a POST to `path`, reporting progress
 * (fetch cannot report upload progress; XMLHttpRequest can).
 */
export function upload(path, file, { contentType = 'application/octet-stream', onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Authorization', `Bearer ${session.token}`);
    xhr.setRequestHeader('Content-Type', contentType);
    xhr.responseType = 'json';
    if (onProgress) xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new ApiError(xhr.status, (xhr.response && xhr.response.error) || `upload failed (${xhr.status})`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'the upload was cut off (network error)'));
    xhr.send(file);
  });
}

/** Things to undo when the page changes: open streams, object URLs, timers. */
const undo = [];
export function onLeave(fn) { undo.push(fn); }
export function leavePage() { while (undo.length) { try { undo.pop()(); } catch { /* already gone */ } } }

/** An AbortSignal that fires when the page changes. */
export function pageSignal() {
  const controller = new AbortController();
  onLeave(() => controller.abort());
  return controller.signal;
}

/**
 * Follows a job's server-sent events (`GET /jobs/{id}/events`) with fetch,
 * since EventSource cannot send an Authorization header. Calls `onEvent`
 * with `{id, at, kind, data}` for each, from the first; resumes with
 * `Last-Event-ID` if the connection drops before the job ends.
 */
export async function followEvents(jobId, onEvent, signal) {
  let last = null;
  let ended = false;
  while (!ended && !signal.aborted) {
    try {
      const headers = last ? { 'Last-Event-ID': last } : {};
      const res = await api(`/jobs/${jobId}/events`, { raw: true, headers, signal });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let id = null;
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('id:')) id = line.slice(3).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (!data.length) continue; // a keep-alive comment
          if (id) last = id;
          const event = { id, ...JSON.parse(data.join('\n')) };
          if (event.kind === 'completed' || event.kind === 'failed') ended = true;
          onEvent(event);
        }
      }
      ended = true; // the server ends the stream once the job has ended
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.status !== 0 && e.status < 500) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * What a job's events say: its state, each node (`stage` or `stage[i]`)
 * with how it went, and how far along it is.
 */
export class JobProgress {
  constructor(job) {
    this.state = job ? job.state : 'pending';
    this.error = job ? job.error : null;
    this.stages = 0;
    this.extra = 0; // nodes beyond one per stage, from fan-outs
    this.nodes = new Map();
    this.notes = [];
    this.events = [];
    this.editOf = null;
    this.outputs = null;
    this.firstAt = null;
  }

  node(name) {
    if (!this.nodes.has(name)) {
      this.nodes.set(name, { name, status: 'waiting', attempts: 0, plugin: null, startedAt: null, ms: null, errors: [] });
    }
    return this.nodes.get(name);
  }

  apply(event) {
    const d = event.data || {};
    this.events.push(event);
    if (this.firstAt === null) this.firstAt = event.at;
    switch (event.kind) {
      case 'created': this.editOf = d.edit_of || null; break;
      case 'planned': this.stages = d.stages; break;
      case 'fanned-out': this.extra += d.nodes - 1; break;
      case 'stage-cached': Object.assign(this.node(d.stage), { status: 'cached' }); break;
      case 'stage-started': {
        const n = this.node(d.stage);
        Object.assign(n, { status: 'running', attempts: d.attempt, plugin: d.plugin, startedAt: event.at });
        if (this.state === 'pending') this.state = 'running';
        break;
      }
      case 'stage-finished': Object.assign(this.node(d.stage), { status: 'ran', ms: d.ms, plugin: d.plugin }); break;
      case 'stage-failed': {
        const n = this.node(d.stage);
        n.status = 'failed';
        n.errors.push(d.error);
        break;
      }
      case 'stage-note': this.notes.push(`${d.stage}: ${d.note}`); break;
      case 'stage-degraded': this.notes.push(`${d.stage}: degraded: ${d.reason}`); break;
      case 'fallback': this.notes.push(`${d.stage}: ${d.policy} decided: ${d.decision}`); break;
      case 'completed': this.state = 'completed'; this.outputs = d.outputs; break;
      case 'failed': this.state = 'failed'; this.error = d.error; break;
      default: break;
    }
  }

  get done() { return [...this.nodes.values()].filter((n) => n.status === 'ran' || n.status === 'cached').length; }
  get total() { return Math.max(this.stages + this.extra, this.nodes.size, 1); }
  get fraction() { return this.state === 'completed' ? 1 : Math.min(this.done / this.total, 1); }
}

/** Builds an element: `h('a', {href: '#/jobs'}, 'Jobs')`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    // Through the CSSOM: the Content-Security-Policy refuses style attributes.
    else if (key === 'style') Object.assign(el.style, value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** A labelled form field: the label names the control for screen readers. */
let fieldCount = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++fieldCount}`;
  control.id = id;
  const hintEl = hint ? h('div', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** Replaces the page's content and moves focus to it. */
export function render(...children) {
  const main = document.getElementById('main');
  main.replaceChildren(...children);
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · Kino` : 'Kino console';
  main.focus({ preventScroll: true });
}

/** Says something in the status line (announced to screen readers). */
export function say(message, kind = 'ok') {
  const status = document.getElementById('status');
  status.replaceChildren(message ? h('p', { class: kind }, message) : '');
}

/** Runs `action`, saying its error in the status line instead of losing it. */
export async function attempt(action) {
  try {
    return await action();
  } catch (e) {
    say(e.message || String(e), 'error');
    return undefined;
  }
}

/** An authenticated download, whole, as a Blob. */
export async function fetchBlob(path, signal) {
  const res = await api(path, { raw: true, signal });
  return res.blob();
}

/** An object URL for a Blob (or an authenticated URL), revoked on leaving the page. */
export async function objectUrl(source, signal) {
  const blob = typeof source === 'string' ? await fetchBlob(source, signal) : source;
  const url = URL.createObjectURL(blob);
  onLeave(() => URL.revokeObjectURL(url));
  return url;
}

export function stateTag(state) { return h('span', { class: `state state-${state}` }, state); }

export function age(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export const terminal = (state) => state === 'completed' || state === 'failed';
