// Bounded, loopback-only load for scripts/dashboard-snapshot: people who log in, browse, refresh, log out and get
// kicked; an admin who kicks, bans, unbans and rotates keys; someone guessing passwords. Every loop stops at the
// deadline, and every request has a timeout.
//
//   node load.mjs --urls http://127.0.0.1:A,http://127.0.0.1:B --seconds 150 \
//     --tenant acme --admin alice --password demo-password-123 --platform-password platform-password-123
//
// Requests alternate between the URLs (instances of one deployment sharing PostgreSQL and Redis). Client addresses
// are sent as X-Forwarded-For (the app must run with ForwardedHeaders__Enabled=true) so that per-address limits
// see many clients instead of one; the addresses are documentation ranges and only ever appear in a header.
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    urls: { type: 'string' },
    seconds: { type: 'string', default: '150' },
    tenant: { type: 'string', default: 'acme' },
    admin: { type: 'string', default: 'alice' },
    password: { type: 'string', default: 'demo-password-123' },
    'platform-password': { type: 'string', default: 'platform-password-123' },
    users: { type: 'string', default: '8' },
  },
});
const urls = a.urls.split(',').filter(Boolean);
const seconds = Number(a.seconds);
let start = Date.now(); // reset once the users exist: the run itself lasts --seconds
let end = start + seconds * 1000;
const at = (fraction) => start + fraction * seconds * 1000;
const live = () => Date.now() < end;
// Sleeps end at the deadline, so the run ends on time (and the last scrapes still see the load).
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, Math.min(ms, end - Date.now()))));
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const jitter = (ms) => ms * (0.5 + Math.random());
let rr = 0;
const nextUrl = () => urls[rr++ % urls.length];
const log = (...x) => console.error(`[load +${((Date.now() - start) / 1000).toFixed(0).padStart(3)}s]`, ...x);

const counts = new Map();
async function call(method, path, { token, body, ip = '198.51.100.10' } = {}) {
  const headers = { 'x-forwarded-for': ip, 'user-agent': 'sessiongate-dashboard-load' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const key = `${method} ${path.replace(/[0-9a-f-]{36}/g, '{id}').replace(/\?.*/, '')}`;
  try {
    const res = await fetch(nextUrl() + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15000) });
    const text = await res.text();
    counts.set(`${key} ${res.status}`, (counts.get(`${key} ${res.status}`) ?? 0) + 1);
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: res.status, json, retryAfter: Number(res.headers.get('retry-after')) || 0 };
  } catch (e) {
    counts.set(`${key} ERR`, (counts.get(`${key} ERR`) ?? 0) + 1);
    return { status: 0, json: null, retryAfter: 0 };
  }
}

// ---- who is who -------------------------------------------------------------------------------------------------
const users = [{ name: 'bob', password: a.password }]; // plain users that log in and browse
const sessions = []; // live: { user, token, refresh, oldRefresh, sid, ip }
const zombies = []; // revoked credentials that their clients still try a few times: { token, ip, left }
let jwt = false;

async function login(user, ip) {
  const r = await call('POST', '/auth/login', { ip, body: { tenant: a.tenant, username: user.name, password: user.password, device_type: pick(['web', 'web', 'mobile', 'desktop']) } });
  if (r.status !== 200) return r.status === 503 ? { busy: Math.max(2, r.retryAfter) } : null;
  jwt = r.json.token_type === 'Bearer';
  const s = { user, token: jwt ? r.json.access_token : r.json.session_id, refresh: r.json.refresh_token ?? null, oldRefresh: null, sid: null, ip };
  const me = await call('GET', '/auth/me', { token: s.token, ip });
  if (me.status === 200) { s.sid = me.json.session.id; user.id = me.json.user_id; }
  return s;
}

function retire(s, tries = 3) {
  const i = sessions.indexOf(s);
  if (i >= 0) sessions.splice(i, 1);
  zombies.push({ token: s.token, ip: s.ip, left: tries });
}

const homeIp = () => `198.51.100.${1 + Math.floor(Math.random() * 200)}`;

