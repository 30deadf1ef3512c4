import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { parseAgentConfig, PipelineConfigError, type AgentConfig } from './model.js';

/**
 * Parses YAML text (Prometheus or Grafana Agent static mode) into a validated config.
 * YAML syntax errors are reported with line and column; duplicate keys are errors.
 * @throws PipelineConfigError
 */
export function parseAgentConfigYaml(text: string, source?: string): AgentConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    throw new PipelineConfigError(
      doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
        message: e.message.split('\n')[0] ?? e.message,
      })),
      source,
    );
  }
  return parseAgentConfig(doc.toJS({ maxAliasCount: 1000 }), source);
}

/** Reads and parses a config file. @throws PipelineConfigError (also for an unreadable file). */
export async function loadAgentConfigFile(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    throw new PipelineConfigError([{ path: '', message: code === 'ENOENT' ? 'no such file' : `cannot read the file (${code})` }], path, 'cannot read the configuration');
  }
  return parseAgentConfigYaml(text, path);
}
