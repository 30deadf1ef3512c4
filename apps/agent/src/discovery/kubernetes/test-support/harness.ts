import type { KubernetesSdConfig } from '@fleet/pipeline';
import { KubeClient, resolveConnection, type ClientLimits } from '../client.js';
import type { KubeObject } from '../contract.js';
import type { DiscoveryDeps } from '../../discovery.js';

/** A `kubernetes_sd_configs` entry as the parser normalises it, with overrides. */
export function sdConfig(overrides: Partial<KubernetesSdConfig> = {}): KubernetesSdConfig {
  return { role: 'pod', namespaces: { ownNamespace: false, names: [] }, selectors: [], attachMetadata: { node: false, namespace: false }, ...overrides };
}

/** Discovery deps whose log lines are collected. */
export function testDeps(env: NodeJS.ProcessEnv = {}): DiscoveryDeps & { logs: Array<{ level: string; message: string }> } {
  const logs: Array<{ level: string; message: string }> = [];
  return { env, logs, log: (level, message) => logs.push({ level, message }) };
}

/** A client for a fake server at `url`, sending `Bearer <token>`. */
export function clientFor(url: string, token = 'secret-token', limits: Partial<ClientLimits> = {}): KubeClient {
  return new KubeClient(resolveConnection(sdConfig({ apiServer: url, authorization: { type: 'Bearer', credentials: token } }), testDeps()), limits);
}

/** A pod object for the fake server. */
export function pod(namespace: string, name: string, extra: { labels?: Record<string, string>; nodeName?: string; ip?: string; annotations?: Record<string, string> } = {}): KubeObject {
  return {
    metadata: { namespace, name, labels: extra.labels ?? {}, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { nodeName: extra.nodeName ?? 'node-1', containers: [{ name: 'app', ports: [{ name: 'metrics', containerPort: 9100, protocol: 'TCP' }] }] },
    status: { phase: 'Running', podIP: extra.ip ?? '10.0.0.1', hostIP: '192.168.0.1' },
  };
}
