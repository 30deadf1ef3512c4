import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../apps/agent/src/discovery/kubernetes/contract.js';
import { FakeKubeApiServer } from '../../apps/agent/src/discovery/kubernetes/test-support/fake-api-server.js';
import { FakeDnsServer } from '../../apps/agent/src/discovery/test-support/dns-server.js';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { CredentialAuthority, startFakeEc2, startRemoteWriteReceiver, type RemoteWriteReceiver } from '../support/aws/index.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { eventually } from '../support/wait.js';

// The prometheus-community chart's kubernetes-pods relabelling (the parts that apply to these pods).
const HELM_POD_RELABEL = `    relabel_configs:
      - { source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], action: keep, regex: true }
      - { source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port, __meta_kubernetes_pod_ip], action: replace, regex: '(\\d+);((([0-9]+?)(\\.|$)){4})', replacement: '$2:$1', target_label: __address__ }
      - { action: labelmap, regex: __meta_kubernetes_pod_label_(.+) }
      - { source_labels: [__meta_kubernetes_namespace], action: replace, target_label: namespace }
      - { source_labels: [__meta_kubernetes_pod_name], action: replace, target_label: pod }
      - { source_labels: [__meta_kubernetes_pod_phase], regex: Pending|Succeeded|Failed|Completed, action: drop }
`;

