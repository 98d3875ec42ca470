// The browser side of the public /auth API, shared by the account pages (/account) and the admin console (/console),
// which load it before their own scripts: requests and their problem+json answers, the JWT modes' tokens and their
// refresh, WebAuthn's JSON (base64url) and the step-up form (#stepup, on both pages). Plain JavaScript, no library, no
// inline script (the CSP forbids it). In Opaque mode the session is the HttpOnly cookie, which no script sees; in the
// JWT modes the tokens live in the page's memory only, so a reload signs out.
'use strict';

const $ = (id) => document.getElementById(id);

const auth = {
  // The JWT modes' { access, refresh }. A refresh token handed over to the console has no access token until spent.
  tokens: null,
  // Resolves the open step-up form: true once a factor was proven, false when cancelled.
  stepUp: null,
  // Set by a page that leaves when its session ends (kicked, banned, signed out elsewhere).
  onSessionEnded: null,
  // /account hands the JWT modes' refresh token to /console in this tab's sessionStorage; read once, spent at once.
  handoffKey: 'sessiongate.console-handoff',
};

// ---- HTTP --------------------------------------------------------------------------------------------------------

function problemName(data) {
  return data && typeof data.type === 'string' ? data.type.slice(data.type.lastIndexOf('/') + 1) : '';
}

// The answer's JSON (problem+json too), or its Blob when it is something else (the TOTP QR code).
async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth.tokens?.access) headers.Authorization = 'Bearer ' + auth.tokens.access;
  const response = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  if (response.status !== 204) {
    const type = response.headers.get('content-type') || '';
    data = type.includes('json') ? await response.json().catch(() => null) : await response.blob();
  }
  return { status: response.status, data, problem: problemName(data), ok: response.status >= 200 && response.status < 300 };
}

// The JWT modes: an expired or outdated access token is renewed once with the refresh token, then the call is retried.
async function api(method, path, body) {
  let r = await call(method, path, body);
  if (r.status === 401 && auth.tokens && (r.problem === 'unauthenticated' || r.data?.reason === 'roles-changed') && await refresh()) {
    r = await call(method, path, body);
  }
  if (r.status === 401 && (r.problem === 'unauthenticated' || r.problem === 'session-revoked') && auth.onSessionEnded) auth.onSessionEnded();
  return r;
}

async function refresh() {
  if (!auth.tokens?.refresh) return false;
  const saved = auth.tokens;
  auth.tokens = null;
  const r = await call('POST', '/auth/refresh', { refresh_token: saved.refresh });
  if (r.status === 200) { adopt(r.data); return true; }
  return false;
}

function adopt(login) {
  // Opaque: the cookie carries the session (HttpOnly); the answer has no tokens.
  if (login && login.token_type === 'Bearer' && login.access_token) auth.tokens = { access: login.access_token, refresh: login.refresh_token };
}

// ---- Messages ----------------------------------------------------------------------------------------------------

function say(text, ok) {
  const m = $('message');
  m.textContent = text || '';
  m.hidden = !text;
  m.classList.toggle('ok', !!ok);
}

function explain(r, fallback) {
  if (r.status === 403 && r.problem === 'forbidden' && !r.data?.detail) return 'You do not have the permission for that.';
  if (r.data && (r.data.detail || r.data.title)) return r.data.detail || r.data.title;
  return fallback || 'Something went wrong (' + r.status + ').';
}

// Runs a button's action with the message cleared and the button disabled until it ends, so it is not sent twice.
async function whileBusy(button, action) {
  say('');
  button.disabled = true;
  try {
    return await action();
  } finally {
    button.disabled = false;
  }
}

// ---- Passkeys (WebAuthn JSON, base64url) -------------------------------------------------------------------------

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

// A new or asserted credential as the server reads it: what both have, plus its own response fields.
function credentialJson(c, response) {
  return {
    id: c.id, rawId: toB64url(c.rawId), type: c.type, authenticatorAttachment: c.authenticatorAttachment || undefined,
    response: { clientDataJSON: toB64url(c.response.clientDataJSON), ...response },
    clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
  };
}

function attestationJson(c) {
  return credentialJson(c, {
    attestationObject: toB64url(c.response.attestationObject),
    transports: c.response.getTransports ? c.response.getTransports() : [],
  });
}

function assertionJson(c) {
  return credentialJson(c, {
    authenticatorData: toB64url(c.response.authenticatorData),
    signature: toB64url(c.response.signature),
    userHandle: c.response.userHandle ? toB64url(c.response.userHandle) : null,
  });
}

// The two ceremonies, with options from the server; null (with a message) when the browser or the person refuses.
function createPasskey(options) {
  return ceremony(() => navigator.credentials.create({ publicKey: creationOptions(options) }), attestationJson, 'The passkey was not created');
}

function usePasskey(options) {
  return ceremony(() => navigator.credentials.get({ publicKey: requestOptions(options) }), assertionJson, 'The passkey did not answer');
}

async function ceremony(run, json, refused) {
  try {
    return json(await run());
  } catch (e) {
    say(refused + ' (' + (e && e.name ? e.name : 'error') + ').');
    return null;
  }
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

// Opens the step-up form with the factors the account has now (a code, a passkey, a recovery code).
async function stepUp() {
  const mfa = await api('GET', '/auth/mfa');
  const f = mfa.ok ? mfa.data : { totp: false, passkeys: [], recovery_codes_left: 0 };
  if (!f.totp && f.passkeys.length === 0 && !(f.recovery_codes_left > 0)) {
    say('This needs a second factor, and your account has none yet: set one up on your account page (/account/security).');
    return false;
  }
  $('stepup-code-form').hidden = !f.totp;
  $('stepup-passkey').hidden = f.passkeys.length === 0;
  $('stepup-recovery-form').hidden = !(f.recovery_codes_left > 0);
  $('stepup').hidden = false;
  $('stepup').scrollIntoView({ block: 'nearest' });
  if (f.totp) $('stepup-code').focus();
  return new Promise((resolve) => { auth.stepUp = resolve; });
}

function endStepUp(ok) {
  $('stepup').hidden = true;
  $('stepup-code').value = '';
  $('stepup-recovery').value = '';
  const resolve = auth.stepUp;
  auth.stepUp = null;
  if (resolve) resolve(ok);
}

function proveStepUp(proof, button) {
  return whileBusy(button, async () => {
    const r = await api('POST', '/auth/step-up', proof);
    if (r.status === 200) {
      adopt(r.data); // the JWT modes answer a new pair that carries aal2
      say('Verified.', true);
      return endStepUp(true);
    }
    say(r.problem === 'invalid-mfa-code' ? 'That was not accepted. Try again.' : explain(r));
  });
}

async function stepUpPasskey() {
  say('');
  const options = await api('POST', '/auth/step-up/options');
  if (!options.ok) return say(explain(options));
  const credential = await usePasskey(options.data.options);
  if (credential) await proveStepUp({ ceremony_id: options.data.ceremony_id, credential }, $('stepup-passkey'));
}

document.addEventListener('DOMContentLoaded', () => {
  $('stepup-code-form').addEventListener('submit', (e) => { e.preventDefault(); proveStepUp({ code: $('stepup-code').value.trim() }, $('stepup-code-submit')); });
  $('stepup-recovery-form').addEventListener('submit', (e) => { e.preventDefault(); proveStepUp({ recovery_code: $('stepup-recovery').value.trim() }, $('stepup-recovery-submit')); });
  $('stepup-passkey').addEventListener('click', stepUpPasskey);
  $('stepup-cancel').addEventListener('click', () => endStepUp(false));
});
