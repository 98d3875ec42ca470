// SessionGate's admin console: the shell (signing in through /account, navigation) and small helpers the page
// scripts share. Plain JavaScript, no library, no inline script (the CSP forbids it). It calls only the public /auth
// and /admin API with the caller's own credential, and offers only what the caller's permissions (from /auth/me)
// allow. The requests, the tokens (in this page's memory only: a reload signs in again through /account) and the
// step-up form are the account pages' auth-client.js, which the page loads first.
'use strict';

const SG = {
  state: { me: null, can: new Set(), tenant: null, renders: 0 },
  // Each page script adds itself: { nav?, title, allowed(), render(arg) -> nodes }.
  pages: {},
  order: ['online', 'users', 'roles', 'audit', 'policies', 'tenants', 'keys'],
};

// A session that has ended (kicked, banned, signed out elsewhere) sends the person back to /account.
auth.onSessionEnded = () => { if (SG.state.me) signIn(); };

// ---- HTTP --------------------------------------------------------------------------------------------------------

// An /admin path with its query; the platform admin's chosen tenant goes along as ?tenant=.
function adminUrl(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  if (SG.state.tenant) q.set('tenant', SG.state.tenant);
  const s = q.toString();
  return path + (s ? '?' + s : '');
}

// A change: asks for a step-up when the route needs one, says how it went, and redraws the page when it worked.
async function act(method, path, body, done) {
  say('');
  let r;
  try {
    r = await withStepUp(() => api(method, path, body));
  } catch {
    say('The server did not answer. Nothing was changed on this page; try again.');
    return { ok: false, status: 0, data: null, problem: '' };
  }
  if (!r.ok) { say(explain(r)); return r; }
  if (done) say(done, true);
  await redraw();
  return r;
}

// ---- Who is signed in ----------------------------------------------------------------------------------------------

const can = (permission) => SG.state.can.has(permission);
const isPlatform = () => can('platform:admin') && SG.state.me?.tenant === 'system';
const tenantSlug = () => SG.state.tenant || SG.state.me.tenant;

// An admin manages a user only when it holds every permission the user holds (the API answers 403 otherwise).
function mayManage(permissions) {
  return isPlatform() || (permissions || []).every((p) => can(p));
}

function signIn() {
  SG.state.me = null;
  auth.tokens = null;
  location.replace('/account?return=' + encodeURIComponent('/console' + (location.hash || '')));
}

async function signOut() {
  await api('POST', '/auth/logout', auth.tokens ? { refresh_token: auth.tokens.refresh } : undefined);
  auth.tokens = null;
  SG.state.me = null;
  location.replace('/account?return=/console');
}

// ---- DOM helpers -------------------------------------------------------------------------------------------------

// h('button', { class: 'x', text: 'Go', onclick: fn, data: { id } }, ...children)
function h(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'data') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

// A button that stays disabled while its action runs.
function button(text, action, cls, data) {
  const b = h('button', { type: 'button', class: cls, text, data });
  b.addEventListener('click', async (event) => {
    event.stopPropagation();
    b.disabled = true;
    try { await action(event); } finally { b.disabled = false; }
  });
  return b;
}

// A dangerous button: the first click arms it, the second (within 5 s) does it.
function dangerButton(text, action, data) {
  const b = h('button', { type: 'button', class: 'danger small', text, data });
  let armed = null;
  b.addEventListener('click', async (event) => {
    event.stopPropagation();
    if (!armed) {
      b.classList.add('armed');
      b.textContent = 'Confirm: ' + text.toLowerCase();
      armed = setTimeout(() => { armed = null; b.classList.remove('armed'); b.textContent = text; }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    b.disabled = true;
    try { await action(event); } finally { b.disabled = false; b.classList.remove('armed'); b.textContent = text; }
  });
  return b;
}

function table(headers, rows, empty) {
  if (rows.length === 0) return h('p', { class: 'muted', text: empty || 'Nothing here.' });
  // Each cell names its column, for the narrow layout (a phone shows a row as a card: "Last seen: ...").
  for (const row of rows) [...row.children].forEach((td, i) => { if (td.colSpan === 1 && headers[i]) td.dataset.label = headers[i]; });
  return h('div', { class: 'scroll' }, h('table', {},
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { text: x })))),
    h('tbody', {}, rows)));
}

function cells(values, props) {
  return h('tr', props, values.map((v) => h('td', {}, v)));
}

