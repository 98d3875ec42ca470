// SessionGate's account pages: sign in (password, then the second factor; or a passkey alone) and the account's
// security. Plain JavaScript, no library, no inline script (the CSP forbids it). In Opaque mode the session is the
// HttpOnly cookie, which this page never sees; in the JWT modes the tokens live in this page's memory only, so a
// reload signs out.
'use strict';

const state = { tokens: null, mfaToken: null, methods: [], mfa: null, me: null, stepUp: null, cookieOnly: true };
const $ = (id) => document.getElementById(id);

// ---- HTTP --------------------------------------------------------------------------------------------------------

function problemName(data) {
  return data && typeof data.type === 'string' ? data.type.slice(data.type.lastIndexOf('/') + 1) : '';
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.tokens) headers.Authorization = 'Bearer ' + state.tokens.access;
  const response = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  if (response.status !== 204) {
    const type = response.headers.get('content-type') || '';
    data = type.includes('json') ? await response.json().catch(() => null) : await response.blob();
  }
  return { status: response.status, data, problem: problemName(data) };
}

// The JWT modes: an expired or outdated access token is renewed once with the refresh token, then the call is retried.
async function api(method, path, body) {
  let r = await call(method, path, body);
  if (r.status === 401 && state.tokens && (r.problem === 'unauthenticated' || r.data?.reason === 'roles-changed') && await refresh()) {
    r = await call(method, path, body);
  }
  return r;
}

async function refresh() {
  if (!state.tokens?.refresh) return false;
  const saved = state.tokens;
  state.tokens = null;
  const r = await call('POST', '/auth/refresh', { refresh_token: saved.refresh });
  if (r.status === 200) { adopt(r.data); return true; }
  return false;
}

// The three ways of signing in. Opaque: cookie_only, so the session (and the device token) stay in HttpOnly cookies
// and the answer names neither. The JWT modes have no session cookie and say so before checking anything
// (400 not-supported-in-mode): the same request then goes once more without it, and the page remembers.
async function signInCall(path, body) {
  if (state.cookieOnly) {
    const r = await call('POST', path, { ...body, cookie_only: true });
    if (!(r.status === 400 && r.problem === 'not-supported-in-mode')) return r;
    state.cookieOnly = false;
  }
  return call('POST', path, body);
}

function adopt(login) {
  // Opaque: the cookie carries the session (HttpOnly); the answer has no session_id.
  if (login && login.token_type === 'Bearer' && login.access_token) state.tokens = { access: login.access_token, refresh: login.refresh_token };
}

// ---- Messages and sections ---------------------------------------------------------------------------------------

function say(text, ok) {
  const m = $('message');
  m.textContent = text || '';
  m.hidden = !text;
  m.classList.toggle('ok', !!ok);
}

function explain(r, fallback) {
  if (r.data && (r.data.detail || r.data.title)) return r.data.detail || r.data.title;
  return fallback || 'Something went wrong (' + r.status + ').';
}

function show(id) {
  for (const s of ['signin', 'second', 'security']) $(s).hidden = s !== id;
}

function busy(button, on) {
  if (button) button.disabled = on;
}

// ---- WebAuthn JSON (base64url) ---------------------------------------------------------------------------------

function toBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((b64url.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function toB64url(buffer) {
  let s = '';
  for (const b of new Uint8Array(buffer)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function creationOptions(o) {
  return {
    ...o,
    challenge: toBytes(o.challenge),
    user: { ...o.user, id: toBytes(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) })),
  };
}

function requestOptions(o) {
  return { ...o, challenge: toBytes(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) })) };
}

function attestationJson(c) {
  return {
    id: c.id, rawId: toB64url(c.rawId), type: c.type, authenticatorAttachment: c.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: toB64url(c.response.clientDataJSON),
      attestationObject: toB64url(c.response.attestationObject),
      transports: c.response.getTransports ? c.response.getTransports() : [],
    },
    clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
  };
}

function assertionJson(c) {
  return {
    id: c.id, rawId: toB64url(c.rawId), type: c.type, authenticatorAttachment: c.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: toB64url(c.response.clientDataJSON),
      authenticatorData: toB64url(c.response.authenticatorData),
      signature: toB64url(c.response.signature),
      userHandle: c.response.userHandle ? toB64url(c.response.userHandle) : null,
    },
    clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
  };
}

