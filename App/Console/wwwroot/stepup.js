// Step-up for the sensitive admin routes (role changes, user delete, MFA reset, policies, keys): when the API answers
// 401 step-up-required, the person proves a second factor here (a code, a recovery code or a passkey, as on the
// account pages) and the action runs once more.
'use strict';

async function withStepUp(run) {
  let r = await run();
  if (r.status === 401 && r.problem === 'step-up-required') {
    if (!await stepUp()) return r;
    r = await run();
  }
  return r;
}

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
  return new Promise((resolve) => { SG.state.stepUp = resolve; });
}

function endStepUp(ok) {
  $('stepup').hidden = true;
  $('stepup-code').value = '';
  $('stepup-recovery').value = '';
  const resolve = SG.state.stepUp;
  SG.state.stepUp = null;
  if (resolve) resolve(ok);
}

async function proveStepUp(proof, control) {
  say('');
  control.disabled = true;
  try {
    const r = await api('POST', '/auth/step-up', proof);
    if (r.status === 200) {
      adopt(r.data); // the JWT modes answer a new pair that carries aal2
      say('Verified.', true);
      return endStepUp(true);
    }
    say(r.problem === 'invalid-mfa-code' ? 'That was not accepted. Try again.' : explain(r));
  } finally {
    control.disabled = false;
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

async function stepUpPasskey() {
  say('');
  const options = await api('POST', '/auth/step-up/options');
  if (!options.ok) return say(explain(options));
  const o = options.data.options;
  let credential;
  try {
    credential = assertionJson(await navigator.credentials.get({
      publicKey: { ...o, challenge: toBytes(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) })) },
    }));
  } catch (e) {
    return say('The passkey did not answer (' + (e && e.name ? e.name : 'error') + ').');
  }
  await proveStepUp({ ceremony_id: options.data.ceremony_id, credential }, $('stepup-passkey'));
}

document.addEventListener('DOMContentLoaded', () => {
  $('stepup-code-form').addEventListener('submit', (e) => { e.preventDefault(); proveStepUp({ code: $('stepup-code').value.trim() }, $('stepup-code-submit')); });
  $('stepup-recovery-form').addEventListener('submit', (e) => { e.preventDefault(); proveStepUp({ recovery_code: $('stepup-recovery').value.trim() }, $('stepup-recovery-submit')); });
  $('stepup-passkey').addEventListener('click', stepUpPasskey);
  $('stepup-cancel').addEventListener('click', () => { endStepUp(false); });
});
