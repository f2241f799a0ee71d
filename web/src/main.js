// main.js - the entry point of cloudlet's client app. It reads the server's
// settings, configures Amplify for the user pool and identity pool, and
// switches between the signed-out screens (auth.js) and the signed-in one:
// who you are (session.js), call a function (invoke.js), my files
// (files.js). Every error ends up in the #error alert: never a blank page.

import './styles.css';
import { Amplify } from 'aws-amplify';
import { ConsoleLogger } from 'aws-amplify/utils';
import { getCurrentUser, signOut } from 'aws-amplify/auth';
import { loadConfig } from './config.js';
import { mount, unmount, showError, clearError, setStatus, busy } from './ui.js';
import { authMessage, serviceMessage } from './errors.js';
import { authScreens } from './auth.js';
import { whoami, SignedOutError } from './session.js';
import { invokePanel } from './invoke.js';
import { filesPanel } from './files.js';
import { awsClients, dropAwsClients } from './aws.js';

function reason(value) {
  if (value instanceof Error) {
    return value.name && value.name !== 'Error' && value.name !== 'TypeError'
      ? serviceMessage(value)
      : value.message;
  }
  return String(value);
}

window.addEventListener('error', (e) => {
  showError(`Something went wrong: ${e.error ? reason(e.error) : e.message}`);
});
window.addEventListener('unhandledrejection', (e) => {
  showError(`Something went wrong: ${reason(e.reason)}`);
});

let cfg = null;
let auth = null;
let stopApp = null;

async function leaveApp(message) {
  if (stopApp) {
    stopApp();
    stopApp = null;
  }
  dropAwsClients();
  unmount();
  clearError();
  auth.reset();
  auth.show('signin');
  if (message) {
    setStatus(message);
  }
}

async function doSignOut() {
  setStatus('Signing out…');
  let failure = null;
  try {
    await signOut();
  } catch (err) {
    failure = err;
  }
  await leaveApp('Signed out.');
  if (failure) {
    // Amplify drops the local tokens even when the server could not be told.
    showError(`Signed out on this device, but the server could not be told: ${authMessage(failure)}`);
  }
}

async function enterApp() {
  if (stopApp) {
    stopApp();
  }
  dropAwsClients();
  const root = mount('app');
  const panel = whoami(root);
  let who;
  try {
    who = await panel.load(false);
  } catch (err) {
    panel.stop();
    if (err instanceof SignedOutError) {
      await signOut().catch(() => {});
      await leaveApp('');
      showError('Your session has ended. Sign in again.');
      return;
    }
    showError(`Could not load your session: ${authMessage(err)}`);
    who = { email: '', identityId: null, hasCredentials: false };
  }
  const clients = () => awsClients(cfg);
  invokePanel(root, cfg, who, () => clients().lambda);
  let files = null;
  if (who.identityId && who.hasCredentials) {
    files = filesPanel(root, cfg, who.identityId, () => clients().s3);
  } else {
    showError('The identity pool gave this session no credentials: functions and files are unavailable.');
  }
  const signout = root.querySelector('#signout');
  signout.addEventListener('click', () => {
    busy(signout.parentElement, doSignOut);
  });
  stopApp = () => {
    panel.stop();
    if (files) {
      files.stop();
    }
  };
  root.querySelector('#whoami-title').focus();
}

async function start() {
  try {
    cfg = await loadConfig();
  } catch (err) {
    document.getElementById('loading').hidden = true;
    showError(err.message);
    return;
  }
  const cognito = {
    userPoolId: cfg.userPoolId,
    userPoolClientId: cfg.userPoolClientId,
    identityPoolId: cfg.identityPoolId,
    loginWith: { email: true },
  };
  if (cfg.endpoint) {
    cognito.userPoolEndpoint = cfg.endpoint;
    cognito.identityPoolEndpoint = cfg.endpoint;
  }
  // Amplify warns at every start that the endpoints are not AWS's; here
  // that is the point, and the console stays for real problems.
  ConsoleLogger.LOG_LEVEL = 'ERROR';
  Amplify.configure({ Auth: { Cognito: cognito } });
  auth = authScreens(cfg, enterApp);

  let signedIn = false;
  try {
    await getCurrentUser();
    signedIn = true;
  } catch {
    signedIn = false;
  }
  if (signedIn) {
    await enterApp();
  } else {
    auth.show('signin');
  }
}

start().catch((err) => {
  document.getElementById('loading').hidden = true;
  clearError();
  showError(`The app could not start: ${reason(err)}`);
});
