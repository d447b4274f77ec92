// The scene editor of an ad-creative or music-video job: each scene with a
// thumbnail from the delivered video, its text, narration, style and trim;
// drag (or the move buttons) to reorder. Submitting makes an edit job, as
// `POST /jobs/{id}/edits` does: the original stays as it was.

import { api, field, h, objectUrl, pageSignal, render, say } from './lib.js';

/** A scene field, whichever spelling the plan uses. */
const get = (scene, snake) => scene[snake] ?? scene[snake.replaceAll('_', '-')] ?? '';

/** Draws each scene's middle frame from the delivered video. */
async function thumbnails(url, cards) {
  const video = h('video', { src: url, muted: true, preload: 'auto' });
  await new Promise((resolve, reject) => {
    video.addEventListener('loadeddata', resolve, { once: true });
    video.addEventListener('error', () => reject(new Error('the video does not play here')), { once: true });
  });
  for (const card of cards) {
    await new Promise((resolve) => {
      video.addEventListener('seeked', resolve, { once: true });
      video.currentTime = card.middle / 1000;
    });
    const canvas = card.canvas;
    canvas.width = 192;
    canvas.height = 108;
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.dataset.drawn = 'true';
  }
}

function sceneCard(shot, line, start, list, renumber) {
  const scene = shot.scene;
  const id = shot.id;
  const trim = shot.trim || [0, shot.written_ms];
  const canvas = h('canvas', { role: 'img', 'aria-label': `scene ${id}`, width: 192, height: 108 });
  const text = h('input', { type: 'text', id: `text-${id}`, value: get(scene, 'on_screen_text') });
  const narration = h('textarea', { id: `narration-${id}` }, line ? line.narration : get(scene, 'narration'));
  const visual = h('textarea', { id: `visual-${id}` }, get(scene, 'visual'));
  const style = h('input', { type: 'text', id: `style-${id}`, value: shot.style || '', placeholder: 'the director’s choice' });
  const trimIn = h('input', { type: 'number', id: `trim-in-${id}`, min: 0, max: shot.written_ms, step: 1, value: trim[0] });
  const trimOut = h('input', { type: 'number', id: `trim-out-${id}`, min: 0, max: shot.written_ms, step: 1, value: trim[1] });
  const regenerate = h('input', { type: 'checkbox', id: `regenerate-${id}` });
  const position = h('span', { class: 'position' });
  const item = h('li', { class: 'scene', draggable: 'true', 'data-scene': id },
    h('div', { class: 'grip', title: 'Drag to reorder', 'aria-hidden': 'true' }, '⋮⋮'),
    h('div', {}, canvas, h('div', { class: 'hint' }, position, ` · scene ${id} · ${(get(scene, 'duration_ms') / 1000).toFixed(1)} s`),
      h('div', { class: 'moves' },
        h('button', { type: 'button', class: 'secondary', id: `up-${id}`, 'aria-label': `Move scene ${id} earlier`, onclick: () => move(-1) }, '↑'),
        h('button', { type: 'button', class: 'secondary', id: `down-${id}`, 'aria-label': `Move scene ${id} later`, onclick: () => move(1) }, '↓'))),
    h('div', { class: 'fields' },
      field('On-screen text', text),
      field('Style', style),
      field('Narration', narration),
      field('What the viewer sees', visual),
      field('Trim in (ms)', trimIn, `0 to ${shot.written_ms}`),
      field('Trim out (ms)', trimOut, `at most ${shot.written_ms}`),
      h('div', { class: 'field' }, h('label', {}, regenerate, ' Regenerate (a new take)'))));

  function move(by) {
    const sibling = by < 0 ? item.previousElementSibling : item.nextElementSibling;
    if (!sibling) return;
    if (by < 0) list.insertBefore(item, sibling); else list.insertBefore(sibling, item);
    renumber();
    document.getElementById(`${by < 0 ? 'up' : 'down'}-${id}`).focus();
  }

  // What changed, as a SceneEdit; null when nothing did.
  const edit = () => {
    const e = {};
    if (text.value !== get(scene, 'on_screen_text')) e['on-screen-text'] = text.value;
    if (narration.value !== (line ? line.narration : get(scene, 'narration'))) e.narration = narration.value;
    if (visual.value !== get(scene, 'visual')) e.visual = visual.value;
    if (style.value.trim() !== (shot.style || '')) e.style = style.value.trim() || null;
    const cut = [Number(trimIn.value), Number(trimOut.value)];
    if (cut[0] !== trim[0] || cut[1] !== trim[1]) e.trim = cut;
    if (regenerate.checked) e.take = 1;
    return Object.keys(e).length ? e : null;
  };
  return { id, item, canvas, position, edit, middle: start + get(scene, 'duration_ms') / 2 };
}

