// session.js - the "Who you are" panel: the user pool identity (username,
// sub from the ID token), the identity pool's identity id, and when the
// temporary credentials expire. The credentials are renewed a minute before
// they expire (fetchAuthSession with forceRefresh also refreshes the
// tokens with the refresh token), and the panel follows.

import { fetchAuthSession, getCurrentUser } from 'aws-amplify/auth';
import { showError, setStatus } from './ui.js';
import { authMessage } from './errors.js';

const RENEW_BEFORE_MS = 60 * 1000;
const MIN_RENEW_DELAY_MS = 10 * 1000;
const TICK_MS = 15 * 1000;

export class SignedOutError extends Error {
  constructor() {
    super('You are signed out. Sign in again.');
    this.name = 'SignedOutError';
  }
}

function inWords(ms) {
  const min = Math.round(ms / 60000);
  if (ms <= 0) {
    return 'expired';
  }
  if (min < 1) {
    return 'in less than a minute';
  }
  return `in ${min} min`;
}

// root: the signed-in screen. Returns { load, stop }: load(forceRefresh)
// fills the panel and resolves to { username, email, identityId }; it
// throws SignedOutError when there is no signed-in user any more.
export function whoami(root) {
  const field = (id) => root.querySelector(`[data-testid="whoami-${id}"]`);
  const el = {
    username: field('username'),
    sub: field('sub'),
    identity: field('identity'),
    expires: field('expires'),
  };
  let expiration = null;
  let renewTimer = 0;
  let tickTimer = 0;

  function renderExpiry() {
    if (!expiration) {
      el.expires.textContent = 'no credentials';
      return;
    }
    const time = document.createElement('time');
    time.dateTime = expiration.toISOString();
    time.textContent = expiration.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
    el.expires.replaceChildren(time, ` (${inWords(expiration.getTime() - Date.now())})`);
  }

  function schedule() {
    clearTimeout(renewTimer);
    if (!expiration) {
      return;
    }
    const delay = Math.min(
      Math.max(expiration.getTime() - Date.now() - RENEW_BEFORE_MS, MIN_RENEW_DELAY_MS),
      2 ** 31 - 1,
    );
    renewTimer = setTimeout(async () => {
      try {
        await load(true);
        setStatus('Your credentials were renewed.');
      } catch (err) {
        showError(`Your credentials could not be renewed: ${authMessage(err)}`);
      }
    }, delay);
  }

  async function load(forceRefresh) {
    const session = await fetchAuthSession(forceRefresh ? { forceRefresh: true } : undefined);
    if (!session.tokens || !session.tokens.idToken) {
      throw new SignedOutError();
    }
    const user = await getCurrentUser();
    const claims = session.tokens.idToken.payload;
    const email = typeof claims.email === 'string' ? claims.email : '';
    el.username.textContent = email && email.toLowerCase() !== user.username.toLowerCase()
      ? `${user.username} (${email})`
      : user.username;
    el.sub.textContent = claims.sub || user.userId;
    el.identity.textContent = session.identityId || 'none (the identity pool gave no identity)';
    expiration = session.credentials && session.credentials.expiration
      ? new Date(session.credentials.expiration)
      : null;
    renderExpiry();
    schedule();
    clearInterval(tickTimer);
    tickTimer = setInterval(renderExpiry, TICK_MS);
    return {
      username: user.username,
      email: email || user.username,
      identityId: session.identityId || null,
      hasCredentials: Boolean(session.credentials),
    };
  }

  function stop() {
    clearTimeout(renewTimer);
    clearInterval(tickTimer);
  }

  return { load, stop };
}
