// The operator's pages: plugins (install, inspect, yank) and tenants (API
// keys, plugin bindings, secrets, quota). Everything the API returns goes
// into the page through h() as text, never parsed as HTML. A refused action
// leaves its form as the user filled it and says why next to it.

import { api, ApiError, age, attempt, field, h, onLeave, pageSignal, render, say, upload } from './lib.js';

const enc = encodeURIComponent;

// ---- Building blocks ----

/** A table with column headers; `empty` says what having no rows means. */
function table(id, headers, rows, empty) {
  const body = rows.length ? rows : [h('tr', {}, h('td', { colspan: headers.length, class: 'hint' }, empty))];
  return h('table', { id },
    h('thead', {}, h('tr', {}, headers.map((text) => h('th', { scope: 'col' }, text)))),
    h('tbody', {}, body));
}

/** A line for a problem, hidden until there is one; role=alert announces it. */
const problemLine = (id) => h('p', { class: 'error', role: 'alert', id, hidden: true });

function tell(line, message) { line.textContent = message || ''; line.hidden = !message; }

/** Shows (or clears) a control's problem under it and marks it invalid. */
function flag(control, line, message) {
  tell(line, message);
  if (message) control.setAttribute('aria-invalid', 'true'); else control.removeAttribute('aria-invalid');
}

/** field() with a problem line under the control, which describes it. */
function checkedField(label, control, hint) {
  const wrap = field(label, control, hint);
  const line = problemLine(`${control.id}-problem`);
  control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), line.id].filter(Boolean).join(' '));
  wrap.append(line);
  return { wrap, line };
}

/**
 * Sends a form's request with its submit button disabled (a double click
 * sends once). A refusal goes to `refused` and answers null; the form keeps
 * what was typed either way.
 */
async function send(form, request, refused) {
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try { return { answer: await request() }; } catch (err) { refused(err.message); return null; } finally { button.disabled = false; }
}

const danger = (label, what, onclick) => h('button', { type: 'button', class: 'danger', 'aria-label': `${label} ${what}`, onclick }, label);

/** A time (ms since the epoch) as "3 min ago", the full date on hover. */
function when(ms) {
  const date = new Date(ms);
  return h('time', { datetime: date.toISOString(), title: date.toLocaleString() }, age(ms));
}

