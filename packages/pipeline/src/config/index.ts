export * from './model.js';
export { parseDuration, formatDuration, durationSchema } from './duration.js';
export { inferSigningFromHost, checkRegionAgainstHost, isAwsRegionName, type EndpointSigning } from './aws-endpoints.js';
export { parseAgentConfigYaml, loadAgentConfigFile } from './load.js';
