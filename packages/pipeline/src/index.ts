/**
 * @fleet/pipeline — the pipeline config model shared by the control plane and the agent:
 * Prometheus / Grafana Agent static-mode configuration (zod), validation with path-named
 * errors, defaults, relabelling, and linear-time matching of Prometheus (RE2) regexes.
 */
export * from './labels.js';
export * from './config/index.js';
export * from './relabel/index.js';
export * from './regex/index.js';
