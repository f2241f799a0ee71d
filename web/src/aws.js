// aws.js - the AWS SDK clients of one signed-in session. Their credentials
// are the identity pool's temporary credentials that Amplify keeps (and
// renews) for the signed-in user. The SDK caches what the provider returns
// until shortly before it expires, so clients must not outlive the session
// they were made for: a second user signing in on the same page gets new
// clients, never the first user's cached keys.

import { fetchAuthSession } from 'aws-amplify/auth';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';

let clients = null;

async function credentials() {
  const { credentials: creds } = await fetchAuthSession();
  if (!creds) {
    const err = new Error('No credentials: the identity pool gave none for this session.');
    err.name = 'CredentialsProviderError';
    throw err;
  }
  return creds;
}

export function awsClients(cfg) {
  if (!clients) {
    const common = { region: cfg.region, credentials };
    if (cfg.endpoint) {
      common.endpoint = cfg.endpoint;
    }
    clients = {
      lambda: new LambdaClient({ ...common, maxAttempts: 1 }),
      s3: new S3Client({ ...common, forcePathStyle: true }),
    };
  }
  return clients;
}

export function dropAwsClients() {
  if (clients) {
    clients.lambda.destroy();
    clients.s3.destroy();
    clients = null;
  }
}
