// Online now: one row per user with a live session (GET /admin/online-users), opening into that user's sessions
// (GET /admin/sessions?user_id=) with Kick (DELETE /admin/sessions/{id}) and Kick all (POST /admin/users/{id}/logout-all).
// Every list is read again after a change, so a kicked session is gone from the page as soon as it is gone.
'use strict';

const online = { page: 1, open: new Set() };

// A user's live sessions, as a table with Kick buttons (when the caller may kick); used here and on a user's page.
async function sessionsOf(userId) {
  const r = await api('GET', adminUrl('/admin/sessions', { user_id: userId, size: 100 }));
  if (!r.ok) return h('p', { class: 'muted', text: explain(r) });
  const mine = SG.state.me.session?.id;
  const rows = r.data.items.map((s) => {
    names.set(s.user_id, s.username);
    const actions = [];
    if (s.id === mine) actions.push(h('span', { class: 'chip good', text: 'this console' }));
    if (can('sessions:kick')) {
      actions.push(button('Kick', () => act('DELETE', adminUrl('/admin/sessions/' + encodeURIComponent(s.id)), undefined,
        'Session kicked: its client is refused from now on.'), 'danger small', { kick: s.id }));
    }
    return cells([
      h('span', { text: s.device_type }),
      h('span', { class: 'mono', text: s.ip || '' }),
      when(s.last_seen_at),
      when(s.created_at),
      h('span', { class: 'mono small', text: s.id.slice(0, 8) }),
      h('span', { class: 'actions' }, actions),
    ], { data: { session: s.id } });
  });
  return table(['Device', 'Address', 'Last seen', 'Started', 'Id', ''], rows, 'No live session.');
}

function kickAllButton(userId, username) {
  return dangerButton('Kick all', () => act('POST', adminUrl('/admin/users/' + encodeURIComponent(userId) + '/logout-all'), undefined,
    'Every session of ' + username + ' was ended.'), { kickAll: userId });
}

SG.pages.online = {
  nav: 'Online',
  title: 'Online now',
  allowed: () => can('sessions:read'),
  async render() {
    const r = await api('GET', adminUrl('/admin/online-users', { page: online.page, size: 25 }));
    if (!r.ok) return h('p', { class: 'muted', text: explain(r) });
    if (r.data.items.length === 0 && online.page > 1) { online.page = 1; return this.render(); }
    const rows = [];
    for (const u of r.data.items) {
      names.set(u.user_id, u.username);
      const open = online.open.has(u.user_id);
      const toggle = button(open ? 'Hide sessions' : 'Sessions', () => {
        if (open) online.open.delete(u.user_id); else online.open.add(u.user_id);
        return redraw();
      }, 'secondary small', { sessionsOf: u.user_id });
      const name = can('users:read') ? h('a', { href: '#user/' + u.user_id, text: u.username }) : h('span', { text: u.username });
      const actions = [toggle];
      if (can('sessions:kick')) actions.push(kickAllButton(u.user_id, u.username));
      rows.push(cells([name, String(u.sessions), when(u.last_seen_at), h('span', { class: 'actions' }, actions)], { data: { user: u.user_id } }));
      if (open) rows.push(h('tr', { class: 'sub' }, h('td', { colSpan: 4 }, await sessionsOf(u.user_id))));
    }
    return [
      h('p', { class: 'muted small', text: 'Users with at least one live session in ' + tenantSlug() + '. Open one to see its sessions (device, address, last seen).' }),
      table(['User', 'Sessions', 'Last seen', ''], rows, 'Nobody is signed in.'),
      pager(online.page, 25, r.data.total, (p) => { online.page = p; return redraw(); }),
    ];
  },
};