function chips(values, cls) {
  return h('span', { class: 'chips' }, (values || []).map((v) => h('span', { class: 'chip ' + (cls || ''), text: v })));
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return h('time', { dateTime: iso, title: d.toISOString(), text: d.toLocaleString() });
}

function pager(page, size, total, go) {
  const pages = Math.max(1, Math.ceil(total / size));
  const prev = button('Previous', () => go(page - 1), 'secondary small');
  const next = button('Next', () => go(page + 1), 'secondary small');
  prev.hidden = page <= 1;
  next.hidden = page >= pages;
  return h('div', { class: 'pager' }, prev, h('span', { class: 'muted small', text: 'Page ' + page + ' of ' + pages + ' (' + total + ')' }), next);
}

// The names of users the console has seen, so that ids read as names (the audit log, the sessions).
const names = new Map();
const nameOf = (id) => (id ? names.get(id) || id.slice(0, 8) : '');

// ---- Navigation --------------------------------------------------------------------------------------------------

function current() {
  const [name, ...rest] = decodeURIComponent(location.hash.slice(1)).split('/');
  return { name, arg: rest.join('/') };
}

function go(hash) {
  if (location.hash === '#' + hash) return redraw();
  location.hash = hash;
  return Promise.resolve();
}

function buildNav() {
  const nav = $('nav');
  nav.replaceChildren(...SG.order.filter((n) => SG.pages[n].allowed()).map((n) => h('a', { href: '#' + n, text: SG.pages[n].nav, data: { page: n } })));
}

async function redraw() {
  const { name, arg } = current();
  const allowed = SG.order.filter((n) => SG.pages[n].allowed());
  const page = SG.pages[name];
  if (!page || !page.allowed()) {
    if (allowed.length === 0) return denied();
    location.replace('#' + allowed[0]);
    return;
  }
  const token = ++SG.state.renders;
  document.body.dataset.ready = '';
  for (const a of $('nav').querySelectorAll('a')) a.classList.toggle('current', a.dataset.page === (page.under || name));
  let nodes;
  try {
    nodes = await page.render(arg);
  } catch {
    nodes = h('p', { class: 'muted', text: 'The server did not answer. Try Refresh.' });
  }
  if (token !== SG.state.renders) return; // a newer redraw started meanwhile
  $('loading').hidden = true;
  $('view').hidden = false;
  $('view').replaceChildren(h('h2', { text: typeof page.title === 'function' ? page.title(arg) : page.title }), ...[nodes].flat());
  document.body.dataset.ready = name;
}

function denied() {
  $('loading').hidden = true;
  $('view').hidden = true;
  $('denied').hidden = false;
  document.body.dataset.ready = 'denied';
}

// ---- Start -------------------------------------------------------------------------------------------------------

async function loadTenants() {
  if (!isPlatform()) return;
  const r = await api('GET', '/admin/tenants');
  if (!r.ok) return;
  const select = $('tenant-select');
  select.replaceChildren(...r.data.map((t) => h('option', { value: t.slug, text: t.slug + ' · ' + t.name, selected: t.slug === tenantSlug() })));
  $('tenant-pick').hidden = false;
}

function pickTenant(slug) {
  SG.state.tenant = slug === SG.state.me.tenant ? null : slug;
  $('tenant-select').value = tenantSlug();
  names.clear();
  say('');
  return redraw();
}

async function start() {
  $('refresh').addEventListener('click', () => { say(''); redraw(); });
  $('signout').addEventListener('click', signOut);
  $('switch-user').addEventListener('click', signOut);
  $('tenant-select').addEventListener('change', (e) => pickTenant(e.target.value));
  window.addEventListener('hashchange', () => redraw());
  const handed = sessionStorage.getItem(auth.handoffKey);
  if (handed) {
    sessionStorage.removeItem(auth.handoffKey);
    auth.tokens = { access: null, refresh: handed };
    await refresh();
  }
  const me = await call('GET', '/auth/me');
  if (me.status !== 200) return signIn();
  SG.state.me = me.data;
  SG.state.can = new Set(me.data.permissions || []);
  $('who').textContent = me.data.username + ' · ' + me.data.tenant;
  $('refresh').hidden = false;
  $('signout').hidden = false;
  buildNav();
  await loadTenants();
  await redraw();
}

document.addEventListener('DOMContentLoaded', start);
