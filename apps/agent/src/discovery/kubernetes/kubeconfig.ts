import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** A kubeconfig larger than this is refused (real ones are a few KiB). */
const MAX_KUBECONFIG_BYTES = 4 * 1024 * 1024;

/** What the current context of a kubeconfig file says about reaching its API server. */
export interface KubeconfigConnection {
  /** The context used (`current-context`). */
  context: string;
  /** API server base URL (`clusters[].cluster.server`). */
  server: string;
  /** PEM CA bundle (`certificate-authority` file or `certificate-authority-data`). */
  ca?: Buffer | undefined;
  /** PEM client certificate and key (`client-certificate(-data)`, `client-key(-data)`). */
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  insecureSkipVerify: boolean;
  /** `tls-server-name`: the name checked against the server's certificate. */
  serverName?: string | undefined;
  /** Bearer token given inline (`token`). */
  token?: string | undefined;
  /** Bearer token file (`tokenFile`), re-read as it rotates; absolute. */
  tokenFile?: string | undefined;
  basicAuth?: { username: string; password: string } | undefined;
  /** The context's namespace (`contexts[].context.namespace`), `default` when unset. */
  namespace: string;
}

const clusterSchema = z.object({
  server: z.string().min(1),
  'certificate-authority': z.string().optional(),
  'certificate-authority-data': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
  'tls-server-name': z.string().optional(),
  'proxy-url': z.string().optional(),
});

const userSchema = z.object({
  'client-certificate': z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key': z.string().optional(),
  'client-key-data': z.string().optional(),
  token: z.string().optional(),
  tokenFile: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  exec: z.unknown().optional(),
  'auth-provider': z.unknown().optional(),
  as: z.string().optional(),
});

const contextSchema = z.object({ cluster: z.string().min(1), user: z.string().optional(), namespace: z.string().optional() });

const kubeconfigSchema = z.object({
  'current-context': z.string().optional(),
  clusters: z.array(z.object({ name: z.string().min(1), cluster: clusterSchema })).nullish(),
  users: z.array(z.object({ name: z.string().min(1), user: userSchema.nullish() })).nullish(),
  contexts: z.array(z.object({ name: z.string().min(1), context: contextSchema })).nullish(),
});

/**
 * Reads a kubeconfig file the way client-go's `BuildConfigFromFlags("", file)` does for what an
 * agent can use: the `current-context`, its cluster (server, CA, `insecure-skip-tls-verify`,
 * `tls-server-name`) and its user (client certificate and key, `token`, `tokenFile`, basic auth).
 * Relative file paths are relative to the kubeconfig's directory. `exec` and `auth-provider`
 * users (cloud plugins that run programs) and impersonation are refused, naming the user; so is
 * `proxy-url`. Throws an Error naming the file and what is wrong.
 */
export function loadKubeconfig(file: string): KubeconfigConnection {
  const fail = (what: string): never => {
    throw new Error(`kubeconfig_file ${file}: ${what}`);
  };
  let text: string;
  try {
    if (statSync(file).size > MAX_KUBECONFIG_BYTES) fail(`larger than ${MAX_KUBECONFIG_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('kubeconfig_file')) throw err;
    return fail((err as { code?: string }).code ?? 'cannot read');
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    return fail(`not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = kubeconfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return fail(`${issue.path.join('.')}: ${issue.message}`);
  }
  const doc = parsed.data;
  const dir = path.dirname(path.resolve(file));
  const resolve = (p: string) => path.resolve(dir, p);

  const contextName = doc['current-context'] ?? '';
  if (!contextName) fail('no current-context set');
  const context = doc.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) return fail(`current-context "${contextName}" is not among contexts`);
  const cluster = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) return fail(`context "${contextName}" names cluster "${context.cluster}", which is not among clusters`);
  const userEntry = context.user ? doc.users?.find((u) => u.name === context.user) : undefined;
  if (context.user && !userEntry) fail(`context "${contextName}" names user "${context.user}", which is not among users`);
  const user = userEntry?.user ?? undefined;
  if (user?.exec !== undefined) fail(`user "${context.user}" uses an exec credential plugin, which fleet-agent does not run; give a token, tokenFile or client certificate instead`);
  if (user?.['auth-provider'] !== undefined) fail(`user "${context.user}" uses an auth-provider plugin, which fleet-agent does not support; give a token, tokenFile or client certificate instead`);
  if (user?.as !== undefined) fail(`user "${context.user}" uses impersonation ("as"), which fleet-agent does not support`);
  if (cluster['proxy-url'] !== undefined) fail(`cluster "${context.cluster}" sets proxy-url, which fleet-agent does not support`);
  if (!URL.canParse(cluster.server) || !['http:', 'https:'].includes(new URL(cluster.server).protocol)) {
    fail(`cluster "${context.cluster}": server "${cluster.server}" is not an http:// or https:// URL`);
  }

  const material = (what: string, filePath: string | undefined, data: string | undefined): Buffer | undefined => {
    if (data !== undefined) {
      const buf = Buffer.from(data, 'base64');
      if (buf.length === 0) fail(`${what}-data is empty or not base64`);
      return buf;
    }
    if (filePath === undefined) return undefined;
    try {
      return readFileSync(resolve(filePath));
    } catch (err) {
      return fail(`${what} ${resolve(filePath)}: ${(err as { code?: string }).code ?? 'cannot read'}`);
    }
  };
  const ca = material('certificate-authority', cluster['certificate-authority'], cluster['certificate-authority-data']);
  const cert = material('client-certificate', user?.['client-certificate'], user?.['client-certificate-data']);
  const key = material('client-key', user?.['client-key'], user?.['client-key-data']);
  if ((cert === undefined) !== (key === undefined)) fail(`user "${context.user}" gives a client certificate without its key, or a key without its certificate`);

  return {
    context: contextName,
    server: cluster.server.replace(/\/+$/, ''),
    ca,
    cert,
    key,
    insecureSkipVerify: cluster['insecure-skip-tls-verify'] ?? false,
    serverName: cluster['tls-server-name'],
    token: user?.token || undefined,
    tokenFile: user?.token ? undefined : user?.tokenFile ? resolve(user.tokenFile) : undefined,
    basicAuth: user?.username !== undefined ? { username: user.username, password: user.password ?? '' } : undefined,
    namespace: context.namespace || 'default',
  };
}
