// SessionGate's account pages: sign in (password, then the second factor; or a passkey alone) and the account's
// security. Plain JavaScript, no library, no inline script (the CSP forbids it). The requests, the tokens, the passkey
// ceremonies and the step-up form are auth-client.js's, which the admin console loads too.
'use strict';

const state = { mfaToken: null, methods: [], me: null, cookieOnly: true };

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

// ---- Sections and elements ---------------------------------------------------------------------------------------

function show(id) {
  for (const s of ['signin', 'second', 'security']) $(s).hidden = s !== id;
}

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// A row of a list: a name with a muted line under it, then its controls.
function row(title, detail, ...controls) {
  const what = element('span', 'what');
  what.append(element('strong', '', title), element('span', 'muted small', detail));
  const li = element('li');
  li.append(what, ...controls);
  return li;
}

function rowButton(text, className, data, action) {
  const b = element('button', className, text);
  b.type = 'button';
  Object.assign(b.dataset, data);
  b.addEventListener('click', () => action(b));
  return b;
}

// ---- Signing in --------------------------------------------------------------------------------------------------

function signIn(event) {
  event.preventDefault();
  return whileBusy($('signin-submit'), async () => {
    const r = await signInCall('/auth/login', {
      tenant: $('tenant').value.trim(), username: $('username').value.trim(), password: $('password').value, device_type: 'web',
    });
    $('password').value = '';
    if (r.status === 200) return signedIn(r.data);
    if (r.status === 401 && r.problem === 'mfa-required') return askSecondFactor(r.data);
    say(explain(r, 'Signing in failed.'));
  });
}

function askSecondFactor(problem) {
  state.mfaToken = problem.mfa_token;
  state.methods = problem.methods || [];
  for (const el of document.querySelectorAll('#second [data-method]')) el.hidden = !state.methods.includes(el.dataset.method);
  show('second');
  if (state.methods.includes('totp')) $('code').focus();
}

function finishSecondFactor(proof, button) {
  return whileBusy(button, async () => {
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
  });
}

async function secondFactorPasskey() {
  say('');
  const options = await call('POST', '/auth/login/mfa/options', { mfa_token: state.mfaToken });
  if (options.status !== 200) return say(explain(options));
  const credential = await usePasskey(options.data.options);
  if (credential) await finishSecondFactor({ ceremony_id: options.data.ceremony_id, credential }, $('second-passkey'));
}

function passkeySignIn() {
  const tenant = $('tenant').value.trim();
  if (!tenant) return say('Enter your organisation first: a passkey signs in to one.');
  return whileBusy($('passkey-signin'), async () => {
    const options = await call('POST', '/auth/passkeys/login/options', { tenant });
    if (options.status !== 200) return say(explain(options));
    const credential = await usePasskey(options.data.options);
    if (!credential) return;
    const r = await signInCall('/auth/passkeys/login', { ceremony_id: options.data.ceremony_id, credential });
    if (r.status === 200) return signedIn(r.data);
    say(r.problem === 'invalid-credentials' ? 'That passkey did not sign you in.' : explain(r));
  });
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
  if (auth.tokens) sessionStorage.setItem(auth.handoffKey, auth.tokens.refresh);
  auth.tokens = null;
  location.replace(returnTo());
}

// ---- The security page -------------------------------------------------------------------------------------------

async function loadSecurity() {
  const me = await api('GET', '/auth/me');
  if (me.status !== 200) {
    auth.tokens = null;
    if (location.pathname !== '/account') history.replaceState({}, '', '/account');
    show('signin');
    return;
  }
  state.me = me.data;
  if (returnTo()) return backToConsole();
  if (location.pathname !== '/account/security') history.replaceState({}, '', '/account/security');
  const [mfa, sessions] = await Promise.all([api('GET', '/auth/mfa'), api('GET', '/auth/sessions')]);
  render(me.data, mfa.ok ? mfa.data : { totp: false, passkeys: [], recovery_codes_left: 0 }, sessions.ok ? sessions.data : []);
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
  list.replaceChildren(...mfa.passkeys.map((p) => row(p.name,
    'added ' + new Date(p.created_at).toLocaleDateString() + (p.last_used_at ? ', last used ' + new Date(p.last_used_at).toLocaleString() : ''),
    rowButton('Remove', 'danger', { passkey: p.id }, (b) => removePasskey(p.id, b)))));
  if (mfa.passkeys.length === 0) list.append(element('li', 'muted', 'No passkeys yet.'));

  $('session-list').replaceChildren(...sessions.map((s) => row(
    s.device_type + (s.user_agent ? ' · ' + s.user_agent.slice(0, 60) : ''),
    'since ' + new Date(s.created_at).toLocaleString() + (s.ip ? ' from ' + s.ip : ''),
    s.current ? element('span', 'badge', 'this session') : rowButton('Sign out', 'secondary', { session: s.id }, (b) => endSession(s.id, b)))));
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
  list.replaceChildren(...codes.map((c) => element('li', '', c)));
  $('codes-new-list').hidden = false;
}

function addPasskey(event) {
  event.preventDefault();
  return whileBusy($('passkey-add'), async () => {
    const options = await withStepUp(() => api('POST', '/auth/passkeys/options'));
    if (options.status !== 200) return say(explain(options));
    const credential = await createPasskey(options.data.options);
    if (!credential) return;
    const name = $('passkey-name').value.trim() || undefined;
    const r = await api('POST', '/auth/passkeys', { ceremony_id: options.data.ceremony_id, credential, name });
    if (r.status !== 201) return say(explain(r));
    $('passkey-name').value = '';
    await afterEnrolment();
    say('Passkey added.', true);
  });
}

// An enrolment lifts an enrolment-only restriction; a JWT's copy of it goes with the next token.
async function afterEnrolment() {
  if (auth.tokens) await refresh();
  await loadSecurity();
}

async function removePasskey(id, button) {
  const r = await whileBusy(button, () => withStepUp(() => api('DELETE', '/auth/passkeys/' + encodeURIComponent(id))));
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
  const r = await whileBusy(button, () => api('DELETE', '/auth/sessions/' + encodeURIComponent(id)));
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
  await api('POST', '/auth/logout', auth.tokens ? { refresh_token: auth.tokens.refresh } : undefined);
  auth.tokens = null;
  state.me = null;
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