/** Newer versions first: by major, minor and patch (enough to sort a list). */
const core = (version) => (/^(\d+)\.(\d+)\.(\d+)/.exec(version) || [0, -1, -1, -1]).slice(1).map(Number);
const newer = (a, b) => {
  const [x, y] = [core(a), core(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
};

/** `kino:stage/translator@0.1.0` → `translator`. */
const worldName = (ref) => ref.replace(/^.*\//, '').replace(/@.*$/, '');

const versionPath = (p) => `/admin/plugins/${enc(p.name)}/${enc(p.version)}`;
const exact = (p) => `${p.name}@=${p.version}`;

// ---- #/plugins ----

export async function pluginsPage() {
  const list = h('div', {});
  // Only the first load stops with the page: a refresh after an action finishes.
  const refresh = async () => list.replaceChildren(pluginTable(await api('/admin/plugins'), refresh));
  list.append(pluginTable(await api('/admin/plugins', { signal: pageSignal() }), refresh));
  render(h('h1', {}, 'Plugins'),
    h('h2', {}, 'Install a plugin'), uploadForm(refresh),
    h('h2', {}, 'Installed versions'), list);
}

function pluginTable(plugins, refresh) {
  const sorted = [...plugins].sort((a, b) => a.name.localeCompare(b.name) || newer(b.version, a.version));
  return table('plugins', ['Name', 'Version', 'World', 'Signer', 'Installed', 'State', 'Actions'],
    sorted.map((p) => pluginRow(p, refresh)), 'No plugin installed yet.');
}

function pluginRow(p, refresh) {
  const yank = danger('Yank', `${p.name} ${p.version}`, () => yankPlugin(p, refresh));
  yank.disabled = p.yanked;
  const installed = new Date(p.installed_at * 1000); // seconds, unlike the store's ms
  return h('tr', { 'data-plugin': `${p.name}@${p.version}` },
    h('td', {}, p.name),
    h('td', { class: 'mono' }, p.version),
    h('td', { class: 'mono' }, p.world),
    p.signer ? h('td', { class: 'mono' }, p.signer) : h('td', { class: 'hint' }, 'unsigned'),
    h('td', {}, h('time', { datetime: installed.toISOString() }, installed.toLocaleString())),
    h('td', {}, p.yanked ? h('span', { class: 'tag yanked' }, 'yanked') : null, ' ',
      p.enabled ? null : h('span', { class: 'tag' }, 'disabled')),
    h('td', {}, h('div', { class: 'row' }, yank, manifestDetails(p))));
}

async function yankPlugin(p, refresh) {
  const what = `${p.name} ${p.version}`;
  if (!window.confirm(`Yank ${what}? No new binding will resolve to it; bindings made before keep it until they are rebound.`)) return;
  await attempt(async () => {
    const kept = (await api(`${versionPath(p)}/yank`, { method: 'POST' })).still_bound || [];
    // The answer names tenants by id: look their names up, but an id will do.
    const tenants = kept.length ? await api('/admin/tenants').catch(() => []) : [];
    const name = (id) => (tenants.find((t) => t.id === id) || { name: id }).name;
    await refresh();
    say(kept.length
      ? `Yanked ${what}. Still bound until rebound: ${kept.map((b) => `${name(b.tenant)} / ${b.slot} (${b.requirement})`).join('; ')}.`
      : `Yanked ${what}. No binding uses it.`);
  });
}

/** A <details> that loads the version's manifest the first time it opens. */
function manifestDetails(p) {
  const body = h('div', {}, h('p', { class: 'hint' }, 'Loading…'));
  const details = h('details', {}, h('summary', { 'aria-label': `Details of ${p.name} ${p.version}` }, 'Details'), body);
  let loaded = false;
  details.addEventListener('toggle', async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      body.replaceChildren(...manifestView(await api(`${versionPath(p)}/manifest`)));
    } catch (e) {
      loaded = false; // the next opening tries again
      body.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  });
  return details;
}

/** A config entry's type and rules in words: "integer, default 32". */
const rules = (c) => [c.type, c.required && 'required', c.default !== null && `default ${c.default}`,
  c.values.length && `one of ${c.values.join(', ')}`].filter(Boolean).join(', ');

function manifestView(m) {
  const list = (items, none) => (items.length ? h('ul', {}, items) : h('p', { class: 'hint' }, none));
  return [
    h('p', {}, m.description || 'No description.'),
    h('p', {}, h('strong', {}, 'Requested outbound hosts')),
    list(m.outbound_hosts.map((o) => h('li', { class: 'mono' }, o)), 'None.'),
    h('p', {}, h('strong', {}, 'Config')),
    list(m.config.map((c) => h('li', {}, h('span', { class: 'mono' }, c.key), ` (${rules(c)})`, c.description && `: ${c.description}`)), 'None.'),
  ];
}

function uploadForm(refresh) {
  const file = h('input', { type: 'file', id: 'plugin-file', name: 'package', accept: '.tar.gz,.tgz,application/gzip', required: true });
  const { wrap, line } = checkedField('Plugin package (.tar.gz)', file, 'Checked, and its signature verified, before it is installed.');
  const progress = h('progress', { id: 'plugin-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const form = h('form', { class: 'panel', id: 'plugin-upload', novalidate: true },
    wrap, h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Install'), progress));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) { flag(file, line, 'Choose a package first.'); file.focus(); return; }
    flag(file, line, null);
    progress.value = 0;
    progress.hidden = false;
    const onProgress = (fraction) => { progress.value = fraction; };
    const done = await send(form, () => upload('/admin/plugins', chosen, { contentType: 'application/gzip', onProgress }),
      (message) => flag(file, line, message));
    progress.hidden = true;
    if (!done) return;
    file.value = '';
    say(`Installed ${done.answer.name} ${done.answer.version}`);
    await attempt(refresh);
  });
  return form;
}

// ---- #/tenants ----

export async function tenantsPage() {
  const tenants = await api('/admin/tenants', { signal: pageSignal() });
  render(h('h1', {}, 'Tenants'),
    h('h2', {}, 'New tenant'), newTenantForm(),
    h('h2', {}, 'All tenants'), tenantTable(tenants));
}

function tenantTable(tenants) {
  const rows = tenants.map((t) => h('tr', { 'data-tenant': t.id },
    h('td', {}, h('a', { href: `#/tenants/${enc(t.id)}` }, t.name)),
    h('td', { class: 'mono' }, t.id),
    h('td', {}, when(t.created_at)),
    h('td', {}, t.live_keys),
    h('td', {}, t.bindings.length),
    h('td', {}, t.secrets.length)));
  return table('tenants', ['Name', 'Id', 'Created', 'Live keys', 'Bindings', 'Secrets'], rows, 'No tenant yet.');
}

function newTenantForm() {
  const name = h('input', { type: 'text', id: 'tenant-name', name: 'name', required: true, autocomplete: 'off' });
  const { wrap, line } = checkedField('Name', name, 'Unique among tenants.');
  const form = h('form', { class: 'panel', id: 'new-tenant', novalidate: true }, wrap, h('button', { type: 'submit' }, 'Create tenant'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = name.value.trim();
    if (!text) { flag(name, line, 'A tenant needs a name.'); name.focus(); return; }
    const done = await send(form, () => api('/admin/tenants', { method: 'POST', json: { name: text } }),
      (message) => { flag(name, line, message); name.focus(); }); // a 409 says the name is taken
    if (done) location.hash = `#/tenants/${done.answer.id}`;
  });
  return form;
}

// ---- #/tenants/<id> ----

async function findTenant(id, signal) {
  return (await api('/admin/tenants', { signal })).find((t) => t.id === id) || null;
}

export async function tenantPage(id) {
  const signal = pageSignal();
  const tenant = await findTenant(id, signal);
  if (!tenant) throw new ApiError(404, `There is no tenant ${id}.`);
  const [keys, pipelines, plugins] = await Promise.all([
    api(`/admin/tenants/${id}/keys`, { signal }), api('/admin/pipelines', { signal }), api('/admin/plugins', { signal })]);
  // The sections share the tenant's summary: after a change it is read
  // again, and each section redraws what it shows of it.
  const page = { id, tenant, plugins, redraws: [] };
  page.reload = async () => {
    page.tenant = (await findTenant(id)) || page.tenant;
    page.redraws.forEach((redraw) => redraw());
  };
  render(h('h1', {}, `Tenant ${tenant.name}`),
    h('p', {}, h('a', { href: '#/tenants' }, 'All tenants'), ' · id ', h('span', { class: 'mono' }, id),
      ' · created ', when(tenant.created_at)),
    ...keysSection(page, keys), ...bindingsSection(page, slotsOf(pipelines.pipelines)),
    ...secretsSection(page), ...quotaSection(page));
}

function keysSection(page, keys) {
  const path = `/admin/tenants/${page.id}/keys`;
  const holder = h('div', {});
  const issued = h('div', { 'aria-live': 'polite' });
  onLeave(() => issued.replaceChildren()); // the plaintext leaves the screen as soon as the page does
  const refresh = async () => holder.replaceChildren(keyTable(await api(path), revoke));
  function revoke(key) {
    if (!window.confirm(`Revoke the key ${key.prefix}…? Whatever uses it is refused from now on.`)) return;
    attempt(async () => {
      await api(`${path}/${enc(key.id)}`, { method: 'DELETE' });
      await refresh();
      say(`Revoked the key ${key.prefix}…`);
    });
  }
  const issue = () => attempt(async () => {
    const { key } = await api(path, { method: 'POST' }); // the only time it is readable: kept in the page only
    issued.replaceChildren(h('div', { class: 'panel' },
      h('p', {}, h('strong', {}, 'New API key. Copy it now: it is not shown again.')),
      h('p', {}, h('code', { id: 'issued-key' }, key))));
    await refresh();
  });
  holder.append(keyTable(keys, revoke));
  return [h('h2', {}, 'API keys'), holder,
    h('p', {}, h('button', { type: 'button', id: 'issue-key', onclick: issue }, 'Issue a key')), issued];
}

function keyTable(keys, revoke) {
  const live = (k) => k.revoked_at === null || k.revoked_at === undefined;
  const rows = keys.map((k) => h('tr', { 'data-key': k.id },
    h('td', { class: 'mono' }, k.prefix),
    h('td', {}, when(k.created_at)),
    h('td', {}, live(k) ? h('span', { class: 'tag' }, 'live') : when(k.revoked_at)),
    h('td', {}, live(k) ? danger('Revoke', `key ${k.prefix}`, () => revoke(k)) : null)));
  return table('keys', ['Prefix', 'Issued', 'Revoked', 'Actions'], rows, 'No key issued yet.');
}

/** Every slot of every pipeline with its world, once each. */
function slotsOf(pipelines) {
  const seen = new Map();
  for (const p of pipelines) {
    for (const [slot, world] of Object.entries(p.slots || {})) seen.set(`${slot} ${world}`, { slot, world });
  }
  return [...seen.values()].sort((a, b) => a.slot.localeCompare(b.slot) || a.world.localeCompare(b.world));
}

function bindingsSection(page, slots) {
  const holder = h('div', {});
  const draw = () => holder.replaceChildren(bindingTable(page));
  page.redraws.push(draw);
  draw();
  return [h('h2', {}, 'Bindings'), holder, h('h3', {}, 'Bind a slot'), bindForm(page, slots)];
}

const grantText = (g) => (typeof g === 'string' ? g : `${g.origin}, sending secret ${g.secret}`);
const hintSpan = (text) => h('span', { class: 'hint' }, text);

function bindingTable(page) {
  const rows = [...page.tenant.bindings].sort((a, b) => a.slot.localeCompare(b.slot)).map((b) => {
    const config = Object.entries(b.config || {});
    const grants = b.grants || [];
    return h('tr', { 'data-slot': b.slot },
      h('td', { class: 'mono' }, b.slot),
      h('td', {}, b.plugin_name, ' ', h('span', { class: 'mono' }, b.requirement)),
      h('td', {}, config.length ? config.map(([k, v]) => h('div', { class: 'mono' }, `${k} = ${v}`)) : hintSpan('defaults')),
      h('td', {}, grants.length ? grants.map((g) => h('div', { class: 'mono' }, grantText(g))) : hintSpan('none')),
      h('td', {}, when(b.updated_at)));
  });
  return table('bindings', ['Slot', 'Plugin', 'Config', 'Grants', 'Updated'], rows, 'No slot bound yet.');
}

/** The API's check of one config value (the registry's), so a mistake shows next to its field. */
function configProblem(entry, control) {
  if (control.validity && control.validity.badInput) return `${entry.key}: not a number`;
  const text = control.value;
  if (text === '') return entry.required ? `${entry.key} is required` : null; // empty is not sent: the default applies
  const t = text.trim();
  switch (entry.type) {
    case 'integer': return /^[+-]?\d+$/.test(t) && BigInt(t) >= -(2n ** 63n) && BigInt(t) < 2n ** 63n ? null : `${entry.key}: not an integer`;
    case 'number': return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) && Number.isFinite(Number(t)) ? null : `${entry.key}: not a finite number`;
    case 'boolean': return t === 'true' || t === 'false' ? null : `${entry.key}: not true or false`;
    default: return entry.values.length && !entry.values.includes(text) ? `${entry.key}: not one of ${entry.values.join(', ')}` : null;
  }
}

/** The control for one config entry, holding `value`. */
function configControl(entry, value) {
  const attrs = { id: `config-${entry.key}`, name: `config.${entry.key}`, required: entry.required };
  const choices = entry.type === 'boolean' ? ['true', 'false'] : entry.type === 'string' ? entry.values : [];
  if (choices.length) {
    // Without a default, "not set" (or "not chosen yet") must stay possible.
    const blank = entry.default === null ? h('option', { value: '' }, entry.required ? 'Choose…' : '(not set)') : null;
    const select = h('select', attrs, blank, choices.map((v) => h('option', { value: v }, v)));
    select.value = value;
    return select;
  }
  if (entry.type === 'string') return h('input', { ...attrs, type: 'text', value, autocomplete: 'off' });
  return h('input', { ...attrs, type: 'number', step: entry.type === 'integer' ? '1' : 'any', value });
}

/** The config fields of a manifest, holding `given` values, else the defaults. */
function configFields(entries, given) {
  return entries.map((entry) => {
    const control = configControl(entry, given[entry.key] ?? entry.default ?? '');
    const hint = [entry.description, entry.default !== null && `default ${entry.default}`].filter(Boolean).join(' · ');
    return { entry, control, ...checkedField(entry.required ? `${entry.key} (required)` : entry.key, control, hint) };
  });
}

/** A checkbox per requested origin, and which secret (if any) goes with it. */
function grantFields(hosts, prior, fillSecrets) {
  return hosts.map((origin, i) => {
    const was = prior.find((g) => (typeof g === 'string' ? g : g.origin) === origin);
    const box = h('input', { type: 'checkbox', id: `grant-${i}`, name: 'grant', value: origin, checked: Boolean(was) });
    const secret = h('select', { id: `grant-${i}-secret`, name: `grant-${i}-secret`, disabled: !was });
    fillSecrets(secret, was && typeof was === 'object' ? was.secret : '');
    box.addEventListener('change', () => { secret.disabled = !box.checked; });
    return { origin, box, secret, wrap: h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', {}, box, ' Grant ', h('span', { class: 'mono' }, origin))),
      field(`Send secret to ${origin}`, secret, 'Sent as a Bearer Authorization header; the plugin never sees it.')) };
  });
}

