// A tenant's jobs: the list, updated live, and one job's page with its
// per-stage timeline, events, error and outputs.

import {
  age, api, duration, fetchBlob, followEvents, h, JobProgress, objectUrl, onLeave, pageSignal, render, say, stateTag, terminal,
} from './lib.js';

/** Redraws at most once a frame, however many events arrive. */
function throttled(draw) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; draw(); });
  };
}

function progressBar(fraction, label) {
  return h('progress', { max: 1, value: fraction, 'aria-label': label }, `${Math.round(fraction * 100)}%`);
}

/**
 * A browser holds six connections to a server: at most this many event
 * streams stay open, so that API calls never wait behind them. Jobs beyond
 * it are updated from the list, re-read every few seconds.
 */
const MAX_STREAMS = 3;

export async function jobsPage() {
  const signal = pageSignal();
  const body = h('tbody');
  const rows = new Map();
  let streams = 0;

  // One row per job; a job not yet ended follows its event stream.
  const add = (job, atTop) => {
    const progress = new JobProgress(job);
    const stateCell = h('td', {}, stateTag(job.state));
    const progressCell = h('td');
    const row = h('tr', { 'data-job': job.id },
      h('td', {}, h('a', { href: `#/jobs/${job.id}`, class: 'mono' }, job.id.slice(0, 12))),
      h('td', {}, job.pipeline),
      stateCell,
      h('td', {}, age(job.created_at)),
      progressCell);
    const draw = () => {
      stateCell.replaceChildren(stateTag(progress.state));
      const known = progress.events.length > 0 || terminal(progress.state);
      progressCell.replaceChildren(progressBar(progress.fraction, `progress of job ${job.id}`),
        known && progress.stages ? ` ${progress.done}/${progress.total}` : '');
    };
    draw();
    const entry = { progress, draw, streamed: false };
    rows.set(job.id, entry);
    if (atTop) body.prepend(row); else body.append(row);
    if (terminal(job.state) || streams >= MAX_STREAMS) return;
    streams += 1;
    entry.streamed = true;
    const redraw = throttled(draw);
    followEvents(job.id, (event) => { progress.apply(event); redraw(); }, signal)
      .catch(() => {})
      .finally(() => { streams -= 1; entry.streamed = false; });
  };

  const jobs = await api('/jobs?limit=100', { signal });
  jobs.forEach((job) => add(job, false));
  const empty = h('p', { class: 'hint', hidden: jobs.length > 0 }, 'No jobs yet: ', h('a', { href: '#/new' }, 'submit one'), '.');

  // Jobs submitted elsewhere (the CLI, another tab) join the list; jobs
  // without a stream of their own take their state from it.
  const timer = setInterval(async () => {
    try {
      const latest = await api('/jobs?limit=100', { signal });
      for (const job of [...latest].reverse()) {
        const entry = rows.get(job.id);
        if (!entry) add(job, true);
        else if (!entry.streamed && entry.progress.state !== job.state) {
          entry.progress.state = job.state;
          entry.draw();
        }
      }
      empty.hidden = rows.size > 0;
    } catch { /* the next tick tries again */ }
  }, 3000);
  onLeave(() => clearInterval(timer));

  render(
    h('h1', {}, 'Jobs'),
    h('p', {}, h('a', { href: '#/new' }, 'New job')),
    empty,
    h('table', { id: 'jobs' },
      h('thead', {}, h('tr', {}, ['Job', 'Pipeline', 'State', 'Submitted', 'Progress'].map((t) => h('th', { scope: 'col' }, t)))),
      body),
  );
}

