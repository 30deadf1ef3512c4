import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError, KubeClient, resolveConnection, resourcePath, SERVICE_ACCOUNT_DIR_ENV } from './client.js';
import { FakeKubeApiServer, selfSignedCertificate } from './test-support/fake-api-server.js';
import { pod, sdConfig, testDeps } from './test-support/harness.js';

let server: FakeKubeApiServer;
let dir: string;
let cert: { key: string; cert: string };
const signal = new AbortController().signal;

beforeAll(async () => {
  cert = selfSignedCertificate();
  server = await FakeKubeApiServer.start({ token: 'sa-token-1', tls: cert });
  server.add('pods', pod('monitoring', 'agent-0'));
  dir = await mkdtemp(path.join(tmpdir(), 'kube-client-'));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function serviceAccountDir(name: string, files: Record<string, string>): Promise<string> {
  const sa = path.join(dir, name);
  await rm(sa, { recursive: true, force: true });
  await mkdir(sa, { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(path.join(sa, file), content);
  return sa;
}

const listPods = (client: KubeClient) => client.list({ kind: 'pods' }, { limit: 10 }, signal);
const port = () => new URL(server.url).port;

describe('resolveConnection: in-cluster', () => {
  it('uses KUBERNETES_SERVICE_HOST/PORT with the service account token, CA and namespace, and re-reads the rotating token', async () => {
    const sa = await serviceAccountDir('sa', { token: 'sa-token-1\n', 'ca.crt': cert.cert, namespace: 'monitoring\n' });
    const deps = testDeps({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port() });
    const conn = resolveConnection(sdConfig({ namespaces: { ownNamespace: true, names: [] } }), deps, { serviceAccountDir: sa, tokenRefreshMs: 0 });
    expect(conn.server).toBe(`https://127.0.0.1:${port()}`);
    expect(conn.ownNamespace).toBe('monitoring');
    expect(conn.describe).toBe(`in-cluster https://127.0.0.1:${port()}`);
    const client = new KubeClient(conn);
    try {
      expect((await listPods(client)).items.map((o) => o.metadata.name)).toEqual(['agent-0']);
      await writeFile(path.join(sa, 'token'), 'sa-token-2\n');
      server.setToken('sa-token-2');
      await listPods(client);
      expect(server.requests.at(-1)!.authorization).toBe('Bearer sa-token-2');
    } finally {
      server.setToken('sa-token-1');
      await client.close();
    }
  });

  it(`finds the service-account directory in ${SERVICE_ACCOUNT_DIR_ENV}`, async () => {
    const sa = await serviceAccountDir('sa-env', { token: 'sa-token-1', 'ca.crt': cert.cert });
    const deps = testDeps({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port(), [SERVICE_ACCOUNT_DIR_ENV]: sa });
    const client = new KubeClient(resolveConnection(sdConfig(), deps));
    try {
      expect((await listPods(client)).items).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  it('says clearly when not in a cluster and nothing is configured', () => {
    expect(() => resolveConnection(sdConfig(), testDeps({}))).toThrow(
      'kubernetes_sd: not running in a cluster (KUBERNETES_SERVICE_HOST unset) and no api_server or kubeconfig_file given',
    );
  });

  it('names a missing token file and a missing namespace file', async () => {
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const empty = await serviceAccountDir('empty', {});
    expect(() => resolveConnection(sdConfig(), testDeps(env), { serviceAccountDir: empty })).toThrow(
      `kubernetes_sd: service-account token ${path.join(empty, 'token')}: ENOENT`,
    );
    const tokenOnly = await serviceAccountDir('token-only', { token: 't' });
    expect(() => resolveConnection(sdConfig({ namespaces: { ownNamespace: true, names: [] } }), testDeps(env), { serviceAccountDir: tokenOnly })).toThrow(
      `kubernetes_sd: could not determine the pod's namespace for own_namespace (${path.join(tokenOnly, 'namespace')}: ENOENT)`,
    );
  });

  it('brackets an IPv6 service host', async () => {
    const sa = await serviceAccountDir('v6', { token: 't' });
    const conn = resolveConnection(sdConfig(), testDeps({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }), { serviceAccountDir: sa });
    expect(conn.server).toBe('https://[fd00::1]:443');
    await conn.dispatcher.destroy();
  });
});

describe('resolveConnection: api_server', () => {
  it('uses the block’s own bearer token file and tls_config', async () => {
    const caFile = path.join(dir, 'ca.pem');
    const tokenFile = path.join(dir, 'bearer');
    await writeFile(caFile, cert.cert);
    await writeFile(tokenFile, 'sa-token-1\n');
    const config = sdConfig({ apiServer: `${server.url}/`, authorization: { type: 'Bearer', credentialsFile: tokenFile }, tlsConfig: { caFile, insecureSkipVerify: false } });
    const client = new KubeClient(resolveConnection(config, testDeps()));
    try {
      expect((await listPods(client)).items).toHaveLength(1);
      expect(server.requests.at(-1)).toMatchObject({ path: '/api/v1/pods', authorization: 'Bearer sa-token-1', query: { limit: '10' } });
    } finally {
      await client.close();
    }
  });

  it('refuses own_namespace, which is only known in a cluster', () => {
    expect(() => resolveConnection(sdConfig({ apiServer: server.url, namespaces: { ownNamespace: true, names: [] } }), testDeps())).toThrow(/own_namespace needs the in-cluster config/);
  });

  it('fails on an untrusted certificate and answers API errors with the Status reason', async () => {
    const untrusted = new KubeClient(resolveConnection(sdConfig({ apiServer: server.url }), testDeps()));
    await expect(listPods(untrusted)).rejects.toThrow(/self[- ]signed certificate/);
    await untrusted.close();
    const noToken = new KubeClient(resolveConnection(sdConfig({ apiServer: server.url, tlsConfig: { insecureSkipVerify: true } }), testDeps()));
    const err = await listPods(noToken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 401, reason: 'Unauthorized' });
    await noToken.close();
  });
});

describe('resourcePath', () => {
  it('builds core, grouped, namespaced and cluster-scoped paths', () => {
    expect(resourcePath('pods', 'kube-system')).toBe('/api/v1/namespaces/kube-system/pods');
    expect(resourcePath('pods')).toBe('/api/v1/pods');
    expect(resourcePath('ingresses', 'web')).toBe('/apis/networking.k8s.io/v1/namespaces/web/ingresses');
    expect(resourcePath('nodes', 'ignored')).toBe('/api/v1/nodes');
    expect(resourcePath('namespaces')).toBe('/api/v1/namespaces');
  });
});