async function setup() {
  // Setup waits out a busy password hasher (503 + Retry-After) instead of failing the run.
  const patiently = async (f, ok) => {
    for (let i = 0; i < 20; i++) {
      const r = await f();
      if (ok(r)) return r;
      await new Promise((done) => setTimeout(done, 2000));
    }
    return null;
  };
  const admin = await patiently(() => login({ name: a.admin, password: a.password }, '198.51.100.250'), (r) => r && !r.busy);
  if (!admin) throw new Error(`cannot log in as ${a.admin}`);
  const platform = await patiently(() => call('POST', '/auth/login', { ip: '198.51.100.251', body: { tenant: 'system', username: 'admin', password: a['platform-password'] } }), (r) => r.status !== 503);
  const platformToken = platform?.status === 200 ? (platform.json.access_token ?? platform.json.session_id) : null;
  const n = Number(a.users);
  for (let i = 1; i <= n; i++) {
    const name = `load-${String(i).padStart(2, '0')}`;
    const password = `pw-${i}-sessiongate-demo`; // must not contain the username
    const r = await patiently(() => call('POST', '/admin/users', { token: admin.token, ip: admin.ip, body: { username: name, password, roles: ['user'] } }), (x) => x.status !== 503);
    if (!r) continue;
    if (r.status === 201 || r.status === 200) users.push({ name, password, id: r.json?.id });
    else if (r.status === 409) users.push({ name, password }); // from an earlier run on the same database
  }
  log(`mode ${jwt ? 'JWT' : 'Opaque'}, ${users.length} users, instances: ${urls.join(' ')}`);
  return { admin, platformToken };
}

// ---- the loops ----------------------------------------------------------------------------------------------------
async function browser() {
  while (live()) {
    if (zombies.length && Math.random() < 0.12) {
      const z = pick(zombies);
      await call('GET', '/api/profile', { token: z.token, ip: z.ip });
      if (--z.left <= 0) zombies.splice(zombies.indexOf(z), 1);
    } else if (Math.random() < 0.04) {
      await call('GET', '/api/profile', { token: Math.random() < 0.5 ? undefined : 'not-a-credential', ip: homeIp() });
    } else if (sessions.length) {
      const s = pick(sessions);
      const r = await call('GET', pick(['/api/profile', '/api/profile', '/api/profile', '/auth/sessions', '/api/reports']), { token: s.token, ip: s.ip });
      if (r.status === 401 && sessions.includes(s)) retire(s, 2);
    }
    await sleep(jitter(25));
  }
}

// Password hashing is the costly part of a login (PBKDF2, on 2 cores shared with everything else): a steady trickle,
// and a client that gets 503 waits for Retry-After as a real one would.
async function logins() {
  while (live()) {
    const s = await login(pick(users), homeIp());
    if (s?.busy) { await sleep(s.busy * 1000); continue; }
    if (s) sessions.push(s);
    await sleep(jitter(sessions.length < 30 ? 1200 : 2500));
  }
}

async function burst(n) {
  log(`login burst of ${n}`);
  const got = await Promise.all(Array.from({ length: n }, () => login(pick(users), homeIp())));
  for (const s of got) if (s && !s.busy) sessions.push(s);
}

async function logouts() {
  await sleep(8000);
  while (live()) {
    if (sessions.length > 5) {
      const s = pick(sessions);
      const r = await call('POST', '/auth/logout', { token: s.token, ip: s.ip });
      if (r.status === 204) retire(s);
    }
    await sleep(jitter(4000));
  }
}

async function kicks(admin) {
  await sleep(12000);
  while (live()) {
    const s = pick(sessions.filter((x) => x.sid && x.user.name !== a.admin));
    if (s && sessions.length > 5) {
      const r = await call('DELETE', `/admin/sessions/${s.sid}`, { token: admin.token, ip: admin.ip });
      if (r.status === 204 || r.status === 200) retire(s);
    }
    await sleep(jitter(7000));
  }
}

