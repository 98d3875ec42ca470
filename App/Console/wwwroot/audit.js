// The audit log (GET /admin/audit), newest first, filtered by user (actor or subject) and type; the platform admin may
// read the events that belong to no tenant. Pages follow the API's `next` cursor.
'use strict';

const audit = { type: '', user: '', tenantless: false, cursors: [null] };

// Names for the ids of a page (the users the console has not seen yet), when the caller may read users.
async function resolveNames(ids) {
  if (!can('users:read')) return;
  const unknown = [...new Set(ids.filter((id) => id && !names.has(id)))].slice(0, 25);
  await Promise.all(unknown.map(async (id) => {
    const r = await api('GET', adminUrl('/admin/users/' + encodeURIComponent(id)));
    names.set(id, r.ok ? r.data.username : id.slice(0, 8));
  }));
}

function detailText(detail) {
  if (detail === null || detail === undefined) return '';
  return Object.entries(detail).map(([k, v]) => k + ': ' + (typeof v === 'object' ? JSON.stringify(v) : v)).join(', ');
}

function auditFilters(arg) {
  const user = h('input', { id: 'audit-user', value: audit.user, placeholder: 'a user id', autocapitalize: 'none', spellcheck: false });
  const type = h('input', { id: 'audit-type', value: audit.type, placeholder: 'e.g. user.banned', autocapitalize: 'none', maxLength: 64 });
  const tenantless = h('input', { id: 'audit-tenantless', type: 'checkbox', checked: audit.tenantless });
  const form = h('form', { class: 'row', id: 'audit-filters' },
    h('label', { class: 'grow' }, 'User (actor or subject)', user),
    h('label', { class: 'grow' }, 'Type', type),
    isPlatform() ? h('label', { class: 'check' }, tenantless, 'Events of no tenant') : null,
    h('button', { type: 'submit', id: 'audit-filter-submit', text: 'Filter' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    audit.user = user.value.trim();
    audit.type = type.value.trim();
    audit.tenantless = tenantless.checked;
    audit.cursors = [null];
    if (arg && audit.user !== arg) go('audit'); else redraw();
  });
  return form;
}

SG.pages.audit = {
  nav: 'Audit',
  title: 'Audit log',
  allowed: () => can('audit:read'),
  async render(arg) {
    if (arg && arg !== audit.user) { audit.user = arg; audit.cursors = [null]; }
    const after = audit.cursors[audit.cursors.length - 1];
    const r = await api('GET', adminUrl('/admin/audit', {
      user_id: audit.user, type: audit.type, size: 25, after, tenantless: audit.tenantless ? 'true' : undefined,
    }));
    const nodes = [auditFilters(arg)];
    if (!r.ok) return [...nodes, h('p', { class: 'muted', text: explain(r) })];
    await resolveNames(r.data.items.flatMap((a) => [a.actor_id, a.subject_id]));
    const rows = r.data.items.map((a) => cells([
      when(a.at),
      h('code', { text: a.type }),
      h('span', { text: nameOf(a.actor_id), title: a.actor_id || '' }),
      h('span', { text: nameOf(a.subject_id), title: a.subject_id || '' }),
      h('span', { class: 'mono', text: a.ip || '' }),
      h('span', { class: 'small', text: detailText(a.detail) }),
    ], { data: { audit: a.id, type: a.type } }));
    const older = button('Older', () => { audit.cursors.push(r.data.next); return redraw(); }, 'secondary small');
    const newer = button('Newer', () => { audit.cursors.pop(); return redraw(); }, 'secondary small');
    older.hidden = !r.data.next;
    newer.hidden = audit.cursors.length <= 1;
    return [...nodes,
      table(['When', 'Type', 'Actor', 'Subject', 'Address', 'Detail'], rows, 'No matching events.'),
      h('div', { class: 'pager' }, newer, h('span', { class: 'muted small', text: r.data.total + (r.data.total >= 10000 ? '+' : '') + ' events' }), older)];
  },
};