/** The fields' values for the API, or null after marking the ones it would refuse. */
function bindingBody(plugin, fields, grants) {
  const bad = fields.filter(({ entry, control, line }) => {
    const why = configProblem(entry, control);
    flag(control, line, why);
    return why;
  });
  if (bad.length) { bad[0].control.focus(); return null; }
  return { // values go as typed: the API checks them against the schema again
    plugin,
    config: Object.fromEntries(fields.filter((f) => f.control.value !== '').map((f) => [f.entry.key, f.control.value])),
    grants: grants.filter((g) => g.box.checked).map((g) => (g.secret.value ? { origin: g.origin, secret: g.secret.value } : g.origin)),
  };
}

function bindForm(page, slots) {
  const slot = h('select', { id: 'bind-slot', name: 'slot', required: true },
    slots.length ? slots.map((s) => h('option', { value: s.slot, 'data-world': s.world }, `${s.slot} (${s.world})`))
      : h('option', { value: '' }, 'No pipeline has a slot'));
  const plugin = h('select', { id: 'bind-plugin', name: 'plugin', required: true });
  const about = h('p', { class: 'hint' });
  const configBox = h('fieldset', { hidden: true });
  const grantsBox = h('fieldset', { hidden: true });
  const problem = problemLine('bind-problem');
  const el = h('form', { class: 'panel', id: 'bind', novalidate: true },
    field('Slot', slot, 'In brackets: the world a plugin must implement to fill it.'),
    field('Plugin version', plugin, 'Installed, enabled, not yanked versions of that world; bound exactly.'),
    about, configBox, grantsBox, problem, h('button', { type: 'submit' }, 'Bind'));
  let choices = new Map(); // option value → installed version
  let fields = [];
  let grants = [];
  let asked = 0; // the latest manifest asked for: an older answer is dropped
  const current = () => page.tenant.bindings.find((b) => b.slot === slot.value);

  function fillSecrets(select, keep = select.value) {
    select.replaceChildren(h('option', { value: '' }, 'no secret'), ...page.tenant.secrets.map((n) => h('option', { value: n }, n)));
    select.value = page.tenant.secrets.includes(keep) ? keep : '';
  }
  page.redraws.push(() => grants.forEach((g) => fillSecrets(g.secret))); // a secret just set can be sent at once

  function slotChanged() {
    const world = slot.selectedOptions[0] && slot.selectedOptions[0].dataset.world;
    // A slot names a world (`translator`); a plugin, the world and WIT version it was built against.
    const offered = page.plugins.filter((p) => worldName(p.world) === world && p.enabled && !p.yanked)
      .sort((a, b) => a.name.localeCompare(b.name) || newer(b.version, a.version));
    choices = new Map(offered.map((p) => [exact(p), p]));
    plugin.replaceChildren(h('option', { value: '' }, offered.length ? 'Choose a version…' : 'No installed plugin implements this slot'),
      ...offered.map((p) => h('option', { value: exact(p) }, `${p.name} ${p.version}`)));
    // A slot bound to one exact version starts from it.
    const bound = current() && `${current().plugin_name}@${current().requirement}`;
    if (bound && choices.has(bound)) plugin.value = bound;
    pluginChanged();
  }

  async function pluginChanged() {
    const chosen = choices.get(plugin.value);
    const ticket = ++asked;
    fields = [];
    grants = [];
    about.textContent = '';
    configBox.hidden = grantsBox.hidden = true;
    tell(problem, '');
    if (!chosen) return;
    let manifest;
    try {
      manifest = await api(`${versionPath(chosen)}/manifest`);
    } catch (e) {
      if (ticket === asked) tell(problem, `Could not read the manifest: ${e.message}`);
      return;
    }
    if (ticket !== asked) return;
    // Rebinding the same plugin starts from the binding's config and grants.
    const prior = current() && current().plugin_name === chosen.name ? current() : {};
    about.textContent = manifest.description;
    fields = configFields(manifest.config, prior.config || {});
    grants = grantFields(manifest.outbound_hosts, prior.grants || [], fillSecrets);
    configBox.replaceChildren(h('legend', {}, 'Config'),
      ...(fields.length ? fields.map((f) => f.wrap) : [h('p', { class: 'hint' }, 'This plugin takes no config.')]));
    grantsBox.replaceChildren(h('legend', {}, 'Outbound hosts'),
      ...(grants.length ? grants.map((g) => g.wrap) : [h('p', { class: 'hint' }, 'This plugin requests no outbound host.')]));
    configBox.hidden = grantsBox.hidden = false;
  }

  slot.addEventListener('change', slotChanged);
  plugin.addEventListener('change', pluginChanged);
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    tell(problem, '');
    const chosen = choices.get(plugin.value);
    const target = slot.value;
    if (!target || !chosen) { tell(problem, 'Choose a slot and a plugin version.'); return; }
    if (configBox.hidden) { tell(problem, 'The plugin’s manifest is not read yet.'); return; }
    const body = bindingBody(plugin.value, fields, grants);
    if (!body) { tell(problem, 'Fix the config marked above.'); return; }
    const done = await send(el, () => api(`/admin/tenants/${page.id}/bindings/${enc(target)}`, { method: 'PUT', json: body }),
      (message) => tell(problem, message)); // a 422 says which value or grant is refused
    if (!done) return;
    say(`Bound ${target} to ${chosen.name} ${chosen.version}`);
    await attempt(page.reload);
  });

  if (slots.length) slotChanged();
  return el;
}

