/**
 * Prometheus relabelling (`relabel_configs`, `metric_relabel_configs`, `write_relabel_configs`),
 * behaving as Prometheus's `model/relabel`: parse/validate with {@link relabelConfigSchema},
 * compile once with {@link compileRelabelConfigs}, run per series with {@link relabel}.
 */
export {
  RELABEL_ACTIONS,
  DEFAULT_RELABEL_CONFIG,
  relabelConfigSchema,
  createRelabelConfigSchema,
  isValidLabelName,
  isValidLabelNameTemplate,
  type RelabelAction,
  type RelabelConfig,
  type RelabelConfigInput,
  type RelabelSchemaOptions,
  type NameValidationScheme,
} from './model.js';
export {
  compileRelabelConfigs,
  relabel,
  RelabelConfigError,
  type CompiledRelabel,
  type CompileRelabelOptions,
} from './relabel.js';
