import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { CredentialAuthority, startRemoteWriteReceiver, type RemoteWriteReceiver } from '../support/aws/index.js';
import { startExporter, type Exporter, type ExporterOptions } from '../support/exporter.js';
import { eventually } from '../support/wait.js';

describe('fleet-agent scraping', () => {
  let dir: string;
  let receiver: RemoteWriteReceiver;
  const exporters: Exporter[] = [];
  const agents: RunningAgent[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-scrape-'));
    receiver = await startRemoteWriteReceiver({ credentials: new CredentialAuthority(), verifySignature: false });
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.kill()));
    await Promise.all(exporters.splice(0).map((e) => e.close()));
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function exporter(body: string, options?: ExporterOptions): Promise<Exporter> {
    const e = await startExporter(options);
    e.serve(body);
    exporters.push(e);
    return e;
  }

  async function run(scrapeConfigs: string): Promise<RunningAgent> {
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
    const agent = await startAgent(['run', '--config', file, '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0'], {});
    agents.push(agent);
    return agent;
  }

  const upOf = (job: string, instance?: string) =>
    receiver.samples('up').filter((s) => s.labels.job === job && (instance === undefined || s.labels.instance === instance));
  const lastUp = (job: string, instance?: string) => upOf(job, instance).filter((s) => !s.sample.stale).at(-1)?.sample.value;

  it('follows file_sd target files as they change, with staleness for targets that go', async () => {
    const a = await exporter('app_info 1\n');
    const b = await exporter('app_info 2\n');
    const targets = path.join(dir, 'targets.json');
    await writeFile(targets, JSON.stringify([{ targets: [a.target], labels: { env: 'blue' } }]));
    await run(`  - job_name: sd
    file_sd_configs: [{ files: ['${path.join(dir, '*.json')}'], refresh_interval: 1m }]
`);
    await eventually('target a scraped', () => receiver.samples('app_info').some((s) => s.labels.instance === a.target));
    expect(receiver.samples('app_info')[0]!.labels).toEqual({ __name__: 'app_info', env: 'blue', instance: a.target, job: 'sd' });
    await writeFile(targets, JSON.stringify([{ targets: [a.target, b.target], labels: { env: 'blue' } }]));
    await eventually('target b scraped after the file changed', () => receiver.samples('app_info').some((s) => s.labels.instance === b.target));
    await writeFile(targets, JSON.stringify([{ targets: [b.target] }]));
    await eventually('target a marked stale after it left the file', () =>
      receiver.samples('app_info').some((s) => s.labels.instance === a.target && s.sample.stale),
    );
    expect(upOf('sd', a.target).some((s) => s.sample.stale)).toBe(true);
  });

  it('keeps the last good targets when a target file becomes invalid', async () => {
    const a = await exporter('app_info 1\n');
    const targets = path.join(dir, 'targets.yml');
    await writeFile(targets, `- targets: ['${a.target}']\n`);
    const agent = await run(`  - job_name: sd
    file_sd_configs: [{ files: ['${targets}'] }]
`);
    await eventually('target scraped', () => receiver.samples('app_info').length > 0);
    await writeFile(targets, '- targets: [1, 2\n');
    await eventually('the bad file to be reported', () => agent.logs.some((l) => l.msg === 'service discovery failed' && String(l.error).includes(targets)));
    const before = receiver.samples('app_info').length;
    await eventually('scraping to go on', () => receiver.samples('app_info').length > before + 1);
    expect(receiver.samples('app_info').some((s) => s.sample.stale)).toBe(false);
  });

  it('sends basic_auth and bearer credentials (from a file) and reports 401 as a failed scrape', async () => {
    const bearer = await exporter('secured 1\n', { authorization: 'Bearer s3cr3t-token' });
    const basic = await exporter('secured 2\n', { authorization: `Basic ${Buffer.from('scraper:pa55').toString('base64')}` });
    const wrong = await exporter('secured 3\n', { authorization: 'Bearer other' });
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, 's3cr3t-token\n');
    await run(`  - job_name: bearer
    authorization: { credentials_file: ${tokenFile} }
    static_configs: [{ targets: ['${bearer.target}', '${wrong.target}'] }]
  - job_name: basic
    basic_auth: { username: scraper, password: pa55 }
    static_configs: [{ targets: ['${basic.target}'] }]
`);
    await eventually('all three targets reported', () => lastUp('bearer', bearer.target) !== undefined && lastUp('basic') !== undefined && lastUp('bearer', wrong.target) !== undefined);
    expect(lastUp('bearer', bearer.target)).toBe(1);
    expect(lastUp('basic')).toBe(1);
    expect(lastUp('bearer', wrong.target)).toBe(0);
    expect(receiver.samples('secured').map((s) => s.sample.value).sort()).not.toContain(3);
  });

  it('scrapes HTTPS targets trusting the CA in tls_config, and fails without it', async () => {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tls = await exporter('secure_metric 1\n', { tls: { key: await readFile(key), cert: await readFile(cert) } });
    await run(`  - job_name: trusted
    scheme: https
    tls_config: { ca_file: ${cert} }
    static_configs: [{ targets: ['${tls.target}'] }]
  - job_name: untrusted
    scheme: https
    static_configs: [{ targets: ['${tls.target}'] }]
`);
    await eventually('both jobs reported', () => lastUp('trusted') !== undefined && lastUp('untrusted') !== undefined);
    expect(lastUp('trusted')).toBe(1);
    expect(lastUp('untrusted')).toBe(0);
  });

  it('applies relabel_configs, metric_relabel_configs, honor_labels and sample_limit like Prometheus', async () => {
    const app = await exporter('# TYPE req counter\nreq{job="from-app",path="/"} 5\ndebug_internal 1\ntemp{sensor="a"} 20\n');
    await run(`  - job_name: web
    static_configs: [{ targets: ['${app.target}'], labels: { role: frontend } }]
    relabel_configs:
      - { source_labels: [role], target_label: tier, replacement: 'tier-$1' }
      - { target_label: instance, replacement: web-1 }
      - { action: labeldrop, regex: role }
    metric_relabel_configs:
      - { source_labels: [__name__], regex: 'debug_.*', action: drop }
  - job_name: limited
    sample_limit: 2
    static_configs: [{ targets: ['${app.target}'] }]
`);
    await eventually('both jobs reported', () => lastUp('web') !== undefined && lastUp('limited') !== undefined);
    const req = receiver.samples('req').find((s) => s.labels.job === 'web')!;
    expect(req.labels).toEqual({ __name__: 'req', exported_job: 'from-app', instance: 'web-1', job: 'web', path: '/', tier: 'tier-frontend' });
    expect(receiver.samples('debug_internal').filter((s) => s.labels.job === 'web')).toEqual([]);
    // 3 samples > sample_limit 2: the whole scrape fails and nothing of it is stored.
    expect(lastUp('limited')).toBe(0);
    expect(receiver.samples('temp').filter((s) => s.labels.job === 'limited')).toEqual([]);
    const post = receiver.samples('scrape_samples_post_metric_relabeling').find((s) => s.labels.job === 'web')!;
    expect(post.sample.value).toBe(2);
  });

  it('reports invalid exposition text as up 0 and recovers when it is fixed', async () => {
    const app = await exporter('ok_metric 1\n');
    const agent = await run(`  - job_name: flaky
    static_configs: [{ targets: ['${app.target}'] }]
`);
    await eventually('first good scrape', () => lastUp('flaky') === 1);
    app.serve('broken_metric{unterminated="x 1\n');
    await eventually('the bad scrape reported', () => lastUp('flaky') === 0);
    expect(receiver.samples('ok_metric').some((s) => s.sample.stale)).toBe(true);
    expect(agent.logs.some((l) => l.msg === 'scrape failed' && String(l.error).startsWith('invalid exposition: line 1'))).toBe(true);
    app.serve('ok_metric 2\n');
    await eventually('recovery', () => lastUp('flaky') === 1 && receiver.samples('ok_metric').some((s) => s.sample.value === 2));
    expect(await agent.metric('fleet_agent_target_scrape_errors_total', { job: 'flaky' })).toBeGreaterThan(0);
  });

  it('takes a large first scrape whole (columns grow while appending)', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `big_metric{i="${i}"} ${i}`).join('\n');
    await exporter(`${lines}\n`);
    await run(`  - job_name: big
    static_configs: [{ targets: ['${exporters[0]!.target}'] }]
`);
    await eventually('the first scrape delivered', () => upOf('big').length > 0);
    expect(upOf('big')[0]!.sample.value).toBe(1);
    const first = receiver.samples('big_metric');
    await eventually('all 5000 series', () => new Set(receiver.samples('big_metric').map((s) => s.labels.i)).size === 5000);
    expect(first.every((s) => s.sample.value === Number(s.labels.i))).toBe(true);
  });
});