function secretsSection(page) {
  const names = h('div', {});
  const draw = () => names.replaceChildren(page.tenant.secrets.length
    ? h('ul', { id: 'secret-names' }, page.tenant.secrets.map((n) => h('li', { class: 'mono' }, n)))
    : h('p', { class: 'hint' }, 'No secret yet.'));
  page.redraws.push(draw);
  draw();
  const name = h('input', { type: 'text', id: 'secret-name', name: 'name', required: true, autocomplete: 'off' });
  const value = h('input', { type: 'password', id: 'secret-value', name: 'value', required: true, autocomplete: 'off' });
  const problem = problemLine('secret-problem');
  const form = h('form', { class: 'panel', id: 'secret', novalidate: true },
    field('Name', name, 'What a grant calls it. Setting a name again replaces its value.'),
    field('Value', value, 'Write-only: neither the console nor the API shows it again.'),
    problem, h('button', { type: 'submit' }, 'Set secret'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = name.value.trim(); // a stray space would make a name no grant finds
    if (!key) { tell(problem, 'Name the secret.'); name.focus(); return; }
    if (!value.value) { tell(problem, 'Type the secret’s value.'); value.focus(); return; }
    const done = await send(form, () => api(`/admin/tenants/${page.id}/secrets/${enc(key)}`, { method: 'PUT', json: { value: value.value } }),
      (message) => tell(problem, message));
    if (!done) return;
    value.value = '';
    tell(problem, '');
    say(`Secret ${key} set`);
    await attempt(page.reload);
  });
  return [h('h2', {}, 'Secrets'), h('p', { class: 'hint' }, 'Names only: values are never shown.'), names,
    h('h3', {}, 'Set a secret'), form];
}