// Runs navigator.credentials.get for options from the server; null (with a message) when the browser refuses.
async function assert(options) {
  try {
    return assertionJson(await navigator.credentials.get({ publicKey: requestOptions(options) }));
  } catch (e) {
    say('The passkey did not answer (' + (e && e.name ? e.name : 'error') + ').');
    return null;
  }
}

// ---- Signing in --------------------------------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  say('');
  const button = $('signin-submit');
  busy(button, true);
  try {
    const r = await signInCall('/auth/login', {
      tenant: $('tenant').value.trim(), username: $('username').value.trim(), password: $('password').value, device_type: 'web',
    });
    $('password').value = '';
    if (r.status === 200) return signedIn(r.data);
    if (r.status === 401 && r.problem === 'mfa-required') return askSecondFactor(r.data);
    say(explain(r, 'Signing in failed.'));
  } finally {
    busy(button, false);
  }
}

function askSecondFactor(problem) {
  state.mfaToken = problem.mfa_token;
  state.methods = problem.methods || [];
  for (const el of document.querySelectorAll('#second [data-method]')) el.hidden = !state.methods.includes(el.dataset.method);
  show('second');
  if (state.methods.includes('totp')) $('code').focus();
}

async function finishSecondFactor(proof, button) {
  say('');
  busy(button, true);
  try {
    const r = await signInCall('/auth/login/mfa', { mfa_token: state.mfaToken, ...proof });
    if (r.status === 200) {
      state.mfaToken = null;
      $('code').value = '';
      $('recovery-code').value = '';
      return signedIn(r.data);
    }
    if (r.problem === 'invalid-mfa-token') {
      state.mfaToken = null;
      show('signin');
      return say('The sign-in expired or had too many wrong codes. Please start again.');
    }
    say(r.problem === 'invalid-mfa-code' ? 'That code was not accepted. Check it (each code works once) and try again.' : explain(r));
  } finally {
    busy(button, false);
  }
}

async function secondFactorPasskey() {
  say('');
  const options = await call('POST', '/auth/login/mfa/options', { mfa_token: state.mfaToken });
  if (options.status !== 200) return say(explain(options));
  const credential = await assert(options.data.options);
  if (credential) await finishSecondFactor({ ceremony_id: options.data.ceremony_id, credential }, $('second-passkey'));
}

async function passkeySignIn() {
  say('');
  const tenant = $('tenant').value.trim();
  if (!tenant) return say('Enter your organisation first: a passkey signs in to one.');
  const button = $('passkey-signin');
  busy(button, true);
  try {
    const options = await call('POST', '/auth/passkeys/login/options', { tenant });
    if (options.status !== 200) return say(explain(options));
    const credential = await assert(options.data.options);
    if (!credential) return;
    const r = await signInCall('/auth/passkeys/login', { ceremony_id: options.data.ceremony_id, credential });
    if (r.status === 200) return signedIn(r.data);
    say(r.problem === 'invalid-credentials' ? 'That passkey did not sign you in.' : explain(r));
  } finally {
    busy(button, false);
  }
}

function signedIn(login) {
  adopt(login);
  if (returnTo()) return backToConsole();
  if (location.pathname !== '/account/security') history.pushState({}, '', '/account/security');
  return loadSecurity();
}

