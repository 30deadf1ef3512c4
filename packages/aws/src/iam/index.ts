/**
 * Least-privilege IAM for agents: permissions policies generated from exactly what pipelines write
 * to, trust policies for EC2 / IRSA / EKS Pod Identity / cross-account roles, all rendered from
 * editable templates, checked structurally, and turned into `aws iam …` commands.
 */
export {
  formatJsonPath,
  IamGenerationError,
  type IamCondition,
  type IamIssue,
  type IamPolicyDocument,
  type IamPolicyKind,
  type IamPrincipal,
  type IamStatement,
  type OneOrMany,
} from './types.js';
export { checkIamPolicy, IAM_CONDITION_OPERATORS, IAM_POLICY_SIZE_LIMITS, isConditionOperator, policySize, policySizeProblem } from './check.js';
export { lineColumn, parseJsonStrict, scanPlaceholders, type JsonSyntaxError, type PlaceholderOccurrence } from './json.js';
export {
  ampUrlProblem,
  firehoseStreamNameSchema,
  IAM_DESTINATION_KINDS,
  iamDestinationSchema,
  kinesisStreamNameSchema,
  logGroupNameSchema,
  logStreamPrefixSchema,
  metricNamespaceSchema,
  parseAmpRemoteWriteUrl,
  s3BucketNameSchema,
  s3KeyPrefixSchema,
  type AmpWorkspaceRef,
  type IamDestination,
  type IamDestinationKind,
} from './destinations.js';
export {
  BUILTIN_TEMPLATES,
  exampleValues,
  isTemplateKey,
  PLACEHOLDERS,
  renderTemplate,
  TEMPLATE_KEYS,
  TEMPLATE_MAX_LENGTH,
  TemplateError,
  validateTemplate,
  type PlaceholderInfo,
  type PlaceholderName,
  type PolicyTemplate,
  type TemplateKey,
  type TemplateProblem,
  type TemplateProblemCode,
  type TemplateValidation,
  type TemplateValues,
} from './templates.js';
export {
  EXTERNAL_ID_PATTERN,
  generateAssumeRolePolicy,
  generatePermissionsPolicy,
  generateTrustPolicy,
  mergeStatements,
  oidcProviderFromIssuer,
  TRUST_KINDS,
  type AssumeRolePolicyParams,
  type PermissionsContext,
  type TemplateOverrides,
  type TrustBaseParams,
  type TrustKind,
  type TrustParamsByKind,
} from './generate.js';
export { cliScript, generateCliCommands, shellQuote, type CliCommand, type CliCommandsInput } from './cli.js';