export async function scenesPage(jobId) {
  const signal = pageSignal();
  const plan = await api(`/jobs/${jobId}/scenes`, { signal });
  const list = h('ol', { class: 'scenes', id: 'scenes', 'aria-label': 'Scenes in playing order' });
  const renumber = () => [...list.children].forEach((li, i) => {
    cards.find((c) => c.item === li).position.textContent = `#${i + 1}`;
  });
  let start = 0;
  const cards = plan.shots.map((shot, i) => {
    const card = sceneCard(shot, plan.lines[i], start, list, renumber);
    start += get(shot.scene, 'duration_ms');
    return card;
  });
  list.append(...cards.map((c) => c.item));
  renumber();

  // Drag and drop: a scene dropped on another takes its place.
  let dragged = null;
  list.addEventListener('dragstart', (e) => {
    dragged = e.target.closest('.scene');
    dragged.classList.add('dragging');
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('text/plain', dragged.dataset.scene);
  });
  list.addEventListener('dragend', () => { dragged?.classList.remove('dragging'); dragged = null; });
  list.addEventListener('dragover', (e) => {
    const over = e.target.closest('.scene');
    if (!dragged || !over || over === dragged) return;
    e.preventDefault();
    list.querySelectorAll('.over').forEach((el) => el.classList.remove('over'));
    over.classList.add('over');
  });
  list.addEventListener('drop', (e) => {
    e.preventDefault();
    const over = e.target.closest('.scene');
    list.querySelectorAll('.over').forEach((el) => el.classList.remove('over'));
    if (!dragged || !over || over === dragged) return;
    const after = [...list.children].indexOf(dragged) < [...list.children].indexOf(over);
    list.insertBefore(dragged, after ? over.nextSibling : over);
    renumber();
  });

  const submit = h('button', { type: 'submit', id: 'submit-edits' }, 'Render the edit');
  const form = h('form', { id: 'scene-editor' }, list, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const order = [...list.children].map((li) => Number(li.dataset.scene));
    const edits = {};
    if (order.join() !== plan.shots.map((s) => s.id).join()) edits.order = order;
    const scenes = {};
    for (const card of cards) {
      const edit = card.edit();
      if (edit) scenes[card.id] = edit;
    }
    if (Object.keys(scenes).length) edits.scenes = scenes;
    if (!Object.keys(edits).length) {
      say('Nothing was changed.', 'error');
      return;
    }
    submit.disabled = true;
    try {
      const edited = await api(`/jobs/${jobId}/edits`, { method: 'POST', json: edits });
      location.hash = `#/jobs/${edited.id}`;
    } catch (err) {
      say(`Not submitted: ${err.message}`, 'error');
      submit.disabled = false;
    }
  });

  render(
    h('h1', {}, `Scenes of job ${jobId.slice(0, 12)}`),
    h('p', { class: 'hint' }, 'Drag a scene, or use its arrows, to reorder. Submitting renders an edit as a new job: the original stays, and only the scenes you changed render again.'),
    form,
  );
  const url = await objectUrl(`/jobs/${jobId}/outputs/ad.mp4`, signal);
  thumbnails(url, cards).catch((err) => say(`No thumbnails: ${err.message}`, 'error'));
}
