// config.js - the app's settings, read at start from the server that serves
// it: GET /.well-known/cloudlet.json gives the region, the user pool and its
// app client, the identity pool, and the function names. Pointing the same
// app at real AWS means serving a file of the same shape with the real ids
// and "endpoint": null (the SDKs then use AWS's regional endpoints).

const CONFIG_PATH = '/.well-known/cloudlet.json';

// The default password policy of a cloudlet (and Cognito) user pool; a
// config may carry its own under "passwordPolicy".
const DEFAULT_POLICY = {
  minimumLength: 8,
  requireUppercase: true,
  requireLowercase: true,
  requireNumbers: true,
  requireSymbols: false,
};

// The URL the app sends API calls to. The page is served by cloudlet itself,
// so when the advertised endpoint differs from the page only by host name
// (localhost against 127.0.0.1), the page's own origin is the same server
// and keeps every call same-origin. Otherwise the advertised endpoint is
// used as it is; null means real AWS.
function apiEndpoint(advertised) {
  if (!advertised) {
    return undefined;
  }
  const here = window.location;
  try {
    const url = new URL(advertised);
    if (url.protocol === here.protocol && url.port === here.port) {
      return here.origin;
    }
    return url.origin;
  } catch {
    return here.origin;
  }
}

export async function loadConfig() {
  let res;
  try {
    res = await fetch(CONFIG_PATH, { cache: 'no-store', headers: { accept: 'application/json' } });
  } catch (err) {
    throw new Error(
      `Cannot reach the server at ${window.location.origin} to read ${CONFIG_PATH}: ${err.message}`,
    );
  }
  if (!res.ok) {
    throw new Error(
      `Cannot read the app's settings: ${CONFIG_PATH} answered HTTP ${res.status}. Is this page served by cloudlet?`,
    );
  }
  const raw = await res.json();
  for (const field of ['region', 'userPoolId', 'userPoolClientId', 'identityPoolId']) {
    if (typeof raw[field] !== 'string' || raw[field] === '') {
      throw new Error(`The app's settings (${CONFIG_PATH}) lack "${field}".`);
    }
  }
  return {
    region: raw.region,
    endpoint: apiEndpoint(raw.endpoint),
    userPoolId: raw.userPoolId,
    userPoolClientId: raw.userPoolClientId,
    identityPoolId: raw.identityPoolId,
    uploadsBucket: typeof raw.uploadsBucket === 'string' ? raw.uploadsBucket : 'uploads',
    functions: Array.isArray(raw.functions) ? raw.functions.filter((f) => typeof f === 'string') : [],
    passwordPolicy: { ...DEFAULT_POLICY, ...(raw.passwordPolicy || {}) },
  };
}
