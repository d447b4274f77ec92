// The console's shell: signing in, the navigation and the router. Each page
// is a function of the route's parameters that renders into <main>.

import { api, ApiError, field, h, leavePage, render, say, session } from './lib.js';
import { jobsPage, jobPage } from './jobs.js';
import { newJobPage } from './new-job.js';
import { scenesPage } from './scenes.js';
import { pluginsPage, tenantsPage, tenantPage } from './operator.js';

const routes = [
  { path: /^#\/signin$/, page: signInPage, role: null },
  { path: /^#\/jobs$/, page: jobsPage, role: 'tenant' },
  { path: /^#\/new$/, page: newJobPage, role: 'tenant' },
  { path: /^#\/jobs\/([0-9a-f]+)$/, page: jobPage, role: 'tenant' },
  { path: /^#\/jobs\/([0-9a-f]+)\/scenes$/, page: scenesPage, role: 'tenant' },
  { path: /^#\/plugins$/, page: pluginsPage, role: 'admin' },
  { path: /^#\/tenants$/, page: tenantsPage, role: 'admin' },
  { path: /^#\/tenants\/([0-9a-f]+)$/, page: tenantPage, role: 'admin' },
];

const home = () => (session.role === 'admin' ? '#/plugins' : session.role === 'tenant' ? '#/jobs' : '#/signin');

function navigation() {
  const links = session.role === 'admin'
    ? [['#/plugins', 'Plugins'], ['#/tenants', 'Tenants']]
    : session.role === 'tenant' ? [['#/jobs', 'Jobs'], ['#/new', 'New job']] : [];
  const here = location.hash;
  document.getElementById('nav').replaceChildren(
    ...links.map(([href, label]) => h('a', { href, 'aria-current': here.startsWith(href) ? 'page' : null }, label)),
  );
  const who = document.getElementById('who');
  who.replaceChildren();
  if (session.role) {
    who.append(
      h('span', { id: 'signed-in-as' }, session.role === 'admin' ? 'Operator' : `Tenant ${session.name}`),
      h('button', { class: 'secondary', id: 'sign-out', onclick: () => { session.clear(); location.hash = '#/signin'; } }, 'Sign out'),
    );
  }
}

async function route() {
  leavePage();
  say('');
  const hash = location.hash || home();
  for (const r of routes) {
    const m = hash.match(r.path);
    if (!m) continue;
    if (r.role && session.role !== r.role) {
      location.hash = session.role ? home() : '#/signin';
      return;
    }
    navigation();
    try {
      await r.page(...m.slice(1));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        session.clear();
        location.hash = '#/signin';
        say(`Signed out: ${e.message}`, 'error');
        return;
      }
      if (e.name === 'AbortError') return;
      render(h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, e.message || String(e)));
    }
    return;
  }
  location.hash = home();
}

/**
 * Signing in: one field for either credential. The operator's token opens
 * the admin routes, a tenant's key the job routes; the console asks the API
 * which one it is.
 */
function signInPage() {
  navigation();
  const token = h('input', { type: 'password', id: 'token', autocomplete: 'off', required: true });
  const form = h('form', { class: 'panel', id: 'signin' },
    field('Admin token or API key', token, 'Kept in this tab only, sent to this server only, in the Authorization header.'),
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = token.value.trim();
    try {
      await api('/admin/tenants', { token: value });
      session.set(value, 'admin', 'operator');
    } catch (adminError) {
      try {
        const me = await api('/me', { token: value });
        session.set(value, 'tenant', me.name);
      } catch (tenantError) {
        say(`Not signed in: ${tenantError.message}`, 'error');
        token.focus();
        return;
      }
    }
    location.hash = home();
  });
  render(h('h1', {}, 'Sign in'), form);
  token.focus();
}

window.addEventListener('hashchange', route);
route();