/** The per-node timeline: what ran, came from the cache, failed, where and how long. */
function timeline(progress) {
  const nodes = [...progress.nodes.values()];
  const t0 = progress.firstAt || Date.now();
  const ends = nodes.map((n) => (n.startedAt || t0) + (n.ms || (n.status === 'running' ? Date.now() - n.startedAt : 0)));
  const span = Math.max(1, ...ends.map((e) => e - t0));
  const rows = nodes.map((n) => {
    const left = n.startedAt ? ((n.startedAt - t0) / span) * 100 : 0;
    const width = n.ms ? (n.ms / span) * 100 : n.status === 'running' ? ((Date.now() - n.startedAt) / span) * 100 : 0;
    const retried = n.attempts > 1 ? ` (attempt ${n.attempts})` : '';
    return h('tr', { 'data-node': n.name, 'data-status': n.status },
      h('td', { class: 'mono' }, n.name),
      h('td', {}, h('span', { class: `tag ${n.status}` }, n.status + retried)),
      h('td', {}, n.plugin || 'host'),
      h('td', {}, duration(n.ms)),
      h('td', { class: 'bar' }, h('div', { class: 'bar-track', 'aria-hidden': 'true' },
        h('div', { class: `bar-fill ${n.status}`, style: { left: `${left}%`, width: `${width}%` } }))),
      h('td', {}, n.errors.map((e) => h('div', { class: 'error' }, e))));
  });
  return h('table', { class: 'timeline', id: 'timeline' },
    h('thead', {}, h('tr', {}, ['Node', 'How', 'By', 'Took', 'When', 'Errors'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
}

const outputType = (name) => (name.endsWith('.mp4') ? 'video' : name.endsWith('.json') ? 'json' : 'text');

/** A job's outputs: videos play here (with its captions over them), the rest is readable. */
async function outputs(job, names, signal) {
  const blobs = {};
  const urls = {};
  await Promise.all(names.map(async (name) => {
    blobs[name] = await fetchBlob(`/jobs/${job.id}/outputs/${encodeURIComponent(name)}`, signal);
    urls[name] = await objectUrl(blobs[name]);
  }));
  const captions = names.find((n) => n.endsWith('.vtt'));
  const parts = [];
  for (const name of names) {
    const download = h('a', { href: urls[name], download: name }, `Download ${name}`);
    if (outputType(name) === 'video') {
      const video = h('video', { controls: true, src: urls[name], preload: 'auto', 'data-output': name, 'aria-label': name });
      if (captions) video.append(h('track', { kind: 'captions', src: urls[captions], srclang: 'en', label: 'Captions', default: true }));
      parts.push(h('figure', {}, video, h('figcaption', {}, name, ' · ', download)));
    } else {
      const text = await blobs[name].text();
      let shown = text;
      if (outputType(name) === 'json') {
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as sent */ }
      }
      parts.push(h('details', { 'data-output': name }, h('summary', {}, name, ' · ', download), h('pre', {}, shown)));
    }
  }
  return parts;
}

/** For an edit: the scenes it rendered again, by scene id, and the rest reused. */
async function rerendered(job, progress, signal) {
  const plan = await api(`/jobs/${job.id}/scenes`, { signal });
  const ran = [];
  const reused = [];
  for (const [name, node] of progress.nodes) {
    const m = name.match(/^render\[(\d+)\]$/);
    if (!m) continue;
    const shot = plan.shots[Number(m[1])];
    if (!shot) continue;
    (node.status === 'ran' ? ran : reused).push(shot.id);
  }
  ran.sort((a, b) => a - b);
  reused.sort((a, b) => a - b);
  return h('div', { id: 'rerendered', 'data-scenes': ran.join(',') },
    h('p', { class: 'rerendered' }, ran.length ? `Rendered again: scene ${ran.join(', scene ')}` : 'No scene was rendered again'),
    h('p', { class: 'hint' }, reused.length ? `From the cache: scene ${reused.join(', scene ')}` : ''));
}

export async function jobPage(id) {
  const signal = pageSignal();
  const job = await api(`/jobs/${id}`, { signal });
  const progress = new JobProgress(job);
  const state = h('span', { id: 'job-state' });
  const bar = h('span');
  const error = h('div', { id: 'job-error', role: 'alert' });
  const nodes = h('div');
  const notes = h('ul', { id: 'notes' });
  const events = h('ol', { id: 'events', class: 'mono' });
  const results = h('section', { id: 'outputs', 'aria-labelledby': 'outputs-h' });
  const editOf = h('span');
  let shown = false;

  const draw = throttled(() => {
    state.replaceChildren(stateTag(progress.state));
    bar.replaceChildren(progressBar(progress.fraction, 'progress'), ` ${progress.done} of ${progress.total} nodes`);
    error.replaceChildren(progress.state === 'failed' ? h('p', { class: 'error' }, `The job failed: ${progress.error}`) : '');
    nodes.replaceChildren(timeline(progress));
    notes.replaceChildren(...progress.notes.map((n) => h('li', {}, n)));
    events.replaceChildren(...progress.events.map((e) => h('li', {}, `${new Date(e.at).toLocaleTimeString()} ${e.kind} ${JSON.stringify(e.data)}`)));
    if (progress.editOf) {
      editOf.replaceChildren(' · edits ', h('a', { href: `#/jobs/${progress.editOf}` }, progress.editOf.slice(0, 12)));
    }
  });

  const showOutputs = async () => {
    if (shown || progress.state !== 'completed') return;
    shown = true;
    const names = progress.outputs || [];
    const parts = [h('h2', { id: 'outputs-h' }, 'Outputs')];
    const editable = names.includes('ad.mp4');
    if (editable) parts.push(h('p', {}, h('a', { href: `#/jobs/${job.id}/scenes`, id: 'edit-scenes' }, 'Edit scenes')));
    if (progress.editOf && editable) {
      parts.push(await rerendered(job, progress, signal));
      const before = await objectUrl(`/jobs/${progress.editOf}/outputs/ad.mp4`, signal);
      const after = await objectUrl(`/jobs/${job.id}/outputs/ad.mp4`, signal);
      parts.push(h('h2', {}, 'Original and edit'), h('div', { class: 'videos', id: 'side-by-side' },
        h('figure', {}, h('video', { controls: true, src: before, 'aria-label': 'the original' }), h('figcaption', {}, 'Original')),
        h('figure', {}, h('video', { controls: true, src: after, 'aria-label': 'the edit' }), h('figcaption', {}, 'Edited'))));
    }
    parts.push(h('div', { class: 'videos' }, await outputs(job, names, signal)));
    results.replaceChildren(...parts);
  };

  render(
    h('h1', {}, `Job ${job.id.slice(0, 12)}`),
    h('p', {}, `${job.pipeline} · submitted ${age(job.created_at)} · `, state, editOf),
    h('p', {}, bar),
    error,
    results,
    h('h2', {}, 'Stages'),
    nodes,
    h('h2', {}, 'Notes'),
    notes,
    h('details', {}, h('summary', {}, 'Events'), events),
  );
  draw();
  // Running nodes' bars grow between events.
  const timer = setInterval(() => progress.state === 'running' && draw(), 1000);
  onLeave(() => clearInterval(timer));
  await followEvents(id, (event) => {
    progress.apply(event);
    draw();
    if (event.kind === 'completed') showOutputs().catch((e) => say(`Outputs not shown: ${e.message}`, 'error'));
  }, signal);
}