// The admin console (/console) signs in here with ?return=/console, and goes back there once signed in. In the JWT
// modes its refresh token crosses over in this tab's sessionStorage, which the console reads, deletes and spends at once.
function returnTo() {
  const to = new URLSearchParams(location.search).get('return') || '';
  return /^\/console(#[A-Za-z0-9/_-]*)?$/.test(to) ? to : null;
}

function backToConsole() {
  if (state.tokens) sessionStorage.setItem('sessiongate.console-handoff', state.tokens.refresh);
  state.tokens = null;
  location.replace(returnTo());
}

// ---- Step-up -----------------------------------------------------------------------------------------------------

// Runs a call; when it answers step-up-required, asks for a second factor and runs it once more.
async function withStepUp(run) {
  let r = await run();
  if (r.status === 401 && r.problem === 'step-up-required') {
    if (!await stepUp()) return r;
    r = await run();
  }
  return r;
}

function stepUp() {
  const hasTotp = !!state.mfa?.totp;
  const hasPasskey = (state.mfa?.passkeys || []).length > 0;
  $('stepup-code-form').hidden = !hasTotp;
  $('stepup-passkey').hidden = !hasPasskey;
  $('stepup-recovery-form').hidden = !(state.mfa?.recovery_codes_left > 0);
  $('stepup').hidden = false;
  $('stepup').scrollIntoView({ block: 'nearest' });
  return new Promise((resolve) => { state.stepUp = resolve; });
}

function endStepUp(ok) {
  $('stepup').hidden = true;
  $('stepup-code').value = '';
  $('stepup-recovery').value = '';
  const resolve = state.stepUp;
  state.stepUp = null;
  if (resolve) resolve(ok);
}

async function proveStepUp(proof, button) {
  say('');
  busy(button, true);
  try {
    const r = await api('POST', '/auth/step-up', proof);
    if (r.status === 200) {
      adopt(r.data); // the JWT modes answer a new pair that carries aal2
      say('Verified.', true);
      return endStepUp(true);
    }
    say(r.problem === 'invalid-mfa-code' ? 'That was not accepted. Try again.' : explain(r));
  } finally {
    busy(button, false);
  }
}

async function stepUpPasskey() {
  const options = await api('POST', '/auth/step-up/options');
  if (options.status !== 200) return say(explain(options));
  const credential = await assert(options.data.options);
  if (credential) await proveStepUp({ ceremony_id: options.data.ceremony_id, credential }, $('stepup-passkey'));
}

// ---- The security page -------------------------------------------------------------------------------------------

async function loadSecurity() {
  const me = await api('GET', '/auth/me');
  if (me.status !== 200) {
    state.tokens = null;
    if (location.pathname !== '/account') history.replaceState({}, '', '/account');
    show('signin');
    return;
  }
  state.me = me.data;
  if (returnTo()) return backToConsole();
  if (location.pathname !== '/account/security') history.replaceState({}, '', '/account/security');
  const [mfa, sessions] = await Promise.all([api('GET', '/auth/mfa'), api('GET', '/auth/sessions')]);
  state.mfa = mfa.status === 200 ? mfa.data : { totp: false, passkeys: [], recovery_codes_left: 0 };
  render(me.data, state.mfa, sessions.status === 200 ? sessions.data : []);
  show('security');
}

function render(me, mfa, sessions) {
  $('who').textContent = 'Signed in as ' + me.username + ' (' + me.tenant + ')';
  $('acr').textContent = me.session.acr === 'aal2' ? 'aal2 (two factors)' : 'aal1 (one factor)';
  $('amr').textContent = (me.session.amr || []).join(', ');
  $('auth-time').textContent = new Date(me.session.auth_time).toLocaleString();
  $('auth-time').dataset.value = me.session.auth_time;
  const anyFactor = mfa.totp || mfa.passkeys.length > 0;
  $('reverify').hidden = !anyFactor;

  $('totp-status').textContent = mfa.totp ? 'On: sign-ins ask for a code from your app.' : 'Off.';
  $('totp-start').hidden = mfa.totp;
  $('totp-remove').hidden = !mfa.totp;
  if (mfa.totp) $('totp-enrol').hidden = true;

  $('codes-status').textContent = anyFactor ? mfa.recovery_codes_left + ' unused recovery codes left.' : 'Set up a second factor first.';
  $('codes-new').hidden = !anyFactor;

  const list = $('passkey-list');
  list.replaceChildren();
  for (const p of mfa.passkeys) {
    const li = document.createElement('li');
    const what = document.createElement('span');
    what.className = 'what';
    const name = document.createElement('strong');
    name.textContent = p.name;
    const when = document.createElement('span');
    when.className = 'muted small';
    when.textContent = 'added ' + new Date(p.created_at).toLocaleDateString() + (p.last_used_at ? ', last used ' + new Date(p.last_used_at).toLocaleString() : '');
    what.append(name, when);
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'danger';
    remove.textContent = 'Remove';
    remove.dataset.passkey = p.id;
    remove.addEventListener('click', () => removePasskey(p.id, remove));
    li.append(what, remove);
    list.append(li);
  }
  if (mfa.passkeys.length === 0) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'No passkeys yet.';
    list.append(li);
  }

  const own = $('session-list');
  own.replaceChildren();
  for (const s of sessions) {
    const li = document.createElement('li');
    const what = document.createElement('span');
    what.className = 'what';
    const title = document.createElement('strong');
    title.textContent = s.device_type + (s.user_agent ? ' · ' + s.user_agent.slice(0, 60) : '');
    const when = document.createElement('span');
    when.className = 'muted small';
    when.textContent = 'since ' + new Date(s.created_at).toLocaleString() + (s.ip ? ' from ' + s.ip : '');
    what.append(title, when);
    li.append(what);
    if (s.current) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'this session';
      li.append(badge);
    } else {
      const end = document.createElement('button');
      end.type = 'button';
      end.className = 'secondary';
      end.textContent = 'Sign out';
      end.dataset.session = s.id;
      end.addEventListener('click', () => endSession(s.id, end));
      li.append(end);
    }
    own.append(li);
  }
  $('signout-others').hidden = !sessions.some((s) => !s.current);
}