function quotaSection(page) {
  const quota = h('input', { type: 'number', id: 'quota', name: 'node_quota', min: '0', step: '1', inputmode: 'numeric' });
  const { wrap, line } = checkedField('Node quota', quota,
    'How many of this tenant’s nodes workers run at once. Empty: no limit. The API does not report the current quota; this page says what you set.');
  const now = h('p', { id: 'quota-now', class: 'hint' });
  const form = h('form', { class: 'panel', id: 'set-quota', novalidate: true }, wrap, now, h('button', { type: 'submit' }, 'Set quota'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = quota.value.trim();
    if (quota.validity.badInput || (text !== '' && !(/^\d+$/.test(text) && Number(text) <= 4294967295))) {
      flag(quota, line, 'A whole number from 0 to 4294967295, or empty for no limit.');
      quota.focus();
      return;
    }
    const done = await send(form, () => api(`/admin/tenants/${page.id}/quota`, { method: 'PUT', json: { node_quota: text === '' ? null : Number(text) } }),
      (message) => flag(quota, line, message));
    if (!done) return;
    flag(quota, line, null);
    const set = done.answer.node_quota === null ? 'no limit' : `${done.answer.node_quota} node(s) at once`;
    now.textContent = `Set: ${set}.`;
    say(`Node quota of ${page.tenant.name}: ${set}`);
  });
  return [h('h2', {}, 'Node quota'), form];
}
