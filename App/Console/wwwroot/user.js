// One user (GET /admin/users/{id}): roles (PUT .../roles), ban and unban, unlock, MFA reset (DELETE .../mfa), delete,
// and the user's sessions with Kick and Kick all. An action is offered only when the caller holds its permission and
// every permission the user holds (the API's rule for managing a user).
'use strict';

function userFacts(u) {
  const banned = u.banned_until && new Date(u.banned_until) > new Date();
  const forever = banned && new Date(u.banned_until).getUTCFullYear() >= 9999;
  const factors = [u.mfa.totp ? 'authenticator app' : null, u.mfa.passkeys ? u.mfa.passkeys + ' passkey(s)' : null,
    u.mfa.recovery_codes_left ? u.mfa.recovery_codes_left + ' recovery code(s)' : null].filter(Boolean);
  return h('dl', { class: 'facts', id: 'user-facts' },
    h('dt', { text: 'Username' }), h('dd', { id: 'user-name', text: u.username }),
    h('dt', { text: 'Id' }), h('dd', { class: 'mono', text: u.id }),
    h('dt', { text: 'Roles' }), h('dd', { id: 'user-roles' }, u.roles.length ? chips(u.roles) : h('span', { class: 'muted', text: 'none' })),
    h('dt', { text: 'Status' }), h('dd', { id: 'user-status' }, banned
      ? h('span', { class: 'chip bad', text: forever ? 'banned' : 'banned until ' + new Date(u.banned_until).toLocaleString() })
      : h('span', { class: 'chip good', text: 'active' })),
    h('dt', { text: 'Failed logins' }), h('dd', { id: 'user-lock', text: u.login_lock.failures + (u.login_lock.account_locked ? ' (account-wide limit reached)' : '')
      + (u.login_lock.locked_addresses ? ', ' + u.login_lock.locked_addresses + ' address(es) locked out' : '') }),
    h('dt', { text: 'Second factors' }), h('dd', { id: 'user-mfa', text: factors.length ? factors.join(', ') : 'none' }),
    h('dt', { text: 'Created' }), h('dd', {}, when(u.created_at)));
}

function rolesCard(u, roles, path) {
  const box = h('div', { id: 'user-role-checks' }, roleChecks(roles, u.roles, ''));
  return h('div', { class: 'card' }, h('h3', { text: 'Roles' }), box,
    button('Save roles', () => act('PUT', adminUrl(path + '/roles'), { roles: checkedRoles(box) }, 'Roles saved: they apply on the user\'s next request.'),
      '', { action: 'save-roles' }));
}

function banCard(u, path, self) {
  const banned = u.banned_until && new Date(u.banned_until) > new Date();
  const card = h('div', { class: 'card' }, h('h3', { text: 'Ban' }));
  if (banned) {
    card.append(h('p', { class: 'small muted', text: 'The user cannot sign in.' }),
      button('Unban', () => act('POST', adminUrl(path + '/unban'), undefined, u.username + ' may sign in again.'), 'secondary', { action: 'unban' }));
    return card;
  }
  if (self) return card.append(h('p', { class: 'small muted', text: 'You cannot ban yourself.' })), card;
  const until = h('input', { id: 'ban-until', type: 'datetime-local' });
  const reason = h('input', { id: 'ban-reason', maxLength: 500, placeholder: 'optional' });
  card.append(h('p', { class: 'small muted', text: 'A ban ends every session of the user at once and refuses sign-in until it ends (forever when no date is given).' }),
    h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Until', until), h('label', { class: 'grow' }, 'Reason', reason)),
    dangerButton('Ban', () => act('POST', adminUrl(path + '/ban'), {
      until: until.value ? new Date(until.value).toISOString() : undefined, reason: reason.value.trim() || undefined,
    }, u.username + ' is banned; every session ended.'), { action: 'ban' }));
  return card;
}

function accessCard(u, path, self) {
  const card = h('div', { class: 'card' }, h('h3', { text: 'Sign-in' }));
  const buttons = h('div', { class: 'actions' },
    button('Unlock failed logins', () => act('POST', adminUrl(path + '/unlock'), undefined, 'The failed-login limits for ' + u.username + ' were cleared.'),
      'secondary small', { action: 'unlock' }));
  if (u.mfa.totp || u.mfa.passkeys || u.mfa.recovery_codes_left) {
    buttons.append(dangerButton('Reset second factors', () => act('DELETE', adminUrl(path + '/mfa'), undefined,
      'Every second factor of ' + u.username + ' was removed and its sessions ended.'), { action: 'reset-mfa' }));
  }
  if (!self) {
    buttons.append(dangerButton('Delete user', async () => {
      const r = await act('DELETE', adminUrl(path), undefined);
      if (r.ok) { await go('users'); say(u.username + ' was deleted.', true); }
    }, { action: 'delete' }));
  }
  card.append(buttons);
  return card;
}

SG.pages.user = {
  under: 'users',
  title: () => 'User',
  allowed: () => can('users:read'),
  async render(id) {
    const path = '/admin/users/' + encodeURIComponent(id);
    const [r, roles] = await Promise.all([api('GET', adminUrl(path)), loadRoles()]);
    if (!r.ok) return h('p', { class: 'muted', text: r.status === 404 ? 'No such user in ' + tenantSlug() + '.' : explain(r) });
    const u = r.data;
    names.set(u.id, u.username);
    const self = u.id === SG.state.me.user_id && !SG.state.tenant;
    const held = permissionsOf(u.roles, roles);
    // Unknown roles (no roles:read): offer, and let the API decide.
    const manage = held === null || mayManage(held);
    const nodes = [h('p', {}, h('a', { href: '#users', text: '← Users' })), h('div', { class: 'card' }, userFacts(u))];
    if (can('users:write') && !manage) nodes.push(h('p', { class: 'card muted', text: 'This user holds permissions you do not: you can see it, not change it.' }));
    const grid = h('div', { class: 'grid2' });
    if (can('users:write') && manage) {
      if (roles) grid.append(rolesCard(u, roles, path));
      grid.append(banCard(u, path, self), accessCard(u, path, self));
    }
    if (can('sessions:read')) {
      const sessions = h('div', { class: 'card', id: 'user-sessions' }, h('h3', { text: 'Live sessions' }), await sessionsOf(u.id));
      if (can('sessions:kick') && manage) sessions.append(kickAllButton(u.id, u.username));
      grid.append(sessions);
    }
    if (can('audit:read')) grid.append(h('div', { class: 'card' }, h('h3', { text: 'Audit' }), h('a', { href: '#audit/' + u.id, text: 'What happened to or by ' + u.username })));
    nodes.push(grid);
    return nodes;
  },
};