async function startTotp() {
  say('');
  const r = await withStepUp(() => api('POST', '/auth/mfa/totp'));
  if (r.status !== 200) return say(explain(r));
  $('totp-secret').textContent = r.data.secret;
  $('totp-enrol').hidden = false;
  $('totp-start').hidden = true;
  const qr = await api('GET', '/auth/mfa/totp/qr');
  if (qr.status === 200 && qr.data instanceof Blob) $('totp-qr').src = URL.createObjectURL(qr.data);
  $('totp-code').focus();
}

async function confirmTotp(event) {
  event.preventDefault();
  say('');
  const code = $('totp-code').value.trim();
  const r = await withStepUp(() => api('POST', '/auth/mfa/totp/confirm', { code }));
  if (r.status !== 200) return say(r.problem === 'invalid-mfa-code' ? 'That code does not match. Check the app and try the current code.' : explain(r));
  $('totp-code').value = '';
  $('totp-secret').textContent = '';
  $('totp-qr').removeAttribute('src');
  await afterEnrolment();
  showCodes(r.data.recovery_codes);
  say('The authenticator app is set up.', true);
}

async function removeTotp() {
  say('');
  const r = await withStepUp(() => api('DELETE', '/auth/mfa/totp'));
  if (r.status !== 204) return say(explain(r));
  say('The authenticator app was removed.', true);
  await loadSecurity();
}

async function newCodes() {
  say('');
  const r = await withStepUp(() => api('POST', '/auth/mfa/recovery-codes'));
  if (r.status !== 200) return say(explain(r));
  await loadSecurity();
  showCodes(r.data.recovery_codes);
}

function showCodes(codes) {
  const list = $('codes-list');
  list.replaceChildren(...codes.map((c) => { const li = document.createElement('li'); li.textContent = c; return li; }));
  $('codes-new-list').hidden = false;
}

async function addPasskey(event) {
  event.preventDefault();
  say('');
  const button = $('passkey-add');
  busy(button, true);
  try {
    const options = await withStepUp(() => api('POST', '/auth/passkeys/options'));
    if (options.status !== 200) return say(explain(options));
    let credential;
    try {
      credential = attestationJson(await navigator.credentials.create({ publicKey: creationOptions(options.data.options) }));
    } catch (e) {
      return say('The passkey was not created (' + (e && e.name ? e.name : 'error') + ').');
    }
    const name = $('passkey-name').value.trim() || undefined;
    const r = await api('POST', '/auth/passkeys', { ceremony_id: options.data.ceremony_id, credential, name });
    if (r.status !== 201) return say(explain(r));
    $('passkey-name').value = '';
    await afterEnrolment();
    say('Passkey added.', true);
  } finally {
    busy(button, false);
  }
}

