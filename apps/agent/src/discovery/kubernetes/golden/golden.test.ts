import { readFileSync } from 'node:fs';
import { compileRelabelConfigs, parseAgentConfigYaml, type KubernetesRole, type ScrapeConfig } from '@fleet/pipeline';
import { describe, expect, it } from 'vitest';
import { buildTargets } from '../../../scrape/target.js';
import type { ResourceKind, RoleSources } from '../contract.js';
import { buildGroups, resourcesFor } from '../roles.js';
import { storeOf } from '../roles/testing.js';

/**
 * Golden test: the standard chart and operator relabel rules (restated in the YAML files here) run
 * through the real parser, relabelling and target building over the role builders' groups for the
 * small cluster of cluster.json, and must give exactly the targets of expected.json, which were
 * derived by hand from Prometheus's documented behaviour (see each job's `derivation`).
 */

const here = (name: string) => new URL(name, import.meta.url);
const cluster = JSON.parse(readFileSync(here('cluster.json'), 'utf8')) as Record<ResourceKind, unknown[]>;

interface ExpectedJob {
  role: KubernetesRole;
  attach: { node: boolean; namespace: boolean };
  derivation: string[];
  targets: Array<{ url: string; labels: Record<string, string> }>;
}
const expected = JSON.parse(readFileSync(here('expected.json'), 'utf8')) as Record<string, ExpectedJob | string>;

const jobs: ScrapeConfig[] = ['helm-chart.yaml', 'prometheus-operator.yaml', 'prometheus-examples.yaml'].flatMap((file) => {
  const config = parseAgentConfigYaml(readFileSync(here(file), 'utf8'), file);
  return config.instances.flatMap((i) => i.scrapeConfigs);
});

/** Only the stores the role asks for, as the client would watch them. */
function sourcesFor(role: KubernetesRole, attach: ExpectedJob['attach']): RoleSources {
  const sources: RoleSources = {};
  for (const kind of resourcesFor(role, attach)) sources[kind] = storeOf(cluster[kind]);
  return sources;
}

const normalise = (ts: Array<{ url: string; labels: Record<string, string> }>) =>
  ts.map((t) => ({ url: new URL(t.url).href, labels: t.labels })).sort((a, b) => (a.url + JSON.stringify(a.labels) < b.url + JSON.stringify(b.labels) ? -1 : 1));

describe('golden: chart and operator relabel rules over Kubernetes discovery', () => {
  it('has an expectation for every job and a job for every expectation', () => {
    const named = Object.keys(expected).filter((k) => !k.startsWith('_'));
    expect(jobs.map((j) => j.jobName).sort()).toEqual(named.sort());
  });

  it.each(jobs.map((j) => [j.jobName, j] as const))('%s selects the targets and labels Prometheus would', (name, job) => {
    const exp = expected[name] as ExpectedJob;
    const groups = buildGroups(exp.role, sourcesFor(exp.role, exp.attach), exp.attach);
    const { targets } = buildTargets(job, groups, compileRelabelConfigs(job.relabelConfigs));
    const actual = targets.map((t) => ({ url: t.url.href, labels: Object.fromEntries(t.labels.map((l) => [l.name, l.value])) }));
    expect(normalise(actual)).toEqual(normalise(exp.targets));
  });
});