/** A running pod on 127.0.0.1 whose one container port is `port`; `scrape` sets the prometheus.io annotations. */
function pod(name: string, port: number, scrape: boolean): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      labels: { app: name },
      annotations: scrape ? { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port) } : ({} as Record<string, string>),
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', ports: [{ name: 'metrics', containerPort: port, protocol: 'TCP' }] }] },
    status: { phase: 'Running', podIP: '127.0.0.1', hostIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

const portOf = (e: Exporter) => Number(e.target.split(':')[1]);

describe('fleet-agent service discovery against real servers', () => {
  let dir: string;
  let receiver: RemoteWriteReceiver;
  const exporters: Exporter[] = [];
  const agents: RunningAgent[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-discovery-'));
    receiver = await startRemoteWriteReceiver({ credentials: new CredentialAuthority(), verifySignature: false });
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.kill()));
    await Promise.all(cleanups.splice(0).map((c) => c()));
    await Promise.all(exporters.splice(0).map((e) => e.close()));
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function exporter(body: string): Promise<Exporter> {
    const e = await startExporter();
    e.serve(body);
    exporters.push(e);
    return e;
  }

  async function run(scrapeConfigs: string, env: Record<string, string> = {}): Promise<RunningAgent> {
    const file = path.join(dir, 'agent.yml');
    await writeFile(
      file,
      `global: { scrape_interval: 1s }
scrape_configs:
${scrapeConfigs}
remote_write:
  - url: ${receiver.url}
    queue_config: { batch_send_deadline: 100ms }
`,
    );
    const agent = await startAgent(['run', '--config', file, '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0'], env);
    agents.push(agent);
    return agent;
  }

  const upOf = (job: string, instance: string) => receiver.samples('up').filter((s) => s.labels.job === job && s.labels.instance === instance);
  const lastUp = (job: string, instance: string) => upOf(job, instance).filter((s) => !s.sample.stale).at(-1)?.sample.value;
  const scrapesOf = (job: string, instance: string) => upOf(job, instance).filter((s) => !s.sample.stale && s.sample.value === 1).length;

  it('kubernetes_sd (role pod): scrapes annotated pods, follows adds and deletes, resumes watches, relists on 410, keeps targets on 403', async () => {
    const token = 'kube-sa-token-for-discovery';
    const kube = await FakeKubeApiServer.start({ token });
    cleanups.push(() => kube.close());
    const [a, b, plain, later, afterResume, afterRelist] = await Promise.all(
      ['pod_a 1\n', 'pod_b 1\n', 'plain 1\n', 'later 1\n', 'resumed 1\n', 'relisted 1\n'].map((body) => exporter(body)),
    );
    kube.add('pods', pod('a', portOf(a!), true));
    kube.add('pods', pod('b', portOf(b!), true));
    kube.add('pods', pod('plain', portOf(plain!), false));
    const tokenFile = path.join(dir, 'kube-token');
    await writeFile(tokenFile, `${token}\n`);
    const agent = await run(`  - job_name: kubernetes-pods
    kubernetes_sd_configs: [{ role: pod, api_server: '${kube.url}', authorization: { credentials_file: ${tokenFile} } }]
${HELM_POD_RELABEL}`);

    await eventually('pods a and b scraped', () => lastUp('kubernetes-pods', a!.target) === 1 && lastUp('kubernetes-pods', b!.target) === 1, 30_000);
    expect(receiver.samples('pod_a')[0]!.labels).toEqual({ __name__: 'pod_a', app: 'a', instance: a!.target, job: 'kubernetes-pods', namespace: 'shop', pod: 'a' });
    expect(receiver.samples('pod_b')[0]!.labels).toMatchObject({ job: 'kubernetes-pods', namespace: 'shop', pod: 'b' });
    expect(kube.requests.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
    expect(plain!.served).toEqual([]);

    kube.add('pods', pod('later', portOf(later!), true));
    await eventually('a pod added later scraped', () => receiver.samples('later').some((s) => s.labels.pod === 'later'), 30_000);

    kube.delete('pods', { metadata: { namespace: 'shop', name: 'b' } });
    await eventually('the deleted pod marked stale', () => receiver.samples('pod_b').some((s) => s.sample.stale) && upOf('kubernetes-pods', b!.target).some((s) => s.sample.stale), 30_000);
    const servedB = b!.served.length;

    const podLists = () => kube.requests.filter((r) => r.kind === 'pods' && !r.watch && r.method === 'GET').length;
    const listsBeforeResume = podLists();
    const watchesBefore = kube.requests.filter((r) => r.kind === 'pods' && r.watch).length;
    kube.closeWatches();
    await eventually('the watch reopened', () => kube.requests.filter((r) => r.kind === 'pods' && r.watch).length > watchesBefore, 30_000);
    kube.add('pods', pod('resumed', portOf(afterResume!), true));
    await eventually('a pod added after the watch ended scraped', () => receiver.samples('resumed').length > 0, 30_000);
    expect(podLists()).toBe(listsBeforeResume);
    const resumedWatch = kube.requests.filter((r) => r.kind === 'pods' && r.watch).at(-1)!;
    expect(resumedWatch.query.resourceVersion).toBeDefined();
    expect(resumedWatch.query.resourceVersion).not.toBe('0');

    kube.expireResourceVersions();
    await eventually('a relist after 410 Gone', () => podLists() > listsBeforeResume, 30_000);
    kube.add('pods', pod('relisted', portOf(afterRelist!), true));
    await eventually('a pod added after the relist scraped', () => receiver.samples('relisted').length > 0, 30_000);
    expect(b!.served.length).toBe(servedB);

    kube.forbid('pods');
    const listsBeforeForbid = podLists();
    kube.expireResourceVersions();
    await eventually('the 403 reported', () => agent.logs.some((l) => l.msg === 'service discovery failed' && String(l.error).includes('403')), 30_000);
    expect(podLists()).toBeGreaterThan(listsBeforeForbid);
    expect(agent.stderr()).not.toContain(token);
    expect(JSON.stringify(agent.logs)).not.toContain(token);
    const scrapedA = scrapesOf('kubernetes-pods', a!.target);
    const scrapedLater = scrapesOf('kubernetes-pods', later!.target);
    await eventually('the last targets still scraped', () => scrapesOf('kubernetes-pods', a!.target) > scrapedA + 1 && scrapesOf('kubernetes-pods', later!.target) > scrapedLater + 1, 30_000);
    expect(receiver.samples('pod_a').some((s) => s.sample.stale)).toBe(false);
  });

  it('dns_sd (type A) via FLEET_DNS_SERVERS: scrapes the address a name resolves to', async () => {
    const dns = new FakeDnsServer();
    await dns.start();
    cleanups.push(() => dns.stop());
    const app = await exporter('dns_found 1\n');
    dns.set('exporters.fleet.test', [{ type: 'A', data: '127.0.0.1', ttl: 5 }]);
    await run(
      `  - job_name: dns
    dns_sd_configs: [{ names: [exporters.fleet.test], type: A, port: ${portOf(app)}, refresh_interval: 1s }]
    relabel_configs:
      - { source_labels: [__meta_dns_name], target_label: dns_name }
`,
      { FLEET_DNS_SERVERS: dns.address },
    );
    await eventually('the DNS target scraped', () => lastUp('dns', app.target) === 1, 30_000);
    expect(receiver.samples('dns_found')[0]!.labels).toEqual({ __name__: 'dns_found', dns_name: 'exporters.fleet.test', instance: app.target, job: 'dns' });
    expect(dns.queries.some((q) => q.name === 'exporters.fleet.test' && q.type === 'A')).toBe(true);
  });

  it('ec2_sd: scrapes instances at their private IP with a label from the Name tag', async () => {
    const authority = new CredentialAuthority();
    const keys = authority.addLongTerm(authority.userIdentity('discovery'));
    const app = await exporter('ec2_found 1\n');
    const ec2 = await startFakeEc2({
      authority,
      region: 'eu-west-1',
      instances: [
        { instanceId: 'i-0123456789abcdef0', state: 'running', privateIpAddress: '127.0.0.1', availabilityZone: 'eu-west-1a', tags: { Name: 'web-1' } },
      ],
    });
    cleanups.push(() => ec2.close());
    await run(
      `  - job_name: ec2
    ec2_sd_configs: [{ region: eu-west-1, port: ${portOf(app)}, refresh_interval: 5s }]
    relabel_configs:
      - { source_labels: [__meta_ec2_tag_Name], target_label: name }
      - { source_labels: [__meta_ec2_instance_id], target_label: instance_id }
`,
      {
        AWS_ENDPOINT_URL_EC2: ec2.url,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: keys.accessKeyId,
        AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-credentials'),
      },
    );
    await eventually('the EC2 instance scraped', () => lastUp('ec2', app.target) === 1, 30_000);
    expect(receiver.samples('ec2_found')[0]!.labels).toEqual({ __name__: 'ec2_found', instance: app.target, instance_id: 'i-0123456789abcdef0', job: 'ec2', name: 'web-1' });
    expect(ec2.calls.some((c) => c.action === 'DescribeInstances' && c.accessKeyId === keys.accessKeyId)).toBe(true);
  });
});