async function refreshes() {
  await sleep(5000);
  while (live() && jwt) {
    const s = pick(sessions.filter((x) => x.refresh));
    if (s) {
      const r = await call('POST', '/auth/refresh', { ip: s.ip, body: { refresh_token: s.refresh } });
      if (r.status === 200) { s.oldRefresh = s.refresh; s.token = r.json.access_token; s.refresh = r.json.refresh_token; }
      else retire(s);
    }
    await sleep(jitter(1200));
  }
}

async function reuse() {
  // A stolen refresh token presented after its owner rotated it: reused, and the session is ended.
  const s = pick(sessions.filter((x) => x.oldRefresh));
  if (!s) return;
  log(`replaying a rotated refresh token of ${s.user.name}`);
  await call('POST', '/auth/refresh', { ip: '203.0.113.77', body: { refresh_token: s.oldRefresh } });
  retire(s);
}

async function guesser() {
  await sleep(3000);
  while (live()) {
    if (Math.random() < 0.6) {
      await call('POST', '/auth/login', { ip: `203.0.113.${10 + Math.floor(Math.random() * 40)}`, body: { tenant: a.tenant, username: `nobody-${Math.floor(Math.random() * 1000)}`, password: 'guess-password-123' } });
    } else {
      // One address hammering one account: after a few failures that address gets 429 (locked) for it.
      await call('POST', '/auth/login', { ip: '203.0.113.66', body: { tenant: a.tenant, username: 'bob', password: `guess-${Math.floor(Math.random() * 1e6)}` } });
    }
    await sleep(jitter(2600));
  }
}

async function scripted(admin, platformToken) {
  const until = async (f) => { while (live() && Date.now() < at(f)) await sleep(200); return live(); };
  const target = users.find((u) => u.name === 'load-07') ?? users[1];
  const changer = users.find((u) => u.name === 'load-03') ?? users[2];

  if (!(await until(0.18))) return;
  await burst(10);

  if (!(await until(0.3))) return;
  if (target?.id) {
    log(`ban ${target.name}`);
    const r = await call('POST', `/admin/users/${target.id}/ban`, { token: admin.token, ip: admin.ip, body: { reason: 'dashboard demo' } });
    if (r.status < 300) for (const s of sessions.filter((x) => x.user === target)) retire(s, 4);
    for (let i = 0; i < 3; i++) { await login(target, homeIp()); await sleep(1500); } // banned
  }

  if (!(await until(0.4))) return;
  if (jwt) await reuse();

  if (!(await until(0.48))) return;
  const own = sessions.filter((x) => x.user === changer);
  if (own.length >= 2) {
    log(`${changer.name} changes the password (${own.length - 1} other sessions end)`);
    const keep = own[0];
    const next = `changed-${Date.now()}-sessiongate`;
    const r = await call('POST', '/auth/password', { token: keep.token, ip: keep.ip, body: { current_password: changer.password, new_password: next } });
    if (r.status < 300) {
      changer.password = next;
      for (const s of own.slice(1)) retire(s, 4);
    }
  }

  if (!(await until(0.55))) return;
  if (platformToken) {
    log('rotate the signing key');
    await call('POST', '/admin/keys/rotate', { token: platformToken, ip: '198.51.100.251' });
  }

  if (!(await until(0.62))) return;
  if (target?.id) {
    log(`unban ${target.name}`);
    await call('POST', `/admin/users/${target.id}/unban`, { token: admin.token, ip: admin.ip });
  }

  if (!(await until(0.72))) return;
  await burst(12);

  if (!(await until(0.8))) return;
  if (jwt) await reuse();
}

const { admin, platformToken } = await setup();
start = Date.now();
end = start + seconds * 1000;
const loops = [browser(), browser(), browser(), browser(), logins(), logouts(), kicks(admin), refreshes(), guesser(), scripted(admin, platformToken)];
const ticker = setInterval(() => log(`${sessions.length} live sessions, ${zombies.length} revoked credentials still in use`), 15000);
await Promise.all(loops);
clearInterval(ticker);
const lines = [...counts].sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => `  ${k.padEnd(40)} ${v}`);
console.error(`[load] done after ${((Date.now() - start) / 1000).toFixed(0)} s; responses:\n${lines.join('\n')}`);
