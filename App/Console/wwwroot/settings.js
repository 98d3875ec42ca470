// The tenant's login and MFA policies (GET/PUT /admin/tenants/{slug}/login-policy and /mfa-policy); for the platform
// admin, the tenants (GET/POST /admin/tenants) and the signing keys (the JWKS; POST /admin/keys/rotate,
// /admin/keys/{kid}/revoke, /admin/keys/session-id/rotate).
'use strict';

function select(id, values, chosen) {
  return h('select', { id }, values.map((v) => h('option', { value: v, text: v, selected: v === chosen })));
}

function loginPolicyCard(p, path) {
  const card = h('div', { class: 'card', id: 'login-policy' }, h('h3', { text: 'Sessions per user (login policy)' }));
  const facts = h('dl', { class: 'facts' }, h('dt', { text: 'Policy' }), h('dd', { id: 'login-policy-now', text: p.policy }));
  if (p.policy === 'MaxN') facts.append(h('dt', { text: 'At most' }), h('dd', { text: String(p.max_sessions) }), h('dt', { text: 'At the limit' }), h('dd', { text: p.on_limit }));
  card.append(facts, h('p', { class: 'small muted', text: 'Multiple: no limit. Single: a new login ends the others. PerDeviceType: one per device type. MaxN: at most N, then KickOldest or RejectNew.' }));
  if (!can('tenant:write')) return card;
  const policy = select('login-policy-select', ['Multiple', 'Single', 'PerDeviceType', 'MaxN'], p.policy);
  const max = h('input', { id: 'login-policy-max', type: 'number', min: 1, max: 1000, value: p.max_sessions || 3 });
  const onLimit = select('login-policy-onlimit', ['KickOldest', 'RejectNew'], p.on_limit);
  const form = h('form', { class: 'row' }, h('label', {}, 'Policy', policy), h('label', {}, 'Max sessions (MaxN)', max), h('label', {}, 'At the limit', onLimit),
    h('button', { type: 'submit', id: 'login-policy-save', text: 'Save' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { policy: policy.value, on_limit: onLimit.value };
    if (policy.value === 'MaxN') body.max_sessions = Number(max.value);
    act('PUT', adminUrl(path + '/login-policy'), body, 'Login policy saved.');
  });
  card.append(form);
  return card;
}

function mfaPolicyCard(p, path) {
  const card = h('div', { class: 'card', id: 'mfa-policy' }, h('h3', { text: 'Second factor (MFA policy)' }),
    h('dl', { class: 'facts' }, h('dt', { text: 'Required for' }), h('dd', { id: 'mfa-policy-now', text: p.require })),
    h('p', { class: 'small muted', text: 'none: nobody. admins: holders of any administrator permission. all: everyone. It applies from each user\'s next login.' }));
  const require = select('mfa-policy-select', ['none', 'admins', 'all'], p.require);
  const form = h('form', { class: 'row' }, h('label', {}, 'Require', require), h('button', { type: 'submit', id: 'mfa-policy-save', text: 'Save' }));
  form.addEventListener('submit', (e) => { e.preventDefault(); act('PUT', adminUrl(path + '/mfa-policy'), { require: require.value }, 'MFA policy saved.'); });
  card.append(form);
  return card;
}

SG.pages.policies = {
  nav: 'Policies',
  title: () => 'Policies of ' + tenantSlug(),
  allowed: () => can('tenant:write') || can('sessions:read'),
  async render() {
    const path = '/admin/tenants/' + encodeURIComponent(tenantSlug());
    const [login, mfa] = await Promise.all([
      api('GET', adminUrl(path + '/login-policy')),
      can('tenant:write') ? api('GET', adminUrl(path + '/mfa-policy')) : Promise.resolve(null),
    ]);
    const grid = h('div', { class: 'grid2' });
    grid.append(login.ok ? loginPolicyCard(login.data, path) : h('p', { class: 'muted', text: explain(login) }));
    if (mfa) grid.append(mfa.ok ? mfaPolicyCard(mfa.data, path) : h('p', { class: 'muted', text: explain(mfa) }));
    return grid;
  },
};

SG.pages.tenants = {
  nav: 'Tenants',
  title: 'Tenants',
  allowed: () => isPlatform(),
  async render() {
    const r = await api('GET', '/admin/tenants');
    if (!r.ok) return h('p', { class: 'muted', text: explain(r) });
    const rows = r.data.map((t) => cells([
      h('strong', { text: t.slug }), t.name, t.login_policy + (t.login_policy === 'MaxN' ? ' ' + t.max_sessions + ', ' + t.on_limit : ''),
      when(t.created_at),
      t.slug === tenantSlug() ? h('span', { class: 'chip good', text: 'managing' })
        : button('Manage', async () => { await loadTenants(); await pickTenant(t.slug); return go('users'); }, 'secondary small', { manage: t.slug }),
    ], { data: { tenant: t.slug } }));
    const slug = h('input', { id: 'new-tenant-slug', autocapitalize: 'none', required: true, maxLength: 63, pattern: '[a-z0-9][a-z0-9\\-]{1,62}' });
    const name = h('input', { id: 'new-tenant-name', required: true, maxLength: 200 });
    const form = h('form', { class: 'card', id: 'create-tenant' }, h('h3', { text: 'New tenant' }),
      h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Slug (a-z, 0-9 and -)', slug), h('label', { class: 'grow' }, 'Name', name),
        h('button', { type: 'submit', id: 'create-tenant-submit', text: 'Create' })));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const created = await act('POST', '/admin/tenants', { slug: slug.value.trim(), name: name.value.trim() }, 'Tenant ' + slug.value.trim() + ' created.');
      if (created.ok) await loadTenants();
    });
    return [h('p', { class: 'muted small', text: 'Manage switches every page of the console to that tenant (the API\'s ?tenant=).' }),
      table(['Slug', 'Name', 'Login policy', 'Created', ''], rows), form];
  },
};

