import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KubeClient, resolveConnection } from './client.js';
import { loadKubeconfig } from './kubeconfig.js';
import { FakeKubeApiServer, selfSignedCertificate } from './test-support/fake-api-server.js';
import { pod, sdConfig, testDeps } from './test-support/harness.js';

let server: FakeKubeApiServer;
let dir: string;
let cert: { key: string; cert: string };

beforeAll(async () => {
  cert = selfSignedCertificate();
  server = await FakeKubeApiServer.start({ token: 'kc-token', tls: cert });
  server.add('pods', pod('team-a', 'web-0'));
  dir = await mkdtemp(path.join(tmpdir(), 'kubeconfig-'));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

interface Doc {
  'current-context'?: string;
  clusters?: unknown[];
  users?: unknown[];
  contexts?: unknown[];
}

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}, context: Record<string, unknown> = {}): Doc {
  return {
    'current-context': 'work',
    clusters: [
      { name: 'other', cluster: { server: 'https://other.invalid' } },
      { name: 'fake', cluster: { server: server.url, 'certificate-authority-data': Buffer.from(cert.cert).toString('base64'), ...cluster } },
    ],
    users: [{ name: 'agent', user }],
    contexts: [
      { name: 'elsewhere', context: { cluster: 'other', user: 'agent' } },
      { name: 'work', context: { cluster: 'fake', user: 'agent', namespace: 'team-a', ...context } },
    ],
  };
}

async function write(name: string, doc: Doc | string): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, typeof doc === 'string' ? doc : stringify(doc));
  return file;
}

describe('loadKubeconfig', () => {
  it('follows current-context to its cluster and user, and lists over TLS with the token', async () => {
    const file = await write('inline.yaml', kubeconfig({ token: 'kc-token' }));
    const kc = loadKubeconfig(file);
    expect(kc).toMatchObject({ context: 'work', server: server.url, token: 'kc-token', namespace: 'team-a', insecureSkipVerify: false });
    expect(kc.ca?.toString()).toBe(cert.cert);

    const conn = resolveConnection(sdConfig({ kubeconfigFile: file }), testDeps());
    expect(conn.ownNamespace).toBe('team-a');
    expect(conn.describe).toBe(`kubeconfig ${file} (context work)`);
    const client = new KubeClient(conn);
    try {
      const page = await client.list({ kind: 'pods', namespace: 'team-a' }, { limit: 5 }, new AbortController().signal);
      expect(page.items.map((o) => o.metadata.name)).toEqual(['web-0']);
      expect(server.requests.at(-1)).toMatchObject({ path: '/api/v1/namespaces/team-a/pods', authorization: 'Bearer kc-token' });
    } finally {
      await client.close();
    }
  });

  it('resolves certificate-authority, client certificate/key and tokenFile relative to the kubeconfig', async () => {
    await write('nested/ca.pem', cert.cert);
    await write('nested/client.pem', cert.cert);
    await write('nested/client.key', cert.key);
    await write('nested/token', 'kc-token\n');
    const file = await write(
      'nested/config',
      kubeconfig(
        { 'client-certificate': 'client.pem', 'client-key': 'client.key', tokenFile: 'token' },
        { 'certificate-authority-data': undefined, 'certificate-authority': 'ca.pem', 'tls-server-name': 'localhost' },
        { namespace: undefined },
      ),
    );
    const kc = loadKubeconfig(file);
    expect(kc).toMatchObject({ tokenFile: path.join(dir, 'nested/token'), serverName: 'localhost', namespace: 'default' });
    expect(kc.cert?.toString()).toBe(cert.cert);
    expect(kc.key?.toString()).toBe(cert.key);
    const client = new KubeClient(resolveConnection(sdConfig({ kubeconfigFile: file }), testDeps()));
    try {
      await client.list({ kind: 'pods' }, { limit: 5 }, new AbortController().signal);
      expect(server.requests.at(-1)!.authorization).toBe('Bearer kc-token');
    } finally {
      await client.close();
    }
  });

  it('reads basic auth and insecure-skip-tls-verify', async () => {
    const file = await write('basic.yaml', kubeconfig({ username: 'admin', password: 'pw' }, { 'insecure-skip-tls-verify': true }));
    expect(loadKubeconfig(file)).toMatchObject({ basicAuth: { username: 'admin', password: 'pw' }, insecureSkipVerify: true });
    const conn = resolveConnection(sdConfig({ kubeconfigFile: file }), testDeps());
    expect(conn.authorization()).toBe(`Basic ${Buffer.from('admin:pw').toString('base64')}`);
    await conn.dispatcher.destroy();
  });

  it.each<[string, () => Doc, string]>([
    ['exec.yaml', () => kubeconfig({ exec: { command: 'aws', args: ['eks', 'get-token'] } }), 'user "agent" uses an exec credential plugin, which fleet-agent does not run; give a token, tokenFile or client certificate instead'],
    ['provider.yaml', () => kubeconfig({ 'auth-provider': { name: 'gcp' } }), 'user "agent" uses an auth-provider plugin, which fleet-agent does not support; give a token, tokenFile or client certificate instead'],
    ['no-context.yaml', () => ({ ...kubeconfig({}), 'current-context': 'gone' }), 'current-context "gone" is not among contexts'],
    ['unset-context.yaml', () => ({ ...kubeconfig({}), 'current-context': undefined }), 'no current-context set'],
    ['cert-no-key.yaml', () => kubeconfig({ 'client-certificate-data': Buffer.from(cert.cert).toString('base64') }), 'user "agent" gives a client certificate without its key, or a key without its certificate'],
    ['bad-server.yaml', () => kubeconfig({}, { server: 'ftp://x' }), 'cluster "fake": server "ftp://x" is not an http:// or https:// URL'],
    ['no-user.yaml', () => kubeconfig({}, {}, { user: 'nobody' }), 'context "work" names user "nobody", which is not among users'],
  ])('refuses %s with a clear message', async (name, doc, message) => {
    const file = await write(name, doc());
    expect(() => loadKubeconfig(file)).toThrow(`kubeconfig_file ${file}: ${message}`);
  });

  it('names a missing file, a missing CA file and broken YAML', async () => {
    const missing = path.join(dir, 'missing.yaml');
    expect(() => loadKubeconfig(missing)).toThrow(`kubeconfig_file ${missing}: ENOENT`);
    const noCa = await write('no-ca.yaml', kubeconfig({}, { 'certificate-authority-data': undefined, 'certificate-authority': 'nope.pem' }));
    expect(() => loadKubeconfig(noCa)).toThrow(`kubeconfig_file ${noCa}: certificate-authority ${path.join(dir, 'nope.pem')}: ENOENT`);
    const broken = await write('broken.yaml', 'clusters: [');
    expect(() => loadKubeconfig(broken)).toThrow(new RegExp(`^kubeconfig_file ${broken}: not valid YAML`));
  });
});
