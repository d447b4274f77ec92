// Submitting a job: the form is made from the pipeline's own input
// declarations (`GET /pipelines`); files are uploaded first, with progress,
// then the job refers to them by hash.

import { api, field, h, pageSignal, render, say, upload } from './lib.js';

function inputControl(name, spec) {
  const required = !spec.optional && spec.default === null;
  if (spec.kind === 'file') {
    const control = h('input', { type: 'file', id: `input-${name}`, name, required });
    const bar = h('progress', { max: 1, value: 0, id: `progress-${name}`, hidden: true, 'aria-label': `upload of ${name}` });
    const label = required ? name : `${name} (optional)`;
    return { name, kind: 'file', control, element: h('div', {}, field(label, control, spec.description), bar), bar };
  }
  const control = h('input', { type: 'text', id: `input-${name}`, name, required, placeholder: spec.default || '' });
  const hint = [spec.description, spec.default !== null ? `Default: ${spec.default}` : null].filter(Boolean).join(' · ');
  const label = required ? name : `${name} (optional)`;
  return { name, kind: 'text', control, element: field(label, control, hint || null) };
}

export async function newJobPage() {
  const signal = pageSignal();
  const { pipelines } = await api('/pipelines', { signal });
  const choice = h('select', { id: 'pipeline', name: 'pipeline' },
    pipelines.map((p) => h('option', { value: p.name }, p.name)));
  const described = h('p', { class: 'hint', id: 'pipeline-description' });
  const fields = h('fieldset', {}, h('legend', {}, 'Inputs'));
  const priority = h('input', { type: 'number', id: 'priority', min: -1000, max: 1000, step: 1, value: 0 });
  const submit = h('button', { type: 'submit', id: 'submit-job' }, 'Submit');
  let inputs = [];

  const build = () => {
    const pipeline = pipelines.find((p) => p.name === choice.value);
    described.textContent = pipeline.description || '';
    inputs = Object.entries(pipeline.inputs).map(([name, spec]) => inputControl(name, spec));
    fields.replaceChildren(h('legend', {}, 'Inputs'), ...inputs.map((i) => i.element));
  };
  choice.addEventListener('change', build);
  const initial = new URLSearchParams(location.hash.split('?')[1] || '').get('pipeline');
  if (initial && pipelines.some((p) => p.name === initial)) choice.value = initial;
  build();

  const form = h('form', { class: 'panel', id: 'new-job' },
    field('Pipeline', choice), described, fields,
    field('Priority', priority, 'Among your jobs, higher runs first (−1000 to 1000).'),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const values = {};
      for (const input of inputs) {
        if (input.kind === 'file') {
          const file = input.control.files[0];
          if (!file) continue;
          input.bar.hidden = false;
          const stored = await upload('/inputs', file, { onProgress: (f) => { input.bar.value = f; } });
          input.bar.value = 1;
          values[input.name] = { sha256: stored.sha256, name: file.name };
        } else if (input.control.value.trim() !== '') {
          values[input.name] = input.control.value;
        }
      }
      const job = await api('/jobs', {
        method: 'POST',
        json: { pipeline: choice.value, inputs: values, priority: Number(priority.value || 0) },
      });
      location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      // The form keeps what was typed and chosen: fix and submit again.
      say(`Not submitted: ${err.message}`, 'error');
      submit.disabled = false;
    }
  });
  render(h('h1', {}, 'New job'), form);
}
