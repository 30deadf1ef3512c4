export * from './model.js';
export { parseAgentConfig, type ParseOptions } from './parse.js';
export type { ParseEnvironment } from './remote-write-schema.js';
export { parseGoYaml, expandEnv } from './go-yaml.js';
export { KUBERNETES_ALLOWED_SELECTORS } from './discovery.js';
export { parseDuration, formatDuration, durationSchema } from './duration.js';
export { inferSigningFromHost, checkRegionAgainstHost, isAwsRegionName, type EndpointSigning } from './aws-endpoints.js';
export { parseAgentConfigYaml, loadAgentConfigFile, type LoadOptions } from './load.js';
