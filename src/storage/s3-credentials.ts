// Where S3Store's credentials come from, in this order:
//   1. `options.credentials` (config.ts passes the AWS_* variables this way);
//   2. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) in the environment,
//      read here as the SDK's own chain would read them first;
//   3. otherwise the AWS SDK's default provider chain (@aws-sdk/credential-provider-node:
//      SSO, web identity, ~/.aws profiles, credential_process, ECS/EKS container and EC2
//      instance metadata), imported at the first request that needs it and only then.
// Static credentials (1, 2) load no SDK code at all. Credentials from the chain are
// cached and fetched again when they expire within 5 minutes (the SDK's own margin), or
// when the server says the token has expired (`invalidate()`).

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When temporary credentials stop working; static ones never do. */
  expiration?: Date;
}

export interface CredentialSource {
  /** Where they come from, for messages (never the secret): `options`, `environment`, `provider chain`. */
  readonly kind: 'options' | 'environment' | 'provider chain';
  get(): Promise<S3Credentials>;
  /** Drop cached credentials (the server refused them as expired); static ones stay. */
  invalidate(): void;
}

/** Refresh credentials from the chain this long before they expire. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

type Provider = (options?: { forceRefresh?: boolean }) => Promise<S3Credentials>;

export function credentialSource(
  given: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined,
  region: string,
  env: NodeJS.ProcessEnv = process.env,
  loadChain: () => Promise<Provider> = () => loadDefaultChain(region),
): CredentialSource {
  if (given) return fixed('options', given);
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return fixed('environment', { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined });
  }
  let provider: Promise<Provider> | undefined;
  let cached: S3Credentials | undefined;
  let pending: Promise<S3Credentials> | undefined;
  let force = false;
  return {
    kind: 'provider chain',
    get() {
      if (cached && !(cached.expiration && cached.expiration.getTime() - Date.now() < REFRESH_MARGIN_MS)) return Promise.resolve(cached);
      pending ??= (async () => {
        try {
          provider ??= loadChain();
          const p = await provider.catch((err: unknown) => {
            provider = undefined; // a failed import may succeed later (it never should, but do not cache it)
            throw err;
          });
          const forceRefresh = force;
          force = false;
          const got = await p(forceRefresh ? { forceRefresh } : undefined);
          cached = { accessKeyId: got.accessKeyId, secretAccessKey: got.secretAccessKey, sessionToken: got.sessionToken, expiration: got.expiration };
          return cached;
        } finally {
          pending = undefined;
        }
      })();
      return pending;
    },
    invalidate() {
      cached = undefined;
      force = true;
    },
  };
}

function fixed(kind: 'options' | 'environment', credentials: S3Credentials): CredentialSource {
  const value = Promise.resolve({ ...credentials });
  return { kind, get: () => value, invalidate: () => undefined };
}

/** The SDK's default chain, imported now (~50 ms here; it loads STS/SSO clients itself only if a profile needs them). */
async function loadDefaultChain(region: string): Promise<Provider> {
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  // clientConfig: the STS/SSO clients the chain may make use the store's region.
  return defaultProvider({ clientConfig: { region } }) as Provider;
}
