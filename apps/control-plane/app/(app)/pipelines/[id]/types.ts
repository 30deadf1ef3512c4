import type { ApiOutputs } from '@/lib/trpc';

export type Pipeline = ApiOutputs['pipelines']['get'];
export type PipelineVersion = Pipeline['versions'][number];
export type Matcher = { name: string; op: '=' | '!=' | '=~' | '!~'; value: string };

/** `{env="prod", team=~"sre|ops"}`; `all agents` for an empty selector. */
export function formatSelector(selector: readonly Matcher[]): string {
  if (!selector.length) return 'all agents';
  return `{${selector.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(', ')}}`;
}

/** The label of the publish action for a version: publishing an older one is a rollback. */
export function publishLabel(pipeline: Pipeline, version: number): string {
  const published = pipeline.versions.find((v) => v.published)?.version;
  return published !== undefined && version < published ? `Roll back to v${version}` : `Publish v${version}`;
}
