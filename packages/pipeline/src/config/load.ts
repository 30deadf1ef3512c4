import { readFile } from 'node:fs/promises';
import { expandEnv, parseGoYaml } from './go-yaml.js';
import { PipelineConfigError, type AgentConfig } from './model.js';
import { parseAgentConfig } from './parse.js';
import type { ParseEnvironment } from './remote-write-schema.js';

/** How a YAML config is read. */
export interface LoadOptions extends ParseEnvironment {
  /**
   * Expand `${VAR}` / `${VAR:-default}` from `env` before parsing (`--config.expand-env`, as
   * Grafana Agent); `$$` is a literal `$`.
   */
  expandEnv?: boolean | undefined;
  /** The environment for `expandEnv` (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Parses YAML text (Prometheus or Grafana Agent static mode) into a validated config, reading
 * scalars as Go does (see {@link parseGoYaml}). YAML syntax errors are reported with line and
 * column; duplicate keys are errors.
 * @throws PipelineConfigError
 */
export function parseAgentConfigYaml(text: string, source?: string, options: LoadOptions = {}): AgentConfig {
  let body = text;
  if (options.expandEnv) {
    const expanded = expandEnv(text, options.env ?? process.env);
    if (expanded.issues.length > 0) throw new PipelineConfigError(expanded.issues, source, 'cannot expand environment variables');
    body = expanded.text;
  }
  const { value, issues } = parseGoYaml(body);
  if (issues.length > 0) throw new PipelineConfigError(issues, source);
  return parseAgentConfig(value, { source, defaultRegion: options.defaultRegion });
}

/** Reads and parses a config file. @throws PipelineConfigError (also for an unreadable file). */
export async function loadAgentConfigFile(path: string, options: LoadOptions = {}): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    throw new PipelineConfigError([{ path: '', message: code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot read the file (${code})` }], path, 'cannot read the configuration');
  }
  return parseAgentConfigYaml(text, path, options);
}