// An enrolment lifts an enrolment-only restriction; a JWT's copy of it goes with the next token.
async function afterEnrolment() {
  if (state.tokens) await refresh();
  await loadSecurity();
}

async function removePasskey(id, button) {
  say('');
  busy(button, true);
  const r = await withStepUp(() => api('DELETE', '/auth/passkeys/' + encodeURIComponent(id)));
  busy(button, false);
  if (r.status !== 204) return say(explain(r));
  say('Passkey removed.', true);
  await loadSecurity();
}

async function changePassword(event) {
  event.preventDefault();
  say('');
  const body = { current_password: $('current-password').value, new_password: $('new-password').value };
  const r = await withStepUp(() => api('POST', '/auth/password', body));
  if (r.status !== 204) return say(explain(r));
  $('current-password').value = '';
  $('new-password').value = '';
  say('Password changed; your other sessions were signed out.', true);
  await loadSecurity();
}

async function endSession(id, button) {
  busy(button, true);
  const r = await api('DELETE', '/auth/sessions/' + encodeURIComponent(id));
  busy(button, false);
  if (r.status !== 204 && r.status !== 404) return say(explain(r));
  await loadSecurity();
}

async function signOutOthers() {
  say('');
  const sessions = await api('GET', '/auth/sessions');
  if (sessions.status !== 200) return say(explain(sessions));
  for (const s of sessions.data.filter((x) => !x.current)) await api('DELETE', '/auth/sessions/' + encodeURIComponent(s.id));
  say('Your other sessions were signed out.', true);
  await loadSecurity();
}

async function signOut() {
  await api('POST', '/auth/logout', state.tokens ? { refresh_token: state.tokens.refresh } : undefined);
  state.tokens = null;
  state.me = null;
  state.mfa = null;
  $('who').textContent = '';
  history.pushState({}, '', '/account');
  show('signin');
  say('You are signed out.', true);
}

async function reverify() {
  say('');
  if (await stepUp()) await loadSecurity();
}

// ---- Start -------------------------------------------------------------------------------------------------------

function on(id, event, handler) {
  $(id).addEventListener(event, handler);
}

document.addEventListener('DOMContentLoaded', () => {
  on('password-form', 'submit', signIn);
  on('passkey-signin', 'click', passkeySignIn);
  on('code-form', 'submit', (e) => { e.preventDefault(); finishSecondFactor({ code: $('code').value.trim() }, $('code-submit')); });
  on('recovery-form', 'submit', (e) => { e.preventDefault(); finishSecondFactor({ recovery_code: $('recovery-code').value.trim() }, $('recovery-submit')); });
  on('second-passkey', 'click', secondFactorPasskey);
  on('second-cancel', 'click', () => { state.mfaToken = null; say(''); show('signin'); });
  on('stepup-code-form', 'submit', (e) => { e.preventDefault(); proveStepUp({ code: $('stepup-code').value.trim() }, $('stepup-code-submit')); });
  on('stepup-recovery-form', 'submit', (e) => { e.preventDefault(); proveStepUp({ recovery_code: $('stepup-recovery').value.trim() }, $('stepup-recovery-submit')); });
  on('stepup-passkey', 'click', stepUpPasskey);
  on('stepup-cancel', 'click', () => endStepUp(false));
  on('reverify', 'click', reverify);
  on('totp-start', 'click', startTotp);
  on('totp-confirm-form', 'submit', confirmTotp);
  on('totp-remove', 'click', removeTotp);
  on('codes-new', 'click', newCodes);
  on('passkey-add-form', 'submit', addPasskey);
  on('password-change-form', 'submit', changePassword);
  on('signout-others', 'click', signOutOthers);
  on('signout', 'click', signOut);
  window.addEventListener('popstate', () => (location.pathname === '/account/security' ? loadSecurity() : show(state.me ? 'security' : 'signin')));
  const tenant = new URLSearchParams(location.search).get('tenant');
  if (tenant) $('tenant').value = tenant;
  if (returnTo()) $('signin-title').textContent = 'Sign in to the admin console';
  // A cookie session (Opaque) survives a reload; a JWT page starts signed out.
  loadSecurity();
});
