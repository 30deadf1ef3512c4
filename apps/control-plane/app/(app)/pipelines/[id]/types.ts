import type { ApiOutputs } from '@/lib/trpc';

export type Pipeline = ApiOutputs['pipelines']['get'];
export type PipelineVersion = Pipeline['versions'][number];
export type Matcher = { name: string; op: '=' | '!=' | '=~' | '!~'; value: string };

/** `{env="prod", team=~"sre|ops"}`; `all agents` for an empty selector. */
export function formatSelector(selector: readonly Matcher[]): string {
  if (!selector.length) return 'all agents';
  return `{${selector.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(', ')}}`;
}

/** Whether a version was ever published (only those can be rolled back to). */
export const wasPublished = (v: Pick<PipelineVersion, 'published' | 'publishedAt'>): boolean => v.published || v.publishedAt !== null;

/** `v3`, or `draft v4` for a version that was never published (its number is not taken until it is). */
export function versionLabel(v: Pick<PipelineVersion, 'version' | 'published' | 'publishedAt'>): string {
  return wasPublished(v) ? `v${v.version}` : `draft v${v.version}`;
}

/**
 * What can be done with a version from the versions table: publish a draft newer than the
 * published version, roll back to a version that was published before, or nothing (the
 * published version itself, and old drafts that never went out — load them into the editor).
 */
export function publishAction(pipeline: Pipeline, version: number): { kind: 'publish' | 'rollback'; label: string } | null {
  const v = pipeline.versions.find((x) => x.version === version);
  if (!v || v.published) return null;
  const published = pipeline.versions.find((x) => x.published)?.version;
  if (published !== undefined && version < published) return wasPublished(v) ? { kind: 'rollback', label: `Roll back to v${version}` } : null;
  return { kind: 'publish', label: `Publish v${version}` };
}

/** The label of the publish action for a version: publishing an older one is a rollback. */
export function publishLabel(pipeline: Pipeline, version: number): string {
  return publishAction(pipeline, version)?.label ?? `Publish v${version}`;
}
