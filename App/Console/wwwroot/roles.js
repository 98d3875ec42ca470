// Roles and their permissions (GET /admin/roles, /admin/permissions); with roles:write, create (POST), change
// (PUT /admin/roles/{name}) and delete (DELETE). A permission the caller does not hold cannot be granted.
'use strict';

function permissionChecks(all, chosen, role) {
  return h('div', { class: 'checks' }, all.map((p) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', value: p, checked: chosen.includes(p), disabled: !mayManage([p]), data: { permission: role + ':' + p } }), p)));
}

function checkedPermissions(container) {
  return [...container.querySelectorAll('input[type="checkbox"][data-permission]:checked')].map((c) => c.value);
}

function roleRow(role, all) {
  if (!can('roles:write')) return cells([h('strong', { text: role.name }), chips(role.permissions)], { data: { role: role.name } });
  const box = h('div', {}, permissionChecks(all, role.permissions, role.name));
  const path = adminUrl('/admin/roles/' + encodeURIComponent(role.name));
  const actions = h('span', { class: 'actions' },
    button('Save', () => act('PUT', path, { permissions: checkedPermissions(box) },
      'Role ' + role.name + ' saved: every holder has the new permissions on the next request.'), 'small', { saveRole: role.name }),
    dangerButton('Delete', () => act('DELETE', path, undefined, 'Role ' + role.name + ' deleted.'), { deleteRole: role.name }));
  return cells([h('strong', { text: role.name }), box, actions], { data: { role: role.name } });
}

function createRoleForm(all) {
  const name = h('input', { id: 'new-role-name', autocapitalize: 'none', maxLength: 64, required: true, pattern: '[a-z0-9][a-z0-9_\\-]*' });
  const box = h('div', {}, permissionChecks(all, [], 'new'));
  const form = h('form', { class: 'card', id: 'create-role' }, h('h3', { text: 'New role' }),
    h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Name (a-z, 0-9, _ and -)', name)), box,
    h('button', { type: 'submit', id: 'create-role-submit', text: 'Create' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act('POST', adminUrl('/admin/roles'), { name: name.value.trim(), permissions: checkedPermissions(box) }, 'Role ' + name.value.trim() + ' created.');
  });
  return form;
}

SG.pages.roles = {
  nav: 'Roles',
  title: 'Roles and permissions',
  allowed: () => can('roles:read') || can('roles:write'),
  async render() {
    const [r, p] = await Promise.all([api('GET', adminUrl('/admin/roles')), api('GET', adminUrl('/admin/permissions'))]);
    if (!r.ok) return h('p', { class: 'muted', text: explain(r) });
    const all = p.ok ? p.data : [...new Set(r.data.flatMap((x) => x.permissions))].sort();
    const heads = can('roles:write') ? ['Role', 'Permissions', ''] : ['Role', 'Permissions'];
    return [
      h('p', { class: 'muted small', text: 'A change applies on the next request of every holder of the role.' }),
      table(heads, r.data.map((role) => roleRow(role, all)), 'No roles yet.'),
      can('roles:write') ? createRoleForm(all) : null,
    ];
  },
};
