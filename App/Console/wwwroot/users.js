// Users: search and page through them (GET /admin/users?q=), create one (POST /admin/users). A row opens the user's
// page (user.js).
'use strict';

const users = { page: 1, q: '' };

// The tenant's roles with their permissions, when the caller may read them (null otherwise).
async function loadRoles() {
  if (!can('roles:read') && !can('roles:write')) return null;
  const r = await api('GET', adminUrl('/admin/roles'));
  return r.ok ? r.data : null;
}

// The permissions a set of role names carries, from the roles list (null when the roles are unknown).
function permissionsOf(roleNames, roles) {
  if (!roles) return null;
  const byName = new Map(roles.map((r) => [r.name, r.permissions]));
  return [...new Set(roleNames.flatMap((n) => byName.get(n) || []))];
}

// Checkboxes for roles; a role granting a permission the caller lacks cannot be given (the API refuses it).
function roleChecks(roles, chosen, prefix) {
  return h('div', { class: 'checks' }, roles.map((role) => {
    const grantable = mayManage(role.permissions);
    return h('label', { class: 'check', title: role.permissions.join(', ') || 'no permission' },
      h('input', { type: 'checkbox', value: role.name, checked: chosen.includes(role.name), disabled: !grantable, data: { role: prefix + role.name } }),
      role.name + (grantable ? '' : ' (not yours to give)'));
  }));
}

function checkedRoles(container) {
  return [...container.querySelectorAll('input[type="checkbox"][data-role]:checked')].map((c) => c.value);
}

function createUserForm(roles) {
  const username = h('input', { id: 'new-username', autocomplete: 'off', autocapitalize: 'none', required: true, maxLength: 128 });
  const password = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minLength: 12 });
  const typed = h('input', { id: 'new-roles', placeholder: 'role, role', autocapitalize: 'none' });
  const picks = roles ? roleChecks(roles, [], 'new:') : h('label', {}, 'Roles (comma separated)', typed);
  const form = h('form', { class: 'card', id: 'create-user' },
    h('h3', { text: 'New user' }),
    h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Username', username), h('label', { class: 'grow' }, 'Password', password)),
    roles ? h('p', { class: 'small muted', text: 'Roles' }) : null, picks,
    h('button', { type: 'submit', id: 'create-user-submit', text: 'Create' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const chosen = roles ? checkedRoles(form) : typed.value.split(',').map((x) => x.trim()).filter(Boolean);
    const r = await act('POST', adminUrl('/admin/users'), { username: username.value.trim(), password: password.value, roles: chosen },
      'User ' + username.value.trim() + ' created.');
    if (r.ok) { username.value = ''; password.value = ''; }
  });
  return form;
}

SG.pages.users = {
  nav: 'Users',
  title: 'Users',
  allowed: () => can('users:read'),
  async render() {
    const [r, roles] = await Promise.all([
      api('GET', adminUrl('/admin/users', { page: users.page, size: 25, q: users.q })),
      can('users:write') ? loadRoles() : Promise.resolve(null),
    ]);
    if (!r.ok) return h('p', { class: 'muted', text: explain(r) });
    const search = h('input', { id: 'user-search', type: 'search', value: users.q, placeholder: 'part of a username', autocapitalize: 'none' });
    const form = h('form', { class: 'row', role: 'search' }, h('label', { class: 'grow' }, 'Search', search),
      h('button', { type: 'submit', id: 'user-search-submit', text: 'Search' }));
    form.addEventListener('submit', (e) => { e.preventDefault(); users.q = search.value.trim(); users.page = 1; redraw(); });
    const rows = r.data.items.map((u) => {
      names.set(u.id, u.username);
      const banned = u.banned_until && new Date(u.banned_until) > new Date();
      const row = cells([
        h('a', { href: '#user/' + u.id, text: u.username }),
        chips(u.roles),
        banned ? h('span', { class: 'chip bad', text: 'banned' }) : h('span', { class: 'chip good', text: 'active' }),
        when(u.created_at),
      ], { class: 'clickable', data: { user: u.id } });
      row.addEventListener('click', (e) => { if (e.target.tagName !== 'A') go('user/' + u.id); });
      return row;
    });
    return [
      form,
      table(['Username', 'Roles', 'Status', 'Created'], rows, users.q ? 'No username contains "' + users.q + '".' : 'No users yet.'),
      pager(users.page, 25, r.data.total, (p) => { users.page = p; return redraw(); }),
      can('users:write') ? createUserForm(roles) : null,
    ];
  },
};