SG.pages.keys = {
  nav: 'Keys',
  title: 'Signing keys',
  allowed: () => isPlatform(),
  async render() {
    // The JWKS is cached for a minute by browsers; the console wants what is published now.
    const response = await fetch('/.well-known/jwks.json', { cache: 'no-store' });
    const jwks = response.ok ? await response.json() : { keys: [] };
    const rows = jwks.keys.map((k) => cells([h('code', { text: k.kid }), k.kty + (k.crv ? ' ' + k.crv : ''), k.alg || '', k.use || '',
      dangerButton('Revoke', () => act('POST', '/admin/keys/' + encodeURIComponent(k.kid) + '/revoke', undefined,
        'Key ' + k.kid + ' revoked: every token it signed is refused, and a new key signs.'), { revoke: k.kid })], { data: { kid: k.kid } }));
    return [
      h('p', { class: 'muted small', text: 'The public keys in /.well-known/jwks.json. Rotate adds a new signing key (old keys stay published until their tokens expire); Revoke is for a leaked key: every token it signed is refused at once.' }),
      table(['Kid', 'Type', 'Alg', 'Use', ''], rows, 'No public keys (HS256 signs with the configured secret).'),
      h('div', { class: 'actions' },
        button('Rotate the signing key', async () => {
          const r = await act('POST', '/admin/keys/rotate');
          if (r.ok) say('New signing key: ' + r.data.kid, true);
        }, '', { action: 'rotate-key' }),
        button('Rotate the session-id key', async () => {
          const r = await act('POST', '/admin/keys/session-id/rotate');
          if (r.ok) say('New session-id key ' + r.data.key_id + ', signing from ' + new Date(r.data.active_from).toLocaleString() + '.', true);
        }, 'secondary', { action: 'rotate-session-key' })),
    ];
  },
};
