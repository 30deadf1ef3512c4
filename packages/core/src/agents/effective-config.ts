import { createHash } from 'node:crypto';
import { awsAccounts, pipelines, pipelineVersions, type ConfigPipelineRef, type Db } from '@fleet/db';
import { parseDuration } from '@fleet/pipeline';
import { and, asc, eq, isNull } from 'drizzle-orm';
import { canonicalJson, resolveDocument, selectorMatches, type Selector } from '../pipelines/document.js';

/** A published pipeline version, its `aws_account` references resolved, ready to merge. */
export interface PublishedPipeline {
  id: string;
  name: string;
  version: number;
  selector: Selector;
  /** The resolved Prometheus-format document. */
  document: Record<string, unknown>;
}

/** What one agent must run: the merge of every published pipeline that selects it. */
export interface EffectiveConfig {
  /** A Grafana Agent static-mode document (`metrics.configs`, one instance per pipeline). */
  config: Record<string, unknown>;
  /** sha256 of the canonical JSON of `config`. */
  configHash: string;
  pipelines: ConfigPipelineRef[];
}

/** A published version that cannot be resolved any more (e.g. its AWS account was deleted). */
export interface BrokenPipeline {
  id: string;
  name: string;
  version: number;
  /** Still evaluable: which agents the broken version was meant for. */
  selector: Selector;
  problem: string;
}

/** Every published version of every live pipeline: those that resolve, and those that no longer do. */
export interface PublishedSet {
  pipelines: PublishedPipeline[];
  broken: BrokenPipeline[];
}

/**
 * Loads every published version of every live pipeline and resolves its AWS account references
 * (by the account ids bound when the version was saved) against the accounts as they are now.
 * Versions that no longer resolve are returned apart: an agent they select cannot get a new
 * config until an operator fixes them ({@link buildAgentConfig}).
 */
export async function loadPublishedPipelines(db: Db): Promise<PublishedSet> {
  const rows = await db
    .select({ id: pipelines.id, name: pipelines.name, version: pipelineVersions.version, selector: pipelineVersions.selector, config: pipelineVersions.config, accountRefs: pipelineVersions.accountRefs })
    .from(pipelineVersions)
    .innerJoin(pipelines, eq(pipelines.id, pipelineVersions.pipelineId))
    .where(and(eq(pipelineVersions.published, true), isNull(pipelines.archivedAt)))
    .orderBy(asc(pipelines.name));
  const accounts = await db.select().from(awsAccounts);
  const out: PublishedPipeline[] = [];
  const broken: BrokenPipeline[] = [];
  for (const r of rows) {
    const check = resolveDocument(r.config, accounts, r.accountRefs);
    if (check.ok) out.push({ id: r.id, name: r.name, version: r.version, selector: r.selector as Selector, document: check.resolved });
    else broken.push({ id: r.id, name: r.name, version: r.version, selector: r.selector as Selector, problem: check.issues.map((i) => `${i.path}: ${i.message}`).join('; ') });
  }
  return { pipelines: out, broken };
}

const MS = (ms: number) => `${ms}ms`;

/** Directory- and label-safe form of a pipeline name for destination names. */
export function pipelineSlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'pipeline';
}

/**
 * One pipeline's Prometheus document as a Grafana Agent instance. Its `global` section cannot be
 * shared with other pipelines, so it is folded in: scrape interval/timeout onto each job that
 * does not set its own, and external labels into write relabelling that adds a label only where
 * the series lacks it (Prometheus's external-label semantics, applied before write relabelling).
 * Destination names are prefixed with the pipeline so pipelines never share a WAL.
 */
function toInstance(p: PublishedPipeline): Record<string, unknown> {
  const doc = p.document;
  const global = (doc.global ?? {}) as Record<string, unknown>;
  const interval = (global.scrape_interval as string | undefined) ?? '1m';
  const intervalMs = parseDuration(interval) ?? 60_000;
  const globalTimeoutMs = (typeof global.scrape_timeout === 'string' ? parseDuration(global.scrape_timeout) : undefined) ?? Math.min(10_000, intervalMs);
  const externalLabels = (global.external_labels ?? {}) as Record<string, string>;
  const scrapeConfigs = ((doc.scrape_configs ?? []) as Record<string, unknown>[]).map((job) => {
    const jobInterval = (job.scrape_interval as string | undefined) ?? interval;
    // As Prometheus does: an inherited timeout is capped at the job's interval.
    const jobIntervalMs = parseDuration(jobInterval) ?? intervalMs;
    return { ...job, scrape_interval: jobInterval, scrape_timeout: job.scrape_timeout ?? MS(Math.min(globalTimeoutMs, jobIntervalMs)) };
  });
  const externalRules = Object.keys(externalLabels)
    .sort()
    .map((name) => ({ source_labels: [name], regex: '', target_label: name, replacement: externalLabels[name], action: 'replace' }));
  const slug = pipelineSlug(p.name);
  const remoteWrite = ((doc.remote_write ?? []) as Record<string, unknown>[]).map((rw) => ({
    ...rw,
    name: `${slug}.${(rw.name as string | undefined) ?? createHash('sha256').update(String(rw.url)).digest('hex').slice(0, 6)}`,
    write_relabel_configs: [...externalRules, ...((rw.write_relabel_configs ?? []) as unknown[])],
  }));
  return { name: p.name, scrape_configs: scrapeConfigs, remote_write: remoteWrite };
}

/** The effective config for an agent with `labels`: every published pipeline whose selector matches. */
export function effectiveConfig(published: readonly PublishedPipeline[], labels: Record<string, string>): EffectiveConfig {
  const selected = published.filter((p) => selectorMatches(p.selector, labels));
  const config = { metrics: { configs: selected.map(toInstance) } };
  return {
    config,
    configHash: createHash('sha256').update(canonicalJson(config)).digest('hex'),
    pipelines: selected.map((p) => ({ id: p.id, name: p.name, version: p.version })),
  };
}

/** How a broken version is named in an agent's `config_build_error` (`pipeline node v3:`), so the rollout can find the agents it holds up. */
export function brokenVersionTag(p: { name: string; version: number }): string {
  return `pipeline ${p.name} v${p.version}:`;
}

/** An agent's config, or why the control plane cannot build one for it now. */
export type AgentConfigBuild = { ok: true; effective: EffectiveConfig } | { ok: false; broken: BrokenPipeline[]; message: string };

/**
 * The config an agent with `labels` must run — unless a published pipeline that selects it no
 * longer resolves (its account was deleted, …). Then no config is built at all: leaving that
 * pipeline out would make the agent drop its destinations and their WALs because of a control
 * plane problem. The agent keeps running its last good config and the operator gets the message.
 */
export function buildAgentConfig(published: PublishedSet, labels: Record<string, string>): AgentConfigBuild {
  const broken = published.broken.filter((b) => selectorMatches(b.selector, labels));
  if (broken.length) {
    const message = `cannot build this agent's config: ${broken.map((b) => `${brokenVersionTag(b)} ${b.problem}`).join('; ')} — the agent keeps running its last good config until the pipeline is fixed or rolled back`;
    return { ok: false, broken, message };
  }
  return { ok: true, effective: effectiveConfig(published.pipelines, labels) };
}
